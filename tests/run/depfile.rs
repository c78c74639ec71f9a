//! Discovered dependencies (`depfile`) and tasks with `inputs` but no `outputs`.
//!
//! The "compiler" is a stand-in shell script, so that no test needs gcc: `cc.sh NAME` reads
//! `NAME.c`, fails like a compiler when a file it `#include`s is missing, writes `NAME.o`
//! and a depfile `NAME.d` as `gcc -MMD` would (`NAME.o: NAME.c a.h b.h`), and appends a line
//! to `NAME.count`, so that a test can tell what ran without trusting the engine's events.

use engine_test_support::Test;

const COMPILER: &str = r#"src=$1
echo "$src" >> "$src.count"
deps=""
for header in $(sed -n 's/^#include //p' "$src.c"); do
  if [ ! -f "$header" ]; then echo "$src.c: fatal error: $header: No such file or directory" >&2; exit 1; fi
  deps="$deps $header"
done
cat "$src.c" $deps > "$src.o"
printf '%s.o: %s.c%s\n' "$src" "$src" "$deps" > "$src.d"
"#;

/// Three sources: `x` includes `a.h`, `y` includes `b.h`, `z` both.
const BUILD: &str = r#"
tasks:
  compile:
    matrix:
      src: [x, y, z]
    inputs: ["${{ matrix.src }}.c"]
    outputs: ["${{ matrix.src }}.o"]
    depfile: "${{ matrix.src }}.d"
    run: sh cc.sh ${{ matrix.src }}
"#;

fn count(test: &Test, name: &str) -> usize {
    std::fs::read_to_string(test.path(&format!("{name}.count")))
        .map_or(0, |text| text.lines().count())
}

#[track_caller]
fn expect_counts(test: &Test, expected: [usize; 3]) {
    let now = ["x", "y", "z"].map(|name| count(test, name));
    assert_eq!(now, expected, "how often x, y and z compiled");
}

/// The build, run once to success and once more with everything up to date.
fn built() -> Test {
    let test = Test::run_of(BUILD)
        .file("cc.sh", COMPILER)
        .file("x.c", "#include a.h\nx\n")
        .file("y.c", "#include b.h\ny\n")
        .file("z.c", "#include a.h\n#include b.h\nz\n")
        .file("a.h", "a\n")
        .file("b.h", "b\n");
    test.again().status(0).run();
    expect_counts(&test, [1, 1, 1]);
    test.again()
        .status(0)
        .skipped("compile[src=x]", "up_to_date")
        .skipped("compile[src=y]", "up_to_date")
        .skipped("compile[src=z]", "up_to_date")
        .run();
    expect_counts(&test, [1, 1, 1]);
    test
}

#[test]
fn a_header_edit_reruns_exactly_the_objects_whose_depfiles_name_it() {
    let test = built().file("a.h", "a2\n");
    test.engine(["plan", "--explain", "workflow.yaml"])
        .status(0)
        .stdout_has("compile[src=x]  runs: discovered input `a.h` (from its depfile) changed")
        .stdout_has("compile[src=y]  up to date")
        .run();
    test.again()
        .status(0)
        .task_status("compile[src=x]", "succeeded")
        .skipped("compile[src=y]", "up_to_date")
        .task_status("compile[src=z]", "succeeded")
        .run();
    expect_counts(&test, [2, 1, 2]);
    // And then all of it is up to date again.
    test.again()
        .status(0)
        .skipped("compile[src=x]", "up_to_date")
        .skipped("compile[src=z]", "up_to_date")
        .run();
    expect_counts(&test, [2, 1, 2]);
}

#[test]
fn the_depfiles_may_be_deleted_once_read() {
    let test = built();
    for name in ["x", "y", "z"] {
        std::fs::remove_file(test.path(&format!("{name}.d"))).expect("delete a depfile");
    }
    let test = test.file("b.h", "b2\n");
    test.again()
        .status(0)
        .skipped("compile[src=x]", "up_to_date")
        .task_status("compile[src=y]", "succeeded")
        .task_status("compile[src=z]", "succeeded")
        .run();
    expect_counts(&test, [1, 2, 2]);
}

