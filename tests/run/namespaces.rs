//! Namespaced includes: `include: { docs: docs/engine.yaml }` names the file's tasks
//! `docs:<name>`, resolves its own names to its own tasks first, and runs its tasks in its
//! own directory.

use engine_test_support::{Test, WORKFLOW};

const MAIN: &str = r#"
include: { docs: docs/engine.yaml, web: web/engine.yaml }
tasks:
  build:
    run: echo root > root.txt
  all:
    depends_on: ["docs:build", "web:build"]
"#;

const DOCS: &str = r#"
tasks:
  gen:
    run: pwd > gen.txt
  build:
    depends_on: [gen, ":build"]
    run: test -f gen.txt && echo docs > built.txt
"#;

const WEB: &str = r"
tasks:
  build:
    depends_on: [bundle]
    run: echo web > built.txt
  bundle:
    run: echo bundle > bundle.txt
";

fn project() -> Test {
    Test::run_of(MAIN)
        .file("docs/engine.yaml", DOCS)
        .file("web/engine.yaml", WEB)
}

#[test]
fn clashing_names_in_two_namespaces_are_two_tasks_run_in_their_directories() {
    let test = project()
        .args(["all"])
        .status(0)
        .task_status("build", "succeeded")
        .task_status("docs:gen", "succeeded")
        .task_status("docs:build", "succeeded")
        .task_status("web:bundle", "succeeded")
        .task_status("web:build", "succeeded");
    let run = test.run();
    assert_eq!(
        std::fs::read_to_string(test.path("docs/built.txt")).expect("docs"),
        "docs\n"
    );
    assert_eq!(
        std::fs::read_to_string(test.path("web/built.txt")).expect("web"),
        "web\n"
    );
    let cwd = std::fs::read_to_string(test.path("docs/gen.txt")).expect("gen");
    assert!(cwd.trim_end().ends_with("/docs"), "{cwd}");
    // `docs:build` waits for its own `gen` and, through `:build`, the main file's `build`.
    assert!(run.position("task_finished", "docs:gen") < run.position("task_started", "docs:build"));
    assert!(run.position("task_finished", "build") < run.position("task_started", "docs:build"));
}

#[test]
fn a_namespaced_task_is_a_target_with_its_own_dependencies() {
    let test = project()
        .args(["web:build"])
        .status(0)
        .task_status("web:bundle", "succeeded")
        .task_status("web:build", "succeeded")
        .not_started("build")
        .not_started("docs:build");
    test.run();
}

#[test]
fn a_problem_in_an_included_file_is_located_there() {
    Test::new()
        .workflow(MAIN)
        .file("docs/engine.yaml", DOCS)
        .file("web/engine.yaml", WEB.replace("[bundle]", "[bundel]"))
        .engine(["check", WORKFLOW])
        .status(2)
        .stderr_has("task `web:build` depends on `bundel`, which is not a task")
        .stderr_has("web/engine.yaml:4:")
        .stderr_has("did you mean `web:bundle`?")
        .run();
}

#[test]
fn the_list_form_stays_flat() {
    let test =
        Test::run_of("include: [more.yaml]\ntasks:\n  a:\n    depends_on: [b]\n    run: echo a\n")
            .file("more.yaml", "tasks:\n  b:\n    run: pwd > b.txt\n")
            .status(0)
            .task_status("a", "succeeded")
            .task_status("b", "succeeded");
    test.run();
}

#[test]
fn task_names_may_contain_dashes() {
    Test::run_of("tasks:\n  build-docs:\n    run: echo ok\n  all:\n    depends_on: [build-docs]\n")
        .status(0)
        .task_status("build-docs", "succeeded")
        .run();
}

#[test]
fn templates_in_a_namespaced_file_read_its_own_tasks_by_their_short_names() {
    let docs = r#"
tasks:
  gen:
    run: echo "tag=v1" >> "$ENGINE_RESULTS" && echo page > page.html
    outputs: [page.html]
  build:
    depends_on: [gen, ":build"]
    run: echo "${{ tasks.gen.results.tag }} ${{ tasks.gen.status }} ${{ tasks[":build"].results.tag }} ${{ tasks.gen.outputs[0] }} ${{ tasks["docs:gen"].results.tag }}" > built.txt
"#;
    let main = r#"
include: { docs: docs/engine.yaml }
tasks:
  gen:
    run: echo "tag=root" >> "$ENGINE_RESULTS"
  build:
    run: echo "tag=main" >> "$ENGINE_RESULTS"
"#;
    Test::new()
        .workflow(main)
        .file("docs/engine.yaml", docs)
        .engine(["check", WORKFLOW])
        .status(0)
        .run();
    let test = Test::run_of(main)
        .file("docs/engine.yaml", docs)
        .args(["docs:build"])
        .status(0)
        .not_started("gen")
        .task_status("docs:build", "succeeded");
    test.run();
    assert_eq!(
        std::fs::read_to_string(test.path("docs/built.txt")).expect("built"),
        "v1 success main page.html v1\n"
    );
}

#[test]
fn a_namespaced_template_that_names_a_task_it_does_not_depend_on_is_an_error() {
    let docs = r#"
tasks:
  gen:
    run: echo "tag=v1" >> "$ENGINE_RESULTS"
  build:
    depends_on: [":gen"]
    run: echo "${{ tasks.gen.results.tag }}"
"#;
    Test::new()
        .workflow("include: { docs: docs/engine.yaml }\ntasks:\n  gen:\n    run: echo root\n")
        .file("docs/engine.yaml", docs)
        .engine(["check", WORKFLOW])
        .status(2)
        .stderr_has("task `docs:build` reads `tasks.gen` but does not depend on it")
        .stderr_has("add `docs:gen` to `depends_on`")
        .run();
}
