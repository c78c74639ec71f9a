//! Scheduler tests on the fake executor: no processes, no sleeps, deterministic.

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;

use super::{Coordinator, Options, Summary};
use crate::events::{Event, EventLog, SkipReason, TaskStatus};
use crate::execute::FakeExecutor;
use crate::model::{Command, Isolation, Task, TaskId, Workflow};
use crate::plan::Graph;

/// A task of a test workflow: name, dependencies by index, isolation, whether it has a command.
struct Spec {
    name: String,
    deps: Vec<usize>,
    isolation: Isolation,
    command: bool,
}

fn spec(name: &str, deps: &[usize], isolation: Isolation) -> Spec {
    Spec {
        name: name.to_owned(),
        deps: deps.to_vec(),
        isolation,
        command: true,
    }
}

fn workflow(specs: &[Spec]) -> Workflow {
    let ast = Arc::new(rhai::Engine::new().compile("()").expect("compiles"));
    let tasks = specs
        .iter()
        .enumerate()
        .map(|(index, spec)| {
            let command = match (spec.command, spec.isolation) {
                (false, _) => Command::None,
                (true, Isolation::Process) => Command::Shell {
                    run: "true".into(),
                    shell: "sh".into(),
                },
                (true, Isolation::Thread) => Command::Script {
                    source: "()".into(),
                    ast: Arc::clone(&ast),
                },
            };
            let deps = spec
                .deps
                .iter()
                .map(|&d| TaskId(u32::try_from(d).expect("small")))
                .collect();
            let id = TaskId(u32::try_from(index).expect("small"));
            Task::for_tests(id, spec.name.clone(), spec.isolation, command, deps)
        })
        .collect();
    Workflow::for_tests("test.yaml", "test", tasks)
}

struct Outcome {
    fake: FakeExecutor,
    events: Vec<Event>,
    summary: Summary,
}

fn run(workflow: &Workflow, failing: &[&str], options: Options, shuffle: Option<u64>) -> Outcome {
    let graph = Graph::build(workflow, &[]).expect("all tasks");
    let mut fake = FakeExecutor::new(failing.iter().map(|s| (*s).to_owned()));
    fake.shuffle = shuffle;
    let mut coordinator = Coordinator::new(
        Arc::new(workflow.clone()),
        &graph,
        fake,
        EventLog::default(),
        options,
    );
    let summary = coordinator.run("test-run");
    let (fake, log) = coordinator.into_parts();
    Outcome {
        fake,
        events: log.events,
        summary,
    }
}

fn options(jobs: usize, threads: usize, keep_going: bool) -> Options {
    Options {
        jobs,
        threads,
        keep_going,
        grace: Duration::from_secs(1),
    }
}

fn names(workflow: &Workflow, ids: &[TaskId]) -> Vec<String> {
    ids.iter()
        .map(|id| workflow.task(*id).name.clone())
        .collect()
}

fn finished(events: &[Event]) -> Vec<(TaskId, TaskStatus)> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::TaskFinished { task, status, .. } => Some((*task, status.clone())),
            _ => None,
        })
        .collect()
}

fn skipped(events: &[Event]) -> Vec<(TaskId, SkipReason)> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::TaskSkipped { task, reason } => Some((*task, reason.clone())),
            _ => None,
        })
        .collect()
}

use Isolation::{Process, Thread};

#[test]
fn dependencies_run_first() {
    // build <- test <- package; docs independent.
    let wf = workflow(&[
        spec("build", &[], Process),
        spec("test", &[0], Process),
        spec("docs", &[], Thread),
        spec("package", &[0, 1], Process),
    ]);
    let out = run(&wf, &[], options(4, 4, false), None);
    let order = names(&wf, &out.fake.started);
    let at = |name: &str| order.iter().position(|n| n == name).expect(name);
    assert!(
        at("build") < at("test") && at("test") < at("package"),
        "{order:?}"
    );
    assert_eq!(
        out.summary,
        Summary {
            succeeded: 4,
            ..Summary::default()
        }
    );
}

#[test]
fn process_capacity_is_never_exceeded() {
    let specs: Vec<Spec> = (0..10)
        .map(|i| spec(&format!("p{i}"), &[], Process))
        .collect();
    let wf = workflow(&specs);
    let out = run(&wf, &[], options(3, 4, false), None);
    assert_eq!(out.fake.max_processes, 3);
    assert_eq!(out.summary.succeeded, 10);
}

