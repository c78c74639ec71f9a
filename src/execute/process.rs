//! Process tasks: each in its own process group, stdin from /dev/null, output piped and read
//! line by line by the reactor, the whole group killed when the task ends or is stopped.

use std::ffi::OsString;
use std::sync::Arc;
use std::time::Duration;

use rustc_hash::FxHashMap;
use rustix::process::{PidfdFlags, Signal, pidfd_open};

use super::argv::direct_argv;
use super::reactor::{Group, Reactor, Watch};
use super::spawn::{Invocation, Spawner};
use super::{RunContext, TaskLog};
use crate::exchange::Doorbell;
use crate::exchange::{Exit, Launch, Message, Results, Termination};
use crate::model::{Command as TaskCommand, Task, TaskId, shell_invocation, shell_words};

/// The environment variable that gives the `__script` worker its script when templates were
/// filled in.
pub const SCRIPT_SOURCE: &str = "ENGINE_SCRIPT_SOURCE";

/// The environment variable that gives the `__script` worker the constants `vars`, `matrix`
/// and `tasks`, as JSON.
pub const SCRIPT_CONSTANTS: &str = "ENGINE_SCRIPT_CONSTANTS";

/// Starts process tasks and signals their groups.
#[derive(Debug)]
pub struct ProcessExecutor {
    context: Arc<RunContext>,
    running: FxHashMap<TaskId, Arc<Group>>,
    worker: std::path::PathBuf,
    doorbell: Arc<Doorbell>,
    /// Made with the first process task.
    reactor: Option<Reactor>,
    /// Made with the first process task.
    spawner: Option<Spawner>,
    /// Each running task's results file (`$ENGINE_RESULTS`).
    results: FxHashMap<TaskId, std::path::PathBuf>,
    /// Whether the results directory exists.
    results_dir_made: bool,
    /// The results directory, open, to see whether it is empty (`None`: it could not be
    /// opened; each results file is then looked for).
    results_listing: Option<nix::dir::Dir>,
}

impl ProcessExecutor {
    /// An executor for one run whose waits also end when `doorbell` rings.
    #[must_use]
    pub fn new(context: Arc<RunContext>, doorbell: Arc<Doorbell>) -> Self {
        // The worker for `script` tasks with `isolation: process` is this same binary.
        let worker = std::env::current_exe().unwrap_or_else(|_| "engine".into());
        Self {
            context,
            running: FxHashMap::default(),
            worker,
            doorbell,
            reactor: None,
            spawner: None,
            results: FxHashMap::default(),
            results_dir_made: false,
            results_listing: None,
        }
    }

    /// What starting `task` runs: its program and arguments (wrapped in its `requires`
    /// checks), the variables set over the engine's environment, and its directory.
    fn invocation(&self, task: &Task, launch: &Launch, results: &std::path::Path) -> Invocation {
        let mut invocation = Invocation {
            cwd: launch.cwd.clone(),
            ..Invocation::default()
        };
        let argv = &mut invocation.argv;
        match &launch.command {
            TaskCommand::Shell { run, shell } => {
                match direct_argv(run).filter(|_| &**shell == "sh") {
                    // No shell syntax: exec the program itself, as make does.
                    Some(words) => argv.extend(words.iter().map(OsString::from)),
                    None => {
                        let words = shell_invocation(shell);
                        argv.push(words.first().copied().unwrap_or("sh").into());
                        argv.extend(words.iter().skip(1).map(OsString::from));
                        argv.extend(["-c", &**run].map(OsString::from));
                    }
                }
            }
            TaskCommand::Script { .. } | TaskCommand::None => {
                argv.push(self.worker.clone().into());
                argv.push("__script".into());
                argv.push(self.context.workflow_path.clone().into());
                argv.push(task.name.clone().into());
            }
        }
        if !task.requires.is_empty() {
            invocation.argv = super::requires::with_requirements(
                &task.requires,
                invocation.argv.iter().map(OsString::as_os_str),
            );
        }
        for (name, value) in launch.env.iter() {
            invocation.env(name, value);
        }
        if let TaskCommand::Script { source, .. } = &launch.command {
            // What the worker cannot read from the workflow file: the script with its
            // templates filled in, and the constants `vars`, `matrix` and `tasks`.
            let templated = !matches!(&task.command,
                TaskCommand::Script { source: own, .. } if Arc::ptr_eq(own, source));
            if templated {
                invocation.env(SCRIPT_SOURCE, &**source);
            }
            if let Some(constants) = &launch.constants {
                invocation.env(SCRIPT_CONSTANTS, rhai::format_map_as_json(constants));
            }
        }
        invocation
            .env("ENGINE_TASK", &task.name)
            .env("ENGINE_WORKFLOW", &self.context.workflow_path)
            .env("ENGINE_RUN_ID", &self.context.run_id)
            .env("ENGINE_RESULTS", results);
        invocation
    }

