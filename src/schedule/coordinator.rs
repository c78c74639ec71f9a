//! `Coordinator`: the one loop that owns a run.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use std::sync::Arc;

use super::TaskState;
use super::slots::Slots;
use crate::events::{Event, EventSink, SkipReason, TaskStatus};
use crate::exchange::{Exit, JobPhase, Launch, Message, Results, Termination};
use crate::execute::Executor;
use crate::files::{Digest, FileDigest};
use crate::model::{Command, Isolation, TaskId, Workflow};
use crate::plan::{Graph, Outcome, Templating, reads_constants};
use crate::record::aside::{Guard, Stamps};
use crate::record::{Checked, Decision, Ended, Journal, RunOutcome};
use crate::template::DependencyStatus;

/// How a run is scheduled.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Most process tasks at once.
    pub jobs: usize,
    /// Most thread tasks at once (the pool's size).
    pub threads: usize,
    /// Run everything that does not depend on a failure, instead of stopping at the first.
    pub keep_going: bool,
    /// Time between SIGTERM and SIGKILL.
    pub grace: Duration,
}

/// What a run came to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Tasks that succeeded.
    pub succeeded: usize,
    /// Tasks that failed or timed out.
    pub failed: usize,
    /// Tasks that failed with `allow_failure`: they do not fail the run.
    pub allowed_failures: usize,
    /// Tasks that did not run.
    pub skipped: usize,
    /// Tasks stopped by the interruption.
    pub cancelled: usize,
    /// Tasks skipped as up to date.
    pub up_to_date: usize,
    /// Tasks skipped as finished by the run resumed.
    pub resumed: usize,
    /// Whether the run was interrupted.
    pub interrupted: bool,
}

/// A ready task's place in the queue: the longest chain behind it first, then file order.
type ReadyKey = (u32, Reverse<TaskId>);

/// The running tasks by id.
/// Task ids are small numbers the engine hands out, not input an attacker picks, so the
/// map uses rustc's Fx hash instead of SipHash: two hashes per task in the hottest loop.
type RunningMap = rustc_hash::FxHashMap<TaskId, Running>;

/// A task that is running.
#[derive(Debug)]
struct Running {
    started: Instant,
    isolation: Isolation,
    /// When its timeout expires.
    deadline: Option<Instant>,
    /// When SIGKILL follows the SIGTERM already sent.
    kill_at: Option<Instant>,
    timed_out: bool,
    terminated: bool,
}

/// The coordinator of one run. It is the only owner of the run state and the only caller of
/// the event sink.
///
/// A task's life: `Pending` until every dependency has reached a final state; then it is
/// decided (its `if`, the dependencies' outcomes, whether the run is stopping) and either
/// skipped or `Ready`; ready tasks start in critical-path order while their slots and pool
/// allow; a failed attempt with retries left waits for its retry delay and is ready again;
/// the final state (`Succeeded`, `Failed`, `Skipped`, `Cancelled`) settles its dependents.
pub struct Coordinator<'a, E: Executor, S: EventSink> {
    workflow: &'a Workflow,
    graph: &'a Graph,
    executor: E,
    sink: S,
    /// Messages of one wait, reused.
    inbox: Vec<Message>,
    options: Options,
    state: Vec<TaskState>,
    /// Whether a finished task lets its dependents run (succeeded, skipped by its
    /// condition, or failed with `allow_failure`).
    satisfied: Vec<bool>,
    /// Dependencies not yet in a final state, per task.
    unsettled: Vec<u32>,
    /// Attempts started, per task.
    attempts: Vec<u32>,
    /// Why the dependents of a failed or skipped task cannot run, to give as their reason.
    blocked: Vec<Option<SkipReason>>,
    /// What finished tasks left for templates; kept only when some task has templates or
    /// a condition.
    outcomes: Option<Vec<Option<Outcome>>>,
    templating: Templating<'a>,
    ready_processes: BinaryHeap<ReadyKey>,
    ready_threads: BinaryHeap<ReadyKey>,
    /// Ready tasks waiting for room in their pool, by pool.
    pooled: Vec<Vec<ReadyKey>>,
    /// Failed attempts waiting to run again, by when.
    retries: BinaryHeap<Reverse<(Instant, TaskId)>>,
    running: RunningMap,
    slots: Slots,
    /// No new task starts, except those whose condition looks at failures: after a failure
    /// without `keep_going`.
    stopping: bool,
    interrupts: u32,
    summary: Summary,
    /// The run record, when the run keeps one.
    journal: Option<Journal>,
    /// Per task, once decided: its fingerprint and why it runs (only with a journal).
    checked: Vec<Option<Box<Checked>>>,
    /// Per task, once final: the key its dependents' fingerprints include.
    keys: Vec<Digest>,
    /// The outputs each task made in its last attempt, digested.
    made: rustc_hash::FxHashMap<TaskId, Vec<FileDigest>>,
    /// Per running task with outputs: what its output patterns matched before the attempt,
    /// so that a failure sets aside only what the attempt created or changed.
    stamps: rustc_hash::FxHashMap<TaskId, Stamps>,
    /// What setting aside never touches; made when the first task with outputs starts.
    guard: Option<Guard>,
    /// Finished tasks whose end the record has not made durable yet, by ticket: their
    /// dependents are decided once it has, so that a task something started after is
    /// always in the record.
    parked: std::collections::VecDeque<(u64, TaskId)>,
    /// Tasks with outputs about to start, by ticket: they start once the record holds that
    /// their outputs are incomplete, so that a crash never leaves half-written outputs that
    /// look up to date.
    starting: std::collections::VecDeque<(u64, TaskId, Isolation)>,
    /// Process and thread tasks that become ready once a parked dependency is durable.
    soon: [BinaryHeap<ReadyKey>; 2],
    /// Per task: its dependencies that are parked.
    parked_deps: Vec<u32>,
    /// Tasks whose dependencies all settled, to decide, the next on top; and whether a
    /// `settle` further up the stack is deciding them. Deciding one can settle it at once
    /// (skipped, up to date), which makes more to decide: the stack keeps the order of a
    /// depth-first walk without recursing, so a chain of any length settles in constant
    /// stack space.
    to_decide: Vec<TaskId>,
    deciding: bool,
}

