//! Jobs that run to their end: a fan-out and a join, a failure, resources, thread tasks next
//! to jobs, output streaming into the logs.

use engine_test_support::files_under;

use crate::cluster::{field, job_id, job_ids, show_job, slurm_test};

/// Each task prints the Slurm job id it saw and the host, the way the tests recognise a task
/// that ran as a job.
const FAN_OUT: &str = r#"
defaults:
  run: 'true'
tasks:
  part_1: { run: 'echo "job=$SLURM_JOB_ID task=$ENGINE_TASK run=$ENGINE_RUN_ID"' }
  part_2: { run: 'echo "job=$SLURM_JOB_ID task=$ENGINE_TASK run=$ENGINE_RUN_ID"' }
  part_3: { run: 'echo "job=$SLURM_JOB_ID task=$ENGINE_TASK run=$ENGINE_RUN_ID"' }
  part_4: { run: 'echo "job=$SLURM_JOB_ID task=$ENGINE_TASK run=$ENGINE_RUN_ID"' }
  part_5: { run: 'echo "job=$SLURM_JOB_ID task=$ENGINE_TASK run=$ENGINE_RUN_ID"' }
  part_6: { run: 'echo "job=$SLURM_JOB_ID task=$ENGINE_TASK run=$ENGINE_RUN_ID"' }
  join:
    depends_on: [part_1, part_2, part_3, part_4, part_5, part_6]
    run: 'echo "job=$SLURM_JOB_ID task=$ENGINE_TASK run=$ENGINE_RUN_ID"'
"#;

#[test]
fn results_pass_from_six_jobs_to_their_join_and_a_matrix_runs_as_jobs() {
    let test = slurm_test(
        r#"
tasks:
  part:
    matrix: { n: [1, 2, 3, 4, 5, 6] }
    run: echo "square=$(( ${{ matrix.n }} * ${{ matrix.n }} ))" >> "$ENGINE_RESULTS"
  join:
    depends_on: [part]
    run: >-
      echo "sum=$(( ${{ tasks["part[n=1]"].results.square }}
      + ${{ tasks["part[n=2]"].results.square }} + ${{ tasks["part[n=3]"].results.square }}
      + ${{ tasks["part[n=4]"].results.square }} + ${{ tasks["part[n=5]"].results.square }}
      + ${{ tasks["part[n=6]"].results.square }} )) job=$SLURM_JOB_ID"
"#,
    );
    let test = test.status(0).stdout_has("sum=91 job=");
    let run = test.run();
    assert_eq!(job_ids(&run).len(), 7, "every task ran as a job");
    assert_eq!(run.finished("part[n=4]")["results"]["square"], "16");
}

#[test]
fn a_fan_out_of_six_jobs_and_a_join_each_run_as_their_own_job() {
    let yaml = FAN_OUT.replace("defaults:\n  run: 'true'\n", "");
    let test = slurm_test(&yaml);
    let test = test.status(0).stderr_has("done: 7 succeeded");
    let run = test.run();
    let run_id = run.events_of("run_started")[0]["run_id"]
        .as_str()
        .expect("run id")
        .to_owned();
    let ids = job_ids(&run);
    assert_eq!(ids.len(), 7, "one job per task: {ids:?}");
    let mut distinct: Vec<&String> = ids.iter().map(|(_, id)| id).collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 7, "seven different jobs: {ids:?}");
    for (task, id) in &ids {
        // The job's own output names the job Slurm ran it as.
        run.stdout_has(&format!("[{task}] job={id} task={task} run={run_id}"));
        let log =
            std::fs::read_to_string(run.log_dir(&test.state_dir()).join(format!("{task}.log")))
                .expect("the task's log");
        assert_eq!(log, format!("job={id} task={task} run={run_id}\n"));
    }
    // The join started only after all six had finished.
    let join_started = run.position("task_started", "join");
    for part in 1..=6 {
        assert!(
            run.position("task_finished", &format!("part_{part}")) < join_started,
            "the join started before part_{part} finished"
        );
    }
    let join_id: u64 = job_id(&run, "join").parse().expect("a numeric job id");
    for part in 1..=6 {
        let id: u64 = job_id(&run, &format!("part_{part}"))
            .parse()
            .expect("numeric");
        assert!(id < join_id, "the join was submitted before part_{part}");
    }
}

#[test]
fn a_failing_job_reports_its_exact_exit_code_and_stops_its_dependents() {
    let test = slurm_test(
        r#"
tasks:
  fails:
    run: 'echo "about to fail" >&2; exit 7'
  after:
    depends_on: fails
    run: 'echo never'
"#,
    );
    let test = test
        .status(1)
        .task_status("fails", "failed")
        .skipped("after", "dependency_failed")
        .not_started("after")
        .stdout_has("[fails!] about to fail")
        .stderr_has("FAILED fails: exited with code 7");
    let run = test.run();
    assert_eq!(run.finished("fails")["exit_code"], 7);
    // Slurm agrees.
    let record = show_job(&job_id(&run, "fails"));
    assert_eq!(field(&record, "ExitCode"), Some("7:0"), "{record}");
}

