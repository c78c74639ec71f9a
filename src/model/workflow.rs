//! `Workflow`: a whole validated pipeline.

use std::path::PathBuf;

use super::{Task, TaskId};

/// A validated workflow. Tasks keep the order of the file; `TaskId` indexes them.
#[derive(Clone, Debug)]
pub struct Workflow {
    /// The file it came from.
    pub path: PathBuf,
    /// Its name: the `name` key, or the file stem.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// The tasks in file order.
    pub tasks: Vec<Task>,
}

impl Workflow {
    /// The task with this id.
    #[must_use]
    pub fn task(&self, id: TaskId) -> &Task {
        &self.tasks[id.index()]
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
