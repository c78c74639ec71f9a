//! Output that reads well with a large matrix: `plan`, `plan --explain`, `status` and the
//! run's summary name a matrix by its task and count (`compile[33 items]`) unless
//! `--verbose`, and a run that does nothing prints one line. Times are cut from the
//! snapshots (`in <time>`).

use engine_test_support::{Test, WORKFLOW};

/// `gen`, 33 `compile` items after it, a join named `join` and `link` after that.
fn build(gen_run: &str) -> String {
    let items: Vec<String> = (1..=33).map(|n| n.to_string()).collect();
    format!(
        "\
tasks:
  gen:
    outputs: [gen.out]
    run: {gen_run}
  compile:
    matrix:
      n: [{}]
    depends_on: [gen]
    outputs: [\"o/${{{{ matrix.n }}}}.o\"]
    run: echo ${{{{ matrix.n }}}} > o/${{{{ matrix.n }}}}.o
  join:
    depends_on: [gen, compile]
  link:
    depends_on: [join]
    outputs: [app]
    run: cat o/*.o > app
",
        items.join(", ")
    )
}

fn workflow() -> Test {
    Test::new().workflow(&build("echo gen > gen.out"))
}

/// `engine run` of `workflow.yaml` in `test`'s dir, with the state dir there.
fn run(test: &Test, args: &[&str]) -> Test {
    let path = test.path(WORKFLOW);
    test.again().engine_run(&path).args(args.iter().copied())
}

/// The text with what varies cut: each ` in <duration>` at the end of a line, `(after
/// <duration>)` and the run id in log paths.
fn without_times(text: &str) -> String {
    text.lines()
        .map(|line| {
            let mut line = line.to_owned();
            if let Some(at) = line.rfind(" in ") {
                let rest = &line[at + 4..];
                if rest.ends_with('s') && !rest.contains(' ') {
                    line = format!("{} in <time>", &line[..at]);
                }
            }
            if let Some(at) = line.rfind(" (after ") {
                line = format!("{} (after <time>)", &line[..at]);
            }
            if let (Some(start), Some(end)) = (line.find("runs/"), line.find("/logs/")) {
                line = format!("{}runs/<id>{}", &line[..start], &line[end..]);
            }
            line + "\n"
        })
        .collect()
}

#[test]
fn the_plan_names_a_matrix_by_its_task_and_count() {
    let out = workflow()
        .args(["plan", WORKFLOW])
        .stderr("")
        .stdout_lacks("compile[n=2]")
        .run();
    insta::assert_snapshot!("plan_condensed", out.stdout);
}

#[test]
fn the_verbose_plan_shows_every_item() {
    workflow()
        .args(["plan", WORKFLOW, "--verbose"])
        .stdout_has("  compile[n=33]  [process]  after gen\n")
        .stdout_has("  join  [thread]  after gen, compile[n=1], compile[n=2], ")
        .stdout_lacks("items]")
        .run();
    // `-v` is the same, and `run --dry-run` takes it too.
    workflow()
        .args(["run", WORKFLOW, "--dry-run", "-v"])
        .stdout_has("  compile[n=17]  [process]  after gen\n")
        .run();
}

#[test]
fn a_run_that_does_nothing_prints_one_line() {
    let test = workflow();
    run(&test, &["--progress", "plain"])
        .stderr_has("ok    compile[n=33] (")
        .stderr_lacks("join")
        .stderr_lacks("up to date")
        .run();
    let again = run(&test, &["--progress", "plain"])
        .task_status("join", "succeeded")
        .skipped("compile[n=1]", "up_to_date")
        .run();
    insta::assert_snapshot!("no_op_plain", without_times(&again.stderr));
    // The same with no progress lines at all.
    let quiet = run(&test, &["--progress", "none"]).run();
    assert_eq!(without_times(&quiet.stderr), without_times(&again.stderr));
    // `--verbose` names every task.
    run(&test, &["--progress", "plain", "--verbose"])
        .stderr_has("] run   ")
        .stderr_has("fresh compile[n=7]: up to date\n")
        .stderr_has("start join (thread)\n")
        .stderr_has("done: 36 up to date in ")
        .run();
}

#[test]
fn a_run_lists_what_ran_and_counts_what_was_up_to_date() {
    let test = workflow();
    run(&test, &["--progress", "none"]).run();
    std::fs::write(test.path("o/5.o"), "changed\n").expect("change an output");
    let out = run(&test, &["--progress", "plain"])
        .stderr_has("start compile[n=5] (process")
        .stderr_has("ok    compile[n=5] (")
        .stderr_lacks("join")
        // `link` reads the same objects: up to date.
        .stderr_has("done: 2 succeeded, 34 up to date in ")
        .stderr_lacks("fresh")
        .stderr_lacks("compile[n=6]")
        .run();
    // The run's opening line comes first, before the first task's line.
    assert!(
        out.stderr
            .lines()
            .next()
            .is_some_and(|line| line.contains("] run   "))
    );
}

#[test]
fn the_summary_counts_a_matrix_skipped_after_a_failure() {
    let test = Test::new().workflow(&build("echo gen; exit 3"));
    let out = run(&test, &["--progress", "none"]).status(1).run();
    insta::assert_snapshot!("summary_condensed", without_times(&out.stderr));
    run(&test, &["--progress", "none", "--verbose"])
        .status(1)
        .stderr_has("skipped compile[n=20]: depends on `gen`, which did not succeed\n")
        .run();
}

#[test]
fn explain_and_status_count_the_items_with_the_same_verdict() {
    let test = workflow();
    run(&test, &["--progress", "none"]).run();
    std::fs::write(test.path("o/5.o"), "changed\n").expect("change an output");
    std::fs::write(test.path("o/9.o"), "changed\n").expect("change an output");
    let state = test.state_dir();
    let state = state.to_str().expect("a UTF-8 path");
    let explain = test
        .engine(["plan", WORKFLOW, "--explain", "--state-dir", state])
        .run();
    let why = &explain.stdout[explain.stdout.find("why each").expect("the verdicts")..];
    insta::assert_snapshot!("explain_condensed", why);
    test.engine(["status", WORKFLOW, "--state-dir", state])
        .stdout_has("\ncompile[31 of 33 items]  succeeded ")
        .stdout_has("\ncompile[n=9]             succeeded ")
        .stdout_has("decided after `compile[2 of 33 items]` run")
        .stdout_has("4 of 36 tasks would run; 32 up to date")
        .run();
    test.engine(["status", WORKFLOW, "--state-dir", state, "-v"])
        .stdout_has("\ncompile[n=31]  succeeded ")
        .stdout_has("decided after `compile[n=5]`, `compile[n=9]` run")
        .run();
}
