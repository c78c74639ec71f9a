//! `Gate`: the run record's durability protocol, behind one small API, so that the
//! coordinator only schedules. The coordinator asks it whether a task runs (or is up to date,
//! finished by the run resumed, failed on its inputs), whether an attempt may start, and
//! tells it how attempts end; the gate writes the record (`Record`, which `Journal`
//! implements) and says when the coordinator may go on:
//!
//! - a task's dependents are decided only once its end is durable (`recorded`), so that a
//!   task something started after is always in the record, whenever the engine dies;
//! - a task with outputs starts only once the record holds them incomplete and the stamps
//!   of what they match are taken, so that a crash never leaves half-written outputs that
//!   look up to date;
//! - file work (the check of a task with files, which digests its inputs and outputs; the
//!   stamps before an attempt; the digests of a success's outputs; setting aside what a
//!   failure left) runs on rayon's pool, never on the caller's thread, and comes back to
//!   the coordinator as `Message::Filed` through its inbox.
//!
//! It does not decide what runs next, nor touch processes: that is the coordinator's.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use rustc_hash::{FxHashMap, FxHashSet};

use super::aside::{Declared, Guard, Stamps};
use super::journal::{Checked, Decision, Ended};
pub use super::journal::{Checks, Record};
use super::state::RunOutcome;
use crate::events::{SkipReason, TaskStatus};
use crate::exchange::{Aside, Filed, Launch, Message, Outbox, Results};
use crate::files::{Digest, FileDigest, FilesError};
use crate::model::{TaskId, Workflow};

#[cfg(test)]
mod tests;

/// Whether a task runs, as the record decides.
#[derive(Debug, PartialEq, Eq)]
pub enum Check {
    /// It runs.
    Run,
    /// Its work is done (up to date, or finished by the run resumed): skipped for `reason`,
    /// with the results it had then. The record has it already.
    Done {
        /// Why it is skipped.
        reason: SkipReason,
        /// Its results then.
        results: Results,
    },
    /// Its inputs could not be read: it fails with this message.
    Failed(String),
    /// Its files are being read: the answer comes in `Go::checked`.
    Later,
}

/// Whether an attempt may start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// Now; call `Gate::started` once it has.
    Now,
    /// Once `recorded` or `filed` name it in `Go::start`.
    Later,
}

/// How an attempt's end goes on.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// At once, with this status: it has no file work.
    Now(TaskStatus),
    /// Once its file work comes back (`Message::Filed`, then `Gate::filed`).
    Later,
}

/// What the coordinator may do now that the record or the file work moved on.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Go {
    /// Finished tasks whose end is durable: their dependents may be decided, in this order.
    pub settle: Vec<TaskId>,
    /// Attempts that may start, in this order.
    pub start: Vec<TaskId>,
    /// An attempt whose file work is done: its status, and what was set aside, if anything.
    pub ended: Option<(TaskId, TaskStatus, Option<Aside>)>,
    /// A task checked off the caller's thread, and whether it runs (never `Check::Later`).
    pub checked: Option<(TaskId, Check)>,
}

/// The run record's side of a run: see the module's comment.
pub struct Gate {
    /// The workflow, with the items of the placeholders expanded so far.
    workflow: Arc<Workflow>,
    record: Box<dyn Record>,
    checker: Arc<dyn Checks>,
    outbox: Outbox,
    /// Checks done off the caller's thread, by task, until `filed` hears of them.
    checks: Arc<Mutex<FxHashMap<TaskId, Result<Checked, String>>>>,
    /// Per task, once decided to run: its fingerprint and first launch.
    checked: Vec<Option<Box<Checked>>>,
    /// Per task, once final: the key its dependents' fingerprints include.
    keys: Vec<Digest>,
    /// The outputs each task made in its last attempt, digested.
    made: FxHashMap<TaskId, Vec<FileDigest>>,
    /// What each attempt's output patterns matched before it started, by task; filled by
    /// the stamping threads, emptied when the attempt's file work is done.
    stamps: Arc<Mutex<FxHashMap<TaskId, Stamps>>>,
    /// Tasks whose current attempt has stamps (taken or being taken).
    stamped: FxHashSet<TaskId>,
    /// What setting aside never touches; made by the first stamping.
    guard: Arc<OnceLock<Guard>>,
    /// Every task's declared inputs, for the guard; gathered at the first attempt that may
    /// be set aside.
    declared: Option<Arc<Declared>>,
    /// Finished tasks whose end is not durable yet, by ticket.
    parked: VecDeque<(u64, TaskId)>,
    /// Attempts with outputs waiting for the record to hold them incomplete, by ticket.
    starting: VecDeque<(u64, TaskId)>,
    /// Attempts whose stamps are being taken.
    stamping: FxHashSet<TaskId>,
    /// Attempts the record holds, waiting for their stamps.
    held: FxHashSet<TaskId>,
    /// File work on the pool, not yet reported back.
    work: usize,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("parked", &self.parked.len())
            .field("starting", &self.starting.len())
            .field("work", &self.work)
            .finish_non_exhaustive()
    }
}

