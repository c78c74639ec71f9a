//! `ItemCounts`: how many items each matrix task of a workflow has, and lists of tasks named
//! for people with a matrix's items counted per task (`gen, compile[33 items]`) instead of
//! one name per item. It names; it never decides what runs.

use rustc_hash::FxHashMap;

use super::{TaskId, Workflow};

/// The number of items of each matrix task of one workflow, by the task's name as written.
#[derive(Debug, Default)]
pub struct ItemCounts {
    items: FxHashMap<std::sync::Arc<str>, usize>,
}

impl ItemCounts {
    /// Counts the items of every matrix task of `workflow` (expanded placeholders included).
    #[must_use]
    pub fn of(workflow: &Workflow) -> Self {
        let mut items: FxHashMap<std::sync::Arc<str>, usize> = FxHashMap::default();
        for group in workflow.tasks.iter().filter_map(|task| task.group.as_ref()) {
            *items.entry(std::sync::Arc::clone(group)).or_default() += 1;
        }
        Self { items }
    }

    /// How many items the matrix task `group` has (0 for a name that is no matrix task).
    #[must_use]
    pub fn of_group(&self, group: &str) -> usize {
        self.items.get(group).copied().unwrap_or(0)
    }

    /// `tasks` for people, in their order: a matrix task's items in the list become one entry
    /// at the place of the first, `compile[33 items]` for all of them or `compile[3 of 33
    /// items]` for some; a lone item keeps its own name (`compile[n=3]`). With `verbose`,
    /// every task by its own name.
    #[must_use]
    pub fn names(&self, workflow: &Workflow, tasks: &[TaskId], verbose: bool) -> Vec<String> {
        if verbose {
            return tasks
                .iter()
                .map(|&task| workflow.task(task).name.clone())
                .collect();
        }
        // Entries in order: a task, or a group with its items in the list.
        let mut entries: Vec<(TaskId, usize)> = Vec::new();
        let mut at: FxHashMap<&str, usize> = FxHashMap::default();
        for &task in tasks {
            match workflow.task(task).group.as_deref() {
                Some(group) => match at.get(group) {
                    Some(&index) => entries[index].1 += 1,
                    None => {
                        at.insert(group, entries.len());
                        entries.push((task, 1));
                    }
                },
                None => entries.push((task, 1)),
            }
        }
        entries
            .into_iter()
            .map(|(task, count)| self.name(workflow, task, count))
            .collect()
    }

    /// The name of `count` items of the matrix task of `first` (or of the task `first`).
    #[must_use]
    pub fn name(&self, workflow: &Workflow, first: TaskId, count: usize) -> String {
        let task = workflow.task(first);
        match task.group.as_deref() {
            Some(group) if count > 1 => {
                let total = self.of_group(group).max(count);
                if count == total {
                    format!("{group}[{total} items]")
                } else {
                    format!("{group}[{count} of {total} items]")
                }
            }
            _ => task.name.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Command, Isolation, Task};

    /// `gen`, then `compile` with `items` items, then `link`.
    fn workflow(items: u32) -> Workflow {
        let task = |id: u32, name: String, group: Option<&str>| {
            let mut task = Task::for_tests(
                TaskId(id),
                name,
                Isolation::Process,
                Command::None,
                Vec::new(),
            );
            task.group = group.map(Into::into);
            task
        };
        let mut tasks = vec![task(0, "gen".into(), None)];
        tasks.extend((1..=items).map(|n| task(n, format!("compile[n={n}]"), Some("compile"))));
        tasks.push(task(items + 1, "link".into(), None));
        Workflow::for_tests("w.yaml", "w", tasks)
    }

    fn names(workflow: &Workflow, ids: &[u32], verbose: bool) -> String {
        let ids: Vec<TaskId> = ids.iter().copied().map(TaskId).collect();
        ItemCounts::of(workflow)
            .names(workflow, &ids, verbose)
            .join(", ")
    }

    #[test]
    fn a_matrix_is_named_by_its_task_and_count() {
        let thirty_three = workflow(33);
        let all: Vec<u32> = (0..=34).collect();
        assert_eq!(
            names(&thirty_three, &all, false),
            "gen, compile[33 items], link"
        );
        assert_eq!(
            names(&thirty_three, &[1, 2, 3], false),
            "compile[3 of 33 items]"
        );
        assert_eq!(
            names(&thirty_three, &[34, 5, 0, 9], false),
            "link, compile[2 of 33 items], gen"
        );
        // A lone item keeps its name: it says more than `compile[1 of 33 items]`.
        assert_eq!(names(&thirty_three, &[7], false), "compile[n=7]");
        assert_eq!(
            names(&thirty_three, &[0, 1, 2], true),
            "gen, compile[n=1], compile[n=2]"
        );
        // A matrix of one item is that item.
        assert_eq!(names(&workflow(1), &[1], false), "compile[n=1]");
    }
}
