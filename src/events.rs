//! `Event`: everything that happens during a run, in the order the coordinator saw it. The
//! only link between running tasks and reporting them; reporters read events, never the
//! executors. `Masked` hides secrets in events on their way to a sink.

use std::borrow::Cow;
use std::time::Duration;

use serde::Serialize;

use crate::model::TaskId;
use crate::template::Masker;

/// The version of the JSON-lines event format written by `--events`.
pub const EVENTS_VERSION: u32 = 1;

/// Which output stream a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Standard output, or a script's `print`.
    Stdout,
    /// Standard error.
    Stderr,
}

/// How a task ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TaskStatus {
    /// It did its work.
    Succeeded,
    /// It failed: a non-zero exit, a signal, a script error.
    Failed {
        /// The exit code, when the process exited.
        exit_code: Option<i32>,
        /// The signal that ended the process, if one did.
        signal: Option<i32>,
        /// Why, in words.
        message: String,
    },
    /// It ran out of time and was stopped.
    TimedOut {
        /// The limit it had.
        timeout_ms: u64,
    },
    /// The run was interrupted while it ran.
    Interrupted,
}

impl TaskStatus {
    /// Whether the task succeeded.
    #[must_use]
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Succeeded)
    }
}

/// Why a task was not run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum SkipReason {
    /// A task it depends on did not succeed.
    DependencyFailed {
        /// That dependency.
        #[serde(skip)]
        dependency: TaskId,
    },
    /// The run stopped starting tasks after a failure (without `--keep-going`).
    RunStopped,
    /// The run was interrupted before the task started.
    Interrupted,
    /// Its `if` condition was false. Its dependents run as if it had succeeded.
    ConditionFalse {
        /// The condition, as written.
        condition: String,
    },
    /// Nothing it depends on changed since its last success, and its outputs are as that
    /// run left them.
    UpToDate,
    /// The run being resumed finished it.
    Resumed {
        /// That run's id.
        run: String,
    },
}

impl SkipReason {
    /// Whether the tasks that depend on the skipped one may still run: only a false
    /// condition is a decision, not a failure.
    #[must_use]
    pub fn satisfies_dependents(&self) -> bool {
        matches!(
            self,
            Self::ConditionFalse { .. } | Self::UpToDate | Self::Resumed { .. }
        )
    }
}

/// Something that happened during a run.
#[derive(Clone, Debug)]
pub enum Event {
    /// The run began.
    RunStarted {
        /// Its id.
        run_id: String,
        /// How many tasks it will consider.
        tasks: usize,
    },
    /// A placeholder (a task whose matrix reads results) expanded into new tasks, with ids
    /// from `first` on, in the order of `names`. The placeholder now waits for them, as a
    /// join; they are part of the run like any other task.
    TaskExpanded {
        /// The placeholder.
        task: TaskId,
        /// The id of the first new task; the others follow.
        first: TaskId,
        /// The names of the new tasks (`work[shard=3]`).
        names: Vec<String>,
    },
    /// All of a task's dependencies succeeded; it waits for capacity.
    TaskReady {
        /// The task.
        task: TaskId,
    },
    /// A task started.
    TaskStarted {
        /// The task.
        task: TaskId,
        /// The process id, for process tasks.
        pid: Option<u32>,
        /// Which attempt, from 1.
        attempt: u32,
        /// How many attempts it may have (1 + `retries`).
        attempts: u32,
    },
    /// A task's cluster job changed state (submitted, pending, running).
    TaskJob {
        /// The task.
        task: TaskId,
        /// The job's id on the cluster.
        job_id: String,
        /// Its state as shown to people, like `PENDING (Resources)` or `RUNNING on node1`.
        state: String,
    },
    /// A task printed lines.
    TaskOutput {
        /// The task.
        task: TaskId,
        /// Which stream.
        stream: Stream,
        /// The lines, without line breaks; invalid UTF-8 replaced.
        lines: Vec<String>,
    },
    /// A task ended.
    TaskFinished {
        /// The task.
        task: TaskId,
        /// How.
        status: TaskStatus,
        /// How long it ran.
        duration: Duration,
        /// Which attempt this was.
        attempt: u32,
        /// Whether a failure is allowed (`allow_failure`): it fails neither the run nor its
        /// dependents.
        allowed: bool,
        /// The results it set, values masked.
        results: Vec<(String, String)>,
    },
    /// An attempt of a task failed and it will run again after `delay`.
    TaskRetrying {
        /// The task.
        task: TaskId,
        /// The attempt that failed.
        attempt: u32,
        /// How many attempts it may have.
        attempts: u32,
        /// How that attempt ended.
        status: TaskStatus,
        /// How long that attempt ran.
        duration: Duration,
        /// The wait before the next attempt.
        delay: Duration,
    },
    /// A task will not run.
    TaskSkipped {
        /// The task.
        task: TaskId,
        /// Why.
        reason: SkipReason,
    },
    /// The engine was asked to stop (Ctrl-C or SIGTERM); `forced` on the second request.
    Interrupting {
        /// Whether running tasks are killed at once.
        forced: bool,
    },
    /// A failed, timed-out or interrupted attempt created or changed paths its `outputs`
    /// match: they were moved into the state dir (a rename, nothing is deleted), except those
    /// that must stay or could not be moved.
    OutputsSetAside {
        /// The task.
        task: TaskId,
        /// Which attempt left them.
        attempt: u32,
        /// The directory they were moved into, each at its path relative to the workflow's
        /// directory.
        to: std::path::PathBuf,
        /// The paths moved, as the task's patterns name them.
        moved: Vec<String>,
        /// The paths left in place, and why.
        left: Vec<(String, String)>,
    },
    /// Something the user should know that is no task's doing, like a run record that
    /// cannot be written.
    Warning {
        /// What happened.
        message: String,
    },
    /// The run ended.
    RunFinished {
        /// How long it took.
        duration: Duration,
        /// Whether it was interrupted.
        interrupted: bool,
    },
}

