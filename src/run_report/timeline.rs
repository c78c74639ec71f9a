//! The timeline as inline SVG, computed here so the page needs no script to show it: a time
//! axis, one row per task (matrix items grouped under their task in a `<details>`), a bar
//! per attempt with the wait before a retry, markers for tasks that did not run, the critical
//! path outlined, and the concurrency strip against `-j`. Past `LARGE` rows it draws lighter
//! (a browser lays out 10,000 rows in under 3 s): blocks of `CHUNK` rows the browser skips
//! while off screen, a name per row, and one `<path>` per outcome for all of a block's bars,
//! with no per-row link or tooltip (the task list below has both). It only renders a
//! `RunReport`.

use std::fmt::Write as _;

use super::model::{Outcome, RunReport, TaskReport};
use super::page::{esc, offset};

/// The SVG coordinate system: the whole width, the label column, the bars' span.
const WIDTH: f64 = 1200.0;
const BARS_FROM: f64 = 300.0;
const BARS_WIDTH: f64 = 880.0;
const ROW: f64 = 18.0;
/// A matrix task with at most this many items is shown open.
const OPEN_GROUP: usize = 20;
/// More rows than this are drawn the light way, in blocks of `CHUNK`.
const LARGE: usize = 2000;
const CHUNK: usize = 250;
/// Label characters at most.
const LABEL_CHARS: usize = 40;

/// Maps moments to x.
struct Scale {
    from: i64,
    span: f64,
}

impl Scale {
    fn of(report: &RunReport) -> Self {
        let from = report.started_ms;
        #[expect(
            clippy::cast_precision_loss,
            reason = "milliseconds of a run fit in f64"
        )]
        let span = (report.end_ms() - from).max(1) as f64;
        Self { from, span }
    }

    #[expect(
        clippy::cast_precision_loss,
        reason = "milliseconds of a run fit in f64"
    )]
    fn x(&self, ms: i64) -> f64 {
        BARS_FROM + ((ms - self.from) as f64 / self.span) * BARS_WIDTH
    }
}

/// One entry of the timeline: a task, or a matrix task with its items.
enum Entry {
    Task(usize),
    Group(String, Vec<usize>),
}

/// The timeline section's body: axis, rows, concurrency strip.
pub fn timeline(report: &RunReport, out: &mut String) {
    let scale = Scale::of(report);
    axis(report, &scale, out);
    let entries = entries(report);
    let mut singles: Vec<usize> = Vec::new();
    for entry in &entries {
        match entry {
            Entry::Task(task) => singles.push(*task),
            Entry::Group(name, items) => {
                rows(report, &scale, &std::mem::take(&mut singles), out);
                group(report, &scale, name, items, out);
            }
        }
    }
    rows(report, &scale, &singles, out);
    strip(report, &scale, out);
}

/// Tasks by the moment they started (or were decided), matrix items gathered at the place of
/// their first.
fn entries(report: &RunReport) -> Vec<Entry> {
    let mut order: Vec<usize> = (0..report.tasks.len()).collect();
    let first = |task: &TaskReport| {
        task.attempts
            .iter()
            .find_map(|attempt| attempt.started_ms.or(attempt.ended_ms))
            .unwrap_or(i64::MAX)
    };
    order.sort_by_key(|&task| (first(&report.tasks[task]), task));
    let mut entries: Vec<Entry> = Vec::new();
    let mut groups: rustc_hash::FxHashMap<&str, usize> = rustc_hash::FxHashMap::default();
    for task in order {
        match report.tasks[task].group.as_deref() {
            Some(group) => match groups.get(group) {
                Some(&at) => {
                    if let Entry::Group(_, items) = &mut entries[at] {
                        items.push(task);
                    }
                }
                None => {
                    groups.insert(group, entries.len());
                    entries.push(Entry::Group(group.to_owned(), vec![task]));
                }
            },
            None => entries.push(Entry::Task(task)),
        }
    }
    entries
}

/// A tick every 1, 2 or 5 times a power of ten, about eight across.
fn tick_step(span_ms: i64) -> i64 {
    let rough = (span_ms / 8).max(1);
    let mut power = 1i64;
    while power * 10 <= rough {
        power *= 10;
    }
    [1, 2, 5, 10]
        .iter()
        .map(|m| m * power)
        .find(|&step| step >= rough)
        .unwrap_or(power * 10)
}

