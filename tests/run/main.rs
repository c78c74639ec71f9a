//! Integration tests of `engine run`: the real binary, real processes, real signals. Each test
//! runs in its own temp dir with the state dir and the events file inside it, through the
//! `Test` builder of `engine-test-support` (`tests/support`).

mod default_file;
mod depfile;
mod dynamic;
mod examples;
mod fail_fast;
mod failures;
mod incomplete;
mod language;
mod matrix_files;
mod namespaces;
mod no_op;
mod output;
mod params;
mod preconditions;
mod process;
mod record;
mod scheduling;
mod scripts;
mod secrets;
mod selection;
mod signals;
mod targets;
mod task_outputs;
mod tasks;
mod watch;
