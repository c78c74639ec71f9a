//! `Templating`: fills in a task's templates and evaluates its condition when it is ready,
//! from the workflow's variables, the environment, the task's matrix values and the results
//! of the tasks it depends on.

use std::sync::Arc;

use rhai::{Dynamic, Map};

use crate::exchange::{Launch, Results};
use crate::model::{Command, Task, TaskId, Workflow};
use crate::plan::Graph;
use crate::template::{Context, DependencyStatus, Evaluator};

/// What a finished task left for the templates of the tasks after it.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// `success`, `failure`, `skipped` or `cancelled`.
    pub status: &'static str,
    /// Its results.
    pub results: Arc<Results>,
}

/// Evaluates templates and conditions; made on first use, as most runs have neither.
pub struct Templating<'a> {
    workflow: &'a Workflow,
    graph: &'a Graph,
    evaluator: Evaluator,
    vars: Map,
    /// The engine's own environment.
    process_env: Map,
}

impl<'a> Templating<'a> {
    /// The templating of one run of the tasks of `graph`.
    #[must_use]
    pub fn new(workflow: &'a Workflow, graph: &'a Graph) -> Self {
        Self {
            workflow,
            graph,
            evaluator: Evaluator::new(),
            vars: workflow
                .vars
                .iter()
                .map(|(name, value)| (name.as_str().into(), value.to_dynamic()))
                .collect(),
            process_env: std::env::vars()
                .map(|(name, value)| (name.into(), value.into()))
                .collect(),
        }
    }

