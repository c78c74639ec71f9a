//! The JSON Schema and the example workflows. The committed schema must match the one
//! generated from the `Raw*` types; every file in `workflows/` starts with the `$schema` line,
//! validates against the schema and passes engine's own check; and the schema refuses what the
//! engine refuses, so editors flag the same mistakes as `engine check`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use engine::diagnostic::Source;
use serde_json::Value;

/// The first line of every example, so that editors find the schema.
const SCHEMA_LINE: &str = "# yaml-language-server: $schema=../schemas/workflow.schema.json";

const REGENERATE: &str = "cargo run -q -- schema > schemas/workflow.schema.json";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn committed_schema_text() -> String {
    let path = root().join("schemas/workflow.schema.json");
    std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "cannot read {}: {error}; generate it with `{REGENERATE}`",
            path.display()
        )
    })
}

fn committed_schema() -> Value {
    serde_json::from_str(&committed_schema_text()).expect("the committed schema is JSON")
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&committed_schema()).expect("the committed schema compiles")
}

/// The example workflows, sorted.
fn examples() -> Vec<PathBuf> {
    let dir = root().join("workflows");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read workflows/")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| {
            path.extension()
                .is_some_and(|ext| ext == "yaml" || ext == "yml")
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 4,
        "expected seed.yaml and at least three pipelines in workflows/, found {files:?}"
    );
    files
}

/// A YAML document as JSON, the way an editor's schema check sees it.
fn yaml_to_json(text: &str) -> Value {
    serde_saphyr::from_str::<Value>(text).expect("YAML that converts to JSON")
}

/// The schema's complaints about `instance`, one line each.
fn schema_errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|error| format!("{}: {error}", error.instance_path()))
        .collect()
}

/// Whether engine's own parse and validation accept `text`.
fn engine_accepts(text: &str) -> bool {
    let source = Arc::new(Source::new(
        "inline.yaml".into(),
        "inline.yaml".into(),
        text,
    ));
    engine::parse::parse_workflow(&source)
        .and_then(|raw| engine::validate::validate_workflow(&source, raw))
        .is_ok()
}

/// The first line where two texts differ, for a readable failure.
fn first_difference(committed: &str, generated: &str) -> String {
    let mut committed_lines = committed.lines();
    let mut generated_lines = generated.lines();
    for number in 1.. {
        match (committed_lines.next(), generated_lines.next()) {
            (None, None) => break,
            (left, right) if left == right => {}
            (left, right) => {
                return format!(
                    "first difference at line {number}:\n  committed: {}\n  generated: {}",
                    left.unwrap_or("<end of file>"),
                    right.unwrap_or("<end of file>")
                );
            }
        }
    }
    "the texts differ only in their final line break".to_owned()
}

#[test]
fn committed_schema_is_fresh() {
    let generated = format!(
        "{}\n",
        serde_json::to_string_pretty(&engine::parse::workflow_schema())
            .expect("a JSON value serializes")
    );
    let committed = committed_schema_text();
    assert!(
        committed == generated,
        "schemas/workflow.schema.json is stale: the workflow format changed.\n\
         Regenerate it with `{REGENERATE}` and commit the result.\n{}",
        first_difference(&committed, &generated)
    );
}

#[test]
fn schema_is_a_valid_draft_2020_12_schema() {
    let schema = committed_schema();
    assert_eq!(
        schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
        "the schema names its draft"
    );
    if let Err(error) = jsonschema::meta::validate(&schema) {
        panic!("the schema does not follow its meta-schema: {error}");
    }
}

#[test]
fn every_field_has_a_description_for_hover() {
    let schema = committed_schema();
    let objects = [
        ("the top level", &schema),
        ("`defaults`", &schema["$defs"]["RawDefaults"]),
        ("a task", &schema["$defs"]["RawTask"]),
    ];
    let mut missing = Vec::new();
    for (place, object) in objects {
        assert_eq!(
            object["additionalProperties"],
            Value::Bool(false),
            "{place} must refuse unknown keys"
        );
        let properties = object["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{place} has properties"));
        for (field, definition) in properties {
            let described = definition["description"]
                .as_str()
                .is_some_and(|text| !text.trim().is_empty());
            if !described {
                missing.push(format!("{place}: `{field}`"));
            }
        }
    }
    let task_fields: Vec<&str> = schema["$defs"]["RawTask"]["properties"]
        .as_object()
        .expect("task properties")
        .keys()
        .map(String::as_str)
        .collect();
    for field in [
        "description",
        "depends_on",
        "isolation",
        "run",
        "shell",
        "script",
        "env",
        "cwd",
        "timeout",
    ] {
        assert!(
            task_fields.contains(&field),
            "the schema has no task field `{field}`"
        );
    }
    assert!(
        missing.is_empty(),
        "fields without a description (write a `///` comment on them in src/parse/raw.rs, \
         then run `{REGENERATE}`): {missing:?}"
    );
}

