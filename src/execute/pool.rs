//! `WorkerPool`: a fixed set of threads that run blocking jobs, each job on the first idle
//! worker.
//!
//! Script tasks are long and often block (sleeps, file I/O), which is the opposite of what a
//! work-stealing pool like rayon is tuned for: its wake-up heuristics assume short jobs, and
//! a job injected while another is being picked up may wake no sleeping worker, so it could
//! wait, unstarted, until a busy worker finishes. A shared channel that every idle worker
//! blocks on starts each job at once.

use crossbeam_channel::{Receiver, Sender};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A pool of worker threads fed by one channel.
pub struct WorkerPool {
    jobs: Sender<Job>,
}

impl WorkerPool {
    /// Starts `threads` workers named `engine-worker-N`, each with the stack scripts need
    /// ([`crate::script::STACK_BYTES`]).
    ///
    /// # Errors
    /// When a thread cannot be created.
    pub fn new(threads: usize) -> std::io::Result<Self> {
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        for index in 0..threads.max(1) {
            let queue: Receiver<Job> = queue.clone();
            std::thread::Builder::new()
                .name(format!("engine-worker-{index}"))
                .stack_size(crate::script::STACK_BYTES)
                .spawn(move || {
                    // The loop ends when the pool is dropped and the queue is empty.
                    for job in queue {
                        job();
                    }
                })?;
        }
        Ok(Self { jobs })
    }

    /// Runs `job` on the first idle worker, or queues it until one is idle.
    pub fn spawn(&self, job: impl FnOnce() + Send + 'static) {
        // The workers hold the receiver until the pool is dropped, so sending cannot fail.
        let _ = self.jobs.send(Box::new(job));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    #[test]
    fn every_worker_takes_a_job_at_once() {
        // Four jobs that each wait for all four: this only finishes when all run together.
        let pool = WorkerPool::new(4).expect("threads");
        let barrier = Arc::new(Barrier::new(5));
        for _ in 0..4 {
            let barrier = Arc::clone(&barrier);
            pool.spawn(move || {
                barrier.wait();
            });
        }
        barrier.wait();
    }
}
