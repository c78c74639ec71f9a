//! What a task sees: its environment, its working directory, its files; and scripts moved
//! into a child process.

use std::time::Duration;

use engine_test_support::Test;

use crate::process::assert_gone;

const ENV: &str = r#"
env: { A: workflow, B: workflow, C: workflow }
defaults:
  env: { B: defaults, C: defaults }
tasks:
  shell:
    env: { C: task }
    run: echo "A=$A B=$B C=$C task=$ENGINE_TASK workflow=$ENGINE_WORKFLOW run=$ENGINE_RUN_ID"
  script:
    env: { C: task }
    script: |
      print(`A=${env("A")} B=${env("B")} C=${env("C")} task=${env("ENGINE_TASK")} workflow=${env("ENGINE_WORKFLOW")} run=${env("ENGINE_RUN_ID")}`);
  isolated:
    isolation: process
    env: { C: task }
    script: |
      print(`A=${env("A")} B=${env("B")} C=${env("C")} task=${env("ENGINE_TASK")} workflow=${env("ENGINE_WORKFLOW")} run=${env("ENGINE_RUN_ID")}`);
"#;

#[test]
fn tasks_see_workflow_defaults_and_task_env_in_that_order() {
    let test = Test::run_of(ENV);
    let run = test.run();
    let run_id = run.events_of("run_started")[0]["run_id"]
        .as_str()
        .expect("run id")
        .to_owned();
    let workflow = test.path("workflow.yaml");
    for task in ["shell", "script", "isolated"] {
        run.stdout_has(&format!(
            "[{task}] A=workflow B=defaults C=task task={task} workflow={} run={run_id}",
            workflow.display()
        ));
    }
}

#[test]
fn the_engine_environment_reaches_tasks_unless_the_workflow_overrides_it() {
    let test = Test::run_of(
        r#"
env: { OVERRIDDEN: workflow }
tasks:
  shell:
    run: echo "$FROM_OUTSIDE $OVERRIDDEN"
  script:
    script: 'print(`${env("FROM_OUTSIDE")} ${env("OVERRIDDEN")} ${env("NOT_SET_ANYWHERE_X") == ()}`)'
"#,
    );
    test.wrapper(&["env", "FROM_OUTSIDE=outside", "OVERRIDDEN=outside"])
        .status(0)
        .stdout_has("[shell] outside workflow")
        .stdout_has("[script] outside workflow true")
        .run();
}

#[test]
fn cwd_is_relative_to_the_workflow_file_and_scripts_use_it() {
    let test = Test::run_of(
        r#"
defaults:
  cwd: work
tasks:
  shell:
    run: pwd; cat input.txt
  writer:
    script: 'write_file("written.txt", "from the script"); print(read_file("input.txt"))'
  reader:
    depends_on: writer
    run: cat written.txt
  top:
    cwd: .
    run: pwd
"#,
    )
    .file("work/input.txt", "the input\n");
    // Run from another directory: paths follow the workflow file, not the engine's cwd.
    let work = test.path("work").canonicalize().expect("work dir");
    let top = test.dir().canonicalize().expect("dir");
    Test::new()
        .engine_run(&test.path("workflow.yaml"))
        .status(0)
        .stdout_has(&format!("[shell] {}", work.display()))
        .stdout_has("[shell] the input")
        .stdout_has("[writer] the input")
        .stdout_has("[reader] from the script")
        .stdout_has(&format!("[top] {}\n", top.display()))
        .run();
    assert_eq!(
        std::fs::read_to_string(work.join("written.txt")).expect("written"),
        "from the script"
    );
}

#[test]
fn the_state_dir_defaults_to_dot_engine_beside_the_workflow() {
    let test = Test::run_of(
        "
tasks:
  hello:
    run: echo hello
",
    )
    .default_state_dir();
    let run = test.run();
    let log = run.log_dir(&test.path(".engine")).join("hello.log");
    assert_eq!(std::fs::read_to_string(log).expect("log"), "hello\n");
}