#[test]
fn thread_tasks_do_not_take_process_slots() {
    let mut specs: Vec<Spec> = (0..4)
        .map(|i| spec(&format!("p{i}"), &[], Process))
        .collect();
    specs.extend((0..6).map(|i| spec(&format!("t{i}"), &[], Thread)));
    let wf = workflow(&specs);
    let out = run(&wf, &[], options(1, 2, false), None);
    assert_eq!(out.fake.max_processes, 1);
    assert_eq!(out.fake.max_threads, 2);
    // Both kinds start before the first task finishes: a busy pool never blocks processes.
    let first_two = names(&wf, &out.fake.started[..2]);
    assert!(
        first_two.contains(&"p0".to_owned()) && first_two.contains(&"t0".to_owned()),
        "{first_two:?}"
    );
}

#[test]
fn longest_chain_starts_first_ties_in_file_order() {
    // short1 and short2 have nothing behind them; head has a chain of three behind it.
    let wf = workflow(&[
        spec("short1", &[], Process),
        spec("head", &[], Process),
        spec("short2", &[], Process),
        spec("mid", &[1], Process),
        spec("tail", &[3], Process),
    ]);
    let out = run(&wf, &[], options(1, 1, false), None);
    // Once `mid` is done, `tail` has a chain of one like the shorts, and file order decides.
    assert_eq!(
        names(&wf, &out.fake.started),
        ["head", "mid", "short1", "short2", "tail"]
    );
}

#[test]
fn a_failure_skips_dependents_and_stops_new_starts() {
    // a fails; b depends on a; c depends on b; d is independent but starts later (-j 1).
    let wf = workflow(&[
        spec("a", &[], Process),
        spec("b", &[0], Process),
        spec("c", &[1], Process),
        spec("d", &[], Process),
    ]);
    let out = run(&wf, &["a"], options(1, 1, false), None);
    assert_eq!(names(&wf, &out.fake.started), ["a"]);
    let skips = skipped(&out.events);
    assert_eq!(
        skips,
        [
            (
                TaskId(1),
                SkipReason::DependencyFailed {
                    dependency: TaskId(0)
                }
            ),
            (
                TaskId(2),
                SkipReason::DependencyFailed {
                    dependency: TaskId(0)
                }
            ),
            (TaskId(3), SkipReason::RunStopped),
        ]
    );
    assert_eq!(
        out.summary,
        Summary {
            failed: 1,
            skipped: 3,
            ..Summary::default()
        }
    );
}

#[test]
fn keep_going_runs_everything_not_downstream_of_a_failure() {
    let wf = workflow(&[
        spec("a", &[], Process),
        spec("b", &[0], Process),
        spec("d", &[], Process),
        spec("e", &[2], Thread),
    ]);
    let out = run(&wf, &["a"], options(1, 1, true), None);
    assert_eq!(names(&wf, &out.fake.started), ["a", "d", "e"]);
    assert_eq!(
        skipped(&out.events),
        [(
            TaskId(1),
            SkipReason::DependencyFailed {
                dependency: TaskId(0)
            }
        )]
    );
    assert_eq!(
        out.summary,
        Summary {
            succeeded: 2,
            failed: 1,
            skipped: 1,
            ..Summary::default()
        }
    );
}

#[test]
fn running_tasks_finish_after_a_failure() {
    // With two slots a and b run together; a fails first, b still finishes and is counted.
    let wf = workflow(&[
        spec("a", &[], Process),
        spec("b", &[], Process),
        spec("c", &[], Process),
    ]);
    let out = run(&wf, &["a"], options(2, 1, false), None);
    assert_eq!(names(&wf, &out.fake.started), ["a", "b"]);
    let done = finished(&out.events);
    assert_eq!(done.len(), 2);
    assert_eq!(done[1], (TaskId(1), TaskStatus::Succeeded));
    assert_eq!(skipped(&out.events), [(TaskId(2), SkipReason::RunStopped)]);
}

