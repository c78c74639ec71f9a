//! `JobFiles`: where one job's wrapper script, output and exit status live in the run's
//! state dir, which the cluster's nodes must share with the engine.

use std::path::{Path, PathBuf};

/// The files of one attempt of one task's job, all in the run's `slurm/` directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobFiles {
    /// The wrapper script `sbatch` runs.
    pub script: PathBuf,
    /// The job's standard output, appended to by Slurm.
    pub stdout: PathBuf,
    /// The job's standard error.
    pub stderr: PathBuf,
    /// The command's exit status, written by the wrapper when the command ends.
    pub status: PathBuf,
}

impl JobFiles {
    /// The files of attempt `attempt` of `task` (its name, made one file name), in `dir`.
    #[must_use]
    pub fn new(dir: &Path, task: &str, attempt: u32) -> Self {
        let task = crate::model::file_name(task);
        let file = |extension: &str| dir.join(format!("{task}.{attempt}.{extension}"));
        Self {
            script: file("sh"),
            stdout: file("out"),
            stderr: file("err"),
            status: file("status"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_name_with_a_slash_is_one_file_name() {
        let files = JobFiles::new(Path::new("/state/slurm"), "t[v=../b/c]", 2);
        assert_eq!(files.script, Path::new("/state/slurm/t[v=..%2Fb%2Fc].2.sh"));
        assert_eq!(files.stdout.parent(), Some(Path::new("/state/slurm")));
    }
}