/// Receives the events of a run, in order, on the coordinator's thread.
pub trait EventSink {
    /// Handles one event.
    fn event(&mut self, event: &Event);
}

/// Hands events to a sink with every secret masked: failure messages (which may quote a
/// template's value, a script's `throw`, a path or a command), results, warnings, job states.
/// Output lines come masked from the executors, which mask each stream whole before it is
/// cut into lines.
#[derive(Debug)]
pub struct Masked<S> {
    sink: S,
    masker: Masker,
}

impl<S: EventSink> Masked<S> {
    /// `sink`, behind `masker`.
    pub fn new(sink: S, masker: Masker) -> Self {
        Self { sink, masker }
    }

    /// The sink behind the masker.
    pub fn into_inner(self) -> S {
        self.sink
    }

    fn status(&self, status: &TaskStatus) -> Option<TaskStatus> {
        match status {
            TaskStatus::Failed {
                exit_code,
                signal,
                message,
            } => match self.masker.mask(message) {
                Cow::Borrowed(_) => None,
                Cow::Owned(message) => Some(TaskStatus::Failed {
                    exit_code: *exit_code,
                    signal: *signal,
                    message,
                }),
            },
            _ => None,
        }
    }

    /// The event with its text masked, or `None` when nothing in it is secret.
    fn masked(&self, event: &Event) -> Option<Event> {
        if !matches!(
            event,
            Event::TaskFinished { .. }
                | Event::TaskRetrying { .. }
                | Event::Warning { .. }
                | Event::TaskJob { .. }
                | Event::TaskSkipped { .. }
                | Event::TaskExpanded { .. }
        ) {
            return None;
        }
        let mut event = event.clone();
        let changed = match &mut event {
            Event::TaskFinished {
                status, results, ..
            } => {
                let masked = self.status(status);
                let changed = masked.is_some() | mask_results(&self.masker, results);
                if let Some(masked) = masked {
                    *status = masked;
                }
                changed
            }
            Event::TaskRetrying { status, .. } => {
                self.status(status).map(|masked| *status = masked).is_some()
            }
            Event::Warning { message } | Event::TaskJob { state: message, .. } => {
                mask_in_place(&self.masker, message)
            }
            Event::TaskExpanded { names, .. } => names.iter_mut().fold(false, |changed, name| {
                mask_in_place(&self.masker, name) | changed
            }),
            Event::TaskSkipped {
                reason: SkipReason::ConditionFalse { condition },
                ..
            } => mask_in_place(&self.masker, condition),
            _ => false,
        };
        changed.then_some(event)
    }
}

impl<S: EventSink> EventSink for Masked<S> {
    fn event(&mut self, event: &Event) {
        if self.masker.is_empty() {
            self.sink.event(event);
            return;
        }
        match self.masked(event) {
            Some(masked) => self.sink.event(&masked),
            None => self.sink.event(event),
        }
    }
}

/// Masks `text`; whether it changed.
fn mask_in_place(masker: &Masker, text: &mut String) -> bool {
    match masker.mask(text) {
        Cow::Borrowed(_) => false,
        Cow::Owned(masked) => {
            *text = masked;
            true
        }
    }
}

/// Masks the keys and values of `results`; whether any changed.
pub fn mask_results(masker: &Masker, results: &mut [(String, String)]) -> bool {
    let mut changed = false;
    for (key, value) in results {
        changed |= mask_in_place(masker, key);
        changed |= mask_in_place(masker, value);
    }
    changed
}

/// Records every event; for tests.
#[derive(Debug, Default)]
pub struct EventLog {
    /// The events seen so far.
    pub events: Vec<Event>,
}

impl EventSink for EventLog {
    fn event(&mut self, event: &Event) {
        self.events.push(event.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_masked_sink_hides_secrets_in_messages_results_and_warnings() {
        let masker = Masker::new(["s3cr3t"]).expect("a masker");
        let mut sink = Masked::new(EventLog::default(), masker);
        let failed = TaskStatus::Failed {
            exit_code: None,
            signal: None,
            message: "command not found: `s3cr3t`".into(),
        };
        sink.event(&Event::TaskFinished {
            task: TaskId(0),
            status: failed.clone(),
            duration: Duration::ZERO,
            attempt: 1,
            allowed: false,
            results: vec![
                ("s3cr3t".into(), "1".into()),
                ("k".into(), "a s3cr3t".into()),
            ],
        });
        sink.event(&Event::TaskRetrying {
            task: TaskId(0),
            attempt: 1,
            attempts: 2,
            status: failed,
            duration: Duration::ZERO,
            delay: Duration::ZERO,
        });
        sink.event(&Event::Warning {
            message: "cannot write s3cr3t".into(),
        });
        let events = sink.into_inner().events;
        let text = format!("{events:?}");
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(text.contains("command not found: `***`"), "{text}");
        assert!(text.contains(r#"("***", "1")"#), "{text}");
        assert!(text.contains(r#"("k", "a ***")"#), "{text}");
        assert!(text.contains("cannot write ***"), "{text}");
    }
}
