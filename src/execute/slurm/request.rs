//! `JobRequest`: what a task asks of the cluster (CPUs, memory, time, partition, account,
//! extra options) as `sbatch` arguments, and the whole `sbatch` command line of one job.

use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;

use crate::model::{SlurmOptions, Task};
use crate::state_dir::JobFiles;

/// What one job asks of the cluster, apart from what is particular to the task (its name,
/// directory and files). Tasks with equal requests are tested once with `sbatch --test-only`
/// before the run.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct JobRequest {
    /// `--cpus-per-task`.
    pub cpus: u32,
    /// `--mem`, in mebibytes.
    pub memory_mib: Option<u64>,
    /// `--time`, in whole minutes.
    pub minutes: Option<u64>,
    /// Partition, account and extra options.
    pub options: Arc<SlurmOptions>,
}

impl JobRequest {
    /// The request of `task`: its `resources`, its `timeout` rounded up to minutes, its
    /// `slurm` options.
    #[must_use]
    pub fn of(task: &Task) -> Self {
        Self {
            cpus: task.resources.cpus,
            memory_mib: task.resources.memory.map(crate::model::Memory::mebibytes),
            minutes: task
                .timeout
                .map(|timeout| time_limit_minutes(timeout.get())),
            options: Arc::clone(&task.slurm),
        }
    }

    /// The request as `sbatch` options, in a fixed order: engine's own, then the extra ones
    /// (a later option wins in `sbatch`, but validation refuses extra options that would
    /// override engine's).
    #[must_use]
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![format!("--cpus-per-task={}", self.cpus)];
        if let Some(mib) = self.memory_mib {
            args.push(format!("--mem={mib}M"));
        }
        if let Some(minutes) = self.minutes {
            args.push(format!("--time={minutes}"));
        }
        if let Some(partition) = &self.options.partition {
            args.push(format!("--partition={partition}"));
        }
        if let Some(account) = &self.options.account {
            args.push(format!("--account={account}"));
        }
        args.extend(self.options.extra.iter().cloned());
        args
    }
}

/// Slurm's time limit for a timeout: whole minutes, rounded up, at least one (Slurm's
/// smallest limit). engine's own timer stops the job at the exact timeout; this limit is
/// the cluster's backstop should engine be gone.
#[must_use]
pub fn time_limit_minutes(timeout: std::time::Duration) -> u64 {
    let seconds = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
    seconds.div_ceil(60).max(1)
}

/// A Slurm job name for a task: `<workflow>.<task>`, with anything but letters, digits,
/// `_`, `-` and `.` replaced by `_` so that the name survives every Slurm command's output
/// format.
#[must_use]
pub fn job_name(workflow: &str, task: &str) -> String {
    format!("{workflow}.{task}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_-.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The whole `sbatch` command line (without the program) that submits one job: it prints
/// just the job id, exports the engine's environment, runs in `cwd`, appends its output to
/// the job's files (so a requeued job does not truncate what was already read), and runs the
/// wrapper script.
#[must_use]
pub fn submission_args(
    name: &str,
    cwd: &Path,
    files: &JobFiles,
    request: &JobRequest,
) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        "--parsable".into(),
        "--export=ALL".into(),
        format!("--job-name={name}").into(),
        "--open-mode=append".into(),
    ];
    args.push(joined("--chdir=", cwd));
    args.push(file_pattern("--output=", &files.stdout));
    args.push(file_pattern("--error=", &files.stderr));
    args.extend(request.args().into_iter().map(OsString::from));
    args.push(files.script.clone().into_os_string());
    args
}

/// `--output` and `--error` take a pattern, where `%` starts a replacement (`%j`: the job's
/// id) unless the name holds a backslash: a path with a `%` (a task name with a `/` is written
/// `%2F`) names itself only once each `%` is written `%%`.
fn file_pattern(option: &str, path: &Path) -> OsString {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let bytes = path.as_os_str().as_bytes();
    if bytes.contains(&b'\\') || !bytes.contains(&b'%') {
        return joined(option, path);
    }
    let mut arg = option.as_bytes().to_vec();
    for &byte in bytes {
        arg.push(byte);
        if byte == b'%' {
            arg.push(b'%');
        }
    }
    OsString::from_vec(arg)
}

fn joined(option: &str, path: &Path) -> OsString {
    let mut arg = OsString::from(option);
    arg.push(path.as_os_str());
    arg
}

