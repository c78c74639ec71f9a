//! The run report from the command line: `engine run --report`, `engine report`, where the
//! page goes, what it holds, what it never holds (secrets, network addresses), and files it
//! must not replace. The page in a real browser: `report_browser.rs`.

use engine_test_support::{Test, WORKFLOW};

/// A retry, a failure with output, a skip, a matrix and a thread task.
pub const SMALL: &str = r#"
tasks:
  gen:
    outputs: [gen.out]
    run: echo generating; touch gen.out
  flaky:
    retries: 1
    retry_delay: 100ms
    run: echo trying; test -e flag || { touch flag; exit 3; }
  bad:
    depends_on: [gen]
    run: echo first line; echo the last words >&2; exit 2
  after_bad:
    depends_on: [bad]
    run: echo never
  think:
    isolation: thread
    script: 'result("answer", 42);'
  m:
    matrix:
      n: [1, 2]
    run: echo item ${{ matrix.n }}
"#;

/// The page's text.
fn read(test: &Test, path: &str) -> String {
    std::fs::read_to_string(test.path(path)).unwrap_or_else(|e| panic!("no report at {path}: {e}"))
}

/// `data-task="NAME" data-status="STATUS"`: how the page marks each task's outcome.
pub fn marks(page: &str, task: &str, status: &str) -> bool {
    page.contains(&format!("data-task=\"{task}\" data-status=\"{status}\""))
}

#[test]
fn run_report_writes_the_page_whatever_the_outcome() {
    let test = Test::run_of(SMALL)
        .args(["--keep-going", "--report=run.html"])
        .status(1)
        .stderr_has("engine: report written to run.html");
    test.run();
    let page = read(&test, "run.html");
    for (task, status) in [
        ("gen", "succeeded"),
        ("flaky", "succeeded"),
        ("bad", "failed"),
        ("after_bad", "skipped"),
        ("think", "succeeded"),
        ("m[n=1]", "succeeded"),
        ("m[n=2]", "succeeded"),
    ] {
        assert!(
            marks(&page, task, status),
            "`{task}` is not marked {status}"
        );
    }
    // The failure first, with its last lines; the retry's two attempts; the matrix grouped.
    let failures = &page[page.find("id=\"failures\"").expect("a failures section")..];
    assert!(failures.find("the last words") < failures.find("id=\"timeline\""));
    assert!(page.contains("attempt 2"));
    assert!(page.contains("m ×2"));
    assert!(
        page.contains("<svg"),
        "the timeline and graph are inline SVG"
    );
    assert!(page.contains("-j "), "the concurrency strip shows -j");
}

#[test]
fn the_page_refers_to_nothing_outside_itself() {
    let test = Test::run_of(SMALL)
        .args(["--keep-going", "--report=run.html"])
        .status(1);
    test.run();
    let page = read(&test, "run.html");
    for outside in [
        "src=\"http",
        "href=\"http",
        "src='http",
        "href='http",
        "url(",
        "@import",
    ] {
        assert!(!page.contains(outside), "the page has `{outside}`");
    }
}

#[test]
fn report_writes_the_latest_run_by_default_and_a_named_one() {
    let test = Test::run_of(SMALL).args(["--keep-going"]).status(1).then();
    // The default path, printed, in the state dir of the run.
    let (out, test) = test
        .engine(["report", WORKFLOW])
        .stdout_has("state/runs/")
        .stdout_has("/report.html")
        .run_then();
    let path = out.stdout.trim().to_owned();
    assert!(
        std::fs::read_to_string(test.dir().join(&path))
            .is_ok_and(|page| marks(&page, "bad", "failed"))
    );
    // `-o`, and a run that does not exist.
    let test = test
        .engine(["report", WORKFLOW, "-o", "out/page.html"])
        .stdout("out/page.html\n")
        .then();
    assert!(marks(&read(&test, "out/page.html"), "gen", "succeeded"));
    test.engine(["report", WORKFLOW, "--run", "no-such-run"])
        .status(2)
        .stderr_has("no run `no-such-run`")
        .run();
}

#[test]
fn report_never_replaces_a_file_it_did_not_write() {
    let test = Test::run_of("tasks:\n  a:\n    run: echo hi\n")
        .file("notes.html", "my notes")
        .then();
    test.engine(["report", WORKFLOW, "-o", "notes.html"])
        .status(2)
        .stderr_has("is not a report engine wrote")
        .run();
    assert_eq!(read(&test, "notes.html"), "my notes");
}

#[test]
fn report_without_runs_says_so() {
    Test::new()
        .workflow("tasks:\n  a:\n    run: echo hi\n")
        .args(["report", WORKFLOW])
        .status(2)
        .stderr_has("no runs are recorded")
        .run();
}

#[test]
fn a_secret_in_a_command_a_log_line_and_a_result_is_masked() {
    const SECRET: &str = "hunter2-sekrit";
    let yaml = format!(
        r#"
secrets: [TOK]
tasks:
  say:
    run: echo the token is {SECRET}; exit 1
  keep:
    isolation: thread
    script: 'result("token", env("TOK"));'
"#
    );
    let test = Test::run_of(&yaml)
        .env("TOK", SECRET)
        .args(["--keep-going", "--report=run.html"])
        .status(1);
    test.run();
    let page = read(&test, "run.html");
    assert!(!page.contains(SECRET), "the secret is on the page");
    assert!(
        page.contains("echo the token is ***"),
        "the command, masked"
    );
    assert!(
        page.contains("token = &quot;***&quot;"),
        "the result, masked"
    );
    assert!(
        page.matches("the token is ***").count() >= 2,
        "the log line, masked"
    );
    // `engine report` later masks the same.
    let test = test.engine(["report", WORKFLOW, "-o", "later.html"]).then();
    assert!(!read(&test, "later.html").contains(SECRET));
}

#[test]
fn report_conflicts_with_no_record() {
    Test::run_of("tasks:\n  a:\n    run: echo hi\n")
        .args(["--no-record", "--report"])
        .status(2)
        .stderr_has("cannot be used with")
        .run();
}

#[test]
fn the_page_says_why_a_task_ran_and_the_command_as_run() {
    const SECRET: &str = "hunter2-sekrit";
    let yaml = r"
vars:
  level: 3
secrets: [TOK]
tasks:
  build:
    inputs: [src/a.c]
    outputs: [a.out]
    run: cat src/a.c > a.out; echo -O${{ vars.level }} ${{ env.TOK }}
";
    let test = Test::run_of(yaml)
        .file("src/a.c", "int a;\n")
        .env("TOK", SECRET)
        .then();
    std::fs::write(test.path("src/a.c"), "int b;\n").expect("an input changed");
    let test = test
        .again()
        .args(["--report=run.html"])
        .stderr_has("engine: report written to run.html")
        .then();
    let page = read(&test, "run.html");
    assert!(!page.contains(SECRET), "the secret is on the page");
    assert!(
        page.contains("<dt>ran because</dt><dd>input `src/a.c` changed</dd>"),
        "why it ran"
    );
    assert!(
        page.contains(
            "<dt>as run</dt><dd><pre class=\"cmd\">cat src/a.c &gt; a.out; echo -O3 ***</pre>"
        ),
        "the command as run, filled in and masked"
    );
    // `engine report` reads the same from the record.
    let test = test.engine(["report", WORKFLOW, "-o", "later.html"]).then();
    let later = read(&test, "later.html");
    assert!(!later.contains(SECRET));
    assert!(later.contains("input `src/a.c` changed"));
}
