//! The dependency graph as inline SVG: nodes coloured by outcome in columns by dependency
//! depth. Past `MOST_NODES` tasks it is collapsed (by matrix task, then by namespace, then by
//! depth) into nodes that count their tasks, so a large run stays readable. It only renders
//! a `RunReport`.

use std::fmt::Write as _;

use rustc_hash::{FxHashMap, FxHashSet};

use super::model::{Outcome, RunReport};
use super::page::esc;

/// Nodes drawn at most.
pub const MOST_NODES: usize = 200;
/// Edges drawn at most (a collapsed graph has few; this bounds a dense one).
const MOST_EDGES: usize = 4000;
const NODE_W: f64 = 180.0;
const NODE_H: f64 = 24.0;
const COLUMN: f64 = 240.0;
const LINE: f64 = 32.0;
const LABEL_CHARS: usize = 24;

/// One node: a task, or the tasks collapsed into it.
struct Node {
    label: String,
    outcome: Outcome,
    count: usize,
    depth: usize,
    /// The task it links to, for a node of one task.
    task: Option<usize>,
    critical: bool,
}

/// How tasks were collapsed into nodes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Collapse {
    None,
    Matrix,
    Namespace,
    Depth,
}

/// The namespace of a name: what comes before its first `.`, `:` or `/`.
fn namespace(name: &str) -> &str {
    name.find(['.', ':', '/']).map_or(name, |at| &name[..at])
}

fn key(report: &RunReport, task: usize, how: Collapse) -> String {
    let task = &report.tasks[task];
    let group = task.group.as_deref().unwrap_or(&task.name);
    match how {
        Collapse::None => task.name.clone(),
        Collapse::Matrix => group.to_owned(),
        Collapse::Namespace => namespace(group).to_owned(),
        Collapse::Depth => format!("depth {}", task.depth),
    }
}

/// The nodes and, per task, its node.
fn nodes(report: &RunReport, how: Collapse) -> (Vec<Node>, Vec<usize>) {
    let mut index: FxHashMap<String, usize> = FxHashMap::default();
    let mut nodes: Vec<Node> = Vec::new();
    let mut of_task = Vec::with_capacity(report.tasks.len());
    for (i, task) in report.tasks.iter().enumerate() {
        let key = key(report, i, how);
        let node = *index.entry(key.clone()).or_insert_with(|| {
            nodes.push(Node {
                label: key,
                outcome: task.outcome,
                count: 0,
                depth: task.depth,
                task: Some(i),
                critical: false,
            });
            nodes.len() - 1
        });
        let node_ref = &mut nodes[node];
        node_ref.count += 1;
        node_ref.outcome = node_ref.outcome.min(task.outcome);
        node_ref.depth = node_ref.depth.min(task.depth);
        node_ref.critical |= task.critical;
        if node_ref.count > 1 {
            node_ref.task = None;
        }
        of_task.push(node);
    }
    (nodes, of_task)
}

/// The graph section's body.
pub fn graph(report: &RunReport, out: &mut String) {
    if !report.graph_known {
        out.push_str("<p class=\"note\">The dependencies are not known: the workflow file could not be read, so the graph is not drawn.</p>");
        return;
    }
    let mut how = Collapse::None;
    let (mut nodes, mut of_task) = self::nodes(report, how);
    for next in [Collapse::Matrix, Collapse::Namespace, Collapse::Depth] {
        if nodes.len() <= MOST_NODES {
            break;
        }
        how = next;
        (nodes, of_task) = self::nodes(report, how);
    }
    let mut edges: Vec<(usize, usize)> = Vec::new();
    let mut seen: FxHashSet<(usize, usize)> = FxHashSet::default();
    for (task, spec) in report.tasks.iter().enumerate() {
        for &dep in &spec.depends_on {
            let edge = (of_task[dep], of_task[task]);
            if edge.0 != edge.1 && seen.insert(edge) {
                edges.push(edge);
            }
        }
    }
    let note = match how {
        Collapse::None => String::new(),
        Collapse::Matrix => "matrix items collapsed into their task".to_owned(),
        Collapse::Namespace => "collapsed by matrix task and namespace".to_owned(),
        Collapse::Depth => "collapsed by depth".to_owned(),
    };
    if !note.is_empty() {
        let _ = write!(
            out,
            "<p class=\"note\">{} tasks in {} nodes: {note}.</p>",
            report.tasks.len(),
            nodes.len()
        );
    }
    // Columns by depth; in each, nodes in the order they came.
    let mut rows_in: Vec<usize> = Vec::new();
    let mut place: Vec<(f64, f64)> = Vec::with_capacity(nodes.len());
    for node in &nodes {
        if rows_in.len() <= node.depth {
            rows_in.resize(node.depth + 1, 0);
        }
        #[expect(clippy::cast_precision_loss, reason = "node counts are small")]
        place.push((
            8.0 + node.depth as f64 * COLUMN,
            8.0 + rows_in[node.depth] as f64 * LINE,
        ));
        rows_in[node.depth] += 1;
    }
    #[expect(clippy::cast_precision_loss, reason = "node counts are small")]
    let (width, height) = (
        16.0 + (rows_in.len().max(1) - 1) as f64 * COLUMN + NODE_W,
        16.0 + (rows_in.iter().copied().max().unwrap_or(1).max(1) - 1) as f64 * LINE + NODE_H,
    );
    let _ = write!(
        out,
        "<div class=\"graph\"><svg width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" role=\"img\" aria-label=\"the dependency graph\"><g class=\"edges\">"
    );
    for &(from, to) in edges.iter().take(MOST_EDGES) {
        let (x1, y1) = (place[from].0 + NODE_W, place[from].1 + NODE_H / 2.0);
        let (x2, y2) = (place[to].0, place[to].1 + NODE_H / 2.0);
        let mid = f64::midpoint(x1, x2);
        let critical = if nodes[from].critical && nodes[to].critical {
            " class=\"crit\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<path{critical} d=\"M{x1:.0} {y1:.0}C{mid:.0} {y1:.0} {mid:.0} {y2:.0} {x2:.0} {y2:.0}\"/>"
        );
    }
    out.push_str("</g>");
    for (node, &(x, y)) in nodes.iter().zip(&place) {
        let critical = if node.critical { " crit" } else { "" };
        let text = if node.count > 1 {
            format!("{} ×{}", cut(&node.label, LABEL_CHARS - 6), node.count)
        } else {
            cut(&node.label, LABEL_CHARS)
        };
        let title = format!(
            "{}: {} ({} tasks)",
            node.label,
            node.outcome.word(),
            node.count
        );
        let open = node
            .task
            .map_or_else(String::new, |t| format!("<a href=\"#t{t}\">"));
        let _ = write!(
            out,
            "{open}<g class=\"node s-{}{critical}\"><title>{}</title><rect x=\"{x:.0}\" y=\"{y:.0}\" width=\"{NODE_W}\" height=\"{NODE_H}\" rx=\"4\"/><text x=\"{:.0}\" y=\"{:.0}\">{}</text></g>{}",
            node.outcome.word(),
            esc(&title),
            x + 8.0,
            y + 16.0,
            esc(&text),
            if node.task.is_some() { "</a>" } else { "" }
        );
    }
    out.push_str("</svg></div>");
}

fn cut(text: &str, most: usize) -> String {
    if text.chars().count() > most {
        let cut: String = text.chars().take(most - 1).collect();
        format!("{cut}…")
    } else {
        text.to_owned()
    }
}
