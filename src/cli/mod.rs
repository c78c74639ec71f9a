//! The command line: clap arguments, one file per subcommand, and printing of errors. It
//! wires the rooms together; `engine run`'s steps that are not wiring each have their own
//! file here (`run_id`, `signals`, `limits`, `secrets`, `strays`, `resume`,
//! `run_record`), and so does writing its report when it ends (`report`).

mod args;
mod check;
mod confirm;
mod graph;
mod history;
mod limits;
mod list;
mod mask;
mod no_op;
mod plan;
mod report;
mod resume;
mod run;
mod run_id;
mod run_record;
mod secrets;
mod signals;
mod strays;
mod watch;
mod workflow_file;

pub use args::{Cli, ColorChoice, Command};
pub use workflow_file::DEFAULT_NAMES;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use crate::diagnostic::render_human;
use crate::error::{EngineError, exit_code};

/// Runs the `engine` command line and returns its exit code.
#[must_use]
pub fn main() -> ExitCode {
    // Before any thread starts, so that every thread inherits the mask.
    signals::block_child_signals();
    let cli = match Cli::try_parse_from(args::untangle_force(std::env::args_os().collect())) {
        Ok(cli) => cli,
        Err(error) => {
            // clap prints help and version to stdout with success, usage errors with code 2.
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() {
                exit_code::INVALID
            } else {
                exit_code::SUCCESS
            });
        }
    };
    let color = cli.color.enabled();
    match run(cli) {
        Ok(()) => ExitCode::from(exit_code::SUCCESS),
        Err(error) => {
            print_error(&error, color);
            ExitCode::from(error.exit_code())
        }
    }
}

/// Runs one parsed command.
///
/// # Errors
/// Whatever ended the command; `main` prints it and maps it to an exit code.
pub fn run(cli: Cli) -> Result<(), EngineError> {
    let color = cli.color.enabled();
    let mut command = cli.command;
    locate_workflow(&mut command)?;
    match command {
        Command::Run(args) => run::run(&args),
        Command::Runs(args) => history::runs(&args),
        Command::Status(args) => history::status(&args),
        Command::Logs(args) => history::logs(&args),
        Command::Report(args) => report::report(&args),
        Command::Script(args) => crate::execute::run_script_worker(&load(&args.file)?, &args.task),
        Command::Mask(args) => mask::mask_worker(&args),
        Command::Check(args) => check::run(&args, color),
        Command::Plan(args) => plan::run(&args),
        Command::Graph(args) => graph::run(&args),
        Command::List(args) => list::run(&args),
        Command::Schema => {
            let schema = serde_json::to_string_pretty(&crate::parse::workflow_schema())
                .expect("a JSON value serializes");
            write_stdout(&format!("{schema}\n"))
        }
        Command::Completions { shell } => {
            let mut out = std::io::stdout().lock();
            clap_complete::generate(shell, &mut Cli::command(), "engine", &mut out);
            Ok(())
        }
    }
}