#[test]
fn every_example_starts_with_the_schema_line() {
    for path in examples() {
        let text = std::fs::read_to_string(&path).expect("read the example");
        assert_eq!(
            text.lines().next(),
            Some(SCHEMA_LINE),
            "{} must start with `{SCHEMA_LINE}`",
            path.display()
        );
    }
}

#[test]
fn every_example_validates_against_the_schema() {
    let validator = validator();
    for path in examples() {
        let text = std::fs::read_to_string(&path).expect("read the example");
        let errors = schema_errors(&validator, &yaml_to_json(&text));
        assert!(
            errors.is_empty(),
            "{} does not match the schema:\n{}",
            path.display(),
            errors.join("\n")
        );
    }
}

#[test]
fn every_example_passes_engine_check() {
    for path in examples() {
        if let Err(report) = engine::validate::load_workflow(&path) {
            panic!(
                "{} is invalid:\n{}",
                path.display(),
                report
                    .iter()
                    .map(|r| engine::diagnostic::render_human(r, false))
                    .collect::<String>()
            );
        }
    }
}

/// Workflows that both the schema and engine refuse: what each gets wrong, and the text.
const REFUSED: &[(&str, &str)] = &[
    (
        "an unknown top-level key",
        "name: x\nversion: 2\ntasks:\n  a: { run: 'true' }\n",
    ),
    (
        "an unknown task key",
        "tasks:\n  a: { run: 'true' }\n  b: { depend_on: [a] }\n",
    ),
    (
        "an unknown `defaults` key",
        "defaults: { priority: 3 }\ntasks:\n  a: { run: 'true' }\n",
    ),
    (
        "a bad task isolation",
        "tasks:\n  a: { isolation: fiber, script: 'print(1)' }\n",
    ),
    (
        "a bad default isolation",
        "defaults: { isolation: green }\ntasks:\n  a: { script: 'print(1)' }\n",
    ),
    ("no `tasks`", "name: x\n"),
    (
        "a task name with a capital",
        "tasks:\n  Build: { run: 'true' }\n",
    ),
    (
        "a task name with a colon (only namespaces make one)",
        "tasks:\n  'unit:tests': { run: 'true' }\n",
    ),
    (
        "a task name starting with a dash",
        "tasks:\n  -tests: { run: 'true' }\n",
    ),
    (
        "a duration with a space",
        "tasks:\n  a: { run: 'true', timeout: 5 minutes }\n",
    ),
    ("a list for `run`", "tasks:\n  a: { run: [echo, hi] }\n"),
    (
        "a mapping for `depends_on`",
        "tasks:\n  a: {}\n  b: { depends_on: { a: 1 } }\n",
    ),
    ("a list at the top", "- a\n- b\n"),
];

#[test]
fn schema_and_engine_refuse_the_same_mistakes() {
    let validator = validator();
    for (mistake, text) in REFUSED {
        let instance = yaml_to_json(text);
        assert!(
            !validator.is_valid(&instance),
            "the schema accepts {mistake}:\n{text}"
        );
        assert!(!engine_accepts(text), "engine accepts {mistake}:\n{text}");
    }
}

#[test]
fn schema_and_engine_accept_every_field() {
    let text = r"
name: everything
description: every field once
env: { A: one, PORT: 8080, RATIO: 0.5, VERBOSE: true }
defaults: { isolation: process, shell: sh, env: { B: two }, cwd: ., timeout: 10m }
tasks:
  first:
    description: a shell command
    run: echo hi
    shell: bash
    env: { C: three }
    cwd: sub
    timeout: 1h30m
  second:
    depends_on: first
    isolation: thread
    script: 'print(1);'
    timeout: 250ms
  join:
    depends_on: [first, second, { task: deploy, with: { env: dev } }]
  empty:
  deploy-app:
    params: { version: 1.10, flag: ~, level: { default: '1', values: ['1', '2'], description: how much } }
    run: echo ${{ params.version }} ${{ args }}
  deploy:
    params: { env: { values: [dev, prod] } }
    depends_on: [{ task: deploy-app, with: { flag: x } }]
";
    let errors = schema_errors(&validator(), &yaml_to_json(text));
    assert!(
        errors.is_empty(),
        "the schema refuses:\n{}",
        errors.join("\n")
    );
    assert!(engine_accepts(text), "engine refuses:\n{text}");
}
