//! Secrets never leak (issue 13): failure messages, results, output cut into lines, empty
//! secrets, the modes of what the state dir keeps, and one sweep over every failure path that
//! looks for the value everywhere the engine writes.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use engine_test_support::{Output, Test, files_under};

const SECRET: &str = "supersecretvalue123";

/// Whether `haystack` holds `needle`.
fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

/// Expects `text` nowhere: not on the terminal, in the events, or in any file under the state
/// dir (logs, the record and its journal files as bytes, results, job files).
#[track_caller]
fn nowhere(test: &Test, run: &Output, text: &str) {
    if run.stdout.contains(text) {
        run.fail(&format!("expected stdout not to contain {text:?}"));
    }
    if run.stderr.contains(text) {
        run.fail(&format!("expected stderr not to contain {text:?}"));
    }
    let events = std::fs::read(test.events_path()).expect("the events file");
    if holds(&events, text) {
        run.fail(&format!("the events hold {text:?}"));
    }
    let files = files_under(&test.state_dir());
    assert!(
        files.iter().any(|file| file.ends_with("record.sqlite")),
        "no record among {files:?}"
    );
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_default();
        if holds(&bytes, text) {
            run.fail(&format!("`{}` holds {text:?}", file.display()));
        }
    }
}

/// The message of `task`'s `task_finished` event.
fn message(run: &Output, task: &str) -> String {
    run.finished(task)["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn failure_messages_show_a_secret_as_stars() {
    let test = Test::run_of(
        r#"
secrets: [TOK]
tasks:
  template:
    run: echo ${{ parse_int(env.TOK) }}
  thrown:
    script: 'throw "x " + env("TOK");'
  cwd:
    cwd: /nonexistent/${{ env.TOK }}
    run: echo hi
  input:
    inputs: ["in-${{ env.TOK }}.txt"]
    run: echo hi
  command:
    run: ${{ env.TOK }}
  read:
    script: 'read_file("/nonexistent/" + env("TOK"));'
  write:
    script: 'write_file("/nonexistent/" + env("TOK"), "x");'
"#,
    )
    .args(["--keep-going"])
    .env("TOK", SECRET);
    let test = test
        .status(1)
        .task_status("template", "failed")
        .task_status("thrown", "failed")
        .task_status("cwd", "failed")
        .task_status("input", "failed")
        .task_status("command", "failed")
        .task_status("read", "failed")
        .task_status("write", "failed");
    let run = test.run();
    for (task, shown) in [
        ("template", "error parsing integer number '***'"),
        ("thrown", "x ***"),
        ("cwd", "`/nonexistent/***` does not exist"),
        ("input", "`in-***.txt` does not exist"),
        ("command", "command not found: `***`"),
        ("read", "read_file `/nonexistent/***`"),
        ("write", "write_file `/nonexistent/***`"),
    ] {
        let message = message(&run, task);
        assert!(message.contains(shown), "{task}: {message}");
    }
    nowhere(&test, &run, SECRET);
}

#[test]
fn a_secret_result_key_is_masked_and_the_results_file_is_private_and_gone() {
    let test = Test::run_of(
        r#"
secrets: [TOK]
tasks:
  set:
    run: |
      test -e "$ENGINE_RESULTS" || echo "no file yet"
      stat -c 'dir mode %a' "$(dirname "$ENGINE_RESULTS")"
      echo "$TOK=1" >> "$ENGINE_RESULTS"
      echo "key=$TOK" >> "$ENGINE_RESULTS"
"#,
    )
    .env("TOK", SECRET);
    // The task makes the file by writing it, in a directory only its user can open.
    let test = test
        .status(0)
        .stdout_has("no file yet")
        .stdout_has("dir mode 700");
    let run = test.run();
    let results = &run.finished("set")["results"];
    assert_eq!(results["***"], "1", "{results}");
    assert_eq!(results["key"], "***", "{results}");
    let run_dir = run.log_dir(&test.state_dir());
    let results_dir = run_dir.parent().expect("the run dir").join("results");
    let left = files_under(&results_dir);
    assert!(left.is_empty(), "results files left: {left:?}");
    nowhere(&test, &run, SECRET);
}

#[test]
fn a_secret_across_the_cut_of_a_long_line_is_masked_on_the_terminal_and_in_events() {
    // 65,530 bytes, then the secret across the 64 KiB cut of the line for display, then more
    // than one read of the pipe can hold: the cut comes before the line's end is read.
    let test = Test::run_of(
        r#"
secrets: [TOK]
tasks:
  long:
    run: printf '%65530s%s%100000s\n' x "$TOK" end
"#,
    )
    .args(["--output", "prefixed"])
    .env("TOK", SECRET);
    let test = test.status(0).stdout_has("x***");
    let run = test.run();
    // Neither half of it shows anywhere.
    nowhere(&test, &run, &SECRET[..6]);
    nowhere(&test, &run, &SECRET[6..]);
}

#[test]
fn an_empty_secret_is_refused_like_a_missing_one() {
    for value in [Some(""), None] {
        let mut test = Test::run_of("secrets: [TOK]\ntasks:\n  a:\n    run: touch ran\n");
        if let Some(value) = value {
            test = test.env("TOK", value);
        }
        let problem = if value.is_some() {
            "secret `TOK` is empty"
        } else {
            "secret `TOK` has no value"
        };
        let test = test.status(2).stderr_has(problem);
        test.run();
        assert!(!test.path("ran").exists(), "the task ran");
        assert!(!test.state_dir().exists(), "the state dir was made");
    }
}

#[test]
fn what_the_state_dir_keeps_of_a_run_is_private() {
    let test = Test::run_of(
        r#"
tasks:
  talk:
    run: echo hello; echo "k=v" >> "$ENGINE_RESULTS"
  script:
    script: print("hi")
"#,
    );
    test.run();
    let state = test.state_dir();
    let mode = |path: &Path| {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(&state), 0o700);
    let runs = state.join("runs");
    let mut dirs = vec![runs.clone()];
    let mut seen = 0;
    while let Some(dir) = dirs.pop() {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
        for entry in std::fs::read_dir(&dir).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                seen += 1;
                assert_eq!(mode(&path), 0o600, "{}", path.display());
            }
        }
    }
    assert!(seen >= 2, "the logs were not found");
    assert_eq!(mode(&test.events_path()), 0o600);
}

