//! `engine runs`, `engine status` and `engine logs`: what the run record says.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use super::args::{ListFormat, LogsArgs, RunsArgs, StatusArgs};
use crate::error::EngineError;
use crate::model::ItemCounts;
use crate::record::explain::{Recorded, Verdict, explain, in_file_order, lines};
use crate::record::store::{AttemptRow, RunRow};
use crate::record::{AttemptStatus, Store, StoreError, lock};
use crate::report::format_duration;
use crate::state_dir::StateDir;

/// The record, if the state dir has one.
fn open(state_dir: &StateDir) -> Result<Option<Store>, EngineError> {
    Store::open_existing(state_dir).map_err(StoreError::into_engine_error)
}

/// `2026-11-25 22:41:26` (UTC) for milliseconds since the epoch.
fn timestamp(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (year, month, day) = super::run_id::civil_date(secs.div_euclid(86_400));
    let rest = secs.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rest / 3600,
        (rest / 60) % 60,
        rest % 60
    )
}

fn millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms.max(0)).unwrap_or(0))
}

/// What became of a run: its recorded outcome; without one, running (its engine holds the
/// workflow's lock) or died (the engine was killed: `--resume` continues it).
fn outcome(run: &RunRow, running: Option<&str>) -> &'static str {
    match run.outcome() {
        Some(Ok(outcome)) => outcome.as_str(),
        Some(Err(_)) => "unknown",
        None if running == Some(run.id.as_str()) => "running",
        None => "died",
    }
}

/// `engine runs FILE`.
///
/// # Errors
/// A damaged record; stdout closed.
pub fn runs(args: &RunsArgs) -> Result<(), EngineError> {
    let dir = StateDir::resolve(args.state_dir.as_deref(), &args.file);
    let key = dir.workflow_key(&args.file);
    let runs = match open(&dir)? {
        Some(store) => store
            .runs(&key, args.limit)
            .map_err(StoreError::into_engine_error)?,
        None => Vec::new(),
    };
    let holder = lock::holder(&dir, &key).and_then(|holder| holder.run);
    let running = holder.as_deref();
    if args.format == ListFormat::Json {
        let list: Vec<serde_json::Value> = runs
            .iter()
            .map(|run| {
                serde_json::json!({
                    "id": run.id,
                    "started_ms": run.started_ms,
                    "ended_ms": run.ended_ms,
                    "duration_ms": run.ended_ms.map(|end| end - run.started_ms),
                    "outcome": outcome(run, running),
                    "resumed_from": run.resumed_from,
                    "tasks": run.tasks,
                    "succeeded": run.counts.succeeded,
                    "failed": run.counts.failed,
                    "skipped": run.counts.skipped,
                    "up_to_date": run.counts.up_to_date,
                    "cancelled": run.counts.cancelled,
                })
            })
            .collect();
        return super::write_stdout(&format!("{:#}\n", serde_json::Value::from(list)));
    }
    if runs.is_empty() {
        return super::write_stdout(&format!(
            "no runs of {} are recorded in {}\n",
            args.file.display(),
            dir.shown().display()
        ));
    }
    let mut rows = vec![[
        "RUN".to_owned(),
        "STARTED (UTC)".to_owned(),
        "DURATION".to_owned(),
        "OUTCOME".to_owned(),
        "TASKS".to_owned(),
    ]];
    for run in &runs {
        let duration = run.ended_ms.map_or_else(
            || "-".to_owned(),
            |end| format_duration(millis(end - run.started_ms)),
        );
        let outcome = outcome(run, running);
        let counts = if run.ended_ms.is_some() {
            counts_text(run)
        } else {
            format!("{} selected", run.tasks)
        };
        let mut outcome = outcome.to_owned();
        if let Some(from) = &run.resumed_from {
            let _ = write!(outcome, " (resumed {from})");
        }
        rows.push([
            run.id.clone(),
            timestamp(run.started_ms),
            duration,
            outcome,
            counts,
        ]);
    }
    super::write_stdout(&table(&rows))
}

