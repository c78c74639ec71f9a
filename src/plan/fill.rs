//! `Templating`: fills in a task's launch (its templates, and the constants a script reads)
//! and evaluates its condition, from the workflow's variables, the environment, the task's
//! matrix values and the results and declared outputs of the tasks it depends on; and reads the axes of a
//! placeholder's matrix once its dependencies are done (`Templating::axes`). The one place
//! a launch is filled in: the run, `engine status`, `engine plan` and `plan --explain` all
//! use it, so that what they show and fingerprint is what runs.

use std::cell::OnceCell;
use std::sync::Arc;

use rhai::{Dynamic, Map};

use super::Graph;
use crate::exchange::{Launch, Results};
use crate::model::{Axis, Command, Expansion, Task, TaskId, Value, Workflow};
use crate::template::{Context, DependencyStatus, Evaluator, Part, Template};

/// What a finished task left for the templates of the tasks after it.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// `success`, `failure`, `skipped` or `cancelled`.
    pub status: &'static str,
    /// Its results.
    pub results: Arc<Results>,
}

/// Evaluates templates and conditions. The evaluator and the values it reads are made on
/// first use, as most runs have neither templates nor conditions. The workflow and graph
/// are given to each call, not kept: a run's grow as placeholders expand.
#[derive(Default)]
pub struct Templating {
    made: OnceCell<Made>,
}

/// The tasks a template is filled in among: the workflow and the graph of the run.
#[derive(Clone, Copy)]
pub struct Scope<'s> {
    /// The workflow, with the items of expanded placeholders.
    pub workflow: &'s Workflow,
    /// The graph of the selected tasks.
    pub graph: &'s Graph,
}

/// What `Templating` makes on first use.
struct Made {
    evaluator: Evaluator,
    vars: Map,
    /// The engine's own environment.
    process_env: Map,
}

