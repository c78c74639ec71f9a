//! `check` and `plan` of matrices from files: the empty glob warning, mistakes in axis
//! templates at their place, and the flow-mapping mistake.

use engine_test_support::{Test, WORKFLOW, json};

#[test]
fn an_empty_glob_is_a_warning_at_the_axis_and_check_passes() {
    Test::new()
        .workflow(
            "tasks:\n  compile:\n    matrix:\n      src: ${{ glob(\"src/*.c\") }}\n    run: cc -c ${{ matrix.src }}\n  link:\n    depends_on: [compile]\n    run: echo link\n",
        )
        .args(["check", WORKFLOW])
        .status(0)
        .stdout_has("ok: workflow.yaml (1 task)")
        .stderr_has("`glob(\"src/*.c\")` matches no file: task `compile` has no items")
        .stderr_has("workflow.yaml:4:12")
        .stderr_has("relative to the task's `cwd` (the workflow's directory)")
        .stderr_has("tasks that depend on it do not wait for it")
        .run();
}

#[test]
fn plan_shows_one_task_per_file_named_by_the_path() {
    Test::new()
        .workflow(
            "tasks:\n  compile:\n    matrix:\n      src: ${{ glob(\"src/**/*.c\") }}\n    run: cc -c ${{ matrix.src }} -o ${{ with_ext(basename(matrix.src), \"o\") }}\n",
        )
        .file("src/b.c", "")
        .file("src/a.c", "")
        .file("src/sub/c.c", "")
        .file("src/a.h", "")
        .args(["plan", WORKFLOW, "--verbose"])
        .status(0)
        .stdout_has("compile[src=src/a.c]")
        .stdout_has("$ cc -c src/a.c -o a.o")
        .stdout_has("compile[src=src/b.c]")
        .stdout_has("compile[src=src/sub/c.c]")
        .stdout_has("$ cc -c src/sub/c.c -o c.o")
        .stdout_lacks("a.h")
        .run();
}

