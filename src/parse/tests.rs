//! Table tests of parsing and validation: each row is a workflow text and the exact problems
//! it must produce (kind, line, column, and where it matters the underlined text, message
//! and hint), followed by tests of what valid files turn into.

use std::path::{Path, PathBuf};
use std::time::Duration as StdDuration;

use crate::diagnostic::{Diagnostic, DiagnosticKind, Source, Span};
use crate::model::{Command, Isolation, Workflow};

use DiagnosticKind as K;

/// The directory the test workflows pretend to live in.
const DIR: &str = "/work/flows";

fn source(text: &str) -> Source {
    let path = Path::new(DIR).join("w.yaml");
    Source::new(path, "w.yaml".to_owned(), text)
}

/// Parses and validates `text` the way `engine check` does.
fn load(source: &Source) -> Result<Workflow, Vec<Diagnostic>> {
    let raw = crate::parse::parse_workflow(source)?;
    crate::validate::validate_workflow(source, raw)
}

fn valid(text: &str) -> Workflow {
    let source = source(text);
    match load(&source) {
        Ok(workflow) => workflow,
        Err(found) => panic!("expected a valid workflow, got {found:#?}\n--- input ---\n{text}"),
    }
}

/// The text a span covers.
fn covered(source: &Source, span: Span) -> &str {
    &source.text()[span.offset..span.offset + span.len]
}

/// One expected diagnostic.
struct Expect {
    kind: DiagnosticKind,
    /// 1-based line and column of the primary label, or `None` for a file-wide problem.
    at: Option<(usize, usize)>,
    /// The exact text under the carets.
    text: Option<&'static str>,
    /// Substrings of the message.
    message: Vec<&'static str>,
    /// A substring of the hint.
    hint: Option<&'static str>,
    /// A substring of the text beside the carets.
    label: Option<&'static str>,
}

fn at(kind: DiagnosticKind, line: usize, column: usize) -> Expect {
    Expect {
        kind,
        at: Some((line, column)),
        text: None,
        message: Vec::new(),
        hint: None,
        label: None,
    }
}

fn nowhere(kind: DiagnosticKind) -> Expect {
    Expect {
        at: None,
        ..at(kind, 0, 0)
    }
}

impl Expect {
    fn text(mut self, text: &'static str) -> Self {
        self.text = Some(text);
        self
    }

    fn message(mut self, part: &'static str) -> Self {
        self.message.push(part);
        self
    }

    fn hint(mut self, part: &'static str) -> Self {
        self.hint = Some(part);
        self
    }

    fn label(mut self, part: &'static str) -> Self {
        self.label = Some(part);
        self
    }
}

/// Checks that `yaml` fails with exactly `expected`, in order.
#[track_caller]
fn check_row(name: &str, yaml: &str, expected: &[Expect]) {
    let source = source(yaml);
    let Err(found) = load(&source) else {
        panic!("{name}: expected problems, the workflow is valid")
    };
    let summary: Vec<_> = found
        .iter()
        .map(|d| {
            let at = d.primary.as_ref().map(|l| source.position(l.span.offset));
            (d.kind, at, d.message.as_str())
        })
        .collect();
    assert_eq!(
        found.len(),
        expected.len(),
        "{name}: wrong number of problems: {summary:#?}"
    );
    for (diagnostic, expect) in found.iter().zip(expected) {
        let at = diagnostic
            .primary
            .as_ref()
            .map(|label| source.position(label.span.offset));
        assert_eq!(
            (diagnostic.kind, at),
            (expect.kind, expect.at),
            "{name}: kind or place of `{}`",
            diagnostic.message
        );
        if let Some(text) = expect.text {
            let span = diagnostic.primary.as_ref().expect("located").span;
            assert_eq!(covered(&source, span), text, "{name}: underlined text");
        }
        for part in &expect.message {
            assert!(
                diagnostic.message.contains(part),
                "{name}: message `{}` lacks `{part}`",
                diagnostic.message
            );
        }
        if let Some(part) = expect.hint {
            let hint = diagnostic.hint.as_deref().unwrap_or("");
            assert!(hint.contains(part), "{name}: hint `{hint}` lacks `{part}`");
        }
        if let Some(part) = expect.label {
            let label = diagnostic.primary.as_ref().and_then(|l| l.text.as_deref());
            let label = label.unwrap_or("");
            assert!(
                label.contains(part),
                "{name}: label `{label}` lacks `{part}`"
            );
        }
    }
}

#[test]
fn yaml_and_file_level_problems() {
    let rows: Vec<(&str, &str, Vec<Expect>)> = vec![
        (
            "unclosed flow list",
            "tasks: [a\n",
            vec![at(K::Syntax, 1, 8).message("invalid YAML").hint("closed")],
        ),
        (
            "unclosed quote",
            "tasks:\n  a:\n    run: \"unterminated\n",
            vec![at(K::Syntax, 3, 10).message("quote")],
        ),
        (
            "bad indentation",
            "tasks:\n  a:\n    run: x\n   b: y\n",
            vec![at(K::Syntax, 4, 4).hint("indentation")],
        ),
        (
            "colon and space inside a plain value",
            "tasks:\n  a:\n    run: echo a: b\n",
            vec![at(K::Syntax, 3, 16).hint("quote the value")],
        ),
        (
            "two YAML documents",
            "tasks:\n  a: {}\n---\ntasks:\n  b: {}\n",
            vec![
                at(K::Syntax, 4, 1)
                    .message("more than one YAML document")
                    .hint("one YAML document"),
            ],
        ),
        (
            "tab indentation points at the tab",
            "tasks:\n  a:\n\trun: x\n",
            vec![at(K::Tab, 3, 1).text("\t").hint("spaces")],
        ),
        (
            "tab after spaces",
            "tasks:\n  a:\n  \t  run: x\n",
            vec![at(K::Tab, 3, 3).text("\t")],
        ),
        ("empty file", "", vec![nowhere(K::EmptyFile).hint("tasks:")]),
        ("only blank lines", "\n  \n\n", vec![nowhere(K::EmptyFile)]),
        (
            "only comments",
            "# a workflow, some day\n\n# nothing yet\n",
            vec![nowhere(K::EmptyFile)],
        ),
        (
            "document marker and a comment",
            "---\n# nothing\n",
            vec![nowhere(K::EmptyFile)],
        ),
        (
            "root is a list",
            "- a\n- b\n",
            vec![
                at(K::RootNotMapping, 1, 1)
                    .message("found a list")
                    .hint("tasks:"),
            ],
        ),
        (
            "root is a string",
            "hello world\n",
            vec![at(K::RootNotMapping, 1, 1).message("found a string")],
        ),
        (
            "missing tasks",
            "name: x\n",
            vec![
                at(K::MissingKey, 1, 1)
                    .message("has no `tasks`")
                    .hint("add a `tasks:` mapping"),
            ],
        ),
        (
            "empty tasks mapping",
            "tasks: {}\n",
            vec![
                at(K::MissingKey, 1, 8)
                    .text("{")
                    .message("no tasks")
                    .hint("add a task"),
            ],
        ),
        (
            "tasks with no value",
            "name: x\ntasks:\n",
            vec![at(K::WrongType, 2, 6).message("`tasks` must be a mapping, found nothing")],
        ),
    ];
    for (name, yaml, expected) in rows {
        check_row(name, yaml, &expected);
    }
}

