//! Processes an earlier run left behind when its engine was killed.

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// SIGKILLs every process whose environment says it belongs to one of `runs`
/// (`ENGINE_RUN_ID=<run>`), and returns how many there were. Processes of other users, or
/// that are gone before they are read, are passed over.
#[must_use]
pub fn stop(runs: &[String]) -> usize {
    let wanted: Vec<Vec<u8>> = runs
        .iter()
        .map(|run| format!("ENGINE_RUN_ID={run}").into_bytes())
        .collect();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let me = std::process::id();
    let mut stopped = 0;
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let belongs = environ
            .split(|&byte| byte == 0)
            .any(|var| wanted.iter().any(|w| w.as_slice() == var));
        let Ok(raw) = i32::try_from(pid) else {
            continue;
        };
        if belongs && kill(Pid::from_raw(raw), Signal::SIGKILL).is_ok() {
            stopped += 1;
        }
    }
    stopped
}
