//! `Journal`: what the gate (`record::Gate`) tells the run record, written by one thread that
//! commits in groups; and `Checker`, what deciding whether a task runs reads of it, shared
//! with the threads that check tasks.
//!
//! Each commit is in the WAL when it returns (`synchronous = NORMAL`: it survives the engine
//! being killed; the disk is flushed at checkpoints), and costs a transaction, so the writer
//! thread takes everything queued since its last commit into the next one, at least every
//! `GATHER`: a thousand tasks ending at once cost one commit, not a thousand; handing writes
//! over wakes the writer only when it waits for them (`Mailbox`). Writes are
//! committed in the order they were queued. When the coordinator waits for a commit (a task
//! with outputs starts only once the record holds them incomplete), it asks for one now
//! (`Write::Flush`), and the writer tells it when the commit is made (`Message::Recorded`).

use std::path::PathBuf;
use std::thread::JoinHandle;

use rustc_hash::{FxHashMap, FxHashSet};

use super::fresh::{self, Parts, Why};
use super::mailbox::Mailbox;
use super::reserve::Reserve;
use super::state::{AttemptStatus, RunOutcome};
use super::store::StoreError;
use super::store::{self, AttemptRow, Counts, RunRow, Store, Success, now_ms};
use crate::events::{SkipReason, TaskStatus};
use crate::exchange::{JobPhase, Launch, Message, Outbox, Results};
use crate::files::{Digest, DigestCache, FileDigest, Learned, SETTLED};
use crate::model::{Task, TaskId};
use crate::state_dir::StateDir;

/// Which tasks `--force` reruns.
#[derive(Clone, Debug, Default)]
pub enum Forced {
    /// None: up-to-date tasks are skipped.
    #[default]
    None,
    /// Every task.
    All,
    /// These tasks (the named ones and everything that depends on them).
    Tasks(FxHashSet<TaskId>),
}

impl Forced {
    fn contains(&self, task: TaskId) -> bool {
        match self {
            Self::None => false,
            Self::All => true,
            Self::Tasks(tasks) => tasks.contains(&task),
        }
    }
}

/// What a task left in the run being resumed.
#[derive(Clone, Debug)]
pub struct Done {
    /// The run it finished in (for a task carried over from run to run, the first).
    pub run: String,
    /// Its fingerprint then.
    pub fingerprint: Digest,
    /// The digest of its outputs then.
    pub outputs: Digest,
    /// Its results.
    pub results: Results,
}

/// The run being resumed: the tasks it finished.
#[derive(Clone, Debug, Default)]
pub struct Resume {
    /// Its id.
    pub run: String,
    /// Its finished tasks by name.
    pub done: FxHashMap<String, Done>,
}

/// Reads the tasks a recorded run finished (succeeded, was up to date, or carried over from
/// a run it resumed).
///
/// # Errors
/// What the store said.
pub fn finished_tasks(store: &Store, run: &str) -> Result<Resume, super::StoreError> {
    let mut done = FxHashMap::default();
    for row in store.attempts(run)? {
        // A word this engine does not know is not a finished task.
        let Ok(status) = row.state() else {
            continue;
        };
        if !status.is_done() {
            continue;
        }
        if let (Some(fingerprint), Some(outputs)) = (row.fingerprint, row.outputs) {
            let results = row
                .results
                .as_deref()
                .and_then(|text| serde_json::from_str(text).ok())
                .unwrap_or_default();
            // A carried-over task's reason names the run it finished in.
            let finished_in = match (status, row.reason) {
                (AttemptStatus::Resumed, Some(first)) => first,
                _ => run.to_owned(),
            };
            done.insert(
                row.task,
                Done {
                    run: finished_in,
                    fingerprint,
                    outputs,
                    results,
                },
            );
        }
    }
    Ok(Resume {
        run: run.to_owned(),
        done,
    })
}

/// A task checked before it runs.
#[derive(Clone, Debug)]
pub struct Checked {
    /// What went into its fingerprint.
    pub parts: Parts,
    /// Its fingerprint.
    pub fingerprint: Digest,
    /// What to do with it.
    pub decision: Decision,
    /// Its first attempt's launch, templates filled in: what it was checked with is what
    /// starts.
    pub launch: Launch,
}

impl Checked {
    /// Its output patterns, templates filled in.
    #[must_use]
    pub fn outputs(&self) -> &[String] {
        self.launch
            .files
            .as_deref()
            .map_or(&[], |files| &files.outputs)
    }

    /// Its working directory, templates filled in.
    #[must_use]
    pub fn cwd(&self) -> &std::path::Path {
        &self.launch.cwd
    }

