//! Execution: starting tasks (the directories of their outputs created first) and reporting how
//! they end. Executors send `Message`s to the coordinator; they never talk to reporters and
//! never decide what runs next.

mod argv;
mod fake;
mod local;
mod log;
mod lookup;
mod output_dirs;
mod pool;
mod process;
mod reactor;
mod requires;
mod script_worker;
pub mod slurm;
mod spawn;
mod thread;

pub use fake::FakeExecutor;
pub use local::LocalExecutor;
pub use log::TaskLog;
pub use output_dirs::create_output_dirs;
pub use process::{SCRIPT_CONSTANTS, SCRIPT_SOURCE};
pub use script_worker::run_script_worker;

use std::path::PathBuf;
use std::time::Instant;

use crate::exchange::{Launch, Message, Outbox, Termination};
use crate::model::{Task, TaskId};

/// What every task of one run shares.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// The run's id, given to tasks as `ENGINE_RUN_ID`.
    pub run_id: String,
    /// The workflow file, given to tasks as `ENGINE_WORKFLOW`.
    pub workflow_path: PathBuf,
    /// The run's directory in the state dir: task logs (one file per task that printed
    /// anything), results files (`$ENGINE_RESULTS`, one per attempt) and job files. Cluster
    /// executors need it on a filesystem the nodes share.
    pub run_dir: crate::state_dir::RunDir,
    /// Where other threads (script workers) send messages.
    pub outbox: Outbox,
    /// Hides the values of secrets in output, logs and results.
    pub masker: crate::template::Masker,
}

/// Creates `dir` and its missing parents private to the user (0700): what the engine keeps
/// of a run (logs, results, job files) may hold task data.
///
/// # Errors
/// The directory cannot be created.
pub fn private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Creates (or truncates) a file readable by the user alone (0600 when it is new): logs,
/// results, job scripts and events may hold task data.
///
/// # Errors
/// The file cannot be created.
pub fn private_file(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::File::options()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

/// Starts tasks and stops them on request.
pub trait Executor {
    /// Starts `task` as `launch` says, without waiting for it; its end arrives later as
    /// `Message::Finished`. Returns the process id for process tasks.
    ///
    /// # Errors
    /// Why the task could not be started; no `Finished` message follows then.
    fn start(&mut self, task: &Task, launch: &Launch) -> Result<Option<u32>, String>;

    /// Asks a running task to stop. A no-op for tasks that already ended.
    fn terminate(&mut self, task: TaskId, how: Termination);

    /// Tells the executor that a task's `Finished` message was handled.
    fn finished(&mut self, _task: TaskId) {}

    /// The run starts nothing more (a task failed without `--keep-going`): withdraws the
    /// started tasks that still wait in a queue elsewhere (cluster jobs that have not begun to
    /// run) and returns them. They count as never started; no `Finished` follows for them.
    fn withdraw_queued(&mut self) -> Vec<TaskId> {
        Vec::new()
    }

    /// Waits until something happens (output, a task's end, an interruption) or `deadline`
    /// passes (`None`: no limit), and appends the messages to `out`. The coordinator calls it
    /// when it has started all it can.
    ///
    /// # Errors
    /// When the executor can no longer learn how its running tasks end; the coordinator then
    /// gives them up.
    fn wait(&mut self, deadline: Option<Instant>, out: &mut Vec<Message>) -> Result<(), String>;
}
