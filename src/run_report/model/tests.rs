//! The report's model for a small run with a retry, a failure, a skip and an up-to-date task,
//! built from fixed rows (so the snapshot holds still), and its secrets masked everywhere; the
//! page's light forms for many tasks (quiet rows, a timeline in blocks).

use rustc_hash::FxHashMap;

use super::*;
use crate::record::store::Counts;

const WORKFLOW: &str = "\
tasks:
  gen:
    inputs: [in.txt]
    outputs: [gen.out]
    run: cp in.txt gen.out
  flaky:
    retries: 1
    run: test -e flag || { touch flag; exit 3; }
  bad:
    depends_on: [gen]
    run: echo line1; echo oops >&2; exit 2
  after_bad:
    depends_on: [bad]
    run: echo never
  think:
    isolation: thread
    script: \"result(\\\"answer\\\", 42);\"
";

/// Milliseconds from the run's start.
const T0: i64 = 1_796_000_000_000;

fn row(task: &str, attempt: u32, status: &str, times: Option<(i64, i64)>) -> AttemptRow {
    AttemptRow {
        run: "run-1".into(),
        task: task.into(),
        attempt,
        status: status.into(),
        started_ms: times.map(|(start, _)| T0 + start),
        ended_ms: times.map(|(_, end)| T0 + end),
        exit_code: (attempt > 0).then_some(0),
        log: (attempt > 0).then(|| format!("runs/run-1/logs/{task}.log")),
        ..AttemptRow::default()
    }
}

fn run_row() -> RunRow {
    RunRow {
        id: "run-1".into(),
        workflow: "../workflow.yaml".into(),
        workflow_hash: String::new(),
        started_ms: T0,
        ended_ms: Some(T0 + 900),
        outcome: Some("failed".into()),
        pid: 1,
        resumed_from: None,
        args: r#"{"tasks":[],"vars":[],"force":[],"jobs":2,"command":["engine","run","workflow.yaml","--var","token=hunter2"]}"#.into(),
        tasks: 5,
        counts: Counts {
            succeeded: 2,
            failed: 1,
            skipped: 1,
            up_to_date: 1,
            cancelled: 0,
        },
    }
}

fn attempts() -> Vec<AttemptRow> {
    let mut flaky_1 = row("flaky", 1, "failed", Some((0, 100)));
    flaky_1.exit_code = Some(3);
    flaky_1.reason = Some("exited with code 3".into());
    let mut bad = row("bad", 1, "failed", Some((150, 200)));
    bad.exit_code = Some(2);
    bad.reason = Some("exited with code 2".into());
    bad.why = Some("input `in.txt` changed".into());
    bad.command = Some("echo line1; echo oops >&2; exit 2".into());
    bad.job_id = Some("4242".into());
    bad.queued_ms = Some(1500);
    let mut after_bad = row("after_bad", 0, "skipped", Some((200, 200)));
    after_bad.reason = Some("dependency_failed".into());
    let mut gen_row = row("gen", 0, "up_to_date", Some((10, 10)));
    gen_row.reason = Some("up_to_date".into());
    // What ran is kept per attempt: filled templates, a secret among them.
    flaky_1.why = Some("no successful run is recorded".into());
    flaky_1.command = Some("test -e flag --token hunter2 || { touch flag; exit 3; }".into());
    let mut flaky_2 = row("flaky", 2, "succeeded", Some((600, 900)));
    flaky_2.why = flaky_1.why.clone();
    flaky_2.command = flaky_1.command.clone();
    let mut think = row("think", 1, "succeeded", Some((20, 60)));
    think.results = Some(r#"[["answer",42],["token","hunter2"]]"#.into());
    vec![after_bad, bad, flaky_1, flaky_2, gen_row, think]
}

fn logs(path: &str) -> Option<Vec<u8>> {
    match path {
        "runs/run-1/logs/bad.log" => Some(b"line1\noops: the token is hunter2\n".to_vec()),
        "runs/run-1/logs/flaky.log" => Some(
            (1..=60)
                .map(|n| format!("try line {n}\n"))
                .collect::<String>()
                .into_bytes(),
        ),
        _ => None,
    }
}

fn report_with(workflow: Option<&Workflow>, masker: &Masker) -> RunReport {
    let run = run_row();
    let attempts = attempts();
    let made = FxHashMap::default();
    RunReport::build(&Sources {
        run: &run,
        attempts: &attempts,
        workflow,
        workflow_note: None,
        made: &made,
        read_log: &logs,
        masker,
    })
}

fn workflow(text: &str) -> (tempfile::TempDir, Workflow) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("workflow.yaml");
    std::fs::write(&path, text).expect("write the workflow");
    let workflow = crate::validate::load_workflow(&path).expect("a valid workflow");
    (dir, workflow)
}

#[test]
fn the_model_of_a_small_run() {
    let (_dir, workflow) = workflow(WORKFLOW);
    let masker = Masker::new(vec!["hunter2".to_owned()]).expect("a masker");
    let report = report_with(Some(&workflow), &masker);
    let mut json = serde_json::to_value(&report).expect("serializes");
    json["version"] = "VERSION".into();
    insta::assert_snapshot!(serde_json::to_string_pretty(&json).expect("prints"));
}