    /// Its `depfile`, templates filled in.
    #[must_use]
    pub fn depfile(&self) -> Option<&str> {
        self.launch
            .files
            .as_deref()
            .and_then(|files| files.depfile.as_deref())
    }
}

/// Whether a task runs.
#[derive(Clone, Debug)]
pub enum Decision {
    /// It runs, for this reason.
    Run(Why),
    /// It is up to date: its last success stands, with these outputs and results.
    UpToDate {
        /// The digest of its outputs.
        outputs: Digest,
        /// Its results.
        results: Results,
    },
    /// The run being resumed finished it.
    Resumed {
        /// That run.
        run: String,
        /// The digest of its outputs.
        outputs: Digest,
        /// Its results.
        results: Results,
    },
}

/// What deciding whether a task runs reads of the record (its last successes, the run being
/// resumed, `--force`, the digests of files known unchanged): shared with the threads that
/// check tasks off the coordinator's thread.
#[derive(Debug)]
pub struct Checker {
    successes: FxHashMap<String, Success>,
    files: std::sync::Arc<DigestCache>,
    resume: Option<Resume>,
    forced: Forced,
    /// The workflow's directory: working directories are fingerprinted relative to it.
    workflow_dir: PathBuf,
}

impl Checker {
    /// Decides whether a ready task runs: done in the run being resumed, forced, up to date.
    ///
    /// # Errors
    /// An input is missing or unreadable: the task fails with this message.
    pub fn check(
        &self,
        task: &Task,
        launch: Launch,
        deps: &[(String, Digest)],
    ) -> Result<Checked, String> {
        let last = self.successes.get(&task.name);
        let parts = Parts::of(
            task,
            &launch,
            &self.workflow_dir,
            deps,
            last,
            Some(&*self.files),
        )
        .map_err(|error| format!("cannot read its inputs: {error}"))?;
        let fingerprint = parts.fingerprint();
        let resumed = self
            .resume
            .as_ref()
            .and_then(|resume| Some((resume, resume.done.get(&task.name)?)))
            .filter(|(_, done)| done.fingerprint == fingerprint)
            // Outputs deleted or changed since that run are made again.
            .filter(|(_, done)| self.outputs_intact(&launch, done));
        let decision = if let Some((_, done)) = resumed {
            Decision::Resumed {
                run: done.run.clone(),
                outputs: done.outputs,
                results: done.results.clone(),
            }
        } else if self.forced.contains(task.id) {
            Decision::Run(Why::Forced)
        } else {
            match fresh::up_to_date(
                launch.files.as_deref(),
                &launch.cwd,
                &parts,
                &fingerprint,
                last,
                Some(&*self.files),
            ) {
                Ok(()) => {
                    let last = last.map_or_else(Default::default, |last| {
                        (
                            last.outputs,
                            serde_json::from_str(&last.results).unwrap_or_default(),
                        )
                    });
                    Decision::UpToDate {
                        outputs: last.0,
                        results: last.1,
                    }
                }
                Err(why) => Decision::Run(why),
            }
        };
        Ok(Checked {
            parts,
            fingerprint,
            decision,
            launch,
        })
    }

    /// Whether the outputs of a task finished in the run being resumed are still what it
    /// left (a task without outputs has nothing to lose).
    fn outputs_intact(&self, launch: &Launch, done: &Done) -> bool {
        let outputs = launch
            .files
            .as_deref()
            .map_or(&[][..], |files| &files.outputs);
        if outputs.is_empty() {
            return true;
        }
        crate::files::digest_all(&launch.cwd, outputs, Some(&*self.files))
            .is_ok_and(|now| fresh::outputs_digest(&now) == done.outputs)
    }
}

/// One write for the writer thread.
enum Write {
    Attempt(Box<AttemptRow>),
    Success(String, Box<Success>),
    Incomplete(String),
    FileDigests(Vec<Learned>),
    RunEnd {
        ended_ms: i64,
        outcome: RunOutcome,
        counts: Counts,
    },
    /// Tell the coordinator once everything before this is durable.
    Ack(u64),
    /// Commit now: the coordinator waits for an acknowledgement to go on.
    Flush,
}

/// An attempt that ended, as `Journal::ended` records it.
pub struct Ended<'a> {
    /// The task.
    pub task: &'a Task,
    /// From 1.
    pub attempt: u32,
    /// How it ended.
    pub status: &'a TaskStatus,
    /// What it returned.
    pub results: &'a Results,
    /// Its up-to-date check, with a record.
    pub checked: Option<&'a Checked>,
    /// The outputs a success made.
    pub outputs: Option<&'a [FileDigest]>,
    /// Whether it is the task's last attempt.
    pub last: bool,
}

