//! Live progress bars: an overall bar, one line per running task (spinner, name, isolation,
//! elapsed time, latest output line) and join lines for tasks that wait on some of their
//! dependencies. Events only update a shared view; a ticker thread draws it ten times a
//! second, so the cost of drawing does not grow with the task rate.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use console::style;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::format_duration;
use crate::events::{Event, TaskStatus};
use crate::model::{TaskId, Workflow};
use crate::plan::Graph;

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const MAX_RUNNING_LINES: usize = 16;
const MAX_JOIN_LINES: usize = 6;
/// Successful tasks printed at most per tick (ten ticks a second); failures always are.
const MAX_OK_LINES_PER_TICK: usize = 8;

/// A running task's line: when the attempt started, the last line it printed, and
/// `(attempt, attempts)` when it may be retried.
type RunningLine = (Instant, String, Option<(u32, u32)>);

/// What the ticker draws.
struct View {
    workflow: Arc<Workflow>,
    /// Running tasks by start order: started, latest output line.
    /// Running tasks: when the attempt started, the last line printed, and the attempt
    /// (`attempt 2/3`) when the task may be retried.
    running: BTreeMap<TaskId, RunningLine>,
    /// The cluster job of running tasks that have one: `slurm 12 PENDING (Resources)`.
    jobs: BTreeMap<TaskId, String>,
    /// Tasks with some but not all dependencies done.
    joins: BTreeSet<TaskId>,
    /// Whether each task finished successfully (for "waiting on").
    done: Vec<bool>,
    /// Lines to print above the bars at the next tick.
    finished_lines: Vec<String>,
    /// `ok` lines queued since the last tick.
    ok_lines: usize,
    /// `ok` lines not printed since the last tick: above `MAX_OK_LINES_PER_TICK` they are
    /// counted, not printed, so the terminal's work does not grow with the task rate.
    unprinted_ok: u64,
    finished: u64,
    /// Tasks that reached a final state (finished or skipped), by task index.
    settled: Vec<bool>,
    /// The tasks of the run.
    tasks: Vec<TaskId>,
    /// How long each task took in its last success (from the run record), in milliseconds.
    expected: Vec<Option<u64>>,
    /// Tasks that run at once, for the ETA.
    slots: u64,
    /// The expected milliseconds of the longest path of tasks that starts at each task.
    path: Vec<u64>,
    /// When the run started.
    started: Instant,
}

/// The bars of one run.
pub struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    view: Arc<Mutex<View>>,
    stop: Arc<AtomicBool>,
    ticker: Option<JoinHandle<()>>,
    graph_dependents: Vec<Vec<TaskId>>,
    /// Dependencies done, per task.
    deps_done: Vec<u32>,
    /// The tasks in a dependency-respecting order.
    order: Vec<TaskId>,
}

