//! `engine run`: validate, plan and run a workflow; and the hidden `__script` worker that
//! runs one script task in its own process.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::args::{RunArgs, ScriptArgs};
use crate::error::EngineError;
use crate::events::EventSink;
use crate::exchange::{Inbox, Message, Outbox};
use crate::execute::slurm::{SlurmExecutor, check_cluster, runs_on_slurm};
use crate::execute::{Executor, LocalExecutor, RunContext};
use crate::model::{Command, ExecutorKind, Workflow};
use crate::plan::Graph;
use crate::record::lock::{self, RunLock};
use crate::record::{Forced, Journal, Resume, RunInfo, RunOutcome, Store, StoreError};
use crate::report::Reporter;
use crate::schedule::{Coordinator, Options, Summary};

/// Runs the selected tasks of a workflow.
///
/// # Errors
/// An invalid workflow or request (exit 2), failed tasks (1), an interruption (130).
pub fn run(args: &RunArgs) -> Result<(), EngineError> {
    if args.dry_run {
        let workflow = super::load_with_vars(&args.file, &args.vars)?;
        let graph = super::select(&workflow, &args.tasks, &args.file)?;
        return super::write_stdout(&crate::plan::render_plan_text(&workflow, &graph));
    }
    // An invalid workflow, or a secret without a value, is reported before the state dir is
    // touched.
    let loaded = super::load_to_run(&args.file, &args.vars)?;
    secrets_masker(&loaded)?;
    let run_id = run_id();
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(|| default_state_dir(&args.file));
    // Jobs run elsewhere, in other directories: they need absolute paths.
    let state_dir = std::path::absolute(&state_dir).unwrap_or(state_dir);
    // What it keeps of runs (logs, results, job files) is the user's alone. An error shows
    // where the record is opened.
    let _ = crate::execute::private_dir(&state_dir);
    let record = if args.no_record {
        None
    } else {
        Some(open_record(args, &state_dir, &run_id)?)
    };
    let (tasks, vars) = match record.as_ref().and_then(|r| r.resume.as_ref()) {
        Some(resume) => (resume.tasks.clone(), resume.vars.clone()),
        None => (args.tasks.clone(), args.vars.clone()),
    };
    let workflow = Arc::new(if vars == args.vars {
        loaded
    } else {
        super::load_with_vars(&args.file, &vars)?
    });
    let mut graph = super::select(&workflow, &tasks, &args.file)?;
    // Before anything else: a run that the cluster cannot take submits nothing.
    let on_slurm = slurm_tasks(&workflow, &graph, args.executor.map(ExecutorKind::from));
    let controller = if on_slurm.contains(&true) {
        let tasks = graph
            .tasks()
            .iter()
            .map(|&id| workflow.task(id))
            .filter(|task| on_slurm[task.id.index()]);
        let path = std::env::var_os("PATH");
        Some(
            check_cluster(path.as_deref(), tasks).map_err(|error| EngineError::Cluster {
                message: error.message,
                hint: error.hint,
            })?,
        )
    } else {
        None
    };
    let run_dir = state_dir.join("runs").join(&run_id);
    let log_dir = run_dir.join("logs");
    let events = match &args.events {
        Some(path) => Some(create_events_file(path)?),
        None => None,
    };
    // Each output message carries up to one 64 KiB read of a pipe. A short queue makes a
    // task that prints faster than stdout or the events file take it wait on its pipe instead
    // of piling its output up in memory here.
    let (outbox, inbox) = Inbox::new(MESSAGE_QUEUE).map_err(EngineError::io(
        "cannot create the coordinator's inbox".to_owned(),
    ))?;
    let signals = forward_signals(outbox.clone())?;
    // Finding the CPUs reads cgroup files: once, and only when a default needs them.
    let cpus = std::cell::LazyCell::new(default_jobs);
    let default_jobs = if controller.is_some() {
        SLURM_JOBS
    } else {
        *cpus
    };
    let jobs = within_open_file_limit(args.jobs.unwrap_or(default_jobs));
    too_big_for_jobs(&workflow, &graph, &on_slurm, jobs)?;
    let threads = args.threads.unwrap_or_else(|| (*cpus).max(4));
    let masker = secrets_masker(&workflow)?;
    let context = RunContext {
        run_id: run_id.clone(),
        workflow_path: workflow.path.clone(),
        log_dir: log_dir.clone(),
        results_dir: run_dir.join("results"),
        outbox,
        masker: masker.clone(),
    };
    // The lock is held until the run has ended and its record is complete.
    let (journal, _lock, durations) = match record {
        Some(record) => {
            let (journal, lock, durations) = start_journal(
                record,
                &workflow,
                &mut graph,
                &tasks,
                &vars,
                args,
                &run_id,
                context.outbox.clone(),
            )?;
            (
                Some(journal.masking(masker.clone())),
                Some(lock),
                Some(durations),
            )
        }
        None => (None, None, None),
    };
    let local = LocalExecutor::new(context.clone(), inbox, threads, workflow.tasks.len());
    let mut reporter = Reporter::new(
        Arc::clone(&workflow),
        &graph,
        args.progress,
        args.output,
        events,
        log_dir,
    );
    if let Some(durations) = durations {
        reporter.expect(durations, jobs);
    }
    let options = Options {
        jobs,
        threads,
        keep_going: args.keep_going,
        grace: args.grace.get(),
    };
    // Every event passes the masker on its way to the terminal and `--events`.
    let reporter = crate::events::Masked::new(reporter, masker);
    let (summary, reporter) = match controller {
        None => drive(
            &workflow, &graph, local, reporter, options, &run_id, journal,
        ),
        Some(controller) => {
            let job_dir = run_dir.join("slurm");
            let executor =
                SlurmExecutor::new(local, controller, context, job_dir, &workflow, on_slurm);
            drive(
                &workflow, &graph, executor, reporter, options, &run_id, journal,
            )
        }
    };
    signals.close();
    reporter
        .into_inner()
        .finish(&summary)
        .map_err(EngineError::io("cannot write the events file"))?;
    if summary.interrupted {
        Err(EngineError::Interrupted)
    } else if summary.failed > 0 {
        Err(EngineError::TasksFailed {
            failed: summary.failed,
        })
    } else {
        Ok(())
    }
}

