//! One frame of the progress bars, drawn from one snapshot of the view: the overall line
//! (workflow, elapsed time, bar, `pos/len tasks`, ETA), a line per running task and a line per
//! task waiting on some of its dependencies, names in one aligned column. Also the ETA, a pure
//! function of the view and a clock value.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use console::style;

use super::bars::View;
use super::format_duration;
use crate::model::TaskId;

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const MAX_RUNNING_LINES: usize = 16;
const MAX_WAITING_LINES: usize = 6;
/// The cells of the overall bar.
const BAR_WIDTH: usize = 30;
/// The bar's fill, from full to empty in eighths.
const BAR_CHARS: [char; 9] = ['█', '▉', '▊', '▋', '▌', '▍', '▎', '▏', ' '];

/// The whole frame at `now`, lines at most `width` columns wide.
pub(super) fn frame(view: &mut View, now: Instant, width: usize) -> String {
    let mut out = overall_line(view, now);
    let running: Vec<TaskId> = view.running.keys().copied().collect();
    for (index, task) in running.iter().enumerate() {
        if index == MAX_RUNNING_LINES {
            let _ = write!(
                out,
                "\n  … and {} more running",
                running.len() - MAX_RUNNING_LINES
            );
            break;
        }
        let line = running_line(view, *task, now);
        out.push('\n');
        out.push_str(&console::truncate_str(&line, width, "…"));
    }
    let waiting: Vec<TaskId> = view.joins.iter().copied().collect();
    for (index, task) in waiting.iter().enumerate() {
        if index == MAX_WAITING_LINES {
            let _ = write!(
                out,
                "\n  … and {} more waiting",
                waiting.len() - MAX_WAITING_LINES
            );
            break;
        }
        let line = waiting_line(view, *task);
        out.push('\n');
        out.push_str(&console::truncate_str(&line, width, "…"));
    }
    out
}

/// `seed [00:00:05] ████▌      3/12 tasks · ETA 4s`.
fn overall_line(view: &View, now: Instant) -> String {
    let total = view.tasks.len() as u64;
    let elapsed = now.saturating_duration_since(view.started).as_secs();
    let mut line = format!(
        "{} [{:02}:{:02}:{:02}] {} {}/{total} tasks",
        style(&view.workflow.name).bold().for_stderr(),
        elapsed / 3600,
        (elapsed / 60) % 60,
        elapsed % 60,
        bar(view.finished, total),
        view.finished,
    );
    if let Some(left) = eta(view, now) {
        let _ = write!(line, " · ETA {}", eta_text(left));
    }
    line
}

/// The overall bar: `done` of `total` as filled cells, in eighths.
fn bar(done: u64, total: u64) -> String {
    let eighths = (done.min(total) * (BAR_WIDTH as u64) * 8)
        .checked_div(total)
        .and_then(|eighths| usize::try_from(eighths).ok())
        .unwrap_or(0);
    let full = eighths / 8;
    let mut filled = BAR_CHARS[0].to_string().repeat(full);
    let mut empty = String::new();
    if full < BAR_WIDTH {
        let part = eighths % 8;
        if part > 0 {
            filled.push(BAR_CHARS[8 - part]);
        } else {
            empty.push(' ');
        }
        empty.push_str(&" ".repeat(BAR_WIDTH - full - 1));
    }
    format!(
        "{}{}",
        style(filled).cyan().for_stderr(),
        style(empty).blue().for_stderr()
    )
}

