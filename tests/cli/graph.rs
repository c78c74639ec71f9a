//! `engine graph` in every format; the DOT output is rendered by Graphviz.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

use crate::plan::DIAMOND;
use engine_test_support::{Test, WORKFLOW, json};

/// Renders DOT text with Graphviz's `dot -Tsvg` and returns the SVG. Fails, never skips, when
/// `dot` is missing: `.ci/run` installs graphviz.
fn render_svg(dot: &str) -> String {
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run Graphviz `dot` (install the `graphviz` package; .ci/run does)");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(dot.as_bytes())
        .expect("write to dot");
    let output = child.wait_with_output().expect("wait for dot");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "dot failed: {stderr}\n{dot}");
    assert!(!stderr.contains("syntax error"), "{stderr}\n{dot}");
    String::from_utf8(output.stdout).expect("SVG is UTF-8")
}

#[test]
fn text_draws_a_tree_per_final_task() {
    Test::new()
        .workflow(DIAMOND)
        .args(["graph", WORKFLOW])
        .stderr("")
        .stdout(
            "\
diamond (5 tasks)
├── store [thread]
│   ├── parse [thread]
│   │   └── fetch [process]
│   └── lint [process]
│       └── fetch [process]
└── unrelated [process]
",
        )
        .run();
}

#[test]
fn text_marks_a_subtree_drawn_before() {
    let out = Test::new()
        .workflow(
            "tasks:\n  a: {}\n  b:\n    depends_on: a\n  c:\n    depends_on: b\n  d:\n    depends_on: b\n",
        )
        .args(["graph", "--format", "text", WORKFLOW])
        .run();
    assert!(out.stdout.contains("b [thread] (*)"), "{}", out.stdout);
    assert_eq!(
        out.stdout.matches("a [thread]").count(),
        1,
        "{}",
        out.stdout
    );
}

#[test]
fn dot_renders_with_graphviz() {
    let out = Test::new()
        .workflow(DIAMOND)
        .args(["graph", "--format", "dot", WORKFLOW])
        .stdout_has("digraph \"diamond\" {")
        .stdout_has("\"fetch\" -> \"parse\";")
        .stdout_has("\"lint\" -> \"store\";")
        .run();
    assert!(out.stdout.trim_end().ends_with('}'), "{}", out.stdout);
    let svg = render_svg(&out.stdout);
    assert!(svg.contains("<svg"), "{svg}");
    for name in ["fetch", "parse", "lint", "store", "unrelated"] {
        assert!(
            svg.contains(&format!("<title>{name}</title>")),
            "{name} in {svg}"
        );
    }
    assert!(svg.contains("<title>fetch&#45;&gt;parse</title>"), "{svg}");
}

#[test]
fn dot_quotes_awkward_workflow_names() {
    let out = Test::new()
        .workflow("name: 'say \"hi\" \\ bye'\ntasks:\n  a: {}\n  b:\n    depends_on: a\n")
        .args(["graph", "--format", "dot", WORKFLOW])
        .run();
    let svg = render_svg(&out.stdout);
    assert!(svg.contains("<title>b</title>"), "{svg}");
}

#[test]
fn dot_of_the_examples_renders() {
    for example in ["seed", "data_pipeline", "build_release", "fan_out"] {
        let out = Test::new()
            .in_repository()
            .args([
                "graph",
                "--format",
                "dot",
                &format!("workflows/{example}.yaml"),
            ])
            .run();
        assert!(render_svg(&out.stdout).contains("<svg"), "{example}");
    }
}