#[test]
fn structural_problems() {
    let rows: Vec<(&str, &str, Vec<Expect>)> = vec![
        (
            "unknown top-level key",
            "tasks:\n  a: {}\nfoo: 1\n",
            vec![
                at(K::UnknownKey, 3, 1)
                    .text("foo")
                    .message("unknown key `foo` in the top level")
                    .hint("`name`, `description`, `env`, `defaults`, `vars`, `env_file`, `secrets`, `pools`, `include`, `executor`, `tasks`"),
            ],
        ),
        (
            "misspelt `tasks`",
            "task:\n  a: {}\n",
            vec![
                at(K::UnknownKey, 1, 1)
                    .text("task")
                    .hint("did you mean `tasks`?"),
                at(K::MissingKey, 1, 1),
            ],
        ),
        (
            "unknown key in a task",
            "tasks:\n  a:\n    depend_on: [b]\n  b: {}\n",
            vec![
                at(K::UnknownKey, 3, 5)
                    .text("depend_on")
                    .message("unknown key `depend_on` in task `a`")
                    .hint("did you mean `depends_on`?"),
            ],
        ),
        (
            "unknown key in defaults",
            "defaults:\n  timout: 5m\ntasks:\n  a: {}\n",
            vec![
                at(K::UnknownKey, 2, 3)
                    .text("timout")
                    .message("in `defaults`")
                    .hint("did you mean `timeout`?"),
            ],
        ),
        (
            "depends_on is a number",
            "tasks:\n  a:\n    depends_on: 5\n",
            vec![
                at(K::WrongType, 3, 5)
                    .message("integer `5`")
                    .message("task names"),
            ],
        ),
        (
            "depends_on is a mapping",
            "tasks:\n  a:\n    depends_on: {b: 1}\n  b: {}\n",
            vec![
                at(K::WrongType, 3, 17)
                    .message("`depends_on` of task `a` must be a list or a string, found a mapping")
                    .hint("depends_on: [build, test]"),
            ],
        ),
        (
            "env is a list",
            "tasks:\n  a:\n    env: [a]\n",
            vec![
                at(K::WrongType, 3, 10)
                    .message("`env` of task `a` must be a mapping, found a list")
                    .hint("env: { MODE: fast }"),
            ],
        ),
        (
            "run is a list",
            "tasks:\n  a:\n    run: [x]\n",
            vec![
                at(K::WrongType, 3, 10)
                    .message("`run` of task `a` must be a string, found a list")
                    .hint("run: |"),
            ],
        ),
        (
            "tasks is a list",
            "tasks: [a]\n",
            vec![
                at(K::WrongType, 1, 8)
                    .message("`tasks` must be a mapping, found a list")
                    .hint("name:"),
            ],
        ),
        (
            "a task is a number",
            "tasks:\n  a: 5\n",
            vec![at(K::WrongType, 2, 6).message("task `a` must be a mapping, found a number")],
        ),
        (
            "several wrong types at once",
            "name: [1]\ntasks:\n  a:\n    env: [a]\n    run: [x]\n",
            vec![
                at(K::WrongType, 1, 7).message("`name`"),
                at(K::WrongType, 4, 10).message("`env`"),
                at(K::WrongType, 5, 10).message("`run`"),
            ],
        ),
        (
            "duplicate task names",
            "tasks:\n  a:\n    run: echo 1\n  b: {}\n  a:\n    run: echo 2\n",
            vec![
                at(K::DuplicateTask, 5, 3)
                    .text("a")
                    .message("task `a` is defined twice"),
            ],
        ),
        (
            "duplicate key inside a task",
            "tasks:\n  a:\n    run: echo 1\n    run: echo 2\n",
            vec![
                at(K::DuplicateKey, 4, 5)
                    .text("run")
                    .message("key `run` appears twice in task `a`"),
            ],
        ),
        (
            "duplicate top-level key",
            "tasks:\n  a: {}\ntasks:\n  b: {}\n",
            vec![at(K::DuplicateKey, 3, 1).message("key `tasks` appears twice in the top level")],
        ),
        (
            "invalid isolation",
            "tasks:\n  a:\n    isolation: threads\n    script: \"1\"\n",
            vec![
                at(K::InvalidValue, 3, 16)
                    .text("threads")
                    .message("must be `thread` or `process`, found `threads`")
                    .hint("did you mean `thread`?"),
            ],
        ),
        (
            "misspelt process isolation in defaults",
            "defaults:\n  isolation: procss\ntasks:\n  a: {}\n",
            vec![
                at(K::InvalidValue, 2, 14)
                    .message("`defaults.isolation`")
                    .hint("did you mean `process`?"),
            ],
        ),
        (
            "isolation is a number",
            "tasks:\n  a:\n    isolation: 5\n",
            vec![
                at(K::InvalidValue, 3, 16)
                    .message("found a number")
                    .hint("`thread` runs inside the engine"),
            ],
        ),
    ];
    for (name, yaml, expected) in rows {
        check_row(name, yaml, &expected);
    }
}

