//! The host side of scripts: the functions scripts call (`print`, `sleep`, `env`,
//! `read_file`, `write_file`), cancellation, and running one compiled script.
//!
//! One rhai engine serves every worker thread. What differs per task (where `print` goes,
//! the working directory, the environment, the cancellation token) lives in a thread-local
//! `ScriptScope` that is set for the duration of one script.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use std::fs::File;
use std::io::{Read, Write};

use rhai::{AST, Dynamic, Engine, EvalAltResult, Position};

use super::MAX_STRING_BYTES;

/// A flag that stops a running script: checked between script operations and while the
/// script sleeps.
#[derive(Debug, Default)]
pub struct CancelToken {
    cancelled: AtomicBool,
    lock: Mutex<()>,
    wake: Condvar,
}

impl CancelToken {
    /// A token that is not cancelled.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancels: the script stops at its next operation or wakes from `sleep`.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        let _guard = self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.wake.notify_all();
    }

    /// Whether `cancel` was called.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// Sleeps for `duration` unless cancelled first; returns whether it was cancelled.
    fn sleep(&self, duration: Duration) -> bool {
        let deadline = Instant::now() + duration;
        let mut guard = self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        loop {
            if self.is_cancelled() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            guard = self
                .wake
                .wait_timeout(guard, deadline - now)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }
}

/// What a script sees of its task.
pub struct ScriptScope {
    /// Receives each printed line.
    pub print: Box<dyn Fn(String)>,
    /// Stops the script.
    pub token: Arc<CancelToken>,
    /// The task's working directory: `read_file` and `write_file` resolve against it.
    pub cwd: PathBuf,
    /// The task's own environment, looked up before the engine's.
    pub env: Vec<(String, String)>,
    /// What `result(key, value)` set, in order, each key once.
    pub results: RefCell<Vec<(String, String)>>,
    /// Constants the script can read: `vars`, `matrix`, `tasks`.
    pub constants: Option<Arc<rhai::Map>>,
}

thread_local! {
    static SCOPE: RefCell<Option<ScriptScope>> = const { RefCell::new(None) };
}

/// How a script ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptEnd {
    /// It ran to its end.
    Done,
    /// `throw`, a runtime error or a panic, with the message.
    Failed(String),
    /// Its token was cancelled.
    Cancelled,
}

/// Runs a compiled script on this thread with `scope` as its task. Panics inside the script's
/// host calls are caught and reported as a failure.
pub fn run_script(engine: &Engine, ast: &AST, scope: ScriptScope) -> ScriptEnd {
    run_script_with_results(engine, ast, scope).0
}

/// Runs a compiled script like [`run_script`] and also returns the results it set.
pub fn run_script_with_results(
    engine: &Engine,
    ast: &AST,
    scope: ScriptScope,
) -> (ScriptEnd, Vec<(String, String)>) {
    let mut constants = rhai::Scope::new();
    for (name, value) in scope.constants.iter().flat_map(|map| map.iter()) {
        constants.push_constant(name.as_str(), value.clone());
    }
    SCOPE.with(|slot| *slot.borrow_mut() = Some(scope));
    super::run_epochs(true);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        engine.run_ast_with_scope(&mut constants, ast)
    }));
    super::run_epochs(false);
    let scope = SCOPE.with(|slot| slot.borrow_mut().take());
    let results = scope
        .map(|scope| scope.results.into_inner())
        .unwrap_or_default();
    (script_end(result), results)
}

fn script_end(result: std::thread::Result<Result<(), Box<EvalAltResult>>>) -> ScriptEnd {
    match result {
        Ok(Ok(())) => ScriptEnd::Done,
        Ok(Err(error)) => match *error {
            EvalAltResult::ErrorTerminated(..) => ScriptEnd::Cancelled,
            EvalAltResult::ErrorRuntime(value, position) => {
                ScriptEnd::Failed(at(&value.to_string(), position))
            }
            other => ScriptEnd::Failed(other.to_string()),
        },
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            ScriptEnd::Failed(format!("the script panicked: {message}"))
        }
    }
}

fn at(message: &str, position: Position) -> String {
    match position.line() {
        Some(line) => format!("{message} (script line {line})"),
        None => message.to_owned(),
    }
}

fn with_scope<T>(f: impl FnOnce(&ScriptScope) -> T) -> Option<T> {
    SCOPE.with(|slot| slot.borrow().as_ref().map(f))
}

fn resolve(cwd: &Path, path: &str) -> PathBuf {
    cwd.join(path)
}

type HostResult<T> = Result<T, Box<EvalAltResult>>;

fn host_error(message: String) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(message.into(), Position::NONE))
}

