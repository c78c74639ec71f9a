//! `${{ tasks.<name>.outputs }}`: the declared outputs of the tasks a task depends on, as a
//! list (one shell word per path in `run`, an array in scripts), and per-item dependencies
//! in a run.

use engine_test_support::Test;

/// Two sources compiled into objects, linked by naming the objects the compile declared.
const BUILD: &str = r#"
tasks:
  compile:
    matrix:
      src: [a, b]
    inputs: ["src/${{ matrix.src }}.c"]
    outputs: ["obj/${{ matrix.src }}.o"]
    run: mkdir -p obj && cp src/${{ matrix.src }}.c obj/${{ matrix.src }}.o
  link:
    depends_on: [compile]
    outputs: [app]
    run: cat ${{ tasks.compile.outputs }} > app
"#;

#[test]
fn a_link_names_exactly_the_declared_objects_and_relinks_when_a_source_is_added() {
    let test = Test::run_of(BUILD)
        .file("src/a.c", "A\n")
        .file("src/b.c", "B\n")
        .file("src/c.c", "C\n")
        // A stray object a glob would pick up.
        .file("obj/stray.o", "STRAY\n");
    test.again().status(0).run();
    assert_eq!(
        std::fs::read_to_string(test.path("app")).expect("app"),
        "A\nB\n"
    );
    // Nothing changed: the link is up to date.
    test.again().status(0).skipped("link", "up_to_date").run();
    // A third source: its object joins the link command, which relinks.
    test.again()
        .workflow(&BUILD.replace("src: [a, b]", "src: [a, b, c]"))
        .status(0)
        .skipped("compile[src=a]", "up_to_date")
        .skipped("compile[src=b]", "up_to_date")
        .task_status("compile[src=c]", "succeeded")
        .task_status("link", "succeeded")
        .run();
    assert_eq!(
        std::fs::read_to_string(test.path("app")).expect("app"),
        "A\nB\nC\n"
    );
}

#[test]
fn outputs_are_globs_expanded_and_paths_seen_from_the_readers_cwd() {
    Test::run_of(
        r#"
tasks:
  gen:
    cwd: producer
    outputs: ["gen/*.txt", "one file.txt"]
    run: mkdir -p gen && touch gen/b.txt gen/a.txt "one file.txt"
  use:
    depends_on: gen
    cwd: reader
    run: printf '<%s>' ${{ tasks.gen.outputs }}
  script:
    depends_on: gen
    script: print(`count ${tasks.gen.outputs.len()} first ${tasks.gen.outputs[0]}`);
"#,
    )
    .file("producer/.keep", "")
    .file("reader/.keep", "")
    .status(0)
    .stdout_has("<../producer/gen/a.txt><../producer/gen/b.txt><../producer/one file.txt>")
    .stdout_has("count 3 first producer/gen/a.txt")
    .run();
}

#[test]
fn one_item_and_a_selection_have_their_own_outputs() {
    Test::run_of(
        r#"
tasks:
  compile:
    matrix: { src: [a, b], opt: ["0", "2"] }
    outputs: ["${{ matrix.src }}-O${{ matrix.opt }}.o"]
    run: touch ${{ matrix.src }}-O${{ matrix.opt }}.o
  one:
    depends_on: ["compile[src=b,opt=2]"]
    run: echo "one ${{ tasks["compile[src=b,opt=2]"].outputs }}"
  optimized:
    depends_on: ["compile[opt=2]"]
    run: echo "optimized ${{ tasks.compile.outputs }}"
  each:
    matrix: { src: [a, b] }
    depends_on: compile[src]
    run: echo "each ${{ matrix.src }} ${{ tasks.compile.outputs }}"
"#,
    )
    .status(0)
    .stdout_has("one b-O2.o")
    .stdout_has("optimized a-O2.o b-O2.o")
    .stdout_has("each a a-O0.o a-O2.o")
    .stdout_has("each b b-O0.o b-O2.o")
    .run();
}

#[test]
fn reading_outputs_needs_a_dependency() {
    Test::run_of(
        r"
tasks:
  gen:
    outputs: [x]
    run: touch x
  use:
    run: echo ${{ tasks.gen.outputs }}
",
    )
    .status(2)
    .stderr_has("task `use` reads `tasks.gen` but does not depend on it")
    .run();
}

#[test]
fn each_sample_moves_on_without_waiting_for_the_others() {
    // `slow[B]` waits for a file only `next[A]` writes: with every step a barrier for all
    // items, `next[A]` would wait for `slow[B]` and the run would never end.
    Test::run_of(
        r"
tasks:
  slow:
    matrix: { sample: [A, B] }
    run: |
      if [ ${{ matrix.sample }} = B ]; then
        while [ ! -e next_A.done ]; do sleep 0.05; done
      fi
  next:
    matrix: { sample: [A, B] }
    depends_on:
      - slow[..]
    run: touch next_${{ matrix.sample }}.done
",
    )
    .args(["-j", "2"])
    .status(0)
    .task_status("next[sample=A]", "succeeded")
    .task_status("next[sample=B]", "succeeded")
    .run();
}
