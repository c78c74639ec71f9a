//! `Graph`: the tasks selected for a run, their dependency edges, waves and priorities; it
//! grows during a run when a placeholder expands (`Graph::expand`).

use std::collections::HashMap;

use petgraph::Direction;
use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::diagnostic::suggest;
use crate::model::{Pick, Selector, TaskId, Workflow, item_matches};

/// A requested task that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no task named `{name}` in the workflow")]
pub struct SelectError {
    /// The name asked for.
    pub name: String,
    /// A close task name, if any.
    pub suggestion: Option<String>,
}

/// The dependency graph of the selected tasks. Node `i` stands for `tasks[i]`; an edge goes
/// from a dependency to the task that waits for it.
#[derive(Clone, Debug)]
pub struct Graph {
    graph: DiGraph<TaskId, (), u32>,
    /// The selected tasks in file order.
    tasks: Vec<TaskId>,
    /// Node index of each workflow task, or `None` when it is not selected.
    node_of: Vec<Option<NodeIndex<u32>>>,
    /// A topological order of the nodes.
    order: Vec<NodeIndex<u32>>,
    /// Wave (0-based) of each node: one more than its latest dependency's.
    wave: Vec<u32>,
    /// Length in tasks of the longest chain from each node to the end of the graph, or in
    /// expected milliseconds once `weigh` has been called with durations.
    chain: Vec<u32>,
    /// Whether `chain` counts milliseconds (`weigh`) rather than tasks.
    weighted: bool,
    /// The dependents of each node in file order, computed once: the coordinator asks for
    /// them every time a task finishes.
    dependents: Adjacency,
}

/// One list of tasks per node, stored flat: node `i`'s list is `list[start[i]..start[i + 1]]`.
#[derive(Clone, Debug)]
struct Adjacency {
    start: Vec<usize>,
    list: Vec<TaskId>,
}

impl Adjacency {
    /// The dependents of every node, from the edges in the order `Graph::build` added them:
    /// grouped by dependent in file order, so each list comes out in file order without
    /// sorting. A dependency named twice appears twice, like its two edges.
    fn dependents(graph: &DiGraph<TaskId, (), u32>) -> Self {
        let edges = graph.raw_edges();
        let mut start = vec![0; graph.node_count() + 1];
        for edge in edges {
            start[edge.source().index() + 1] += 1;
        }
        for i in 1..start.len() {
            start[i] += start[i - 1];
        }
        let mut next = start.clone();
        let mut list = vec![TaskId(0); edges.len()];
        for edge in edges {
            let slot = &mut next[edge.source().index()];
            list[*slot] = graph[edge.target()];
            *slot += 1;
        }
        Self { start, list }
    }

    fn of(&self, node: NodeIndex<u32>) -> &[TaskId] {
        &self.list[self.start[node.index()]..self.start[node.index() + 1]]
    }
}

impl Graph {
    /// Builds the graph of `targets` and everything they depend on; when `targets` is empty,
    /// of the task named `default`, else of every task but the `manual` ones.
    ///
    /// # Errors
    /// The first target that names no task, with a suggestion.
    pub fn build(workflow: &Workflow, targets: &[String]) -> Result<Self, SelectError> {
        Ok(Self::of_selected(workflow, &select(workflow, targets)?))
    }

    /// The graph of every task of the workflow, `manual` ones and those the `default` task
    /// does not need included.
    #[must_use]
    pub fn build_all(workflow: &Workflow) -> Self {
        Self::of_selected(workflow, &vec![true; workflow.tasks.len()])
    }

    /// The graph of the tasks `selected` marks (with every dependency of each marked).
    fn of_selected(workflow: &Workflow, selected: &[bool]) -> Self {
        let tasks: Vec<TaskId> = workflow
            .tasks
            .iter()
            .map(|task| task.id)
            .filter(|id| selected[id.index()])
            .collect();
        let mut graph = DiGraph::with_capacity(tasks.len(), tasks.len() * 2);
        let mut node_of = vec![None; workflow.tasks.len()];
        for &id in &tasks {
            node_of[id.index()] = Some(graph.add_node(id));
        }
        for &id in &tasks {
            let to = node_of[id.index()].expect("selected tasks have nodes");
            for dep in &workflow.task(id).depends_on {
                let from =
                    node_of[dep.index()].expect("the dependencies of a selected task are selected");
                graph.add_edge(from, to, ());
            }
        }
        // Validation has already refused cycles, so a toposort always exists.
        let order = toposort(&graph, None).expect("validated workflows have no dependency cycles");
        let mut wave = vec![0u32; tasks.len()];
        for &node in &order {
            let level = graph
                .neighbors_directed(node, Direction::Incoming)
                .map(|dep| wave[dep.index()] + 1)
                .max()
                .unwrap_or(0);
            wave[node.index()] = level;
        }
        let mut chain = vec![1u32; tasks.len()];
        for &node in order.iter().rev() {
            let rest = graph
                .neighbors_directed(node, Direction::Outgoing)
                .map(|next| chain[next.index()])
                .max()
                .unwrap_or(0);
            chain[node.index()] = rest + 1;
        }
        let dependents = Adjacency::dependents(&graph);
        Self {
            graph,
            tasks,
            node_of,
            order,
            wave,
            chain,
            weighted: false,
            dependents,
        }
    }

