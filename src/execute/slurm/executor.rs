//! `SlurmExecutor`: process tasks as Slurm batch jobs, everything else on this machine.
//!
//! Each job runs a wrapper script that writes its command's exit status to a file in the
//! shared state dir. The executor looks at the jobs' output and status files five times a
//! second and asks `squeue` about all live jobs in one call once a second; between looks it
//! sleeps where the local executor sleeps, so script output and Ctrl-C still wake it at once.

use std::borrow::Cow;
use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

use super::controller::Controller;
use super::queue::{JobRecord, JobState, QueueEntry};
use super::request::{JobRequest, job_name, submission_args};
use super::tail::Tail;
use super::wrapper::{MASK_SECRETS, StatusFile, Word, Wrapper, read_status};
use crate::events::Stream;
use crate::exchange::{Exit, JobPhase, Launch, Message, Termination};
use crate::execute::process::read_results;
use crate::execute::{Executor, LocalExecutor, RunContext, TaskLog};
use crate::model::{Command, ExecutorKind, Task, TaskId, Workflow};
use crate::state_dir::JobFiles;

/// How often the jobs' output and status files are read.
const LOOK_INTERVAL: Duration = Duration::from_millis(200);

/// How often `squeue` is asked about the live jobs.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How often `squeue` is asked while cancelled jobs are on their way out.
const POLL_AFTER_CANCEL: Duration = Duration::from_millis(250);

/// How long after Slurm says a job is over engine still waits for its status file, which a
/// shared filesystem may show other machines a little late.
const STATUS_GRACE: Duration = Duration::from_secs(3);

/// How long `squeue` may keep failing before engine gives up on the running jobs.
const POLL_GIVE_UP: Duration = Duration::from_secs(120);

/// How long the executor, when dropped with jobs still live, waits for them to leave the
/// queue after cancelling them.
const DROP_WAIT: Duration = Duration::from_secs(15);

/// Runs process tasks that go to Slurm as batch jobs; thread tasks and local process tasks go
/// to the local executor.
pub struct SlurmExecutor {
    local: LocalExecutor,
    controller: Controller,
    context: Arc<RunContext>,
    /// The run's `slurm/` directory: wrapper scripts, job output, status files, `jobs.tsv`.
    job_dir: PathBuf,
    workflow: String,
    /// The engine binary, which runs `script` tasks with `isolation: process`.
    worker: PathBuf,
    /// Per task: whether it goes to Slurm.
    on_slurm: Vec<bool>,
    /// `engine run --executor`, for the tasks a placeholder expands into during the run.
    choice: Option<ExecutorKind>,
    jobs: FxHashMap<TaskId, Job>,
    /// Messages made outside `wait`, sent with the next one.
    messages: Vec<Message>,
    /// Jobs to cancel at the next `wait`, with whether to kill them at once: cancelling in
    /// one `scancel` what the coordinator stops task by task.
    cancels: Vec<(String, bool)>,
    next_look: Instant,
    next_poll: Instant,
    polls_failing_since: Option<Instant>,
}

/// A submitted job that has not been reported finished.
struct Job {
    id: String,
    files: JobFiles,
    /// Its `$ENGINE_RESULTS` file.
    results: std::path::PathBuf,
    stdout: Tail,
    stderr: Tail,
    log: TaskLog,
    /// The state `squeue` last gave.
    state: Option<JobState>,
    /// The state last reported to the coordinator.
    shown: String,
    /// Whether engine cancelled it.
    cancelled: bool,
    /// When Slurm first said it was over while its status file was missing.
    over_since: Option<Instant>,
    /// Polls in a row in which `squeue` did not list it.
    missing: u32,
}

