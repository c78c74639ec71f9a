//! What `engine check` (and so `engine run`) says of places no task may write: a device, a
//! FIFO, the workflow's directory or one holding it, the state dir; and its warning about
//! outputs outside the workflow's directory.

use engine_test_support::{Test, WORKFLOW, json};

/// A workflow whose one task writes `outputs` (YAML flow items).
fn writes(outputs: &str) -> String {
    format!("tasks:\n  t:\n    outputs: [{outputs}]\n    run: echo o\n")
}

#[test]
fn special_files_are_refused_as_outputs() {
    let test = Test::new().workflow(&writes("/dev/null, pipe"));
    nix::unistd::mkfifo(&test.path("pipe"), nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    test.args(["check", WORKFLOW])
        .status(2)
        .stderr_has("engine::unsafe_output")
        .stderr_has("output `/dev/null` is a character device, not a regular file or directory")
        .stderr_has("[workflow.yaml:3:15]")
        .stderr_has("output `pipe` is a FIFO, not a regular file or directory")
        .stderr_has("[workflow.yaml:3:26]")
        .run();
}

#[test]
fn the_workflow_dir_and_the_state_dir_are_refused_as_outputs() {
    for (output, problem) in [
        (".", "is the workflow's directory or holds it"),
        ("..", "is the workflow's directory or holds it"),
        ("../wf", "is the workflow's directory or holds it"),
        (
            "../*",
            "may match the workflow's directory or one holding it",
        ),
        (".engine", "is engine's state dir or in it"),
        (".engine/runs", "is engine's state dir or in it"),
        (".*", "may match engine's state dir"),
    ] {
        Test::new()
            .file("wf/workflow.yaml", writes(&format!("'{output}'")))
            .args(["check", "wf/workflow.yaml"])
            .status(2)
            .stderr_has(&format!("output `{output}` {problem}"))
            .run();
    }
}

#[test]
fn an_output_outside_the_workflow_dir_is_a_warning() {
    let test = Test::new().workflow(&writes("../elsewhere/x, '../data/*.csv'"));
    let (_, test) = test
        .args(["check", WORKFLOW])
        .stdout("ok: workflow.yaml (1 task)\n")
        .stderr_has("engine::output_outside_workflow")
        .stderr_has("output `../elsewhere/x` is outside the workflow's directory")
        .stderr_has("[workflow.yaml:3:15]")
        .stderr_has("output `../data/*.csv` is outside the workflow's directory")
        .stderr_has("engine never moves or deletes anything outside the workflow's directory")
        .run_then();
    let output = test.args(["check", "--format", "json", WORKFLOW]).run();
    let report = json(&output.stdout);
    assert_eq!(report["valid"], true);
    let diagnostics = &report["files"][0]["diagnostics"];
    assert_eq!(diagnostics[0]["severity"], "warning", "{report:#}");
    assert_eq!(diagnostics[0]["kind"], "output_outside_workflow");
}

#[test]
fn run_refuses_what_check_refuses_and_runs_nothing() {
    let test =
        Test::new().workflow("tasks:\n  t:\n    outputs: [pipe]\n    run: echo ran > ran.txt\n");
    nix::unistd::mkfifo(&test.path("pipe"), nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    let (_, test) = test
        .args(["run", WORKFLOW])
        .status(2)
        .stderr_has("output `pipe` is a FIFO, not a regular file or directory")
        .stderr_has("nothing was run")
        .run_then();
    assert!(!test.path("ran.txt").exists(), "the task ran");
    assert!(!test.path(".engine").exists(), "the state dir was made");
}