/// The run's side of the run record, which the gate writes through (`gate::Record`).
pub struct Journal {
    run_id: String,
    durations: FxHashMap<String, u64>,
    /// Decides whether tasks run.
    checker: std::sync::Arc<Checker>,
    /// Digests of files whose stamps have not changed since they were read; shared with the
    /// threads that check tasks and digest outputs (`Gate`).
    files: std::sync::Arc<DigestCache>,
    /// The coordinator's inbox, for the file work the gate has done off its thread.
    outbox: Outbox,
    keep_incomplete: bool,
    state_dir: StateDir,
    /// The run's directory in the state dir, made once: every attempt row names its log.
    run_dir: crate::state_dir::RunDir,
    /// Files outside the state dir that the run writes (the events file).
    own_files: Vec<PathBuf>,
    /// Where the writer takes its writes from.
    mailbox: std::sync::Arc<Mailbox<Write>>,
    /// Writes not yet handed to the writer: they go over once per turn of the coordinator's
    /// loop (`submit`), which wakes the writer only if it waits for them.
    pending: Vec<Write>,
    /// The writer thread; it ends with what could not be written, if anything.
    writer: Option<JoinHandle<Option<String>>>,
    tickets: u64,
    /// The last ticket a flush was asked for.
    flushed: u64,
    counts: Counts,
    started_ms: FxHashMap<TaskId, i64>,
    /// The cluster job of a task's running attempt: its id, when it was first seen queued,
    /// and how long it waited once it started.
    jobs: FxHashMap<TaskId, (String, Option<i64>, Option<i64>)>,
    /// Masks failure reasons and results before they are written.
    masker: crate::template::Masker,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("run_id", &self.run_id)
            .finish_non_exhaustive()
    }
}

/// What a new run records about itself.
#[derive(Clone, Debug)]
pub struct RunInfo {
    /// The run's id.
    pub run_id: String,
    /// The workflow's key in the record: its path relative to the state dir
    /// (`StateDir::workflow_key`).
    pub workflow: String,
    /// The workflow's directory, absolute.
    pub workflow_dir: PathBuf,
    /// blake3 of its text, hex.
    pub workflow_hash: String,
    /// The request, as JSON.
    pub args: String,
    /// Tasks selected.
    pub tasks: usize,
    /// `--force`.
    pub forced: Forced,
    /// `--keep-incomplete`.
    pub keep_incomplete: bool,
    /// The state dir: what failed attempts leave is set aside in it.
    pub state_dir: StateDir,
    /// Files outside the state dir that the run writes (the events file): never set aside.
    pub own_files: Vec<PathBuf>,
    /// `--resume`: the run continued.
    pub resume: Option<Resume>,
    /// Whether a task of the run has `inputs` or `outputs`: without, the digests of files
    /// are not read from the record.
    pub files: bool,
}

impl Journal {
    /// Starts recording a run in `store`: the run's row is the first write. Acks go to
    /// `outbox`.
    ///
    /// # Errors
    /// The store cannot be read.
    pub fn start(
        mut store: Store,
        info: RunInfo,
        outbox: Outbox,
    ) -> Result<Self, super::StoreError> {
        let successes = store.successes(&info.workflow)?;
        let durations = store.durations(&info.workflow)?;
        let known = if info.files {
            store.file_digests()?
        } else {
            FxHashMap::default()
        };
        let files = std::sync::Arc::new(DigestCache::new(known, SETTLED));
        let mailbox = std::sync::Arc::new(Mailbox::new(MAX_BATCH));
        let run = RunRow {
            id: info.run_id.clone(),
            workflow: info.workflow.clone(),
            workflow_hash: info.workflow_hash,
            started_ms: now_ms(),
            pid: std::process::id(),
            resumed_from: info.resume.as_ref().map(|resume| resume.run.clone()),
            args: info.args,
            tasks: i64::try_from(info.tasks).unwrap_or(i64::MAX),
            ..RunRow::default()
        };
        // Durable before any task starts: whatever this run leaves behind, a later run finds
        // it by this row.
        store.transaction(|writer| writer.insert_run(&run))?;
        let reserve = Reserve::keep(&info.state_dir);
        let workflow = info.workflow.clone();
        let run_id = info.run_id.clone();
        let coordinator = outbox.clone();
        let taken = std::sync::Arc::clone(&mailbox);
        let writer = std::thread::Builder::new()
            .name("engine-record".into())
            .spawn(move || {
                Writing {
                    store,
                    reserve,
                    workflow,
                    run_id,
                    batch: Vec::new(),
                    failure: None,
                }
                .run(&taken, &outbox)
            })
            .map_err(|error| super::StoreError::Other {
                path: info.state_dir.record(),
                detail: format!("cannot start the record's writer: {error}"),
            })?;
        let run_dir = info.state_dir.run(&info.run_id);
        Ok(Self {
            run_id: info.run_id,
            durations,
            checker: std::sync::Arc::new(Checker {
                successes,
                files: std::sync::Arc::clone(&files),
                resume: info.resume,
                forced: info.forced,
                workflow_dir: info.workflow_dir,
            }),
            files,
            outbox: coordinator,
            keep_incomplete: info.keep_incomplete,
            run_dir,
            state_dir: info.state_dir,
            own_files: info.own_files,
            mailbox,
            pending: Vec::new(),
            writer: Some(writer),
            tickets: 0,
            flushed: 0,
            counts: Counts::default(),
            started_ms: FxHashMap::default(),
            jobs: FxHashMap::default(),
            masker: crate::template::Masker::none(),
        })
    }

