//! How many tasks `engine run` runs at once: the default `-j` (the CPUs this process may use,
//! or a queue's worth of Slurm jobs), the open-file limit that caps it, and the refusal of a
//! task that needs more CPUs than the run has slots.

use crate::error::EngineError;
use crate::model::{Isolation, Workflow};
use crate::plan::Graph;

/// Default `-j` when tasks run on Slurm: jobs in the queue at once. Enough to keep a small
/// cluster busy, far below the usual per-user submission limits.
const SLURM_JOBS: usize = 100;

/// Descriptors each running process task holds: two pipes, a pidfd and its log file.
const FILES_PER_TASK: u64 = 4;

/// Descriptors kept for everything else (the events file, the reporter, libraries).
const FILES_RESERVED: u64 = 64;

/// How many tasks of a run may run at once.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slots {
    /// Job slots (`-j`): process tasks, CPUs counted, or Slurm jobs in the queue.
    pub(crate) jobs: usize,
    /// Script tasks on threads at once (`--threads`).
    pub(crate) threads: usize,
}

impl Slots {
    /// The slots `-j` (`jobs`) and `--threads` (`threads`) give, or their defaults: the
    /// CPUs this process may use (`SLURM_JOBS` when tasks go to a cluster), and as many
    /// threads but at least 4. Job slots are lowered to what the open-file limit can hold.
    pub(crate) fn of(jobs: Option<usize>, threads: Option<usize>, on_cluster: bool) -> Self {
        // Finding the CPUs reads cgroup files: once, and only when a default needs them.
        let cpus = std::cell::LazyCell::new(default_jobs);
        let default_jobs = if on_cluster { SLURM_JOBS } else { *cpus };
        let jobs = within_open_file_limit(jobs.unwrap_or(default_jobs));
        let threads = threads.unwrap_or_else(|| (*cpus).max(4));
        Self { jobs, threads }
    }
}

/// The CPUs this process may use (cgroup quotas included), at least 1.
fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// Raises the soft limit on open files to the hard one, then lowers `jobs` if even that
/// limit cannot hold that many running process tasks (with a note on stderr).
fn within_open_file_limit(jobs: usize) -> usize {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(maximum)) = (limit.current, limit.maximum)
        && current < maximum
    {
        limit.current = Some(maximum);
        if setrlimit(Resource::Nofile, limit).is_err() {
            limit.current = Some(current);
        }
    }
    let Some(files) = limit.current else {
        return jobs;
    };
    let fit = usize::try_from(files.saturating_sub(FILES_RESERVED) / FILES_PER_TASK)
        .unwrap_or(usize::MAX)
        .max(1);
    if jobs > fit {
        eprintln!(
            "engine: running at most {fit} process tasks at once, not {jobs}: the open-file \
             limit is {files} (`ulimit -n`)"
        );
        return fit;
    }
    jobs
}

/// Refuses a run in which a local process task needs more CPUs than `-j` gives: it could
/// never start.
///
/// # Errors
/// A usage error naming the first such task.
pub(crate) fn too_big_for_jobs(
    workflow: &Workflow,
    graph: &Graph,
    on_slurm: &[bool],
    jobs: usize,
) -> Result<(), EngineError> {
    let too_big = graph
        .tasks()
        .iter()
        .map(|&id| workflow.task(id))
        .find(|task| {
            task.isolation == Isolation::Process
                && !on_slurm[task.id.index()]
                && task.resources.cpus as usize > jobs
        });
    match too_big {
        None => Ok(()),
        Some(task) => Err(EngineError::Usage {
            message: format!(
                "task `{}` needs {} CPUs (`resources.cpus`), but this run has {jobs} job slots (`-j {jobs}`)",
                task.name, task.resources.cpus
            ),
            hint: Some(format!(
                "run with `-j {}` or more, or lower the task's `resources.cpus`",
                task.resources.cpus
            )),
        }),
    }
}