/// Creates the file `--events` names: a path that cannot be written is a command-line error.
///
/// # Errors
/// A usage error saying why the file cannot be created.
fn create_events_file(path: &Path) -> Result<std::fs::File, EngineError> {
    crate::execute::private_file(path).map_err(|error| {
        let hint = match error.kind() {
            std::io::ErrorKind::NotFound => {
                "its directory does not exist: create it, or give `--events` another path"
            }
            std::io::ErrorKind::IsADirectory => "give `--events` a file name, not a directory",
            _ => "give `--events` a path where a file can be written",
        };
        EngineError::Usage {
            message: format!(
                "cannot create the events file `{}`: {error}",
                path.display()
            ),
            hint: Some(hint.to_owned()),
        }
    })
}

/// The masker of the workflow's secrets, whose values come from the engine's environment or
/// the workflow's own `env` (`Workflow::secret_values`).
///
/// # Errors
/// A usage error naming a secret that has no value, or an empty one.
fn secrets_masker(
    workflow: &crate::model::Workflow,
) -> Result<crate::template::Masker, EngineError> {
    workflow.secrets_masker().map_err(|error| EngineError::Usage {
        message: error.to_string(),
        hint: error.secret().map(|name| {
            format!(
                "set `{name}` to its value in the environment (or in the workflow's `env_file`) before `engine run`"
            )
        }),
    })
}

/// The run record, opened before the workflow is loaded: this run holds the workflow's lock,
/// and a resumed run's tasks and variables are those of the run it continues.
struct OpenRecord {
    store: Store,
    lock: RunLock,
    workflow_key: String,
    resume: Option<Resuming>,
    /// The state dir, absolute.
    state_dir: PathBuf,
}

/// The run `--resume` continues.
struct Resuming {
    finished: Resume,
    tasks: Vec<String>,
    vars: Vec<(String, String)>,
    force: Vec<String>,
}

