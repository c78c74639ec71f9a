//! Task parameters: values from the command line and from dependencies, each set of values
//! its own task with its own record; `--` arguments; the errors before anything runs.

use engine_test_support::{Test, WORKFLOW};

const DEPLOY: &str = r#"
tasks:
  build:
    params: { profile: debug }
    run: echo "${{ params.profile }}" >> "built-${{ params.profile }}"
    outputs: ["built-${{ params.profile }}"]
  deploy:
    params:
      env: { values: [dev, prod] }
      version: "1.0"
    depends_on: [{ task: build, with: { profile: release } }]
    run: echo "${{ params.env }} ${{ params.version }}" >> deployed
"#;

#[test]
fn command_line_values_set_the_params_of_the_task_named_before_them() {
    let test = Test::run_of(DEPLOY)
        .args(["deploy", "env=prod", "version=1.2.3"])
        .status(0)
        .task_status("build(profile=release)", "succeeded")
        .task_status("deploy(env=prod,version=1.2.3)", "succeeded")
        .not_started("build");
    test.run();
    let deployed = std::fs::read_to_string(test.path("deployed")).expect("deployed");
    assert_eq!(deployed, "prod 1.2.3\n");
    assert!(test.path("built-release").exists());
    assert!(!test.path("built-debug").exists());
}

#[test]
fn two_instantiations_of_one_task_are_two_tasks_with_their_own_records() {
    let yaml = r#"
tasks:
  build:
    params: { profile: debug }
    run: echo "${{ params.profile }}" >> "built-${{ params.profile }}"
    outputs: ["built-${{ params.profile }}"]
  release:
    depends_on: [{ task: build, with: { profile: release } }]
  both:
    depends_on: [build, release, { task: build, with: { profile: "${{ vars.other }}" } }]
vars:
  other: release
"#;
    let test = Test::run_of(yaml)
        .args(["both"])
        .status(0)
        .task_status("build", "succeeded")
        .task_status("build(profile=release)", "succeeded");
    let run = test.run();
    // The same values make one task, however many dependencies name them.
    let mut started = run.started_order();
    started.retain(|name| name.starts_with("build"));
    started.sort();
    assert_eq!(started, ["build", "build(profile=release)"]);
    assert_eq!(
        std::fs::read_to_string(test.path("built-debug")).expect("debug"),
        "debug\n"
    );
    assert_eq!(
        std::fs::read_to_string(test.path("built-release")).expect("release"),
        "release\n"
    );
    // Each instance is up to date on its own record.
    test.again()
        .status(0)
        .skipped("build", "up_to_date")
        .skipped("build(profile=release)", "up_to_date")
        .run();
    std::fs::remove_file(test.path("built-release")).expect("remove");
    test.again()
        .status(0)
        .skipped("build", "up_to_date")
        .task_status("build(profile=release)", "succeeded")
        .run();
}

#[test]
fn a_task_nobody_gives_values_runs_with_its_defaults() {
    let test = Test::run_of(DEPLOY.replace("{ values: [dev, prod] }", "dev").as_str())
        .status(0)
        .task_status("build", "succeeded")
        .task_status("deploy", "succeeded");
    test.run();
    assert_eq!(
        std::fs::read_to_string(test.path("deployed")).expect("deployed"),
        "dev 1.0\n"
    );
}

#[test]
fn args_after_the_double_dash_are_one_shell_word_each() {
    let test = Test::new()
        .workflow(
            r#"
tasks:
  show:
    run: for word in ${{ args }}; do echo "<$word>"; done
"#,
        )
        .engine([
            "run",
            WORKFLOW,
            "--no-record",
            "--progress",
            "plain",
            "show",
            "--",
            "a b",
            "it's",
            "\"q\"",
            "$HOME",
        ])
        .status(0)
        .stdout_has("<a b>")
        .stdout_has("<it's>")
        .stdout_has("<\"q\">")
        .stdout_has("<$HOME>");
    test.run();
}

#[test]
fn a_missing_required_value_is_an_error_with_the_signature() {
    let test = Test::run_of(DEPLOY)
        .args(["deploy"])
        .status(2)
        .stderr_has("`deploy` needs env: deploy env=<dev|prod> [version=1.0]")
        .stderr_has("`deploy env=...`");
    test.run();
    assert!(!test.path("built-release").exists());
}

#[test]
fn running_every_task_needs_every_required_value() {
    let test = Test::run_of(DEPLOY)
        .status(2)
        .stderr_has("`deploy` needs env");
    test.run();
    assert!(!test.path("built-release").exists());
    // Unselected, it needs nothing.
    Test::run_of(DEPLOY)
        .args(["build"])
        .status(0)
        .task_status("build", "succeeded")
        .run();
}

#[test]
fn an_unknown_name_is_an_error_with_a_suggestion() {
    let test = Test::run_of(DEPLOY)
        .args(["deploy", "evn=prod"])
        .status(2)
        .stderr_has("`deploy` has no parameter `evn`: deploy env=<dev|prod> [version=1.0]")
        .stderr_has("did you mean `env`?");
    test.run();
    assert!(!test.path("built-release").exists());
}

