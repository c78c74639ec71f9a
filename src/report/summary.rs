//! The summary printed when a run ends: failures first, each with its last lines and log,
//! then what was skipped and why (a matrix task's items skipped alike on one line unless
//! verbose), then the counts and the total time.

use std::fmt::Write;
use std::path::PathBuf;
use std::time::Duration;

use super::format_duration;
use crate::events::{SkipReason, TaskStatus};
use crate::model::{ItemCounts, TaskId, Workflow};
use crate::schedule::Summary;

/// A task that did not succeed, with what the summary shows of it.
#[derive(Debug)]
pub struct Failure {
    /// The task.
    pub task: TaskId,
    /// How it ended.
    pub status: TaskStatus,
    /// How long it ran.
    pub duration: Duration,
    /// Its last lines of output.
    pub tail: Vec<String>,
    /// Its full log, if it printed anything.
    pub log: Option<PathBuf>,
}

/// `path` relative to the current directory when it is inside it, for shorter lines.
fn relative(path: &std::path::Path) -> &std::path::Path {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok())
        .unwrap_or(path)
}

/// Most lines of skipped tasks; the tasks of the rest are counted.
const MAX_SKIPPED_SHOWN: usize = 20;

/// Why a task did not succeed, in words: its message, `timed out after 5s`, or
/// `interrupted`; `None` for a success.
#[must_use]
pub fn failure_reason(status: &TaskStatus) -> Option<String> {
    match status {
        TaskStatus::Failed { message, .. } => Some(message.clone()),
        TaskStatus::TimedOut { timeout_ms } => Some(format!(
            "timed out after {}",
            format_duration(Duration::from_millis(*timeout_ms))
        )),
        TaskStatus::Interrupted => Some("interrupted".to_owned()),
        TaskStatus::Succeeded => None,
    }
}

/// What the summary says beyond the coordinator's counts.
#[derive(Debug, Default)]
pub struct Telling {
    /// Name every task (each matrix item on its own line).
    pub verbose: bool,
    /// Join points (no command) that passed only tasks that were up to date: counted as up to
    /// date, not as succeeded, so a run that did nothing says so.
    pub idle_joins: usize,
}

/// The summary text.
#[must_use]
pub fn render_summary(
    workflow: &Workflow,
    failures: &[Failure],
    skipped: &[(TaskId, SkipReason)],
    summary: &Summary,
    elapsed: Duration,
    telling: &Telling,
) -> String {
    let mut out = String::new();
    for failure in failures {
        let name = &workflow.task(failure.task).name;
        let Some(why) = failure_reason(&failure.status) else {
            continue;
        };
        let verdict = if matches!(failure.status, TaskStatus::Interrupted) {
            "INTERRUPTED"
        } else {
            "FAILED"
        };
        if matches!(failure.status, TaskStatus::TimedOut { .. }) {
            let _ = writeln!(out, "{verdict} {name}: {why}");
        } else {
            let took = format_duration(failure.duration);
            let _ = writeln!(out, "{verdict} {name}: {why} (after {took})");
        }
        for line in &failure.tail {
            let _ = writeln!(out, "  │ {line}");
        }
        if let Some(log) = &failure.log {
            let _ = writeln!(out, "  log: {}", relative(log).display());
        }
    }
    render_skipped(&mut out, workflow, skipped, telling.verbose);
    let _ = writeln!(out, "{}", counts_line(summary, telling.idle_joins, elapsed));
    out
}

/// Why a task was skipped, in words; `None` for a deliberate skip (a false `if`, up to
/// date, resumed): no problem, not listed (the plain and bar output show them).
fn skip_reason(workflow: &Workflow, reason: &SkipReason) -> Option<String> {
    Some(match reason {
        SkipReason::DependencyFailed { dependency } => format!(
            "depends on `{}`, which did not succeed",
            workflow.task(*dependency).name
        ),
        SkipReason::RunStopped => {
            "not started: the run stopped after a failure (use --keep-going to run it anyway)"
                .to_owned()
        }
        SkipReason::Interrupted => "not started: the run was interrupted".to_owned(),
        SkipReason::ConditionFalse { .. } | SkipReason::UpToDate | SkipReason::Resumed { .. } => {
            return None;
        }
    })
}

/// The skipped tasks, one line each; without `verbose` the items of one matrix task skipped
/// for the same reason share a line (`skipped compile[33 items]: …`).
fn render_skipped(
    out: &mut String,
    workflow: &Workflow,
    skipped: &[(TaskId, SkipReason)],
    verbose: bool,
) {
    let mut lines: Vec<(Vec<TaskId>, String)> = Vec::new();
    let mut at: rustc_hash::FxHashMap<(&str, String), usize> = rustc_hash::FxHashMap::default();
    for (task, reason) in skipped {
        let Some(why) = skip_reason(workflow, reason) else {
            continue;
        };
        let group = workflow.task(*task).group.as_deref().filter(|_| !verbose);
        if let Some(group) = group {
            if let Some(&index) = at.get(&(group, why.clone())) {
                lines[index].0.push(*task);
                continue;
            }
            at.insert((group, why.clone()), lines.len());
        }
        lines.push((vec![*task], why));
    }
    let counts = ItemCounts::of(workflow);
    for (tasks, why) in lines.iter().take(MAX_SKIPPED_SHOWN) {
        let name = counts.name(workflow, tasks[0], tasks.len());
        let _ = writeln!(out, "skipped {name}: {why}");
    }
    let more: usize = lines
        .iter()
        .skip(MAX_SKIPPED_SHOWN)
        .map(|(tasks, _)| tasks.len())
        .sum();
    if more > 0 {
        let _ = writeln!(out, "skipped {more} more tasks");
    }
}

/// The summary of a run answered without checking a task (`cli::no_op`): its last line
/// alone, as `render_summary` ends, with a line break.
#[must_use]
pub fn summary_line(summary: &Summary, idle_joins: usize, elapsed: Duration) -> String {
    let mut line = counts_line(summary, idle_joins, elapsed);
    line.push('\n');
    line
}

/// The last line: how it ended and how many tasks ended each way, `done: 3 succeeded, 33 up
/// to date in 1.2s`; a run that did nothing reads `done: 36 up to date in 12ms`.
fn counts_line(summary: &Summary, idle_joins: usize, elapsed: Duration) -> String {
    let succeeded = summary.succeeded.saturating_sub(idle_joins);
    let up_to_date = summary.up_to_date + summary.succeeded - succeeded;
    let mut counts = Vec::new();
    // `0 succeeded` only when nothing was up to date either: a no-op run reads as one.
    if succeeded > 0 || up_to_date == 0 {
        counts.push(format!("{succeeded} succeeded"));
    }
    if summary.failed > 0 {
        counts.push(format!("{} failed", summary.failed));
    }
    if summary.allowed_failures > 0 {
        counts.push(format!("{} failed (allowed)", summary.allowed_failures));
    }
    if up_to_date > 0 {
        counts.push(format!("{up_to_date} up to date"));
    }
    if summary.resumed > 0 {
        counts.push(format!("{} done before (resumed)", summary.resumed));
    }
    if summary.skipped > 0 {
        counts.push(format!("{} skipped", summary.skipped));
    }
    if summary.cancelled > 0 {
        counts.push(format!("{} interrupted", summary.cancelled));
    }
    let verdict = if summary.interrupted {
        "interrupted"
    } else if summary.failed > 0 {
        "failed"
    } else {
        "done"
    };
    format!(
        "{verdict}: {} in {}",
        counts.join(", "),
        format_duration(elapsed)
    )
}
