//! Jobs that engine stops: a timeout and Ctrl-C `scancel` exactly the run's jobs, and none is
//! left in the queue when the engine exits.

use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::cluster::{
    field, holding_a_cpu, in_queue, job_id, job_ids, jobs_named, show_job, slurm_test, unique_name,
};

#[test]
fn a_timeout_cancels_the_job_long_before_slurms_own_limit() {
    // Slurm's smallest limit is a minute (`--time=1`); engine's own timer stops the job at
    // the exact timeout, counted from when the job began to run. The stop reaches every
    // process of the job at once: the shell does not go on to `touch finished` once `sleep`
    // is gone (a plain `scancel` signals them one by one here, children first).
    let test = slurm_test(
        r"
tasks:
  slow:
    run: 'touch started; sleep 300; touch finished'
    timeout: 2s
  after:
    depends_on: slow
    run: 'touch after'
",
    );
    let test = test
        .status(1)
        .task_status("slow", "timed_out")
        .skipped("after", "dependency_failed")
        .not_started("after")
        .stderr_has("TIMEOUT slow")
        .faster_than(Duration::from_secs(50));
    let run = test.run();
    assert!(test.path("started").exists(), "the job never ran");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !test.path("finished").exists(),
        "the job's shell went on after its timeout"
    );
    let id = job_id(&run, "slow");
    assert_eq!(
        in_queue(std::slice::from_ref(&id)),
        Vec::<String>::new(),
        "the job is still in the queue"
    );
    // Its batch shell got SIGTERM, passed it on and ended with its command's status.
    let record = show_job(&id);
    assert_eq!(field(&record, "JobState"), Some("FAILED"), "{record}");
    assert_eq!(field(&record, "ExitCode"), Some("143:0"), "{record}");
    assert_eq!(field(&record, "TimeLimit"), Some("00:01:00"), "{record}");
    // It ran about its 2 s, not Slurm's minute.
    let ran = field(&record, "RunTime").expect("a run time");
    assert!(ran < "00:00:15", "the job ran for {ran}");
}

#[test]
fn ctrl_c_cancels_every_job_of_the_run_and_only_those() {
    // The bystander holds a CPU while the run's jobs wait for the other.
    let _node = holding_a_cpu();
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
        r"
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
"
    ));
    let test = test
        .status(130)
        .task_status("first", "interrupted")
        .task_status("second", "interrupted")
        .task_status("wide", "interrupted")
        .task_status("on_thread", "interrupted")
        .skipped("later", "interrupted")
        .not_started("later")
        .ends_within_after_signal(Duration::from_secs(15));
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
    let ids: Vec<String> = job_ids(&run).into_iter().map(|(_, id)| id).collect();
    assert_eq!(ids.len(), 3, "three jobs were submitted: {ids:?}");
    assert_eq!(
        in_queue(&ids),
        Vec::<String>::new(),
        "jobs of the run are left in the queue"
    );
    // Jobs still waiting were cancelled; running ones were stopped by SIGTERM through their
    // batch shell and ended with their command's status (FAILED, 143).
    let jobs = jobs_named(&name);
    assert_eq!(jobs.len(), 3, "{jobs:?}");
    for task in ["first", "second", "wide"] {
        let job = jobs
            .iter()
            .find(|job| job.contains(&format!(" {name}.{task} ")))
            .unwrap_or_else(|| panic!("no job of `{task}` in {jobs:?}"));
        if test.path(&format!("{task}.started")).exists() {
            assert!(job.ends_with(" FAILED"), "{job}");
        } else {
            assert!(
                job.ends_with(" CANCELLED") || job.ends_with(" FAILED"),
                "{job}"
            );
        }
    }
    // The bystander was not touched.
    let still = in_queue(std::slice::from_ref(&bystander));
    let _ = Command::new("scancel").arg(&bystander).status();
    assert_eq!(
        still.len(),
        1,
        "the bystander job {bystander} was cancelled too"
    );
}

