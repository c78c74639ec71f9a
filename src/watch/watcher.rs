//! `Watcher`: the directories watch mode watches, through `notify` with its full debouncer
//! (bursts coalesced per file, a save by rename-over seen as a change of the file). Hands
//! each debounced batch of changed paths to a callback; judges none of them.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use super::Root;

/// How long a file must be quiet before its change is handed on: an editor's save comes as
/// one change. (The session waits for the whole burst to be quiet on top of this.)
pub const DEBOUNCE: Duration = Duration::from_millis(50);

/// Why a directory cannot be watched.
#[derive(Debug, thiserror::Error)]
#[error("cannot watch `{dir}`: {message}")]
pub struct WatchError {
    /// The directory.
    pub dir: PathBuf,
    /// What the system said.
    pub message: String,
    /// Whether the system's limit of watches (inotify's `max_user_watches`) is reached.
    pub limit: bool,
}

/// The file watcher of a watch session.
pub struct Watcher {
    debouncer: Debouncer<notify::RecommendedWatcher, RecommendedCache>,
    /// The directories watched, with their mode.
    watched: BTreeSet<Root>,
}

impl Watcher {
    /// Starts watching nothing yet; `changed` gets the paths of each debounced batch of
    /// changes (never reads or accesses), `failed` what the watcher could not follow.
    ///
    /// # Errors
    /// The system's watcher cannot be set up.
    pub fn start(
        changed: impl Fn(Vec<PathBuf>) + Send + 'static,
        failed: impl Fn(String) + Send + 'static,
    ) -> Result<Self, WatchError> {
        let handler = move |result: DebounceEventResult| match result {
            Ok(events) => {
                let mut paths: Vec<PathBuf> = events
                    .into_iter()
                    .filter(|event| !matches!(event.kind, EventKind::Access(_)))
                    .flat_map(|event| event.event.paths)
                    .collect();
                paths.sort();
                paths.dedup();
                if !paths.is_empty() {
                    changed(paths);
                }
            }
            Err(errors) => {
                for error in errors {
                    failed(error.to_string());
                }
            }
        };
        let debouncer = new_debouncer(DEBOUNCE, None, handler)
            .map_err(|error| watch_error(PathBuf::new(), &error))?;
        Ok(Self {
            debouncer,
            watched: BTreeSet::new(),
        })
    }

    /// Watches these directories too (those already watched stay watched).
    ///
    /// # Errors
    /// A directory cannot be watched; the watch limit is reached.
    pub fn watch(&mut self, roots: &[Root]) -> Result<(), WatchError> {
        for root in roots {
            let covered = self.watched.contains(root)
                || self
                    .watched
                    .iter()
                    .any(|watched| watched.recursive && root.dir.starts_with(&watched.dir));
            if covered {
                continue;
            }
            let mode = if root.recursive {
                RecursiveMode::Recursive
            } else {
                RecursiveMode::NonRecursive
            };
            self.debouncer
                .watch(&root.dir, mode)
                .map_err(|error| watch_error(root.dir.clone(), &error))?;
            self.watched.insert(root.clone());
        }
        Ok(())
    }
}

/// The error of `notify`, with whether it is the watch limit (inotify says ENOSPC).
fn watch_error(dir: PathBuf, error: &notify::Error) -> WatchError {
    let limit = match &error.kind {
        notify::ErrorKind::MaxFilesWatch => true,
        notify::ErrorKind::Io(io) => io.raw_os_error() == Some(nix::libc::ENOSPC),
        _ => false,
    };
    WatchError {
        dir,
        message: error.to_string(),
        limit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watch_limit_is_recognized() {
        let limit = notify::Error::new(notify::ErrorKind::MaxFilesWatch);
        assert!(watch_error(PathBuf::from("/w"), &limit).limit);
        let enospc = notify::Error::io(std::io::Error::from_raw_os_error(nix::libc::ENOSPC));
        assert!(watch_error(PathBuf::from("/w"), &enospc).limit);
        let missing = notify::Error::path_not_found();
        assert!(!watch_error(PathBuf::from("/w"), &missing).limit);
    }
}
