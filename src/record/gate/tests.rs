//! The gate against a fake record that keeps every write in order and makes them durable
//! only when a test acknowledges a ticket, as the journal's writer does after a commit. What
//! the fake holds as durable at a moment is what a record would hold if the engine were
//! killed (SIGKILL) at that moment.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Check, Checks, End, Gate, Go, Record, Start};
use crate::events::{SkipReason, TaskStatus};
use crate::exchange::{Filed, Inbox, Launch, Message, Outbox};
use crate::files::{Digest, DigestCache};
use crate::model::{Command, Isolation, Task, TaskFiles, TaskId, Workflow};
use crate::record::fresh::{Parts, Why};
use crate::record::journal::{Checked, Decision, Ended};
use crate::record::state::RunOutcome;

/// One write, as the fake keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Write {
    /// An attempt started with its outputs marked incomplete.
    Incomplete(String),
    /// An attempt ended; `last` for the task's final state.
    Ended {
        task: String,
        last: bool,
    },
    Skipped(String),
    Ack(u64),
}

/// What the fake record was told, and how much of it is durable.
#[derive(Debug, Default)]
struct Log {
    writes: Vec<Write>,
    /// `writes[..durable]` are durable.
    durable: usize,
    tickets: u64,
    submits: usize,
    flushes: usize,
}

impl Log {
    fn ticket(&mut self) -> u64 {
        self.tickets += 1;
        self.writes.push(Write::Ack(self.tickets));
        self.tickets
    }

    /// Commits everything up to `ticket`, as the writer does before it acknowledges.
    fn commit(&mut self, ticket: u64) {
        let at = self
            .writes
            .iter()
            .position(|write| *write == Write::Ack(ticket))
            .expect("a ticket handed out");
        self.durable = self.durable.max(at + 1);
    }

    fn durable(&self) -> &[Write] {
        &self.writes[..self.durable]
    }
}

struct FakeRecord {
    log: Arc<Mutex<Log>>,
    outbox: Outbox,
    keep_incomplete: bool,
    state_dir: PathBuf,
    files: Arc<DigestCache>,
}

/// Runs every task, except those named `fresh…`, which are up to date.
struct FakeChecker;

impl Checks for FakeChecker {
    fn check(
        &self,
        task: &Task,
        launch: Launch,
        deps: &[(String, Digest)],
    ) -> Result<Checked, String> {
        let parts = Parts::of(task, &launch, &launch.cwd, deps, None, None)
            .map_err(|error| error.to_string())?;
        let fingerprint = parts.fingerprint();
        let decision = if task.name.starts_with("fresh") {
            Decision::UpToDate {
                outputs: Digest::default(),
                results: Vec::new(),
            }
        } else {
            Decision::Run(Why::NeverSucceeded)
        };
        Ok(Checked {
            parts,
            fingerprint,
            decision,
            launch,
        })
    }
}

impl Record for FakeRecord {
    fn checker(&self) -> Arc<dyn Checks> {
        Arc::new(FakeChecker)
    }

    fn started(&mut self, task: &Task, _attempt: u32, _checked: Option<&Checked>) {
        if !task.outputs().is_empty() {
            let mut log = self.log.lock().expect("log");
            log.writes.push(Write::Incomplete(task.name.clone()));
        }
    }

    fn ended(&mut self, end: &Ended<'_>) -> u64 {
        let mut log = self.log.lock().expect("log");
        log.writes.push(Write::Ended {
            task: end.task.name.clone(),
            last: end.last,
        });
        log.ticket()
    }

    fn skipped(&mut self, task: &Task, _reason: &SkipReason, _checked: Option<&Checked>) {
        let mut log = self.log.lock().expect("log");
        log.writes.push(Write::Skipped(task.name.clone()));
    }

    fn ticket(&mut self) -> u64 {
        self.log.lock().expect("log").ticket()
    }

    fn submit(&mut self) {
        self.log.lock().expect("log").submits += 1;
    }

    fn flush(&mut self) {
        self.log.lock().expect("log").flushes += 1;
    }

    fn finish(self: Box<Self>, _outcome: RunOutcome) -> Option<String> {
        None
    }

    fn keeps_incomplete(&self) -> bool {
        self.keep_incomplete
    }

    fn aside_dir(&self, task: &Task, attempt: u32) -> PathBuf {
        self.state_dir
            .join("incomplete")
            .join(&task.name)
            .join(attempt.to_string())
    }

