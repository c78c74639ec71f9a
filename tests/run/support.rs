//! The builder every test here uses: a workflow in a fresh temp dir, the arguments of one
//! `engine run`, and the expectations on what came out. Also helpers to wait for files and to
//! check that a process is gone.

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use serde_json::Value;

/// How long any one run may take before the test kills it and fails.
const WATCHDOG: Duration = Duration::from_secs(120);

/// One `engine run` of one workflow, in its own temp dir with the state dir inside it.
pub struct Test {
    dir: tempfile::TempDir,
    workflow: PathBuf,
    args: Vec<String>,
    env: Vec<(String, std::ffi::OsString)>,
    wrapper: Vec<String>,
    state_dir: bool,
    stdout_delay: Duration,
    close_stdout: bool,
}

impl Test {
    /// A test of `yaml`, written to `workflow.yaml` in a new temp dir.
    pub fn new(yaml: &str) -> Self {
        let mut test = Self::existing(Path::new("workflow.yaml"));
        test.workflow = test.path("workflow.yaml");
        std::fs::write(&test.workflow, yaml).expect("write the workflow");
        test
    }

    /// A test of an existing workflow file, run where it is, from a new temp dir (which holds
    /// the state dir and the events file).
    pub fn existing(workflow: &Path) -> Self {
        Self {
            dir: tempfile::tempdir().expect("create a temp dir"),
            workflow: workflow.to_path_buf(),
            args: Vec::new(),
            env: Vec::new(),
            wrapper: Vec::new(),
            state_dir: true,
            stdout_delay: Duration::ZERO,
            close_stdout: false,
        }
    }

    /// The temp dir: the engine's working directory, and the workflow's directory for `new`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the temp dir.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Writes a file into the temp dir (directories are created).
    pub fn file(self, relative: &str, contents: &str) -> Self {
        let path = self.path(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create the file's directory");
        }
        std::fs::write(path, contents).expect("write the file");
        self
    }

    /// Adds arguments after `engine run FILE`.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable of the engine.
    pub fn env(mut self, name: &str, value: impl Into<std::ffi::OsString>) -> Self {
        self.env.push((name.to_owned(), value.into()));
        self
    }

    /// Runs the engine under another program, like `/usr/bin/time`.
    pub fn wrapper(mut self, program: &[&str]) -> Self {
        self.wrapper = program.iter().map(|s| (*s).to_owned()).collect();
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

    /// The state dir given to the engine.
    pub fn state_dir(&self) -> PathBuf {
        self.path("state")
    }

    /// Where `--events` writes.
    pub fn events_path(&self) -> PathBuf {
        self.path("events.jsonl")
    }

    fn command(&self) -> Command {
        self.command_with(&[], &self.events_path())
    }

    fn command_with(&self, extra: &[&str], events: &Path) -> Command {
        self.command_of(&self.workflow, extra, events)
    }

    fn command_of(&self, workflow: &Path, extra: &[&str], events: &Path) -> Command {
        let engine = env!("CARGO_BIN_EXE_engine");
        let mut command = match self.wrapper.split_first() {
            Some((program, rest)) => {
                let mut command = Command::new(program);
                command.args(rest).arg(engine);
                command
            }
            None => Command::new(engine),
        };
        command
            .arg("run")
            .arg(workflow)
            .args(&self.args)
            .args(extra);
        if self.state_dir {
            command.arg("--state-dir").arg(self.state_dir());
        }
        command.arg("--events").arg(events);
        self.isolate(&mut command);
        command
            .env_remove("NO_COLOR")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// Runs `command` in the temp dir in its own process group, so that a signal sent to it
    /// reaches nothing else and the watchdog can kill it whole; no stdin, output captured.
    fn isolate(&self, command: &mut Command) {
        command
            .current_dir(self.dir.path())
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
    }

    /// Starts the engine without waiting for it.
    pub fn spawn(&self) -> Running {
        self.start(self.command(), self.events_path())
    }

    /// Starts `engine run` again in the same temp dir and state dir, with `extra` after the
    /// arguments given to `args`, writing its events to `events` (a file in the temp dir) so
    /// that it can run beside another.
    pub fn spawn_with(&self, extra: &[&str], events: &str) -> Running {
        let events = self.path(events);
        self.start(self.command_with(extra, &events), events)
    }

    /// Starts `engine run` of another workflow file in the temp dir (`relative`), with the
    /// same arguments and state dir, writing its events to `events` (a file in the temp dir).
    pub fn spawn_workflow(&self, relative: &str, events: &str) -> Running {
        let events = self.path(events);
        self.start(self.command_of(&self.path(relative), &[], &events), events)
    }

    /// Runs `engine run` to its end, with `extra` after the arguments given to `args`.
    pub fn run_with(&self, extra: &[&str]) -> Run {
        let events = self.events_path();
        self.start(self.command_with(extra, &events), events).wait()
    }

    /// Runs any `engine` command to its end in the temp dir: `args` as given (the workflow is
    /// `workflow.yaml` there), then `--state-dir` unless `default_state_dir`. Its `Run` has no
    /// events.
    pub fn engine(&self, args: &[&str]) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_engine"));
        command.args(args);
        if self.state_dir {
            command.arg("--state-dir").arg(self.state_dir());
        }
        self.isolate(&mut command);
        command.env("NO_COLOR", "1");
        self.start(command, PathBuf::new()).wait()
    }

    fn start(&self, mut command: Command, events: PathBuf) -> Running {
        let mut child = command.spawn().expect("start the engine");
        let stdout = drain(
            child.stdout.take().expect("piped stdout"),
            self.stdout_delay,
        );
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let stderr_reader = drain_into(child.stderr.take().expect("piped stderr"), &stderr);
        Running {
            child,
            stdout,
            stderr,
            stderr_reader,
            started: Instant::now(),
            signalled: None,
            events,
        }
    }

    /// Runs the engine to its end.
    pub fn run(&self) -> Run {
        self.spawn().wait()
    }
}

fn drain(mut pipe: impl Read + Send + 'static, delay: Duration) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

/// Appends what comes out of `pipe` to `into` as it comes, so that a test can wait for a line.
fn drain_into(mut pipe: impl Read + Send + 'static, into: &Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
    let into = Arc::clone(into);
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(n @ 1..) = pipe.read(&mut buffer) {
            into.lock()
                .expect("the stderr buffer")
                .extend_from_slice(&buffer[..n]);
        }
    })
}