impl<'a, E: Executor, S: EventSink> Coordinator<'a, E, S> {
    /// A coordinator for the tasks of `graph`; it waits on `executor` for what happens.
    pub fn new(
        workflow: &'a Workflow,
        graph: &'a Graph,
        executor: E,
        sink: S,
        options: Options,
    ) -> Self {
        let count = workflow.tasks.len();
        let templated = graph.tasks().iter().any(|&task| {
            let task = workflow.task(task);
            task.templates.is_some() || task.condition.is_some() || reads_constants(task)
        });
        Self {
            workflow,
            graph,
            executor,
            sink,
            inbox: Vec::new(),
            options: Options {
                jobs: options.jobs.max(1),
                threads: options.threads.max(1),
                ..options
            },
            state: vec![TaskState::Pending; count],
            satisfied: vec![false; count],
            unsettled: vec![0; count],
            attempts: vec![0; count],
            blocked: vec![None; count],
            outcomes: templated.then(|| vec![None; count]),
            templating: Templating::new(workflow, graph),
            ready_processes: BinaryHeap::new(),
            ready_threads: BinaryHeap::new(),
            pooled: vec![Vec::new(); workflow.pools.len()],
            retries: BinaryHeap::new(),
            running: RunningMap::default(),
            slots: Slots::new(
                options.jobs,
                options.threads,
                workflow.pools.iter().map(|pool| pool.size),
            ),
            stopping: false,
            interrupts: 0,
            summary: Summary::default(),
            journal: None,
            checked: Vec::new(),
            keys: Vec::new(),
            made: rustc_hash::FxHashMap::default(),
            stamps: rustc_hash::FxHashMap::default(),
            guard: None,
            parked: std::collections::VecDeque::new(),
            starting: std::collections::VecDeque::new(),
            soon: [BinaryHeap::new(), BinaryHeap::new()],
            parked_deps: Vec::new(),
            to_decide: Vec::new(),
            deciding: false,
        }
    }

    /// Keeps the run record in `journal`: tasks up to date (or finished by the run being
    /// resumed) are skipped, and every task's end is durable before its dependents start.
    #[must_use]
    pub fn with_journal(mut self, journal: Journal) -> Self {
        let count = self.workflow.tasks.len();
        self.checked = vec![None; count];
        self.parked_deps = vec![0; count];
        self.keys = vec![Digest::default(); count];
        self.journal = Some(journal);
        self
    }

    /// The executor and the event sink, once the run is over (tests inspect a fake executor).
    pub fn into_parts(self) -> (E, S) {
        (self.executor, self.sink)
    }

    /// Runs every selected task to its final state.
    ///
    /// The loop: start ready tasks while capacity allows; when none can start, none run and
    /// none waits for a retry, the run is over; otherwise wait for the next message (output,
    /// a finished task, an interrupt) or the next deadline (a timeout's SIGTERM, a grace
    /// period's SIGKILL, a retry). Tasks still pending at the end are skipped with the reason.
    pub fn run(&mut self, run_id: &str) -> Summary {
        let started = Instant::now();
        self.sink.event(&Event::RunStarted {
            run_id: run_id.to_owned(),
            tasks: self.graph.len(),
        });
        for &task in self.graph.tasks() {
            let deps = self.workflow.task(task).depends_on.len();
            self.unsettled[task.index()] = u32::try_from(deps).unwrap_or(u32::MAX);
        }
        for &task in self.graph.tasks() {
            if self.workflow.task(task).depends_on.is_empty() {
                self.decide(task);
            }
        }
        loop {
            self.start_ready();
            if self.running.is_empty()
                && self.retries.is_empty()
                && self.parked.is_empty()
                && self.starting.is_empty()
            {
                break;
            }
            let next_deadline = self
                .running
                .values()
                .filter_map(|r| r.kill_at.or(r.deadline))
                .chain(self.retries.peek().map(|Reverse((at, _))| *at))
                .min();
            let urgent = self.commit_now();
            if let Some(journal) = &mut self.journal {
                if urgent {
                    journal.flush();
                } else {
                    journal.submit();
                }
            }
            let mut inbox = std::mem::take(&mut self.inbox);
            let waited = self.executor.wait(next_deadline, &mut inbox);
            for message in inbox.drain(..) {
                self.handle(message);
            }
            self.inbox = inbox;
            match waited {
                Ok(()) if next_deadline.is_some_and(|deadline| Instant::now() >= deadline) => {
                    self.deadlines();
                }
                Ok(()) => {}
                Err(message) => self.abandon_running(&message),
            }
        }
        self.skip_the_rest();
        if let Some(journal) = self.journal.take() {
            let outcome = if self.summary.interrupted {
                RunOutcome::Interrupted
            } else if self.summary.failed > 0 {
                RunOutcome::Failed
            } else {
                RunOutcome::Succeeded
            };
            if let Some(message) = journal.finish(outcome) {
                self.sink.event(&Event::Warning { message });
            }
        }
        self.sink.event(&Event::RunFinished {
            duration: started.elapsed(),
            interrupted: self.summary.interrupted,
        });
        self.summary
    }

