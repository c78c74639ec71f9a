//! `engine list`: task names and descriptions.

use std::fmt::Write;

use super::args::ListArgs;
use crate::error::EngineError;

/// Prints one line per task: name, isolation, description.
///
/// # Errors
/// An invalid workflow.
pub fn run(args: &ListArgs) -> Result<(), EngineError> {
    let workflow = super::load(&args.file)?;
    let width = workflow
        .tasks
        .iter()
        .map(|task| task.name.len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    if let Some(description) = &workflow.description {
        let _ = writeln!(out, "{}: {description}", workflow.name);
    }
    for task in &workflow.tasks {
        let description = task.description.as_deref().unwrap_or("").trim();
        let line = format!(
            "{:width$}  {:7}  {description}",
            task.name,
            task.isolation.as_str()
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    super::write_stdout(&out)
}
