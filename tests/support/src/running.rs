//! `Running`: an engine started by `Test::spawn`, to signal, watch and wait for; the watchdog
//! that kills a run which never ends.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, ChildStderr};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use crate::Output;
use crate::expect::Expectations;
use crate::output::Ending;

/// An engine that is running.
#[must_use = "a started engine is checked only by `wait`"]
pub struct Running {
    child: Child,
    stdout: JoinHandle<Vec<u8>>,
    /// Its stderr so far.
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_reader: JoinHandle<()>,
    started: Instant,
    signalled: Option<Instant>,
    /// How long it may run before the test kills it and fails; `None` waits for ever.
    watchdog: Option<Duration>,
    command: String,
    events: Option<PathBuf>,
    expect: Expectations,
}

impl Running {
    pub(crate) fn new(
        mut child: Child,
        stdout: JoinHandle<Vec<u8>>,
        command: String,
        watchdog: Option<Duration>,
        events: Option<PathBuf>,
        expect: Expectations,
    ) -> Self {
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let stderr_reader = drain_into(child.stderr.take().expect("piped stderr"), &stderr);
        Self {
            child,
            stdout,
            stderr,
            stderr_reader,
            started: Instant::now(),
            signalled: None,
            watchdog,
            command,
            events,
            expect,
        }
    }

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

    /// What the engine has written to stderr so far.
    pub fn stderr_so_far(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().expect("the stderr buffer")).into_owned()
    }

    /// Waits until the engine has written `text` to stderr `times` times in all; panics
    /// after `limit`.
    #[track_caller]
    pub fn wait_for_stderr_times(&self, text: &str, times: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let so_far = self.stderr_so_far();
            if so_far.matches(text).count() >= times {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the engine did not write {text:?} {times} times to stderr within {limit:?}; it wrote:\n{so_far}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
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

    /// Waits for the engine to end (killing it after the watchdog's limit, if it has one)
    /// and checks what the test declared.
    #[track_caller]
    pub fn wait(mut self) -> Output {
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("poll the engine") {
                break status;
            }
            if let Some(limit) = self.watchdog
                && self.started.elapsed() > limit
            {
                let _ = killpg(self.pid(), Signal::SIGKILL);
                let _ = self.child.wait();
                let stderr = self.stderr.lock().expect("the stderr buffer").clone();
                panic!(
                    "the engine ran for more than {limit:?}: {}\nstderr:\n{}",
                    self.command,
                    String::from_utf8_lossy(&stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let ending = Ending {
            code: status.code(),
            signal: status.signal(),
            elapsed: self.started.elapsed(),
            after_signal: self.signalled.map(|at| at.elapsed()),
        };
        let stdout = self.stdout.join().expect("stdout reader");
        self.stderr_reader.join().expect("stderr reader");
        let stderr = std::mem::take(&mut *self.stderr.lock().expect("the stderr buffer"));
        let events = self
            .events
            .as_ref()
            .map(|path| std::fs::read_to_string(path).unwrap_or_default())
            .unwrap_or_default();
        let output = Output::new(self.command, ending, stdout, &stderr, events);
        self.expect.check(&output);
        output
    }
}

/// Appends what comes out of `pipe` to `into` as it comes, so that a test can wait for a line.
fn drain_into(mut pipe: ChildStderr, into: &Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
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
