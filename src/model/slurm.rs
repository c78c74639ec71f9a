//! `ExecutorKind` and `SlurmOptions`: where a process task runs, and what it asks of Slurm
//! beyond its `resources` and `timeout`.

use std::fmt;

/// Where a process task runs. Thread tasks always run inside the engine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutorKind {
    /// A child process of the engine on this machine.
    #[default]
    Local,
    /// A batch job on a Slurm cluster.
    Slurm,
}

impl ExecutorKind {
    /// The name used in the workflow format and on the command line.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Slurm => "slurm",
        }
    }
}

impl fmt::Display for ExecutorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A task's own `sbatch` options: partition, account and extra options, each passed as one
/// argument. Tasks without any share one empty value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SlurmOptions {
    /// `--partition`.
    pub partition: Option<String>,
    /// `--account`.
    pub account: Option<String>,
    /// Further `sbatch` options, in order, such as `--qos=high` or `--gres=gpu:1`.
    pub extra: Vec<String>,
}