#[test]
fn names_and_dependencies() {
    let rows: Vec<(&str, &str, Vec<Expect>)> = vec![
        (
            "invalid task names",
            "tasks:\n  Build-All:\n    run: x\n  2step: {}\n",
            vec![
                at(K::InvalidTaskName, 2, 3)
                    .text("Build-All")
                    .message("invalid task name `Build-All`")
                    .hint("like `build_all`"),
                at(K::InvalidTaskName, 4, 3)
                    .text("2step")
                    .hint("like `task_2step`"),
            ],
        ),
        (
            "unknown dependency in a list",
            "tasks:\n  build:\n    run: x\n  test:\n    depends_on: [biuld]\n",
            vec![
                at(K::UnknownDependency, 5, 18)
                    .text("biuld")
                    .message("task `test` depends on `biuld`, which is not a task")
                    .hint("did you mean `build`?"),
            ],
        ),
        (
            "unknown dependency as a single name",
            "tasks:\n  build:\n    run: x\n  test:\n    depends_on: biuld\n",
            vec![
                at(K::UnknownDependency, 5, 17)
                    .text("biuld")
                    .hint("did you mean `build`?"),
            ],
        ),
        (
            "unknown dependency with nothing close",
            "tasks:\n  build: {}\n  test:\n    depends_on: [zzz]\n",
            vec![at(K::UnknownDependency, 4, 18).hint("engine list")],
        ),
        (
            "self dependency",
            "tasks:\n  test:\n    depends_on: [test]\n",
            vec![
                at(K::SelfDependency, 3, 18)
                    .text("test")
                    .message("task `test` depends on itself"),
            ],
        ),
        (
            "repeated dependency",
            "tasks:\n  build: {}\n  test:\n    depends_on: [build, build]\n",
            vec![
                at(K::RepeatedDependency, 4, 25)
                    .text("build")
                    .message("lists `build` twice"),
            ],
        ),
        (
            "two-task cycle",
            "tasks:\n  a:\n    depends_on: b\n  b:\n    depends_on: [a]\n",
            vec![
                at(K::DependencyCycle, 3, 17)
                    .text("b")
                    .message("dependency cycle: a -> b -> a"),
            ],
        ),
    ];
    for (name, yaml, expected) in rows {
        check_row(name, yaml, &expected);
    }
}

#[test]
fn commands_durations_and_env() {
    let rows: Vec<(&str, &str, Vec<Expect>)> = vec![
        (
            "run on a thread task",
            "tasks:\n  a:\n    isolation: thread\n    run: echo hi\n",
            vec![
                at(K::RunOnThread, 4, 10)
                    .text("echo hi")
                    .message("task `a` runs a shell command on a thread")
                    .hint("`isolation: process`"),
            ],
        ),
        (
            "run and script together",
            "tasks:\n  a:\n    run: echo\n    script: \"1\"\n",
            vec![
                at(K::RunAndScript, 4, 13)
                    .message("task `a` has both `run` and `script`")
                    .hint("split it into two tasks"),
            ],
        ),
        (
            "shell without run",
            "tasks:\n  a:\n    shell: bash\n",
            vec![
                at(K::InvalidCommand, 3, 12)
                    .text("bash")
                    .message("sets `shell` but has no `run`"),
            ],
        ),
        (
            "shell with a script",
            "tasks:\n  a:\n    shell: bash\n    script: \"1\"\n",
            vec![at(K::InvalidCommand, 3, 12)],
        ),
        (
            "blank run",
            "tasks:\n  a:\n    run: \"  \"\n",
            vec![at(K::InvalidCommand, 3, 10).message("`run` command of task `a` is empty")],
        ),
        (
            "empty run",
            "tasks:\n  a:\n    run: ''\n",
            vec![at(K::InvalidCommand, 3, 10)],
        ),
        (
            "run with no value",
            "tasks:\n  a:\n    run:\n  b: {}\n",
            vec![at(K::InvalidCommand, 3, 8).message("`run` command of task `a` is empty")],
        ),
        (
            "empty script",
            "tasks:\n  a:\n    script: \"\"\n",
            vec![at(K::InvalidCommand, 3, 13).message("the `script` of task `a` is empty")],
        ),
        (
            "duration with a space",
            "tasks:\n  a:\n    timeout: 5 minutes\n",
            vec![
                at(K::InvalidDuration, 3, 14)
                    .text("5 minutes")
                    .message("invalid `timeout` `5 minutes` in task `a`")
                    .hint("`5m`, `1h30m`"),
            ],
        ),
        (
            "duration without a unit, in defaults",
            "defaults:\n  timeout: 10\ntasks:\n  a: {}\n",
            vec![
                at(K::InvalidDuration, 2, 12)
                    .text("10")
                    .message("in `defaults`: missing unit after `10`"),
            ],
        ),
        (
            "a timeout of zero, in a task and in defaults",
            "defaults:\n  timeout: 0ms\ntasks:\n  a:\n    timeout: 0s\n",
            vec![
                at(K::InvalidDuration, 2, 12)
                    .text("0ms")
                    .message("invalid `timeout` `0ms` in `defaults`: a task would be stopped")
                    .hint("leave `timeout` out"),
                at(K::InvalidDuration, 5, 14)
                    .text("0s")
                    .message("invalid `timeout` `0s` in task `a`"),
            ],
        ),
        (
            "duration with an unknown unit",
            "tasks:\n  a:\n    timeout: 5sec\n",
            vec![at(K::InvalidDuration, 3, 14).message("unknown unit `sec`")],
        ),
        (
            "invalid env names at every level",
            "env:\n  1X: a\n  GOOD: b\ndefaults:\n  env: { A.B: c }\ntasks:\n  a:\n    env:\n      A-B: c\n",
            vec![
                at(K::InvalidEnvName, 2, 3)
                    .text("1X")
                    .message("`1X` in the workflow"),
                at(K::InvalidEnvName, 5, 10)
                    .text("A.B")
                    .message("in `defaults`"),
                at(K::InvalidEnvName, 9, 7)
                    .text("A-B")
                    .message("in task `a`"),
            ],
        ),
    ];
    for (name, yaml, expected) in rows {
        check_row(name, yaml, &expected);
    }
}

