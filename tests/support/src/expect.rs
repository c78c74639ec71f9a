//! What a `Test` declared its command must produce, and the check of an `Output` against it.

use std::time::Duration;

use crate::Output;

/// The expectations of one command; by default only success.
#[derive(Clone)]
pub(crate) struct Expectations {
    /// The exit code; `None` takes any.
    pub status: Option<i32>,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    pub stdout_has: Vec<String>,
    pub stdout_lacks: Vec<String>,
    pub stderr_has: Vec<String>,
    pub stderr_lacks: Vec<String>,
    /// `(task, status)` by the `task_finished` events.
    pub task_status: Vec<(String, String)>,
    /// `(task, reason)` by the `task_skipped` events.
    pub skipped: Vec<(String, String)>,
    pub not_started: Vec<String>,
    pub faster_than: Option<Duration>,
    pub after_signal: Option<Duration>,
}

impl Default for Expectations {
    fn default() -> Self {
        Self {
            status: Some(0),
            stdout: None,
            stderr: None,
            stdout_has: Vec::new(),
            stdout_lacks: Vec::new(),
            stderr_has: Vec::new(),
            stderr_lacks: Vec::new(),
            task_status: Vec::new(),
            skipped: Vec::new(),
            not_started: Vec::new(),
            faster_than: None,
            after_signal: None,
        }
    }
}

impl Expectations {
    /// Fails with the command and everything it printed unless `output` meets them all.
    #[track_caller]
    pub fn check(&self, output: &Output) {
        if output.stderr.contains("panicked") {
            output.fail("the engine panicked");
        }
        if let Some(code) = self.status
            && output.code() != Some(code)
        {
            output.fail(&format!("expected exit code {code}"));
        }
        self.check_text(output);
        self.check_tasks(output);
        if let Some(limit) = self.faster_than
            && output.elapsed >= limit
        {
            output.fail(&format!("expected the run to take less than {limit:?}"));
        }
        if let Some(limit) = self.after_signal {
            match output.after_signal() {
                Some(took) if took < limit => {}
                Some(took) => output.fail(&format!(
                    "ended {took:?} after the signal, not within {limit:?}"
                )),
                None => output.fail("no signal was sent"),
            }
        }
    }

    #[track_caller]
    fn check_text(&self, output: &Output) {
        if let Some(expected) = &self.stdout
            && &output.stdout != expected
        {
            output.fail(&format!("expected stdout to be exactly {expected:?}"));
        }
        if let Some(expected) = &self.stderr
            && &output.stderr != expected
        {
            output.fail(&format!("expected stderr to be exactly {expected:?}"));
        }
        for part in &self.stdout_has {
            if !output.stdout.contains(part.as_str()) {
                output.fail(&format!("expected stdout to contain {part:?}"));
            }
        }
        for part in &self.stdout_lacks {
            if output.stdout.contains(part.as_str()) {
                output.fail(&format!("expected stdout not to contain {part:?}"));
            }
        }
        for part in &self.stderr_has {
            if !output.stderr.contains(part.as_str()) {
                output.fail(&format!("expected stderr to contain {part:?}"));
            }
        }
        for part in &self.stderr_lacks {
            if output.stderr.contains(part.as_str()) {
                output.fail(&format!("expected stderr not to contain {part:?}"));
            }
        }
    }

    #[track_caller]
    fn check_tasks(&self, output: &Output) {
        for (task, status) in &self.task_status {
            if output.finished(task)["status"] != status.as_str() {
                output.fail(&format!("expected `{task}` to end with status `{status}`"));
            }
        }
        for (task, reason) in &self.skipped {
            let found = output
                .events_of("task_skipped")
                .into_iter()
                .any(|e| e["task"] == task.as_str() && e["reason"] == reason.as_str());
            if !found {
                output.fail(&format!("expected `{task}` to be skipped with `{reason}`"));
            }
        }
        for task in &self.not_started {
            if output.started_order().contains(task) {
                output.fail(&format!("expected `{task}` not to start"));
            }
        }
    }
}
