//! The run record: tasks with `outputs` skipped as up to date, `inputs`, `--force`,
//! `--no-record`, outputs of failed tasks, `--resume` after a failure or a killed engine, the
//! processes a killed engine leaves behind, two runs at once and a damaged record.
//!
//! Each task appends a line to `<task>.count` when its command runs, so that a test can tell
//! whether it ran without trusting the engine's own events.

use std::time::{Duration, Instant};

use engine_test_support::Test;
use nix::sys::signal::Signal;
use serde_json::Value;

use crate::process::{assert_gone, read_pid, wait_for_file};

/// `gen` reads `in.txt` and writes it upper-cased; `use` copies that; `other` stands alone;
/// `plain` has no outputs.
const PIPELINE: &str = r"
tasks:
  gen:
    inputs: [in.txt]
    outputs: [gen.out]
    run: echo gen >> gen.count; tr a-z A-Z < in.txt > gen.out
  use:
    depends_on: gen
    outputs: [use.out]
    run: echo use >> use.count; cat gen.out > use.out; echo used >> use.out
  other:
    outputs: [other.out]
    run: echo other >> other.count; echo other > other.out
  plain:
    run: echo plain >> plain.count
";

/// How many times `task`'s command ran: the lines of its counter file.
fn count(test: &Test, task: &str) -> usize {
    std::fs::read_to_string(test.path(&format!("{task}.count")))
        .map_or(0, |text| text.lines().count())
}

/// The counts of several tasks, for one assertion that shows them all.
fn counts(test: &Test, tasks: &[&str]) -> Vec<(String, usize)> {
    tasks
        .iter()
        .map(|task| ((*task).to_owned(), count(test, task)))
        .collect()
}

#[track_caller]
fn expect_counts(test: &Test, expected: &[(&str, usize)]) {
    let tasks: Vec<&str> = expected.iter().map(|(task, _)| *task).collect();
    let expected: Vec<(String, usize)> = expected
        .iter()
        .map(|(task, n)| ((*task).to_owned(), *n))
        .collect();
    assert_eq!(counts(test, &tasks), expected, "how often each task ran");
}

#[track_caller]
fn read(test: &Test, file: &str) -> String {
    std::fs::read_to_string(test.path(file)).unwrap_or_else(|e| panic!("read `{file}`: {e}"))
}

/// The pipeline, run once to success.
fn pipeline_after_one_run() -> Test {
    let test = Test::run_of(PIPELINE).file("in.txt", "hello\n");
    test.again().status(0).run();
    expect_counts(&test, &[("gen", 1), ("use", 1), ("other", 1), ("plain", 1)]);
    test
}

#[test]
fn a_second_run_skips_the_tasks_that_are_up_to_date() {
    let test = pipeline_after_one_run();
    let run = test
        .again()
        .args(["--progress", "plain", "--verbose"])
        .status(0)
        .skipped("gen", "up_to_date")
        .skipped("use", "up_to_date")
        .skipped("other", "up_to_date")
        .task_status("plain", "succeeded")
        .stderr_has("fresh gen: up to date")
        .stderr_has("fresh use: up to date")
        .stderr_has("done: 1 succeeded, 3 up to date in ")
        .run();
    assert_eq!(run.started_order(), ["plain"]);
    expect_counts(&test, &[("gen", 1), ("use", 1), ("other", 1), ("plain", 2)]);
    assert_eq!(read(&test, "use.out"), "HELLO\nused\n");
}

#[test]
fn an_edited_input_reruns_its_task_and_the_tasks_that_depend_on_it() {
    let test = pipeline_after_one_run().file("in.txt", "world\n");
    let test = test
        .status(0)
        .task_status("gen", "succeeded")
        .task_status("use", "succeeded")
        .skipped("other", "up_to_date");
    test.run();
    expect_counts(&test, &[("gen", 2), ("use", 2), ("other", 1), ("plain", 2)]);
    assert_eq!(read(&test, "use.out"), "WORLD\nused\n");
    // And then it is up to date again.
    test.again().status(0).skipped("gen", "up_to_date").run();
    expect_counts(&test, &[("gen", 2), ("use", 2)]);
}

#[test]
fn an_edited_input_reruns_everything_downstream_even_when_the_output_is_the_same() {
    // `hello` and `HELLO` both come out as `HELLO`, but `gen`'s fingerprint changed, and a
    // task's fingerprint covers those of the tasks it depends on.
    let test = pipeline_after_one_run().file("in.txt", "HELLO\n");
    let test = test
        .status(0)
        .task_status("gen", "succeeded")
        .task_status("use", "succeeded");
    test.run();
    expect_counts(&test, &[("gen", 2), ("use", 2)]);
}

#[test]
fn an_edited_output_that_is_made_again_the_same_leaves_the_dependents_up_to_date() {
    let test = pipeline_after_one_run().file("gen.out", "scribbled over\n");
    let test = test
        .status(0)
        .task_status("gen", "succeeded")
        .skipped("use", "up_to_date");
    test.run();
    expect_counts(&test, &[("gen", 2), ("use", 1)]);
    assert_eq!(read(&test, "gen.out"), "HELLO\n");
}

#[test]
fn a_deleted_or_edited_output_reruns_its_task() {
    let test = pipeline_after_one_run();
    std::fs::remove_file(test.path("use.out")).expect("delete an output");
    let test = test.file("other.out", "edited\n");
    let test = test
        .status(0)
        .skipped("gen", "up_to_date")
        .task_status("use", "succeeded")
        .task_status("other", "succeeded");
    test.run();
    expect_counts(&test, &[("gen", 1), ("use", 2), ("other", 2)]);
    assert_eq!(read(&test, "use.out"), "HELLO\nused\n");
    assert_eq!(read(&test, "other.out"), "other\n");
}

