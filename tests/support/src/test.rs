//! `Test`: one `engine` command in a temp dir and what it must produce. It writes the files,
//! builds and starts the command and declares the expectations; `Running` waits for the
//! engine and `expect` judges its `Output`.

use std::ffi::OsString;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use crate::expect::Expectations;
use crate::{Output, Running};

/// The workflow file most tests use, relative to the temp dir.
pub const WORKFLOW: &str = "workflow.yaml";

/// How long a command of `engine_run`'s tests may take before the test kills it and fails: a
/// run that never ends (a lost signal, a task that hangs) fails instead of holding the suite.
const WATCHDOG: Duration = Duration::from_secs(120);

/// One `engine` command in a temp dir, and what it must produce.
///
/// The command is `engine ARGS`, or with `engine_run` (and `run_of`) `engine run WORKFLOW
/// ARGS --state-dir state --events events.jsonl`, with the state dir and the events file in
/// the temp dir. Declare the expectations, then `run` (or `spawn`) it: every run also checks
/// that the engine did not panic and ended with the expected exit code (0 unless `status`
/// says otherwise). `again`, `engine` and `then` give commands in the same temp dir.
#[must_use = "a test does nothing until `run` or `spawn`"]
pub struct Test {
    /// Shared by the commands `again` and `engine` derive, so it lives while any does.
    dir: Arc<tempfile::TempDir>,
    current_dir: Option<PathBuf>,
    env: Vec<(String, OsString)>,
    wrapper: Vec<OsString>,
    /// With a workflow the command is `engine run WORKFLOW ARGS`.
    workflow: Option<PathBuf>,
    args: Vec<OsString>,
    state_dir: bool,
    events: Option<PathBuf>,
    stdout_delay: Duration,
    close_stdout: bool,
    watchdog: Option<Duration>,
    expect: Expectations,
}

impl Test {
    /// `engine` with no arguments yet, in a new, empty temp dir, expected to succeed.
    pub fn new() -> Self {
        Self {
            dir: Arc::new(tempfile::tempdir().expect("create a temp dir")),
            current_dir: None,
            env: Vec::new(),
            wrapper: Vec::new(),
            workflow: None,
            args: Vec::new(),
            state_dir: false,
            events: None,
            stdout_delay: Duration::ZERO,
            close_stdout: false,
            watchdog: None,
            expect: Expectations::default(),
        }
    }

    /// `engine run` of `yaml`, written to `workflow.yaml` in a new temp dir.
    pub fn run_of(yaml: &str) -> Self {
        let test = Self::new().workflow(yaml);
        let workflow = test.path(WORKFLOW);
        test.engine_run(&workflow)
    }

    /// Makes the command `engine run WORKFLOW ARGS`, with `--state-dir` (the `state` dir in
    /// the temp dir) and `--events` (`events.jsonl` there) after the arguments. From here on,
    /// a command that runs for more than two minutes is killed and fails the test.
    pub fn engine_run(mut self, workflow: &Path) -> Self {
        self.workflow = Some(workflow.to_path_buf());
        self.state_dir = true;
        self.watchdog = Some(WATCHDOG);
        self.events = Some(self.path("events.jsonl"));
        self
    }

    /// The same temp dir, environment and command with no expectations but success: to run
    /// the command again (add arguments to vary it) or beside this one.
    pub fn again(&self) -> Self {
        Self {
            dir: Arc::clone(&self.dir),
            current_dir: self.current_dir.clone(),
            env: self.env.clone(),
            wrapper: self.wrapper.clone(),
            workflow: self.workflow.clone(),
            args: self.args.clone(),
            state_dir: self.state_dir,
            events: self.events.clone(),
            stdout_delay: Duration::ZERO,
            close_stdout: false,
            watchdog: self.watchdog,
            expect: Expectations::default(),
        }
    }

