//! The workflow file found without naming it (`engine.yaml` or `engine.yml` here or above),
//! `-f/--file`, and what runs when no task is named: the `default` task, else every task
//! but the `manual` ones.

use engine_test_support::Test;

const PROJECT: &str = "
tasks:
  build:
    outputs: [out/app]
    run: mkdir -p out && echo app > out/app && echo built in $(basename $PWD)
  clean:
    manual: true
    run: echo cleaned
  test:
    depends_on: [build]
    run: echo tested
";

#[test]
fn a_run_from_a_subdirectory_finds_the_file_above_and_runs_there() {
    let test = Test::new()
        .file("project/engine.yaml", PROJECT)
        .in_dir("project/src/deep")
        .args(["run", "--progress", "none"])
        .stdout_has("[build] built in project")
        .stdout_has("[test] tested")
        .stdout_lacks("cleaned")
        .stderr_has("engine: entering ")
        .stderr_has("(found engine.yaml)");
    test.run();
    // The outputs and the record are next to the file, not in the directory typed in.
    assert!(test.path("project/out/app").is_file());
    assert!(test.path("project/.engine").is_dir());
    assert!(!test.path("project/src/deep/.engine").exists());
    // A file target is a path as if typed in the workflow's directory.
    test.engine(["status", "out/app"]).stdout_has("build").run();
}

#[test]
fn every_command_that_reads_a_workflow_finds_it() {
    let test = Test::new().file("engine.yml", PROJECT).in_dir("sub");
    test.engine(["run", "--progress", "none"]).run();
    test.engine(["check"])
        .stdout_has("ok: engine.yml (3 tasks)")
        .run();
    test.engine(["plan"])
        .stdout_has("build")
        .stdout_lacks("clean")
        .run();
    test.engine(["graph"]).stdout_has("test").run();
    test.engine(["list"]).stdout_has("clean").run();
    test.engine(["runs"]).stdout_has("succeeded").run();
    test.engine(["status", "test"]).stdout_has("build").run();
    test.engine(["logs", "test"]).stdout("tested\n").run();
}

#[test]
fn a_first_argument_that_is_not_a_file_is_a_task() {
    Test::new()
        .file("engine.yaml", PROJECT)
        .args(["run", "clean", "--progress", "none"])
        .stdout("[clean] cleaned\n")
        .run();
}

#[test]
fn dash_f_names_the_file_and_every_argument_is_a_task() {
    let test = Test::new()
        .file(
            "engine.yaml",
            "tasks:\n  wrong:\n    run: echo wrong file\n",
        )
        .file("ci/other.yaml", PROJECT);
    test.engine(["run", "-f", "ci/other.yaml", "clean", "--progress", "none"])
        .stdout("[clean] cleaned\n")
        .run();
    test.engine(["list", "--file", "ci/other.yaml"])
        .stdout_has("clean")
        .stdout_lacks("wrong")
        .run();
}

#[test]
fn both_default_names_in_one_directory_is_an_error_naming_both() {
    Test::new()
        .file("engine.yaml", PROJECT)
        .file("engine.yml", PROJECT)
        .args(["run"])
        .status(2)
        .stdout("")
        .stderr_has("both `engine.yaml` and `engine.yml` are in ")
        .stderr_has("hint: remove or rename one, or name the file")
        .run();
}

#[test]
fn no_file_says_where_it_looked_and_how_to_name_one() {
    // Nothing above the temp dir is expected to hold an `engine.yaml`.
    Test::new()
        .in_dir("empty")
        .args(["plan"])
        .status(2)
        .stdout("")
        .stderr_has("error: no workflow file: neither `engine.yaml` nor `engine.yml` is in ")
        .stderr_has("or any directory above it")
        .stderr_has("hint: name the file, like `engine run -f path/to/workflow.yaml`")
        .run();
    Test::new()
        .args(["run", "-f", "missing.yaml"])
        .status(2)
        .stdout("")
        .stderr_has("error: `missing.yaml` does not exist")
        .run();
}

#[test]
fn the_default_task_is_what_runs_when_none_is_named() {
    Test::run_of(
        "
tasks:
  default:
    depends_on: [test]
  build:
    run: echo built
  test:
    depends_on: [build]
    run: echo tested
  lint:
    run: echo linted
",
    )
    .stdout_has("[build] built")
    .stdout_has("[test] tested")
    .stdout_lacks("linted")
    .run();
}

#[test]
fn manual_tasks_run_only_when_named_or_needed() {
    let test = Test::run_of(
        "
tasks:
  clean:
    manual: true
    run: echo cleaned
  generate:
    manual: true
    run: echo generated
  build:
    depends_on: [generate]
    run: echo built
",
    );
    // Needed by a task that runs: it runs.
    test.again()
        .stdout_has("[generate] generated")
        .stdout_has("[build] built")
        .stdout_lacks("cleaned")
        .run();
    test.again()
        .args(["clean"])
        .stdout("[clean] cleaned\n")
        .run();
}