impl Bars {
    /// Bars on stderr for a run of `graph`.
    #[must_use]
    pub fn new(workflow: Arc<Workflow>, graph: &Graph) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(20));
        let overall = multi.add(ProgressBar::new(graph.len() as u64));
        overall.set_style(
            ProgressStyle::with_template(
                "{prefix:.bold} [{elapsed_precise}] {bar:30.cyan/blue} {pos}/{len} tasks{msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("█▉▊▋▌▍▎▏ "),
        );
        overall.set_prefix(workflow.name.clone());
        let status = multi.add(ProgressBar::new(0));
        status.set_style(
            ProgressStyle::with_template("{msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        let mut dependents = vec![Vec::new(); workflow.tasks.len()];
        for &task in graph.tasks() {
            dependents[task.index()] = graph.dependents(task).collect();
        }
        let workflow_len = workflow.tasks.len();
        let view = Arc::new(Mutex::new(View {
            done: vec![false; workflow.tasks.len()],
            workflow,
            running: BTreeMap::new(),
            jobs: BTreeMap::new(),
            joins: BTreeSet::new(),
            finished_lines: Vec::new(),
            ok_lines: 0,
            unprinted_ok: 0,
            finished: 0,
            settled: vec![false; workflow_len],
            tasks: graph.tasks().to_vec(),
            expected: Vec::new(),
            slots: 1,
            path: Vec::new(),
            started: Instant::now(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        // Nothing is drawn where stderr is no terminal: no ticker then.
        let ticker = if multi.is_hidden() {
            None
        } else {
            let (view, stop, multi, overall) = (
                Arc::clone(&view),
                Arc::clone(&stop),
                multi.clone(),
                overall.clone(),
            );
            std::thread::Builder::new()
                .name("engine-progress".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        draw(&view, &multi, &overall, &status);
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    draw(&view, &multi, &overall, &status);
                    status.finish_and_clear();
                })
                .ok()
        };
        let deps_done = vec![0; dependents.len()];
        Self {
            multi,
            overall,
            view,
            stop,
            ticker,
            graph_dependents: dependents,
            deps_done,
            order: graph.topological().collect(),
        }
    }

    /// Runs `write` with the bars cleared, so that printed lines never tear. Finished-task
    /// lines still waiting for the next tick are printed first, to keep the order of events.
    pub fn suspend(&self, write: impl FnOnce()) {
        flush_finished_lines(&mut lock(&self.view), &self.multi);
        self.multi.suspend(write);
    }

    /// Records a task's latest output line.
    pub fn output(&mut self, task: TaskId, line: &str) {
        let mut view = lock(&self.view);
        if let Some((_, last, _)) = view.running.get_mut(&task) {
            line.trim_end().clone_into(last);
        }
    }

    /// Updates the view for `event`.
    /// Sets what the ETA counts on: each task's duration in its last success (milliseconds,
    /// by task index) and how many run at once.
    pub fn expect(&mut self, durations: Vec<Option<u64>>, slots: usize) {
        let mut view = lock(&self.view);
        let known: Vec<u64> = durations.iter().filter_map(|d| *d).collect();
        let average = known.iter().sum::<u64>() / (known.len() as u64).max(1);
        let mut path = vec![0u64; durations.len()];
        for &task in self.order.iter().rev() {
            let own = durations
                .get(task.index())
                .copied()
                .flatten()
                .unwrap_or(average);
            let rest = self.graph_dependents[task.index()]
                .iter()
                .map(|next| path[next.index()])
                .max()
                .unwrap_or(0);
            path[task.index()] = own + rest;
        }
        view.path = path;
        view.expected = durations;
        view.slots = slots as u64;
    }

    pub fn event(&mut self, event: &Event) {
        let mut view = lock(&self.view);
        match event {
            Event::TaskStarted {
                task,
                attempt,
                attempts,
                ..
            } => {
                view.joins.remove(task);
                let tries = (*attempts > 1).then_some((*attempt, *attempts));
                view.running
                    .insert(*task, (Instant::now(), String::new(), tries));
            }
            Event::TaskRetrying {
                task,
                attempt,
                attempts,
                status,
                delay,
                ..
            } => {
                view.running.remove(task);
                let name = &view.workflow.task(*task).name;
                let why = super::summary::failure_reason(status).unwrap_or_default();
                let line = format!(
                    "  {}   {name}  attempt {attempt}/{attempts} {why}; next in {}",
                    style("retry").yellow().for_stderr(),
                    format_duration(*delay)
                );
                view.finished_lines.push(line);
            }
            Event::TaskJob {
                task,
                job_id,
                state,
            } => {
                view.jobs.insert(*task, format!("slurm {job_id} {state}"));
            }
            Event::TaskFinished {
                task,
                status,
                duration,
                allowed,
                ..
            } => {
                view.running.remove(task);
                view.jobs.remove(task);
                view.finished += 1;
                let name = &view.workflow.task(*task).name;
                let took = format_duration(*duration);
                // Colored only when stderr takes colors (a terminal, no NO_COLOR).
                let line = match status {
                    TaskStatus::Succeeded => {
                        format!("  {}      {name}  {took}", style("ok").green().for_stderr())
                    }
                    TaskStatus::Failed { message, .. } if *allowed => {
                        format!(
                            "  {}  {name}  {took}  {message} (allowed to fail)",
                            style("failed").yellow().for_stderr()
                        )
                    }
                    TaskStatus::Failed { message, .. } => {
                        format!(
                            "  {}  {name}  {took}  {message}",
                            style("FAILED").red().bold().for_stderr()
                        )
                    }
                    TaskStatus::TimedOut { .. } => {
                        format!(
                            "  {} {name}  {took}",
                            style("TIMEOUT").red().bold().for_stderr()
                        )
                    }
                    TaskStatus::Interrupted => {
                        format!(
                            "  {} {name}  {took}",
                            style("INTERRUPTED").yellow().for_stderr()
                        )
                    }
                };
                // Join points finish instantly; their line adds nothing.
                let join_point = matches!(
                    view.workflow.task(*task).command,
                    crate::model::Command::None
                );
                if !status.is_success() {
                    view.finished_lines.push(line);
                } else if !join_point {
                    if view.ok_lines < MAX_OK_LINES_PER_TICK {
                        view.ok_lines += 1;
                        view.finished_lines.push(line);
                    } else {
                        view.unprinted_ok += 1;
                    }
                }
                view.settled[task.index()] = true;
                if status.is_success() || *allowed {
                    mark_done(
                        &mut view,
                        &self.graph_dependents,
                        &mut self.deps_done,
                        *task,
                    );
                }
            }
            Event::TaskSkipped { task, reason } => {
                view.settled[task.index()] = true;
                if reason.satisfies_dependents() {
                    mark_done(
                        &mut view,
                        &self.graph_dependents,
                        &mut self.deps_done,
                        *task,
                    );
                }
                view.joins.remove(task);
                // A queued cluster job withdrawn after a failure started, then was skipped.
                view.running.remove(task);
                view.jobs.remove(task);
                view.finished += 1;
            }
            Event::Warning { message } => view.finished_lines.push(format!("  warning: {message}")),
            Event::OutputsSetAside {
                task,
                attempt,
                to,
                moved,
                left,
            } => {
                let name = &view.workflow.task(*task).name;
                let line = super::set_aside_line(name, *attempt, to, moved, left);
                view.finished_lines.push(format!("  {line}"));
            }
            Event::Interrupting { forced } => view.finished_lines.push(if *forced {
                "  interrupted again: killing running tasks".to_owned()
            } else {
                "  interrupted: stopping running tasks (Ctrl-C again to kill them now)".to_owned()
            }),
            _ => {}
        }
    }

    /// A placeholder expanded into the tasks of `workflow` from `first` on: they count in
    /// the totals, and the placeholder waits for them.
    pub fn grow(&mut self, workflow: Arc<Workflow>, task: TaskId, first: TaskId) {
        let count = workflow.tasks.len();
        let items: Vec<TaskId> = (first.0..)
            .map(TaskId)
            .take(count - first.index())
            .collect();
        let mut view = lock(&self.view);
        // The items' dependencies are all final: that is when a placeholder expands.
        let deps = items
            .first()
            .map_or(0, |item| workflow.task(*item).depends_on.len());
        self.graph_dependents.resize(count, vec![task]);
        self.deps_done
            .resize(count, u32::try_from(deps).unwrap_or(u32::MAX));
        self.deps_done[task.index()] = 0;
        view.done.resize(count, false);
        view.settled.resize(count, false);
        view.tasks.extend(&items);
        view.joins.remove(&task);
        let noun = if items.len() == 1 { "item" } else { "items" };
        let line = format!(
            "  {}  {} into {} {noun}",
            style("expand").cyan().for_stderr(),
            workflow.task(task).name,
            items.len()
        );
        view.finished_lines.push(line);
        view.workflow = workflow;
        self.overall.set_length(view.tasks.len() as u64);
    }

    /// Stops the ticker and clears the bars; the summary that follows says how it ended.
    pub fn finish(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(ticker) = self.ticker.take() {
            let _ = ticker.join();
        }
        self.overall.finish_and_clear();
        let _ = self.multi.clear();
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        self.finish();
    }
}

fn lock(view: &Mutex<View>) -> std::sync::MutexGuard<'_, View> {
    view.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Prints the finished-task lines gathered since the last tick above the bars.
fn flush_finished_lines(view: &mut View, multi: &MultiProgress) {
    if let Some(lines) = take_finished_lines(view) {
        let _ = multi.println(lines);
    }
}

/// The finished-task lines gathered since the last tick, with a count of the successful ones
/// left out; `None` when there are none.
fn take_finished_lines(view: &mut View) -> Option<String> {
    if view.unprinted_ok > 0 {
        let more = std::mem::take(&mut view.unprinted_ok);
        let line = format!(
            "  {}      … and {more} more",
            style("ok").green().for_stderr()
        );
        view.finished_lines.push(line);
    }
    view.ok_lines = 0;
    if view.finished_lines.is_empty() {
        return None;
    }
    Some(std::mem::take(&mut view.finished_lines).join("\n"))
}

/// A task is done (or skipped by a decision): its dependents wait on one task fewer.
fn mark_done(view: &mut View, dependents: &[Vec<TaskId>], deps_done: &mut [u32], task: TaskId) {
    view.done[task.index()] = true;
    for &next in &dependents[task.index()] {
        deps_done[next.index()] += 1;
        let total = view.workflow.task(next).depends_on.len();
        if (deps_done[next.index()] as usize) < total {
            view.joins.insert(next);
        } else {
            view.joins.remove(&next);
        }
    }
}

/// The estimated time left: the expected durations of the tasks not yet done (from the run
/// record; the average for a task never timed), less what the running ones have run, shared
/// by the slots. Without any history, the pace so far.
fn eta(view: &View, now: Instant) -> Option<Duration> {
    let total = view.tasks.len() as u64;
    let left = total.saturating_sub(view.finished);
    if left == 0 {
        return Some(Duration::ZERO);
    }
    let known: Vec<u64> = view.expected.iter().filter_map(|d| *d).collect();
    if known.is_empty() {
        if view.finished == 0 {
            return None;
        }
        let per_task = now.duration_since(view.started) / u32::try_from(view.finished).ok()?;
        return Some(per_task * u32::try_from(left).ok()?);
    }
    let average = known.iter().sum::<u64>() / known.len() as u64;
    let mut work: u64 = 0;
    let mut critical: u64 = 0;
    for &task in &view.tasks {
        if view.settled[task.index()] {
            continue;
        }
        let expected = view
            .expected
            .get(task.index())
            .copied()
            .flatten()
            .unwrap_or(average);
        let ran = view.running.get(&task).map_or(0, |(started, _, _)| {
            u64::try_from(now.duration_since(*started).as_millis()).unwrap_or(u64::MAX)
        });
        work += expected.saturating_sub(ran);
        let path = view.path.get(task.index()).copied().unwrap_or(expected);
        critical = critical.max(path.saturating_sub(ran));
    }
    // As long as the longest chain left, and as long as the work left shared by the slots.
    Some(Duration::from_millis(
        critical.max(work / view.slots.max(1)),
    ))
}

/// Draws the view: printed lines above, then the overall bar, running tasks and joins.
fn draw(view: &Mutex<View>, multi: &MultiProgress, overall: &ProgressBar, status: &ProgressBar) {
    let mut view = lock(view);
    let width = console::Term::stderr().size().1.max(40) as usize;
    flush_finished_lines(&mut view, multi);
    overall.set_position(view.finished);
    let now = Instant::now();
    overall.set_message(match eta(&view, now) {
        Some(left) => format!(
            " · ETA {}",
            crate::report::format_duration(Duration::from_secs(left.as_secs()))
        ),
        None => String::new(),
    });
    let mut lines = Vec::new();
    for (index, (&task, (started, last, tries))) in view.running.iter().enumerate() {
        if index == MAX_RUNNING_LINES {
            lines.push(format!(
                "  … and {} more running",
                view.running.len() - MAX_RUNNING_LINES
            ));
            break;
        }
        let spec = view.workflow.task(task);
        let elapsed = now.duration_since(*started);
        let frame =
            SPINNER[usize::try_from(elapsed.as_millis() / 100).unwrap_or(0) % SPINNER.len()];
        // A cluster job shows where it is instead of the isolation, which is `process`.
        let place = view
            .jobs
            .get(&task)
            .map_or_else(|| spec.isolation.to_string(), Clone::clone);
        let mut line = format!(
            "{frame} {}  {place}  {}",
            spec.name,
            format_duration(elapsed)
        );
        if let Some((attempt, attempts)) = tries {
            line.push_str(&format!("  attempt {attempt}/{attempts}"));
        }
        if !last.is_empty() {
            line.push_str("  │ ");
            line.push_str(last);
        }
        lines.push(console::truncate_str(&line, width, "…").into_owned());
    }
    for (index, &task) in view.joins.iter().enumerate() {
        if index == MAX_JOIN_LINES {
            lines.push(format!(
                "  … and {} more joins waiting",
                view.joins.len() - MAX_JOIN_LINES
            ));
            break;
        }
        let spec = view.workflow.task(task);
        let waiting: Vec<&str> = spec
            .depends_on
            .iter()
            .filter(|dep| !view.done[dep.index()])
            .map(|dep| view.workflow.task(*dep).name.as_str())
            .collect();
        let done = spec.depends_on.len() - waiting.len();
        let line = format!(
            "  join  {}  {done}/{}  waiting on {}",
            spec.name,
            spec.depends_on.len(),
            waiting.join(", ")
        );
        lines.push(console::truncate_str(&line, width, "…").into_owned());
    }
    status.set_message(lines.join("\n"));
    overall.tick();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Command, Isolation, Task};

    fn workflow(tasks: usize) -> Workflow {
        let tasks = (0..tasks)
            .map(|index| {
                let command = Command::Shell {
                    run: "true".into(),
                    shell: "sh".into(),
                };
                let id = TaskId(u32::try_from(index).expect("small"));
                Task::for_tests(
                    id,
                    format!("t{index}"),
                    Isolation::Process,
                    command,
                    Vec::new(),
                )
            })
            .collect();
        Workflow::for_tests("bars.yaml", "bars", tasks)
    }

    #[test]
    fn ok_lines_per_tick_are_capped_and_counted_but_failures_always_shown() {
        let workflow = Arc::new(workflow(30));
        let graph = Graph::build(&workflow, &[]).expect("graph");
        let mut bars = Bars::new(Arc::clone(&workflow), &graph);
        for index in 0..30 {
            let task = TaskId(index);
            bars.event(&Event::TaskStarted {
                task,
                pid: None,
                attempt: 1,
                attempts: 1,
            });
            let status = if index == 20 {
                TaskStatus::Failed {
                    exit_code: Some(1),
                    signal: None,
                    message: "exit code 1".into(),
                }
            } else {
                TaskStatus::Succeeded
            };
            bars.event(&Event::TaskFinished {
                task,
                status,
                duration: Duration::from_millis(1),
                attempt: 1,
                allowed: false,
                results: Vec::new(),
            });
        }
        let text = take_finished_lines(&mut lock(&bars.view)).expect("lines");
        let text = console::strip_ansi_codes(&text);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), MAX_OK_LINES_PER_TICK + 2, "{text}");
        assert!(lines[0].contains("t0 "));
        assert!(
            lines
                .iter()
                .any(|line| line.contains("FAILED") && line.contains("t20"))
        );
        let left_out = 29 - MAX_OK_LINES_PER_TICK;
        assert!(lines[lines.len() - 1].ends_with(&format!("… and {left_out} more")));
        // The next tick starts a new allowance.
        assert!(take_finished_lines(&mut lock(&bars.view)).is_none());
        bars.event(&Event::TaskFinished {
            task: TaskId(0),
            status: TaskStatus::Succeeded,
            duration: Duration::ZERO,
            attempt: 1,
            allowed: false,
            results: Vec::new(),
        });
        assert!(take_finished_lines(&mut lock(&bars.view)).is_some());
    }
}
