//! Planning: the dependency graph of the selected tasks (petgraph), its waves and the
//! critical-path priorities, filling in a task's launch (`Templating`), the command line's file
//! targets turned into tasks (`resolve_targets`), plus the dry-run and graph renderings.

mod fill;
mod filled;
mod graph;
mod outputs;
mod render_graph;
mod render_plan;
mod targets;

pub use fill::{Outcome, Templating, reads_constants};
pub use graph::{Graph, SelectError};
pub use render_graph::{GraphFormat, render_graph};
pub use render_plan::{render_plan_json, render_plan_text};
pub use targets::{Resolved, TargetError, resolve_targets, target_names};

#[cfg(test)]
mod tests;
