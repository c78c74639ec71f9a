//! The signal thread of `engine run`: SIGINT, SIGTERM and SIGHUP become messages to the
//! coordinator (in watch mode, to the session, which passes them on). It decides nothing;
//! the coordinator stops the tasks.

use crate::error::EngineError;
use crate::exchange::{Message, Outbox};

/// Blocks SIGCHLD in the calling thread and every thread it starts afterwards.
///
/// engine sees its children end through pidfds and never through SIGCHLD, whose default is
/// to be ignored. But glibc's `posix_spawn` blocks every signal in the spawning thread until
/// the child has called `execve`, and a signal blocked in the thread it is sent to is not
/// dropped: the kernel hands it to another thread that does not block it, and wakes that
/// thread for nothing (about one wake-up of the signal or record thread for every other
/// task on layered 5,000 `true` tasks, `-j 2`). Blocked in every thread, it stays pending
/// and wakes no one. A task's process starts with no signal blocked (`execute::spawn` sets
/// an empty mask, as std's `Command` does); a signal pending here is not inherited.
pub(crate) fn block_child_signals() {
    use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
    let mut child = SigSet::empty();
    child.add(Signal::SIGCHLD);
    // Without it, the wake-ups come back; nothing else changes.
    let _ = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&child), None);
}

/// Forwards SIGINT, SIGTERM and SIGHUP to the coordinator as `Message::Interrupt`. SIGHUP
/// comes when the terminal or SSH session closes: left to its default it would kill the
/// engine alone and leave its tasks (each in its own process group) running.
///
/// # Errors
/// The handlers or the thread cannot be set up.
pub(crate) fn forward_signals(
    outbox: Outbox,
) -> Result<signal_hook::iterator::Handle, EngineError> {
    on_signals(move || outbox.send(Message::Interrupt))
}

/// Calls `received` on the signal thread for each SIGINT, SIGTERM and SIGHUP, until it
/// returns false. Watch mode's session forwards them to whichever run is on.
///
/// # Errors
/// The handlers or the thread cannot be set up.
pub(crate) fn on_signals(
    received: impl Fn() -> bool + Send + 'static,
) -> Result<signal_hook::iterator::Handle, EngineError> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(EngineError::io("cannot install signal handlers"))?;
    let handle = signals.handle();
    std::thread::Builder::new()
        .name("engine-signals".into())
        .spawn(move || {
            for _ in signals.forever() {
                if !received() {
                    break;
                }
            }
        })
        .map_err(EngineError::io("cannot start the signal thread"))?;
    Ok(handle)
}