    fn files(&self) -> Arc<DigestCache> {
        Arc::clone(&self.files)
    }

    fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    fn own_files(&self) -> &[PathBuf] {
        &[]
    }

    fn outbox(&self) -> Outbox {
        self.outbox.clone()
    }
}

/// A workflow in a temporary directory, its fake record and the inbox the gate's file work
/// reports to.
struct Place {
    dir: tempfile::TempDir,
    workflow: Workflow,
    log: Arc<Mutex<Log>>,
    inbox: Inbox,
    outbox: Outbox,
}

/// A task: name, dependencies by index, output patterns.
type Spec<'s> = (&'s str, &'s [u32], &'s [&'s str]);

impl Place {
    fn new(specs: &[Spec<'_>]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let tasks = specs
            .iter()
            .enumerate()
            .map(|(index, (name, deps, outputs))| {
                let command = Command::Shell {
                    run: "true".into(),
                    shell: "sh".into(),
                };
                let deps = deps.iter().map(|&dep| TaskId(dep)).collect();
                let id = TaskId(u32::try_from(index).expect("small"));
                let mut task = Task::for_tests(id, *name, Isolation::Process, command, deps);
                task.cwd = dir.path().to_path_buf();
                if !outputs.is_empty() {
                    task.files = Some(Arc::new(TaskFiles {
                        inputs: Vec::new(),
                        outputs: outputs.iter().map(|o| (*o).to_owned()).collect(),
                        depfile: None,
                    }));
                }
                task
            })
            .collect();
        let path = dir.path().join("workflow.yaml");
        std::fs::write(&path, "tasks: {}\n").expect("workflow file");
        let workflow = Workflow::for_tests(&path.to_string_lossy(), "test", tasks);
        let (outbox, inbox) = Inbox::new(64).expect("inbox");
        Self {
            dir,
            workflow,
            log: Arc::default(),
            inbox,
            outbox,
        }
    }

    fn gate(&self, keep_incomplete: bool) -> Gate {
        let record = FakeRecord {
            log: Arc::clone(&self.log),
            outbox: self.outbox.clone(),
            keep_incomplete,
            state_dir: self.dir.path().join(".engine"),
            files: Arc::new(DigestCache::new(
                rustc_hash::FxHashMap::default(),
                Duration::ZERO,
            )),
        };
        Gate::new(Arc::new(self.workflow.clone()), Box::new(record))
    }

    /// Checks a task: at once without files, off the caller's thread with.
    fn decide(&self, gate: &mut Gate, task: u32) -> Check {
        let spec = self.workflow.task(TaskId(task));
        let launch = Launch::of(spec, 1);
        match gate.check(TaskId(task), launch) {
            Check::Later => {
                assert!(
                    spec.files.is_some(),
                    "a task without files is checked at once"
                );
                let (checked, work) = self.filed();
                assert!(matches!(work, Filed::Checked));
                let (answered, check) = gate.filed(checked, work).checked.expect("checked");
                assert_eq!((checked, answered), (TaskId(task), TaskId(task)));
                check
            }
            check => {
                assert!(
                    spec.files.is_none(),
                    "a task with files is checked off the thread"
                );
                check
            }
        }
    }

    /// Checks a task that runs.
    fn check(&self, gate: &mut Gate, task: u32) {
        assert_eq!(self.decide(gate, task), Check::Run);
    }

    /// The next file work the gate's threads report (a wait, not a timed assertion: the
    /// deadline only keeps a broken test from hanging).
    fn filed(&self) -> (TaskId, Filed) {
        let mut out = Vec::new();
        self.inbox
            .recv(Some(Instant::now() + Duration::from_secs(120)), &mut out);
        match out.pop() {
            Some(Message::Filed { task, work }) => (task, work),
            other => panic!("expected file work, got {other:?}"),
        }
    }

    fn durable(&self) -> Vec<Write> {
        self.log.lock().expect("log").durable().to_vec()
    }

    fn commit(&self, ticket: u64) {
        self.log.lock().expect("log").commit(ticket);
    }

    fn tickets(&self) -> u64 {
        self.log.lock().expect("log").tickets
    }
}

fn ended(task: &str, last: bool) -> Write {
    Write::Ended {
        task: task.to_owned(),
        last,
    }
}

fn failed(message: &str) -> TaskStatus {
    TaskStatus::Failed {
        exit_code: Some(1),
        signal: None,
        message: message.to_owned(),
    }
}

#[test]
fn a_dependent_without_outputs_goes_on_while_the_end_it_waits_for_is_queued() {
    let place = Place::new(&[("a", &[], &[]), ("b", &[0], &[])]);
    let mut gate = place.gate(true);
    place.check(&mut gate, 0);
    assert_eq!(gate.start(TaskId(0), 1, true), Start::Now);
    gate.started(TaskId(0), 1);
    let status = TaskStatus::Succeeded;
    assert_eq!(
        gate.end(TaskId(0), 1, status.clone(), true),
        End::Now(status.clone())
    );
    gate.finished(TaskId(0), 1, &status, &Vec::new());
    // Nothing waits for the record: the end is queued, not asked to be committed now.
    assert!(!gate.is_busy());
    gate.commit();
    assert_eq!(place.log.lock().expect("log").flushes, 0);
    place.check(&mut gate, 1);
    assert_eq!(gate.start(TaskId(1), 1, true), Start::Now);
    gate.started(TaskId(1), 1);
    // Killed now: `a`'s end may be missing from the record (a later run runs it again);
    // the writes that are there are in the order they were made.
    assert!(!place.durable().contains(&ended("a", true)));
    let ticket = place.tickets();
    place.commit(ticket);
    assert!(place.durable().contains(&ended("a", true)));
}

#[test]
fn a_task_with_outputs_waits_for_the_ends_queued_while_it_waited_to_start() {
    let place = Place::new(&[("a", &[], &[]), ("b", &[], &["b.txt"])]);
    let mut gate = place.gate(true);
    place.check(&mut gate, 0);
    assert_eq!(gate.start(TaskId(0), 1, true), Start::Now);
    gate.started(TaskId(0), 1);
    place.check(&mut gate, 1);
    assert_eq!(gate.start(TaskId(1), 1, true), Start::Later);
    let marked = place.tickets();
    // `a` ends while `b` waits for its mark to be committed.
    gate.finished(TaskId(0), 1, &TaskStatus::Succeeded, &Vec::new());
    let ended_a = place.tickets();
    assert!(ended_a > marked);
    place.commit(marked);
    assert!(gate.recorded(marked).start.is_empty());
    assert!(gate.is_busy());
    place.commit(ended_a);
    assert_eq!(gate.recorded(ended_a).start, [TaskId(1)]);
    assert!(place.durable().contains(&ended("a", true)));
}

#[test]
fn a_dependent_with_outputs_starts_once_the_end_before_it_is_durable() {
    let place = Place::new(&[("a", &[], &[]), ("b", &[0], &["b.txt"])]);
    let mut gate = place.gate(false);
    place.check(&mut gate, 0);
    assert_eq!(gate.start(TaskId(0), 1, true), Start::Now);
    gate.started(TaskId(0), 1);
    gate.finished(TaskId(0), 1, &TaskStatus::Succeeded, &Vec::new());
    place.check(&mut gate, 1);
    assert_eq!(gate.start(TaskId(1), 1, true), Start::Later);
    let ticket = place.tickets();
    let (stamped, work) = place.filed();
    assert!(gate.filed(stamped, work).start.is_empty());
    // Not before the commit that holds its outputs incomplete, and with them `a`'s end.
    assert!(gate.recorded(ticket - 1).start.is_empty());
    place.commit(ticket);
    assert_eq!(gate.recorded(ticket).start, [TaskId(1)]);
    let durable = place.durable();
    assert!(durable.contains(&ended("a", true)));
    assert!(durable.contains(&Write::Incomplete("b".into())));
}

#[test]
fn a_task_with_outputs_starts_only_once_they_are_durably_incomplete() {
    let place = Place::new(&[("build", &[], &["out.txt"])]);
    let mut gate = place.gate(true);
    place.check(&mut gate, 0);
    assert_eq!(gate.start(TaskId(0), 1, true), Start::Later);
    let ticket = place.tickets();
    // Killed now: the task never ran, whatever the record holds.
    assert!(place.durable().is_empty());
    assert_eq!(gate.recorded(0), Go::default());
    place.commit(ticket);
    let go = gate.recorded(ticket);
    assert_eq!(go.start, [TaskId(0)]);
    // Killed once it runs: the record holds its outputs incomplete.
    assert_eq!(place.durable()[0], Write::Incomplete("build".into()));
}

#[test]
fn an_attempt_starts_once_durable_and_stamped_in_either_order() {
    let place = Place::new(&[("a", &[], &["a.txt"]), ("b", &[], &["b.txt"])]);
    let mut gate = place.gate(false);
    place.check(&mut gate, 0);
    place.check(&mut gate, 1);
    // `a`: durable first, then stamped.
    assert_eq!(gate.start(TaskId(0), 1, true), Start::Later);
    let ticket = place.tickets();
    place.commit(ticket);
    assert_eq!(gate.recorded(ticket).start, Vec::<TaskId>::new());
    let (task, work) = place.filed();
    assert_eq!(task, TaskId(0));
    assert_eq!(gate.filed(task, work).start, [TaskId(0)]);
    // `b`: stamped first, then durable.
    assert_eq!(gate.start(TaskId(1), 1, true), Start::Later);
    let (task, work) = place.filed();
    assert_eq!(gate.filed(task, work).start, Vec::<TaskId>::new());
    let ticket = place.tickets();
    place.commit(ticket);
    assert_eq!(gate.recorded(ticket).start, [TaskId(1)]);
    assert!(!gate.is_busy());
}

#[test]
fn a_success_without_its_output_fails_off_the_callers_thread() {
    let place = Place::new(&[("build", &[], &["out.txt"])]);
    let mut gate = place.gate(true);
    place.check(&mut gate, 0);
    assert_eq!(gate.start(TaskId(0), 1, true), Start::Later);
    assert_eq!(
        gate.end(TaskId(0), 1, TaskStatus::Succeeded, true),
        End::Later
    );
    assert!(gate.is_busy());
    let (task, work) = place.filed();
    let go = gate.filed(task, work);
    let (task, status, aside) = go.ended.expect("the end goes on");
    assert_eq!(task, TaskId(0));
    assert_eq!(status, failed_unmade("out.txt"));
    assert_eq!(aside, None);
}

fn failed_unmade(path: &str) -> TaskStatus {
    TaskStatus::Failed {
        exit_code: None,
        signal: None,
        message: format!("it did not create its output `{path}`"),
    }
}

#[test]
fn what_a_failed_attempt_made_is_set_aside_off_the_callers_thread() {
    let place = Place::new(&[("build", &[], &["out.txt"])]);
    let mut gate = place.gate(false);
    place.check(&mut gate, 0);
    assert_eq!(gate.start(TaskId(0), 1, true), Start::Later);
    let (task, work) = place.filed();
    assert_eq!(gate.filed(task, work).start, Vec::<TaskId>::new());
    let ticket = place.tickets();
    place.commit(ticket);
    assert_eq!(gate.recorded(ticket).start, [TaskId(0)]);
    std::fs::write(place.dir.path().join("out.txt"), "half").expect("write");
    assert_eq!(gate.end(TaskId(0), 1, failed("boom"), true), End::Later);
    let (task, work) = place.filed();
    let (_, status, aside) = gate.filed(task, work).ended.expect("the end goes on");
    assert_eq!(status, failed("boom"));
    let aside = aside.expect("set aside");
    assert_eq!(aside.moved, ["out.txt"]);
    assert!(aside.to.join("out.txt").exists());
    assert!(!place.dir.path().join("out.txt").exists());
}

#[test]
fn an_attempt_without_file_work_ends_at_once() {
    let place = Place::new(&[("a", &[], &[])]);
    let mut gate = place.gate(false);
    place.check(&mut gate, 0);
    assert_eq!(gate.start(TaskId(0), 1, true), Start::Now);
    assert_eq!(
        gate.end(TaskId(0), 1, failed("no"), true),
        End::Now(failed("no"))
    );
    assert!(!gate.is_busy());
}

#[test]
fn ends_are_committed_together() {
    let place = Place::new(&[("a", &[], &[]), ("b", &[], &[]), ("c", &[], &[])]);
    let mut gate = place.gate(true);
    for task in 0..3 {
        place.check(&mut gate, task);
        assert_eq!(gate.start(TaskId(task), 1, true), Start::Now);
        gate.started(TaskId(task), 1);
        gate.finished(TaskId(task), 1, &TaskStatus::Succeeded, &Vec::new());
        // Nothing waits for these ends: they gather.
        gate.commit();
    }
    assert_eq!(place.log.lock().expect("log").flushes, 0);
    assert!(!gate.is_busy());
    // One commit holds every end before its ticket.
    let ticket = place.tickets();
    place.commit(ticket);
    let durable = place.durable();
    for name in ["a", "b", "c"] {
        assert!(durable.contains(&ended(name, true)), "{name}");
    }
}

#[test]
fn a_start_waiting_on_the_record_commits_at_once() {
    let place = Place::new(&[("build", &[], &["out"])]);
    let mut gate = place.gate(true);
    place.check(&mut gate, 0);
    assert_eq!(gate.start(TaskId(0), 1, true), Start::Later);
    gate.commit();
    assert_eq!(place.log.lock().expect("log").flushes, 1);
}

#[test]
fn an_up_to_date_task_is_recorded_and_skipped() {
    let place = Place::new(&[("fresh", &[], &["out"])]);
    let mut gate = place.gate(true);
    assert!(matches!(
        place.decide(&mut gate, 0),
        Check::Done {
            reason: SkipReason::UpToDate,
            ..
        }
    ));
    assert_eq!(
        place.log.lock().expect("log").writes,
        [Write::Skipped("fresh".into())]
    );
}

/// Runs a chain of tasks with outputs through the gate as the coordinator does, and kills
/// the engine at every point of the protocol: at each, what the record holds must be enough
/// for whatever the gate has let happen (a running task's outputs are durably incomplete,
/// and the end of every task that ended before it is durable too).
#[test]
fn whenever_the_engine_dies_the_record_holds_what_was_let_happen() {
    let specs: [Spec<'_>; 3] = [
        ("one", &[], &["one.txt"]),
        ("two", &[0], &["two.txt"]),
        ("three", &[1], &[]),
    ];
    let place = Place::new(&specs);
    let mut gate = place.gate(false);
    // What the gate let happen so far: tasks that started (a task with outputs among them
    // needs the ends of those that ended before it); tasks that ended.
    let mut running: Vec<&str> = Vec::new();
    let mut settled: Vec<&str> = Vec::new();
    let killed_now = |running: &[&str], settled: &[&str]| {
        let durable = place.durable();
        for name in running {
            let outputs = specs.iter().find(|spec| spec.0 == *name).map(|spec| spec.2);
            if outputs.is_some_and(|outputs| !outputs.is_empty()) {
                assert!(durable.contains(&Write::Incomplete((*name).into())));
                for before in settled {
                    assert!(durable.contains(&ended(before, true)), "{before}");
                }
            }
        }
    };
    for (index, (name, _, outputs)) in specs.iter().enumerate() {
        let task = TaskId(u32::try_from(index).expect("small"));
        killed_now(&running, &settled);
        place.check(&mut gate, task.0);
        match gate.start(task, 1, true) {
            Start::Now => gate.started(task, 1),
            Start::Later => {
                killed_now(&running, &settled);
                let ticket = place.tickets();
                let (stamped, work) = place.filed();
                assert!(gate.filed(stamped, work).start.is_empty());
                killed_now(&running, &settled);
                place.commit(ticket);
                assert_eq!(gate.recorded(ticket).start, [task]);
            }
        }
        running.push(name);
        killed_now(&running, &settled);
        std::fs::write(place.dir.path().join(format!("{name}.txt")), name).expect("write");
        let status = match gate.end(task, 1, TaskStatus::Succeeded, true) {
            End::Now(status) => status,
            End::Later => {
                assert!(!outputs.is_empty());
                killed_now(&running, &settled);
                let (done, work) = place.filed();
                gate.filed(done, work).ended.expect("ended").1
            }
        };
        assert_eq!(status, TaskStatus::Succeeded);
        gate.finished(task, 1, &status, &Vec::new());
        running.retain(|running| running != name);
        settled.push(name);
        killed_now(&running, &settled);
    }
    assert!(!gate.is_busy());
}

#[test]
fn a_task_whose_input_is_missing_fails_its_check_off_the_callers_thread() {
    let mut place = Place::new(&[("read", &[], &[])]);
    place.workflow.tasks[0].files = Some(Arc::new(TaskFiles {
        inputs: vec!["missing.txt".into()],
        outputs: Vec::new(),
        depfile: None,
    }));
    let mut gate = place.gate(true);
    let Check::Failed(message) = place.decide(&mut gate, 0) else {
        panic!("the check fails");
    };
    assert!(message.contains("missing.txt"), "{message}");
    assert!(!gate.is_busy());
}
