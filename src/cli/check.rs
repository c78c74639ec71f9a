//! `engine check`: validate files and report every problem; with `--target`, also what each
//! target stands for in each valid file.

use std::io::Write;

use serde_json::json;

use super::args::{CheckArgs, CheckFormat};
use crate::diagnostic::{render_human, render_json};
use crate::error::EngineError;
use crate::model::Workflow;
use crate::validate::load_workflow_warned;

/// Checks every file; prints `ok` lines for valid ones and diagnostics for the rest.
///
/// # Errors
/// `Invalid` (or `AlreadyReported` in JSON mode) when any file has a problem.
pub fn run(args: &CheckArgs, color: bool) -> Result<(), EngineError> {
    let results: Vec<_> = args
        .files
        .iter()
        .map(|path| (path, load_workflow_warned(path)))
        .collect();
    // What each target stands for in each valid file, or why it stands for nothing.
    let targets: Vec<Vec<Target>> = results
        .iter()
        .map(|(path, result)| match result {
            Ok((workflow, _)) => args
                .target
                .iter()
                .map(|target| resolve(workflow, target, path))
                .collect(),
            Err(_) => Vec::new(),
        })
        .collect();
    let targets_found = targets.iter().flatten().all(|(_, found)| found.is_ok());
    let all_valid = results.iter().all(|(_, result)| result.is_ok()) && targets_found;
    match args.format {
        CheckFormat::Json => {
            let files: Vec<_> = results
                .iter()
                .zip(&targets)
                .map(|((path, result), targets)| match result {
                    Ok((workflow, warnings)) => json!({
                        "file": path.display().to_string(),
                        "valid": true,
                        "tasks": workflow.tasks.len(),
                        "diagnostics": warnings.iter().flat_map(render_json).collect::<Vec<_>>(),
                        "notes": misreadings(workflow),
                        "targets": targets.iter().map(target_json).collect::<Vec<_>>(),
                    }),
                    Err(reports) => json!({
                        "file": path.display().to_string(),
                        "valid": false,
                        "tasks": null,
                        "diagnostics": reports.iter().flat_map(render_json).collect::<Vec<_>>(),
                    }),
                })
                .collect();
            super::write_stdout(&format!(
                "{:#}\n",
                json!({ "valid": all_valid, "files": files })
            ))?;
            if all_valid {
                Ok(())
            } else {
                Err(EngineError::AlreadyReported)
            }
        }
        CheckFormat::Human => {
            let mut out = String::new();
            let mut reports = Vec::new();
            let mut warned = Vec::new();
            let mut unfound = Vec::new();
            for ((path, result), targets) in results.into_iter().zip(&targets) {
                match result {
                    Ok((workflow, warnings)) => {
                        // Warnings are shown like errors; they do not fail the check.
                        warned.extend(warnings);
                        let count = workflow.tasks.len();
                        out.push_str(&format!(
                            "ok: {} ({count} {})\n",
                            path.display(),
                            if count == 1 { "task" } else { "tasks" }
                        ));
                        for note in misreadings(&workflow) {
                            out.push_str(&format!("  note: {note}\n"));
                        }
                        for (target, found) in targets {
                            match found {
                                Ok(tasks) => out.push_str(&format!(
                                    "  target `{target}`: {}\n",
                                    stands_for(tasks)
                                )),
                                Err((message, hint)) => {
                                    unfound.push((path.display(), message, hint));
                                }
                            }
                        }
                    }
                    Err(found) => reports.extend(found),
                }
            }
            super::write_stdout(&out)?;
            let mut err = std::io::stderr().lock();
            for report in &warned {
                let _ = err.write_all(render_human(report, color).as_bytes());
            }
            for (path, message, hint) in &unfound {
                let _ = writeln!(err, "error: {path}: {message}");
                if let Some(hint) = hint {
                    let _ = writeln!(err, "  hint: {hint}");
                }
            }
            if reports.is_empty() {
                return if unfound.is_empty() {
                    Ok(())
                } else {
                    Err(EngineError::AlreadyReported)
                };
            }
            for report in &reports {
                let _ = err.write_all(render_human(report, color).as_bytes());
            }
            let problems: usize = reports
                .iter()
                .flat_map(|r| &r.diagnostics)
                .filter(|d| d.severity == crate::diagnostic::Severity::Error)
                .count();
            let _ = writeln!(
                err,
                "error: {problems} {} in {} {}",
                if problems == 1 { "problem" } else { "problems" },
                reports.len(),
                if reports.len() == 1 { "file" } else { "files" }
            );
            Err(EngineError::AlreadyReported)
        }
    }
}

/// A `--target` and the tasks it stands for, or the error and hint that say why it stands
/// for none.
type Target = (String, Result<Vec<String>, (String, Option<String>)>);

/// What `target` stands for in `workflow`, as `engine run` would select it.
fn resolve(workflow: &Workflow, target: &str, path: &std::path::Path) -> Target {
    // A task with parameters, named alone, runs with its defaults, or cannot run.
    if let Some(signature) = workflow.signature(target) {
        let found = signature
            .bind(&[])
            .map(|bound| vec![signature.instance_name(&bound)])
            .map_err(|error| (error.to_string(), Some(error.hint())));
        return (target.to_owned(), found);
    }
    let targets = [target.to_owned()];
    let found = super::resolve_targets(workflow, &targets, path).and_then(|resolved| {
        super::select(workflow, &targets, path)?;
        Ok(crate::plan::target_names(&resolved))
    });
    let found = found.map_err(|error| match error {
        EngineError::Usage { message, hint } => (message, hint),
        other => (other.to_string(), None),
    });
    (target.to_owned(), found)
}

/// "task `build`", "tasks `a`, `b`".
fn stands_for(tasks: &[String]) -> String {
    let list: Vec<String> = tasks.iter().map(|task| format!("`{task}`")).collect();
    format!(
        "{} {}",
        if tasks.len() == 1 { "task" } else { "tasks" },
        list.join(", ")
    )
}

fn target_json((target, found): &Target) -> serde_json::Value {
    match found {
        Ok(tasks) => json!({ "target": target, "tasks": tasks }),
        Err((message, hint)) => json!({ "target": target, "error": message, "hint": hint }),
    }
}

/// Notes on values a reader may misread (`python: 3.10` is the number 3.1, `deploy: yes` is
/// text): they do not make the check fail.
fn misreadings(workflow: &Workflow) -> Vec<String> {
    let mut notes: Vec<String> = workflow
        .vars
        .iter()
        .filter_map(|(name, value)| value.misreading(&format!("vars.{name}")))
        .collect();
    for task in &workflow.tasks {
        let name = task.group.as_deref().unwrap_or(&task.name);
        for (key, value) in &task.matrix {
            if let Some(note) = value.misreading(&format!("matrix.{key}` of `{name}")) {
                if !notes.contains(&note) {
                    notes.push(note);
                }
            }
        }
    }
    notes
}
