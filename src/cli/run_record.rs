//! The run record as `engine run` opens it: the workflow's lock taken, what earlier runs left
//! stopped and pruned, the run to resume found; then the journal of the new run started.

use super::args::RunArgs;
use super::resume::{Resuming, find_resume};
use crate::error::EngineError;
use crate::exchange::Outbox;
use crate::model::{TaskId, Workflow};
use crate::plan::Graph;
use crate::record::lock::{self, RunLock};
use crate::record::{Forced, Journal, RunInfo, Store, StoreError};
use crate::state_dir::StateDir;

/// The run record, opened before the workflow is loaded: this run holds the workflow's lock,
/// and a resumed run's tasks and variables are those of the run it continues.
pub(crate) struct OpenRecord {
    store: Store,
    lock: RunLock,
    /// The workflow's key in the record.
    workflow_key: String,
    /// The run `--resume` continues.
    pub(crate) resume: Option<Resuming>,
    state_dir: StateDir,
}

/// Takes the workflow's lock (or waits for it with `--wait`), opens the record and, with
/// `--resume`, finds the run to continue.
///
/// # Errors
/// Another run holds the lock; the record is damaged; there is nothing to resume.
pub(crate) fn open_record(
    args: &RunArgs,
    state_dir: &StateDir,
    run_id: &str,
) -> Result<OpenRecord, EngineError> {
    let workflow_key = state_dir.workflow_key(&args.file);
    let shown = args.file.display();
    let lock = lock::acquire(state_dir, &workflow_key, run_id, args.wait, |holder| {
        eprintln!(
            "engine: waiting for {} of {shown} to end",
            describe_holder(holder)
        );
    })
    .map_err(|error| match error {
        lock::LockError::Held(holder) => EngineError::State {
            message: format!(
                "{} of {shown} is already using the state dir `{}`",
                describe_holder(&holder),
                state_dir.path().display()
            ),
            hint: format!(
                "wait for it with `engine run --wait {shown}`{}; one workflow runs once at a time per state dir (another `--state-dir` keeps a separate record)",
                holder
                    .pid
                    .map(|pid| format!(", or stop it with `kill {pid}`"))
                    .unwrap_or_default()
            ),
        },
        lock::LockError::Io(path, error) => EngineError::State {
            message: format!("cannot lock `{}`: {error}", path.display()),
            hint: "check that the state dir is writable, or give another `--state-dir`".into(),
        },
    })?;
    // This run may change the record: what a no-op run left for the next no longer holds.
    crate::record::unchanged::forget(state_dir, &workflow_key).map_err(|error| {
        EngineError::State {
            message: format!(
                "cannot remove `{}`: {error}",
                crate::record::unchanged::path(state_dir, &workflow_key).display()
            ),
            hint: "check that the state dir is writable, or give another `--state-dir`".into(),
        }
    })?;
    let mut store = Store::open(state_dir).map_err(StoreError::into_engine_error)?;
    super::strays::stop_strays(&mut store, state_dir, &workflow_key)?;
    crate::record::prune::prune_history(&mut store, state_dir, &workflow_key)
        .map_err(StoreError::into_engine_error)?;
    let resume = if args.resume {
        Some(find_resume(&store, &workflow_key, args)?)
    } else {
        None
    };
    Ok(OpenRecord {
        store,
        lock,
        workflow_key,
        resume,
        state_dir: state_dir.clone(),
    })
}

/// "run 2026… (pid 42, started 12s ago)": who holds a workflow's lock.
fn describe_holder(holder: &lock::Holder) -> String {
    let mut parts = Vec::new();
    if let Some(pid) = holder.pid {
        parts.push(format!("pid {pid}"));
    }
    if let Some(started) = holder.started_ms {
        let ago = (crate::record::store::now_ms() - started).max(0) / 1000;
        parts.push(format!("started {ago}s ago"));
    }
    let run = holder.run.as_deref().map_or_else(
        || "another `engine run`".to_owned(),
        |id| format!("run {id}"),
    );
    if parts.is_empty() {
        run
    } else {
        format!("{run} ({})", parts.join(", "))
    }
}

/// What the journal of a new run is started with, besides the record.
pub(crate) struct NewRun<'a> {
    /// The run's id.
    pub(crate) run_id: &'a str,
    /// The tasks selected, as requested.
    pub(crate) tasks: &'a [String],
    /// The variables given.
    pub(crate) vars: &'a [(String, String)],
    /// Where the coordinator hears that writes are durable.
    pub(crate) outbox: Outbox,
    /// Most process tasks at once (`-j`, resolved), kept for the run report.
    pub(crate) jobs: usize,
}