#[test]
fn a_changed_command_reruns_the_task() {
    let test = Test::run_of(
        r#"
vars:
  greeting: hello
tasks:
  say:
    outputs: [say.out]
    run: echo say >> say.count; echo "${{ vars.greeting }}" > say.out
"#,
    );
    test.again().status(0).run();
    test.again().args(["--var", "greeting=bye"]).status(0).run();
    test.again()
        .args(["--var", "greeting=bye"])
        .status(0)
        .skipped("say", "up_to_date")
        .run();
    // Back to the first command: the last success was with `bye`, so it runs.
    test.again().status(0).task_status("say", "succeeded").run();
    expect_counts(&test, &[("say", 3)]);
}

#[test]
fn inputs_can_be_globs_and_directories() {
    let test = Test::run_of(
        r#"
tasks:
  build:
    cwd: project
    inputs: ["src/*.c", data]
    outputs: [build.out]
    run: echo build >> ../build.count; cat src/*.c > build.out
"#,
    )
    .file("project/src/a.c", "a\n")
    .file("project/src/b.c", "b\n")
    .file("project/data/table.csv", "1,2\n");
    test.again()
        .status(0)
        .task_status("build", "succeeded")
        .run();
    test.again().status(0).skipped("build", "up_to_date").run();
    expect_counts(&test, &[("build", 1)]);
    // A file that the glob matches is edited, then one is added; then a file in the directory.
    let test = test.file("project/src/b.c", "b2\n");
    test.again()
        .status(0)
        .task_status("build", "succeeded")
        .run();
    let test = test.file("project/src/c.c", "c\n");
    test.again()
        .status(0)
        .task_status("build", "succeeded")
        .run();
    let test = test.file("project/data/table.csv", "3,4\n");
    test.again()
        .status(0)
        .task_status("build", "succeeded")
        .run();
    // A file the glob does not match changes nothing.
    let test = test.file("project/src/notes.txt", "todo\n");
    test.again().status(0).skipped("build", "up_to_date").run();
    expect_counts(&test, &[("build", 4)]);
    assert_eq!(read(&test, "project/build.out"), "a\nb2\nc\n");
}

#[test]
fn outputs_can_be_globs_and_directories() {
    let test = Test::run_of(
        r#"
tasks:
  objects:
    outputs: ["out/*.o"]
    run: echo objects >> objects.count; mkdir -p out; echo a > out/a.o; echo b > out/b.o
  dist:
    outputs: [dist]
    run: echo dist >> dist.count; mkdir -p dist/sub; echo f > dist/sub/f
"#,
    );
    test.again()
        .status(0)
        .task_status("objects", "succeeded")
        .task_status("dist", "succeeded")
        .run();
    test.again()
        .status(0)
        .skipped("objects", "up_to_date")
        .skipped("dist", "up_to_date")
        .run();
    std::fs::remove_file(test.path("out/b.o")).expect("remove an object");
    let test = test.file("dist/sub/f", "edited\n");
    test.again()
        .status(0)
        .task_status("objects", "succeeded")
        .task_status("dist", "succeeded")
        .run();
    expect_counts(&test, &[("objects", 2), ("dist", 2)]);
    assert_eq!(read(&test, "out/b.o"), "b\n");
    assert_eq!(read(&test, "dist/sub/f"), "f\n");
}

#[test]
fn force_reruns_every_task() {
    let test = pipeline_after_one_run();
    let run = test.again().args(["--force"]).status(0).run();
    assert!(run.skipped_for("up_to_date").is_empty(), "nothing skipped");
    expect_counts(&test, &[("gen", 2), ("use", 2), ("other", 2), ("plain", 2)]);
}

#[test]
fn force_of_a_task_reruns_it_and_what_depends_on_it() {
    let test = pipeline_after_one_run();
    test.again()
        .args(["--force", "gen"])
        .status(0)
        .task_status("gen", "succeeded")
        .task_status("use", "succeeded")
        .skipped("other", "up_to_date")
        .run();
    expect_counts(&test, &[("gen", 2), ("use", 2), ("other", 1)]);
    // `--force=TASK`, repeated.
    test.again()
        .args(["--force=use", "--force", "other"])
        .status(0)
        .skipped("gen", "up_to_date")
        .task_status("use", "succeeded")
        .task_status("other", "succeeded")
        .run();
    expect_counts(&test, &[("gen", 2), ("use", 3), ("other", 2)]);
}

#[test]
fn force_before_the_workflow_file_forces_every_task() {
    let test = pipeline_after_one_run();
    test.engine(["run", "--force", "workflow.yaml"])
        .status(0)
        .stderr_has("done: 4 succeeded in ")
        .run();
    expect_counts(&test, &[("gen", 2), ("use", 2), ("other", 2), ("plain", 2)]);
}

#[test]
fn no_record_runs_every_task_and_records_nothing() {
    let test = Test::run_of(PIPELINE).file("in.txt", "hello\n");
    test.again().args(["--no-record"]).status(0).run();
    test.again().args(["--no-record"]).status(0).run();
    expect_counts(&test, &[("gen", 2), ("use", 2), ("other", 2), ("plain", 2)]);
    assert!(
        !test.state_dir().join("record.sqlite").exists(),
        "--no-record wrote a record"
    );
    test.engine(["runs", "workflow.yaml"])
        .status(0)
        .stdout_has("runs of workflow.yaml are recorded")
        .run();
    // With a record, `--no-record` still runs everything and leaves the record as it was.
    test.again().status(0).run();
    test.again().args(["--no-record"]).status(0).run();
    expect_counts(&test, &[("gen", 4), ("use", 4), ("other", 4), ("plain", 4)]);
    let runs = runs(&test);
    assert_eq!(runs.len(), 1, "{runs:#?}");
}

#[test]
fn a_task_that_does_not_create_its_output_fails() {
    let run = Test::run_of(
        "
tasks:
  lazy:
    outputs: [made.out, forgotten.out]
    run: touch made.out
  after:
    depends_on: lazy
    run: touch after.marker
",
    )
    .status(1)
    .task_status("lazy", "failed")
    .skipped("after", "dependency_failed")
    .stderr_has("did not create its output `forgotten.out`")
    .run();
    let message = run.finished("lazy")["message"].clone();
    assert!(
        message
            .as_str()
            .is_some_and(|m| m.contains("did not create its output")),
        "{message}"
    );
}

#[test]
fn a_task_whose_input_is_missing_fails_before_its_command_runs() {
    let test = Test::run_of(
        "
tasks:
  reader:
    inputs: [missing.txt]
    outputs: [reader.out]
    run: echo reader >> reader.count; touch reader.out
",
    );
    let test = test
        .status(1)
        .task_status("reader", "failed")
        .stderr_has("cannot read its inputs")
        .stderr_has("missing.txt");
    test.run();
    expect_counts(&test, &[("reader", 0)]);
}

/// Where the last run set aside what the first attempt of `task` made.
fn run_aside(test: &Test, task: &str) -> std::path::PathBuf {
    let id = runs(test)[0]["id"].as_str().expect("an id").to_owned();
    test.state_dir()
        .join("incomplete")
        .join(id)
        .join(task)
        .join("1")
}

/// Writes its output, then fails unless `ok` exists.
const HALF: &str = "
tasks:
  half:
    outputs: [half.out]
    run: echo half >> half.count; echo data > half.out; test -e ok
";

#[test]
fn the_outputs_a_failed_task_made_are_set_aside_in_the_state_dir() {
    let test = Test::run_of(HALF);
    let test = test.status(1).task_status("half", "failed");
    let run = test.run();
    assert!(!test.path("half.out").exists(), "the output was kept");
    let id = run.events_of("run_started")[0]["run_id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let aside = test
        .state_dir()
        .join("incomplete")
        .join(id)
        .join("half/1/half.out");
    assert_eq!(
        std::fs::read_to_string(aside).ok().as_deref(),
        Some("data\n")
    );
}

#[test]
fn keep_incomplete_keeps_the_outputs_of_a_failed_task_but_it_is_never_up_to_date() {
    let test = Test::run_of(HALF).file("ok", "");
    test.again().status(0).run();
    std::fs::remove_file(test.path("ok")).expect("remove `ok`");
    test.again()
        .args(["--force", "--keep-incomplete"])
        .status(1)
        .task_status("half", "failed")
        .run();
    // What it left is what its last success made, byte for byte, and still it runs again.
    assert_eq!(read(&test, "half.out"), "data\n");
    let test = test.file("ok", "");
    test.again()
        .status(0)
        .task_status("half", "succeeded")
        .run();
    expect_counts(&test, &[("half", 3)]);
    test.again().status(0).skipped("half", "up_to_date").run();
}

#[test]
fn the_results_of_an_up_to_date_task_still_reach_its_dependents() {
    let test = Test::run_of(
        r#"
tasks:
  gen:
    outputs: [gen.out]
    run: echo gen >> gen.count; echo data > gen.out; echo n=5 >> "$ENGINE_RESULTS"
  show:
    depends_on: gen
    run: echo "n is ${{ tasks.gen.results.n }}" > show.txt
"#,
    );
    test.again().status(0).run();
    std::fs::remove_file(test.path("show.txt")).expect("remove show.txt");
    test.again().status(0).skipped("gen", "up_to_date").run();
    expect_counts(&test, &[("gen", 1)]);
    assert_eq!(read(&test, "show.txt"), "n is 5\n");
}

#[test]
fn the_record_is_next_to_the_workflow_by_default() {
    let test = Test::run_of(PIPELINE)
        .file("in.txt", "hello\n")
        .default_state_dir();
    test.again().status(0).run();
    test.again().status(0).skipped("gen", "up_to_date").run();
    assert!(test.path(".engine/record.sqlite").exists());
    assert!(!test.state_dir().exists());
}

#[test]
fn an_input_edited_in_place_to_its_old_size_and_time_still_reruns_its_task() {
    // The record keeps the digest of each file that had settled when it was read, by its
    // stamp (inode, size, modification and status change times), and does not read it again
    // while the stamp holds. An edit that puts the modification time back still moves the
    // status change time, which no one can set back.
    let test = Test::run_of(
        r"
tasks:
  copy:
    inputs: [in.txt]
    outputs: [out.txt]
    run: cp in.txt out.txt
",
    )
    .file("in.txt", "one\n");
    // Settled: changed more than 3 s before the first run reads it.
    std::thread::sleep(Duration::from_millis(3500));
    test.again()
        .status(0)
        .task_status("copy", "succeeded")
        .run();
    let record = rusqlite::Connection::open(test.state_dir().join("record.sqlite"))
        .expect("open the record");
    let learned: i64 = record
        .query_row(
            "SELECT count(*) FROM file_digests WHERE path = ?1",
            [test.path("in.txt").to_string_lossy().as_bytes()],
            |row| row.get(0),
        )
        .expect("query the record");
    assert_eq!(learned, 1, "the input's digest was not kept");
    test.again().status(0).skipped("copy", "up_to_date").run();
    let input = test.path("in.txt");
    let modified = std::fs::metadata(&input)
        .and_then(|m| m.modified())
        .expect("mtime");
    std::fs::write(&input, "two\n").expect("edit the input");
    std::fs::File::options()
        .write(true)
        .open(&input)
        .and_then(|file| file.set_modified(modified))
        .expect("put the modification time back");
    test.again()
        .status(0)
        .task_status("copy", "succeeded")
        .run();
    assert_eq!(read(&test, "out.txt"), "two\n");
}

/// The runs `engine runs --format json` lists, newest first.
fn runs(test: &Test) -> Vec<Value> {
    let run = test
        .engine(["runs", "workflow.yaml", "--format", "json"])
        .status(0)
        .run();
    match serde_json::from_str(&run.stdout) {
        Ok(Value::Array(runs)) => runs,
        _ => run.fail("`engine runs --format json` did not print a list"),
    }
}

/// The last run recorded, which must have died: its id.
fn died_run(test: &Test) -> String {
    let runs = runs(test);
    let last = runs.first().unwrap_or_else(|| panic!("no run recorded"));
    assert_eq!(last["outcome"], "died", "{runs:#?}");
    last["id"].as_str().expect("a run id").to_owned()
}

/// a -> b -> c. Each writes its shell's pid to `<task>.sh`, counts, writes a partial output
/// and, when `<task>.block` exists, starts a long `sleep` (its pid in `<task>.sleep`), touches
/// `<task>.started` and waits for it; then it writes its whole output.
fn chain(outputs: bool) -> String {
    let mut yaml = String::from("tasks:\n");
    for (name, after) in [("a", None), ("b", Some("a")), ("c", Some("b"))] {
        yaml.push_str(&format!("  {name}:\n"));
        if let Some(after) = after {
            yaml.push_str(&format!("    depends_on: {after}\n"));
        }
        if outputs {
            yaml.push_str(&format!("    outputs: [{name}.out]\n"));
        }
        yaml.push_str(&format!(
            "    run: echo $$ > {name}.sh; echo {name} >> {name}.count; echo partial > {name}.out; \
             if [ -e {name}.block ]; then sleep 30 & echo $! > {name}.sleep; touch {name}.started; wait; fi; \
             echo {name} done > {name}.out\n"
        ));
    }
    yaml
}

/// When the engine is killed.
#[derive(Clone, Copy, Debug)]
enum KillAt {
    /// While `a`, the first task, runs.
    FirstRunning,
    /// While `b` runs (so `a` has finished).
    MiddleRunning,
    /// As soon as the record says `b` succeeded: `c` may have started or not.
    MiddleFinished,
}

/// Waits until `engine status` says that `task`'s last run succeeded.
fn wait_for_success(test: &Test, task: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = test
            .engine(["status", "workflow.yaml", "--format", "json"])
            .any_status()
            .run();
        let tasks: Value = serde_json::from_str(&status.stdout).unwrap_or(Value::Null);
        let succeeded = tasks
            .as_array()
            .into_iter()
            .flatten()
            .any(|t| t["task"] == task && t["last"]["status"] == "succeeded");
        if succeeded {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "`{task}` did not succeed within 30s; status:\n{}",
            status.stdout
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The shell and the sleep a blocked task left, if it started.
fn left_behind(test: &Test, task: &str) -> Vec<(i32, &'static str)> {
    if !test.path(&format!("{task}.sh")).exists() {
        return Vec::new();
    }
    vec![
        (read_pid(&test.path(&format!("{task}.sh"))), "sh"),
        (read_pid(&test.path(&format!("{task}.sleep"))), "sleep"),
    ]
}

/// Kills the engine at `at` in a run of `chain(outputs)`, then resumes, and checks that no task
/// that had finished runs again, the interrupted one starts over, and nothing of the killed run
/// is left.
fn kill_and_resume(outputs: bool, at: KillAt) {
    let test = Test::run_of(&chain(outputs));
    let blocked = match at {
        KillAt::FirstRunning => "a",
        KillAt::MiddleRunning => "b",
        KillAt::MiddleFinished => "c",
    };
    let block = test.path(&format!("{blocked}.block"));
    std::fs::write(&block, "").expect("write the block file");
    let mut engine = test.again().any_status().spawn();
    match at {
        KillAt::FirstRunning | KillAt::MiddleRunning => wait_for_file(
            &test.path(&format!("{blocked}.started")),
            Duration::from_secs(30),
        ),
        KillAt::MiddleFinished => wait_for_success(&test, "b"),
    }
    if matches!(at, KillAt::MiddleRunning) && !outputs {
        // Without outputs `b` starts as soon as `a` ends, before the record's next commit
        // (within 20 ms) holds `a`'s end: killed before it, `a` would run again. With
        // outputs, `b` starts only once that commit is made, so nothing is waited for.
        wait_for_success(&test, "a");
    }
    engine.signal(Signal::SIGKILL);
    engine.wait();
    let orphans = left_behind(&test, blocked);
    let killed = died_run(&test);
    std::fs::remove_file(&block).expect("remove the block file");

    let mut resume = test.again().args(["--resume"]);
    if !orphans.is_empty() {
        resume = resume.stderr_has(&format!("left running by run {killed}"));
    }
    let run = resume.run();
    for (pid, comm) in &orphans {
        assert_gone(*pid, comm, Duration::from_secs(5));
    }
    let (resumed, started): (&[&str], &[&str]) = match at {
        KillAt::FirstRunning => (&[], &["a", "b", "c"]),
        KillAt::MiddleRunning => (&["a"], &["b", "c"]),
        KillAt::MiddleFinished => (&["a", "b"], &["c"]),
    };
    assert_eq!(
        run.skipped_for("resumed"),
        resumed,
        "resumed tasks ({at:?})"
    );
    for event in run.events_of("task_skipped") {
        assert_eq!(event["run"], killed.as_str(), "{event}");
    }
    assert_eq!(run.started_order(), started, "started ({at:?})");
    for task in ["a", "b", "c"] {
        // The blocked task ran twice if it had started before the kill. Right after `b`
        // finished, `c` may have been about to start; then it counts 1 or 2.
        let expected = match (task == blocked, orphans.is_empty(), at) {
            (true, false, _) => 2..=2,
            (true, true, KillAt::MiddleFinished) => 1..=2,
            _ => 1..=1,
        };
        let ran = count(&test, task);
        assert!(
            expected.contains(&ran),
            "`{task}` ran {ran} times, not {expected:?} ({at:?})"
        );
        assert_eq!(
            read(&test, &format!("{task}.out")),
            format!("{task} done\n")
        );
    }
    // The record agrees with what is on disk: with outputs, all is up to date now.
    let again = test.run();
    if outputs {
        assert_eq!(again.skipped_for("up_to_date"), ["a", "b", "c"]);
    } else {
        assert_eq!(again.started_order(), ["a", "b", "c"]);
    }
}

#[test]
fn resume_after_the_engine_was_killed_while_the_first_task_ran() {
    kill_and_resume(true, KillAt::FirstRunning);
}

#[test]
fn resume_after_the_engine_was_killed_while_the_first_task_ran_without_outputs() {
    kill_and_resume(false, KillAt::FirstRunning);
}

#[test]
fn resume_after_the_engine_was_killed_while_a_middle_task_ran() {
    kill_and_resume(true, KillAt::MiddleRunning);
}

#[test]
fn resume_after_the_engine_was_killed_while_a_middle_task_ran_without_outputs() {
    kill_and_resume(false, KillAt::MiddleRunning);
}

#[test]
fn resume_after_the_engine_was_killed_right_after_a_task_finished() {
    kill_and_resume(true, KillAt::MiddleFinished);
}

#[test]
fn resume_after_the_engine_was_killed_right_after_a_task_finished_without_outputs() {
    kill_and_resume(false, KillAt::MiddleFinished);
}

#[test]
fn the_output_of_a_killed_task_is_not_up_to_date_even_when_it_is_complete() {
    // `b` writes all of its output, the same as its last success made, then kills the engine
    // (its parent). It did not finish, so it must run again. The kill races the engine's
    // writes to the record, so the test tries a few times.
    let test = Test::run_of(
        "
tasks:
  a:
    outputs: [a.out]
    run: echo a > a.out
  b:
    depends_on: a
    outputs: [b.out]
    run: echo b >> b.count; echo b > b.out; if [ -e b.block ]; then kill -9 $PPID; fi
",
    );
    test.again().status(0).run();
    for attempt in 1..=5 {
        std::fs::write(test.path("b.block"), "").expect("write the block file");
        test.again().args(["--force", "b"]).any_status().run();
        std::fs::remove_file(test.path("b.block")).expect("remove the block file");
        let run = test
            .again()
            .status(0)
            .skipped("a", "up_to_date")
            .task_status("b", "succeeded")
            .run();
        if run.skipped_for("up_to_date").iter().any(|task| task == "b") {
            run.fail(&format!(
                "attempt {attempt}: `b` was killed before it finished, yet it was taken as up to date"
            ));
        }
        expect_counts(&test, &[("b", 1 + 2 * attempt)]);
    }
}

#[test]
fn a_task_is_recorded_as_finished_before_a_dependent_with_outputs_starts() {
    // `b` kills the engine as soon as it starts: `a`'s success must already be in the record
    // (a dependent without outputs does not wait for the commit: see README).
    let test = Test::run_of(
        "
tasks:
  a:
    run: echo a >> a.count
  b:
    depends_on: a
    outputs: [b.out]
    run: echo b >> b.count; if [ -e b.block ]; then kill -9 $PPID; fi; touch b.out
",
    )
    .file("b.block", "");
    test.again().any_status().run();
    died_run(&test);
    std::fs::remove_file(test.path("b.block")).expect("remove the block file");
    test.again()
        .args(["--resume"])
        .status(0)
        .skipped("a", "resumed")
        .task_status("b", "succeeded")
        .run();
    expect_counts(&test, &[("a", 1), ("b", 2)]);
}

#[test]
fn a_run_killed_as_soon_as_its_task_starts_is_recorded_and_what_it_left_is_stopped() {
    // The task kills the engine (its parent) first thing, then leaves a `sleep` behind. The
    // kill races the engine's first writes, so the test tries a few times.
    let test = Test::run_of(
        "
tasks:
  a:
    run: if [ -e a.block ]; then kill -9 $PPID; sleep 30 & echo $! > a.sleep; wait; fi
",
    );
    test.again().status(0).run();
    for attempt in 1..=5 {
        let _ = std::fs::remove_file(test.path("a.sleep"));
        std::fs::write(test.path("a.block"), "").expect("write the block file");
        test.again().any_status().run();
        let sleep = read_pid(&test.path("a.sleep"));
        std::fs::remove_file(test.path("a.block")).expect("remove the block file");
        test.again()
            .status(0)
            .stderr_has("stopped 2 process(es) left running by run ")
            .run();
        assert_gone(sleep, "sleep", Duration::from_secs(5));
        let runs = runs(&test);
        let outcomes: Vec<&Value> = runs.iter().take(2).map(|run| &run["outcome"]).collect();
        assert_eq!(
            outcomes,
            ["succeeded", "died"],
            "attempt {attempt}: {runs:#?}"
        );
    }
}

#[test]
fn the_events_file_of_a_killed_run_holds_what_happened_before_the_kill() {
    let test = Test::run_of(&chain(true)).file("b.block", "");
    let mut engine = test
        .again()
        .any_status()
        .task_status("a", "succeeded")
        .spawn();
    wait_for_file(&test.path("b.started"), Duration::from_secs(30));
    let orphans = left_behind(&test, "b");
    engine.signal(Signal::SIGKILL);
    let killed = engine.wait();
    // Stop what it left before any assertion can fail.
    std::fs::remove_file(test.path("b.block")).expect("remove the block file");
    test.again().status(0).run();
    for (pid, comm) in orphans {
        assert_gone(pid, comm, Duration::from_secs(5));
    }
    assert_eq!(killed.started_order(), ["a", "b"]);
}

#[test]
fn a_new_run_stops_what_a_killed_engine_left_running() {
    let test = Test::run_of(&chain(true)).file("b.block", "");
    let mut engine = test.again().any_status().spawn();
    wait_for_file(&test.path("b.started"), Duration::from_secs(30));
    engine.signal(Signal::SIGKILL);
    engine.wait();
    let killed = died_run(&test);
    let orphans = left_behind(&test, "b");
    std::fs::remove_file(test.path("b.block")).expect("remove the block file");
    test.again()
        .status(0)
        .skipped("a", "up_to_date")
        .stderr_has(&format!(
            "stopped 2 process(es) left running by run {killed}"
        ))
        .run();
    for (pid, comm) in orphans {
        assert_gone(pid, comm, Duration::from_secs(5));
    }
    expect_counts(&test, &[("a", 1), ("b", 2), ("c", 1)]);
}

/// a -> b -> c -> d, no outputs; `c` fails unless `ok` exists.
const FAILS_AT_C: &str = "
tasks:
  a:
    run: echo a >> a.count
  b:
    depends_on: a
    outputs: [b.out]
    run: echo b >> b.count; echo b > b.out
  c:
    depends_on: b
    run: echo c >> c.count; test -e ok
  d:
    depends_on: c
    run: echo d >> d.count
";

#[test]
fn resume_after_a_failure_skips_what_succeeded_even_without_outputs() {
    let test = Test::run_of(FAILS_AT_C);
    test.again().status(1).task_status("c", "failed").run();
    let failed = runs(&test)[0]["id"].as_str().expect("an id").to_owned();
    let test = test.file("ok", "");
    let run = test
        .again()
        .args(["--resume", "--progress", "plain"])
        .status(0)
        .skipped("a", "resumed")
        .skipped("b", "resumed")
        .task_status("c", "succeeded")
        .task_status("d", "succeeded")
        .stderr_has(&format!("done  a: finished in run {failed} (resumed)"))
        .run();
    let resumed = run.events_of("task_skipped");
    assert!(
        resumed.iter().all(|e| e["run"] == failed.as_str()),
        "{resumed:#?}"
    );
    expect_counts(&test, &[("a", 1), ("b", 1), ("c", 2), ("d", 1)]);
    assert_eq!(runs(&test)[0]["resumed_from"], failed.as_str());
}

#[test]
fn resume_after_an_interrupted_run_runs_the_interrupted_task_again() {
    let test = Test::run_of(&chain(true)).file("b.block", "");
    let mut engine = test
        .again()
        .status(130)
        .task_status("b", "interrupted")
        .spawn();
    wait_for_file(&test.path("b.started"), Duration::from_secs(30));
    engine.signal(Signal::SIGINT);
    engine.wait();
    // What an interrupted task made is set aside, like a failed one's.
    assert!(!test.path("b.out").exists(), "the partial output was kept");
    let aside = run_aside(&test, "b");
    assert_eq!(
        std::fs::read_to_string(aside.join("b.out")).ok().as_deref(),
        Some("partial\n")
    );
    let interrupted = runs(&test)[0].clone();
    assert_eq!(interrupted["outcome"], "interrupted", "{interrupted:#}");
    std::fs::remove_file(test.path("b.block")).expect("remove the block file");
    let run = test.again().args(["--resume"]).status(0).run();
    assert_eq!(run.skipped_for("resumed"), ["a"]);
    assert_eq!(run.started_order(), ["b", "c"]);
    expect_counts(&test, &[("a", 1), ("b", 2), ("c", 1)]);
    assert_eq!(runs(&test)[0]["resumed_from"], interrupted["id"]);
}

#[test]
fn resume_when_the_last_run_succeeded_is_refused() {
    let test = Test::run_of(FAILS_AT_C).file("ok", "");
    test.again().status(0).run();
    test.again()
        .args(["--resume"])
        .status(2)
        .stderr_has("nothing to resume")
        .run();
    expect_counts(&test, &[("a", 1), ("c", 1)]);
}

#[test]
fn resume_without_any_recorded_run_is_refused() {
    let test = Test::run_of(FAILS_AT_C);
    test.again()
        .args(["--resume"])
        .status(2)
        .stderr_has("nothing to resume")
        .run();
    expect_counts(&test, &[("a", 0)]);
}

/// One task that holds the run until `go` exists.
const HOLD: &str = "
tasks:
  hold:
    run: echo start >> hold.log; while [ ! -e go ]; do sleep 0.05; done; echo end >> hold.log
";

#[test]
fn a_second_run_of_the_workflow_is_refused_while_one_runs() {
    let test = Test::run_of(HOLD);
    let first = test.spawn();
    wait_for_file(&test.path("hold.log"), Duration::from_secs(30));
    test.again()
        .events("second.jsonl")
        .status(2)
        .stderr_has("is already using the state dir")
        .stderr_has(&format!("pid {}", first.pid()))
        .run();
    std::fs::write(test.path("go"), "").expect("write go");
    first.wait();
    assert_eq!(read(&test, "hold.log"), "start\nend\n");
}

#[test]
fn with_wait_a_second_run_waits_for_the_first_to_end() {
    let test = Test::run_of(HOLD);
    let first = test.spawn();
    wait_for_file(&test.path("hold.log"), Duration::from_secs(30));
    let mut waiting = test
        .again()
        .args(["--wait"])
        .events("waiting.jsonl")
        .spawn();
    waiting.wait_for_stderr("waiting for", Duration::from_secs(30));
    assert!(!waiting.has_exited(), "it did not wait");
    std::fs::write(test.path("go"), "").expect("write go");
    first.wait();
    waiting.wait();
    // One after the other, never both at once.
    assert_eq!(read(&test, "hold.log"), "start\nend\nstart\nend\n");
}

#[test]
fn two_workflows_sharing_a_state_dir_run_together() {
    // Each round starts both engines at once on a new state dir, so that they also make the
    // record together.
    for _ in 0..10 {
        let test = Test::run_of(
            "tasks:\n  a1:\n    run: echo a1\n  a2:\n    depends_on: a1\n    run: echo a2\n",
        )
        .file(
            "other.yaml",
            "tasks:\n  b1:\n    run: echo b1\n  b2:\n    depends_on: b1\n    run: echo b2\n",
        );
        let first = test.spawn();
        let second = test
            .again()
            .engine_run(&test.path("other.yaml"))
            .events("other.jsonl")
            .spawn();
        first.wait();
        second.wait();
        test.engine(["runs", "other.yaml"])
            .status(0)
            .stdout_has("succeeded")
            .run();
    }
}

/// Writes 8 KiB of garbage over the record, as a disk or a bad copy might.
fn damage_record(test: &Test) {
    let record = test.state_dir().join("record.sqlite");
    assert!(record.exists(), "no record at `{}`", record.display());
    let garbage = "not a database, not even close\n".repeat(256);
    std::fs::write(&record, garbage).expect("overwrite the record");
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(test.state_dir().join(format!("record.sqlite{suffix}")));
    }
}

#[test]
fn a_damaged_record_stops_the_run_before_anything_runs() {
    let test = Test::run_of("tasks:\n  mark:\n    run: echo mark >> mark.count\n");
    test.again().status(0).run();
    damage_record(&test);
    test.again()
        .status(2)
        .stderr_has("is damaged")
        .stderr_has("mv ")
        .run();
    expect_counts(&test, &[("mark", 1)]);
    test.engine(["runs", "workflow.yaml"])
        .status(2)
        .stderr_has("is damaged")
        .run();
}

#[test]
fn a_record_with_a_damaged_page_stops_the_run_before_anything_runs() {
    // Forty tasks with long names: the first run's attempts fill pages of the record that
    // later runs never read (they used to run and exit 0 over the damage).
    let tasks: String = (0..40)
        .map(|i| {
            format!("  a_task_with_a_rather_long_name_{i:02}:\n    run: echo {i} >> mark.count\n")
        })
        .collect();
    let test = Test::run_of(&format!("tasks:\n{tasks}"));
    let run_id = |run: &engine_test_support::Output| {
        run.events_of("run_started")[0]["run_id"]
            .as_str()
            .expect("a run id")
            .to_owned()
    };
    let first = run_id(&test.run());
    let second = run_id(&test.run());
    let record = test.state_dir().join("record.sqlite");
    {
        let conn = rusqlite::Connection::open(&record).expect("open the record");
        conn.pragma_update(None, "wal_checkpoint", "TRUNCATE")
            .expect("fold the WAL into the file");
    }
    let mut bytes = std::fs::read(&record).expect("read the record");
    let holds = |page: &[u8], text: &str| page.windows(text.len()).any(|w| w == text.as_bytes());
    // A leaf page of a table without rowids (type 0x0a) with the first run's rows only.
    let page = bytes
        .chunks(4096)
        .position(|page| page[0] == 0x0a && holds(page, &first) && !holds(page, &second))
        .expect("a page of the first run's attempts");
    let garbage = "not a page, not even close\n".repeat(200);
    bytes[page * 4096..(page + 1) * 4096].copy_from_slice(&garbage.as_bytes()[..4096]);
    std::fs::write(&record, bytes).expect("damage the record");
    test.again()
        .status(2)
        .stderr_has("is damaged")
        .stderr_has("mv ")
        .run();
    expect_counts(&test, &[("mark", 80)]);
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct Mount(std::path::PathBuf);

impl Mount {
    /// Mounts a tmpfs of `size` (like `3m`) on `dir`. Needs root (CI runs as root): the test
    /// fails, loudly, where it cannot mount.
    fn tmpfs(dir: &std::path::Path, size: &str) -> Self {
        std::fs::create_dir_all(dir).expect("make the mount point");
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("run `mount`");
        assert!(
            status.success(),
            "cannot mount a tmpfs on `{}` ({status}): this test needs root",
            dir.display()
        );
        Self(dir.to_path_buf())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let unmounted = std::process::Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|status| status.success());
        if !unmounted {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.0)
                .status();
        }
    }
}

#[test]
fn a_full_disk_says_what_was_not_written_and_the_run_is_recorded_as_it_ended() {
    // The state dir on a 3 MiB disk that a task's log fills: the log was cut short silently,
    // and the run, whose record could not be written any more, showed as `died`.
    let test = Test::run_of(
        "tasks:\n  big:\n    run: head -c 4000000 /dev/zero | tr '\\0' x; echo; echo done\n  after:\n    depends_on: big\n    run: echo after\n",
    )
    .args(["--output", "quiet"]);
    let _disk = Mount::tmpfs(&test.state_dir(), "3m");
    let test = test
        .status(0)
        .task_status("big", "succeeded")
        .task_status("after", "succeeded")
        .stderr_has("big.log` is incomplete: cannot write it: No space left on device");
    test.run();
    test.engine(["runs", "workflow.yaml"])
        .status(0)
        .stdout_has("succeeded")
        .stdout_has("2 ok")
        .run();
}

#[test]
fn plan_explain_and_status_agree_with_what_a_run_decides() {
    // Every kind of task whose fingerprint a run fills in: templates, a matrix, a script that
    // reads constants, one that does not, and a join.
    let test = Test::run_of(
        r#"
vars:
  greeting: hello
tasks:
  make:
    matrix: { os: [linux, mac] }
    outputs: ["out/${{ matrix.os }}.txt"]
    run: mkdir -p out && echo "${{ vars.greeting }} ${{ matrix.os }}" > out/${{ matrix.os }}.txt
  join:
    depends_on: [make]
  reads_vars:
    depends_on: [join]
    outputs: [vars.txt]
    script: |
      write_file("vars.txt", vars.greeting);
  plain_script:
    depends_on: [reads_vars]
    inputs: [vars.txt]
    outputs: [plain.txt]
    script: |
      write_file("plain.txt", "plain");
"#,
    );
    test.again().status(0).run();
    let status = test
        .engine(["status", "workflow.yaml", "--format", "json"])
        .status(0)
        .run();
    let verdicts: Value = serde_json::from_str(&status.stdout).expect("status JSON");
    for entry in verdicts.as_array().expect("a list") {
        let task = entry["task"].as_str().expect("a name");
        let expected = if task == "join" { "runs" } else { "up_to_date" };
        assert_eq!(entry["now"], expected, "{entry}");
    }
    test.again()
        .skipped("make[os=linux]", "up_to_date")
        .skipped("make[os=mac]", "up_to_date")
        .skipped("reads_vars", "up_to_date")
        .skipped("plain_script", "up_to_date")
        .run();
}

/// The runs of the workflow at `relative` (from the temp dir) that `engine runs` lists, with
/// its default state dir: their ids, newest first.
fn run_ids_of(test: &Test, relative: &str) -> Vec<String> {
    let run = test.engine(["runs", relative, "--format", "json"]).run();
    match serde_json::from_str(&run.stdout) {
        Ok(Value::Array(runs)) => runs
            .iter()
            .map(|run| run["id"].as_str().unwrap_or_default().to_owned())
            .collect(),
        _ => run.fail("`engine runs --format json` did not print a list"),
    }
}

/// How many times `task`'s command ran in the project at `dir` (from the temp dir).
fn count_in(test: &Test, dir: &str, task: &str) -> usize {
    std::fs::read_to_string(test.path(&format!("{dir}/{task}.count")))
        .map_or(0, |text| text.lines().count())
}

/// `engine run` of the workflow at `relative` (from the temp dir), with its default state
/// dir.
fn run_at(test: &Test, relative: &str) -> Test {
    test.again()
        .engine_run(&test.path(relative))
        .default_state_dir()
}

#[test]
fn a_moved_or_copied_project_keeps_its_history_and_up_to_date_state() {
    // The record in `.engine/` next to the workflow keys it by its path from there, and a
    // task's working directory counts by its place in the project: moving the project, or
    // copying it with its state dir (as a CI cache is restored elsewhere), changes neither.
    let test = Test::new()
        .file("project/flow.yaml", PIPELINE)
        .file("project/in.txt", "hello\n");
    run_at(&test, "project/flow.yaml")
        .task_status("gen", "succeeded")
        .run();
    let first = run_ids_of(&test, "project/flow.yaml");
    assert_eq!(first.len(), 1, "{first:?}");

    std::fs::rename(test.path("project"), test.path("moved")).expect("move the project");
    let mut moved = run_at(&test, "moved/flow.yaml");
    for task in ["gen", "use", "other"] {
        moved = moved.skipped(task, "up_to_date");
    }
    moved.task_status("plain", "succeeded").run();
    let runs = run_ids_of(&test, "moved/flow.yaml");
    assert_eq!(runs.len(), 2, "the earlier run is forgotten: {runs:?}");
    assert_eq!(runs[1], first[0]);

    let copied = std::process::Command::new("cp")
        .args(["-a", "moved", "copy"])
        .current_dir(test.dir())
        .status()
        .expect("run cp");
    assert!(copied.success(), "cp -a failed");
    let mut copy = run_at(&test, "copy/flow.yaml");
    for task in ["gen", "use", "other"] {
        copy = copy.skipped(task, "up_to_date");
    }
    copy.run();
    assert_eq!(run_ids_of(&test, "copy/flow.yaml").len(), 3);
    // The original goes on with its own history.
    assert_eq!(run_ids_of(&test, "moved/flow.yaml").len(), 2);
    for dir in ["moved", "copy"] {
        let ran: Vec<usize> = ["gen", "use", "other", "plain"]
            .iter()
            .map(|task| count_in(&test, dir, task))
            .collect();
        assert_eq!(
            ran,
            [1, 1, 1, if dir == "moved" { 2 } else { 3 }],
            "in {dir}"
        );
    }
    // What `engine status` says agrees, and an input changed in the copy reruns its task
    // there only.
    let status = test
        .engine(["status", "copy/flow.yaml", "--format", "json"])
        .run();
    let tasks: Value = serde_json::from_str(&status.stdout).unwrap_or(Value::Null);
    let now = |name: &str| {
        tasks
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["task"] == name)
            .map(|t| t["now"].clone())
    };
    assert_eq!(now("gen"), Some(Value::from("up_to_date")), "{tasks:#}");
    std::fs::write(test.path("copy/in.txt"), "changed\n").expect("edit the copy's input");
    run_at(&test, "copy/flow.yaml")
        .task_status("gen", "succeeded")
        .run();
    run_at(&test, "moved/flow.yaml")
        .skipped("gen", "up_to_date")
        .run();
}

/// A task's outputs are digested off the coordinator's thread: with one slot, whichever of
/// two tasks writing large outputs runs second starts as soon as the first exits, before the
/// first's output is hashed and it is reported finished. Ordered by the events, not timed.
#[test]
fn a_large_output_is_hashed_while_the_next_task_starts() {
    let test = Test::run_of(
        "
tasks:
  one:
    outputs: [one.out]
    run: head -c 209715200 /dev/zero > one.out
  two:
    outputs: [two.out]
    run: head -c 209715200 /dev/zero > two.out
",
    )
    .args(["-j", "1"]);
    let run = test
        .again()
        .task_status("one", "succeeded")
        .task_status("two", "succeeded")
        .run();
    let (first, second) =
        if run.position("task_started", "one") < run.position("task_started", "two") {
            ("one", "two")
        } else {
            ("two", "one")
        };
    assert!(
        run.position("task_started", second) < run.position("task_finished", first),
        "`{second}` waited for `{first}`'s output to be hashed"
    );
    // The digests were recorded: a second run finds both up to date.
    test.again()
        .skipped("one", "up_to_date")
        .skipped("two", "up_to_date")
        .run();
}

/// Ctrl-C while a finished task's outputs are hashed off the loop: the run waits for the
/// digest, records the task as it ended and stops cleanly; what depends on it does not
/// start. The signal is sent once the task is about to exit, so it almost always lands
/// while the gigabyte is hashed; if it reaches the task first, it is interrupted instead,
/// and the record must say so just as well.
#[test]
fn ctrl_c_while_outputs_are_hashed_ends_cleanly_with_the_task_recorded() {
    let test = Test::run_of(
        "
tasks:
  big:
    outputs: [big.out]
    run: head -c 1073741824 /dev/zero > big.out; touch big.done
  after:
    depends_on: big
    run: touch after.marker
",
    )
    .args(["--progress", "plain"]);
    let mut engine = test.again().status(130).not_started("after").spawn();
    wait_for_file(&test.path("big.done"), Duration::from_secs(60));
    engine.signal(Signal::SIGINT);
    let run = engine.wait();
    assert!(!test.path("after.marker").exists());
    let status = run.finished("big")["status"].clone();
    if status == "succeeded" {
        // Its digest was recorded before the run ended.
        test.again().skipped("big", "up_to_date").run();
    } else {
        assert_eq!(status, "interrupted", "{}", run.stdout);
        test.again().task_status("big", "succeeded").run();
    }
}