#[test]
fn scripts_that_do_not_compile_point_into_the_yaml() {
    let rows: Vec<(&str, &str, Vec<Expect>)> = vec![
        (
            "block script, error on its second line",
            "tasks:\n  a:\n    script: |\n      let x = 1;\n      let y = ;\n",
            vec![
                at(K::ScriptSyntax, 5, 15)
                    .text(";")
                    .message("the script of task `a` does not compile")
                    .hint("rhai"),
            ],
        ),
        (
            "block script, error on its first line",
            "tasks:\n  a:\n    script: |\n        x = = 2;\n",
            vec![at(K::ScriptSyntax, 4, 13).text("=")],
        ),
        (
            "double-quoted script",
            "tasks:\n  b:\n    script: \"let = 5\"\n",
            vec![at(K::ScriptSyntax, 3, 18).text("=")],
        ),
        (
            "single-quoted script",
            "tasks:\n  b:\n    script: 'let = 5'\n",
            vec![at(K::ScriptSyntax, 3, 18).text("=")],
        ),
        (
            "block script with an indentation indicator",
            "tasks:\n  a:\n    script: |2\n        let x = 1;\n        let y = ;\n",
            vec![at(K::ScriptSyntax, 5, 17).text(";")],
        ),
        (
            "folded script: lines are joined, so point at the start",
            "tasks:\n  a:\n    script: >\n      let x = 1;\n      let y = ;\n",
            vec![
                at(K::ScriptSyntax, 4, 7)
                    .text("let x = 1;")
                    .label("(line 1, column 20 of the script)"),
            ],
        ),
        (
            "multi-line quoted script: lines are joined, so point at the start",
            "tasks:\n  a:\n    script: \"let x = 1;\n      let y = ;\"\n",
            vec![
                at(K::ScriptSyntax, 3, 13)
                    .text("\"let x = 1;")
                    .label("of the script"),
            ],
        ),
        (
            "quoted script with escapes: columns differ, so point at the start",
            "tasks:\n  a:\n    script: \"print(\\\"a\\\"); let = 1;\"\n",
            vec![at(K::ScriptSyntax, 3, 13)],
        ),
        (
            "plain script",
            "tasks:\n  b:\n    script: let = 5\n",
            vec![at(K::ScriptSyntax, 3, 17).text("=")],
        ),
    ];
    for (name, yaml, expected) in rows {
        check_row(name, yaml, &expected);
    }
}