    /// Decides a task whose dependencies are all final: skip it or make it ready.
    fn decide(&mut self, task: TaskId) {
        let spec = self.workflow.task(task);
        if self.summary.interrupted {
            self.skip(task, SkipReason::Interrupted);
            return;
        }
        let blocker = spec
            .depends_on
            .iter()
            .copied()
            .find(|dep| !self.satisfied[dep.index()]);
        let checks_status = spec.condition.as_ref().is_some_and(|c| c.checks_status);
        if let Some(blocker) = blocker
            && !checks_status
        {
            // The reason at the root: the failed task, not a skipped one in between; or that
            // the run stopped.
            let reason =
                self.blocked[blocker.index()]
                    .clone()
                    .unwrap_or(SkipReason::DependencyFailed {
                        dependency: blocker,
                    });
            self.skip(task, reason);
            return;
        }
        if self.stopping && !checks_status {
            self.skip(task, SkipReason::RunStopped);
            return;
        }
        if let Some(condition) = &spec.condition {
            let status = self.dependency_status(task);
            let outcomes = self.outcomes.as_deref().unwrap_or(&[]);
            match self.templating.condition(spec, outcomes, status) {
                Ok(true) => {}
                Ok(false) => {
                    let reason = SkipReason::ConditionFalse {
                        condition: condition.text.clone(),
                    };
                    self.skip(task, reason);
                    return;
                }
                Err(message) => {
                    self.fail_unstarted(task, message);
                    return;
                }
            }
        }
        if self.journal.is_some() && !self.check(task) {
            return;
        }
        self.make_ready(task);
    }

    /// Fails a task that could not start (its condition or its inputs could not be read).
    fn fail_unstarted(&mut self, task: TaskId, message: String) {
        self.attempts[task.index()] = self.attempts[task.index()].max(1);
        self.sink.event(&Event::TaskStarted {
            task,
            pid: None,
            attempt: 1,
            attempts: 1,
        });
        let status = TaskStatus::Failed {
            exit_code: None,
            signal: None,
            message,
        };
        self.finish(task, status, Duration::ZERO, Vec::new());
    }

    /// Asks the run record whether a task runs; false when it was skipped (up to date, or
    /// finished by the run being resumed) or failed (its inputs could not be read).
    fn check(&mut self, task: TaskId) -> bool {
        let Ok(launch) = self.launch(task, 1) else {
            // Filled in again when it starts, which fails it with the reason.
            return true;
        };
        let spec = self.workflow.task(task);
        let deps: Vec<(String, Digest)> = spec
            .depends_on
            .iter()
            .map(|dep| {
                (
                    self.workflow.task(*dep).name.clone(),
                    self.keys[dep.index()],
                )
            })
            .collect();
        let Some(journal) = &self.journal else {
            return true;
        };
        match journal.check(spec, launch, &deps) {
            Err(message) => {
                self.fail_unstarted(task, message);
                false
            }
            Ok(checked) => {
                let done = match &checked.decision {
                    Decision::Run(_) => None,
                    Decision::UpToDate { outputs, results } => {
                        Some((SkipReason::UpToDate, *outputs, results.clone()))
                    }
                    Decision::Resumed {
                        run,
                        outputs,
                        results,
                    } => Some((
                        SkipReason::Resumed { run: run.clone() },
                        *outputs,
                        results.clone(),
                    )),
                };
                let Some((reason, outputs, results)) = done else {
                    self.checked[task.index()] = Some(Box::new(checked));
                    return true;
                };
                self.keys[task.index()] =
                    crate::record::fresh::key(&checked.fingerprint, &outputs, "success");
                if let Some(journal) = &mut self.journal {
                    journal.skipped(spec, &reason, Some(&checked));
                }
                self.skip_done(task, reason, results);
                false
            }
        }
    }

    fn make_ready(&mut self, task: TaskId) {
        self.state[task.index()] = TaskState::Ready;
        self.sink.event(&Event::TaskReady { task });
        let spec = self.workflow.task(task);
        if matches!(spec.command, Command::None) {
            // A join point: it finishes the moment it is ready.
            self.attempts[task.index()] = 1;
            self.sink.event(&Event::TaskStarted {
                task,
                pid: None,
                attempt: 1,
                attempts: 1,
            });
            self.finish(task, TaskStatus::Succeeded, Duration::ZERO, Vec::new());
        } else {
            self.queue(task);
        }
    }

    /// Puts a ready task in its queue.
    fn queue(&mut self, task: TaskId) {
        let key = (self.graph.chain(task), Reverse(task));
        if self.workflow.task(task).isolation == Isolation::Process {
            self.ready_processes.push(key);
        } else {
            self.ready_threads.push(key);
        }
    }

