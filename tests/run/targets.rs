//! File targets (`engine run FILE path/to/out.o` runs the task that declares that output, with
//! what it depends on) and output directories (the parents of a task's literal outputs exist
//! before it starts).

use engine_test_support::Test;

/// Two objects from a matrix, a program linked from them, and a task that makes a glob's
/// worth of files.
const BUILD: &str = r#"
vars:
  bin: app
tasks:
  compile:
    matrix:
      src: [alpha, beta]
    run: mkdir -p obj && echo ${{ matrix.src }} > obj/${{ matrix.src }}.o
    outputs: ["obj/${{ matrix.src }}.o"]
  link:
    depends_on: [compile]
    run: cat obj/alpha.o obj/beta.o > ${{ vars.bin }}
    outputs: ["${{ vars.bin }}"]
  pages:
    run: mkdir -p site && touch site/index.html site/about.html
    outputs: ["site/*.html"]
  docs:
    run: touch docs.marker
"#;

#[test]
fn a_matrix_items_output_runs_that_item_alone() {
    let test = Test::run_of(BUILD)
        .args(["obj/beta.o"])
        .task_status("compile[src=beta]", "succeeded")
        .not_started("compile[src=alpha]")
        .not_started("link")
        .not_started("pages");
    test.run();
    assert!(test.path("obj/beta.o").exists());
    assert!(!test.path("obj/alpha.o").exists());
}

#[test]
fn a_file_target_runs_its_producer_with_what_it_depends_on() {
    for target in ["app", "./app", "obj/../app"] {
        let test = Test::run_of(BUILD)
            .args([target])
            .task_status("compile[src=alpha]", "succeeded")
            .task_status("compile[src=beta]", "succeeded")
            .task_status("link", "succeeded")
            .not_started("pages")
            .not_started("docs");
        test.run();
        assert!(test.path("app").exists(), "{target}");
    }
}

#[test]
fn an_absolute_file_target_is_found() {
    let test = Test::run_of(BUILD);
    let absolute = test.path("obj/alpha.o");
    let test = test
        .args([absolute.as_os_str()])
        .task_status("compile[src=alpha]", "succeeded")
        .not_started("compile[src=beta]");
    test.run();
}

#[test]
fn a_file_target_is_relative_to_the_current_directory() {
    let test = Test::run_of(BUILD)
        .in_dir("sub")
        .args(["../obj/alpha.o"])
        .task_status("compile[src=alpha]", "succeeded")
        .not_started("compile[src=beta]");
    test.run();
    // A path typed as from the workflow's directory is shown as it must be typed here.
    let test = Test::run_of(BUILD)
        .in_dir("sub")
        .args(["obj/alpha.o"])
        .status(2)
        .stderr_has("no task produces `obj/alpha.o`")
        .stderr_has(
            "did you mean `../obj/alpha.o`? (a file target is relative to the current directory)",
        );
    test.run();
    // The same text from the workflow's directory names nothing.
    let test = Test::run_of(BUILD)
        .args(["../obj/alpha.o"])
        .status(2)
        .stderr_has("no task produces `../obj/alpha.o`");
    test.run();
}

#[test]
fn a_glob_output_produces_what_it_matches() {
    let test = Test::run_of(BUILD)
        .args(["site/index.html"])
        .task_status("pages", "succeeded")
        .not_started("link");
    test.run();
}

#[test]
fn file_and_task_targets_mix() {
    let test = Test::run_of(BUILD).args(["obj/alpha.o", "docs"]);
    let run = test.run();
    let mut started = run.started_order();
    started.sort();
    assert_eq!(started, ["compile[src=alpha]", "docs"]);
}

#[test]
fn an_output_follows_the_variables_of_the_run() {
    let test = Test::run_of(BUILD)
        .args(["--var", "bin=prog", "prog"])
        .task_status("link", "succeeded");
    test.run();
    assert!(test.path("prog").exists());
}

#[test]
fn a_path_no_task_produces_is_a_usage_error_with_the_closest_output() {
    let test = Test::run_of(BUILD)
        .args(["obj/betta.o"])
        .status(2)
        .stderr_has("no task produces `obj/betta.o`")
        .stderr_has("did you mean `obj/beta.o`?")
        .stdout("");
    test.run();
    assert!(!test.path("obj").exists(), "nothing runs");
    // A misspelt task name is still told as one.
    let test = Test::run_of(BUILD)
        .args(["lnk"])
        .status(2)
        .stderr_has("no task named `lnk`")
        .stderr_has("did you mean `link`?");
    test.run();
}

#[test]
fn a_file_target_is_recorded_as_its_tasks_for_resume() {
    let test = Test::run_of(
        "
tasks:
  one:
    run: touch one.txt
    outputs: [one.txt]
  two:
    depends_on: [one]
    run: test -e go && touch two.txt
    outputs: [two.txt]
",
    )
    .in_dir("sub")
    .args(["../two.txt"])
    .status(1);
    let next = test.then();
    // Resumed from the workflow's directory, where `../two.txt` would name another file.
    let test = next
        .file("go", "")
        .in_dir(".")
        .args(["--resume"])
        .task_status("two", "succeeded")
        .skipped("one", "resumed");
    test.run();
}

#[test]
fn the_directories_of_outputs_exist_before_a_task_starts() {
    let test = Test::run_of(
        r#"
tasks:
  deep:
    run: echo made > out/deep/x.txt
    outputs: [out/deep/x.txt, "logs/${{ vars.day }}/run.log"]
  script:
    isolation: thread
    script: |
      write_file("thread/out/y.txt", "made");
    outputs: [thread/out/y.txt]
vars:
  day: monday
"#,
    )
    .task_status("deep", "failed")
    .status(1)
    .args(["--keep-going"]);
    let run = test.run();
    // `deep` wrote `x.txt` but not its log: its directories were there all the same.
    assert!(test.path("logs/monday").is_dir());
    assert_eq!(run.finished("script")["status"], "succeeded");
    assert!(test.path("thread/out/y.txt").exists());
    // The directory engine made stays after the failure; what the task wrote is set aside.
    assert!(test.path("out/deep").is_dir());
    assert!(!test.path("out/deep/x.txt").exists());
}

#[test]
fn a_file_in_the_way_of_an_outputs_directory_fails_the_task_before_it_starts() {
    let test = Test::run_of(
        "
tasks:
  build:
    run: touch started.marker; echo x > out/x.txt
    outputs: [out/x.txt]
",
    )
    .file("out", "a file")
    .status(1)
    .task_status("build", "failed")
    .stderr_has("`out` is a file, not a directory");
    test.run();
    assert!(!test.path("started.marker").exists(), "the command ran");
    assert_eq!(
        std::fs::read_to_string(test.path("out")).expect("read"),
        "a file"
    );
}

#[test]
fn force_takes_a_file_target() {
    let (_, next) = Test::run_of(BUILD).args(["app"]).run_then();
    let test = next
        .args(["app", "--force", "obj/alpha.o"])
        .task_status("compile[src=alpha]", "succeeded")
        .skipped("compile[src=beta]", "up_to_date")
        // Forced as what depends on the forced task.
        .task_status("link", "succeeded");
    let run = test.run();
    assert_eq!(run.skipped_for("up_to_date"), ["compile[src=beta]"]);
}