    fn send(&mut self, write: Write) {
        self.pending.push(write);
    }

    /// Hands the writes of this turn to the writer.
    pub fn submit(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let urgent = self
            .pending
            .iter()
            .any(|write| matches!(write, Write::Flush));
        self.mailbox.post(&mut self.pending, urgent);
    }

    /// How long each task took in its last success, in milliseconds, by name.
    #[must_use]
    pub fn durations(&self) -> &FxHashMap<String, u64> {
        &self.durations
    }

    /// Masks the secrets of `masker` in what is recorded: failure reasons, results, why a
    /// task ran and the command that ran.
    #[must_use]
    pub fn masking(mut self, masker: crate::template::Masker) -> Self {
        self.masker = masker;
        self
    }

    /// Where the outputs a failed attempt of `task` created or changed are set aside:
    /// `<state dir>/incomplete/<run>/<task>/<attempt>`.
    #[must_use]
    pub fn aside_dir(&self, task: &Task, attempt: u32) -> PathBuf {
        self.state_dir.aside(&self.run_id, &task.name, attempt)
    }

    /// The task's log file, relative to the state dir (`runs/<run>/logs/<task>.log`, the
    /// task's name made one file name).
    fn log(&self, task: &Task) -> String {
        self.run_dir.recorded_log(&task.name)
    }

    /// Why a checked task runs (the `--explain` text), masked.
    fn why(&self, checked: Option<&Checked>) -> Option<String> {
        match &checked?.decision {
            Decision::Run(why) => Some(self.masker.mask(&why.to_string()).into_owned()),
            Decision::UpToDate { .. } | Decision::Resumed { .. } => None,
        }
    }

    /// The command or script a checked task runs, templates filled in (once, for every
    /// attempt), masked.
    fn command(&self, checked: Option<&Checked>) -> Option<String> {
        match &checked?.launch.command {
            crate::model::Command::None => None,
            crate::model::Command::Shell { run, .. } => Some(self.masker.mask(run).into_owned()),
            crate::model::Command::Script { source, .. } => {
                Some(self.masker.mask(source).into_owned())
            }
        }
    }

    /// An attempt starts. A task with outputs has them marked incomplete until it succeeds.
    pub fn started(&mut self, task: &Task, attempt: u32, checked: Option<&Checked>) {
        let now = now_ms();
        self.started_ms.insert(task.id, now);
        // An attempt is written when it ends; one that may leave outputs behind is written
        // when it starts too, with its outputs marked incomplete.
        if task.outputs().is_empty() {
            return;
        }
        self.send(Write::Incomplete(task.name.clone()));
        self.send(Write::Attempt(Box::new(AttemptRow {
            run: self.run_id.clone(),
            task: task.name.clone(),
            attempt,
            status: AttemptStatus::Running.as_str().to_owned(),
            started_ms: Some(now),
            fingerprint: checked.map(|checked| checked.fingerprint),
            log: Some(self.log(task)),
            why: self.why(checked),
            command: self.command(checked),
            ..AttemptRow::default()
        })));
    }

    /// A task's cluster job changed state: its id and how long it waited in the queue are
    /// kept with the attempt when it ends.
    pub fn job(&mut self, task: &Task, job_id: &str, phase: JobPhase) {
        let now = now_ms();
        let entry = self
            .jobs
            .entry(task.id)
            .or_insert_with(|| (job_id.to_owned(), None, None));
        if entry.0 != job_id {
            *entry = (job_id.to_owned(), None, None);
        }
        match phase {
            JobPhase::Queued => {
                entry.1.get_or_insert(now);
            }
            JobPhase::Started => {
                if let (Some(queued), None) = (entry.1, entry.2) {
                    entry.2 = Some((now - queued).max(0));
                }
            }
            JobPhase::Running => {}
        }
    }

