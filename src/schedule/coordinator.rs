//! `Coordinator`: the one loop that owns a run.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use super::TaskState;
use crate::events::{Event, EventSink, SkipReason, TaskStatus};
use crate::execute::{Executor, Exit, JobPhase, Launch, Message, Termination};
use crate::model::{Command, Isolation, TaskId, Workflow};
use crate::plan::Graph;

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
    /// Tasks that did not run.
    pub skipped: usize,
    /// Tasks stopped by the interruption.
    pub cancelled: usize,
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
pub struct Coordinator<'a, E: Executor, S: EventSink> {
    workflow: &'a Workflow,
    graph: &'a Graph,
    executor: E,
    sink: S,
    /// Messages of one wait, reused.
    inbox: Vec<Message>,
    options: Options,
    state: Vec<TaskState>,
    /// Dependencies not yet succeeded, per task.
    waiting: Vec<u32>,
    ready_processes: BinaryHeap<ReadyKey>,
    ready_threads: BinaryHeap<ReadyKey>,
    running: RunningMap,
    /// Process slots in use (a process task takes one).
    processes: usize,
    threads: usize,
    /// No new task starts: after a failure without `keep_going`, or an interruption.
    stopping: bool,
    interrupts: u32,
    summary: Summary,
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
            waiting: vec![0; count],
            ready_processes: BinaryHeap::new(),
            ready_threads: BinaryHeap::new(),
            running: RunningMap::default(),
            processes: 0,
            threads: 0,
            stopping: false,
            interrupts: 0,
            summary: Summary::default(),
        }
    }

    /// The executor and the event sink, once the run is over (tests inspect a fake executor).
    pub fn into_parts(self) -> (E, S) {
        (self.executor, self.sink)
    }

    /// Runs every selected task to its final state.
    ///
    /// The loop: start ready tasks while capacity allows; when none can start and none run,
    /// the run is over; otherwise wait for the next message (output, a finished task, an
    /// interrupt) or the next deadline (a timeout's SIGTERM, a grace period's SIGKILL).
    /// Tasks still pending at the end are skipped with the reason.
    pub fn run(&mut self, run_id: &str) -> Summary {
        let started = Instant::now();
        self.sink.event(&Event::RunStarted {
            run_id: run_id.to_owned(),
            tasks: self.graph.len(),
        });
        for &task in self.graph.tasks() {
            let deps = self.workflow.task(task).depends_on.len();
            self.waiting[task.index()] = u32::try_from(deps).unwrap_or(u32::MAX);
            if deps == 0 {
                self.make_ready(task);
            }
        }
        loop {
            self.start_ready();
            if self.running.is_empty() {
                break;
            }
            let next_deadline = self
                .running
                .values()
                .filter_map(|r| r.kill_at.or(r.deadline))
                .min();
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
        self.sink.event(&Event::RunFinished {
            duration: started.elapsed(),
            interrupted: self.summary.interrupted,
        });
        self.summary
    }

    fn make_ready(&mut self, task: TaskId) {
        self.state[task.index()] = TaskState::Ready;
        self.sink.event(&Event::TaskReady { task });
        let key = (self.graph.chain(task), Reverse(task));
        let spec = self.workflow.task(task);
        if matches!(spec.command, Command::None) {
            if self.stopping {
                // It stays ready and is skipped at the end, like every task not started.
                return;
            }
            // A join point: it finishes the moment it is ready.
            self.sink.event(&Event::TaskStarted { task, pid: None });
            self.finish(task, TaskStatus::Succeeded, Duration::ZERO);
        } else if spec.isolation == Isolation::Process {
            self.ready_processes.push(key);
        } else {
            self.ready_threads.push(key);
        }
    }

    fn start_ready(&mut self) {
        while !self.stopping && self.processes < self.options.jobs {
            let Some((_, Reverse(task))) = self.ready_processes.pop() else {
                break;
            };
            self.processes += 1;
            self.start(task, Isolation::Process);
        }
        while !self.stopping && self.threads < self.options.threads {
            let Some((_, Reverse(task))) = self.ready_threads.pop() else {
                break;
            };
            self.threads += 1;
            self.start(task, Isolation::Thread);
        }
    }

    fn start(&mut self, task: TaskId, isolation: Isolation) {
        let spec = self.workflow.task(task);
        let now = Instant::now();
        self.state[task.index()] = TaskState::Running;
        match self.executor.start(spec, &Launch::of(spec, 1)) {
            Ok(pid) => {
                self.sink.event(&Event::TaskStarted { task, pid });
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
                self.sink.event(&Event::TaskStarted { task, pid: None });
                self.release(isolation);
                let status = TaskStatus::Failed {
                    exit_code: None,
                    signal: None,
                    message,
                };
                self.finish(task, status, Duration::ZERO);
            }
        }
    }

    fn release(&mut self, isolation: Isolation) {
        match isolation {
            Isolation::Process => self.processes -= 1,
            Isolation::Thread => self.threads -= 1,
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
            Message::Finished { task, exit, .. } => {
                // A task given up on after its grace period may still report; ignore it then.
                let Some(running) = self.running.remove(&task) else {
                    return;
                };
                self.executor.finished(task);
                self.release(running.isolation);
                let status = self.status(&running, task, exit);
                self.finish(task, status, running.started.elapsed());
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

    fn finish(&mut self, task: TaskId, status: TaskStatus, duration: Duration) {
        let succeeded = status.is_success();
        let interrupted = matches!(status, TaskStatus::Interrupted);
        self.state[task.index()] = match status {
            TaskStatus::Succeeded => TaskState::Succeeded,
            TaskStatus::Interrupted => TaskState::Cancelled,
            TaskStatus::Failed { .. } | TaskStatus::TimedOut { .. } => TaskState::Failed,
        };
        match status {
            TaskStatus::Succeeded => self.summary.succeeded += 1,
            TaskStatus::Interrupted => self.summary.cancelled += 1,
            _ => self.summary.failed += 1,
        }
        self.sink.event(&Event::TaskFinished {
            task,
            status,
            duration,
        });
        if succeeded {
            // The graph outlives `self`'s borrow: walk its lists in place, without a copy.
            let graph = self.graph;
            for next in graph.dependents(task) {
                let waiting = &mut self.waiting[next.index()];
                *waiting -= 1;
                if *waiting == 0 && self.state[next.index()] == TaskState::Pending {
                    self.make_ready(next);
                }
            }
        } else if interrupted {
            // Its dependents did not fail because of it: they stay pending and are skipped at
            // the end as not started because of the interruption.
        } else {
            if !self.options.keep_going && !self.stopping {
                self.stopping = true;
                self.withdraw_queued();
            }
            self.skip_dependents(task);
        }
    }

    /// Takes back the tasks that still waited in a queue outside the engine when the run
    /// stopped (cluster jobs not yet running): they did not start, so like every task that did
    /// not, they are skipped at the end.
    fn withdraw_queued(&mut self) {
        for task in self.executor.withdraw_queued() {
            if let Some(running) = self.running.remove(&task) {
                self.release(running.isolation);
                self.state[task.index()] = TaskState::Ready;
            }
        }
    }

    /// Marks everything downstream of a failed task as skipped, naming the failed task.
    fn skip_dependents(&mut self, failed: TaskId) {
        let mut stack: Vec<TaskId> = self.graph.dependents(failed).collect();
        while let Some(task) = stack.pop() {
            if self.state[task.index()] != TaskState::Pending {
                continue;
            }
            self.state[task.index()] = TaskState::Skipped;
            self.summary.skipped += 1;
            self.sink.event(&Event::TaskSkipped {
                task,
                reason: SkipReason::DependencyFailed { dependency: failed },
            });
            stack.extend(self.graph.dependents(task));
        }
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

    /// Handles expired timeouts (SIGTERM, then a grace period) and expired grace periods
    /// (SIGKILL; a thread task that still runs is given up on).
    fn deadlines(&mut self) {
        let now = Instant::now();
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
        self.release(running.isolation);
        let exit = Exit::ScriptFailed("the script did not stop when asked".into());
        let status = self.status(&running, task, exit);
        self.finish(task, status, running.started.elapsed());
    }

    /// The channel closed, which cannot happen while the executor holds a sender; end the
    /// running tasks rather than wait forever.
    /// Fails every running task: the executor can no longer say how they end (`why`).
    fn abandon_running(&mut self, why: &str) {
        let tasks: Vec<TaskId> = self.running.keys().copied().collect();
        for task in tasks {
            self.executor.terminate(task, Termination::Kill);
            if let Some(running) = self.running.remove(&task) {
                self.release(running.isolation);
                let status = TaskStatus::Failed {
                    exit_code: None,
                    signal: None,
                    message: format!("lost track of the task: {why}"),
                };
                self.finish(task, status, running.started.elapsed());
            }
        }
    }
}

/// The name of a signal number, like `SIGSEGV`.
#[must_use]
pub fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal)
        .map_or_else(|_| format!("{signal}"), |s| s.as_str().to_owned())
}
