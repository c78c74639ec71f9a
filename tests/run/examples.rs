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
        if name == ".engine" || name == "out" || name == "build" {
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

/// `workflows/per_sample.yaml`, copied into a new test's temp dir, ready to run.
fn per_sample() -> Test {
    let test = Test::new();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows");
    copy_dir(&source, &test.path("workflows"));
    let workflow = test.path("workflows/per_sample.yaml");
    test.engine_run(&workflow)
}

/// The tasks a run started, sorted.
fn started(run: &engine_test_support::Output) -> Vec<String> {
    let mut started = run.started_order();
    started.sort();
    started
}

#[test]
fn per_sample_reruns_only_the_chain_of_the_edited_sample_and_the_call() {
    let test = per_sample();
    let first = test.again().status(0).run();
    // 2 samples x (map_reads, sort, index) + call.
    assert_eq!(first.started_order().len(), 7);
    std::fs::write(
        test.path("workflows/data/samples/A.fastq"),
        "@r1\nACGTACGT\n+\nIIIIIIII\n@r2\nGGGG\n+\nIIII\n",
    )
    .expect("edit sample A");
    let second = test.again().status(0).run();
    // A's chain and the call: 4 of the 7 tasks. With every step a barrier for all samples
    // (before per-item dependencies), all 7 reran.
    assert_eq!(
        started(&second),
        [
            "call",
            "index[sample=A]",
            "map_reads[sample=A]",
            "sort[sample=A]"
        ]
    );
    let all = std::fs::read_to_string(test.path("workflows/out/calls/all.vcf")).expect("calls");
    assert!(
        all.contains("GGGG"),
        "the call read the new sort of A:\n{all}"
    );
}

#[test]
fn per_sample_runs_only_a_new_samples_chain_and_the_call() {
    let test = per_sample();
    test.again().status(0).run();
    let path = test.path("workflows/per_sample.yaml");
    let yaml = std::fs::read_to_string(&path).expect("read the example");
    assert!(
        yaml.contains("&samples [A, B]"),
        "the samples are listed once"
    );
    std::fs::write(&path, yaml.replace("&samples [A, B]", "&samples [A, B, C]"))
        .expect("add sample C");
    std::fs::write(
        test.path("workflows/data/samples/C.fastq"),
        "@r1\nCCCC\n+\nIIII\n",
    )
    .expect("write sample C");
    let run = test.again().status(0).run();
    assert_eq!(
        started(&run),
        [
            "call",
            "index[sample=C]",
            "map_reads[sample=C]",
            "sort[sample=C]"
        ]
    );
}

/// `workflows/c_build.yaml`, copied into a new test's temp dir, ready to run.
fn c_build() -> Test {
    let test = Test::new();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows");
    copy_dir(&source, &test.path("workflows"));
    let workflow = test.path("workflows/c_build.yaml");
    test.engine_run(&workflow)
}

#[test]
fn c_build_rebuilds_what_a_header_edit_or_a_new_source_or_include_touches() {
    let test = c_build();
    let project = test.path("workflows/c_project");
    let first = test.again().status(0).run();
    assert_eq!(
        started(&first),
        [
            "compile[src=src/add.c]",
            "compile[src=src/main.c]",
            "compile[src=src/mul.c]",
            "link",
            "smoke_test"
        ]
    );
    // Nothing changed: only the task without outputs runs.
    let again = test.again().status(0).run();
    assert_eq!(started(&again), ["smoke_test"]);
    // version.h is included by main.c alone, as its depfile says.
    let header = project.join("include/version.h");
    let text = std::fs::read_to_string(&header).expect("read version.h");
    std::fs::write(&header, text.replace("\"1.0\"", "\"1.1\"")).expect("edit version.h");
    let edited = test.again().status(0).run();
    assert_eq!(
        started(&edited),
        ["compile[src=src/main.c]", "link", "smoke_test"]
    );
    // A new source file is one new task, and the link names its object.
    std::fs::write(
        project.join("src/neg.c"),
        "#include \"ops.h\"\n\nlong neg(long a) { return -a; }\n",
    )
    .expect("write neg.c");
    let added = test.again().status(0).run();
    assert_eq!(
        started(&added),
        ["compile[src=src/neg.c]", "link", "smoke_test"]
    );
    // A new `#include` is picked up without touching the workflow: once add.c includes
    // version.h, an edit of version.h recompiles it too.
    let add = project.join("src/add.c");
    let source = std::fs::read_to_string(&add).expect("read add.c");
    std::fs::write(&add, format!("#include \"version.h\"\n{source}")).expect("edit add.c");
    let included = test.again().status(0).run();
    assert_eq!(
        started(&included),
        ["compile[src=src/add.c]", "link", "smoke_test"]
    );
    std::fs::write(&header, text.replace("\"1.0\"", "\"1.2\"")).expect("edit version.h");
    let both = test.again().status(0).run();
    assert_eq!(
        started(&both),
        [
            "compile[src=src/add.c]",
            "compile[src=src/main.c]",
            "link",
            "smoke_test"
        ]
    );
}

/// `workflows/project/`, a task file in the style of a justfile or a Taskfile, copied into
/// a new test's temp dir: `engine ARGS` in the directory `dir` of the copy.
fn project(dir: &str) -> Test {
    let test = Test::new();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows/project");
    copy_dir(&source, test.dir());
    test.in_dir(dir)
}

#[test]
fn the_project_example_finds_its_file_runs_its_default_and_takes_parameters() {
    // From a subdirectory, no file and no task: the `default` task of the engine.yaml above.
    let test = project("src");
    let run = test
        .again()
        .args(["run", "--progress", "plain"])
        .stderr_has("entering")
        .stdout_has("[build] building (debug)")
        .stdout_has("[test] testing out/debug/app")
        .stdout_has("[_fixtures] fixtures ready")
        .stderr_lacks("release")
        .run();
    assert!(run.stderr.contains("4 succeeded"), "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(test.path("out/debug/app")).expect("built"),
        "HELLO APP\n"
    );
    // The list: groups, descriptions, parameters, aliases; `_fixtures` left out.
    let test = test.in_dir(".");
    test.again()
        .args(["list"])
        .stdout(
            "\
project: build, test and release a small project
default     thread   build and test  [default]
docs:site   process
docs:pages  process
dev:
  build     process  compile the app  [params: [profile=debug]; alias: b]
  test      process  run the tests  [alias: t]
release:
  release   process  build the release and the docs  [manual]
",
        )
        .run();
    // An alias with a parameter, and the words after `--`.
    test.again()
        .args(["run", "b", "profile=release", "--progress", "plain"])
        .stdout_has("[build(profile=release)] building (release)")
        .run();
    test.again()
        .args(["run", "t", "--progress", "plain", "--", "-k", "slow"])
        .stdout_has("[test] testing out/debug/app -k slow")
        .run();
    // A manual task runs when named; its requirement fails it with the message.
    test.again()
        .args(["run", "release", "--progress", "plain"])
        .status(1)
        .stderr_has("requirement not met: write a VERSION file first")
        .run();
    std::fs::write(test.path("VERSION"), "1.0\n").expect("VERSION");
    test.again()
        .args(["run", "release", "--progress", "plain"])
        .stdout_has("[release] release 1.0")
        .stdout_has("[release] <h1>docs</h1>")
        .run();
    // The included file's tasks ran in its own directory.
    assert!(test.path("docs/site/index.html").is_file());
    assert!(test.path("docs/pages.txt").is_file());
}
