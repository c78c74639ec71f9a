//! What a failed, timed-out or retried attempt leaves among its `outputs`: what it created
//! or changed is moved into `<state dir>/incomplete/<run>/<task>/<attempt>/`, never deleted;
//! inputs, the workflow, the state dir and anything outside the workflow's directory are
//! never touched, whatever the patterns match.

use std::path::{Path, PathBuf};

use engine_test_support::{Output, Test};
use serde_json::Value;

/// The one `outputs_set_aside` event of `task`.
#[track_caller]
fn set_aside(run: &Output, task: &str) -> Value {
    let events: Vec<Value> = run
        .events_of("outputs_set_aside")
        .into_iter()
        .filter(|e| e["task"] == task)
        .collect();
    match events.as_slice() {
        [one] => one.clone(),
        _ => run.fail(&format!("expected one outputs_set_aside event of `{task}`")),
    }
}

/// Where the event says the outputs went.
fn to(event: &Value) -> PathBuf {
    PathBuf::from(event["to"].as_str().expect("`to` is a path"))
}

/// The paths of a list of the event (`moved`, or the paths of `left`).
fn paths(event: &Value, list: &str) -> Vec<String> {
    event[list]
        .as_array()
        .expect("a list")
        .iter()
        .map(|item| {
            item.as_str()
                .or_else(|| item["path"].as_str())
                .expect("a path")
                .to_owned()
        })
        .collect()
}

#[track_caller]
fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read `{}`: {e}", path.display()))
}

#[test]
fn what_a_failed_task_made_is_moved_into_the_state_dir_and_said_so() {
    let test = Test::run_of(
        "
tasks:
  half:
    outputs: [half.out, dir/]
    run: echo data > half.out; mkdir -p dir/sub; echo x > dir/sub/f; false
",
    )
    .args(["--progress", "plain"]);
    let test = test
        .status(1)
        .task_status("half", "failed")
        .stderr_has("aside half (attempt 1): moved 2 paths it created or changed to `")
        .stderr_has("`dir/sub/f`, `half.out`");
    let run = test.run();
    let event = set_aside(&run, "half");
    assert_eq!(paths(&event, "moved"), ["dir/sub/f", "half.out"]);
    let to = to(&event);
    assert!(
        to.starts_with(test.state_dir().join("incomplete")),
        "{to:?}"
    );
    assert!(to.ends_with("half/1"), "{to:?}");
    assert_eq!(read(&to.join("half.out")), "data\n");
    assert_eq!(read(&to.join("dir/sub/f")), "x\n");
    assert!(!test.path("half.out").exists() && !test.path("dir").exists());
}

#[test]
fn an_output_that_is_also_an_input_is_an_in_place_edit_and_stays() {
    let test = Test::run_of(
        "
tasks:
  dedupe:
    inputs: [data.csv]
    outputs: [data.csv]
    run: sort -u data.csv -o data.csv && false
",
    )
    .file("data.csv", "b\na\nb\n");
    let test = test.status(1).task_status("dedupe", "failed");
    let run = test.run();
    assert_eq!(read(&test.path("data.csv")), "a\nb\n");
    let event = set_aside(&run, "dedupe");
    assert!(paths(&event, "moved").is_empty());
    assert_eq!(paths(&event, "left"), ["data.csv"]);
}

#[test]
fn a_glob_in_both_inputs_and_outputs_keeps_every_file() {
    let test = Test::run_of(
        r##"
tasks:
  fmt:
    inputs: ["src/**/*.py"]
    outputs: ["src/**/*.py"]
    run: echo "# formatted" >> src/a.py; false
"##,
    )
    .file("src/a.py", "a\n")
    .file("src/pkg/b.py", "b\n")
    .file("src/pkg/c.py", "c\n");
    test.again().status(1).task_status("fmt", "failed").run();
    assert_eq!(read(&test.path("src/a.py")), "a\n# formatted\n");
    assert_eq!(read(&test.path("src/pkg/b.py")), "b\n");
    assert_eq!(read(&test.path("src/pkg/c.py")), "c\n");
}

#[test]
fn another_tasks_input_is_never_moved() {
    let test = Test::run_of(
        "
tasks:
  reader:
    inputs: [shared/config]
    run: 'true'
  writer:
    depends_on: reader
    outputs: [shared/]
    run: echo broken > shared/config; echo half > shared/new; false
",
    )
    .file("shared/config", "good\n");
    let test = test.status(1).task_status("writer", "failed");
    let run = test.run();
    assert_eq!(read(&test.path("shared/config")), "broken\n");
    let event = set_aside(&run, "writer");
    assert_eq!(paths(&event, "moved"), ["shared/new"]);
    assert_eq!(paths(&event, "left"), ["shared/config"]);
}

