//! Why each task would run or be skipped now: `engine status` and `engine plan --explain`.
//!
//! The same decisions as a run, made ahead of it: tasks in dependency order, each checked
//! against its last success. A task whose dependency would run (and may change its outputs)
//! is decided only after that dependency has run; the explanation says so. In lines for
//! people, a matrix task's items with the same verdict are one line (`compile[33 items]`).

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::fresh::{self, Parts, Why};
use super::store::Success;
use super::{Store, StoreError};
use crate::files::{Digest, DigestCache, SETTLED};
use crate::model::{ItemCounts, TaskId, Workflow};
use crate::plan::{Graph, Outcome, Scope, Templating};
use crate::template::DependencyStatus;

/// What a run would do with a task now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Skipped: up to date.
    UpToDate,
    /// Runs, for this reason.
    Runs(String),
    /// Decided once these dependencies have run: up to date unless their outputs change.
    AfterDependencies(Vec<TaskId>),
    /// Fails before it starts (an input is missing).
    Fails(String),
}

impl Verdict {
    /// A one-word kind for JSON: `up_to_date`, `runs`, `after_dependencies`, `fails`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::UpToDate => "up_to_date",
            Self::Runs(_) => "runs",
            Self::AfterDependencies(_) => "after_dependencies",
            Self::Fails(_) => "fails",
        }
    }

    /// The verdict in words, the tasks it waits for named as `counts` names them (a
    /// matrix's items counted per task unless `verbose`).
    #[must_use]
    pub fn describe(&self, workflow: &Workflow, counts: &ItemCounts, verbose: bool) -> String {
        match self {
            Self::UpToDate => "up to date".to_owned(),
            Self::Runs(why) => format!("runs: {why}"),
            Self::AfterDependencies(tasks) => {
                let names: Vec<String> = counts
                    .names(workflow, tasks, verbose)
                    .into_iter()
                    .map(|name| format!("`{name}`"))
                    .collect();
                let one = tasks.len() == 1;
                format!(
                    "decided after {} {}: up to date unless that changes what it depends on",
                    names.join(", "),
                    if one { "runs" } else { "run" }
                )
            }
            Self::Fails(why) => format!("fails: {why}"),
        }
    }
}

/// One line of an explanation: a task, or (without `verbose`) items of one matrix task with
/// the same verdict, named together (`compile[33 items]`, `compile[30 of 33 items]`); up to
/// `NAMED_ITEMS` of them, when not all, keep a line each.
#[derive(Debug)]
pub struct Line {
    /// The tasks of the line, in file order.
    pub tasks: Vec<TaskId>,
    /// Their name: the task's, or the matrix task's with a count.
    pub name: String,
    /// Their verdict in words.
    pub verdict: String,
}

/// The verdicts of `explain` (in file order) as lines: the items of a matrix task with the
/// same verdict make one line, at the place of the first, unless `verbose`.
#[must_use]
pub fn lines(workflow: &Workflow, verdicts: &[(TaskId, Verdict)], verbose: bool) -> Vec<Line> {
    let counts = ItemCounts::of(workflow);
    let mut lines: Vec<Line> = Vec::new();
    let mut at: FxHashMap<(&str, String), usize> = FxHashMap::default();
    for (task, verdict) in verdicts {
        let verdict = verdict.describe(workflow, &counts, verbose);
        let group = workflow.task(*task).group.as_deref().filter(|_| !verbose);
        if let Some(group) = group {
            if let Some(&index) = at.get(&(group, verdict.clone())) {
                lines[index].tasks.push(*task);
                continue;
            }
            at.insert((group, verdict.clone()), lines.len());
        }
        lines.push(Line {
            tasks: vec![*task],
            name: String::new(),
            verdict,
        });
    }
    // A few items of a matrix keep a line each: their names say more than a count.
    let mut named = Vec::with_capacity(lines.len());
    for mut line in lines {
        let group = workflow.task(line.tasks[0]).group.as_deref().unwrap_or("");
        let (count, total) = (line.tasks.len(), counts.of_group(group));
        if count > 1 && count <= NAMED_ITEMS && count < total {
            for task in line.tasks {
                named.push(Line {
                    tasks: vec![task],
                    name: workflow.task(task).name.clone(),
                    verdict: line.verdict.clone(),
                });
            }
        } else {
            line.name = counts.name(workflow, line.tasks[0], count);
            named.push(line);
        }
    }
    named
}

/// Most items of a matrix with the same verdict that keep a line each, when they are not all
/// of its items.
const NAMED_ITEMS: usize = 3;

/// What the record holds that the verdicts need: the last success of each task of the
/// workflow, and the digests of files by stamp.
pub struct Recorded {
    /// The last successes, by task name.
    pub successes: FxHashMap<String, Success>,
    /// The digests of files (read only: what it learns is not kept).
    pub files: DigestCache,
}