    fn start_ready(&mut self) {
        if self.summary.interrupted {
            return;
        }
        let held = self.held_for_record();
        let margin = self.hold_margin();
        for isolation in [Isolation::Process, Isolation::Thread] {
            while self.slots.any_free(isolation) {
                let queue = match isolation {
                    Isolation::Process => &mut self.ready_processes,
                    Isolation::Thread => &mut self.ready_threads,
                };
                let Some(&(chain, Reverse(task))) = queue.peek() else {
                    break;
                };
                if held[usize::from(isolation == Isolation::Thread)]
                    .is_some_and(|(held, _)| held > chain + margin)
                {
                    // A task with a longer chain behind it becomes ready once the record has
                    // its dependency's end: a moment's wait keeps the critical path first.
                    break;
                }
                let spec = self.workflow.task(task);
                if !self.slots.pool_has_room(spec) {
                    // Others may start meanwhile; it is queued again when its pool has room.
                    queue.pop();
                    if let Some(pool) = spec.pool {
                        self.pooled[pool].push((chain, Reverse(task)));
                    }
                    continue;
                }
                if !self.slots.fits(spec, isolation) {
                    // The first in line waits for enough slots; nothing overtakes it, so a
                    // task that needs many CPUs is not starved by small ones.
                    break;
                }
                queue.pop();
                self.slots.take(spec, isolation);
                self.start(task, isolation);
            }
        }
    }

    /// Whether the record should commit now rather than gather more: tasks wait to start
    /// on it, or finished tasks wait on it and nothing runs, or tasks they hold back would
    /// be next in line, or their queue runs short of ready work (committing while the last
    /// ready tasks run means their dependents are ready when a slot frees up).
    fn commit_now(&mut self) -> bool {
        if !self.starting.is_empty() {
            return true;
        }
        if self.parked.is_empty() {
            return false;
        }
        if self.running.is_empty() {
            return true;
        }
        let held = self.held_for_record();
        [Isolation::Process, Isolation::Thread]
            .into_iter()
            .any(|isolation| {
                let Some((chain, _)) = held[usize::from(isolation == Isolation::Thread)] else {
                    return false;
                };
                let (queue, capacity) = match isolation {
                    Isolation::Process => (&self.ready_processes, self.options.jobs),
                    Isolation::Thread => (&self.ready_threads, self.options.threads),
                };
                queue.len() < capacity
                    || (self.slots.any_free(isolation)
                        && queue
                            .peek()
                            .is_none_or(|head| chain > head.0 + self.hold_margin()))
            })
    }

    /// How much longer a waiting task's chain must be than the head of the queue for a free
    /// slot to wait for it: any longer when chains count tasks; 10 ms when they count the
    /// durations of earlier runs, more than a commit takes.
    fn hold_margin(&self) -> u32 {
        if self.graph.is_weighted() { 10 } else { 0 }
    }

    /// For process and thread tasks: the best place in line of a task that will be ready as
    /// soon as the record has made a finished dependency durable.
    fn held_for_record(&mut self) -> [Option<ReadyKey>; 2] {
        let mut held = [None, None];
        for (slot, soon) in held.iter_mut().zip(&mut self.soon) {
            // Entries are dropped once their task was decided.
            while let Some(&(chain, Reverse(task))) = soon.peek() {
                if self.state[task.index()] == TaskState::Pending {
                    *slot = Some((chain, Reverse(task)));
                    break;
                }
                soon.pop();
            }
        }
        held
    }

    fn start(&mut self, task: TaskId, isolation: Isolation) {
        self.state[task.index()] = TaskState::Running;
        self.attempts[task.index()] += 1;
        let checked = self.checked.get(task.index()).and_then(Option::as_deref);
        if let Some(journal) = &mut self.journal
            && checked.is_some_and(|checked| !checked.outputs().is_empty())
        {
            let attempt = self.attempts[task.index()];
            journal.started(self.workflow.task(task), attempt, checked);
            let ticket = journal.ticket();
            self.starting.push_back((ticket, task, isolation));
            return;
        }
        self.spawn(task, isolation, true);
    }

    /// Starts an attempt whose slots are taken; `record` says whether the journal still has
    /// to hear of it.
    fn spawn(&mut self, task: TaskId, isolation: Isolation, record: bool) {
        let spec = self.workflow.task(task);
        let now = Instant::now();
        let attempt = self.attempts[task.index()];
        let attempts = spec.retries + 1;
        // The first attempt starts as it was checked; templates are filled in only once.
        let checked = self.checked.get(task.index()).and_then(Option::as_deref);
        let launch = match checked {
            Some(checked) if attempt == 1 => Ok(checked.launch.clone()),
            _ => self.launch(task, attempt),
        };
        if launch.is_ok() {
            self.take_stamps(task);
        }
        let started = launch.and_then(|launch| self.executor.start(spec, &launch));
        match started {
            Ok(pid) => {
                if record && let Some(journal) = &mut self.journal {
                    journal.started(spec, attempt, self.checked[task.index()].as_deref());
                }
                self.sink.event(&Event::TaskStarted {
                    task,
                    pid,
                    attempt,
                    attempts,
                });
                let deadline = spec.timeout.map(|timeout| now + timeout.get());
                self.running.insert(
                    task,
                    Running {
                        started: now,
                        isolation,
                        deadline,
                        kill_at: None,
                        timed_out: false,
                        terminated: false,
                    },
                );
            }
            Err(message) => {
                self.sink.event(&Event::TaskStarted {
                    task,
                    pid: None,
                    attempt,
                    attempts,
                });
                self.release(task, isolation);
                let status = TaskStatus::Failed {
                    exit_code: None,
                    signal: None,
                    message,
                };
                self.end_attempt(task, status, Duration::ZERO, Vec::new());
            }
        }
    }

    /// How the dependencies of `task` ended, for `success()` and `failure()`: the same answer
    /// in its `if` and in its templates.
    fn dependency_status(&self, task: TaskId) -> DependencyStatus {
        let blocked = self
            .workflow
            .task(task)
            .depends_on
            .iter()
            .any(|dep| !self.satisfied[dep.index()]);
        DependencyStatus {
            all_succeeded: !blocked,
            any_failed: blocked,
        }
    }

