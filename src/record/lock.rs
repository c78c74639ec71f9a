//! One run of a workflow at a time per state dir: an exclusive `flock` on a file named after
//! the workflow, holding who has it. The kernel drops the lock when its holder exits, however
//! it exits, so a crashed engine never leaves a stale lock behind.

use std::fs::File;
use std::io::{Read as _, Seek as _};
use std::path::PathBuf;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::state_dir::StateDir;

/// The lock of a running workflow; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct RunLock {
    _file: Flock<File>,
}

/// Who holds a lock, as written in its file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Holder {
    /// Its process id.
    pub pid: Option<u32>,
    /// Its run id.
    pub run: Option<String>,
    /// When it started, milliseconds since the epoch.
    pub started_ms: Option<i64>,
}

/// Why the lock was not taken.
#[derive(Debug)]
pub enum LockError {
    /// Another engine runs this workflow.
    Held(Holder),
    /// The lock file cannot be made or locked.
    Io(PathBuf, std::io::Error),
}

/// Takes the lock of `workflow` (its key in the record), writing `run_id` and this process into it. With `wait`,
/// blocks until the holder is done (calling `waiting` once with it first).
///
/// # Errors
/// The lock is held (without `wait`), or cannot be taken.
pub fn acquire(
    state_dir: &StateDir,
    workflow: &str,
    run_id: &str,
    wait: bool,
    waiting: impl FnOnce(&Holder),
) -> Result<RunLock, LockError> {
    let path = state_dir.lock(workflow);
    let io = |error: std::io::Error| LockError::Io(path.clone(), error);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    // The holder is written into the file: only into engine's own, never through a link
    // (symbolic or hard) to a file someone else made, nor into a pipe or device.
    let not_ours = || {
        io(std::io::Error::other(
            "it is a link or not a plain file, so not engine's lock; remove it",
        ))
    };
    let file = super::open_own(&path).map_err(io)?.ok_or_else(not_ours)?;
    let locked = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(locked) => locked,
        Err((mut file, Errno::EWOULDBLOCK)) => {
            let holder = read_holder(&mut file);
            if !wait {
                return Err(LockError::Held(holder));
            }
            waiting(&holder);
            wait_for_lock(file).map_err(|errno| io(std::io::Error::from(errno)))?
        }
        Err((_, errno)) => return Err(io(std::io::Error::from(errno))),
    };
    let text = format!(
        "pid={}\nrun={run_id}\nstarted_ms={}\nworkflow={workflow}\n",
        std::process::id(),
        super::store::now_ms()
    );
    // Written over the holder before (see `rewrite`).
    super::rewrite(&locked, text.as_bytes()).map_err(io)?;
    Ok(RunLock { _file: locked })
}

/// Blocks until the lock is ours, again after a signal interrupted the wait.
fn wait_for_lock(mut file: File) -> Result<Flock<File>, Errno> {
    loop {
        match Flock::lock(file, FlockArg::LockExclusive) {
            Ok(locked) => return Ok(locked),
            Err((again, Errno::EINTR)) => file = again,
            Err((_, errno)) => return Err(errno),
        }
    }
}

/// Who holds the lock, if its file says; a lock being written reads as unknown.
fn read_holder(file: &mut File) -> Holder {
    let mut text = String::new();
    let _ = file.rewind();
    let _ = file.read_to_string(&mut text);
    let mut holder = Holder::default();
    for line in text.lines() {
        match line.split_once('=') {
            Some(("pid", value)) => holder.pid = value.parse().ok(),
            Some(("run", value)) => holder.run = Some(value.to_owned()),
            Some(("started_ms", value)) => holder.started_ms = value.parse().ok(),
            _ => {}
        }
    }
    holder
}

/// Whether some engine holds the lock of `workflow` now (for `engine runs`: a run without
/// an end is still running, or died).
#[must_use]
pub fn holder(state_dir: &StateDir, workflow: &str) -> Option<Holder> {
    let path = state_dir.lock(workflow);
    let file = File::open(&path).ok()?;
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        Ok(_) => None,
        Err((mut file, Errno::EWOULDBLOCK)) => Some(read_holder(&mut file)),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_is_written_over_a_longer_one_and_cut_to_its_length() {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = StateDir::at(temp.path());
        let path = dir.lock("/w/a.yaml");
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("makes");
        let before = format!("pid=1\nrun={}\nstarted_ms=1\n", "x".repeat(500));
        std::fs::write(&path, &before).expect("writes");
        let lock = acquire(&dir, "/w/a.yaml", "run-2", false, |_| {}).expect("locks");
        let text = std::fs::read_to_string(&path).expect("reads");
        assert_eq!(
            text,
            format!(
                "pid={}\nrun=run-2\nstarted_ms={}\nworkflow=/w/a.yaml\n",
                std::process::id(),
                text.lines()
                    .find_map(|line| line.strip_prefix("started_ms="))
                    .expect("a start")
            )
        );
        let holder = read_holder(&mut File::open(&path).expect("opens"));
        assert_eq!(holder.run.as_deref(), Some("run-2"));
        drop(lock);
    }

    #[test]
    fn a_link_at_the_locks_name_is_refused_and_never_written_through() {
        let temp = tempfile::tempdir().expect("temp dir");
        let outside = tempfile::tempdir().expect("another dir");
        let dir = StateDir::at(temp.path());
        let path = dir.lock("/w/a.yaml");
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("makes");
        let theirs = outside.path().join("theirs.txt");
        std::fs::write(&theirs, "the user's\n").expect("writes");
        for hard in [false, true] {
            if hard {
                std::fs::hard_link(&theirs, &path).expect("links");
            } else {
                std::os::unix::fs::symlink(&theirs, &path).expect("links");
            }
            match acquire(&dir, "/w/a.yaml", "run-1", false, |_| {}) {
                Err(LockError::Io(at, error)) => {
                    assert_eq!(at, path);
                    assert!(error.to_string().contains("not engine's lock"), "{error}");
                }
                Err(other) => panic!("another error: {other:?}"),
                Ok(_) => panic!("locked through a link"),
            }
            assert_eq!(
                std::fs::read_to_string(&theirs).expect("reads"),
                "the user's\n"
            );
            std::fs::remove_file(&path).expect("unlinks");
        }
    }

    #[test]
    fn a_second_lock_is_refused_with_the_holder_and_freed_on_drop() {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = StateDir::at(temp.path());
        let first = acquire(&dir, "/w/a.yaml", "run-1", false, |_| {}).expect("locks");
        match acquire(&dir, "/w/a.yaml", "run-2", false, |_| {}) {
            Err(LockError::Held(holder)) => {
                assert_eq!(holder.pid, Some(std::process::id()));
                assert_eq!(holder.run.as_deref(), Some("run-1"));
            }
            other => panic!("expected the lock to be held, got {other:?}"),
        }
        assert_eq!(
            holder(&dir, "/w/a.yaml").and_then(|h| h.run),
            Some("run-1".to_owned())
        );
        // Another workflow in the same state dir is not held up.
        let other = acquire(&dir, "/w/b.yaml", "run-3", false, |_| {});
        assert!(other.is_ok());
        drop(first);
        assert!(holder(&dir, "/w/a.yaml").is_none());
        assert!(acquire(&dir, "/w/a.yaml", "run-4", false, |_| {}).is_ok());
    }
}
