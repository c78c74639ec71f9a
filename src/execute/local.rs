//! `LocalExecutor`: this machine's executor, sending each task to threads or processes by
//! its isolation.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::process::ProcessExecutor;
use super::thread::ThreadExecutor;
use super::{Executor, RunContext};
use crate::exchange::{Inbox, Launch, Message, Termination};
use crate::model::{Command, Isolation, Task, TaskId};

/// Messages taken from the inbox at once, so that process output is read between them.
const DRAIN_LIMIT: usize = 256;

/// Runs thread tasks on a pool and process tasks as child process groups.
pub struct LocalExecutor {
    threads: ThreadExecutor,
    processes: ProcessExecutor,
    inbox: Inbox,
    isolation: Vec<Isolation>,
}

impl LocalExecutor {
    /// An executor for one run of a workflow with `tasks` tasks; `inbox` receives what the
    /// context's outbox sends. The script workers start with the first script task.
    #[must_use]
    pub fn new(context: RunContext, inbox: Inbox, threads: usize, tasks: usize) -> Self {
        let context = Arc::new(context);
        let doorbell = Arc::clone(inbox.doorbell());
        Self {
            threads: ThreadExecutor::new(Arc::clone(&context), threads),
            processes: ProcessExecutor::new(context, doorbell),
            inbox,
            isolation: vec![Isolation::Thread; tasks],
        }
    }
}

impl Executor for LocalExecutor {
    fn start(&mut self, task: &Task, launch: &Launch) -> Result<Option<u32>, String> {
        // Tasks a placeholder expanded into come after those it was made for.
        if self.isolation.len() <= task.id.index() {
            self.isolation
                .resize(task.id.index() + 1, Isolation::Thread);
        }
        self.isolation[task.id.index()] = task.isolation;
        super::create_output_dirs(launch)?;
        match (task.isolation, &launch.command) {
            (Isolation::Thread, Command::Script { .. }) => self.threads.start(task, launch),
            (_, Command::None) => Err("a task without a command has nothing to start".into()),
            (Isolation::Process, _) | (Isolation::Thread, Command::Shell { .. }) => {
                self.processes.start(task, launch)
            }
        }
    }

    fn terminate(&mut self, task: TaskId, how: Termination) {
        match self.isolation[task.index()] {
            Isolation::Thread => self.threads.terminate(task, how),
            Isolation::Process => self.processes.terminate(task, how),
        }
    }

    fn wait(&mut self, deadline: Option<Instant>, out: &mut Vec<Message>) -> Result<(), String> {
        let waiting = self.inbox.drain(out, DRAIN_LIMIT) > 0;
        if self.processes.is_idle() {
            // Only other threads can report: block on the channel itself.
            if !waiting {
                self.inbox.recv(deadline, out);
            }
            return Ok(());
        }
        // Processes run: sleep in epoll, where the inbox's doorbell also wakes us. Messages
        // already waiting only allow a look at the processes without sleeping.
        let timeout = if waiting || !self.inbox.prepare_sleep() {
            Some(Duration::ZERO)
        } else {
            deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()))
        };
        let polled = self.processes.poll(timeout, out);
        self.inbox.woke();
        self.inbox.drain(out, DRAIN_LIMIT);
        polled
    }

    fn finished(&mut self, task: TaskId) {
        match self.isolation[task.index()] {
            Isolation::Thread => self.threads.finished(task),
            Isolation::Process => self.processes.finished(task),
        }
    }
}