impl Job {
    fn read_output(&mut self, task: TaskId, out: &mut Vec<Message>) {
        let existed = self.stdout.exists();
        let stdout = self.stdout.read(&self.log);
        let stderr = self.stderr.read(&self.log);
        // The log grows as the job's files do (at most one write per look; nothing when
        // nothing was read), so that it can be followed while the job runs.
        self.log.flush();
        if !existed && self.stdout.exists() && self.state != Some(JobState::Running) {
            // Slurm creates the output file as the job starts: that is the start, up to a
            // second before `squeue` tells.
            self.state = Some(JobState::Running);
            self.shown = "RUNNING".into();
            out.push(Message::Job {
                task,
                job_id: self.id.clone(),
                state: self.shown.clone(),
                phase: JobPhase::Started,
            });
        }
        push_output(task, stdout, stderr, out);
    }

    fn finish_output(&mut self, task: TaskId, out: &mut Vec<Message>) {
        let stdout = self.stdout.finish(&self.log);
        let stderr = self.stderr.finish(&self.log);
        push_output(task, stdout, stderr, out);
        self.log.flush();
    }

    /// Takes in what `squeue` says; reports queue and run states to the coordinator.
    fn update(&mut self, task: TaskId, entry: &QueueEntry, out: &mut Vec<Message>) {
        let was_running = self.state == Some(JobState::Running);
        self.state = Some(entry.state.clone());
        self.missing = 0;
        let running = entry.state == JobState::Running;
        if !(entry.state.is_queued() || running) {
            return;
        }
        let text = entry.describe();
        if text != self.shown {
            self.shown.clone_from(&text);
            let phase = match (running, was_running) {
                (false, _) => JobPhase::Queued,
                (true, false) => JobPhase::Started,
                (true, true) => JobPhase::Running,
            };
            out.push(Message::Job {
                task,
                job_id: self.id.clone(),
                state: text,
                phase,
            });
        }
    }
}

fn push_output(task: TaskId, stdout: Vec<String>, stderr: Vec<String>, out: &mut Vec<Message>) {
    for (stream, lines) in [(Stream::Stdout, stdout), (Stream::Stderr, stderr)] {
        if !lines.is_empty() {
            out.push(Message::Output {
                task,
                stream,
                lines,
            });
        }
    }
}

impl SlurmExecutor {
    /// An executor for one run: `on_slurm` says for each task of `workflow` whether it goes
    /// to Slurm; everything else goes to `local`. The run's directory (`context.run_dir`)
    /// must be on a filesystem the cluster's nodes share.
    #[must_use]
    pub fn new(
        local: LocalExecutor,
        controller: Controller,
        context: RunContext,
        workflow: &Workflow,
        on_slurm: Vec<bool>,
    ) -> Self {
        let now = Instant::now();
        Self {
            local,
            controller,
            job_dir: context.run_dir.slurm(),
            context: Arc::new(context),
            workflow: workflow.name.clone(),
            worker: std::env::current_exe().unwrap_or_else(|_| "engine".into()),
            on_slurm,
            choice: None,
            jobs: FxHashMap::default(),
            messages: Vec::new(),
            cancels: Vec::new(),
            next_look: now,
            next_poll: now,
            polls_failing_since: None,
        }
    }

    /// The executor `engine run --executor` chose for every process task, which also decides
    /// where the tasks made during the run go.
    #[must_use]
    pub fn choosing(mut self, choice: Option<ExecutorKind>) -> Self {
        self.choice = choice;
        self
    }

    fn goes_to_slurm(&self, task: TaskId) -> bool {
        self.on_slurm.get(task.index()).copied().unwrap_or(false)
    }

