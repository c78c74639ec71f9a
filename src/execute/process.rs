//! Process tasks: each in its own process group, stdin from /dev/null, output piped and read
//! line by line, the whole group killed when the task ends or is stopped.

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::Sender;
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{Id, WaitPidFlag, waitid};
use nix::unistd::Pid;

use super::argv::direct_argv;
use super::{Exit, Message, RunContext, TaskLog, Termination};
use crate::events::Stream;
use crate::model::{Command as TaskCommand, Task, TaskId};

/// Longest line kept whole for display; longer ones are split (the log keeps every byte).
const MAX_LINE: usize = 64 * 1024;

/// How long to wait for output pipes to close after the process group is gone.
const PIPE_GRACE: Duration = Duration::from_secs(2);

/// A running process group. `alive` is true until the leader is reaped: while it is a zombie
/// its pid cannot be reused, so signalling the group under this lock is always safe.
#[derive(Debug)]
struct Group {
    pgid: Pid,
    alive: Mutex<bool>,
}

impl Group {
    fn signal(&self, signal: Signal) {
        let alive = self
            .alive
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *alive {
            let _ = killpg(self.pgid, signal);
        }
    }
}

/// Starts process tasks and signals their groups.
#[derive(Debug)]
pub struct ProcessExecutor {
    context: Arc<RunContext>,
    running: HashMap<TaskId, Arc<Group>>,
    worker: std::path::PathBuf,
}

impl ProcessExecutor {
    /// An executor for one run.
    #[must_use]
    pub fn new(context: Arc<RunContext>) -> Self {
        // The worker for `script` tasks with `isolation: process` is this same binary.
        let worker = std::env::current_exe().unwrap_or_else(|_| "engine".into());
        Self {
            context,
            running: HashMap::new(),
            worker,
        }
    }

    fn command(&self, task: &Task) -> Command {
        let mut command = match &task.command {
            TaskCommand::Shell { run, shell } => {
                match direct_argv(run).filter(|_| &**shell == "sh") {
                    // No shell syntax: exec the program itself, as make does.
                    Some(words) => {
                        let mut command = Command::new(words[0]);
                        command.args(&words[1..]);
                        command
                    }
                    None => {
                        let mut command = Command::new(&**shell);
                        command.arg("-c").arg(&**run);
                        command
                    }
                }
            }
            TaskCommand::Script { .. } | TaskCommand::None => {
                let mut command = Command::new(&self.worker);
                command
                    .arg("__script")
                    .arg(&self.context.workflow_path)
                    .arg(&task.name);
                command
            }
        };
        // `process_group(0)` keeps std's posix_spawn fast path; a `pre_exec` closure would not.
        command
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .current_dir(&task.cwd)
            .envs(task.env.iter().map(|(k, v)| (k, v)))
            .env("ENGINE_TASK", &task.name)
            .env("ENGINE_WORKFLOW", &self.context.workflow_path)
            .env("ENGINE_RUN_ID", &self.context.run_id);
        command
    }

    /// Starts a process task.
    pub fn start(&mut self, task: &Task) -> Result<Option<u32>, String> {
        let mut child = self
            .command(task)
            .spawn()
            .map_err(|error| spawn_error(task, &error))?;
        let pid = child.id();
        let group = Arc::new(Group {
            pgid: Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX)),
            alive: Mutex::new(true),
        });
        self.running.insert(task.id, Arc::clone(&group));
        let log = Arc::new(TaskLog::new(
            self.context.log_dir.join(format!("{}.log", task.name)),
        ));
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let sender = self.context.sender.clone();
        let id = task.id;
        std::thread::Builder::new()
            .name(format!("task-{}", task.name))
            .spawn(move || supervise(id, child, &group, Pipes { stdout, stderr }, &log, &sender))
            .map_err(|error| format!("cannot start a supervisor thread: {error}"))?;
        Ok(Some(pid))
    }

    /// Forgets a task that ended.
    pub fn finished(&mut self, task: TaskId) {
        self.running.remove(&task);
    }

    /// Signals a task's process group.
    pub fn terminate(&mut self, task: TaskId, how: Termination) {
        if let Some(group) = self.running.get(&task) {
            group.signal(match how {
                Termination::Graceful => Signal::SIGTERM,
                Termination::Kill => Signal::SIGKILL,
            });
        }
    }
}

fn spawn_error(task: &Task, error: &std::io::Error) -> String {
    if !task.cwd.is_dir() {
        return format!(
            "cannot start: the working directory `{}` does not exist",
            task.cwd.display()
        );
    }
    let TaskCommand::Shell { run, shell } = &task.command else {
        return format!("cannot start: {error}");
    };
    // The program run directly, when the command needed no shell.
    let program = direct_argv(run)
        .filter(|_| &**shell == "sh")
        .map(|words| words[0]);
    match (program, error.kind()) {
        (Some(program), std::io::ErrorKind::NotFound) => format!("command not found: `{program}`"),
        (Some(program), std::io::ErrorKind::PermissionDenied) => {
            format!("cannot start `{program}`: permission denied (is it executable?)")
        }
        (None, std::io::ErrorKind::NotFound) => {
            format!("cannot start: the shell `{shell}` was not found")
        }
        _ => format!("cannot start: {error}"),
    }
}

