//! `TaskState`: where each task of a run stands.

/// The state of one task during a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskState {
    /// Waiting for dependencies.
    Pending,
    /// Dependencies done; waiting for capacity.
    Ready,
    /// Started and not yet finished.
    Running,
    /// Finished successfully.
    Succeeded,
    /// Finished unsuccessfully (failed, crashed, timed out).
    Failed,
    /// Will not run: a dependency failed or the run stopped.
    Skipped,
    /// Was running when the run was interrupted.
    Cancelled,
}

impl TaskState {
    /// Whether the task has reached its final state.
    #[must_use]
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Failed | Self::Skipped | Self::Cancelled
        )
    }
}
