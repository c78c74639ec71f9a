//! `Diagnostic`: one problem in a workflow file, its kind, where it is and what to do about it.

use serde::Serialize;

/// What kind of problem a diagnostic reports. Tests assert on these; the JSON output names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiagnosticKind {
    /// The file could not be read.
    Unreadable,
    /// The file is not UTF-8.
    NotUtf8,
    /// The file has no content.
    EmptyFile,
    /// The YAML itself is malformed.
    Syntax,
    /// A tab where YAML needs spaces.
    Tab,
    /// The file exceeds a parser limit: nesting depth, aliases, size.
    TooComplex,
    /// The top level is not a mapping.
    RootNotMapping,
    /// A required key is absent.
    MissingKey,
    /// A key the format does not know.
    UnknownKey,
    /// A value of the wrong YAML type.
    WrongType,
    /// A value outside the allowed set, such as `isolation: threads`.
    InvalidValue,
    /// The same key twice in one mapping.
    DuplicateKey,
    /// Two tasks with one name.
    DuplicateTask,
    /// A task name that breaks the naming rule.
    InvalidTaskName,
    /// A dependency on a task that does not exist.
    UnknownDependency,
    /// A task that depends on itself.
    SelfDependency,
    /// The same dependency listed twice.
    RepeatedDependency,
    /// A `name[key=value]` selector that cannot be read or selects no matrix item.
    InvalidSelector,
    /// Tasks that depend on each other in a circle.
    DependencyCycle,
    /// `run` on a task with `isolation: thread`.
    RunOnThread,
    /// `run` and `script` on one task.
    RunAndScript,
    /// A duration that does not parse.
    InvalidDuration,
    /// A `resources` value that cannot be met or read: `cpus: 0`, a bad memory amount, more
    /// CPUs than the run has slots.
    InvalidResources,
    /// A `script` that does not compile.
    ScriptSyntax,
    /// A `shell` without a `run` command or empty command text.
    InvalidCommand,
    /// An environment variable name that cannot be set.
    InvalidEnvName,
    /// A requested task name that does not exist.
    UnknownTarget,
    /// A `${{ }}` template or an `if` expression that does not parse.
    TemplateSyntax,
    /// A template that names a variable, matrix key or task it cannot see.
    UnknownReference,
    /// A template that reads the results of a task it does not depend on.
    ResultsWithoutDependency,
    /// A matrix that cannot be expanded: an empty list, a bad key.
    InvalidMatrix,
    /// A bad `params` declaration, or a dependency's `with` that does not fit the task's
    /// params (a missing, unknown or disallowed value).
    InvalidParams,
    /// A `pool` that is not in `pools`, or a pool of size 0.
    UnknownPool,
    /// A bad `vars`, `secrets`, `retries` or `env_file` entry.
    InvalidSetting,
    /// An `include` that cannot be read.
    InvalidInclude,
    /// `executor: slurm` or `slurm` options on a task that runs on a thread.
    InvalidExecutor,
    /// A `slurm` option that cannot be passed to `sbatch`: empty, not an option, or one that
    /// engine sets itself.
    InvalidSlurmOption,
    /// An `inputs` or `outputs` entry that is no usable path or glob.
    InvalidFilePattern,
    /// A task that reads a file another task writes, without depending on it.
    FileWithoutDependency,
    /// Two tasks that may run at once write the same file.
    OutputWrittenTwice,
    /// An output that is no place for a task to write: a device, a FIFO or a socket, the
    /// workflow's directory or one holding it, the state dir.
    UnsafeOutput,
    /// An output outside the workflow's directory (a warning): engine never moves what a
    /// failed attempt left there.
    OutputOutsideWorkflow,
}

impl DiagnosticKind {
    /// The stable code shown next to the message, like `engine::unknown_dependency`.
    #[must_use]
    pub fn code(self) -> String {
        let name = serde_json::to_value(self)
            .ok()
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_default();
        format!("engine::{name}")
    }
}

/// How serious a diagnostic is. Only errors stop a workflow from running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The workflow cannot run.
    Error,
    /// Worth a look; the workflow still runs.
    Warning,
}

/// A byte range in the source text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// The first byte.
    pub offset: usize,
    /// How many bytes.
    pub len: usize,
}

impl Span {
    /// The span of `len` bytes at `offset`.
    #[must_use]
    pub fn new(offset: usize, len: usize) -> Self {
        Self { offset, len }
    }
}

/// A span with the text shown beside its carets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What is there, or `None` for bare carets.
    pub text: Option<String>,
}

/// One problem in one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// What kind of problem.
    pub kind: DiagnosticKind,
    /// How serious.
    pub severity: Severity,
    /// What is wrong: a lowercase sentence fragment, user values in backticks.
    pub message: String,
    /// Where it is, if it is anywhere in particular.
    pub primary: Option<Label>,
    /// Other places that explain it (the first definition, the other edges of a cycle).
    pub secondary: Vec<Label>,
    /// What to do about it.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// An error of this kind with this message and no location yet.
    #[must_use]
    pub fn error(kind: DiagnosticKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            severity: Severity::Error,
            message: message.into(),
            primary: None,
            secondary: Vec::new(),
            hint: None,
        }
    }

    /// A warning of this kind with this message and no location yet: worth a look, and the
    /// workflow still runs.
    #[must_use]
    pub fn warning(kind: DiagnosticKind, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(kind, message)
        }
    }

    /// Points the diagnostic at `span`, with `label` beside the carets.
    #[must_use]
    pub fn at(mut self, span: Span, label: impl Into<Option<String>>) -> Self {
        self.primary = Some(Label {
            span,
            text: label.into(),
        });
        self
    }

    /// Adds another labelled place.
    #[must_use]
    pub fn also(mut self, span: Span, label: impl Into<String>) -> Self {
        self.secondary.push(Label {
            span,
            text: Some(label.into()),
        });
        self
    }

    /// Adds a hint.
    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a hint when there is one.
    #[must_use]
    pub fn maybe_hint(mut self, hint: Option<String>) -> Self {
        if hint.is_some() {
            self.hint = hint;
        }
        self
    }
}

/// `did you mean `x`?` for the candidate closest to `input`, if one is close enough.
#[must_use]
pub fn suggest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(input, candidate), candidate))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| format!("did you mean `{candidate}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_only_close_names() {
        assert_eq!(
            suggest("depend_on", ["description", "depends_on", "run"]),
            Some("did you mean `depends_on`?".into())
        );
        assert_eq!(suggest("zzz", ["description", "depends_on"]), None);
    }

    #[test]
    fn codes_are_snake_case() {
        assert_eq!(
            DiagnosticKind::UnknownDependency.code(),
            "engine::unknown_dependency"
        );
    }
}
