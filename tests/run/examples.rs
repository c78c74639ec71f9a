//! Every example in `workflows/` runs to success, from a copy of the directory so that what
//! the examples write stays in the test's temp dir.

use std::path::Path;

use engine_test_support::Test;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy");
    for entry in std::fs::read_dir(from).expect("read the directory") {
        let entry = entry.expect("directory entry");
        let kind = entry.file_type().expect("file type");
        let target = to.join(entry.file_name());
        // Skip run records and outputs a local run of an example may have left behind.
        let name = entry.file_name();
        if name == ".engine" || name == "out" {
            continue;
        }
        if kind.is_dir() {
            copy_dir(&entry.path(), &target);
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}

#[test]
fn every_example_workflow_succeeds() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows");
    let copies = tempfile::tempdir().expect("temp dir");
    let workflows = copies.path().join("workflows");
    copy_dir(&source, &workflows);
    let mut examples: Vec<_> = std::fs::read_dir(&workflows)
        .expect("read workflows/")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| {
            path.extension()
                .is_some_and(|ext| ext == "yaml" || ext == "yml")
        })
        .collect();
    examples.sort();
    assert!(
        examples.iter().any(|path| path.ends_with("seed.yaml")),
        "workflows/seed.yaml is missing"
    );
    for example in &examples {
        let run = Test::new()
            .engine_run(example)
            .args(["--progress", "plain"])
            .run();
        if run.events_of("run_finished").is_empty() {
            run.fail(&format!("{} did not finish its run", example.display()));
        }
        for finished in run.events_of("task_finished") {
            if finished["status"] != "succeeded" && finished["allowed_failure"] != true {
                run.fail(&format!("{}: {finished}", example.display()));
            }
        }
    }
}
