//! The command line: clap arguments, one file per subcommand, and printing of errors. It
//! wires the rooms together; `engine run`'s steps that are not wiring each have their own
//! file here (`run_id`, `signals`, `limits`, `secrets`, `strays`, `resume`,
//! `run_record`), and so does writing its report when it ends (`report`).

mod args;
mod check;
mod graph;
mod history;
mod limits;
mod list;
mod mask;
mod plan;
mod report;
mod resume;
mod run;
mod run_id;
mod run_record;
mod secrets;
mod signals;
mod strays;

pub use args::{Cli, ColorChoice, Command};

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use crate::diagnostic::render_human;
use crate::error::{EngineError, exit_code};

/// Runs the `engine` command line and returns its exit code.
#[must_use]
pub fn main() -> ExitCode {
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
    match cli.command {
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

fn print_error(error: &EngineError, color: bool) {
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
        EngineError::Io { .. } => {
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

/// Loads a workflow and sets the variables given with `--var`.
pub(crate) fn load_with_vars(
    path: &std::path::Path,
    vars: &[(String, String)],
) -> Result<crate::model::Workflow, EngineError> {
    with_vars(load(path)?, vars)
}

/// Loads a workflow to run it: its warnings are printed on stderr (as `engine check`
/// shows them), then the variables given with `--var` are set.
pub(crate) fn load_to_run(
    path: &std::path::Path,
    vars: &[(String, String)],
) -> Result<crate::model::Workflow, EngineError> {
    let (workflow, warnings) =
        crate::validate::load_workflow_warned(path).map_err(EngineError::Invalid)?;
    let color = ColorChoice::Auto.enabled();
    let mut err = std::io::stderr().lock();
    for report in &warnings {
        let _ = err.write_all(render_human(report, color).as_bytes());
    }
    with_vars(workflow, vars)
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
    crate::plan::Graph::build(workflow, &names).map_err(|error| EngineError::Usage {
        message: error.to_string(),
        hint: Some(
            error
                .suggestion
                .unwrap_or_else(|| format!("`engine list {}` shows the tasks", file.display())),
        ),
    })
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
