//! The errors that end a command, and the one mapping from them to exit codes.

use crate::diagnostic::Report;

/// Exit codes of the `engine` binary.
pub mod exit_code {
    /// Everything succeeded.
    pub const SUCCESS: u8 = 0;
    /// At least one task failed, or a `confirm` question was not answered yes.
    pub const TASK_FAILED: u8 = 1;
    /// The workflow is invalid, or the command line is wrong.
    pub const INVALID: u8 = 2;
    /// Interrupted by Ctrl-C, SIGTERM or SIGHUP.
    pub const INTERRUPTED: u8 = 130;
}

/// Why a command did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// One or more workflow files are invalid; the reports say why.
    #[error("invalid workflow")]
    Invalid(Vec<Report>),
    /// The problems were already printed (for example as JSON); exit as invalid.
    #[error("invalid workflow")]
    AlreadyReported,
    /// The command line asks for something impossible.
    #[error("{message}")]
    Usage {
        /// What is wrong.
        message: String,
        /// What to do instead.
        hint: Option<String>,
    },
    /// Tasks failed; the run's summary has said which.
    #[error("{failed} task(s) failed")]
    TasksFailed {
        /// How many.
        failed: usize,
    },
    /// The cluster cannot run the workflow (no client commands, no controller, a request it
    /// refuses); nothing was submitted.
    #[error("{message}")]
    Cluster {
        /// What is wrong.
        message: String,
        /// What to do.
        hint: String,
    },
    /// The state dir cannot be used: its run record is damaged or from a newer engine, or
    /// another run of the workflow holds it; nothing ran.
    #[error("{message}")]
    State {
        /// What is wrong.
        message: String,
        /// What to do.
        hint: String,
    },
    /// The user did not confirm a task's `confirm` question; nothing ran.
    #[error("task `{task}` was not confirmed: nothing was run")]
    Declined {
        /// The task whose question was not answered yes.
        task: String,
    },
    /// The run was interrupted by a signal.
    #[error("interrupted")]
    Interrupted,
    /// Writing output or records failed.
    #[error("{context}: {source}")]
    Io {
        /// What engine was doing.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl EngineError {
    /// The process exit code for this error.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Invalid(_)
            | Self::AlreadyReported
            | Self::Usage { .. }
            | Self::Cluster { .. }
            | Self::State { .. } => exit_code::INVALID,
            Self::TasksFailed { .. } | Self::Declined { .. } | Self::Io { .. } => {
                exit_code::TASK_FAILED
            }
            Self::Interrupted => exit_code::INTERRUPTED,
        }
    }

    /// An I/O error with what engine was doing.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }
}
