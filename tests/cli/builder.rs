//! The `Test` builder itself: an expectation that does not hold fails the test, with what the
//! engine printed. Without these, a builder that checked nothing would pass every suite.

use engine_test_support::{Test, WORKFLOW};

const ONE_TASK: &str = "tasks:\n  hello:\n    run: echo hello\n";

#[test]
#[should_panic(expected = "expected exit code 1")]
fn a_wrong_exit_code_fails() {
    Test::new()
        .workflow(ONE_TASK)
        .args(["check", WORKFLOW])
        .status(1)
        .run();
}

#[test]
#[should_panic(expected = "expected stdout to contain \"goodbye\"")]
fn missing_text_fails_and_shows_the_output() {
    Test::run_of(ONE_TASK).stdout_has("goodbye").run();
}

#[test]
#[should_panic(expected = "--- stdout ---\n[hello] hello")]
fn a_failure_shows_what_the_engine_printed() {
    Test::run_of(ONE_TASK).stdout_lacks("hello").run();
}

#[test]
#[should_panic(expected = "expected `hello` to end with status `failed`")]
fn a_wrong_task_outcome_fails() {
    Test::run_of(ONE_TASK).task_status("hello", "failed").run();
}

#[test]
fn again_runs_the_same_command_in_the_same_dir_without_the_expectations() {
    let test = Test::run_of(
        "tasks:\n  twice:\n    run: if [ -e ran ]; then echo second; else echo first; touch ran; fi\n",
    )
    .stdout_has("[twice] first");
    test.run();
    // Were the first run's expectations carried over, `first` would be missing here.
    let again = test.again().stdout_has("[twice] second").run();
    assert_eq!(again.started_order(), ["twice"]);
}
