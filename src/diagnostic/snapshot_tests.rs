//! Snapshots of rendered diagnostics: one bad file per kind of problem, rendered the way
//! `engine check` shows it (without color), plus the JSON form of one. Review changes with
//! `cargo insta review`: these are what users read.

use std::path::Path;
use std::sync::Arc;

use super::{Report, Source, render_human, render_json};

/// Parses and validates `text` as `name`; the report of its problems.
fn report(name: &str, text: &str) -> Report {
    let source = Arc::new(Source::new(
        Path::new(name).to_path_buf(),
        name.to_owned(),
        text,
    ));
    let Err(diagnostics) = crate::parse::parse_workflow(&source)
        .and_then(|raw| crate::validate::validate_workflow(&source, raw))
    else {
        panic!("{name} should be invalid")
    };
    Report {
        source,
        diagnostics,
    }
}

/// The rendering of `text`'s problems, checked against the snapshot `name`.
#[track_caller]
fn snapshot(name: &str, text: &str) {
    let rendered = render_human(&report(&format!("{name}.yaml"), text), false);
    assert!(!rendered.contains('\u{1b}'), "no color codes without color");
    insta::assert_snapshot!(name, rendered, text);
}

#[test]
fn yaml_problems() {
    snapshot("syntax", "name: demo\ntasks: [build, test\n");
    snapshot(
        "syntax_colon_in_value",
        "tasks:\n  greet:\n    run: echo note: hi\n",
    );
    snapshot(
        "multiple_documents",
        "tasks:\n  build:\n    run: make\n---\ntasks:\n  test:\n    run: make test\n",
    );
    snapshot("tab", "tasks:\n  build:\n\trun: make\n");
    snapshot("empty_file", "# nothing here yet\n");
    snapshot("root_not_mapping", "- build\n- test\n");
    snapshot("missing_key", "name: demo\ndescription: forgot the tasks\n");
    snapshot("no_tasks", "name: demo\ntasks: {}\n");
}

#[test]
fn structural_problems() {
    snapshot(
        "unknown_key",
        "tasks:\n  build:\n    run: make\n  test:\n    depend_on: [build]\n    run: make test\n",
    );
    snapshot(
        "unknown_key_without_suggestion",
        "tasks:\n  build:\n    run: make\nxyzzy: 1\n",
    );
    snapshot(
        "wrong_type",
        "tasks:\n  build:\n    run: [make, all]\n    env: [CC=gcc]\n",
    );
    snapshot(
        "wrong_type_depends_on",
        "tasks:\n  build:\n    depends_on: 5\n",
    );
    snapshot(
        "invalid_value",
        "tasks:\n  poll:\n    isolation: threads\n    script: print(1);\n",
    );
    snapshot(
        "duplicate_key",
        "tasks:\n  build:\n    run: make\n    timeout: 5m\n    run: make all\n",
    );
    snapshot(
        "duplicate_task",
        "tasks:\n  build:\n    run: make\n  test:\n    run: make test\n  build:\n    run: make all\n",
    );
}

#[test]
fn meaning_problems() {
    snapshot("invalid_task_name", "tasks:\n  Build-All:\n    run: make\n");
    snapshot(
        "unknown_param",
        "tasks:\n  deploy:\n    params: { env: ~, version: \"1.0\" }\n    run: ./deploy ${{ params.evn }}\n",
    );
    snapshot(
        "disallowed_param_in_with",
        "tasks:\n  deploy:\n    params: { env: { values: [dev, prod] } }\n    run: ./deploy\n  ci:\n    depends_on: [{ task: deploy, with: { env: qa } }]\n",
    );
    snapshot(
        "unknown_dependency",
        "tasks:\n  build:\n    run: make\n  test:\n    depends_on: [biuld]\n    run: make test\n",
    );
    snapshot(
        "self_dependency",
        "tasks:\n  test:\n    depends_on: [test]\n    run: make test\n",
    );
    snapshot(
        "repeated_dependency",
        "tasks:\n  build:\n    run: make\n  test:\n    depends_on: [build, build]\n    run: make test\n",
    );
    snapshot(
        "dependency_cycle",
        "tasks:\n  fetch:\n    depends_on: [parse]\n    run: curl -O example.org/data\n  parse:\n    depends_on: [store]\n    script: print(1);\n  store:\n    depends_on: [fetch]\n    run: cp data db\n",
    );
    snapshot(
        "run_on_thread",
        "tasks:\n  build:\n    isolation: thread\n    run: make\n",
    );
    snapshot(
        "run_and_script",
        "tasks:\n  build:\n    run: make\n    script: print(\"built\");\n",
    );
    snapshot(
        "invalid_command_shell",
        "tasks:\n  build:\n    shell: bash\n",
    );
    snapshot("invalid_command_empty", "tasks:\n  build:\n    run: \"\"\n");
    snapshot(
        "invalid_duration",
        "defaults:\n  timeout: 10\ntasks:\n  build:\n    run: make\n    timeout: 5 minutes\n",
    );
    snapshot(
        "invalid_env_name",
        "env:\n  1ST: x\ntasks:\n  build:\n    run: make\n    env: { CC-VERSION: \"12\" }\n",
    );
    snapshot(
        "script_syntax_block",
        "tasks:\n  sum:\n    script: |\n      let total = 0;\n      for x in [1, 2, 3] { total += x }\n      print(total +);\n",
    );
    snapshot(
        "script_syntax_folded",
        "tasks:\n  sum:\n    script: >\n      let total = 1;\n      print(total +);\n",
    );
    snapshot(
        "script_syntax_quoted",
        "tasks:\n  sum:\n    script: \"let = 5;\"\n",
    );
}

#[test]
fn limits() {
    let bomb = crate::parse::tests::alias_bomb();
    snapshot("too_complex_aliases", &bomb);
    let deep = format!("tasks:\n  a:\n    env:\n{}", {
        let mut nested = String::new();
        for depth in 0..60 {
            nested.push_str(&" ".repeat(6 + 2 * depth));
            nested.push_str("k:\n");
        }
        nested
    });
    snapshot("too_complex_depth", &deep);
}

#[test]
fn several_problems_in_one_file() {
    snapshot(
        "several_problems",
        "\
name: release
tasks:
  build:
    run: cargo build --release
    timeout: 10 min
  test:
    depends_on: [biuld]
    isolation: thread
    run: cargo test
  Publish:
    depends_on: [test, test]
    run: cargo publish
",
    );
}

#[test]
fn files_that_cannot_be_read() {
    let missing =
        crate::validate::read_source(Path::new("does/not/exist.yaml")).expect_err("a missing file");
    insta::assert_snapshot!("unreadable", render_human(&missing, false));

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("latin1.yaml");
    std::fs::write(&path, b"tasks:\n  caf\xe9:\n    run: echo\n").expect("write");
    let report = crate::validate::read_source(&path).expect_err("not UTF-8");
    // Rename the source so that the snapshot does not depend on the temp dir.
    let report = Report {
        source: Arc::new(Source::new(
            path.clone(),
            "latin1.yaml".to_owned(),
            report.source.text(),
        )),
        diagnostics: report.diagnostics,
    };
    insta::assert_snapshot!("not_utf8", render_human(&report, false));
}

#[test]
fn json_form() {
    let report = report(
        "w.yaml",
        "tasks:\n  build:\n    run: make\n  test:\n    depends_on: [biuld, build, build]\n",
    );
    let json = serde_json::to_string_pretty(&render_json(&report)).expect("JSON");
    insta::assert_snapshot!("json", json);
}
