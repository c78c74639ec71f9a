//! The workflow language of issue 5 through the binary: matrix, retries, pools, resources,
//! conditions, `allow_failure`, templates, results, `--var` and secrets.

use engine_test_support::Test;

#[test]
fn a_two_by_two_matrix_runs_four_tasks_and_a_dependent_after_all() {
    let run = Test::run_of(
        r#"
tasks:
  test:
    matrix: { os: [linux, mac], py: ["3.11", "3.12"] }
    run: echo "testing ${{ matrix.os }} ${{ matrix.py }}"
  report:
    depends_on: [test]
    run: echo all four done
"#,
    )
    .status(0)
    .stdout_has("testing linux 3.11")
    .stdout_has("testing linux 3.12")
    .stdout_has("testing mac 3.11")
    .stdout_has("testing mac 3.12")
    .task_status("test[os=linux,py=3.11]", "succeeded")
    .task_status("test[os=linux,py=3.12]", "succeeded")
    .task_status("test[os=mac,py=3.11]", "succeeded")
    .task_status("test[os=mac,py=3.12]", "succeeded")
    .run();
    let order = run.started_order();
    assert_eq!(order.len(), 5, "{order:?}");
    assert_eq!(
        order.last().map(String::as_str),
        Some("report"),
        "{order:?}"
    );
}

#[test]
fn a_task_that_fails_twice_succeeds_on_its_third_attempt() {
    let run = Test::run_of(
        "
tasks:
  flaky:
    retries: 2
    retry_delay: 50ms
    run: |
      n=$(cat count 2>/dev/null || echo 0); n=$((n + 1)); echo $n > count
      echo attempt $n
      [ $n -ge 3 ]
",
    )
    .status(0)
    .task_status("flaky", "succeeded")
    .run();
    let retries = run.events_of("task_retrying");
    assert_eq!(retries.len(), 2, "{retries:?}");
    assert_eq!(retries[0]["attempt"], 1);
    assert_eq!(retries[1]["attempt"], 2);
    assert_eq!(retries[0]["attempts"], 3);
    assert_eq!(run.finished("flaky")["attempt"], 3);
    let started: Vec<_> = run
        .events_of("task_started")
        .iter()
        .map(|event| event["attempt"].as_u64())
        .collect();
    assert_eq!(started, [Some(1), Some(2), Some(3)]);
}

#[test]
fn retries_run_out_and_the_last_failure_counts() {
    let run = Test::run_of(
        "
tasks:
  broken:
    retries: 1
    retry_delay: 10ms
    run: exit 4
  after:
    depends_on: broken
    run: echo never
",
    )
    .status(1)
    .task_status("broken", "failed")
    .skipped("after", "dependency_failed")
    .run();
    assert_eq!(run.finished("broken")["exit_code"], 4);
    assert_eq!(run.finished("broken")["attempt"], 2);
}

#[test]
fn a_pool_of_one_runs_its_tasks_one_at_a_time() {
    let run = Test::run_of(
        "
pools: { db: 1 }
tasks:
  migrate_a:
    pool: db
    run: sleep 0.3
  migrate_b:
    pool: db
    run: sleep 0.3
",
    )
    .args(["-j", "2"])
    .status(0)
    .run();
    assert_eq!(run.max_concurrent(), 1);
}

#[test]
fn a_task_with_two_cpus_takes_two_slots() {
    let run = Test::run_of(
        "
tasks:
  big:
    resources: { cpus: 2, memory: 1G }
    run: sleep 0.3
  small:
    run: sleep 0.3
",
    )
    .args(["-j", "2"])
    .status(0)
    .run();
    assert_eq!(run.max_concurrent(), 1);
}

#[test]
fn an_allowed_failure_neither_fails_the_run_nor_blocks_dependents() {
    let run = Test::run_of(
        "
tasks:
  lint:
    allow_failure: true
    run: exit 3
  build:
    depends_on: lint
    run: echo built
",
    )
    .status(0)
    .task_status("lint", "failed")
    .task_status("build", "succeeded")
    .stdout_has("built")
    .stderr_has("1 succeeded, 1 failed (allowed)")
    .run();
    assert_eq!(run.finished("lint")["allowed_failure"], true);
}

