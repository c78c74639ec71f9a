//! `Coordinator`: the one loop that owns a run. It schedules and nothing else: the run
//! record's protocol (what is up to date, when a start or an end is durable, the file work
//! around an attempt) is the `record::Gate`'s, which it asks and is answered by messages.
//! No file or process I/O of its own.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::TaskState;
use super::attempt::Running;
use super::slots::Slots;
use crate::events::{Event, EventSink, SkipReason, TaskStatus};
use crate::exchange::{Aside, Exit, Launch, Message, Results};
use crate::execute::Executor;
use crate::model::{Isolation, TaskId, Workflow};
use crate::plan::{Graph, Outcome, Scope, Templating, reads_constants};
use crate::record::gate::{End, Go, Start};
use crate::record::{Gate, Journal, RunOutcome};
use crate::template::DependencyStatus;

mod decide;
mod expand;
mod queue;
mod stop;

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
    /// Whether the run was interrupted (by a signal, or superseded).
    pub interrupted: bool,
    /// Whether the interruption was a change in watch mode (`Message::Superseded`), not a
    /// signal: the next run takes over.
    pub superseded: bool,
}

/// A ready task's place in the queue: the longest chain behind it first, then file order.
type ReadyKey = (u32, Reverse<TaskId>);

/// The running tasks by id.
/// Task ids are small numbers the engine hands out, not input an attacker picks, so the
/// map uses rustc's Fx hash instead of SipHash: two hashes per task in the hottest loop.
type RunningMap = rustc_hash::FxHashMap<TaskId, Running>;

/// How an attempt's end goes on once its file work is done.
#[derive(Debug, Default)]
struct Ending {
    duration: Duration,
    results: Results,
    /// Whether it may run again (otherwise it is the task's last, whatever its retries).
    retry: bool,
}

