//! `Reporter`: the event sink of a run. It routes each event to the progress display, the
//! task output, the JSON events file and the material of the final summary.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::bars::Bars;
use super::json::JsonEvents;
use super::plain::Plain;
use super::summary::{Failure, Telling, render_summary};
use crate::events::{Event, EventSink, SkipReason, Stream, TaskStatus};
use crate::model::{TaskId, Workflow};
use crate::plan::Graph;
use crate::state_dir::RunDir;

/// How progress is shown on stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// Bars on a terminal, plain lines otherwise.
    Auto,
    /// Live progress bars.
    Bars,
    /// Timestamped lines without escape codes (for CI logs).
    Plain,
    /// Nothing but the summary.
    None,
}

/// How task output is shown on stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputMode {
    /// Each line as it comes, as `[task] line`.
    Prefixed,
    /// Each task's output as one block when it finishes.
    Grouped,
    /// None (the logs keep it).
    Quiet,
}

/// Lines of output kept per task for the failure summary.
const TAIL_LINES: usize = 10;

enum Display {
    Bars(Bars),
    Plain(Plain),
    Nothing,
}

/// The event sink of `engine run`.
pub struct Reporter {
    workflow: Arc<Workflow>,
    display: Display,
    output: OutputMode,
    json: Option<JsonEvents>,
    /// Where the logs the final summary points at are.
    run_dir: RunDir,
    tails: HashMap<TaskId, VecDeque<String>>,
    failures: Vec<Failure>,
    skipped: Vec<(TaskId, SkipReason)>,
    started: Instant,
    /// Name every task in the progress and the summary.
    verbose: bool,
    /// Tasks that did nothing, by task index: up to date, or join points that passed only
    /// such tasks.
    idle: Vec<bool>,
    /// Join points among them, counted as up to date in the summary.
    idle_joins: usize,
}

impl Reporter {
    /// How many join points passed only tasks that did nothing (the summary counts them as
    /// up to date).
    #[must_use]
    pub fn idle_joins(&self) -> usize {
        self.idle_joins
    }

    /// A reporter for one run of `graph`.
    #[must_use]
    pub fn new(
        workflow: Arc<Workflow>,
        graph: &Graph,
        progress: ProgressMode,
        output: OutputMode,
        json: Option<std::fs::File>,
        run_dir: RunDir,
    ) -> Self {
        use std::io::IsTerminal;
        let progress = match progress {
            ProgressMode::Auto if std::io::stderr().is_terminal() => ProgressMode::Bars,
            ProgressMode::Auto => ProgressMode::Plain,
            other => other,
        };
        let workflow_len = workflow.tasks.len();
        let display = match progress {
            ProgressMode::Bars => Display::Bars(Bars::new(Arc::clone(&workflow), graph)),
            ProgressMode::Plain => Display::Plain(Plain::new(Arc::clone(&workflow))),
            ProgressMode::None | ProgressMode::Auto => Display::Nothing,
        };
        Self {
            workflow,
            display,
            output,
            json: json.map(JsonEvents::new),
            run_dir,
            tails: HashMap::new(),
            failures: Vec::new(),
            skipped: Vec::new(),
            started: Instant::now(),
            verbose: false,
            idle: vec![false; workflow_len],
            idle_joins: 0,
        }
    }

    /// Names every task: up-to-date tasks and join points in the progress, each matrix item
    /// in the summary.
    pub fn verbose(&mut self, verbose: bool) {
        self.verbose = verbose;
        match &mut self.display {
            Display::Bars(bars) => bars.verbose(verbose),
            Display::Plain(plain) => plain.verbose(verbose),
            Display::Nothing => {}
        }
    }

    /// Notes the tasks that did nothing: those up to date, and join points that passed only
    /// such tasks (the summary counts them as up to date).
    fn note_idle(&mut self, event: &Event) {
        match event {
            Event::TaskSkipped {
                task,
                reason: SkipReason::UpToDate,
            } => self.idle[task.index()] = true,
            Event::TaskFinished {
                task,
                status: TaskStatus::Succeeded,
                ..
            } => {
                let spec = self.workflow.task(*task);
                // One with no dependencies passed nothing: it is no sign of a run that did
                // nothing (an expansion into no items).
                if matches!(spec.command, crate::model::Command::None)
                    && !spec.depends_on.is_empty()
                    && spec.depends_on.iter().all(|dep| self.idle[dep.index()])
                {
                    self.idle[task.index()] = true;
                    self.idle_joins += 1;
                }
            }
            _ => {}
        }
    }

