//! The Slurm executor: process tasks as batch jobs on a Slurm cluster, submitted with
//! `sbatch`, followed with `squeue`, cancelled with `scancel`; thread tasks and local process
//! tasks still run on this machine. Nothing here decides what runs next.

mod controller;
mod executor;
mod files;
mod preflight;
mod queue;
mod request;
mod tail;
mod wrapper;

pub use controller::Controller;
pub use executor::SlurmExecutor;
pub use preflight::{ClusterError, check_cluster};
pub use request::{JobRequest, time_limit_minutes};

use crate::model::{Command, ExecutorKind, Isolation, Task};

/// Whether `task` runs as a Slurm job: a process task with a command whose executor (the
/// command line's `choice`, else its own) is Slurm.
#[must_use]
pub fn runs_on_slurm(task: &Task, choice: Option<ExecutorKind>) -> bool {
    task.isolation == Isolation::Process
        && !matches!(task.command, Command::None)
        && choice.unwrap_or(task.executor) == ExecutorKind::Slurm
}
