//! `engine run`'s shortcut for a run that would find every task up to date again
//! (`record::unchanged`): asked the same as a run that found everything up to date, with
//! nothing it looked at changed since, the run is recorded and reported as that one was,
//! without loading the workflow or checking a task. Every other run notes what it looks at
//! (`files::observe`) and, when it finds every task up to date, leaves the list.
//!
//! Taken only when the output would be the summary line alone: no `--events`,
//! `--report` or `--verbose`; and never with `--watch`, `--force`, `--resume`, `--executor` or
//! `--no-record`.

use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::MetadataExt as _;
use std::time::Instant;

use super::args::RunArgs;
use crate::error::EngineError;
use crate::files::{Digest, observe};
use crate::record::lock;
use crate::record::store::{Counts, RunRow, now_ms};
use crate::record::unchanged::{self, Unchanged};
use crate::record::{RunOutcome, Store};
use crate::schedule::Summary;
use crate::state_dir::StateDir;

/// Whether this run may be answered from the list, and may leave one.
pub(crate) fn applies(args: &RunArgs) -> bool {
    // Without `--verbose`, a run that finds everything up to date prints its summary line
    // alone, whatever the progress.
    !args.verbose
        && !args.watch
        && !args.dry_run
        && !args.no_record
        && !args.resume
        && args.force.is_empty()
        && args.events.is_none()
        && args.report.is_none()
        && args.executor.is_none()
}

