//! `engine graph`: the dependency graph as a terminal tree, Graphviz DOT, Mermaid or JSON.

use std::fmt::Write;

use serde_json::json;

use super::Graph;
use crate::model::{TaskId, Workflow};

/// The output formats of `engine graph`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    /// A tree per final task, with what it waits for below it.
    Text,
    /// Graphviz DOT, for `dot -Tsvg`.
    Dot,
    /// A Mermaid `flowchart`, which GitHub renders in Markdown.
    Mermaid,
    /// Nodes and edges as JSON.
    Json,
}

/// Renders `graph` in `format`.
#[must_use]
pub fn render_graph(workflow: &Workflow, graph: &Graph, format: GraphFormat) -> String {
    match format {
        GraphFormat::Text => render_text(workflow, graph),
        GraphFormat::Dot => render_dot(workflow, graph),
        GraphFormat::Mermaid => render_mermaid(workflow, graph),
        GraphFormat::Json => {
            let mut text =
                serde_json::to_string_pretty(&graph_json(workflow, graph)).unwrap_or_default();
            text.push('\n');
            text
        }
    }
}

/// One tree per final task (a task nothing waits for), listing below each task what it
/// waits for. A task already drawn is shown again with `(*)` and not expanded twice.
fn render_text(workflow: &Workflow, graph: &Graph) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} ({} tasks)", workflow.name, graph.len());
    let finals: Vec<TaskId> = graph
        .tasks()
        .iter()
        .copied()
        .filter(|&id| graph.dependents(id).next().is_none())
        .collect();
    let mut drawn = vec![false; workflow.tasks.len()];
    for (index, &id) in finals.iter().enumerate() {
        let last = index + 1 == finals.len();
        draw(
            &mut out,
            workflow,
            graph,
            Branch {
                id,
                prefix: "",
                last,
                depth: 0,
            },
            &mut drawn,
        );
    }
    out
}

/// Deeper trees are cut off with `…`: a chain this long is better read with `--format dot`.
const MAX_TREE_DEPTH: usize = 64;

/// Where a task is drawn in the tree.
struct Branch<'p> {
    id: TaskId,
    prefix: &'p str,
    last: bool,
    depth: usize,
}

fn draw(out: &mut String, workflow: &Workflow, graph: &Graph, at: Branch<'_>, drawn: &mut [bool]) {
    let Branch {
        id,
        prefix,
        last,
        depth,
    } = at;
    let task = workflow.task(id);
    let branch = if last { "└── " } else { "├── " };
    if depth >= MAX_TREE_DEPTH {
        let _ = writeln!(out, "{prefix}{branch}… (deeper levels not shown)");
        return;
    }
    let seen = std::mem::replace(&mut drawn[id.index()], true);
    let deps: Vec<TaskId> = graph.dependencies(id).collect();
    let mark = if seen && !deps.is_empty() { " (*)" } else { "" };
    let _ = writeln!(
        out,
        "{prefix}{branch}{} [{}]{mark}",
        super::shown_name(task),
        task.isolation
    );
    if seen {
        return;
    }
    let child_prefix = format!("{prefix}{}", if last { "    " } else { "│   " });
    for (index, &dep) in deps.iter().enumerate() {
        let next = Branch {
            id: dep,
            prefix: &child_prefix,
            last: index + 1 == deps.len(),
            depth: depth + 1,
        };
        draw(out, workflow, graph, next, drawn);
    }
}

/// A DOT string literal.
fn dot_quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                quoted.push('\\');
                quoted.push(c);
            }
            '\n' => quoted.push_str("\\n"),
            _ => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

fn render_dot(workflow: &Workflow, graph: &Graph) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", dot_quote(&workflow.name));
    out.push_str(
        "  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];\n",
    );
    for &id in graph.tasks() {
        let task = workflow.task(id);
        let (color, shape) = match task.isolation {
            crate::model::Isolation::Process => ("#dbeafe", "box"),
            crate::model::Isolation::Thread => ("#dcfce7", "box"),
        };
        let label = format!(
            "{}\n{} · {}",
            super::shown_name(task),
            task.isolation,
            task.command.kind()
        );
        let _ = writeln!(
            out,
            "  {} [label={}, fillcolor={}, shape={shape}];",
            dot_quote(&task.name),
            dot_quote(&label),
            dot_quote(color)
        );
    }
    for (from, to) in graph.edges() {
        let _ = writeln!(
            out,
            "  {} -> {};",
            dot_quote(&workflow.task(from).name),
            dot_quote(&workflow.task(to).name)
        );
    }
    out.push_str("}\n");
    out
}

/// A Mermaid label: quoted, with the characters Mermaid treats specially escaped.
fn mermaid_label(text: &str) -> String {
    let escaped: String = text
        .chars()
        .map(|c| match c {
            '"' => "#quot;".to_owned(),
            '<' => "#lt;".to_owned(),
            '>' => "#gt;".to_owned(),
            _ => c.to_string(),
        })
        .collect();
    format!("\"{escaped}\"")
}

fn render_mermaid(workflow: &Workflow, graph: &Graph) -> String {
    let mut out = String::from("flowchart LR\n");
    for &id in graph.tasks() {
        let task = workflow.task(id);
        let label = mermaid_label(&format!("{} ({})", super::shown_name(task), task.isolation));
        // Node ids are positional so that any task name is safe; the label shows the name.
        let _ = match task.isolation {
            crate::model::Isolation::Process => writeln!(out, "  t{}[{label}]", id.0),
            crate::model::Isolation::Thread => writeln!(out, "  t{}({label})", id.0),
        };
    }
    for (from, to) in graph.edges() {
        let _ = writeln!(out, "  t{} --> t{}", from.0, to.0);
    }
    out
}

fn graph_json(workflow: &Workflow, graph: &Graph) -> serde_json::Value {
    json!({
        "workflow": workflow.name,
        "nodes": graph.tasks().iter().map(|&id| {
            let task = workflow.task(id);
            json!({
                "name": task.name,
                "expands": super::expands_json(task),
                "isolation": task.isolation,
                "command": task.command.kind(),
                "wave": graph.wave(id) + 1,
                "description": task.description,
            })
        }).collect::<Vec<_>>(),
        "edges": graph.edges().into_iter().map(|(from, to)| json!({
            "from": workflow.task(from).name,
            "to": workflow.task(to).name,
        })).collect::<Vec<_>>(),
    })
}
