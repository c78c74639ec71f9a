//! Execution: starting tasks and reporting how they end. Executors send `Message`s to the
//! coordinator; they never talk to reporters and never decide what runs next.

mod argv;
mod fake;
mod inbox;
mod local;
mod log;
mod pool;
mod process;
mod reactor;
mod script_worker;
pub mod slurm;
mod thread;

pub use fake::FakeExecutor;
pub use inbox::{Inbox, Outbox};
pub use local::LocalExecutor;
pub use log::TaskLog;
pub use process::{SCRIPT_CONSTANTS, SCRIPT_SOURCE};
pub use script_worker::run_script_worker;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::events::Stream;
use crate::model::{Command, Task, TaskId};

/// What executors (and the signal handler) tell the coordinator.
#[derive(Debug)]
pub enum Message {
    /// Lines a task printed.
    Output {
        /// The task.
        task: TaskId,
        /// Which stream.
        stream: Stream,
        /// Complete lines, without their line breaks.
        lines: Vec<String>,
    },
    /// A task ended.
    Finished {
        /// The task.
        task: TaskId,
        /// How, as the executor saw it.
        exit: Exit,
        /// The results it set (`$ENGINE_RESULTS`, `result(key, value)`), in the order set.
        results: Results,
    },
    /// A task's cluster job changed state: submitted, pending (with Slurm's reason), running
    /// on a node.
    Job {
        /// The task.
        task: TaskId,
        /// The job's id on the cluster.
        job_id: String,
        /// The state as shown to people, like `PENDING (Resources)` or `RUNNING on node1`.
        state: String,
        /// What the change means for the task's timeout.
        phase: JobPhase,
    },
    /// Ctrl-C or SIGTERM reached the engine.
    Interrupt,
    /// The run record made every write up to this ticket durable (`record::Journal`).
    Recorded {
        /// The last ticket in the commit.
        ticket: u64,
        /// Why the record could not be written; it writes nothing more in this run.
        error: Option<String>,
    },
}

/// Where a cluster job is, as far as the task's timeout is concerned: it counts from the
/// moment the job begins to run, so that time in the cluster's queue is not held against it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobPhase {
    /// Waiting in the queue: no timeout runs.
    Queued,
    /// Has just begun to run: the timeout starts now.
    Started,
    /// Runs, as already reported: the timeout runs on.
    Running,
}

/// The results a task set: keys and values, each key once, in the order first set.
pub type Results = Vec<(String, String)>;

/// A task as it starts: what the coordinator filled in (templates, the attempt) on top of
/// the validated task.
#[derive(Clone, Debug)]
pub struct Launch {
    /// What to run, templates filled in.
    pub command: Command,
    /// The task's environment variables, templates filled in (the engine's own `ENGINE_*`
    /// variables are added by the executor).
    pub env: Arc<[(String, String)]>,
    /// The working directory, templates filled in.
    pub cwd: PathBuf,
    /// Which attempt this is, from 1.
    pub attempt: u32,
    /// For scripts: the constants `vars`, `matrix` and `tasks` they may read.
    pub constants: Option<Arc<rhai::Map>>,
    /// Its `inputs` and `outputs`, templates filled in.
    pub files: Option<Arc<crate::model::TaskFiles>>,
}

impl Launch {
    /// The launch of a task without templates.
    #[must_use]
    pub fn of(task: &Task, attempt: u32) -> Self {
        Self {
            command: task.command.clone(),
            env: Arc::clone(&task.env),
            cwd: task.cwd.clone(),
            attempt,
            constants: None,
            files: task.files.clone(),
        }
    }
}

/// How a task's execution ended, before the coordinator adds what it knows (timeouts,
/// interruptions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    /// A process exited with this code.
    Code(i32),
    /// A process was ended by this signal.
    Signal(i32),
    /// A script ran to its end.
    ScriptDone,
    /// A script failed: `throw`, a runtime error or a panic.
    ScriptFailed(String),
    /// A script was stopped by its cancellation token.
    ScriptCancelled,
    /// The task could not be started.
    StartFailed(String),
    /// A cluster job ended without an exit status of its command: cancelled outside engine,
    /// out of memory, its node failed, gone from the queue.
    JobFailed(String),
}

/// How hard to stop a running task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Termination {
    /// SIGTERM to a process group; cancellation of a script.
    Graceful,
    /// SIGKILL to a process group; cancellation of a script.
    Kill,
}

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
