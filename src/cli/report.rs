//! `engine report` and `engine run --report`: find the run in the record and the workflow
//! file it ran, and have `run_report` write the page. Wiring only.

use std::path::{Path, PathBuf};

use super::args::ReportArgs;
use crate::error::EngineError;
use crate::model::Workflow;
use crate::record::store::RunRow;
use crate::record::{Store, StoreError};
use crate::run_report::{ReportError, from_record, render, write_file};
use crate::state_dir::StateDir;
use crate::template::Masker;

/// The default name of the state dir, for `engine report` without a workflow file.
const DEFAULT_STATE_DIR: &str = ".engine";

/// `engine report [FILE] [--run ID] [-o PATH]`.
///
/// # Errors
/// No record, no such run, a record that cannot be read, a page that cannot be written.
pub fn report(args: &ReportArgs) -> Result<(), EngineError> {
    let state_dir = match &args.file {
        Some(file) => StateDir::resolve(args.state_dir.as_deref(), file),
        None => StateDir::at(
            args.state_dir
                .as_deref()
                .unwrap_or(Path::new(DEFAULT_STATE_DIR)),
        ),
    };
    let shown = args.file.as_ref().map_or_else(
        || state_dir.shown().display().to_string(),
        |file| file.display().to_string(),
    );
    let no_runs = || EngineError::Usage {
        message: format!("no runs are recorded in {}", state_dir.shown().display()),
        hint: Some(match &args.file {
            Some(file) => format!("run it with `engine run {}`", file.display()),
            None => "name the workflow file: `engine report FILE`, or give `--state-dir`".into(),
        }),
    };
    let store = Store::open_existing(&state_dir)
        .map_err(StoreError::into_engine_error)?
        .ok_or_else(no_runs)?;
    let key = args.file.as_ref().map(|file| state_dir.workflow_key(file));
    let run = find_run(&store, key.as_deref(), args.run.as_deref())
        .map_err(StoreError::into_engine_error)?;
    let Some(run) = run else {
        return Err(match &args.run {
            Some(id) => EngineError::Usage {
                message: format!("no run `{id}` of {shown} is recorded"),
                hint: Some(format!("`engine runs {shown}` lists them")),
            },
            None => no_runs(),
        });
    };
    let key = key.unwrap_or_else(|| run.workflow.clone());
    let file = args
        .file
        .clone()
        .unwrap_or_else(|| PathBuf::from(state_dir.absolute_key(&run.workflow)));
    let (workflow, note) = workflow_of(&file, &run);
    let masker = workflow
        .as_ref()
        .and_then(|workflow| workflow.known_secrets_masker().ok())
        .unwrap_or_default();
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| default_path(&state_dir, &run.id));
    write(
        &store,
        &state_dir,
        &key,
        &run,
        (workflow.as_ref(), note),
        &masker,
        &file,
        &output,
    )?;
    super::write_stdout(&format!("{}\n", output.display()))
}

/// `<state dir>/runs/<id>/report.html`, the state dir as the user gave it.
fn default_path(state_dir: &StateDir, run_id: &str) -> PathBuf {
    let dir = state_dir.run(run_id);
    let inside = dir
        .path()
        .strip_prefix(state_dir.path())
        .unwrap_or(dir.path());
    state_dir.shown().join(inside).join("report.html")
}

/// The run asked for: `id` (of the workflow keyed `key`, when given), else the latest.
fn find_run(
    store: &Store,
    key: Option<&str>,
    id: Option<&str>,
) -> Result<Option<RunRow>, StoreError> {
    match (key, id) {
        (Some(key), Some(id)) => store.run_of(key, id),
        (None, Some(id)) => store.run(id),
        (Some(key), None) => Ok(store.runs(key, 1)?.into_iter().next()),
        (None, None) => store.latest_run(),
    }
}