#[test]
fn a_false_condition_skips_the_task_but_not_its_dependents() {
    Test::run_of(
        "
vars: { deploy: false }
tasks:
  deploy:
    if: ${{ vars.deploy }}
    run: touch deployed
  notify:
    depends_on: deploy
    run: echo notified
",
    )
    .status(0)
    .skipped("deploy", "condition_false")
    .task_status("notify", "succeeded")
    .run();
}

#[test]
fn always_runs_a_cleanup_after_a_failure_and_failure_sees_it() {
    let test = Test::run_of(
        "
tasks:
  build:
    run: exit 1
  cleanup:
    depends_on: build
    if: ${{ always() }}
    run: touch cleaned
  on_failure:
    depends_on: build
    if: failure()
    run: touch alerted
  on_success:
    depends_on: build
    if: success()
    run: touch celebrated
",
    );
    let test = test
        .status(1)
        .task_status("build", "failed")
        .task_status("cleanup", "succeeded")
        .task_status("on_failure", "succeeded")
        .skipped("on_success", "condition_false");
    test.run();
    assert!(test.path("cleaned").exists());
    assert!(test.path("alerted").exists());
    assert!(!test.path("celebrated").exists());
}

#[test]
fn results_of_a_process_and_a_script_reach_a_dependent() {
    let run = Test::run_of(
        r#"
tasks:
  version:
    run: |
      echo "tag=v1.2.3" >> "$ENGINE_RESULTS"
      printf 'notes<<EOF\nline one\nline two\nEOF\n' >> "$ENGINE_RESULTS"
  count:
    script: result("files", 42);
  publish:
    depends_on: [version, count]
    run: echo "publishing ${{ tasks.version.results.tag }} with ${{ tasks.count.results.files }} files"
  summary:
    depends_on: [publish]
    run: echo "notes ${{ tasks.version.results.notes }}"
"#,
    )
    .status(0)
        .stdout_has("publishing v1.2.3 with 42 files")
        .stdout_has("line two").run();
    assert_eq!(run.finished("version")["results"]["tag"], "v1.2.3");
    assert_eq!(run.finished("count")["results"]["files"], "42");
}

#[test]
fn a_results_file_made_a_link_is_removed_and_what_it_points_to_is_kept() {
    // engine removes the results file after reading it: a task that puts a link there
    // loses the link (in engine's private run directory), never the file it points to.
    let test = Test::new().file("theirs.txt", "tag=theirs\n").workflow(
        r#"
tasks:
  linked:
    run: ln -s "$PWD/theirs.txt" "$ENGINE_RESULTS"
"#,
    );
    let workflow = test.path("workflow.yaml");
    let test = test.engine_run(&workflow).then();
    assert_eq!(
        std::fs::read_to_string(test.path("theirs.txt")).expect("still there"),
        "tag=theirs\n"
    );
    let results = test.path("state/runs");
    let left: Vec<_> = engine_test_support::files_under(&results)
        .into_iter()
        .filter(|path| path.components().any(|part| part.as_os_str() == "results"))
        .collect();
    assert!(left.is_empty(), "left in the results directory: {left:?}");
}

#[test]
fn a_hostile_variable_is_one_word_and_runs_nothing() {
    let test = Test::run_of(
        r#"
vars: { name: "x; touch pwned" }
tasks:
  greet:
    run: echo hello ${{ vars.name }} "and ${{ vars.name }}"
"#,
    )
    .args(["--var", "name=$(touch pwned2); `touch pwned3`"]);
    let test = test
        .status(0)
        .stdout_has("hello $(touch pwned2); `touch pwned3` and $(touch pwned2); `touch pwned3`");
    test.run();
    for file in ["pwned", "pwned2", "pwned3"] {
        assert!(!test.path(file).exists(), "{file} was created");
    }
}

