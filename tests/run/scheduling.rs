//! What runs when: concurrency of threads and processes, the `-j` and `--threads` caps, and
//! the critical-path order of ready tasks.

use std::time::Duration;

use engine_test_support::Test;

#[test]
fn a_process_task_and_a_thread_task_run_at_once_then_the_join() {
    let run = Test::run_of(
        r#"
name: seed-like
tasks:
  task_a:
    isolation: process
    run: echo "Task A started."; sleep 2; echo "Task A completed."
  task_b:
    isolation: thread
    script: |
      print("Task B started."); sleep(2.0); print("Task B completed.");
  all_done:
    depends_on: [task_a, task_b]
    run: echo "All tasks completed."
"#,
    )
    .args(["--progress", "plain"])
    .status(0)
    .stdout_has("[task_a] Task A completed.")
    .stdout_has("[task_b] Task B completed.")
    .stdout_has("[all_done] All tasks completed.")
    // Both take 2 s: one after the other would take 4.
    .faster_than(Duration::from_millis(3500))
    .run();
    assert_eq!(run.max_concurrent(), 2, "task_a and task_b overlap");
    let order = run.started_order();
    assert_eq!(order.last().map(String::as_str), Some("all_done"));
}

const THREE_SLEEPS: &str = "
tasks:
  one:
    run: sleep 0.3
  two:
    run: sleep 0.3
  three:
    run: sleep 0.3
";

#[test]
fn one_job_runs_process_tasks_one_at_a_time() {
    let run = Test::run_of(THREE_SLEEPS).args(["-j", "1"]).status(0).run();
    assert_eq!(run.max_concurrent(), 1);
    if run.elapsed < Duration::from_millis(900) {
        run.fail("three 300 ms tasks, one at a time, took less than 900 ms");
    }
}

#[test]
fn three_jobs_run_process_tasks_together() {
    let run = Test::run_of(THREE_SLEEPS).args(["-j", "3"]).status(0).run();
    assert_eq!(run.max_concurrent(), 3);
    let took = run.events_of("run_finished")[0]["duration_ms"]
        .as_u64()
        .expect("duration_ms");
    if took >= 850 {
        run.fail("three 300 ms tasks at once took 850 ms or more");
    }
}

#[test]
fn two_jobs_never_run_three_processes() {
    let run = Test::run_of(THREE_SLEEPS).args(["-j", "2"]).status(0).run();
    assert_eq!(run.max_concurrent(), 2);
}

#[test]
fn one_thread_runs_scripts_one_at_a_time_beside_processes() {
    let run = Test::run_of(
        "
tasks:
  s1:
    script: sleep(0.2)
  s2:
    script: sleep(0.2)
  p:
    run: sleep 0.3
",
    )
    .args(["--threads", "1"])
    .status(0)
    .run();
    // The process task runs beside the one thread task, but the two scripts never overlap.
    assert_eq!(run.max_concurrent(), 2);
    let (first, second) = if run.position("task_started", "s1") < run.position("task_started", "s2")
    {
        ("s1", "s2")
    } else {
        ("s2", "s1")
    };
    assert!(
        run.position("task_finished", first) < run.position("task_started", second),
        "with --threads 1 the scripts must not overlap"
    );
}

#[test]
fn the_longest_chain_starts_first_then_file_order() {
    let run = Test::run_of(
        "
tasks:
  short:
    run: 'true'
  long1:
    run: 'true'
  long2:
    depends_on: long1
    run: 'true'
  long3:
    depends_on: long2
    run: 'true'
  mid1:
    run: 'true'
  mid2:
    depends_on: mid1
    run: 'true'
",
    )
    // The order of the ready queue itself: with a run record, a dependent is ready only once
    // its dependency's end is durable, and a free slot does not wait for a tie.
    .args(["-j", "1", "--no-record"])
    .status(0)
    .run();
    // long1 heads a chain of 3. Then long2 and mid1 (chains of 2) tie and go in file order,
    // then the chains of 1 in file order.
    assert_eq!(
        run.started_order(),
        ["long1", "long2", "mid1", "short", "long3", "mid2"]
    );
}

#[test]
fn a_sleeping_script_does_not_hold_up_process_tasks() {
    let run = Test::run_of(
        "
tasks:
  nap:
    script: sleep(3.0)
  one:
    run: echo one
  two:
    depends_on: one
    run: echo two
  three:
    depends_on: two
    run: echo three
",
    )
    .args(["--threads", "1", "-j", "1"])
    .status(0)
    .run();
    let finished: Vec<String> = run
        .events_of("task_finished")
        .iter()
        .map(|e| e["task"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(finished, ["one", "two", "three", "nap"]);
}

#[test]
fn jobs_are_lowered_to_what_the_open_file_limit_holds() {
    let tasks: String = (0..12)
        .map(|i| format!("  s{i}:\n    run: sleep 0.3\n"))
        .collect();
    // 100 descriptors: 64 kept for the engine, 4 per running task, so 9 tasks at once.
    let run = Test::run_of(&format!("tasks:\n{tasks}"))
        .args(["-j", "12"])
        .wrapper(&["prlimit", "--nofile=100", "--"])
        .status(0)
        .stderr_has("running at most 9 process tasks at once, not 12")
        .run();
    assert_eq!(run.max_concurrent(), 9);
}
