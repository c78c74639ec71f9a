//! Tasks that fail, crash, throw or run out of time, and what the run does about it.

use std::time::Duration;

use engine_test_support::Test;

use crate::process::{assert_gone, read_pid};

/// `bad` fails after 30 lines; `after` and `after2` depend on it; `independent` does not, and
/// with `-j 1` it is ready but waits behind `bad`, whose chain is longer.
const FAILING: &str = r#"
tasks:
  bad:
    run: |
      i=1; while [ $i -le 30 ]; do echo "line $i"; i=$((i + 1)); done; exit 3
  after:
    depends_on: bad
    run: touch after.marker
  after2:
    depends_on: after
    run: touch after2.marker
  independent:
    run: touch independent.marker
"#;

#[test]
fn a_failed_task_skips_its_dependents_and_the_summary_says_why() {
    let test = Test::run_of(FAILING);
    let test = test.args(["-j", "1", "--progress", "plain"]);
    let test = test
        .status(1)
        .task_status("bad", "failed")
        .skipped("after", "dependency_failed")
        .skipped("after2", "dependency_failed")
        .stderr_has("FAILED bad: exited with code 3")
        .stderr_has("skipped after: depends on `bad`")
        .stderr_has("skipped after2: depends on `bad`")
        // The summary shows the last lines, not the first ones.
        .stderr_has("│ line 30")
        .stderr_has("│ line 21")
        .stderr_lacks("│ line 20\n");
    let run = test.run();
    assert_eq!(run.finished("bad")["exit_code"], 3);
    let summary = &run.stderr[run.stderr.find("FAILED bad:").expect("summary")..];
    let log = summary
        .lines()
        .find_map(|line| line.trim().strip_prefix("log: "))
        .unwrap_or_else(|| run.fail("no log path in the summary"));
    // The summary shortens paths inside the engine's working directory (the temp dir).
    let log = test.dir().join(log);
    if !log.starts_with(test.state_dir()) {
        run.fail(&format!(
            "the log `{}` is not in the state dir",
            log.display()
        ));
    }
    let expected: String = (1..=30).map(|i| format!("line {i}\n")).collect();
    assert_eq!(
        std::fs::read_to_string(&log).expect("read the log"),
        expected,
        "the log keeps the whole output"
    );
    assert_eq!(log, run.log_dir(&test.state_dir()).join("bad.log"));
    assert!(!test.path("after.marker").exists());
    assert!(!test.path("after2.marker").exists());
}

#[test]
fn without_keep_going_nothing_new_starts_after_a_failure() {
    let test = Test::run_of(FAILING);
    let test = test.args(["-j", "1"]);
    let test = test
        .status(1)
        .not_started("independent")
        .skipped("independent", "run_stopped")
        .stderr_has("skipped independent: not started");
    let run = test.run();
    assert_eq!(run.started_order(), ["bad"]);
    assert!(!test.path("independent.marker").exists());
}

#[test]
fn keep_going_runs_every_task_that_does_not_depend_on_the_failure() {
    let test = Test::run_of(FAILING);
    let test = test.args(["-j", "1", "--keep-going"]);
    let test = test
        .status(1)
        .task_status("bad", "failed")
        .task_status("independent", "succeeded")
        .skipped("after", "dependency_failed")
        .skipped("after2", "dependency_failed")
        .stderr_has("1 succeeded, 1 failed, 2 skipped");
    test.run();
    assert!(test.path("independent.marker").exists());
    assert!(!test.path("after.marker").exists());
}

#[test]
fn a_timeout_kills_the_task_and_its_grandchild() {
    let test = Test::run_of(
        "
tasks:
  slow:
    timeout: 500ms
    run: sleep 300 & echo $! > grandchild.pid; wait
",
    );
    let test = test
        .status(1)
        .task_status("slow", "timed_out")
        .stderr_has("FAILED slow: timed out after 500ms")
        .faster_than(Duration::from_secs(10));
    let run = test.run();
    assert_eq!(run.finished("slow")["timeout_ms"], 500);
    assert_gone(
        read_pid(&test.path("grandchild.pid")),
        "sleep",
        Duration::from_secs(3),
    );
}

