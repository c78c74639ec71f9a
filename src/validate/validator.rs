//! `Validator`: turns a `RawWorkflow` into a `Workflow`, collecting every problem.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_saphyr::Spanned;

use super::cycles::find_cycles;
use super::names::{is_env_name, is_task_name, task_name_like};
use super::script::ScriptCompiler;
use super::slurm::slurm_options;
use crate::diagnostic::{Diagnostic, DiagnosticKind, Source, Span, suggest};
use crate::model::{
    Command, Duration, DurationError, ExecutorKind, Isolation, Memory, MemoryError, Resources,
    SlurmOptions, Task, TaskId, Workflow,
};
use crate::parse::{
    RawDefaults, RawDependsOn, RawEnv, RawExecutor, RawIsolation, RawResources, RawTask,
    RawWorkflow, location_span,
};

/// Validates a parsed workflow.
///
/// # Errors
/// Every problem found, each located in `source`.
pub fn validate_workflow(source: &Source, raw: RawWorkflow) -> Result<Workflow, Vec<Diagnostic>> {
    let mut validator = Validator {
        source,
        dir: source
            .path()
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        found: Vec::new(),
        scripts: ScriptCompiler::new(),
    };
    let workflow = validator.workflow(raw);
    if validator.found.is_empty() {
        Ok(workflow)
    } else {
        Err(validator.found)
    }
}

struct Validator<'a> {
    source: &'a Source,
    dir: PathBuf,
    found: Vec<Diagnostic>,
    scripts: ScriptCompiler,
}

/// The defaults section after validation.
struct Defaults {
    isolation: Option<Isolation>,
    shell: Option<Arc<str>>,
    env: Arc<[(String, String)]>,
    cwd: PathBuf,
    timeout: Option<Duration>,
    resources: Resources,
    /// From `defaults`, else the workflow's `executor`.
    executor: ExecutorKind,
    slurm: Arc<SlurmOptions>,
}

