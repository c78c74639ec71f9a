//! Property tests of `Graph` on random DAGs: waves list every task once and after its
//! dependencies, chains are critical-path lengths, and target selection takes exactly the
//! targets and what they depend on. Plus a few hand-made graphs.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::sample::Index;

use super::Graph;
use crate::model::{Command, Isolation, Task, TaskId, Workflow};

/// A workflow of join tasks named `t0`, `t1`, ... where `deps[i]` lists what task `i`
/// depends on (each lower than `i`).
fn workflow(deps: &[Vec<usize>]) -> Workflow {
    let tasks = deps
        .iter()
        .enumerate()
        .map(|(index, deps)| Task {
            id: id(index),
            name: format!("t{index}"),
            description: None,
            depends_on: deps.iter().copied().map(id).collect(),
            isolation: Isolation::Thread,
            command: Command::None,
            env: Arc::from(Vec::new()),
            cwd: PathBuf::from("."),
            timeout: None,
            resources: crate::model::Resources::default(),
            executor: crate::model::ExecutorKind::Local,
            slurm: Arc::default(),
        })
        .collect();
    Workflow {
        path: PathBuf::from("random.yaml"),
        name: "random".to_owned(),
        description: None,
        tasks,
    }
}

fn id(index: usize) -> TaskId {
    TaskId(u32::try_from(index).expect("small test graphs"))
}

/// Random DAGs: up to 40 tasks, each depending on up to 4 earlier ones (no repeats).
fn dags() -> impl Strategy<Value = Vec<Vec<usize>>> {
    (1usize..40).prop_flat_map(|count| {
        proptest::collection::vec(proptest::collection::vec(any::<Index>(), 0..5), count).prop_map(
            |picks| {
                picks
                    .into_iter()
                    .enumerate()
                    .map(|(index, picks)| {
                        if index == 0 {
                            return Vec::new();
                        }
                        let chosen: BTreeSet<usize> =
                            picks.iter().map(|pick| pick.index(index)).collect();
                        chosen.into_iter().collect()
                    })
                    .collect()
            },
        )
    })
}

/// Everything `targets` depend on, directly or not, and the targets themselves.
fn closure(deps: &[Vec<usize>], targets: &[usize]) -> BTreeSet<usize> {
    let mut selected = BTreeSet::new();
    let mut stack = targets.to_vec();
    while let Some(task) = stack.pop() {
        if selected.insert(task) {
            stack.extend(&deps[task]);
        }
    }
    selected
}

/// Checks every property of `graph`, built from `deps` for the tasks in `selected`.
fn check_graph(deps: &[Vec<usize>], graph: &Graph, selected: &BTreeSet<usize>) {
    let listed: Vec<usize> = graph.tasks().iter().map(|task| task.index()).collect();
    assert_eq!(listed, selected.iter().copied().collect::<Vec<_>>());
    assert_eq!(graph.len(), selected.len());
    for index in 0..deps.len() {
        assert_eq!(graph.contains(id(index)), selected.contains(&index));
    }

    // Every selected task in exactly one wave; each wave in file order and at the task's level.
    let waves = graph.waves();
    let mut seen: Vec<usize> = waves.iter().flatten().map(|task| task.index()).collect();
    seen.sort_unstable();
    assert_eq!(seen, listed, "every task exactly once");
    for (number, wave) in waves.iter().enumerate() {
        assert!(!wave.is_empty(), "wave {number} is empty");
        assert!(wave.windows(2).all(|pair| pair[0] < pair[1]), "file order");
        for &task in wave {
            assert_eq!(graph.wave(task) as usize, number);
        }
    }
    for &task in selected {
        let wave = graph.wave(id(task));
        for &dep in &deps[task] {
            assert!(wave > graph.wave(id(dep)), "t{task} runs after t{dep}");
        }
        // The earliest wave possible: right after its latest dependency.
        let earliest = deps[task].iter().map(|&dep| graph.wave(id(dep)) + 1).max();
        assert_eq!(
            wave,
            earliest.unwrap_or(0),
            "t{task} waits no longer than needed"
        );
    }

    // Dependencies and dependents, in file order.
    for &task in selected {
        let got: Vec<usize> = graph.dependencies(id(task)).map(TaskId::index).collect();
        assert_eq!(got, deps[task]);
        let dependents: Vec<usize> = selected
            .iter()
            .copied()
            .filter(|&other| deps[other].contains(&task))
            .collect();
        let got: Vec<usize> = graph.dependents(id(task)).map(TaskId::index).collect();
        assert_eq!(got, dependents);
        let chain = graph
            .dependents(id(task))
            .map(|next| graph.chain(next))
            .max();
        assert_eq!(
            graph.chain(id(task)),
            1 + chain.unwrap_or(0),
            "chain of t{task}"
        );
    }

    // A topological order of exactly the selected tasks.
    let order: Vec<usize> = graph.topological().map(TaskId::index).collect();
    assert_eq!(order.len(), selected.len());
    let mut position = vec![usize::MAX; deps.len()];
    for (at, &task) in order.iter().enumerate() {
        position[task] = at;
    }
    for &task in selected {
        for &dep in &deps[task] {
            assert!(position[dep] < position[task], "t{dep} before t{task}");
        }
    }

    // The edges are exactly the dependencies among the selected tasks.
    let edges: BTreeSet<(usize, usize)> = graph
        .edges()
        .into_iter()
        .map(|(from, to)| (from.index(), to.index()))
        .collect();
    let expected: BTreeSet<(usize, usize)> = selected
        .iter()
        .flat_map(|&task| deps[task].iter().map(move |&dep| (dep, task)))
        .collect();
    assert_eq!(edges, expected);
}