    /// The values a template of `task` sees.
    fn context(
        &self,
        task: &Task,
        outcomes: &[Option<Outcome>],
        status: DependencyStatus,
    ) -> Context {
        let mut env = self.process_env.clone();
        for (name, value) in task.env.iter() {
            if !value.contains("${{") {
                env.insert(name.as_str().into(), value.clone().into());
            }
        }
        let matrix = matrix_of(task);
        let mut tasks = Map::new();
        // A matrix task's name as written (`test`) stands for all its combinations: its
        // status is theirs taken together.
        let mut groups: Vec<(&str, &'static str)> = Vec::new();
        for ancestor in ancestors(self.graph, task.id) {
            let Some(outcome) = &outcomes[ancestor.index()] else {
                continue;
            };
            if let Some(group) = &self.workflow.task(ancestor).group {
                match groups.iter_mut().find(|(name, _)| *name == &**group) {
                    Some((_, status)) => *status = group_status(status, outcome.status),
                    None => groups.push((group, outcome.status)),
                }
            }
            let results: Map = outcome
                .results
                .iter()
                .map(|(key, value)| (key.as_str().into(), value.clone().into()))
                .collect();
            let mut entry = Map::new();
            entry.insert("status".into(), outcome.status.into());
            entry.insert("results".into(), Dynamic::from_map(results));
            tasks.insert(
                self.workflow.task(ancestor).name.as_str().into(),
                Dynamic::from_map(entry),
            );
        }
        for (group, status) in groups {
            let mut entry = Map::new();
            entry.insert("status".into(), status.into());
            entry.insert("results".into(), Dynamic::from_map(Map::new()));
            tasks
                .entry(group.into())
                .or_insert_with(|| Dynamic::from_map(entry));
        }
        let mut context = Context {
            vars: self.vars.clone(),
            env,
            matrix,
            tasks,
            status,
            texts: Vec::new(),
        };
        context.remember_texts("vars", &self.workflow.vars);
        context.remember_texts("matrix", &task.matrix);
        context
    }

    /// The constants a script of `task` reads: `vars`, `matrix` and, when the script names
    /// it, `tasks` (the status and results of every task it depends on).
    pub fn constants(&self, task: &Task, outcomes: &[Option<Outcome>]) -> Map {
        let status = DependencyStatus {
            all_succeeded: true,
            any_failed: false,
        };
        let reads_tasks =
            matches!(&task.command, Command::Script { source, .. } if source.contains("tasks"));
        let context = if reads_tasks {
            self.context(task, outcomes, status)
        } else {
            Context {
                vars: self.vars.clone(),
                matrix: matrix_of(task),
                ..Context::default()
            }
        };
        let mut constants = Map::new();
        constants.insert("vars".into(), Dynamic::from_map(context.vars));
        constants.insert("matrix".into(), Dynamic::from_map(context.matrix));
        constants.insert("tasks".into(), Dynamic::from_map(context.tasks));
        constants
    }

    /// Whether the task's condition holds.
    ///
    /// # Errors
    /// Why the condition could not be evaluated.
    pub fn condition(
        &self,
        task: &Task,
        outcomes: &[Option<Outcome>],
        status: DependencyStatus,
    ) -> Result<bool, String> {
        let Some(condition) = &task.condition else {
            return Ok(true);
        };
        let context = self.context(task, outcomes, status);
        self.evaluator
            .condition(&condition.expr, &context)
            .map_err(|error| format!("cannot evaluate `if: {}`: {error}", condition.text))
    }

    /// The task's launch with its templates filled in; `status` (how its dependencies
    /// ended) answers `success()` and `failure()`, as in its `if`.
    ///
    /// # Errors
    /// Why a template could not be filled in.
    pub fn launch(
        &self,
        task: &Task,
        outcomes: &[Option<Outcome>],
        attempt: u32,
        status: DependencyStatus,
    ) -> Result<Launch, String> {
        let mut launch = Launch::of(task, attempt);
        let Some(templates) = &task.templates else {
            return Ok(launch);
        };
        let context = self.context(task, outcomes, status);
        let render = |template| {
            self.evaluator
                .render(template, &context)
                .map_err(|error| format!("cannot fill in a template: {error}"))
        };
        if let Some(template) = &templates.command {
            let text = render(template)?;
            launch.command = match &task.command {
                Command::Shell { shell, .. } => Command::Shell {
                    run: text.into(),
                    shell: Arc::clone(shell),
                },
                Command::Script { .. } => {
                    let ast = crate::script::base_engine()
                        .compile(&text)
                        .map_err(|error| {
                            format!("the script does not compile once filled in: {error}")
                        })?;
                    Command::Script {
                        source: text.into(),
                        ast: Arc::new(ast),
                    }
                }
                Command::None => Command::None,
            };
        }
        if !templates.env.is_empty() {
            let mut env = task.env.to_vec();
            for (index, template) in &templates.env {
                if let Some(slot) = env.get_mut(*index) {
                    slot.1 = render(template)?;
                }
            }
            launch.env = env.into();
        }
        if !templates.inputs.is_empty() || !templates.outputs.is_empty() {
            let mut files = task.files.as_deref().cloned().unwrap_or_default();
            for (index, template) in &templates.inputs {
                if let Some(slot) = files.inputs.get_mut(*index) {
                    *slot = render(template)?;
                }
            }
            for (index, template) in &templates.outputs {
                if let Some(slot) = files.outputs.get_mut(*index) {
                    *slot = render(template)?;
                }
            }
            launch.files = Some(Arc::new(files));
        }
        if let Some(template) = &templates.cwd {
            launch.cwd = self
                .workflow
                .path
                .parent()
                .unwrap_or_else(|| std::path::Path::new("."))
                .join(render(template)?);
        }
        Ok(launch)
    }
}

/// The status of a matrix task's combinations together, from the status so far and one
/// more: `failure` if any failed, then `cancelled`, `success` if any succeeded (the others
/// being skipped), `skipped` when all were.
fn group_status(so_far: &'static str, next: &'static str) -> &'static str {
    const ORDER: [&str; 4] = ["failure", "cancelled", "success", "skipped"];
    let rank = |status: &str| ORDER.iter().position(|known| *known == status);
    match (rank(so_far), rank(next)) {
        (Some(a), Some(b)) if b < a => next,
        (None, _) => next,
        _ => so_far,
    }
}

/// A task's matrix values as a rhai map.
fn matrix_of(task: &Task) -> Map {
    task.matrix
        .iter()
        .map(|(key, value)| (key.as_str().into(), value.to_dynamic()))
        .collect()
}

/// Every task `task` depends on, directly or not.
fn ancestors(graph: &Graph, task: TaskId) -> Vec<TaskId> {
    let mut seen = rustc_hash::FxHashSet::default();
    let mut stack: Vec<TaskId> = graph.dependencies(task).collect();
    let mut out = Vec::new();
    while let Some(next) = stack.pop() {
        if seen.insert(next) {
            out.push(next);
            stack.extend(graph.dependencies(next));
        }
    }
    out
}
