//! Files that are not workflows, or are hostile: each is refused with exit code 2 and a
//! clear message, never a panic. A huge valid file still passes.

use std::fmt::Write;
use std::io::Write as _;

use engine_test_support::{Test, WORKFLOW, engine};

#[test]
fn a_missing_file() {
    Test::new()
        .args(["check", "nope.yaml"])
        .status(2)
        .stdout("")
        .stderr_has("`nope.yaml` does not exist")
        .stderr_has("error: 1 problem in 1 file")
        .run();
    // Not "the workflow is invalid": there is no workflow to be invalid.
    for command in ["plan", "run", "list", "graph"] {
        Test::new()
            .args([command, "nope.yaml"])
            .status(2)
            .stdout("")
            .stderr(
                "error: `nope.yaml` does not exist\n  \
                 hint: check the path; workflow files usually end in `.yaml`\n",
            )
            .run();
    }
}

#[test]
fn a_workflow_that_is_not_a_regular_file_is_refused() {
    // `engine run /dev/stdin` used to run it, with its record in `/dev/.engine`.
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = std::process::Command::new(engine())
        .args(["run", "/dev/stdin", "--state-dir"])
        .arg(dir.path().join("state"))
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start engine");
    let mut stdin = child.stdin.take().expect("piped stdin");
    // The engine may exit before reading: a closed pipe is fine.
    let _ = stdin.write_all(b"tasks:\n  t:\n    run: touch ran\n");
    drop(stdin);
    let output = child.wait_with_output().expect("wait for engine");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("error: `/dev/stdin` is a pipe, not a workflow file"),
        "{stderr}"
    );
    assert!(stderr.contains("save the workflow in a file"), "{stderr}");
    assert!(!dir.path().join("ran").exists(), "the task ran");
    assert!(!dir.path().join("state").exists(), "the state dir was made");
    // A device is refused by every command, `check` included.
    Test::new()
        .args(["check", "/dev/null"])
        .status(2)
        .stderr_has("`/dev/null` is a device, not a workflow file")
        .run();
}

#[test]
fn a_directory() {
    Test::new()
        .file("flows/keep", "")
        .args(["check", "flows"])
        .status(2)
        .stderr_has("`flows` is a directory, not a workflow file")
        .run();
}

#[test]
fn bytes_that_are_not_utf8() {
    Test::new()
        .file(WORKFLOW, b"tasks:\n  caf\xe9:\n    run: echo\n")
        .args(["check", WORKFLOW])
        .status(2)
        .stderr_has("engine::not_utf8")
        .stderr_has("the file is not valid UTF-8")
        .stderr_has("[workflow.yaml:2:6]")
        .run();
}

#[test]
fn an_empty_file() {
    for text in ["", "\n\n", "# only a comment\n"] {
        Test::new()
            .workflow(text)
            .args(["check", WORKFLOW])
            .status(2)
            .stderr_has("workflow.yaml:\n")
            .stderr_has("the workflow file is empty")
            .run();
    }
}

#[test]
fn every_command_refuses_an_invalid_file() {
    for command in ["plan", "graph", "list"] {
        Test::new()
            .workflow("tasks:\n  a:\n    isolation: thread\n    run: echo\n")
            .args([command, WORKFLOW])
            .status(2)
            .stdout("")
            .stderr_has("engine::run_on_thread")
            .stderr_has("nothing was run")
            .run();
    }
}

#[test]
fn an_alias_bomb_is_refused() {
    // A billion laughs: each level holds nine references to the one before.
    let mut yaml = String::from("lol0: &lol0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..10 {
        let refs = vec![format!("*lol{}", level - 1); 9].join(", ");
        let _ = writeln!(yaml, "lol{level}: &lol{level} [{refs}]");
    }
    yaml.push_str("tasks:\n  a:\n    env: { X: x }\n");
    Test::new()
        .workflow(&yaml)
        .args(["check", WORKFLOW])
        .status(2)
        .stderr_has("engine::too_complex")
        .run();
}

#[test]
fn an_alias_bomb_inside_a_task_is_refused() {
    let mut yaml = String::from(
        "tasks:\n  a:\n    env: &e0 { A: x, B: x, C: x, D: x, E: x, F: x, G: x, H: x }\n",
    );
    for level in 1..10 {
        let _ = writeln!(
            yaml,
            "  t{level}:\n    description: &e{level} [{}]",
            vec![format!("*e{}", level - 1); 9].join(", ")
        );
    }
    Test::new()
        .workflow(&yaml)
        .args(["check", WORKFLOW])
        .status(2)
        .stderr_has("engine::too_complex")
        .run();
}

#[test]
fn ten_thousand_levels_of_nesting_are_refused() {
    let lists = format!("tasks: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    let maps = format!(
        "tasks:\n  a:\n    env: {}x{}\n",
        "{a: ".repeat(10_000),
        "}".repeat(10_000)
    );
    let mut block = String::from("tasks:\n");
    for depth in 1..=10_000 {
        let _ = writeln!(block, "{}- ", " ".repeat(depth));
    }
    for yaml in [lists, maps, block] {
        Test::new()
            .workflow(&yaml)
            .args(["check", WORKFLOW])
            .status(2)
            .stderr_has("engine::too_complex")
            .run();
    }
}

#[test]
fn a_hundred_thousand_tasks_check_ok() {
    // Layers of 100 tasks, each depending on two tasks of the layer before: about 800,000
    // YAML nodes, far past serde-saphyr's default budget of 250,000.
    let mut yaml = String::with_capacity(6_000_000);
    yaml.push_str("name: huge\ntasks:\n");
    for index in 0..100_000 {
        let _ = writeln!(yaml, "  t{index}:\n    run: echo {index}");
        if index >= 100 {
            let layer_start = (index / 100 - 1) * 100;
            let _ = writeln!(
                yaml,
                "    depends_on: [t{}, t{}]",
                layer_start + index % 100,
                layer_start + (index + 1) % 100
            );
        }
    }
    Test::new()
        .workflow(&yaml)
        .args(["check", WORKFLOW])
        .stdout("ok: workflow.yaml (100000 tasks)\n")
        .stderr("")
        .run();
}