    /// Writes the wrapper and submits the job.
    fn submit(&mut self, task: &Task, launch: &Launch) -> Result<(), String> {
        if !launch.cwd.is_dir() {
            return Err(format!(
                "cannot start: the working directory `{}` does not exist",
                launch.cwd.display()
            ));
        }
        // On the file system the nodes share, as the job's own files.
        crate::execute::create_output_dirs(launch)?;
        let files = self.context.run_dir.job_files(&task.name, launch.attempt);
        let results = self.context.run_dir.job_results(&task.name, launch.attempt);
        for dir in [&self.job_dir, &self.context.run_dir.results()] {
            crate::execute::private_dir(dir)
                .map_err(|error| format!("cannot create `{}`: {error}", dir.display()))?;
        }
        crate::execute::process::create_results_file(&results)?;
        let (script, submitted) = self.wrapper_script(task, launch, &files, &results)?;
        // The script is the user's alone; so are the output files, which Slurm creates as
        // the job starts (their appearance tells that it started) and the script makes 0600.
        write_private(&files.script, &script)?;
        // A directory that names a secret is entered by the script alone.
        let hidden_cwd = submitted
            .iter()
            .any(|(_, value)| value.as_os_str() == launch.cwd.as_os_str());
        let args = submission_args(
            &job_name(&self.workflow, &task.name),
            if hidden_cwd {
                &self.job_dir
            } else {
                &launch.cwd
            },
            &files,
            &JobRequest::of(task),
        );
        let id = self
            .controller
            .submit(&args, &submitted)
            .map_err(|error| format!("sbatch refused the job: {error}"))?;
        self.record(&task.name, launch.attempt, &id);
        if self.jobs.is_empty() {
            // The first state is worth seeing soon; later ones come with the regular polls.
            self.next_poll = self.next_poll.max(Instant::now() + POLL_AFTER_CANCEL);
        }
        self.messages.push(Message::Job {
            task: task.id,
            job_id: id.clone(),
            state: "submitted".into(),
            phase: JobPhase::Queued,
        });
        let log = TaskLog::new(self.context.run_dir.log(&task.name));
        self.jobs.insert(
            task.id,
            Job {
                id,
                results,
                stdout: Tail::new(files.stdout.clone(), &self.context.masker),
                stderr: Tail::new(files.stderr.clone(), &self.context.masker),
                files,
                log,
                state: None,
                shown: String::new(),
                cancelled: false,
                over_since: None,
                missing: 0,
            },
        );
        Ok(())
    }

    /// The wrapper script, and the environment to submit it with: the values that hold a
    /// secret (never written in the script) and, with secrets, `ENGINE_MASK` for the
    /// `__mask` worker that masks the command's output on the node.
    fn wrapper_script(
        &self,
        task: &Task,
        launch: &Launch,
        files: &JobFiles,
        results: &std::path::Path,
    ) -> Result<(Vec<u8>, Submitted), String> {
        let command: Vec<&OsStr> = match &launch.command {
            Command::Shell { run, shell } => crate::model::shell_invocation(shell)
                .into_iter()
                .map(OsStr::new)
                .chain([OsStr::new("-c"), OsStr::new(&**run)])
                .collect(),
            Command::Script { .. } => vec![
                self.worker.as_os_str(),
                OsStr::new("__script"),
                self.context.workflow_path.as_os_str(),
                OsStr::new(&task.name),
            ],
            Command::None => return Err("a task without a command has nothing to start".into()),
        };
        // `requires` are checked on the node, in the job, before the command.
        let checked: Vec<std::ffi::OsString> = if task.requires.is_empty() {
            Vec::new()
        } else {
            crate::execute::requires::with_requirements(&task.requires, command.iter().copied())
        };
        let command: Vec<&OsStr> = if checked.is_empty() {
            command
        } else {
            checked.iter().map(std::ffi::OsString::as_os_str).collect()
        };
        let mut env: Vec<(&str, &OsStr)> = launch
            .env
            .iter()
            .map(|(name, value)| (name.as_str(), OsStr::new(value)))
            .collect();
        env.extend([
            ("ENGINE_TASK", OsStr::new(&task.name)),
            ("ENGINE_WORKFLOW", self.context.workflow_path.as_os_str()),
            ("ENGINE_RUN_ID", OsStr::new(&self.context.run_id)),
            ("ENGINE_RESULTS", results.as_os_str()),
        ]);
        let masker = &self.context.masker;
        // Every value, in this order: the variables', the command's words, the directory.
        let values: Vec<&OsStr> = env
            .iter()
            .map(|(_, value)| *value)
            .chain(command.iter().copied())
            .chain([launch.cwd.as_os_str()])
            .collect();
        let names: Vec<String> = (0..values.len())
            .map(|n| format!("ENGINE_HIDDEN_{n}"))
            .collect();
        let mut submitted: Vec<(String, OsString)> = Vec::new();
        let mut words: Vec<Word> = Vec::with_capacity(values.len());
        for (value, name) in values.iter().zip(&names) {
            let secret = !masker.is_empty()
                && matches!(masker.mask(&value.to_string_lossy()), Cow::Owned(_));
            if secret {
                submitted.push((name.clone(), (*value).to_owned()));
                words.push(Word::Hidden(name));
            } else {
                words.push(Word::Text(value));
            }
        }
        let cwd = words.pop().unwrap_or(Word::Text(launch.cwd.as_os_str()));
        let command_words = words.split_off(env.len());
        let wrapper = Wrapper {
            description: format!(
                "task `{}` of `{}`, run {}, attempt {}",
                task.name,
                self.context.workflow_path.display(),
                self.context.run_id,
                launch.attempt
            ),
            command: command_words,
            env: env.iter().map(|(name, _)| *name).zip(words).collect(),
            cwd,
            files,
            mask: (!masker.is_empty()).then_some(self.worker.as_path()),
        };
        if !masker.is_empty() {
            let values = serde_json::to_string(masker.patterns()).unwrap_or_default();
            submitted.push((MASK_SECRETS.to_owned(), values.into()));
        }
        Ok((wrapper.script(), submitted))
    }

