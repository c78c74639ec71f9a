//! What a run shows and records: progress on stderr, task output on stdout, the events file,
//! the logs; floods and bytes that are not UTF-8.

use std::path::Path;
use std::time::Duration;

use engine_test_support::{Output, Test};

const TWO_TASKS: &str = r#"
tasks:
  alpha:
    run: echo a1; sleep 0.3; echo a2
  beta:
    script: 'print("b1"); sleep(0.15); print("b2")'
  gamma:
    depends_on: [alpha, beta]
    run: echo g1 >&2
"#;

#[test]
fn plain_progress_has_start_and_ok_lines_and_no_escape_codes() {
    Test::run_of(TWO_TASKS)
        .args(["--progress", "plain", "--color", "always"])
        .status(0)
        .stderr_has("start alpha (process, pid ")
        .stderr_has("start beta (thread)")
        .stderr_has("ok    alpha (")
        .stderr_has("ok    beta (")
        .stderr_has("ok    gamma (")
        .stderr_has("done: 3 succeeded in ")
        .stderr_lacks("\x1b")
        .stdout_lacks("\x1b")
        .run();
}

#[test]
fn no_progress_prints_only_the_summary() {
    let run = Test::run_of(TWO_TASKS)
        .args(["--progress", "none"])
        .status(0)
        .run();
    let lines: Vec<&str> = run.stderr.lines().collect();
    if lines.len() != 1 || !lines[0].starts_with("done: 3 succeeded in ") {
        run.fail("expected only the summary line on stderr");
    }
}

#[test]
fn prefixed_output_streams_lines_with_the_task_name() {
    Test::run_of(TWO_TASKS)
        .args(["--output", "prefixed"])
        .status(0)
        .stdout_has("[alpha] a1\n")
        .stdout_has("[alpha] a2\n")
        .stdout_has("[beta] b1\n")
        .stdout_has("[beta] b2\n")
        .stdout_has("[gamma!] g1\n")
        .run();
}

#[test]
fn grouped_output_prints_each_task_as_one_block() {
    let run = Test::run_of(TWO_TASKS)
        .args(["--output", "grouped"])
        .status(0)
        .stdout_lacks("[alpha]")
        .stdout_lacks("[beta]")
        .run();
    let stdout = run.stdout.clone();
    // beta's lines come between alpha's in time; grouped, each task's lines are together
    // under its heading.
    for (task, block) in [
        ("alpha", "a1\na2\n"),
        ("beta", "b1\nb2\n"),
        ("gamma", "g1\n"),
    ] {
        let heading = stdout
            .find(&format!("── {task} (ok, "))
            .unwrap_or_else(|| run.fail(&format!("no heading for {task}")));
        let after = &stdout[heading..];
        let body = &after[after.find('\n').expect("heading line") + 1..];
        if !body.starts_with(block) {
            run.fail(&format!("{task}'s block is not {block:?}"));
        }
    }
}

#[test]
fn quiet_output_prints_no_task_output_but_the_logs_keep_it() {
    let test = Test::run_of(TWO_TASKS);
    let test = test.args(["--output", "quiet"]).stdout("");
    let run = test.run();
    let logs = run.log_dir(&test.state_dir());
    assert_eq!(read(&logs.join("alpha.log")), "a1\na2\n");
    assert_eq!(read(&logs.join("beta.log")), "b1\nb2\n");
    assert_eq!(read(&logs.join("gamma.log")), "g1\n");
}

#[test]
fn task_names_from_matrix_values_never_make_log_paths() {
    // From the logs dir, five `..` lead to the test's temp dir: the logs of `a/../...` used to
    // be written there, and `b/c` made a directory `logs/p[v=b`.
    let test = Test::run_of(
        r#"
tasks:
  p:
    matrix: { v: ["a/../../../../../x", "b/c"] }
    run: echo "out ${{ matrix.v }}"
  s:
    matrix: { v: ["a/../../../../../y", "b/d"] }
    script: 'print(`out ${matrix.v}`)'
"#,
    )
    .args(["--output", "grouped"]);
    let test = test
        .status(0)
        .stdout_has("── p[v=b/c] (ok")
        .stdout_has("out b/c")
        .stdout_has("out a/../../../../../y");
    let run = test.run();
    let logs = run.log_dir(&test.state_dir());
    let mut names: Vec<String> = std::fs::read_dir(&logs)
        .expect("the logs dir")
        .map(|entry| {
            let entry = entry.expect("an entry");
            assert!(
                entry.path().is_file(),
                "{} is no file",
                entry.path().display()
            );
            entry.file_name().to_string_lossy().into_owned()
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "p[v=a%2F..%2F..%2F..%2F..%2F..%2Fx].log",
            "p[v=b%2Fc].log",
            "s[v=a%2F..%2F..%2F..%2F..%2F..%2Fy].log",
            "s[v=b%2Fd].log",
        ]
    );
    assert_eq!(read(&logs.join("p[v=b%2Fc].log")), "out b/c\n");
    for stray in ["x].log", "y].log"] {
        assert!(
            !test.path(stray).exists(),
            "`{stray}` was written outside the state dir"
        );
    }
    // `engine logs` finds them by the task's name.
    test.engine(["logs", "workflow.yaml", "s[v=b/d]"])
        .status(0)
        .stdout_has("out b/d")
        .run();
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read `{}`: {e}", path.display()))
}