#[test]
fn an_undeclared_var_on_the_command_line_is_a_usage_error() {
    Test::run_of(
        "
vars: { tag: dev }
tasks:
  show:
    run: echo ${{ vars.tag }}
",
    )
    .args(["--var", "tagg=v1"])
    .status(2)
    .stderr_has("no variable `tagg`")
    .stderr_has("did you mean `tag`?")
    .run();
}

#[test]
fn a_secret_is_masked_in_output_log_and_events() {
    let test = Test::run_of(
        "
secrets: [API_TOKEN]
tasks:
  call:
    run: echo token is $API_TOKEN; echo \"key=$API_TOKEN\" >> \"$ENGINE_RESULTS\"
",
    )
    .args(["--output", "prefixed"])
    .env("API_TOKEN", "s3cr3t-value");
    let test = test
        .status(0)
        .stdout_has("token is ***")
        .stdout_lacks("s3cr3t-value");
    let run = test.run();
    let events = std::fs::read_to_string(test.events_path()).expect("events file");
    assert!(!events.contains("s3cr3t-value"), "{events}");
    let log_dir = run.log_dir(&test.state_dir());
    let log = std::fs::read_to_string(log_dir.join("call.log")).expect("log");
    assert!(log.contains("token is ***"), "{log}");
    assert!(!log.contains("s3cr3t-value"), "{log}");
}

#[test]
fn scripts_read_results_vars_and_matrix_as_constants_on_threads_and_in_processes() {
    let run = Test::run_of(
        r#"
vars: { greeting: hello }
tasks:
  version:
    run: echo "tag=v2" >> "$ENGINE_RESULTS"
  on_thread:
    depends_on: version
    matrix: { size: [small] }
    script: |
      print(`${vars.greeting} ${tasks.version.results.tag} ${matrix.size} ${tasks.version.status}`);
  in_process:
    depends_on: version
    isolation: process
    script: |
      print(`${vars.greeting} from a process: ${tasks.version.results.tag} and ${{ tasks.version.results.tag }}`);
      result("seen", tasks.version.results.tag);
"#,
    )
    .status(0)
        .stdout_has("hello v2 small success")
        .stdout_has("hello from a process: v2 and v2").run();
    assert_eq!(run.finished("in_process")["results"]["seen"], "v2");
}

#[test]
fn a_task_needing_more_cpus_than_jobs_is_refused_before_anything_runs() {
    let test = Test::run_of(
        "
tasks:
  first:
    run: touch ran
  big:
    resources: { cpus: 4 }
    run: echo big
",
    )
    .args(["-j", "2"]);
    let test = test
        .status(2)
        .stderr_has("task `big` needs 4 CPUs")
        .stderr_has("-j 4");
    test.run();
    assert!(!test.path("ran").exists());
}

#[test]
fn success_and_failure_in_a_command_answer_as_in_the_tasks_if() {
    Test::run_of(
        r#"
tasks:
  build:
    run: exit 1
  report:
    depends_on: build
    if: ${{ always() }}
    run: echo "if-less says failure=${{ failure() }} success=${{ success() }}"
  fine:
    run: echo "alone says failure=${{ failure() }} success=${{ success() }}"
"#,
    )
    .args(["--keep-going"])
    .status(1)
    .stdout_has("if-less says failure=true success=false")
    .stdout_has("alone says failure=false success=true")
    .run();
}

#[test]
fn the_status_of_a_matrix_task_is_its_combinations_together() {
    Test::run_of(
        r#"
tasks:
  test:
    matrix: { os: [linux, mac] }
    run: test ${{ matrix.os }} = linux
  report:
    depends_on: test
    if: ${{ always() }}
    run: echo "test ended ${{ tasks.test.status }}"
  script_report:
    depends_on: test
    if: ${{ always() }}
    script: print(`script sees ${tasks.test.status}`);
"#,
    )
    .args(["--keep-going"])
    .status(1)
    .stdout_has("test ended failure")
    .stdout_has("script sees failure")
    .run();
}

