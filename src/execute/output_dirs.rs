//! The directories of a task's outputs: before an attempt starts, the parent directories of
//! its literal outputs (templates filled in; globs have none to create) are created, as
//! Snakemake does, so that commands need no `mkdir -p`. Every executor starts a task through
//! `create_output_dirs`. Creates directories only: never removes, moves or changes anything.

use std::path::Path;

use crate::exchange::Launch;
use crate::files::{is_glob, lexical};

/// Creates the missing parent directories of the literal outputs of `launch`, against its
/// working directory. A working directory that does not exist is left to the start to
/// report (creating an output's parents would create it too).
///
/// # Errors
/// What stopped a directory from being created (a file in the way, a permission), naming
/// the output: the attempt fails before it starts.
pub fn create_output_dirs(launch: &Launch) -> Result<(), String> {
    let Some(files) = launch.files.as_deref() else {
        return Ok(());
    };
    if files.outputs.is_empty() || !launch.cwd.is_dir() {
        return Ok(());
    }
    let mut done: Vec<&Path> = Vec::new();
    let parents: Vec<(std::path::PathBuf, &String)> = files
        .outputs
        .iter()
        .filter(|output| !output.is_empty() && !is_glob(output))
        .filter_map(|output| {
            let full = lexical(&launch.cwd.join(output));
            full.parent().map(|parent| (parent.to_path_buf(), output))
        })
        .collect();
    for (parent, output) in &parents {
        if done.contains(&parent.as_path()) {
            continue;
        }
        done.push(parent);
        // One `stat` for the usual case: the directory is there already.
        if parent.is_dir() {
            continue;
        }
        if let Err(error) = std::fs::create_dir_all(parent) {
            return Err(cannot_create(&launch.cwd, parent, output, &error));
        }
    }
    Ok(())
}

/// Why the directory `dir` of `output` could not be created: a file in the way is named.
fn cannot_create(cwd: &Path, dir: &Path, output: &str, error: &std::io::Error) -> String {
    let shown = |path: &Path| path.strip_prefix(cwd).unwrap_or(path).display().to_string();
    let blocker = dir
        .ancestors()
        .find(|path| std::fs::symlink_metadata(path).is_ok())
        .filter(|path| !path.is_dir());
    match blocker {
        Some(path) => format!(
            "cannot create the directory `{}` for output `{output}`: `{}` is a file, not a directory",
            shown(dir),
            shown(path)
        ),
        None => format!(
            "cannot create the directory `{}` for output `{output}`: {error}",
            shown(dir)
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::{Command, Isolation, Task, TaskFiles, TaskId};

    fn launch(cwd: &Path, outputs: &[&str]) -> Launch {
        let task = Task::for_tests(
            TaskId(0),
            "t",
            Isolation::Process,
            Command::None,
            Vec::new(),
        );
        let mut launch = Launch::of(&task, 1);
        launch.cwd = cwd.to_path_buf();
        launch.files = Some(Arc::new(TaskFiles {
            inputs: Vec::new(),
            outputs: outputs.iter().map(|s| (*s).to_owned()).collect(),
            depfile: None,
        }));
        launch
    }

    #[test]
    fn the_parents_of_literal_outputs_are_created() {
        let dir = tempfile::tempdir().expect("temp dir");
        let launch = launch(
            dir.path(),
            &[
                "out/deep/x.txt",
                "out/deep/y.txt",
                "glob/*/z.txt",
                "top.txt",
                "d/e/",
            ],
        );
        create_output_dirs(&launch).expect("created");
        assert!(dir.path().join("out/deep").is_dir());
        assert!(
            !dir.path().join("out/deep/x.txt").exists(),
            "only directories"
        );
        assert!(
            !dir.path().join("glob").exists(),
            "globs have no directory to create"
        );
        assert!(dir.path().join("d").is_dir());
        assert!(
            !dir.path().join("d/e").exists(),
            "a directory output is the task's own"
        );
        create_output_dirs(&launch).expect("there already");
    }

    #[test]
    fn a_file_in_the_way_is_named() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("out"), "").expect("write");
        let error = create_output_dirs(&launch(dir.path(), &["out/deep/x.txt"]))
            .expect_err("a file is in the way");
        assert_eq!(
            error,
            "cannot create the directory `out/deep` for output `out/deep/x.txt`: `out` is a \
             file, not a directory"
        );
    }

    #[test]
    fn a_missing_working_directory_is_not_created() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cwd = dir.path().join("gone");
        create_output_dirs(&launch(&cwd, &["out/x.txt"])).expect("left to the start");
        assert!(!cwd.exists());
    }
}
