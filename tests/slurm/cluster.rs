//! The cluster the tests run against, and what Slurm says about the jobs of a run.

use std::process::Command;
use std::sync::OnceLock;

use engine_test_support::{Output, Test};

/// Panics unless a Slurm cluster answers with a node ready to run jobs (checked once).
#[track_caller]
pub fn require() {
    static ANSWER: OnceLock<Result<(), String>> = OnceLock::new();
    if let Err(why) = ANSWER.get_or_init(check) {
        panic!(
            "the Slurm tests need a running Slurm cluster, and {why}: start the development \
             cluster with `scripts/slurm-dev-cluster.sh up` (as root), then run the tests again"
        );
    }
}

fn check() -> Result<(), String> {
    // `scontrol ping` answers at once; `sinfo` retries a missing controller for 18 s.
    let ping = Command::new("scontrol")
        .arg("ping")
        .output()
        .map_err(|error| format!("`scontrol` cannot run ({error})"))?;
    if !ping.status.success() {
        let answer = String::from_utf8_lossy(&ping.stdout);
        return Err(format!(
            "`scontrol ping` says {:?}",
            answer.lines().next().unwrap_or_default()
        ));
    }
    let output = Command::new("sinfo")
        .args(["--noheader", "--format=%T"])
        .output()
        .map_err(|error| format!("`sinfo` cannot run ({error})"))?;
    let states = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "`sinfo` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    if states
        .lines()
        .any(|state| ["idle", "mixed", "allocated", "completing"].contains(&state.trim()))
    {
        Ok(())
    } else {
        Err(format!(
            "no node is ready (`sinfo` says {:?})",
            states.trim()
        ))
    }
}

/// Taken by each test that holds one of the node's two CPUs while it waits for the other:
/// two such tests at once would each hold one and wait for the other until they time out.
pub fn holding_a_cpu() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A test of `yaml` run with `--executor slurm` and plain progress.
pub fn slurm_test(yaml: &str) -> Test {
    require();
    Test::run_of(yaml).args(["--executor", "slurm", "--progress", "plain"])
}

/// A workflow name no other test run uses, so its jobs can be found by name.
pub fn unique_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// The Slurm job id of each task that had one, from the `task_job` events.
pub fn job_ids(run: &Output) -> Vec<(String, String)> {
    let mut ids: Vec<(String, String)> = Vec::new();
    for event in run.events_of("task_job") {
        let task = event["task"].as_str().unwrap_or_default().to_owned();
        let id = event["job_id"].as_str().unwrap_or_default().to_owned();
        if !ids.iter().any(|(t, i)| *t == task && *i == id) {
            ids.push((task, id));
        }
    }
    ids
}

/// The job id of `task`.
#[track_caller]
pub fn job_id(run: &Output, task: &str) -> String {
    job_ids(run)
        .into_iter()
        .find(|(t, _)| t == task)
        .map_or_else(
            || run.fail(&format!("no Slurm job for `{task}`")),
            |(_, id)| id,
        )
}

/// `scontrol -o show job ID`, one line of `Key=Value` fields.
#[track_caller]
pub fn show_job(id: &str) -> String {
    let output = Command::new("scontrol")
        .args(["-o", "show", "job", id])
        .output()
        .expect("run scontrol");
    assert!(
        output.status.success(),
        "scontrol show job {id}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The value of `key` in an `scontrol -o show job` line.
pub fn field<'a>(record: &'a str, key: &str) -> Option<&'a str> {
    record
        .split_whitespace()
        .find_map(|token| token.strip_prefix(key)?.strip_prefix('='))
}

/// The jobs among `ids` that are still in the queue: pending, running, completing or
/// suspended.
pub fn in_queue(ids: &[String]) -> Vec<String> {
    if ids.is_empty() {
        return Vec::new();
    }
    let output = Command::new("squeue")
        .args([
            "--noheader",
            "--states=PENDING,CONFIGURING,RUNNING,COMPLETING,SUSPENDED",
            &format!("--jobs={}", ids.join(",")),
            "--format=%i %T",
        ])
        .output()
        .expect("run squeue");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The jobs of the workflow named `name` (job names `<name>.<task>`) that Slurm knows in any
/// state, as `id name STATE` lines.
pub fn jobs_named(name: &str) -> Vec<String> {
    let output = Command::new("squeue")
        .args(["--noheader", "--states=all", "--format=%i %j %T"])
        .output()
        .expect("run squeue");
    let prefix = format!("{name}.");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| {
            line.split_whitespace()
                .nth(1)
                .is_some_and(|job| job.starts_with(&prefix))
        })
        .map(str::to_owned)
        .collect()
}
