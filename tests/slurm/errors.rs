//! Problems found before anything runs: no Slurm commands, a controller that does not
//! answer, requests the cluster refuses. Each exits 2 and submits nothing.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use engine_test_support::{Output, Test};

use crate::cluster::{jobs_named, require, unique_name};

/// Expects the run to have stopped before starting anything.
#[track_caller]
fn nothing_ran(test: &Test, run: &Output, name: &str) {
    assert!(run.started_order().is_empty(), "tasks started");
    assert!(
        !test.state_dir().join("runs").exists(),
        "the run began: its state dir exists"
    );
    assert_eq!(
        jobs_named(name),
        Vec::<String>::new(),
        "jobs were submitted"
    );
}

fn workflow(name: &str, task_fields: &str) -> String {
    format!(
        "name: {name}\ntasks:\n  local_thread:\n    script: 'print(1);'\n  job:\n    run: 'echo hi'\n{task_fields}"
    )
}

/// A directory holding links to the real Slurm commands, except those in `except`.
fn slurm_commands(dir: &Path, except: &[&str]) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("bin dir");
    for command in ["sbatch", "squeue", "scontrol", "scancel", "sinfo"] {
        if except.contains(&command) {
            continue;
        }
        let real = which(command);
        std::os::unix::fs::symlink(real, bin.join(command)).expect("link a Slurm command");
    }
    bin
}

fn which(command: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join(command))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("`{command}` is not on PATH"))
}

#[test]
fn without_sbatch_on_path_nothing_runs() {
    require();
    let name = unique_name("no-sbatch");
    let test = Test::run_of(&workflow(&name, "")).args(["--executor", "slurm"]);
    let bin = slurm_commands(test.dir(), &["sbatch"]);
    let test = test.env("PATH", bin.as_os_str());
    let test = test
        .status(2)
        .stderr_has("error: `sbatch` is not on PATH")
        .stderr_has("hint: install Slurm's client commands");
    let run = test.run();
    nothing_ran(&test, &run, &name);
}

#[test]
fn a_controller_that_does_not_answer_stops_the_run_at_once() {
    require();
    let name = unique_name("no-controller");
    // The real configuration with the controller moved to a port where nothing listens: the
    // same client commands, a controller that does not answer.
    let conf = std::fs::read_to_string("/etc/slurm/slurm.conf").expect("read slurm.conf");
    let test = Test::run_of(&workflow(&name, "")).args(["--executor", "slurm"]);
    let dead = test.path("slurm.conf");
    std::fs::write(&dead, format!("{conf}\nSlurmctldPort=9\n")).expect("write slurm.conf");
    let test = test.env("SLURM_CONF", dead.as_os_str());
    let test = test
        .status(2)
        .stderr_has("error: the Slurm controller does not answer: Slurmctld(primary) at ")
        .stderr_has("is DOWN")
        .faster_than(std::time::Duration::from_secs(15));
    let run = test.run();
    nothing_ran(&test, &run, &name);
}

#[test]
fn a_request_the_cluster_can_never_satisfy_is_refused_before_the_run() {
    let name = unique_name("too-big");
    require();
    let cpus = std::thread::available_parallelism().map_or(2, usize::from);
    let test = Test::run_of(&workflow(
        &name,
        &format!(
            "    resources: {{ cpus: {} }}\n  small:\n    run: 'true'\n",
            cpus * 64
        ),
    ))
    .args(["--executor", "slurm"])
    .status(2)
    .stderr_has("error: Slurm refuses one request of this run; nothing was submitted")
    .stderr_has(&format!("task `job` (--cpus-per-task={}): ", cpus * 64))
    .stderr_has("More processors requested than permitted")
    .stderr_lacks("small");
    let run = test.run();
    nothing_ran(&test, &run, &name);
}

#[test]
fn a_refusal_by_sbatch_is_reported_with_its_reason() {
    require();
    let name = unique_name("refused");
    let test = Test::run_of(&workflow(&name, "    slurm: { account: nobody }\n"))
        .args(["--executor", "slurm"]);
    let bin = slurm_commands(test.dir(), &["sbatch"]);
    // An `sbatch` that refuses everything, as a cluster refuses an unknown account, and
    // records how it was called.
    let calls = test.path("sbatch.calls");
    let fake = format!(
        "#!/bin/sh\necho \"$*\" >> '{}'\necho 'sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified' >&2\nexit 1\n",
        calls.display()
    );
    std::fs::write(bin.join("sbatch"), fake).expect("write the fake sbatch");
    std::fs::set_permissions(bin.join("sbatch"), std::fs::Permissions::from_mode(0o755))
        .expect("make it executable");
    let test = test.env("PATH", bin.as_os_str());
    let test = test.status(2)
        .stderr_has("task `job` (--cpus-per-task=1 --account=nobody): sbatch: error: Batch job submission failed: Invalid account");
    let run = test.run();
    nothing_ran(&test, &run, &name);
    let calls = std::fs::read_to_string(calls).expect("sbatch was called");
    assert_eq!(calls.lines().count(), 1, "{calls}");
    assert!(
        calls.starts_with("--test-only "),
        "sbatch was asked to submit: {calls}"
    );
}