impl Gate {
    /// The gate of a run of `workflow` kept in `record`.
    #[must_use]
    pub fn new(workflow: Arc<Workflow>, record: Box<dyn Record>) -> Self {
        let count = workflow.tasks.len();
        let outbox = record.outbox();
        let checker = record.checker();
        Self {
            workflow,
            record,
            checker,
            outbox,
            checks: Arc::default(),
            checked: vec![None; count],
            keys: vec![Digest::default(); count],
            made: FxHashMap::default(),
            stamps: Arc::default(),
            stamped: FxHashSet::default(),
            guard: Arc::new(OnceLock::new()),
            declared: None,
            parked: VecDeque::new(),
            starting: VecDeque::new(),
            stamping: FxHashSet::default(),
            held: FxHashSet::default(),
            work: 0,
        }
    }

    /// The workflow grew: a placeholder expanded into new tasks, appended to it.
    pub fn grow(&mut self, workflow: Arc<Workflow>) {
        let count = workflow.tasks.len();
        self.checked.resize_with(count, || None);
        self.keys.resize(count, Digest::default());
        self.workflow = workflow;
    }

    /// Checks a task whose dependencies are all final, to start with `launch`: whether it
    /// runs. A task whose work is done is recorded as skipped. A task with files is checked
    /// on the pool, as that reads them: its answer comes in `Go::checked` (`Check::Later`).
    pub fn check(&mut self, task: TaskId, launch: Launch) -> Check {
        let spec = self.workflow.task(task);
        let deps: Vec<(String, Digest)> = spec
            .depends_on
            .iter()
            .map(|dep| {
                (
                    self.workflow.task(*dep).name.clone(),
                    self.keys[dep.index()],
                )
            })
            .collect();
        let reads = super::fresh::tracks_files(launch.files.as_deref());
        if !reads {
            let checked = self.checker.check(spec, launch, &deps);
            return self.decided(task, checked);
        }
        let (checker, checks) = (Arc::clone(&self.checker), Arc::clone(&self.checks));
        let spec = spec.clone();
        self.work += 1;
        off_loop(&self.outbox, task, move || {
            let checked = checker.check(&spec, launch, &deps);
            checks
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(task, checked);
            Filed::Checked
        })
        .or(|| Filed::Checked);
        Check::Later
    }

    /// What a task's check means: it runs (its check kept for its start and end), it is
    /// done (recorded as skipped), or it fails.
    fn decided(&mut self, task: TaskId, checked: Result<Checked, String>) -> Check {
        let checked = match checked {
            Err(message) => return Check::Failed(message),
            Ok(checked) => checked,
        };
        let (reason, outputs, results) = match &checked.decision {
            Decision::Run(_) => {
                self.checked[task.index()] = Some(Box::new(checked));
                return Check::Run;
            }
            Decision::UpToDate { outputs, results } => {
                (SkipReason::UpToDate, *outputs, results.clone())
            }
            Decision::Resumed {
                run,
                outputs,
                results,
            } => (
                SkipReason::Resumed { run: run.clone() },
                *outputs,
                results.clone(),
            ),
        };
        self.keys[task.index()] = super::fresh::key(&checked.fingerprint, &outputs, "success");
        let spec = self.workflow.task(task);
        self.record.skipped(spec, &reason, Some(&checked));
        Check::Done { reason, results }
    }

    /// The launch a task's first attempt was checked with: what it was checked with is
    /// what starts.
    #[must_use]
    pub fn launch(&self, task: TaskId) -> Option<Launch> {
        self.checked[task.index()]
            .as_deref()
            .map(|checked| checked.launch.clone())
    }

