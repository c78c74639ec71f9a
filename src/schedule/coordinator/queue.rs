//! The ready queues: tasks start in critical-path order while their slots and pools allow.
//! Part of the coordinator; no I/O of its own.

use std::cmp::Reverse;

use super::Coordinator;
use crate::events::EventSink;
use crate::execute::Executor;
use crate::model::{Isolation, TaskId};

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
        for isolation in [Isolation::Process, Isolation::Thread] {
            while self.slots.any_free(isolation) {
                let queue = match isolation {
                    Isolation::Process => &mut self.ready_processes,
                    Isolation::Thread => &mut self.ready_threads,
                };
                let Some(&(chain, Reverse(task))) = queue.peek() else {
                    break;
                };
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

    /// Hands the record this turn's writes (see `Gate::commit`).
    pub(super) fn commit(&mut self) {
        if let Some(gate) = &mut self.gate {
            gate.commit();
        }
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
}
