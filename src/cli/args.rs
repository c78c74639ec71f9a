//! The command-line arguments (clap derive).

use std::path::PathBuf;

use clap::builder::TypedValueParser as _;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::model::Duration;
use crate::plan::GraphFormat;
use crate::report::{OutputMode, ProgressMode};

/// engine: run YAML pipelines of tasks in parallel, each on a thread or in its own process.
#[derive(Debug, Parser)]
#[command(name = "engine", version, about, long_about = None, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 success, 1 a task failed, 2 invalid workflow or usage, 130 interrupted.\n\
Examples:\n  engine run                 (the `default` task of the engine.yaml here or above)\n  engine run -f ci.yaml test\n  engine check workflows/seed.yaml\n  engine plan workflows/seed.yaml\n  engine graph workflows/seed.yaml --format dot | dot -Tsvg > graph.svg"
)]
pub struct Cli {
    /// When to color diagnostics.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// When to use color.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a workflow: its `default` task (else every task but the `manual` ones), or the named
    /// ones, and what they depend on.
    Run(RunArgs),
    /// Validate workflow files and report every problem with its line and column.
    Check(CheckArgs),
    /// Dry run: show the waves of tasks that would run together, with their commands.
    Plan(PlanArgs),
    /// Draw the dependency graph as text, Graphviz DOT, Mermaid or JSON.
    Graph(GraphArgs),
    /// List the tasks of a workflow with their descriptions.
    List(ListArgs),
    /// Print the JSON Schema of the workflow format (for editors).
    Schema,
    /// Print shell completions.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// List the recorded runs of a workflow: id, start, duration, outcome, task counts.
    Runs(RunsArgs),
    /// Show each task's last recorded state and whether it would run now, and why.
    Status(StatusArgs),
    /// Print a task's log from the latest run in which it ran (or `--run ID`).
    Logs(LogsArgs),
    /// Write a recorded run as one self-contained HTML page: timeline, graph, failures, logs.
    Report(ReportArgs),
    /// Internal: run one script task in this process (used for `isolation: process`).
    #[command(name = "__script", hide = true)]
    Script(ScriptArgs),
    /// Internal: run a Slurm job's command with its output masked (`ENGINE_MASK`).
    #[command(name = "__mask", hide = true)]
    Mask(MaskArgs),
}

/// `engine run`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes: 0 all tasks succeeded, 1 a task failed, 2 invalid workflow or usage, 130 interrupted."
)]
pub struct RunArgs {
    /// The workflow file, when the first argument is an existing file or ends in `.yaml` or
    /// `.yml` (else it is a TASK) [default: `engine.yaml` or `engine.yml` in the current
    /// directory or the nearest parent, which the command then runs in].
    #[arg(value_name = "FILE")]
    pub given: Option<PathBuf>,
    /// The workflow file; every argument is then a TASK.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub named: Option<PathBuf>,
    /// The workflow file read: `named`, `given` or the one found (set after parsing).
    #[arg(skip)]
    pub file: PathBuf,
    /// Only these tasks and what they depend on [default: the `default` task, else every task
    /// but the `manual` ones]. `name=value` after a task sets one of its `params`.
    #[arg(value_name = "TASK")]
    pub tasks: Vec<String>,
    /// After `--`: `${{ args }}` of the last task named, one word each.
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<String>,
    /// Most process tasks at once; on Slurm, most jobs in the queue at once [default: the CPUs
    /// this process may use; 100 with Slurm jobs].
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..).map(usize::from))]
    pub jobs: Option<usize>,
    /// Where process tasks run, whatever the workflow says: `local` (child processes) or
    /// `slurm` (one batch job each) [default: each task's `executor`, else local].
    #[arg(long, value_enum, value_name = "EXECUTOR")]
    pub executor: Option<ExecutorChoice>,
    /// Worker threads for thread tasks [default: the CPUs, at least 4].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..).map(usize::from))]
    pub threads: Option<usize>,
    /// After a failure, keep running every task that does not depend on it.
    #[arg(short, long)]
    pub keep_going: bool,
    /// Print the plan instead of running (same as `engine plan`).
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// How to show progress on stderr.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
    /// How to show task output on stdout.
    #[arg(long, value_enum, default_value_t = OutputMode::Prefixed)]
    pub output: OutputMode,
    /// Where run records and logs go [default: `.engine/` next to the workflow].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Write every event as a JSON line to this file.
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// Time between SIGTERM and SIGKILL when a task is stopped.
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub grace: Duration,
    /// Set a workflow variable (`vars:`) for this run, like `--var tag=v1.2`. Repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// Run tasks even when they are up to date: all of them, or (`--force TASK`, repeatable)
    /// the named ones and every task that depends on them.
    #[arg(long, value_name = "TASK", num_args = 0..=1, default_missing_value = "", action = clap::ArgAction::Append)]
    pub force: Vec<String>,
    /// Continue the last run of this workflow that did not succeed: what it finished is not
    /// run again, what it was running starts over. Without TASK or --var, those of that run.
    #[arg(long, conflicts_with = "no_record")]
    pub resume: bool,
    /// Keep the outputs of a task that fails or is interrupted, instead of deleting them
    /// (they are never taken as up to date).
    #[arg(long)]
    pub keep_incomplete: bool,
    /// If another `engine run` of this workflow uses the state dir, wait for it to end
    /// instead of refusing to start.
    #[arg(long)]
    pub wait: bool,
    /// Keep no run record: no up-to-date checks (every task runs), no history, no resume.
    #[arg(long)]
    pub no_record: bool,
    /// Name every task: each fresh task and join in the progress lines, each matrix item in
    /// the plan and summary (without it, `compile[33 items]` and one line for a no-op run).
    #[arg(short, long)]
    pub verbose: bool,
    /// Run, then keep watching the selected tasks' inputs (declared and depfile-discovered),
    /// the workflow file, its includes and `env_file`: a change stops the running tasks it
    /// affects and starts a new run, which skips what is up to date. Outputs, the state dir
    /// and paths in `.gitignore` or `.engineignore` never trigger. Ctrl-C ends it (exit 130).
    #[arg(long, conflicts_with_all = ["resume", "dry_run"])]
    pub watch: bool,
    /// With `--watch`: clear the screen before each run.
    #[arg(long, requires = "watch")]
    pub clear: bool,
    /// Answer yes to every `confirm` question of the selected tasks (needed without a
    /// terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// When the run ends, whatever its outcome, write its HTML report: to PATH
    /// (`--report=PATH`), or with `--report` alone to `<state dir>/runs/<id>/report.html`.
    #[arg(long, value_name = "PATH", num_args = 0..=1, require_equals = true, default_missing_value = "", conflicts_with = "no_record")]
    pub report: Option<String>,
}