#[test]
fn resources_timeout_and_slurm_options_reach_the_job() {
    let test = slurm_test(
        r#"
tasks:
  sized:
    run: 'echo "cpus=$SLURM_CPUS_PER_TASK mem=$SLURM_MEM_PER_NODE"'
    timeout: 150s
    resources: { cpus: 2, memory: 300M }
    slurm:
      partition: debug
      extra: [--comment=engine-resources-test, --nice=5]
"#,
    );
    let test = test.status(0).stdout_has("[sized] cpus=2 mem=300");
    let run = test.run();
    let record = show_job(&job_id(&run, "sized"));
    for (key, value) in [
        ("CPUs/Task", "2"),
        ("NumCPUs", "2"),
        ("MinMemoryNode", "300M"),
        // 150 s is rounded up to 3 whole minutes.
        ("TimeLimit", "00:03:00"),
        ("Partition", "debug"),
        ("Comment", "engine-resources-test"),
        ("Nice", "5"),
        ("JobState", "COMPLETED"),
    ] {
        assert_eq!(field(&record, key), Some(value), "{key} in {record}");
    }
    let name = field(&record, "JobName").expect("a job name");
    assert_eq!(name, "workflow.sized", "job names are <workflow>.<task>");
    let workdir = field(&record, "WorkDir").expect("a working directory");
    assert_eq!(std::path::Path::new(workdir), test.dir());
}

#[test]
fn thread_tasks_run_in_the_engine_next_to_slurm_jobs() {
    let test = slurm_test(
        r#"
tasks:
  on_thread:
    script: 'let id = env("SLURM_JOB_ID"); if id == () { print("no Slurm job here") } else { print("job " + id) }'
  script_job:
    isolation: process
    script: 'print("script job " + env("SLURM_JOB_ID"));'
  shell_job:
    run: 'echo "shell job $SLURM_JOB_ID"'
  both:
    depends_on: [on_thread, script_job, shell_job]
    script: 'print("after both");'
"#,
    );
    let test = test.status(0).stdout_has("[both] after both");
    let run = test.run();
    // The thread tasks ran inside the engine, where there is no Slurm job.
    run.stdout_has("[on_thread] no Slurm job here");
    let tasks: Vec<String> = job_ids(&run).into_iter().map(|(task, _)| task).collect();
    assert_eq!(
        tasks,
        ["script_job", "shell_job"],
        "only process tasks are jobs"
    );
    run.stdout_has(&format!(
        "[shell_job] shell job {}",
        job_id(&run, "shell_job")
    ));
    // A script with `isolation: process` runs as a job of the engine binary itself.
    run.stdout_has(&format!(
        "[script_job] script job {}",
        job_id(&run, "script_job")
    ));
}

