//! Which workflow file a command reads: the one named (`-f FILE`, or a first argument that
//! is an existing file or ends in `.yaml`/`.yml`), else `engine.yaml` or `engine.yml` in the
//! current directory or the nearest parent, whose directory then becomes the current
//! directory (as if the command had been typed there). It finds the file and nothing more:
//! reading it is `validate`'s.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::error::EngineError;

/// The names a workflow file is found by, in the order they are looked for.
pub const DEFAULT_NAMES: [&str; 2] = ["engine.yaml", "engine.yml"];

/// What the command line says of the workflow file.
pub(crate) struct Given<'a> {
    /// The first positional argument, which may be the file or a task.
    pub first: Option<PathBuf>,
    /// `-f/--file FILE`.
    pub named: Option<PathBuf>,
    /// Paths of options the user typed relative to where they typed them (`--state-dir`,
    /// `--events`): made absolute before the directory changes, so they keep their meaning.
    pub keep: Vec<&'a mut Option<PathBuf>>,
}

/// The workflow file to read, and the first positional argument when it is a task rather
/// than the file. When the file was found (not named), the current directory is now its
/// directory and the path is its bare name; a line on stderr says so when that moved.
///
/// # Errors
/// No file found (saying where it looked), or two default names in one directory.
pub(crate) fn locate(given: Given<'_>) -> Result<(PathBuf, Option<String>), EngineError> {
    let Given { first, named, keep } = given;
    if let Some(named) = named {
        return Ok((named, first.map(task_of)));
    }
    if let Some(first) = first {
        if is_workflow_path(&first) {
            return Ok((first, None));
        }
        let file = find_and_enter(keep)?;
        return Ok((file, Some(task_of(first))));
    }
    Ok((find_and_enter(keep)?, None))
}

/// Whether a first argument names the workflow file: an existing file (of any kind but a
/// directory, so that `/dev/stdin` is refused as the file it is), or a name ending in `.yaml`
/// or `.yml` (task names never hold a dot), so that a missing file says it is missing.
pub(crate) fn is_workflow_path(path: &Path) -> bool {
    (path.exists() && !path.is_dir())
        || path
            .extension()
            .is_some_and(|ext| ext == "yaml" || ext == "yml")
}

fn task_of(path: PathBuf) -> String {
    path.into_os_string().to_string_lossy().into_owned()
}

/// Finds the default file from the current directory up, makes `keep` absolute and enters
/// the file's directory.
fn find_and_enter(keep: Vec<&mut Option<PathBuf>>) -> Result<PathBuf, EngineError> {
    let cwd =
        std::env::current_dir().map_err(EngineError::io("cannot read the current directory"))?;
    let (dir, name) = find(&cwd)?;
    if dir != cwd {
        for path in keep {
            if let Some(path) = path.as_mut() {
                *path = std::path::absolute(&*path).unwrap_or_else(|_| path.clone());
            }
        }
        std::env::set_current_dir(&dir).map_err(EngineError::io(format!(
            "cannot enter `{}`, the directory of the workflow",
            dir.display()
        )))?;
        let _ = writeln!(
            std::io::stderr().lock(),
            "engine: entering {} (found {name})",
            dir.display()
        );
    }
    Ok(PathBuf::from(name))
}

/// The nearest directory, from `start` up, with a default workflow file, and that file's name.
///
/// # Errors
/// None found, or both names in the nearest directory that has one.
pub(crate) fn find(start: &Path) -> Result<(PathBuf, &'static str), EngineError> {
    for dir in start.ancestors() {
        let found: Vec<&'static str> = DEFAULT_NAMES
            .into_iter()
            .filter(|name| dir.join(name).is_file())
            .collect();
        match found.as_slice() {
            [] => {}
            [name] => return Ok((dir.to_path_buf(), name)),
            _ => {
                return Err(EngineError::Usage {
                    message: format!(
                        "both `{}` and `{}` are in {}: which is the workflow?",
                        DEFAULT_NAMES[0],
                        DEFAULT_NAMES[1],
                        dir.display()
                    ),
                    hint: Some(
                        "remove or rename one, or name the file: `engine run -f FILE`".to_owned(),
                    ),
                });
            }
        }
    }
    Err(EngineError::Usage {
        message: format!(
            "no workflow file: neither `{}` nor `{}` is in {} or any directory above it",
            DEFAULT_NAMES[0],
            DEFAULT_NAMES[1],
            start.display()
        ),
        hint: Some(
            "name the file, like `engine run -f path/to/workflow.yaml` or `engine run workflow.yaml`, or create `engine.yaml`".to_owned(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_directory_with_a_default_file_wins() {
        let root = tempfile::tempdir().expect("temp dir");
        let deep = root.path().join("a/b");
        std::fs::create_dir_all(&deep).expect("dirs");
        std::fs::write(root.path().join("engine.yml"), "tasks: {}").expect("write");
        assert_eq!(
            find(&deep).expect("found"),
            (root.path().to_path_buf(), "engine.yml")
        );
        std::fs::write(root.path().join("a/engine.yaml"), "tasks: {}").expect("write");
        assert_eq!(
            find(&deep).expect("found"),
            (root.path().join("a"), "engine.yaml")
        );
        std::fs::write(root.path().join("a/engine.yml"), "tasks: {}").expect("write");
        let Err(EngineError::Usage { message, .. }) = find(&deep) else {
            panic!("two files in one directory must be an error");
        };
        assert!(
            message.contains("both `engine.yaml` and `engine.yml`"),
            "{message}"
        );
    }

    #[test]
    fn a_first_argument_is_the_file_when_it_exists_or_looks_like_one() {
        assert!(is_workflow_path(Path::new("missing.yaml")));
        assert!(is_workflow_path(Path::new("dir/missing.yml")));
        assert!(is_workflow_path(Path::new("Cargo.toml")));
        assert!(!is_workflow_path(Path::new("build")));
        assert!(!is_workflow_path(Path::new("test[os=linux]")));
    }
}