#[test]
fn a_script_with_process_isolation_runs_in_a_child_process() {
    let run = Test::run_of(
        r#"
tasks:
  isolated:
    isolation: process
    script: 'print("in a child"); print(env("ENGINE_TASK"))'
"#,
    )
    .status(0)
    .task_status("isolated", "succeeded")
    .stdout_has("[isolated] in a child")
    .stdout_has("[isolated] isolated")
    .run();
    let started = &run.events_of("task_started")[0];
    assert_eq!(started["isolation"], "process");
    assert!(started["pid"].is_number(), "a child process: {started}");
}

#[test]
fn a_script_in_a_child_process_is_killed_by_its_timeout() {
    let run = Test::run_of(
        r#"
tasks:
  spin:
    isolation: process
    timeout: 500ms
    script: 'print("spinning"); loop { }'
"#,
    )
    .args(["--grace", "300ms"])
    .status(1)
    .task_status("spin", "timed_out")
    .stderr_has("│ spinning")
    .faster_than(Duration::from_secs(5))
    .run();
    assert_gone(run.task_pid("spin"), "engine", Duration::from_secs(3));
}

#[test]
fn a_failing_script_in_a_child_process_fails_with_its_message() {
    Test::run_of(
        r#"
tasks:
  thrower:
    isolation: process
    script: 'throw "bad input in a child"'
"#,
    )
    .status(1)
    .task_status("thrower", "failed")
    .stderr_has("bad input in a child")
    .run();
}

#[test]
fn stdin_is_empty_and_shell_picks_the_program() {
    Test::run_of(
        r#"
tasks:
  reads_stdin:
    timeout: 20s
    run: cat; echo "stdin was empty"
  bash:
    shell: bash
    run: '[[ -n "$BASH_VERSION" ]] && echo "in bash"'
"#,
    )
    .status(0)
    .task_status("reads_stdin", "succeeded")
    .stdout_has("[reads_stdin] stdin was empty")
    .stdout_has("[bash] in bash")
    .run();
}

#[test]
fn a_shell_with_options_runs_the_command_with_them() {
    Test::run_of(
        r#"
tasks:
  strict:
    shell: sh -e
    run: false; echo never
  words:
    shell: env GREETING=hello sh
    run: echo "$GREETING from the shell's own words" | cat
"#,
    )
    .args(["--keep-going"])
    .status(1)
    .task_status("strict", "failed")
    .task_status("words", "succeeded")
    .stdout_has("hello from the shell's own words")
    .stdout_lacks("never")
    .stderr_lacks("was not found")
    .run();
}

/// engine remembers where it found a program on `PATH`; a task that puts a program of that
/// name in a directory ahead on `PATH` (a build making its own tool) makes later tasks run
/// the new one, as make would, whether that directory existed when the run started or not.
#[test]
fn a_program_a_task_puts_ahead_on_path_is_the_one_later_tasks_run() {
    let test = Test::run_of(
        r"
tasks:
  before: { run: engine-test-tool }
  make_first:
    depends_on: [before]
    run: printf '#!/bin/sh\necho first\n' > first/engine-test-tool && chmod +x first/engine-test-tool
  between: { depends_on: [make_first], run: engine-test-tool }
  make_zeroth:
    depends_on: [between]
    run: mkdir zeroth && printf '#!/bin/sh\necho zeroth\n' > zeroth/engine-test-tool && chmod +x zeroth/engine-test-tool
  after: { depends_on: [make_zeroth], run: engine-test-tool }
",
    );
    for dir in ["first", "second"] {
        std::fs::create_dir(test.path(dir)).expect("mkdir");
    }
    let tool = test.path("second/engine-test-tool");
    std::fs::write(&tool, "#!/bin/sh\necho second\n").expect("write");
    std::fs::set_permissions(&tool, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let path = format!(
        "PATH={}:{}:{}:{}",
        test.path("zeroth").display(),
        test.path("first").display(),
        test.path("second").display(),
        std::env::var("PATH").expect("PATH")
    );
    test.wrapper(&["env", &path])
        .status(0)
        .stdout_has("[before] second")
        .stdout_has("[between] first")
        .stdout_has("[after] zeroth")
        .run();
}
