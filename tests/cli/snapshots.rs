//! Snapshots of what users read: `plan` and every `graph` format of `workflows/seed.yaml`, and
//! `check`'s rendering of a file with several problems. Review changes with
//! `cargo insta review`.

use engine_test_support::Test;

const SEED: &str = "workflows/seed.yaml";

fn seed(args: &[&str]) -> String {
    Test::new()
        .in_repository()
        .args(args.iter().copied())
        .stderr("")
        .run()
        .stdout
}

#[test]
fn plan_of_the_seed() {
    insta::assert_snapshot!("plan_seed", seed(&["plan", SEED]));
}

#[test]
fn graph_of_the_seed_in_every_format() {
    for format in ["text", "dot", "mermaid", "json"] {
        insta::assert_snapshot!(
            format!("graph_seed_{format}"),
            seed(&["graph", SEED, "--format", format])
        );
    }
}

#[test]
fn check_of_a_file_with_several_problems() {
    let out = Test::new()
        .file(
            "release.yaml",
            "\
name: release
defaults:
  timeout: 10 min
tasks:
  build:
    run: cargo build --release
  test:
    depends_on: [biuld]
    isolation: thread
    run: cargo test
  package:
    depends_on: [publish]
    script: |
      let files = [\"engine\"];
      print(files.len( );
  publish:
    depends_on: package
    run: cargo publish
",
        )
        .args(["check", "release.yaml"])
        .status(2)
        .stdout("")
        .run();
    insta::assert_snapshot!("check_several_problems", out.stderr);
}

#[test]
fn check_of_a_file_with_structural_problems() {
    let out = Test::new()
        .file(
            "typos.yaml",
            "\
nmae: typos
tasks:
  build:
    run: make
    timout: 5m
  test:
    depend_on: build
    isolation: proces
    run: make test
",
        )
        .args(["check", "typos.yaml"])
        .status(2)
        .stdout("")
        .run();
    insta::assert_snapshot!("check_structural_problems", out.stderr);
}