/// Sets the workflow file of a command that reads one: the file named, or the one found
/// (entering its directory), and the first argument as a task when it is not the file.
///
/// # Errors
/// No file found, or an argument that is neither the file nor a task where no task is taken.
fn locate_workflow(command: &mut Command) -> Result<(), EngineError> {
    use workflow_file::{Given, locate};
    match command {
        // Without a file, the latest run recorded in the state dir.
        Command::Report(_) => {}
        Command::Run(args) => {
            let given = Given {
                first: args.given.take(),
                named: args.named.take(),
                keep: vec![&mut args.state_dir, &mut args.events],
            };
            file_and_tasks(given, &mut args.file, &mut args.tasks)?;
        }
        Command::Plan(args) => {
            let given = Given {
                first: args.given.take(),
                named: args.named.take(),
                keep: vec![&mut args.state_dir],
            };
            file_and_tasks(given, &mut args.file, &mut args.tasks)?;
        }
        Command::Graph(args) => {
            let given = Given {
                first: args.given.take(),
                named: args.named.take(),
                keep: Vec::new(),
            };
            file_and_tasks(given, &mut args.file, &mut args.tasks)?;
        }
        Command::Status(args) => {
            let given = Given {
                first: args.given.take(),
                named: args.named.take(),
                keep: vec![&mut args.state_dir],
            };
            file_and_tasks(given, &mut args.file, &mut args.tasks)?;
        }
        Command::Logs(args) => {
            let given = Given {
                first: args.given.take(),
                named: args.named.take(),
                keep: vec![&mut args.state_dir],
            };
            let (file, task) = locate(given)?;
            args.file = file;
            args.task = match (task, args.task.take()) {
                (Some(task), None) | (None, Some(task)) => Some(task),
                (Some(first), Some(second)) => return Err(extra_argument(&second, &first)),
                (None, None) => {
                    return Err(EngineError::Usage {
                        message: "which task's log? name one".to_owned(),
                        hint: Some("`engine logs TASK` or `engine logs FILE TASK`".to_owned()),
                    });
                }
            };
        }
        Command::Runs(args) => {
            let given = Given {
                first: args.given.take(),
                named: args.named.take(),
                keep: vec![&mut args.state_dir],
            };
            args.file = only_file(locate(given)?)?;
        }
        Command::List(args) => {
            let given = Given {
                first: args.given.take(),
                named: args.named.take(),
                keep: Vec::new(),
            };
            args.file = only_file(locate(given)?)?;
        }
        Command::Check(args) => {
            args.files.append(&mut args.named);
            if args.files.is_empty() {
                let given = Given {
                    first: None,
                    named: None,
                    keep: Vec::new(),
                };
                args.files.push(locate(given)?.0);
            }
        }
        Command::Schema | Command::Completions { .. } | Command::Script(_) | Command::Mask(_) => {}
    }
    Ok(())
}

/// The file of a command that takes tasks, into `file`; a first argument that is a task
/// goes in front of `tasks`.
fn file_and_tasks(
    given: workflow_file::Given<'_>,
    file: &mut std::path::PathBuf,
    tasks: &mut Vec<String>,
) -> Result<(), EngineError> {
    let (found, task) = workflow_file::locate(given)?;
    *file = found;
    tasks.splice(0..0, task);
    Ok(())
}

/// The file of a command that takes no task.
fn only_file(
    (file, task): (std::path::PathBuf, Option<String>),
) -> Result<std::path::PathBuf, EngineError> {
    match task {
        None => Ok(file),
        Some(task) => Err(EngineError::Usage {
            message: format!("`{task}` is not a workflow file, and this command takes no task"),
            hint: Some(format!(
                "name an existing file, or leave it out to use `{}` found here or above",
                DEFAULT_NAMES[0]
            )),
        }),
    }
}

/// An argument after the task of a command that takes one.
fn extra_argument(extra: &str, task: &str) -> EngineError {
    EngineError::Usage {
        message: format!("unexpected argument `{extra}` after the task `{task}`"),
        hint: Some("this command takes one task".to_owned()),
    }
}

/// Writes text to stdout; a closed pipe (`engine plan | head`) is not an error.
pub(crate) fn write_stdout(text: &str) -> Result<(), EngineError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(EngineError::io("cannot write to stdout")(error))
        }
        _ => Ok(()),
    }
}

pub(crate) fn print_error(error: &EngineError, color: bool) {
    let mut err = std::io::stderr().lock();
    match error {
        EngineError::Invalid(reports) if unreadable(reports) => {
            // The file is missing or not a file: that is all there is to say.
            for diagnostic in reports.iter().flat_map(|report| &report.diagnostics) {
                let _ = writeln!(err, "error: {}", diagnostic.message);
                if let Some(hint) = &diagnostic.hint {
                    let _ = writeln!(err, "  hint: {hint}");
                }
            }
        }
        EngineError::Invalid(reports) => {
            for report in reports {
                let _ = err.write_all(render_human(report, color).as_bytes());
            }
            let count: usize = reports.iter().map(|r| r.diagnostics.len()).sum();
            let _ = writeln!(
                err,
                "error: the workflow is invalid ({count} {}); nothing was run",
                if count == 1 { "problem" } else { "problems" }
            );
        }
        EngineError::AlreadyReported
        | EngineError::TasksFailed { .. }
        | EngineError::Interrupted => {}
        EngineError::Usage { message, hint } => {
            let _ = writeln!(err, "error: {message}");
            if let Some(hint) = hint {
                let _ = writeln!(err, "  hint: {hint}");
            }
        }
        EngineError::Cluster { message, hint } | EngineError::State { message, hint } => {
            let _ = writeln!(err, "error: {message}");
            let _ = writeln!(err, "  hint: {hint}");
        }
        EngineError::Io { .. } | EngineError::Declined { .. } => {
            let _ = writeln!(err, "error: {error}");
        }
    }
}

