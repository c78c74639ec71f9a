//! The run report: one self-contained HTML file for a recorded run (`engine report`, `engine
//! run --report`). It reads the record (runs, attempts, logs, last successes) and the workflow
//! file; it never knows the scheduler or events. Every text passes the secrets' masker.

pub mod graph;
pub mod model;
pub mod page;
pub mod recorded;
pub mod timeline;

pub use model::{Outcome, RunReport, Sources};
pub use page::render;
pub use recorded::{ReportError, from_record, write_file};
