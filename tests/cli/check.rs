//! `engine check`: the OK line, rendered problems, several files, JSON output, color.

use engine_test_support::{Test, WORKFLOW, json};

const THREE_TASKS: &str = "\
tasks:
  build:
    run: make
  test:
    depends_on: [build]
    run: make test
  done:
    depends_on: [test]
";

const BAD: &str = "\
tasks:
  build:
    run: make
  test:
    depends_on: [biuld]
    timeout: 5 minutes
";

#[test]
fn a_valid_file_gets_one_ok_line_with_its_task_count() {
    Test::new()
        .workflow(THREE_TASKS)
        .args(["check", WORKFLOW])
        .stdout("ok: workflow.yaml (3 tasks)\n")
        .stderr("")
        .run();
}

#[test]
fn one_task_is_singular() {
    Test::new()
        .workflow("tasks:\n  only:\n    run: echo\n")
        .args(["check", WORKFLOW])
        .stdout("ok: workflow.yaml (1 task)\n")
        .run();
}

#[test]
fn every_problem_is_shown_with_file_line_column_and_hint() {
    Test::new()
        .workflow(BAD)
        .args(["check", WORKFLOW])
        .status(2)
        .stdout("")
        .stderr_has("engine::unknown_dependency")
        .stderr_has("task `test` depends on `biuld`, which is not a task")
        .stderr_has("[workflow.yaml:5:18]")
        .stderr_has("help: did you mean `build`?")
        .stderr_has("engine::invalid_duration")
        .stderr_has("[workflow.yaml:6:14]")
        .stderr_has("error: 2 problems in 1 file")
        .run();
}

#[test]
fn several_files_where_one_is_bad() {
    let out = Test::new()
        .file("good.yaml", THREE_TASKS)
        .file("bad.yaml", BAD)
        .file("also_good.yaml", "tasks:\n  a: {}\n")
        .args(["check", "good.yaml", "bad.yaml", "also_good.yaml"])
        .status(2)
        .stdout("ok: good.yaml (3 tasks)\nok: also_good.yaml (1 task)\n")
        .stderr_has("[bad.yaml:5:18]")
        .stderr_has("error: 2 problems in 1 file")
        .run();
    assert!(!out.stderr.contains("good.yaml"), "{}", out.stderr);
}

#[test]
fn problems_in_two_files_are_counted_together() {
    Test::new()
        .file("one.yaml", BAD)
        .file("two.yaml", "tasks:\n  a:\n    isolation: threads\n")
        .args(["check", "one.yaml", "two.yaml"])
        .status(2)
        .stderr_has("[one.yaml:5:18]")
        .stderr_has("[two.yaml:3:16]")
        .stderr_has("error: 3 problems in 2 files")
        .run();
}

#[test]
fn json_lists_each_problem_with_its_place() {
    let out = Test::new()
        .file("good.yaml", THREE_TASKS)
        .file("bad.yaml", BAD)
        .args(["check", "--format", "json", "good.yaml", "bad.yaml"])
        .status(2)
        .stderr("")
        .run();
    let report = json(&out.stdout);
    assert_eq!(report["valid"], false);
    let files = report["files"].as_array().expect("files");
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["file"], "good.yaml");
    assert_eq!(files[0]["valid"], true);
    assert_eq!(files[0]["tasks"], 3);
    assert_eq!(files[0]["diagnostics"].as_array().map(Vec::len), Some(0));
    assert_eq!(files[1]["valid"], false);
    let problems = files[1]["diagnostics"].as_array().expect("diagnostics");
    assert_eq!(problems.len(), 2, "{problems:#?}");
    let first = &problems[0];
    assert_eq!(
        first["message"],
        "task `test` depends on `biuld`, which is not a task"
    );
    assert_eq!(first["severity"], "error");
    assert_eq!(first["kind"], "unknown_dependency");
    assert_eq!(first["file"], "bad.yaml");
    assert_eq!(first["line"], 5);
    assert_eq!(first["column"], 18);
    assert_eq!(first["length"], 5);
    assert_eq!(first["hint"], "did you mean `build`?");
    let second = &problems[1];
    assert_eq!(second["kind"], "invalid_duration");
    assert_eq!(
        (second["line"].clone(), second["column"].clone()),
        (6.into(), 14.into())
    );
    assert_eq!(second["length"], "5 minutes".len());
}

#[test]
fn json_of_valid_files() {
    let out = Test::new()
        .workflow(THREE_TASKS)
        .args(["check", "--format=json", WORKFLOW])
        .run();
    let report = json(&out.stdout);
    assert_eq!(report["valid"], true);
    assert_eq!(report["files"][0]["tasks"], 3);
}

#[test]
fn json_of_a_problem_without_a_place() {
    let out = Test::new()
        .workflow("")
        .args(["check", "--format", "json", WORKFLOW])
        .status(2)
        .run();
    let problem = &json(&out.stdout)["files"][0]["diagnostics"][0];
    assert_eq!(problem["kind"], "empty_file");
    assert_eq!(problem["file"], "workflow.yaml");
    assert!(problem["line"].is_null(), "{problem}");
    assert!(problem["hint"].is_string(), "{problem}");
}

#[test]
fn color_only_when_asked() {
    let plain = Test::new()
        .workflow(BAD)
        .args(["check", "--color", "never", WORKFLOW])
        .status(2)
        .run();
    assert!(!plain.stderr.contains('\u{1b}'), "{}", plain.stderr);
    let colored = Test::new()
        .workflow(BAD)
        .args(["check", "--color", "always", WORKFLOW])
        .status(2)
        .run();
    assert!(colored.stderr.contains('\u{1b}'), "{}", colored.stderr);
}

#[test]
fn the_example_workflows_pass() {
    let mut args = vec!["check".to_owned()];
    let mut count = 0;
    for entry in
        std::fs::read_dir(engine_test_support::root().join("workflows")).expect("workflows/")
    {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|ext| ext == "yaml") {
            let name = path.file_name().expect("a name").to_string_lossy();
            args.push(format!("workflows/{name}"));
            count += 1;
        }
    }
    assert!(count >= 4, "seed.yaml and three pipelines, found {count}");
    let out = Test::new().in_repository().args(args).stderr("").run();
    assert_eq!(out.stdout.lines().count(), count, "{}", out.stdout);
    assert!(out.stdout.lines().all(|line| line.starts_with("ok: ")));
    assert!(out.stdout.contains("ok: workflows/seed.yaml (3 tasks)"));
}

#[test]
fn values_that_read_otherwise_than_they_look_get_a_note_and_still_pass() {
    Test::new()
        .workflow("vars: { py: 3.10, deploy: yes }\ntasks:\n  t:\n    matrix: { python: [3.10, 3.9] }\n    run: echo\n")
        .args(["check", WORKFLOW])
        .stdout_has("ok: workflow.yaml (2 tasks)\n")
        .stdout_has("note: `vars.py` is the number 3.1 written `3.10`")
        .stdout_has("note: `vars.deploy` is the text `yes`, not a boolean")
        .stdout_has("note: `matrix.python` of `t` is the number 3.1 written `3.10`")
        .stderr("")
        .run();
}