#[test]
fn a_task_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let test = Test::run_of(
        "
tasks:
  stubborn:
    # Long enough for the shell to set its trap first, even on a busy machine.
    timeout: 1s
    run: trap '' TERM; echo $$ > shell.pid; sleep 300 & echo $! > sleep.pid; wait
",
    );
    let test = test.args(["--grace", "300ms"]);
    let test = test
        .status(1)
        .task_status("stubborn", "timed_out")
        .faster_than(Duration::from_secs(5));
    let run = test.run();
    let took = run.finished("stubborn")["duration_ms"]
        .as_u64()
        .expect("duration");
    // It outlived its SIGTERM by the grace period: only SIGKILL ended it.
    assert!(
        took >= 1250,
        "ended after {took} ms, before the grace period"
    );
    assert_gone(
        read_pid(&test.path("shell.pid")),
        "sh",
        Duration::from_secs(3),
    );
    assert_gone(
        read_pid(&test.path("sleep.pid")),
        "sleep",
        Duration::from_secs(3),
    );
}

#[test]
fn a_crash_is_a_failure_with_its_signal() {
    let run = Test::run_of(
        "
tasks:
  crash:
    run: echo about to crash; kill -SEGV $$
",
    )
    .status(1)
    .task_status("crash", "failed")
    .stderr_has("SIGSEGV")
    .stderr_has("│ about to crash")
    .run();
    let finished = run.finished("crash");
    assert_eq!(finished["signal"], 11);
    assert_eq!(finished["exit_code"], serde_json::Value::Null);
}

#[test]
fn a_script_that_throws_fails_alone() {
    let run = Test::run_of(
        r#"
tasks:
  thrower:
    script: 'print("before"); throw "disk full on /data"'
  sleeper:
    script: 'sleep(0.3); print("sleeper done")'
  counter:
    script: 'let n = 0; for i in 0..1000 { n += i; } print(`sum ${n}`)'
"#,
    )
    .status(1)
    .task_status("thrower", "failed")
    .task_status("sleeper", "succeeded")
    .task_status("counter", "succeeded")
    .stderr_has("FAILED thrower: disk full on /data")
    .stdout_has("[sleeper] sleeper done")
    .stdout_has("[counter] sum 499500")
    .run();
    let message = run.finished("thrower")["message"].clone();
    assert!(
        message
            .as_str()
            .is_some_and(|m| m.contains("disk full on /data")),
        "{message}"
    );
}

#[test]
fn a_script_error_fails_only_its_task() {
    Test::run_of(
        r#"
tasks:
  broken:
    script: 'let x = read_file("no/such/file.txt"); print(x)'
  fine:
    script: 'sleep(0.2); print("fine")'
"#,
    )
    .status(1)
    .task_status("broken", "failed")
    .task_status("fine", "succeeded")
    .stderr_has("no/such/file.txt")
    .run();
}

#[test]
fn an_endless_script_is_stopped_by_its_timeout() {
    let run = Test::run_of(
        "
tasks:
  spin:
    timeout: 300ms
    script: 'let n = 0; loop { n += 1; }'
  other:
    script: 'sleep(0.5); print(\"other done\")'
",
    )
    .args(["--keep-going"])
    .status(1)
    .task_status("spin", "timed_out")
    .task_status("other", "succeeded")
    .stderr_has("FAILED spin: timed out after 300ms")
    .faster_than(Duration::from_secs(5))
    .run();
    let took = run.finished("spin")["duration_ms"].as_u64().expect("ms");
    assert!(
        (300..2000).contains(&took),
        "stopped after {took} ms, not soon after 300 ms"
    );
}

#[test]
fn a_task_that_exits_cleanly_on_its_timeout_still_timed_out() {
    let test = Test::run_of(
        "
tasks:
  polite:
    # Long enough for the shell to set its trap first, even on a busy machine.
    timeout: 1s
    run: trap 'echo stopping; exit 0' TERM; sleep 300 & echo $! > sleep.pid; wait
  next:
    depends_on: polite
    run: touch next.marker
",
    );
    // Stopped before its end, its work may be half done: what depends on it must not run.
    let test = test
        .status(1)
        .task_status("polite", "timed_out")
        .skipped("next", "dependency_failed")
        .stderr_has("│ stopping");
    test.run();
    assert!(!test.path("next.marker").exists());
    assert_gone(
        read_pid(&test.path("sleep.pid")),
        "sleep",
        Duration::from_secs(3),
    );
}