#[test]
fn a_newly_added_include_is_picked_up_without_an_edit_of_the_workflow() {
    // `x.c` changed, so `x` reruns, and its new depfile names `b.h`.
    let test = built().file("x.c", "#include a.h\n#include b.h\nx\n");
    test.again()
        .status(0)
        .task_status("compile[src=x]", "succeeded")
        .run();
    expect_counts(&test, [2, 1, 1]);
    let test = test.file("b.h", "b2\n");
    test.again()
        .status(0)
        .task_status("compile[src=x]", "succeeded")
        .task_status("compile[src=y]", "succeeded")
        .task_status("compile[src=z]", "succeeded")
        .run();
    expect_counts(&test, [3, 2, 2]);
}

#[test]
fn a_discovered_header_that_is_gone_reruns_its_tasks_instead_of_failing_the_check() {
    let test = built();
    std::fs::remove_file(test.path("a.h")).expect("delete a header");
    test.engine(["plan", "--explain", "workflow.yaml"])
        .status(0)
        .stdout_has("compile[src=x]  runs: discovered input `a.h` (from its depfile) is gone")
        .run();
    // The stand-in compiler fails as a real one would, naming the missing include.
    test.again()
        .args(["--keep-going"])
        .status(1)
        .task_status("compile[src=x]", "failed")
        .task_status("compile[src=z]", "failed")
        .skipped("compile[src=y]", "up_to_date")
        .stderr_has("x.c: fatal error: a.h: No such file or directory")
        .run();
    expect_counts(&test, [2, 1, 2]);
    // Without the include, `x` builds again and no longer depends on `a.h`.
    let test = test.file("x.c", "x\n").file("z.c", "#include b.h\nz\n");
    test.again().status(0).run();
    expect_counts(&test, [3, 1, 3]);
    let test = test.file("a.h", "back\n");
    test.again()
        .status(0)
        .skipped("compile[src=x]", "up_to_date")
        .skipped("compile[src=z]", "up_to_date")
        .run();
    expect_counts(&test, [3, 1, 3]);
}

/// One task whose command writes `out.o` and, as `writes_depfile` says, its depfile.
fn one_task(writes_depfile: &str) -> Test {
    Test::run_of(&format!(
        r"
tasks:
  compile:
    outputs: [out.o]
    depfile: out.d
    run: |
      echo ran >> out.count; echo object > out.o; {writes_depfile}
"
    ))
}

#[test]
fn a_success_without_its_depfile_fails_and_its_outputs_are_set_aside() {
    let test = one_task("true");
    test.again()
        .status(1)
        .task_status("compile", "failed")
        .stderr_has("it did not write its depfile `out.d`")
        .run();
    // Its output is not left to look up to date: it was set aside, and the task runs again.
    assert!(!test.path("out.o").exists(), "out.o is set aside");
    test.again()
        .status(1)
        .task_status("compile", "failed")
        .run();
}

#[test]
fn a_malformed_depfile_fails_its_task_and_says_where() {
    let test = one_task(r"printf 'out.o: a.h\nb.h c.h\n' > out.d");
    test.again()
        .status(1)
        .task_status("compile", "failed")
        .stderr_has("its depfile `out.d` is malformed at out.d:2:1: expected `target: prerequisites`, found `b.h` without a `:` after it")
        .run();
}