    /// Sets what the progress bar's ETA counts on: each task's duration in its last success
    /// (milliseconds, by task index) and how many tasks run at once.
    pub fn expect(&mut self, durations: Vec<Option<u64>>, slots: usize) {
        if let Display::Bars(bars) = &mut self.display {
            bars.expect(durations, slots);
        }
    }

    /// Clears the bars and prints the summary: failures first with their last lines and log
    /// paths, then skipped tasks and the counts.
    ///
    /// # Errors
    /// When the events file could not be written.
    pub fn finish(mut self, summary: &crate::schedule::Summary) -> std::io::Result<()> {
        if let Display::Bars(bars) = &mut self.display {
            bars.finish();
        }
        let text = render_summary(
            &self.workflow,
            &self.failures,
            &self.skipped,
            summary,
            self.started.elapsed(),
            &Telling {
                verbose: self.verbose,
                idle_joins: self.idle_joins,
            },
        );
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(text.as_bytes());
        match &mut self.json {
            Some(json) => json.finish(),
            None => Ok(()),
        }
    }

    /// A placeholder expanded into tasks named `names`: they join the workflow every part
    /// of the reporter reads, as the coordinator's did.
    fn grow(&mut self, task: TaskId, names: &[String]) {
        let mut workflow = Workflow::clone(&self.workflow);
        let items = names
            .iter()
            .map(|name| (name.clone(), Vec::new()))
            .collect();
        let first = workflow.expand(task, items);
        self.idle.resize(workflow.tasks.len(), false);
        self.workflow = Arc::new(workflow);
        match &mut self.display {
            Display::Bars(bars) => bars.grow(Arc::clone(&self.workflow), task, first),
            Display::Plain(plain) => plain.grow(Arc::clone(&self.workflow)),
            Display::Nothing => {}
        }
    }

    fn log_path(&self, task: TaskId) -> PathBuf {
        self.run_dir.log(&self.workflow.task(task).name)
    }

    /// Writes to stdout with the bars out of the way.
    fn print_stdout(&self, text: &str) {
        self.with_stdout(|out| out.write_all(text.as_bytes()));
    }

    /// Runs `write` on the locked stdout with the bars out of the way; write errors (a closed
    /// pipe) are ignored.
    fn with_stdout(
        &self,
        write: impl FnOnce(&mut std::io::StdoutLock<'static>) -> std::io::Result<()>,
    ) {
        let write = || {
            let mut out = std::io::stdout().lock();
            let _ = write(&mut out).and_then(|()| out.flush());
        };
        match &self.display {
            Display::Bars(bars) => bars.suspend(write),
            _ => write(),
        }
    }

    fn output(&mut self, task: TaskId, stream: Stream, lines: &[String]) {
        let tail = self.tails.entry(task).or_default();
        for line in lines.iter().rev().take(TAIL_LINES).rev() {
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line.clone());
        }
        if let Display::Bars(bars) = &mut self.display {
            if let Some(last) = lines.last() {
                bars.output(task, last);
            }
        }
        if self.output == OutputMode::Prefixed {
            let name = &self.workflow.task(task).name;
            let mut text =
                String::with_capacity(lines.iter().map(|l| l.len() + name.len() + 4).sum());
            for line in lines {
                text.push('[');
                text.push_str(name);
                text.push_str(if stream == Stream::Stderr {
                    "!] "
                } else {
                    "] "
                });
                text.push_str(line);
                text.push('\n');
            }
            self.print_stdout(&text);
        }
    }

