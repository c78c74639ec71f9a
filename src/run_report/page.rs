//! The page: one self-contained HTML document for a `RunReport`, with its stylesheet (light
//! and dark schemes, print) and a small optional script inline. Nothing on it refers to the
//! network, and everything shows with scripts off. Every text is escaped here; it was masked
//! when the report was built.

use std::fmt::Write as _;

use super::model::{Outcome, RunReport, TAIL_LINES, TaskReport};

/// The stylesheet.
const STYLE: &str = include_str!("report.css");
/// Conveniences only: the task filter, the focused bar's details, everything open to print,
/// and when the page was laid out (`data-laid-out-ms`, for the benchmarks).
const SCRIPT: &str = include_str!("report.js");

/// Lines of a failure's output in the summary at the top.
const SUMMARY_LINES: usize = 5;

/// Escapes text for HTML content and attribute values.
#[must_use]
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A length of time, `1.2s`.
#[must_use]
pub fn duration(ms: i64) -> String {
    crate::report::format_duration(std::time::Duration::from_millis(
        u64::try_from(ms.max(0)).unwrap_or(0),
    ))
}

/// A moment after the run's start, `+1.2s`.
#[must_use]
pub fn offset(ms: i64) -> String {
    format!("+{}", duration(ms))
}

/// `2026-11-25 22:41:26 UTC` for milliseconds since the epoch.
#[must_use]
pub fn timestamp(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    // Days to a civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        (rest / 60) % 60,
        rest % 60
    )
}

/// A recorded reason as words: `dependency_failed` is "dependency failed".
fn reason_text(reason: &str) -> String {
    reason.replace('_', " ")
}

/// The whole document. `log_hint` says how to read a task's full log (its `%TASK%` is
/// replaced by the task's name, its `%PATH%` by the log's path in the state dir).
#[must_use]
pub fn render(report: &RunReport, log_hint: &str) -> String {
    let mut out = String::with_capacity(4096 + report.tasks.len() * 1200);
    let title = format!(
        "{} · run {} · {}",
        report.workflow, report.run_id, report.outcome
    );
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"color-scheme\" content=\"light dark\"><meta name=\"generator\" content=\"engine {}\"><title>{}</title><style>{STYLE}</style></head><body>",
        esc(&report.version),
        esc(&title)
    );
    header(report, &mut out);
    out.push_str("<nav aria-label=\"sections\"><a href=\"#failures\">Failures</a><a href=\"#timeline\">Timeline</a><a href=\"#graph\">Graph</a><a href=\"#tasks\">Tasks</a></nav><main>");
    failures(report, &mut out);
    out.push_str("<section id=\"timeline\"><h2>Timeline</h2>");
    legend(report, &mut out);
    out.push_str("<div class=\"timeline\">");
    super::timeline::timeline(report, &mut out);
    out.push_str("</div><p id=\"info\" class=\"info\" aria-live=\"polite\"></p></section>");
    out.push_str("<section id=\"graph\"><h2>Graph</h2>");
    super::graph::graph(report, &mut out);
    out.push_str("</section>");
    tasks(report, log_hint, &mut out);
    let _ = writeln!(
        out,
        "</main><footer>Written by engine {} from the run record. Times are since the run started.</footer><script>{SCRIPT}</script></body></html>",
        esc(&report.version)
    );
    out
}