    /// Another command in the same temp dir and environment: `engine ARGS`, with
    /// `--state-dir` after them when this test gives one, and no events file.
    pub fn engine<I, S>(&self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let mut next = self.again();
        next.workflow = None;
        next.events = None;
        next.wrapper.clear();
        next.args.clear();
        next.args(args)
    }

    /// Runs like `run`, then gives the temp dir back for the next command: no arguments, no
    /// expectations but success, the files and the environment as they are.
    #[track_caller]
    pub fn run_then(self) -> (Output, Self) {
        let output = self.run();
        let mut next = self.again();
        next.args.clear();
        (output, next)
    }

    /// Runs like `run` and gives the temp dir back for the next command, as `run_then` does.
    #[track_caller]
    pub fn then(self) -> Self {
        self.run_then().1
    }

    /// Sets an environment variable of the engine.
    pub fn env(mut self, name: &str, value: impl Into<OsString>) -> Self {
        self.env.push((name.to_owned(), value.into()));
        self
    }

    /// Writes `yaml` to `workflow.yaml` in the temp dir.
    pub fn workflow(self, yaml: &str) -> Self {
        self.file(WORKFLOW, yaml)
    }

    /// Writes a file (text or bytes) into the temp dir; its directories are created.
    pub fn file(self, name: &str, contents: impl AsRef<[u8]>) -> Self {
        let path = self.path(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create the file's directory");
        }
        std::fs::write(path, contents).expect("write the file");
        self
    }

    /// Runs in the repository root instead of the temp dir, for the example workflows.
    pub fn in_repository(mut self) -> Self {
        self.current_dir = Some(crate::root().to_path_buf());
        self
    }

    /// Runs in the directory `name` of the temp dir (created if missing), as a user who
    /// typed the command there: relative paths on the command line start from it.
    pub fn in_dir(mut self, name: &str) -> Self {
        let dir = self.path(name);
        std::fs::create_dir_all(&dir).expect("create the directory to run in");
        self.current_dir = Some(dir);
        self
    }

    /// Adds command-line arguments (after `engine`, or after `engine run WORKFLOW`).
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Runs the engine under another program, like `/usr/bin/time`.
    pub fn wrapper(mut self, program: &[&str]) -> Self {
        self.wrapper = program.iter().map(OsString::from).collect();
        self
    }

    /// Starts reading the engine's stdout only after `delay`, like a slow consumer.
    pub fn stdout_delay(mut self, delay: Duration) -> Self {
        self.stdout_delay = delay;
        self
    }

    /// Closes the reading end of the engine's stdout at once, like `engine run ... | head -0`.
    pub fn close_stdout(mut self) -> Self {
        self.close_stdout = true;
        self
    }

    /// Leaves out `--state-dir`, to see the default.
    pub fn default_state_dir(mut self) -> Self {
        self.state_dir = false;
        self
    }

    /// Writes the events to `name` in the temp dir instead, so that a run can go beside
    /// another.
    pub fn events(mut self, name: &str) -> Self {
        self.events = Some(self.path(name));
        self
    }

    /// The exit code it must end with (default 0).
    pub fn status(mut self, code: i32) -> Self {
        self.expect.status = Some(code);
        self
    }

    /// Any exit code will do, for a run that is stopped or that a test looks at otherwise.
    pub fn any_status(mut self) -> Self {
        self.expect.status = None;
        self
    }

    /// Exactly what stdout must be.
    pub fn stdout(mut self, text: &str) -> Self {
        self.expect.stdout = Some(text.to_owned());
        self
    }

    /// Exactly what stderr must be.
    pub fn stderr(mut self, text: &str) -> Self {
        self.expect.stderr = Some(text.to_owned());
        self
    }

    /// Text that stdout must contain.
    pub fn stdout_has(mut self, part: &str) -> Self {
        self.expect.stdout_has.push(part.to_owned());
        self
    }

    /// Text that stdout must not contain.
    pub fn stdout_lacks(mut self, part: &str) -> Self {
        self.expect.stdout_lacks.push(part.to_owned());
        self
    }