#[test]
fn a_cycle_is_a_path_with_a_label_at_each_edge() {
    let yaml = "\
tasks:
  fetch:
    depends_on: [parse]
  parse:
    depends_on: [store]
  store:
    depends_on: [fetch]
";
    let source = source(yaml);
    let found = load(&source).expect_err("a cycle");
    assert_eq!(found.len(), 1, "{found:#?}");
    let cycle = &found[0];
    assert_eq!(cycle.kind, K::DependencyCycle);
    assert_eq!(
        cycle.message,
        "dependency cycle: fetch -> parse -> store -> fetch"
    );
    let primary = cycle.primary.as_ref().expect("located");
    let labels: Vec<_> = std::iter::once(primary)
        .chain(&cycle.secondary)
        .map(|label| {
            (
                source.position(label.span.offset),
                covered(&source, label.span),
                label.text.as_deref().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        labels,
        [
            ((3, 18), "parse", "`fetch` depends on `parse`"),
            ((5, 18), "store", "`parse` depends on `store`"),
            ((7, 18), "fetch", "`store` depends on `fetch`"),
        ]
    );
}

#[test]
fn a_duplicate_task_points_at_both_definitions() {
    let yaml = "tasks:\n  build:\n    run: make\n  test: {}\n  build:\n    run: make all\n";
    let source = source(yaml);
    let found = load(&source).expect_err("a duplicate");
    assert_eq!(found.len(), 1, "{found:#?}");
    let duplicate = &found[0];
    assert_eq!(duplicate.kind, K::DuplicateTask);
    assert!(
        duplicate.message.contains("`build`"),
        "{}",
        duplicate.message
    );
    let second = duplicate.primary.as_ref().expect("located");
    assert_eq!(source.position(second.span.offset), (5, 3));
    assert_eq!(second.text.as_deref(), Some("defined again here"));
    let [first] = duplicate.secondary.as_slice() else {
        panic!("one other place: {:?}", duplicate.secondary);
    };
    assert_eq!(source.position(first.span.offset), (2, 3));
    assert_eq!(covered(&source, first.span), "build");
    assert_eq!(first.text.as_deref(), Some("first defined here"));
}

#[test]
fn related_places_of_other_problems() {
    // Each of these problems names a second place; check both ends.
    let cases = [
        (
            "tasks:\n  a:\n    isolation: thread\n    run: echo hi\n",
            (4, 10),
            (3, 16),
            "thread",
        ),
        (
            "tasks:\n  a:\n    run: echo\n    script: \"1\"\n",
            (4, 13),
            (3, 10),
            "echo",
        ),
        (
            "tasks:\n  b: {}\n  a:\n    depends_on: [b, c, b]\n  c: {}\n",
            (4, 24),
            (4, 18),
            "b",
        ),
        (
            "tasks:\n  a:\n    run: echo 1\n    run: echo 2\n",
            (4, 5),
            (3, 5),
            "run",
        ),
    ];
    for (yaml, primary, other, other_text) in cases {
        let source = source(yaml);
        let found = load(&source).expect_err(yaml);
        assert_eq!(found.len(), 1, "{found:#?}");
        let label = found[0].primary.as_ref().expect("located");
        assert_eq!(source.position(label.span.offset), primary, "{yaml}");
        let [second] = found[0].secondary.as_slice() else {
            panic!("one other place for {yaml}: {:?}", found[0].secondary);
        };
        assert_eq!(source.position(second.span.offset), other, "{yaml}");
        assert_eq!(covered(&source, second.span), other_text, "{yaml}");
    }
}

#[test]
fn every_semantic_problem_is_reported_in_one_pass() {
    let yaml = "\
env:
  9LIVES: x
tasks:
  Fetch:
    run: curl example.org
  parse:
    depends_on: [fetsh, parse]
    timeout: 5 minutes
  store:
    isolation: thread
    run: cp a b
  report:
    script: |
      let total = ;
  loop_a:
    depends_on: loop_b
  loop_b:
    depends_on: loop_a
";
    check_row(
        "many problems",
        yaml,
        &[
            at(K::InvalidEnvName, 2, 3),
            at(K::InvalidTaskName, 4, 3),
            at(K::UnknownDependency, 7, 18).text("fetsh"),
            at(K::SelfDependency, 7, 25),
            at(K::InvalidDuration, 8, 14),
            at(K::RunOnThread, 11, 10),
            at(K::ScriptSyntax, 14, 19),
            at(K::DependencyCycle, 16, 17).message("loop_a -> loop_b -> loop_a"),
        ],
    );
}

#[test]
fn every_structural_problem_is_reported_in_one_pass() {
    let yaml = "\
nme: x
defaults:
  isolation: proces
tasks:
  a:
    depend_on: [b]
    env: [X]
  b:
    run: 1
    run: 2
";
    check_row(
        "many structural problems",
        yaml,
        &[
            at(K::UnknownKey, 1, 1).hint("did you mean `name`?"),
            at(K::InvalidValue, 3, 14).hint("did you mean `process`?"),
            at(K::UnknownKey, 6, 5).hint("did you mean `depends_on`?"),
            at(K::WrongType, 7, 10),
            at(K::DuplicateKey, 10, 5),
        ],
    );
}

/// A "billion laughs" workflow: nine references to the previous anchor per level, 9^12
/// nodes if expanded. Shared with the snapshot tests.
pub(crate) fn alias_bomb() -> String {
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
    for level in 1..12u8 {
        let name = char::from(b'a' + level);
        let previous = char::from(b'a' + level - 1);
        let items = vec![format!("*{previous}"); 9].join(", ");
        bomb.push_str(&format!("{name}: &{name} [{items}]\n"));
    }
    bomb.push_str("tasks:\n  x: {}\n");
    bomb
}

#[test]
fn alias_bombs_and_deep_nesting_are_refused() {
    let bomb = alias_bomb();
    let deep_list = format!("tasks: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    let deep_map = format!(
        "tasks:\n  a:\n    env: {}1{}\n",
        "{a: ".repeat(10_000),
        "}".repeat(10_000)
    );
    for (name, yaml) in [
        ("alias bomb", bomb),
        ("deep list", deep_list),
        ("deep mapping", deep_map),
    ] {
        let source = source(&yaml);
        let found = load(&source).expect_err(name);
        assert_eq!(found.len(), 1, "{name}: {found:#?}");
        assert_eq!(found[0].kind, K::TooComplex, "{name}: {}", found[0].message);
        assert!(found[0].primary.is_some(), "{name}: located");
        assert!(
            !found[0].message.contains("(used") && !found[0].message.contains("{ "),
            "{name}: message cut in the middle: {}",
            found[0].message
        );
    }
}

#[test]
fn unreadable_and_non_utf8_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("missing.yaml");
    let report = crate::validate::read_source(&missing).expect_err("missing");
    assert_eq!(report.diagnostics[0].kind, K::Unreadable);
    assert!(report.diagnostics[0].message.contains("does not exist"));

    let report = crate::validate::read_source(dir.path()).expect_err("a directory");
    assert_eq!(report.diagnostics[0].kind, K::Unreadable);
    assert!(report.diagnostics[0].message.contains("is a directory"));

    let latin1 = dir.path().join("latin1.yaml");
    std::fs::write(&latin1, b"tasks:\n  caf\xe9: {}\n").expect("write");
    let report = crate::validate::read_source(&latin1).expect_err("not UTF-8");
    let [diagnostic] = report.diagnostics.as_slice() else {
        panic!("one problem: {:?}", report.diagnostics);
    };
    assert_eq!(diagnostic.kind, K::NotUtf8);
    let label = diagnostic.primary.as_ref().expect("located");
    assert_eq!(report.source.position(label.span.offset), (2, 6));
}

// What valid files turn into.

fn task<'w>(workflow: &'w Workflow, name: &str) -> &'w crate::model::Task {
    let id = workflow
        .find(name)
        .unwrap_or_else(|| panic!("no task `{name}`"));
    workflow.task(id)
}

fn dep_names(workflow: &Workflow, name: &str) -> Vec<String> {
    task(workflow, name)
        .depends_on
        .iter()
        .map(|&id| workflow.task(id).name.clone())
        .collect()
}

#[test]
fn isolation_defaults_follow_the_command() {
    let workflow = valid(
        "\
tasks:
  shell:
    run: echo hi
  script:
    script: print(1);
  join:
    depends_on: [shell, script]
  boxed:
    isolation: process
    script: print(2);
  pinned_join:
    isolation: process
",
    );
    let isolation = |name| task(&workflow, name).isolation;
    assert_eq!(isolation("shell"), Isolation::Process);
    assert_eq!(isolation("script"), Isolation::Thread);
    assert_eq!(isolation("join"), Isolation::Thread);
    assert_eq!(isolation("boxed"), Isolation::Process);
    assert_eq!(isolation("pinned_join"), Isolation::Process);
    assert_eq!(task(&workflow, "join").command.kind(), "none");
    assert_eq!(task(&workflow, "script").command.kind(), "script");
}

