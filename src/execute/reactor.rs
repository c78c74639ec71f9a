//! The process reactor: one epoll set, polled on the coordinator's thread, that watches the
//! output pipes and the exit of every running process task, so a process task costs no
//! thread of its own and its end wakes one thread only.
//!
//! A task's exit is seen through a pidfd, which becomes readable when the leader has exited but
//! is not yet reaped. While it is a zombie its pid, which is also the group id, cannot be
//! reused, so the reactor kills whatever the task left in its group and only then reaps it;
//! `Group::signal` takes the same lock, so nobody ever signals a recycled group id.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;
use rustix::event::{Timespec, epoll};
use rustix::process::{Pid, Signal, WaitOptions, WaitStatus, kill_process_group, waitpid};

use super::TaskLog;
use crate::events::Stream;
use crate::exchange::Doorbell;
use crate::exchange::{Exit, Message};
use crate::model::TaskId;
use crate::template::{MaskStream, Masker};

/// Longest line kept whole for display; longer ones are split (the log keeps every byte).
pub(super) const MAX_LINE: usize = 64 * 1024;

/// How long to wait for output pipes to close after the process group is gone.
const PIPE_GRACE: Duration = Duration::from_secs(2);

/// What the reactor reads at once from a pipe.
const READ_BUFFER: usize = 64 * 1024;

/// A running process group. `alive` is true until the leader is reaped.
#[derive(Debug)]
pub(super) struct Group {
    pgid: Pid,
    alive: Mutex<bool>,
}

impl Group {
    pub(super) fn new(pid: u32) -> Option<Self> {
        let pgid = Pid::from_raw(i32::try_from(pid).ok()?)?;
        Some(Self {
            pgid,
            alive: Mutex::new(true),
        })
    }

    /// The group id: the leader's pid.
    pub(super) fn pgid(&self) -> Pid {
        self.pgid
    }

    /// Sends `signal` to the whole group unless its leader was already reaped.
    pub(super) fn signal(&self, signal: Signal) {
        let alive = self.alive.lock().unwrap_or_else(PoisonError::into_inner);
        if *alive {
            let _ = kill_process_group(self.pgid, signal);
        }
    }

    /// Kills what is left of the group and reaps its leader (waiting for it if it has not
    /// exited yet), under the lock.
    pub(super) fn kill_and_reap(&self) -> std::io::Result<WaitStatus> {
        let mut alive = self.alive.lock().unwrap_or_else(PoisonError::into_inner);
        if !*alive {
            return Err(std::io::Error::other("the process was reaped already"));
        }
        let _ = kill_process_group(self.pgid, Signal::KILL);
        let status = loop {
            match waitpid(Some(self.pgid), WaitOptions::empty()) {
                Err(rustix::io::Errno::INTR) => {}
                Ok(Some((_, status))) => break Ok(status),
                Ok(None) => break Err(std::io::Error::other("the process has no status")),
                Err(error) => break Err(error.into()),
            }
        };
        *alive = false;
        status
    }
}

/// A started process task to watch.
pub(super) struct Watch {
    pub task: TaskId,
    /// The process group; its id is the leader's pid.
    pub group: Arc<Group>,
    pub pidfd: OwnedFd,
    pub stdout: File,
    pub stderr: File,
    pub log: TaskLog,
    /// Masks each stream before it reaches the log or a line.
    pub masker: Masker,
}

/// Which of a watch's descriptors an epoll event is about: the low two bits of its data.
const STDOUT: u64 = 0;
const STDERR: u64 = 1;
const EXIT: u64 = 2;
const DOORBELL: u64 = u64::MAX;

/// Watches the running process tasks with one epoll set, polled on the coordinator's thread.
pub(super) struct Reactor {
    epoll: OwnedFd,
    /// Kept alive as long as it is in the epoll set.
    doorbell: Arc<Doorbell>,
    watched: FxHashMap<u64, Watched>,
    next: u64,
    /// Tasks whose leader was reaped but whose pipes are still open, oldest first, with the
    /// moment the reactor stops waiting for them.
    lingering: VecDeque<(Instant, u64)>,
    buffer: Vec<u8>,
    events: Vec<epoll::Event>,
}

impl std::fmt::Debug for Reactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reactor")
            .field("watched", &self.watched.len())
            .finish_non_exhaustive()
    }
}

