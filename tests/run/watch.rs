//! `engine run --watch`: real files, real processes, real signals. Each test starts the
//! engine in the background, waits for what it prints (bounds of many seconds, never a
//! duration asserted), changes files, and ends it with Ctrl-C (exit 130).

use std::path::Path;
use std::time::Duration;

use engine_test_support::{Running, Test};
use nix::sys::signal::Signal;

use crate::process::{assert_gone, read_pid};

/// How long any awaited line may take to come.
const LIMIT: Duration = Duration::from_secs(20);

/// What a successful run prints last with `--progress plain`.
const DONE: &str = "done: ";

/// Starts `engine run --watch` of `test` and waits for its first run to succeed.
fn watching(test: &Test) -> Running {
    let engine = test.spawn();
    engine.wait_for_stderr_times(DONE, 1, LIMIT);
    engine
}

/// The test of `yaml` with `--watch --progress plain`, ending in Ctrl-C.
fn watch_of(yaml: &str) -> Test {
    Test::run_of(yaml)
        .args(["--watch", "--progress", "plain", "--grace", "2s"])
        .status(130)
}

/// The lines tasks appended to `runs.log`.
fn runs(test: &Test) -> Vec<String> {
    std::fs::read_to_string(test.path("runs.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write a file");
}

/// Ends the watch with Ctrl-C: it exits 130.
fn stop(mut engine: Running) -> engine_test_support::Output {
    engine.signal(Signal::SIGINT);
    engine.wait()
}

/// Gives a change that should start nothing the time to do so, generously.
fn settle() {
    std::thread::sleep(Duration::from_millis(1500));
}

const CHAIN: &str = r"
tasks:
  a:
    run: cat a.txt > a.out; echo a >> runs.log
    inputs: [a.txt]
    outputs: [a.out]
  b:
    depends_on: [a]
    run: cat a.out > b.out; echo b >> runs.log
    inputs: [a.out]
    outputs: [b.out]
  c:
    run: cat c.txt > c.out; echo c >> runs.log
    inputs: [c.txt]
    outputs: [c.out]
";

#[test]
fn an_input_edit_reruns_the_task_and_its_dependents_not_its_siblings() {
    let test = watch_of(CHAIN).file("a.txt", "1").file("c.txt", "1");
    let engine = watching(&test);
    assert_eq!(runs(&test).len(), 3);
    write(&test.path("a.txt"), "2");
    engine.wait_for_stderr("watch: a.txt changed", LIMIT);
    engine.wait_for_stderr_times(DONE, 2, LIMIT);
    let mut all = runs(&test);
    all.sort();
    assert_eq!(all, ["a", "a", "b", "b", "c"]);
    assert_eq!(
        std::fs::read_to_string(test.path("b.out")).expect("b.out"),
        "2"
    );
    stop(engine);
}

#[test]
fn an_edit_during_a_long_task_kills_its_process_group_and_the_new_run_completes() {
    let yaml = r#"
tasks:
  long:
    run: |
      if [ "$(cat in.txt)" = 1 ]; then
        echo $$ > shell.pid; sleep 300 & echo $! > grandchild.pid; wait
      fi
      echo long >> runs.log
    inputs: [in.txt]
"#;
    let test = watch_of(yaml).file("in.txt", "1");
    let engine = test.spawn();
    let shell = read_pid(&test.path("shell.pid"));
    let grandchild = read_pid(&test.path("grandchild.pid"));
    write(&test.path("in.txt"), "2");
    engine.wait_for_stderr("INTERRUPTED long", LIMIT);
    assert_gone(shell, "sh", LIMIT);
    assert_gone(grandchild, "sleep", LIMIT);
    engine.wait_for_stderr_times(DONE, 1, LIMIT);
    assert_eq!(runs(&test), ["long"]);
    stop(engine);
}

#[test]
fn a_burst_of_500_writes_gives_one_run() {
    let yaml = r"
tasks:
  count:
    run: cat src/*.txt > all.out; echo count >> runs.log
    inputs: ['src/*.txt']
    outputs: [all.out]
";
    let mut test = watch_of(yaml);
    for file in 0..50 {
        test = test.file(&format!("src/{file}.txt"), "0");
    }
    let engine = watching(&test);
    for write_number in 0..500 {
        let file = write_number % 50;
        write(
            &test.path(&format!("src/{file}.txt")),
            &write_number.to_string(),
        );
    }
    engine.wait_for_stderr_times(DONE, 2, LIMIT);
    settle();
    assert_eq!(runs(&test), ["count", "count"]);
    let output = stop(engine);
    // One line names the changed files, and one run follows the first.
    assert_eq!(
        output.stderr.matches(" changed\n").count(),
        1,
        "{}",
        output.stderr
    );
    assert_eq!(
        output.stderr.matches("run   workflow").count(),
        2,
        "{}",
        output.stderr
    );
}

#[test]
fn a_same_content_save_runs_nothing() {
    let test = watch_of(CHAIN).file("a.txt", "1").file("c.txt", "1");
    let engine = watching(&test);
    write(&test.path("a.txt"), "1");
    engine.wait_for_stderr("watch: a.txt changed; nothing to do", LIMIT);
    assert_eq!(runs(&test).len(), 3);
    stop(engine);
}

#[test]
fn writing_a_declared_output_inside_a_watched_directory_triggers_nothing() {
    let yaml = r"
tasks:
  a:
    run: cat data/in.txt > data/out.txt; echo a >> runs.log
    inputs: [data]
    outputs: [data/out.txt]
";
    let test = watch_of(yaml).file("data/in.txt", "1");
    let engine = watching(&test);
    // The run's own write of its output came during the watch; so does this one.
    write(&test.path("data/out.txt"), "by hand");
    settle();
    assert_eq!(runs(&test), ["a"]);
    // The directory is watched: its input starts a run.
    write(&test.path("data/in.txt"), "2");
    engine.wait_for_stderr_times(DONE, 2, LIMIT);
    settle();
    assert_eq!(runs(&test), ["a", "a"]);
    let output = stop(engine);
    assert_eq!(output.stderr.matches(DONE).count(), 2, "{}", output.stderr);
}

#[test]
fn an_invalid_workflow_edit_prints_diagnostics_and_a_later_fix_runs() {
    let test = watch_of("tasks:\n  a:\n    run: echo first >> runs.log\n");
    let engine = watching(&test);
    write(
        &test.path("workflow.yaml"),
        "tasks:\n  a:\n    runn: echo broken >> runs.log\n",
    );
    engine.wait_for_stderr("watch: waiting for a change", LIMIT);
    assert!(
        engine.stderr_so_far().contains("workflow.yaml:3:5"),
        "{}",
        engine.stderr_so_far()
    );
    write(
        &test.path("workflow.yaml"),
        "tasks:\n  a:\n    run: echo fixed >> runs.log\n",
    );
    engine.wait_for_stderr_times(DONE, 2, LIMIT);
    assert_eq!(runs(&test), ["first", "fixed"]);
    stop(engine);
}

#[test]
fn ctrl_c_ends_watching_with_130_and_leaves_no_process() {
    let yaml = r"
tasks:
  long:
    run: echo $$ > shell.pid; sleep 300 & echo $! > grandchild.pid; wait
";
    let test = watch_of(yaml).stderr_has("interrupted: stopping running tasks");
    let engine = test.spawn();
    let shell = read_pid(&test.path("shell.pid"));
    let grandchild = read_pid(&test.path("grandchild.pid"));
    stop(engine);
    assert_gone(shell, "sh", LIMIT);
    assert_gone(grandchild, "sleep", LIMIT);
}

#[test]
fn ctrl_c_between_runs_exits_130() {
    let test = watch_of(CHAIN).file("a.txt", "1").file("c.txt", "1");
    let engine = watching(&test);
    let output = stop(engine);
    assert_eq!(output.stderr.matches(DONE).count(), 1, "{}", output.stderr);
}

#[test]
fn paths_gitignore_or_engineignore_ignore_trigger_nothing() {
    let yaml = r"
tasks:
  a:
    run: cat data/in.txt > a.out; echo a >> runs.log
    inputs: [data]
    outputs: [a.out]
";
    let test = watch_of(yaml)
        .file(".git/info/exclude", "")
        .file(".gitignore", "*.tmp\n")
        .file(".engineignore", "data/scratch/\n")
        .file("data/in.txt", "1");
    let engine = watching(&test);
    write(&test.path("data/editor.tmp"), "x");
    std::fs::create_dir_all(test.path("data/scratch")).expect("a directory");
    write(&test.path("data/scratch/notes"), "x");
    settle();
    assert_eq!(runs(&test), ["a"]);
    write(&test.path("data/in.txt"), "2");
    engine.wait_for_stderr("watch: data/in.txt changed", LIMIT);
    engine.wait_for_stderr_times(DONE, 2, LIMIT);
    stop(engine);
}

#[test]
fn a_file_a_depfile_named_is_watched_after_the_run_that_wrote_it() {
    let yaml = r"
tasks:
  compile:
    inputs: [x.c]
    outputs: [x.o]
    depfile: x.d
    run: |
      cat x.c hdr/a.h > x.o; echo 'x.o: x.c hdr/a.h' > x.d; echo compile >> runs.log
";
    let test = watch_of(yaml).file("x.c", "x").file("hdr/a.h", "1");
    let engine = watching(&test);
    write(&test.path("hdr/a.h"), "2");
    engine.wait_for_stderr("watch: hdr/a.h changed", LIMIT);
    engine.wait_for_stderr_times(DONE, 2, LIMIT);
    assert_eq!(runs(&test), ["compile", "compile"]);
    stop(engine);
}