#[test]
fn output_streams_while_the_job_runs() {
    let test = slurm_test(
        r"
tasks:
  talks:
    run: 'echo first; while [ ! -e release ]; do sleep 0.1; done; echo second'
",
    )
    .stdout_has("[talks] first\n[talks] second\n");
    let engine = test.spawn();
    // `first` reaches the task's log while the job still runs, blocked on `release`.
    let log_dir_glob = test.state_dir().join("runs");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let log = loop {
        let found = std::fs::read_dir(&log_dir_glob)
            .into_iter()
            .flatten()
            .flatten()
            .map(|run| run.path().join("logs").join("talks.log"))
            .find(|log| log.exists());
        if let Some(log) = found
            && std::fs::read_to_string(&log).unwrap_or_default() == "first\n"
        {
            break log;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the first line did not reach the log while the job ran"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    std::fs::write(test.path("release"), "").expect("release the job");
    engine.wait();
    assert_eq!(
        std::fs::read_to_string(log).expect("log"),
        "first\nsecond\n"
    );
}

#[test]
fn the_slurm_example_runs_on_the_cluster() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("workflows")
        .join("slurm_fan_out.yaml");
    let test = slurm_test(&std::fs::read_to_string(example).expect("read the example"));
    let test = test
        .status(0)
        .stderr_has("done: 8 succeeded")
        .stdout_has("[check] the six shards add up to 21");
    let run = test.run();
    let tasks: Vec<String> = job_ids(&run).into_iter().map(|(task, _)| task).collect();
    assert_eq!(
        tasks.len(),
        7,
        "six shards and the join are jobs, the check is not: {tasks:?}"
    );
    assert!(!tasks.iter().any(|task| task == "check"));
    for shard in 1..=6 {
        let id = job_id(&run, &format!("shard_{shard}"));
        run.stdout_has(&format!("Slurm job {id}\n"));
    }
    let join = show_job(&job_id(&run, "join"));
    assert_eq!(field(&join, "NumCPUs"), Some("2"), "{join}");
    assert_eq!(field(&join, "Nice"), Some("10"), "{join}");
}

/// A workflow that sends its process tasks to Slurm, except one.
const MOSTLY_SLURM: &str = r#"
executor: slurm
tasks:
  on_slurm:
    run: 'echo "job ${SLURM_JOB_ID:-none}"'
  stays_local:
    executor: local
    run: 'echo "job ${SLURM_JOB_ID:-none}"'
"#;

#[test]
fn the_workflow_and_each_task_say_where_process_tasks_run() {
    crate::cluster::require();
    let test = engine_test_support::Test::run_of(MOSTLY_SLURM)
        .args(["--progress", "plain"])
        .stdout_has("[stays_local] job none");
    let run = test.run();
    run.stdout_has(&format!("[on_slurm] job {}", job_id(&run, "on_slurm")));
    let tasks: Vec<String> = job_ids(&run).into_iter().map(|(task, _)| task).collect();
    assert_eq!(tasks, ["on_slurm"]);
    // A local process task reports its pid; a job has none.
    assert!(run.task_pid("stays_local") > 0);
}

#[test]
fn the_command_line_wins_and_local_needs_no_slurm_at_all() {
    let test = engine_test_support::Test::run_of(MOSTLY_SLURM).args(["--executor", "local"]);
    // A PATH with a shell and no Slurm command: nothing may ask for one.
    let bin = test.path("bin");
    std::fs::create_dir_all(&bin).expect("a PATH dir");
    std::os::unix::fs::symlink("/bin/sh", bin.join("sh")).expect("link sh");
    let run = test
        .env("PATH", bin.as_os_str())
        .status(0)
        .stdout_has("[on_slurm] job none")
        .stdout_has("[stays_local] job none")
        .run();
    assert!(job_ids(&run).is_empty());
}

/// The secrets of the test below and pieces of them, none of which may show anywhere.
const SECRETS: [&str; 4] = [
    "supersecretvalue123",
    "filedsecretvalue456",
    "supers",
    "ecretvalue123",
];

#[test]
fn secrets_reach_jobs_without_being_written_in_clear_and_job_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let test = slurm_test(
        r#"
secrets: [TOK, FILED]
env_file: secrets.env
tasks:
  talk:
    run: >-
      echo "tok=$TOK filed=$FILED filled=${{ env.TOK }}";
      echo "err $TOK" >&2;
      echo "k=$FILED" >> "$ENGINE_RESULTS";
      printf '%65530s%s%100000s\n' x "$TOK" end;
      test "$TOK" = supersecretvalue123 && test "$FILED" = filedsecretvalue456
  fails:
    run: echo "$FILED"; exit 3
"#,
    )
    .file("secrets.env", "FILED=filedsecretvalue456\n")
    .args(["--keep-going"])
    .env("TOK", "supersecretvalue123");
    let mut test = test
        .status(1)
        .task_status("talk", "succeeded")
        .task_status("fails", "failed")
        .stdout_has("tok=*** filed=*** filled=***")
        .stdout_has("err ***");
    for secret in SECRETS {
        test = test.stdout_lacks(secret).stderr_lacks(secret);
    }
    let run = test.run();
    assert_eq!(run.finished("talk")["results"]["k"], "***");
    let events = std::fs::read(test.events_path()).expect("the events");
    let files = files_under(&test.state_dir());
    let scripts = files
        .iter()
        .filter(|file| file.extension().is_some_and(|e| e == "sh"))
        .count();
    assert_eq!(scripts, 2, "{files:?}");
    for secret in SECRETS {
        assert!(
            !String::from_utf8_lossy(&events).contains(secret),
            "the events hold {secret}"
        );
        for file in &files {
            let text =
                String::from_utf8_lossy(&std::fs::read(file).unwrap_or_default()).into_owned();
            assert!(
                !text.contains(secret),
                "`{}` holds {secret}",
                file.display()
            );
        }
    }
    for file in &files {
        let private = ["sh", "out", "err", "tsv", "log"]
            .iter()
            .any(|extension| file.extension().is_some_and(|e| e == *extension));
        if private {
            let mode = std::fs::metadata(file)
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{}", file.display());
        }
    }
}

#[test]
fn the_items_of_a_matrix_from_results_run_as_jobs_under_executor_slurm() {
    // `split` does not say `executor: slurm`: `--executor slurm` sends it, and the items its
    // result makes during the run, to Slurm.
    let test = slurm_test(
        r#"
tasks:
  split:
    run: echo 'shards=["a", "b", "c"]' >> "$ENGINE_RESULTS"
  work:
    depends_on: [split]
    matrix:
      shard: ${{ from_json(tasks.split.results.shards) }}
    run: echo "shard=${{ matrix.shard }} job=$SLURM_JOB_ID"
"#,
    );
    let run = test.status(0).stderr_has("expand work into 3 items").run();
    let ids = job_ids(&run);
    for shard in ["a", "b", "c"] {
        let task = format!("work[shard={shard}]");
        assert!(
            ids.iter().any(|(name, _)| *name == task),
            "{task} ran as a job: {ids:?}"
        );
        run.stdout_has(&format!("shard={shard} job="));
    }
}
