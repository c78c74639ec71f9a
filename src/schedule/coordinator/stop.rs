//! How a run stops: after a failure without `keep_going`, on Ctrl-C or SIGTERM, on a change in
//! watch mode (only the tasks it affects are stopped), when a
//! timeout or a grace period expires, and when the executor loses track of its tasks. Part of
//! the coordinator; no I/O of its own.

use std::cmp::Reverse;
use std::time::{Duration, Instant};

use super::{Coordinator, Ending};
use crate::events::{Event, EventSink, SkipReason, TaskStatus};
use crate::exchange::{Exit, JobPhase, Termination};
use crate::execute::Executor;
use crate::model::{Isolation, TaskId};

impl<E: Executor, S: EventSink> Coordinator<'_, E, S> {
    /// Without `keep_going`, a failure stops the run: ready tasks that would not run after a
    /// failure are skipped, and no task starts again unless its condition asks for it.
    pub(super) fn stop_after_failure(&mut self) {
        if self.options.keep_going || self.stopping {
            return;
        }
        self.stopping = true;
        self.withdraw_queued();
        let mut queued: Vec<TaskId> = self
            .ready_processes
            .drain()
            .chain(self.ready_threads.drain())
            .chain(self.pooled.iter_mut().flat_map(std::mem::take))
            .map(|(_, Reverse(task))| task)
            .collect();
        queued.sort_unstable();
        for task in queued {
            let runs_anyway = self
                .workflow
                .task(task)
                .condition
                .as_ref()
                .is_some_and(|c| c.checks_status);
            if runs_anyway {
                self.queue(task);
            } else {
                self.skip(task, SkipReason::RunStopped);
            }
        }
        // Failed attempts waiting for a retry are not tried again.
        let waiting: Vec<TaskId> = self
            .retries
            .drain()
            .map(|Reverse((_, task))| task)
            .collect();
        for task in waiting {
            let status = TaskStatus::Failed {
                exit_code: None,
                signal: None,
                message: "not retried: the run stopped after a failure".into(),
            };
            self.finish(task, status, Duration::ZERO, Vec::new());
        }
    }

    /// Takes back the tasks that still waited in a queue outside the engine when the run
    /// stopped (cluster jobs not yet running): they did not start, so they are skipped like
    /// every task that did not.
    fn withdraw_queued(&mut self) {
        for task in self.executor.withdraw_queued() {
            if let Some(running) = self.running.remove(&task) {
                self.release(task, running.isolation);
                self.skip(task, SkipReason::RunStopped);
            }
        }
    }

    pub(super) fn interrupt(&mut self) {
        self.interrupts += 1;
        self.summary.interrupted = true;
        self.stopping = true;
        let forced = self.interrupts > 1;
        self.sink.event(&Event::Interrupting { forced });
        // Attempts waiting for a retry end here; they are skipped at the end.
        let waiting: Vec<TaskId> = self
            .retries
            .drain()
            .map(|Reverse((_, task))| task)
            .collect();
        for task in waiting {
            self.finish(task, TaskStatus::Interrupted, Duration::ZERO, Vec::new());
        }
        let how = if forced {
            Termination::Kill
        } else {
            Termination::Graceful
        };
        let kill_at = Instant::now()
            + if forced {
                Duration::ZERO
            } else {
                self.options.grace
            };
        let tasks: Vec<TaskId> = self.running.keys().copied().collect();
        for task in tasks {
            self.executor.terminate(task, how);
            if let Some(running) = self.running.get_mut(&task) {
                running.terminated = true;
                running.kill_at = Some(running.kill_at.map_or(kill_at, |at| at.min(kill_at)));
            }
        }
    }

    /// Files changed in watch mode (`changed`: the tasks that read them; `None`: all): as an
    /// interruption, nothing new starts, but only the running tasks that read them or depend
    /// on them are stopped (SIGTERM, the grace period, SIGKILL; scripts cancelled). The
    /// others finish; the next run decides again what the change makes out of date.
    pub(super) fn supersede(&mut self, changed: Option<&[TaskId]>) {
        self.summary.interrupted = true;
        self.summary.superseded = true;
        self.stopping = true;
        self.withdraw_queued();
        let waiting: Vec<TaskId> = self
            .retries
            .drain()
            .map(|Reverse((_, task))| task)
            .collect();
        for task in waiting {
            self.finish(task, TaskStatus::Interrupted, Duration::ZERO, Vec::new());
        }
        let affected = changed.map(|changed| self.with_dependents(changed));
        let mut tasks: Vec<TaskId> = self
            .running
            .keys()
            .copied()
            .filter(|task| affected.as_ref().is_none_or(|set| set.contains(task)))
            .collect();
        tasks.sort_unstable();
        self.sink.event(&Event::Warning {
            message: format!(
                "watch: files changed: {} affected running task(s) stopped, nothing new starts; the next run begins once the rest have finished",
                tasks.len()
            ),
        });
        let kill_at = Instant::now() + self.options.grace;
        for task in tasks {
            let Some(running) = self.running.get_mut(&task) else {
                continue;
            };
            if running.terminated {
                continue;
            }
            running.terminated = true;
            running.kill_at = Some(running.kill_at.map_or(kill_at, |at| at.min(kill_at)));
            self.executor.terminate(task, Termination::Graceful);
        }
    }

    /// The tasks of the run among `tasks`, and every task of the run that depends on them.
    fn with_dependents(&self, tasks: &[TaskId]) -> rustc_hash::FxHashSet<TaskId> {
        let mut stack: Vec<TaskId> = tasks
            .iter()
            .copied()
            .filter(|&task| self.graph.contains(task))
            .collect();
        let mut found = rustc_hash::FxHashSet::default();
        while let Some(task) = stack.pop() {
            if found.insert(task) {
                stack.extend(self.graph.dependents(task));
            }
        }
        found
    }

    /// Handles expired timeouts (SIGTERM, then a grace period), expired grace periods
    /// (SIGKILL; a thread task that still runs is given up on) and retries that are due.
    pub(super) fn deadlines(&mut self) {
        let now = Instant::now();
        while let Some(&Reverse((at, task))) = self.retries.peek() {
            if at > now {
                break;
            }
            self.retries.pop();
            self.queue(task);
        }
        let mut expired: Vec<(TaskId, bool)> = Vec::new();
        for (&task, running) in &mut self.running {
            if running.kill_at.is_some_and(|at| at <= now) {
                running.kill_at = None;
                running.deadline = None;
                expired.push((task, true));
            } else if running.kill_at.is_none() && running.deadline.is_some_and(|at| at <= now) {
                running.deadline = None;
                running.timed_out = true;
                running.terminated = true;
                running.kill_at = Some(now + self.options.grace);
                expired.push((task, false));
            }
        }
        expired.sort_unstable();
        for (task, kill) in expired {
            if !kill {
                self.executor.terminate(task, Termination::Graceful);
                continue;
            }
            self.executor.terminate(task, Termination::Kill);
            let thread = self
                .running
                .get(&task)
                .is_some_and(|r| r.isolation == Isolation::Thread);
            if thread {
                self.give_up(task);
            }
        }
    }

    /// Ends a thread task that ignored its cancellation for the whole grace period: its
    /// worker may still be busy, but the run does not wait for it.
    fn give_up(&mut self, task: TaskId) {
        let Some(running) = self.running.remove(&task) else {
            return;
        };
        self.executor.finished(task);
        self.release(task, running.isolation);
        let exit = Exit::ScriptFailed("the script did not stop when asked".into());
        let status = self.status(&running, task, exit);
        let ending = Ending::last(running.started.elapsed());
        self.ended(task, status, ending, false);
    }

    /// Fails every running task: the executor can no longer say how they end (`why`).
    pub(super) fn abandon_running(&mut self, why: &str) {
        let tasks: Vec<TaskId> = self.running.keys().copied().collect();
        for task in tasks {
            self.executor.terminate(task, Termination::Kill);
            if let Some(running) = self.running.remove(&task) {
                self.release(task, running.isolation);
                let status = TaskStatus::Failed {
                    exit_code: None,
                    signal: None,
                    message: format!("lost track of the task: {why}"),
                };
                let ending = Ending::last(running.started.elapsed());
                self.ended(task, status, ending, false);
            }
        }
    }

    /// A cluster job's timeout counts from the moment it begins to run, as a local task's
    /// counts from its start: time spent waiting in the cluster's queue is not held against
    /// it. So a job in the queue has no deadline, and one that begins to run gets it now.
    pub(super) fn job_phase(&mut self, task: TaskId, phase: JobPhase) {
        let timeout = self.workflow.task(task).timeout;
        if let Some(running) = self.running.get_mut(&task)
            && !running.terminated
        {
            match phase {
                JobPhase::Queued => running.deadline = None,
                JobPhase::Started => {
                    running.deadline = timeout.map(|timeout| Instant::now() + timeout.get());
                }
                JobPhase::Running => {}
            }
        }
    }
}