    fn finished(&mut self, task: TaskId, status: &TaskStatus, duration: Duration) {
        let tail = self.tails.remove(&task).map(Vec::from).unwrap_or_default();
        if self.output == OutputMode::Grouped {
            self.print_group(task, status, duration);
        }
        if !status.is_success() {
            let log = self.log_path(task);
            let log = log.exists().then_some(log);
            self.failures.push(Failure {
                task,
                status: status.clone(),
                duration,
                tail,
                log,
            });
        }
    }

    /// Prints a finished task's whole output as one block, read back from its log piece by
    /// piece: a large log is never held in memory whole.
    fn print_group(&self, task: TaskId, status: &TaskStatus, duration: Duration) {
        let Ok(log) = std::fs::File::open(self.log_path(task)) else {
            return;
        };
        let name = &self.workflow.task(task).name;
        let verdict = if status.is_success() { "ok" } else { "FAILED" };
        let heading = format!(
            "── {name} ({verdict}, {}) ──\n",
            super::format_duration(duration)
        );
        self.with_stdout(|out| {
            out.write_all(heading.as_bytes())?;
            copy_log(log, out)
        });
    }
}

/// Most bytes of a log converted at once when no line break comes sooner.
const COPY_CHUNK: usize = 64 * 1024;

/// Copies a log to `out` with invalid UTF-8 replaced, ending with a line break. It cuts the
/// bytes after line breaks, so that a character is never split between two pieces (except in
/// a line longer than `COPY_CHUNK`).
fn copy_log(mut log: impl std::io::Read, out: &mut impl Write) -> std::io::Result<()> {
    let mut buffer = vec![0u8; COPY_CHUNK];
    let mut pending: Vec<u8> = Vec::with_capacity(2 * COPY_CHUNK);
    let mut last = b'\n';
    loop {
        let read = match log.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        pending.extend_from_slice(&buffer[..read]);
        last = buffer[read - 1];
        let cut = match pending.iter().rposition(|&b| b == b'\n') {
            Some(end) => end + 1,
            None if pending.len() >= COPY_CHUNK => pending.len(),
            None => continue,
        };
        out.write_all(String::from_utf8_lossy(&pending[..cut]).as_bytes())?;
        pending.drain(..cut);
    }
    out.write_all(String::from_utf8_lossy(&pending).as_bytes())?;
    if last != b'\n' {
        out.write_all(b"\n")?;
    }
    Ok(())
}

impl EventSink for Reporter {
    fn event(&mut self, event: &Event) {
        if let Event::TaskExpanded { task, names, .. } = event {
            self.grow(*task, names);
        }
        self.note_idle(event);
        if let Some(json) = &mut self.json {
            json.write(&self.workflow, event);
        }
        match &mut self.display {
            Display::Bars(bars) => bars.event(event),
            Display::Plain(plain) => plain.event(event),
            Display::Nothing => {}
        }
        match event {
            Event::TaskOutput {
                task,
                stream,
                lines,
            } => self.output(*task, *stream, lines),
            Event::TaskFinished {
                task,
                status,
                duration,
                allowed: false,
                ..
            } => self.finished(*task, status, *duration),
            // Tasks skipped by decision (a false `if`, up to date) are no problem to list.
            Event::TaskSkipped { task, reason } if !reason.satisfies_dependents() => {
                self.skipped.push((*task, reason.clone()));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copied(log: &[u8]) -> String {
        let mut out = Vec::new();
        copy_log(log, &mut out).expect("copy to memory");
        String::from_utf8(out).expect("UTF-8 out")
    }

    #[test]
    fn a_log_is_copied_whole_with_invalid_utf8_replaced() {
        assert_eq!(copied(b"one\n\xff two\n"), "one\n\u{fffd} two\n");
        assert_eq!(copied(b"no line break"), "no line break\n");
        // A character across the boundary between two reads stays whole.
        let mut log = b"first\n".to_vec();
        log.extend(std::iter::repeat_n(b'a', COPY_CHUNK - 7));
        log.extend("é\nlast\n".as_bytes());
        let text = copied(&log);
        assert_eq!(text.len(), log.len());
        assert!(text.ends_with("aé\nlast\n"));
        let long = vec![b'x'; 3 * COPY_CHUNK + 1];
        assert_eq!(copied(&long).len(), long.len() + 1);
    }
}
