//! `Task`: one validated unit of work, and the small types that describe it.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use super::{Duration, ExecutorKind, Memory, ParamError, Signature, SlurmOptions, Value};
use crate::template::{Expr, Template};

/// A task's index in `Workflow::tasks`, which keeps file order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(pub u32);

impl TaskId {
    /// The index into `Workflow::tasks`.
    #[must_use]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Where a task runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Isolation {
    /// Inside the engine, on a worker thread.
    Thread,
    /// In its own OS process group.
    Process,
}

impl Isolation {
    /// The name used in the workflow format.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Thread => "thread",
            Self::Process => "process",
        }
    }
}

impl fmt::Display for Isolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a task does when it runs.
#[derive(Clone, Debug)]
pub enum Command {
    /// Nothing: the task is a join point for its dependencies.
    None,
    /// A shell command line, run as `<shell> -c <run>` with the shell's fail-fast options
    /// ([`shell_invocation`]).
    Shell {
        /// The command line.
        run: Arc<str>,
        /// The shell, `sh` unless the task says otherwise: a program and its options, split
        /// into words by [`shell_words`] (`bash -eo pipefail`).
        shell: Arc<str>,
    },
    /// An embedded rhai script.
    Script {
        /// The script's source text.
        source: Arc<str>,
        /// The script, compiled once during validation.
        ast: Arc<rhai::AST>,
    },
}

/// The words of a `shell` setting, program first: split at whitespace, no quoting
/// (`bash -eo pipefail` is `bash`, `-eo`, `pipefail`). Validation refuses a shell without
/// words, and every executor runs `<words...> -c <run>`.
pub fn shell_words(shell: &str) -> impl Iterator<Item = &str> {
    shell.split_whitespace()
}

/// The program and options a `run` command is started with, before `-c <run>`: fail-fast
/// (stop at the first failing command). A shell named alone gets its fail-fast options:
/// `bash` (by any path) runs as `bash -e -o pipefail`, a POSIX shell (`sh`, `dash`, `ash`,
/// `ksh`, `mksh`, `zsh`) as `<shell> -e`. A shell written with options, or another program
/// (`python3`), is used as written: `bash --norc`, `sh +e`.
#[must_use]
pub fn shell_invocation(shell: &str) -> Vec<&str> {
    let mut words: Vec<&str> = shell_words(shell).collect();
    if let [program] = words.as_slice() {
        let name = program.rsplit('/').next().unwrap_or(program);
        match name {
            "bash" => words.extend(["-e", "-o", "pipefail"]),
            "sh" | "dash" | "ash" | "ksh" | "mksh" | "zsh" => words.push("-e"),
            _ => {}
        }
    }
    words
}

impl Command {
    /// A short word for the kind of command: `shell`, `script` or `none`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Shell { .. } => "shell",
            Self::Script { .. } => "script",
        }
    }
}

