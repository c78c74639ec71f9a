//! The data behind the run report: one run as the record holds it (its row, its attempts
//! with why each ran and the command that ran, the outputs its successes made, its logs) joined with what the workflow file says of each
//! task (command, isolation, dependencies) when that file can still be read. Every text is
//! masked as it is taken in. Pure: the logs come through a function, nothing is rendered
//! here, and nothing of the scheduler is known.

use std::path::Path;

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::model::{Command, Workflow};
use crate::record::AttemptStatus;
use crate::record::store::{AttemptRow, RunRow};
use crate::template::Masker;

/// Lines of a task's output shown inline.
pub const TAIL_LINES: usize = 50;
/// Characters of one inline line at most (a longer one is cut and says so).
const LINE_CHARS: usize = 400;
/// Bytes of one task's full log embedded at most.
pub const FULL_LOG_BYTES: usize = 64 * 1024;
/// Bytes of full logs embedded in one report at most: past it, logs are shown by their tail.
pub const ALL_LOGS_BYTES: usize = 4 * 1024 * 1024;

/// How an attempt, or a task (its last attempt), ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Failed: a non-zero exit, a signal, a missing output.
    Failed,
    /// Ran past its timeout.
    TimedOut,
    /// Stopped by an interruption.
    Interrupted,
    /// Started and never recorded an end (the engine died).
    Running,
    /// A word this engine does not know.
    Unknown,
    /// Not run: a dependency failed, its `if` was false, the run stopped.
    Skipped,
    /// Ran and succeeded.
    Succeeded,
    /// Not run: up to date.
    UpToDate,
    /// Not run: done by the run this one resumed.
    Resumed,
}

impl Outcome {
    fn of(status: &str) -> Self {
        match status.parse::<AttemptStatus>() {
            Ok(AttemptStatus::Failed) => Self::Failed,
            Ok(AttemptStatus::TimedOut) => Self::TimedOut,
            Ok(AttemptStatus::Interrupted) => Self::Interrupted,
            Ok(AttemptStatus::Running) => Self::Running,
            Ok(AttemptStatus::Skipped) => Self::Skipped,
            Ok(AttemptStatus::Succeeded) => Self::Succeeded,
            Ok(AttemptStatus::UpToDate) => Self::UpToDate,
            Ok(AttemptStatus::Resumed) => Self::Resumed,
            Err(_) => Self::Unknown,
        }
    }

    /// The word shown (and the CSS class `s-<word>`).
    #[must_use]
    pub const fn word(self) -> &'static str {
        match self {
            Self::Failed => "failed",
            Self::TimedOut => "timed-out",
            Self::Interrupted => "interrupted",
            Self::Running => "running",
            Self::Unknown => "unknown",
            Self::Skipped => "skipped",
            Self::Succeeded => "succeeded",
            Self::UpToDate => "up-to-date",
            Self::Resumed => "carried-over",
        }
    }

    /// Whether it is a failure the summary lists first.
    #[must_use]
    pub const fn is_failure(self) -> bool {
        matches!(
            self,
            Self::Failed | Self::TimedOut | Self::Interrupted | Self::Running | Self::Unknown
        )
    }

    /// Whether the task ran (its attempts have bars), rather than being decided without
    /// running (a marker).
    #[must_use]
    pub const fn ran(self) -> bool {
        !matches!(self, Self::Skipped | Self::UpToDate | Self::Resumed)
    }
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    /// The workflow file, as the record names it.
    pub workflow: String,
    /// The run's id.
    pub run_id: String,
    /// Milliseconds since the epoch.
    pub started_ms: i64,
    /// When it ended; `None` if the engine died.
    pub ended_ms: Option<i64>,
    /// `succeeded`, `failed`, `interrupted`, `died`, or `running`.
    pub outcome: String,
    /// Tasks selected.
    pub selected: i64,
    /// Final counts: succeeded, failed, skipped, up to date, cancelled.
    pub counts: [i64; 5],
    /// The engine that wrote the report.
    pub version: String,
    /// The command line of the run, masked (runs recorded before it was kept have none).
    pub command: Option<String>,
    /// The run it resumed.
    pub resumed_from: Option<String>,
    /// `-j` of the run (runs recorded before it was kept have none).
    pub jobs: Option<u64>,
    /// Whether the dependencies are known (the workflow file could be read).
    pub graph_known: bool,
    /// Why the workflow's side is missing or may be off, if it is.
    pub workflow_note: Option<String>,
    /// The tasks, in the workflow's order (else the record's).
    pub tasks: Vec<TaskReport>,
    /// The critical path: the chain of tasks, by dependency, that ended last, first first.
    pub critical_path: Vec<String>,
    /// How many attempts ran at once at most.
    pub peak: usize,
    /// Where the timeline ends: the run's end, else its last recorded moment.
    pub timeline_end_ms: i64,
}