impl Recorded {
    /// What `store` holds for `workflow` (its key); nothing without a store.
    ///
    /// # Errors
    /// What the store said.
    pub fn read(store: Option<&Store>, workflow: &str) -> Result<Self, StoreError> {
        let (successes, files) = match store {
            Some(store) => (store.successes(workflow)?, store.file_digests()?),
            None => Default::default(),
        };
        Ok(Self {
            successes,
            files: DigestCache::new(files, SETTLED),
        })
    }
}

/// The verdict of every task of `graph`, by task index (`None` outside the graph).
#[must_use]
pub fn explain(workflow: &Workflow, graph: &Graph, recorded: &Recorded) -> Vec<Option<Verdict>> {
    let (successes, files) = (&recorded.successes, Some(&recorded.files));
    let count = workflow.tasks.len();
    let mut verdicts: Vec<Option<Verdict>> = vec![None; count];
    // A task's key when it is known before the run: it is up to date, or has no outputs.
    let mut keys: Vec<Option<Digest>> = vec![None; count];
    // Dependencies that would run and may change a task's inputs, per task.
    let mut waits_on: Vec<Vec<TaskId>> = vec![Vec::new(); count];
    let mut outcomes: Vec<Option<Outcome>> = vec![None; count];
    let templating = Templating::new();
    let scope = Scope { workflow, graph };
    let workflow_dir = workflow.path.parent().unwrap_or(std::path::Path::new(""));
    for task in graph.topological() {
        let spec = workflow.task(task);
        let mut pending: Vec<TaskId> = Vec::new();
        let mut deps = Vec::with_capacity(spec.depends_on.len());
        for &dep in &spec.depends_on {
            match keys[dep.index()] {
                Some(key) => deps.push((workflow.task(dep).name.clone(), key)),
                None if waits_on[dep.index()].is_empty()
                    && !matches!(verdicts[dep.index()], Some(Verdict::AfterDependencies(_))) =>
                {
                    pending.push(dep);
                }
                None => {
                    for &waited in &waits_on[dep.index()] {
                        if !pending.contains(&waited) {
                            pending.push(waited);
                        }
                    }
                }
            }
        }
        if !pending.is_empty() {
            verdicts[task.index()] = Some(if fresh::tracks_files(spec.files.as_deref()) {
                Verdict::AfterDependencies(pending.clone())
            } else {
                Verdict::Runs(Why::NoOutputs.to_string())
            });
            waits_on[task.index()] = pending;
            continue;
        }
        // Filled in as the run fills it in, so that the fingerprints agree.
        let launch = match templating.launch(scope, spec, &outcomes, 1, DependencyStatus::SUCCEEDED)
        {
            Ok(launch) => launch,
            Err(message) => {
                // Results of a dependency that runs again are known only once it has.
                let ran: Vec<TaskId> = spec
                    .depends_on
                    .iter()
                    .copied()
                    .filter(|dep| outcomes[dep.index()].is_none())
                    .collect();
                verdicts[task.index()] = Some(if ran.is_empty() {
                    Verdict::Fails(message)
                } else {
                    waits_on[task.index()].clone_from(&ran);
                    Verdict::AfterDependencies(ran)
                });
                continue;
            }
        };
        let last = successes.get(&spec.name);
        let parts = match Parts::of(spec, &launch, workflow_dir, &deps, last, files) {
            Ok(parts) => parts,
            Err(error) => {
                verdicts[task.index()] =
                    Some(Verdict::Fails(format!("cannot read its inputs: {error}")));
                continue;
            }
        };
        let fingerprint = parts.fingerprint();
        let verdict = match fresh::up_to_date(
            launch.files.as_deref(),
            &launch.cwd,
            &parts,
            &fingerprint,
            last,
            files,
        ) {
            Ok(()) => {
                let last = last.expect("up to date only with a success");
                keys[task.index()] = Some(fresh::key(&fingerprint, &last.outputs, "success"));
                outcomes[task.index()] = Some(Outcome {
                    status: "success",
                    results: Arc::new(serde_json::from_str(&last.results).unwrap_or_default()),
                });
                Verdict::UpToDate
            }
            Err(why) => {
                if why == Why::NoOutputs && spec.condition.is_none() {
                    // What it makes is nothing the record follows: its key is known.
                    keys[task.index()] = Some(fresh::key(
                        &fingerprint,
                        &fresh::outputs_digest(&[]),
                        "success",
                    ));
                }
                Verdict::Runs(why.to_string())
            }
        };
        verdicts[task.index()] = Some(verdict);
    }
    verdicts
}

/// The verdicts of `graph`'s tasks in file order, with their names.
#[must_use]
pub fn in_file_order(graph: &Graph, verdicts: Vec<Option<Verdict>>) -> Vec<(TaskId, Verdict)> {
    let mut verdicts = verdicts;
    graph
        .tasks()
        .iter()
        .filter_map(|&task| verdicts[task.index()].take().map(|verdict| (task, verdict)))
        .collect()
}
