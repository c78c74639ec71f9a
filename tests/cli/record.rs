//! What the run record shows: `engine runs`, `engine status`, `engine logs`, `plan --explain`,
//! and `check` of a bad glob in `outputs`. Run ids and times vary, so the table tests look at
//! lines and columns, and the snapshots only hold text that does not.

use serde_json::Value;

use engine_test_support::{Test, WORKFLOW, json};

/// `gen` copies `in.txt`; `use` copies that; `plain` prints `note.txt` and fails when `fail`
/// exists.
const PIPELINE: &str = "\
tasks:
  gen:
    inputs: [in.txt]
    outputs: [gen.out]
    run: echo generating; cp in.txt gen.out
  use:
    depends_on: gen
    outputs: [use.out]
    run: echo using; cat gen.out > use.out
  plain:
    run: cat note.txt; test ! -e fail
";

fn pipeline() -> Test {
    Test::new()
        .workflow(PIPELINE)
        .file("in.txt", "one\n")
        .file("note.txt", "first note\n")
}

/// `engine runs --format json`.
fn runs_json(test: Test) -> (Vec<Value>, Test) {
    let (out, test) = test
        .args(["runs", WORKFLOW, "--format", "json"])
        .stderr("")
        .run_then();
    match json(&out.stdout) {
        Value::Array(runs) => (runs, test),
        other => panic!("not a list: {other:#}"),
    }
}

fn id(run: &Value) -> String {
    run["id"].as_str().expect("a run id").to_owned()
}

#[test]
fn runs_without_any_run() {
    let test = pipeline()
        .args(["runs", WORKFLOW])
        .stdout("no runs of workflow.yaml are recorded in .engine\n")
        .then();
    let (runs, _) = runs_json(test);
    assert!(runs.is_empty(), "{runs:#?}");
}

#[test]
fn runs_refuses_to_show_zero_runs() {
    // `-n 0` used to say that no runs are recorded, after one was.
    pipeline()
        .args(["run", WORKFLOW])
        .then()
        .args(["runs", WORKFLOW, "-n", "0"])
        .status(2)
        .stdout("")
        .stderr_has("invalid value '0' for '--limit <N>'")
        .run();
}

/// The pipeline run once to success, then once more with `fail` there, which fails it.
fn a_success_then_a_failure() -> Test {
    pipeline()
        .args(["run", WORKFLOW])
        .then()
        .file("fail", "")
        .args(["run", WORKFLOW])
        .status(1)
        .then()
}

#[test]
fn runs_lists_each_run_newest_first_as_a_table() {
    let test = a_success_then_a_failure();
    let (runs, test) = runs_json(test);
    let (out, _) = test.args(["runs", WORKFLOW]).stderr("").run_then();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", out.stdout);
    // Columns are two or more spaces apart (an odd width leaves one more space at the start).
    let header: Vec<&str> = lines[0]
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        header,
        ["RUN", "STARTED (UTC)", "DURATION", "OUTCOME", "TASKS"],
        "{}",
        out.stdout
    );
    let newest = lines[1];
    assert!(newest.starts_with(&id(&runs[0])), "{}", out.stdout);
    assert!(newest.contains(" failed "), "{}", out.stdout);
    assert!(newest.contains("1 failed"), "{}", out.stdout);
    assert!(newest.contains("2 up to date"), "{}", out.stdout);
    let oldest = lines[2];
    assert!(oldest.starts_with(&id(&runs[1])), "{}", out.stdout);
    assert!(oldest.contains(" succeeded "), "{}", out.stdout);
    assert!(oldest.ends_with("3 ok"), "{}", out.stdout);
    // The columns line up under the header.
    let column = lines[0].find("OUTCOME").expect("OUTCOME");
    assert_eq!(&newest[column..column + "failed".len()], "failed");
    assert_eq!(&oldest[column..column + "succeeded".len()], "succeeded");
}