fn counts_text(run: &RunRow) -> String {
    let counts = run.counts;
    let mut parts = vec![format!("{} ok", counts.succeeded)];
    for (count, word) in [
        (counts.failed, "failed"),
        (counts.up_to_date, "up to date"),
        (counts.skipped, "skipped"),
        (counts.cancelled, "interrupted"),
    ] {
        if count > 0 {
            parts.push(format!("{count} {word}"));
        }
    }
    parts.join(", ")
}

/// Left-aligned columns, two spaces apart.
fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == N {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ", width = widths[i]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// How an attempt ended, in a word or two.
fn last_word(row: &AttemptRow) -> &str {
    // A word this engine does not know is shown as stored.
    match row.state() {
        Ok(AttemptStatus::UpToDate) => "up to date",
        Ok(AttemptStatus::Resumed) => "carried over",
        Ok(AttemptStatus::TimedOut) => "timed out",
        Ok(status) => status.as_str(),
        Err(_) => row.status.as_str(),
    }
}

/// The last state of several items of one matrix task on one line: of one, its own; when
/// all ended alike, how, with the latest end (`succeeded 2026-11-25 22:41:26`); else how
/// many ended each way (`30 succeeded, 3 failed`).
fn last_states(rows: &[Option<&AttemptRow>]) -> String {
    const NEVER: &str = "never ran";
    if let [row] = rows {
        return row.map_or_else(|| NEVER.to_owned(), last_state);
    }
    let mut words: Vec<(&str, usize)> = Vec::new();
    for word in rows.iter().map(|row| row.map_or(NEVER, last_word)) {
        match words.iter_mut().find(|(known, _)| *known == word) {
            Some((_, count)) => *count += 1,
            None => words.push((word, 1)),
        }
    }
    if let [(word, _)] = words.as_slice() {
        let end = rows
            .iter()
            .flatten()
            .filter_map(|row| row.ended_ms.or(row.started_ms))
            .max();
        return match end {
            Some(end) => format!("{word} {}", timestamp(end)),
            None => (*word).to_owned(),
        };
    }
    let counts: Vec<String> = words
        .iter()
        .map(|(word, count)| format!("{count} {word}"))
        .collect();
    counts.join(", ")
}

/// "succeeded 2026-11-25 22:41:26 in 1.2s (run …)".
fn last_state(row: &AttemptRow) -> String {
    let mut text = last_word(row).to_owned();
    if let Some(end) = row.ended_ms.or(row.started_ms) {
        let _ = write!(text, " {}", timestamp(end));
    }
    if let (Some(start), Some(end)) = (row.started_ms, row.ended_ms) {
        let _ = write!(text, " in {}", format_duration(millis(end - start)));
    }
    if row.attempt > 1 {
        let _ = write!(text, " (attempt {})", row.attempt);
    }
    text
}

/// `engine status FILE [TASK...]`.
///
/// # Errors
/// An invalid workflow, an unknown task, a damaged record; stdout closed.
pub fn status(args: &StatusArgs) -> Result<(), EngineError> {
    let (workflow, targets) = super::load_for(&args.file, &args.tasks, &[], &args.vars)?;
    let graph = super::select(&workflow, &targets, &args.file)?;
    let dir = StateDir::resolve(args.state_dir.as_deref(), &args.file);
    let key = dir.workflow_key(&args.file);
    let store = open(&dir)?;
    let recorded = Recorded::read(store.as_ref(), &key).map_err(StoreError::into_engine_error)?;
    let latest = match &store {
        Some(store) => store
            .latest_attempts(&key)
            .map_err(StoreError::into_engine_error)?,
        None => std::collections::HashMap::default(),
    };
    let verdicts = in_file_order(&graph, explain(&workflow, &graph, &recorded));
    if args.format == ListFormat::Json {
        let counts = ItemCounts::of(&workflow);
        let list: Vec<serde_json::Value> = verdicts
            .iter()
            .map(|(task, verdict)| {
                let name = &workflow.task(*task).name;
                let last = latest.get(name);
                serde_json::json!({
                    "task": name,
                    "last": last.map(|row| serde_json::json!({
                        "run": row.run,
                        "status": row.status,
                        "attempt": row.attempt,
                        "started_ms": row.started_ms,
                        "ended_ms": row.ended_ms,
                        "exit_code": row.exit_code,
                        "signal": row.signal,
                        "reason": row.reason,
                    })),
                    "now": verdict.kind(),
                    "why": verdict.describe(&workflow, &counts, true),
                })
            })
            .collect();
        return super::write_stdout(&format!("{:#}\n", serde_json::Value::from(list)));
    }
    let mut rows = vec![["TASK".to_owned(), "LAST".to_owned(), "NOW".to_owned()]];
    for line in lines(&workflow, &verdicts, args.verbose) {
        let last: Vec<Option<&AttemptRow>> = line
            .tasks
            .iter()
            .map(|task| latest.get(&workflow.task(*task).name))
            .collect();
        rows.push([line.name, last_states(&last), line.verdict]);
    }
    let mut text = table(&rows);
    let runs = verdicts
        .iter()
        .filter(|(_, verdict)| !matches!(verdict, Verdict::UpToDate))
        .count();
    let _ = writeln!(
        text,
        "\n{} of {} tasks would run; {} up to date",
        runs,
        verdicts.len(),
        verdicts.len() - runs
    );
    super::write_stdout(&text)
}

/// `engine logs FILE TASK [--run ID]`.
///
/// # Errors
/// No such task or run, no log recorded; stdout closed.
pub fn logs(args: &LogsArgs) -> Result<(), EngineError> {
    let task = args
        .task
        .as_deref()
        .expect("the command line's wiring requires a task");
    let dir = StateDir::resolve(args.state_dir.as_deref(), &args.file);
    let key = dir.workflow_key(&args.file);
    let shown = args.file.display();
    let Some(store) = open(&dir)? else {
        return Err(EngineError::Usage {
            message: format!(
                "no runs of {shown} are recorded in {}",
                dir.shown().display()
            ),
            hint: Some(format!("run it with `engine run {shown}`")),
        });
    };
    let runs: Vec<RunRow> = match &args.run {
        Some(id) => {
            let run = store
                .run_of(&key, id)
                .map_err(StoreError::into_engine_error)?;
            match run {
                Some(run) => vec![run],
                None => {
                    return Err(EngineError::Usage {
                        message: format!("no run `{id}` of {shown} is recorded"),
                        hint: Some(format!("`engine runs {shown}` lists them")),
                    });
                }
            }
        }
        None => store
            .runs(&key, usize::MAX)
            .map_err(StoreError::into_engine_error)?,
    };
    for run in &runs {
        let attempts = store
            .attempts(&run.id)
            .map_err(StoreError::into_engine_error)?;
        let log = attempts
            .iter()
            .filter(|row| row.task == task && row.attempt > 0)
            .find_map(|row| row.log.clone());
        if let Some(log) = log {
            // Recorded relative to the state dir.
            let log = dir.shown().join(log).to_string_lossy().into_owned();
            if !Path::new(&log).exists() {
                // engine writes a log only for a task that printed something.
                eprintln!(
                    "engine: `{}` printed nothing in run {} (it has no log)",
                    task, run.id
                );
                return Ok(());
            }
            let text = std::fs::read(&log).map_err(EngineError::io(format!(
                "cannot read the log of `{}` in run {} at `{log}`",
                task, run.id
            )))?;
            let mut out = std::io::stdout().lock();
            return match std::io::Write::write_all(&mut out, &text) {
                Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(EngineError::io("cannot write to stdout")(error))
                }
                _ => Ok(()),
            };
        }
    }
    let known = crate::validate::load_workflow(&args.file)
        .ok()
        .is_some_and(|workflow| workflow.find(task).is_some());
    Err(EngineError::Usage {
        message: if known {
            match &args.run {
                Some(id) => format!("task `{task}` did not run in run {id}"),
                None => format!("task `{task}` has not run in any recorded run"),
            }
        } else {
            format!("no task named `{task}` in {shown}")
        },
        hint: Some(format!(
            "`engine status {shown}` shows each task's last run"
        )),
    })
}