impl Reactor {
    /// A reactor whose waits also end when `doorbell` rings.
    pub(super) fn new(doorbell: Arc<Doorbell>) -> std::io::Result<Self> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        epoll::add(
            &epoll,
            doorbell.fd(),
            epoll::EventData::new_u64(DOORBELL),
            epoll::EventFlags::IN,
        )?;
        Ok(Self {
            epoll,
            doorbell,
            watched: FxHashMap::default(),
            next: 0,
            lingering: VecDeque::new(),
            buffer: vec![0; READ_BUFFER],
            events: Vec::with_capacity(256),
        })
    }

    /// Whether any task is watched.
    pub(super) fn is_idle(&self) -> bool {
        self.watched.is_empty()
    }

    /// Watches a started task. On error the task's group is killed and reaped.
    pub(super) fn watch(&mut self, watch: Watch) -> std::io::Result<()> {
        self.next += 1;
        let key = self.next << 2;
        let flags = epoll::EventFlags::IN;
        let registered = [
            (watch.stdout.as_fd(), STDOUT),
            (watch.stderr.as_fd(), STDERR),
            (watch.pidfd.as_fd(), EXIT),
        ]
        .into_iter()
        .try_for_each(|(fd, kind)| {
            epoll::add(
                &self.epoll,
                fd,
                epoll::EventData::new_u64(key | kind),
                flags,
            )
        });
        if let Err(error) = registered {
            let _ = epoll::delete(&self.epoll, &watch.stdout);
            let _ = epoll::delete(&self.epoll, &watch.stderr);
            let _ = epoll::delete(&self.epoll, &watch.pidfd);
            let _ = watch.group.kill_and_reap();
            return Err(error.into());
        }
        self.watched.insert(key, Watched::new(watch));
        Ok(())
    }

    /// Waits until a watched task prints or ends, the doorbell rings or `timeout` passes
    /// (`None`: no limit), and appends what happened to `out`: output lines, and `Finished`
    /// after a task's last output.
    ///
    /// # Errors
    /// When epoll fails: nothing more can be learnt about the watched tasks.
    pub(super) fn poll(
        &mut self,
        timeout: Option<Duration>,
        out: &mut Vec<Message>,
    ) -> std::io::Result<()> {
        let timeout = match (timeout, self.linger_left()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let timeout = timeout.map(|left| Timespec {
            tv_sec: i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(left.subsec_nanos()),
        });
        self.events.clear();
        match epoll::wait(
            &self.epoll,
            rustix::buffer::spare_capacity(&mut self.events),
            timeout.as_ref(),
        ) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(error) => return Err(error.into()),
        }
        let events = std::mem::take(&mut self.events);
        for event in &events {
            let data = event.data.u64();
            if data == DOORBELL {
                self.doorbell.clear();
            } else {
                self.handle(data & !3, data & 3, out);
            }
        }
        self.events = events;
        self.expire_lingering(out);
        Ok(())
    }

    /// How long until the oldest lingering task's grace ends.
    fn linger_left(&self) -> Option<Duration> {
        let (deadline, _) = self.lingering.front()?;
        Some(deadline.saturating_duration_since(Instant::now()))
    }

    fn handle(&mut self, key: u64, kind: u64, out: &mut Vec<Message>) {
        // Events of a task finished earlier in the same batch find nothing.
        let Some(watched) = self.watched.get_mut(&key) else {
            return;
        };
        match kind {
            STDOUT => read_pipe(
                &mut watched.stdout,
                watched.task,
                Stream::Stdout,
                &watched.log,
                out,
                &mut self.buffer,
            ),
            STDERR => read_pipe(
                &mut watched.stderr,
                watched.task,
                Stream::Stderr,
                &watched.log,
                out,
                &mut self.buffer,
            ),
            _ => {
                if watched.pidfd.take().is_some() {
                    watched.exit = Some(reap(&watched.group));
                    if watched.stdout.is_some() || watched.stderr.is_some() {
                        self.lingering.push_back((Instant::now() + PIPE_GRACE, key));
                    }
                }
            }
        }
        self.finish_if_done(key, out);
    }

    /// Reports a task whose leader was reaped and whose pipes are closed.
    fn finish_if_done(&mut self, key: u64, out: &mut Vec<Message>) {
        let done = self.watched.get(&key).is_some_and(|watched| {
            watched.exit.is_some() && watched.stdout.is_none() && watched.stderr.is_none()
        });
        if done && let Some(watched) = self.watched.remove(&key) {
            watched.log.flush();
            let exit = watched.exit.unwrap_or(Exit::Code(0));
            out.push(Message::Finished {
                task: watched.task,
                exit,
                results: Vec::new(),
            });
        }
    }

    /// Gives up on pipes still held open after their group was killed: a process that left
    /// the group (`setsid`) keeps them.
    fn expire_lingering(&mut self, out: &mut Vec<Message>) {
        let now = Instant::now();
        while let Some(&(deadline, key)) = self.lingering.front() {
            if deadline > now {
                break;
            }
            self.lingering.pop_front();
            let Some(watched) = self.watched.get_mut(&key) else {
                continue;
            };
            if let Some(mut pipe) = watched.stdout.take() {
                let _ = epoll::delete(&self.epoll, &pipe.reader);
                pipe.flush(watched.task, Stream::Stdout, &watched.log, out);
            }
            if let Some(mut pipe) = watched.stderr.take() {
                let _ = epoll::delete(&self.epoll, &pipe.reader);
                pipe.flush(watched.task, Stream::Stderr, &watched.log, out);
            }
            let note = "engine: a process that left the task's process group still holds its \
                        output open; output after this point is not shown";
            push_lines(out, watched.task, Stream::Stderr, vec![note.into()]);
            self.finish_if_done(key, out);
        }
    }
}