#[test]
fn defaults_apply_unless_a_task_overrides_them() {
    let workflow = valid(
        "\
defaults:
  isolation: process
  shell: bash
  timeout: 10m
  cwd: build
tasks:
  plain:
    run: make
  script:
    script: print(1);
  own:
    run: make
    shell: /bin/zsh
    timeout: 1h30m
    cwd: /tmp
  shell_task_ignores_isolation_default:
    run: ls
",
    );
    let plain = task(&workflow, "plain");
    assert_eq!(
        plain.timeout.map(crate::model::Duration::get),
        Some(StdDuration::from_secs(600))
    );
    assert_eq!(plain.cwd, PathBuf::from(DIR).join("build"));
    match &plain.command {
        Command::Shell { run, shell } => {
            assert_eq!(&**run, "make");
            assert_eq!(&**shell, "bash");
        }
        other => panic!("a shell command, got {other:?}"),
    }
    assert_eq!(
        task(&workflow, "script").isolation,
        Isolation::Process,
        "defaults.isolation applies to scripts"
    );
    let own = task(&workflow, "own");
    assert_eq!(
        own.timeout.map(crate::model::Duration::get),
        Some(StdDuration::from_secs(5400))
    );
    assert_eq!(own.cwd, PathBuf::from("/tmp"));
    assert!(matches!(&own.command, Command::Shell { shell, .. } if &**shell == "/bin/zsh"));
}

#[test]
fn without_defaults_there_is_no_timeout_and_the_shell_is_sh() {
    let workflow = valid("tasks:\n  a:\n    run: echo\n");
    let a = task(&workflow, "a");
    assert_eq!(a.timeout, None);
    assert_eq!(a.cwd, PathBuf::from(DIR));
    assert!(matches!(&a.command, Command::Shell { shell, .. } if &**shell == "sh"));
    assert_eq!(
        workflow.name, "w",
        "the file stem names an unnamed workflow"
    );
}

#[test]
fn env_merges_workflow_then_defaults_then_task() {
    let workflow = valid(
        "\
env: { A: workflow, B: workflow, C: workflow }
defaults:
  env: { B: defaults, D: defaults }
tasks:
  inherits:
    run: env
  overrides:
    run: env
    env: { C: task, A: task, E: task }
",
    );
    let env = |name| {
        task(&workflow, name)
            .env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        env("inherits"),
        ["A=workflow", "B=defaults", "C=workflow", "D=defaults"]
    );
    assert_eq!(
        env("overrides"),
        ["A=task", "B=defaults", "C=task", "D=defaults", "E=task"]
    );
}

#[test]
fn depends_on_takes_one_name_or_a_list() {
    let workflow = valid(
        "\
name: deps
description: a small graph
tasks:
  b: {}
  a:
    depends_on: b
  c:
    depends_on: [a, b]
  d:
",
    );
    assert_eq!(workflow.name, "deps");
    assert_eq!(workflow.description.as_deref(), Some("a small graph"));
    let names: Vec<_> = workflow.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["b", "a", "c", "d"], "file order is kept");
    assert_eq!(dep_names(&workflow, "a"), ["b"]);
    assert_eq!(dep_names(&workflow, "c"), ["a", "b"]);
    assert!(dep_names(&workflow, "d").is_empty());
    for (index, task) in workflow.tasks.iter().enumerate() {
        assert_eq!(task.id.index(), index);
    }
}

#[test]
fn values_are_kept_exactly() {
    let workflow = valid(
        "\
tasks:
  a:
    description: says hi
    run: |
      echo \"hi\"
      echo there
    env: { N: 5 }
    timeout: 250ms
",
    );
    let a = task(&workflow, "a");
    assert_eq!(a.description.as_deref(), Some("says hi"));
    assert!(
        matches!(&a.command, Command::Shell { run, .. } if &**run == "echo \"hi\"\necho there\n")
    );
    assert_eq!(&*a.env, [("N".to_owned(), "5".to_owned())]);
    assert_eq!(
        a.timeout.map(crate::model::Duration::get),
        Some(StdDuration::from_millis(250))
    );
}

#[test]
fn identical_scripts_are_compiled_once() {
    let workflow = valid("tasks:\n  a:\n    script: print(1);\n  b:\n    script: print(1);\n");
    let ast = |name| match &task(&workflow, name).command {
        Command::Script { ast, .. } => std::sync::Arc::clone(ast),
        other => panic!("a script, got {other:?}"),
    };
    assert!(std::sync::Arc::ptr_eq(&ast("a"), &ast("b")));
}

#[test]
fn the_example_workflows_are_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("workflows/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|ext| ext == "yaml") {
            if let Err(report) = crate::validate::load_workflow(&path) {
                panic!(
                    "{}:\n{}",
                    path.display(),
                    report
                        .iter()
                        .map(|r| crate::diagnostic::render_human(r, false))
                        .collect::<String>()
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 1, "no workflows found in {}", dir.display());
}

#[test]
fn only_true_and_false_are_booleans() {
    use crate::model::Value;
    let workflow = valid(
        "\
vars: { answer: no, country: NO, n: 1, flag: on, yes_: y, t: True, f: FALSE }
tasks:
  grid:
    matrix: { a: [1], b: [x, y] }
    run: echo
",
    );
    let vars: Vec<(&str, &Value)> = workflow.vars.iter().map(|(n, v)| (n.as_str(), v)).collect();
    assert_eq!(
        vars,
        [
            ("answer", &Value::String("no".into())),
            ("country", &Value::String("NO".into())),
            ("n", &Value::Integer(1)),
            ("flag", &Value::String("on".into())),
            ("yes_", &Value::String("y".into())),
            ("t", &Value::Bool(true)),
            ("f", &Value::Bool(false)),
        ]
    );
    let names: Vec<&str> = workflow.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["grid[a=1,b=x]", "grid[a=1,b=y]"]);
}

