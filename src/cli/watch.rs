//! `engine run --watch`: runs, then waits for a change and runs again, until Ctrl-C. The
//! `Session` lives across runs: one signal thread and one file watcher, started before the
//! first run, reach whichever run is on (a change stops the running tasks it affects through
//! `Message::Superseded`) and wake the loop between runs. What is watched and what a change
//! means is `watch::Scope`'s; this file only wires it and prints the one line per change.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::args::RunArgs;
use crate::error::EngineError;
use crate::exchange::{Message, Outbox};
use crate::model::{TaskId, Workflow};
use crate::plan::Graph;
use crate::report::ProgressMode;
use crate::schedule::Summary;
use crate::state_dir::StateDir;
use crate::watch::{Scope, Verdict, WatchError, Watcher};

/// After a change, how long the files must stay quiet before the next run starts (on top
/// of the watcher's own debounce): the batches of one burst make one run, even when the
/// system is busy and hands them on late. The run starts about 0.25 s after the last write.
const QUIET: Duration = Duration::from_millis(200);

/// What wakes the loop between runs.
enum Wake {
    /// These files changed (only those that matter).
    Changed(Vec<PathBuf>),
    /// Ctrl-C, SIGTERM or SIGHUP.
    Interrupt,
    /// The watcher lost track of something.
    Failed(String),
}

/// What the watcher's and the signal thread share with the loop.
struct Shared {
    /// The outbox of the run that is on.
    run: Mutex<Option<Outbox>>,
    /// What the watch covers now.
    scope: Mutex<Scope>,
    wakes: Sender<Wake>,
    /// A signal came.
    interrupted: AtomicBool,
}

/// The watch session: started before the first run, ended by a signal.
pub(crate) struct Session {
    shared: Arc<Shared>,
    watcher: Mutex<Watcher>,
    wakes: Receiver<Wake>,
    _signals: SignalsGuard,
}

/// Closes the signal thread when the session ends.
struct SignalsGuard(signal_hook::iterator::Handle);

impl Drop for SignalsGuard {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Runs the workflow, then again after each change, until a signal (exit 130).
///
/// # Errors
/// `Interrupted` at the end; a file system that cannot be watched; what ends a run for
/// another reason than the workflow or the request (the record, the state dir).
pub(crate) fn watch(args: &RunArgs) -> Result<(), EngineError> {
    let session = Session::start()?;
    let color = console::colors_enabled_stderr();
    let mut changed: Vec<PathBuf> = Vec::new();
    loop {
        if !changed.is_empty() {
            announce(&changed, args);
        }
        match session.run_once(args) {
            Ok(summary) => {
                if session.interrupted() {
                    return Err(EngineError::Interrupted);
                }
                let ran = summary.succeeded
                    + summary.failed
                    + summary.allowed_failures
                    + summary.cancelled;
                if ran == 0 && !changed.is_empty() {
                    eprintln!("watch: {} changed; nothing to do", shown(&changed));
                }
            }
            Err(EngineError::Interrupted) => return Err(EngineError::Interrupted),
            Err(
                error @ (EngineError::Invalid(_)
                | EngineError::Usage { .. }
                | EngineError::AlreadyReported
                | EngineError::Cluster { .. }),
            ) => {
                super::print_error(&error, color);
                eprintln!("watch: waiting for a change to the workflow or its inputs");
            }
            Err(error) => return Err(error),
        }
        changed = session.wait()?;
    }
}

impl Session {
    /// Starts the signal thread and the watcher (watching nothing yet).
    fn start() -> Result<Self, EngineError> {
        let (sender, wakes) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared {
            run: Mutex::new(None),
            scope: Mutex::new(Scope::default()),
            wakes: sender,
            interrupted: AtomicBool::new(false),
        });
        let on_signal = Arc::clone(&shared);
        let signals = super::signals::on_signals(move || {
            on_signal.interrupted.store(true, Ordering::SeqCst);
            if let Some(outbox) = on_signal.current() {
                outbox.send(Message::Interrupt);
            }
            on_signal.wakes.send(Wake::Interrupt).is_ok()
        })?;
        let on_change = Arc::clone(&shared);
        let on_failure = Arc::clone(&shared);
        let watcher = Watcher::start(
            move |paths| on_change.changed(paths),
            move |message| {
                let _ = on_failure.wakes.send(Wake::Failed(message));
            },
        )
        .map_err(watch_failed)?;
        Ok(Self {
            shared,
            watcher: Mutex::new(watcher),
            wakes,
            _signals: SignalsGuard(signals),
        })
    }

