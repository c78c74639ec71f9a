//! `engine plan`: the dry run.

use super::args::{PlanArgs, PlanFormat};
use crate::error::EngineError;
use crate::model::ItemCounts;
use crate::plan::{render_plan_json, render_plan_text};
use crate::record::explain::{Recorded, explain, in_file_order, lines};
use crate::record::{Store, StoreError};
use crate::state_dir::StateDir;

/// Prints the plan of the requested tasks.
///
/// # Errors
/// An invalid workflow or an unknown task name.
pub fn run(args: &PlanArgs) -> Result<(), EngineError> {
    let (workflow, targets) = super::load_for(&args.file, &args.tasks, &[], &args.vars)?;
    let graph = super::select(&workflow, &targets, &args.file)?;
    let verdicts = if args.explain {
        let dir = StateDir::resolve(args.state_dir.as_deref(), &args.file);
        let store = Store::open_existing(&dir).map_err(StoreError::into_engine_error)?;
        let recorded = Recorded::read(store.as_ref(), &dir.workflow_key(&args.file))
            .map_err(StoreError::into_engine_error)?;
        Some(in_file_order(&graph, explain(&workflow, &graph, &recorded)))
    } else {
        None
    };
    let text = match args.format {
        PlanFormat::Text => {
            let mut text = render_plan_text(&workflow, &graph, args.verbose);
            if let Some(verdicts) = &verdicts {
                text.push_str("\nwhy each task runs or not (from the run record):\n");
                let lines = lines(&workflow, verdicts, args.verbose);
                let width = lines
                    .iter()
                    .map(|line| line.name.chars().count())
                    .max()
                    .unwrap_or(0);
                for line in lines {
                    let (name, verdict) = (line.name, line.verdict);
                    text.push_str(&format!("  {name:<width$}  {verdict}\n"));
                }
            }
            text
        }
        PlanFormat::Json => {
            let mut plan = render_plan_json(&workflow, &graph);
            if let Some(verdicts) = &verdicts {
                let counts = ItemCounts::of(&workflow);
                plan["explain"] = verdicts
                    .iter()
                    .map(|(task, verdict)| {
                        serde_json::json!({
                            "task": workflow.task(*task).name,
                            "now": verdict.kind(),
                            "why": verdict.describe(&workflow, &counts, true),
                        })
                    })
                    .collect();
            }
            format!("{plan:#}\n")
        }
    };
    super::write_stdout(&text)
}