/// One task of the run.
#[derive(Clone, Debug, Serialize)]
pub struct TaskReport {
    /// Its name.
    pub name: String,
    /// Its matrix task, for a matrix item.
    pub group: Option<String>,
    /// Its last attempt's outcome.
    pub outcome: Outcome,
    /// Its attempts, in order (one with number 0 for a task that did not run).
    pub attempts: Vec<AttemptReport>,
    /// The tasks it depends on, by index in `RunReport::tasks`.
    pub depends_on: Vec<usize>,
    /// Its depth in the graph: 0 without dependencies.
    pub depth: usize,
    /// On the critical path.
    pub critical: bool,
    /// `thread` or `process`.
    pub isolation: Option<&'static str>,
    /// `local` or `slurm`.
    pub executor: Option<&'static str>,
    /// Its command or script as written in the workflow, masked.
    pub command: Option<String>,
    /// The command or script that ran, templates filled in, masked (as the record has it:
    /// none for runs recorded before it was kept).
    pub ran_command: Option<String>,
    /// Why it ran (the `--explain` text), masked: its first attempt's reason.
    pub why: Option<String>,
    /// Its working directory, when it is not the workflow's.
    pub cwd: Option<String>,
    /// Its declared inputs.
    pub inputs: Vec<String>,
    /// Its declared outputs, and the files its success made with their digests.
    pub outputs: Vec<String>,
    /// Each file a success made, with its digest (hex).
    pub made: Vec<(String, String)>,
    /// Its results, `key = value`.
    pub results: Vec<String>,
    /// Its output.
    pub log: Option<LogExcerpt>,
}

/// One attempt.
#[derive(Clone, Debug, Serialize)]
pub struct AttemptReport {
    /// From 1; 0 when the task did not run.
    pub number: u32,
    /// How it ended.
    pub outcome: Outcome,
    /// Milliseconds since the epoch.
    pub started_ms: Option<i64>,
    /// Milliseconds since the epoch.
    pub ended_ms: Option<i64>,
    /// "exit code 2", "signal 9".
    pub exit: Option<String>,
    /// Why it failed or was skipped, masked.
    pub reason: Option<String>,
    /// Its cluster job's id (Slurm).
    pub job_id: Option<String>,
    /// How long its cluster job waited in the queue.
    pub queued_ms: Option<i64>,
}

/// What a task printed.
#[derive(Clone, Debug, Serialize)]
pub struct LogExcerpt {
    /// Where the full log is, as the record names it (relative to the state dir).
    pub path: String,
    /// Lines in all.
    pub lines: usize,
    /// Its size in bytes.
    pub bytes: usize,
    /// The last `TAIL_LINES` lines.
    pub tail: Vec<String>,
    /// The full log when it is small enough to embed (cut to `FULL_LOG_BYTES`, see `cut`).
    pub full: Option<String>,
    /// Whether `full` was cut short.
    pub cut: bool,
}

/// What the report is made from.
pub struct Sources<'a> {
    /// The run's row.
    pub run: &'a RunRow,
    /// Its attempts (any order).
    pub attempts: &'a [AttemptRow],
    /// The workflow as its file reads now, if it can be read.
    pub workflow: Option<&'a Workflow>,
    /// Why the workflow's side is missing or may be off.
    pub workflow_note: Option<String>,
    /// Files made by each task's success in this run, with their digests.
    pub made: &'a FxHashMap<String, Vec<(String, String)>>,
    /// A log by its recorded path (relative to the state dir); `None` when there is none.
    pub read_log: &'a dyn Fn(&str) -> Option<Vec<u8>>,
    /// The secrets' masker.
    pub masker: &'a Masker,
}

