//! Plain progress: one timestamped line per start, finish and skip on stderr, no escape codes.
//! Unless verbose, what did nothing is left out (up-to-date tasks, join points), and the line
//! that opens the run waits for the first other line: a run that did nothing prints only its
//! summary.

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use super::format_duration;
use crate::events::{Event, SkipReason, TaskStatus};
use crate::model::Workflow;

/// Timestamped progress lines for logs.
pub struct Plain {
    workflow: Arc<Workflow>,
    started: Instant,
    /// Print every line: up-to-date tasks and join points too.
    verbose: bool,
    /// The line that opens the run, until it is printed.
    opening: Option<String>,
}

impl Plain {
    /// Plain lines for a run of `workflow`.
    #[must_use]
    pub fn new(workflow: Arc<Workflow>) -> Self {
        Self {
            workflow,
            started: Instant::now(),
            verbose: false,
            opening: None,
        }
    }

    /// Prints every line: up-to-date tasks, join points and the run's opening line at once.
    pub fn verbose(&mut self, verbose: bool) {
        self.verbose = verbose;
    }

    /// Whether `event` tells of nothing done: a task up to date, a join point passed.
    fn idle(&self, event: &Event) -> bool {
        match event {
            Event::TaskSkipped {
                reason: SkipReason::UpToDate,
                ..
            } => true,
            Event::TaskStarted { task, .. }
            | Event::TaskFinished {
                task,
                status: TaskStatus::Succeeded,
                ..
            } => matches!(
                self.workflow.task(*task).command,
                crate::model::Command::None
            ),
            _ => false,
        }
    }

    /// The workflow grew: a placeholder expanded.
    pub fn grow(&mut self, workflow: Arc<Workflow>) {
        self.workflow = workflow;
    }

    /// Prints the line for `event`, if it has one.
    pub fn event(&mut self, event: &Event) {
        if !self.verbose && self.idle(event) {
            return;
        }
        let name = |task: crate::model::TaskId| self.workflow.task(task).name.as_str();
        let line = match event {
            Event::RunStarted { tasks, .. } => {
                let noun = if *tasks == 1 { "task" } else { "tasks" };
                format!("run   {} ({tasks} {noun})", self.workflow.name)
            }
            Event::TaskExpanded { task, names, .. } => {
                let noun = if names.len() == 1 { "item" } else { "items" };
                format!("expand {} into {} {noun}", name(*task), names.len())
            }
            Event::TaskStarted {
                task,
                pid,
                attempt,
                attempts,
            } => {
                let isolation = self.workflow.task(*task).isolation;
                let try_note = if *attempts > 1 {
                    format!(", attempt {attempt}/{attempts}")
                } else {
                    String::new()
                };
                match pid {
                    Some(pid) => {
                        format!("start {} ({isolation}, pid {pid}{try_note})", name(*task))
                    }
                    None => format!("start {} ({isolation}{try_note})", name(*task)),
                }
            }
            Event::TaskRetrying {
                task,
                attempt,
                attempts,
                status,
                delay,
                ..
            } => {
                let why = super::summary::failure_reason(status).unwrap_or_default();
                format!(
                    "retry {}: attempt {attempt}/{attempts} {why}; next in {}",
                    name(*task),
                    format_duration(*delay)
                )
            }
            Event::TaskJob {
                task,
                job_id,
                state,
            } => format!("job   {} (slurm job {job_id}): {state}", name(*task)),
            Event::TaskFinished {
                task,
                status,
                duration,
                allowed,
                ..
            } => {
                let took = format_duration(*duration);
                match status {
                    TaskStatus::Succeeded => format!("ok    {} ({took})", name(*task)),
                    TaskStatus::Failed { message, .. } if *allowed => {
                        format!("failed (allowed) {}: {message} ({took})", name(*task))
                    }
                    TaskStatus::Failed { message, .. } => {
                        format!("FAILED {}: {message} ({took})", name(*task))
                    }
                    TaskStatus::TimedOut { .. } => format!("TIMEOUT {} ({took})", name(*task)),
                    TaskStatus::Interrupted => format!("INTERRUPTED {} ({took})", name(*task)),
                }
            }
            Event::TaskSkipped { task, reason } => match reason {
                SkipReason::DependencyFailed { dependency } => {
                    format!(
                        "skip  {}: depends on `{}`, which did not succeed",
                        name(*task),
                        name(*dependency)
                    )
                }
                SkipReason::ConditionFalse { condition } => {
                    format!("skip  {}: `if: {condition}` is false", name(*task))
                }
                SkipReason::UpToDate => format!("fresh {}: up to date", name(*task)),
                SkipReason::Resumed { run } => {
                    format!("done  {}: finished in run {run} (resumed)", name(*task))
                }
                SkipReason::RunStopped | SkipReason::Interrupted => return,
            },
            Event::Interrupting { forced: false } => {
                "interrupted: stopping running tasks (press Ctrl-C again to kill them now)"
                    .to_owned()
            }
            Event::Warning { message } => format!("warning: {message}"),
            Event::OutputsSetAside {
                task,
                attempt,
                to,
                moved,
                left,
            } => super::set_aside_line(name(*task), *attempt, to, moved, left),
            Event::Interrupting { forced: true } => {
                "interrupted again: killing running tasks".to_owned()
            }
            Event::TaskReady { .. } | Event::TaskOutput { .. } | Event::RunFinished { .. } => {
                return;
            }
        };
        let secs = self.started.elapsed().as_secs_f64();
        let mut err = std::io::stderr().lock();
        if matches!(event, Event::RunStarted { .. }) && !self.verbose {
            self.opening = Some(format!("[{secs:>8.2}s] {line}"));
            return;
        }
        if let Some(opening) = self.opening.take() {
            let _ = writeln!(err, "{opening}");
        }
        let _ = writeln!(err, "[{secs:>8.2}s] {line}");
    }
}