/// Whether every problem is a workflow file that cannot be read at all.
fn unreadable(reports: &[crate::diagnostic::Report]) -> bool {
    !reports.is_empty()
        && reports
            .iter()
            .flat_map(|report| &report.diagnostics)
            .all(|diagnostic| diagnostic.kind == crate::diagnostic::DiagnosticKind::Unreadable)
}

impl ColorChoice {
    /// Whether to color diagnostics on stderr.
    #[must_use]
    pub fn enabled(self) -> bool {
        match self {
            Self::Always => true,
            Self::Never => false,
            Self::Auto => std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal(),
        }
    }
}

/// Loads a workflow or fails with its report.
pub(crate) fn load(path: &std::path::Path) -> Result<crate::model::Workflow, EngineError> {
    crate::validate::load_workflow(path).map_err(EngineError::Invalid)
}

/// Loads a workflow to run it: its warnings are printed on stderr (as `engine check`
/// shows them), then the variables given with `--var` are set. See `load_targets` for
/// `words` and `args`.
pub(crate) fn load_to_run(
    path: &std::path::Path,
    words: &[String],
    args: &[String],
    vars: &[(String, String)],
) -> Result<(crate::model::Workflow, Vec<String>), EngineError> {
    let (workflow, targets, warnings) = load_targets(path, words, args)?;
    let color = ColorChoice::Auto.enabled();
    let mut err = std::io::stderr().lock();
    for report in &warnings {
        let _ = err.write_all(render_human(report, color).as_bytes());
    }
    if !warnings.is_empty() {
        // A run answered without loading would not repeat them.
        crate::files::observe::spoil("the workflow has warnings");
    }
    Ok((with_vars(workflow, vars)?, targets))
}

/// Loads a workflow with the variables given with `--var`, for the targets `words` (task
/// names, each followed by its `name=value` parameters): the workflow, with the instances
/// of tasks with parameters they ask for, and the targets as task names
/// (`build(profile=release)`). `args` (the words after `--`) become `${{ args }}` of the
/// last task named.
pub(crate) fn load_for(
    path: &std::path::Path,
    words: &[String],
    args: &[String],
    vars: &[(String, String)],
) -> Result<(crate::model::Workflow, Vec<String>), EngineError> {
    let (workflow, targets, _) = load_targets(path, words, args)?;
    Ok((with_vars(workflow, vars)?, targets))
}

/// A loaded workflow, the targets as task names, and the warnings.
type Loaded = (
    crate::model::Workflow,
    Vec<String>,
    Vec<crate::diagnostic::Report>,
);