    /// A task did not run (its condition, a failure, the run stopping).
    pub fn skipped(&mut self, task: TaskId, reason: &SkipReason) {
        self.record.skipped(self.workflow.task(task), reason, None);
        // What depends on a task skipped by its condition sees that in its fingerprint.
        self.keys[task.index()] = *blake3::hash(b"skipped").as_bytes();
    }

    /// An attempt is about to start (its slots taken); `launched` says whether its launch
    /// could be filled in (when not, it fails as it starts and nothing is stamped). A task
    /// with outputs starts `Later`: once the record holds its outputs incomplete and, unless
    /// `--keep-incomplete`, the stamps of what they match are taken.
    pub fn start(&mut self, task: TaskId, attempt: u32, launched: bool) -> Start {
        // From now on files may change: each is looked at again.
        self.record.files().new_look();
        let Some(checked) = self.checked[task.index()].as_deref() else {
            return Start::Now;
        };
        if checked.outputs().is_empty() {
            return Start::Now;
        }
        let spec = self.workflow.task(task);
        self.record.started(spec, attempt, Some(checked));
        let ticket = self.record.ticket();
        self.starting.push_back((ticket, task));
        if launched && !self.record.keeps_incomplete() {
            self.stamp(task);
        }
        Start::Later
    }

    /// Takes the stamps of what a task's outputs match, on the pool.
    fn stamp(&mut self, task: TaskId) {
        let Some(checked) = self.checked[task.index()].as_deref() else {
            return;
        };
        let cwd = checked.cwd().to_path_buf();
        let files = checked.launch.files.clone();
        let (stamps, guard) = (Arc::clone(&self.stamps), Arc::clone(&self.guard));
        let workflow = self.workflow.path.clone();
        let state_dir = self.record.state_dir().to_path_buf();
        let own = self.record.own_files().to_vec();
        self.stamping.insert(task);
        self.stamped.insert(task);
        self.work += 1;
        // Without stamps (the job failed), nothing of the attempt is set aside.
        off_loop(&self.outbox, task, move || {
            let guard = guard.get_or_init(|| Guard::outline(&workflow, &state_dir, &own));
            let patterns = files.as_deref().map_or(&[][..], |files| &files.outputs);
            let taken = Stamps::take(&cwd, patterns, guard);
            stamps
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(task, taken);
            Filed::Stamped
        })
        .or(|| Filed::Stamped);
    }

    /// A task's cluster job changed state: the record keeps its id and queue wait.
    pub fn job(&mut self, task: TaskId, job_id: &str, phase: crate::exchange::JobPhase) {
        self.record.job(self.workflow.task(task), job_id, phase);
    }

    /// An attempt that started `Now` did start.
    pub fn started(&mut self, task: TaskId, attempt: u32) {
        let checked = self.checked[task.index()].as_deref();
        self.record
            .started(self.workflow.task(task), attempt, checked);
    }

