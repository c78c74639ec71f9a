//! Jobs that engine stops: a timeout and Ctrl-C `scancel` exactly the run's jobs, and none is
//! left in the queue when the engine exits.

use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::cluster::{
    field, in_queue, job_id, job_ids, jobs_named, show_job, slurm_test, unique_name,
};

#[test]
fn a_timeout_cancels_the_job_long_before_slurms_own_limit() {
    // Slurm's smallest limit is a minute (`--time=1`); engine's own timer stops the job at
    // the exact timeout, counted from when the job began to run.
    let test = slurm_test(
        r#"
tasks:
  slow:
    run: 'touch started; sleep 300; touch finished'
    timeout: 2s
  after:
    depends_on: slow
    run: 'touch after'
"#,
    );
    let run = test.run();
    run.code(1)
        .status("slow", "timed_out")
        .skipped("after", "dependency_failed")
        .not_started("after")
        .stderr_has("TIMEOUT slow")
        .faster_than(Duration::from_secs(50));
    assert!(test.path("started").exists(), "the job never ran");
    assert!(!test.path("finished").exists());
    let id = job_id(&run, "slow");
    assert_eq!(
        in_queue(std::slice::from_ref(&id)),
        Vec::<String>::new(),
        "the job is still in the queue"
    );
    let record = show_job(&id);
    assert_eq!(field(&record, "JobState"), Some("CANCELLED"), "{record}");
    assert_eq!(field(&record, "TimeLimit"), Some("00:01:00"), "{record}");
    // It ran about its 2 s, not Slurm's minute.
    let ran = field(&record, "RunTime").expect("a run time");
    assert!(ran < "00:00:15", "the job ran for {ran}");
}

#[test]
fn ctrl_c_cancels_every_job_of_the_run_and_only_those() {
    let name = unique_name("ctrl-c");
    // Someone else's job, submitted outside engine: it must survive the run.
    let bystander = Command::new("sbatch")
        .args([
            "--parsable",
            &format!("--job-name=bystander-{name}"),
            "--output=/dev/null",
            "--wrap=sleep 120",
        ])
        .output()
        .expect("run sbatch");
    assert!(
        bystander.status.success(),
        "cannot submit the bystander job"
    );
    let bystander = String::from_utf8_lossy(&bystander.stdout).trim().to_owned();
    let test = slurm_test(&format!(
        r#"
name: {name}
tasks:
  first:
    run: 'touch first.started; sleep 300'
  second:
    run: 'touch second.started; sleep 300'
  wide:
    run: 'touch wide.started; sleep 300'
    resources: {{ cpus: 2 }}
  on_thread:
    script: 'sleep(300.0)'
  later:
    depends_on: [first, second]
    run: 'touch later.started'
"#
    ));
    let mut engine = test.spawn();
    // Wait until at least one job runs; the others may still pend (the node has 2 CPUs).
    let deadline = Instant::now() + Duration::from_secs(60);
    while !["first", "second", "wide"]
        .iter()
        .any(|task| test.path(&format!("{task}.started")).exists())
    {
        assert!(
            Instant::now() < deadline,
            "no job of the run started within a minute"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    engine.signal(Signal::SIGINT);
    let run = engine.wait();
    run.code(130)
        .status("first", "interrupted")
        .status("second", "interrupted")
        .status("wide", "interrupted")
        .status("on_thread", "interrupted")
        .skipped("later", "interrupted")
        .not_started("later")
        .ended_within_after_signal(Duration::from_secs(15));
    let ids: Vec<String> = job_ids(&run).into_iter().map(|(_, id)| id).collect();
    assert_eq!(ids.len(), 3, "three jobs were submitted: {ids:?}");
    assert_eq!(
        in_queue(&ids),
        Vec::<String>::new(),
        "jobs of the run are left in the queue"
    );
    let jobs = jobs_named(&name);
    assert_eq!(jobs.len(), 3, "{jobs:?}");
    assert!(
        jobs.iter().all(|job| job.ends_with(" CANCELLED")),
        "{jobs:?}"
    );
    // The bystander was not touched.
    let still = in_queue(std::slice::from_ref(&bystander));
    let _ = Command::new("scancel").arg(&bystander).status();
    assert_eq!(
        still.len(),
        1,
        "the bystander job {bystander} was cancelled too"
    );
}