    /// An attempt ended. For the task's last attempt, also its success (with the outputs it
    /// made). Returns the ticket that `Message::Recorded` acknowledges once it is durable.
    pub fn ended(&mut self, end: &Ended<'_>) -> u64 {
        let &Ended {
            task,
            attempt,
            status,
            results,
            checked,
            outputs,
            last,
        } = end;
        let ended = now_ms();
        // Each attempt's start is noted again when it starts.
        let started = self.started_ms.remove(&task.id);
        let (job_id, queued_ms) = self
            .jobs
            .remove(&task.id)
            .map_or((None, None), |(id, _, waited)| (Some(id), waited));
        let (word, exit_code, signal, reason) = match status {
            TaskStatus::Succeeded => (AttemptStatus::Succeeded, Some(0), None, None),
            TaskStatus::Failed {
                exit_code,
                signal,
                message,
            } => (
                AttemptStatus::Failed,
                *exit_code,
                *signal,
                Some(self.masker.mask(message).into_owned()),
            ),
            TaskStatus::TimedOut { .. } => (AttemptStatus::TimedOut, None, None, None),
            TaskStatus::Interrupted => (AttemptStatus::Interrupted, None, None, None),
        };
        let results_json = if results.is_empty() {
            // Most tasks set no result.
            Some("[]".to_owned())
        } else if self.masker.is_empty() {
            serde_json::to_string(results).ok()
        } else {
            let mut results = results.clone();
            crate::events::mask_results(&self.masker, &mut results);
            serde_json::to_string(&results).ok()
        };
        // A success made its outputs (none for a task without `outputs`).
        let outputs_digest = matches!(status, TaskStatus::Succeeded)
            .then(|| fresh::outputs_digest(outputs.unwrap_or_default()));
        self.send(Write::Attempt(Box::new(AttemptRow {
            run: self.run_id.clone(),
            task: task.name.clone(),
            attempt,
            status: word.as_str().to_owned(),
            reason,
            exit_code,
            signal,
            started_ms: started,
            ended_ms: Some(ended),
            fingerprint: checked.map(|checked| checked.fingerprint),
            outputs: outputs_digest,
            results: results_json.clone(),
            log: Some(self.log(task)),
            why: self.why(checked),
            command: self.command(checked),
            job_id,
            queued_ms,
        })));
        if last {
            match status {
                TaskStatus::Succeeded => self.counts.succeeded += 1,
                TaskStatus::Interrupted => self.counts.cancelled += 1,
                _ => self.counts.failed += 1,
            }
        }
        // Up-to-date checks need the last success of tasks with files only.
        if let (true, TaskStatus::Succeeded, Some(checked), true) = (
            last,
            status,
            checked,
            fresh::tracks_files(task.files.as_deref()),
        ) {
            let files = outputs.map(<[FileDigest]>::to_vec).unwrap_or_default();
            self.send(Write::Success(
                task.name.clone(),
                Box::new(Success {
                    fingerprint: checked.fingerprint,
                    parts: checked.parts.to_json(),
                    outputs: outputs_digest.unwrap_or_else(|| fresh::outputs_digest(&[])),
                    output_files: store::files_to_json(&files),
                    results: results_json.unwrap_or_else(|| "[]".to_owned()),
                    run: self.run_id.clone(),
                    duration_ms: started.map_or(0, |started| ended - started),
                    complete: true,
                }),
            ));
        }
        self.tickets += 1;
        self.send(Write::Ack(self.tickets));
        self.tickets
    }

    /// A ticket that `Message::Recorded` acknowledges once every write so far is durable.
    pub fn ticket(&mut self) -> u64 {
        self.tickets += 1;
        self.send(Write::Ack(self.tickets));
        self.tickets
    }

    /// Asks for the writes so far to be committed now, unless that was asked already since
    /// the last ticket: the coordinator cannot go on without an acknowledgement.
    pub fn flush(&mut self) {
        if self.flushed < self.tickets {
            self.flushed = self.tickets;
            self.send(Write::Flush);
        }
        self.submit();
    }

