//! Integration tests of the `engine` command line: each drives the real binary in a temp dir
//! through the `Test` builder of `engine-test-support` (`tests/support`) and checks its output
//! and exit code.

mod builder;
mod check;
mod condensed;
mod files;
mod graph;
mod interface;
mod language;
mod matrix_files;
mod misc;
mod outputs;
mod params;
mod plan;
mod record;
mod report;
mod report_browser;
mod selectors;
mod snapshots;
mod targets;
