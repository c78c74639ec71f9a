//! The command-line arguments (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::plan::GraphFormat;

/// engine: run YAML pipelines of tasks in parallel, each on a thread or in its own process.
#[derive(Debug, Parser)]
#[command(name = "engine", version, about, long_about = None, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 success, 1 a task failed, 2 invalid workflow or usage, 130 interrupted.\n\
Examples:\n  engine check workflows/seed.yaml\n  engine plan workflows/seed.yaml\n  engine graph workflows/seed.yaml --format dot | dot -Tsvg > graph.svg"
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
}

/// `engine check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The workflow files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
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
    /// The workflow file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Only these tasks and what they depend on (default: all).
    #[arg(value_name = "TASK")]
    pub tasks: Vec<String>,
    /// How to print the plan.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
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
    /// The workflow file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Only these tasks and what they depend on (default: all).
    #[arg(value_name = "TASK")]
    pub tasks: Vec<String>,
    /// The output format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Text)]
    pub format: GraphFormat,
}

/// `engine list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The workflow file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}