    /// A task did not run.
    pub fn skipped(&mut self, task: &Task, reason: &SkipReason, checked: Option<&Checked>) {
        let (status, outputs, results) = match (reason, checked.map(|c| &c.decision)) {
            (SkipReason::UpToDate, Some(Decision::UpToDate { outputs, results })) => {
                (AttemptStatus::UpToDate, Some(*outputs), Some(results))
            }
            (
                SkipReason::Resumed { .. },
                Some(Decision::Resumed {
                    outputs, results, ..
                }),
            ) => (AttemptStatus::Resumed, Some(*outputs), Some(results)),
            _ => (AttemptStatus::Skipped, None, None),
        };
        if outputs.is_some() {
            self.counts.up_to_date += 1;
        } else {
            self.counts.skipped += 1;
        }
        // An up-to-date task's last success already says all about it, and a resumed run
        // checks it again: a no-op run of many tasks writes next to nothing.
        if status == AttemptStatus::UpToDate {
            return;
        }
        let reason = match reason {
            // The run it finished in, so that a resume of this run cites that one.
            SkipReason::Resumed { run } => Some(run.clone()),
            _ => serde_json::to_value(reason).ok().and_then(|value| {
                value
                    .get("reason")
                    .and_then(|r| r.as_str())
                    .map(str::to_owned)
            }),
        };
        self.send(Write::Attempt(Box::new(AttemptRow {
            run: self.run_id.clone(),
            task: task.name.clone(),
            attempt: 0,
            status: status.as_str().to_owned(),
            reason,
            ended_ms: Some(now_ms()),
            fingerprint: checked.map(|checked| checked.fingerprint),
            outputs,
            results: results.and_then(|results| serde_json::to_string(results).ok()),
            ..AttemptRow::default()
        })));
    }