    /// Appends `task attempt job` to the run's `jobs.tsv`, the record of what was submitted
    /// (for `scancel` by hand should engine be killed).
    fn record(&self, task: &str, attempt: u32, id: &str) {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.context.run_dir.job_list();
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
        {
            let _ = writeln!(file, "{task}\t{attempt}\t{id}");
        }
    }

    /// Sends the cancellations asked for since the last wait.
    fn send_cancels(&mut self) {
        if self.cancels.is_empty() {
            return;
        }
        let cancels = std::mem::take(&mut self.cancels);
        let kill: Vec<&str> = cancels
            .iter()
            .filter(|(_, kill)| *kill)
            .map(|(id, _)| id.as_str())
            .collect();
        let graceful: Vec<&str> = cancels
            .iter()
            .filter(|(_, kill)| !*kill)
            .map(|(id, _)| id.as_str())
            .collect();
        // Jobs still in the queue are cancelled (the controller leaves those that began to
        // run meanwhile); then the running ones get SIGTERM in their batch shell alone, which
        // passes it on to all of the job's processes at once (see the wrapper). A kill is a
        // plain cancel, which also removes pending jobs, and SIGKILL to every process.
        // Failures are retried by the coordinator's next step (the kill after the grace
        // period) and by `drop`.
        let _ = self.controller.cancel_pending(&graceful);
        let _ = self.controller.signal_batch(&graceful, "TERM");
        let _ = self.controller.cancel(&kill, false);
        let _ = self.controller.cancel(&kill, true);
        self.next_poll = self.next_poll.min(Instant::now() + POLL_AFTER_CANCEL);
    }

    /// Reads the jobs' new output and status files; ends the jobs that have one. Jobs that
    /// `squeue` last saw waiting in the queue have neither yet: they are looked at only with
    /// `all` (after each poll), which keeps the cost of a look at thousands of queued jobs
    /// to the running ones.
    fn look(&mut self, all: bool, out: &mut Vec<Message>) {
        let mut ended = Vec::new();
        for (&task, job) in &mut self.jobs {
            if !all && job.state.as_ref().is_some_and(JobState::is_queued) {
                continue;
            }
            job.read_output(task, out);
            match read_status(&job.files.status) {
                StatusFile::Missing => {}
                StatusFile::Code(code) => ended.push((task, Exit::Code(code))),
                StatusFile::Stopped { code, .. } if job.cancelled => {
                    ended.push((task, Exit::Code(code)));
                }
                // Stopped by someone else: Slurm's state tells by whom (a cancel, the time
                // limit), and the poll that sees it settles the job.
                StatusFile::Stopped { .. } => {}
                StatusFile::Invalid(text) => ended.push((task, invalid_status(&job.id, &text))),
            }
        }
        for (task, exit) in ended {
            self.end(task, exit, out);
        }
    }