/// Every failure path with a secret declared; the value is looked for on the terminal, in
/// the events, the logs, the record (as bytes) and every other file under the state dir.
#[test]
fn no_failure_path_leaks_a_secret_anywhere() {
    let test = Test::run_of(
        r#"
secrets: [TOK, FILED]
env_file: secrets.env
tasks:
  template:
    run: echo ${{ parse_int(env.TOK) }}
  condition:
    if: ${{ parse_int(env.FILED) > 1 }}
    run: echo never
  thrown:
    script: 'throw "x " + env("TOK");'
  thrown_in_process:
    isolation: process
    script: 'throw "x " + env("FILED");'
  cwd:
    cwd: /nonexistent/${{ env.TOK }}
    run: echo hi
  input:
    inputs: ["in-${{ env.FILED }}.txt"]
    run: echo hi
  output:
    outputs: ["out-${{ env.TOK }}.txt"]
    run: echo no output
  command:
    run: ${{ env.TOK }}
  read:
    script: 'read_file("/nonexistent/" + env("TOK"));'
  write:
    script: 'write_file("/nonexistent/" + env("FILED"), "x");'
  results:
    run: echo "$TOK=1" >> "$ENGINE_RESULTS"; echo "k=$FILED" >> "$ENGINE_RESULTS"; exit 4
  retried:
    retries: 1
    retry_delay: 10ms
    run: echo "$TOK" >&2; echo "$FILED"; printf '%65530s%s' x "$TOK"; exit 3
  printed_by_script:
    script: 'print(env("TOK")); result("k", env("FILED")); throw env("TOK");'
  timed_out:
    timeout: 1s
    run: echo "$TOK"; exec sleep 30
"#,
    )
    .file("secrets.env", "FILED=filedsecretvalue456\n")
    .args(["--keep-going", "--output", "prefixed"])
    .env("TOK", SECRET);
    let mut test = test.status(1);
    for task in [
        "template",
        "condition",
        "thrown",
        "thrown_in_process",
        "cwd",
        "input",
        "output",
        "command",
        "read",
        "write",
        "results",
        "retried",
        "printed_by_script",
    ] {
        test = test.task_status(task, "failed");
    }
    let test = test.task_status("timed_out", "timed_out");
    let run = test.run();
    assert!(!run.events_of("task_retrying").is_empty());
    let mut runs = test.engine(["runs", "workflow.yaml"]);
    for secret in [SECRET, "filedsecretvalue456"] {
        runs = runs.stdout_lacks(secret).stderr_lacks(secret);
    }
    runs.run();
    for secret in [SECRET, "filedsecretvalue456"] {
        nowhere(&test, &run, secret);
    }
}
