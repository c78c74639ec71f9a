//! `LocalExecutor`: this machine's executor, sending each task to threads or processes by
//! its isolation.

use std::sync::Arc;

use super::process::ProcessExecutor;
use super::thread::ThreadExecutor;
use super::{Executor, RunContext, Termination};
use crate::model::{Command, Isolation, Task, TaskId};

/// Runs thread tasks on a pool and process tasks as child process groups.
pub struct LocalExecutor {
    threads: ThreadExecutor,
    processes: ProcessExecutor,
    isolation: Vec<Isolation>,
}

impl LocalExecutor {
    /// An executor for one run of a workflow with `tasks` tasks. Threads (the script workers,
    /// the process reactor) start with the first task that needs them.
    #[must_use]
    pub fn new(context: RunContext, threads: usize, tasks: usize) -> Self {
        let context = Arc::new(context);
        Self {
            threads: ThreadExecutor::new(Arc::clone(&context), threads),
            processes: ProcessExecutor::new(context),
            isolation: vec![Isolation::Thread; tasks],
        }
    }
}

impl Executor for LocalExecutor {
    fn start(&mut self, task: &Task) -> Result<Option<u32>, String> {
        self.isolation[task.id.index()] = task.isolation;
        match (task.isolation, &task.command) {
            (Isolation::Thread, Command::Script { .. }) => self.threads.start(task),
            (_, Command::None) => Err("a task without a command has nothing to start".into()),
            (Isolation::Process, _) | (Isolation::Thread, Command::Shell { .. }) => {
                self.processes.start(task)
            }
        }
    }

    fn terminate(&mut self, task: TaskId, how: Termination) {
        match self.isolation[task.index()] {
            Isolation::Thread => self.threads.terminate(task, how),
            Isolation::Process => self.processes.terminate(task, how),
        }
    }

    fn finished(&mut self, task: TaskId) {
        match self.isolation[task.index()] {
            Isolation::Thread => self.threads.finished(task),
            Isolation::Process => self.processes.finished(task),
        }
    }
}