#[test]
fn yes_is_not_a_boolean_field_value() {
    check_row(
        "allow_failure: yes",
        "tasks:\n  a:\n    run: echo\n    allow_failure: yes\n",
        &[at(K::WrongType, 4, 20).text("yes")],
    );
}

/// `count` tasks that each merge the anchor `a`: the defaults, a small mapping of three keys.
fn merged_tasks(count: usize) -> String {
    let mut text = String::from("defaults: &a { timeout: 1m, retries: 1, cwd: . }\ntasks:\n");
    for index in 0..count {
        text.push_str(&format!("  t{index}: {{ <<: *a, run: echo }}\n"));
    }
    text
}

#[test]
fn ten_thousand_merges_of_a_small_anchor_load() {
    let source = source(&merged_tasks(10_000));
    let raw = crate::parse::parse_workflow(&source).expect("parses");
    assert_eq!(raw.tasks.value.len(), 10_000);
    let (_, last) = raw.tasks.value.last().expect("a task");
    let last = last.value.as_ref().expect("a task body");
    assert_eq!(last.retries.as_ref().map(|r| r.value), Some(1));
}

#[test]
fn keys_of_other_tools_suggest_the_key_that_means_the_same() {
    for (key, hint) in [
        ("sources", "did you mean `inputs`?"),
        ("generates", "did you mean `outputs`?"),
        ("cmds", "did you mean `run`?"),
        ("cmd", "did you mean `run`?"),
        ("command", "did you mean `run`?"),
        ("dir", "did you mean `cwd`?"),
        ("working-directory", "did you mean `cwd`?"),
        ("needs", "did you mean `depends_on`?"),
        ("deps", "did you mean `depends_on`?"),
    ] {
        let yaml = format!("tasks:\n  a:\n    run: echo\n    {key}: x\n");
        check_row(key, &yaml, &[at(K::UnknownKey, 4, 5).text(key).hint(hint)]);
    }
}

#[test]
fn a_var_named_n_is_a_name_also_when_the_file_has_other_problems() {
    check_row(
        "var n and an unknown key",
        "vars: { n: 1, y: 2 }\ntasks:\n  a:\n    run: echo\n    sources: [x]\n",
        &[at(K::UnknownKey, 5, 5).hint("did you mean `inputs`?")],
    );
}

#[test]
fn numbers_keep_the_text_they_were_written_with() {
    let workflow = valid(
        "\
vars: { py: 3.10, big: 1_000, hex: 0x10, plain: 2.5, whole: 7, list: [3.10, x], alias: &a 1e3, again: *a }
tasks:
  t:
    matrix: { python: [3.10, 3.9] }
    run: echo
",
    );
    let shown: Vec<String> = workflow
        .vars
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    assert_eq!(
        shown,
        [
            "py=3.10",
            "big=1_000",
            "hex=0x10",
            "plain=2.5",
            "whole=7",
            "list=[3.10, x]",
            "alias=1e3",
            "again=1e3"
        ]
    );
    assert_eq!(workflow.vars[0].1.type_name(), "a number");
    assert_eq!(workflow.vars[0].1.to_json(), serde_json::json!(3.1));
    let names: Vec<&str> = workflow.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["t[python=3.10]", "t[python=3.9]"]);
}

/// A matrix task `map` with `sample` A, B and `lane` 1, 2, before the task under test.
const MAP: &str =
    "vars: { which: B }\ntasks:\n  map:\n    matrix: { sample: [A, B], lane: [1, 2] }\n";

#[test]
fn selectors_in_depends_on_are_checked_where_they_stand() {
    let rows: Vec<(&str, String, Vec<Expect>)> = vec![
        (
            "a key the target lacks",
            format!("{MAP}  t:\n    depends_on: [\"map[os=linux]\"]\n"),
            vec![
                at(K::InvalidSelector, 6, 18)
                    .text("\"map[os=linux]\"")
                    .message("task `map` has no matrix key `os`")
                    .hint("sample, lane"),
            ],
        ),
        (
            "a static selector that matches nothing",
            format!("{MAP}  t:\n    depends_on: [\"map[sample=C]\"]\n"),
            vec![
                at(K::InvalidSelector, 6, 18)
                    .message("`map[sample=C]` selects no item of `map`")
                    .hint("sample: A, B; lane: 1, 2"),
            ],
        ),
        (
            "the short form without the key in the own matrix",
            format!("{MAP}  t:\n    depends_on: map[sample]\n"),
            vec![
                at(K::InvalidSelector, 6, 17)
                    .message("task `t` has no matrix key `sample`")
                    .hint("add `sample` to the matrix of `t`"),
            ],
        ),
        (
            "`..` with no shared key",
            format!("{MAP}  t:\n    matrix: {{ os: [linux] }}\n    depends_on: map[..]\n"),
            vec![at(K::InvalidSelector, 7, 17).message("they share none")],
        ),
        (
            "a templated selector that misses for one item",
            format!(
                "{MAP}  t:\n    matrix: {{ sample: [A, C] }}\n    depends_on:\n      - map[sample=${{{{ matrix.sample }}}}]\n"
            ),
            vec![
                at(K::InvalidSelector, 8, 9)
                    .message("for `t[sample=C]`")
                    .message("`map[sample=C]`"),
            ],
        ),
        (
            "a templated selector reading the environment",
            format!("{MAP}  t:\n    depends_on: \"map[sample=${{{{ env.HOME }}}}]\"\n"),
            vec![
                at(K::InvalidSelector, 6, 37)
                    .text("HOME")
                    .message("cannot read `env.HOME`"),
            ],
        ),
        (
            "a selector of a task without a matrix",
            format!("{MAP}  one: {{}}\n  t:\n    depends_on: one[x=1]\n"),
            vec![at(K::InvalidSelector, 7, 17).message("`one`, which has no matrix")],
        ),
        (
            "an unclosed selector",
            format!("{MAP}  t:\n    depends_on: map[sample=A\n"),
            vec![at(K::InvalidSelector, 6, 17).message("an unclosed `[`")],
        ),
        (
            "an unknown task with a selector",
            format!("{MAP}  t:\n    depends_on: maps[sample=A]\n"),
            vec![at(K::UnknownDependency, 6, 17).hint("did you mean `map`?")],
        ),
        (
            "a selector unquoted in a flow list",
            format!("{MAP}  t:\n    matrix: {{ sample: [A] }}\n    depends_on: [map[sample]]\n"),
            vec![at(K::Syntax, 7, 21).hint("quote it")],
        ),
    ];
    for (name, yaml, expected) in rows {
        check_row(name, &yaml, &expected);
    }
}

