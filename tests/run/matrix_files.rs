//! Matrices from files (`${{ glob(...) }}` axes) and the path helpers, through the binary.

use engine_test_support::Test;

const BUILD: &str = r#"
tasks:
  compile:
    matrix:
      src: ${{ glob("src/*.c") }}
    inputs: ['${{ matrix.src }}']
    outputs: ['obj/${{ stem(matrix.src) }}.o']
    run: mkdir -p obj && cp ${{ matrix.src }} ${{ with_ext("obj/" + basename(matrix.src), "o") }}
  link:
    depends_on: [compile]
    inputs: ['obj/*.o']
    outputs: [app]
    run: cat obj/*.o > app
"#;

#[test]
fn a_new_file_matched_by_the_glob_adds_one_task_and_reruns_only_it_and_its_dependents() {
    let test = Test::run_of(BUILD)
        .file("src/lapi.c", "lapi\n")
        .file("src/lcode.c", "lcode\n");
    let first = test
        .again()
        .status(0)
        .task_status("compile[src=src/lapi.c]", "succeeded")
        .task_status("compile[src=src/lcode.c]", "succeeded")
        .task_status("link", "succeeded")
        .run();
    assert_eq!(
        first.started_order().len(),
        3,
        "{:?}",
        first.started_order()
    );
    let second = test
        .again()
        .file("src/new.c", "new\n")
        .status(0)
        .skipped("compile[src=src/lapi.c]", "up_to_date")
        .skipped("compile[src=src/lcode.c]", "up_to_date")
        .task_status("compile[src=src/new.c]", "succeeded")
        .task_status("link", "succeeded")
        .run();
    assert_eq!(
        second.started_order(),
        ["compile[src=src/new.c]", "link"],
        "only the new file's task and what depends on it run"
    );
    let app = std::fs::read_to_string(test.path("app")).expect("the linked app");
    assert_eq!(app, "lapi\nlcode\nnew\n");
    let third = test.again().status(0).run();
    assert!(
        third.started_order().is_empty(),
        "{:?}",
        third.started_order()
    );
}

#[test]
fn an_empty_glob_warns_and_its_dependents_still_run() {
    Test::run_of(BUILD)
        .status(0)
        .stderr_has("`glob(\"src/*.c\")` matches no file: task `compile` has no items")
        .task_status("link", "succeeded")
        .file("obj/old.o", "old\n")
        .run();
}

#[test]
fn template_and_list_axes_mix_and_helpers_work_in_templates_conditions_and_scripts() {
    let run = Test::run_of(
        r#"
tasks:
  grid:
    matrix:
      n: ${{ from_json("[1, 2]") }}
      os: [linux]
    run: echo "grid ${{ matrix.n }} ${{ matrix.os }}"
  paths:
    if: ${{ stem("src/lapi.c") == "lapi" && dirname("lapi.c") == "." }}
    run: echo "${{ basename("src/lapi.c") }} ${{ with_ext("src/lapi.c", ".o") }} ${{ from_json("[\"a\"]")[0] }}"
  script:
    script: |
      print(`${stem("a/b.tar.gz")} ${dirname("/x")} ${from_json("{\"k\": 3}").k}`);
"#,
    )
    .status(0)
    .stdout_has("grid 1 linux")
    .stdout_has("grid 2 linux")
    .task_status("grid[n=1,os=linux]", "succeeded")
    .task_status("grid[n=2,os=linux]", "succeeded")
    .stdout_has("lapi.c src/lapi.o a")
    .stdout_has("b.tar / 3")
    .run();
    assert_eq!(run.started_order().len(), 4, "{:?}", run.started_order());
}
