//! `engine plan`: waves, commands, target selection and unknown targets.

use engine_test_support::{Test, WORKFLOW, json};

/// fetch -> {parse, lint} -> store, and a task on its own.
pub const DIAMOND: &str = "\
name: diamond
tasks:
  fetch:
    description: download the data
    run: curl -o data example.org
  parse:
    depends_on: [fetch]
    script: |
      let x = 1;
      print(x);
  lint:
    depends_on: fetch
    run: lint data
    timeout: 30s
  store:
    depends_on: [parse, lint]
  unrelated:
    shell: bash
    run: echo alone
";

#[test]
fn plan_shows_waves_with_commands_and_dependencies() {
    Test::new()
        .workflow(DIAMOND)
        .args(["plan", WORKFLOW])
        .stderr("")
        .stdout(
            "\
plan for `diamond`: 5 tasks in 3 waves

wave 1 (2 tasks at once)
  fetch  [process]
      $ curl -o data example.org
  unrelated  [process]
      bash -e -o pipefail$ echo alone

wave 2 (2 tasks at once)
  parse  [thread]  after fetch
      script: let x = 1;  (2 lines)
  lint  [process]  timeout 30s  after fetch
      $ lint data

wave 3
  store  [thread]  after parse, lint
      (no command: waits for its dependencies)
",
        )
        .run();
}

#[test]
fn a_target_brings_only_what_it_depends_on() {
    Test::new()
        .workflow(DIAMOND)
        .args(["plan", WORKFLOW, "lint"])
        .stdout_has("plan for `diamond`: 2 tasks in 2 waves")
        .stdout_has("  fetch  [process]")
        .stdout_has("  lint  [process]  timeout 30s  after fetch")
        .stdout_lacks("parse")
        .stdout_lacks("store")
        .stdout_lacks("unrelated")
        .run();
}

#[test]
fn several_targets() {
    Test::new()
        .workflow(DIAMOND)
        .args(["plan", WORKFLOW, "store", "unrelated"])
        .stdout_has("5 tasks in 3 waves")
        .run();
    Test::new()
        .workflow(DIAMOND)
        .args(["plan", WORKFLOW, "parse", "unrelated"])
        .stdout_has("3 tasks in 2 waves")
        .stdout_lacks("lint")
        .run();
}

#[test]
fn an_unknown_target_is_refused_with_a_suggestion() {
    Test::new()
        .workflow(DIAMOND)
        .args(["plan", WORKFLOW, "stor"])
        .status(2)
        .stdout("")
        .stderr("error: no task named `stor` in the workflow\n  hint: did you mean `store`?\n")
        .run();
}

#[test]
fn an_unknown_target_with_nothing_close() {
    Test::new()
        .workflow(DIAMOND)
        .args(["plan", WORKFLOW, "fetch", "zzz"])
        .status(2)
        .stdout("")
        .stderr_has("no task named `zzz`")
        .stderr_has("hint: `engine list ")
        .stderr_has("workflow.yaml` shows the tasks")
        .run();
}

#[test]
fn plan_as_json() {
    let out = Test::new()
        .workflow(DIAMOND)
        .args(["plan", "--format", "json", WORKFLOW])
        .run();
    let plan = json(&out.stdout);
    assert_eq!(plan["workflow"], "diamond");
    assert_eq!(plan["tasks"], 5);
    let waves: Vec<Vec<&str>> = plan["waves"]
        .as_array()
        .expect("waves")
        .iter()
        .map(|wave| {
            wave.as_array()
                .expect("a wave")
                .iter()
                .map(|task| task["name"].as_str().expect("a name"))
                .collect()
        })
        .collect();
    assert_eq!(
        waves,
        [
            vec!["fetch", "unrelated"],
            vec!["parse", "lint"],
            vec!["store"]
        ]
    );
    let lint = &plan["waves"][1][1];
    assert_eq!(lint["isolation"], "process");
    assert_eq!(lint["command"], "shell");
    assert_eq!(lint["run"], "lint data");
    assert_eq!(lint["shell"], "sh");
    assert_eq!(lint["timeout_ms"], 30_000);
    assert_eq!(lint["depends_on"], serde_json::json!(["fetch"]));
    let parse = &plan["waves"][1][0];
    assert_eq!(parse["isolation"], "thread");
    assert_eq!(parse["script"], "let x = 1;\nprint(x);\n");
    assert_eq!(plan["waves"][0][1]["shell"], "bash");
}

#[test]
fn the_seed_example_runs_two_tasks_at_once_then_the_join() {
    Test::new()
        .in_repository()
        .args(["plan", "workflows/seed.yaml"])
        .stdout_has("3 tasks in 2 waves")
        .stdout_has("wave 1 (2 tasks at once)\n  task_a  [process]")
        .stdout_has("  task_b  [thread]")
        .stdout_has("wave 2\n  all_done  [process]  after task_a, task_b")
        .run();
}

#[test]
fn an_invalid_workflow_is_not_planned() {
    Test::new()
        .workflow("tasks:\n  a:\n    depends_on: [b]\n")
        .args(["plan", WORKFLOW])
        .status(2)
        .stdout("")
        .stderr_has("[workflow.yaml:3:18]")
        .stderr_has("error: the workflow is invalid (1 problem); nothing was run")
        .run();
}

#[test]
fn a_number_shows_as_written_in_names_and_commands() {
    Test::new()
        .workflow("vars: { py: 3.10 }\ntasks:\n  t:\n    matrix: { python: [3.10] }\n    run: echo ${{ matrix.python }} ${{ vars.py }}\n")
        .args(["plan", WORKFLOW])
        .stdout_has("t[python=3.10]")
        .stdout_has("$ echo 3.10 3.10")
        .run();
}
