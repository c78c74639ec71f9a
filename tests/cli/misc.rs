//! `engine list`, `engine schema`, `engine completions` and command-line mistakes.

use engine_test_support::{Test, WORKFLOW, json, root};

#[test]
fn list_shows_names_isolation_and_descriptions() {
    Test::new()
        .workflow(
            "\
name: demo
description: a demo
tasks:
  build:
    description: compile it
    run: make
  test_all:
    script: print(1);
",
        )
        .args(["list", WORKFLOW])
        .stdout("demo: a demo\nbuild     process  compile it\ntest_all  thread\n")
        .stderr("")
        .run();
}

#[test]
fn list_of_an_invalid_workflow() {
    Test::new()
        .workflow("tasks:\n  a:\n    run: [x]\n")
        .args(["list", WORKFLOW])
        .status(2)
        .stdout("")
        .stderr_has("engine::wrong_type")
        .run();
}

#[test]
fn schema_prints_the_committed_schema() {
    let out = Test::new().args(["schema"]).stderr("").run();
    let printed = json(&out.stdout);
    let committed = std::fs::read_to_string(root().join("schemas/workflow.schema.json"))
        .expect("read schemas/workflow.schema.json");
    assert_eq!(printed, json(&committed));
    assert_eq!(printed["additionalProperties"], false);
    assert!(printed["properties"]["tasks"].is_object());
}

#[test]
fn bash_completions() {
    let out = Test::new().args(["completions", "bash"]).stderr("").run();
    assert!(out.stdout.contains("_engine()"), "{}", out.stdout);
    assert!(out.stdout.contains("complete -F _engine"), "{}", out.stdout);
    for subcommand in ["check", "plan", "graph", "list", "schema", "completions"] {
        assert!(out.stdout.contains(subcommand), "{subcommand}");
    }
}

#[test]
fn help_and_version_succeed() {
    Test::new()
        .args(["--help"])
        .stdout_has("Usage: engine")
        .stdout_has("Exit codes: 0 success, 1 a task failed, 2 invalid workflow or usage")
        .run();
    Test::new()
        .args(["--version"])
        .stdout(&format!("engine {}\n", env!("CARGO_PKG_VERSION")))
        .run();
}

#[test]
fn command_line_mistakes_exit_2() {
    let cases: [&[&str]; 7] = [
        &[],
        &["frobnicate"],
        &["check"],
        &["plan"],
        &["graph", WORKFLOW, "--format", "svg"],
        &["check", "--format", "xml", WORKFLOW],
        &["completions", "tcsh"],
    ];
    for args in cases {
        let out = Test::new()
            .workflow("tasks:\n  a: {}\n")
            .args(args.iter().copied())
            .status(2)
            .stdout("")
            .run();
        assert!(
            out.stderr.contains("error:") || out.stderr.contains("Usage:"),
            "{args:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn an_events_file_in_a_missing_directory_is_a_command_line_error() {
    // It used to exit 1, as if a task had failed.
    let test = Test::new()
        .workflow("tasks:\n  a:\n    run: touch ran\n")
        .args(["run", WORKFLOW, "--events", "missing/events.jsonl"])
        .status(2)
        .stderr_has("error: cannot create the events file `missing/events.jsonl`")
        .stderr_has("hint: its directory does not exist")
        .run_then()
        .1;
    assert!(!test.path("ran").exists(), "the task ran");
}

#[test]
fn a_wrong_graph_format_lists_the_right_ones() {
    Test::new()
        .workflow("tasks:\n  a: {}\n")
        .args(["graph", WORKFLOW, "--format", "svg"])
        .status(2)
        .stderr_has("possible values: text, dot, mermaid, json")
        .run();
}
