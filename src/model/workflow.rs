//! `Workflow`: a whole validated pipeline.

use std::path::PathBuf;

use super::{Task, TaskId, Value};
use crate::template::{MaskError, Masker};

/// Why the secrets of a workflow cannot be masked.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// A secret has no value in the environment or the tasks' `env`.
    #[error("secret `{0}` has no value")]
    NoValue(String),
    /// A secret's value is empty.
    #[error("secret `{0}` is empty")]
    Empty(String),
    /// The values cannot be masked.
    #[error(transparent)]
    Mask(MaskError),
}

impl SecretError {
    /// The secret at fault, if one is.
    #[must_use]
    pub fn secret(&self) -> Option<&str> {
        match self {
            Self::NoValue(name) | Self::Empty(name) => Some(name),
            Self::Mask(_) => None,
        }
    }
}

/// A validated workflow. Tasks keep the order of the file; `TaskId` indexes them.
#[derive(Clone, Debug)]
pub struct Workflow {
    /// The file it came from.
    pub path: PathBuf,
    /// Its name: the `name` key, or the file stem.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// The tasks in file order (matrix expansions in place of their task).
    pub tasks: Vec<Task>,
    /// Template variables, after `--var` overrides.
    pub vars: Vec<(String, Value)>,
    /// Limits on tasks running at once.
    pub pools: Vec<Pool>,
    /// Names of environment variables whose values are masked.
    pub secrets: Vec<String>,
}

#[cfg(test)]
impl Workflow {
    /// A workflow of `tasks` without variables, pools or secrets, for tests.
    pub(crate) fn for_tests(path: &str, name: &str, tasks: Vec<Task>) -> Self {
        Self {
            path: PathBuf::from(path),
            name: name.to_owned(),
            description: None,
            tasks,
            vars: Vec::new(),
            pools: Vec::new(),
            secrets: Vec::new(),
        }
    }
}

/// A named limit on tasks running at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pool {
    /// Its name.
    pub name: String,
    /// The most of its tasks that run at once.
    pub size: usize,
}

impl Workflow {
    /// The task with this id.
    #[must_use]
    pub fn task(&self, id: TaskId) -> &Task {
        &self.tasks[id.index()]
    }

    /// Every value the secret `name` has: in the engine's environment, and in each task's
    /// `env` (the workflow's `env`, `env_file`, a task's own), without repeats. Empty when it
    /// has none. `engine run` and `engine plan` mask the same values by asking here.
    #[must_use]
    pub fn secret_values(&self, name: &str) -> Vec<String> {
        let mut values: Vec<String> = std::env::var(name).ok().into_iter().collect();
        for task in &self.tasks {
            for (key, value) in task.env.iter() {
                if key == name && !values.contains(value) {
                    values.push(value.clone());
                }
            }
        }
        values
    }

    /// The masker of every secret's values, for a run: each secret must have a value.
    ///
    /// # Errors
    /// A secret has no value or an empty one, or the values cannot be masked.
    pub fn secrets_masker(&self) -> Result<Masker, SecretError> {
        self.masker(true)
    }

    /// The masker of the secret values known now, for showing what would run (`engine
    /// plan`): a secret without a value hides nothing.
    ///
    /// # Errors
    /// The values cannot be masked.
    pub fn known_secrets_masker(&self) -> Result<Masker, SecretError> {
        self.masker(false)
    }

    /// The one way the masker of the workflow's secrets is built.
    fn masker(&self, every: bool) -> Result<Masker, SecretError> {
        let mut all = Vec::with_capacity(self.secrets.len());
        for name in &self.secrets {
            let values = self.secret_values(name);
            if every && values.is_empty() {
                return Err(SecretError::NoValue(name.clone()));
            }
            if every && values.iter().any(String::is_empty) {
                return Err(SecretError::Empty(name.clone()));
            }
            all.extend(values.into_iter().filter(|value| !value.is_empty()));
        }
        Masker::new(all).map_err(SecretError::Mask)
    }

    /// Hides the secret values known now in the names of task instances: a parameter's
    /// value is part of its task's name (`deploy(token=***)`), which events, logs and the
    /// record show.
    pub fn mask_task_names(&mut self) {
        let Ok(masker) = self.known_secrets_masker() else {
            return;
        };
        if masker.is_empty() {
            return;
        }
        for task in &mut self.tasks {
            if task.signature.is_some()
                && let std::borrow::Cow::Owned(masked) = masker.mask(&task.name)
            {
                task.name = masked;
            }
        }
    }

    /// Expands the placeholder `task` (a task with `expands`) into `items` (each a name and
    /// its matrix values), appended to the tasks with the next ids: each is the placeholder
    /// with its own name and values, and depends on what the placeholder depended on. The
    /// placeholder becomes a join that depends on the items alone: its dependents wait for
    /// all of them. Returns the id of the first item.
    pub fn expand(&mut self, task: TaskId, items: Vec<(String, Vec<(String, Value)>)>) -> TaskId {
        let first = TaskId(u32::try_from(self.tasks.len()).expect("task ids fit in u32"));
        let placeholder = self.task(task).clone();
        let group: std::sync::Arc<str> = placeholder
            .group
            .clone()
            .unwrap_or_else(|| placeholder.name.as_str().into());
        self.tasks.reserve(items.len());
        let mut ids = Vec::with_capacity(items.len());
        for (name, matrix) in items {
            let id = TaskId(u32::try_from(self.tasks.len()).expect("task ids fit in u32"));
            ids.push(id);
            self.tasks.push(Task {
                id,
                name,
                group: Some(std::sync::Arc::clone(&group)),
                matrix,
                expands: None,
                // Its `if` was the placeholder's, decided once.
                condition: None,
                ..placeholder.clone()
            });
        }
        let join = &mut self.tasks[task.index()];
        join.depends_on = ids;
        join.command = super::Command::None;
        join.expands = None;
        join.templates = None;
        join.condition = None;
        join.files = None;
        join.retries = 0;
        first
    }

    /// The parameters of the task written as `task`, if it declares any.
    #[must_use]
    pub fn signature(&self, task: &str) -> Option<&std::sync::Arc<super::Signature>> {
        self.tasks
            .iter()
            .filter_map(|t| t.signature.as_ref())
            .find(|signature| signature.task == task)
    }

    /// The id of the task with this name, if there is one.
    #[must_use]
    pub fn find(&self, name: &str) -> Option<TaskId> {
        self.tasks
            .iter()
            .find(|task| task.name == name)
            .map(|task| task.id)
    }
}
