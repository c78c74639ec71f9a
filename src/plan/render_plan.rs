//! The dry run's output: waves of tasks that would run together, each with its isolation,
//! its exact command or a script summary, and its dependencies. The items of a matrix task in
//! one wave are one entry (`compile[33 items]`, with the command of the first) unless every
//! item is asked for (`verbose`).

use std::fmt::Write;

use serde_json::json;

use super::Graph;
use super::filled::Filler;
use crate::model::{Command, ItemCounts, Task, TaskId, Workflow};

/// The plan as text for a terminal or a log. Deterministic: waves in order, tasks in file
/// order. Without `verbose`, a matrix task's items in one wave are one entry.
#[must_use]
pub fn render_plan_text(workflow: &Workflow, graph: &Graph, verbose: bool) -> String {
    let waves = graph.waves();
    let filler = Filler::new(workflow, graph);
    let counts = ItemCounts::of(workflow);
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
    let plan = Plan {
        workflow,
        graph,
        filler: &filler,
        counts: &counts,
        verbose,
    };
    for (number, wave) in waves.iter().enumerate() {
        let together = if wave.len() > 1 {
            format!(" ({} tasks at once)", wave.len())
        } else {
            String::new()
        };
        let _ = writeln!(out, "\nwave {}{together}", number + 1);
        for entry in entries(workflow, wave, verbose) {
            plan.render_entry(&mut out, &entry);
        }
    }
    out
}

fn plural<'a>(count: usize, one: &'a str, many: &'a str) -> &'a str {
    if count == 1 { one } else { many }
}

/// The tasks of one wave as entries: each task alone, or (without `verbose`) the items of one
/// matrix task together at the place of the first.
fn entries(workflow: &Workflow, wave: &[TaskId], verbose: bool) -> Vec<Vec<TaskId>> {
    let mut entries: Vec<Vec<TaskId>> = Vec::new();
    let mut at: rustc_hash::FxHashMap<&str, usize> = rustc_hash::FxHashMap::default();
    for &task in wave {
        match workflow.task(task).group.as_deref().filter(|_| !verbose) {
            Some(group) => match at.get(group) {
                Some(&index) => entries[index].push(task),
                None => {
                    at.insert(group, entries.len());
                    entries.push(vec![task]);
                }
            },
            None => entries.push(vec![task]),
        }
    }
    entries
}

/// What rendering an entry needs.
struct Plan<'a> {
    workflow: &'a Workflow,
    graph: &'a Graph,
    filler: &'a Filler<'a>,
    counts: &'a ItemCounts,
    verbose: bool,
}

impl Plan<'_> {
    /// One task, or several items of one matrix task: the first's settings and command
    /// stand for all (they differ only in their matrix values), their dependencies together.
    fn render_entry(&self, out: &mut String, entry: &[TaskId]) {
        let workflow = self.workflow;
        let task = workflow.task(entry[0]);
        let name = if entry.len() > 1 {
            self.counts.name(workflow, task.id, entry.len())
        } else {
            super::shown_name(task).into_owned()
        };
        let _ = write!(out, "  {name}  [{}]", task.isolation);
        settings(out, workflow, task);
        let mut deps: Vec<TaskId> = entry
            .iter()
            .flat_map(|&item| self.graph.dependencies(item))
            .collect();
        deps.sort_unstable();
        deps.dedup();
        if !deps.is_empty() {
            let names = self.counts.names(workflow, &deps, self.verbose);
            let _ = write!(out, "  after {}", names.join(", "));
        }
        out.push('\n');
        if let Some(question) = task.confirm() {
            let _ = writeln!(out, "      confirm: {question}");
        }
        for requirement in task.requires.iter() {
            let _ = writeln!(out, "      requires: {}", requirement.run);
        }
        self.render_command(out, task);
        if entry.len() > 1 {
            let _ = writeln!(
                out,
                "      (the command of {}; {} more alike, `--verbose` shows each)",
                task.name,
                entry.len() - 1
            );
        }
    }

    fn render_command(&self, out: &mut String, task: &Task) {
        match &task.command {
            Command::None => out.push_str("      (no command: waits for its dependencies)\n"),
            Command::Shell { run, shell } => {
                // `$ ` is the default, `sh -e -c`; any other shell shows how it is started.
                let prefix = if &**shell == "sh" {
                    "$ ".to_owned()
                } else {
                    format!("{}$ ", crate::model::shell_invocation(shell).join(" "))
                };
                let run = self.filler.command(task).unwrap_or_else(|| run.to_string());
                for (index, line) in run.trim_end().lines().enumerate() {
                    let lead = if index == 0 { prefix.as_str() } else { "  " };
                    let _ = writeln!(out, "      {lead}{line}");
                }
            }
            Command::Script { source, .. } => {
                let source = self
                    .filler
                    .command(task)
                    .unwrap_or_else(|| source.to_string());
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
}

/// A task's settings on its line: timeout, cpus, pool, retries, may fail, `if`.
fn settings(out: &mut String, workflow: &Workflow, task: &Task) {
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