    /// Asks `squeue` about every live job at once.
    fn poll(&mut self, out: &mut Vec<Message>) -> Result<(), String> {
        let ids: Vec<&str> = self.jobs.values().map(|job| job.id.as_str()).collect();
        let entries = match self.controller.queue(&ids) {
            Ok(entries) => {
                self.polls_failing_since = None;
                entries
            }
            Err(error) => {
                let since = *self.polls_failing_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= POLL_GIVE_UP {
                    return Err(format!(
                        "squeue has failed for {}s: {error}",
                        since.elapsed().as_secs()
                    ));
                }
                return Ok(());
            }
        };
        let by_id: FxHashMap<&str, &QueueEntry> = entries
            .iter()
            .map(|entry| (entry.id.as_str(), entry))
            .collect();
        let mut over = Vec::new();
        for (&task, job) in &mut self.jobs {
            match by_id.get(job.id.as_str()) {
                Some(entry) => {
                    job.update(task, entry, out);
                    if entry.state.is_final() {
                        over.push((task, Some(entry.state.clone())));
                    }
                }
                // Forgotten by `squeue` (once could be a race with its listing).
                None => {
                    job.missing += 1;
                    if job.missing >= 2 {
                        over.push((task, None));
                    }
                }
            }
        }
        for (task, state) in over {
            self.settle(task, state, out);
        }
        Ok(())
    }

    /// Ends a job that Slurm says is over (in `state`) or has forgotten (`None`): from its
    /// status file if there is one, else (after a grace period for the shared filesystem)
    /// from what Slurm knows.
    fn settle(&mut self, task: TaskId, state: Option<JobState>, out: &mut Vec<Message>) {
        let Some(job) = self.jobs.get_mut(&task) else {
            return;
        };
        match read_status(&job.files.status) {
            StatusFile::Code(code) => return self.end(task, Exit::Code(code), out),
            StatusFile::Stopped { code, .. } if job.cancelled => {
                return self.end(task, Exit::Code(code), out);
            }
            StatusFile::Stopped { code, signal } => {
                let exit = stopped_outside(&job.id, code, &signal, state.as_ref());
                return self.end(task, exit, out);
            }
            StatusFile::Invalid(text) => {
                let exit = invalid_status(&job.id, &text);
                return self.end(task, exit, out);
            }
            StatusFile::Missing => {}
        }
        // A job engine cancelled ends without a status; any other may have one on its way.
        if !job.cancelled {
            let since = *job.over_since.get_or_insert_with(Instant::now);
            if since.elapsed() < STATUS_GRACE {
                return;
            }
        }
        let exit = match state {
            // The state says how it ended; only an exit code needs `scontrol` (which costs a
            // call per job: thousands of cancelled jobs would take seconds).
            Some(state) if !matches!(state, JobState::Completed | JobState::Failed) => {
                exit_of_state(&job.id, job.cancelled, &state, None)
            }
            _ => {
                let record = self.controller.show_job(&job.id);
                if let Ok(Some(record)) = &record
                    && !record.state.is_final()
                {
                    // `squeue` left it out, but it is not over: keep following it.
                    job.missing = 0;
                    job.over_since = None;
                    return;
                }
                exit_without_status(&job.id, job.cancelled, record)
            }
        };
        if matches!(exit, Exit::Code(_)) && !job.cancelled {
            out.push(Message::Output {
                task,
                stream: Stream::Stderr,
                lines: vec![format!(
                    "engine: Slurm job {} left no status file at `{}`; its exit code is taken \
                     from Slurm (is the state dir on a filesystem the nodes share?)",
                    job.id,
                    job.files.status.display()
                )],
            });
        }
        self.end(task, exit, out);
    }