fn header(report: &RunReport, out: &mut String) {
    let outcome = report.outcome.as_str();
    let _ = write!(
        out,
        "<header><h1><span class=\"wf\">{}</span> <span class=\"badge o-{}\">{}</span></h1><dl class=\"facts\">",
        esc(&report.workflow),
        esc(outcome),
        esc(outcome)
    );
    let mut fact = |name: &str, value: &str| {
        let _ = write!(out, "<div><dt>{name}</dt><dd>{value}</dd></div>");
    };
    fact("run", &format!("<code>{}</code>", esc(&report.run_id)));
    fact("started", &esc(&timestamp(report.started_ms)));
    fact(
        "duration",
        &report.ended_ms.map_or_else(
            || "did not end".to_owned(),
            |end| esc(&duration(end - report.started_ms)),
        ),
    );
    let [succeeded, failed, skipped, up_to_date, cancelled] = report.counts;
    let mut counts = format!("{} selected: {succeeded} succeeded", report.selected);
    for (count, word) in [
        (failed, "failed"),
        (up_to_date, "up to date"),
        (skipped, "skipped"),
        (cancelled, "interrupted"),
    ] {
        if count > 0 {
            let _ = write!(counts, ", {count} {word}");
        }
    }
    fact("tasks", &esc(&counts));
    if let Some(jobs) = report.jobs {
        fact(
            "jobs",
            &format!("-j {jobs}, at most {} at once", report.peak),
        );
    }
    if let Some(from) = &report.resumed_from {
        fact("resumed from", &format!("<code>{}</code>", esc(from)));
    }
    fact("engine", &esc(&report.version));
    if let Some(command) = &report.command {
        fact("command", &format!("<code>{}</code>", esc(command)));
    }
    out.push_str("</dl>");
    if let Some(note) = &report.workflow_note {
        let _ = write!(out, "<p class=\"note\">{}</p>", esc(note));
    }
    out.push_str("</header>");
}

fn failures(report: &RunReport, out: &mut String) {
    let failed: Vec<(usize, &TaskReport)> = report
        .tasks
        .iter()
        .enumerate()
        .filter(|(_, task)| task.outcome.is_failure())
        .collect();
    out.push_str("<section id=\"failures\"><h2>Failures</h2>");
    if failed.is_empty() {
        out.push_str("<p class=\"ok\">No task failed.</p></section>");
        return;
    }
    out.push_str("<ol class=\"failures\">");
    for (index, task) in failed {
        let last = task.attempts.last();
        let why = last
            .and_then(|attempt| attempt.reason.as_deref().or(attempt.exit.as_deref()))
            .map(reason_text)
            .unwrap_or_default();
        let _ = write!(
            out,
            "<li><a href=\"#t{index}\"><code>{}</code></a> <span class=\"badge s-{}\">{}</span> {}",
            esc(&task.name),
            task.outcome.word(),
            task.outcome.word(),
            esc(&why)
        );
        if let Some(log) = &task.log {
            let from = log.tail.len().saturating_sub(SUMMARY_LINES);
            let _ = write!(
                out,
                "<pre class=\"log\">{}</pre>",
                esc(&log.tail[from..].join("\n"))
            );
        }
        out.push_str("</li>");
    }
    out.push_str("</ol></section>");
}

fn legend(report: &RunReport, out: &mut String) {
    let mut seen: Vec<Outcome> = report.tasks.iter().map(|task| task.outcome).collect();
    seen.sort_unstable();
    seen.dedup();
    out.push_str("<ul class=\"legend\">");
    for outcome in seen {
        let _ = write!(
            out,
            "<li><i class=\"swatch s-{0}\"></i>{0}</li>",
            outcome.word()
        );
    }
    if !report.critical_path.is_empty() {
        let _ = write!(
            out,
            "<li><i class=\"swatch crit-swatch\"></i>critical path ({} tasks)</li>",
            report.critical_path.len()
        );
    }
    out.push_str("<li><i class=\"swatch wait-swatch\"></i>wait before a retry</li></ul>");
}

fn tasks(report: &RunReport, log_hint: &str, out: &mut String) {
    let _ = write!(
        out,
        "<section id=\"tasks\"><h2>Tasks <small>({})</small></h2><input id=\"filter\" type=\"search\" placeholder=\"filter by name or status\" aria-label=\"filter tasks\" hidden><div class=\"tasks\">",
        report.tasks.len()
    );
    // Runs of quiet tasks are table rows, in blocks the browser skips while off screen.
    let mut quiet_rows = 0;
    for (index, task) in report.tasks.iter().enumerate() {
        if quiet(task) {
            if quiet_rows % QUIET_BLOCK == 0 {
                if quiet_rows > 0 {
                    out.push_str("</tbody></table></div>");
                }
                out.push_str("<div class=\"chunk quiet\"><table class=\"quiet\"><tbody>");
            }
            quiet_row(report, index, task, out);
            quiet_rows += 1;
            continue;
        }
        if quiet_rows > 0 {
            out.push_str("</tbody></table></div>");
            quiet_rows = 0;
        }
        task_details(report, index, task, log_hint, out);
    }
    if quiet_rows > 0 {
        out.push_str("</tbody></table></div>");
    }
    out.push_str("</div></section>");
}