    /// An attempt ended with `status`. A success that ran to its end (`ran`) must have made
    /// its outputs: they are digested, and a missing one fails it. What an attempt that did
    /// not succeed created or changed among its outputs is set aside. Either is done on the
    /// pool (`End::Later`).
    pub fn end(&mut self, task: TaskId, attempt: u32, status: TaskStatus, ran: bool) -> End {
        // What the attempt wrote is looked at, not what was found before.
        self.record.files().new_look();
        let checked = self.checked[task.index()].as_deref();
        let outputs = checked.map_or(&[][..], Checked::outputs);
        let digest = ran && status.is_success() && !outputs.is_empty();
        let depfile = (ran && status.is_success())
            .then(|| checked.and_then(Checked::depfile))
            .flatten()
            .map(|depfile| (depfile.to_owned(), checked.map(|c| c.parts.clone())));
        let stamped = self.stamped.remove(&task);
        let set_aside = stamped && !status.is_success();
        if !digest && !set_aside && depfile.is_none() {
            if stamped {
                self.stamps
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&task);
            }
            return End::Now(status);
        }
        let Some(checked) = checked else {
            return End::Now(status);
        };
        let cwd = checked.cwd().to_path_buf();
        let files = checked.launch.files.clone();
        let cache = self.record.files();
        let to = self.record.aside_dir(self.workflow.task(task), attempt);
        let workflow = &*self.workflow;
        let declared = Arc::clone(
            self.declared
                .get_or_insert_with(|| Arc::new(Declared::of(workflow))),
        );
        let (stamps, guard) = (Arc::clone(&self.stamps), Arc::clone(&self.guard));
        self.work += 1;
        let lost = if status.is_success() {
            unread("the engine failed while reading them")
        } else {
            status.clone()
        };
        off_loop(&self.outbox, task, move || {
            let patterns = files.as_deref().map_or(&[][..], |files| &files.outputs);
            let mut status = status;
            let mut outputs = None;
            if digest {
                match crate::files::digest_all(&cwd, patterns, Some(&cache)) {
                    Ok(files) => outputs = Some(files),
                    Err(error) => status = unmade(&error),
                }
            }
            let mut discovered = None;
            if let Some((depfile, Some(parts))) = depfile
                && status.is_success()
            {
                match read_depfile(&cwd, &depfile) {
                    Ok(paths) => {
                        let now = parts.with_discovered(&cwd, &paths, Some(&cache));
                        discovered = Some(now.discovered);
                    }
                    Err(message) => {
                        status = TaskStatus::Failed {
                            exit_code: None,
                            signal: None,
                            message,
                        };
                    }
                }
            }
            let before = stamps
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&task);
            let aside = match (before, guard.get()) {
                (Some(before), Some(guard)) if !status.is_success() => {
                    guard.learn(&declared);
                    let done = super::aside::set_aside(&cwd, patterns, &before, guard, &to);
                    (!done.is_empty()).then_some(Aside {
                        to,
                        moved: done.moved,
                        left: done.left,
                    })
                }
                _ => None,
            };
            Filed::Ended {
                status,
                outputs,
                aside,
                discovered,
            }
        })
        .or(move || Filed::Ended {
            status: lost,
            outputs: None,
            aside: None,
            discovered: None,
        });
        End::Later
    }

    /// File work came back: a task is checked, an attempt may start (once the record holds
    /// it too), or an attempt's end goes on.
    pub fn filed(&mut self, task: TaskId, work: Filed) -> Go {
        self.work = self.work.saturating_sub(1);
        let mut go = Go::default();
        match work {
            Filed::Checked => {
                let checked = self
                    .checks
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&task)
                    .unwrap_or_else(|| {
                        Err(
                            "cannot read its inputs: the engine failed while checking it"
                                .to_owned(),
                        )
                    });
                go.checked = Some((task, self.decided(task, checked)));
            }
            Filed::Stamped => {
                self.stamping.remove(&task);
                if self.held.remove(&task) {
                    go.start.push(task);
                }
            }
            Filed::Ended {
                status,
                outputs,
                aside,
                discovered,
            } => {
                if let Some(outputs) = outputs {
                    self.made.insert(task, outputs);
                }
                // What its depfile named is part of the fingerprint its success is recorded
                // with, and of the key its dependents see: the next check, which digests
                // the same files, finds the same fingerprint.
                if let (Some(discovered), Some(checked)) =
                    (discovered, self.checked[task.index()].as_deref_mut())
                {
                    checked.parts.discovered = discovered;
                    checked.fingerprint = checked.parts.fingerprint();
                }
                go.ended = Some((task, status, aside));
            }
        }
        go
    }

    /// An attempt that will run again ended.
    pub fn retrying(&mut self, task: TaskId, attempt: u32, status: &TaskStatus, results: &Results) {
        let checked = self.checked[task.index()].as_deref();
        self.record.ended(&Ended {
            task: self.workflow.task(task),
            attempt,
            status,
            results,
            checked,
            outputs: None,
            last: false,
        });
    }

    /// A task reached its final state with its attempt `attempt`. Its dependents may be
    /// decided once `recorded` names it in `Go::settle`.
    pub fn finished(&mut self, task: TaskId, attempt: u32, status: &TaskStatus, results: &Results) {
        let spec = self.workflow.task(task);
        let made = self.made.remove(&task);
        let checked = self.checked[task.index()].take();
        let ticket = self.record.ended(&Ended {
            task: spec,
            attempt,
            status,
            results,
            checked: checked.as_deref(),
            outputs: made.as_deref(),
            last: true,
        });
        // Its key is all its dependents need of what it was checked with.
        if let Some(checked) = checked {
            let word = match status {
                TaskStatus::Succeeded => "success",
                TaskStatus::Interrupted => "cancelled",
                _ => "failure",
            };
            let outputs = super::fresh::outputs_digest(made.as_deref().unwrap_or_default());
            self.keys[task.index()] = super::fresh::key(&checked.fingerprint, &outputs, word);
        }
        self.parked.push_back((ticket, task));
    }

    /// The record made every write up to `ticket` durable: the finished tasks it held settle,
    /// and the attempts it held start (those whose stamps are taken).
    pub fn recorded(&mut self, ticket: u64) -> Go {
        // One commit may hold the ends of thousands of tasks: the list is made at its size.
        let durable = self.parked.partition_point(|&(at, _)| at <= ticket);
        let mut go = Go {
            settle: Vec::with_capacity(durable),
            ..Go::default()
        };
        while let Some(&(at, task)) = self.parked.front()
            && at <= ticket
        {
            self.parked.pop_front();
            go.settle.push(task);
        }
        while let Some(&(at, task)) = self.starting.front()
            && at <= ticket
        {
            self.starting.pop_front();
            if self.stamping.contains(&task) {
                self.held.insert(task);
            } else {
                go.start.push(task);
            }
        }
        go
    }

    /// Whether finished tasks wait for the record to make their end durable.
    #[must_use]
    pub fn has_parked(&self) -> bool {
        !self.parked.is_empty()
    }

    /// Whether the run must wait for the gate: for the record, or for file work.
    #[must_use]
    pub fn is_busy(&self) -> bool {
        self.work > 0 || !self.parked.is_empty() || !self.starting.is_empty()
    }

    /// Once a turn of the coordinator's loop, before it waits: hands the turn's writes to
    /// the record, and asks for a commit now rather than gathering more when attempts wait
    /// to start on it, or when finished tasks wait on it and the coordinator `wants` them
    /// (nothing runs, or what they hold back would be next in line).
    pub fn commit(&mut self, wants: bool) {
        if !self.starting.is_empty() || (wants && !self.parked.is_empty()) {
            self.record.flush();
        } else {
            self.record.submit();
        }
    }

    /// The run ended with `outcome`; returns what could not be written to the record.
    #[must_use]
    pub fn finish(self, outcome: RunOutcome) -> Option<String> {
        self.record.finish(outcome)
    }
}