/// Takes the workflow's lock (or waits for it with `--wait`), opens the record and, with
/// `--resume`, finds the run to continue.
///
/// # Errors
/// Another run holds the lock; the record is damaged; there is nothing to resume.
fn open_record(args: &RunArgs, state_dir: &Path, run_id: &str) -> Result<OpenRecord, EngineError> {
    let workflow_key = workflow_key(&args.file);
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
                state_dir.display()
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
    let mut store = Store::open(state_dir).map_err(StoreError::into_engine_error)?;
    stop_strays(&mut store, state_dir, &workflow_key)?;
    prune_history(&mut store, state_dir, &workflow_key)?;
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
        state_dir: state_dir.to_path_buf(),
    })
}

/// Stops what earlier runs of this workflow left running when their engine was killed
/// (SIGKILL, a crash), and records them as died. Their processes are found by the run id
/// every task inherits in its environment (`ENGINE_RUN_ID`), so a process that took over a
/// recorded pid is never touched; their Slurm jobs, first, by the ids in the run's `jobs.tsv`.
///
/// # Errors
/// The record cannot be read or written.
fn stop_strays(store: &mut Store, state_dir: &Path, workflow_key: &str) -> Result<(), EngineError> {
    // This engine holds the workflow's lock: no run without an end is still going.
    let died = store
        .unfinished_runs(workflow_key)
        .map_err(StoreError::into_engine_error)?;
    if died.is_empty() {
        return Ok(());
    }
    let runs = if died.len() == 1 {
        format!("run {}", died[0])
    } else {
        format!("{} earlier runs", died.len())
    };
    let job_lists: Vec<PathBuf> = died
        .iter()
        .map(|run| {
            state_dir
                .join("runs")
                .join(run)
                .join("slurm")
                .join("jobs.tsv")
        })
        .filter(|list| list.exists())
        .collect();
    match crate::execute::slurm::cancel_left_jobs(&job_lists, std::env::var_os("PATH").as_deref()) {
        Ok(jobs) if jobs.is_empty() => {}
        Ok(jobs) => eprintln!(
            "engine: cancelled {} Slurm job(s) left in the queue by {runs} whose engine died: {}",
            jobs.len(),
            jobs.join(" ")
        ),
        Err(error) => eprintln!(
            "engine: Slurm jobs of {runs} whose engine died may still be in the queue ({error}); \
             their ids are in {}",
            job_lists
                .iter()
                .map(|list| format!("`{}`", list.display()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
    // After the Slurm jobs: on a node of the cluster, the jobs' own processes carry the run
    // id too, and a job whose processes were killed would end before it could be cancelled.
    let stopped = crate::record::strays::stop(&died);
    if stopped > 0 {
        eprintln!("engine: stopped {stopped} process(es) left running by {runs} whose engine died");
    }
    store
        .transaction(|writer| {
            for run in &died {
                writer.mark_died(run)?;
            }
            Ok(())
        })
        .map_err(StoreError::into_engine_error)
}

/// Runs of one workflow kept in the record (with their logs); older ones are deleted when a
/// new run starts.
const RUNS_KEPT: usize = 50;

/// Runs of one workflow whose set-aside outputs (`<state dir>/incomplete/<run>`) are kept;
/// older ones are deleted when a new run starts.
const INCOMPLETE_RUNS_KEPT: usize = 5;

/// Deletes the runs of the workflow beyond the newest `RUNS_KEPT`, and their logs; and
/// what failed attempts set aside, beyond the newest `INCOMPLETE_RUNS_KEPT` runs that set
/// some aside. Deletes only in the state dir, only what engine made there.
///
/// # Errors
/// The record cannot be written or read.
fn prune_history(
    store: &mut Store,
    state_dir: &Path,
    workflow_key: &str,
) -> Result<(), EngineError> {
    let old = store
        .transaction(|writer| writer.prune(workflow_key, RUNS_KEPT))
        .map_err(StoreError::into_engine_error)?;
    let incomplete = state_dir.join(crate::record::journal::INCOMPLETE_DIR);
    for id in old {
        // A log dir that cannot be removed stays; the record no longer points at it.
        let _ = std::fs::remove_dir_all(state_dir.join("runs").join(&id));
        if is_run_id(&id) {
            let _ = std::fs::remove_dir_all(incomplete.join(&id));
        }
    }
    if !incomplete.is_dir() {
        return Ok(());
    }
    // Only this workflow's runs: another workflow sharing the state dir keeps its own.
    let runs = store
        .runs(workflow_key, RUNS_KEPT)
        .map_err(StoreError::into_engine_error)?;
    let with_outputs = runs
        .iter()
        .filter(|run| is_run_id(&run.id) && incomplete.join(&run.id).is_dir());
    for run in with_outputs.skip(INCOMPLETE_RUNS_KEPT) {
        let _ = std::fs::remove_dir_all(incomplete.join(&run.id));
    }
    Ok(())
}

/// Whether `id` has the shape `run_id` gives (digits and dashes): one component of a path
/// in the state dir, never `..` or a path of its own.
fn is_run_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit() || b == b'-')
}

/// The last run of the workflow, which must not have succeeded, and what it finished.
fn find_resume(store: &Store, workflow_key: &str, args: &RunArgs) -> Result<Resuming, EngineError> {
    let shown = args.file.display();
    let last = store
        .runs(workflow_key, 1)
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
    Ok(Resuming {
        finished,
        tasks,
        vars,
        force,
    })
}

/// "run 2026… (pid 42, started 12s ago)": who holds a workflow's lock.
fn describe_holder(holder: &lock::Holder) -> String {
    let mut parts = Vec::new();
    if let Some(pid) = holder.pid {
        parts.push(format!("pid {pid}"));
    }
    if let Some(started) = holder.started_ms {
        let ago = (crate::record::journal::now_ms() - started).max(0) / 1000;
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

/// The workflow's identity in the record: its absolute path, symbolic links resolved.
pub(crate) fn workflow_key(file: &Path) -> String {
    std::fs::canonicalize(file)
        .or_else(|_| std::path::absolute(file))
        .unwrap_or_else(|_| file.to_owned())
        .to_string_lossy()
        .into_owned()
}

/// Starts the journal of this run: forced tasks resolved, the critical-path order weighed by
/// the durations of earlier runs.
#[expect(
    clippy::too_many_arguments,
    reason = "each argument is a distinct piece of the run being started; grouping them would only move the list into a one-use struct"
)]
fn start_journal(
    record: OpenRecord,
    workflow: &Workflow,
    graph: &mut Graph,
    tasks: &[String],
    vars: &[(String, String)],
    args: &RunArgs,
    run_id: &str,
    outbox: Outbox,
) -> Result<(Journal, RunLock, Vec<Option<u64>>), EngineError> {
    let force = match &record.resume {
        Some(resume) => &resume.force,
        None => &args.force,
    };
    let forced = forced_tasks(workflow, graph, force, &args.file)?;
    let text = std::fs::read(&args.file).unwrap_or_default();
    let request = serde_json::json!({
        "tasks": tasks,
        "vars": vars,
        "force": force,
    });
    let info = RunInfo {
        run_id: run_id.to_owned(),
        workflow: record.workflow_key.clone(),
        workflow_hash: blake3::hash(&text).to_hex().to_string(),
        args: request.to_string(),
        tasks: graph.len(),
        forced,
        keep_incomplete: args.keep_incomplete,
        state_dir: record.state_dir.clone(),
        own_files: args.events.iter().cloned().collect(),
        resume: record.resume.map(|resume| resume.finished),
        files: graph
            .tasks()
            .iter()
            .any(|&task| workflow.task(task).files.is_some()),
    };
    let journal =
        Journal::start(record.store, info, outbox).map_err(StoreError::into_engine_error)?;
    let durations = journal.durations();
    let by_task: Vec<Option<u64>> = workflow
        .tasks
        .iter()
        .map(|task| durations.get(task.name.as_str()).copied())
        .collect();
    graph.weigh(&by_task);
    Ok((journal, record.lock, by_task))
}

/// The tasks `--force` names and everything that depends on them (`--force` alone: all).
///
/// # Errors
/// A name that is no task.
fn forced_tasks(
    workflow: &Workflow,
    graph: &Graph,
    force: &[String],
    file: &Path,
) -> Result<Forced, EngineError> {
    if force.is_empty() {
        return Ok(Forced::None);
    }
    if force.iter().any(String::is_empty) {
        return Ok(Forced::All);
    }
    // Names are checked as selections are: a matrix task's group name means every expansion.
    let named = super::select(workflow, force, file)?;
    let mut stack: Vec<crate::model::TaskId> = workflow
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

/// Runs the coordinator to the end with `executor`, which is dropped (its last tasks
/// stopped) before the reporter is handed back.
fn drive<E: Executor, S: EventSink>(
    workflow: &Workflow,
    graph: &Graph,
    executor: E,
    sink: S,
    options: Options,
    run_id: &str,
    journal: Option<Journal>,
) -> (Summary, S) {
    let mut coordinator = Coordinator::new(workflow, graph, executor, sink, options);
    if let Some(journal) = journal {
        coordinator = coordinator.with_journal(journal);
    }
    let summary = coordinator.run(run_id);
    let (executor, sink) = coordinator.into_parts();
    drop(executor);
    (summary, sink)
}

/// Per task: whether it runs as a Slurm job in this run (selected, a process task with a
/// command, and Slurm by `choice` or by its own `executor`).
fn slurm_tasks(workflow: &Workflow, graph: &Graph, choice: Option<ExecutorKind>) -> Vec<bool> {
    let mut on_slurm = vec![false; workflow.tasks.len()];
    for &id in graph.tasks() {
        on_slurm[id.index()] = runs_on_slurm(workflow.task(id), choice);
    }
    on_slurm
}

/// Refuses a run in which a local process task needs more CPUs than `-j` gives: it could
/// never start.
///
/// # Errors
/// A usage error naming the first such task.
fn too_big_for_jobs(
    workflow: &Workflow,
    graph: &Graph,
    on_slurm: &[bool],
    jobs: usize,
) -> Result<(), EngineError> {
    let too_big = graph
        .tasks()
        .iter()
        .map(|&id| workflow.task(id))
        .find(|task| {
            task.isolation == crate::model::Isolation::Process
                && !on_slurm[task.id.index()]
                && task.resources.cpus as usize > jobs
        });
    match too_big {
        None => Ok(()),
        Some(task) => Err(EngineError::Usage {
            message: format!(
                "task `{}` needs {} CPUs (`resources.cpus`), but this run has {jobs} job slots (`-j {jobs}`)",
                task.name, task.resources.cpus
            ),
            hint: Some(format!(
                "run with `-j {}` or more, or lower the task's `resources.cpus`",
                task.resources.cpus
            )),
        }),
    }
}

/// Default `-j` when tasks run on Slurm: jobs in the queue at once. Enough to keep a small
/// cluster busy, far below the usual per-user submission limits.
const SLURM_JOBS: usize = 100;

/// Messages waiting for the coordinator at most: about 8 MiB of output in the worst case.
const MESSAGE_QUEUE: usize = 128;

/// The CPUs this process may use (cgroup quotas included), at least 1.
fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// `.engine/` next to the workflow file.
pub(crate) fn default_state_dir(workflow: &Path) -> PathBuf {
    workflow
        .parent()
        .map_or_else(|| PathBuf::from(".engine"), |dir| dir.join(".engine"))
}

/// Descriptors each running process task holds: two pipes, a pidfd and its log file.
const FILES_PER_TASK: u64 = 4;

/// Descriptors kept for everything else (the events file, the reporter, libraries).
const FILES_RESERVED: u64 = 64;

/// Raises the soft limit on open files to the hard one, then lowers `jobs` if even that
/// limit cannot hold that many running process tasks (with a note on stderr).
fn within_open_file_limit(jobs: usize) -> usize {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(maximum)) = (limit.current, limit.maximum)
        && current < maximum
    {
        limit.current = Some(maximum);
        if setrlimit(Resource::Nofile, limit).is_err() {
            limit.current = Some(current);
        }
    }
    let Some(files) = limit.current else {
        return jobs;
    };
    let fit = usize::try_from(files.saturating_sub(FILES_RESERVED) / FILES_PER_TASK)
        .unwrap_or(usize::MAX)
        .max(1);
    if jobs > fit {
        eprintln!(
            "engine: running at most {fit} process tasks at once, not {jobs}: the open-file \
             limit is {files} (`ulimit -n`)"
        );
        return fit;
    }
    jobs
}

/// Forwards SIGINT, SIGTERM and SIGHUP to the coordinator as `Message::Interrupt`. SIGHUP
/// comes when the terminal or SSH session closes: left to its default it would kill the
/// engine alone and leave its tasks (each in its own process group) running.
fn forward_signals(outbox: Outbox) -> Result<signal_hook::iterator::Handle, EngineError> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(EngineError::io("cannot install signal handlers"))?;
    let handle = signals.handle();
    std::thread::Builder::new()
        .name("engine-signals".into())
        .spawn(move || {
            for _ in signals.forever() {
                if !outbox.send(Message::Interrupt) {
                    break;
                }
            }
        })
        .map_err(EngineError::io("cannot start the signal thread"))?;
    Ok(handle)
}

/// A run id that sorts by time: `20261125-153012-123-4242` (UTC date, time, milliseconds, pid).
fn run_id() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (year, month, day) = civil_date(i64::try_from(secs / 86_400).unwrap_or(0));
    let rest = secs % 86_400;
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}-{:03}-{}",
        rest / 3600,
        (rest / 60) % 60,
        rest % 60,
        now.subsec_millis(),
        std::process::id()
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
pub(crate) fn civil_date(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// The hidden worker: runs the script of one task in this process, printing to stdout.
///
/// # Errors
/// An invalid workflow or task name (2); a failed script (1).
pub fn script_worker(args: &ScriptArgs) -> Result<(), EngineError> {
    use crate::script::{CancelToken, ScriptEnd, ScriptScope, script_engine};
    use std::io::Write;
    let workflow = super::load(&args.file)?;
    let task = workflow
        .find(&args.task)
        .map(|id| workflow.task(id))
        .ok_or_else(|| EngineError::Usage {
            message: format!("no task named `{}`", args.task),
            hint: None,
        })?;
    let Command::Script { ast, .. } = &task.command else {
        return Err(EngineError::Usage {
            message: format!("task `{}` has no script", task.name),
            hint: None,
        });
    };
    let engine = script_engine();
    // The engine passes the script with its templates filled in, and the constants.
    let filled_in = match std::env::var(crate::execute::SCRIPT_SOURCE) {
        Ok(source) => Some(
            engine
                .compile(&source)
                .map_err(|error| EngineError::Usage {
                    message: format!(
                        "the script of task `{}` does not compile: {error}",
                        task.name
                    ),
                    hint: None,
                })?,
        ),
        Err(_) => None,
    };
    let ast = filled_in.as_ref().unwrap_or(ast);
    let constants = match std::env::var(crate::execute::SCRIPT_CONSTANTS) {
        Ok(json) => Some(Arc::new(engine.parse_json(&json, true).map_err(
            |error| EngineError::Usage {
                message: format!("invalid {}: {error}", crate::execute::SCRIPT_CONSTANTS),
                hint: None,
            },
        )?)),
        Err(_) => None,
    };
    let cwd = std::env::current_dir().unwrap_or_else(|_| task.cwd.clone());
    // The script runs on a thread with the stack of the engine's worker threads, so that it
    // meets the same limits here as on a thread of the engine.
    let run = || {
        let scope = ScriptScope {
            print: Box::new(|line| {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
            }),
            token: Arc::new(CancelToken::new()),
            cwd,
            env: Vec::new(),
            results: std::cell::RefCell::default(),
            constants,
        };
        crate::script::run_script_with_results(&engine, ast, scope)
    };
    let (end, results) = std::thread::scope(|threads| {
        std::thread::Builder::new()
            .name("engine-script".into())
            .stack_size(crate::script::STACK_BYTES)
            .spawn_scoped(threads, run)
            .map_err(EngineError::io("cannot start the script's thread"))?
            .join()
            .map_err(|_| EngineError::TasksFailed { failed: 1 })
    })?;
    if let Some(path) = std::env::var_os("ENGINE_RESULTS")
        && !results.is_empty()
    {
        let text: String = results
            .iter()
            .map(|(key, value)| crate::results::format_result(key, value))
            .collect();
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut file| file.write_all(text.as_bytes()));
        if let Err(error) = written {
            eprintln!("cannot write the results to $ENGINE_RESULTS: {error}");
            return Err(EngineError::TasksFailed { failed: 1 });
        }
    }
    match end {
        ScriptEnd::Done => Ok(()),
        ScriptEnd::Failed(message) => {
            eprintln!("{message}");
            Err(EngineError::TasksFailed { failed: 1 })
        }
        ScriptEnd::Cancelled => Err(EngineError::Interrupted),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(20_417), (2025, 11, 25));
        assert_eq!(civil_date(11_016), (2000, 2, 29));
    }
}