impl Drop for Reactor {
    /// Kills and reaps every task still watched (the run was abandoned), so that nothing is
    /// left behind.
    fn drop(&mut self) {
        for (_, watched) in self.watched.drain() {
            if watched.pidfd.is_some() {
                let _ = watched.group.kill_and_reap();
            }
            watched.log.flush();
        }
    }
}

/// A watched task.
struct Watched {
    task: TaskId,
    group: Arc<Group>,
    pidfd: Option<OwnedFd>,
    stdout: Option<Pipe<File>>,
    stderr: Option<Pipe<File>>,
    log: TaskLog,
    exit: Option<Exit>,
}

/// An open output pipe, its masking and the start of its unfinished last line.
struct Pipe<R> {
    reader: R,
    /// Secrets are masked in the stream, before it is cut into lines: a secret split across
    /// reads or across the `MAX_LINE` cut is masked whole.
    mask: MaskStream,
    /// Masked output of one read, reused.
    masked: Vec<u8>,
    pending: Vec<u8>,
}

impl<R> Pipe<R> {
    fn new(reader: R, masker: &Masker) -> Self {
        Self {
            reader,
            mask: masker.stream(),
            masked: Vec::new(),
            pending: Vec::new(),
        }
    }

    /// Masks `chunk` and hands it to the log and, as complete lines, to the coordinator.
    fn take(
        &mut self,
        chunk: &[u8],
        task: TaskId,
        stream: Stream,
        log: &TaskLog,
        out: &mut Vec<Message>,
    ) {
        self.masked.clear();
        self.mask.push(chunk, &mut self.masked);
        self.deliver(task, stream, log, out);
    }

    fn deliver(&mut self, task: TaskId, stream: Stream, log: &TaskLog, out: &mut Vec<Message>) {
        if self.masked.is_empty() {
            return;
        }
        log.write(&self.masked);
        let lines = split_lines(&mut self.pending, &self.masked);
        if !lines.is_empty() {
            push_lines(out, task, stream, lines);
        }
    }

    /// The output ended: sends what masking held back and the unfinished last line, if any.
    fn flush(&mut self, task: TaskId, stream: Stream, log: &TaskLog, out: &mut Vec<Message>) {
        self.masked.clear();
        self.mask.finish(&mut self.masked);
        self.deliver(task, stream, log, out);
        if !self.pending.is_empty() {
            push_lines(out, task, stream, vec![decode_line(&self.pending)]);
            self.pending.clear();
        }
    }
}

impl Watched {
    fn new(watch: Watch) -> Self {
        Self {
            task: watch.task,
            group: watch.group,
            pidfd: Some(watch.pidfd),
            stdout: Some(Pipe::new(watch.stdout, &watch.masker)),
            stderr: Some(Pipe::new(watch.stderr, &watch.masker)),
            log: watch.log,
            exit: None,
        }
    }
}

/// Kills the rest of an exited leader's group, reaps the leader and says how it ended.
fn reap(group: &Group) -> Exit {
    match group.kill_and_reap() {
        Ok(status) => match (status.exit_status(), status.terminating_signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(signal)) => Exit::Signal(signal),
            (None, None) => Exit::StartFailed("the process ended without a status".into()),
        },
        Err(error) => Exit::StartFailed(format!("cannot wait for the process: {error}")),
    }
}

/// Reads once from a readable pipe and closes it at its end. Closing a descriptor takes it
/// out of the epoll set: nothing else holds a copy (they are close-on-exec), so no
/// `epoll_ctl` call is needed.
fn read_pipe<R: Read>(
    slot: &mut Option<Pipe<R>>,
    task: TaskId,
    stream: Stream,
    log: &TaskLog,
    out: &mut Vec<Message>,
    buffer: &mut [u8],
) {
    if let Some(pipe) = slot
        && !read_some(task, pipe, stream, log, out, buffer)
    {
        *slot = None;
    }
}

