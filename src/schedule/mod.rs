//! Scheduling: the coordinator that owns a run's state, starts ready tasks while there is
//! capacity, applies the failure policy, timeouts and interruptions. No file or process I/O
//! of its own: executors do the work, the run record's gate keeps the record and has file
//! work done off the loop, event sinks do the reporting.

mod attempt;
mod coordinator;
mod slots;
mod state;

pub use attempt::retry_delay;
pub use coordinator::{Coordinator, Options, Summary};
pub use state::TaskState;

#[cfg(test)]
mod job_tests;
#[cfg(test)]
mod tests;