#[test]
fn runs_as_json_count_each_runs_tasks() {
    let test = a_success_then_a_failure();
    std::fs::remove_file(test.path("fail")).expect("remove `fail`");
    let test = test.args(["run", "--resume", WORKFLOW]).then();
    let (runs, _) = runs_json(test);
    assert_eq!(runs.len(), 3, "{runs:#?}");
    let (resumed, failed, first) = (&runs[0], &runs[1], &runs[2]);
    for run in &runs {
        for key in [
            "id",
            "outcome",
            "resumed_from",
            "tasks",
            "succeeded",
            "failed",
            "skipped",
            "up_to_date",
            "cancelled",
            "duration_ms",
        ] {
            assert!(run.get(key).is_some(), "no `{key}` in {run:#}");
        }
        assert_eq!(run["tasks"], 3, "{run:#}");
        assert!(run["duration_ms"].is_u64(), "{run:#}");
    }
    assert_eq!(first["outcome"], "succeeded");
    assert_eq!(first["succeeded"], 3);
    assert_eq!(first["resumed_from"], Value::Null);
    assert_eq!(failed["outcome"], "failed");
    assert_eq!(
        (
            &failed["succeeded"],
            &failed["failed"],
            &failed["up_to_date"]
        ),
        (&0.into(), &1.into(), &2.into()),
        "{failed:#}"
    );
    assert_eq!(resumed["outcome"], "succeeded");
    assert_eq!(resumed["resumed_from"], id(failed).as_str());
    assert_eq!(resumed["succeeded"], 1, "{resumed:#}");
    assert_ne!(id(first), id(failed));
}

/// The line of `task` in a table, split into its columns.
fn row<'t>(table: &'t str, task: &str) -> Vec<&'t str> {
    let line = table
        .lines()
        .find(|line| line.split_whitespace().next() == Some(task))
        .unwrap_or_else(|| panic!("no line for `{task}` in:\n{table}"));
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

#[test]
fn status_shows_each_tasks_last_run_and_what_it_would_do_now() {
    let test = pipeline()
        .args(["status", WORKFLOW])
        .stdout_has("gen    never ran  runs: no successful run is recorded\n")
        .stdout_has("3 of 3 tasks would run; 0 up to date")
        .then()
        .args(["run", WORKFLOW])
        .then()
        .file("in.txt", "two\n");
    let (out, _) = test.args(["status", WORKFLOW]).stderr("").run_then();
    let table = &out.stdout;
    assert_eq!(
        row(table, "TASK"),
        ["TASK", "LAST", "NOW"],
        "the header:\n{table}"
    );
    let gen_row = row(table, "gen");
    assert!(gen_row[1].starts_with("succeeded "), "{table}");
    assert_eq!(gen_row[2], "runs: input `in.txt` changed", "{table}");
    assert_eq!(
        row(table, "use")[2],
        "decided after `gen` runs: up to date unless that changes what it depends on",
        "{table}"
    );
    assert_eq!(
        row(table, "plain")[2],
        "runs: it has no `inputs`, `outputs` nor `depfile`, so it always runs"
    );
    assert!(
        table.ends_with("\n3 of 3 tasks would run; 0 up to date\n"),
        "{table}"
    );
}

