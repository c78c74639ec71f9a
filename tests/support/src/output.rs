//! `Output`: what one command of the engine came to (exit code, stdout, stderr, the events of
//! `--events`), with readers for the event stream and a `fail` that shows it all.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

/// What one command of the engine printed and how it ended.
pub struct Output {
    /// Standard output, with invalid UTF-8 replaced.
    pub stdout: String,
    /// Standard error, with invalid UTF-8 replaced.
    pub stderr: String,
    /// Wall time from spawn to exit.
    pub elapsed: Duration,
    stdout_bytes: Vec<u8>,
    code: Option<i32>,
    signal: Option<i32>,
    /// Wall time from the last signal sent to the engine to its exit.
    after_signal: Option<Duration>,
    /// The `--events` file as the run left it (empty without one).
    events: String,
    /// The command line, for failure messages.
    command: String,
}

/// How a process ended and when, as `Running::wait` saw it.
#[derive(Clone, Copy)]
pub(crate) struct Ending {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub elapsed: Duration,
    pub after_signal: Option<Duration>,
}

impl Output {
    pub(crate) fn new(
        command: String,
        ending: Ending,
        stdout: Vec<u8>,
        stderr: &[u8],
        events: String,
    ) -> Self {
        Self {
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(stderr).into_owned(),
            elapsed: ending.elapsed,
            stdout_bytes: stdout,
            code: ending.code,
            signal: ending.signal,
            after_signal: ending.after_signal,
            events,
            command,
        }
    }

    /// The exit code, if the engine exited rather than died of a signal.
    pub fn code(&self) -> Option<i32> {
        self.code
    }

    /// Wall time from the last signal sent to the engine to its exit.
    pub fn after_signal(&self) -> Option<Duration> {
        self.after_signal
    }

    /// Standard output as bytes.
    pub fn stdout_bytes(&self) -> &[u8] {
        &self.stdout_bytes
    }

    /// The command, how it ended, and what it printed (clipped), for a failure message.
    fn context(&self) -> String {
        format!(
            "command: {}\nexit code: {:?} (signal {:?}), {:?} ({:?} after the signal)\n\
             --- stdout ---\n{}\n--- stderr ---\n{}\n--- events ---\n{}",
            self.command,
            self.code,
            self.signal,
            self.elapsed,
            self.after_signal,
            clip(&self.stdout),
            clip(&self.stderr),
            clip(&self.events),
        )
    }

    /// Panics with `message` and everything the command printed.
    #[track_caller]
    pub fn fail(&self, message: &str) -> ! {
        panic!("{message}\n{}", self.context());
    }

    /// Expects stdout to contain `part`, for text known only after the run (a run id, a job
    /// id); declare everything else on the `Test`.
    #[track_caller]
    pub fn stdout_has(&self, part: &str) -> &Self {
        if !self.stdout.contains(part) {
            self.fail(&format!("expected stdout to contain {part:?}"));
        }
        self
    }

    /// Every event of `--events`, parsed.
    #[track_caller]
    pub fn events(&self) -> Vec<Value> {
        self.events
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| {
                    self.fail(&format!("invalid JSON event line {line:?}: {e}"))
                })
            })
            .collect()
    }

    /// The events of one kind, in order.
    #[track_caller]
    pub fn events_of(&self, kind: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["event"] == kind)
            .collect()
    }

    /// Where the first event of `kind` for `task` stands in `events()`, to compare orders.
    #[track_caller]
    pub fn position(&self, kind: &str, task: &str) -> usize {
        self.events()
            .iter()
            .position(|e| e["event"] == kind && e["task"] == task)
            .unwrap_or_else(|| self.fail(&format!("no {kind} event for {task}")))
    }

    /// The `task_finished` event of `task`.
    #[track_caller]
    pub fn finished(&self, task: &str) -> Value {
        self.events_of("task_finished")
            .into_iter()
            .find(|e| e["task"] == task)
            .unwrap_or_else(|| self.fail(&format!("no task_finished event for `{task}`")))
    }

    /// The tasks skipped for `reason` (`up_to_date`, `resumed`, ...), in order.
    #[track_caller]
    pub fn skipped_for(&self, reason: &str) -> Vec<String> {
        self.events_of("task_skipped")
            .iter()
            .filter(|e| e["reason"] == reason)
            .map(|e| e["task"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// The tasks in the order they started.
    #[track_caller]
    pub fn started_order(&self) -> Vec<String> {
        self.events_of("task_started")
            .iter()
            .map(|e| e["task"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// The process id of a started task.
    #[track_caller]
    pub fn task_pid(&self, task: &str) -> i32 {
        self.events_of("task_started")
            .iter()
            .find(|e| e["task"] == task)
            .and_then(|e| e["pid"].as_i64())
            .and_then(|pid| i32::try_from(pid).ok())
            .unwrap_or_else(|| self.fail(&format!("no pid for `{task}`")))
    }

    /// The most tasks that ran at once, as the event stream tells it.
    #[track_caller]
    pub fn max_concurrent(&self) -> usize {
        let (mut now, mut max) = (0usize, 0usize);
        for event in self.events() {
            match event["event"].as_str() {
                Some("task_started") => {
                    now += 1;
                    max = max.max(now);
                }
                Some("task_finished" | "task_retrying") => now = now.saturating_sub(1),
                _ => {}
            }
        }
        max
    }

    /// The run's log directory: `<state>/runs/<run-id>/logs`, from the `run_started` event.
    #[track_caller]
    pub fn log_dir(&self, state_dir: &Path) -> PathBuf {
        let started = self.events_of("run_started");
        let run_id = started
            .first()
            .and_then(|e| e["run_id"].as_str())
            .unwrap_or_else(|| self.fail("no run id"));
        state_dir.join("runs").join(run_id).join("logs")
    }
}

/// At most a few thousand characters of `text`, for failure messages about huge outputs.
fn clip(text: &str) -> &str {
    match text.char_indices().nth(4000) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}
