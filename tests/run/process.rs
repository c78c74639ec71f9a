//! The processes a run leaves behind: waiting for a file a task writes, reading the pid it
//! wrote, and checking that a process is gone. Only the `run` tests look at processes.

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Waits until `path` exists; panics after `limit`.
#[track_caller]
pub fn wait_for_file(path: &Path, limit: Duration) {
    let deadline = Instant::now() + limit;
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "`{}` did not appear within {limit:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Reads a pid that a task wrote to a file.
#[track_caller]
pub fn read_pid(path: &Path) -> i32 {
    wait_for_file(path, Duration::from_secs(10));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // The file may exist before the shell has finished writing it.
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Ok(pid) = text.trim().parse() {
            return pid;
        }
        assert!(
            Instant::now() < deadline,
            "no pid in `{}`: {text:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether the process `pid` runs `comm` and has not exited. A zombie counts as gone: it
/// runs nothing, and once the engine is gone it waits for init to reap it. Checking the name
/// keeps a recycled pid from passing for the process.
pub fn is_alive(pid: i32, comm: &str) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // `pid (comm) state ...`; the name may itself hold spaces or parentheses.
    let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
        return false;
    };
    let name = &stat[open + 1..close];
    let state = stat[close + 1..].trim_start().chars().next();
    name == comm && state != Some('Z') && state != Some('X')
}

/// Expects the process `pid` (running `comm`) to be gone within `limit`.
#[track_caller]
pub fn assert_gone(pid: i32, comm: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    while is_alive(pid, comm) {
        if Instant::now() > deadline {
            // Do not leave it behind for the next test run.
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            panic!("process {pid} ({comm}) is still alive after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