/// How a success that did not make its outputs fails.
fn unmade(error: &FilesError) -> TaskStatus {
    match error {
        FilesError::Missing { path } => TaskStatus::Failed {
            exit_code: None,
            signal: None,
            message: format!("it did not create its output `{path}`"),
        },
        error => unread(error),
    }
}

/// The files a task's depfile names, read after its success.
///
/// # Errors
/// The depfile is missing, unreadable or malformed: the message the task fails with.
fn read_depfile(cwd: &std::path::Path, depfile: &str) -> Result<Vec<String>, String> {
    let path = cwd.join(depfile);
    let text = match std::fs::read(&path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map_err(|_| format!("its depfile `{depfile}` is not UTF-8 text"))?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "it did not write its depfile `{depfile}` (with gcc or clang: `-MMD -MF {depfile}`)"
            ));
        }
        Err(error) => return Err(format!("cannot read its depfile `{depfile}`: {error}")),
    };
    super::depfile::Depfile::parse(&text)
        .map(|found| found.deps)
        .map_err(|error| {
            format!(
                "its depfile `{depfile}` is malformed at {}:{}:{}: {}",
                depfile, error.line, error.column, error.message
            )
        })
}

/// How a success whose outputs cannot be read fails.
fn unread(error: impl std::fmt::Display) -> TaskStatus {
    TaskStatus::Failed {
        exit_code: None,
        signal: None,
        message: format!("cannot read its outputs: {error}"),
    }
}

/// File work for `task`, to run on rayon's pool; `or` gives what to report if it panics,
/// so that the coordinator never waits for work that will not come back.
struct OffLoop<'o, J> {
    outbox: &'o Outbox,
    task: TaskId,
    job: J,
}

fn off_loop<J>(outbox: &Outbox, task: TaskId, job: J) -> OffLoop<'_, J>
where
    J: FnOnce() -> Filed + Send + 'static,
{
    OffLoop { outbox, task, job }
}

impl<J> OffLoop<'_, J>
where
    J: FnOnce() -> Filed + Send + 'static,
{
    /// Spawns the job; if it panics, what `lost` says is reported instead.
    fn or(self, lost: impl FnOnce() -> Filed + Send + 'static) {
        let (outbox, task, job) = (self.outbox.clone(), self.task, self.job);
        rayon::spawn(move || {
            let work = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job))
                .unwrap_or_else(|_| lost());
            outbox.send(Message::Filed { task, work });
        });
    }
}
