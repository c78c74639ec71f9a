//! `engine plan`: the dry run.

use super::args::{PlanArgs, PlanFormat};
use crate::error::EngineError;
use crate::plan::{render_plan_json, render_plan_text};

/// Prints the plan of the requested tasks.
///
/// # Errors
/// An invalid workflow or an unknown task name.
pub fn run(args: &PlanArgs) -> Result<(), EngineError> {
    let workflow = super::load_with_vars(&args.file, &args.vars)?;
    let graph = super::select(&workflow, &args.tasks, &args.file)?;
    let text = match args.format {
        PlanFormat::Text => render_plan_text(&workflow, &graph),
        PlanFormat::Json => format!("{:#}\n", render_plan_json(&workflow, &graph)),
    };
    super::write_stdout(&text)
}
