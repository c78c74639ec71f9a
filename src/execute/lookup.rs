//! `Lookup`: where a program named without a `/` is found on the engine's `PATH`, looked up
//! by the engine at each start, as make does.
//!
//! `posix_spawnp` looks a program up in the child, after the `vfork`, by trying `execve` in
//! each directory of `PATH` in turn, while the engine waits for the child: with `true` in
//! `/usr/bin`, the ninth directory of a usual `PATH`, that is eight failed `execve`s per
//! task on the coordinator's path. An `access` per directory in the engine costs less than
//! half of a failed `execve`, and then `posix_spawn` runs the program found.
//!
//! Nothing is remembered from one start to the next: a task may put a program into a
//! directory on `PATH` ahead of the one found before (a build that makes its own tool), make
//! one executable, or remove one. (Watching the directories with inotify instead was tried:
//! closing the watch costs the engine an RCU grace period, 5 to 17 ms, at every exit.)
//! The answer is what `execvp` would run: the first file, not a directory, in a directory
//! of `PATH` that the engine may execute. When there is none, the caller lets
//! `posix_spawnp` look, which gives `execvp`'s error.

use std::ffi::{CStr, OsStr};
use std::os::unix::ffi::OsStrExt;

use nix::unistd::AccessFlags;

/// The directories of one `PATH`, and room to make a program's path in each.
pub(super) struct Lookup {
    /// Each directory with its `/`.
    dirs: Vec<Vec<u8>>,
    /// The last path tried, NUL-terminated.
    path: Vec<u8>,
}

impl std::fmt::Debug for Lookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lookup")
            .field("dirs", &self.dirs.len())
            .finish_non_exhaustive()
    }
}

impl Lookup {
    /// The directories of `path` (a `PATH` value; an empty entry is the working directory).
    /// With no `PATH`, nothing is found (`posix_spawnp` then uses its default).
    pub fn new(path: Option<&OsStr>) -> Self {
        let dirs = path
            .map(|path| {
                path.as_bytes()
                    .split(|&byte| byte == b':')
                    .map(|entry| {
                        let mut dir = if entry.is_empty() {
                            b".".to_vec()
                        } else {
                            entry.to_vec()
                        };
                        dir.push(b'/');
                        dir
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            dirs,
            path: Vec::new(),
        }
    }

    /// Where `program` (a name without `/`) is found, or `None`. The path is kept until the
    /// next call: nothing is allocated per start.
    pub fn find(&mut self, program: &OsStr) -> Option<&CStr> {
        let name = program.as_bytes();
        if name.is_empty() || name.contains(&0) {
            return None;
        }
        for dir in &self.dirs {
            self.path.clear();
            self.path.extend_from_slice(dir);
            self.path.extend_from_slice(name);
            self.path.push(0);
            let path = CStr::from_bytes_with_nul(&self.path).ok()?;
            if nix::unistd::access(path, AccessFlags::X_OK).is_ok()
                && nix::sys::stat::stat(path)
                    .is_ok_and(|meta| meta.st_mode & nix::libc::S_IFMT != nix::libc::S_IFDIR)
            {
                // Borrowed anew: returning `path` from the loop does not borrow-check.
                return CStr::from_bytes_with_nul(&self.path).ok();
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;
    use std::os::unix::fs::PermissionsExt;
    use std::path::{Path, PathBuf};

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

    /// The first executable file wins; what changes between two starts is seen: a program
    /// put ahead, made executable, removed, a directory made during the run.
    #[test]
    fn the_first_executable_file_on_path_is_found_each_time() {
        let root = tempfile::tempdir().expect("dir");
        let (first, second) = (root.path().join("first"), root.path().join("second"));
        std::fs::create_dir(&second).expect("mkdir");
        let mut lookup = Lookup::new(Some(&joined(&[&first, &second])));
        assert_eq!(found(&mut lookup), None);
        let late = tool(&second, 0o755);
        assert_eq!(found(&mut lookup), Some(late.display().to_string()));
        std::fs::create_dir(&first).expect("mkdir");
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

    /// An empty entry is the working directory; with no `PATH` nothing is found.
    #[test]
    fn empty_entries_and_no_path() {
        let lookup = Lookup::new(Some(OsStr::new("::")));
        assert!(lookup.dirs.iter().all(|dir| dir == b"./"));
        assert_eq!(lookup.dirs.len(), 3);
        let mut lookup = Lookup::new(None);
        assert_eq!(lookup.find(OsStr::new("sh")), None);
    }
}
