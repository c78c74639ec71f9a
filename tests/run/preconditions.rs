//! `requires` (checked right before a task starts, in its directory and environment) and
//! `confirm` (asked on the terminal before the run starts; refused without one unless
//! `--yes`).

use std::io::Write;
use std::process::{Command, Stdio};

use engine_test_support::{Test, engine};

const DEPLOY: &str = r#"
tasks:
  configure:
    manual: true
    run: touch .env
  deploy:
    cwd: site
    env: { MODE: prod }
    requires:
      - run: test "$MODE" = prod
        message: MODE must be prod
      - run: test -f ../.env
        message: run configure first, not $MODE
    run: echo deployed
  announce:
    depends_on: [deploy]
    run: echo announced
"#;

#[test]
fn a_failing_requirement_fails_the_task_with_its_message_and_nothing_else_runs() {
    let test = Test::run_of(DEPLOY).file("site/keep", "");
    test.again()
        .status(1)
        .task_status("deploy", "failed")
        .skipped("announce", "dependency_failed")
        .stdout_lacks("deployed")
        // The message is said as written: nothing in it is expanded.
        .stderr_has("requirement not met: run configure first, not $MODE")
        .run();
    test.again().args(["configure"]).run();
    test.again()
        .stdout_has("[deploy] deployed")
        .stdout_has("[announce] announced")
        .stdout_lacks("requirement")
        .run();
}

const CONFIRMED: &str = r"
tasks:
  build:
    run: echo built
  deploy:
    depends_on: [build]
    confirm: Deploy to production?
    run: echo deployed
";

#[test]
fn confirm_without_a_terminal_refuses_unless_yes() {
    let test = Test::run_of(CONFIRMED);
    test.again()
        .status(2)
        .stdout("")
        .stderr_has("task `deploy` asks \"Deploy to production?\", and there is no terminal")
        .stderr_has("hint: `engine run --yes`")
        .not_started("build")
        .run();
    test.again()
        .args(["--yes"])
        .stdout_has("[deploy] deployed")
        .run();
    // A run that does not select the task asks nothing.
    test.again().args(["build"]).stdout("[build] built\n").run();
}

/// `engine run` on a terminal (a pty made by `script`), answering `answer`.
fn on_a_terminal(dir: &std::path::Path, answer: &str) -> std::process::Output {
    let command = format!(
        "{} run workflow.yaml --progress none --no-record",
        engine().display()
    );
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start script (util-linux)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(answer.as_bytes())
        .expect("answer");
    child.wait_with_output().expect("wait for script")
}

#[test]
fn confirm_asks_on_a_terminal_and_only_yes_runs() {
    let test = Test::new().workflow(CONFIRMED);
    let yes = on_a_terminal(test.dir(), "y\n");
    let said = String::from_utf8_lossy(&yes.stdout);
    assert_eq!(yes.status.code(), Some(0), "{said}");
    assert!(
        said.contains("deploy: Deploy to production? [y/N]"),
        "{said}"
    );
    assert!(said.contains("[deploy] deployed"), "{said}");
    let no = on_a_terminal(test.dir(), "n\n");
    let said = String::from_utf8_lossy(&no.stdout);
    assert_eq!(no.status.code(), Some(1), "{said}");
    assert!(
        said.contains("task `deploy` was not confirmed: nothing was run"),
        "{said}"
    );
    assert!(!said.contains("[build] built"), "{said}");
}