#[test]
fn plan_counts_the_files_of_a_matrix_without_verbose() {
    Test::new()
        .workflow(
            "tasks:\n  compile:\n    matrix:\n      src: ${{ glob(\"src/*.c\") }}\n    run: cc -c ${{ matrix.src }}\n",
        )
        .file("src/b.c", "")
        .file("src/a.c", "")
        .args(["plan", WORKFLOW])
        .stdout_has("  compile[2 items]  [process]\n      $ cc -c src/a.c\n")
        .stdout_lacks("compile[src=src/b.c]")
        .run();
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
fn mistakes_in_axis_templates_are_located() {
    let found = diagnostics(
        r#"tasks:
  split:
    run: echo
  a:
    matrix:
      shard: ${{ from_json(tasks.split.results.shards) }}
      os: linux
      n: ${{ from_json("[1, 2") }}
      m: ${{ from_json("{}") }}
      d: ${{ from_json("[1, 1]") }}
      v: ${{ vars.x }}
      t: src/${{ glob("*.c") }}
    run: echo ${{ glob("*.c") }}
"#,
    );
    // `shard` reads a result: valid, it expands during the run.
    let expected = [
        ("invalid_matrix", 7, 11),
        ("invalid_matrix", 8, 10),
        ("invalid_matrix", 9, 10),
        ("invalid_matrix", 10, 10),
        ("invalid_matrix", 11, 19),
        ("invalid_matrix", 12, 10),
        ("unknown_reference", 13, 19),
    ];
    let expected: Vec<(String, u64, u64)> = expected
        .iter()
        .map(|(kind, line, column)| ((*kind).to_owned(), *line, *column))
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn axis_template_messages_say_what_is_wrong() {
    Test::new()
        .workflow(
            "tasks:\n  split:\n    run: echo\n  a:\n    depends_on: [split]\n    matrix:\n      shard: ${{ from_json(tasks.split.results.shards) }}\n      n: ${{ from_json(\"[1, 2\") }}\n    run: echo ${{ glob(\"*.c\") }}\n",
        )
        .args(["check", WORKFLOW])
        .status(2)
        .stderr_lacks("not supported")
        .stderr_has("the values of matrix key `n` of task `a`")
        .stderr_has("from_json: not valid JSON")
        .stderr_has("`glob()` cannot be called in a template")
        .stderr_has("`glob()` works only in a matrix axis")
        .run();
}

#[test]
fn an_axis_that_reads_results_needs_the_dependency() {
    Test::new()
        .workflow(
            "tasks:\n  split:\n    run: echo\n  a:\n    matrix:\n      shard: ${{ from_json(tasks.split.results.shards) }}\n    run: echo\n",
        )
        .args(["check", WORKFLOW])
        .status(2)
        .stderr_has("task `a` reads `tasks.split` but does not depend on it")
        .stderr_has("6:34")
        .run();
}

#[test]
fn a_template_in_a_flow_mapping_says_to_quote_it_or_use_block_style() {
    Test::new()
        .workflow("tasks:\n  compile:\n    matrix: { src: ${{ glob(\"*.c\") }} }\n    run: echo\n")
        .args(["check", WORKFLOW])
        .status(2)
        .stderr_has("a `${{ }}` template inside `{ }` or `[ ]` is read as YAML's own braces")
        .stderr_has("workflow.yaml:3:20")
        .stderr_has("quote the value (`'${{ glob(\"*.c\") }}'`) or write the matrix in block style")
        .run();
}

#[test]
fn a_quoted_template_in_a_flow_mapping_works() {
    Test::new()
        .workflow("tasks:\n  compile:\n    matrix: { src: '${{ glob(\"*.c\") }}', o: [1] }\n    run: echo\n")
        .file("x.c", "")
        .args(["check", WORKFLOW])
        .status(0)
        .stdout("ok: workflow.yaml (1 task)\n")
        .run();
}

#[test]
fn an_axis_template_is_capped_like_a_list_and_a_lone_scalar_asks_for_a_list() {
    let many: Vec<String> = (0..5000).map(|n| n.to_string()).collect();
    Test::new()
        .workflow(&format!(
            "tasks:\n  t:\n    matrix:\n      n: ${{{{ from_json(\"[{}]\") }}}}\n    run: echo\n",
            many.join(",")
        ))
        .args(["check", WORKFLOW])
        .status(2)
        .stderr_has("the matrix of task `t` makes more than 4096 tasks")
        .run();
    Test::new()
        .workflow("tasks:\n  t:\n    matrix:\n      n: 5\n    run: echo\n")
        .args(["check", WORKFLOW])
        .status(2)
        .stderr_has("matrix key `n` of task `t` must be a list or a template")
        .stderr_has("workflow.yaml:4:10")
        .stderr_has("like `n: [5]`")
        .run();
}

#[test]
fn glob_paths_are_relative_to_the_tasks_cwd() {
    Test::new()
        .workflow(
            "tasks:\n  compile:\n    cwd: lib\n    matrix:\n      src: ${{ glob(\"*.c\") }}\n    run: cc -c ${{ matrix.src }}\n  empty:\n    cwd: lib\n    matrix:\n      src: ${{ glob(\"*.h\") }}\n    run: echo\n",
        )
        .file("lib/x.c", "")
        .file("top.c", "")
        .args(["plan", WORKFLOW])
        .status(0)
        .stdout_has("compile[src=x.c]")
        .stdout_has("$ cc -c x.c")
        .stdout_lacks("top.c")
        .run();
    Test::new()
        .workflow(
            "tasks:\n  empty:\n    cwd: lib\n    matrix:\n      src: ${{ glob(\"*.h\") }}\n    run: echo\n",
        )
        .file("top.h", "")
        .args(["check", WORKFLOW])
        .status(0)
        .stderr_has("relative to the task's `cwd` (`lib`)")
        .run();
}