    /// Cancels the jobs that have not begun to run, and forgets those that Slurm confirms
    /// never ran; the others (which began meanwhile) run on as before.
    fn withdraw(&mut self) -> Vec<TaskId> {
        let queued: Vec<(TaskId, String)> = self
            .jobs
            .iter()
            .filter(|(_, job)| {
                !job.cancelled
                    && !job.stdout.exists()
                    && job.state.as_ref().is_none_or(JobState::is_queued)
            })
            .map(|(&task, job)| (task, job.id.clone()))
            .collect();
        if queued.is_empty() {
            return Vec::new();
        }
        let ids: Vec<&str> = queued.iter().map(|(_, id)| id.as_str()).collect();
        if self.controller.cancel_pending(&ids).is_err() {
            return Vec::new();
        }
        let Ok(entries) = self.controller.queue(&ids) else {
            // Some were cancelled, but which is unknown: the polls will tell how each ended.
            for (task, _) in &queued {
                if let Some(job) = self.jobs.get_mut(task) {
                    job.cancelled = true;
                }
            }
            return Vec::new();
        };
        let mut withdrawn = Vec::new();
        for (task, id) in queued {
            let never_ran = entries.iter().any(|entry| {
                entry.id == id && entry.state == JobState::Cancelled && entry.nodes.is_empty()
            });
            if never_ran {
                self.jobs.remove(&task);
                self.messages.push(Message::Job {
                    task,
                    job_id: id,
                    state: "withdrawn before it ran (the run stopped after a failure)".into(),
                    phase: JobPhase::Queued,
                });
                withdrawn.push(task);
            }
        }
        withdrawn
    }

    /// Reports a job's end after its last output.
    fn end(&mut self, task: TaskId, mut exit: Exit, out: &mut Vec<Message>) {
        let Some(mut job) = self.jobs.remove(&task) else {
            return;
        };
        job.finish_output(task, out);
        let mut results = Vec::new();
        read_results(&job.results, &mut exit, &mut results, &self.context.masker);
        out.push(Message::Finished {
            task,
            exit,
            results,
        });
    }
}

/// How a job ended that left no (valid) status file, from Slurm's record of it.
fn exit_without_status(
    id: &str,
    cancelled: bool,
    record: Result<Option<JobRecord>, String>,
) -> Exit {
    let record = match record {
        Ok(Some(record)) => record,
        Ok(None) => {
            return Exit::JobFailed(format!(
                "Slurm job {id} is gone from the queue and left no exit status"
            ));
        }
        Err(error) => {
            return Exit::JobFailed(format!(
                "Slurm job {id} ended without an exit status, and `scontrol` failed: {error}"
            ));
        }
    };
    exit_of_state(id, cancelled, &record.state, record.exit)
}

/// How a job ended that left no status file, from its final state and, for `COMPLETED` and
/// `FAILED`, the exit code of its batch script (`code:signal`).
fn exit_of_state(id: &str, cancelled: bool, state: &JobState, exit: Option<(i32, i32)>) -> Exit {
    match (state, exit) {
        (JobState::Completed | JobState::Failed, Some((code, 0))) => Exit::Code(code),
        (JobState::Failed, Some((_, signal))) => Exit::JobFailed(format!(
            "Slurm job {id} FAILED: killed by signal {}",
            nix::sys::signal::Signal::try_from(signal)
                .map_or_else(|_| signal.to_string(), |signal| signal.as_str().to_owned())
        )),
        (JobState::Cancelled, _) if cancelled => {
            Exit::JobFailed(format!("Slurm job {id} was cancelled"))
        }
        (JobState::Cancelled, _) => {
            Exit::JobFailed(format!("Slurm job {id} was cancelled outside engine"))
        }
        (JobState::Timeout, _) => {
            Exit::JobFailed(format!("Slurm job {id} reached its time limit (TIMEOUT)"))
        }
        (JobState::OutOfMemory, _) => {
            Exit::JobFailed(format!("Slurm job {id} ran out of memory (OUT_OF_MEMORY)"))
        }
        (JobState::NodeFail, _) => {
            Exit::JobFailed(format!("the node of Slurm job {id} failed (NODE_FAIL)"))
        }
        (state, _) => Exit::JobFailed(format!("Slurm job {id} ended {state}")),
    }
}

