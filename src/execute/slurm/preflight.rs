//! The checks before a run that uses Slurm: the client commands are there, the controller
//! answers, and `sbatch --test-only` accepts every distinct request the run will make. A
//! run that fails them submits nothing.

use std::ffi::OsStr;

use indexmap::IndexMap;

use super::controller::Controller;
use super::request::{JobRequest, test_only_args};
use crate::model::Task;

/// Most `sbatch --test-only` calls at once.
const PARALLEL_TESTS: usize = 8;

/// Why a run cannot use the cluster, with what to do about it. Nothing was submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterError {
    /// What is wrong: a lowercase fragment, possibly followed by indented lines.
    pub message: String,
    /// What to do.
    pub hint: String,
}

/// Checks that the cluster can run `tasks` (those that go to Slurm), with the client commands
/// found on `path` (the value of `PATH`); returns the controller to use.
///
/// # Errors
/// The first check that fails: no client commands, no controller, or requests the cluster
/// refuses (all of them listed).
pub fn check_cluster<'a>(
    path: Option<&OsStr>,
    tasks: impl IntoIterator<Item = &'a Task>,
) -> Result<Controller, ClusterError> {
    let controller = Controller::find(path).map_err(|missing| ClusterError {
        message: format!(
            "`{missing}` is not on PATH: running tasks on Slurm needs its client commands \
             (sbatch, squeue, scontrol, scancel)"
        ),
        hint: "install Slurm's client commands (Debian: `slurm-client`) or run with \
               `--executor local`"
            .into(),
    })?;
    controller.ping().map_err(|answer| ClusterError {
        message: format!("the Slurm controller does not answer: {answer}"),
        hint: "check that slurmctld runs and this machine may reach it (`scontrol ping`, \
               `sinfo`), or run with `--executor local`"
            .into(),
    })?;
    let mut requests: IndexMap<JobRequest, Vec<&str>> = IndexMap::new();
    for task in tasks {
        requests
            .entry(JobRequest::of(task))
            .or_default()
            .push(&task.name);
    }
    let requests: Vec<(JobRequest, Vec<&str>)> = requests.into_iter().collect();
    let refused = refused_requests(&controller, &requests);
    if refused.is_empty() {
        return Ok(controller);
    }
    Err(ClusterError {
        message: format!(
            "Slurm refuses {} of this run; nothing was submitted\n  {}",
            if refused.len() == 1 {
                "one request"
            } else {
                "requests"
            },
            refused.join("\n  ")
        ),
        hint: "ask for what the cluster has: lower the task's `resources` or `timeout`, or \
               pick another `slurm.partition` (`sinfo -o '%P %c %m %l'` lists each \
               partition's CPUs, memory and time limit)"
            .into(),
    })
}

/// Tries each request with `sbatch --test-only`, a few at once; returns a line for each
/// one refused: the tasks that make it, its options and Slurm's reason.
fn refused_requests(controller: &Controller, requests: &[(JobRequest, Vec<&str>)]) -> Vec<String> {
    let mut refused = Vec::new();
    for batch in requests.chunks(PARALLEL_TESTS) {
        let answers: Vec<Result<(), String>> = std::thread::scope(|scope| {
            let running: Vec<_> = batch
                .iter()
                .map(|(request, _)| {
                    scope.spawn(move || controller.test_only(&test_only_args(request)))
                })
                .collect();
            running
                .into_iter()
                .map(|thread| {
                    thread
                        .join()
                        .unwrap_or_else(|_| Err("the check itself failed".into()))
                })
                .collect()
        });
        for ((request, names), answer) in batch.iter().zip(answers) {
            if let Err(reason) = answer {
                refused.push(format!(
                    "{} ({}): {reason}",
                    task_list(names),
                    request.args().join(" ")
                ));
            }
        }
    }
    refused
}

/// `task `a``, `tasks `a`, `b``, `tasks `a`, `b`, `c` and 4 more`.
fn task_list(names: &[&str]) -> String {
    const SHOWN: usize = 3;
    let quoted: Vec<String> = names
        .iter()
        .take(SHOWN)
        .map(|name| format!("`{name}`"))
        .collect();
    let mut text = format!(
        "{} {}",
        if names.len() == 1 { "task" } else { "tasks" },
        quoted.join(", ")
    );
    if names.len() > SHOWN {
        text.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_lists_are_short() {
        assert_eq!(task_list(&["a"]), "task `a`");
        assert_eq!(task_list(&["a", "b"]), "tasks `a`, `b`");
        assert_eq!(
            task_list(&["a", "b", "c", "d", "e"]),
            "tasks `a`, `b`, `c` and 2 more"
        );
    }
}