/// The `sbatch --test-only` arguments that ask whether the cluster could ever run `request`;
/// nothing is submitted.
#[must_use]
pub fn test_only_args(request: &JobRequest) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["--test-only".into(), "--job-name=engine-check".into()];
    args.extend(request.args().into_iter().map(OsString::from));
    args.push("--wrap=true".into());
    args
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;

    fn request(options: SlurmOptions) -> JobRequest {
        JobRequest {
            cpus: 2,
            memory_mib: Some(1536),
            minutes: Some(3),
            options: Arc::new(options),
        }
    }

    #[test]
    fn time_limits_round_up_to_whole_minutes() {
        for (timeout, minutes) in [
            (Duration::from_millis(250), 1),
            (Duration::from_secs(1), 1),
            (Duration::from_secs(60), 1),
            (Duration::from_millis(60_001), 2),
            (Duration::from_secs(61), 2),
            (Duration::from_secs(90 * 60), 90),
            (Duration::from_secs(24 * 3600 + 1), 24 * 60 + 1),
        ] {
            assert_eq!(time_limit_minutes(timeout), minutes, "{timeout:?}");
        }
    }

    #[test]
    fn a_request_becomes_sbatch_options_in_a_fixed_order() {
        let options = SlurmOptions {
            partition: Some("gpu".into()),
            account: Some("lab".into()),
            extra: vec!["--qos=high".into(), "--gres=gpu:1".into()],
        };
        assert_eq!(
            request(options).args(),
            [
                "--cpus-per-task=2",
                "--mem=1536M",
                "--time=3",
                "--partition=gpu",
                "--account=lab",
                "--qos=high",
                "--gres=gpu:1"
            ]
        );
        let bare = JobRequest {
            cpus: 1,
            memory_mib: None,
            minutes: None,
            options: Arc::default(),
        };
        assert_eq!(bare.args(), ["--cpus-per-task=1"]);
    }

    #[test]
    fn the_submission_names_the_job_and_its_files() {
        let files = JobFiles::new(Path::new("/state/runs/r1/slurm"), "build", 2);
        let args = submission_args(
            "my_flow.build",
            Path::new("/work/project"),
            &files,
            &request(SlurmOptions::default()),
        );
        let args: Vec<String> = args
            .iter()
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "--parsable",
                "--export=ALL",
                "--job-name=my_flow.build",
                "--open-mode=append",
                "--chdir=/work/project",
                "--output=/state/runs/r1/slurm/build.2.out",
                "--error=/state/runs/r1/slurm/build.2.err",
                "--cpus-per-task=2",
                "--mem=1536M",
                "--time=3",
                "/state/runs/r1/slurm/build.2.sh",
            ]
        );
        assert_eq!(
            files.status,
            PathBuf::from("/state/runs/r1/slurm/build.2.status")
        );
    }

    #[test]
    fn a_percent_in_the_output_files_is_not_a_replacement() {
        let files = JobFiles::new(Path::new("/state/100%/slurm"), "t[v=b/c]", 1);
        let args = submission_args(
            "flow.t",
            Path::new("/work"),
            &files,
            &request(SlurmOptions::default()),
        );
        let args: Vec<String> = args
            .iter()
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect();
        assert!(
            args.contains(&"--output=/state/100%%/slurm/t[v=b%%2Fc].1.out".to_owned()),
            "{args:?}"
        );
        // With a backslash, Slurm replaces nothing.
        let files = JobFiles::new(Path::new("/state/a\\b"), "t[v=%]", 1);
        let args = submission_args(
            "f.t",
            Path::new("/w"),
            &files,
            &request(SlurmOptions::default()),
        );
        assert!(
            args.iter()
                .any(|arg| arg.to_string_lossy() == "--error=/state/a\\b/t[v=%25].1.err"),
            "{args:?}"
        );
    }

    #[test]
    fn job_names_keep_only_safe_characters() {
        assert_eq!(job_name("seed-demo", "task_a"), "seed-demo.task_a");
        assert_eq!(job_name("my flow|x", "t"), "my_flow_x.t");
        assert_eq!(job_name("données", "t"), "donn_es.t");
    }

    #[test]
    fn a_test_only_request_submits_nothing() {
        let args = test_only_args(&request(SlurmOptions::default()));
        assert_eq!(
            args.first().map(|a| a.to_string_lossy().into_owned()),
            Some("--test-only".into())
        );
        assert_eq!(
            args.last().map(|a| a.to_string_lossy().into_owned()),
            Some("--wrap=true".into())
        );
    }
}