/// Quiet tasks in a block of table rows at most.
const QUIET_BLOCK: usize = 200;

/// A task with nothing to show but its row: succeeded at its first attempt, printed nothing,
/// no files or results.
fn quiet(task: &TaskReport) -> bool {
    task.outcome == Outcome::Succeeded
        && task.log.is_none()
        && task.cwd.is_none()
        && task.results.is_empty()
        && task.inputs.is_empty()
        && task.outputs.is_empty()
        && task.made.is_empty()
        && matches!(task.attempts.as_slice(), [attempt] if attempt.number == 1 && attempt.started_ms.is_some())
}

/// A quiet task's row: name and status (a check drawn by the stylesheet, few elements per
/// row), when and how long, where it ran, its command, what it came after.
fn quiet_row(report: &RunReport, index: usize, task: &TaskReport, out: &mut String) {
    let word = task.outcome.word();
    let attempt = &task.attempts[0];
    let start = attempt.started_ms.unwrap_or(report.started_ms);
    let took = attempt
        .ended_ms
        .map(|end| duration(end - start))
        .unwrap_or_default();
    let critical = if task.critical {
        " · critical path"
    } else {
        ""
    };
    let _ = write!(
        out,
        "<tr id=\"t{index}\" data-task=\"{}\" data-status=\"{word}\"><td>{}</td><td>{} ({took}){critical}</td><td>{}</td><td>",
        esc(&task.name),
        esc(&task.name),
        offset(start - report.started_ms),
        task.isolation.unwrap_or_default(),
    );
    // What ran, when the record has it.
    if let Some(command) = task.ran_command.as_ref().or(task.command.as_ref()) {
        out.push_str(&esc(command));
    }
    out.push_str("</td><td>");
    for (n, &dep) in task.depends_on.iter().enumerate() {
        let _ = write!(
            out,
            "{}<a href=\"#t{dep}\">{}</a>",
            if n > 0 { " " } else { "after " },
            esc(&report.tasks[dep].name)
        );
    }
    out.push_str("</td></tr>");
}