impl RunReport {
    /// Builds the report of one run.
    #[must_use]
    pub fn build(sources: &Sources<'_>) -> Self {
        let mask = |text: &str| sources.masker.mask(text).into_owned();
        let run = sources.run;
        let request: serde_json::Value = serde_json::from_str(&run.args).unwrap_or_default();
        let command = request["command"].as_array().map(|words| {
            let words: Vec<String> = words
                .iter()
                .filter_map(serde_json::Value::as_str)
                .map(quote)
                .collect();
            mask(&words.join(" "))
        });
        let mut tasks = tasks_of(sources);
        let mut budget = ALL_LOGS_BYTES;
        for task in &mut tasks {
            task.log = task.log.take().and_then(|log| {
                let bytes = (sources.read_log)(&log.path)?;
                Some(excerpt(log.path, &bytes, &mut budget, sources.masker))
            });
        }
        let graph_known = sources.workflow.is_some();
        depths(&mut tasks);
        let critical_path = critical_path(&mut tasks, graph_known);
        let outcome = match run.outcome() {
            Some(Ok(outcome)) => outcome.as_str().to_owned(),
            Some(Err(_)) => "unknown".to_owned(),
            None if run.ended_ms.is_none() => "died".to_owned(),
            None => "unknown".to_owned(),
        };
        let peak = concurrency(&tasks, run.ended_ms)
            .iter()
            .map(|&(_, count)| count)
            .max()
            .unwrap_or(0);
        let counts = run.counts;
        let last = tasks
            .iter()
            .flat_map(|task| &task.attempts)
            .filter_map(|attempt| attempt.ended_ms.or(attempt.started_ms))
            .max()
            .unwrap_or(run.started_ms);
        Self {
            timeline_end_ms: run.ended_ms.unwrap_or(last).max(last).max(run.started_ms),
            workflow: mask(&run.workflow),
            run_id: run.id.clone(),
            started_ms: run.started_ms,
            ended_ms: run.ended_ms,
            outcome,
            selected: run.tasks,
            counts: [
                counts.succeeded,
                counts.failed,
                counts.skipped,
                counts.up_to_date,
                counts.cancelled,
            ],
            version: env!("CARGO_PKG_VERSION").to_owned(),
            command,
            resumed_from: run.resumed_from.clone(),
            jobs: request["jobs"].as_u64(),
            graph_known,
            workflow_note: sources.workflow_note.clone(),
            critical_path: critical_path
                .iter()
                .map(|&index| tasks[index].name.clone())
                .collect(),
            tasks,
            peak,
        }
    }

    /// The moment the timeline ends: the run's end, else its last recorded moment.
    #[must_use]
    pub fn end_ms(&self) -> i64 {
        self.timeline_end_ms
    }

    /// How many attempts ran at once, as steps: (moment, count from then on).
    #[must_use]
    pub fn concurrency(&self) -> Vec<(i64, usize)> {
        concurrency(&self.tasks, Some(self.end_ms()))
    }
}