/// Reads once from a readable pipe: masked bytes to the log, complete lines to the
/// coordinator.
/// Returns false at the end of the output (or on an error, which ends it too); the pipe's
/// unfinished last line is sent then.
fn read_some<R: Read>(
    task: TaskId,
    pipe: &mut Pipe<R>,
    stream: Stream,
    log: &TaskLog,
    out: &mut Vec<Message>,
    buffer: &mut [u8],
) -> bool {
    let read = loop {
        match pipe.reader.read(buffer) {
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => return true,
            other => break other.unwrap_or(0),
        }
    };
    if read == 0 {
        pipe.flush(task, stream, log, out);
        return false;
    }
    pipe.take(&buffer[..read], task, stream, log, out);
    true
}

/// Appends `chunk` to `pending` and takes out every complete line, and pieces of `MAX_LINE`
/// bytes from a longer unfinished one.
pub(super) fn split_lines(pending: &mut Vec<u8>, chunk: &[u8]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut rest = chunk;
    while let Some(end) = rest.iter().position(|&b| b == b'\n') {
        pending.extend_from_slice(&rest[..end]);
        lines.push(decode_line(pending));
        pending.clear();
        rest = &rest[end + 1..];
    }
    pending.extend_from_slice(rest);
    while pending.len() >= MAX_LINE {
        lines.push(decode_line(&pending[..MAX_LINE]));
        pending.drain(..MAX_LINE);
    }
    lines
}

fn push_lines(out: &mut Vec<Message>, task: TaskId, stream: Stream, lines: Vec<String>) {
    out.push(Message::Output {
        task,
        stream,
        lines,
    });
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
        let mut pending = Vec::new();
        let mut lines = split_lines(&mut pending, b"one\r\ntwo\n\xff\xfe bad\nno new");
        lines.extend(split_lines(&mut pending, b"line"));
        assert_eq!(lines, ["one", "two", "\u{fffd}\u{fffd} bad"]);
        assert_eq!(pending, b"no newline");
        let long = vec![b'x'; MAX_LINE + 10];
        let lines = split_lines(&mut pending, &long);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].len(), MAX_LINE);
        assert!(lines[0].starts_with("no newlinex"));
        assert_eq!(pending.len(), 10 + "no newline".len());
    }

    #[test]
    fn a_task_is_reported_after_all_its_output() {
        let (_outbox, inbox) = crate::exchange::Inbox::new(1).expect("inbox");
        let mut reactor = Reactor::new(Arc::clone(inbox.doorbell())).expect("reactor");
        let dir = tempfile::tempdir().expect("temp dir");
        for (index, script) in ["printf 'a\\nb'; echo c >&2; exit 3", "kill -9 $$"]
            .into_iter()
            .enumerate()
        {
            let spawned = super::super::spawn::Spawner::new()
                .expect("spawner")
                .spawn(&super::super::spawn::Invocation {
                    argv: ["sh", "-c", script].map(Into::into).into(),
                    env: Vec::new(),
                    cwd: dir.path().to_path_buf(),
                })
                .expect("spawn");
            let group = Arc::new(Group::new(spawned.pid).expect("pid"));
            let pidfd =
                rustix::process::pidfd_open(group.pgid(), rustix::process::PidfdFlags::empty())
                    .expect("pidfd");
            reactor
                .watch(Watch {
                    task: TaskId(u32::try_from(index).expect("small")),
                    group,
                    pidfd,
                    stdout: spawned.stdout,
                    stderr: spawned.stderr,
                    log: TaskLog::new(dir.path().join(format!("{index}.log"))),
                    masker: Masker::none(),
                })
                .expect("watch");
        }
        let mut seen: Vec<Vec<String>> = vec![Vec::new(), Vec::new()];
        let mut exits = vec![None, None];
        let mut out = Vec::new();
        let give_up = Instant::now() + Duration::from_secs(10);
        while exits.iter().any(Option::is_none) {
            assert!(Instant::now() < give_up, "the tasks were not reported");
            reactor
                .poll(Some(Duration::from_secs(1)), &mut out)
                .expect("poll");
            for message in out.drain(..) {
                match message {
                    Message::Output { task, lines, .. } => {
                        assert!(exits[task.index()].is_none(), "output after the end");
                        seen[task.index()].extend(lines);
                    }
                    Message::Finished { task, exit, .. } => exits[task.index()] = Some(exit),
                    Message::Interrupt
                    | Message::Superseded { .. }
                    | Message::Job { .. }
                    | Message::Recorded { .. }
                    | Message::Filed { .. } => {
                        unreachable!()
                    }
                }
            }
        }
        assert!(reactor.is_idle());
        seen[0].sort();
        assert_eq!(seen[0], ["a", "b", "c"]);
        assert_eq!(exits, [Some(Exit::Code(3)), Some(Exit::Signal(9))]);
        let log = std::fs::read(dir.path().join("0.log")).expect("log");
        assert_eq!(log.len(), "a\nbc\n".len());
    }
}