    fn interrupted(&self) -> bool {
        self.shared.interrupted.load(Ordering::SeqCst)
    }

    /// Loads the workflow and runs it once. While it is invalid, only its files are watched.
    fn run_once(&self, args: &RunArgs) -> Result<Summary, EngineError> {
        let files = crate::validate::workflow_files(&args.file);
        let only_files = Scope::workflow_only(&files);
        self.watch(&only_files.roots())?;
        let loaded = match super::load_to_run(&args.file, &args.tasks, &args.args, &args.vars) {
            Ok(loaded) => loaded,
            Err(error) => {
                self.shared.set_scope(only_files);
                return Err(error);
            }
        };
        super::run::run_loaded(args, loaded, Some(self))
    }

    /// Watches what the run of `graph` reads, from now on: its tasks' inputs, declared and
    /// discovered by their depfiles after their last success, and the workflow's files.
    ///
    /// # Errors
    /// A directory cannot be watched (the watch limit is reached).
    pub(crate) fn cover(
        &self,
        workflow: &Workflow,
        graph: &Graph,
        state_dir: &StateDir,
        args: &RunArgs,
    ) -> Result<(), EngineError> {
        let discovered = discovered(workflow, graph, state_dir, &args.file);
        let files = crate::validate::workflow_files(&args.file);
        let scope = Scope::of(
            workflow,
            graph.tasks(),
            &discovered,
            &files,
            state_dir.path(),
            args.events.as_slice(),
        );
        self.watch(&scope.roots())?;
        self.shared.set_scope(scope);
        Ok(())
    }

    /// The run that starts now hears of signals and changes through `outbox`.
    pub(crate) fn attach(&self, outbox: Outbox) {
        *self
            .shared
            .run
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(outbox);
    }