#[test]
fn a_depfile_in_makefile_syntax_with_continuations_and_escapes_is_read() {
    let test = one_task(
        r"printf 'out.o: my\\ header.h \\\n  other.h\nmy\\ header.h:\nother.h:\n' > out.d",
    )
    .file("my header.h", "1\n")
    .file("other.h", "2\n");
    test.again().status(0).run();
    test.again()
        .status(0)
        .skipped("compile", "up_to_date")
        .run();
    let test = test.file("my header.h", "changed\n");
    test.again()
        .status(0)
        .task_status("compile", "succeeded")
        .run();
    let runs = std::fs::read_to_string(test.path("out.count")).expect("the counter");
    assert_eq!(runs.lines().count(), 2);
}

const CHECKER: &str = r"
tasks:
  lint:
    inputs: [src.txt]
    run: echo lint >> lint.count
  always:
    run: echo always >> always.count
";

#[test]
fn a_task_with_inputs_and_no_outputs_is_skipped_until_an_input_changes() {
    let test = Test::run_of(CHECKER).file("src.txt", "one\n");
    test.again()
        .status(0)
        .task_status("lint", "succeeded")
        .run();
    test.engine(["plan", "--explain", "workflow.yaml"])
        .status(0)
        .stdout_has("lint    up to date")
        .stdout_has("always  runs: it has no `inputs`, `outputs` nor `depfile`, so it always runs")
        .run();
    test.again()
        .status(0)
        .skipped("lint", "up_to_date")
        .task_status("always", "succeeded")
        .run();
    let test = test.file("src.txt", "two\n");
    test.engine(["plan", "--explain", "workflow.yaml"])
        .status(0)
        .stdout_has("lint    runs: input `src.txt` changed")
        .run();
    test.again()
        .status(0)
        .task_status("lint", "succeeded")
        .run();
    test.again()
        .args(["--force"])
        .status(0)
        .task_status("lint", "succeeded")
        .run();
    test.again().status(0).skipped("lint", "up_to_date").run();
    let lint = std::fs::read_to_string(test.path("lint.count")).expect("lint ran");
    let always = std::fs::read_to_string(test.path("always.count")).expect("always ran");
    assert_eq!((lint.lines().count(), always.lines().count()), (3, 5));
}

#[test]
fn a_header_a_dependency_rewrites_is_looked_at_again_after_it_ran() {
    let test = Test::run_of(
        r"
tasks:
  # No inputs or outputs: it runs every time, and its key (what `compile` sees of it) stays
  # the same, so only `a.h` itself can tell `compile` that it changed. It rewrites `a.h`
  # only when `a.in` differs, so that between edits `a.h` settles and is known by stamp.
  gen:
    run: sleep 1 && (cmp -s a.in a.h || cp a.in a.h)
  # Checked beside `gen`, before it runs: it looks at `a.h` first (it found it in its
  # depfile, so nothing says it needs `gen`).
  peek:
    inputs: [p.c]
    outputs: [p.o]
    depfile: p.d
    run: sh cc.sh p
  compile:
    depends_on: [gen]
    inputs: [x.c]
    outputs: [x.o]
    depfile: x.d
    run: sh cc.sh x
",
    )
    .file("cc.sh", COMPILER)
    .file("x.c", "#include a.h\nx\n")
    .file("p.c", "#include a.h\np\n")
    .file("a.in", "a\n")
    .file("a.h", "a\n");
    test.again().status(0).run();
    // Settled files are known by stamp to the record, so a run checks them by stamp only:
    // what it found before `gen` ran must not stand for `a.h` after.
    std::thread::sleep(std::time::Duration::from_millis(3500));
    test.again()
        .status(0)
        .task_status("gen", "succeeded")
        .skipped("peek", "up_to_date")
        .skipped("compile", "up_to_date")
        .run();
    assert_eq!(count(&test, "x"), 1);
    std::thread::sleep(std::time::Duration::from_millis(3500));
    let test = test.file("a.in", "a2\n");
    test.again()
        .status(0)
        .task_status("gen", "succeeded")
        .skipped("peek", "up_to_date")
        .task_status("compile", "succeeded")
        .run();
    assert_eq!(count(&test, "x"), 2);
}
