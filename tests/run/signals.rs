//! Ctrl-C, SIGTERM and SIGHUP sent to the engine itself: running tasks are stopped, the run says what
//! was interrupted, exits 130, and leaves no process behind.

use std::time::Duration;

use engine_test_support::Test;
use nix::sys::signal::Signal;

use crate::process::{assert_gone, is_alive, read_pid, wait_for_file};

/// A process task with a grandchild, a script on a thread, a script in a child process and a
/// task that waits for the first one.
const BUSY: &str = r#"
tasks:
  shell:
    run: echo $$ > shell.pid; sleep 300 & echo $! > grandchild.pid; wait
  script:
    script: 'write_file("script.started", ""); sleep(300.0)'
  child_script:
    isolation: process
    script: 'write_file("child_script.started", ""); loop { }'
  later:
    depends_on: shell
    run: touch later.marker
"#;

fn interrupt_busy_run(signal: Signal) {
    let test = Test::run_of(BUSY);
    let test = test.args(["--progress", "plain"]);
    let test = test
        .status(130)
        .task_status("shell", "interrupted")
        .task_status("script", "interrupted")
        .task_status("child_script", "interrupted")
        .not_started("later")
        // `later` waited for `shell`, which did not fail: the interruption stopped both.
        .skipped("later", "interrupted")
        .stderr_has("skipped later: not started: the run was interrupted")
        .stderr_has("interrupted: stopping running tasks")
        .stderr_has("INTERRUPTED shell")
        .stderr_has("INTERRUPTED script")
        .stderr_has("INTERRUPTED child_script")
        .stderr_has("interrupted: 0 succeeded")
        // The tasks stop on SIGTERM; nobody waits for the 5 s grace period.
        .ends_within_after_signal(Duration::from_secs(4));
    let mut engine = test.spawn();
    let shell = read_pid(&test.path("shell.pid"));
    let grandchild = read_pid(&test.path("grandchild.pid"));
    wait_for_file(&test.path("script.started"), Duration::from_secs(10));
    wait_for_file(&test.path("child_script.started"), Duration::from_secs(10));
    engine.signal(signal);
    let run = engine.wait();
    assert_eq!(run.events_of("interrupting")[0]["forced"], false);
    assert_eq!(run.events_of("run_finished")[0]["interrupted"], true);
    assert!(!test.path("later.marker").exists());
    let child_script = run.task_pid("child_script");
    for (pid, comm) in [
        (shell, "sh"),
        (grandchild, "sleep"),
        (child_script, "engine"),
    ] {
        assert_gone(pid, comm, Duration::from_secs(3));
    }
}

#[test]
fn ctrl_c_stops_every_task_and_exits_130() {
    interrupt_busy_run(Signal::SIGINT);
}

#[test]
fn sigterm_to_the_engine_is_like_ctrl_c() {
    interrupt_busy_run(Signal::SIGTERM);
}

#[test]
fn sighup_to_the_engine_is_like_sigterm() {
    // A closed terminal or SSH session: before, the engine died of it (129) and left its
    // tasks running.
    interrupt_busy_run(Signal::SIGHUP);
}

#[test]
fn a_second_ctrl_c_kills_a_task_that_ignores_sigterm() {
    let test = Test::run_of(
        "
tasks:
  stubborn:
    run: trap '' TERM; echo $$ > shell.pid; sleep 300 & echo $! > sleep.pid; wait
",
    );
    // A grace period far longer than the test: only the second Ctrl-C can end this run soon.
    let test = test.args(["--grace", "60s", "--progress", "plain"]);
    let test = test
        .status(130)
        .task_status("stubborn", "interrupted")
        .stderr_has("interrupted again: killing running tasks")
        .ends_within_after_signal(Duration::from_secs(10));
    let mut engine = test.spawn();
    let shell = read_pid(&test.path("shell.pid"));
    let sleep = read_pid(&test.path("sleep.pid"));
    engine.signal(Signal::SIGINT);
    std::thread::sleep(Duration::from_millis(500));
    // The first Ctrl-C sent SIGTERM, which the task ignores: everything still runs.
    assert!(!engine.has_exited(), "the engine ended on the first Ctrl-C");
    assert!(is_alive(shell, "sh"), "the task died of SIGTERM");
    engine.signal(Signal::SIGINT);
    let run = engine.wait();
    let forced: Vec<_> = run
        .events_of("interrupting")
        .iter()
        .map(|e| e["forced"].clone())
        .collect();
    assert_eq!(forced, [false, true]);
    assert_gone(shell, "sh", Duration::from_secs(3));
    assert_gone(sleep, "sleep", Duration::from_secs(3));
}

#[test]
fn ctrl_c_while_tasks_wait_for_capacity_skips_them() {
    let test = Test::run_of(
        "
tasks:
  first:
    run: echo $$ > first.pid; sleep 300 & wait
  second:
    run: touch second.marker
",
    );
    let test = test.args(["-j", "1"]);
    let test = test
        .status(130)
        .task_status("first", "interrupted")
        .skipped("second", "interrupted")
        .not_started("second")
        .stderr_has("skipped second: not started: the run was interrupted");
    let mut engine = test.spawn();
    let first = read_pid(&test.path("first.pid"));
    engine.signal(Signal::SIGINT);
    engine.wait();
    assert!(!test.path("second.marker").exists());
    assert_gone(first, "sh", Duration::from_secs(3));
}

/// engine blocks SIGCHLD in every thread of its own (it sees its children end through
/// pidfds; a blocked SIGCHLD wakes no thread for nothing), and still starts every task with
/// no signal blocked: through `posix_spawn` (a task in the engine's directory) and through
/// std's `Command` (a task in another).
#[test]
fn the_engine_blocks_sigchld_in_its_threads_and_its_tasks_start_with_none_blocked() {
    let test = Test::run_of(
        r"
tasks:
  here:
    run: |
      grep '^SigBlk' /proc/self/status > here.mask
      for thread in /proc/$PPID/task/*; do grep '^SigBlk' $thread/status; done > engine.masks
  elsewhere:
    cwd: sub
    run: grep '^SigBlk' /proc/self/status > ../elsewhere.mask
",
    )
    .file("sub/.keep", "");
    test.run();
    for task in ["here", "elsewhere"] {
        let mask = std::fs::read_to_string(test.path(&format!("{task}.mask"))).expect("mask");
        assert_eq!(mask, "SigBlk:\t0000000000000000\n", "{task}");
    }
    let masks = std::fs::read_to_string(test.path("engine.masks")).expect("masks");
    let threads: Vec<u64> = masks
        .lines()
        .map(|line| {
            let mask = line.strip_prefix("SigBlk:\t").expect("a SigBlk line");
            u64::from_str_radix(mask, 16).expect("a mask")
        })
        .collect();
    // The coordinator, the record's writer and the signal thread at least.
    assert!(threads.len() >= 3, "{masks}");
    // SIGCHLD is signal 17: bit 16.
    assert!(threads.iter().all(|mask| mask & (1 << 16) != 0), "{masks}");
}