/// Reads `--force FILE.yaml` (a flag followed by the workflow) as `--force=` and the file:
/// task names never contain a dot, so a `.yaml` or `.yml` value is no task.
#[must_use]
pub fn untangle_force(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut out = Vec::with_capacity(args.len());
    let mut iter = args.into_iter().peekable();
    while let Some(arg) = iter.next() {
        let workflow_next = iter
            .peek()
            .and_then(|next| next.to_str())
            .is_some_and(|next| {
                std::path::Path::new(next)
                    .extension()
                    .is_some_and(|ext| ext == "yaml" || ext == "yml")
            });
        if arg == "--force" && workflow_next {
            out.push(std::ffi::OsString::from("--force="));
        } else {
            out.push(arg);
        }
    }
    out
}

/// `engine report`.
#[derive(Debug, Args)]
#[command(
    after_help = "The page needs no network and no script: open it from disk, attach it to a bug report.\n\
Examples:\n  engine report workflow.yaml\n  engine report workflow.yaml --run 20261125-153012-123-4242 -o run.html"
)]
pub struct ReportArgs {
    /// The workflow file [default: the latest run recorded in `--state-dir`, else `.engine/`].
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// The run (an id from `engine runs`) [default: the latest].
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,
    /// Where to write the page [default: `<state dir>/runs/<id>/report.html`].
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Where run records are [default: `.engine/` next to the workflow].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// `engine runs`.
#[derive(Debug, Args)]
pub struct RunsArgs {
    /// The workflow file [default: `engine.yaml` or `engine.yml` in the current directory or
    /// the nearest parent, which the command then runs in].
    #[arg(value_name = "FILE")]
    pub given: Option<PathBuf>,
    /// The workflow file (the same as FILE).
    #[arg(
        short = 'f',
        long = "file",
        value_name = "FILE",
        conflicts_with = "given"
    )]
    pub named: Option<PathBuf>,
    /// The workflow file read: `named`, `given` or the one found (set after parsing).
    #[arg(skip)]
    pub file: PathBuf,
    /// Most runs shown, newest first (at least 1).
    #[arg(short = 'n', long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..).map(usize::from))]
    pub limit: usize,
    /// Where run records are [default: `.engine/` next to the workflow].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// How to print them.
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

/// `engine status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The workflow file, when the first argument is an existing file or ends in `.yaml` or
    /// `.yml` (else it is a TASK) [default: `engine.yaml` or `engine.yml` in the current
    /// directory or the nearest parent, which the command then runs in].
    #[arg(value_name = "FILE")]
    pub given: Option<PathBuf>,
    /// The workflow file; every argument is then a TASK.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub named: Option<PathBuf>,
    /// The workflow file read: `named`, `given` or the one found (set after parsing).
    #[arg(skip)]
    pub file: PathBuf,
    /// Only these tasks and what they depend on [default: the `default` task, else every task
    /// but the `manual` ones].
    #[arg(value_name = "TASK")]
    pub tasks: Vec<String>,
    /// Where run records are [default: `.engine/` next to the workflow].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Set a workflow variable, as for `engine run`.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// How to print it.
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
    /// Name every matrix item (without it, a matrix task's items are one entry:
    /// `compile[33 items]`).
    #[arg(short, long)]
    pub verbose: bool,
}