fn sleep_seconds(seconds: f64) -> HostResult<()> {
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(host_error(format!(
            "sleep: expected a number of seconds >= 0, got {seconds}"
        )));
    }
    let duration =
        Duration::try_from_secs_f64(seconds).map_err(|e| host_error(format!("sleep: {e}")))?;
    let cancelled = with_scope(|scope| scope.token.sleep(duration)).unwrap_or_else(|| {
        std::thread::sleep(duration);
        false
    });
    if cancelled {
        return Err(Box::new(EvalAltResult::ErrorTerminated(
            Dynamic::UNIT,
            Position::NONE,
        )));
    }
    Ok(())
}

/// Why a file is not read or written: the system's error or one of engine's rules.
#[derive(Debug, thiserror::Error)]
enum FileError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(
        "not a regular file (a device, FIFO, socket or directory), which scripts do not read or write"
    )]
    NotRegular,
    #[error(
        "the file is larger than a script's string can be ({} bytes)",
        MAX_STRING_BYTES
    )]
    TooLarge,
    #[error("the file is not UTF-8 text")]
    NotText,
}

/// Opens `path` to read, or to write (created or truncated), without blocking on a FIFO (a
/// FIFO is refused, never waited for); refuses anything but a regular file, before and after
/// opening (it may be swapped in between).
fn open_regular(path: &Path, write: bool) -> Result<File, FileError> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::metadata(path) {
        Ok(metadata) if !metadata.is_file() => return Err(FileError::NotRegular),
        Err(error) if !(write && error.kind() == std::io::ErrorKind::NotFound) => {
            return Err(error.into());
        }
        _ => {}
    }
    // Truncating waits until the file is known to be a regular one.
    let file = std::fs::OpenOptions::new()
        .read(!write)
        .write(write)
        .create(write)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(FileError::NotRegular);
    }
    if write {
        file.set_len(0)?;
    }
    Ok(file)
}

/// `read_file`: a regular file of at most [`MAX_STRING_BYTES`], checked before reading and
/// while reading (a file that grows is cut off at the limit, never read whole).
fn read_text(path: &Path) -> Result<String, FileError> {
    let file = open_regular(path, false)?;
    let limit = MAX_STRING_BYTES as u64;
    if file.metadata()?.len() > limit {
        return Err(FileError::TooLarge);
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge);
    }
    String::from_utf8(bytes).map_err(|_| FileError::NotText)
}

