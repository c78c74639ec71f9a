//! `Slots`: the capacity a run has for tasks at once: `-j` process slots, thread slots and
//! pools. A task with `resources.cpus: N` takes N slots of its kind.

use crate::model::{Isolation, Task};

/// What is in use, against the limits.
#[derive(Debug)]
pub struct Slots {
    jobs: usize,
    threads: usize,
    processes_used: usize,
    threads_used: usize,
    /// Each pool's size and how many of its tasks run.
    pools: Vec<(usize, usize)>,
}

impl Slots {
    /// Limits of `jobs` process slots, `threads` thread slots and the pools' sizes.
    #[must_use]
    pub fn new(jobs: usize, threads: usize, pools: impl IntoIterator<Item = usize>) -> Self {
        Self {
            jobs: jobs.max(1),
            threads: threads.max(1),
            processes_used: 0,
            threads_used: 0,
            pools: pools.into_iter().map(|size| (size.max(1), 0)).collect(),
        }
    }

    /// The slots a task takes: its CPUs, never more than there are (validation refuses more
    /// for process tasks; a thread task asking for more than the pool gets the whole pool).
    fn need(&self, task: &Task, isolation: Isolation) -> usize {
        let cpus = task.resources.cpus as usize;
        match isolation {
            Isolation::Process => cpus.clamp(1, self.jobs),
            Isolation::Thread => cpus.clamp(1, self.threads),
        }
    }

    /// Whether any slot of this kind is free.
    #[must_use]
    pub fn any_free(&self, isolation: Isolation) -> bool {
        match isolation {
            Isolation::Process => self.processes_used < self.jobs,
            Isolation::Thread => self.threads_used < self.threads,
        }
    }

    /// Whether the task's CPUs fit in the free slots of its kind.
    #[must_use]
    pub fn fits(&self, task: &Task, isolation: Isolation) -> bool {
        let need = self.need(task, isolation);
        match isolation {
            Isolation::Process => self.processes_used + need <= self.jobs,
            Isolation::Thread => self.threads_used + need <= self.threads,
        }
    }

    /// Whether the task's pool has room (always, without a pool).
    #[must_use]
    pub fn pool_has_room(&self, task: &Task) -> bool {
        task.pool
            .and_then(|pool| self.pools.get(pool))
            .is_none_or(|(size, used)| used < size)
    }

    /// Takes the task's slots and its place in its pool.
    pub fn take(&mut self, task: &Task, isolation: Isolation) {
        let need = self.need(task, isolation);
        match isolation {
            Isolation::Process => self.processes_used += need,
            Isolation::Thread => self.threads_used += need,
        }
        if let Some((_, used)) = task.pool.and_then(|pool| self.pools.get_mut(pool)) {
            *used += 1;
        }
    }

    /// Gives the task's slots and pool place back.
    pub fn release(&mut self, task: &Task, isolation: Isolation) {
        let need = self.need(task, isolation);
        match isolation {
            Isolation::Process => self.processes_used = self.processes_used.saturating_sub(need),
            Isolation::Thread => self.threads_used = self.threads_used.saturating_sub(need),
        }
        if let Some((_, used)) = task.pool.and_then(|pool| self.pools.get_mut(pool)) {
            *used = used.saturating_sub(1);
        }
    }
}