/// `engine logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The workflow file, when the first argument is an existing file or ends in `.yaml` or
    /// `.yml` (else it is a TASK) [default: `engine.yaml` or `engine.yml` in the current
    /// directory or the nearest parent, which the command then runs in].
    #[arg(value_name = "FILE")]
    pub given: Option<PathBuf>,
    /// The workflow file; every argument is then a TASK.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub named: Option<PathBuf>,
    /// The workflow file read: `named`, `given` or the one found (set after parsing).
    #[arg(skip)]
    pub file: PathBuf,
    /// The task whose log to print.
    #[arg(value_name = "TASK")]
    pub task: Option<String>,
    /// The run (an id from `engine runs`) [default: the latest run in which the task ran].
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,
    /// Where run records are [default: `.engine/` next to the workflow].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// Text for people or JSON for programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// A table.
    Text,
    /// JSON.
    Json,
}

/// `engine run --executor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExecutorChoice {
    /// Child processes of the engine on this machine.
    Local,
    /// Batch jobs on a Slurm cluster (`sbatch`); thread tasks still run inside the engine.
    Slurm,
}

impl From<ExecutorChoice> for crate::model::ExecutorKind {
    fn from(choice: ExecutorChoice) -> Self {
        match choice {
            ExecutorChoice::Local => Self::Local,
            ExecutorChoice::Slurm => Self::Slurm,
        }
    }
}

/// `engine __script`.
#[derive(Debug, Args)]
pub struct ScriptArgs {
    /// The workflow file.
    pub file: PathBuf,
    /// The task whose script to run.
    pub task: String,
}

/// `engine __mask`.
#[derive(Debug, Args)]
pub struct MaskArgs {
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub command: Vec<std::ffi::OsString>,
}

/// `engine check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The workflow files [default: `engine.yaml` or `engine.yml` in the current directory
    /// or the nearest parent, which the command then runs in].
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// A workflow file, as FILE (repeatable).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub named: Vec<PathBuf>,
    /// Also check that each file has this target: a task, or a file a task produces (a path
    /// relative to the current directory), as `engine run FILE TARGET` takes it. Repeatable.
    #[arg(long, value_name = "TARGET")]
    pub target: Vec<String>,
    /// How to print the result.
    #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
    pub format: CheckFormat,
}

/// Output formats of `engine check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// Rendered diagnostics with source lines and carets.
    Human,
    /// One JSON document with every diagnostic, for editors and CI.
    Json,
}

/// `engine plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The workflow file, when the first argument is an existing file or ends in `.yaml` or
    /// `.yml` (else it is a TASK) [default: `engine.yaml` or `engine.yml` in the current
    /// directory or the nearest parent, which the command then runs in].
    #[arg(value_name = "FILE")]
    pub given: Option<PathBuf>,
    /// The workflow file; every argument is then a TASK.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub named: Option<PathBuf>,
    /// The workflow file read: `named`, `given` or the one found (set after parsing).
    #[arg(skip)]
    pub file: PathBuf,
    /// Only these tasks and what they depend on [default: the `default` task, else every task
    /// but the `manual` ones].
    #[arg(value_name = "TASK")]
    pub tasks: Vec<String>,
    /// How to print the plan.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Set a workflow variable (`vars:`), like `--var tag=v1.2`. Repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// Say for each task why it would run or be skipped as up to date (from the run record).
    #[arg(long)]
    pub explain: bool,
    /// Where run records are, for `--explain` [default: `.engine/` next to the workflow].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Name every matrix item (without it, a matrix task's items are one entry:
    /// `compile[33 items]`).
    #[arg(short, long)]
    pub verbose: bool,
}

/// `NAME=VALUE` of `--var`.
fn parse_var(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!(
            "expected NAME=VALUE, like `tag=v1.2`, not `{text}`"
        )),
    }
}

/// Output formats of `engine plan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// Waves and commands for people.
    Text,
    /// The same as JSON.
    Json,
}

/// `engine graph`.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// The workflow file, when the first argument is an existing file or ends in `.yaml` or
    /// `.yml` (else it is a TASK) [default: `engine.yaml` or `engine.yml` in the current
    /// directory or the nearest parent, which the command then runs in].
    #[arg(value_name = "FILE")]
    pub given: Option<PathBuf>,
    /// The workflow file; every argument is then a TASK.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub named: Option<PathBuf>,
    /// The workflow file read: `named`, `given` or the one found (set after parsing).
    #[arg(skip)]
    pub file: PathBuf,
    /// Only these tasks and what they depend on [default: the `default` task, else every task
    /// but the `manual` ones].
    #[arg(value_name = "TASK")]
    pub tasks: Vec<String>,
    /// The output format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Text)]
    pub format: GraphFormat,
}

/// `engine list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The workflow file [default: `engine.yaml` or `engine.yml` in the current directory or
    /// the nearest parent, which the command then runs in].
    #[arg(value_name = "FILE")]
    pub given: Option<PathBuf>,
    /// The workflow file (the same as FILE).
    #[arg(
        short = 'f',
        long = "file",
        value_name = "FILE",
        conflicts_with = "given"
    )]
    pub named: Option<PathBuf>,
    /// The workflow file read: `named`, `given` or the one found (set after parsing).
    #[arg(skip)]
    pub file: PathBuf,
}