/// What the run is asked, as one digest: this engine (its version and its file), the
/// directory it runs in, the command line's workflow, tasks (with their parameters), `--`
/// words, variables and state dir, and the environment but the variables `ignored`
/// (templates, secrets and `PATH` read it).
fn request(args: &RunArgs, ignored: &[String]) -> Digest {
    let mut hasher = blake3::Hasher::new();
    let mut field = |bytes: &[u8]| {
        hasher.update(&(bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    field(env!("CARGO_PKG_VERSION").as_bytes());
    if let Some(exe) = std::env::current_exe()
        .ok()
        .and_then(|exe| std::fs::metadata(exe).ok())
    {
        let stamp = crate::files::Stamp::of(&exe);
        field(&stamp.dev.to_le_bytes());
        field(&stamp.ino.to_le_bytes());
        field(&stamp.size.to_le_bytes());
        field(&stamp.mtime_ns.to_le_bytes());
    }
    field(
        std::env::current_dir()
            .unwrap_or_default()
            .as_os_str()
            .as_bytes(),
    );
    field(args.file.as_os_str().as_bytes());
    field(&(args.tasks.len() as u64).to_le_bytes());
    for task in &args.tasks {
        field(task.as_bytes());
    }
    field(&(args.args.len() as u64).to_le_bytes());
    for word in &args.args {
        field(word.as_bytes());
    }
    field(&(args.vars.len() as u64).to_le_bytes());
    for (name, value) in &args.vars {
        field(name.as_bytes());
        field(value.as_bytes());
    }
    match &args.state_dir {
        Some(dir) => field(dir.as_os_str().as_bytes()),
        None => field(b""),
    }
    let mut environment: Vec<_> = std::env::vars_os()
        .filter(|(name, _)| !ignored.iter().any(|ignored| name == ignored.as_str()))
        .collect();
    environment.sort();
    field(&(environment.len() as u64).to_le_bytes());
    for (name, value) in &environment {
        field(name.as_bytes());
        field(value.as_bytes());
    }
    *hasher.finalize().as_bytes()
}

/// The run answered from the list, when the list holds: recorded and its summary printed.
/// `None`: run as usual.
///
/// # Errors
/// The record cannot be written.
pub(crate) fn answer(args: &RunArgs) -> Result<Option<()>, EngineError> {
    let started = Instant::now();
    let state_dir = StateDir::resolve(args.state_dir.as_deref(), &args.file);
    let key = state_dir.workflow_key(&args.file);
    let path = unchanged::path(&state_dir, &key);
    if !path.exists() {
        return Ok(None);
    }
    let run_id = super::run_id::run_id();
    // Held while the list is read and the run recorded: no other run changes the record
    // meanwhile. Held by another run: run as usual, which waits or refuses as always.
    let Ok(_lock) = lock::acquire(&state_dir, &key, &run_id, false, |_| {}) else {
        return Ok(None);
    };
    let Some(list) = unchanged::read(&state_dir, &key) else {
        return Ok(None);
    };
    if list.request != request(args, &list.ignored) || !list.holds(&state_dir.record()) {
        return Ok(None);
    }
    let Ok(Some(mut store)) = Store::open_existing(&state_dir) else {
        return Ok(None);
    };
    let tasks = i64::try_from(list.tasks).unwrap_or(i64::MAX);
    let joins = i64::try_from(list.joins).unwrap_or(i64::MAX);
    let row = RunRow {
        id: run_id.clone(),
        workflow: key,
        workflow_hash: list.workflow_hash.clone(),
        started_ms: now_ms() - i64::try_from(started.elapsed().as_millis()).unwrap_or(0),
        pid: std::process::id(),
        args: list.args.clone(),
        tasks: tasks.saturating_add(joins),
        ..RunRow::default()
    };
    let counts = Counts {
        up_to_date: tasks,
        succeeded: joins,
        ..Counts::default()
    };
    let pruned = store
        .transaction(|writer| {
            writer.insert_run(&row)?;
            writer.finish_run(&row.id, now_ms(), RunOutcome::Succeeded, counts)?;
            writer.prune(&row.workflow, crate::record::prune::RUNS_KEPT)
        })
        .map_err(crate::record::StoreError::into_engine_error)?;
    crate::record::prune::remove_runs(&state_dir, &pruned);
    let summary = Summary {
        up_to_date: list.tasks,
        succeeded: list.joins,
        ..Summary::default()
    };
    let text = crate::report::summary_line(&summary, list.joins, started.elapsed());
    let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), text.as_bytes());
    Ok(Some(()))
}

/// Starts noting what this run looks at, when it may leave a list.
pub(crate) fn observe(args: &RunArgs) {
    if applies(args) {
        observe::start();
    }
}

/// After a run that found every task up to date (`summary`; its only successes the
/// `idle_joins`, join points after up-to-date dependencies), leaves the list for the next,
/// with what its row in the record keeps of its request (`run`).
/// Nothing is left (and nothing said) when the run did anything else, or looked at
/// something the list cannot stand for; a list that cannot be written is left out too: the
/// next run checks every task as usual.
pub(crate) fn leave(
    args: &RunArgs,
    state_dir: &StateDir,
    summary: &Summary,
    idle_joins: usize,
    run: (String, String),
) {
    let Some(seen) = observe::finish() else {
        return;
    };
    let tasks = summary.up_to_date;
    let all_up_to_date = !summary.interrupted
        && tasks > 0
        && summary.succeeded == idle_joins
        && summary.failed + summary.allowed_failures == 0
        && summary.skipped + summary.cancelled + summary.resumed == 0;
    if !all_up_to_date || !applies(args) {
        return;
    }
    let Ok(record) = std::fs::metadata(state_dir.record()) else {
        return;
    };
    let key = state_dir.workflow_key(&args.file);
    let Some(started) = seen.started else { return };
    let ignored: Vec<String> = observe::SHELL_VARIABLES
        .iter()
        .filter(|name| !seen.mentioned.contains(name))
        .map(|name| (*name).to_owned())
        .collect();
    if let Ok(list) = Unchanged::of(
        seen,
        started,
        request(args, &ignored),
        (record.dev(), record.ino()),
        ignored,
        (tasks, idle_joins),
        run,
    ) {
        let _ = unchanged::write(state_dir, &key, &list);
    }
}