/// The tasks: one per task name in the record, in the workflow's order when it is known.
fn tasks_of(sources: &Sources<'_>) -> Vec<TaskReport> {
    let mask = |text: &str| sources.masker.mask(text).into_owned();
    let mut by_name: FxHashMap<&str, Vec<&AttemptRow>> = FxHashMap::default();
    let mut order: Vec<&str> = Vec::new();
    for row in sources.attempts {
        by_name
            .entry(row.task.as_str())
            .or_insert_with(|| {
                order.push(row.task.as_str());
                Vec::new()
            })
            .push(row);
    }
    // The workflow's tasks by name (`Workflow::find` looks through them all).
    let specs: FxHashMap<&str, &crate::model::Task> = sources
        .workflow
        .map(|workflow| {
            workflow
                .tasks
                .iter()
                .map(|task| (task.name.as_str(), task))
                .collect()
        })
        .unwrap_or_default();
    if sources.workflow.is_some() {
        // The workflow's order; tasks it no longer has keep the record's order, after.
        order.sort_by_key(|name| specs.get(name).map_or(usize::MAX, |task| task.id.index()));
    }
    let workflow_dir = sources.workflow.and_then(|workflow| workflow.path.parent());
    let index: FxHashMap<&str, usize> = order.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    order
        .iter()
        .map(|&name| {
            let mut rows = by_name.remove(name).unwrap_or_default();
            rows.sort_by_key(|row| row.attempt);
            let spec = specs.get(name).copied();
            let attempts: Vec<AttemptReport> = rows
                .iter()
                .map(|row| AttemptReport {
                    number: row.attempt,
                    outcome: Outcome::of(&row.status),
                    started_ms: row.started_ms,
                    ended_ms: row.ended_ms,
                    exit: match (row.exit_code, row.signal) {
                        (_, Some(signal)) => Some(format!("signal {signal}")),
                        (Some(code), None) if row.attempt > 0 => Some(format!("exit code {code}")),
                        _ => None,
                    },
                    reason: row.reason.as_deref().map(mask),
                    job_id: row.job_id.as_deref().map(mask),
                    queued_ms: row.queued_ms,
                })
                .collect();
            let last = rows.last();
            let results = last
                .and_then(|row| row.results.as_deref())
                .and_then(|json| {
                    serde_json::from_str::<Vec<(String, serde_json::Value)>>(json).ok()
                })
                .unwrap_or_default()
                .into_iter()
                .map(|(key, value)| mask(&format!("{key} = {value}")))
                .collect();
            let log = rows.iter().rev().find_map(|row| row.log.clone());
            let why = rows.iter().find_map(|row| row.why.as_deref()).map(mask);
            let ran_command = rows
                .iter()
                .rev()
                .find_map(|row| row.command.as_deref())
                .map(mask);
            let group = spec
                .and_then(|task| task.group.as_deref().map(str::to_owned))
                .or_else(|| {
                    name.find('[')
                        .filter(|_| name.ends_with(']'))
                        .map(|at| name[..at].to_owned())
                });
            TaskReport {
                name: mask(name),
                group: group.map(|group| mask(&group)),
                outcome: attempts.last().map_or(Outcome::Unknown, |a| a.outcome),
                attempts,
                depends_on: spec.map_or_else(Vec::new, |task| {
                    let workflow = sources.workflow.expect("a task spec comes from a workflow");
                    task.depends_on
                        .iter()
                        .filter_map(|dep| index.get(workflow.task(*dep).name.as_str()).copied())
                        .collect()
                }),
                depth: 0,
                critical: false,
                isolation: spec.map(|task| task.isolation.as_str()),
                executor: spec.map(|task| match task.executor {
                    crate::model::ExecutorKind::Local => "local",
                    crate::model::ExecutorKind::Slurm => "slurm",
                }),
                command: spec.and_then(|task| match &task.command {
                    Command::None => None,
                    Command::Shell { run, .. } => Some(mask(run)),
                    Command::Script { source, .. } => Some(mask(source)),
                }),
                ran_command,
                why,
                // The workflow's directory, where tasks run unless they say otherwise, is
                // not repeated for every task.
                cwd: spec
                    .filter(|task| Some(task.cwd.as_path()) != workflow_dir)
                    .map(|task| mask(&shown_path(&task.cwd))),
                inputs: spec
                    .and_then(|task| task.files.as_ref())
                    .map(|files| files.inputs.iter().map(|p| mask(p)).collect())
                    .unwrap_or_default(),
                outputs: spec
                    .and_then(|task| task.files.as_ref())
                    .map(|files| files.outputs.iter().map(|p| mask(p)).collect())
                    .unwrap_or_default(),
                made: sources
                    .made
                    .get(name)
                    .map(|files| files.iter().map(|(p, d)| (mask(p), d.clone())).collect())
                    .unwrap_or_default(),
                results,
                log: log.map(|path| LogExcerpt {
                    path,
                    lines: 0,
                    bytes: 0,
                    tail: Vec::new(),
                    full: None,
                    cut: false,
                }),
            }
        })
        .collect()
}

/// A word of a command line as a shell reads it: as is when it holds nothing special, else
/// in single quotes.
fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%^".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// A path as shown: `.` for the empty path.
fn shown_path(path: &Path) -> String {
    if path.as_os_str().is_empty() {
        ".".to_owned()
    } else {
        path.to_string_lossy().into_owned()
    }
}

