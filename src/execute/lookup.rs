//! `Lookup`: where a program named without a `/` is found on the engine's `PATH`, looked up
//! once and remembered for the run.
//!
//! `posix_spawnp` looks a program up in the child, after the `vfork`, by trying `execve` in
//! each directory of `PATH` in turn, while the engine waits for the child: with `true` in
//! `/usr/bin`, the ninth directory of a usual `PATH`, that is eight failed `execve`s per
//! task on the coordinator's path, about 26 µs a task on 2 cores. make looks up in the parent
//! with a `stat` per directory, at every start.
//!
//! A remembered answer must not outlive what it was drawn from: a task may put a program into
//! a directory on `PATH` ahead of the one it was found in (a build that makes its own tool),
//! make one executable, or remove one. So every directory of `PATH` is watched (inotify), and
//! any change in any of them forgets every answer; a directory that cannot be watched (it does
//! not exist, or it is a symbolic link, whose target can change) is looked at again with one
//! `access` per use. The events are read before each use: a task that changed a directory did
//! so before it ended, so its events are queued before the coordinator starts anything after
//! it. The answer is then what `execvp` would find: the first regular file that the engine may
//! execute.
//!
//! Not covered: a directory reached through a symbolic link in one of its parents whose
//! target changes during the run (the watch follows the old target).

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use nix::unistd::AccessFlags;
use rustc_hash::FxHashMap;

/// Programs looked up on one `PATH`, each answer kept until a directory on it changes.
pub(super) struct Lookup {
    dirs: Vec<Dir>,
    /// `None`: nothing can be watched; nothing is remembered.
    watch: Option<Inotify>,
    /// Each program's path and the index of the directory it was found in.
    found: FxHashMap<OsString, (CString, usize)>,
}

struct Dir {
    path: PathBuf,
    /// Whether a change in this directory is told by the watch.
    watched: bool,
}

impl std::fmt::Debug for Lookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lookup")
            .field("dirs", &self.dirs.len())
            .field("found", &self.found.len())
            .finish_non_exhaustive()
    }
}

const CHANGES: AddWatchFlags = AddWatchFlags::IN_CREATE
    .union(AddWatchFlags::IN_MOVED_TO)
    .union(AddWatchFlags::IN_MOVED_FROM)
    .union(AddWatchFlags::IN_DELETE)
    .union(AddWatchFlags::IN_ATTRIB)
    .union(AddWatchFlags::IN_DELETE_SELF)
    .union(AddWatchFlags::IN_MOVE_SELF)
    .union(AddWatchFlags::IN_ONLYDIR)
    .union(AddWatchFlags::IN_DONT_FOLLOW);

impl Lookup {
    /// Watches the directories of `path` (a `PATH` value; an empty entry is the working
    /// directory). With no `PATH`, or no way to watch, nothing is remembered.
    pub fn new(path: Option<&OsStr>) -> Self {
        let Some(path) = path else {
            return Self {
                dirs: Vec::new(),
                watch: None,
                found: FxHashMap::default(),
            };
        };
        let watch = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK).ok();
        let dirs = path
            .as_bytes()
            .split(|&byte| byte == b':')
            .map(|entry| {
                let path = if entry.is_empty() {
                    PathBuf::from(".")
                } else {
                    PathBuf::from(OsStr::from_bytes(entry))
                };
                let watched = watch
                    .as_ref()
                    .is_some_and(|watch| watch.add_watch(&path, CHANGES).is_ok());
                Dir { path, watched }
            })
            .collect();
        Self {
            dirs,
            watch,
            found: FxHashMap::default(),
        }
    }

    /// Where `program` (a name without `/`) is found: `None` if it is not, or if the answer
    /// cannot be remembered: the caller then lets `posix_spawnp` look it up, which gives the
    /// same answer or the same error.
    pub fn find(&mut self, program: &OsStr) -> Option<&CString> {
        let watch = self.watch.as_ref()?;
        if changed(watch, &mut self.dirs) {
            self.found.clear();
        }
        let still = self.found.get(program).is_some_and(|&(_, index)| {
            // The directories before the answer that are not watched: has the program
            // appeared in one of them?
            self.dirs[..index]
                .iter()
                .filter(|dir| !dir.watched)
                .all(|dir| !executable(&dir.path.join(program)))
        });
        if !still {
            self.found.remove(program);
            let (index, dir) = self
                .dirs
                .iter()
                .enumerate()
                .find(|(_, dir)| executable(&dir.path.join(program)))?;
            let path = CString::new(dir.path.join(program).into_os_string().into_vec()).ok()?;
            self.found.insert(program.to_owned(), (path, index));
        }
        self.found.get(program).map(|(path, _)| path)
    }

    /// Forgets the answer for `program` (starting it failed).
    pub fn forget(&mut self, program: &OsStr) {
        self.found.remove(program);
    }
}

