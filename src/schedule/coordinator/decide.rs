//! Deciding and settling: a task whose dependencies all reached a final state is decided
//! (skipped, failed, up to date by the gate's check, or ready), and a final state settles
//! the task's dependents, without recursion. Part of the coordinator; no I/O of its own.

use std::sync::Arc;
use std::time::Duration;

use super::Coordinator;
use crate::events::{Event, EventSink, SkipReason, TaskStatus};
use crate::exchange::Results;
use crate::execute::Executor;
use crate::model::{Command, TaskId};
use crate::plan::{Outcome, Scope};
use crate::record::gate::Check;
use crate::schedule::TaskState;

impl<E: Executor, S: EventSink> Coordinator<'_, E, S> {
    /// Decides a task whose dependencies are all final: skip it or make it ready.
    pub(super) fn decide(&mut self, task: TaskId) {
        let spec = self.workflow.task(task);
        if self.summary.interrupted {
            self.skip(task, SkipReason::Interrupted);
            return;
        }
        let blocker = spec
            .depends_on
            .iter()
            .copied()
            .find(|dep| !self.satisfied[dep.index()]);
        let checks_status = spec.condition.as_ref().is_some_and(|c| c.checks_status);
        if let Some(blocker) = blocker
            && !checks_status
        {
            // The reason at the root: the failed task, not a skipped one in between; or that
            // the run stopped.
            let reason =
                self.blocked[blocker.index()]
                    .clone()
                    .unwrap_or(SkipReason::DependencyFailed {
                        dependency: blocker,
                    });
            self.skip(task, reason);
            return;
        }
        if self.stopping && !checks_status {
            self.skip(task, SkipReason::RunStopped);
            return;
        }
        if let Some(condition) = &spec.condition {
            let status = self.dependency_status(task);
            let outcomes = self.outcomes.as_deref().unwrap_or(&[]);
            let scope = Scope {
                workflow: &self.workflow,
                graph: &self.graph,
            };
            match self.templating.condition(scope, spec, outcomes, status) {
                Ok(true) => {}
                Ok(false) => {
                    let reason = SkipReason::ConditionFalse {
                        condition: condition.text.clone(),
                    };
                    self.skip(task, reason);
                    return;
                }
                Err(message) => {
                    self.fail_unstarted(task, message);
                    return;
                }
            }
        }
        if self.workflow.task(task).expands.is_some() {
            self.expand(task);
            return;
        }
        if self.gate.is_some() && !self.check(task) {
            return;
        }
        self.make_ready(task);
    }

    /// Fails a task that could not start (its condition or its inputs could not be read).
    pub(super) fn fail_unstarted(&mut self, task: TaskId, message: String) {
        self.attempts[task.index()] = self.attempts[task.index()].max(1);
        self.sink.event(&Event::TaskStarted {
            task,
            pid: None,
            attempt: 1,
            attempts: 1,
        });
        let status = TaskStatus::Failed {
            exit_code: None,
            signal: None,
            message,
        };
        self.finish(task, status, Duration::ZERO, Vec::new());
    }

    /// Asks the gate whether a task runs; false when it was skipped (up to date, or
    /// finished by the run being resumed), failed (its inputs could not be read), or is
    /// being checked off the loop (`checked` goes on).
    fn check(&mut self, task: TaskId) -> bool {
        let Ok(launch) = self.launch(task, 1) else {
            // Filled in again when it starts, which fails it with the reason.
            return true;
        };
        let Some(gate) = &mut self.gate else {
            return true;
        };
        match gate.check(task, launch) {
            Check::Run => true,
            Check::Later => false,
            check => {
                self.checked(task, check);
                false
            }
        }
    }

    /// A task's check came back: it runs (unless the run stopped or was interrupted
    /// meanwhile, which skips it as deciding it now would), its work is done, or it fails.
    pub(super) fn checked(&mut self, task: TaskId, check: Check) {
        match check {
            Check::Run | Check::Later => {
                let checks_status = self
                    .workflow
                    .task(task)
                    .condition
                    .as_ref()
                    .is_some_and(|c| c.checks_status);
                if self.summary.interrupted {
                    self.skip(task, SkipReason::Interrupted);
                } else if self.stopping && !checks_status {
                    self.skip(task, SkipReason::RunStopped);
                } else {
                    self.make_ready(task);
                }
            }
            Check::Failed(message) => self.fail_unstarted(task, message),
            Check::Done { reason, results } => self.skip_done(task, reason, results),
        }
    }

    fn make_ready(&mut self, task: TaskId) {
        self.state[task.index()] = TaskState::Ready;
        self.sink.event(&Event::TaskReady { task });
        let spec = self.workflow.task(task);
        if matches!(spec.command, Command::None) {
            // A join point: it finishes the moment it is ready.
            self.attempts[task.index()] = 1;
            self.sink.event(&Event::TaskStarted {
                task,
                pid: None,
                attempt: 1,
                attempts: 1,
            });
            self.finish(task, TaskStatus::Succeeded, Duration::ZERO, Vec::new());
        } else {
            self.queue(task);
        }
    }

    /// Marks a task skipped and settles its dependents.
    pub(super) fn skip(&mut self, task: TaskId, reason: SkipReason) {
        if !reason.satisfies_dependents() {
            self.blocked[task.index()] = Some(reason.clone());
        }
        if let Some(gate) = &mut self.gate {
            gate.skipped(task, &reason);
        }
        self.state[task.index()] = TaskState::Skipped;
        self.satisfied[task.index()] = reason.satisfies_dependents();
        self.summary.skipped += 1;
        if let Some(outcomes) = &mut self.outcomes {
            outcomes[task.index()] = Some(Outcome {
                status: "skipped",
                results: Arc::default(),
            });
        }
        self.sink.event(&Event::TaskSkipped { task, reason });
        self.settle(task);
    }

    /// Skips a task whose work is done (up to date, or finished by the run resumed): to its
    /// dependents it succeeded, with the results it had then.
    fn skip_done(&mut self, task: TaskId, reason: SkipReason, results: Results) {
        self.state[task.index()] = TaskState::Skipped;
        self.satisfied[task.index()] = true;
        if matches!(reason, SkipReason::Resumed { .. }) {
            self.summary.resumed += 1;
        } else {
            self.summary.up_to_date += 1;
        }
        if let Some(outcomes) = &mut self.outcomes {
            outcomes[task.index()] = Some(Outcome {
                status: "success",
                results: Arc::new(results),
            });
        }
        self.sink.event(&Event::TaskSkipped { task, reason });
        self.settle(task);
    }

    /// A task reached its final state: its dependents whose dependencies are now all final
    /// are decided, in order. Without recursion, as a failure or an up-to-date chain can
    /// settle thousands of tasks at once: a `settle` reached while deciding only adds to
    /// the stack that the outermost one works through.
    pub(super) fn settle(&mut self, task: TaskId) {
        let first = self.to_decide.len();
        for next in self.graph.dependents(task) {
            let unsettled = &mut self.unsettled[next.index()];
            *unsettled -= 1;
            if *unsettled == 0 && self.state[next.index()] == TaskState::Pending {
                self.to_decide.push(next);
            }
        }
        self.to_decide[first..].reverse();
        if self.deciding {
            return;
        }
        self.deciding = true;
        while let Some(next) = self.to_decide.pop() {
            self.decide(next);
        }
        self.deciding = false;
    }

    /// Skips every task that never started, once the loop is over.
    pub(super) fn skip_the_rest(&mut self) {
        let reason = if self.summary.interrupted {
            SkipReason::Interrupted
        } else {
            SkipReason::RunStopped
        };
        for &task in self.graph.tasks() {
            if matches!(
                self.state[task.index()],
                TaskState::Pending | TaskState::Ready
            ) {
                self.state[task.index()] = TaskState::Skipped;
                self.summary.skipped += 1;
                self.sink.event(&Event::TaskSkipped {
                    task,
                    reason: reason.clone(),
                });
            }
        }
    }
}