/// One validated task.
#[derive(Clone, Debug)]
pub struct Task {
    /// Its index in the workflow.
    pub id: TaskId,
    /// Its unique name.
    pub name: String,
    /// What it is for, if the file says.
    pub description: Option<String>,
    /// The tasks that must succeed before this one starts, in file order, without repeats.
    pub depends_on: Vec<TaskId>,
    /// Where it runs.
    pub isolation: Isolation,
    /// What it runs.
    pub command: Command,
    /// Environment variables of this task, after the workflow's and the defaults'.
    pub env: Arc<[(String, String)]>,
    /// Working directory, absolute (relative paths are resolved against the workflow's directory).
    pub cwd: PathBuf,
    /// How long it may run.
    pub timeout: Option<Duration>,
    /// What it needs while it runs.
    pub resources: Resources,
    /// For a matrix expansion, the task's name as written (`test` for `test[os=linux]`).
    pub group: Option<Arc<str>>,
    /// The matrix values of this expansion, in the matrix's key order; empty otherwise.
    pub matrix: Vec<(String, Value)>,
    /// Its `params` (`None` without): each instance of the task has its own values.
    pub signature: Option<Arc<Signature>>,
    /// The values of its parameters (`${{ params.name }}`), in declaration order. A task
    /// whose required parameters nobody gave has fewer: it cannot run (`Task::unbound`).
    pub params: Vec<(String, String)>,
    /// `${{ args }}`: the words after `--` on the command line, for the task named there.
    pub args: Arc<[String]>,
    /// The parts of `command`, `env` and `cwd` written with `${{ }}`, filled in when the task
    /// starts; `None` for a task without templates.
    pub templates: Option<Arc<Templates>>,
    /// `if`: evaluated when the dependencies are done.
    pub condition: Option<Arc<Condition>>,
    /// A failure does not fail the run nor block dependents.
    pub allow_failure: bool,
    /// Attempts after the first when it fails or times out.
    pub retries: u32,
    /// The wait before the first retry (doubled for each later one, plus jitter).
    pub retry_delay: Duration,
    /// The index of its pool in `Workflow::pools`.
    pub pool: Option<usize>,
    /// Where it runs if it is a process task, unless `engine run --executor` says otherwise.
    pub executor: ExecutorKind,
    /// Its `sbatch` options when it runs on Slurm.
    pub slurm: Arc<SlurmOptions>,
    /// The files it reads and writes (`inputs`, `outputs`, `depfile`), for up-to-date
    /// checks; `None` when it has none of them.
    pub files: Option<Arc<TaskFiles>>,
    /// `manual: true`: runs only when named on the command line or needed by a selected
    /// task, never in a plain `engine run` of every task.
    pub manual: bool,
    /// How people reach it from the command line (`aliases`, `group`, `confirm`); `None` for
    /// a task that sets none of them.
    pub interface: Option<Arc<Interface>>,
    /// `requires`: commands checked, in order, right before it starts; empty for most.
    pub requires: Arc<[Requirement]>,
    /// For a task whose matrix reads its dependencies' results: its axes. Such a task is a
    /// placeholder until the run has those results; then it expands into one task per
    /// combination, and waits for them as a join. `None` for every other task.
    pub expands: Option<Arc<Expansion>>,
}

/// What the command line knows a task by besides its name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Interface {
    /// Other names that select it (`aliases: [b]`).
    pub aliases: Vec<String>,
    /// Its heading in `engine list` (`group: release`).
    pub group: Option<String>,
    /// A question `engine run` asks before it starts a run that selects it (`confirm`).
    pub confirm: Option<String>,
}

/// One precondition of a task (`requires`): a shell command that must succeed right before
/// the task starts, and what to say when it does not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    /// The command, run as `sh -c <run>` in the task's directory and environment.
    pub run: String,
    /// What to tell the user when it fails.
    pub message: String,
}

/// The matrix of a task that expands at run time (an axis reads `tasks.X.results`).
#[derive(Clone, Debug)]
pub struct Expansion {
    /// The axes in the matrix's key order.
    pub axes: Vec<(String, Axis)>,
    /// The names of the tasks whose results its axes read, for `plan` and `graph`.
    pub after: Vec<String>,
}

/// One axis of a matrix that expands at run time.
#[derive(Clone, Debug)]
pub enum Axis {
    /// Values known when the workflow is loaded.
    Values(Vec<Value>),
    /// An expression evaluated once the dependencies are done; it must yield a list.
    Expr(Expr),
}

/// A task's `inputs` and `outputs`, as written (templates are filled in when it is ready).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskFiles {
    /// Paths or globs it reads, relative to its `cwd`.
    pub inputs: Vec<String>,
    /// Paths or globs it creates, relative to its `cwd`.
    pub outputs: Vec<String>,
    /// The Makefile-syntax file, relative to its `cwd`, where it writes the further files it
    /// read (`gcc -MMD -MF`): they join its inputs from its next run on.
    pub depfile: Option<String>,
}

impl Task {
    /// Why it cannot run: a required parameter without a value (only the task as written,
    /// when nothing gave it one, lacks values).
    #[must_use]
    pub fn unbound(&self) -> Option<ParamError> {
        let signature = self.signature.as_deref()?;
        if self.params.len() == signature.params.len() {
            return None;
        }
        signature.bind(&[]).err()
    }

