//! `Validator`: turns a `RawWorkflow` into a `Workflow`, collecting every problem.

use rustc_hash::{FxBuildHasher, FxHashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_saphyr::Spanned;

use super::cycles::find_cycles;
use super::dependencies::Lookup;
use super::files::Order;
use super::matrix::{Combination, Matrix, expansion_name};
use super::names::{is_env_name, is_task_name, task_name_like};
use super::params::{Instance, Written};
use super::script::ScriptCompiler;
use super::slurm::slurm_options;
use super::templates::{TaskReference, Uses};
use crate::diagnostic::{Diagnostic, DiagnosticKind, Source, Span, suggest};
use crate::model::{
    Command, Duration, DurationError, ExecutorKind, Expansion, Given, Isolation, Memory,
    MemoryError, Pool, Resources, SlurmOptions, Task, TaskId, Value, Workflow, shell_words,
};
use crate::parse::{
    RawDefaults, RawEnv, RawExecutor, RawIsolation, RawResources, RawSlurm, RawTask, RawWorkflow,
    location_span,
};
use crate::template::names::Place;
use crate::template::{Flavor, Template};

/// One parsed file of a workflow: the main file or an included one.
pub struct File<'a> {
    /// Its text.
    pub source: &'a Source,
    /// What it holds.
    pub raw: RawWorkflow,
    /// The prefix of its tasks' names: `docs:` when it is included as `{ docs: ... }`,
    /// empty otherwise.
    pub namespace: String,
}

/// Validates a parsed workflow of one file (its `include` list is not followed).
///
/// # Errors
/// Every problem found, each located in `source`.
pub fn validate_workflow(source: &Source, raw: RawWorkflow) -> Result<Workflow, Vec<Diagnostic>> {
    validate_files(vec![File {
        source,
        raw,
        namespace: String::new(),
    }])
    .map_err(|found| {
        found
            .into_iter()
            .map(|(_, diagnostic)| diagnostic)
            .collect()
    })
}

/// Diagnostics, each with the index of the file it is in.
pub type Found = Vec<(usize, Diagnostic)>;

/// Validates a workflow made of several files, the first being the main one.
///
/// # Errors
/// Every problem found, each with the index of the file it is in.
pub fn validate_files(files: Vec<File<'_>>) -> Result<Workflow, Vec<(usize, Diagnostic)>> {
    validate_files_warned(files).map(|(workflow, _)| workflow)
}

/// Like `validate_files`, and also returns the warnings of a valid workflow (by file).
///
/// # Errors
/// Every diagnostic, warnings included, when any is an error.
pub fn validate_files_warned(files: Vec<File<'_>>) -> Result<(Workflow, Found), Found> {
    validate_files_requested(files, &[])
}

/// Like `validate_files_warned`, with the instances of tasks with parameters that the
/// command line asks for (task as written, values; checked against its params already).
///
/// # Errors
/// Every diagnostic, warnings included, when any is an error.
pub fn validate_files_requested(
    files: Vec<File<'_>>,
    requests: &[(String, Given)],
) -> Result<(Workflow, Found), Found> {
    let mut validator = Validator {
        sources: files.iter().map(|file| file.source).collect(),
        namespaces: files.iter().map(|file| file.namespace.clone()).collect(),
        current: 0,
        found: Vec::new(),
        scripts: ScriptCompiler::new(),
    };
    let raws: Vec<RawWorkflow> = files.into_iter().map(|file| file.raw).collect();
    let workflow = validator.workflow(raws, requests);
    let errors = validator
        .found
        .iter()
        .any(|(_, diagnostic)| diagnostic.severity == crate::diagnostic::Severity::Error);
    if errors {
        Err(validator.found)
    } else {
        Ok((workflow, validator.found))
    }
}

pub(super) struct Validator<'a> {
    sources: Vec<&'a Source>,
    /// Each file's namespace (`docs:`), empty for the main file and a listed include.
    pub(super) namespaces: Vec<String>,
    /// The file whose values are being checked: spans and diagnostics refer to it.
    pub(super) current: usize,
    found: Vec<(usize, Diagnostic)>,
    scripts: ScriptCompiler,
}

