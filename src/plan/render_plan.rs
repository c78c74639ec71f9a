//! The dry run's output: waves of tasks that would run together, each with its isolation,
//! its exact command or a script summary, and its dependencies.

use std::fmt::Write;

use serde_json::json;

use super::Graph;
use super::filled::Filler;
use crate::model::{Command, Task, TaskId, Workflow};

/// The plan as text for a terminal or a log. Deterministic: waves in order, tasks in file order.
#[must_use]
pub fn render_plan_text(workflow: &Workflow, graph: &Graph) -> String {
    let waves = graph.waves();
    let filler = Filler::new(workflow, graph);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "plan for `{}`: {} {} in {} {}",
        workflow.name,
        graph.len(),
        plural(graph.len(), "task", "tasks"),
        waves.len(),
        plural(waves.len(), "wave", "waves"),
    );
    for (number, wave) in waves.iter().enumerate() {
        let together = if wave.len() > 1 {
            format!(" ({} tasks at once)", wave.len())
        } else {
            String::new()
        };
        let _ = writeln!(out, "\nwave {}{together}", number + 1);
        for &id in wave {
            render_task(&mut out, workflow, graph, &filler, workflow.task(id));
        }
    }
    out
}

fn plural<'a>(count: usize, one: &'a str, many: &'a str) -> &'a str {
    if count == 1 { one } else { many }
}

fn render_task(out: &mut String, workflow: &Workflow, graph: &Graph, filler: &Filler, task: &Task) {
    let _ = write!(out, "  {}  [{}]", super::shown_name(task), task.isolation);
    if let Some(timeout) = task.timeout {
        let _ = write!(out, "  timeout {timeout}");
    }
    if task.resources.cpus > 1 {
        let _ = write!(out, "  cpus {}", task.resources.cpus);
    }
    if let Some(pool) = task.pool.and_then(|pool| workflow.pools.get(pool)) {
        let _ = write!(out, "  pool {}", pool.name);
    }
    if task.retries > 0 {
        let _ = write!(out, "  retries {}", task.retries);
    }
    if task.allow_failure {
        out.push_str("  may fail");
    }
    if let Some(condition) = &task.condition {
        let _ = write!(out, "  if {}", condition.text);
    }
    let deps: Vec<&str> = graph
        .dependencies(task.id)
        .map(|dep| workflow.task(dep).name.as_str())
        .collect();
    if !deps.is_empty() {
        let _ = write!(out, "  after {}", deps.join(", "));
    }
    out.push('\n');
    if let Some(question) = task.confirm() {
        let _ = writeln!(out, "      confirm: {question}");
    }
    for requirement in task.requires.iter() {
        let _ = writeln!(out, "      requires: {}", requirement.run);
    }
    match &task.command {
        Command::None => out.push_str("      (no command: waits for its dependencies)\n"),
        Command::Shell { run, shell } => {
            // `$ ` is the default, `sh -e -c`; any other shell shows how it is started.
            let prefix = if &**shell == "sh" {
                "$ ".to_owned()
            } else {
                format!("{}$ ", crate::model::shell_invocation(shell).join(" "))
            };
            let run = filler.command(task).unwrap_or_else(|| run.to_string());
            for (index, line) in run.trim_end().lines().enumerate() {
                let lead = if index == 0 { prefix.as_str() } else { "  " };
                let _ = writeln!(out, "      {lead}{line}");
            }
        }
        Command::Script { source, .. } => {
            let source = filler.command(task).unwrap_or_else(|| source.to_string());
            let lines = source.trim_end().lines().count();
            let first = source
                .lines()
                .find(|line| !line.trim().is_empty())
                .unwrap_or("")
                .trim();
            let more = if lines > 1 {
                format!("  ({lines} lines)")
            } else {
                String::new()
            };
            let _ = writeln!(out, "      script: {first}{more}");
        }
    }
}

/// The plan as JSON: the workflow name and its waves, each a list of tasks.
#[must_use]
pub fn render_plan_json(workflow: &Workflow, graph: &Graph) -> serde_json::Value {
    let filler = Filler::new(workflow, graph);
    let task_json = |id: TaskId| {
        let task = workflow.task(id);
        let filled = filler.command(task);
        let (run, shell, script) = match &task.command {
            Command::None => (None, None, None),
            Command::Shell { run, shell } => (
                Some(filled.unwrap_or_else(|| run.to_string())),
                Some(shell.to_string()),
                None,
            ),
            Command::Script { source, .. } => (
                None,
                None,
                Some(filled.unwrap_or_else(|| source.to_string())),
            ),
        };
        json!({
            "name": task.name,
            "expands": super::expands_json(task),
            "isolation": task.isolation,
            "command": task.command.kind(),
            "run": run,
            "shell": shell,
            "script": script,
            "depends_on": graph.dependencies(id).map(|dep| workflow.task(dep).name.clone()).collect::<Vec<_>>(),
            "timeout_ms": task.timeout.map(|t| u64::try_from(t.get().as_millis()).unwrap_or(u64::MAX)),
            "cwd": task.cwd,
            "if": task.condition.as_ref().map(|condition| condition.text.clone()),
            "retries": task.retries,
            "allow_failure": task.allow_failure,
            "pool": task.pool.and_then(|pool| workflow.pools.get(pool)).map(|pool| pool.name.clone()),
            "cpus": task.resources.cpus,
            "memory": task.resources.memory.map(|memory| memory.to_string()),
        })
    };
    json!({
        "workflow": workflow.name,
        "tasks": graph.len(),
        "waves": graph.waves().into_iter().map(|wave| wave.into_iter().map(task_json).collect::<Vec<_>>()).collect::<Vec<_>>(),
    })
}
