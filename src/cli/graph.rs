//! `engine graph`: the dependency graph in several formats.

use super::args::GraphArgs;
use crate::error::EngineError;
use crate::plan::render_graph;

/// Prints the graph of the requested tasks.
///
/// # Errors
/// An invalid workflow or an unknown task name.
pub fn run(args: &GraphArgs) -> Result<(), EngineError> {
    let (workflow, targets) = super::load_for(&args.file, &args.tasks, &[], &[])?;
    let graph = super::select(&workflow, &targets, &args.file)?;
    super::write_stdout(&render_graph(&workflow, &graph, args.format))
}