/// The coordinator of one run. It is the only owner of the run state and the only caller of
/// the event sink.
///
/// A task's life: `Pending` until every dependency has reached a final state; then it is
/// decided (its `if`, the dependencies' outcomes, whether the run is stopping, and with a
/// record whether it is up to date) and either skipped or `Ready`; ready tasks start in
/// critical-path order while their slots and pool allow, once the gate lets them; an
/// attempt that ended gives its slots back at once, and goes on once the gate has done its
/// file work; a failed attempt with retries left waits for its retry delay and is ready
/// again; the final state (`Succeeded`, `Failed`, `Skipped`, `Cancelled`) settles its
/// dependents, with a record once the gate says that state is durable.
pub struct Coordinator<'a, E: Executor, S: EventSink> {
    /// The workflow; replaced by a grown copy when a placeholder expands.
    workflow: Arc<Workflow>,
    /// The graph of the selected tasks; copied the first time a placeholder expands.
    graph: Cow<'a, Graph>,
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
    templating: Templating,
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
    /// The run record's gate, when the run keeps a record.
    gate: Option<Gate>,
    /// Attempts with their slots taken that the gate lets start later, with their launch.
    held: rustc_hash::FxHashMap<TaskId, (Isolation, Result<Launch, String>)>,
    /// Attempts that ended, waiting for their file work.
    ending: rustc_hash::FxHashMap<TaskId, Ending>,
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
        workflow: Arc<Workflow>,
        graph: &'a Graph,
        executor: E,
        sink: S,
        options: Options,
    ) -> Self {
        let count = workflow.tasks.len();
        let pools: Vec<usize> = workflow.pools.iter().map(|pool| pool.size).collect();
        let templated = graph.tasks().iter().any(|&task| {
            let task = workflow.task(task);
            task.templates.is_some()
                || task.condition.is_some()
                || task.expands.is_some()
                || reads_constants(task)
        });
        Self {
            workflow,
            graph: Cow::Borrowed(graph),
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
            templating: Templating::new(),
            ready_processes: BinaryHeap::new(),
            ready_threads: BinaryHeap::new(),
            pooled: vec![Vec::new(); pools.len()],
            retries: BinaryHeap::new(),
            running: RunningMap::default(),
            slots: Slots::new(options.jobs, options.threads, pools.iter().copied()),
            stopping: false,
            interrupts: 0,
            summary: Summary::default(),
            gate: None,
            held: rustc_hash::FxHashMap::default(),
            ending: rustc_hash::FxHashMap::default(),
            to_decide: Vec::new(),
            deciding: false,
        }
    }

    /// Keeps the run record in `journal`: tasks up to date (or finished by the run being
    /// resumed) are skipped, and a task with outputs starts only once the record holds them
    /// incomplete (and every end queued before).
    #[must_use]
    pub fn with_journal(mut self, journal: Journal) -> Self {
        self.gate = Some(Gate::new(Arc::clone(&self.workflow), Box::new(journal)));
        self
    }

    /// The executor and the event sink, once the run is over (tests inspect a fake executor).
    pub fn into_parts(self) -> (E, S) {
        (self.executor, self.sink)
    }

    /// Runs every selected task to its final state.
    ///
    /// The loop: start ready tasks while capacity allows; when none can start, none run,
    /// none waits for a retry and the gate waits for nothing (the record, file work), the
    /// run is over; otherwise hand the record this turn's writes and wait for the next
    /// message (output, a finished task, finished file work, a durable ticket, an interrupt)
    /// or the next deadline (a timeout's SIGTERM, a grace period's SIGKILL, a retry). Tasks
    /// still pending at the end are skipped with the reason.
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
        // Deciding a task can expand a placeholder, which grows the graph.
        let roots: Vec<TaskId> = self
            .graph
            .tasks()
            .iter()
            .copied()
            .filter(|&task| self.workflow.task(task).depends_on.is_empty())
            .collect();
        for task in roots {
            self.decide(task);
        }
        loop {
            self.start_ready();
            let waits_for_gate = self.gate.as_ref().is_some_and(Gate::is_busy);
            if self.running.is_empty() && self.retries.is_empty() && !waits_for_gate {
                break;
            }
            let next_deadline = self
                .running
                .values()
                .filter_map(|r| r.kill_at.or(r.deadline))
                .chain(self.retries.peek().map(|Reverse((at, _))| *at))
                .min();
            self.commit();
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
        if let Some(gate) = self.gate.take() {
            let outcome = if self.summary.interrupted {
                RunOutcome::Interrupted
            } else if self.summary.failed > 0 {
                RunOutcome::Failed
            } else {
                RunOutcome::Succeeded
            };
            if let Some(message) = gate.finish(outcome) {
                self.sink.event(&Event::Warning { message });
            }
        }
        self.sink.event(&Event::RunFinished {
            duration: started.elapsed(),
            interrupted: self.summary.interrupted,
        });
        self.summary
    }

    /// Starts an attempt whose slots are taken, now or once the gate lets it.
    fn start(&mut self, task: TaskId, isolation: Isolation) {
        self.state[task.index()] = TaskState::Running;
        self.attempts[task.index()] += 1;
        let attempt = self.attempts[task.index()];
        // The first attempt starts as it was checked; templates are filled in only once.
        let launch = match self.gate.as_ref().and_then(|gate| gate.launch(task)) {
            Some(launch) if attempt == 1 => Ok(launch),
            _ => self.launch(task, attempt),
        };
        let Some(gate) = &mut self.gate else {
            self.spawn(task, isolation, launch, false);
            return;
        };
        match gate.start(task, attempt, launch.is_ok()) {
            Start::Now => self.spawn(task, isolation, launch, true),
            Start::Later => {
                self.held.insert(task, (isolation, launch));
            }
        }
    }

    /// Starts an attempt whose slots are taken; `record` says whether the gate still has to
    /// hear of it.
    fn spawn(
        &mut self,
        task: TaskId,
        isolation: Isolation,
        launch: Result<Launch, String>,
        record: bool,
    ) {
        let spec = self.workflow.task(task);
        let attempt = self.attempts[task.index()];
        let attempts = spec.retries + 1;
        let started = launch.and_then(|launch| self.executor.start(spec, &launch));
        let pid = match started {
            Ok(pid) => pid,
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
                self.ended(task, status, Ending::retried(Duration::ZERO), false);
                return;
            }
        };
        if record && let Some(gate) = &mut self.gate {
            gate.started(task, attempt);
        }
        self.sink.event(&Event::TaskStarted {
            task,
            pid,
            attempt,
            attempts,
        });
        let timeout = spec.timeout.map(crate::model::Duration::get);
        self.running.insert(task, Running::new(isolation, timeout));
    }

    /// An attempt the gate held starts, unless the run was interrupted meanwhile.
    fn start_held(&mut self, task: TaskId) {
        let Some((isolation, launch)) = self.held.remove(&task) else {
            return;
        };
        if !self.summary.interrupted {
            self.spawn(task, isolation, launch, false);
            return;
        }
        self.release(task, isolation);
        self.sink.event(&Event::TaskStarted {
            task,
            pid: None,
            attempt: self.attempts[task.index()],
            attempts: self.workflow.task(task).retries + 1,
        });
        self.ended(
            task,
            TaskStatus::Interrupted,
            Ending::last(Duration::ZERO),
            false,
        );
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
        let scope = Scope {
            workflow: &self.workflow,
            graph: &self.graph,
        };
        self.templating
            .launch(scope, spec, outcomes, attempt, status)
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
                // Its slots are free at once: others start while its outputs are digested.
                self.release(task, running.isolation);
                let status = self.status(&running, task, exit);
                let ending = Ending {
                    duration: running.started.elapsed(),
                    results,
                    retry: true,
                };
                self.ended(task, status, ending, true);
            }
            Message::Job {
                task,
                job_id,
                state,
                phase,
            } => {
                self.job_phase(task, phase);
                if let Some(gate) = &mut self.gate {
                    gate.job(task, &job_id, phase);
                }
                self.sink.event(&Event::TaskJob {
                    task,
                    job_id,
                    state,
                });
            }
            Message::Interrupt => self.interrupt(),
            Message::Superseded { changed } => self.supersede(changed.as_deref()),
            Message::Filed { task, work } => {
                if let Some(gate) = &mut self.gate {
                    let go = gate.filed(task, work);
                    self.go(go);
                }
            }
            Message::Recorded { ticket, error } => {
                if let Some(message) = error {
                    self.sink.event(&Event::Warning {
                        message: format!(
                            "the run record cannot be written, so this run cannot be resumed: {message}"
                        ),
                    });
                }
                if let Some(gate) = &mut self.gate {
                    let go = gate.recorded(ticket);
                    self.go(go);
                }
            }
        }
    }

    /// Goes on where the gate lets: a checked task is decided, finished tasks settle, held
    /// attempts start, an attempt whose file work is done ends.
    fn go(&mut self, go: Go) {
        if let Some((task, check)) = go.checked {
            self.checked(task, check);
        }
        for task in go.start {
            self.start_held(task);
        }
        if let Some((task, status, aside)) = go.ended {
            let ending = self.ending.remove(&task).unwrap_or_default();
            if let Some(Aside { to, moved, left }) = aside {
                self.sink.event(&Event::OutputsSetAside {
                    task,
                    attempt: self.attempts[task.index()].max(1),
                    to,
                    moved,
                    left,
                });
            }
            self.went_on(task, status, ending);
        }
    }

    /// What a finished task's exit means, given what the coordinator did to it.
    fn status(&self, running: &Running, task: TaskId, exit: Exit) -> TaskStatus {
        let timeout = self
            .workflow
            .task(task)
            .timeout
            .map(crate::model::Duration::get);
        running.status(exit, timeout, self.summary.interrupted)
    }

    /// An attempt ended with `status`: it goes on once the gate has done its file work
    /// (`ran`: it ran to its end, so a success's outputs are digested).
    fn ended(&mut self, task: TaskId, status: TaskStatus, ending: Ending, ran: bool) {
        let attempt = self.attempts[task.index()].max(1);
        let Some(gate) = &mut self.gate else {
            self.went_on(task, status, ending);
            return;
        };
        match gate.end(task, attempt, status, ran) {
            End::Now(status) => self.went_on(task, status, ending),
            End::Later => {
                self.ending.insert(task, ending);
            }
        }
    }

    /// An attempt's end, its file work done: retry it or finish the task.
    fn went_on(&mut self, task: TaskId, status: TaskStatus, ending: Ending) {
        if ending.retry {
            self.end_attempt(task, status, ending.duration, ending.results);
        } else {
            self.finish(task, status, ending.duration, ending.results);
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
        let delay = super::attempt::retry_delay(spec.retry_delay.get(), attempt);
        if let Some(gate) = &mut self.gate {
            gate.retrying(task, attempt, &status, &results);
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

    /// A task reached its final state: recorded (see `Gate::finished`), made known, and its
    /// dependents decided.
    fn finish(&mut self, task: TaskId, status: TaskStatus, duration: Duration, results: Results) {
        let attempt = self.attempts[task.index()].max(1);
        if let Some(gate) = &mut self.gate {
            gate.finished(task, attempt, &status, &results);
        }
        self.announce(task, status, duration, results);
    }

    /// A task's final state, made known; its dependents are decided now.
    fn announce(&mut self, task: TaskId, status: TaskStatus, duration: Duration, results: Results) {
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
        self.settle(task);
        if failed {
            self.stop_after_failure();
        }
    }
}

impl Ending {
    /// The end of an attempt that may run again, with nothing returned.
    fn retried(duration: Duration) -> Self {
        Self {
            duration,
            results: Vec::new(),
            retry: true,
        }
    }

    /// The end of a task's last attempt, with nothing returned.
    fn last(duration: Duration) -> Self {
        Self {
            duration,
            results: Vec::new(),
            retry: false,
        }
    }
}