#[test]
fn status_as_json() {
    let (out, test) = pipeline()
        .args(["status", WORKFLOW, "--format", "json"])
        .run_then();
    let never = json(&out.stdout);
    assert_eq!(never[0]["task"], "gen");
    assert_eq!(never[0]["last"], Value::Null);
    assert_eq!(never[0]["now"], "runs");
    assert_eq!(never[1]["now"], "after_dependencies");
    let test = test.args(["run", WORKFLOW]).then();
    std::fs::remove_file(test.path("use.out")).expect("remove use.out");
    let (runs, test) = runs_json(test);
    let (out, test) = test
        .args(["status", WORKFLOW, "--format", "json"])
        .stderr("")
        .run_then();
    let status = json(&out.stdout);
    let tasks: Vec<&Value> = status.as_array().expect("a list").iter().collect();
    let names: Vec<&Value> = tasks.iter().map(|t| &t["task"]).collect();
    assert_eq!(names, ["gen", "use", "plain"]);
    let (gen_task, use_task, plain) = (tasks[0], tasks[1], tasks[2]);
    assert_eq!(gen_task["last"]["run"], id(&runs[0]).as_str());
    assert_eq!(gen_task["last"]["status"], "succeeded");
    assert_eq!(gen_task["now"], "up_to_date");
    assert_eq!(gen_task["why"], "up to date");
    assert_eq!(use_task["now"], "runs");
    assert_eq!(use_task["why"], "runs: output `use.out` is missing");
    assert_eq!(plain["now"], "runs");
    // Once it fails, a task has a failed last run.
    let test = test
        .file("fail", "")
        .args(["run", WORKFLOW])
        .status(1)
        .then();
    let (out, _) = test
        .args(["status", WORKFLOW, "--format", "json"])
        .run_then();
    let plain = &json(&out.stdout)[2];
    assert_eq!(plain["last"]["status"], "failed", "{plain:#}");
    assert_eq!(plain["last"]["exit_code"], 1, "{plain:#}");
}

#[test]
fn logs_print_a_tasks_output_from_the_latest_run_in_which_it_ran() {
    let test = pipeline()
        .args(["run", WORKFLOW])
        .then()
        .file("note.txt", "second note\n")
        .args(["run", WORKFLOW])
        .then();
    let (runs, test) = runs_json(test);
    test.args(["logs", WORKFLOW, "plain"])
        .stdout("second note\n")
        .then()
        // `gen` was up to date in the second run: its log is the first run's.
        .args(["logs", WORKFLOW, "gen"])
        .stdout("generating\n")
        .then()
        .args(["logs", WORKFLOW, "plain", "--run", &id(&runs[1])])
        .stdout("first note\n")
        .then()
        .args(["logs", WORKFLOW, "nope"])
        .status(2)
        .stdout("")
        .stderr_has("no task named `nope`")
        .then()
        .args(["logs", WORKFLOW, "plain", "--run", "19700101-000000-000-1"])
        .status(2)
        .stdout("")
        .stderr_has("no run `19700101-000000-000-1`")
        .run();
}

#[test]
fn logs_without_any_run() {
    pipeline()
        .args(["logs", WORKFLOW, "gen"])
        .status(2)
        .stdout("")
        .stderr_has("no runs of workflow.yaml are recorded")
        .run();
}

#[test]
fn runs_status_and_logs_read_the_given_state_dir() {
    let test = pipeline()
        .args(["run", WORKFLOW, "--state-dir", "elsewhere"])
        .then();
    assert!(!test.path(".engine").exists());
    assert!(test.path("elsewhere/record.sqlite").exists());
    test.args(["runs", WORKFLOW])
        .stdout_has("no runs of workflow.yaml are recorded")
        .then()
        .args(["runs", WORKFLOW, "--state-dir", "elsewhere"])
        .stdout_has(" succeeded ")
        .then()
        .args(["status", WORKFLOW, "--state-dir", "elsewhere"])
        .stdout_has("1 of 3 tasks would run; 2 up to date")
        .then()
        .args(["logs", WORKFLOW, "gen", "--state-dir", "elsewhere"])
        .stdout("generating\n")
        .run();
}

/// `gen` -> `use`; `report` and `stamp` stand alone with outputs; `plain` has none.
const EXPLAINED: &str = "\
name: explained
tasks:
  gen:
    inputs: [in.txt]
    outputs: [gen.out]
    run: cp in.txt gen.out
  use:
    depends_on: gen
    outputs: [use.out]
    run: cat gen.out > use.out
  report:
    outputs: [report.out]
    run: echo report > report.out
  stamp:
    outputs: [stamp.out]
    run: echo stamp > stamp.out
  plain:
    run: echo plain
";

