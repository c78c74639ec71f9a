//! What the coordinator, the executors and the run record hand each other: a task's
//! `Launch` (what starts), how it ended (`Exit`, `Results`), the `Message`s of the
//! coordinator's inbox (with the file work the run record had done off the loop, `Filed`)
//! and the inbox itself. A leaf below `schedule`, `record` and
//! `execute`, so that each depends on it and none on the others for these types.

mod inbox;

pub use crate::results::Results;
pub use inbox::{Doorbell, Inbox, Outbox};

use std::path::PathBuf;
use std::sync::Arc;

use crate::events::{Stream, TaskStatus};
use crate::files::FileDigest;
use crate::model::{Command, Task, TaskId};

/// What executors (and the signal handler, and watch mode's file watcher) tell the coordinator.
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
    /// In watch mode, files changed during the run: the running tasks that read them (all,
    /// for `None`: the workflow itself changed) and those that depend on them are stopped,
    /// nothing new starts, and the next run takes over once the others have finished.
    Superseded {
        /// The tasks whose inputs changed; `None` for every task.
        changed: Option<Vec<TaskId>>,
    },
    /// File work the run record asked for (`record::Gate`) is done, off the coordinator's
    /// thread.
    Filed {
        /// The task it was for.
        task: TaskId,
        /// What was done.
        work: Filed,
    },
    /// The run record made every write up to this ticket durable (`record::Journal`).
    Recorded {
        /// The last ticket in the commit.
        ticket: u64,
        /// Why the record could not be written; it writes nothing more in this run.
        error: Option<String>,
    },
}

/// File work done for the run record off the coordinator's thread (`Message::Filed`).
#[derive(Debug)]
pub enum Filed {
    /// A task with files is checked (its inputs and outputs read): whether it runs is the
    /// record's to say.
    Checked,
    /// What a task's output patterns matched before an attempt is stamped: it may start.
    Stamped,
    /// An attempt ended and its file work is done: the outputs of a success are digested
    /// and its depfile read (a missing or unreadable output, a missing or malformed depfile
    /// fails it), what a failure created or changed is set aside.
    Ended {
        /// How the attempt ended, once its outputs were looked at.
        status: TaskStatus,
        /// The outputs a success made, digested.
        outputs: Option<Vec<FileDigest>>,
        /// What was set aside, where to, and what stayed.
        aside: Option<Aside>,
        /// For a success of a task with a `depfile`: the files it names (but the declared
        /// inputs), each with the digest of its content (hex), or `gone`.
        discovered: Option<Vec<(String, String)>>,
    },
}

/// What a failed attempt created or changed among its outputs, set aside.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Aside {
    /// The directory they went to.
    pub to: PathBuf,
    /// The paths moved, as the task's patterns name them.
    pub moved: Vec<String>,
    /// The paths that stay where they are, and why.
    pub left: Vec<(String, String)>,
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