fn task_details(
    report: &RunReport,
    index: usize,
    task: &TaskReport,
    log_hint: &str,
    out: &mut String,
) {
    let word = task.outcome.word();
    let open = if task.outcome.is_failure() {
        " open"
    } else {
        ""
    };
    let ran: Vec<_> = task.attempts.iter().filter(|a| a.number > 0).collect();
    let took: i64 = ran
        .iter()
        .filter_map(|a| Some(a.ended_ms? - a.started_ms?))
        .sum();
    let mut facts = String::new();
    if !ran.is_empty() {
        let _ = write!(facts, " {}", duration(took));
    }
    if ran.len() > 1 {
        let _ = write!(facts, " · {} attempts", ran.len());
    }
    if task.critical {
        facts.push_str(" · critical path");
    }
    let _ = write!(
        out,
        "<details id=\"t{index}\" class=\"task\" data-task=\"{}\" data-status=\"{word}\"{open}><summary><span class=\"badge s-{word}\">{word}</span> <code>{}</code><span class=\"muted\">{facts}</span></summary><dl class=\"kv\">",
        esc(&task.name),
        esc(&task.name)
    );
    let mut kv = |name: &str, value: String| {
        let _ = write!(out, "<dt>{name}</dt><dd>{value}</dd>");
    };
    if let Some(command) = &task.command {
        kv(
            "command",
            format!("<pre class=\"cmd\">{}</pre>", esc(command)),
        );
    }
    // Templates filled in: shown when it differs from what is written.
    if let Some(ran) = task
        .ran_command
        .as_ref()
        .filter(|ran| Some(*ran) != task.command.as_ref())
    {
        kv("as run", format!("<pre class=\"cmd\">{}</pre>", esc(ran)));
    }
    if let Some(why) = &task.why {
        kv("ran because", esc(why));
    }
    match (task.isolation, task.executor) {
        (Some("process"), Some(executor)) => kv("runs", format!("process, {executor}")),
        (Some(isolation), _) => kv("runs", isolation.to_owned()),
        _ => {}
    }
    if let Some(cwd) = &task.cwd {
        kv("cwd", format!("<code>{}</code>", esc(cwd)));
    }
    for attempt in &task.attempts {
        let mut text = String::new();
        let name = if attempt.number == 0 {
            "decided".to_owned()
        } else {
            format!("attempt {}", attempt.number)
        };
        let _ = write!(
            text,
            "<span class=\"badge s-{0}\">{0}</span>",
            attempt.outcome.word()
        );
        if let (Some(start), number) = (attempt.started_ms, attempt.number) {
            if number > 0 {
                let _ = write!(text, " {}", offset(start - report.started_ms));
                if let Some(end) = attempt.ended_ms {
                    let _ = write!(
                        text,
                        " to {} ({})",
                        offset(end - report.started_ms),
                        duration(end - start)
                    );
                }
            }
        }
        if let (Some(exit), false) = (&attempt.exit, attempt.outcome == Outcome::Succeeded) {
            let _ = write!(text, ", {}", esc(exit));
        }
        if let Some(job) = &attempt.job_id {
            let _ = write!(text, ", slurm job {}", esc(job));
            if let Some(queued) = attempt.queued_ms {
                let _ = write!(text, " (queued {})", duration(queued));
            }
        }
        if let Some(reason) = &attempt.reason {
            let _ = write!(text, ": {}", esc(&reason_text(reason)));
        }
        kv(&name, text);
    }
    if !task.depends_on.is_empty() {
        let deps: Vec<String> = task
            .depends_on
            .iter()
            .map(|&dep| {
                format!(
                    "<a href=\"#t{dep}\"><code>{}</code></a>",
                    esc(&report.tasks[dep].name)
                )
            })
            .collect();
        kv("depends on", deps.join(" "));
    }
    let list = |items: &[String]| {
        items
            .iter()
            .map(|item| format!("<code>{}</code>", esc(item)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    if !task.results.is_empty() {
        kv("results", list(&task.results));
    }
    if !task.inputs.is_empty() {
        kv("inputs", list(&task.inputs));
    }
    if !task.outputs.is_empty() {
        kv("outputs", list(&task.outputs));
    }
    if !task.made.is_empty() {
        let made: Vec<String> = task
            .made
            .iter()
            .map(|(path, digest)| {
                format!(
                    "<code>{}</code> <code class=\"muted\" title=\"blake3 {}\">{}</code>",
                    esc(path),
                    esc(digest),
                    esc(&digest[..digest.len().min(12)])
                )
            })
            .collect();
        kv("made", made.join("<br>"));
    }
    out.push_str("</dl>");
    log(task, log_hint, out);
    out.push_str("</details>");
}

fn log(task: &TaskReport, log_hint: &str, out: &mut String) {
    let Some(log) = &task.log else {
        if task.outcome.ran() {
            out.push_str("<p class=\"muted\">It printed nothing.</p>");
        }
        return;
    };
    let shown = log.tail.len();
    let _ = write!(
        out,
        "<p class=\"muted\">Output: {} lines{}</p><pre class=\"log\">{}</pre>",
        log.lines,
        if log.lines > shown {
            format!(", the last {TAIL_LINES}")
        } else {
            String::new()
        },
        esc(&log.tail.join("\n"))
    );
    let hint = log_hint
        .replace("%TASK%", &task.name)
        .replace("%PATH%", &log.path);
    match &log.full {
        Some(full) => {
            let _ = write!(
                out,
                "<details class=\"full\"><summary>Full log ({} KiB{})</summary><pre class=\"log\">{}</pre></details>",
                log.bytes.div_ceil(1024),
                if log.cut {
                    ", cut here: the rest is in the file"
                } else {
                    ""
                },
                esc(full)
            );
            if log.cut {
                let _ = write!(out, "<p class=\"muted\">The full log: {}</p>", esc(&hint));
            }
        }
        None if log.lines > shown => {
            let _ = write!(out, "<p class=\"muted\">The full log: {}</p>", esc(&hint));
        }
        None => {}
    }
}
