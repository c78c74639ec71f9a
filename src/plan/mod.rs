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

pub use fill::{Outcome, Scope, Templating, reads_constants};
pub use graph::{DEFAULT_TASK, Graph, SelectError};
pub use render_graph::{GraphFormat, render_graph};
pub use render_plan::{render_plan_json, render_plan_text};
pub use targets::{Resolved, TargetError, resolve_targets, target_names};

/// How `engine plan` and `engine graph` show a task: a placeholder (its matrix reads
/// results) as `work[shard=…] (expands after split)`, any other by its name.
fn shown_name(task: &crate::model::Task) -> std::borrow::Cow<'_, str> {
    let Some(expansion) = &task.expands else {
        return std::borrow::Cow::Borrowed(&task.name);
    };
    let keys: Vec<String> = expansion
        .axes
        .iter()
        .map(|(key, _)| format!("{key}=…"))
        .collect();
    std::borrow::Cow::Owned(format!(
        "{}[{}] (expands after {})",
        task.name,
        keys.join(","),
        expansion.after.join(", ")
    ))
}

/// A placeholder's expansion for the JSON of `plan` and `graph`: its matrix keys and the
/// tasks whose results it waits for; `null` for other tasks.
fn expands_json(task: &crate::model::Task) -> serde_json::Value {
    task.expands
        .as_ref()
        .map_or(serde_json::Value::Null, |expansion| {
            serde_json::json!({
                "keys": expansion.axes.iter().map(|(key, _)| key.as_str()).collect::<Vec<_>>(),
                "after": expansion.after,
            })
        })
}

#[cfg(test)]
mod tests;
