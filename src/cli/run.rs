//! `engine run`: the wiring of one run. Load and validate the workflow, open the run record
//! (`run_record`), select and plan the tasks, check the cluster, then hand the coordinator
//! its executor, journal and reporter and turn the summary into an exit code. What each step
//! does lives elsewhere; this file only connects them. `--watch` runs it again and again
//! (`watch`).

use std::path::Path;
use std::sync::Arc;

use super::args::RunArgs;
use super::limits::{Slots, too_big_for_jobs};
use super::run_record::{NewRun, OpenRecord, open_record};
use super::secrets::secrets_masker;
use super::watch::Session;
use crate::error::EngineError;
use crate::events::EventSink;
use crate::exchange::Inbox;
use crate::execute::slurm::{Controller, SlurmExecutor, check_cluster, runs_on_slurm};
use crate::execute::{Executor, LocalExecutor, RunContext};
use crate::model::{ExecutorKind, Workflow};
use crate::plan::Graph;
use crate::record::Journal;
use crate::report::Reporter;
use crate::schedule::{Coordinator, Options, Summary};
use crate::state_dir::StateDir;

/// Messages waiting for the coordinator at most: about 8 MiB of output in the worst case.
const MESSAGE_QUEUE: usize = 128;

/// Runs the selected tasks of a workflow.
///
/// # Errors
/// An invalid workflow or request (exit 2), failed tasks (1), an interruption (130).
pub fn run(args: &RunArgs) -> Result<(), EngineError> {
    if args.dry_run {
        return dry_run(args);
    }
    if args.watch {
        return super::watch::watch(args);
    }
    // Asked as a run that found everything up to date, with nothing it looked at changed:
    // recorded and said without loading anything (`no_op`).
    if super::no_op::applies(args) {
        if super::no_op::answer(args)?.is_some() {
            return Ok(());
        }
        super::no_op::observe(args);
    }
    let loaded = super::load_to_run(&args.file, &args.tasks, &args.args, &args.vars)?;
    let summary = run_loaded(args, loaded, None)?;
    ended(&summary)
}

