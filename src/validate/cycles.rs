//! Finding dependency cycles, each reported as a path with the location of every edge.

use std::collections::VecDeque;

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::diagnostic::{Diagnostic, DiagnosticKind, Span};

/// One cycle per strongly connected component of the dependency graph, as diagnostics.
/// `edges[t]` lists the tasks that task `t` depends on, with the span of each name.
/// Self-dependencies are reported elsewhere and ignored here. Each diagnostic comes with the
/// first task of its cycle (whose file it belongs to).
#[must_use]
pub fn find_cycles(names: &[&str], edges: &[Vec<(usize, Span)>]) -> Vec<(usize, Diagnostic)> {
    let mut graph =
        DiGraph::<(), Span, u32>::with_capacity(names.len(), edges.iter().map(Vec::len).sum());
    for _ in names {
        graph.add_node(());
    }
    for (from, deps) in edges.iter().enumerate() {
        for &(to, span) in deps {
            if from != to {
                graph.add_edge(NodeIndex::new(from), NodeIndex::new(to), span);
            }
        }
    }
    let mut components: Vec<Vec<NodeIndex>> = tarjan_scc(&graph)
        .into_iter()
        .filter(|component| component.len() > 1)
        .collect();
    for component in &mut components {
        component.sort_unstable();
    }
    components.sort_unstable();
    components
        .iter()
        .map(|component| {
            (
                component[0].index(),
                cycle_diagnostic(&graph, names, component),
            )
        })
        .collect()
}

/// The shortest cycle through the component's first task (in file order), as a diagnostic.
fn cycle_diagnostic(
    graph: &DiGraph<(), Span, u32>,
    names: &[&str],
    component: &[NodeIndex],
) -> Diagnostic {
    let start = component[0];
    let in_component = |node: NodeIndex| component.binary_search(&node).is_ok();
    // Breadth-first search from `start` back to `start`, remembering the edge into each node.
    let mut came_from: Vec<Option<(NodeIndex, Span)>> = vec![None; graph.node_count()];
    let mut queue = VecDeque::from([start]);
    let mut closing = None;
    'search: while let Some(node) = queue.pop_front() {
        let mut neighbours: Vec<_> = graph
            .edges(node)
            .map(|edge| (petgraph::visit::EdgeRef::target(&edge), *edge.weight()))
            .filter(|(target, _)| in_component(*target))
            .collect();
        neighbours.sort_by_key(|(target, span)| (*target, span.offset));
        for (target, span) in neighbours {
            if target == start {
                closing = Some((node, span));
                break 'search;
            }
            if came_from[target.index()].is_none() {
                came_from[target.index()] = Some((node, span));
                queue.push_back(target);
            }
        }
    }
    let (mut node, closing_span) =
        closing.expect("a strongly connected component has a cycle through each node");
    let mut path = vec![(node, closing_span)];
    while node != start {
        let (previous, span) =
            came_from[node.index()].expect("every visited node has a predecessor");
        path.push((previous, span));
        node = previous;
    }
    path.reverse();
    // `path[i]` is a task and the span of its dependency on the next task in the cycle.
    let mut shown: Vec<&str> = path.iter().map(|(node, _)| names[node.index()]).collect();
    shown.push(names[start.index()]);
    let mut diagnostic = Diagnostic::error(
        DiagnosticKind::DependencyCycle,
        format!("dependency cycle: {}", shown.join(" -> ")),
    );
    for (step, (node, span)) in path.iter().enumerate() {
        let next = shown[step + 1];
        let label = format!("`{}` depends on `{next}`", names[node.index()]);
        diagnostic = if step == 0 {
            diagnostic.at(*span, Some(label))
        } else {
            diagnostic.also(*span, label)
        };
    }
    diagnostic.hint(
        "a task cannot wait for itself, even through other tasks; remove one of these dependencies",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(n: usize) -> Span {
        Span::new(n, 1)
    }

    #[test]
    fn reports_each_cycle_once_as_a_path() {
        let names = ["fetch", "parse", "store", "other"];
        // fetch -> parse -> store -> fetch; other -> fetch is not part of the cycle.
        let edges = vec![
            vec![(1, span(10))],
            vec![(2, span(20))],
            vec![(0, span(30))],
            vec![(0, span(40))],
        ];
        let found: Vec<Diagnostic> = find_cycles(&names, &edges)
            .into_iter()
            .map(|(first, diagnostic)| {
                assert_eq!(first, 0, "the cycle starts at its lowest task");
                diagnostic
            })
            .collect();
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].message,
            "dependency cycle: fetch -> parse -> store -> fetch"
        );
        assert_eq!(found[0].primary.as_ref().map(|l| l.span), Some(span(10)));
        let others: Vec<_> = found[0].secondary.iter().map(|l| l.span).collect();
        assert_eq!(others, vec![span(20), span(30)]);
    }

    #[test]
    fn no_cycle_no_diagnostic() {
        let names = ["a", "b", "c"];
        let edges = vec![vec![], vec![(0, span(1))], vec![(0, span(2)), (1, span(3))]];
        assert!(find_cycles(&names, &edges).is_empty());
    }

    #[test]
    fn two_separate_cycles() {
        let names = ["a", "b", "c", "d"];
        let edges = vec![
            vec![(1, span(1))],
            vec![(0, span(2))],
            vec![(3, span(3))],
            vec![(2, span(4))],
        ];
        let found = find_cycles(&names, &edges);
        let firsts: Vec<usize> = found.iter().map(|(first, _)| *first).collect();
        assert_eq!(firsts, [0, 2]);
        let messages: Vec<_> = found.iter().map(|(_, d)| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "dependency cycle: a -> b -> a",
                "dependency cycle: c -> d -> c"
            ]
        );
    }
}