/// `⠋ compile[n=3]  process  1.2s  │ compiling 3`.
fn running_line(view: &mut View, task: TaskId, now: Instant) -> String {
    let Some((started, last, tries)) = view.running.get(&task).cloned() else {
        return String::new();
    };
    let spec = view.workflow.task(task);
    let elapsed = now.saturating_duration_since(started);
    let frame = SPINNER[usize::try_from(elapsed.as_millis() / 100).unwrap_or(0) % SPINNER.len()];
    // A cluster job shows where it is instead of the isolation, which is `process`.
    let place = view
        .jobs
        .get(&task)
        .map_or_else(|| spec.isolation.to_string(), Clone::clone);
    let name = spec.name.clone();
    let name = view.column(&name);
    let mut line = format!(
        "{frame} {name}  {place:<7}  {:>6}",
        format_duration(elapsed)
    );
    if let Some((attempt, attempts)) = tries {
        let _ = write!(line, "  attempt {attempt}/{attempts}");
    }
    if !last.is_empty() {
        line.push_str("  │ ");
        line.push_str(&last);
    }
    line
}

/// `  link          waits    20/34  on compile[14 of 33 items]`.
fn waiting_line(view: &mut View, task: TaskId) -> String {
    let spec = view.workflow.task(task);
    let waiting: Vec<TaskId> = spec
        .depends_on
        .iter()
        .copied()
        .filter(|dep| !view.done[dep.index()])
        .collect();
    let total = spec.depends_on.len();
    let done = total - waiting.len();
    let names = view
        .counts
        .names(&view.workflow, &waiting, view.verbose)
        .join(", ");
    let name = spec.name.clone();
    let name = view.column(&name);
    format!("  {name}  waits    {done}/{total}  on {names}")
}

/// The ETA for people: `<1s` below a second (never 0 while tasks run), else whole seconds.
fn eta_text(left: Duration) -> String {
    match left.as_secs() {
        0 => "<1s".to_owned(),
        secs if secs < 60 => format!("{secs}s"),
        secs => format_duration(Duration::from_secs(secs)),
    }
}

/// The estimated time left at `now`, or `None` when nothing tells yet (no task with a
/// command has finished and the record knows none) or nothing is left.
///
/// Each task left is expected to take its duration in its last success (from the record),
/// else the average of those the record knows, else this run's pace: the mean of what the
/// finished tasks took, a running task counting as at least what it has run so far. So the
/// estimate only grows when a running task outlasts what the finished ones justify. Less what
/// the running ones have run, the work left is shared by the slots (no more slots than tasks
/// left), and it is never less than the longest chain of tasks left. Join points take no
/// time.
pub(super) fn eta(view: &View, now: Instant) -> Option<Duration> {
    if view.finished >= view.tasks.len() as u64 {
        return None;
    }
    let ran = |task: TaskId| {
        view.running.get(&task).map_or(0, |(started, _, _)| {
            u64::try_from(now.saturating_duration_since(*started).as_millis()).unwrap_or(u64::MAX)
        })
    };
    let history = view.expected_mean.is_some();
    let average = match view.expected_mean {
        Some(mean) => mean,
        None => pace(view, &ran)?,
    };
    let (mut work, mut critical, mut left) = (0u64, 0u64, 0u64);
    for &task in &view.tasks {
        if view.settled[task.index()] || view.is_join_point(task) {
            continue;
        }
        left += 1;
        let expected = view
            .expected
            .get(task.index())
            .copied()
            .flatten()
            .unwrap_or(average);
        let ran = ran(task);
        work += expected.saturating_sub(ran);
        let path = if history {
            view.path.get(task.index()).copied().unwrap_or(expected)
        } else {
            let chain = view.chain.get(task.index()).copied().unwrap_or(1);
            chain.saturating_mul(average)
        };
        critical = critical.max(path.saturating_sub(ran));
    }
    let slots = view.slots.min(left).max(1);
    Some(Duration::from_millis(critical.max(work / slots)))
}

/// This run's mean task duration: what finished tasks took, a running task counting as at
/// least the finished ones' mean and at least what it has run. `None` before a task with a
/// command has finished.
fn pace(view: &View, ran: &impl Fn(TaskId) -> u64) -> Option<u64> {
    let (sum, count) = view.took;
    if count == 0 {
        return None;
    }
    let mean = sum / count;
    let running: u64 = view.running.keys().map(|&task| ran(task).max(mean)).sum();
    Some((sum + running) / (count + view.running.len() as u64))
}