impl OpenRecord {
    /// Starts the journal of this run: forced tasks resolved, the critical-path order weighed
    /// by the durations of earlier runs (each task's, by index, is returned). The lock is
    /// returned with it, to be held until the run has ended and its record is complete.
    ///
    /// # Errors
    /// A task `--force` names is no task; the record cannot be read or written.
    pub(crate) fn start_journal(
        self,
        workflow: &Workflow,
        graph: &mut Graph,
        args: &RunArgs,
        run: NewRun<'_>,
    ) -> Result<(Journal, RunLock, Vec<Option<u64>>), EngineError> {
        let (force, words) = match &self.resume {
            Some(resume) => (&resume.force, &resume.args),
            None => (&args.force, &args.args),
        };
        let forced = forced_tasks(workflow, graph, force, args)?;
        let (workflow_hash, request) = request_of(
            &args.file,
            workflow,
            Asked {
                tasks: run.tasks,
                vars: run.vars,
                force,
                args: words,
                jobs: run.jobs,
            },
        );
        let info = RunInfo {
            run_id: run.run_id.to_owned(),
            workflow: self.workflow_key,
            workflow_dir: workflow
                .path
                .parent()
                .map(std::path::Path::to_path_buf)
                .unwrap_or_default(),
            workflow_hash,
            args: request,
            tasks: graph.len(),
            forced,
            keep_incomplete: args.keep_incomplete,
            state_dir: self.state_dir,
            own_files: args.events.iter().cloned().collect(),
            resume: self.resume.map(|resume| resume.finished),
            files: graph
                .tasks()
                .iter()
                .any(|&task| workflow.task(task).files.is_some()),
        };
        let journal =
            Journal::start(self.store, info, run.outbox).map_err(StoreError::into_engine_error)?;
        let durations = journal.durations();
        let by_task: Vec<Option<u64>> = workflow
            .tasks
            .iter()
            .map(|task| durations.get(task.name.as_str()).copied())
            .collect();
        graph.weigh(&by_task);
        Ok((journal, self.lock, by_task))
    }
}

/// What a run was asked, as its row keeps it.
pub(crate) struct Asked<'a> {
    /// The tasks selected, by name.
    pub(crate) tasks: &'a [String],
    /// The variables given.
    pub(crate) vars: &'a [(String, String)],
    /// The `--force` names.
    pub(crate) force: &'a [String],
    /// The words after `--`.
    pub(crate) args: &'a [String],
    /// `-j`, resolved.
    pub(crate) jobs: usize,
}

/// What a run's row keeps of its request: the digest of the workflow `file`'s text, and
/// as JSON the tasks, variables, `--force` names, `--` arguments (for `--resume`), `-j`
/// and the command line (for the run report); the arguments and the command line with
/// their secrets masked: the known values, as a run refuses to start while one is missing.
pub(crate) fn request_of(
    file: &std::path::Path,
    workflow: &Workflow,
    asked: Asked<'_>,
) -> (String, String) {
    let Asked {
        tasks,
        vars,
        force,
        args,
        jobs,
    } = asked;
    let text = std::fs::read(file).unwrap_or_default();
    let masker = workflow.known_secrets_masker().unwrap_or_default();
    let command: Vec<String> = std::iter::once("engine".to_owned())
        .chain(
            std::env::args_os()
                .skip(1)
                .map(|arg| masker.mask(&arg.to_string_lossy()).into_owned()),
        )
        .collect();
    let args: Vec<String> = args
        .iter()
        .map(|arg| masker.mask(arg).into_owned())
        .collect();
    let request = serde_json::json!({
        "tasks": tasks,
        "args": args,
        "vars": vars,
        "force": force,
        "jobs": jobs,
        "command": command,
    });
    (
        blake3::hash(&text).to_hex().to_string(),
        request.to_string(),
    )
}

/// The tasks `--force` names and everything that depends on them (`--force` alone: all).
///
/// # Errors
/// A name that is no task.
fn forced_tasks(
    workflow: &Workflow,
    graph: &Graph,
    force: &[String],
    args: &RunArgs,
) -> Result<Forced, EngineError> {
    if force.is_empty() {
        return Ok(Forced::None);
    }
    if force.iter().any(String::is_empty) {
        return Ok(Forced::All);
    }
    // Names are checked as selections are: a matrix task's group name means every expansion,
    // a file the tasks that produce it, the name of a task with parameters every instance.
    let force = crate::plan::target_names(&super::resolve_targets(
        workflow,
        &every_instance(workflow, force),
        &args.file,
    )?);
    let named = super::select(workflow, &force, &args.file)?;
    let mut stack: Vec<TaskId> = workflow
        .tasks
        .iter()
        .filter(|task| {
            force
                .iter()
                .any(|name| task.name == *name || task.group.as_deref() == Some(name.as_str()))
        })
        .map(|task| task.id)
        .filter(|&task| named.contains(task) && graph.contains(task))
        .collect();
    let mut forced = rustc_hash::FxHashSet::default();
    while let Some(task) = stack.pop() {
        if forced.insert(task) {
            stack.extend(graph.dependents(task));
        }
    }
    Ok(Forced::Tasks(forced))
}

/// `names` with the written name of a task with parameters (`deploy`) replaced by the
/// names of all its instances (`deploy(env=dev)`, `deploy(env=prod)`), as a matrix task's
/// name stands for all its items. Other names are left as they are.
fn every_instance(workflow: &Workflow, names: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let before = out.len();
        out.extend(
            workflow
                .tasks
                .iter()
                .filter(|task| {
                    task.signature
                        .as_ref()
                        .is_some_and(|signature| signature.task == *name)
                })
                .map(|task| task.name.clone()),
        );
        if out.len() == before {
            out.push(name.clone());
        }
    }
    out
}