#[test]
fn a_change_stops_the_tasks_it_affects_and_lets_the_others_finish() {
    // a and b run together; a's input changes: a is stopped, b finishes, nothing new starts
    // (c waited for a, d for b).
    let wf = workflow(&[
        spec("a", &[], Process),
        spec("b", &[], Process),
        spec("c", &[0], Process),
        spec("d", &[1], Process),
    ]);
    let graph = Graph::build(&wf, &[]).expect("all tasks");
    let mut fake = FakeExecutor::new(Vec::new());
    fake.inject = Some((
        TaskId(1),
        crate::exchange::Message::Superseded {
            changed: Some(vec![TaskId(0)]),
        },
    ));
    let mut coordinator = Coordinator::new(
        Arc::new(wf.clone()),
        &graph,
        fake,
        EventLog::default(),
        options(2, 1, false),
    );
    let summary = coordinator.run("test-run");
    let (fake, log) = coordinator.into_parts();
    assert_eq!(names(&wf, &fake.started), ["a", "b"]);
    assert_eq!(names(&wf, &fake.terminated), ["a"]);
    assert_eq!(
        finished(&log.events),
        [
            (TaskId(0), TaskStatus::Interrupted),
            (TaskId(1), TaskStatus::Succeeded)
        ]
    );
    assert!(summary.superseded && summary.interrupted);
    assert_eq!(summary.skipped, 2);
}

#[test]
fn join_points_finish_without_the_executor() {
    let mut join = spec("join", &[0, 1], Process);
    join.command = false;
    let wf = workflow(&[
        spec("a", &[], Process),
        spec("b", &[], Thread),
        join,
        spec("after", &[2], Process),
    ]);
    let out = run(&wf, &[], options(2, 2, false), None);
    assert_eq!(names(&wf, &out.fake.started), ["a", "b", "after"]);
    assert_eq!(out.summary.succeeded, 4);
}

#[test]
fn a_chain_of_any_length_settles_without_recursing() {
    // 200,000 links: a failure at the head skips the whole chain at once, and a chain of
    // join points finishes at once, each in constant stack space (the test thread has 2 MiB).
    const LINKS: usize = 200_000;
    let chain = |command: bool| {
        let specs: Vec<Spec> = (0..LINKS)
            .map(|index| {
                let deps: &[usize] = if index == 0 { &[] } else { &[index - 1] };
                let mut link = spec(&format!("t{index}"), deps, Process);
                link.command = command || index == 0;
                link
            })
            .collect();
        workflow(&specs)
    };
    let failing = chain(true);
    let out = run(&failing, &["t0"], options(2, 2, false), None);
    assert_eq!(out.summary.failed, 1);
    assert_eq!(out.summary.skipped, LINKS - 1);
    let skips = skipped(&out.events);
    assert_eq!(skips.len(), LINKS - 1);
    assert!(skips.iter().enumerate().all(|(index, (task, reason))| {
        task.index() == index + 1
            && *reason
                == SkipReason::DependencyFailed {
                    dependency: TaskId(0),
                }
    }));
    let joins = chain(false);
    let out = run(&joins, &[], options(2, 2, false), None);
    assert_eq!(out.summary.succeeded, LINKS);
    assert_eq!(names(&joins, &out.fake.started), ["t0"]);
}

/// Random DAGs: edges only go from lower to higher indexes.
fn dag() -> impl Strategy<Value = Vec<(Vec<usize>, bool)>> {
    (1usize..40).prop_flat_map(|n| {
        proptest::collection::vec(
            (
                proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
                any::<bool>(),
            ),
            n,
        )
        .prop_map(|rows| {
            rows.into_iter()
                .enumerate()
                .map(|(i, (picks, process))| {
                    let mut deps: Vec<usize> = if i == 0 {
                        Vec::new()
                    } else {
                        picks.iter().map(|p| p.index(i)).collect()
                    };
                    deps.sort_unstable();
                    deps.dedup();
                    (deps, process)
                })
                .collect()
        })
    })
}