#[test]
fn plan_explain_before_any_run() {
    let out = Test::new()
        .workflow(EXPLAINED)
        .file("in.txt", "one\n")
        .args(["plan", WORKFLOW, "--explain"])
        .stderr("")
        .run();
    insta::assert_snapshot!("explain_never_run", out.stdout);
}

#[test]
fn plan_explain_after_a_run_and_some_changes() {
    let test = Test::new()
        .workflow(EXPLAINED)
        .file("in.txt", "one\n")
        .args(["run", WORKFLOW])
        .then()
        .file("in.txt", "two\n");
    std::fs::remove_file(test.path("report.out")).expect("remove report.out");
    let (out, test) = test
        .args(["plan", WORKFLOW, "--explain"])
        .stderr("")
        .run_then();
    insta::assert_snapshot!("explain_after_changes", out.stdout);
    // Explaining runs nothing.
    assert!(!test.path("report.out").exists());
    let (out, _) = test
        .args(["plan", WORKFLOW, "--explain", "--format", "json"])
        .run_then();
    let plan = json(&out.stdout);
    assert_eq!(plan["tasks"], 5);
    let explain: Vec<(&str, &str, &str)> = plan["explain"]
        .as_array()
        .expect("an `explain` list")
        .iter()
        .map(|e| {
            (
                e["task"].as_str().expect("task"),
                e["now"].as_str().expect("now"),
                e["why"].as_str().expect("why"),
            )
        })
        .collect();
    assert_eq!(
        explain,
        [
            ("gen", "runs", "runs: input `in.txt` changed"),
            (
                "use",
                "after_dependencies",
                "decided after `gen` runs: up to date unless that changes what it depends on"
            ),
            ("report", "runs", "runs: output `report.out` is missing"),
            ("stamp", "up_to_date", "up to date"),
            (
                "plain",
                "runs",
                "runs: it has no `inputs`, `outputs` nor `depfile`, so it always runs"
            ),
        ]
    );
}

#[test]
fn plan_without_explain_says_nothing_about_the_record() {
    Test::new()
        .workflow(EXPLAINED)
        .file("in.txt", "one\n")
        .args(["run", WORKFLOW])
        .then()
        .args(["plan", WORKFLOW])
        .stdout_lacks("why each task runs")
        .stdout_lacks("up to date")
        .run();
}

#[test]
fn check_reports_an_invalid_glob_in_outputs_with_its_place() {
    let bad = "\
tasks:
  gen:
    outputs: [\"[abc\"]
    run: touch abc
";
    Test::new()
        .workflow(bad)
        .args(["check", WORKFLOW])
        .status(2)
        .stdout("")
        .stderr_has("engine::invalid_file_pattern")
        .stderr_has("`outputs` entry `[abc` is not a valid glob")
        .stderr_has("[workflow.yaml:3:15]")
        .stderr_has("error: 1 problem in 1 file")
        .run();
    let out = Test::new()
        .workflow(bad)
        .args(["check", "--format", "json", WORKFLOW])
        .status(2)
        .run();
    let problem = &json(&out.stdout)["files"][0]["diagnostics"][0];
    assert_eq!(problem["kind"], "invalid_file_pattern");
    assert_eq!(problem["code"], "engine::invalid_file_pattern");
    assert_eq!(
        (&problem["line"], &problem["column"], &problem["length"]),
        (&3.into(), &15.into(), &6.into()),
        "{problem:#}"
    );
}

#[test]
fn check_refuses_a_depfile_that_is_a_glob_or_empty_with_its_place() {
    Test::new()
        .workflow(
            "\
tasks:
  cc:
    outputs: [a.o]
    depfile: \"*.d\"
    run: touch a.o
  dd:
    depfile: \"\"
    run: true
",
        )
        .args(["check", WORKFLOW])
        .status(2)
        .stdout("")
        .stderr_has("`depfile` `*.d` is a glob")
        .stderr_has("[workflow.yaml:4:14]")
        .stderr_has("`depfile` `` is an empty path")
        .stderr_has("expected the path of one file")
        .stderr_has("error: 2 problems in 1 file")
        .run();
}