/// The excerpt of a log: its tail, and the whole of it while `budget` lasts.
fn excerpt(path: String, bytes: &[u8], budget: &mut usize, masker: &Masker) -> LogExcerpt {
    let text = String::from_utf8_lossy(bytes);
    let text = masker.mask(&text);
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(TAIL_LINES)..]
        .iter()
        .map(|line| {
            if line.chars().count() > LINE_CHARS {
                let cut: String = line.chars().take(LINE_CHARS).collect();
                format!("{cut}… (line cut)")
            } else {
                (*line).to_owned()
            }
        })
        .collect();
    let (full, cut) = if lines.len() <= TAIL_LINES || *budget == 0 {
        (None, false)
    } else {
        let take = text.len().min(FULL_LOG_BYTES).min(*budget);
        let mut end = take;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        *budget -= end;
        (Some(text[..end].to_owned()), end < text.len())
    };
    LogExcerpt {
        path,
        lines: lines.len(),
        bytes: bytes.len(),
        tail,
        full,
        cut,
    }
}

/// Each task's depth: 0 without dependencies, else one more than its deepest dependency.
/// Iterative, so a chain of 10,000 tasks needs no deep stack; a cycle (which a workflow
/// cannot have) is cut.
fn depths(tasks: &mut [TaskReport]) {
    const UNSET: usize = usize::MAX;
    let mut depth = vec![UNSET; tasks.len()];
    let mut visiting = vec![false; tasks.len()];
    for root in 0..tasks.len() {
        let mut stack = vec![(root, 0usize)];
        while let Some(&mut (task, ref mut next)) = stack.last_mut() {
            if depth[task] != UNSET {
                stack.pop();
                continue;
            }
            visiting[task] = true;
            if let Some(&dep) = tasks[task].depends_on.get(*next) {
                *next += 1;
                if depth[dep] == UNSET && !visiting[dep] {
                    stack.push((dep, 0));
                }
                continue;
            }
            depth[task] = tasks[task]
                .depends_on
                .iter()
                .filter(|&&dep| depth[dep] != UNSET)
                .map(|&dep| depth[dep] + 1)
                .max()
                .unwrap_or(0);
            visiting[task] = false;
            stack.pop();
        }
    }
    for (task, depth) in tasks.iter_mut().zip(depth) {
        task.depth = depth;
    }
}

/// When a task's last attempt ended (or, not run, when it was decided).
fn end_of(task: &TaskReport) -> Option<i64> {
    task.attempts
        .last()
        .and_then(|attempt| attempt.ended_ms.or(attempt.started_ms))
}

/// The critical path: from the task that ended last, back through the dependency that ended
/// last at each step, as long as tasks ran. Empty when the dependencies are unknown.
fn critical_path(tasks: &mut [TaskReport], graph_known: bool) -> Vec<usize> {
    if !graph_known {
        return Vec::new();
    }
    let ran = |task: &TaskReport| task.outcome.ran();
    let mut at = tasks
        .iter()
        .enumerate()
        .filter(|(_, task)| ran(task))
        .filter_map(|(i, task)| end_of(task).map(|end| (end, i)))
        .max()
        .map(|(_, i)| i);
    let mut path = Vec::new();
    while let Some(task) = at {
        if path.contains(&task) {
            break;
        }
        path.push(task);
        tasks[task].critical = true;
        at = tasks[task]
            .depends_on
            .iter()
            .filter(|&&dep| ran(&tasks[dep]))
            .filter_map(|&dep| end_of(&tasks[dep]).map(|end| (end, dep)))
            .max()
            .map(|(_, dep)| dep);
    }
    path.reverse();
    path
}

/// Attempts running at once, as steps; an attempt without an end runs until `until`.
fn concurrency(tasks: &[TaskReport], until: Option<i64>) -> Vec<(i64, usize)> {
    let mut changes: Vec<(i64, i32)> = Vec::new();
    for attempt in tasks.iter().flat_map(|task| &task.attempts) {
        if attempt.number == 0 {
            continue;
        }
        let (Some(start), Some(end)) = (attempt.started_ms, attempt.ended_ms.or(until)) else {
            continue;
        };
        changes.push((start, 1));
        changes.push((end.max(start), -1));
    }
    // Ends before starts at the same moment: a slot handed on is not two at once.
    changes.sort_unstable();
    let mut steps: Vec<(i64, usize)> = Vec::new();
    let mut count: i32 = 0;
    for (at, change) in changes {
        count += change;
        let now = usize::try_from(count.max(0)).unwrap_or(0);
        match steps.last_mut() {
            Some(last) if last.0 == at => last.1 = now,
            _ => steps.push((at, now)),
        }
    }
    steps
}

#[cfg(test)]
mod tests;