fn axis(report: &RunReport, scale: &Scale, out: &mut String) {
    let span = report.end_ms() - report.started_ms;
    let step = tick_step(span.max(1));
    let _ = write!(
        out,
        "<svg class=\"tl axis\" viewBox=\"0 0 {WIDTH} 22\" role=\"img\" aria-label=\"time since the run started\">"
    );
    let mut at = 0;
    while at <= span {
        let x = scale.x(report.started_ms + at);
        let _ = write!(
            out,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"16\" y2=\"22\"/><text x=\"{x:.1}\" y=\"12\" text-anchor=\"middle\">{}</text>",
            offset(at)
        );
        at += step;
    }
    out.push_str("</svg>");
}

/// Rows of tasks in one SVG, or in blocks of light SVGs when there are many.
fn rows(report: &RunReport, scale: &Scale, tasks: &[usize], out: &mut String) {
    if tasks.is_empty() {
        return;
    }
    if tasks.len() > LARGE {
        for block in tasks.chunks(CHUNK) {
            out.push_str("<div class=\"chunk\">");
            light_rows(report, scale, block, out);
            out.push_str("</div>");
        }
        return;
    }
    #[expect(clippy::cast_precision_loss, reason = "row counts are small")]
    let height = tasks.len() as f64 * ROW;
    let _ = write!(out, "<svg class=\"tl\" viewBox=\"0 0 {WIDTH} {height}\">");
    for (row, &task) in tasks.iter().enumerate() {
        #[expect(clippy::cast_precision_loss, reason = "row counts are small")]
        let y = row as f64 * ROW;
        task_row(report, scale, task, y, out);
    }
    out.push_str("</svg>");
}

/// Rows drawn light: a name each, and the shapes gathered into a path per outcome (critical
/// ones apart, to outline them) and one for the waits.
fn light_rows(report: &RunReport, scale: &Scale, tasks: &[usize], out: &mut String) {
    #[expect(clippy::cast_precision_loss, reason = "row counts are small")]
    let height = tasks.len() as f64 * ROW;
    let _ = write!(out, "<svg class=\"tl\" viewBox=\"0 0 {WIDTH} {height}\">");
    // (class, path data), in the order first drawn.
    let mut paths: Vec<(String, String)> = Vec::new();
    let mut path = |class: String, data: std::fmt::Arguments| {
        let at = paths
            .iter()
            .position(|(c, _)| *c == class)
            .unwrap_or_else(|| {
                paths.push((class, String::new()));
                paths.len() - 1
            });
        let _ = paths[at].1.write_fmt(data);
    };
    for (row, &index) in tasks.iter().enumerate() {
        #[expect(clippy::cast_precision_loss, reason = "row counts are small")]
        let y = row as f64 * ROW;
        let task = &report.tasks[index];
        let _ = write!(
            out,
            "<text x=\"6\" y=\"{:.0}\">{}</text>",
            y + 13.0,
            esc(&label(&task.name, task.group.as_deref())),
        );
        let critical = if task.critical { " crit-bars" } else { "" };
        for shape in shapes(report, scale, task, y) {
            match shape {
                Shape::Mark { word, x, y } => {
                    path(
                        format!("mark s-{word}"),
                        format_args!("M{x:.1} {y:.1}l5 5l-5 5l-5-5z"),
                    );
                }
                Shape::Wait { from, to, y } => {
                    path("wait".to_owned(), format_args!("M{from:.1} {y:.1}H{to:.1}"));
                }
                Shape::Bar { word, x, y, width } => path(
                    format!("bar s-{word}{critical}"),
                    format_args!("M{x:.1} {y:.0}h{width:.1}v12h-{width:.1}z"),
                ),
            }
        }
    }
    for (class, data) in paths {
        let _ = write!(out, "<path class=\"{class}\" d=\"{data}\"/>");
    }
    out.push_str("</svg>");
}