    /// The selected tasks in file order.
    #[must_use]
    pub fn tasks(&self) -> &[TaskId] {
        &self.tasks
    }

    /// How many tasks are selected.
    #[must_use]
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether no task is selected.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Whether `task` is part of the graph.
    #[must_use]
    pub fn contains(&self, task: TaskId) -> bool {
        self.node_of.get(task.index()).is_some_and(Option::is_some)
    }

    fn node(&self, task: TaskId) -> NodeIndex<u32> {
        self.node_of[task.index()].expect("asked about a task outside the graph")
    }

    /// The selected tasks in a dependency-respecting order.
    pub fn topological(&self) -> impl Iterator<Item = TaskId> + '_ {
        self.order.iter().map(|node| self.graph[*node])
    }

    /// The tasks `task` waits for, in file order.
    pub fn dependencies(&self, task: TaskId) -> impl Iterator<Item = TaskId> + '_ {
        let mut deps: Vec<TaskId> = self
            .graph
            .neighbors_directed(self.node(task), Direction::Incoming)
            .map(|n| self.graph[n])
            .collect();
        deps.sort_unstable();
        deps.into_iter()
    }

    /// The tasks that wait for `task`, in file order.
    pub fn dependents(&self, task: TaskId) -> impl Iterator<Item = TaskId> + '_ {
        self.dependents.of(self.node(task)).iter().copied()
    }

    /// The wave of `task`, 0-based: tasks of one wave can all run at once.
    #[must_use]
    pub fn wave(&self, task: TaskId) -> u32 {
        self.wave[self.node(task).index()]
    }

    /// The number of tasks in the longest chain that starts at `task` (itself included): the
    /// critical-path priority.
    #[must_use]
    pub fn chain(&self, task: TaskId) -> u32 {
        self.chain[self.node(task).index()]
    }

    /// Weighs the critical-path priority by how long each task took the last time it
    /// succeeded (`durations` in milliseconds by task index; a task without one counts as the
    /// average of those with one): `chain` becomes the milliseconds of the longest path that
    /// starts at a task. Without any duration the priority stays a count of tasks.
    pub fn weigh(&mut self, durations: &[Option<u64>]) {
        let known: Vec<u64> = self
            .tasks
            .iter()
            .filter_map(|task| durations.get(task.index()).copied().flatten())
            .collect();
        if known.is_empty() {
            return;
        }
        self.weighted = true;
        let average = known.iter().sum::<u64>() / known.len() as u64;
        for &node in self.order.iter().rev() {
            let task = self.graph[node];
            let own = durations
                .get(task.index())
                .copied()
                .flatten()
                .unwrap_or(average)
                .max(1);
            let rest = self
                .graph
                .neighbors_directed(node, Direction::Outgoing)
                .map(|next| self.chain[next.index()])
                .max()
                .unwrap_or(0);
            self.chain[node.index()] = rest.saturating_add(u32::try_from(own).unwrap_or(u32::MAX));
        }
    }

    /// A placeholder expanded during the run (`Task::expands`): `items`, new tasks appended
    /// to the workflow, each wait for what the placeholder waited for, and the placeholder
    /// now waits for them alone, as a join. Each item's priority is the placeholder's plus
    /// its own step; waves are not shifted (they are shown before a run only).
    pub fn expand(&mut self, placeholder: TaskId, items: &[TaskId]) {
        let join = self.node(placeholder);
        let deps: Vec<NodeIndex<u32>> = self
            .graph
            .neighbors_directed(join, Direction::Incoming)
            .collect();
        for &dep in &deps {
            while let Some(edge) = self.graph.find_edge(dep, join) {
                self.graph.remove_edge(edge);
            }
        }
        let (wave, chain) = (self.wave(placeholder), self.chain(placeholder));
        for &item in items {
            let node = self.graph.add_node(item);
            if self.node_of.len() <= item.index() {
                self.node_of.resize(item.index() + 1, None);
            }
            self.node_of[item.index()] = Some(node);
            self.tasks.push(item);
            self.wave.push(wave);
            self.chain.push(chain.saturating_add(1));
            for &dep in &deps {
                self.graph.add_edge(dep, node, ());
            }
            self.graph.add_edge(node, join, ());
        }
        self.order = toposort(&self.graph, None).expect("an expansion adds no cycle");
        self.dependents = Adjacency::dependents(&self.graph);
    }

    /// Whether `chain` counts expected milliseconds (after `weigh`) rather than tasks.
    #[must_use]
    pub fn is_weighted(&self) -> bool {
        self.weighted
    }

    /// The tasks grouped by wave, each wave in file order.
    #[must_use]
    pub fn waves(&self) -> Vec<Vec<TaskId>> {
        let count = self.wave.iter().max().map_or(0, |max| *max as usize + 1);
        let mut waves = vec![Vec::new(); count];
        for &task in &self.tasks {
            waves[self.wave(task) as usize].push(task);
        }
        waves
    }

    /// The dependency edges `(dependency, dependent)` in file order of the dependents.
    #[must_use]
    pub fn edges(&self) -> Vec<(TaskId, TaskId)> {
        let mut edges: Vec<(TaskId, TaskId)> = self
            .graph
            .edge_indices()
            .filter_map(|edge| self.graph.edge_endpoints(edge))
            .map(|(from, to)| (self.graph[from], self.graph[to]))
            .collect();
        edges.sort_unstable_by_key(|(from, to)| (*to, *from));
        edges
    }
}

