//! The hidden `__mask` worker: runs a Slurm job's command with its output masked before it
//! reaches the job's output files, which lie on a file system the engine shares with the
//! cluster. The secrets' values come in `ENGINE_MASK` (a JSON array), which the command does
//! not see. Signals are passed on to the command, and the worker exits as the command did
//! (128 + N when signal N ended it, as a shell tells it).

use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::args::MaskArgs;
use crate::error::EngineError;
use crate::execute::slurm::MASK_SECRETS;
use crate::template::Masker;

/// How long the output is still copied after the command ended: a process it left behind
/// may hold its output open.
const PIPE_GRACE: Duration = Duration::from_secs(2);

/// Runs the command of `args` and exits with its status.
///
/// # Errors
/// The values cannot be read or masked, or the command cannot start.
pub fn mask_worker(args: &MaskArgs) -> Result<(), EngineError> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
    let usage = |message: String| EngineError::Usage {
        message,
        hint: None,
    };
    let values: Vec<String> = match std::env::var(MASK_SECRETS) {
        Ok(json) => serde_json::from_str(&json)
            .map_err(|error| usage(format!("invalid {MASK_SECRETS}: {error}")))?,
        Err(_) => Vec::new(),
    };
    let masker = Masker::new(values).map_err(|error| usage(error.to_string()))?;
    let Some((program, rest)) = args.command.split_first() else {
        return Err(usage("no command to run".into()));
    };
    // Caught before the command starts, passed on once it runs; a caught signal is the
    // default again in the command.
    let mut signals =
        signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2])
            .map_err(EngineError::io("cannot catch signals"))?;
    let mut child = Command::new(program)
        .args(rest)
        .env_remove(MASK_SECRETS)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(EngineError::io(format!(
            "cannot start `{}`",
            masker.mask(&program.to_string_lossy())
        )))?;
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    std::thread::spawn(move || {
        for signal in signals.forever() {
            if let Ok(signal) = nix::sys::signal::Signal::try_from(signal) {
                let _ = nix::sys::signal::kill(pid, signal);
            }
        }
    });
    let (done, copied) = crossbeam_channel::unbounded();
    if let Some(stdout) = child.stdout.take() {
        let (masker, done) = (masker.clone(), done.clone());
        std::thread::spawn(move || {
            copy(stdout, std::io::stdout(), &masker);
            let _ = done.send(());
        });
    }
    if let Some(stderr) = child.stderr.take() {
        let masker = masker.clone();
        std::thread::spawn(move || {
            copy(stderr, std::io::stderr(), &masker);
            let _ = done.send(());
        });
    }
    let status = child
        .wait()
        .map_err(EngineError::io("cannot wait for the command"))?;
    let deadline = std::time::Instant::now() + PIPE_GRACE;
    for _ in 0..2 {
        if copied.recv_deadline(deadline).is_err() {
            break;
        }
    }
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    std::process::exit(code);
}

/// Copies `from` to `to`, masked, until the end of `from`.
fn copy(mut from: impl Read, mut to: impl Write, masker: &Masker) {
    let mut stream = masker.stream();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut masked = Vec::new();
    loop {
        let read = match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        masked.clear();
        stream.push(&buffer[..read], &mut masked);
        if to.write_all(&masked).and_then(|()| to.flush()).is_err() {
            return;
        }
    }
    masked.clear();
    stream.finish(&mut masked);
    let _ = to.write_all(&masked).and_then(|()| to.flush());
}
