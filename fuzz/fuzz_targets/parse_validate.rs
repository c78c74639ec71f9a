//! Fuzzes parsing and validation: any text must end in a workflow or in located diagnostics,
//! never in a panic, a hang or a memory blow-up. Valid workflows are also planned and
//! rendered, and diagnostics rendered, as `engine plan` and `engine check` would.

#![no_main]

use std::sync::Arc;

use engine::diagnostic::{Report, Source, render_human, render_json};
use engine::parse::parse_workflow;
use engine::plan::{Graph, render_plan_json, render_plan_text};
use engine::validate::validate_workflow;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let source = Arc::new(Source::new("fuzz.yaml".into(), "fuzz.yaml".into(), text));
    let result = parse_workflow(&source).and_then(|raw| validate_workflow(&source, raw));
    match result {
        Ok(workflow) => {
            let graph = Graph::build(&workflow, &[]).expect("no targets always select");
            assert_eq!(graph.len(), workflow.tasks.len());
            let _ = render_plan_text(&workflow, &graph);
            let _ = render_plan_json(&workflow, &graph);
        }
        Err(diagnostics) => {
            assert!(
                !diagnostics.is_empty(),
                "a refused workflow has a diagnostic"
            );
            let report = Report {
                source: Arc::clone(&source),
                diagnostics,
            };
            let _ = render_human(&report, false);
            let _ = render_json(&report);
        }
    }
});