impl Templating {
    /// The templating of one run.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn made(&self, workflow: &Workflow) -> &Made {
        self.made.get_or_init(|| Made {
            evaluator: Evaluator::new(),
            vars: workflow
                .vars
                .iter()
                .map(|(name, value)| (name.as_str().into(), value.to_dynamic()))
                .collect(),
            process_env: std::env::vars()
                .map(|(name, value)| (name.into(), value.into()))
                .collect(),
        })
    }

    /// The values a template of `task` sees; `outcomes` holds what the tasks before it left
    /// (none before a run: `tasks` is then empty).
    pub fn context(
        &self,
        scope: Scope<'_>,
        task: &Task,
        outcomes: &[Option<Outcome>],
        status: DependencyStatus,
    ) -> Context {
        self.context_with(scope, task, outcomes, status, reads_outputs(task))
    }

    /// The context of `task`; with `outputs`, each task before it also has its `outputs`.
    fn context_with(
        &self,
        scope: Scope<'_>,
        task: &Task,
        outcomes: &[Option<Outcome>],
        status: DependencyStatus,
        outputs: bool,
    ) -> Context {
        let Scope { workflow, graph } = scope;
        let made = self.made(workflow);
        let mut env = made.process_env.clone();
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
        // The outputs of each item of a matrix task read, for the task's name as written.
        let mut group_outputs: Vec<(&str, TaskId, Vec<String>)> = Vec::new();
        for ancestor in ancestors(graph, task.id) {
            let Some(outcome) = outcomes.get(ancestor.index()).and_then(Option::as_ref) else {
                continue;
            };
            let paths = outputs.then(|| self.outputs_of(scope, ancestor, outcomes, &task.cwd));
            if let Some(group) = &workflow.task(ancestor).group {
                match groups.iter_mut().find(|(name, _)| *name == &**group) {
                    Some((_, status)) => *status = group_status(status, outcome.status),
                    None => groups.push((group, outcome.status)),
                }
                if let Some(paths) = &paths {
                    group_outputs.push((group, ancestor, paths.clone()));
                }
            }
            // An expanded placeholder is the join of its items: its name stands for them all,
            // as a matrix task's does (their statuses together, their outputs).
            let spec = workflow.task(ancestor);
            if spec.depends_on.first().is_some_and(|&item| {
                workflow.task(item).group.as_deref() == Some(spec.name.as_str())
            }) {
                match groups.iter_mut().find(|(name, _)| *name == spec.name) {
                    Some((_, status)) => *status = group_status(status, outcome.status),
                    None => groups.push((&spec.name, outcome.status)),
                }
                continue;
            }
            let results: Map = outcome
                .results
                .iter()
                .map(|(key, value)| (key.as_str().into(), value.clone().into()))
                .collect();
            let mut entry = Map::new();
            entry.insert("status".into(), outcome.status.into());
            entry.insert("results".into(), Dynamic::from_map(results));
            if let Some(paths) = paths {
                entry.insert("outputs".into(), strings(paths));
            }
            tasks.insert(
                workflow.task(ancestor).name.as_str().into(),
                Dynamic::from_map(entry),
            );
        }
        // Items in item order (their ids are).
        group_outputs.sort_by_key(|(_, id, _)| *id);
        for (group, status) in groups {
            let mut entry = Map::new();
            entry.insert("status".into(), status.into());
            entry.insert("results".into(), Dynamic::from_map(Map::new()));
            if outputs {
                let paths = group_outputs
                    .iter()
                    .filter(|(name, _, _)| *name == group)
                    .flat_map(|(_, _, paths)| paths.iter().cloned())
                    .collect();
                entry.insert("outputs".into(), strings(paths));
            }
            tasks
                .entry(group.into())
                .or_insert_with(|| Dynamic::from_map(entry));
        }
        short_names(&mut tasks, task);
        let mut context = Context {
            vars: made.vars.clone(),
            env,
            matrix,
            params: params_of(task),
            args: args_of(task),
            tasks,
            status,
            texts: Vec::new(),
        };
        remember_texts(&mut context, workflow, task);
        context
    }

    /// The constants a script of `task` reads: `vars`, `matrix` and, when the script names
    /// it, `tasks` (the status and results of every task it depends on).
    pub fn constants(&self, scope: Scope<'_>, task: &Task, outcomes: &[Option<Outcome>]) -> Map {
        let status = DependencyStatus {
            all_succeeded: true,
            any_failed: false,
        };
        let reads_tasks =
            matches!(&task.command, Command::Script { source, .. } if source.contains("tasks"));
        let context = if reads_tasks {
            self.context(scope, task, outcomes, status)
        } else {
            Context {
                vars: self.made(scope.workflow).vars.clone(),
                matrix: matrix_of(task),
                params: params_of(task),
                args: args_of(task),
                ..Context::default()
            }
        };
        let mut constants = Map::new();
        constants.insert("vars".into(), Dynamic::from_map(context.vars));
        constants.insert("matrix".into(), Dynamic::from_map(context.matrix));
        constants.insert("tasks".into(), Dynamic::from_map(context.tasks));
        constants.insert("params".into(), Dynamic::from_map(context.params));
        constants.insert("args".into(), Dynamic::from_array(context.args));
        constants
    }

    /// Whether the task's condition holds.
    ///
    /// # Errors
    /// Why the condition could not be evaluated.
    pub fn condition(
        &self,
        scope: Scope<'_>,
        task: &Task,
        outcomes: &[Option<Outcome>],
        status: DependencyStatus,
    ) -> Result<bool, String> {
        let Some(condition) = &task.condition else {
            return Ok(true);
        };
        let context = self.context(scope, task, outcomes, status);
        self.made(scope.workflow)
            .evaluator
            .condition(&condition.expr, &context)
            .map_err(|error| format!("cannot evaluate `if: {}`: {error}", condition.text))
    }

    /// The declared outputs of `producer` (a task that has finished), as `reader_cwd` sees
    /// them: its templates filled in with its own values, globs expanded, paths rebased.
    fn outputs_of(
        &self,
        scope: Scope<'_>,
        producer: TaskId,
        outcomes: &[Option<Outcome>],
        reader_cwd: &std::path::Path,
    ) -> Vec<String> {
        let task = scope.workflow.task(producer);
        let mut patterns = task.outputs().to_vec();
        let mut cwd = task.cwd.clone();
        if let Some(templates) = task.templates.as_deref()
            && (!templates.outputs.is_empty() || templates.cwd.is_some())
        {
            let context =
                self.context_with(scope, task, outcomes, DependencyStatus::SUCCEEDED, false);
            let evaluator = &self.made(scope.workflow).evaluator;
            // The producer's own launch filled these in with the same values, so they fill in
            // here too; one that does not is left as written.
            for (index, template) in &templates.outputs {
                if let (Some(slot), Ok(text)) = (
                    patterns.get_mut(*index),
                    evaluator.render(template, &context),
                ) {
                    *slot = text;
                }
            }
            if let Some(Ok(dir)) = templates
                .cwd
                .as_ref()
                .map(|t| evaluator.render(t, &context))
            {
                cwd = scope
                    .workflow
                    .path
                    .parent()
                    .unwrap_or_else(|| std::path::Path::new("."))
                    .join(dir);
            }
        }
        super::outputs::seen_from(&patterns, &cwd, reader_cwd)
    }

    /// Attempt `attempt` of `task` as it starts: its templates filled in (`status`, how its
    /// dependencies ended, answers `success()` and `failure()` as in its `if`) and, for a
    /// script that reads them, the constants `vars`, `matrix` and `tasks`. A task with
    /// neither costs nothing.
    ///
    /// # Errors
    /// Why a template could not be filled in.
    pub fn launch(
        &self,
        scope: Scope<'_>,
        task: &Task,
        outcomes: &[Option<Outcome>],
        attempt: u32,
        status: DependencyStatus,
    ) -> Result<Launch, String> {
        let mut launch = self.filled(scope, task, outcomes, attempt, status)?;
        if reads_constants(task) {
            launch.constants = Some(Arc::new(self.constants(scope, task, outcomes)));
        }
        Ok(launch)
    }

    /// The launch with its templates filled in.
    fn filled(
        &self,
        scope: Scope<'_>,
        task: &Task,
        outcomes: &[Option<Outcome>],
        attempt: u32,
        status: DependencyStatus,
    ) -> Result<Launch, String> {
        let mut launch = Launch::of(task, attempt);
        let Some(templates) = &task.templates else {
            return Ok(launch);
        };
        let context = self.context(scope, task, outcomes, status);
        let evaluator = &self.made(scope.workflow).evaluator;
        let render = |template| {
            evaluator
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
        if !templates.inputs.is_empty()
            || !templates.outputs.is_empty()
            || templates.depfile.is_some()
        {
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
            if let Some(template) = &templates.depfile {
                files.depfile = Some(render(template)?);
            }
            launch.files = Some(Arc::new(files));
        }
        if let Some(template) = &templates.cwd {
            launch.cwd = scope
                .workflow
                .path
                .parent()
                .unwrap_or_else(|| std::path::Path::new("."))
                .join(render(template)?);
        }
        Ok(launch)
    }
}

