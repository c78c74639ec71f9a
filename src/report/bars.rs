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

/// What the ticker draws.
struct View {
    workflow: Arc<Workflow>,
    /// Running tasks by start order: started, latest output line.
    running: BTreeMap<TaskId, (Instant, String)>,
    /// Tasks with some but not all dependencies done.
    joins: BTreeSet<TaskId>,
    /// Whether each task finished successfully (for "waiting on").
    done: Vec<bool>,
    /// Lines to print above the bars at the next tick.
    finished_lines: Vec<String>,
    finished: u64,
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
}

impl Bars {
    /// Bars on stderr for a run of `graph`.
    #[must_use]
    pub fn new(workflow: Arc<Workflow>, graph: &Graph) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(20));
        let overall = multi.add(ProgressBar::new(graph.len() as u64));
        overall.set_style(
            ProgressStyle::with_template("{prefix:.bold} [{elapsed_precise}] {bar:30.cyan/blue} {pos}/{len} tasks · ETA {eta}")
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
        let view = Arc::new(Mutex::new(View {
            done: vec![false; workflow.tasks.len()],
            workflow,
            running: BTreeMap::new(),
            joins: BTreeSet::new(),
            finished_lines: Vec::new(),
            finished: 0,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
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
        }
    }

    /// Runs `write` with the bars cleared, so that printed lines never tear. Finished-task
    /// lines still waiting for the next tick are printed first, to keep the order of events.
    pub fn suspend(&self, write: impl FnOnce()) {
        let pending = std::mem::take(&mut lock(&self.view).finished_lines);
        if !pending.is_empty() {
            let _ = self.multi.println(pending.join("\n"));
        }
        self.multi.suspend(write);
    }

    /// Records a task's latest output line.
    pub fn output(&mut self, task: TaskId, line: &str) {
        let mut view = lock(&self.view);
        if let Some((_, last)) = view.running.get_mut(&task) {
            line.trim_end().clone_into(last);
        }
    }

    /// Updates the view for `event`.
    pub fn event(&mut self, event: &Event) {
        let mut view = lock(&self.view);
        match event {
            Event::TaskStarted { task, .. } => {
                view.joins.remove(task);
                view.running.insert(*task, (Instant::now(), String::new()));
            }
            Event::TaskFinished {
                task,
                status,
                duration,
            } => {
                view.running.remove(task);
                view.finished += 1;
                let name = &view.workflow.task(*task).name;
                let took = format_duration(*duration);
                // Colored only when stderr takes colors (a terminal, no NO_COLOR).
                let line = match status {
                    TaskStatus::Succeeded => {
                        format!("  {}      {name}  {took}", style("ok").green().for_stderr())
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
                if !matches!(
                    view.workflow.task(*task).command,
                    crate::model::Command::None
                ) || !status.is_success()
                {
                    view.finished_lines.push(line);
                }
                if status.is_success() {
                    view.done[task.index()] = true;
                    for &next in &self.graph_dependents[task.index()] {
                        self.deps_done[next.index()] += 1;
                        let total = view.workflow.task(next).depends_on.len();
                        if (self.deps_done[next.index()] as usize) < total {
                            view.joins.insert(next);
                        } else {
                            view.joins.remove(&next);
                        }
                    }
                }
            }
            Event::TaskSkipped { task, .. } => {
                view.joins.remove(task);
                view.finished += 1;
            }
            Event::Interrupting { forced } => view.finished_lines.push(if *forced {
                "  interrupted again: killing running tasks".to_owned()
            } else {
                "  interrupted: stopping running tasks (Ctrl-C again to kill them now)".to_owned()
            }),
            _ => {}
        }
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

/// Draws the view: printed lines above, then the overall bar, running tasks and joins.
fn draw(view: &Mutex<View>, multi: &MultiProgress, overall: &ProgressBar, status: &ProgressBar) {
    let mut view = lock(view);
    let width = console::Term::stderr().size().1.max(40) as usize;
    if !view.finished_lines.is_empty() {
        let lines = std::mem::take(&mut view.finished_lines).join("\n");
        let _ = multi.println(lines);
    }
    overall.set_position(view.finished);
    let now = Instant::now();
    let mut lines = Vec::new();
    for (index, (&task, (started, last))) in view.running.iter().enumerate() {
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
        let mut line = format!(
            "{frame} {}  {}  {}",
            spec.name,
            spec.isolation,
            format_duration(elapsed)
        );
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
