//! Thread scripts that try to take the engine down: data nested deeper than a stack can walk,
//! deep recursion, files that never end. Each fails alone, with a message, and the run goes on.

use std::time::Duration;

use engine_test_support::Test;

/// The failure message of a task.
fn message(run: &engine_test_support::Output, task: &str) -> String {
    run.finished(task)["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_script_nesting_data_too_deep_fails_alone_and_its_siblings_succeed() {
    // Before, printing this aborted the whole engine with a stack overflow (exit 134).
    let run = Test::run_of(
        r#"
tasks:
  bomb:
    script: "let a = []; for i in 0..5000 { a = [a]; } print(a);"
  sibling:
    run: sleep 0.5; echo sibling done
  thread_sibling:
    script: 'sleep(0.5); print("thread sibling done")'
"#,
    )
    .status(1)
    .task_status("bomb", "failed")
    .task_status("sibling", "succeeded")
    .task_status("thread_sibling", "succeeded")
    .stdout_has("[sibling] sibling done")
    .stdout_has("[thread_sibling] thread sibling done")
    .stderr_has("FAILED bomb: Nesting of `a`")
    .run();
    assert!(
        message(&run, "bomb").contains("more than 256 levels deep"),
        "{}",
        message(&run, "bomb")
    );
    assert_eq!(run.events_of("run_finished")[0]["interrupted"], false);
}

#[test]
fn every_shape_of_deep_data_fails_alone() {
    // Each builds a value that Rhai walks recursively when it measures, prints, compares,
    // clones or drops it; every one of these aborted the engine before.
    let run = Test::run_of(
        r"
tasks:
  maps:
    script: 'let m = #{}; for i in 0..100000 { m = #{inner: m}; } print(m);'
  closures:
    script: 'let f = || 0; for i in 0..200000 { let g = f; f = || g; }'
  in_place:
    script: 'let a = [[]]; for i in 0..100000 { a[0] = [a[0]]; } print(a == a);'
  accumulator:
    script: 'let r = []; r.pad(100000, 0); let x = r.reduce(|acc, i| [acc], []);'
  method:
    script: 'fn grow() { this = [this]; } let a = []; for i in 0..100000 { a.grow(); }'
  shared:
    script: 'let x = []; let f = |v| { x = [x]; }; for i in 0..100000 { f.call(1); }'
  tags_are_not_for_scripts:
    script: 'let a = [1]; a.tag = 42;'
  after:
    depends_on: [maps, closures, in_place, accumulator, method, shared, tags_are_not_for_scripts]
    if: always()
    run: echo still running
",
    )
    .args(["--keep-going"])
    .status(1)
    .task_status("after", "succeeded")
    .task_status("maps", "failed")
    .task_status("closures", "failed")
    .task_status("in_place", "failed")
    .task_status("accumulator", "failed")
    .task_status("method", "failed")
    .task_status("shared", "failed")
    .task_status("tags_are_not_for_scripts", "failed")
    .run();
    for (task, variable) in [
        ("maps", "m"),
        ("closures", "f"),
        ("in_place", "a"),
        ("accumulator", "acc"),
        ("method", "a"),
        ("shared", "x"),
    ] {
        let message = message(&run, task);
        assert!(
            message.contains(&format!("Nesting of `{variable}`")),
            "{task}: {message}"
        );
    }
    assert!(message(&run, "tags_are_not_for_scripts").contains("tags are reserved"));
}

#[test]
fn deep_recursion_runs_to_the_call_limit_and_no_further() {
    let run = Test::run_of(
        r"
tasks:
  deep:
    script: 'fn f(n) { if n > 0 { [f(n - 1)] } else { 0 } } print(f(60));'
  endless:
    script: 'fn f(n) { f(n + 1) } f(0);'
  child:
    isolation: process
    script: 'fn f(n) { if n > 0 { [f(n - 1)] } else { 0 } } print(f(60).len());'
",
    )
    .args(["--keep-going"])
    .status(1)
    .task_status("deep", "succeeded")
    .task_status("child", "succeeded")
    .task_status("endless", "failed")
    .stdout_has("[child] 1")
    .run();
    assert!(
        message(&run, "endless").contains("Stack overflow"),
        "{}",
        message(&run, "endless")
    );
}

#[test]
fn a_script_in_its_own_process_fails_with_the_same_message() {
    let run = Test::run_of(
        r#"
tasks:
  bomb:
    isolation: process
    script: "let a = []; for i in 0..5000 { a = [a]; } print(a);"
"#,
    )
    .status(1)
    .task_status("bomb", "failed")
    .stderr_has("Nesting of `a`")
    .run();
    // A clean failure, not a crash of the child.
    assert_eq!(run.finished("bomb")["signal"], serde_json::Value::Null);
    assert_eq!(run.finished("bomb")["exit_code"], 1);
}

#[test]
fn read_file_refuses_devices_fifos_and_files_over_the_string_limit() {
    let test = Test::run_of(
        r#"
tasks:
  zero:
    script: 'read_file("/dev/zero")'
  fifo:
    script: 'read_file("pipe")'
  big:
    script: 'read_file("big.txt")'
  into_fifo:
    script: 'write_file("pipe", "x")'
  into_device:
    script: 'write_file("/dev/null", "x")'
  fine:
    script: 'write_file("small.txt", "hello"); print(read_file("small.txt"));'
"#,
    );
    nix::unistd::mkfifo(&test.path("pipe"), nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    // A sparse file one byte over the limit: nothing is written to disk.
    std::fs::File::create(test.path("big.txt"))
        .and_then(|file| file.set_len(64 * 1024 * 1024 + 1))
        .expect("big file");
    let run = test
        .args(["--keep-going"])
        .status(1)
        .task_status("fine", "succeeded")
        .stdout_has("[fine] hello")
        // Reading a FIFO nobody writes to would wait forever.
        .faster_than(Duration::from_secs(60))
        .task_status("zero", "failed")
        .task_status("fifo", "failed")
        .task_status("into_fifo", "failed")
        .task_status("into_device", "failed")
        .task_status("big", "failed")
        .run();
    for task in ["zero", "fifo", "into_fifo", "into_device"] {
        assert!(
            message(&run, task).contains("not a regular file"),
            "{task}: {}",
            message(&run, task)
        );
    }
    assert!(
        message(&run, "big").contains("larger than a script's string can be"),
        "{}",
        message(&run, "big")
    );
}