/// The workflow as its file reads now, with the run's variables; or why it is missing, or
/// may differ from what ran.
fn workflow_of(file: &Path, run: &RunRow) -> (Option<Workflow>, Option<String>) {
    let request: serde_json::Value = serde_json::from_str(&run.args).unwrap_or_default();
    let vars: Vec<(String, String)> =
        serde_json::from_value(request["vars"].clone()).unwrap_or_default();
    let Ok(text) = std::fs::read(file) else {
        return (
            None,
            Some(format!(
                "The workflow file `{}` cannot be read: commands and dependencies are not shown.",
                file.display()
            )),
        );
    };
    // The instances of tasks with parameters the run named are made again from its names.
    let tasks: Vec<String> = serde_json::from_value(request["tasks"].clone()).unwrap_or_default();
    let Ok((workflow, _)) = super::load_for(file, &tasks, &[], &vars) else {
        return (
            None,
            Some(format!(
                "The workflow file `{}` is no longer valid: commands and dependencies are not shown.",
                file.display()
            )),
        );
    };
    let note = (blake3::hash(&text).to_hex().as_str() != run.workflow_hash).then(|| {
        format!(
            "The workflow file `{}` changed since this run: commands and dependencies are shown as it reads now.",
            file.display()
        )
    });
    (Some(workflow), note)
}

/// Builds, masks and writes the report of `run` to `output`.
#[expect(
    clippy::too_many_arguments,
    reason = "wiring: each is one piece the page needs"
)]
fn write(
    store: &Store,
    state_dir: &StateDir,
    key: &str,
    run: &RunRow,
    (workflow, note): (Option<&Workflow>, Option<String>),
    masker: &Masker,
    file: &Path,
    output: &Path,
) -> Result<(), EngineError> {
    let mut report = from_record(store, state_dir, key, run, workflow, note, masker)
        .map_err(StoreError::into_engine_error)?;
    // The workflow as the user names it, not as the record keys it.
    report.workflow = masker.mask(&file.display().to_string()).into_owned();
    let hint = format!(
        "`engine logs {} %TASK% --run {}`, or the file {}/%PATH%",
        file.display(),
        run.id,
        state_dir.shown().display()
    );
    // Masked as it was built; masked whole once more, so that nothing on the page escapes.
    let html = render(&report, &hint);
    let html = masker.mask(&html);
    write_file(output, &html).map_err(|error| match error {
        ReportError::NotOurs(_) => EngineError::Usage {
            message: error.to_string(),
            hint: Some("give `-o` another path: engine replaces only a report it wrote".into()),
        },
        ReportError::Io { .. } => EngineError::Usage {
            message: error.to_string(),
            hint: Some("give `-o` a path in a directory that can be written".into()),
        },
    })
}

/// `engine run --report[=PATH]`: the report of the run that just ended, whatever its outcome.
/// A report that cannot be written is said on stderr; the run's own outcome stands.
pub(crate) fn after_run(
    file: &Path,
    state_dir: &StateDir,
    run_id: &str,
    output: &str,
    workflow: &Workflow,
    masker: &Masker,
) {
    // `--report` alone: the default path.
    let output = if output.is_empty() {
        default_path(state_dir, run_id)
    } else {
        PathBuf::from(output)
    };
    let key = state_dir.workflow_key(file);
    let written = Store::open_existing(state_dir)
        .map_err(StoreError::into_engine_error)
        .and_then(|store| {
            let store = store.ok_or_else(|| EngineError::Usage {
                message: "the run record is missing".into(),
                hint: None,
            })?;
            let run = store
                .run_of(&key, run_id)
                .map_err(StoreError::into_engine_error)?
                .ok_or_else(|| EngineError::Usage {
                    message: format!("run {run_id} is not in the record"),
                    hint: None,
                })?;
            write(
                &store,
                state_dir,
                &key,
                &run,
                (Some(workflow), None),
                masker,
                file,
                &output,
            )
        });
    match written {
        Ok(()) => eprintln!("engine: report written to {}", output.display()),
        Err(error) => eprintln!(
            "engine: cannot write the report: {}",
            masker.mask(&error.to_string())
        ),
    }
}