#[test]
fn after_a_failure_jobs_still_waiting_in_the_queue_are_withdrawn() {
    let _node = holding_a_cpu();
    let name = unique_name("fail-fast");
    // `holder` (submitted first, so first to get a CPU) keeps a CPU busy until the test
    // releases it, so `wide`, which needs both of the node's CPUs, waits in the queue while
    // `fails` runs and fails. Running jobs finish, as local tasks do; the waiting one is
    // cancelled before it ever runs, and counts as not started.
    let test = slurm_test(&format!(
        r"
name: {name}
tasks:
  holder:
    run: 'touch holder.started; while [ ! -e release ]; do sleep 0.1; done'
  fails:
    run: 'sleep 1; exit 3'
  wide:
    run: 'touch wide.ran'
    resources: {{ cpus: 2 }}
"
    ));
    let test = test
        .status(1)
        .task_status("holder", "succeeded")
        .task_status("fails", "failed")
        .skipped("wide", "run_stopped")
        .stderr_has("skipped wide: not started: the run stopped after a failure");
    let engine = test.spawn();
    let deadline = Instant::now() + Duration::from_secs(90);
    let wide_job = format!("{name}.wide");
    while !jobs_named(&name)
        .iter()
        .any(|job| job.contains(&wide_job) && job.ends_with(" CANCELLED"))
    {
        assert!(
            Instant::now() < deadline,
            "`wide` was not withdrawn: {:?}",
            jobs_named(&name)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::fs::write(test.path("release"), "").expect("release `holder`");
    let run = engine.wait();
    assert!(!test.path("wide.ran").exists(), "the withdrawn job ran");
    let wide = job_id(&run, "wide");
    let states: Vec<String> = run
        .events_of("task_job")
        .iter()
        .filter(|e| e["task"] == "wide")
        .map(|e| e["state"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        states.last().map(String::as_str),
        Some("withdrawn before it ran (the run stopped after a failure)"),
        "{states:?}"
    );
    let record = show_job(&wide);
    assert_eq!(field(&record, "JobState"), Some("CANCELLED"), "{record}");
    assert_eq!(
        field(&record, "NodeList"),
        Some(""),
        "never on a node: {record}"
    );
    assert_eq!(field(&record, "RunTime"), Some("00:00:00"), "{record}");
    // Nothing of the run is left in the queue.
    let ids: Vec<String> = job_ids(&run).into_iter().map(|(_, id)| id).collect();
    assert_eq!(in_queue(&ids), Vec::<String>::new());
}

#[test]
fn signals_sent_to_a_jobs_batch_shell_reach_its_whole_command() {
    // `--signal=B:USR1@120` or `scancel --batch` signal the batch shell alone; the wrapper
    // passes the signal on to every process of the job. USR1 lets the command carry on (here
    // it finishes cleanly); TERM from outside engine stops the task, which fails with why.
    let name = unique_name("passed-on");
    let test = slurm_test(&format!(
        r#"
name: {name}
tasks:
  checkpoints:
    run: 'trap "touch got-usr1; exit 0" USR1; touch checkpoints.started; while :; do sleep 0.1 || :; done'
  stopped:
    depends_on: checkpoints
    run: 'touch stopped.started; sleep 300; touch stopped.finished'
"#
    ));
    let test = test
        .status(1)
        .task_status("checkpoints", "succeeded")
        .task_status("stopped", "failed")
        .stderr_has("was stopped by SIGTERM from outside engine; its command exited with code 143");
    let engine = test.spawn();
    // One job at a time (`stopped` waits for `checkpoints`), so that this test never holds
    // a CPU of the shared node while it waits for another.
    for (task, signal) in [("checkpoints", "USR1"), ("stopped", "TERM")] {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !test.path(&format!("{task}.started")).exists() {
            assert!(
                Instant::now() < deadline,
                "`{task}` did not start within a minute: {:?}",
                jobs_named(&name)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let jobs = jobs_named(&name);
        let id = jobs
            .iter()
            .find(|job| job.contains(&format!(" {name}.{task} ")))
            .and_then(|job| job.split_whitespace().next())
            .unwrap_or_else(|| panic!("no job of `{task}` in {jobs:?}"));
        let status = Command::new("scancel")
            .args(["--batch", &format!("--signal={signal}"), id])
            .status()
            .expect("run scancel");
        assert!(status.success(), "scancel --batch --signal={signal} failed");
    }
    engine.wait();
    assert!(
        test.path("got-usr1").exists(),
        "USR1 did not reach the command"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !test.path("stopped.finished").exists(),
        "the job's shell went on after SIGTERM"
    );
}

#[test]
fn jobs_left_by_a_killed_engine_are_cancelled_by_the_next_run() {
    // A SIGKILLed engine cannot cancel its jobs; the next run of the workflow does, before
    // anything of its own runs. The second run finds `second` and ends at once.
    let name = unique_name("killed");
    let test = slurm_test(&format!(
        r"
name: {name}
tasks:
  long:
    run: 'if [ -e second ]; then exit 0; fi; touch long.started; sleep 300'
"
    ));
    let mut engine = test.again().any_status().spawn();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !test.path("long.started").exists() {
        assert!(
            Instant::now() < deadline,
            "the job did not start within a minute: {:?}",
            jobs_named(&name)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    engine.signal(Signal::SIGKILL);
    let _ = engine.wait();
    let left: Vec<String> = jobs_named(&name)
        .iter()
        .filter(|job| job.ends_with(" RUNNING"))
        .filter_map(|job| job.split_whitespace().next().map(str::to_owned))
        .collect();
    assert_eq!(left.len(), 1, "the killed engine's job is not running");
    std::fs::write(test.path("second"), "").expect("write `second`");
    let test = test
        .task_status("long", "succeeded")
        .stderr_has("cancelled 1 Slurm job(s) left in the queue by run ")
        .stderr_has(&format!("whose engine died: {}", left[0]));
    test.run();
    assert_eq!(
        in_queue(&left),
        Vec::<String>::new(),
        "the killed engine's job is still in the queue"
    );
}