    /// The run ended: its outcome is written and the writer finishes every write. Returns
    /// what could not be written to the record, if anything.
    #[must_use]
    pub fn finish(mut self, outcome: RunOutcome) -> Option<String> {
        let learned = self.files.take_learned();
        if !learned.is_empty() {
            self.send(Write::FileDigests(learned));
        }
        self.send(Write::RunEnd {
            ended_ms: now_ms(),
            outcome,
            counts: self.counts,
        });
        self.submit();
        self.mailbox.close();
        self.writer
            .take()
            .and_then(|writer| writer.join().ok().flatten())
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.submit();
        self.mailbox.close();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// Most writes in one commit.
const MAX_BATCH: usize = 8192;

/// How long writes gather before they are committed, unless the coordinator asks sooner.
const GATHER: std::time::Duration = std::time::Duration::from_millis(20);

/// How long after a failed commit the writes kept are tried again (unless the run ends
/// sooner): a record that cannot be written must not cost the run a commit per turn.
const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// The writer thread's state: the record, the room kept for it, and the writes not yet
/// committed.
struct Writing {
    store: Store,
    reserve: Reserve,
    workflow: String,
    run_id: String,
    /// Writes gathered for the next commit, and those of failed commits, kept to be tried
    /// again (each is idempotent: a row replaced, an update).
    batch: Vec<Write>,
    /// Why the last commit failed, and when.
    failure: Option<(String, std::time::Instant)>,
}

impl Writing {
    /// Takes every queued write into one transaction, commits, and acknowledges the last
    /// ticket in it. A failed commit is reported once; its writes are kept and tried again
    /// with later ones and at the end, and acknowledged meanwhile so that the run goes on.
    /// Returns what could not be written by the end, if anything.
    fn run(mut self, mailbox: &Mailbox<Write>, outbox: &Outbox) -> Option<String> {
        // What earlier runs left in the WAL is checkpointed now, while the first tasks run,
        // rather than when this run ends, where the engine's exit would wait for it: its
        // flushes took 13 to 15 ms after 1,000 tasks on this machine's disk. A task with
        // outputs waits for the writer before it starts, so it may wait for this too.
        self.store.trim_wal();
        // Each commit costs a transaction. Until the coordinator asks for a commit (it waits
        // for an acknowledgement to go on), writes gather for a moment, so that the ends of
        // many tasks share one.
        while let Some(writes) = mailbox.take(GATHER) {
            self.batch.extend(writes);
            let ack = self
                .batch
                .iter()
                .filter_map(|write| match write {
                    Write::Ack(ticket) => Some(*ticket),
                    _ => None,
                })
                .max();
            let waiting = self
                .failure
                .as_ref()
                .is_some_and(|(_, at)| at.elapsed() < RETRY_AFTER);
            let error = if waiting { None } else { self.commit() };
            if ack.is_some() || error.is_some() {
                outbox.send(Message::Recorded {
                    ticket: ack.unwrap_or(0),
                    error,
                });
            }
        }
        if self.failure.is_some() {
            self.commit();
        }
        self.store.leave_mark();
        self.failure.map(|(message, _)| {
            format!("the end of the run was not recorded ({message}); `engine runs` will show it as died")
        })
    }

    /// Commits the batch; on a full disk, once more after giving the reserve back. Returns
    /// the error of a commit that failed when the one before had not.
    fn commit(&mut self) -> Option<String> {
        let mut result = self.write_batch();
        if matches!(result, Err(StoreError::Full { .. })) && self.reserve.release() {
            result = self.write_batch();
        }
        match result {
            Ok(()) => {
                self.batch.clear();
                self.failure = None;
                None
            }
            Err(error) => {
                let message = format!("{error}; {}", error.hint());
                let first = self.failure.is_none();
                self.failure = Some((message.clone(), std::time::Instant::now()));
                first.then_some(message)
            }
        }
    }

    fn write_batch(&mut self) -> Result<(), StoreError> {
        let (workflow, run_id, batch) = (&self.workflow, &self.run_id, &self.batch);
        self.store.transaction(|writer| {
            for write in batch {
                match write {
                    Write::Attempt(row) => writer.put_attempt(row)?,
                    Write::Success(task, success) => {
                        writer.put_success(workflow, task, success)?;
                    }
                    Write::Incomplete(task) => writer.mark_incomplete(workflow, task)?,
                    Write::FileDigests(learned) => writer.put_file_digests(learned)?,
                    Write::RunEnd {
                        ended_ms,
                        outcome,
                        counts,
                    } => writer.finish_run(run_id, *ended_ms, *outcome, *counts)?,
                    Write::Ack(_) | Write::Flush => {}
                }
            }
            Ok(())
        })
    }
}

/// Deciding whether a task runs, from any thread: `journal::Checker` in a run.
pub trait Checks: Send + Sync {
    /// Decides whether a task runs: done in the run being resumed, forced, up to date. Reads
    /// (digests) its inputs and outputs.
    ///
    /// # Errors
    /// An input is missing or unreadable: the task fails with this message.
    fn check(
        &self,
        task: &Task,
        launch: Launch,
        deps: &[(String, Digest)],
    ) -> Result<Checked, String>;
}

/// What the gate needs of the run record: `Journal` in a run, a fake in tests.
pub trait Record {
    /// What decides whether tasks run, to share with the threads that check them.
    fn checker(&self) -> std::sync::Arc<dyn Checks>;
    /// An attempt starts; a task with outputs has them marked incomplete.
    fn started(&mut self, task: &Task, attempt: u32, checked: Option<&Checked>);
    /// An attempt ended; returns the ticket acknowledged once that is durable.
    fn ended(&mut self, end: &Ended<'_>) -> u64;
    /// A task did not run.
    fn skipped(&mut self, task: &Task, reason: &SkipReason, checked: Option<&Checked>);
    /// A task's cluster job changed state.
    fn job(&mut self, _task: &Task, _job_id: &str, _phase: JobPhase) {}
    /// A ticket acknowledged once every write so far is durable.
    fn ticket(&mut self) -> u64;
    /// Hands the writes so far to the writer, to commit when it sees fit.
    fn submit(&mut self);
    /// Asks for the writes so far to be committed now.
    fn flush(&mut self);
    /// The run ended with `outcome`; returns what could not be written, if anything.
    fn finish(self: Box<Self>, outcome: RunOutcome) -> Option<String>;
    /// Whether failed tasks leave their outputs in place (`--keep-incomplete`).
    fn keeps_incomplete(&self) -> bool;
    /// Where what a failed attempt created or changed is set aside.
    fn aside_dir(&self, task: &Task, attempt: u32) -> PathBuf;
    /// The digests of files known unchanged, shared with the threads that digest outputs.
    fn files(&self) -> std::sync::Arc<DigestCache>;
    /// The state dir, absolute.
    fn state_dir(&self) -> &std::path::Path;
    /// Files outside the state dir that the run writes.
    fn own_files(&self) -> &[PathBuf];
    /// Where acknowledgements and finished file work go: the coordinator's inbox.
    fn outbox(&self) -> Outbox;
}

impl Record for Journal {
    fn checker(&self) -> std::sync::Arc<dyn Checks> {
        self.checker.clone()
    }

    fn started(&mut self, task: &Task, attempt: u32, checked: Option<&Checked>) {
        Self::started(self, task, attempt, checked);
    }

    fn ended(&mut self, end: &Ended<'_>) -> u64 {
        Self::ended(self, end)
    }

    fn skipped(&mut self, task: &Task, reason: &SkipReason, checked: Option<&Checked>) {
        Self::skipped(self, task, reason, checked);
    }

    fn job(&mut self, task: &Task, job_id: &str, phase: JobPhase) {
        Self::job(self, task, job_id, phase);
    }

    fn ticket(&mut self) -> u64 {
        Self::ticket(self)
    }

    fn submit(&mut self) {
        Self::submit(self);
    }

    fn flush(&mut self) {
        Self::flush(self);
    }

    fn finish(self: Box<Self>, outcome: RunOutcome) -> Option<String> {
        Self::finish(*self, outcome)
    }

    fn keeps_incomplete(&self) -> bool {
        self.keep_incomplete
    }

    fn aside_dir(&self, task: &Task, attempt: u32) -> PathBuf {
        Self::aside_dir(self, task, attempt)
    }

    fn files(&self) -> std::sync::Arc<DigestCache> {
        std::sync::Arc::clone(&self.files)
    }

    fn state_dir(&self) -> &std::path::Path {
        self.state_dir.path()
    }

    fn own_files(&self) -> &[PathBuf] {
        &self.own_files
    }

    fn outbox(&self) -> Outbox {
        self.outbox.clone()
    }
}

impl Checks for Checker {
    fn check(
        &self,
        task: &Task,
        launch: Launch,
        deps: &[(String, Digest)],
    ) -> Result<Checked, String> {
        Self::check(self, task, launch, deps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Command, Isolation, TaskId};

    /// A journal of run `r1` in a new record in `dir`.
    fn journal_in(dir: &std::path::Path) -> (Journal, StateDir) {
        let state_dir = StateDir::at(dir);
        let store = Store::open(&state_dir).expect("a record");
        let (outbox, _inbox) = crate::exchange::Inbox::new(8).expect("inbox");
        let info = RunInfo {
            run_id: "r1".to_owned(),
            workflow: "../flow.yaml".to_owned(),
            workflow_dir: dir.to_path_buf(),
            workflow_hash: String::new(),
            args: "{}".to_owned(),
            tasks: 1,
            forced: Forced::None,
            keep_incomplete: false,
            state_dir: state_dir.clone(),
            own_files: Vec::new(),
            resume: None,
            files: false,
        };
        let journal = Journal::start(store, info, outbox).expect("a journal");
        (journal, state_dir)
    }

    /// The attempts the record keeps of run `r1`, once `journal` has finished.
    fn attempts_of(journal: Journal, state_dir: &StateDir) -> Vec<AttemptRow> {
        assert_eq!(journal.finish(RunOutcome::Succeeded), None);
        let store = Store::open_existing(state_dir)
            .expect("opens")
            .expect("exists");
        store.attempts("r1").expect("attempts")
    }

    #[test]
    fn an_attempt_keeps_its_results_as_a_json_list_and_none_as_an_empty_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (mut journal, state_dir) = journal_in(dir.path());
        let command = || Command::Shell {
            run: "true".into(),
            shell: "sh".into(),
        };
        let quiet = Task::for_tests(
            TaskId(0),
            "quiet",
            Isolation::Process,
            command(),
            Vec::new(),
        );
        let telling = Task::for_tests(
            TaskId(1),
            "telling",
            Isolation::Process,
            command(),
            Vec::new(),
        );
        let told: Results = vec![("count".to_owned(), "3".to_owned())];
        for (task, results) in [(&quiet, Results::default()), (&telling, told.clone())] {
            journal.started(task, 1, None);
            journal.ended(&Ended {
                task,
                attempt: 1,
                status: &TaskStatus::Succeeded,
                results: &results,
                checked: None,
                outputs: None,
                last: true,
            });
        }
        let rows = attempts_of(journal, &state_dir);
        let results: Vec<(&str, Option<&str>)> = rows
            .iter()
            .map(|row| (row.task.as_str(), row.results.as_deref()))
            .collect();
        assert_eq!(
            results,
            [
                ("quiet", Some("[]")),
                ("telling", Some(r#"[["count","3"]]"#))
            ]
        );
        // What readers do with them.
        let read: Vec<Results> = rows
            .iter()
            .map(|row| serde_json::from_str(row.results.as_deref().unwrap_or("")).expect("JSON"))
            .collect();
        assert_eq!(read, [Results::default(), told]);
    }

    #[test]
    fn an_attempt_keeps_its_cluster_job_and_its_queue_wait() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (mut journal, state_dir) = journal_in(dir.path());
        let command = Command::Shell {
            run: "true".into(),
            shell: "sh".into(),
        };
        let task = Task::for_tests(TaskId(0), "job", Isolation::Process, command, Vec::new());
        journal.started(&task, 1, None);
        journal.job(&task, "100", JobPhase::Queued);
        journal.job(&task, "100", JobPhase::Queued);
        journal.job(&task, "100", JobPhase::Started);
        journal.job(&task, "100", JobPhase::Running);
        journal.ended(&Ended {
            task: &task,
            attempt: 1,
            status: &TaskStatus::Succeeded,
            results: &Results::default(),
            checked: None,
            outputs: None,
            last: true,
        });
        let rows = attempts_of(journal, &state_dir);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].job_id.as_deref(), Some("100"));
        assert!(rows[0].queued_ms.is_some_and(|ms| ms >= 0));
    }
}
