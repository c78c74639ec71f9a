//! The run record: a durable journal of every run in the state dir, the up-to-date checks
//! that read it, and the gate that keeps its durability protocol for the coordinator.

pub mod aside;
pub mod depfile;
pub mod explain;
pub mod fresh;
pub mod gate;
pub mod journal;
pub mod lock;
mod mailbox;
pub mod prune;
pub mod reserve;
pub mod state;
pub mod store;
pub mod strays;
pub mod unchanged;

pub use gate::{Gate, Record};
pub use journal::{Checked, Decision, Ended, Forced, Journal, Resume, RunInfo};
pub use state::{AttemptStatus, RunOutcome, UnknownState};
pub use store::{Store, StoreError};