/// Marks the targets and everything they depend on; everything when there are no targets.
fn select(workflow: &Workflow, targets: &[String]) -> Result<Vec<bool>, SelectError> {
    let mut selected = vec![false; workflow.tasks.len()];
    let mut stack = Vec::new();
    if targets.is_empty() {
        stack = default_selection(workflow);
    }
    // A task's own name, the name of a matrix task for all its expansions, and aliases.
    let mut ids: HashMap<&str, Vec<TaskId>> = HashMap::with_capacity(workflow.tasks.len());
    for task in &workflow.tasks {
        ids.entry(task.name.as_str()).or_default().push(task.id);
        if let Some(group) = &task.group {
            ids.entry(group).or_default().push(task.id);
        }
        for alias in task.aliases() {
            ids.entry(alias).or_default().push(task.id);
        }
    }
    for target in targets {
        if let Some(found) = ids.get(target.as_str()) {
            stack.extend(found.iter().copied());
            continue;
        }
        match select_items(workflow, target) {
            Some(Ok(found)) => stack.extend(found),
            Some(Err(why)) => {
                return Err(SelectError {
                    name: target.clone(),
                    suggestion: Some(why),
                });
            }
            None => {
                return Err(SelectError {
                    name: target.clone(),
                    suggestion: suggest(target, ids.keys().copied()),
                });
            }
        }
    }
    while let Some(id) = stack.pop() {
        if !std::mem::replace(&mut selected[id.index()], true) {
            stack.extend(workflow.task(id).depends_on.iter().copied());
        }
    }
    Ok(selected)
}

/// What runs when no task is named: the task named `default` (every item of a matrix task
/// so named), else every task but the `manual` ones; with what they depend on.
fn default_selection(workflow: &Workflow) -> Vec<TaskId> {
    let named_default: Vec<TaskId> = workflow
        .tasks
        .iter()
        .filter(|task| task.group.as_deref().unwrap_or(&task.name) == DEFAULT_TASK)
        .map(|task| task.id)
        .collect();
    if !named_default.is_empty() {
        return named_default;
    }
    workflow
        .tasks
        .iter()
        .filter(|task| !task.manual)
        .map(|task| task.id)
        .collect()
}

/// The name of the task `engine run` runs when no task is named.
pub const DEFAULT_TASK: &str = "default";

/// The items of a matrix task a target like `test[os=linux]` selects (every item that
/// matches, as in `depends_on`); `None` when the target is not a selector of a matrix task,
/// and why it selects nothing when it selects nothing.
fn select_items(workflow: &Workflow, target: &str) -> Option<Result<Vec<TaskId>, String>> {
    let selector = Selector::parse(target).ok()?;
    let picks = selector.picks.as_ref()?;
    let items: Vec<&crate::model::Task> = workflow
        .tasks
        .iter()
        .filter(|task| task.group.as_deref() == Some(selector.name.as_str()))
        .collect();
    if items.is_empty() {
        return None;
    }
    let mut wanted = Vec::with_capacity(picks.len());
    for pick in picks {
        match pick {
            Pick::Equals { key, value } => wanted.push((key.clone(), value.clone())),
            _ => {
                return Some(Err(format!(
                    "a target selects items with `key=value` only, like `{}[{}=...]`",
                    selector.name,
                    items[0]
                        .matrix
                        .first()
                        .map_or("key", |(key, _)| key.as_str())
                )));
            }
        }
    }
    let found: Vec<TaskId> = items
        .iter()
        .filter(|task| item_matches(&task.matrix, &wanted))
        .map(|task| task.id)
        .collect();
    if !found.is_empty() {
        return Some(Ok(found));
    }
    let keys: Vec<String> = items[0]
        .matrix
        .iter()
        .map(|(key, _)| {
            let mut values: Vec<String> = Vec::new();
            for task in &items {
                for (own, value) in &task.matrix {
                    let text = value.to_string();
                    if own == key && !values.contains(&text) {
                        values.push(text);
                    }
                }
            }
            format!("{key}: {}", values.join(", "))
        })
        .collect();
    Some(Err(format!(
        "`{target}` selects no item of `{}`, whose matrix has {}",
        selector.name,
        keys.join("; ")
    )))
}