impl Validator<'_> {
    fn span<T>(&self, value: &Spanned<T>) -> Span {
        location_span(self.source, value.referenced)
    }

    fn workflow(&mut self, raw: RawWorkflow) -> Workflow {
        let name = raw.name.map_or_else(
            || {
                self.source.path().file_stem().map_or_else(
                    || "workflow".to_owned(),
                    |s| s.to_string_lossy().into_owned(),
                )
            },
            |name| name.value,
        );
        let env = self.env(raw.env.as_ref(), "the workflow");
        let executor = raw.executor.map(|executor| executor_of(executor.value));
        let defaults = self.defaults(raw.defaults.unwrap_or_default(), env, executor);
        let tasks_map = raw.tasks.value;
        let ids: HashMap<&str, TaskId> = tasks_map
            .keys()
            .enumerate()
            .map(|(index, name)| {
                (
                    name.value.as_str(),
                    TaskId(u32::try_from(index).unwrap_or(u32::MAX)),
                )
            })
            .collect();
        let names: Vec<&str> = tasks_map.keys().map(|name| name.value.as_str()).collect();
        let mut edges = Vec::with_capacity(tasks_map.len());
        let mut tasks = Vec::with_capacity(tasks_map.len());
        for (index, (name, raw_task)) in tasks_map.iter().enumerate() {
            let id = TaskId(u32::try_from(index).unwrap_or(u32::MAX));
            let deps = self.dependencies(name, raw_task.value.as_ref(), &ids, &names);
            let empty = RawTask::default();
            let raw_task = raw_task.value.as_ref().unwrap_or(&empty);
            let task = self.task(
                id,
                name,
                raw_task,
                &defaults,
                deps.iter().map(|(dep, _)| TaskId(*dep as u32)).collect(),
            );
            edges.push(deps);
            tasks.push(task);
        }
        if tasks_map.is_empty() {
            self.found.push(
                Diagnostic::error(DiagnosticKind::MissingKey, "the workflow has no tasks")
                    .at(
                        location_span(self.source, raw.tasks.referenced),
                        Some("empty".into()),
                    )
                    .hint("add a task under `tasks:`, like `hello: { run: echo hello }`"),
            );
        }
        // Unknown, repeated and self dependencies are already dropped from `edges`, so any
        // cycle left is real.
        self.found.extend(find_cycles(&names, &edges));
        Workflow {
            path: self.source.path().to_path_buf(),
            name,
            description: raw.description,
            tasks,
        }
    }

    fn defaults(
        &mut self,
        raw: RawDefaults,
        workflow_env: Vec<(String, String)>,
        workflow_executor: Option<ExecutorKind>,
    ) -> Defaults {
        let mut env = workflow_env;
        merge_env(&mut env, self.env(raw.env.as_ref(), "`defaults`"));
        Defaults {
            isolation: raw.isolation.map(|isolation| isolation_of(isolation.value)),
            shell: raw.shell.map(|shell| Arc::from(shell.value.as_str())),
            env: env.into(),
            cwd: raw
                .cwd
                .map_or_else(|| self.dir.clone(), |cwd| self.dir.join(cwd.value)),
            timeout: raw
                .timeout
                .and_then(|timeout| self.duration(&timeout, "`defaults`")),
            resources: self.resources(raw.resources.as_ref(), Resources::default(), "`defaults`"),
            executor: raw
                .executor
                .map(|executor| executor_of(executor.value))
                .or(workflow_executor)
                .unwrap_or_default(),
            slurm: slurm_options(
                self.source,
                raw.slurm.as_ref(),
                &Arc::default(),
                "`defaults`",
                &mut self.found,
            ),
        }
    }

    /// The dependencies of one task: task indexes with the span of each name.
    fn dependencies(
        &mut self,
        name: &Spanned<String>,
        task: Option<&RawTask>,
        ids: &HashMap<&str, TaskId>,
        names: &[&str],
    ) -> Vec<(usize, Span)> {
        let Some(depends_on) = task.and_then(|task| task.depends_on.as_ref()) else {
            return Vec::new();
        };
        let listed: Vec<(&str, Span)> = match &depends_on.value {
            RawDependsOn::One(dep) => vec![(dep.as_str(), self.span(depends_on))],
            RawDependsOn::Many(deps) => deps
                .iter()
                .map(|dep| (dep.value.as_str(), self.span(dep)))
                .collect(),
        };
        let task_name = name.value.as_str();
        let mut resolved: Vec<(usize, Span)> = Vec::with_capacity(listed.len());
        for (dep, span) in listed {
            let Some(&id) = ids.get(dep) else {
                let hint = suggest(dep, names.iter().copied().filter(|n| *n != task_name))
                    .unwrap_or_else(|| "`engine list FILE` shows the task names".to_owned());
                self.found.push(
                    Diagnostic::error(
                        DiagnosticKind::UnknownDependency,
                        format!("task `{task_name}` depends on `{dep}`, which is not a task"),
                    )
                    .at(span, Some("no task has this name".into()))
                    .hint(hint),
                );
                continue;
            };
            if dep == task_name {
                self.found.push(
                    Diagnostic::error(
                        DiagnosticKind::SelfDependency,
                        format!("task `{task_name}` depends on itself"),
                    )
                    .at(span, Some("this is the task itself".into()))
                    .hint("remove it from `depends_on`"),
                );
                continue;
            }
            if let Some((_, first)) = resolved.iter().find(|(other, _)| *other == id.index()) {
                let first = *first;
                self.found.push(
                    Diagnostic::error(
                        DiagnosticKind::RepeatedDependency,
                        format!("task `{task_name}` lists `{dep}` twice in `depends_on`"),
                    )
                    .at(span, Some("listed again here".into()))
                    .also(first, "first listed here")
                    .hint("remove the repeated name"),
                );
                continue;
            }
            resolved.push((id.index(), span));
        }
        resolved
    }

    fn task(
        &mut self,
        id: TaskId,
        name: &Spanned<String>,
        raw: &RawTask,
        defaults: &Defaults,
        depends_on: Vec<TaskId>,
    ) -> Task {
        let task_name = name.value.as_str();
        if !is_task_name(task_name) {
            self.found.push(
                Diagnostic::error(
                    DiagnosticKind::InvalidTaskName,
                    format!("invalid task name `{task_name}`"),
                )
                .at(
                    self.span(name),
                    Some("names are lowercase letters, digits and `_`".into()),
                )
                .hint(format!(
                    "start with a lowercase letter and use only `a-z`, `0-9` and `_`, like `{}`",
                    task_name_like(task_name)
                )),
            );
        }
        let place = format!("task `{task_name}`");
        let (isolation, command) = self.command(task_name, raw, defaults);
        // Tasks without their own `env` share the defaults' list.
        let env = match raw.env.as_ref() {
            None => Arc::clone(&defaults.env),
            Some(own) => {
                let mut env = defaults.env.to_vec();
                merge_env(&mut env, self.env(Some(own), &place));
                env.into()
            }
        };
        let timeout = match &raw.timeout {
            Some(timeout) => self.duration(timeout, &place),
            None => defaults.timeout,
        };
        self.check_executor(task_name, raw, isolation);
        let slurm = slurm_options(
            self.source,
            raw.slurm.as_ref(),
            &defaults.slurm,
            &place,
            &mut self.found,
        );
        Task {
            id,
            name: task_name.to_owned(),
            description: raw.description.clone(),
            depends_on,
            isolation,
            command,
            env,
            cwd: raw
                .cwd
                .as_ref()
                .map_or_else(|| defaults.cwd.clone(), |cwd| self.dir.join(&cwd.value)),
            timeout,
            resources: self.resources(raw.resources.as_ref(), defaults.resources, &place),
            executor: raw
                .executor
                .as_ref()
                .map_or(defaults.executor, |executor| executor_of(executor.value)),
            slurm,
        }
    }

    /// A thread task runs inside the engine: its own `executor: slurm` or `slurm` options
    /// could never apply. (Inherited ones apply to process tasks only.)
    fn check_executor(&mut self, task: &str, raw: &RawTask, isolation: Isolation) {
        if isolation != Isolation::Thread || (raw.run.is_none() && raw.script.is_none()) {
            return;
        }
        let hint = "thread tasks always run inside the engine; set `isolation: process` to run \
                    the script as a job";
        if let Some(executor) = raw
            .executor
            .as_ref()
            .filter(|executor| executor.value == RawExecutor::Slurm)
        {
            self.found.push(
                Diagnostic::error(
                    DiagnosticKind::InvalidExecutor,
                    format!("task `{task}` runs on a thread and cannot run on Slurm"),
                )
                .at(
                    self.span(executor),
                    Some("only process tasks run on Slurm".into()),
                )
                .hint(hint),
            );
        }
        let first = raw.slurm.as_ref().and_then(|slurm| {
            let extra = slurm.extra.iter().flatten().next();
            let span = |value: &Spanned<String>| self.span(value);
            slurm
                .partition
                .as_ref()
                .map(span)
                .or_else(|| slurm.account.as_ref().map(span))
                .or_else(|| extra.map(span))
        });
        if let Some(span) = first {
            self.found.push(
                Diagnostic::error(
                    DiagnosticKind::InvalidExecutor,
                    format!("task `{task}` runs on a thread but has `slurm` options"),
                )
                .at(span, Some("used only by Slurm jobs".into()))
                .hint(hint),
            );
        }
    }

    /// `resources`, each field falling back to `inherited`.
    fn resources(
        &mut self,
        raw: Option<&RawResources>,
        inherited: Resources,
        place: &str,
    ) -> Resources {
        let Some(raw) = raw else { return inherited };
        let mut resources = inherited;
        if let Some(cpus) = &raw.cpus {
            match u32::try_from(cpus.value) {
                Ok(count) if count >= 1 => resources.cpus = count,
                _ => self.found.push(
                    Diagnostic::error(
                        DiagnosticKind::InvalidResources,
                        format!("invalid `cpus` `{}` in {place}", cpus.value),
                    )
                    .at(
                        self.span(cpus),
                        Some("expected a whole number from 1".into()),
                    )
                    .hint("a task takes at least one CPU; write `cpus: 1` or more"),
                ),
            }
        }
        if let Some(memory) = &raw.memory {
            match memory.value.parse::<Memory>() {
                Ok(amount) => resources.memory = Some(amount),
                Err(error) => {
                    let detail = match &error {
                        MemoryError::Overflow => "too large".to_owned(),
                        other => other.to_string(),
                    };
                    self.found.push(
                        Diagnostic::error(
                            DiagnosticKind::InvalidResources,
                            format!("invalid `memory` `{}` in {place}: {detail}", memory.value),
                        )
                        .at(self.span(memory), Some("expected an amount like `2G`".into()))
                        .hint("write a whole number and a binary unit: `512M`, `2G`, `1T` (units: K, M, G, T)"),
                    );
                }
            }
        }
        resources
    }

    fn command(&mut self, task: &str, raw: &RawTask, defaults: &Defaults) -> (Isolation, Command) {
        let explicit = raw
            .isolation
            .as_ref()
            .map(|isolation| isolation_of(isolation.value));
        match (&raw.run, &raw.script) {
            (Some(run), Some(script)) => {
                self.found.push(
                    Diagnostic::error(DiagnosticKind::RunAndScript, format!("task `{task}` has both `run` and `script`"))
                        .at(self.span(script), Some("a script here".into()))
                        .also(self.span(run), "and a shell command here")
                        .hint("a task does one thing: split it into two tasks, one depending on the other"),
                );
                (explicit.unwrap_or(Isolation::Process), Command::None)
            }
            (Some(run), None) => {
                if let (Some(Isolation::Thread), Some(isolation)) = (explicit, &raw.isolation) {
                    self.found.push(
                        Diagnostic::error(
                            DiagnosticKind::RunOnThread,
                            format!("task `{task}` runs a shell command on a thread"),
                        )
                        .at(self.span(run), Some("a shell command needs its own process".into()))
                        .also(self.span(isolation), "isolation set to `thread` here")
                        .hint("use `isolation: process`, or write the step as a `script` to keep it on a thread"),
                    );
                }
                if run.value.trim().is_empty() {
                    self.found.push(
                        Diagnostic::error(
                            DiagnosticKind::InvalidCommand,
                            format!("the `run` command of task `{task}` is empty"),
                        )
                        .at(self.span(run), None)
                        .hint("write a command, or remove `run` to make the task a join point"),
                    );
                }
                let shell = raw
                    .shell
                    .as_ref()
                    .map(|shell| Arc::from(shell.value.as_str()))
                    .or_else(|| defaults.shell.clone())
                    .unwrap_or_else(|| Arc::from("sh"));
                (
                    Isolation::Process,
                    Command::Shell {
                        run: Arc::from(run.value.as_str()),
                        shell,
                    },
                )
            }
            (None, script) => {
                if let Some(shell) = &raw.shell {
                    self.found.push(
                        Diagnostic::error(
                            DiagnosticKind::InvalidCommand,
                            format!("task `{task}` sets `shell` but has no `run` command"),
                        )
                        .at(self.span(shell), Some("used only by `run`".into()))
                        .hint("add a `run` command or remove `shell`"),
                    );
                }
                let isolation = explicit.or(defaults.isolation).unwrap_or(Isolation::Thread);
                if let Some(script) = script.as_ref().filter(|s| s.value.trim().is_empty()) {
                    self.found.push(
                        Diagnostic::error(
                            DiagnosticKind::InvalidCommand,
                            format!("the `script` of task `{task}` is empty"),
                        )
                        .at(self.span(script), None)
                        .hint("write the script, or remove `script` to make the task a join point"),
                    );
                }
                let command = match script {
                    Some(script) => match self.scripts.compile(self.source, script, task) {
                        Ok((source, ast)) => Command::Script { source, ast },
                        Err(diagnostic) => {
                            self.found.push(diagnostic);
                            Command::None
                        }
                    },
                    None => Command::None,
                };
                let isolation = if matches!(command, Command::None) {
                    explicit.unwrap_or(Isolation::Thread)
                } else {
                    isolation
                };
                (isolation, command)
            }
        }
    }

    fn env(&mut self, env: Option<&RawEnv>, place: &str) -> Vec<(String, String)> {
        let Some(env) = env else { return Vec::new() };
        let mut vars = Vec::with_capacity(env.len());
        for (name, value) in env {
            if is_env_name(&name.value) {
                vars.push((name.value.clone(), value.value.clone()));
            } else {
                self.found.push(
                    Diagnostic::error(
                        DiagnosticKind::InvalidEnvName,
                        format!(
                            "invalid environment variable name `{}` in {place}",
                            name.value
                        ),
                    )
                    .at(self.span(name), Some("not a variable name".into()))
                    .hint("use letters, digits and `_`, not starting with a digit, like `MY_VAR`"),
                );
            }
        }
        vars
    }

    fn duration(&mut self, text: &Spanned<String>, place: &str) -> Option<Duration> {
        match text.value.parse::<Duration>() {
            Ok(duration) => Some(duration),
            Err(error) => {
                let detail = match &error {
                    DurationError::Overflow => "too large".to_owned(),
                    other => other.to_string(),
                };
                self.found.push(
                    Diagnostic::error(
                        DiagnosticKind::InvalidDuration,
                        format!("invalid `timeout` `{}` in {place}: {detail}", text.value),
                    )
                    .at(self.span(text), Some("expected a duration like `5m`".into()))
                    .hint("write durations as numbers with units and no spaces: `5m`, `1h30m`, `45s`, `250ms` (units: ms, s, m, h, d)"),
                );
                None
            }
        }
    }
}

fn executor_of(raw: RawExecutor) -> ExecutorKind {
    match raw {
        RawExecutor::Local => ExecutorKind::Local,
        RawExecutor::Slurm => ExecutorKind::Slurm,
    }
}

fn isolation_of(raw: RawIsolation) -> Isolation {
    match raw {
        RawIsolation::Thread => Isolation::Thread,
        RawIsolation::Process => Isolation::Process,
    }
}

/// Adds `later` to `env`; a name already present takes the later value in its old place.
fn merge_env(env: &mut Vec<(String, String)>, later: Vec<(String, String)>) {
    for (name, value) in later {
        match env.iter_mut().find(|(existing, _)| *existing == name) {
            Some(slot) => slot.1 = value,
            None => env.push((name, value)),
        }
    }
}