/// Reads `words` as targets with their parameters, checks each against its task's
/// `params` (usage errors with the task's signature), loads the workflow again with the
/// instances that it does not have yet, and gives `args` to the last target.
fn load_targets(
    path: &std::path::Path,
    words: &[String],
    args: &[String],
) -> Result<Loaded, EngineError> {
    let mut targets = crate::model::read_targets(words).map_err(|error| EngineError::Usage {
        message: error.to_string(),
        hint: Some("name the task first: `engine run FILE deploy env=prod`".to_owned()),
    })?;
    let (mut workflow, mut warnings) =
        crate::validate::load_workflow_warned(path).map_err(EngineError::Invalid)?;
    // An alias stands for its task, parameters and `--` words included.
    for target in &mut targets {
        if workflow.find(&target.name).is_none()
            && let Some(task) = workflow
                .tasks
                .iter()
                .find(|task| task.aliases().contains(&target.name))
        {
            target.name = task.group.as_deref().unwrap_or(&task.name).to_owned();
        }
    }
    let mut names = Vec::with_capacity(targets.len());
    let mut requests = Vec::new();
    // A value given on the command line may be a secret's: errors that quote one are masked.
    let masker = workflow.known_secrets_masker().unwrap_or_default();
    let masked = |text: String| masker.mask(&text).into_owned();
    for target in &targets {
        let Some(signature) = workflow.signature(&target.name) else {
            if let Some((name, _)) = target.given.first()
                && workflow.find(&target.name).is_some()
            {
                return Err(EngineError::Usage {
                    message: masked(format!(
                        "`{}` has no parameters, but got `{name}`",
                        target.name
                    )),
                    hint: Some("declare it in the task: `params: { name: default }`".to_owned()),
                });
            }
            names.push(target.name.clone());
            continue;
        };
        let bound = signature
            .bind(&target.given)
            .map_err(|error| EngineError::Usage {
                message: masked(error.to_string()),
                hint: Some(masked(error.hint())),
            })?;
        let name = signature.instance_name(&bound);
        if workflow.find(&name).is_none() {
            requests.push((target.name.clone(), target.given.clone()));
        }
        names.push(name);
    }
    if !requests.is_empty() {
        (workflow, warnings) = crate::validate::load_workflow_requested(path, &requests)
            .map_err(EngineError::Invalid)?;
    }
    if !args.is_empty() {
        let task = names
            .last()
            .and_then(|name| workflow.find(name))
            .ok_or_else(|| EngineError::Usage {
                message:
                    "the words after `--` are given to the task named before them, and none is"
                        .to_owned(),
                hint: Some("name one task: `engine run FILE test -- -k slow`".to_owned()),
            })?;
        workflow.tasks[task.index()].args = args.to_vec().into();
    }
    workflow.mask_task_names();
    let masker = workflow.known_secrets_masker().ok();
    let names = match masker {
        Some(masker) if !masker.is_empty() => names
            .iter()
            .map(|name| masker.mask(name).into_owned())
            .collect(),
        _ => names,
    };
    Ok((workflow, names, warnings))
}

/// Sets the variables given with `--var`.
fn with_vars(
    mut workflow: crate::model::Workflow,
    vars: &[(String, String)],
) -> Result<crate::model::Workflow, EngineError> {
    for (name, text) in vars {
        crate::validate::override_var(&mut workflow, name, text)
            .map_err(|(message, hint)| EngineError::Usage { message, hint })?;
    }
    Ok(workflow)
}

/// Builds the graph of the requested targets (tasks, or files they produce), or explains
/// which is unknown. `file` is the workflow's path as the user typed it, for the hint.
pub(crate) fn select(
    workflow: &crate::model::Workflow,
    targets: &[String],
    file: &std::path::Path,
) -> Result<crate::plan::Graph, EngineError> {
    let names = crate::plan::target_names(&resolve_targets(workflow, targets, file)?);
    let graph =
        crate::plan::Graph::build(workflow, &names).map_err(|error| EngineError::Usage {
            message: error.to_string(),
            hint: Some(
                error
                    .suggestion
                    .unwrap_or_else(|| format!("`engine list {}` shows the tasks", file.display())),
            ),
        })?;
    // Only the tasks that run need their parameters.
    if let Some(error) = graph
        .tasks()
        .iter()
        .find_map(|&task| workflow.task(task).unbound())
    {
        return Err(EngineError::Usage {
            message: error.to_string(),
            hint: Some(error.hint()),
        });
    }
    Ok(graph)
}

/// What each target stands for: file targets (paths relative to the current directory) are
/// turned into the tasks that produce them.
pub(crate) fn resolve_targets(
    workflow: &crate::model::Workflow,
    targets: &[String],
    file: &std::path::Path,
) -> Result<Vec<crate::plan::Resolved>, EngineError> {
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let cwd =
        std::env::current_dir().map_err(EngineError::io("cannot read the current directory"))?;
    crate::plan::resolve_targets(workflow, targets, &cwd).map_err(|error| EngineError::Usage {
        message: error.to_string(),
        hint: Some(error.suggestion.unwrap_or_else(|| {
            format!(
                "a file target is a path (relative to the current directory) that a task of {} declares in `outputs`",
                file.display()
            )
        })),
    })
}