#[test]
fn output_that_is_not_utf8_is_shown_replaced_and_logged_as_is() {
    let test = Test::run_of(
        r"
tasks:
  binary:
    run: printf 'before \377\376 after\n'; printf '\000\001\002 nul\n'; printf 'no newline \377'
",
    );
    let test = test
        .status(0)
        .stdout_has("[binary] before \u{fffd}\u{fffd} after\n")
        .stdout_has("nul\n")
        .stdout_has("[binary] no newline \u{fffd}\n");
    let run = test.run();
    let log = std::fs::read(run.log_dir(&test.state_dir()).join("binary.log")).expect("log");
    assert_eq!(
        log,
        b"before \xff\xfe after\n\x00\x01\x02 nul\nno newline \xff".to_vec()
    );
    run.events();
}

#[test]
fn the_events_file_is_json_lines_in_order() {
    let test = Test::run_of(
        "
tasks:
  ok:
    run: echo fine
  bad:
    run: echo failing; exit 7
  after:
    depends_on: bad
    run: echo never
  script:
    script: print(\"from a script\")
",
    );
    let test = test
        .args(["--keep-going"])
        .status(1)
        .task_status("ok", "succeeded")
        .task_status("script", "succeeded")
        .task_status("bad", "failed")
        .skipped("after", "dependency_failed")
        .not_started("after");
    let run = test.run();
    let events = run.events();
    for event in &events {
        assert_eq!(event["v"], 1, "{event}");
        assert!(event["t_ms"].is_u64(), "{event}");
    }
    let times: Vec<u64> = events.iter().filter_map(|e| e["t_ms"].as_u64()).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "t_ms never goes back"
    );
    assert_eq!(
        events.first().map(|e| &e["event"]),
        Some(&"run_started".into())
    );
    assert_eq!(
        events.last().map(|e| &e["event"]),
        Some(&"run_finished".into())
    );
    assert_eq!(events[0]["tasks"], 4);
    for task in ["ok", "bad", "script"] {
        let at = |kind: &str| run.position(kind, task);
        assert!(at("task_ready") < at("task_started"), "{task}");
        assert!(at("task_started") < at("task_output"), "{task}");
        assert!(at("task_output") < at("task_finished"), "{task}");
        assert!(events[at("task_finished")]["duration_ms"].is_u64());
    }
    let bad = run.finished("bad");
    assert_eq!(bad["exit_code"], 7);
    assert_eq!(bad["signal"], serde_json::Value::Null);
    let skipped = &run.events_of("task_skipped")[0];
    assert_eq!(skipped["dependency"], "bad");
    let output = run
        .events_of("task_output")
        .into_iter()
        .find(|e| e["task"] == "bad")
        .expect("bad printed");
    assert_eq!(output["stream"], "stdout");
    assert_eq!(output["lines"], serde_json::json!(["failing"]));
    assert_eq!(run.events_of("run_finished")[0]["interrupted"], false);
    assert!(run.task_pid("ok") > 0);
}

/// 50 MB of `x` in lines of 99 bytes: 505,050 full lines and one of 50 bytes without a
/// line break.
const FLOOD: &str = "
tasks:
  flood:
    run: head -c 50000000 /dev/zero | tr '\\0' 'x' | fold -w 99
";
const FLOOD_LINES: usize = 505_051;
const FLOOD_LOG_BYTES: usize = 50_000_000 + FLOOD_LINES - 1;

/// Peak RSS allowed while 50 MB pass through: over twice what the engine needs (about 28 MB
/// in a debug build with `--events`), and well below what keeping the output would take.
const MAX_RSS_KB: u64 = 64 * 1024;