#[test]
fn mermaid_is_a_flowchart() {
    let out = Test::new()
        .workflow(DIAMOND)
        .args(["graph", "--format", "mermaid", WORKFLOW])
        .run();
    assert!(out.stdout.starts_with("flowchart"), "{}", out.stdout);
    let lines: Vec<&str> = out.stdout.lines().map(str::trim).collect();
    // Process tasks are boxes, thread tasks rounded; edges go from dependency to dependent.
    for expected in [
        "t0[\"fetch (process)\"]",
        "t1(\"parse (thread)\")",
        "t3(\"store (thread)\")",
        "t0 --> t1",
        "t0 --> t2",
        "t1 --> t3",
        "t2 --> t3",
    ] {
        assert!(lines.contains(&expected), "{expected} in\n{}", out.stdout);
    }
    assert_eq!(lines.iter().filter(|line| line.contains("-->")).count(), 4);
}

#[test]
fn json_has_nodes_and_edges() {
    let out = Test::new()
        .workflow(DIAMOND)
        .args(["graph", "--format", "json", WORKFLOW])
        .run();
    let graph = json(&out.stdout);
    assert_eq!(graph["workflow"], "diamond");
    let nodes: Vec<(String, String, String)> = graph["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| {
            let field = |name: &str| node[name].as_str().expect(name).to_owned();
            (field("name"), field("isolation"), field("command"))
        })
        .collect();
    let expected = [
        ("fetch", "process", "shell"),
        ("parse", "thread", "script"),
        ("lint", "process", "shell"),
        ("store", "thread", "none"),
        ("unrelated", "process", "shell"),
    ]
    .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()));
    assert_eq!(nodes, expected);
    assert_eq!(graph["nodes"][0]["description"], "download the data");
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
    let expected: BTreeSet<_> = [
        ("fetch", "parse"),
        ("fetch", "lint"),
        ("parse", "store"),
        ("lint", "store"),
    ]
    .into();
    assert_eq!(edges, expected);
}

#[test]
fn graph_of_selected_tasks() {
    let out = Test::new()
        .workflow(DIAMOND)
        .args(["graph", WORKFLOW, "parse", "--format", "json"])
        .run();
    let graph = json(&out.stdout);
    let names: Vec<&str> = graph["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| node["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["fetch", "parse"]);
    assert_eq!(graph["edges"].as_array().map(Vec::len), Some(1));
}

#[test]
fn graph_of_an_unknown_task() {
    Test::new()
        .workflow(DIAMOND)
        .args(["graph", WORKFLOW, "lnt"])
        .status(2)
        .stdout("")
        .stderr_has("did you mean `lint`?")
        .run();
}

/// `work` expands during the run, over the values `split` returns.
const FAN_OUT: &str = "
tasks:
  split:
    script: result(\"shards\", \"[1, 2]\");
  work:
    depends_on: [split]
    matrix:
      shard: ${{ from_json(tasks.split.results.shards) }}
    run: echo ${{ matrix.shard }}
  join:
    depends_on: [work]
    run: echo joined
";

#[test]
fn a_task_whose_matrix_reads_results_is_one_node_that_expands_after_its_dependency() {
    let out = Test::new()
        .workflow(FAN_OUT)
        .args(["graph", "--format", "json", WORKFLOW])
        .run();
    let graph = json(&out.stdout);
    let nodes = graph["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 3);
    assert_eq!(nodes[1]["name"], "work");
    assert_eq!(nodes[1]["expands"]["keys"], serde_json::json!(["shard"]));
    assert_eq!(nodes[1]["expands"]["after"], serde_json::json!(["split"]));
    assert!(nodes[0]["expands"].is_null());
    Test::new()
        .workflow(FAN_OUT)
        .args(["graph", WORKFLOW])
        .stdout_has("work[shard=…] (expands after split) [process]")
        .run();
    Test::new()
        .workflow(FAN_OUT)
        .args(["plan", WORKFLOW])
        .stdout_has("work[shard=…] (expands after split)  [process]  after split")
        .run();
    let out = Test::new()
        .workflow(FAN_OUT)
        .args(["plan", "--format", "json", WORKFLOW])
        .run();
    let plan = json(&out.stdout);
    assert_eq!(plan["waves"][1][0]["name"], "work");
    assert_eq!(
        plan["waves"][1][0]["expands"]["after"],
        serde_json::json!(["split"])
    );
}