/// One run of the workflow `loaded` for its targets (task names, instances named), to its
/// summary. In watch mode (`session`), the
/// session's signal thread and file watcher reach this run's coordinator, and its scope
/// is set to this run's tasks before any starts.
///
/// # Errors
/// An invalid request (exit 2); the record or a file cannot be written.
pub(crate) fn run_loaded(
    args: &RunArgs,
    loaded: (Workflow, Vec<String>),
    session: Option<&Session>,
) -> Result<Summary, EngineError> {
    // An invalid workflow, or a secret without a value, is reported before the state dir is
    // touched.
    secrets_masker(&loaded.0)?;
    let run_id = super::run_id::run_id();
    let state_dir = StateDir::resolve(args.state_dir.as_deref(), &args.file);
    // What it keeps of runs (logs, results, job files) is the user's alone. An error shows
    // where the record is opened.
    let _ = crate::execute::private_dir(state_dir.path());
    let record = if args.no_record {
        None
    } else {
        Some(open_record(args, &state_dir, &run_id)?)
    };
    let Request {
        workflow,
        tasks,
        vars,
    } = Request::of(args, loaded, record.as_ref())?;
    // File targets are kept in the record as the tasks they stand for, so that `--resume`
    // selects the same tasks from any directory.
    let tasks = crate::plan::target_names(&super::resolve_targets(&workflow, &tasks, &args.file)?);
    let mut graph = super::select(&workflow, &tasks, &args.file)?;
    // Every question is asked before anything starts.
    super::confirm::confirm(&workflow, &graph, args.yes)?;
    if let Some(session) = session {
        session.cover(&workflow, &graph, &state_dir, args)?;
    }
    // Before anything else: a run that the cluster cannot take submits nothing.
    let on_slurm = slurm_tasks(&workflow, &graph, args.executor.map(ExecutorKind::from));
    let controller = cluster(&workflow, &graph, &on_slurm)?;
    let run_dir = state_dir.run(&run_id);
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
    // In watch mode the session's signal thread, which lives across runs, reaches the
    // coordinator instead.
    let signals = match session {
        None => Some(super::signals::forward_signals(outbox.clone())?),
        Some(_) => None,
    };
    let slots = Slots::of(args.jobs, args.threads, controller.is_some());
    too_big_for_jobs(&workflow, &graph, &on_slurm, slots.jobs)?;
    let Slots { jobs, threads } = slots;
    let masker = secrets_masker(&workflow)?;
    let context = RunContext {
        run_id: run_id.clone(),
        workflow_path: workflow.path.clone(),
        run_dir: run_dir.clone(),
        outbox,
        masker: masker.clone(),
    };
    // The lock is held until the run has ended and its record is complete.
    let (journal, _lock, durations) = match record {
        Some(record) => {
            let new_run = NewRun {
                run_id: &run_id,
                tasks: &tasks,
                vars: &vars,
                outbox: context.outbox.clone(),
                jobs,
            };
            let (journal, lock, durations) =
                record.start_journal(&workflow, &mut graph, args, new_run)?;
            let journal = journal.masking(masker.clone());
            (Some(journal), Some(lock), Some(durations))
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
        run_dir,
    );
    reporter.verbose(args.verbose);
    // Without a record, no durations, but the ETA still shares the work by the slots.
    reporter.expect(durations.unwrap_or_default(), jobs);
    let options = Options {
        jobs,
        threads,
        keep_going: args.keep_going,
        grace: args.grace.get(),
    };
    // Every event passes the masker on its way to the terminal and `--events`.
    let reporter = crate::events::Masked::new(reporter, masker.clone());
    if let Some(session) = session {
        session.attach(context.outbox.clone());
    }
    let (summary, reporter) = match controller {
        None => drive(
            &workflow, &graph, local, reporter, options, &run_id, journal,
        ),
        Some(controller) => {
            let executor = SlurmExecutor::new(local, controller, context, &workflow, on_slurm)
                .choosing(args.executor.map(ExecutorKind::from));
            drive(
                &workflow, &graph, executor, reporter, options, &run_id, journal,
            )
        }
    };
    if let Some(signals) = signals {
        signals.close();
    }
    // The record now holds what the depfiles of this run's successes named: watch those
    // files too until the next run.
    let refreshed = session.map(|session| {
        session.detach();
        session.cover(&workflow, &graph, &state_dir, args)
    });
    let reporter = reporter.into_inner();
    let idle_joins = reporter.idle_joins();
    let finished = reporter
        .finish(&summary)
        .map_err(EngineError::io("cannot write the events file"));
    // Whatever the outcome, once the record of the run is complete.
    if let Some(path) = &args.report {
        super::report::after_run(&args.file, &state_dir, &run_id, path, &workflow, &masker);
    }
    finished?;
    if !args.no_record && session.is_none() {
        let asked = super::run_record::Asked {
            tasks: &tasks,
            vars: &vars,
            force: &[],
            args: &args.args,
            jobs,
        };
        let run = super::run_record::request_of(&args.file, &workflow, asked);
        super::no_op::leave(args, &state_dir, &summary, idle_joins, run);
    }
    refreshed.transpose()?;
    Ok(summary)
}

/// `engine run --dry-run`: the plan, as `engine plan` prints it.
fn dry_run(args: &RunArgs) -> Result<(), EngineError> {
    let (workflow, targets) = super::load_for(&args.file, &args.tasks, &args.args, &args.vars)?;
    let graph = super::select(&workflow, &targets, &args.file)?;
    super::write_stdout(&crate::plan::render_plan_text(
        &workflow,
        &graph,
        args.verbose,
    ))
}

/// What this run runs: the tasks and variables of the command line, or with `--resume`
/// those of the run it continues.
struct Request {
    /// The workflow, with the variables set.
    workflow: Arc<Workflow>,
    /// The tasks selected, by name (an instance of a task with parameters by its own).
    tasks: Vec<String>,
    /// The variables set.
    vars: Vec<(String, String)>,
}

impl Request {
    /// The request of `args`, or of the run `record` resumes (the workflow `loaded` with
    /// the command line's variables is loaded again with that run's).
    ///
    /// # Errors
    /// A variable of the run continued that the workflow no longer takes.
    fn of(
        args: &RunArgs,
        (loaded, targets): (Workflow, Vec<String>),
        record: Option<&OpenRecord>,
    ) -> Result<Self, EngineError> {
        let (tasks, vars, words) = match record.and_then(|r| r.resume.as_ref()) {
            Some(resume) => (
                resume.tasks.clone(),
                resume.vars.clone(),
                resume.args.clone(),
            ),
            None => (targets.clone(), args.vars.clone(), args.args.clone()),
        };
        // The run continued named its instances (`build(profile=release)`): they are made
        // again from those names, the last one with its `--` arguments.
        let (workflow, tasks) = if vars == args.vars && tasks == targets && words == args.args {
            (loaded, tasks)
        } else {
            super::load_for(&args.file, &tasks, &words, &vars)?
        };
        Ok(Self {
            workflow: Arc::new(workflow),
            tasks,
            vars,
        })
    }
}

/// How a run ended, as the command's result: interrupted, some tasks failed, or success.
///
/// # Errors
/// `Interrupted` (130) or `TasksFailed` (1).
fn ended(summary: &Summary) -> Result<(), EngineError> {
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

/// The cluster's controller when some of the run's tasks go to Slurm (`on_slurm`), once
/// the cluster has been found able to take them.
///
/// # Errors
/// The cluster cannot run them: no Slurm commands, a request no partition can meet.
fn cluster(
    workflow: &Workflow,
    graph: &Graph,
    on_slurm: &[bool],
) -> Result<Option<Controller>, EngineError> {
    if !on_slurm.contains(&true) {
        return Ok(None);
    }
    let tasks = graph
        .tasks()
        .iter()
        .map(|&id| workflow.task(id))
        .filter(|task| on_slurm[task.id.index()]);
    let path = std::env::var_os("PATH");
    check_cluster(path.as_deref(), tasks)
        .map(Some)
        .map_err(|error| EngineError::Cluster {
            message: error.message,
            hint: error.hint,
        })
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

/// Runs the coordinator to the end with `executor`, which is dropped (its last tasks
/// stopped) before the reporter is handed back.
fn drive<E: Executor, S: EventSink>(
    workflow: &Arc<Workflow>,
    graph: &Graph,
    executor: E,
    sink: S,
    options: Options,
    run_id: &str,
    journal: Option<Journal>,
) -> (Summary, S) {
    let mut coordinator = Coordinator::new(Arc::clone(workflow), graph, executor, sink, options);
    if let Some(journal) = journal {
        coordinator = coordinator.with_journal(journal);
    }
    let summary = coordinator.run(run_id);
    let (executor, sink) = coordinator.into_parts();
    drop(executor);
    (summary, sink)
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
