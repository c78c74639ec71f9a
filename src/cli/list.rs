//! `engine list`: the tasks people can name, with their descriptions: tasks without a
//! `group` first, then each group under its heading (groups sorted by name, tasks in file
//! order), private tasks (`_name`) left out.

use std::fmt::Write;

use super::args::ListArgs;
use crate::error::EngineError;
use crate::model::{Task, Workflow};

/// Prints one line per task: name, isolation, description, then its markers (`default`,
/// `manual`, aliases).
///
/// # Errors
/// An invalid workflow.
pub fn run(args: &ListArgs) -> Result<(), EngineError> {
    let workflow = super::load(&args.file)?;
    super::write_stdout(&render(&workflow))
}

/// The listing of a workflow's public tasks.
fn render(workflow: &Workflow) -> String {
    // A task with parameters is listed once, by its signature, whatever instances its
    // dependents made of it (`build(profile=release)`).
    let mut signatures: Vec<&str> = Vec::new();
    let shown: Vec<&Task> = workflow
        .tasks
        .iter()
        .filter(|task| !task.is_private())
        .filter(|task| match task.signature.as_deref() {
            Some(signature) if signatures.contains(&signature.task.as_str()) => false,
            Some(signature) => {
                signatures.push(&signature.task);
                true
            }
            None => true,
        })
        .collect();
    let mut groups: Vec<&str> = shown.iter().filter_map(|task| group_of(task)).collect();
    groups.sort_unstable();
    groups.dedup();
    let indent = if groups.is_empty() { 0 } else { 2 };
    let width = shown
        .iter()
        .map(|task| {
            listed_name(task).chars().count() + if group_of(task).is_some() { indent } else { 0 }
        })
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    if let Some(description) = &workflow.description {
        let _ = writeln!(out, "{}: {description}", workflow.name);
    }
    for task in shown.iter().filter(|task| group_of(task).is_none()) {
        line(&mut out, task, "", width);
    }
    for group in groups {
        let _ = writeln!(out, "{group}:");
        for task in shown.iter().filter(|task| group_of(task) == Some(group)) {
            line(&mut out, task, "  ", width);
        }
    }
    out
}

fn group_of(task: &Task) -> Option<&str> {
    task.interface.as_deref().and_then(|i| i.group.as_deref())
}

/// The name a task is listed by: an instance of a task with parameters by its task's.
fn listed_name(task: &Task) -> &str {
    task.signature
        .as_deref()
        .map_or(task.name.as_str(), |signature| signature.task.as_str())
}

/// One task's line: `name  isolation  description  [markers]`.
fn line(out: &mut String, task: &Task, indent: &str, width: usize) {
    let name = format!("{indent}{}", listed_name(task));
    let description = task.description.as_deref().unwrap_or("").trim();
    let mut text = format!("{name:width$}  {:7}", task.isolation.as_str());
    if !description.is_empty() {
        text = format!("{text}  {description}");
    }
    let markers = markers(task);
    if !markers.is_empty() {
        text = format!("{text}  [{}]", markers.join("; "));
    }
    let _ = writeln!(out, "{}", text.trim_end());
}

/// What a task's line says besides its description: its parameters (`params: env=<dev|prod>
/// [version=1.0]`), whether it is the
/// default or manual task, its aliases.
fn markers(task: &Task) -> Vec<String> {
    let mut markers = Vec::new();
    if let Some(signature) = task.signature.as_deref() {
        // `deploy env=<dev|prod> [version=1.0]`, without the name the line starts with.
        let text = signature.to_string();
        let params = text.strip_prefix(signature.task.as_str()).unwrap_or(&text);
        markers.push(format!("params:{params}"));
    }
    if task.group.as_deref().unwrap_or(&task.name) == crate::plan::DEFAULT_TASK {
        markers.push("default".to_owned());
    }
    if task.manual {
        markers.push("manual".to_owned());
    }
    match task.aliases() {
        [] => {}
        aliases => markers.push(format!("alias: {}", aliases.join(", "))),
    }
    markers
}
