//! What a task offers the command line: `aliases`, `group`, private `_names`, `manual`, the
//! `default` task, `confirm` and `requires`; how `engine list`, `engine check` and
//! `engine plan` show them, and the located errors.

use engine_test_support::{Test, WORKFLOW};

/// Every key this part of the format has.
const EVERY_KEY: &str = r"
description: a release process
tasks:
  default:
    depends_on: [test]
  build:
    aliases: [b, compile]
    group: dev
    description: compile everything
    run: make
  test:
    aliases: [t]
    group: dev
    depends_on: [build, _fixtures]
    run: make test
  _fixtures:
    run: make fixtures
  clean:
    manual: true
    run: make clean
  deploy:
    group: release
    manual: true
    description: ship it
    confirm: Deploy to production?
    requires:
      - run: test -f .env
        message: run ./configure first
      - run: command -v rsync
    shell: bash
    run: rsync -a out/ host:/srv/
";

#[test]
fn check_accepts_every_key() {
    Test::new()
        .workflow(EVERY_KEY)
        .args(["check", WORKFLOW, "--target", "b", "--target", "_fixtures"])
        .stdout(
            "ok: workflow.yaml (6 tasks)\n  target `b`: task `build`\n  target `_fixtures`: task `_fixtures`\n",
        )
        .stderr("")
        .run();
}

#[test]
fn list_groups_tasks_marks_them_and_hides_private_ones() {
    Test::new()
        .workflow(EVERY_KEY)
        .args(["list", WORKFLOW])
        .stdout(
            "\
workflow: a release process
default   thread   [default]
clean     process  [manual]
dev:
  build   process  compile everything  [alias: b, compile]
  test    process  [alias: t]
release:
  deploy  process  ship it  [manual]
",
        )
        .stderr("")
        .run();
}

#[test]
fn plan_of_an_alias_shows_the_task_its_checks_and_the_shell_it_runs_in() {
    Test::new()
        .workflow(EVERY_KEY)
        .args(["plan", WORKFLOW, "b"])
        .stdout_has("  build  [process]\n      $ make\n")
        .run();
    Test::new()
        .workflow(EVERY_KEY)
        .args(["plan", WORKFLOW, "deploy"])
        .stdout_has(
            "      confirm: Deploy to production?\n      requires: test -f .env\n      requires: command -v rsync\n      bash -e -o pipefail$ rsync -a out/ host:/srv/\n",
        )
        .run();
}

#[test]
fn plan_without_a_task_shows_the_default_task_and_what_it_needs() {
    Test::new()
        .workflow(EVERY_KEY)
        .args(["plan", WORKFLOW])
        .stdout_has("4 tasks in 3 waves")
        .stdout_lacks("clean")
        .stdout_lacks("deploy")
        .run();
}

#[test]
fn an_alias_that_is_a_task_name_or_another_alias_is_a_located_error() {
    Test::new()
        .workflow(
            "\
tasks:
  build:
    aliases: [test, b]
    run: make
  test:
    aliases: [b]
    run: make test
  lint:
    aliases: [Lint]
    run: make lint
",
        )
        .args(["check", WORKFLOW])
        .status(2)
        .stderr_has("alias `test` of task `build` is the name of another task")
        .stderr_has("workflow.yaml:3:15")
        .stderr_has("alias `b` of task `test` is also an alias of `build`")
        .stderr_has("workflow.yaml:6:15")
        .stderr_has("invalid alias `Lint` of task `lint`")
        .stderr_has("error: 3 problems in 1 file")
        .run();
}

#[test]
fn requires_on_a_task_without_a_process_is_a_located_error() {
    Test::new()
        .workflow(
            "\
tasks:
  join:
    requires: [{ run: test -f x }]
  glue:
    script: print(1);
    requires:
      - run: test -f ${{ vars.x }}
",
        )
        .args(["check", WORKFLOW])
        .status(2)
        .stderr_has("`requires` of task `join` needs a process task")
        .stderr_has("put `requires` on a task it")
        .stderr_has("`requires` of task `glue` needs a process task")
        .stderr_has("give the task `isolation: process`")
        .stderr_has("a `requires` command of task `glue` has a template")
        .run();
}

#[test]
fn private_names_start_with_one_underscore_and_a_letter() {
    Test::new()
        .workflow("tasks:\n  __x:\n    run: echo\n")
        .args(["check", WORKFLOW])
        .status(2)
        .stderr_has("invalid task name `__x`")
        .run();
}

#[test]
fn list_shows_a_task_with_parameters_once_with_its_signature() {
    Test::new()
        .workflow(
            r#"
tasks:
  build:
    params: {profile: debug}
    run: echo build ${{ params.profile }}
  deploy:
    description: ship it
    params:
      env: {values: [dev, prod]}
      version: "1.0"
    depends_on: [{task: build, with: {profile: release}}]
    run: echo deploy ${{ params.env }}
"#,
        )
        .args(["list", WORKFLOW])
        .stdout(
            "\
build   process  [params: [profile=debug]]
deploy  process  ship it  [params: env=<dev|prod> [version=1.0]]
",
        )
        .run();
}
