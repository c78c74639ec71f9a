//! Which tasks a run starts: named targets and their dependencies; nothing at all for an
//! invalid workflow, an unknown name or a dry run.

use engine_test_support::Test;

const CHAIN: &str = "
tasks:
  fetch:
    run: touch fetch.marker
  build:
    depends_on: fetch
    run: touch build.marker
  test:
    depends_on: build
    run: touch test.marker
  docs:
    run: touch docs.marker
";

#[test]
fn a_named_task_runs_with_its_dependencies_only() {
    let test = Test::run_of(CHAIN);
    let test = test.args(["build"]);
    let test = test
        .status(0)
        .task_status("fetch", "succeeded")
        .task_status("build", "succeeded")
        .not_started("test")
        .not_started("docs");
    let run = test.run();
    assert_eq!(run.events_of("run_started")[0]["tasks"], 2);
    assert!(test.path("fetch.marker").exists());
    assert!(test.path("build.marker").exists());
    assert!(!test.path("test.marker").exists());
    assert!(!test.path("docs.marker").exists());
    // Tasks outside the selection are not reported as skipped either.
    assert!(run.events_of("task_skipped").is_empty());
}

#[test]
fn several_named_tasks_run_together() {
    let test = Test::run_of(CHAIN);
    let test = test.args(["docs", "fetch"]);
    let run = test.run();
    let mut started = run.started_order();
    started.sort();
    assert_eq!(started, ["docs", "fetch"]);
}

#[test]
fn an_unknown_task_is_a_usage_error_with_a_suggestion() {
    let test = Test::run_of(CHAIN);
    let test = test.args(["biuld"]);
    let test = test
        .status(2)
        .stderr_has("no task named `biuld`")
        .stderr_has("did you mean `build`?");
    test.run();
    assert!(!test.path("fetch.marker").exists());
    assert!(!test.path("build.marker").exists());
}

#[test]
fn an_invalid_workflow_runs_nothing() {
    let test = Test::run_of(
        "
tasks:
  first:
    run: touch marker
  second:
    depends_on: no_such_task
    run: echo second
",
    );
    let test = test
        .status(2)
        .stderr_has("no_such_task")
        .stderr_has("nothing was run")
        .stdout("");
    test.run();
    assert!(!test.path("marker").exists(), "a task ran");
    assert!(
        !test.state_dir().join("runs").exists(),
        "an invalid workflow left a run record"
    );
}

#[test]
fn a_dry_run_prints_the_plan_and_runs_nothing() {
    let test = Test::run_of(CHAIN);
    let test = test.args(["--dry-run"]);
    let test = test.status(0).stdout_has("touch build.marker");
    test.run();
    assert!(!test.path("fetch.marker").exists());
    assert!(!test.path("build.marker").exists());
}
