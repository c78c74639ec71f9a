//! Planning: the dependency graph of the selected tasks (petgraph), its waves and the
//! critical-path priorities, filling in a task's launch (`Templating`), plus the dry-run and
//! graph renderings.

mod fill;
mod filled;
mod graph;
mod render_graph;
mod render_plan;

pub use fill::{Outcome, Scope, Templating, reads_constants};
pub use graph::{Graph, SelectError};
pub use render_graph::{GraphFormat, render_graph};
pub use render_plan::{render_plan_json, render_plan_text};

#[cfg(test)]
mod tests;
