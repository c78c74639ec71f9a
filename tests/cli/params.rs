//! Task parameters in `check`, `plan` and `graph`: located problems in `params` and in a
//! dependency's `with`, and instances named `task(name=value)` wherever tasks are shown.

use engine_test_support::{Test, WORKFLOW, json};

const DEPLOY: &str = r#"tasks:
  build:
    params: { profile: debug }
    run: cargo build --profile ${{ params.profile }}
  deploy:
    params:
      env: { values: [dev, prod] }
      version: "1.0"
    depends_on: [{ task: build, with: { profile: release } }]
    run: ./deploy ${{ params.env }} ${{ params.version }}
  ci:
    depends_on: [build, { task: deploy, with: { env: dev } }]
"#;

#[test]
fn check_accepts_params_and_counts_instances() {
    Test::new()
        .workflow(DEPLOY)
        .args(["check", WORKFLOW])
        .stdout("ok: workflow.yaml (4 tasks)\n")
        .run();
}

#[test]
fn an_unknown_param_in_a_template_is_located_and_names_the_declared_ones() {
    Test::new()
        .workflow(&DEPLOY.replace("${{ params.version }}", "${{ params.nope }}"))
        .args(["check", WORKFLOW])
        .status(2)
        .stderr_has("unknown parameter `params.nope`")
        .stderr_has("workflow.yaml:10:")
        .stderr_has("the task's params are: env, version")
        .run();
}

#[test]
fn a_param_of_a_task_without_params_is_located() {
    Test::new()
        .workflow("tasks:\n  a:\n    run: echo ${{ params.x }}\n")
        .args(["check", WORKFLOW])
        .status(2)
        .stderr_has("`params.x` is used, but the task has no params")
        .stderr_has("workflow.yaml:3:")
        .run();
}

#[test]
fn a_dependency_with_a_disallowed_value_is_located_with_the_signature() {
    Test::new()
        .workflow(&DEPLOY.replace("with: { env: dev }", "with: { env: qa }"))
        .args(["check", WORKFLOW])
        .status(2)
        .stderr_has("in `depends_on` of `ci`: `deploy` takes env=dev|prod, not `qa`")
        .stderr_has("[version=1.0]")
        .stderr_has("workflow.yaml:12:33")
        .stderr_has("use one of: dev, prod")
        .run();
}

#[test]
fn a_dependency_without_a_required_value_is_located() {
    Test::new()
        .workflow(&DEPLOY.replace("with: { env: dev }", "with: {}"))
        .args(["check", WORKFLOW])
        .status(2)
        .stderr_has("in `depends_on` of `ci`: `deploy` needs env")
        .run();
}

#[test]
fn a_dependency_with_an_unknown_name_suggests_the_declared_one() {
    Test::new()
        .workflow(&DEPLOY.replace("with: { env: dev }", "with: { env: dev, verison: \"2\" }"))
        .args(["check", WORKFLOW])
        .status(2)
        .stderr_has("has no parameter `verison`")
        .stderr_has("did you mean `version`?")
        .run();
}

#[test]
fn a_default_outside_the_values_is_located() {
    Test::new()
        .workflow("tasks:\n  a:\n    params: { env: { default: qa, values: [dev, prod] } }\n    run: echo\n")
        .args(["check", WORKFLOW])
        .status(2)
        .stderr_has("the default `qa` of parameter `env` of task `a` is not one of its values")
        .stderr_has("workflow.yaml:3:")
        .run();
}

#[test]
fn with_values_read_the_dependers_params() {
    let yaml = r#"tasks:
  build:
    params: { profile: ~ }
    run: echo ${{ params.profile }}
  deploy:
    params: { profile: release }
    depends_on: [{ task: build, with: { profile: "${{ params.profile }}-x" } }]
    run: echo deploy
"#;
    let out = Test::new()
        .workflow(yaml)
        .args([
            "plan",
            "--format",
            "json",
            WORKFLOW,
            "deploy",
            "profile=fast",
        ])
        .run();
    let plan = json(&out.stdout);
    let names: Vec<&str> = plan["waves"]
        .as_array()
        .expect("waves")
        .iter()
        .flat_map(|wave| wave.as_array().expect("a wave"))
        .map(|task| task["name"].as_str().expect("a name"))
        .collect();
    assert_eq!(names, ["build(profile=fast-x)", "deploy(profile=fast)"]);
}

#[test]
fn plan_and_graph_name_instances() {
    let out = Test::new()
        .workflow(DEPLOY)
        .args(["plan", "--format", "json", WORKFLOW, "ci"])
        .run();
    let plan = json(&out.stdout);
    let waves: Vec<Vec<&str>> = plan["waves"]
        .as_array()
        .expect("waves")
        .iter()
        .map(|wave| {
            wave.as_array()
                .expect("a wave")
                .iter()
                .map(|task| task["name"].as_str().expect("a name"))
                .collect()
        })
        .collect();
    assert_eq!(
        waves,
        [
            vec!["build", "build(profile=release)"],
            vec!["deploy(env=dev)"],
            vec!["ci"]
        ]
    );
    let out = Test::new()
        .workflow(DEPLOY)
        .args([
            "graph",
            "--format",
            "json",
            WORKFLOW,
            "deploy",
            "env=prod",
            "version=2",
        ])
        .run();
    let graph = json(&out.stdout);
    assert_eq!(
        graph["edges"],
        serde_json::json!([{ "from": "build(profile=release)", "to": "deploy(env=prod,version=2)" }])
    );
}

#[test]
fn check_target_needs_the_required_values() {
    Test::new()
        .workflow(DEPLOY)
        .args(["check", WORKFLOW, "--target", "deploy"])
        .status(2)
        .stderr_has("`deploy` needs env")
        .run();
}