/// The defaults section after validation.
#[derive(Clone)]
struct Defaults {
    isolation: Option<Isolation>,
    shell: Option<Arc<str>>,
    env: Arc<[(String, String)]>,
    /// Templates among `env`'s values, by index.
    env_templates: Vec<(usize, Template)>,
    cwd: PathBuf,
    timeout: Option<Duration>,
    resources: Resources,
    retries: u32,
    retry_delay: Duration,
    /// From `defaults`, else the workflow's `executor`.
    executor: ExecutorKind,
    slurm: Arc<SlurmOptions>,
}

/// A task as written, before matrix expansion.
pub(super) struct Entry<'r> {
    pub(super) file: usize,
    pub(super) name: &'r Spanned<String>,
    pub(super) raw: &'r RawTask,
    /// Its matrix combinations; `None` without a matrix, or with one that reads results.
    pub(super) combinations: Option<Vec<Combination>>,
    /// With a matrix that reads results: the axes it expands by during the run, and those
    /// reads.
    pub(super) expands: Option<(Arc<Expansion>, Vec<TaskReference>)>,
    /// The id of its first task.
    pub(super) first: u32,
    /// Which task made of the written one it is, with its dependencies' names.
    pub(super) instance: Instance,
}

impl Entry<'_> {
    /// Its task's name: as written, or the instance's (`build(profile=release)`).
    pub(super) fn task_name(&self) -> &str {
        &self.instance.name
    }

    pub(super) fn count(&self) -> u32 {
        self.combinations
            .as_ref()
            .map_or(1, |c| u32::try_from(c.len()).unwrap_or(u32::MAX))
    }
}

impl<'a> Validator<'a> {
    pub(super) fn span<T>(&self, value: &Spanned<T>) -> Span {
        location_span(self.source(), value.referenced)
    }