/// An engine that is running.
pub struct Running {
    child: Child,
    stdout: JoinHandle<Vec<u8>>,
    /// Its stderr so far.
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_reader: JoinHandle<()>,
    started: Instant,
    signalled: Option<Instant>,
    events: PathBuf,
}

impl Running {
    /// The engine's process id.
    pub fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).expect("a pid fits in i32"))
    }

    /// Sends a signal to the engine alone.
    pub fn signal(&mut self, signal: Signal) {
        self.signalled = Some(Instant::now());
        kill(self.pid(), signal).expect("signal the engine");
    }

    /// Whether the engine has exited (without reaping it).
    pub fn has_exited(&mut self) -> bool {
        self.child.try_wait().expect("poll the engine").is_some()
    }

    /// Waits until the engine has written `text` to stderr; panics after `limit`.
    #[track_caller]
    pub fn wait_for_stderr(&self, text: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let so_far = String::from_utf8_lossy(&self.stderr.lock().expect("the stderr buffer"))
                .into_owned();
            if so_far.contains(text) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the engine did not write {text:?} to stderr within {limit:?}; it wrote:\n{so_far}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for the engine to end (killing it after the watchdog's limit).
    pub fn wait(mut self) -> Run {
        let deadline = self.started + WATCHDOG;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("poll the engine") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = killpg(self.pid(), Signal::SIGKILL);
                let _ = self.child.wait();
                let stderr = self.stderr.lock().expect("the stderr buffer").clone();
                panic!(
                    "the engine ran for more than {WATCHDOG:?}; stderr:\n{}",
                    String::from_utf8_lossy(&stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let elapsed = self.started.elapsed();
        let after_signal = self.signalled.map(|at| at.elapsed());
        let stdout = self.stdout.join().expect("stdout reader");
        self.stderr_reader.join().expect("stderr reader");
        let stderr = std::mem::take(&mut *self.stderr.lock().expect("the stderr buffer"));
        Run {
            code: status.code(),
            signal: status.signal(),
            stdout,
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            elapsed,
            after_signal,
            events: std::fs::read_to_string(&self.events).unwrap_or_default(),
        }
    }
}

/// What one run of the engine came to.
pub struct Run {
    code: Option<i32>,
    signal: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
    /// Wall time from spawn to exit.
    pub elapsed: Duration,
    /// Wall time from the last signal sent to the engine to its exit.
    after_signal: Option<Duration>,
    events: String,
}

impl Run {
    fn context(&self) -> String {
        let mut stdout = self.stdout();
        if stdout.len() > 4000 {
            let mut end = 4000;
            while !stdout.is_char_boundary(end) {
                end -= 1;
            }
            stdout.truncate(end);
            stdout.push_str("\n...");
        }
        format!(
            "exit code: {:?} (signal {:?}), {:?} ({:?} after the signal)\n--- stdout ---\n{stdout}\n--- stderr ---\n{}\n--- events ---\n{}",
            self.code, self.signal, self.elapsed, self.after_signal, self.stderr, self.events
        )
    }

    /// Panics with `message` and everything the run printed.
    #[track_caller]
    pub fn fail(&self, message: &str) -> ! {
        panic!("{message}\n{}", self.context());
    }

    /// Expects this exit code.
    #[track_caller]
    pub fn code(&self, code: i32) -> &Self {
        if self.code != Some(code) {
            self.fail(&format!("expected exit code {code}"));
        }
        self
    }

    /// Standard output, with invalid UTF-8 replaced.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Standard output as bytes.
    pub fn stdout_bytes(&self) -> &[u8] {
        &self.stdout
    }

    /// Standard error.
    pub fn stderr(&self) -> &str {
        &self.stderr
    }

    /// Expects stdout to contain `text`.
    #[track_caller]
    pub fn stdout_has(&self, text: &str) -> &Self {
        if !self.stdout().contains(text) {
            self.fail(&format!("expected stdout to contain {text:?}"));
        }
        self
    }

    /// Expects stdout not to contain `text`.
    #[track_caller]
    pub fn stdout_lacks(&self, text: &str) -> &Self {
        if self.stdout().contains(text) {
            self.fail(&format!("expected stdout not to contain {text:?}"));
        }
        self
    }

    /// Expects stderr to contain `text`.
    #[track_caller]
    pub fn stderr_has(&self, text: &str) -> &Self {
        if !self.stderr.contains(text) {
            self.fail(&format!("expected stderr to contain {text:?}"));
        }
        self
    }

    /// Expects stderr not to contain `text`.
    #[track_caller]
    pub fn stderr_lacks(&self, text: &str) -> &Self {
        if self.stderr.contains(text) {
            self.fail(&format!("expected stderr not to contain {text:?}"));
        }
        self
    }

    /// Expects the run to have taken less than `limit` of wall time.
    #[track_caller]
    pub fn faster_than(&self, limit: Duration) -> &Self {
        if self.elapsed >= limit {
            self.fail(&format!("expected the run to take less than {limit:?}"));
        }
        self
    }

    /// Expects the engine to have exited less than `limit` after the last signal sent to it.
    #[track_caller]
    pub fn ended_within_after_signal(&self, limit: Duration) -> &Self {
        match self.after_signal {
            Some(took) if took < limit => self,
            Some(took) => self.fail(&format!(
                "ended {took:?} after the signal, not within {limit:?}"
            )),
            None => self.fail("no signal was sent"),
        }
    }

    /// Every event of `--events`, parsed (the file is always written by these tests).
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
    pub fn events_of(&self, kind: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["event"] == kind)
            .collect()
    }

    /// The `task_finished` event of `task`.
    #[track_caller]
    pub fn finished(&self, task: &str) -> Value {
        self.events_of("task_finished")
            .into_iter()
            .find(|e| e["task"] == task)
            .unwrap_or_else(|| self.fail(&format!("no task_finished event for `{task}`")))
    }

    /// Expects `task` to have finished with this status (`succeeded`, `failed`, ...).
    #[track_caller]
    pub fn status(&self, task: &str, status: &str) -> &Self {
        if self.finished(task)["status"] != status {
            self.fail(&format!("expected `{task}` to end with status `{status}`"));
        }
        self
    }

    /// Expects `task` to have been skipped for this reason (`dependency_failed`, ...).
    #[track_caller]
    pub fn skipped(&self, task: &str, reason: &str) -> &Self {
        let found = self
            .events_of("task_skipped")
            .into_iter()
            .any(|e| e["task"] == task && e["reason"] == reason);
        if !found {
            self.fail(&format!("expected `{task}` to be skipped with `{reason}`"));
        }
        self
    }

    /// Expects `task` never to have started.
    #[track_caller]
    pub fn not_started(&self, task: &str) -> &Self {
        if self.started_order().iter().any(|t| t == task) {
            self.fail(&format!("expected `{task}` not to start"));
        }
        self
    }

    /// The tasks skipped for `reason` (`up_to_date`, `resumed`, ...), in order.
    pub fn skipped_for(&self, reason: &str) -> Vec<String> {
        self.events_of("task_skipped")
            .iter()
            .filter(|e| e["reason"] == reason)
            .map(|e| e["task"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// The tasks in the order they started.
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

/// Waits until `path` exists; panics after `limit`.
#[track_caller]
pub fn wait_for_file(path: &Path, limit: Duration) {
    let deadline = Instant::now() + limit;
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "`{}` did not appear within {limit:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Reads a pid that a task wrote to a file.
#[track_caller]
pub fn read_pid(path: &Path) -> i32 {
    wait_for_file(path, Duration::from_secs(10));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // The file may exist before the shell has finished writing it.
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Ok(pid) = text.trim().parse() {
            return pid;
        }
        assert!(
            Instant::now() < deadline,
            "no pid in `{}`: {text:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether the process `pid` runs `comm` and has not exited. A zombie counts as gone: it
/// runs nothing, and once the engine is gone it waits for init to reap it. Checking the name
/// keeps a recycled pid from passing for the process.
pub fn is_alive(pid: i32, comm: &str) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // `pid (comm) state ...`; the name may itself hold spaces or parentheses.
    let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
        return false;
    };
    let name = &stat[open + 1..close];
    let state = stat[close + 1..].trim_start().chars().next();
    name == comm && state != Some('Z') && state != Some('X')
}

/// Expects the process `pid` (running `comm`) to be gone within `limit`.
#[track_caller]
pub fn assert_gone(pid: i32, comm: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    while is_alive(pid, comm) {
        if Instant::now() > deadline {
            // Do not leave it behind for the next test run.
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            panic!("process {pid} ({comm}) is still alive after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