proptest! {
    #[test]
    fn every_task_runs_once_after_its_dependencies_within_capacity(
        rows in dag(),
        jobs in 1usize..4,
        threads in 1usize..4,
        seed in 1u64..u64::MAX,
    ) {
        let specs: Vec<Spec> = rows
            .iter()
            .enumerate()
            .map(|(i, (deps, process))| spec(&format!("t{i}"), deps, if *process { Process } else { Thread }))
            .collect();
        let wf = workflow(&specs);
        let out = run(&wf, &[], options(jobs, threads, false), Some(seed));
        prop_assert_eq!(out.fake.started.len(), specs.len());
        let mut seen = vec![false; specs.len()];
        for id in &out.fake.started {
            prop_assert!(!seen[id.index()], "started twice");
            seen[id.index()] = true;
        }
        // No task starts before each of its dependencies has finished.
        let mut done = vec![false; specs.len()];
        for event in &out.events {
            match event {
                Event::TaskStarted { task, .. } => {
                    for dep in &wf.task(*task).depends_on {
                        prop_assert!(done[dep.index()], "{} started before {}", task.0, dep.0);
                    }
                }
                Event::TaskFinished { task, .. } => done[task.index()] = true,
                _ => {}
            }
        }
        prop_assert!(out.fake.max_processes <= jobs);
        prop_assert!(out.fake.max_threads <= threads);
        prop_assert_eq!(out.summary.succeeded, specs.len());
    }
}

/// `a`, then `fan` (a placeholder over `values`, a rhai list) with a static `os` key, then
/// `join` after `fan`.
fn fan_out(values: &str) -> Workflow {
    let mut workflow = workflow(&[
        spec("a", &[], Isolation::Process),
        spec("fan", &[0], Isolation::Thread),
        spec("join", &[1], Isolation::Process),
    ]);
    let template = crate::template::parse(
        &format!("${{{{ {values} }}}}"),
        crate::template::Flavor::Plain,
    )
    .expect("parses")
    .expect("a template");
    let [crate::template::Part::Expr(expr)] = template.parts.as_slice() else {
        panic!("one expression");
    };
    workflow.tasks[1].expands = Some(Arc::new(crate::model::Expansion {
        axes: vec![
            (
                "os".to_owned(),
                crate::model::Axis::Values(vec![crate::model::Value::String("linux".into())]),
            ),
            ("n".to_owned(), crate::model::Axis::Expr(expr.clone())),
        ],
        after: vec!["a".to_owned()],
    }));
    workflow
}

#[test]
fn a_placeholder_expands_after_its_dependency_and_its_dependents_wait_for_every_item() {
    let outcome = run(&fan_out("[1, 2, 3]"), &[], options(2, 2, false), None);
    let expanded: Vec<(TaskId, TaskId, Vec<String>)> = outcome
        .events
        .iter()
        .filter_map(|event| match event {
            Event::TaskExpanded { task, first, names } => Some((*task, *first, names.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        expanded,
        [(
            TaskId(1),
            TaskId(3),
            vec![
                "fan[os=linux,n=1]".to_owned(),
                "fan[os=linux,n=2]".to_owned(),
                "fan[os=linux,n=3]".to_owned()
            ]
        )]
    );
    let order: Vec<TaskId> = finished(&outcome.events)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(order.first(), Some(&TaskId(0)));
    assert_eq!(
        &order[4..],
        [TaskId(1), TaskId(2)],
        "the join, then its dependent"
    );
    let mut items = order[1..4].to_vec();
    items.sort_unstable();
    assert_eq!(items, [TaskId(3), TaskId(4), TaskId(5)]);
    assert_eq!(outcome.summary.succeeded, 6);
}

#[test]
fn a_placeholder_over_an_empty_list_succeeds_at_once_and_a_bad_value_fails_it() {
    let outcome = run(&fan_out("[]"), &[], options(2, 2, false), None);
    assert_eq!(outcome.summary.succeeded, 3);
    let outcome = run(&fan_out("[[1], 2]"), &[], options(2, 2, false), None);
    assert_eq!(outcome.summary.succeeded, 1);
    assert_eq!(outcome.summary.failed, 1);
    let failed = finished(&outcome.events);
    let TaskStatus::Failed { message, .. } = &failed[1].1 else {
        panic!("fails: {failed:?}");
    };
    assert!(
        message.contains("the matrix key `n` of `fan` must be a list"),
        "{message}"
    );
    assert_eq!(
        skipped(&outcome.events),
        [(
            TaskId(2),
            SkipReason::DependencyFailed {
                dependency: TaskId(1)
            }
        )]
    );
}