proptest! {
    #[test]
    fn waves_and_chains_of_random_dags(deps in dags()) {
        let workflow = workflow(&deps);
        let graph = Graph::build(&workflow, &[]).expect("no targets, no unknown names");
        check_graph(&deps, &graph, &(0..deps.len()).collect());
    }

    #[test]
    fn selection_takes_the_targets_and_what_they_need(
        deps in dags(),
        picks in proptest::collection::vec(any::<Index>(), 1..4),
    ) {
        let workflow = workflow(&deps);
        let targets: Vec<usize> = picks.iter().map(|pick| pick.index(deps.len())).collect();
        let names: Vec<String> = targets.iter().map(|index| format!("t{index}")).collect();
        let graph = Graph::build(&workflow, &names).expect("known names");
        check_graph(&deps, &graph, &closure(&deps, &targets));
    }
}

#[test]
fn a_diamond() {
    // t0 -> t1, t0 -> t2, {t1, t2} -> t3, and t4 alone.
    let deps = vec![vec![], vec![0], vec![0], vec![1, 2], vec![]];
    let workflow = workflow(&deps);
    let graph = Graph::build(&workflow, &[]).expect("valid");
    let waves: Vec<Vec<usize>> = graph
        .waves()
        .iter()
        .map(|wave| wave.iter().map(|task| task.index()).collect())
        .collect();
    assert_eq!(waves, [vec![0, 4], vec![1, 2], vec![3]]);
    let chains: Vec<u32> = (0..5).map(|index| graph.chain(id(index))).collect();
    assert_eq!(chains, [3, 2, 2, 1, 1]);
}

#[test]
fn an_unknown_target_is_an_error_with_a_suggestion() {
    let workflow = workflow(&[vec![], vec![0]]);
    let error = Graph::build(&workflow, &["t1".to_owned(), "t7x".to_owned()])
        .expect_err("`t7x` is no task");
    assert_eq!(error.name, "t7x");
    assert_eq!(error.to_string(), "no task named `t7x` in the workflow");
    let error = Graph::build(&workflow, &["t".to_owned()]).expect_err("`t` is no task");
    assert!(error.suggestion.is_some(), "{error:?}");
    let error = Graph::build(&workflow, &["zzzzzz".to_owned()]).expect_err("no task");
    assert_eq!(error.suggestion, None);
}

#[test]
fn repeated_targets_select_once() {
    let workflow = workflow(&[vec![], vec![0], vec![]]);
    let graph = Graph::build(&workflow, &["t1".to_owned(), "t1".to_owned()]).expect("valid");
    let tasks: Vec<usize> = graph.tasks().iter().map(|task| task.index()).collect();
    assert_eq!(tasks, [0, 1]);
}
