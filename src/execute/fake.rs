//! `FakeExecutor`: an executor for scheduler tests. It runs nothing: it records the order in
//! which tasks start and finishes one running task each time the coordinator waits, so tests
//! are deterministic and need no sleeps or processes.

use std::collections::{HashSet, VecDeque};

use std::time::Instant;

use super::Executor;
use crate::exchange::{Exit, Launch, Message, Termination};
use crate::model::{Isolation, Task, TaskId};

/// A scripted executor. Tasks named in `failing` fail with exit code 1; the others succeed.
#[derive(Debug)]
pub struct FakeExecutor {
    failing: HashSet<String>,
    names: Vec<String>,
    running: VecDeque<(TaskId, Isolation)>,
    /// Task ids in the order they were started.
    pub started: Vec<TaskId>,
    /// The most process tasks that ran at once.
    pub max_processes: usize,
    /// The most thread tasks that ran at once.
    pub max_threads: usize,
    /// Seed of the order in which running tasks finish; `None` finishes the oldest first.
    pub shuffle: Option<u64>,
    /// A message to hand the coordinator once this task has started, on the next wait,
    /// before any task finishes (a change in watch mode, a signal).
    pub inject: Option<(TaskId, Message)>,
    /// Tasks the coordinator stopped, in order; each ends by SIGTERM on the next wait.
    pub terminated: Vec<TaskId>,
}

impl FakeExecutor {
    /// A fake whose tasks named in `failing` fail.
    #[must_use]
    pub fn new(failing: impl IntoIterator<Item = String>) -> Self {
        Self {
            failing: failing.into_iter().collect(),
            names: Vec::new(),
            running: VecDeque::new(),
            started: Vec::new(),
            max_processes: 0,
            max_threads: 0,
            shuffle: None,
            inject: None,
            terminated: Vec::new(),
        }
    }

    fn count(&self, isolation: Isolation) -> usize {
        self.running.iter().filter(|(_, i)| *i == isolation).count()
    }
}

impl Executor for FakeExecutor {
    fn start(&mut self, task: &Task, _launch: &Launch) -> Result<Option<u32>, String> {
        if self.names.len() <= task.id.index() {
            self.names.resize(task.id.index() + 1, String::new());
        }
        self.names[task.id.index()].clone_from(&task.name);
        self.started.push(task.id);
        self.running.push_back((task.id, task.isolation));
        self.max_processes = self.max_processes.max(self.count(Isolation::Process));
        self.max_threads = self.max_threads.max(self.count(Isolation::Thread));
        Ok(None)
    }

    fn terminate(&mut self, task: TaskId, _how: Termination) {
        if self.running.iter().any(|(id, _)| *id == task) && !self.terminated.contains(&task) {
            self.terminated.push(task);
        }
    }

    fn wait(&mut self, _deadline: Option<Instant>, out: &mut Vec<Message>) -> Result<(), String> {
        if self
            .inject
            .as_ref()
            .is_some_and(|(after, _)| self.started.contains(after))
            && let Some((_, message)) = self.inject.take()
        {
            out.push(message);
            return Ok(());
        }
        let stopped = self
            .running
            .iter()
            .position(|(id, _)| self.terminated.contains(id));
        if let Some(at) = stopped
            && let Some((task, _)) = self.running.remove(at)
        {
            out.push(Message::Finished {
                task,
                exit: Exit::Signal(15),
                results: Vec::new(),
            });
            return Ok(());
        }
        let index = match &mut self.shuffle {
            None => 0,
            Some(seed) => {
                // xorshift: enough to vary the finishing order between cases.
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                usize::try_from(*seed % self.running.len().max(1) as u64).unwrap_or(0)
            }
        };
        if let Some((task, _)) = self.running.remove(index) {
            let exit = if self.failing.contains(&self.names[task.index()]) {
                Exit::Code(1)
            } else {
                Exit::Code(0)
            };
            out.push(Message::Finished {
                task,
                exit,
                results: Vec::new(),
            });
        }
        Ok(())
    }
}
