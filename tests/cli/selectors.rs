//! Per-item dependencies (`depends_on: ["map[sample=A]"]`, `map[sample]`, `map[..]`) as
//! `engine check`, `plan` and `graph` show them, and item selectors as targets.

use std::collections::{BTreeMap, BTreeSet};

use engine_test_support::{Test, WORKFLOW, json};

/// Two samples, each mapped on two lanes, sorted and reported; one summary of all.
const SAMPLES: &str = r#"
tasks:
  map:
    matrix: { sample: [A, B], lane: [1, 2] }
    run: echo map
  sort:
    matrix: { sample: [A, B] }
    depends_on:
      - map[..]
    run: echo sort
  report:
    matrix: { sample: [A, B] }
    depends_on:
      - sort[sample=${{ matrix.sample }}]
    run: echo report
  summary:
    depends_on: ["report[sample=B]", sort]
    run: echo summary
"#;

#[test]
fn graph_json_has_one_edge_per_selected_item() {
    let out = Test::new()
        .workflow(SAMPLES)
        .args(["graph", "--format", "json", WORKFLOW])
        .run();
    let graph = json(&out.stdout);
    let edges: BTreeSet<(&str, &str)> = graph["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|edge| {
            (
                edge["from"].as_str().expect("from"),
                edge["to"].as_str().expect("to"),
            )
        })
        .collect();
    let expected: BTreeSet<(&str, &str)> = [
        ("map[sample=A,lane=1]", "sort[sample=A]"),
        ("map[sample=A,lane=2]", "sort[sample=A]"),
        ("map[sample=B,lane=1]", "sort[sample=B]"),
        ("map[sample=B,lane=2]", "sort[sample=B]"),
        ("sort[sample=A]", "report[sample=A]"),
        ("sort[sample=B]", "report[sample=B]"),
        ("report[sample=B]", "summary"),
        ("sort[sample=A]", "summary"),
        ("sort[sample=B]", "summary"),
    ]
    .into();
    assert_eq!(edges, expected);
}

#[test]
fn plan_json_lists_each_items_own_dependencies() {
    let out = Test::new()
        .workflow(SAMPLES)
        .args(["plan", "--format", "json", WORKFLOW])
        .run();
    let plan = json(&out.stdout);
    let depends: BTreeMap<String, Vec<String>> = plan["waves"]
        .as_array()
        .expect("waves")
        .iter()
        .flat_map(|wave| wave.as_array().expect("wave").iter())
        .map(|task| {
            let deps = task["depends_on"]
                .as_array()
                .expect("depends_on")
                .iter()
                .map(|dep| dep.as_str().expect("name").to_owned())
                .collect();
            (task["name"].as_str().expect("name").to_owned(), deps)
        })
        .collect();
    assert_eq!(
        depends["sort[sample=B]"],
        ["map[sample=B,lane=1]", "map[sample=B,lane=2]"]
    );
    assert_eq!(depends["report[sample=A]"], ["sort[sample=A]"]);
    assert_eq!(
        depends["summary"],
        ["sort[sample=A]", "sort[sample=B]", "report[sample=B]"]
    );
    // Per-item edges also shorten the waves: `report[sample=B]` no longer waits for A.
    assert_eq!(plan["waves"].as_array().expect("waves").len(), 4);
}

#[test]
fn a_selector_that_matches_nothing_is_a_located_error() {
    Test::new()
        .workflow(&SAMPLES.replace("report[sample=B]", "report[sample=C]"))
        .args(["check", WORKFLOW])
        .status(2)
        .stderr_has("`report[sample=C]` selects no item of `report`")
        .stderr_has("workflow.yaml:17:18")
        .stderr_has("sample: A, B")
        .run();
}

#[test]
fn a_target_may_select_matrix_items() {
    let out = Test::new()
        .workflow(SAMPLES)
        .args(["graph", "--format", "json", WORKFLOW, "sort[sample=A]"])
        .run();
    let graph = json(&out.stdout);
    let names: BTreeSet<&str> = graph["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| node["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        [
            "map[sample=A,lane=1]",
            "map[sample=A,lane=2]",
            "sort[sample=A]"
        ]
        .into()
    );
    Test::new()
        .workflow(SAMPLES)
        .args(["plan", WORKFLOW, "map[lane=3]"])
        .status(2)
        .stderr_has(
            "`map[lane=3]` selects no item of `map`, whose matrix has sample: A, B; lane: 1, 2",
        )
        .run();
}
