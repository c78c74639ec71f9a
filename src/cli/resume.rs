//! `engine run --resume`: which run it continues, and the request of that run (its tasks,
//! variables, `--force` and `--` arguments) decoded from the record, where the command line
//! does not give them anew.

use super::args::RunArgs;
use crate::error::EngineError;
use crate::record::{Resume, RunOutcome, Store, StoreError};

/// The run `--resume` continues.
pub(crate) struct Resuming {
    /// What it finished.
    pub(crate) finished: Resume,
    /// The tasks selected: those given now, else those of the run continued.
    pub(crate) tasks: Vec<String>,
    /// The variables: those given now, else those of the run continued.
    pub(crate) vars: Vec<(String, String)>,
    /// `--force`: as given now, else as the run continued had it.
    pub(crate) force: Vec<String>,
    /// The words after `--` (`${{ args }}` of the last task named): those given now, else,
    /// when no task is named now either, those of the run continued (as recorded: masked).
    pub(crate) args: Vec<String>,
}

/// The last run of the workflow keyed `workflow`, which must not have succeeded, and what it
/// finished.
///
/// # Errors
/// No run is recorded, or the last one succeeded; the record cannot be read.
pub(crate) fn find_resume(
    store: &Store,
    workflow: &str,
    args: &RunArgs,
) -> Result<Resuming, EngineError> {
    let shown = args.file.display();
    let last = store
        .runs(workflow, 1)
        .map_err(StoreError::into_engine_error)?
        .into_iter()
        .next();
    let Some(last) = last else {
        return Err(EngineError::Usage {
            message: format!("nothing to resume: no run of {shown} is recorded"),
            hint: Some(format!("start one with `engine run {shown}`")),
        });
    };
    if last.outcome() == Some(Ok(RunOutcome::Succeeded)) {
        return Err(EngineError::Usage {
            message: format!(
                "nothing to resume: the last run of {shown} ({}) succeeded",
                last.id
            ),
            hint: Some(format!(
                "run it again with `engine run {shown}` (tasks that are up to date are skipped)"
            )),
        });
    }
    let finished = crate::record::journal::finished_tasks(store, &last.id)
        .map_err(StoreError::into_engine_error)?;
    let stored: serde_json::Value = serde_json::from_str(&last.args).unwrap_or_default();
    let strings = |key: &str| -> Vec<String> {
        stored[key]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let tasks = if args.tasks.is_empty() {
        strings("tasks")
    } else {
        args.tasks.clone()
    };
    let vars = if args.vars.is_empty() {
        stored["vars"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|pair| {
                        Some((pair[0].as_str()?.to_owned(), pair[1].as_str()?.to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default()
    } else {
        args.vars.clone()
    };
    let force = if args.force.is_empty() {
        strings("force")
    } else {
        args.force.clone()
    };
    // They belong to the last task named: tasks named anew get only those given now.
    let words = if args.tasks.is_empty() && args.args.is_empty() {
        strings("args")
    } else {
        args.args.clone()
    };
    Ok(Resuming {
        finished,
        tasks,
        vars,
        force,
        args: words,
    })
}