#[test]
fn each_item_depends_on_the_items_its_selectors_pick() {
    let workflow = valid(&format!(
        "{MAP}  by_template:\n    matrix: {{ sample: [A, B] }}\n    depends_on:\n      - map[sample=${{{{ matrix.sample }}}},lane=1]\n  short:\n    matrix: {{ sample: [A, B] }}\n    depends_on: map[sample]\n  shared:\n    matrix: {{ sample: [B], lane: [2] }}\n    depends_on: \"map[..]\"\n  partial:\n    depends_on: [\"map[lane=2]\", \"map[sample=${{{{ vars.which }}}},lane=1]\"]\n  whole:\n    matrix: {{ sample: [A] }}\n    depends_on: [map]\n"
    ));
    let cases: &[(&str, &[&str])] = &[
        ("by_template[sample=A]", &["map[sample=A,lane=1]"]),
        ("by_template[sample=B]", &["map[sample=B,lane=1]"]),
        (
            "short[sample=A]",
            &["map[sample=A,lane=1]", "map[sample=A,lane=2]"],
        ),
        ("shared[sample=B,lane=2]", &["map[sample=B,lane=2]"]),
        (
            "partial",
            &[
                "map[sample=A,lane=2]",
                "map[sample=B,lane=2]",
                "map[sample=B,lane=1]",
            ],
        ),
        (
            "whole[sample=A]",
            &[
                "map[sample=A,lane=1]",
                "map[sample=A,lane=2]",
                "map[sample=B,lane=1]",
                "map[sample=B,lane=2]",
            ],
        ),
    ];
    for (name, expected) in cases {
        assert_eq!(dep_names(&workflow, name), *expected, "{name}");
    }
}

#[test]
fn selectors_compare_numbers_as_written() {
    let workflow = valid(
        "tasks:\n  test:\n    matrix: { py: [3.10, 3.9] }\n  report:\n    matrix: { py: [3.10] }\n    depends_on:\n      - test[py]\n  pinned:\n    depends_on: \"test[py=3.10]\"\n",
    );
    assert_eq!(dep_names(&workflow, "report[py=3.10]"), ["test[py=3.10]"]);
    assert_eq!(dep_names(&workflow, "pinned"), ["test[py=3.10]"]);
}

#[test]
fn matrix_axes_from_templates() {
    let rows: Vec<(&str, &str, Vec<Expect>)> = vec![
        (
            "a template in a flow mapping",
            "tasks:\n  c:\n    matrix: { src: ${{ glob(\"*.c\") }} }\n    run: echo\n",
            vec![
                at(K::Syntax, 3, 20)
                    .text("${{ glob(\"*.c\") }}")
                    .message("YAML's own braces")
                    .hint("or write the matrix in block style"),
            ],
        ),
        (
            "a template in a flow list",
            "tasks:\n  c:\n    depends_on: [ ${{ x }} ]\n    run: echo\n",
            vec![
                at(K::Syntax, 3, 19)
                    .text("${{ x }}")
                    .hint("quote the value (`'${{ x }}'`)"),
            ],
        ),
        (
            "an axis template that yields no list",
            "tasks:\n  c:\n    matrix:\n      n: ${{ from_json(\"{}\") }}\n    run: echo\n",
            vec![
                at(K::InvalidMatrix, 4, 10)
                    .message("must yield a list of strings, numbers or booleans, not a map"),
            ],
        ),
        (
            "a repeated value",
            "tasks:\n  c:\n    matrix:\n      n: ${{ from_json(\"[1, 1]\") }}\n    run: echo\n",
            vec![at(K::InvalidMatrix, 4, 10).message("yields `1` twice")],
        ),
        (
            "text around the template",
            "tasks:\n  c:\n    matrix:\n      n: a${{ from_json(\"[1]\") }}\n    run: echo\n",
            vec![at(K::InvalidMatrix, 4, 10).message("must be one `${{ }}`")],
        ),
        (
            "glob outside a matrix axis",
            "tasks:\n  c:\n    if: ${{ glob(\"*\") == [] }}\n    script: glob(\"*\");\n",
            vec![
                at(K::UnknownReference, 4, 13).message("`glob()` cannot be called in a script"),
                at(K::UnknownReference, 3, 13)
                    .message("`glob()` cannot be called in an `if` condition"),
            ],
        ),
    ];
    for (name, yaml, expected) in rows {
        check_row(name, yaml, &expected);
    }
}

#[test]
fn mixed_matrix_axes_expand_with_the_template_values_first_key_slowest() {
    let workflow = valid(
        "tasks:\n  c:\n    matrix:\n      n: ${{ from_json(\"[1, 2.5, true, \\\"x y\\\"]\") }}\n      os: [linux]\n    run: echo\n",
    );
    let names: Vec<&str> = workflow.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "c[n=1,os=linux]",
            "c[n=2.5,os=linux]",
            "c[n=true,os=linux]",
            "c[n=x y,os=linux]"
        ]
    );
}

/// Every task of a large workflow is one `RawTask` until validation: the fields most tasks
/// leave out are boxed so that 100,000 tasks stay within memory (issue 17). Grows only when
/// a new field must be inline; box it otherwise.
#[test]
fn a_parsed_task_stays_small() {
    let size = std::mem::size_of::<crate::parse::RawTask>();
    assert!(
        size <= 512,
        "RawTask is {size} bytes (448 when this test was written)"
    );
}