#[test]
fn the_critical_path_follows_dependencies_that_ran() {
    let (_dir, workflow) = workflow(WORKFLOW);
    let report = report_with(Some(&workflow), &Masker::none());
    // `flaky` ended last and depends on nothing.
    assert_eq!(report.critical_path, ["flaky"]);
    let depth = |name: &str| {
        report
            .tasks
            .iter()
            .find(|task| task.name == name)
            .map(|task| task.depth)
    };
    assert_eq!(
        [depth("gen"), depth("bad"), depth("after_bad")],
        [Some(0), Some(1), Some(2)]
    );
    assert_eq!(report.peak, 2, "{:?}", report.concurrency());
}

#[test]
fn without_the_workflow_the_report_says_less_but_is_built() {
    let report = report_with(None, &Masker::none());
    assert!(!report.graph_known);
    assert!(report.critical_path.is_empty());
    assert_eq!(report.tasks.len(), 5);
    assert!(report.tasks.iter().all(|task| task.command.is_none()));
}

#[test]
fn secrets_never_reach_the_page() {
    let secret_workflow = WORKFLOW.replace("echo never", "echo hunter2");
    let (_dir, workflow) = workflow(&secret_workflow);
    let masker = Masker::new(vec!["hunter2".to_owned()]).expect("a masker");
    let report = report_with(Some(&workflow), &masker);
    let html = crate::run_report::render(&report, "`engine logs %TASK%`");
    assert!(!html.contains("hunter2"), "a secret on the page");
    // The four places it was: a command, the command as run, a log line, a result.
    assert!(html.contains("echo ***"), "the command, masked");
    assert!(
        html.contains("<dt>as run</dt><dd><pre class=\"cmd\">test -e flag --token *** ||"),
        "the command as run, masked"
    );
    assert!(
        html.contains("<dt>ran because</dt><dd>no successful run is recorded</dd>"),
        "why it ran"
    );
    assert!(
        html.contains(", slurm job 4242 (queued "),
        "the cluster job and its wait"
    );
    // A command as run that is the one written is not repeated.
    assert_eq!(html.matches("echo line1; echo oops").count(), 1);
    assert!(html.contains("the token is ***"), "the log line, masked");
    assert!(
        html.contains("token = &quot;***&quot;"),
        "the result, masked"
    );
    // Without the masker the test would see it: it can fail.
    let unmasked = crate::run_report::render(&report_with(Some(&workflow), &Masker::none()), "");
    assert!(unmasked.contains("hunter2"));
}

#[test]
fn a_long_log_is_cut_to_its_tail_and_embedded_whole_while_small() {
    let report = report_with(None, &Masker::none());
    let flaky = report
        .tasks
        .iter()
        .find(|task| task.name == "flaky")
        .expect("flaky");
    let log = flaky.log.as_ref().expect("a log");
    assert_eq!((log.lines, log.tail.len()), (60, TAIL_LINES));
    assert_eq!(log.tail[0], "try line 11");
    assert!(
        log.full
            .as_deref()
            .is_some_and(|full| full.starts_with("try line 1\n"))
    );
    assert!(!log.cut);
}

fn report_of(attempts: &[AttemptRow]) -> RunReport {
    let run = run_row();
    let made = FxHashMap::default();
    RunReport::build(&Sources {
        run: &run,
        attempts,
        workflow: None,
        workflow_note: None,
        made: &made,
        read_log: &logs,
        masker: &Masker::none(),
    })
}

#[test]
fn a_quiet_task_is_a_table_row_and_the_others_keep_their_details() {
    let mut rows = attempts();
    rows.push(row("quiet", 1, "succeeded", Some((30, 40))));
    let html = crate::run_report::render(&report_of(&rows), "");
    let quiet = html
        .find("data-task=\"quiet\" data-status=\"succeeded\"")
        .expect("the quiet task is on the page");
    let tag = html[..quiet].rfind('<').expect("its tag");
    assert!(html[tag..].starts_with("<tr id=\"t5\" "), "not a table row");
    for (task, status) in [
        ("bad", "failed"),
        ("think", "succeeded"),
        ("flaky", "succeeded"),
    ] {
        assert!(
            html.contains(&format!(
                "class=\"task\" data-task=\"{task}\" data-status=\"{status}\""
            )),
            "`{task}` has no details"
        );
    }
    // The small timeline keeps a link and a tooltip per row.
    assert!(html.contains("<a href=\"#t5\" class=\"row s-succeeded\"><title>quiet: succeeded"));
}

#[test]
fn a_timeline_of_many_rows_is_drawn_light_in_blocks() {
    let rows: Vec<AttemptRow> = (0..2500)
        .map(|n| row(&format!("t{n:04}"), 1, "succeeded", Some((n, n + 5))))
        .collect();
    let html = crate::run_report::render(&report_of(&rows), "");
    assert_eq!(html.matches("data-status=\"succeeded\"").count(), 2500);
    assert_eq!(html.matches("<div class=\"chunk\">").count(), 10);
    assert_eq!(html.matches("<path class=\"bar s-succeeded\"").count(), 10);
    assert_eq!(html.matches("<title>").count(), 1, "only the page's title");
    assert!(!html.contains("class=\"row "), "no link per row");
    assert_eq!(html.matches("<div class=\"chunk quiet\">").count(), 13);
}