/// How a job ended whose command someone other than engine stopped with `signal` (its batch
/// shell passed the signal on), given the state Slurm gives it, if any.
fn stopped_outside(id: &str, code: i32, signal: &str, state: Option<&JobState>) -> Exit {
    match state {
        Some(state @ (JobState::Cancelled | JobState::Timeout)) => {
            exit_of_state(id, false, state, None)
        }
        // It stopped cleanly: the command chose to finish its work.
        _ if code == 0 => Exit::Code(0),
        _ => Exit::JobFailed(format!(
            "Slurm job {id} was stopped by SIG{signal} from outside engine; its command \
             exited with code {code}"
        )),
    }
}

fn invalid_status(id: &str, text: &str) -> Exit {
    Exit::JobFailed(format!(
        "the status file of Slurm job {id} holds `{text}`, not an exit status"
    ))
}

impl Executor for SlurmExecutor {
    fn start(&mut self, task: &Task, launch: &Launch) -> Result<Option<u32>, String> {
        if self.on_slurm.len() <= task.id.index() {
            // A task a placeholder expanded into during the run: `--executor`, else its own
            // `executor` (the placeholder's) decides.
            self.on_slurm.resize(task.id.index() + 1, false);
            self.on_slurm[task.id.index()] = super::runs_on_slurm(task, self.choice);
        }
        if !self.goes_to_slurm(task.id) {
            return self.local.start(task, launch);
        }
        self.submit(task, launch)?;
        Ok(None)
    }

    fn terminate(&mut self, task: TaskId, how: Termination) {
        if !self.goes_to_slurm(task) {
            self.local.terminate(task, how);
        } else if let Some(job) = self.jobs.get_mut(&task) {
            job.cancelled = true;
            self.cancels
                .push((job.id.clone(), how == Termination::Kill));
        }
    }

    fn finished(&mut self, task: TaskId) {
        if !self.goes_to_slurm(task) {
            self.local.finished(task);
        }
    }

    fn withdraw_queued(&mut self) -> Vec<TaskId> {
        self.withdraw()
    }

    fn wait(&mut self, deadline: Option<Instant>, out: &mut Vec<Message>) -> Result<(), String> {
        self.send_cancels();
        out.append(&mut self.messages);
        let now = Instant::now();
        if self.jobs.is_empty() {
            let deadline = if out.is_empty() { deadline } else { Some(now) };
            return self.local.wait(deadline, out);
        }
        // Sleep where the local executor sleeps (so that script output, local processes and
        // Ctrl-C wake it at once), but no longer than the next look at the jobs.
        let mut wake = self.next_look.min(self.next_poll);
        if let Some(deadline) = deadline {
            wake = wake.min(deadline);
        }
        if !out.is_empty() {
            wake = now;
        }
        self.local.wait(Some(wake), out)?;
        let now = Instant::now();
        let polling = now >= self.next_poll;
        if now >= self.next_look || polling {
            self.look(polling, out);
            self.next_look = now + LOOK_INTERVAL;
        }
        if polling && !self.jobs.is_empty() {
            self.poll(out)?;
            let cancelling = self.jobs.values().any(|job| job.cancelled);
            self.next_poll = Instant::now()
                + if cancelling {
                    POLL_AFTER_CANCEL
                } else {
                    POLL_INTERVAL
                };
        }
        Ok(())
    }
}