impl Templating {
    /// The values of each axis of a placeholder's matrix (`Task::expands`), read once its
    /// dependencies are done: an expression axis must yield a list of strings, numbers or
    /// booleans.
    ///
    /// # Errors
    /// Why an axis cannot be read, naming the task and the key.
    pub fn axes(
        &self,
        scope: Scope<'_>,
        task: &Task,
        expansion: &Expansion,
        outcomes: &[Option<Outcome>],
    ) -> Result<Vec<(String, Vec<Value>)>, String> {
        let context = self.context(scope, task, outcomes, DependencyStatus::SUCCEEDED);
        let evaluator = &self.made(scope.workflow).evaluator;
        expansion
            .axes
            .iter()
            .map(|(key, axis)| match axis {
                Axis::Values(values) => Ok((key.clone(), values.clone())),
                Axis::Expr(expr) => {
                    let value = evaluator.eval(expr, &context).map_err(|error| {
                        format!(
                            "cannot expand the matrix key `{key}` of `{}`: {error}",
                            task.name
                        )
                    })?;
                    let values = axis_values(value).map_err(|got| {
                        format!(
                            "the matrix key `{key}` of `{}` must be a list of strings, numbers or booleans (a JSON array), got {got}",
                            task.name
                        )
                    })?;
                    Ok((key.clone(), values))
                }
            })
            .collect()
    }
}

/// The values of an axis from what its expression yielded, or what it got instead.
fn axis_values(value: Dynamic) -> Result<Vec<Value>, String> {
    let Some(list) = value.clone().try_cast::<rhai::Array>() else {
        return Err(described(&value));
    };
    list.into_iter()
        .map(|item| {
            if item.is_string() {
                Ok(Value::String(item.into_string().unwrap_or_default()))
            } else if let Ok(number) = item.as_int() {
                Ok(Value::Integer(number))
            } else if let Ok(number) = item.as_float() {
                Ok(Value::Float(number))
            } else if let Ok(flag) = item.as_bool() {
                Ok(Value::Bool(flag))
            } else {
                Err(format!("a list holding {}", described(&item)))
            }
        })
        .collect()
}