    /// The launch of a task's attempt, its templates filled in.
    fn launch(&mut self, task: TaskId, attempt: u32) -> Result<Launch, String> {
        let spec = self.workflow.task(task);
        let status = self.dependency_status(task);
        let outcomes = self.outcomes.as_deref().unwrap_or(&[]);
        self.templating.launch(spec, outcomes, attempt, status)
    }

    /// A task that exited successfully must have made its `outputs`: they are digested for
    /// the record, and a missing one fails it.
    fn check_outputs(&mut self, task: TaskId, status: TaskStatus) -> TaskStatus {
        let Some(journal) = &self.journal else {
            return status;
        };
        if !status.is_success() {
            return status;
        }
        let Some(checked) = self.checked[task.index()].as_deref() else {
            return status;
        };
        if checked.outputs().is_empty() {
            return status;
        }
        match crate::files::digest_all(checked.cwd(), checked.outputs(), Some(journal.files())) {
            Ok(files) => {
                self.made.insert(task, files);
                status
            }
            Err(crate::files::FilesError::Missing { path }) => TaskStatus::Failed {
                exit_code: None,
                signal: None,
                message: format!("it did not create its output `{path}`"),
            },
            Err(error) => TaskStatus::Failed {
                exit_code: None,
                signal: None,
                message: format!("cannot read its outputs: {error}"),
            },
        }
    }

    /// Before an attempt of a task with outputs: the stamps of what they match, unless
    /// `--keep-incomplete` leaves whatever a failure leaves in place.
    fn take_stamps(&mut self, task: TaskId) {
        let Some(journal) = &self.journal else {
            return;
        };
        let Some(checked) = self.checked[task.index()].as_deref() else {
            return;
        };
        if journal.keeps_incomplete() || checked.outputs().is_empty() {
            return;
        }
        let workflow = self.workflow;
        let guard = self.guard.get_or_insert_with(|| {
            Guard::outline(&workflow.path, journal.state_dir(), journal.own_files())
        });
        let stamps = Stamps::take(checked.cwd(), checked.outputs(), guard);
        self.stamps.insert(task, stamps);
    }

    /// After an attempt that did not succeed: moves what it created or changed among its
    /// outputs into the state dir, and says so. Nothing without stamps from its start.
    fn set_aside(&mut self, task: TaskId, attempt: u32) {
        let Some(before) = self.stamps.remove(&task) else {
            return;
        };
        let (Some(journal), Some(checked), Some(guard)) = (
            &self.journal,
            self.checked[task.index()].as_deref(),
            &mut self.guard,
        ) else {
            return;
        };
        let workflow = self.workflow;
        guard.learn_inputs(workflow);
        let to = journal.aside_dir(workflow.task(task), attempt);
        let done =
            crate::record::aside::set_aside(checked.cwd(), checked.outputs(), &before, guard, &to);
        if !done.is_empty() {
            self.sink.event(&Event::OutputsSetAside {
                task,
                attempt,
                to,
                moved: done.moved,
                left: done.left,
            });
        }
    }

    /// Gives a task's slots back; tasks waiting for its pool are queued again.
    fn release(&mut self, task: TaskId, isolation: Isolation) {
        let spec = self.workflow.task(task);
        self.slots.release(spec, isolation);
        if let Some(pool) = spec.pool {
            for (_, Reverse(waiting)) in std::mem::take(&mut self.pooled[pool]) {
                self.queue(waiting);
            }
        }
    }

    fn handle(&mut self, message: Message) {
        match message {
            Message::Output {
                task,
                stream,
                lines,
            } => {
                self.sink.event(&Event::TaskOutput {
                    task,
                    stream,
                    lines,
                });
            }
            Message::Finished {
                task,
                exit,
                results,
            } => {
                // A task given up on after its grace period may still report; ignore it then.
                let Some(running) = self.running.remove(&task) else {
                    return;
                };
                self.executor.finished(task);
                self.release(task, running.isolation);
                let status = self.status(&running, task, exit);
                let status = self.check_outputs(task, status);
                self.end_attempt(task, status, running.started.elapsed(), results);
            }
            Message::Job {
                task,
                job_id,
                state,
                phase,
            } => {
                self.job_phase(task, phase);
                self.sink.event(&Event::TaskJob {
                    task,
                    job_id,
                    state,
                });
            }
            Message::Interrupt => self.interrupt(),
            Message::Recorded { ticket, error } => {
                if let Some(message) = error {
                    self.sink.event(&Event::Warning {
                        message: format!(
                            "the run record cannot be written, so this run cannot be resumed: {message}"
                        ),
                    });
                }
                while self.parked.front().is_some_and(|(at, _)| *at <= ticket) {
                    if let Some((_, task)) = self.parked.pop_front() {
                        self.settle(task);
                    }
                }
                while self.starting.front().is_some_and(|(at, ..)| *at <= ticket) {
                    let Some((_, task, isolation)) = self.starting.pop_front() else {
                        break;
                    };
                    if self.summary.interrupted {
                        self.release(task, isolation);
                        let attempt = self.attempts[task.index()];
                        self.sink.event(&Event::TaskStarted {
                            task,
                            pid: None,
                            attempt,
                            attempts: self.workflow.task(task).retries + 1,
                        });
                        self.finish(task, TaskStatus::Interrupted, Duration::ZERO, Vec::new());
                    } else {
                        self.spawn(task, isolation, false);
                    }
                }
            }
        }
    }