#[test]
fn a_disallowed_value_lists_the_allowed_ones() {
    let test = Test::run_of(DEPLOY)
        .args(["deploy", "env=qa"])
        .status(2)
        .stderr_has("`deploy` takes env=dev|prod, not `qa`")
        .stderr_has("use one of: dev, prod");
    test.run();
    assert!(!test.path("built-release").exists());
}

#[test]
fn a_value_without_a_task_name_is_an_error() {
    let test = Test::run_of(DEPLOY)
        .args(["env=prod"])
        .status(2)
        .stderr_has("`env=prod` is a parameter, given without a task name");
    test.run();
    assert!(!test.path("built-release").exists());
}

#[test]
fn a_value_for_a_task_without_params_is_an_error() {
    Test::run_of("tasks:\n  build:\n    run: echo built\n")
        .args(["build", "profile=x"])
        .status(2)
        .stderr_has("`build` has no parameters, but got `profile`")
        .run();
}

#[test]
fn secrets_in_param_values_are_masked() {
    let yaml = r#"
secrets: [TOKEN]
env: { TOKEN: hunter2secret }
tasks:
  show:
    params: { word: ~ }
    run: echo "${{ params.word }}"
"#;
    Test::run_of(yaml)
        .args(["show", "word=hunter2secret"])
        .status(0)
        .stdout_lacks("hunter2secret")
        .stderr_lacks("hunter2secret")
        .stderr_has("show(word=***)")
        .run();
}

#[test]
fn a_secret_in_a_refused_value_is_masked_in_the_error() {
    let yaml = r#"
secrets: [TOKEN]
env: { TOKEN: hunter2secret }
tasks:
  show:
    params: { word: { values: [a, b] } }
    run: echo "${{ params.word }}"
"#;
    Test::run_of(yaml)
        .args(["show", "word=hunter2secret"])
        .status(2)
        .stderr_has("`show` takes word=a|b, not `***`")
        .stderr_lacks("hunter2secret")
        .run();
}

#[test]
fn resume_continues_the_instances_the_run_named() {
    let yaml = r#"
tasks:
  build:
    params: { profile: debug }
    run: echo "${{ params.profile }}" >> "built-${{ params.profile }}"
  deploy:
    params: { env: ~ }
    depends_on: [{ task: build, with: { profile: release } }]
    run: test -f "ok-${{ params.env }}"
"#;
    let test = Test::run_of(yaml)
        .args(["deploy", "env=prod"])
        .status(1)
        .task_status("build(profile=release)", "succeeded")
        .task_status("deploy(env=prod)", "failed");
    // Without the task on the command line: the record names the instance.
    let (_, next) = test.run_then();
    std::fs::write(next.path("ok-prod"), "").expect("write");
    let resumed = next
        .args(["--resume"])
        .status(0)
        .not_started("build(profile=release)")
        .task_status("deploy(env=prod)", "succeeded");
    resumed.run();
    assert_eq!(
        std::fs::read_to_string(resumed.path("built-release")).expect("built"),
        "release\n"
    );
}

#[test]
fn force_by_the_written_name_forces_every_instance() {
    let yaml = r#"
tasks:
  build:
    params: { profile: debug }
    run: echo "${{ params.profile }}" >> "built-${{ params.profile }}"
    outputs: ["built-${{ params.profile }}"]
  both:
    depends_on: [{ task: build, with: { profile: release } }, { task: build, with: { profile: test } }]
"#;
    let test = Test::run_of(yaml)
        .args(["both"])
        .status(0)
        .task_status("build(profile=release)", "succeeded")
        .task_status("build(profile=test)", "succeeded");
    test.run();
    test.again()
        .args(["--force", "build"])
        .status(0)
        .task_status("build(profile=release)", "succeeded")
        .task_status("build(profile=test)", "succeeded")
        .run();
    assert_eq!(
        std::fs::read_to_string(test.path("built-release")).expect("release"),
        "release\nrelease\n"
    );
    // One instance by its full name.
    test.again()
        .args(["--force", "build(profile=test)"])
        .status(0)
        .skipped("build(profile=release)", "up_to_date")
        .task_status("build(profile=test)", "succeeded")
        .run();
}

#[test]
fn resume_keeps_the_args_after_the_double_dash() {
    let yaml = r"
tasks:
  first:
    run: echo first >> first.txt
  show:
    depends_on: [first]
    run: test -f ok && echo ${{ args }} > shown.txt
";
    // The state dir is named before `--`: everything after it is the task's.
    let test = Test::new().workflow(yaml).default_state_dir();
    test.engine([
        "run",
        WORKFLOW,
        "--state-dir",
        "state",
        "show",
        "--",
        "two words",
        "x",
    ])
    .status(1)
    .run();
    std::fs::write(test.path("ok"), "").expect("write");
    test.engine(["run", WORKFLOW, "--state-dir", "state", "--resume"])
        .status(0)
        .stderr_has("1 done before (resumed)")
        .run();
    assert_eq!(
        std::fs::read_to_string(test.path("shown.txt")).expect("shown"),
        "two words x\n"
    );
    assert_eq!(
        std::fs::read_to_string(test.path("first.txt")).expect("first"),
        "first\n"
    );
}