/// One task's row: its label, a bar per attempt, the waits between them, or a marker.
fn task_row(report: &RunReport, scale: &Scale, index: usize, y: f64, out: &mut String) {
    let task = &report.tasks[index];
    let critical = if task.critical { " crit" } else { "" };
    let _ = write!(
        out,
        "<a href=\"#t{index}\" class=\"row s-{}{critical}\"><title>{}</title><text x=\"6\" y=\"{:.0}\">{}</text>",
        task.outcome.word(),
        esc(&hover_text(report, task)),
        y + 13.0,
        esc(&label(&task.name, task.group.as_deref())),
    );
    if let Some(tag) = tag(task) {
        let _ = write!(
            out,
            "<text class=\"tag\" x=\"{:.0}\" y=\"{:.0}\">{tag}</text>",
            BARS_FROM - 6.0,
            y + 13.0
        );
    }
    for shape in shapes(report, scale, task, y) {
        match shape {
            Shape::Mark { word, x, y } => {
                let _ = write!(
                    out,
                    "<path class=\"mark s-{word}\" d=\"M{x:.1} {y:.1}l5 5l-5 5l-5-5z\"/>"
                );
            }
            Shape::Wait { from, to, y } => {
                let _ = write!(
                    out,
                    "<line class=\"wait\" x1=\"{from:.1}\" x2=\"{to:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>"
                );
            }
            Shape::Bar { word, x, y, width } => {
                let _ = write!(
                    out,
                    "<rect class=\"bar s-{word}\" x=\"{x:.1}\" y=\"{y:.0}\" width=\"{width:.1}\" height=\"12\"/>"
                );
            }
        }
    }
    out.push_str("</a>");
}