    /// Its aliases (empty without). An instance of a task with parameters made with other
    /// values (`build(profile=release)`) has none: an alias names the task as written.
    #[must_use]
    pub fn aliases(&self) -> &[String] {
        if self
            .signature
            .as_deref()
            .is_some_and(|signature| signature.task != self.name)
        {
            return &[];
        }
        self.interface.as_deref().map_or(&[], |i| &i.aliases)
    }

    /// Its `confirm` question, if any.
    #[must_use]
    pub fn confirm(&self) -> Option<&str> {
        self.interface.as_deref().and_then(|i| i.confirm.as_deref())
    }

    /// Whether it is private (its name starts with `_`): `engine list` leaves it out.
    #[must_use]
    pub fn is_private(&self) -> bool {
        self.group.as_deref().unwrap_or(&self.name).starts_with('_')
    }

    /// The patterns of its `outputs` (empty without).
    #[must_use]
    pub fn outputs(&self) -> &[String] {
        self.files.as_deref().map_or(&[], |files| &files.outputs)
    }

    /// Its `depfile`, as written (`None` without).
    #[must_use]
    pub fn depfile(&self) -> Option<&str> {
        self.files
            .as_deref()
            .and_then(|files| files.depfile.as_deref())
    }

    /// The patterns of its `inputs` (empty without).
    #[must_use]
    pub fn inputs(&self) -> &[String] {
        self.files.as_deref().map_or(&[], |files| &files.inputs)
    }
}

#[cfg(test)]
impl Task {
    /// A task with every optional field at its default, for tests that build workflows by
    /// hand.
    pub(crate) fn for_tests(
        id: TaskId,
        name: impl Into<String>,
        isolation: Isolation,
        command: Command,
        depends_on: Vec<TaskId>,
    ) -> Self {
        let name = name.into();
        Self {
            id,
            group: None,
            name,
            description: None,
            depends_on,
            isolation,
            command,
            env: Arc::from(Vec::new()),
            cwd: PathBuf::from("."),
            timeout: None,
            resources: Resources::default(),
            matrix: Vec::new(),
            signature: None,
            params: Vec::new(),
            args: Arc::from(Vec::new()),
            templates: None,
            condition: None,
            allow_failure: false,
            retries: 0,
            retry_delay: Duration::from_secs(1),
            pool: None,
            executor: ExecutorKind::Local,
            slurm: Arc::default(),
            files: None,
            manual: false,
            interface: None,
            requires: Arc::from(Vec::new()),
            expands: None,
        }
    }
}

/// The templated parts of a task.
#[derive(Clone, Debug, Default)]
pub struct Templates {
    /// The `run` command or the `script`.
    pub command: Option<Template>,
    /// Environment values, by index into `Task::env`.
    pub env: Vec<(usize, Template)>,
    /// The working directory (relative paths resolve against the workflow's directory).
    pub cwd: Option<Template>,
    /// `inputs` entries, by index into `TaskFiles::inputs`.
    pub inputs: Vec<(usize, Template)>,
    /// `outputs` entries, by index into `TaskFiles::outputs`.
    pub outputs: Vec<(usize, Template)>,
    /// The `depfile` path.
    pub depfile: Option<Template>,
}

/// A task's `if`.
#[derive(Clone, Debug)]
pub struct Condition {
    /// The expression as written (without `${{ }}`).
    pub text: String,
    /// The compiled expression.
    pub expr: Expr,
    /// Whether it calls `success()`, `failure()` or `always()`. Without one, GitHub's rule
    /// applies: the task also needs every dependency to have succeeded. With one, the task
    /// may run after a failure, even when the run is stopping.
    pub checks_status: bool,
}

/// What a task needs while it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resources {
    /// CPUs: slots of `-j` (or of the thread pool) it takes, and `--cpus-per-task` on Slurm.
    pub cpus: u32,
    /// Memory: recorded, and `--mem` on Slurm.
    pub memory: Option<Memory>,
}

impl Default for Resources {
    fn default() -> Self {
        Self {
            cpus: 1,
            memory: None,
        }
    }
}
