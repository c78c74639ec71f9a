//! What an attempt's end means: a running attempt's clocks (`Running`), its status given
//! what the coordinator did to it, and when a failed one runs again (`retry_delay`). Pure:
//! no I/O.

use std::time::{Duration, Instant};

use crate::events::TaskStatus;
use crate::exchange::Exit;
use crate::model::Isolation;

/// A task that is running.
#[derive(Debug)]
pub(super) struct Running {
    pub started: Instant,
    pub isolation: Isolation,
    /// When its timeout expires.
    pub deadline: Option<Instant>,
    /// When SIGKILL follows the SIGTERM already sent.
    pub kill_at: Option<Instant>,
    pub timed_out: bool,
    pub terminated: bool,
}

impl Running {
    /// An attempt that starts now, with its timeout's deadline.
    pub fn new(isolation: Isolation, timeout: Option<Duration>) -> Self {
        let now = Instant::now();
        Self {
            started: now,
            isolation,
            deadline: timeout.map(|timeout| now + timeout),
            kill_at: None,
            timed_out: false,
            terminated: false,
        }
    }

    /// What its exit means, given what the coordinator did to it: `timeout` is the task's
    /// (for a timed-out attempt), `interrupted` whether the run was interrupted.
    pub fn status(&self, exit: Exit, timeout: Option<Duration>, interrupted: bool) -> TaskStatus {
        let success = matches!(exit, Exit::Code(0) | Exit::ScriptDone);
        // A task stopped by its timeout did not finish its work, even when it exits cleanly
        // on SIGTERM: what depends on it must not run.
        if self.timed_out {
            let timeout = timeout.map_or(0, |t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX));
            return TaskStatus::TimedOut {
                timeout_ms: timeout,
            };
        }
        if self.terminated && interrupted && !success {
            return TaskStatus::Interrupted;
        }
        match exit {
            Exit::Code(0) | Exit::ScriptDone => TaskStatus::Succeeded,
            Exit::Code(code) => TaskStatus::Failed {
                exit_code: Some(code),
                signal: None,
                message: format!("exited with code {code}"),
            },
            Exit::Signal(signal) => TaskStatus::Failed {
                exit_code: None,
                signal: Some(signal),
                message: format!("killed by signal {}", signal_name(signal)),
            },
            Exit::ScriptFailed(message) | Exit::StartFailed(message) | Exit::JobFailed(message) => {
                TaskStatus::Failed {
                    exit_code: None,
                    signal: None,
                    message,
                }
            }
            Exit::ScriptCancelled => TaskStatus::Failed {
                exit_code: None,
                signal: None,
                message: "the script was cancelled".into(),
            },
        }
    }
}

/// The wait before retrying after attempt `attempt` (from 1): `base` doubled for each
/// earlier retry, capped at an hour, plus up to a quarter more at random so that tasks
/// failing together do not retry in lockstep.
#[must_use]
pub fn retry_delay(base: Duration, attempt: u32) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let doubled = base
        .checked_mul(1u32 << attempt.saturating_sub(1).min(20))
        .unwrap_or(Duration::MAX)
        .min(Duration::from_secs(3600));
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(attempt);
    #[expect(clippy::cast_precision_loss, reason = "below 1000: exact in an f64")]
    let fraction = (hasher.finish() % 1000) as f64 / 4000.0;
    doubled + doubled.mul_f64(fraction)
}

/// The name of a signal number, like `SIGSEGV`.
#[must_use]
pub fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal)
        .map_or_else(|_| format!("{signal}"), |s| s.as_str().to_owned())
}