/// What a row draws, in the SVG's units.
enum Shape {
    /// Decided without running: a diamond (its top) where it was decided.
    Mark { word: &'static str, x: f64, y: f64 },
    /// The wait before a retry.
    Wait { from: f64, to: f64, y: f64 },
    /// An attempt (its top left corner).
    Bar {
        word: &'static str,
        x: f64,
        y: f64,
        width: f64,
    },
}

fn shapes(report: &RunReport, scale: &Scale, task: &TaskReport, y: f64) -> Vec<Shape> {
    let end = report.end_ms();
    let mut shapes = Vec::with_capacity(task.attempts.len());
    let mut previous_end: Option<i64> = None;
    for attempt in &task.attempts {
        if attempt.number == 0 || !task.outcome.ran() && attempt.started_ms.is_none() {
            let at = attempt
                .ended_ms
                .or(attempt.started_ms)
                .unwrap_or(report.started_ms);
            shapes.push(Shape::Mark {
                word: attempt.outcome.word(),
                x: scale.x(at),
                y: y + 4.0,
            });
            continue;
        }
        let Some(start) = attempt.started_ms else {
            continue;
        };
        if let Some(before) = previous_end {
            shapes.push(Shape::Wait {
                from: scale.x(before),
                to: scale.x(start),
                y: y + 9.0,
            });
        }
        let stop = attempt.ended_ms.unwrap_or(end);
        let x = scale.x(start);
        shapes.push(Shape::Bar {
            word: attempt.outcome.word(),
            x,
            y: y + 3.0,
            width: (scale.x(stop) - x).max(1.5),
        });
        previous_end = Some(stop);
    }
    shapes
}

/// A matrix task: a summary row spanning its items, its items inside.
fn group(report: &RunReport, scale: &Scale, name: &str, items: &[usize], out: &mut String) {
    let tasks = || items.iter().map(|&i| &report.tasks[i]);
    let worst = tasks().map(|t| t.outcome).min().unwrap_or(Outcome::Unknown);
    let times = tasks()
        .flat_map(|t| &t.attempts)
        .flat_map(|a| [a.started_ms, a.ended_ms]);
    let (from, to) = times
        .flatten()
        .fold((i64::MAX, i64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
    let critical = if tasks().any(|t| t.critical) {
        " crit"
    } else {
        ""
    };
    let open = if items.len() <= OPEN_GROUP {
        " open"
    } else {
        ""
    };
    let _ = write!(
        out,
        "<details class=\"group\"{open}><summary><svg class=\"tl\" viewBox=\"0 0 {WIDTH} {ROW}\"><g class=\"row s-{}{critical}\"><title>{}: {} items, {}</title><text x=\"18\" y=\"13\">{} ×{}</text>",
        worst.word(),
        esc(name),
        items.len(),
        worst.word(),
        esc(&label(name, None)),
        items.len()
    );
    if from <= to {
        let x = scale.x(from);
        let width = (scale.x(to) - x).max(1.5);
        let _ = write!(
            out,
            "<rect class=\"bar span s-{}\" x=\"{x:.1}\" y=\"3\" width=\"{width:.1}\" height=\"12\" rx=\"2\"/>",
            worst.word()
        );
    }
    out.push_str("</g></svg></summary>");
    rows(report, scale, items, out);
    out.push_str("</details>");
}

/// The row's label: a matrix item by its values, long names cut.
fn label(name: &str, group: Option<&str>) -> String {
    let shown = match group {
        Some(group) if name.starts_with(group) && name.len() > group.len() => {
            format!("  {}", &name[group.len()..])
        }
        _ => name.to_owned(),
    };
    if shown.chars().count() > LABEL_CHARS {
        let cut: String = shown.chars().take(LABEL_CHARS - 1).collect();
        format!("{cut}…")
    } else {
        shown
    }
}

/// Where it ran: `thread`, `process`, `slurm`.
fn tag(task: &TaskReport) -> Option<&'static str> {
    match (task.executor, task.isolation) {
        (Some("slurm"), _) if task.isolation == Some("process") => Some("slurm"),
        (_, isolation) => isolation,
    }
}

/// What hovering or focusing a row shows: name, outcome, each attempt's times and exit.
pub fn hover_text(report: &RunReport, task: &TaskReport) -> String {
    let mut text = format!("{}: {}", task.name, task.outcome.word());
    for attempt in &task.attempts {
        if attempt.number == 0 {
            if let Some(reason) = &attempt.reason {
                let _ = write!(text, " ({reason})");
            }
            continue;
        }
        if task.attempts.len() > 1 {
            let _ = write!(
                text,
                "\nattempt {}: {}",
                attempt.number,
                attempt.outcome.word()
            );
        }
        if let Some(start) = attempt.started_ms {
            let _ = write!(text, ", {}", offset(start - report.started_ms));
            if let Some(end) = attempt.ended_ms {
                let _ = write!(
                    text,
                    " to {} ({})",
                    offset(end - report.started_ms),
                    super::page::duration(end - start)
                );
            }
        }
        if let (Some(exit), false) = (&attempt.exit, attempt.outcome == Outcome::Succeeded) {
            let _ = write!(text, ", {exit}");
        }
    }
    text
}

/// How many attempts ran at each moment, under the timeline, with `-j` as a line.
fn strip(report: &RunReport, scale: &Scale, out: &mut String) {
    const HEIGHT: f64 = 64.0;
    let steps = report.concurrency();
    let jobs = report.jobs.unwrap_or(0);
    #[expect(clippy::cast_precision_loss, reason = "task counts are small")]
    let top = (report.peak as f64).max(jobs as f64).max(1.0);
    let y = |count: f64| HEIGHT - 4.0 - count / top * (HEIGHT - 16.0);
    let mut path = format!("M{BARS_FROM:.1} {:.1}", y(0.0));
    for &(at, count) in &steps {
        let x = scale.x(at);
        #[expect(clippy::cast_precision_loss, reason = "task counts are small")]
        let count = count as f64;
        let _ = write!(path, "H{x:.1}V{:.1}", y(count));
    }
    let _ = write!(path, "H{:.1}V{:.1}Z", BARS_FROM + BARS_WIDTH, y(0.0));
    let _ = write!(
        out,
        "<svg class=\"tl strip\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"tasks running at once: at most {}\"><text x=\"6\" y=\"28\">running at once</text><text x=\"6\" y=\"44\" class=\"tag-l\">at most {}</text><path class=\"area\" d=\"{path}\"/>",
        report.peak, report.peak
    );
    if jobs > 0 {
        #[expect(clippy::cast_precision_loss, reason = "task counts are small")]
        let line = y(jobs as f64);
        let _ = write!(
            out,
            "<line class=\"jobs\" x1=\"{BARS_FROM}\" x2=\"{:.1}\" y1=\"{line:.1}\" y2=\"{line:.1}\"/><text class=\"tag\" x=\"{:.0}\" y=\"{:.1}\">-j {jobs}</text>",
            BARS_FROM + BARS_WIDTH,
            BARS_FROM - 6.0,
            line + 4.0
        );
    }
    out.push_str("</svg>");
}