    pub(super) fn source(&self) -> &'a Source {
        self.sources[self.current]
    }

    /// The main workflow file, absolute.
    pub(super) fn sources_main_path(&self) -> PathBuf {
        self.sources[0].path().to_path_buf()
    }

    pub(super) fn current(&self) -> usize {
        self.current
    }

    /// The directory of the current file.
    pub(super) fn dir(&self) -> PathBuf {
        self.source()
            .path()
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    }

    pub(super) fn push(&mut self, diagnostic: Diagnostic) {
        self.found.push((self.current, diagnostic));
    }

    fn workflow(&mut self, raws: Vec<RawWorkflow>, requests: &[(String, Given)]) -> Workflow {
        let workflow = self.build(&raws, requests);
        drop_aside(raws, workflow.tasks.len());
        workflow
    }

    fn build(&mut self, raws: &[RawWorkflow], requests: &[(String, Given)]) -> Workflow {
        let main = &raws[0];
        let name = main.name.as_ref().map_or_else(
            || {
                self.sources[0].path().file_stem().map_or_else(
                    || "workflow".to_owned(),
                    |s| s.to_string_lossy().into_owned(),
                )
            },
            |name| name.value.clone(),
        );
        let mut vars = Vec::new();
        let mut pools = Vec::new();
        let mut secrets = Vec::new();
        let mut defaults: Vec<Defaults> = Vec::with_capacity(raws.len());
        for (file, raw) in raws.iter().enumerate() {
            self.current = file;
            self.vars(raw.vars.as_ref(), &mut vars);
            self.pools(raw.pools.as_ref(), &mut pools);
            self.secrets(raw.secrets.as_ref(), &mut secrets);
        }
        for (file, raw) in raws.iter().enumerate() {
            self.current = file;
            let inherited = defaults.first().cloned();
            let own = self.defaults(raw, inherited, &vars);
            defaults.push(own);
        }
        // Every task as written (the first definition of each name).
        let mut written: Vec<Written<'_>> = Vec::new();
        let mut seen: FxHashMap<String, usize> = FxHashMap::with_capacity_and_hasher(
            raws.iter().map(|r| r.tasks.value.len()).sum(),
            FxBuildHasher,
        );
        let empty = RawTask::default();
        for (file, raw) in raws.iter().enumerate() {
            self.current = file;
            for (name, task) in &raw.tasks.value {
                let task = task.value.as_ref().unwrap_or(&empty);
                let full = format!("{}{}", self.namespaces[file], name.value);
                if let Some(&first) = seen.get(&full) {
                    let (first_file, first_name, _, _) = written[first];
                    let first_source = self.sources[first_file];
                    let first_span = location_span(first_source, first_name.referenced);
                    let (line, column) = first_source.position(first_span.offset);
                    let span = self.span(name);
                    self.push(
                        Diagnostic::error(
                            DiagnosticKind::DuplicateTask,
                            format!("task `{}` is defined twice", name.value),
                        )
                        .at(span, Some("defined again here".into()))
                        .hint(format!(
                            "the first definition is at {}:{line}:{column}; rename one of them",
                            first_source.name()
                        )),
                    );
                    continue;
                }
                seen.insert(full.clone(), written.len());
                written.push((file, name, task, full));
            }
        }
        // The tasks with parameters, and the instances the command line and dependencies
        // make of them.
        let signatures: Vec<_> = written
            .iter()
            .map(|&(file, _, task, ref full)| {
                self.current = file;
                self.signature(full, task)
            })
            .collect();
        let instances = self.instances(&written, &signatures, requests, &vars);
        // Every task, with its matrix expanded and its ids assigned.
        let mut entries: Vec<Entry<'_>> = Vec::new();
        let mut next = 0u32;
        for (&(file, name, task, _), instances) in written.iter().zip(instances) {
            self.current = file;
            let matrix = task
                .matrix
                .as_ref()
                .filter(|_| task.params.is_none())
                .and_then(|matrix| {
                    // Axis templates resolve `glob` against the task's directory.
                    let cwd = task.cwd.as_ref().map_or_else(
                        || defaults[file].cwd.clone(),
                        |cwd| self.dir().join(&cwd.value),
                    );
                    self.matrix(&name.value, matrix, &cwd)
                });
            let (mut combinations, mut expands) = match matrix {
                None => (None, None),
                Some(Matrix::Static(combinations)) => (Some(combinations), None),
                Some(Matrix::Dynamic(expansion, reads)) => (None, Some((expansion, reads))),
            };
            for instance in instances {
                let entry = Entry {
                    file,
                    name,
                    raw: task,
                    combinations: combinations.take(),
                    expands: expands.take(),
                    first: next,
                    instance,
                };
                next = next.saturating_add(entry.count());
                entries.push(entry);
            }
        }
        let groups: FxHashMap<&str, usize> = entries
            .iter()
            .enumerate()
            .map(|(at, entry)| (entry.task_name(), at))
            .collect();
        let expansions: Vec<Vec<String>> = entries
            .iter()
            .map(|entry| {
                entry
                    .combinations
                    .as_ref()
                    .map_or_else(Vec::new, |combinations| {
                        combinations
                            .iter()
                            .map(|c| expansion_name(entry.task_name(), c))
                            .collect()
                    })
            })
            .collect();
        #[expect(
            clippy::cast_possible_truncation,
            reason = "`at` is below the entry's task count, itself a u32"
        )]
        let expanded: FxHashMap<&str, TaskId> = entries
            .iter()
            .zip(&expansions)
            .flat_map(|(entry, names)| {
                names
                    .iter()
                    .enumerate()
                    .map(move |(at, name)| (name.as_str(), TaskId(entry.first + at as u32)))
            })
            .collect();
        let names: Vec<&str> = entries.iter().map(Entry::task_name).collect();
        let lookup = Lookup {
            entries: &entries,
            groups: &groups,
            expanded: &expanded,
            names: &names,
        };
        self.check_aliases(&entries);
        let mut edges = Vec::with_capacity(entries.len());
        let mut tasks = Vec::with_capacity(next as usize);
        let mut task_refs: Vec<(usize, Vec<TaskReference>)> = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            self.current = entry.file;
            // The instances of a task share its problems: the first one reports them.
            let reported = self.found.len();
            let deps = self.dependencies(entry, &lookup, &vars);
            edges.push(deps.edges);
            let (built, refs) = self.entry_tasks(
                entry,
                &expansions[index],
                &defaults[entry.file],
                deps.per_item,
                &vars,
                &pools,
            );
            tasks.extend(built);
            if !entry.instance.primary {
                self.found.truncate(reported);
                continue;
            }
            if !refs.is_empty() {
                task_refs.push((index, refs));
            }
        }
        if entries.is_empty() {
            self.current = 0;
            self.push(
                Diagnostic::error(DiagnosticKind::MissingKey, "the workflow has no tasks")
                    .at(
                        location_span(self.sources[0], main.tasks.referenced),
                        Some("empty".into()),
                    )
                    .hint("add a task under `tasks:`, like `hello: { run: echo hello }`"),
            );
        }
        // Unknown, repeated and self dependencies are already dropped from `edges`, so any
        // cycle left is real.
        let cycles = find_cycles(&names, &edges);
        let acyclic = cycles.is_empty();
        for (first, diagnostic) in cycles {
            self.current = entries[first].file;
            self.push(diagnostic);
        }
        if acyclic {
            self.check_task_references(&task_refs, &lookup, &edges);
            self.check_file_dependencies(&entries, &tasks, &edges);
        }
        self.check_output_places(&entries, &tasks);
        Workflow {
            path: self.sources[0].path().to_path_buf(),
            name,
            description: main.description.clone(),
            tasks,
            vars,
            pools,
            secrets,
        }
    }

    /// The defaults of one file's tasks: the main file's, under this file's own (`env_file`,
    /// `env`, `defaults`).
    fn defaults(
        &mut self,
        raw: &RawWorkflow,
        inherited: Option<Defaults>,
        vars: &[(String, Value)],
    ) -> Defaults {
        let place = if self.current == 0 {
            "the workflow".to_owned()
        } else {
            format!("`{}`", self.source().name())
        };
        let empty = RawDefaults::default();
        let own = raw.defaults.as_ref().unwrap_or(&empty);
        let mut env: Vec<(String, String)> = inherited
            .as_ref()
            .map_or_else(Vec::new, |defaults| defaults.env.to_vec());
        let mut env_templates = inherited
            .as_ref()
            .map_or_else(Vec::new, |defaults| defaults.env_templates.clone());
        merge_env(&mut env, self.env_file(raw.env_file.as_ref()));
        let mut uses = Uses {
            vars,
            matrix: None,
            tasks_allowed: false,
            tasks: Vec::new(),
            params: None,
        };
        for (values, place) in [
            (raw.env.as_ref(), place.clone()),
            (own.env.as_ref(), "`defaults`".into()),
        ] {
            let vars_here = self.env(values, &place);
            for (name, value) in vars_here {
                let index = merge_one(&mut env, name.value.clone(), value.value.clone());
                env_templates.retain(|(at, _)| *at != index);
                if let Some(template) = self.template(value, Flavor::Plain, &mut uses) {
                    env_templates.push((index, template));
                }
            }
        }
        let inherited_or =
            |pick: fn(&Defaults) -> Option<Duration>| inherited.as_ref().and_then(pick);
        let timeout = match &own.timeout {
            Some(timeout) => self.timeout(timeout, "`defaults`"),
            None => inherited_or(|d| d.timeout),
        };
        let retry_delay = match &own.retry_delay {
            Some(delay) => self.duration(delay, "retry_delay", "`defaults`"),
            None => inherited_or(|d| Some(d.retry_delay)),
        };
        let base = inherited.as_ref();
        let executor = own
            .executor
            .as_ref()
            .or(raw.executor.as_ref())
            .map(|executor| executor_of(executor.value))
            .or_else(|| base.map(|d| d.executor));
        if let Some(shell) = &own.shell {
            self.check_shell(shell, executor == Some(ExecutorKind::Slurm));
        }
        Defaults {
            isolation: own
                .isolation
                .as_ref()
                .map(|isolation| isolation_of(isolation.value))
                .or_else(|| base.and_then(|d| d.isolation)),
            shell: own
                .shell
                .as_ref()
                .map(|shell| Arc::from(shell.value.as_str()))
                .or_else(|| base.and_then(|d| d.shell.clone())),
            env: env.into(),
            env_templates,
            // A namespaced file's tasks run in its own directory.
            cwd: own.cwd.as_ref().map_or_else(
                || {
                    base.filter(|_| self.namespaces[self.current].is_empty())
                        .map_or_else(|| self.dir(), |d| d.cwd.clone())
                },
                |cwd| self.dir().join(&cwd.value),
            ),
            timeout,
            resources: self.resources(
                own.resources.as_ref(),
                base.map_or_else(Resources::default, |d| d.resources),
                "`defaults`",
            ),
            retries: own.retries.as_ref().map_or_else(
                || base.map_or(0, |d| d.retries),
                |retries| self.retries(retries, "`defaults`"),
            ),
            retry_delay: retry_delay.unwrap_or(DEFAULT_RETRY_DELAY),
            executor: own
                .executor
                .as_ref()
                .or(raw.executor.as_ref())
                .map(|executor| executor_of(executor.value))
                .or_else(|| base.map(|d| d.executor))
                .unwrap_or_default(),
            slurm: self.slurm_options(
                own.slurm.as_ref(),
                &base.map_or_else(Arc::default, |d| Arc::clone(&d.slurm)),
                "`defaults`",
            ),
        }
    }

    /// The tasks of one written task: one, or one per matrix combination.
    fn entry_tasks(
        &mut self,
        entry: &Entry<'_>,
        expansion_names: &[String],
        defaults: &Defaults,
        mut depends_on: Vec<Vec<TaskId>>,
        vars: &[(String, Value)],
        pools: &[Pool],
    ) -> (Vec<Task>, Vec<TaskReference>) {
        let name = entry.name;
        let raw = entry.raw;
        let task_name = name.value.as_str();
        if !is_task_name(task_name) {
            self.push(
                Diagnostic::error(
                    DiagnosticKind::InvalidTaskName,
                    format!("invalid task name `{task_name}`"),
                )
                .at(
                    self.span(name),
                    Some("names are lowercase letters, digits, `_` and `-`".into()),
                )
                .hint(format!(
                    "start with a lowercase letter and use only `a-z`, `0-9`, `_` and `-`, like `{}`",
                    task_name_like(task_name)
                )),
            );
        }
        let place = format!("task `{task_name}`");
        let mut uses = Uses {
            vars,
            matrix: raw
                .matrix
                .as_ref()
                .map(|matrix| matrix.value.keys().map(|key| key.value.clone()).collect()),
            tasks_allowed: true,
            tasks: Vec::new(),
            params: raw
                .params
                .as_ref()
                .map(|params| params.value.keys().map(|key| key.value.clone()).collect()),
        };
        let (isolation, command) = self.command(task_name, raw, defaults);
        // Tasks without their own `env` share the defaults' list.
        let mut env_templates: Vec<(usize, Template)> = defaults.env_templates.clone();
        let env: Arc<[(String, String)]> = match raw.env.as_ref() {
            None => Arc::clone(&defaults.env),
            Some(own) => {
                let mut env = defaults.env.to_vec();
                for (key, value) in self.env(Some(own), &place) {
                    let index = merge_one(&mut env, key.value.clone(), value.value.clone());
                    env_templates.retain(|(at, _)| *at != index);
                    if let Some(template) = self.template(value, Flavor::Plain, &mut uses) {
                        env_templates.push((index, template));
                    }
                }
                env.into()
            }
        };
        let command_text = match (&raw.run, &raw.script) {
            (Some(run), None) => Some((run, Flavor::Shell)),
            (None, Some(script)) => Some((script, Flavor::Script)),
            _ => None,
        };
        if let Some((_, reads)) = &entry.expands {
            // Its matrix reads these results: it must depend on them, as a template must.
            uses.tasks.extend(reads.iter().cloned());
        }
        let mut templates = self.task_templates(command_text, &[], raw.cwd.as_deref(), &mut uses);
        if !env_templates.is_empty() {
            let mut with_env = templates.as_deref().cloned().unwrap_or_default();
            with_env.env = env_templates;
            templates = Some(Arc::new(with_env));
        }
        let (files, file_templates) = self.task_files(raw, &mut uses);
        if let Some((inputs, outputs, depfile)) = file_templates {
            let mut with_files = templates.as_deref().cloned().unwrap_or_default();
            with_files.inputs = inputs;
            with_files.outputs = outputs;
            with_files.depfile = depfile;
            templates = Some(Arc::new(with_files));
        }
        let condition = raw
            .condition
            .as_ref()
            .and_then(|text| self.condition(text, &mut uses));
        let timeout = match &raw.timeout {
            Some(timeout) => self.timeout(timeout, &place),
            None => defaults.timeout,
        };
        let retries = raw
            .retries
            .as_ref()
            .map_or(defaults.retries, |retries| self.retries(retries, &place));
        let retry_delay = raw
            .retry_delay
            .as_ref()
            .map_or(defaults.retry_delay, |delay| {
                self.duration(delay, "retry_delay", &place)
                    .unwrap_or(DEFAULT_RETRY_DELAY)
            });
        let pool = raw
            .pool
            .as_ref()
            .and_then(|pool| self.pool(pool, pools, task_name));
        let cwd = raw
            .cwd
            .as_ref()
            .map_or_else(|| defaults.cwd.clone(), |cwd| self.dir().join(&cwd.value));
        let resources = self.resources(raw.resources.as_deref(), defaults.resources, &place);
        self.check_executor(task_name, raw, isolation);
        let slurm = self.slurm_options(raw.slurm.as_deref(), &defaults.slurm, &place);
        let executor = raw
            .executor
            .as_ref()
            .map_or(defaults.executor, |executor| executor_of(executor.value));
        if let Some(shell) = raw.shell.as_ref().filter(|_| raw.run.is_some()) {
            self.check_shell(shell, executor == ExecutorKind::Slurm);
        }
        let (interface, requires) = self.interface(raw, task_name, isolation, &command);
        let template = Task {
            id: TaskId(entry.first),
            name: entry.task_name().to_owned(),
            description: raw.description.clone(),
            depends_on: Vec::new(),
            isolation,
            command,
            env,
            cwd,
            timeout,
            resources,
            group: None,
            matrix: Vec::new(),
            signature: entry.instance.signature.clone(),
            params: entry.instance.params.clone(),
            args: Arc::from(Vec::new()),
            templates,
            condition,
            allow_failure: raw.allow_failure.unwrap_or(false),
            retries,
            retry_delay,
            pool,
            executor,
            slurm,
            files,
            manual: raw.manual.unwrap_or(false),
            interface,
            requires,
            expands: entry
                .expands
                .as_ref()
                .map(|(expansion, _)| Arc::clone(expansion)),
        };
        #[expect(
            clippy::cast_possible_truncation,
            reason = "`at` is below the entry's task count, itself a u32"
        )]
        let tasks = match &entry.combinations {
            None => vec![Task {
                depends_on: depends_on.pop().unwrap_or_default(),
                ..template
            }],
            Some(combinations) => {
                let group: Arc<str> = Arc::from(entry.task_name());
                combinations
                    .iter()
                    .zip(expansion_names)
                    .enumerate()
                    .map(|(at, (combination, expanded))| Task {
                        id: TaskId(entry.first + at as u32),
                        name: expanded.clone(),
                        group: Some(Arc::clone(&group)),
                        matrix: combination.clone(),
                        depends_on: std::mem::take(&mut depends_on[at]),
                        ..template.clone()
                    })
                    .collect()
            }
        };
        (tasks, uses.tasks)
    }

    /// `retries`: a count of at most `MAX_RETRIES`.
    fn retries(&mut self, retries: &Spanned<u64>, place: &str) -> u32 {
        match u32::try_from(retries.value) {
            Ok(count) if count <= MAX_RETRIES => count,
            _ => {
                self.push(
                    Diagnostic::error(
                        DiagnosticKind::InvalidSetting,
                        format!("`retries: {}` in {place} is too many", retries.value),
                    )
                    .at(self.span(retries), Some(format!("at most {MAX_RETRIES}")))
                    .hint("retrying this often hides a broken task; fix the cause or use a smaller count"),
                );
                0
            }
        }
    }

    /// The index of a task's pool.
    fn pool(&mut self, pool: &Spanned<String>, pools: &[Pool], task: &str) -> Option<usize> {
        if let Some(index) = pools.iter().position(|known| known.name == pool.value) {
            return Some(index);
        }
        let hint = suggest(&pool.value, pools.iter().map(|known| known.name.as_str()))
            .unwrap_or_else(|| {
                format!(
                    "declare it at the top level: `pools: {{ {}: 1 }}`",
                    pool.value
                )
            });
        self.push(
            Diagnostic::error(
                DiagnosticKind::UnknownPool,
                format!(
                    "task `{task}` uses pool `{}`, which is not in `pools`",
                    pool.value
                ),
            )
            .at(self.span(pool), Some("unknown pool".into()))
            .hint(hint),
        );
        None
    }

    /// Checks that every `tasks.<name>` a template reads names a task this one depends on,
    /// directly or through others.
    fn check_task_references(
        &mut self,
        references: &[(usize, Vec<TaskReference>)],
        lookup: &Lookup<'_, '_>,
        edges: &[Vec<(usize, Span)>],
    ) {
        let mut order = Order::new(edges);
        for (entry, refs) in references {
            for reference in refs {
                self.current = reference.file;
                // In a namespaced file its own tasks come first, as in `depends_on`; the
                // run's context has the same short names (`plan::fill`).
                let namespace = &self.namespaces[reference.file];
                let name = if namespace.is_empty() {
                    reference.name.clone()
                } else {
                    super::params::resolve(namespace, &reference.name, lookup.groups)
                };
                let target = lookup.groups.get(name.as_str()).copied().or_else(|| {
                    lookup
                        .expanded
                        .get(name.as_str())
                        .map(|&id| lookup.entry_of(id))
                });
                let task = lookup.entries[*entry].task_name();
                match target {
                    None => {
                        let hint = suggest(&reference.name, lookup.names.iter().copied())
                            .unwrap_or_else(|| {
                                "`engine list FILE` shows the task names".to_owned()
                            });
                        self.push(
                            Diagnostic::error(
                                DiagnosticKind::UnknownReference,
                                format!(
                                    "task `{task}` reads `tasks.{}`, which is not a task",
                                    reference.name
                                ),
                            )
                            .at(reference.span, Some("no task has this name".into()))
                            .hint(hint),
                        );
                    }
                    Some(target) if !order.depends(*entry, target) => {
                        self.push(
                            Diagnostic::error(
                                DiagnosticKind::ResultsWithoutDependency,
                                format!(
                                    "task `{task}` reads `tasks.{}` but does not depend on it",
                                    reference.name
                                ),
                            )
                            .at(reference.span, Some("not a dependency".into()))
                            .hint(format!(
                                "add `{}` to `depends_on` of `{task}`: results exist only once the task has run",
                                lookup.entries[target].task_name()
                            )),
                        );
                    }
                    Some(_) => {}
                }
            }
        }
    }

    /// `slurm` options, each field falling back to `inherited`.
    fn slurm_options(
        &mut self,
        raw: Option<&RawSlurm>,
        inherited: &Arc<SlurmOptions>,
        place: &str,
    ) -> Arc<SlurmOptions> {
        let mut found = Vec::new();
        let options = slurm_options(self.source(), raw, inherited, place, &mut found);
        for diagnostic in found {
            self.push(diagnostic);
        }
        options
    }

    /// A `shell`: a program and its options (`bash -eo pipefail`), the program found now the
    /// way a local run finds it (on `PATH`, unless it names a path). A Slurm task's shell is
    /// looked up on the cluster's nodes, not here.
    fn check_shell(&mut self, shell: &Spanned<String>, on_slurm: bool) {
        let Some(program) = shell_words(&shell.value).next() else {
            self.push(
                Diagnostic::error(DiagnosticKind::InvalidCommand, "the `shell` is empty")
                    .at(self.span(shell), Some("no program".into()))
                    .hint("name a shell program and its options, like `shell: bash -eo pipefail`, or remove `shell` to use `sh`"),
            );
            return;
        };
        if on_slurm || program.contains('/') || program_on_path(program) {
            return;
        }
        self.push(
            Diagnostic::error(
                DiagnosticKind::InvalidCommand,
                format!("the shell program `{program}` is not on `PATH`"),
            )
            .at(self.span(shell), Some("not found".into()))
            .hint("install it, or name it by its path (`shell: /usr/local/bin/bash -e`); the words after the program are its options"),
        );
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
            self.push(
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
            self.push(
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
                _ => self.push(
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
                    self.push(
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
                self.push(
                    Diagnostic::error(DiagnosticKind::RunAndScript, format!("task `{task}` has both `run` and `script`"))
                        .at(self.span(script), Some("a script here".into()))
                        .also(self.span(run), "and a shell command here")
                        .hint("a task does one thing: split it into two tasks, one depending on the other"),
                );
                (explicit.unwrap_or(Isolation::Process), Command::None)
            }
            (Some(run), None) => {
                if let (Some(Isolation::Thread), Some(isolation)) = (explicit, &raw.isolation) {
                    self.push(
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
                    self.push(
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
                    self.push(
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
                    self.push(
                        Diagnostic::error(
                            DiagnosticKind::InvalidCommand,
                            format!("the `script` of task `{task}` is empty"),
                        )
                        .at(self.span(script), None)
                        .hint("write the script, or remove `script` to make the task a join point"),
                    );
                }
                let command = match script {
                    Some(script) if script.value.contains("${{") => {
                        // Templates are filled in when the task starts; check the rest of the
                        // script with each one standing in as `()`, at the same positions.
                        let stand_in = Spanned::new(
                            without_templates(&script.value),
                            script.referenced,
                            script.defined,
                        );
                        match self.scripts.compile(self.source(), &stand_in, task) {
                            Ok(_) => {
                                self.check_calls(&stand_in, &stand_in.value, 0, Place::Script);
                                Command::Script {
                                    source: Arc::from(script.value.as_str()),
                                    ast: Arc::new(rhai::AST::empty()),
                                }
                            }
                            Err(diagnostic) => {
                                self.push(diagnostic);
                                Command::None
                            }
                        }
                    }
                    Some(script) => match self.scripts.compile(self.source(), script, task) {
                        Ok((source, ast)) => {
                            self.check_calls(script, &script.value, 0, Place::Script);
                            Command::Script { source, ast }
                        }
                        Err(diagnostic) => {
                            self.push(diagnostic);
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

    /// The entries of an `env` mapping with valid names.
    fn env<'r>(
        &mut self,
        env: Option<&'r RawEnv>,
        place: &str,
    ) -> Vec<(&'r Spanned<String>, &'r Spanned<String>)> {
        let Some(env) = env else { return Vec::new() };
        let mut vars = Vec::with_capacity(env.len());
        for (name, value) in env {
            if is_env_name(&name.value) {
                vars.push((name, value));
            } else {
                self.push(
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

    /// A `timeout`: a duration, and not zero, which would stop the task as soon as it starts.
    fn timeout(&mut self, text: &Spanned<String>, place: &str) -> Option<Duration> {
        let timeout = self.duration(text, "timeout", place)?;
        if !timeout.get().is_zero() {
            return Some(timeout);
        }
        self.push(
            Diagnostic::error(
                DiagnosticKind::InvalidDuration,
                format!(
                    "invalid `timeout` `{}` in {place}: a task would be stopped as soon as it starts",
                    text.value
                ),
            )
            .at(self.span(text), Some("expected more than zero".into()))
            .hint("leave `timeout` out for no time limit, or give a positive duration like `5m`"),
        );
        None
    }

    fn duration(&mut self, text: &Spanned<String>, field: &str, place: &str) -> Option<Duration> {
        match text.value.parse::<Duration>() {
            Ok(duration) => Some(duration),
            Err(error) => {
                let detail = match &error {
                    DurationError::Overflow => "too large".to_owned(),
                    other => other.to_string(),
                };
                self.push(
                    Diagnostic::error(
                        DiagnosticKind::InvalidDuration,
                        format!("invalid `{field}` `{}` in {place}: {detail}", text.value),
                    )
                    .at(self.span(text), Some("expected a duration like `5m`".into()))
                    .hint("write durations as numbers with units and no spaces: `5m`, `1h30m`, `45s`, `250ms` (units: ms, s, m, h, d)"),
                );
                None
            }
        }
    }
}

/// Sets `name` in `env` (in its old place when present) and returns its index.
fn merge_one(env: &mut Vec<(String, String)>, name: String, value: String) -> usize {
    match env.iter().position(|(existing, _)| *existing == name) {
        Some(index) => {
            env[index].1 = value;
            index
        }
        None => {
            env.push((name, value));
            env.len() - 1
        }
    }
}

/// Whether `program` is an executable file in a directory of `PATH`, as `execvp` finds it.
fn program_on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        std::fs::metadata(dir.join(program))
            .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
    })
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
        merge_one(env, name, value);
    }
}

/// A script with each `${{ ... }}` replaced by `()` and spaces, keeping every other
/// character (and so every position) in place.
fn without_templates(script: &str) -> String {
    let mut out = String::with_capacity(script.len());
    let mut rest = script;
    while let Some(open) = rest.find("${{") {
        out.push_str(&rest[..open]);
        let region_end = rest[open..]
            .find("}}")
            .map_or(rest.len(), |close| open + close + 2);
        out.push_str("()");
        for c in rest[open..region_end].chars().skip(2) {
            out.push(if c == '\n' { '\n' } else { ' ' });
        }
        rest = &rest[region_end..];
    }
    out.push_str(rest);
    out
}

/// The wait before a first retry when neither the task nor `defaults` says.
const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(1);

/// The most retries a task may ask for.
const MAX_RETRIES: u32 = 100;

/// Workflows at least this large are freed on a thread of their own.
const DROP_ASIDE_TASKS: usize = 5_000;

/// Frees what parsing made once validation is done with it: on a thread of its own for a
/// large workflow (100,000 tasks are millions of allocations, about a tenth of a second),
/// so the run goes on meanwhile; here when the thread cannot be started.
fn drop_aside(raws: Vec<RawWorkflow>, tasks: usize) {
    if tasks < DROP_ASIDE_TASKS {
        return;
    }
    let spare = std::thread::Builder::new()
        .name("engine-free".into())
        .spawn(move || drop(raws));
    // Without a thread, `raws` was dropped with the failed spawn's closure.
    drop(spare);
}