/// `write_file`: creates or replaces a regular file; never writes into a device or FIFO.
fn write_text(path: &Path, text: &str) -> Result<(), FileError> {
    let mut file = open_regular(path, true)?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

/// `result(key, value)`: sets one of the task's results (a later value replaces an earlier).
fn set_result(key: &str, value: &Dynamic) -> HostResult<()> {
    if !crate::results::is_result_key(key) {
        return Err(host_error(format!(
            "result: `{key}` is not a result name (letters, digits, `_` and `-`, not starting with a digit)"
        )));
    }
    let text = value.to_string();
    with_scope(|scope| {
        let mut results = scope.results.borrow_mut();
        let size: usize = results.iter().map(|(k, v)| k.len() + v.len()).sum();
        if size + key.len() + text.len() > crate::results::RESULTS_LIMIT {
            return Err(host_error(format!(
                "result: the task's results exceed {} bytes",
                crate::results::RESULTS_LIMIT
            )));
        }
        match results.iter_mut().find(|(known, _)| known == key) {
            Some(slot) => slot.1 = text,
            None => results.push((key.to_owned(), text)),
        }
        Ok(())
    })
    .unwrap_or(Ok(()))
}

/// Builds the engine that runs scripts: the hardened base, the host functions, `print` and
/// `debug` routed to the task's output, and cancellation through `on_progress`.
#[must_use]
pub fn script_engine() -> Engine {
    let mut engine = super::base_engine();
    engine.on_print(|text| {
        let _ = with_scope(|scope| {
            for line in text.split('\n') {
                (scope.print)(line.to_owned());
            }
        });
    });
    engine.on_debug(|text, _, _| {
        let _ = with_scope(|scope| (scope.print)(text.to_owned()));
    });
    engine.on_progress(|operations| {
        super::count_operation();
        // A cancelled token ends the script within 64 operations (microseconds); looking
        // every time would cost a thread-local access per operation.
        if operations % 64 != 0 {
            return None;
        }
        with_scope(|scope| scope.token.is_cancelled())
            .unwrap_or(false)
            .then_some(Dynamic::UNIT)
    });
    super::register_helpers(&mut engine);
    engine.register_fn("result", |key: &str, value: Dynamic| {
        set_result(key, &value)
    });
    engine.register_fn("sleep", |seconds: f64| sleep_seconds(seconds));
    engine.register_fn("sleep", |seconds: i64| {
        #[expect(clippy::cast_precision_loss, reason = "seconds far below 2^52")]
        sleep_seconds(seconds as f64)
    });
    engine.register_fn("env", |name: &str| -> Dynamic {
        let own = with_scope(|scope| {
            scope
                .env
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
        .flatten();
        own.or_else(|| std::env::var(name).ok())
            .map_or(Dynamic::UNIT, Dynamic::from)
    });
    engine.register_fn("read_file", |path: &str| -> HostResult<String> {
        let full =
            with_scope(|scope| resolve(&scope.cwd, path)).unwrap_or_else(|| PathBuf::from(path));
        read_text(&full).map_err(|e| host_error(format!("read_file `{}`: {e}", full.display())))
    });
    engine.register_fn("write_file", |path: &str, text: &str| -> HostResult<()> {
        let full =
            with_scope(|scope| resolve(&scope.cwd, path)).unwrap_or_else(|| PathBuf::from(path));
        write_text(&full, text)
            .map_err(|e| host_error(format!("write_file `{}`: {e}", full.display())))
    });
    engine
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(source: &str, token: Arc<CancelToken>) -> (ScriptEnd, Vec<String>) {
        let engine = script_engine();
        let ast = engine.compile(source).expect("compiles");
        let printed = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&printed);
        let scope = ScriptScope {
            print: Box::new(move |line| sink.lock().expect("lock").push(line)),
            token,
            cwd: std::env::temp_dir(),
            env: vec![("GREETING".into(), "hi".into())],
            results: std::cell::RefCell::default(),
            constants: None,
        };
        let end = run_script(&engine, &ast, scope);
        let printed = printed.lock().expect("lock").clone();
        (end, printed)
    }

    #[test]
    fn print_env_and_success() {
        let (end, printed) = run(
            r#"print("a"); print(env("GREETING")); print(env("NO_SUCH_VAR_X") == ())"#,
            Arc::default(),
        );
        assert_eq!(end, ScriptEnd::Done);
        assert_eq!(printed, ["a", "hi", "true"]);
    }

    #[test]
    fn throw_fails_with_the_message() {
        let (end, _) = run(r#"throw "disk full""#, Arc::default());
        assert!(
            matches!(&end, ScriptEnd::Failed(m) if m.contains("disk full")),
            "{end:?}"
        );
    }

    #[test]
    fn cancel_stops_a_busy_loop_and_a_sleep() {
        for source in ["loop { }", "sleep(30)"] {
            let token = Arc::new(CancelToken::new());
            let canceller = Arc::clone(&token);
            let stopper = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                canceller.cancel();
            });
            let (end, _) = run(source, token);
            stopper.join().expect("join");
            assert_eq!(end, ScriptEnd::Cancelled, "{source}");
        }
    }

    #[test]
    fn files_resolve_against_the_cwd() {
        let dir = tempfile::tempdir().expect("dir");
        let engine = script_engine();
        let ast = engine
            .compile(r#"write_file("x.txt", "data"); print(read_file("x.txt"))"#)
            .expect("compiles");
        let printed = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&printed);
        let scope = ScriptScope {
            print: Box::new(move |line| sink.lock().expect("lock").push(line)),
            token: Arc::default(),
            cwd: dir.path().to_path_buf(),
            env: Vec::new(),
            results: std::cell::RefCell::default(),
            constants: None,
        };
        assert_eq!(run_script(&engine, &ast, scope), ScriptEnd::Done);
        assert_eq!(*printed.lock().expect("lock"), ["data"]);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("x.txt")).expect("file"),
            "data"
        );
    }

    #[test]
    fn read_file_refuses_what_is_not_a_small_regular_file() {
        let dir = tempfile::tempdir().expect("dir");
        // Sparse: one byte over the limit without writing 64 MiB.
        std::fs::File::create(dir.path().join("big"))
            .and_then(|file| file.set_len(MAX_STRING_BYTES as u64 + 1))
            .expect("big file");
        std::fs::create_dir(dir.path().join("sub")).expect("dir");
        for (path, expected) in [
            ("big", "larger than a script's string can be"),
            ("sub", "not a regular file"),
            ("/dev/null", "not a regular file"),
        ] {
            let error = read_text(&dir.path().join(path)).expect_err(path);
            assert!(error.to_string().contains(expected), "{path}: {error}");
        }
        let error = write_text(Path::new("/dev/null"), "x").expect_err("a device");
        assert!(matches!(error, FileError::NotRegular), "{error}");
    }

    #[test]
    fn imports_are_refused() {
        let (end, _) = run(r#"import "/etc/passwd" as m;"#, Arc::default());
        assert!(matches!(end, ScriptEnd::Failed(_)), "{end:?}");
    }
}
