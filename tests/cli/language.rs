//! `check` and `plan` for the workflow language of issue 5: every new kind of mistake located
//! at its line and column, `include`, and plans with templates filled in.

use engine_test_support::{Test, WORKFLOW, json};

/// One or more mistakes of every new kind.
const MISTAKES: &str = r#"vars: { tag: v1 }
pools: { db: 1, empty: 0 }
secrets: [bad-name]
env_file: missing.env
tasks:
  a:
    run: echo ${{ version }} ${{ vars.tga }}
    pool: dbb
    resources: { cpus: 0, memory: 2 GB }
    retries: 1000
  b:
    run: echo ${{ tasks.a.results.x }} ${{ matrix.os }}
    if: ${{ success( }}
  c:
    depends_on: [b]
    matrix: { os: [], 9x: [a] }
    retry_delay: 5 sec
    run: echo ${{ tasks.nope.results.y }}
  d:
    run: echo "${{ vars.tag "
"#;

#[test]
fn every_new_kind_of_mistake_is_reported_at_its_place_in_one_pass() {
    let found = diagnostics(MISTAKES);
    let expected = [
        ("unknown_pool", 2, 24),
        ("invalid_env_name", 3, 11),
        ("invalid_setting", 4, 11),
        ("invalid_matrix", 16, 19),
        ("invalid_matrix", 16, 23),
        ("unknown_reference", 7, 19),
        ("unknown_reference", 7, 39),
        ("invalid_setting", 10, 14),
        ("unknown_pool", 8, 11),
        ("invalid_resources", 9, 24),
        ("invalid_resources", 9, 35),
        ("unknown_reference", 12, 51),
        ("template_syntax", 13, 21),
        ("invalid_duration", 17, 18),
        ("template_syntax", 20, 16),
        ("results_without_dependency", 12, 25),
        ("unknown_reference", 18, 25),
    ];
    assert_eq!(found, owned(&expected));
}

#[test]
fn hints_name_the_fix() {
    Test::new()
        .workflow(MISTAKES)
        .args(["check", WORKFLOW])
        .status(2)
        .stderr_has("help: did you mean `db`?")
        .stderr_has("add `a` to `depends_on` of `b`")
        .stderr_has("templates read `vars.version`")
        .stderr_has("add `matrix: { os: [...] }` to the task")
        .run();
}

#[test]
fn include_adds_tasks_and_a_name_defined_twice_names_both_places() {
    Test::new()
        .workflow("include: [lib.yaml]\ntasks:\n  deploy:\n    depends_on: [build]\n    run: echo deploy\n")
        .file("lib.yaml", "tasks:\n  build:\n    run: echo build\n")
        .args(["check", WORKFLOW])
        .stdout("ok: workflow.yaml (2 tasks)\n")
        .run();
    Test::new()
        .workflow("include: [lib.yaml]\ntasks:\n  build:\n    run: echo mine\n")
        .file(
            "lib.yaml",
            "tasks:\n  other:\n    run: 'true'\n  build:\n    run: echo theirs\n",
        )
        .args(["check", WORKFLOW])
        .status(2)
        .stderr_has("task `build` is defined twice")
        .stderr_has("[lib.yaml:4:3]")
        .stderr_has("the first definition is at workflow.yaml:3:3")
        .run();
}

#[test]
fn a_missing_include_is_located_in_the_including_file() {
    Test::new()
        .workflow("include: [nowhere.yaml]\ntasks:\n  a:\n    run: 'true'\n")
        .args(["check", WORKFLOW])
        .status(2)
        .stderr_has("cannot include `nowhere.yaml`")
        .stderr_has("[workflow.yaml:1:11]")
        .run();
}

#[test]
fn the_plan_fills_in_what_is_known_and_shows_results_as_placeholders() {
    Test::new()
        .workflow(
            r#"
vars: { tag: v1 }
tasks:
  build:
    matrix: { os: [linux] }
    run: echo "build ${{ vars.tag }} for ${{ matrix.os }}" >> "$ENGINE_RESULTS"
  ship:
    depends_on: [build]
    if: ${{ vars.tag != "" }}
    retries: 2
    run: echo shipping ${{ tasks["build[os=linux]"].results.artifact }} tagged ${{ vars.tag }}
"#,
        )
        .args(["plan", WORKFLOW, "--var", "tag=v2; rm -rf /"])
        .status(0)
        .stdout_has("build[os=linux]  [process]")
        .stdout_has(r#"$ echo "build v2; rm -rf / for linux" >> "$ENGINE_RESULTS""#)
        .stdout_has(r#"retries 2  if vars.tag != """#)
        .stdout_has(
            r#"$ echo shipping <tasks["build[os=linux]"].results.artifact> tagged 'v2; rm -rf /'"#,
        )
        .run();
}

#[test]
fn the_plan_masks_a_secret_filled_in_from_the_environment() {
    Test::new()
        .workflow(
            "secrets: [TOKEN]\ntasks:\n  call:\n    run: curl -H ${{ env.TOKEN }} example.org\n",
        )
        .env("TOKEN", "s3cr3t-value")
        .args(["plan", WORKFLOW])
        .stdout_has("$ curl -H *** example.org")
        .stdout_lacks("s3cr3t")
        .run();
}

#[test]
fn the_plan_masks_secrets_from_env_file_and_env_as_a_run_does() {
    let workflow = r#"secrets: [TOKEN, OTHER]
env_file: secrets.env
env: { OTHER: workflow-env-s3cr3t }
tasks:
  call:
    env: { TOKEN: task-env-s3cr3t }
    run: curl -H ${{ env.TOKEN }} -u ${{ env.OTHER }} example.org
  shown:
    script: print("${{ env.TOKEN }}")
"#;
    for args in [
        &["plan", WORKFLOW][..],
        &["plan", "--format", "json", WORKFLOW],
        &["run", "--dry-run", WORKFLOW],
    ] {
        let output = Test::new()
            .workflow(workflow)
            .file("secrets.env", "TOKEN=env-file-s3cr3t\n")
            .args(args)
            .run();
        assert!(
            !output.stdout.contains("s3cr3t"),
            "{args:?}:\n{}",
            output.stdout
        );
        assert!(
            output.stdout.contains("***"),
            "{args:?}:\n{}",
            output.stdout
        );
    }
}

/// Expected diagnostics as `diagnostics` gives them.
fn owned(expected: &[(&str, u64, u64)]) -> Vec<(String, u64, u64)> {
    expected
        .iter()
        .map(|(kind, line, column)| ((*kind).to_owned(), *line, *column))
        .collect()
}

/// The kind, line and column of each diagnostic `check --format json` reports.
fn diagnostics(workflow: &str) -> Vec<(String, u64, u64)> {
    let output = Test::new()
        .workflow(workflow)
        .args(["check", "--format", "json", WORKFLOW])
        .status(2)
        .run();
    json(&output.stdout)["files"][0]["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().expect("kind").to_owned(),
                d["line"].as_u64().expect("line"),
                d["column"].as_u64().expect("column"),
            )
        })
        .collect()
}

#[test]
fn a_task_that_reads_what_another_writes_must_depend_on_it() {
    let found = diagnostics(
        r"tasks:
  gen:
    outputs: [out/a.txt, build/]
    run: mkdir -p out build && echo a > out/a.txt
  use:
    inputs: [out/a.txt]
    run: cat out/a.txt
  whole:
    inputs: [./out]
    run: ls out
  inside:
    inputs: [build/x/../lib.o]
    run: 'true'
  lib:
    outputs: [build/lib.o]
    run: 'true'
  linked:
    depends_on: [lib]
    inputs: [build/lib.o]
    run: 'true'
",
    );
    // `linked` depends on `lib`, which writes its input, but not on `gen`, which writes the
    // directory it lies in.
    let expected = [
        ("file_without_dependency", 6, 14),
        ("file_without_dependency", 9, 14),
        ("file_without_dependency", 12, 14),
        ("file_without_dependency", 19, 14),
    ];
    assert_eq!(found, owned(&expected));
    Test::new()
        .workflow("tasks:\n  gen:\n    outputs: [out/a.txt]\n    run: echo a > out/a.txt\n  use:\n    inputs: [out/a.txt]\n    run: cat out/a.txt\n")
        .args(["check", WORKFLOW])
        .status(2)
        .stderr_has("task `use` reads `out/a.txt`, which task `gen` writes, but does not depend on it")
        .stderr_has("add `gen` to `depends_on` of `use`")
        .run();
}

#[test]
fn tasks_that_may_run_at_once_must_not_write_the_same_file() {
    let found = diagnostics(
        r"tasks:
  one:
    outputs: [report.txt]
    run: echo 1 > report.txt
  two:
    outputs: [./report.txt]
    run: echo 2 > report.txt
  each:
    matrix: { os: [linux, mac] }
    outputs: [dist/app]
    run: echo ${{ matrix.os }} > dist/app
  base:
    outputs: [log.txt]
    run: echo base > log.txt
  after:
    depends_on: [base]
    outputs: [log.txt]
    run: echo after >> log.txt
  aside:
    depends_on: [base]
    outputs: [log.txt]
    run: echo aside >> log.txt
",
    );
    // `aside` runs after `base`, but may run at the same time as `after`.
    let expected = [
        ("output_written_twice", 6, 15),
        ("output_written_twice", 10, 15),
        ("output_written_twice", 21, 15),
    ];
    assert_eq!(found, owned(&expected));
}

#[test]
fn files_passed_along_dependencies_globs_and_templates_are_fine() {
    // Direct and indirect dependencies, a directory and a file in it, another cwd, tasks
    // that write the same file one after the other, a task that changes what an earlier one
    // read, and what only globs and templates name.
    Test::new()
        .workflow(
            r"tasks:
  gen:
    outputs: [out/]
    run: mkdir -p out && echo a > out/a.txt
  mid:
    depends_on: [gen]
    inputs: [out/a.txt]
    outputs: [mid.txt]
    run: cp out/a.txt mid.txt
  last:
    depends_on: [mid]
    cwd: sub
    inputs: [../out, ../mid.txt]
    outputs: [../mid.txt]
    run: cat ../mid.txt >> ../mid.txt
  globbed:
    inputs: ['out/*.txt']
    run: 'true'
  stamp:
    depends_on: [last]
    outputs: [out/a.txt]
    run: date > out/a.txt
  single:
    matrix: { os: [linux] }
    outputs: [single.txt]
    run: echo ${{ matrix.os }} > single.txt
  each:
    matrix: { os: [linux, mac] }
    inputs: ['out/${{ matrix.os }}.txt']
    outputs: ['dist/${{ matrix.os }}']
    run: 'true'
",
        )
        .file("sub/.keep", "")
        .args(["check", WORKFLOW])
        .stdout("ok: workflow.yaml (8 tasks)\n")
        .run();
}

#[test]
fn a_shell_program_that_is_not_on_path_is_refused_at_its_place() {
    Test::new()
        .workflow("tasks:\n  a:\n    shell: no-such-shell-here -e\n    run: echo hi | cat\n")
        .args(["check", WORKFLOW])
        .status(2)
        .stderr_has("the shell program `no-such-shell-here` is not on `PATH`")
        .stderr_has("workflow.yaml:3:12")
        .run();
}

#[test]
fn a_function_that_does_not_exist_where_it_is_called_is_refused_at_its_place() {
    Test::new()
        .workflow(
            "tasks:\n  a:\n    run: echo\n  b:\n    depends_on: a\n    if: ${{ cancelled() }}\n    run: echo ${{ failure() }}\n  c:\n    script: print(success());\n",
        )
        .args(["check", WORKFLOW])
        .status(2)
        .stderr_has("unknown function `cancelled()` in an `if` condition")
        .stderr_has("workflow.yaml:6:13")
        .stderr_has("`success()` cannot be called in a script")
        .stderr_has("workflow.yaml:9:19")
        .stderr_has("error: 2 problems")
        .run();
}
