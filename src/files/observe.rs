//! What a run looked at on the file system, by stamp: every file whose content it digested
//! or whose known digest it trusted, every directory it listed, every path it found
//! missing. A run that found everything up to date keeps this list (`record::unchanged`),
//! so that the next run can tell with one `stat` per path that nothing it would look at
//! has changed.
//!
//! Off unless `start`ed (one run per process); then the readers of this module (`digest`,
//! `pattern`, the workflow's loader) note each look, from any thread. Noting never fails
//! and never changes what a reader does. A look this list cannot stand for (a glob whose
//! directories are not all known, a path seen with two stamps) spoils it: no list is kept.

use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use rustc_hash::FxHashMap;

use super::Stamp;

/// What was seen at one path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Look {
    /// A file (symlinks followed) with this stamp; its content was digested or trusted.
    File(Stamp),
    /// A directory with this stamp; its entries were listed (any entry added, removed or
    /// renamed changes its stamp).
    Dir(Stamp),
    /// Nothing there.
    Missing,
}

/// Everything a run looked at, by absolute path.
#[derive(Debug, Default)]
pub struct Seen {
    /// Each path and what was seen there.
    pub looks: FxHashMap<PathBuf, Look>,
    /// Why the list cannot stand for what the run looked at, if it cannot.
    pub spoiled: Option<String>,
    /// When noting started: every look was taken after.
    pub started: Option<std::time::SystemTime>,
    /// Which of `SHELL_VARIABLES` the workflow's files mention.
    pub mentioned: Vec<&'static str>,
}

/// Environment variables a shell changes as it goes (`cd` sets `OLDPWD`), which a workflow
/// reads only if it names them.
pub const SHELL_VARIABLES: [&str; 2] = ["OLDPWD", "SHLVL"];

/// The text of a workflow file read: which of `SHELL_VARIABLES` it mentions.
pub fn source_text(text: &str) {
    if !on() {
        return;
    }
    if let Some(seen) = seen().as_mut() {
        for name in SHELL_VARIABLES {
            if text.contains(name) && !seen.mentioned.contains(&name) {
                seen.mentioned.push(name);
            }
        }
    }
}

static ON: AtomicBool = AtomicBool::new(false);
static SEEN: Mutex<Option<Seen>> = Mutex::new(None);

fn seen() -> MutexGuard<'static, Option<Seen>> {
    SEEN.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts noting every look of this process.
pub fn start() {
    *seen() = Some(Seen {
        started: Some(std::time::SystemTime::now()),
        ..Seen::default()
    });
    ON.store(true, Ordering::Release);
}

/// Stops noting, and returns what was seen since `start` (`None` if it was not started).
pub fn finish() -> Option<Seen> {
    ON.store(false, Ordering::Release);
    seen().take()
}

/// Whether looks are being noted: readers skip the work of noting otherwise.
#[must_use]
pub fn on() -> bool {
    ON.load(Ordering::Acquire)
}

fn note(path: &Path, look: Look) {
    if !on() {
        return;
    }
    // As spelled: a later `stat` of the same spelling meets the same file, or another one
    // whose stamp differs.
    let path = if path.is_absolute() {
        path.to_path_buf()
    } else {
        match std::path::absolute(path) {
            Ok(path) => path,
            Err(_) => return spoil("a path relative to an unknown directory"),
        }
    };
    let mut guard = seen();
    let Some(seen) = guard.as_mut() else { return };
    match seen.looks.get(&path) {
        Some(before) if *before != look => {
            seen.spoiled
                .get_or_insert_with(|| format!("`{}` changed during the run", path.display()));
        }
        Some(_) => {}
        None => {
            seen.looks.insert(path, look);
        }
    }
}

/// A file whose content was digested, or whose known digest was trusted, with its
/// `metadata` as taken before.
pub fn file(path: &Path, metadata: &Metadata) {
    if on() {
        note(path, Look::File(Stamp::of(metadata)));
    }
}

/// A directory about to be listed, with its `metadata`.
pub fn dir(path: &Path, metadata: &Metadata) {
    if on() {
        note(path, Look::Dir(Stamp::of(metadata)));
    }
}

/// A directory about to be listed, by path: its metadata is taken now (missing: noted so).
pub fn dir_at(path: &Path) {
    if on() {
        match std::fs::metadata(path) {
            Ok(metadata) if metadata.is_dir() => dir(path, &metadata),
            Ok(metadata) => file(path, &metadata),
            Err(_) => missing(path),
        }
    }
}

/// A path found missing.
pub fn missing(path: &Path) {
    if on() {
        note(path, Look::Missing);
    }
}

/// A look the list cannot stand for: no list is kept this run.
pub fn spoil(why: &str) {
    if !on() {
        return;
    }
    if let Some(seen) = seen().as_mut() {
        seen.spoiled.get_or_insert_with(|| why.to_owned());
    }
}