    /// Text that stderr must contain.
    pub fn stderr_has(mut self, part: &str) -> Self {
        self.expect.stderr_has.push(part.to_owned());
        self
    }

    /// Text that stderr must not contain.
    pub fn stderr_lacks(mut self, part: &str) -> Self {
        self.expect.stderr_lacks.push(part.to_owned());
        self
    }

    /// `task` must finish with this status (`succeeded`, `failed`, ...), by its
    /// `task_finished` event.
    pub fn task_status(mut self, task: &str, status: &str) -> Self {
        self.expect
            .task_status
            .push((task.to_owned(), status.to_owned()));
        self
    }

    /// `task` must be skipped for this reason (`dependency_failed`, ...).
    pub fn skipped(mut self, task: &str, reason: &str) -> Self {
        self.expect
            .skipped
            .push((task.to_owned(), reason.to_owned()));
        self
    }

    /// `task` must never start.
    pub fn not_started(mut self, task: &str) -> Self {
        self.expect.not_started.push(task.to_owned());
        self
    }

    /// The run must take less than `limit` of wall time.
    pub fn faster_than(mut self, limit: Duration) -> Self {
        self.expect.faster_than = Some(limit);
        self
    }

    /// The engine must exit less than `limit` after the last signal sent to it.
    pub fn ends_within_after_signal(mut self, limit: Duration) -> Self {
        self.expect.after_signal = Some(limit);
        self
    }

    /// The temp dir: the engine's working directory and the workflow's directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the temp dir.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The state dir given to the engine (when it is given one).
    pub fn state_dir(&self) -> PathBuf {
        self.path("state")
    }

    /// Where `--events` writes (when it is given).
    pub fn events_path(&self) -> PathBuf {
        self.path("events.jsonl")
    }

    /// Runs the engine to its end and checks everything that was declared.
    #[track_caller]
    pub fn run(&self) -> Output {
        self.spawn().wait()
    }

    /// Starts the engine without waiting for it; `Running::wait` checks the expectations.
    pub fn spawn(&self) -> Running {
        let mut command = self.command();
        let shown = format!("{command:?}");
        let mut child = command.spawn().expect("start the engine");
        let stdout = child.stdout.take().expect("piped stdout");
        let stdout = if self.close_stdout {
            drop(stdout);
            std::thread::spawn(Vec::new)
        } else {
            let delay = self.stdout_delay;
            std::thread::spawn(move || {
                std::thread::sleep(delay);
                let mut stdout = stdout;
                let mut bytes = Vec::new();
                let _ = stdout.read_to_end(&mut bytes);
                bytes
            })
        };
        Running::new(
            child,
            stdout,
            shown,
            self.watchdog,
            self.events.clone(),
            self.expect.clone(),
        )
    }

    /// The command: the wrapper, the engine and its arguments, run in the temp dir in its own
    /// process group, so that a signal sent to it reaches nothing else and the watchdog can
    /// kill it whole; no stdin, output captured, no colors.
    fn command(&self) -> Command {
        let engine = crate::engine();
        let mut command = match self.wrapper.split_first() {
            Some((program, rest)) => {
                let mut command = Command::new(program);
                command.args(rest).arg(engine);
                command
            }
            None => Command::new(engine),
        };
        if let Some(workflow) = &self.workflow {
            command.arg("run").arg(workflow);
        }
        command.args(&self.args);
        if self.state_dir {
            command.arg("--state-dir").arg(self.state_dir());
        }
        if let Some(events) = &self.events {
            command.arg("--events").arg(events);
        }
        command
            .current_dir(self.current_dir.as_deref().unwrap_or(self.dir.path()))
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("NO_COLOR", "1")
            .env_remove("CLICOLOR_FORCE")
            .envs(self.env.iter().map(|(name, value)| (name, value)));
        command
    }
}

impl Default for Test {
    fn default() -> Self {
        Self::new()
    }
}
