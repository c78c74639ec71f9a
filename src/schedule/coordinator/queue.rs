//! The ready queues: tasks start in critical-path order while their slots and pools allow;
//! a task about to be ready once the record holds a finished dependency keeps its place in
//! line, and the coordinator asks the record for a commit when such a task is wanted. Part
//! of the coordinator; no I/O of its own.

use std::cmp::Reverse;

use super::{Coordinator, ReadyKey};
use crate::events::EventSink;
use crate::execute::Executor;
use crate::model::{Isolation, TaskId};
use crate::record::Gate;
use crate::schedule::TaskState;

impl<E: Executor, S: EventSink> Coordinator<'_, E, S> {
    /// Puts a ready task in its queue.
    pub(super) fn queue(&mut self, task: TaskId) {
        let key = (self.graph.chain(task), Reverse(task));
        if self.workflow.task(task).isolation == Isolation::Process {
            self.ready_processes.push(key);
        } else {
            self.ready_threads.push(key);
        }
    }

    pub(super) fn start_ready(&mut self) {
        if self.summary.interrupted {
            return;
        }
        let held = self.held_for_record();
        let margin = self.hold_margin();
        for isolation in [Isolation::Process, Isolation::Thread] {
            while self.slots.any_free(isolation) {
                let queue = match isolation {
                    Isolation::Process => &mut self.ready_processes,
                    Isolation::Thread => &mut self.ready_threads,
                };
                let Some(&(chain, Reverse(task))) = queue.peek() else {
                    break;
                };
                if held[usize::from(isolation == Isolation::Thread)]
                    .is_some_and(|(held, _)| held > chain + margin)
                {
                    // A task with a longer chain behind it becomes ready once the record has
                    // its dependency's end: a moment's wait keeps the critical path first.
                    break;
                }
                let spec = self.workflow.task(task);
                if !self.slots.pool_has_room(spec) {
                    // Others may start meanwhile; it is queued again when its pool has room.
                    queue.pop();
                    if let Some(pool) = spec.pool {
                        self.pooled[pool].push((chain, Reverse(task)));
                    }
                    continue;
                }
                if !self.slots.fits(spec, isolation) {
                    // The first in line waits for enough slots; nothing overtakes it, so a
                    // task that needs many CPUs is not starved by small ones.
                    break;
                }
                queue.pop();
                self.slots.take(spec, isolation);
                self.start(task, isolation);
            }
        }
    }

    /// Hands the record this turn's writes, asking for a commit now when finished tasks it
    /// holds are wanted: nothing runs, or what they hold back would be next in line, or
    /// their queue runs short of ready work (committing while the last ready tasks run
    /// means their dependents are ready when a slot frees up).
    pub(super) fn commit(&mut self) {
        let parked = self.gate.as_ref().is_some_and(Gate::has_parked);
        let wants = parked && (self.running.is_empty() || self.wants_held());
        if let Some(gate) = &mut self.gate {
            gate.commit(wants);
        }
    }

    /// Whether a task the record holds back would be next in line, or its queue runs short.
    fn wants_held(&mut self) -> bool {
        let held = self.held_for_record();
        [Isolation::Process, Isolation::Thread]
            .into_iter()
            .any(|isolation| {
                let Some((chain, _)) = held[usize::from(isolation == Isolation::Thread)] else {
                    return false;
                };
                let (queue, capacity) = match isolation {
                    Isolation::Process => (&self.ready_processes, self.options.jobs),
                    Isolation::Thread => (&self.ready_threads, self.options.threads),
                };
                queue.len() < capacity
                    || (self.slots.any_free(isolation)
                        && queue
                            .peek()
                            .is_none_or(|head| chain > head.0 + self.hold_margin()))
            })
    }

    /// How much longer a waiting task's chain must be than the head of the queue for a free
    /// slot to wait for it: any longer when chains count tasks; 10 ms when they count the
    /// durations of earlier runs, more than a commit takes.
    fn hold_margin(&self) -> u32 {
        if self.graph.is_weighted() { 10 } else { 0 }
    }

    /// For process and thread tasks: the best place in line of a task that will be ready as
    /// soon as the record has made a finished dependency durable.
    fn held_for_record(&mut self) -> [Option<ReadyKey>; 2] {
        let mut held = [None, None];
        for (slot, soon) in held.iter_mut().zip(&mut self.soon) {
            // Entries are dropped once their task was decided.
            while let Some(&(chain, Reverse(task))) = soon.peek() {
                if self.state[task.index()] == TaskState::Pending {
                    *slot = Some((chain, Reverse(task)));
                    break;
                }
                soon.pop();
            }
        }
        held
    }

    /// Gives a task's slots back; tasks waiting for its pool are queued again.
    pub(super) fn release(&mut self, task: TaskId, isolation: Isolation) {
        let spec = self.workflow.task(task);
        self.slots.release(spec, isolation);
        if let Some(pool) = spec.pool {
            for (_, Reverse(waiting)) in std::mem::take(&mut self.pooled[pool]) {
                self.queue(waiting);
            }
        }
    }

    /// A finished task waits for the record: dependents that wait for nothing else are
    /// noted as soon ready, so that the queue can keep their place in line.
    pub(super) fn park(&mut self, task: TaskId) {
        for next in self.graph.dependents(task) {
            self.parked_deps[next.index()] += 1;
            // Every dependency it still waits for is only waiting for the record.
            if self.parked_deps[next.index()] == self.unsettled[next.index()]
                && self.state[next.index()] == TaskState::Pending
            {
                let thread = self.workflow.task(next).isolation == Isolation::Thread;
                self.soon[usize::from(thread)].push((self.graph.chain(next), Reverse(next)));
            }
        }
    }
}
