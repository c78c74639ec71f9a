//! `Workflow`: a whole validated pipeline.

use std::path::PathBuf;

use super::{Task, TaskId, Value};

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

    /// The id of the task with this name, if there is one.
    #[must_use]
    pub fn find(&self, name: &str) -> Option<TaskId> {
        self.tasks
            .iter()
            .find(|task| task.name == name)
            .map(|task| task.id)
    }
}