/// Reads the watch's events; whether there were any. A directory that went away (or was
/// renamed) is watched no more and is looked at at each use instead.
fn changed(watch: &Inotify, dirs: &mut [Dir]) -> bool {
    let mut any = false;
    while let Ok(events) = watch.read_events() {
        if events.is_empty() {
            break;
        }
        any = true;
        if events.iter().any(|event| {
            event.mask.intersects(
                AddWatchFlags::IN_IGNORED
                    | AddWatchFlags::IN_DELETE_SELF
                    | AddWatchFlags::IN_MOVE_SELF
                    | AddWatchFlags::IN_Q_OVERFLOW,
            )
        }) {
            // Which watch is which is not worth keeping: every directory is looked at at
            // each use from now on.
            for dir in dirs.iter_mut() {
                dir.watched = false;
            }
        }
    }
    any
}

/// What `execvp` would run: a file (not a directory) that the engine may execute.
fn executable(path: &std::path::Path) -> bool {
    nix::unistd::access(path, AccessFlags::X_OK).is_ok()
        && std::fs::metadata(path).is_ok_and(|meta| !meta.is_dir())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    fn tool(dir: &Path, mode: u32) -> PathBuf {
        let path = dir.join("engine-lookup-tool");
        std::fs::write(&path, "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        path
    }

    fn found(lookup: &mut Lookup) -> Option<String> {
        lookup
            .find(OsStr::new("engine-lookup-tool"))
            .map(|path| path.to_string_lossy().into_owned())
    }

    fn joined(dirs: &[&Path]) -> OsString {
        std::env::join_paths(dirs).expect("join")
    }

    /// A program put ahead of the one found, made executable there, or removed: each change
    /// is seen at the next use.
    #[test]
    fn an_answer_is_forgotten_when_a_directory_on_path_changes() {
        let root = tempfile::tempdir().expect("dir");
        let (first, second) = (root.path().join("first"), root.path().join("second"));
        std::fs::create_dir(&first).expect("mkdir");
        std::fs::create_dir(&second).expect("mkdir");
        let mut lookup = Lookup::new(Some(&joined(&[&first, &second])));
        assert!(lookup.dirs.iter().all(|dir| dir.watched));
        assert_eq!(found(&mut lookup), None);
        let late = tool(&second, 0o755);
        assert_eq!(found(&mut lookup), Some(late.display().to_string()));
        assert_eq!(found(&mut lookup), Some(late.display().to_string()));
        // Not executable ahead: still the second.
        let early = tool(&first, 0o644);
        assert_eq!(found(&mut lookup), Some(late.display().to_string()));
        std::fs::set_permissions(&early, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        assert_eq!(found(&mut lookup), Some(early.display().to_string()));
        std::fs::remove_file(&early).expect("rm");
        assert_eq!(found(&mut lookup), Some(late.display().to_string()));
        // A directory of that name is not a program.
        std::fs::create_dir(&early).expect("mkdir");
        assert_eq!(found(&mut lookup), Some(late.display().to_string()));
    }

    /// A directory on `PATH` that does not exist yet cannot be watched: it is looked at at
    /// each use, and a program made in it once it exists is found.
    #[test]
    fn a_directory_made_during_the_run_is_seen() {
        let root = tempfile::tempdir().expect("dir");
        let (first, second) = (root.path().join("first"), root.path().join("second"));
        std::fs::create_dir(&second).expect("mkdir");
        let mut lookup = Lookup::new(Some(&joined(&[&first, &second])));
        assert!(!lookup.dirs[0].watched && lookup.dirs[1].watched);
        let late = tool(&second, 0o755);
        assert_eq!(found(&mut lookup), Some(late.display().to_string()));
        std::fs::create_dir(&first).expect("mkdir");
        let early = tool(&first, 0o755);
        assert_eq!(found(&mut lookup), Some(early.display().to_string()));
    }

    /// A watched directory renamed away (and another put in its place) is watched no more:
    /// what is put in the new one is found.
    #[test]
    fn a_directory_replaced_during_the_run_is_seen() {
        let root = tempfile::tempdir().expect("dir");
        let (first, second) = (root.path().join("first"), root.path().join("second"));
        std::fs::create_dir(&first).expect("mkdir");
        std::fs::create_dir(&second).expect("mkdir");
        let mut lookup = Lookup::new(Some(&joined(&[&first, &second])));
        let late = tool(&second, 0o755);
        assert_eq!(found(&mut lookup), Some(late.display().to_string()));
        std::fs::rename(&first, root.path().join("old")).expect("rename");
        std::fs::create_dir(&first).expect("mkdir");
        assert_eq!(found(&mut lookup), Some(late.display().to_string()));
        let early = tool(&first, 0o755);
        assert_eq!(found(&mut lookup), Some(early.display().to_string()));
    }

    /// A symbolic link on `PATH` is not watched (its target can change); an empty entry is
    /// the working directory; with no `PATH` nothing is looked up.
    #[test]
    fn links_empty_entries_and_no_path() {
        let root = tempfile::tempdir().expect("dir");
        let real = root.path().join("real");
        std::fs::create_dir(&real).expect("mkdir");
        let link = root.path().join("link");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        let lookup = Lookup::new(Some(&joined(&[&link, &real])));
        assert!(!lookup.dirs[0].watched && lookup.dirs[1].watched);
        let lookup = Lookup::new(Some(OsStr::new("::")));
        assert!(lookup.dirs.iter().all(|dir| dir.path == Path::new(".")));
        let mut lookup = Lookup::new(None);
        assert_eq!(lookup.find(OsStr::new("sh")), None);
    }
}