    /// A cluster job's timeout counts from the moment it begins to run, as a local task's
    /// counts from its start: time spent waiting in the cluster's queue is not held against
    /// it. So a job in the queue has no deadline, and one that begins to run gets it now.
    fn job_phase(&mut self, task: TaskId, phase: JobPhase) {
        let timeout = self.workflow.task(task).timeout;
        if let Some(running) = self.running.get_mut(&task)
            && !running.terminated
        {
            match phase {
                JobPhase::Queued => running.deadline = None,
                JobPhase::Started => {
                    running.deadline = timeout.map(|timeout| Instant::now() + timeout.get());
                }
                JobPhase::Running => {}
            }
        }
    }

    /// What a finished task's exit means, given what the coordinator did to it.
    fn status(&self, running: &Running, task: TaskId, exit: Exit) -> TaskStatus {
        let success = matches!(exit, Exit::Code(0) | Exit::ScriptDone);
        // A task stopped by its timeout did not finish its work, even when it exits cleanly
        // on SIGTERM: what depends on it must not run.
        if running.timed_out {
            let timeout = self.workflow.task(task).timeout.map_or(0, |t| {
                u64::try_from(t.get().as_millis()).unwrap_or(u64::MAX)
            });
            return TaskStatus::TimedOut {
                timeout_ms: timeout,
            };
        }
        if running.terminated && self.summary.interrupted && !success {
            return TaskStatus::Interrupted;
        }
        match exit {
            Exit::Code(0) | Exit::ScriptDone => TaskStatus::Succeeded,
            Exit::Code(code) => TaskStatus::Failed {
                exit_code: Some(code),
                signal: None,
                message: format!("exited with code {code}"),
            },
            Exit::Signal(signal) => TaskStatus::Failed {
                exit_code: None,
                signal: Some(signal),
                message: format!("killed by signal {}", signal_name(signal)),
            },
            Exit::ScriptFailed(message) | Exit::StartFailed(message) | Exit::JobFailed(message) => {
                TaskStatus::Failed {
                    exit_code: None,
                    signal: None,
                    message,
                }
            }
            Exit::ScriptCancelled => TaskStatus::Failed {
                exit_code: None,
                signal: None,
                message: "the script was cancelled".into(),
            },
        }
    }

    /// An attempt ended: retry it after its delay, or finish the task.
    fn end_attempt(
        &mut self,
        task: TaskId,
        status: TaskStatus,
        duration: Duration,
        results: Results,
    ) {
        let spec = self.workflow.task(task);
        let attempt = self.attempts[task.index()];
        let attempts = spec.retries + 1;
        let retry = matches!(
            status,
            TaskStatus::Failed { .. } | TaskStatus::TimedOut { .. }
        ) && attempt < attempts
            && !self.stopping
            && !self.summary.interrupted;
        if !retry {
            self.finish(task, status, duration, results);
            return;
        }
        let delay = retry_delay(spec.retry_delay.get(), attempt);
        // The next attempt starts without what this one left half-written.
        self.set_aside(task, attempt);
        if let Some(journal) = &mut self.journal {
            let checked = self.checked[task.index()].as_deref();
            journal.ended(&Ended {
                task: spec,
                attempt,
                status: &status,
                results: &results,
                checked,
                outputs: None,
                last: false,
            });
        }
        self.sink.event(&Event::TaskRetrying {
            task,
            attempt,
            attempts,
            status,
            duration,
            delay,
        });
        self.state[task.index()] = TaskState::Ready;
        self.retries.push(Reverse((Instant::now() + delay, task)));
    }

    /// A task reached its final state. With a run record, its dependents are decided once
    /// the record holds it; what a last attempt that did not succeed created or changed is
    /// set aside first (`--keep-incomplete` leaves it in place).
    fn finish(&mut self, task: TaskId, status: TaskStatus, duration: Duration, results: Results) {
        let attempt = self.attempts[task.index()].max(1);
        if status.is_success() {
            self.stamps.remove(&task);
        } else {
            self.set_aside(task, attempt);
        }
        let Some(journal) = &mut self.journal else {
            self.announce(task, status, duration, results, None);
            return;
        };
        let spec = self.workflow.task(task);
        let checked = self.checked[task.index()].as_deref();
        let made = self.made.get(&task).map(Vec::as_slice);
        let ticket = journal.ended(&Ended {
            task: spec,
            attempt,
            status: &status,
            results: &results,
            checked,
            outputs: made,
            last: true,
        });
        self.announce(task, status, duration, results, Some(ticket));
    }

