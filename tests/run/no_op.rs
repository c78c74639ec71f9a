//! The no-op shortcut: a run asked the same as a run that found every task up to date, with
//! nothing that run looked at changed since, is answered from the list that run left
//! (`.engine/unchanged/`) without loading anything. Each test makes the list (a run, a
//! pause until the files' stamps can be trusted, a no-op run), changes one thing, and checks
//! that the next run does what a full check would: runs the task again, or not.
//!
//! Each task appends a line to `<task>.count` when its command runs, so that a test can tell
//! whether it ran without trusting the engine's own output. Whether the shortcut was taken is
//! told by the list's inode: a run that checks its tasks removes the list when it starts and
//! leaves a new one.

use std::os::unix::fs::MetadataExt as _;
use std::path::PathBuf;
use std::time::Duration;

use engine_test_support::Test;

/// `build` turns every `src/*.txt` into `out/<name>` (one task per file), and `all` joins
/// them into `all.txt`, naming `tasks.build.outputs`; `greet` reads an environment variable
/// in its command.
const WORKFLOW: &str = r#"
tasks:
  build:
    matrix:
      src: ${{ glob("src/*.txt") }}
    inputs: ["${{ matrix.src }}"]
    outputs: ["out/${{ basename(matrix.src) }}"]
    run: echo build >> build.count; tr a-z A-Z < ${{ matrix.src }} > out/${{ basename(matrix.src) }}
  all:
    depends_on: [build]
    inputs: ["out/*.txt"]
    outputs: [all.txt]
    run: echo all >> all.count; cat ${{ tasks.build.outputs }} > all.txt
  greet:
    outputs: [greet.txt]
    run: echo greet >> greet.count; echo "${{ env.GREETING }}" > greet.txt
"#;

/// Longer than the engine's trust window for stamps (`files::SETTLED`, 3 s).
const SETTLE: Duration = Duration::from_millis(3_300);

fn count(test: &Test, task: &str) -> usize {
    std::fs::read_to_string(test.path(&format!("{task}.count")))
        .map_or(0, |text| text.lines().count())
}

/// `engine run workflow.yaml ARGS`, with `--progress none` unless ARGS say otherwise.
fn run(test: &Test, args: &[&str]) -> Test {
    let mut all = vec!["run", "workflow.yaml"];
    all.extend_from_slice(args);
    if !args.contains(&"--progress") {
        all.extend(["--progress", "none"]);
    }
    test.engine(all).env("GREETING", "hello")
}

/// The list the last no-op run left, if any.
fn list(test: &Test) -> Option<PathBuf> {
    let dir = test.path(".engine/unchanged");
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|ext| ext == "list"))
}

/// The list's inode and modification time: a list written again differs in one of them
/// (a new file may reuse the inode number of the one just removed).
fn inode(test: &Test) -> Option<(u64, i64, i64)> {
    list(test).and_then(|path| {
        std::fs::metadata(path)
            .ok()
            .map(|m| (m.ino(), m.mtime(), m.mtime_nsec()))
    })
}

/// Two sources built, then a no-op run that leaves its list.
fn with_a_list() -> Test {
    let test = Test::new()
        .workflow(WORKFLOW)
        .file("src/a.txt", "alpha\n")
        .file("src/b.txt", "beta\n")
        .file("out/.keep", "");
    run(&test, &[]).stderr_has("4 succeeded").run();
    assert_eq!(list(&test), None, "a run that ran tasks leaves no list");
    std::thread::sleep(SETTLE);
    run(&test, &[]).stderr_has("done: 4 up to date").run();
    assert!(list(&test).is_some(), "a no-op run leaves its list");
    test
}

#[test]
fn a_no_op_run_after_a_no_op_run_is_answered_from_the_list_and_recorded() {
    let test = with_a_list();
    let before = inode(&test);
    run(&test, &[]).stderr_has("done: 4 up to date in").run();
    assert_eq!(inode(&test), before, "answered from the list, which stays");
    assert_eq!(
        (
            count(&test, "build"),
            count(&test, "all"),
            count(&test, "greet")
        ),
        (2, 1, 1)
    );
    let runs = test.engine(["runs", "workflow.yaml"]).run();
    let text = &runs.stdout;
    assert_eq!(
        text.matches("0 ok, 4 up to date").count(),
        2,
        "both no-op runs are recorded:\n{text}"
    );
}