    /// The run has ended.
    pub(crate) fn detach(&self) {
        *self
            .shared
            .run
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn watch(&self, roots: &[crate::watch::Root]) -> Result<(), EngineError> {
        self.watcher
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .watch(roots)
            .map_err(watch_failed)
    }

    /// Waits for the next change that matters, and for the burst it belongs to to end.
    ///
    /// # Errors
    /// `Interrupted` when a signal comes.
    fn wait(&self) -> Result<Vec<PathBuf>, EngineError> {
        let mut changed = BTreeSet::new();
        loop {
            let wake = if changed.is_empty() {
                self.wakes.recv().map_err(|_| EngineError::Interrupted)?
            } else {
                match self.wakes.recv_timeout(QUIET) {
                    Ok(wake) => wake,
                    Err(RecvTimeoutError::Timeout) => return Ok(changed.into_iter().collect()),
                    Err(RecvTimeoutError::Disconnected) => return Err(EngineError::Interrupted),
                }
            };
            match wake {
                Wake::Changed(paths) => changed.extend(paths),
                Wake::Interrupt => {
                    eprintln!("watch: ended by a signal between runs; nothing was running");
                    return Err(EngineError::Interrupted);
                }
                Wake::Failed(message) => eprintln!("watch: {message}"),
            }
        }
    }
}

impl Shared {
    fn current(&self) -> Option<Outbox> {
        self.run
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_scope(&self, scope: Scope) {
        *self.scope.lock().unwrap_or_else(PoisonError::into_inner) = scope;
    }

    /// A debounced batch of changed paths (on the watcher's thread): those that matter stop
    /// the tasks they affect in the run that is on, and wake the loop.
    fn changed(&self, paths: Vec<PathBuf>) {
        let mut relevant = Vec::new();
        let mut tasks: Option<Vec<TaskId>> = Some(Vec::new());
        {
            let scope = self.scope.lock().unwrap_or_else(PoisonError::into_inner);
            for path in paths {
                match scope.judge(&path) {
                    Verdict::Ignored => continue,
                    Verdict::Workflow => tasks = None,
                    Verdict::Inputs(ids) => {
                        if let Some(tasks) = &mut tasks {
                            tasks.extend(ids);
                        }
                    }
                }
                relevant.push(path);
            }
        }
        if relevant.is_empty() {
            return;
        }
        if let Some(outbox) = self.current() {
            outbox.send(Message::Superseded { changed: tasks });
        }
        let _ = self.wakes.send(Wake::Changed(relevant));
    }
}

/// The inputs each selected task's depfile named after its last success, from the record.
fn discovered(
    workflow: &Workflow,
    graph: &Graph,
    state_dir: &StateDir,
    file: &Path,
) -> Vec<(TaskId, Vec<String>)> {
    let with_depfile: Vec<TaskId> = graph
        .tasks()
        .iter()
        .copied()
        .filter(|&task| workflow.task(task).depfile().is_some())
        .collect();
    if with_depfile.is_empty() {
        return Vec::new();
    }
    let Ok(Some(store)) = crate::record::Store::open_existing(state_dir) else {
        return Vec::new();
    };
    let Ok(successes) = store.successes(&state_dir.workflow_key(file)) else {
        return Vec::new();
    };
    with_depfile
        .into_iter()
        .filter_map(|task| {
            let success = successes.get(workflow.task(task).name.as_str())?;
            Some((task, crate::record::fresh::discovered_paths(&success.parts)))
        })
        .collect()
}

/// The error of a directory that cannot be watched, with the `sysctl` that raises the limit
/// when that is the reason.
fn watch_failed(error: WatchError) -> EngineError {
    let hint = if error.limit {
        "the system's limit of inotify watches is reached: raise it with `sudo sysctl fs.inotify.max_user_watches=524288` (add `fs.inotify.max_user_watches=524288` to /etc/sysctl.conf to keep it), or select fewer tasks"
    } else {
        "watch mode needs a local file system that reports changes (inotify); network file systems often do not"
    };
    EngineError::Usage {
        message: error.to_string(),
        hint: Some(hint.to_owned()),
    }
}

/// Prints the line that starts a new run: which files changed (`--clear` clears the screen
/// first; `--progress plain` adds the time of day, UTC).
fn announce(changed: &[PathBuf], args: &RunArgs) {
    if args.clear {
        let _ = console::Term::stderr().clear_screen();
    }
    let plain = match args.progress {
        ProgressMode::Plain => true,
        ProgressMode::Auto => !std::io::stderr().is_terminal(),
        ProgressMode::Bars | ProgressMode::None => false,
    };
    if plain {
        eprintln!("[{}] watch: {} changed", time_of_day(), shown(changed));
    } else {
        eprintln!("watch: {} changed", shown(changed));
    }
}

/// The changed files as people read them: relative to the current directory where they
/// are below it, the first few named.
fn shown(changed: &[PathBuf]) -> String {
    const NAMED: usize = 5;
    let cwd = std::env::current_dir().unwrap_or_default();
    let names: Vec<String> = changed
        .iter()
        .take(NAMED)
        .map(|path| {
            path.strip_prefix(&cwd)
                .unwrap_or(path)
                .display()
                .to_string()
        })
        .collect();
    let mut text = names.join(", ");
    if changed.len() > NAMED {
        text += &format!(" and {} more", changed.len() - NAMED);
    }
    text
}

/// `HH:MM:SSZ`, the time of day in UTC.
fn time_of_day() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
        % 86_400;
    format!("{:02}:{:02}:{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watch_limit_comes_with_the_sysctl_that_raises_it() {
        let error = watch_failed(WatchError {
            dir: PathBuf::from("/w/src"),
            message: "OS file watch limit reached.".into(),
            limit: true,
        });
        let EngineError::Usage { message, hint } = error else {
            panic!("a usage error");
        };
        assert!(message.contains("`/w/src`"), "{message}");
        let hint = hint.expect("a hint");
        assert!(
            hint.contains("sysctl fs.inotify.max_user_watches="),
            "{hint}"
        );
    }

    #[test]
    fn many_changed_files_are_named_a_few() {
        let changed: Vec<PathBuf> = (0..7).map(|n| PathBuf::from(format!("/x/{n}.c"))).collect();
        assert_eq!(
            shown(&changed),
            "/x/0.c, /x/1.c, /x/2.c, /x/3.c, /x/4.c and 2 more"
        );
    }
}