/// What a value is, for a message: its kind and its text, cut short.
fn described(value: &Dynamic) -> String {
    let kind = if value.is_string() {
        "text"
    } else if value.is_array() {
        "a list"
    } else if value.is_map() {
        "a map"
    } else if value.is_unit() {
        "nothing"
    } else {
        value.type_name()
    };
    let mut text = value.to_string();
    if text.chars().count() > 60 {
        text = text.chars().take(60).collect::<String>() + "…";
    }
    format!("{kind} `{text}`")
}

/// Remembers in `context` the text of every variable and matrix value of `task` that is a
/// number written otherwise than it prints (`3.10`): what it inserts as text.
fn remember_texts(context: &mut Context, workflow: &Workflow, task: &Task) {
    for (root, values) in [("vars", &workflow.vars), ("matrix", &task.matrix)] {
        for (name, value) in values {
            if let Some(text) = value.written() {
                context.remember_text(root, name, text);
            }
        }
    }
}

/// The namespace of a task from a namespaced include (`docs:` for `docs:build`,
/// `docs:build(profile=release)` or `docs:test[os=linux]`); empty for the others.
fn namespace_of(task: &Task) -> &str {
    let written = task
        .signature
        .as_ref()
        .map(|signature| signature.task.as_str())
        .or(task.group.as_deref())
        .unwrap_or(&task.name);
    written.rfind(':').map_or("", |end| &written[..=end])
}

/// In a namespaced file a template names the file's own tasks as `depends_on` does: `gen`
/// for `docs:gen` (before a task of the main file named `gen`), and `:build` for the main
/// file's `build`. Adds those names to `tasks` for a task of such a file.
fn short_names(tasks: &mut Map, task: &Task) {
    let namespace = namespace_of(task);
    if namespace.is_empty() {
        return;
    }
    let mut added = Vec::new();
    for (name, entry) in tasks.iter() {
        added.push((format!(":{name}"), entry.clone()));
        if let Some(short) = name.strip_prefix(namespace) {
            added.push((short.to_owned(), entry.clone()));
        }
    }
    // The file's own tasks win over same-named ones of the main file, which stay
    // reachable as `:name`.
    added.sort_by_key(|(name, _)| !name.starts_with(':'));
    for (name, entry) in added {
        tasks.insert(name.into(), entry);
    }
}

/// Whether a task is a script that names `vars`, `matrix` or `tasks`, which it may read as
/// constants. (A plain text search: a script that only mentions them in a string gets them
/// too, at no harm.)
#[must_use]
pub fn reads_constants(task: &Task) -> bool {
    match &task.command {
        Command::Script { source, .. } => ["vars", "matrix", "tasks", "params", "args"]
            .iter()
            .any(|name| source.contains(name)),
        _ => false,
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

/// A task's parameters as a rhai map of strings.
fn params_of(task: &Task) -> Map {
    task.params
        .iter()
        .map(|(name, value)| (name.as_str().into(), value.clone().into()))
        .collect()
}

/// The words after `--` as a rhai array of strings.
fn args_of(task: &Task) -> rhai::Array {
    task.args.iter().map(|word| word.clone().into()).collect()
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

/// A list of texts as a rhai array.
fn strings(texts: Vec<String>) -> Dynamic {
    Dynamic::from_array(texts.into_iter().map(Dynamic::from).collect())
}

/// Whether any template, the condition or the script of `task` mentions `outputs` (a plain
/// text search: the outputs of the tasks before it are then worked out for its context).
fn reads_outputs(task: &Task) -> bool {
    const WORD: &str = "outputs";
    let in_template = |template: &Template| {
        template
            .parts
            .iter()
            .any(|part| matches!(part, Part::Expr(expr) if expr.source.contains(WORD)))
    };
    let templated = task.templates.as_deref().is_some_and(|templates| {
        templates.command.iter().any(in_template)
            || templates.cwd.iter().any(in_template)
            || templates.env.iter().any(|(_, t)| in_template(t))
            || templates.inputs.iter().any(|(_, t)| in_template(t))
            || templates.outputs.iter().any(|(_, t)| in_template(t))
    });
    templated
        || task
            .condition
            .as_ref()
            .is_some_and(|condition| condition.text.contains(WORD))
        || matches!(&task.command, Command::Script { source, .. } if source.contains(WORD))
}
