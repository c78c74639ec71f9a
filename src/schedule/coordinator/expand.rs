//! Expanding a placeholder: a task whose matrix reads its dependencies' results becomes,
//! once they are done, one task per combination of values, appended to the run (new ids,
//! the workflow, graph, state and gate grown to match); the placeholder stays as a join that
//! waits for them all. Part of the coordinator; no I/O of its own.

use std::sync::Arc;

use super::Coordinator;
use crate::events::{Event, EventSink};
use crate::execute::Executor;
use crate::model::{TaskId, Value, Workflow};
use crate::plan::Scope;
use crate::schedule::TaskState;
use crate::validate::{combinations, expansion_name};

/// The most tasks one placeholder may expand into.
pub const MAX_DYNAMIC_ITEMS: usize = 100_000;

/// One combination: each matrix key with its value, in the matrix's key order.
type Combination = Vec<(String, Value)>;

impl<E: Executor, S: EventSink> Coordinator<'_, E, S> {
    /// Expands a placeholder whose dependencies let it run: its items are decided at once
    /// (their dependencies are final); it settles as a join once they are. It fails, as a
    /// task that could not start, when its axes cannot be read or make too many tasks.
    pub(super) fn expand(&mut self, task: TaskId) {
        let combinations = match self.combinations(task) {
            Ok(combinations) => combinations,
            Err(message) => {
                self.fail_unstarted(task, message);
                return;
            }
        };
        let name = &self.workflow.task(task).name;
        let items: Vec<(String, Combination)> = combinations
            .into_iter()
            .map(|combination| (expansion_name(name, &combination), combination))
            .collect();
        let names: Vec<String> = items.iter().map(|(name, _)| name.clone()).collect();
        let mut workflow = Workflow::clone(&self.workflow);
        let first = workflow.expand(task, items);
        self.workflow = Arc::new(workflow);
        let ids: Vec<TaskId> = (first.0..).take(names.len()).map(TaskId).collect();
        self.graph.to_mut().expand(task, &ids);
        self.grow_state();
        if let Some(gate) = &mut self.gate {
            gate.grow(Arc::clone(&self.workflow));
        }
        self.unsettled[task.index()] = u32::try_from(ids.len()).unwrap_or(u32::MAX);
        self.sink.event(&Event::TaskExpanded { task, first, names });
        // Decided in order, after what is being decided now; with no items the placeholder
        // is a join with nothing to wait for.
        if ids.is_empty() {
            self.to_decide.push(task);
        } else {
            self.to_decide.extend(ids.iter().rev());
        }
        if !self.deciding {
            self.deciding = true;
            while let Some(next) = self.to_decide.pop() {
                self.decide(next);
            }
            self.deciding = false;
        }
    }

    /// The combinations a placeholder expands into, the last key varying fastest, or why
    /// there are none.
    fn combinations(&self, task: TaskId) -> Result<Vec<Combination>, String> {
        let spec = self.workflow.task(task);
        let expansion = spec.expands.as_ref().expect("only placeholders expand");
        let scope = Scope {
            workflow: &self.workflow,
            graph: &self.graph,
        };
        let outcomes = self.outcomes.as_deref().unwrap_or(&[]);
        let axes = self.templating.axes(scope, spec, expansion, outcomes)?;
        for (key, values) in &axes {
            let mut seen = rustc_hash::FxHashSet::default();
            if let Some(repeated) = values
                .iter()
                .map(Value::to_string)
                .find(|text| !seen.insert(text.clone()))
            {
                return Err(format!(
                    "the matrix key `{key}` of `{}` lists `{repeated}` twice: each value makes one task",
                    spec.name
                ));
            }
        }
        let count = axes
            .iter()
            .map(|(_, values)| values.len())
            .try_fold(1usize, usize::checked_mul);
        if count.is_none_or(|count| count > MAX_DYNAMIC_ITEMS) {
            return Err(format!(
                "the matrix of `{}` makes more than {MAX_DYNAMIC_ITEMS} tasks",
                spec.name
            ));
        }
        Ok(combinations(&axes))
    }

    /// Gives the tasks the workflow gained their place in every per-task vector.
    fn grow_state(&mut self) {
        let count = self.workflow.tasks.len();
        self.state.resize(count, TaskState::Pending);
        self.satisfied.resize(count, false);
        self.unsettled.resize(count, 0);
        self.attempts.resize(count, 0);
        self.blocked.resize(count, None);
        if let Some(outcomes) = &mut self.outcomes {
            outcomes.resize(count, None);
        }
    }
}