struct Pipes {
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
}

/// Reads the child's output, waits for it, kills whatever is left of its group, reaps it and
/// reports how it ended.
fn supervise(
    task: TaskId,
    mut child: Child,
    group: &Group,
    pipes: Pipes,
    log: &Arc<TaskLog>,
    sender: &Sender<Message>,
) {
    let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(2);
    let mut readers = 0;
    if let Some(stdout) = pipes.stdout {
        readers += spawn_reader(task, stdout, Stream::Stdout, log, sender, &done_tx);
    }
    if let Some(stderr) = pipes.stderr {
        readers += spawn_reader(task, stderr, Stream::Stderr, log, sender, &done_tx);
    }
    drop(done_tx);
    // Wait for the leader to exit without reaping it, so that its pid (the group id) stays
    // reserved while we kill whatever it left behind in its group.
    while let Err(nix::errno::Errno::EINTR) = waitid(
        Id::Pid(group.pgid),
        WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT,
    ) {}
    let status = {
        let mut alive = group
            .alive
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = killpg(group.pgid, Signal::SIGKILL);
        let status = child.wait();
        *alive = false;
        status
    };
    let mut note = None;
    for _ in 0..readers {
        if done_rx.recv_timeout(PIPE_GRACE).is_err() {
            note = Some("a process that left the task's process group still holds its output open; output after this point is not shown".to_owned());
            break;
        }
    }
    log.flush();
    let exit = match status {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(signal)) => Exit::Signal(signal),
            (None, None) => Exit::StartFailed("the process ended without a status".into()),
        },
        Err(error) => Exit::StartFailed(format!("cannot wait for the process: {error}")),
    };
    if let Some(note) = note {
        let _ = sender.send(Message::Output {
            task,
            stream: Stream::Stderr,
            lines: vec![format!("engine: {note}")],
        });
    }
    let _ = sender.send(Message::Finished { task, exit });
}

/// Starts a thread that forwards one pipe's lines; returns 1 when it started.
fn spawn_reader<R: Read + Send + 'static>(
    task: TaskId,
    pipe: R,
    stream: Stream,
    log: &Arc<TaskLog>,
    sender: &Sender<Message>,
    done: &Sender<()>,
) -> usize {
    let log = Arc::clone(log);
    let sender = sender.clone();
    let done = done.clone();
    let spawned = std::thread::Builder::new()
        .name("task-output".into())
        .spawn(move || {
            forward_lines(task, pipe, stream, &log, &sender);
            let _ = done.send(());
        });
    usize::from(spawned.is_ok())
}

/// Reads a pipe to its end: raw bytes to the log, complete lines to the coordinator.
fn forward_lines(
    task: TaskId,
    mut pipe: impl Read,
    stream: Stream,
    log: &TaskLog,
    sender: &Sender<Message>,
) {
    let mut buffer = vec![0u8; 64 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let read = match pipe.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let chunk = &buffer[..read];
        log.write(chunk);
        let mut lines = Vec::new();
        let mut rest = chunk;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            pending.extend_from_slice(&rest[..end]);
            lines.push(decode_line(&pending));
            pending.clear();
            rest = &rest[end + 1..];
        }
        pending.extend_from_slice(rest);
        while pending.len() >= MAX_LINE {
            lines.push(decode_line(&pending[..MAX_LINE]));
            pending.drain(..MAX_LINE);
        }
        if !lines.is_empty()
            && sender
                .send(Message::Output {
                    task,
                    stream,
                    lines,
                })
                .is_err()
        {
            return;
        }
    }
    if !pending.is_empty() {
        let _ = sender.send(Message::Output {
            task,
            stream,
            lines: vec![decode_line(&pending)],
        });
    }
}

/// A line for display: invalid UTF-8 replaced, a trailing `\r` dropped.
fn decode_line(bytes: &[u8]) -> String {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_decoded_and_bounded() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let dir = tempfile::tempdir().expect("temp dir");
        let log = TaskLog::new(dir.path().join("t.log"));
        let mut input = b"one\r\ntwo\n\xff\xfe bad\nno newline".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_LINE + 10));
        forward_lines(TaskId(0), input.as_slice(), Stream::Stdout, &log, &tx);
        drop(tx);
        let lines: Vec<String> = rx
            .iter()
            .flat_map(|message| match message {
                Message::Output { lines, .. } => lines,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(lines[..3], ["one", "two", "\u{fffd}\u{fffd} bad"]);
        assert_eq!(lines[3].len(), MAX_LINE);
        assert!(lines[3].starts_with("no newline"));
        assert_eq!(lines[4], "x".repeat(10 + "no newline".len()));
        log.flush();
        assert_eq!(
            std::fs::read(dir.path().join("t.log")).expect("log").len(),
            input.len()
        );
    }
}
