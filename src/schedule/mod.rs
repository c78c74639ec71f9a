//! Scheduling: the coordinator that owns a run's state, starts ready tasks while there is
//! capacity, applies the failure policy, timeouts and interruptions. No I/O of its own:
//! executors do the work, event sinks do the reporting.

mod coordinator;
mod slots;
mod state;

pub use coordinator::{Coordinator, Options, Summary, retry_delay};
pub use state::TaskState;

#[cfg(test)]
mod job_tests;
#[cfg(test)]
mod tests;