/// An expression that reads `path` of the table (`tasks.<name>.status`) in the workflow of
/// `every_function_and_field_of_the_table_passes_check_and_runs`.
fn field_expression(path: &str) -> String {
    path.replace("tasks.<name>", "tasks.dep")
        .replace("<name>", "name")
        .replace("<key>", "key")
        .replace("<NAME>", "HOME")
}

#[test]
fn every_function_and_field_of_the_table_passes_check_and_runs() {
    use engine::template::names::{FIELDS, FUNCTIONS, Place};
    let mut yaml = String::from(
        "vars: { name: v }\ntasks:\n  dep:\n    script: result(\"key\", \"value\");\n",
    );
    let mut count = 0;
    let mut task = |yaml: &mut String, place: Place, expression: &str, kind: Option<&str>| {
        count += 1;
        // A field must have a value (a string, or a list for `outputs`); a function need
        // only be called.
        let check = match kind {
            Some(kind) => format!("type_of({expression}) == \"{kind}\""),
            None => format!("type_of({expression}) != \"\""),
        };
        if place == Place::MatrixAxis {
            // The axis has its one value only when the check holds.
            yaml.push_str(&format!(
                "  t{count}:\n    depends_on: dep\n    matrix:\n      key: ${{{{ if {check} {{ [\"k\"] }} else {{ [] }} }}}}\n    run: echo ran\n"
            ));
            return;
        }
        // `params` needs a task with params, which cannot have a matrix.
        let own = if expression.contains("params.") {
            "params: { name: v }"
        } else {
            "matrix: { key: [k] }"
        };
        yaml.push_str(&format!("  t{count}:\n    depends_on: dep\n    {own}\n"));
        match place {
            Place::Template => {
                yaml.push_str(&format!(
                    "    run: echo \"${{{{ {check} }}}}\" | grep true\n"
                ));
            }
            Place::Condition => {
                yaml.push_str(&format!("    if: ${{{{ {check} }}}}\n    run: echo ran\n"));
            }
            Place::Script => yaml.push_str(&format!(
                "    script: |\n      if !({check}) {{ throw \"no value\"; }}\n"
            )),
            Place::MatrixAxis => unreachable!("written above"),
        }
    };
    for function in FUNCTIONS {
        for &place in function.places {
            task(&mut yaml, place, function.example, None);
        }
    }
    for field in FIELDS {
        for &place in field.places {
            let kind = if field.path.ends_with(".outputs") || field.path == "args" {
                "array"
            } else {
                "string"
            };
            task(&mut yaml, place, &field_expression(field.path), Some(kind));
        }
    }
    let test = Test::run_of(&yaml).file("in.txt", "input\n");
    let test = test.default_state_dir();
    test.engine(["check", "workflow.yaml"])
        .status(0)
        .stdout_has("ok: workflow.yaml")
        .run();
    let run = test
        .again()
        .args(["--keep-going"])
        .status(0)
        .stderr_lacks("skip")
        .run();
    assert_eq!(
        run.events_of("task_finished").len(),
        count + 1,
        "every task ran:\n{yaml}"
    );
}

#[test]
fn a_number_is_inserted_as_written_and_compared_as_a_number() {
    Test::run_of(
        r#"
vars: { py: 3.10 }
tasks:
  test:
    matrix: { python: [3.10, 3.9] }
    if: ${{ matrix.python < 3.5 }}
    env: { WANT: "${{ matrix.python }}" }
    run: echo "python ${{ matrix.python }} env $WANT next ${{ vars.py + 1 }}"
  script:
    script: print(`script ${{ vars.py }} is ${type_of(${{ vars.py }})}`);
"#,
    )
    .status(0)
    .task_status("test[python=3.10]", "succeeded")
    .skipped("test[python=3.9]", "condition_false")
    .stdout_has("python 3.10 env 3.10 next 4.1")
    .stdout_has("script 3.10 is f64")
    .run();
}
