//! Live progress bars: an overall bar, one line per running task (spinner, name, isolation,
//! elapsed time, latest output line) and a line for each task that waits on some of its
//! dependencies. Events only update a shared view; the bar draws it whole (`frame`), so the
//! counter and the task lines of a frame always come from one snapshot, and a redraw after
//! printed output shows each task's latest line. A ticker thread prints finished tasks and
//! redraws ten times a second, so the cost of drawing does not grow with the task rate: the
//! thread that sends events only updates the view (a few counters and maps, a line formatted
//! only when it will be printed) and never writes to the terminal, except around task output
//! that goes to the same terminal (`suspend`). Finishing wakes the ticker at once: the end of
//! a run never waits for its next tick.
//!
//! Lock order: never call indicatif while holding the view: the bar's drawing locks it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal as _;
use std::sync::mpsc::{RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use console::style;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::format_duration;
use crate::events::{Event, SkipReason, TaskStatus};
use crate::model::{ItemCounts, TaskId, Workflow};
use crate::plan::Graph;

/// Successful tasks printed at most per tick (ten ticks a second); failures always are.
const MAX_OK_LINES_PER_TICK: usize = 8;
/// The time between two frames.
const TICK: Duration = Duration::from_millis(100);
/// The widest the name column grows; longer names are cut with an ellipsis.
pub(super) const MAX_NAME_WIDTH: usize = 32;

/// A running task's line: when the attempt started, the last line it printed, and
/// `(attempt, attempts)` when it may be retried.
pub(super) type RunningLine = (Instant, String, Option<(u32, u32)>);

/// What a frame shows: everything events tell the bars.
pub(super) struct View {
    pub(super) workflow: Arc<Workflow>,
    /// How many items each matrix task has, for the waiting lines.
    pub(super) counts: ItemCounts,
    /// Running tasks: when the attempt started, the last line printed, and the attempt
    /// (`attempt 2/3`) when the task may be retried.
    pub(super) running: BTreeMap<TaskId, RunningLine>,
    /// The cluster job of running tasks that have one: `slurm 12 PENDING (Resources)`.
    pub(super) jobs: BTreeMap<TaskId, String>,
    /// Tasks with some but not all dependencies done.
    pub(super) joins: BTreeSet<TaskId>,
    /// Whether each task finished successfully (for "waits on").
    pub(super) done: Vec<bool>,
    /// Lines to print above the bars at the next tick.
    finished_lines: Vec<String>,
    /// `ok` lines queued since the last tick.
    ok_lines: usize,
    /// `ok` lines not printed since the last tick: above `MAX_OK_LINES_PER_TICK` they are
    /// counted, not printed, so the terminal's work does not grow with the task rate.
    unprinted_ok: u64,
    /// Tasks that reached a final state (finished or skipped).
    pub(super) finished: u64,
    /// Tasks that reached a final state, by task index.
    pub(super) settled: Vec<bool>,
    /// Join points (no command), by task index: kept apart from the tasks so that the ETA,
    /// which reads it for every task at every frame, stays within a few cache lines.
    join_points: Vec<bool>,
    /// The tasks of the run.
    pub(super) tasks: Vec<TaskId>,
    /// How long each task took in its last success (from the run record), in milliseconds.
    pub(super) expected: Vec<Option<u64>>,
    /// The mean of `expected` where known, `None` when the record knows no task.
    pub(super) expected_mean: Option<u64>,
    /// Tasks that run at once, for the ETA.
    pub(super) slots: u64,
    /// The expected milliseconds of the longest path of tasks that starts at each task.
    pub(super) path: Vec<u64>,
    /// The tasks with a command on the longest path that starts at each task.
    pub(super) chain: Vec<u64>,
    /// What the tasks with a command that finished in this run took: milliseconds, count.
    pub(super) took: (u64, u64),
    /// When the run started.
    pub(super) started: Instant,
    /// The width of the name column: the widest name shown so far, at most
    /// `MAX_NAME_WIDTH`. It never shrinks, so columns do not jump between frames.
    pub(super) name_width: usize,
    /// Print a line for every task, up to date ones too, and name every item.
    pub(super) verbose: bool,
}

impl View {
    /// Whether `task` is a join point: no command, it only waits.
    pub(super) fn is_join_point(&self, task: TaskId) -> bool {
        self.join_points.get(task.index()).copied().unwrap_or(false)
    }

    /// `name` padded to the name column (cut with an ellipsis past `MAX_NAME_WIDTH`); the
    /// column widens to fit it.
    pub(super) fn column(&mut self, name: &str) -> String {
        let width = console::measure_text_width(name).min(MAX_NAME_WIDTH);
        self.name_width = self.name_width.max(width);
        let name = console::truncate_str(name, MAX_NAME_WIDTH, "…");
        console::pad_str(&name, self.name_width, console::Alignment::Left, None).into_owned()
    }
}

/// The bars of one run.
pub struct Bars {
    /// The one bar: the whole frame. One bar, not a `MultiProgress`: its redraw after printed
    /// output renders the view again, where a `MultiProgress` would repeat its last lines.
    overall: ProgressBar,
    view: Arc<Mutex<View>>,
    /// Held while finished lines are taken and printed, so that two threads never print
    /// them out of order.
    printing: Arc<Mutex<()>>,
    /// Dropped to stop the ticker, which wakes at once.
    stop: Option<Sender<()>>,
    ticker: Option<JoinHandle<()>>,
    /// Whether stdout is a terminal: only then can task output tear the bars.
    stdout_terminal: bool,
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
        let mut dependents = vec![Vec::new(); workflow.tasks.len()];
        for &task in graph.tasks() {
            dependents[task.index()] = graph.dependents(task).collect();
        }
        let order: Vec<TaskId> = graph.topological().collect();
        let workflow_len = workflow.tasks.len();
        let join_points = join_points(&workflow);
        let mut chain = vec![0u64; workflow_len];
        for &task in order.iter().rev() {
            let own = u64::from(!join_points[task.index()]);
            let rest = dependents[task.index()]
                .iter()
                .map(|next: &TaskId| chain[next.index()])
                .max()
                .unwrap_or(0);
            chain[task.index()] = own + rest;
        }
        let view = Arc::new(Mutex::new(View {
            done: vec![false; workflow_len],
            counts: ItemCounts::of(&workflow),
            workflow,
            running: BTreeMap::new(),
            jobs: BTreeMap::new(),
            joins: BTreeSet::new(),
            finished_lines: Vec::new(),
            ok_lines: 0,
            unprinted_ok: 0,
            finished: 0,
            settled: vec![false; workflow_len],
            join_points,
            tasks: graph.tasks().to_vec(),
            expected: Vec::new(),
            expected_mean: None,
            slots: 1,
            path: Vec::new(),
            chain,
            took: (0, 0),
            started: Instant::now(),
            name_width: 0,
            verbose: false,
        }));
        // The bar is the whole frame, drawn from the view each time indicatif draws.
        let frame_view = Arc::clone(&view);
        let frame = move |_: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
            let width = console::Term::stderr().size().1.max(40) as usize;
            let text = super::frame::frame(&mut lock(&frame_view), Instant::now(), width);
            let _ = out.write_str(&text);
        };
        let overall =
            ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(20));
        overall.set_style(
            ProgressStyle::with_template("{frame}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .with_key("frame", frame),
        );
        let printing = Arc::new(Mutex::new(()));
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        // Nothing is drawn where stderr is no terminal: no ticker then.
        let ticker = if overall.is_hidden() {
            None
        } else {
            let (view, printing, overall) =
                (Arc::clone(&view), Arc::clone(&printing), overall.clone());
            std::thread::Builder::new()
                .name("engine-progress".into())
                .spawn(move || {
                    loop {
                        // Printed lines redraw the bars below them: one frame a tick.
                        if !flush_finished_lines(&view, &printing, &overall) {
                            overall.tick();
                        }
                        match stopped.recv_timeout(TICK) {
                            Err(RecvTimeoutError::Timeout) => {}
                            Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
                        }
                    }
                    flush_finished_lines(&view, &printing, &overall);
                })
                .ok()
        };
        let deps_done = vec![0; dependents.len()];
        Self {
            overall,
            view,
            printing,
            stop: Some(stop),
            ticker,
            stdout_terminal: std::io::stdout().is_terminal(),
            graph_dependents: dependents,
            deps_done,
            order,
        }
    }

    /// Prints a line for every task, up-to-date ones too.
    pub fn verbose(&mut self, verbose: bool) {
        lock(&self.view).verbose = verbose;
    }

    /// Runs `write` (which writes to stdout) with the bars cleared, so that printed lines
    /// never tear. Finished-task lines still waiting for the next tick are printed first, to
    /// keep the order of events. The bars drawn again after it show the view as it is now.
    /// Where stdout is no terminal (a file, a pipe) the bars are not in its way: `write` runs
    /// at once, and the terminal is left to the ticker.
    pub fn suspend(&self, write: impl FnOnce()) {
        if !self.stdout_terminal || self.overall.is_hidden() {
            write();
            return;
        }
        flush_finished_lines(&self.view, &self.printing, &self.overall);
        self.overall.suspend(write);
    }

    /// Records a task's latest output line.
    pub fn output(&mut self, task: TaskId, line: &str) {
        let mut view = lock(&self.view);
        if let Some((_, last, _)) = view.running.get_mut(&task) {
            line.trim_end().clone_into(last);
        }
    }

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
        view.expected_mean = (!known.is_empty()).then_some(average);
        view.expected = durations;
        view.slots = slots as u64;
    }

    /// Updates the view for `event`.
    pub fn event(&mut self, event: &Event) {
        self.event_at(event, Instant::now());
    }

    /// Updates the view for `event`, which happened at `now`.
    fn event_at(&mut self, event: &Event, now: Instant) {
        let shared = Arc::clone(&self.view);
        let mut view = lock(&shared);
        match event {
            Event::TaskStarted {
                task,
                attempt,
                attempts,
                ..
            } => {
                view.joins.remove(task);
                let tries = (*attempts > 1).then_some((*attempt, *attempts));
                view.running.insert(*task, (now, String::new(), tries));
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
                let name = view.workflow.task(*task).name.clone();
                let name = view.column(&name);
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
            } => self.finished(&mut view, *task, status, *duration, *allowed),
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
                if view.verbose && *reason == SkipReason::UpToDate {
                    push_ok_line(&mut view, |view| {
                        let workflow = Arc::clone(&view.workflow);
                        let name = view.column(&workflow.task(*task).name);
                        format!("  fresh   {name}  up to date")
                    });
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

    /// A task finished: its line is queued (failures always; successes up to the allowance
    /// of a tick; join points never: they finish at once and add nothing) and its dependents
    /// wait on one task fewer.
    fn finished(
        &mut self,
        view: &mut View,
        task: TaskId,
        status: &TaskStatus,
        duration: Duration,
        allowed: bool,
    ) {
        view.running.remove(&task);
        view.jobs.remove(&task);
        view.finished += 1;
        let join_point = view.is_join_point(task);
        if !join_point {
            view.took.0 += u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
            view.took.1 += 1;
        }
        if status.is_success() {
            if !join_point || view.verbose {
                push_ok_line(view, |view| {
                    finished_line(view, task, status, duration, allowed)
                });
            }
        } else {
            let line = finished_line(view, task, status, duration, allowed);
            view.finished_lines.push(line);
        }
        view.settled[task.index()] = true;
        if status.is_success() || allowed {
            mark_done(view, &self.graph_dependents, &mut self.deps_done, task);
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
        // The placeholder is a join point now; its items have its command.
        view.join_points = join_points(&workflow);
        // Each item is one task with a command on the way to the placeholder's dependents.
        let after = view.chain.get(task.index()).copied().unwrap_or(0);
        view.chain.resize(count, after + 1);
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
        view.counts = ItemCounts::of(&workflow);
        view.workflow = workflow;
    }

    /// Stops the ticker and clears the bars; the summary that follows says how it ended.
    pub fn finish(&mut self) {
        drop(self.stop.take());
        if let Some(ticker) = self.ticker.take() {
            let _ = ticker.join();
        }
        self.overall.finish_and_clear();
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Whether each task is a join point (no command), by task index.
fn join_points(workflow: &Workflow) -> Vec<bool> {
    workflow
        .tasks
        .iter()
        .map(|task| matches!(task.command, crate::model::Command::None))
        .collect()
}

pub(super) fn lock(view: &Mutex<View>) -> std::sync::MutexGuard<'_, View> {
    view.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Queues the line of a success (made by `line` only when it will be printed), within the
/// allowance of a tick.
fn push_ok_line(view: &mut View, line: impl FnOnce(&mut View) -> String) {
    if view.ok_lines < MAX_OK_LINES_PER_TICK {
        view.ok_lines += 1;
        let line = line(view);
        view.finished_lines.push(line);
    } else {
        view.unprinted_ok += 1;
    }
}

/// The line of a finished task: `ok`, `failed` (allowed to fail), `FAILED`, `TIMEOUT` or
/// `INTERRUPTED`, its name in the column and what it took. Colored only when stderr takes
/// colors (a terminal, no `NO_COLOR`).
fn finished_line(
    view: &mut View,
    task: TaskId,
    status: &TaskStatus,
    duration: Duration,
    allowed: bool,
) -> String {
    let workflow = Arc::clone(&view.workflow);
    let name = view.column(&workflow.task(task).name);
    let took = format_duration(duration);
    match status {
        TaskStatus::Succeeded => {
            format!("  {}      {name}  {took}", style("ok").green().for_stderr())
        }
        TaskStatus::Failed { message, .. } if allowed => format!(
            "  {}  {name}  {took}  {message} (allowed to fail)",
            style("failed").yellow().for_stderr()
        ),
        TaskStatus::Failed { message, .. } => format!(
            "  {}  {name}  {took}  {message}",
            style("FAILED").red().bold().for_stderr()
        ),
        TaskStatus::TimedOut { .. } => format!(
            "  {} {name}  {took}",
            style("TIMEOUT").red().bold().for_stderr()
        ),
        TaskStatus::Interrupted => format!(
            "  {} {name}  {took}",
            style("INTERRUPTED").yellow().for_stderr()
        ),
    }
}

/// Prints the finished-task lines gathered since the last tick above the bars, which
/// redraws the bars; whether there were any. The view is released before printing: drawing
/// the bars locks it.
fn flush_finished_lines(view: &Mutex<View>, printing: &Mutex<()>, bar: &ProgressBar) -> bool {
    let _printing = printing
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let lines = take_finished_lines(&mut lock(view));
    let printed = lines.is_some();
    if let Some(lines) = lines {
        bar.println(lines);
    }
    printed
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

    fn started(task: u32) -> Event {
        Event::TaskStarted {
            task: TaskId(task),
            pid: None,
            attempt: 1,
            attempts: 1,
        }
    }

    fn succeeded(task: u32, took: Duration) -> Event {
        Event::TaskFinished {
            task: TaskId(task),
            status: TaskStatus::Succeeded,
            duration: took,
            attempt: 1,
            allowed: false,
            results: Vec::new(),
        }
    }

    /// The ETA of `bars` at `now`, in milliseconds.
    fn eta_ms(bars: &Bars, now: Instant) -> Option<u128> {
        super::super::frame::eta(&lock(&bars.view), now).map(|left| left.as_millis())
    }

    #[test]
    fn the_first_run_eta_follows_the_finished_tasks_on_a_fake_clock() {
        // Ten tasks of one second each, two at a time, no record: the run takes 5 s.
        let workflow = Arc::new(workflow(10));
        let graph = Graph::build(&workflow, &[]).expect("graph");
        let mut bars = Bars::new(Arc::clone(&workflow), &graph);
        bars.expect(vec![None; 10], 2);
        let t0 = lock(&bars.view).started;
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        bars.event_at(&started(0), at(0));
        bars.event_at(&started(1), at(0));
        // Nothing has finished: nothing tells yet.
        assert_eq!(eta_ms(&bars, at(500)), None);
        let mut shown = Vec::new();
        let mut next = 2;
        for step in 1..50u64 {
            let now = step * 100;
            if now % 1000 == 0 {
                for task in [next - 2, next - 1] {
                    bars.event_at(&succeeded(task, Duration::from_secs(1)), at(now));
                }
                for task in [next, next + 1].into_iter().filter(|task| *task < 10) {
                    bars.event_at(&started(task), at(now));
                }
                next += 2;
            }
            if now >= 1000 {
                let eta = eta_ms(&bars, at(now)).expect("an ETA once a task finished");
                // What is left, exactly: the pace of the finished tasks holds.
                assert_eq!(eta, u128::from(5000 - now), "at {now} ms");
                shown.push(eta);
            }
        }
        assert!(shown.windows(2).all(|pair| pair[1] <= pair[0]), "{shown:?}");
    }

    #[test]
    fn a_running_task_longer_than_the_finished_ones_raises_the_eta_only_by_what_it_ran() {
        let workflow = Arc::new(workflow(3));
        let graph = Graph::build(&workflow, &[]).expect("graph");
        let mut bars = Bars::new(Arc::clone(&workflow), &graph);
        bars.expect(vec![None; 3], 1);
        let t0 = lock(&bars.view).started;
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        bars.event_at(&started(0), at(0));
        bars.event_at(&succeeded(0, Duration::from_secs(1)), at(1000));
        bars.event_at(&started(1), at(1000));
        // `t1` has run 0.5 s of the 1 s the finished task took; `t2` is 1 s more.
        assert_eq!(eta_ms(&bars, at(1500)), Some(1500));
        // At 3 s it has run 2 s: the mean is now 1.5 s, and it is taken as done.
        assert_eq!(eta_ms(&bars, at(3000)), Some(1500));
        // Past the estimate of a running task the ETA is never shown as 0.
        let view = lock(&bars.view);
        assert_eq!(
            super::super::frame::eta(&view, at(3000)).map(|_| ()),
            Some(())
        );
        drop(view);
        let text = super::super::frame::frame(&mut lock(&bars.view), at(2999), 120);
        assert!(text.contains("ETA 1s"), "{text}");
    }

    #[test]
    fn with_a_record_the_eta_is_never_shown_as_zero_while_tasks_run() {
        let workflow = Arc::new(workflow(2));
        let graph = Graph::build(&workflow, &[]).expect("graph");
        let mut bars = Bars::new(Arc::clone(&workflow), &graph);
        bars.expect(vec![Some(1000), Some(1000)], 2);
        let t0 = lock(&bars.view).started;
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        bars.event_at(&started(0), at(0));
        bars.event_at(&started(1), at(0));
        assert_eq!(eta_ms(&bars, at(400)), Some(600));
        // Both outlast their record: still running, so `<1s`, not `0ms`.
        let text = console::strip_ansi_codes(&super::super::frame::frame(
            &mut lock(&bars.view),
            at(2500),
            120,
        ))
        .into_owned();
        assert!(text.contains("0/2 tasks · ETA <1s"), "{text}");
    }

    #[test]
    fn one_frame_shows_the_counter_and_the_lines_of_one_moment_in_aligned_columns() {
        let mut workflow = workflow(4);
        workflow.tasks[1].name = "a_much_longer_name".into();
        // `t3` is a join point named `join` that waits for the three others.
        workflow.tasks[3].name = "join".into();
        workflow.tasks[3].command = Command::None;
        workflow.tasks[3].depends_on = vec![TaskId(0), TaskId(1), TaskId(2)];
        let workflow = Arc::new(workflow);
        let graph = Graph::build(&workflow, &[]).expect("graph");
        let mut bars = Bars::new(Arc::clone(&workflow), &graph);
        let t0 = lock(&bars.view).started;
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        for task in 0..3 {
            bars.event_at(&started(task), at(0));
        }
        bars.output(TaskId(2), "first");
        bars.output(TaskId(2), "latest\n");
        bars.event_at(&succeeded(0, Duration::from_millis(300)), at(300));
        let text = super::super::frame::frame(&mut lock(&bars.view), at(1000), 120);
        let text = console::strip_ansi_codes(&text);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].contains(" 1/4 tasks"), "{text}");
        assert!(
            lines[1].starts_with("⠋ a_much_longer_name  process    1.0s"),
            "{text}"
        );
        assert!(
            lines[2].starts_with("⠋ t2                  process    1.0s  │ latest"),
            "{text}"
        );
        assert_eq!(
            lines[3],
            "  join                waits    1/3  on a_much_longer_name, t2"
        );
        // The next task to finish changes the counter and the lines together.
        bars.event_at(&succeeded(2, Duration::from_millis(1100)), at(1100));
        let text = super::super::frame::frame(&mut lock(&bars.view), at(1100), 120);
        let text = console::strip_ansi_codes(&text);
        assert!(text.contains(" 2/4 tasks"), "{text}");
        assert_eq!(
            text.lines().filter(|line| line.contains("process")).count(),
            1,
            "{text}"
        );
    }

    #[test]
    fn an_ok_line_left_out_of_a_tick_is_not_formatted_and_does_not_widen_the_column() {
        let mut workflow = workflow(MAX_OK_LINES_PER_TICK + 1);
        workflow.tasks[MAX_OK_LINES_PER_TICK].name = "a_name_never_printed".into();
        let workflow = Arc::new(workflow);
        let graph = Graph::build(&workflow, &[]).expect("graph");
        let mut bars = Bars::new(Arc::clone(&workflow), &graph);
        for task in 0..=u32::try_from(MAX_OK_LINES_PER_TICK).expect("small") {
            bars.event(&started(task));
            bars.event(&succeeded(task, Duration::from_millis(1)));
        }
        let mut view = lock(&bars.view);
        assert_eq!(view.name_width, 2, "only the printed `t0`..`t7` count");
        let text = take_finished_lines(&mut view).expect("lines");
        assert!(!text.contains("a_name_never_printed"), "{text}");
        assert!(text.ends_with("… and 1 more"), "{text}");
    }

    #[test]
    fn an_expanded_placeholder_is_a_join_point_and_its_items_are_not() {
        let workflow = workflow(2);
        let mut expanded = workflow.clone();
        let items = vec![
            ("t0[0]".to_owned(), Vec::new()),
            ("t0[1]".to_owned(), Vec::new()),
        ];
        let first = expanded.expand(TaskId(0), items);
        let workflow = Arc::new(workflow);
        let graph = Graph::build(&workflow, &[]).expect("graph");
        let mut bars = Bars::new(Arc::clone(&workflow), &graph);
        assert!(!lock(&bars.view).is_join_point(TaskId(0)));
        bars.grow(Arc::new(expanded), TaskId(0), first);
        let view = lock(&bars.view);
        assert!(view.is_join_point(TaskId(0)));
        assert!(!view.is_join_point(TaskId(1)));
        assert!(!view.is_join_point(first));
        assert!(!view.is_join_point(TaskId(first.0 + 1)));
        assert_eq!(view.tasks.len(), 4);
    }

    #[test]
    fn a_long_name_is_cut_at_the_column_cap() {
        let mut workflow = workflow(1);
        workflow.tasks[0].name = "x".repeat(MAX_NAME_WIDTH + 10);
        let workflow = Arc::new(workflow);
        let graph = Graph::build(&workflow, &[]).expect("graph");
        let mut bars = Bars::new(Arc::clone(&workflow), &graph);
        let t0 = lock(&bars.view).started;
        bars.event_at(&started(0), t0);
        let text = super::super::frame::frame(&mut lock(&bars.view), t0, 120);
        let line =
            console::strip_ansi_codes(text.lines().nth(1).expect("a running line")).into_owned();
        let name = format!("{}…", "x".repeat(MAX_NAME_WIDTH - 1));
        assert!(line.starts_with(&format!("⠋ {name}  process")), "{line}");
    }
}
