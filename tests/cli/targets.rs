//! File targets in `engine check --target`, `engine plan` and `engine graph`: a path that a
//! task declares in `outputs` stands for that task.

use engine_test_support::{Test, WORKFLOW, json};

const SAMPLES: &str = r#"
tasks:
  map:
    matrix:
      sample: [A, B]
    run: touch mapped/${{ matrix.sample }}.bam
    outputs: ["mapped/${{ matrix.sample }}.bam"]
  variants:
    depends_on: [map]
    run: touch calls/all.vcf
    outputs: [calls/all.vcf]
  report:
    depends_on: [variants]
    run: echo ${{ tasks.variants.results.n }} > report/${{ tasks.variants.results.n }}.txt
    outputs: ["report/${{ tasks.variants.results.n }}.txt"]
"#;

#[test]
fn plan_takes_a_file_target() {
    let test =
        Test::new()
            .workflow(SAMPLES)
            .args(["plan", WORKFLOW, "mapped/B.bam", "--format", "json"]);
    let output = test.run();
    let plan = json(&output.stdout);
    let names: Vec<&str> = plan["waves"]
        .as_array()
        .expect("waves")
        .iter()
        .flat_map(|wave| wave.as_array().expect("a wave"))
        .map(|task| task["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["map[sample=B]"]);
}

#[test]
fn graph_takes_a_file_target() {
    Test::new()
        .workflow(SAMPLES)
        .args(["graph", WORKFLOW, "calls/all.vcf"])
        .stdout_has("variants [process]")
        .stdout_has("map[sample=A]")
        .stdout_lacks("report")
        .run();
}

#[test]
fn check_says_what_each_target_stands_for() {
    Test::new()
        .workflow(SAMPLES)
        .args([
            "check",
            WORKFLOW,
            "--target",
            "mapped/A.bam",
            "--target",
            "variants",
        ])
        .stdout_has("target `mapped/A.bam`: task `map[sample=A]`")
        .stdout_has("target `variants`: task `variants`")
        .run();
    let output = Test::new()
        .workflow(SAMPLES)
        .args([
            "check",
            "--format",
            "json",
            WORKFLOW,
            "--target",
            "./calls/all.vcf",
        ])
        .run();
    let report = json(&output.stdout);
    assert_eq!(
        report["files"][0]["targets"][0],
        serde_json::json!({ "target": "./calls/all.vcf", "tasks": ["variants"] })
    );
}

#[test]
fn check_fails_for_a_path_no_task_produces() {
    Test::new()
        .workflow(SAMPLES)
        .args(["check", WORKFLOW, "--target", "mapped/C.bam"])
        .status(2)
        .stdout_has("ok: workflow.yaml")
        .stderr_has("error: workflow.yaml: no task produces `mapped/C.bam`")
        .stderr_has("did you mean `mapped/")
        .run();
}

#[test]
fn an_output_that_reads_results_is_known_only_in_the_run() {
    Test::new()
        .workflow(SAMPLES)
        .args(["plan", WORKFLOW, "report/3.txt"])
        .status(2)
        .stderr_has("no task produces `report/3.txt`")
        .run();
}