#[test]
fn patterns_that_reach_outside_the_workflow_dir_touch_nothing_there() {
    let outside = tempfile::tempdir().expect("a sibling temp dir");
    std::fs::write(outside.path().join("precious"), "keep\n").expect("write");
    std::fs::create_dir(outside.path().join("d")).expect("mkdir");
    std::fs::write(outside.path().join("d/file"), "keep\n").expect("write");
    let name = outside
        .path()
        .file_name()
        .expect("a name")
        .to_string_lossy()
        .into_owned();
    let absolute = outside.path().join("precious");
    let yaml = format!(
        r#"
tasks:
  wild:
    outputs: ["{}", "../{name}", "../{name}/*", "*", "**/*", "lnk/*", "${{{{ vars.dir }}}}"]
    run: echo half > half.out; echo changed > lnk/file; echo new > ../{name}/new; false
vars:
  dir: out
"#,
        absolute.display()
    );
    let test = Test::run_of(&yaml).file("mine.txt", "mine\n");
    std::os::unix::fs::symlink(outside.path().join("d"), test.path("lnk")).expect("symlink");
    let dir = test.dir().to_string_lossy().into_owned();
    let run = test
        .again()
        .args(["--var", &format!("dir={dir}")])
        .status(1)
        .task_status("wild", "failed")
        .run();
    assert_eq!(read(&absolute), "keep\n");
    // The task itself wrote outside; engine left all of it in place.
    assert_eq!(read(&outside.path().join("d/file")), "changed\n");
    assert_eq!(read(&outside.path().join("new")), "new\n");
    assert_eq!(read(&test.path("mine.txt")), "mine\n");
    assert!(test.path("workflow.yaml").exists());
    assert!(test.state_dir().join("record.sqlite").exists());
    assert!(test.path("lnk").is_symlink());
    let event = set_aside(&run, "wild");
    assert_eq!(paths(&event, "moved"), ["half.out"]);
    // The events file is engine's own: the run could report all of it.
    assert_eq!(run.finished("wild")["status"], "failed");
}

#[test]
fn a_fifo_output_is_refused_and_never_touched() {
    let outside = tempfile::tempdir().expect("a sibling temp dir");
    let fifo = outside.path().join("pipe");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    let test = Test::run_of(&format!(
        "
tasks:
  echo:
    outputs: [{}, made.out]
    run: echo o; echo made > made.out
",
        fifo.display()
    ));
    // Refused before anything runs, as `engine check` refuses it.
    test.again()
        .status(2)
        .stderr_has("is a FIFO, not a regular file or directory")
        .run();
    assert!(!test.path("made.out").exists(), "the task ran");
    let kind = std::fs::symlink_metadata(&fifo).expect("the FIFO is still there");
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(&kind.file_type()));
}

#[test]
fn a_retry_starts_without_what_the_failed_attempt_wrote() {
    let test = Test::run_of(
        "
tasks:
  flaky:
    outputs: [out.txt]
    retries: 1
    retry_delay: 10ms
    run: echo partial >> out.txt; if [ -e tried ]; then exit 0; fi; touch tried; exit 1
",
    );
    let test = test.status(0).task_status("flaky", "succeeded");
    let run = test.run();
    assert_eq!(read(&test.path("out.txt")), "partial\n");
    let event = set_aside(&run, "flaky");
    assert_eq!(event["attempt"], 1);
    assert_eq!(read(&to(&event).join("out.txt")), "partial\n");
}

#[test]
fn a_timed_out_task_has_what_it_made_set_aside() {
    let test = Test::run_of(
        "
tasks:
  slow:
    outputs: [slow.out]
    timeout: 200ms
    run: echo half > slow.out; sleep 30
",
    );
    let run = test
        .again()
        .args(["--grace", "100ms"])
        .status(1)
        .task_status("slow", "timed_out")
        .run();
    let event = set_aside(&run, "slow");
    assert_eq!(read(&to(&event).join("slow.out")), "half\n");
}

#[test]
fn what_existed_before_and_was_not_changed_stays() {
    let test = Test::run_of(
        "
tasks:
  build:
    outputs: ['out/*.o']
    run: echo new > out/b.o; false
",
    )
    .file("out/a.o", "from the last success\n");
    let test = test.status(1);
    let run = test.run();
    assert_eq!(read(&test.path("out/a.o")), "from the last success\n");
    assert_eq!(paths(&set_aside(&run, "build"), "moved"), ["out/b.o"]);
}

#[test]
fn set_aside_outputs_of_five_earlier_runs_are_kept() {
    let test = Test::run_of(
        "
tasks:
  half:
    outputs: [half.out]
    run: echo half > half.out; false
",
    );
    let test = test.status(1);
    let mut ids = Vec::new();
    for _ in 0..7 {
        let run = test.run();
        ids.push(
            run.events_of("run_started")[0]["run_id"]
                .as_str()
                .expect("an id")
                .to_owned(),
        );
    }
    let incomplete = test.state_dir().join("incomplete");
    let mut kept: Vec<String> = std::fs::read_dir(&incomplete)
        .expect("the incomplete dir")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    kept.sort();
    // The pruning happens when a run starts: the sixth newest goes with the seventh run.
    assert_eq!(kept, ids[1..], "the newest runs' outputs");
    assert_eq!(kept.len(), 6);
}

#[test]
fn resume_reruns_a_finished_task_whose_output_is_gone() {
    let test = Test::run_of(
        "
tasks:
  b:
    outputs: [b.out]
    run: echo b >> b.count; echo b > b.out
  c:
    depends_on: b
    run: cat b.out && test -e ok
",
    );
    test.again().status(1).task_status("c", "failed").run();
    std::fs::remove_file(test.path("b.out")).expect("delete b's output");
    let test = test.file("ok", "");
    test.again()
        .args(["--resume"])
        .status(0)
        .task_status("b", "succeeded")
        .task_status("c", "succeeded")
        .run();
    assert_eq!(read(&test.path("b.count")), "b\nb\n");
}

#[test]
fn resume_reruns_a_finished_task_whose_output_changed() {
    let test = Test::run_of(
        "
tasks:
  b:
    outputs: [b.out]
    run: echo b >> b.count; echo b > b.out
  c:
    depends_on: b
    run: grep -qx b b.out && test -e ok
",
    );
    test.again().status(1).task_status("c", "failed").run();
    std::fs::write(test.path("b.out"), "edited\n").expect("edit b's output");
    let test = test.file("ok", "");
    test.again()
        .args(["--resume"])
        .status(0)
        .task_status("b", "succeeded")
        .run();
    assert_eq!(read(&test.path("b.count")), "b\nb\n");
}