#[test]
fn an_edited_input_of_the_same_size_runs_its_task_again() {
    let test = with_a_list();
    std::fs::write(test.path("src/a.txt"), "ALPHA\n").expect("edit");
    // `all` depends on what changed (the key of a dependency covers its inputs).
    run(&test, &[])
        .stderr_has("2 succeeded, 2 up to date")
        .run();
    assert_eq!((count(&test, "build"), count(&test, "all")), (3, 2));
    assert_eq!(
        std::fs::read_to_string(test.path("out/a.txt")).expect("out"),
        "ALPHA\n"
    );
}

#[test]
fn a_new_file_a_glob_matches_adds_its_task() {
    let test = with_a_list();
    std::fs::write(test.path("src/c.txt"), "gamma\n").expect("add");
    run(&test, &[]).stderr_has("2 succeeded").run();
    assert_eq!(
        std::fs::read_to_string(test.path("all.txt")).expect("all"),
        "ALPHA\nBETA\nGAMMA\n"
    );
}

#[test]
fn a_deleted_output_is_made_again() {
    let test = with_a_list();
    std::fs::remove_file(test.path("greet.txt")).expect("remove");
    run(&test, &[]).stderr_has("1 succeeded").run();
    assert_eq!(count(&test, "greet"), 2);
}

#[test]
fn an_edited_workflow_is_loaded_again() {
    let test = with_a_list();
    let edited = WORKFLOW.replace(
        "echo \"${{ env.GREETING }}\"",
        "echo \"${{ env.GREETING }}!\"",
    );
    std::fs::write(test.path("workflow.yaml"), edited).expect("edit");
    run(&test, &[]).stderr_has("1 succeeded").run();
    assert_eq!(
        std::fs::read_to_string(test.path("greet.txt")).expect("greet"),
        "hello!\n"
    );
}

#[test]
fn another_environment_or_request_is_not_answered_from_the_list() {
    let test = with_a_list();
    let before = inode(&test);
    // Another selection is checked as usual: the list is removed when it starts, and the
    // run leaves its own.
    run(&test, &["all"]).stderr_has("done: 3 up to date").run();
    assert_ne!(inode(&test), before, "checked as usual");
    // An environment variable a template reads.
    run(&test, &[])
        .env("GREETING", "bonjour")
        .stderr_has("1 succeeded")
        .run();
    assert_eq!(
        std::fs::read_to_string(test.path("greet.txt")).expect("greet"),
        "bonjour\n"
    );
}

#[test]
fn a_shell_variable_the_workflow_does_not_name_does_not_matter() {
    let test = with_a_list();
    let before = inode(&test);
    run(&test, &[])
        .env("OLDPWD", "/somewhere/else")
        .stderr_has("done: 4 up to date")
        .run();
    assert_eq!(inode(&test), before, "answered from the list");
}

#[test]
fn plain_progress_is_answered_but_verbose_and_force_check_every_task() {
    let test = with_a_list();
    let before = inode(&test);
    let plain = run(&test, &["--progress", "plain"])
        .stderr_has("done: 4 up to date in")
        .run();
    assert_eq!(plain.stderr.lines().count(), 1, "{}", plain.stderr);
    assert_eq!(
        inode(&test),
        before,
        "a plain no-op prints the summary alone"
    );
    run(&test, &["--verbose"]).stderr_has("up to date").run();
    assert_ne!(
        inode(&test),
        before,
        "a verbose run lists each task, so it checks them"
    );
    run(&test, &["--force", "greet"])
        .stderr_has("1 succeeded")
        .run();
    assert_eq!(count(&test, "greet"), 2);
}

#[test]
fn a_run_with_a_confirmation_leaves_no_list() {
    let test = Test::new()
        .workflow(
            "tasks:\n  ship:\n    confirm: \"Ship it?\"\n    outputs: [shipped]\n    run: touch shipped\n",
        );
    run(&test, &["--yes"]).stderr_has("1 succeeded").run();
    std::thread::sleep(SETTLE);
    run(&test, &["--yes"])
        .stderr_has("done: 1 up to date")
        .run();
    assert_eq!(list(&test), None, "a list would skip the question");
    // Without a terminal and without `--yes`, the question still refuses the run.
    run(&test, &[])
        .status(2)
        .stderr_has("asks \"Ship it?\"")
        .run();
}
