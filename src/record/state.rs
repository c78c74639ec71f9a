//! How a run ended (`RunOutcome`) and how an attempt of a task ended (`AttemptStatus`): the
//! words the run record stores for them, which must never change (records written by earlier
//! engines are read with the same words).
//!
//! A word this engine does not know (a damaged record, or one written by a newer engine) is
//! an `UnknownState` error from `FromStr`, never a panic: each reader decides what to show.

use std::fmt;
use std::str::FromStr;

/// How a run ended, as `runs.outcome` stores it (`NULL` while it runs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RunOutcome {
    /// Every selected task succeeded, was up to date or was skipped.
    Succeeded,
    /// A task failed (failures allowed by `allow_failure` aside).
    Failed,
    /// Stopped by a signal.
    Interrupted,
    /// Its engine was killed: a later engine found the run without an outcome.
    Died,
}

impl RunOutcome {
    /// Every outcome.
    pub const ALL: [Self; 4] = [Self::Succeeded, Self::Failed, Self::Interrupted, Self::Died];

    /// The word the record stores.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Interrupted => "interrupted",
            Self::Died => "died",
        }
    }
}

/// How an attempt of a task ended, or why it did not run, as `attempts.status` stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AttemptStatus {
    /// Started; written before it ends for a task with outputs.
    Running,
    /// Ran and succeeded.
    Succeeded,
    /// Ran and failed.
    Failed,
    /// Ran past its timeout.
    TimedOut,
    /// Stopped by an interruption, or its engine died.
    Interrupted,
    /// Did not run (attempt 0): its condition, a failed dependency, an interruption.
    Skipped,
    /// Did not run (attempt 0): up to date.
    UpToDate,
    /// Did not run (attempt 0): done by the run this one resumed.
    Resumed,
}

impl AttemptStatus {
    /// Every status.
    pub const ALL: [Self; 8] = [
        Self::Running,
        Self::Succeeded,
        Self::Failed,
        Self::TimedOut,
        Self::Interrupted,
        Self::Skipped,
        Self::UpToDate,
        Self::Resumed,
    ];

    /// The word the record stores.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::TimedOut => "timed_out",
            Self::Interrupted => "interrupted",
            Self::Skipped => "skipped",
            Self::UpToDate => "up_to_date",
            Self::Resumed => "resumed",
        }
    }

    /// Whether the task is done in the run that recorded it (a resume does not run it again).
    #[must_use]
    pub const fn is_done(self) -> bool {
        matches!(self, Self::Succeeded | Self::UpToDate | Self::Resumed)
    }
}

/// A word the record holds for a run's outcome or an attempt's status that this engine does
/// not know.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the run record holds an unknown {what} `{word}`")]
pub struct UnknownState {
    /// `run outcome` or `attempt status`.
    pub what: &'static str,
    /// The word as stored.
    pub word: String,
}

impl FromStr for RunOutcome {
    type Err = UnknownState;

    fn from_str(word: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|outcome| outcome.as_str() == word)
            .ok_or_else(|| UnknownState {
                what: "run outcome",
                word: word.to_owned(),
            })
    }
}

impl FromStr for AttemptStatus {
    type Err = UnknownState;

    fn from_str(word: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == word)
            .ok_or_else(|| UnknownState {
                what: "attempt status",
                word: word.to_owned(),
            })
    }
}

impl fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for AttemptStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_outcomes_are_stored_as_today_and_read_back() {
        let stored: Vec<&str> = RunOutcome::ALL.iter().map(|o| o.as_str()).collect();
        assert_eq!(stored, ["succeeded", "failed", "interrupted", "died"]);
        for outcome in RunOutcome::ALL {
            assert_eq!(outcome.as_str().parse::<RunOutcome>(), Ok(outcome));
            assert_eq!(outcome.to_string(), outcome.as_str());
        }
    }

    #[test]
    fn attempt_statuses_are_stored_as_today_and_read_back() {
        let stored: Vec<&str> = AttemptStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            stored,
            [
                "running",
                "succeeded",
                "failed",
                "timed_out",
                "interrupted",
                "skipped",
                "up_to_date",
                "resumed"
            ]
        );
        for status in AttemptStatus::ALL {
            assert_eq!(status.as_str().parse::<AttemptStatus>(), Ok(status));
            assert_eq!(status.to_string(), status.as_str());
        }
    }

    #[test]
    fn an_unknown_word_is_an_error_that_names_it() {
        let error = "exploded"
            .parse::<RunOutcome>()
            .expect_err("not an outcome");
        assert_eq!(
            error.to_string(),
            "the run record holds an unknown run outcome `exploded`"
        );
        let error = "Succeeded"
            .parse::<AttemptStatus>()
            .expect_err("not a status");
        assert_eq!(
            error.to_string(),
            "the run record holds an unknown attempt status `Succeeded`"
        );
        assert!("".parse::<AttemptStatus>().is_err());
    }
}
