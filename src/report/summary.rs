//! The summary printed when a run ends: failures first, each with its last lines and log,
//! then what was skipped and why, then the counts and the total time.

use std::fmt::Write;
use std::path::PathBuf;
use std::time::Duration;

use super::format_duration;
use crate::events::{SkipReason, TaskStatus};
use crate::model::{TaskId, Workflow};
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

/// Most skipped tasks listed by name; the rest are counted.
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

/// The summary text.
#[must_use]
pub fn render_summary(
    workflow: &Workflow,
    failures: &[Failure],
    skipped: &[(TaskId, SkipReason)],
    summary: &Summary,
    elapsed: Duration,
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
    for (task, reason) in skipped.iter().take(MAX_SKIPPED_SHOWN) {
        let name = &workflow.task(*task).name;
        let why = match reason {
            SkipReason::DependencyFailed { dependency } => format!(
                "depends on `{}`, which did not succeed",
                workflow.task(*dependency).name
            ),
            SkipReason::RunStopped => {
                "not started: the run stopped after a failure (use --keep-going to run it anyway)"
                    .to_owned()
            }
            SkipReason::Interrupted => "not started: the run was interrupted".to_owned(),
            // Deliberate, not a problem: not listed (the plain and bar output show them).
            SkipReason::ConditionFalse { .. }
            | SkipReason::UpToDate
            | SkipReason::Resumed { .. } => continue,
        };
        let _ = writeln!(out, "skipped {name}: {why}");
    }
    if skipped.len() > MAX_SKIPPED_SHOWN {
        let _ = writeln!(
            out,
            "skipped {} more tasks",
            skipped.len() - MAX_SKIPPED_SHOWN
        );
    }
    out.push_str(&summary_line(summary, elapsed));
    out
}

/// The summary's last line: the counts and the total time (`done: 0 succeeded, 34 up to
/// date in 12ms`).
#[must_use]
pub fn summary_line(summary: &Summary, elapsed: Duration) -> String {
    let mut counts = vec![format!("{} succeeded", summary.succeeded)];
    if summary.failed > 0 {
        counts.push(format!("{} failed", summary.failed));
    }
    if summary.allowed_failures > 0 {
        counts.push(format!("{} failed (allowed)", summary.allowed_failures));
    }
    if summary.up_to_date > 0 {
        counts.push(format!("{} up to date", summary.up_to_date));
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
        "{verdict}: {} in {}\n",
        counts.join(", "),
        format_duration(elapsed)
    )
}