#[test]
fn a_background_process_does_not_outlive_its_task() {
    let test = Test::run_of(
        "
tasks:
  leaves_one_behind:
    run: sleep 300 & echo $! > sleep.pid; echo done
",
    );
    let test = test
        .status(0)
        .task_status("leaves_one_behind", "succeeded")
        .faster_than(Duration::from_secs(10));
    test.run();
    assert_gone(
        read_pid(&test.path("sleep.pid")),
        "sleep",
        Duration::from_secs(3),
    );
}

#[test]
fn a_sleeping_script_is_stopped_by_its_timeout() {
    Test::run_of(
        "
tasks:
  nap:
    timeout: 300ms
    script: sleep(300.0)
",
    )
    .status(1)
    .task_status("nap", "timed_out")
    .faster_than(Duration::from_secs(5))
    .run();
}

#[test]
fn a_process_that_escapes_the_group_with_the_output_open_does_not_hang_the_run() {
    let test = Test::run_of(
        "
tasks:
  escape:
    # The pid file is written after `setsid`: wait for it so the escape has happened when
    # the task ends.
    run: |
      setsid sh -c 'echo $$ > escaped.pid; exec sleep 300' &
      while [ ! -s escaped.pid ]; do sleep 0.01; done
      echo hi
  next:
    depends_on: escape
    run: echo next
",
    );
    let test = test
        .task_status("escape", "succeeded")
        .task_status("next", "succeeded")
        .stdout_has("[escape] hi")
        .stdout_has("[escape!] engine: a process that left the task's process group")
        .faster_than(Duration::from_secs(15));
    // The escaped process is out of the engine's reach: kill it even when a check fails, so
    // that it is not left behind.
    let escaped = test.path("escaped.pid");
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| test.run()));
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(read_pid(&escaped)),
        nix::sys::signal::Signal::SIGKILL,
    );
    if let Err(failed) = run {
        std::panic::resume_unwind(failed);
    }
}

#[test]
fn a_script_reading_a_fifo_fails_at_once_instead_of_getting_stuck() {
    // Opening a FIFO nobody writes to used to block the script inside `read_file`, where
    // cancellation cannot reach it, until the grace period gave it up: FIFOs are refused now.
    Test::run_of(
        r#"
tasks:
  make_fifo:
    run: mkfifo fifo
  stuck:
    depends_on: make_fifo
    timeout: 300ms
    script: 'print(read_file("fifo"))'
"#,
    )
    .args(["--grace", "300ms"])
    .status(1)
    .task_status("stuck", "failed")
    .stderr_has("not a regular file")
    .faster_than(Duration::from_secs(10))
    .run();
}

#[test]
fn a_join_point_does_not_start_after_the_run_stopped() {
    let test = Test::run_of(
        "
tasks:
  bad:
    run: exit 1
  slow:
    run: sleep 0.3
  join:
    depends_on: [slow]
  after_join:
    depends_on: join
    run: touch after_join.marker
",
    );
    let test = test.args(["-j", "2"]);
    // `slow` was running when `bad` failed and may finish; nothing after it may start.
    let test = test
        .status(1)
        .task_status("slow", "succeeded")
        .not_started("join")
        .skipped("join", "run_stopped")
        .skipped("after_join", "run_stopped");
    test.run();
    assert!(!test.path("after_join.marker").exists());
}

#[test]
fn a_join_point_succeeds_when_its_dependencies_do() {
    Test::run_of(
        "
tasks:
  one:
    run: echo one
  two:
    script: print(\"two\")
  join:
    depends_on: [one, two]
  after:
    depends_on: join
    run: echo after
",
    )
    .status(0)
    .task_status("join", "succeeded")
    .task_status("after", "succeeded")
    .stdout_has("[after] after")
    .run();
}
