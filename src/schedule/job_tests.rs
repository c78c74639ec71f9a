//! Scheduler tests of cluster jobs on a scripted executor: a job's timeout runs only while
//! it runs, and jobs still queued when the run stops are withdrawn as not started.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Coordinator, Options};
use crate::events::{Event, EventLog, SkipReason, TaskStatus};
use crate::exchange::{Exit, JobPhase, Launch, Message, Termination};
use crate::execute::Executor;
use crate::model::{Command, Isolation, Task, TaskId, Workflow};
use crate::plan::Graph;

/// Process tasks named `names`, none depending on another, each with `timeout`.
fn workflow(names: &[&str], timeout: Option<&str>) -> Workflow {
    let tasks = names
        .iter()
        .enumerate()
        .map(|(index, name)| {
            let command = Command::Shell {
                run: "true".into(),
                shell: "sh".into(),
            };
            let id = TaskId(u32::try_from(index).expect("small"));
            let mut task = Task::for_tests(id, *name, Isolation::Process, command, Vec::new());
            task.timeout = timeout.map(|t| t.parse().expect("a duration"));
            task.executor = crate::model::ExecutorKind::Slurm;
            task
        })
        .collect();
    Workflow::for_tests("test.yaml", "test", tasks)
}

/// An executor that answers each wait with the next messages of its script, and records the
/// deadline each wait was given.
#[derive(Default)]
struct Cluster {
    script: VecDeque<Vec<Message>>,
    deadlines: Vec<Option<Instant>>,
    /// Tasks that `withdraw_queued` gives back.
    queued: Vec<TaskId>,
    withdrawals: usize,
    terminated: Vec<TaskId>,
}

impl Executor for Cluster {
    fn start(&mut self, _task: &Task, _launch: &Launch) -> Result<Option<u32>, String> {
        Ok(None)
    }

    fn terminate(&mut self, task: TaskId, _how: Termination) {
        self.terminated.push(task);
    }

    fn wait(&mut self, deadline: Option<Instant>, out: &mut Vec<Message>) -> Result<(), String> {
        self.deadlines.push(deadline);
        let next = self
            .script
            .pop_front()
            .expect("the coordinator waited past the script");
        out.extend(next);
        Ok(())
    }

    fn withdraw_queued(&mut self) -> Vec<TaskId> {
        self.withdrawals += 1;
        std::mem::take(&mut self.queued)
    }
}

fn job(task: u32, state: &str, phase: JobPhase) -> Message {
    Message::Job {
        task: TaskId(task),
        job_id: format!("{}", 100 + task),
        state: state.to_owned(),
        phase,
    }
}

fn finished(task: u32, code: i32) -> Message {
    Message::Finished {
        task: TaskId(task),
        exit: Exit::Code(code),
        results: Vec::new(),
    }
}

fn options(keep_going: bool) -> Options {
    Options {
        jobs: 10,
        threads: 1,
        keep_going,
        grace: Duration::from_secs(1),
    }
}

#[test]
fn a_jobs_timeout_runs_only_from_when_it_begins_to_run() {
    let workflow = workflow(&["job"], Some("1h"));
    let graph = Graph::build(&workflow, &[]).expect("graph");
    let mut cluster = Cluster::default();
    cluster.script.extend([
        vec![job(0, "submitted", JobPhase::Queued)],
        vec![job(0, "PENDING (Resources)", JobPhase::Queued)],
        vec![job(0, "RUNNING", JobPhase::Started)],
        vec![job(0, "RUNNING on node1", JobPhase::Running)],
        vec![finished(0, 0)],
    ]);
    let mut coordinator = Coordinator::new(
        Arc::new(workflow.clone()),
        &graph,
        cluster,
        EventLog::default(),
        options(false),
    );
    let before_start = Instant::now();
    let summary = coordinator.run("run");
    let (cluster, log) = coordinator.into_parts();
    assert_eq!(summary.succeeded, 1);
    let deadlines = &cluster.deadlines;
    // Submitted: the deadline the coordinator set at the start, gone once the job is queued.
    assert!(deadlines[0].is_some_and(|d| d >= before_start + Duration::from_secs(3599)));
    assert_eq!(deadlines[1], None, "a queued job has no deadline");
    assert_eq!(deadlines[2], None, "a queued job has no deadline");
    let started = deadlines[3].expect("a running job has its timeout");
    assert_eq!(
        deadlines[4],
        Some(started),
        "later states do not move the deadline"
    );
    let states: Vec<&str> = log
        .events
        .iter()
        .filter_map(|event| match event {
            Event::TaskJob { state, job_id, .. } => {
                assert_eq!(job_id, "100");
                Some(state.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        states,
        [
            "submitted",
            "PENDING (Resources)",
            "RUNNING",
            "RUNNING on node1"
        ]
    );
}

#[test]
fn after_a_failure_queued_jobs_are_withdrawn_and_skipped_as_not_started() {
    let workflow = workflow(&["fails", "running", "queued"], None);
    let graph = Graph::build(&workflow, &[]).expect("graph");
    let mut cluster = Cluster {
        queued: vec![TaskId(2)],
        ..Cluster::default()
    };
    cluster
        .script
        .extend([vec![finished(0, 1)], vec![finished(1, 0)]]);
    let mut coordinator = Coordinator::new(
        Arc::new(workflow.clone()),
        &graph,
        cluster,
        EventLog::default(),
        options(false),
    );
    let summary = coordinator.run("run");
    let (cluster, log) = coordinator.into_parts();
    assert_eq!(
        cluster.withdrawals, 1,
        "withdrawn once, at the first failure"
    );
    assert!(cluster.terminated.is_empty(), "running jobs finish");
    assert_eq!(
        (summary.succeeded, summary.failed, summary.skipped),
        (1, 1, 1)
    );
    let skipped: Vec<(TaskId, SkipReason)> = log
        .events
        .iter()
        .filter_map(|event| match event {
            Event::TaskSkipped { task, reason } => Some((*task, reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(skipped, [(TaskId(2), SkipReason::RunStopped)]);
    assert!(!log.events.iter().any(|event| matches!(
        event,
        Event::TaskFinished {
            task: TaskId(2),
            ..
        }
    )));
    assert!(log.events.iter().any(|event| matches!(
        event,
        Event::TaskFinished {
            task: TaskId(0),
            status: TaskStatus::Failed {
                exit_code: Some(1),
                ..
            },
            ..
        }
    )));
}

#[test]
fn with_keep_going_nothing_is_withdrawn() {
    let workflow = workflow(&["fails", "queued"], None);
    let graph = Graph::build(&workflow, &[]).expect("graph");
    let mut cluster = Cluster {
        queued: vec![TaskId(1)],
        ..Cluster::default()
    };
    cluster
        .script
        .extend([vec![finished(0, 1)], vec![finished(1, 0)]]);
    let mut coordinator = Coordinator::new(
        Arc::new(workflow.clone()),
        &graph,
        cluster,
        EventLog::default(),
        options(true),
    );
    let summary = coordinator.run("run");
    let (cluster, _) = coordinator.into_parts();
    assert_eq!(cluster.withdrawals, 0);
    assert_eq!((summary.succeeded, summary.failed), (1, 1));
}