    /// Starts a process task and hands it to the reactor.
    pub fn start(&mut self, task: &Task, launch: &Launch) -> Result<Option<u32>, String> {
        if self.reactor.is_none() {
            let reactor = Reactor::new(Arc::clone(&self.doorbell))
                .map_err(|error| format!("cannot watch processes: {error}"))?;
            let spawner =
                Spawner::new().map_err(|error| format!("cannot start processes: {error}"))?;
            self.reactor = Some(reactor);
            self.spawner = Some(spawner);
        }
        if !self.results_dir_made {
            let dir = self.context.run_dir.results();
            super::private_dir(&dir).map_err(|error| {
                format!(
                    "cannot create the results directory `{}`: {error}",
                    dir.display()
                )
            })?;
            self.results_dir_made = true;
            self.results_listing = nix::dir::Dir::open(
                &dir,
                nix::fcntl::OFlag::O_RDONLY
                    | nix::fcntl::OFlag::O_DIRECTORY
                    | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .ok();
        }
        // The task creates its results file when it writes one: the results directory is
        // the user's alone (0700), so the file is private whatever its mode, and a task that
        // sets no result costs no file made and removed.
        let results = self
            .context
            .run_dir
            .results_of(task.id.index(), launch.attempt);
        let invocation = self.invocation(task, launch, &results);
        let Some(spawner) = &mut self.spawner else {
            return Err("cannot start processes".into());
        };
        let spawned = spawner
            .spawn(&invocation)
            .map_err(|error| spawn_error(launch, &error))?;
        let pid = spawned.pid;
        let Some(group) = Group::new(pid) else {
            return Err(format!("the process id {pid} is out of range"));
        };
        let pidfd = match pidfd_open(group.pgid(), PidfdFlags::empty()) {
            Ok(pidfd) => pidfd,
            Err(error) => {
                let _ = group.kill_and_reap();
                return Err(format!(
                    "cannot watch the process (pidfd_open needs Linux 5.3): {error}"
                ));
            }
        };
        let group = Arc::new(group);
        let log = TaskLog::new(self.context.run_dir.log(&task.name));
        if launch.attempt > 1 {
            log.write(format!("engine: attempt {}\n", launch.attempt).as_bytes());
        }
        let watch = Watch {
            task: task.id,
            group: Arc::clone(&group),
            pidfd,
            stdout: spawned.stdout,
            stderr: spawned.stderr,
            log,
            masker: self.context.masker.clone(),
        };
        if let Some(reactor) = &mut self.reactor {
            reactor
                .watch(watch)
                .map_err(|error| format!("cannot watch the process: {error}"))?;
        }
        self.running.insert(task.id, group);
        self.results.insert(task.id, results);
        Ok(Some(pid))
    }

    /// Whether no process task is watched: nothing can happen but messages from other
    /// threads.
    #[must_use]
    pub fn is_idle(&self) -> bool {
        self.reactor.as_ref().is_none_or(Reactor::is_idle)
    }

    /// Waits for the watched processes (see `Reactor::poll`).
    ///
    /// # Errors
    /// When epoll fails.
    pub fn poll(
        &mut self,
        timeout: Option<Duration>,
        out: &mut Vec<Message>,
    ) -> Result<(), String> {
        let first = out.len();
        let polled = match &mut self.reactor {
            Some(reactor) => reactor
                .poll(timeout, out)
                .map_err(|error| format!("cannot watch processes: {error}")),
            None => Ok(()),
        };
        // Most tasks set no result, and looking for a file that is not there costs a lookup
        // in the directory (a new name each time, so never a cached one): one listing of the
        // directory, empty, answers for every task that ended in this turn.
        let mut empty = None;
        for message in &mut out[first..] {
            if let Message::Finished {
                task,
                exit,
                results,
            } = message
                && let Some(path) = self.results.remove(task)
                && !*empty.get_or_insert_with(|| is_empty(self.results_listing.as_mut()))
            {
                read_results(&path, exit, results, &self.context.masker);
            }
        }
        polled
    }

    /// Forgets a task that ended.
    pub fn finished(&mut self, task: TaskId) {
        self.running.remove(&task);
    }

    /// Signals a task's process group.
    pub fn terminate(&mut self, task: TaskId, how: Termination) {
        if let Some(group) = self.running.get(&task) {
            group.signal(match how {
                Termination::Graceful => Signal::TERM,
                Termination::Kill => Signal::KILL,
            });
        }
    }
}

fn spawn_error(launch: &Launch, error: &std::io::Error) -> String {
    if !launch.cwd.is_dir() {
        return format!(
            "cannot start: the working directory `{}` does not exist",
            launch.cwd.display()
        );
    }
    let TaskCommand::Shell { run, shell } = &launch.command else {
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
        (None, std::io::ErrorKind::NotFound) => format!(
            "cannot start: the shell `{}` was not found",
            shell_words(shell).next().unwrap_or("sh")
        ),
        _ => format!("cannot start: {error}"),
    }
}

/// Creates a task's empty results file, private to the user (0600): the task appends to it
/// and keeps its mode, so the results it writes (secrets among them) are never readable by
/// others.
pub(super) fn create_results_file(path: &std::path::Path) -> Result<(), String> {
    super::private_file(path)
        .map(drop)
        .map_err(|error| format!("cannot create `{}`: {error}", path.display()))
}

/// Whether the open directory `listing` holds nothing: no results file can be in it. A file
/// made before the listing starts is in it, and each task ended (and wrote its file) before
/// the reactor saw it end. `false` when not known.
fn is_empty(listing: Option<&mut nix::dir::Dir>) -> bool {
    let Some(listing) = listing else {
        return false;
    };
    // The iterator rewinds the directory when dropped, for the next listing.
    listing
        .iter()
        .all(|entry| entry.is_ok_and(|entry| matches!(entry.file_name().to_bytes(), b"." | b"..")))
}

/// Reads a finished task's results file into `results` and removes it: what a task set is
/// kept, masked, in the record only. A file that cannot be read fails a task that otherwise
/// succeeded, with the reason; keys and values are masked.
pub(super) fn read_results(
    path: &std::path::Path,
    exit: &mut Exit,
    results: &mut Results,
    masker: &crate::template::Masker,
) {
    let read = std::fs::read(path);
    if matches!(&read, Err(error) if error.kind() == std::io::ErrorKind::NotFound) {
        // The task set no result.
        return;
    }
    let _ = std::fs::remove_file(path);
    let bytes = match read {
        Ok(bytes) => bytes,
        Err(error) => {
            if *exit == Exit::Code(0) {
                *exit = Exit::StartFailed(format!("cannot read $ENGINE_RESULTS: {error}"));
            }
            return;
        }
    };
    match crate::results::parse_results(&bytes, crate::results::RESULTS_LIMIT) {
        Ok(parsed) => {
            *results = parsed;
            crate::events::mask_results(masker, results);
        }
        Err(error) if *exit == Exit::Code(0) => {
            *exit = Exit::StartFailed(format!("invalid $ENGINE_RESULTS: {error}"));
        }
        Err(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::is_empty;

    /// Each listing sees what the directory holds when it starts: the iterator rewinds the
    /// directory for the next one. Not knowing is not "empty".
    #[test]
    fn a_listing_tells_an_empty_directory_each_time() {
        let dir = tempfile::tempdir().expect("dir");
        let mut listing = nix::dir::Dir::open(
            dir.path(),
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY,
            nix::sys::stat::Mode::empty(),
        )
        .expect("open");
        assert!(is_empty(Some(&mut listing)));
        assert!(is_empty(Some(&mut listing)));
        std::fs::write(dir.path().join("3.1"), "a=1\n").expect("write");
        assert!(!is_empty(Some(&mut listing)));
        assert!(!is_empty(Some(&mut listing)));
        std::fs::remove_file(dir.path().join("3.1")).expect("rm");
        assert!(is_empty(Some(&mut listing)));
        assert!(!is_empty(None));
    }
}