    /// A task's final state, made known; its dependents are decided now, or once the record
    /// has made `ticket` durable.
    fn announce(
        &mut self,
        task: TaskId,
        status: TaskStatus,
        duration: Duration,
        results: Results,
        ticket: Option<u64>,
    ) {
        let spec = self.workflow.task(task);
        let allowed = spec.allow_failure
            && matches!(
                status,
                TaskStatus::Failed { .. } | TaskStatus::TimedOut { .. }
            );
        let succeeded = status.is_success();
        self.state[task.index()] = match status {
            TaskStatus::Succeeded => TaskState::Succeeded,
            TaskStatus::Interrupted => TaskState::Cancelled,
            TaskStatus::Failed { .. } | TaskStatus::TimedOut { .. } => TaskState::Failed,
        };
        self.satisfied[task.index()] = succeeded || allowed;
        match status {
            TaskStatus::Succeeded => self.summary.succeeded += 1,
            TaskStatus::Interrupted => self.summary.cancelled += 1,
            _ if allowed => self.summary.allowed_failures += 1,
            _ => self.summary.failed += 1,
        }
        let word = match (&status, allowed) {
            (TaskStatus::Succeeded, _) => "success",
            (TaskStatus::Interrupted, _) => "cancelled",
            _ => "failure",
        };
        let results = Arc::new(results);
        if let Some(outcomes) = &mut self.outcomes {
            outcomes[task.index()] = Some(Outcome {
                status: word,
                results: Arc::clone(&results),
            });
        }
        // Its key is all its dependents need of what it was checked with.
        if let Some(checked) = self.checked.get_mut(task.index()).and_then(Option::take) {
            let made = self.made.remove(&task).unwrap_or_default();
            let outputs = crate::record::fresh::outputs_digest(&made);
            self.keys[task.index()] =
                crate::record::fresh::key(&checked.fingerprint, &outputs, word);
        }
        let attempt = self.attempts[task.index()].max(1);
        self.sink.event(&Event::TaskFinished {
            task,
            status: status.clone(),
            duration,
            attempt,
            allowed,
            results: Arc::unwrap_or_clone(results),
        });
        let failed = !succeeded && !allowed && !matches!(status, TaskStatus::Interrupted);
        if failed {
            self.blocked[task.index()] = Some(SkipReason::DependencyFailed { dependency: task });
        }
        match ticket {
            Some(ticket) => {
                self.parked.push_back((ticket, task));
                for next in self.graph.dependents(task) {
                    self.parked_deps[next.index()] += 1;
                    // Every dependency it still waits for is only waiting for the record.
                    if self.parked_deps[next.index()] == self.unsettled[next.index()]
                        && self.state[next.index()] == TaskState::Pending
                    {
                        let thread = self.workflow.task(next).isolation == Isolation::Thread;
                        self.soon[usize::from(thread)]
                            .push((self.graph.chain(next), Reverse(next)));
                    }
                }
            }
            None => self.settle(task),
        }
        if failed {
            self.stop_after_failure();
        }
    }

    /// Without `keep_going`, a failure stops the run: ready tasks that would not run after a
    /// failure are skipped, and no task starts again unless its condition asks for it.
    fn stop_after_failure(&mut self) {
        if self.options.keep_going || self.stopping {
            return;
        }
        self.stopping = true;
        self.withdraw_queued();
        let mut queued: Vec<TaskId> = self
            .ready_processes
            .drain()
            .chain(self.ready_threads.drain())
            .chain(self.pooled.iter_mut().flat_map(std::mem::take))
            .map(|(_, Reverse(task))| task)
            .collect();
        queued.sort_unstable();
        for task in queued {
            let runs_anyway = self
                .workflow
                .task(task)
                .condition
                .as_ref()
                .is_some_and(|c| c.checks_status);
            if runs_anyway {
                self.queue(task);
            } else {
                self.skip(task, SkipReason::RunStopped);
            }
        }
        // Failed attempts waiting for a retry are not tried again.
        let waiting: Vec<TaskId> = self
            .retries
            .drain()
            .map(|Reverse((_, task))| task)
            .collect();
        for task in waiting {
            let status = TaskStatus::Failed {
                exit_code: None,
                signal: None,
                message: "not retried: the run stopped after a failure".into(),
            };
            self.finish(task, status, Duration::ZERO, Vec::new());
        }
    }

    /// Takes back the tasks that still waited in a queue outside the engine when the run
    /// stopped (cluster jobs not yet running): they did not start, so they are skipped like
    /// every task that did not.
    fn withdraw_queued(&mut self) {
        for task in self.executor.withdraw_queued() {
            if let Some(running) = self.running.remove(&task) {
                self.release(task, running.isolation);
                self.skip(task, SkipReason::RunStopped);
            }
        }
    }

    /// Marks a task skipped and settles its dependents.
    fn skip(&mut self, task: TaskId, reason: SkipReason) {
        if !reason.satisfies_dependents() {
            self.blocked[task.index()] = Some(reason.clone());
        }
        if let Some(journal) = &mut self.journal {
            journal.skipped(self.workflow.task(task), &reason, None);
            // What depends on a task skipped by its condition sees that in its fingerprint.
            self.keys[task.index()] = *blake3::hash(b"skipped").as_bytes();
        }
        self.state[task.index()] = TaskState::Skipped;
        self.satisfied[task.index()] = reason.satisfies_dependents();
        self.summary.skipped += 1;
        if let Some(outcomes) = &mut self.outcomes {
            outcomes[task.index()] = Some(Outcome {
                status: "skipped",
                results: Arc::default(),
            });
        }
        self.sink.event(&Event::TaskSkipped { task, reason });
        self.settle(task);
    }

    /// Skips a task whose work is done (up to date, or finished by the run resumed): to its
    /// dependents it succeeded, with the results it had then.
    fn skip_done(&mut self, task: TaskId, reason: SkipReason, results: Results) {
        self.state[task.index()] = TaskState::Skipped;
        self.satisfied[task.index()] = true;
        if matches!(reason, SkipReason::Resumed { .. }) {
            self.summary.resumed += 1;
        } else {
            self.summary.up_to_date += 1;
        }
        if let Some(outcomes) = &mut self.outcomes {
            outcomes[task.index()] = Some(Outcome {
                status: "success",
                results: Arc::new(results),
            });
        }
        self.sink.event(&Event::TaskSkipped { task, reason });
        self.settle(task);
    }