impl Drop for SlurmExecutor {
    /// Cancels the jobs the coordinator gave up on, and waits until they have left the
    /// queue: no job of this run outlives the engine.
    fn drop(&mut self) {
        if self.jobs.is_empty() {
            return;
        }
        let ids: Vec<String> = self.jobs.values().map(|job| job.id.clone()).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let _ = self.controller.cancel(&ids, false);
        let deadline = Instant::now() + DROP_WAIT;
        let mut left: Vec<String> = Vec::new();
        while Instant::now() < deadline {
            left = match self.controller.queue(&ids) {
                Ok(entries) => entries
                    .into_iter()
                    .filter(|entry| !entry.state.is_final())
                    .map(|entry| entry.id)
                    .collect(),
                Err(_) => ids.iter().map(|id| (*id).to_owned()).collect(),
            };
            if left.is_empty() {
                return;
            }
            std::thread::sleep(POLL_AFTER_CANCEL);
        }
        let left = left.join(" ");
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "engine: Slurm jobs may still be in the queue; cancel them with `scancel {left}`"
        );
    }
}

/// Environment variables a job is submitted with, on top of the engine's.
type Submitted = Vec<(String, OsString)>;

/// Writes `bytes` to the file at `path`, created readable by the user alone (0600).
fn write_private(path: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
    crate::execute::private_file(path)
        .and_then(|mut file| file.write_all(bytes))
        .map_err(|error| format!("cannot write `{}`: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_without_a_status_file_end_as_slurm_says() {
        let failed = |message: &str| Exit::JobFailed(message.to_owned());
        for (state, exit, cancelled, expected) in [
            (JobState::Completed, Some((0, 0)), false, Exit::Code(0)),
            (JobState::Failed, Some((3, 0)), false, Exit::Code(3)),
            (
                JobState::Failed,
                Some((0, 9)),
                false,
                failed("Slurm job 7 FAILED: killed by signal SIGKILL"),
            ),
            (
                JobState::Cancelled,
                None,
                true,
                failed("Slurm job 7 was cancelled"),
            ),
            (
                JobState::Cancelled,
                None,
                false,
                failed("Slurm job 7 was cancelled outside engine"),
            ),
            (
                JobState::Timeout,
                None,
                false,
                failed("Slurm job 7 reached its time limit (TIMEOUT)"),
            ),
            (
                JobState::OutOfMemory,
                None,
                false,
                failed("Slurm job 7 ran out of memory (OUT_OF_MEMORY)"),
            ),
            (
                JobState::NodeFail,
                None,
                false,
                failed("the node of Slurm job 7 failed (NODE_FAIL)"),
            ),
            (
                JobState::Deadline,
                None,
                false,
                failed("Slurm job 7 ended DEADLINE"),
            ),
        ] {
            assert_eq!(
                exit_of_state("7", cancelled, &state, exit),
                expected,
                "{state}"
            );
        }
        assert_eq!(
            exit_without_status("7", false, Ok(None)),
            failed("Slurm job 7 is gone from the queue and left no exit status")
        );
        assert_eq!(
            exit_without_status("7", false, Err("no answer".into())),
            failed("Slurm job 7 ended without an exit status, and `scontrol` failed: no answer")
        );
    }

    #[test]
    fn a_command_stopped_from_outside_engine_ends_with_who_stopped_it() {
        let failed = |message: &str| Exit::JobFailed(message.to_owned());
        for (code, state, expected) in [
            (
                143,
                Some(JobState::Cancelled),
                failed("Slurm job 7 was cancelled outside engine"),
            ),
            (
                143,
                Some(JobState::Timeout),
                failed("Slurm job 7 reached its time limit (TIMEOUT)"),
            ),
            (
                143,
                Some(JobState::Failed),
                failed(
                    "Slurm job 7 was stopped by SIGTERM from outside engine; its command \
                     exited with code 143",
                ),
            ),
            (
                3,
                None,
                failed(
                    "Slurm job 7 was stopped by SIGTERM from outside engine; its command \
                     exited with code 3",
                ),
            ),
            // The command caught the signal and finished its work.
            (0, Some(JobState::Completed), Exit::Code(0)),
        ] {
            assert_eq!(
                stopped_outside("7", code, "TERM", state.as_ref()),
                expected,
                "{code} {state:?}"
            );
        }
    }
}