/// Runs the flood under `/usr/bin/time`, with stdout read after `delay`; returns the run,
/// the flood's log and the engine's peak RSS in kB.
fn flood(output: &str, delay: Duration) -> (Output, Vec<u8>, u64) {
    let time = Path::new("/usr/bin/time");
    assert!(
        time.exists(),
        "these tests measure memory with /usr/bin/time: install the `time` package"
    );
    let test = Test::run_of(FLOOD);
    let rss = test.path("rss.txt").display().to_string();
    let test = test
        .wrapper(&["/usr/bin/time", "-f", "%M", "-o", &rss])
        .args(["--output", output, "--progress", "plain"])
        .stdout_delay(delay);
    let test = test.status(0).task_status("flood", "succeeded");
    let run = test.run();
    let kb = read(Path::new(&rss))
        .lines()
        .last()
        .and_then(|line| line.trim().parse().ok())
        .unwrap_or_else(|| run.fail("no peak RSS from /usr/bin/time"));
    let log = std::fs::read(run.log_dir(&test.state_dir()).join("flood.log")).expect("log");
    assert_eq!(log.len(), FLOOD_LOG_BYTES, "the log has every byte");
    assert_eq!(bytecount(&log, b'x'), 50_000_000);
    (run, log, kb)
}

fn bytecount(bytes: &[u8], byte: u8) -> usize {
    bytes.iter().filter(|&&b| b == byte).count()
}

#[test]
fn fifty_megabytes_of_output_in_quiet_mode_are_logged_not_kept() {
    let (run, _, kb) = flood("quiet", Duration::ZERO);
    if !run.stdout_bytes().is_empty() {
        run.fail("quiet mode printed task output");
    }
    assert!(kb < MAX_RSS_KB, "peak RSS {kb} kB");
}

#[test]
fn fifty_megabytes_of_output_stream_through_prefixed_mode() {
    let (run, _, kb) = flood("prefixed", Duration::ZERO);
    let stdout = run.stdout_bytes();
    assert_eq!(
        stdout.len(),
        FLOOD_LOG_BYTES + 1 + FLOOD_LINES * "[flood] ".len()
    );
    assert_eq!(bytecount(stdout, b'x'), 50_000_000);
    assert!(kb < MAX_RSS_KB, "peak RSS {kb} kB");
}

#[test]
fn a_slow_reader_of_stdout_does_not_make_the_output_pile_up() {
    // While nobody reads stdout the engine must hold the task back, not buffer its output.
    let (run, _, kb) = flood("prefixed", Duration::from_secs(3));
    assert_eq!(bytecount(run.stdout_bytes(), b'\n'), FLOOD_LINES);
    assert!(kb < MAX_RSS_KB, "peak RSS {kb} kB");
}

#[test]
fn fifty_megabytes_of_output_in_grouped_mode_are_not_read_back_whole() {
    let (run, log, kb) = flood("grouped", Duration::ZERO);
    let stdout = run.stdout_bytes();
    let body = &stdout[stdout.iter().position(|&b| b == b'\n').expect("heading") + 1..];
    assert_eq!(
        body.len(),
        log.len() + 1,
        "the block is the log and a final line break"
    );
    assert!(kb < MAX_RSS_KB, "peak RSS {kb} kB");
}

#[test]
fn a_closed_stdout_does_not_fail_or_stop_the_run() {
    let test = Test::run_of(
        "
tasks:
  chatty:
    run: i=0; while [ $i -lt 5000 ]; do echo \"line $i\"; i=$((i + 1)); done
  after:
    depends_on: chatty
    run: touch after.marker
",
    );
    let test = test.close_stdout().args(["--progress", "plain"]);
    let test = test
        .status(0)
        .task_status("chatty", "succeeded")
        .stderr_has("done: 2 succeeded");
    let run = test.run();
    assert!(test.path("after.marker").exists());
    let log = read(&run.log_dir(&test.state_dir()).join("chatty.log"));
    assert_eq!(log.lines().count(), 5000);
}

#[test]
fn bars_on_a_pipe_do_not_get_in_the_way() {
    Test::run_of(TWO_TASKS)
        .args(["--progress", "bars"])
        .status(0)
        .stdout_has("[alpha] a2\n")
        .stdout_has("[beta] b2\n")
        .stderr_has("done: 3 succeeded in ")
        // Bars hide themselves when stderr is not a terminal.
        .stderr_lacks("\x1b")
        .run();
}
