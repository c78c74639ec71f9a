//! The one builder the engine's integration suites (`tests/cli`, `tests/run`, `tests/slurm`)
//! drive the real `engine` binary with, after casey/just's `tests/test.rs`: a `Test` puts
//! files in a fresh temp dir, names the command and declares what must come out (exit code,
//! stdout, stderr, task outcomes from `--events`), then `run` checks it all and hands back the
//! `Output` for anything more. It knows the binary, the temp dir and the event stream, not any
//! one suite: helpers of one suite (process checks, the Slurm cluster) stay in that suite.
//!
//! A crate of its own rather than a module each suite includes: a library's public items
//! never count as dead code, so each suite uses what it needs without `#[path]` or
//! `#[allow(dead_code)]`.

mod expect;
mod output;
mod running;
mod test;

use std::path::{Path, PathBuf};

pub use output::Output;
pub use running::Running;
pub use test::{Test, WORKFLOW};

/// The path of the `engine` binary under test: `CARGO_BIN_EXE_engine` as Cargo sets it for
/// integration tests, else `engine` in the target directory that holds the test binary.
pub fn engine() -> PathBuf {
    if let Some(path) = std::env::var_os("CARGO_BIN_EXE_engine") {
        return PathBuf::from(path);
    }
    // A test binary is `target/<profile>/deps/<suite>-<hash>`; the engine is
    // `target/<profile>/engine`.
    let test = std::env::current_exe().expect("the test binary's path");
    test.parent()
        .and_then(Path::parent)
        .expect("the test binary sits in `target/<profile>/deps`")
        .join("engine")
}

/// The repository root, where `workflows/` and `schemas/` are.
pub fn root() -> &'static Path {
    // This crate is `tests/support` in the repository.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("the crate sits two levels below the repository root")
}

/// Parses JSON output, or fails showing it.
#[track_caller]
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("not JSON ({error}):\n{text}"))
}

/// Every file under `dir`, recursively (none when it cannot be read).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}