    /// A task reached its final state: its dependents whose dependencies are now all final
    /// are decided, in order. Without recursion, as a failure or an up-to-date chain can
    /// settle thousands of tasks at once: a `settle` reached while deciding only adds to
    /// the stack that the outermost one works through.
    fn settle(&mut self, task: TaskId) {
        let graph = self.graph;
        let first = self.to_decide.len();
        for next in graph.dependents(task) {
            let unsettled = &mut self.unsettled[next.index()];
            *unsettled -= 1;
            if *unsettled == 0 && self.state[next.index()] == TaskState::Pending {
                self.to_decide.push(next);
            }
        }
        self.to_decide[first..].reverse();
        if self.deciding {
            return;
        }
        self.deciding = true;
        while let Some(next) = self.to_decide.pop() {
            self.decide(next);
        }
        self.deciding = false;
    }

    /// Skips every task that never started, once the loop is over.
    fn skip_the_rest(&mut self) {
        let reason = if self.summary.interrupted {
            SkipReason::Interrupted
        } else {
            SkipReason::RunStopped
        };
        for &task in self.graph.tasks() {
            if matches!(
                self.state[task.index()],
                TaskState::Pending | TaskState::Ready
            ) {
                self.state[task.index()] = TaskState::Skipped;
                self.summary.skipped += 1;
                self.sink.event(&Event::TaskSkipped {
                    task,
                    reason: reason.clone(),
                });
            }
        }
    }

    fn interrupt(&mut self) {
        self.interrupts += 1;
        self.summary.interrupted = true;
        self.stopping = true;
        let forced = self.interrupts > 1;
        self.sink.event(&Event::Interrupting { forced });
        // Attempts waiting for a retry end here; they are skipped at the end.
        let waiting: Vec<TaskId> = self
            .retries
            .drain()
            .map(|Reverse((_, task))| task)
            .collect();
        for task in waiting {
            self.finish(task, TaskStatus::Interrupted, Duration::ZERO, Vec::new());
        }
        let how = if forced {
            Termination::Kill
        } else {
            Termination::Graceful
        };
        let kill_at = Instant::now()
            + if forced {
                Duration::ZERO
            } else {
                self.options.grace
            };
        let tasks: Vec<TaskId> = self.running.keys().copied().collect();
        for task in tasks {
            self.executor.terminate(task, how);
            if let Some(running) = self.running.get_mut(&task) {
                running.terminated = true;
                running.kill_at = Some(running.kill_at.map_or(kill_at, |at| at.min(kill_at)));
            }
        }
    }

    /// Handles expired timeouts (SIGTERM, then a grace period), expired grace periods
    /// (SIGKILL; a thread task that still runs is given up on) and retries that are due.
    fn deadlines(&mut self) {
        let now = Instant::now();
        while let Some(&Reverse((at, task))) = self.retries.peek() {
            if at > now {
                break;
            }
            self.retries.pop();
            self.queue(task);
        }
        let mut expired: Vec<(TaskId, bool)> = Vec::new();
        for (&task, running) in &mut self.running {
            if running.kill_at.is_some_and(|at| at <= now) {
                running.kill_at = None;
                running.deadline = None;
                expired.push((task, true));
            } else if running.kill_at.is_none() && running.deadline.is_some_and(|at| at <= now) {
                running.deadline = None;
                running.timed_out = true;
                running.terminated = true;
                running.kill_at = Some(now + self.options.grace);
                expired.push((task, false));
            }
        }
        expired.sort_unstable();
        for (task, kill) in expired {
            if !kill {
                self.executor.terminate(task, Termination::Graceful);
                continue;
            }
            self.executor.terminate(task, Termination::Kill);
            let thread = self
                .running
                .get(&task)
                .is_some_and(|r| r.isolation == Isolation::Thread);
            if thread {
                self.give_up(task);
            }
        }
    }

    /// Ends a thread task that ignored its cancellation for the whole grace period: its
    /// worker may still be busy, but the run does not wait for it.
    fn give_up(&mut self, task: TaskId) {
        let Some(running) = self.running.remove(&task) else {
            return;
        };
        self.executor.finished(task);
        self.release(task, running.isolation);
        let exit = Exit::ScriptFailed("the script did not stop when asked".into());
        let status = self.status(&running, task, exit);
        self.finish(task, status, running.started.elapsed(), Vec::new());
    }

    /// Fails every running task: the executor can no longer say how they end (`why`).
    fn abandon_running(&mut self, why: &str) {
        let tasks: Vec<TaskId> = self.running.keys().copied().collect();
        for task in tasks {
            self.executor.terminate(task, Termination::Kill);
            if let Some(running) = self.running.remove(&task) {
                self.release(task, running.isolation);
                let status = TaskStatus::Failed {
                    exit_code: None,
                    signal: None,
                    message: format!("lost track of the task: {why}"),
                };
                self.finish(task, status, running.started.elapsed(), Vec::new());
            }
        }
    }
}

/// The wait before retrying after attempt `attempt` (from 1): `base` doubled for each
/// earlier retry, capped at an hour, plus up to a quarter more at random so that tasks
/// failing together do not retry in lockstep.
#[must_use]
pub fn retry_delay(base: Duration, attempt: u32) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let doubled = base
        .checked_mul(1u32 << attempt.saturating_sub(1).min(20))
        .unwrap_or(Duration::MAX)
        .min(Duration::from_secs(3600));
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(attempt);
    #[expect(clippy::cast_precision_loss, reason = "below 1000: exact in an f64")]
    let fraction = (hasher.finish() % 1000) as f64 / 4000.0;
    doubled + doubled.mul_f64(fraction)
}

/// The name of a signal number, like `SIGSEGV`.
#[must_use]
pub fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal)
        .map_or_else(|_| format!("{signal}"), |s| s.as_str().to_owned())
}
