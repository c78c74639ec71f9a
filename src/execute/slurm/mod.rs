//! The Slurm executor: process tasks as batch jobs on a Slurm cluster, submitted with
//! `sbatch`, followed with `squeue`, cancelled with `scancel`; thread tasks and local process
//! tasks still run on this machine. Nothing here decides what runs next.

mod controller;
mod executor;
mod preflight;
mod queue;
mod request;
mod tail;
mod wrapper;

pub use controller::Controller;
pub use executor::SlurmExecutor;
pub use preflight::{ClusterError, check_cluster};
pub use request::{JobRequest, time_limit_minutes};
pub use wrapper::MASK_SECRETS;

use crate::model::{Command, ExecutorKind, Isolation, Task};

/// Whether `task` runs as a Slurm job: a process task with a command whose executor (the
/// command line's `choice`, else its own) is Slurm.
#[must_use]
pub fn runs_on_slurm(task: &Task, choice: Option<ExecutorKind>) -> bool {
    task.isolation == Isolation::Process
        && !matches!(task.command, Command::None)
        && choice.unwrap_or(task.executor) == ExecutorKind::Slurm
}

/// Cancels the jobs that runs whose engine died (SIGKILL, a crash) left in the queue: the
/// ids in each of `job_lists` (their `slurm/jobs.tsv`) that `squeue` still lists as pending
/// or running. They are killed at once (SIGKILL), as their engine is gone, and followed
/// until they have left the queue (at most 15 s), so that a new run never works next to
/// them. Returns the ids cancelled; nothing happens when no list names a job.
///
/// # Errors
/// Slurm's client commands are not on `path`, or `squeue` fails: the jobs may still be
/// there.
pub fn cancel_left_jobs(
    job_lists: &[std::path::PathBuf],
    path: Option<&std::ffi::OsStr>,
) -> Result<Vec<String>, String> {
    let mut ids: Vec<String> = Vec::new();
    let mut seen = rustc_hash::FxHashSet::default();
    for list in job_lists {
        let Ok(text) = std::fs::read_to_string(list) else {
            continue;
        };
        for line in text.lines() {
            if let Some(id) = line.split('\t').nth(2).filter(|id| !id.is_empty())
                && seen.insert(id.to_owned())
            {
                ids.push(id.to_owned());
            }
        }
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let controller =
        Controller::find(path).map_err(|missing| format!("`{missing}` is not on PATH"))?;
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let live: Vec<String> = controller
        .queue(&ids)?
        .into_iter()
        .filter(|entry| !entry.state.is_final())
        .map(|entry| entry.id)
        .collect();
    if live.is_empty() {
        return Ok(live);
    }
    let live_ids: Vec<&str> = live.iter().map(String::as_str).collect();
    controller.cancel(&live_ids, false)?;
    controller.cancel(&live_ids, true)?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while std::time::Instant::now() < deadline {
        let left = controller
            .queue(&live_ids)?
            .iter()
            .any(|entry| !entry.state.is_final());
        if !left {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    Ok(live)
}
