//! `Scope`: what watch mode watches and what a change there means. Built from the validated
//! workflow, the selected tasks and the inputs their depfiles discovered; answers, for a
//! changed path, whether it reloads the workflow, which tasks read it, or nothing (state dir,
//! declared outputs, `.gitignore`/`.engineignore`). Pure but for reading the ignore files
//! when it is built; it watches nothing itself.

use std::path::{Path, PathBuf};

use glob::Pattern;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::files::{GLOB_OPTIONS, is_glob, lexical};
use crate::model::{Task, TaskId, Workflow};

/// What a changed path means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A file of the workflow itself (the file, an include, an `env_file`): reload it.
    Workflow,
    /// Inputs of these tasks.
    Inputs(Vec<TaskId>),
    /// Nothing: not watched, or never a trigger (state dir, an output, ignored).
    Ignored,
}

/// A directory to watch, and whether below it too.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Root {
    /// The directory, absolute.
    pub dir: PathBuf,
    /// Whether its subdirectories are watched too.
    pub recursive: bool,
}

/// One way a path can be an input (or an output).
#[derive(Debug)]
enum Matcher {
    /// This path, or anything below it (a directory).
    Path(PathBuf),
    /// A glob over absolute paths.
    Glob(Pattern),
}

impl Matcher {
    /// The matcher of a pattern relative to `cwd`: a literal path, a glob, or for a pattern
    /// with a template (filled in only when the task starts) its literal directory.
    fn of(cwd: &Path, pattern: &str) -> Option<Self> {
        if let Some(at) = pattern.find("${{") {
            let dir = pattern[..at].rsplit_once('/').map_or("", |(dir, _)| dir);
            return Some(Self::Path(lexical(&cwd.join(dir))));
        }
        let full = lexical(&cwd.join(pattern));
        if is_glob(pattern) {
            Pattern::new(&full.to_string_lossy()).ok().map(Self::Glob)
        } else {
            Some(Self::Path(full))
        }
    }

    fn matches(&self, path: &Path) -> bool {
        match self {
            Self::Path(own) => path.starts_with(own),
            Self::Glob(pattern) => pattern.matches_path_with(path, GLOB_OPTIONS),
        }
    }

    /// The directory to watch for it: the deepest that exists of its literal part.
    fn root(&self) -> Root {
        let (literal, is_dir_pattern) = match self {
            Self::Path(path) => (path.clone(), false),
            Self::Glob(pattern) => {
                let text = pattern.as_str();
                let literal: PathBuf = Path::new(text)
                    .components()
                    .take_while(|part| !is_glob(&part.as_os_str().to_string_lossy()))
                    .collect();
                (literal, true)
            }
        };
        if !is_dir_pattern && literal.is_dir() {
            return Root {
                dir: literal,
                recursive: true,
            };
        }
        let mut dir = if is_dir_pattern {
            literal.as_path()
        } else {
            literal.parent().unwrap_or_else(|| Path::new("/"))
        };
        // A file's own directory is enough (saves that rename over it included); a glob's,
        // or a missing directory's nearest ancestor, is watched below too.
        let mut recursive = is_dir_pattern;
        while !dir.is_dir() {
            recursive = true;
            match dir.parent() {
                Some(parent) => dir = parent,
                None => break,
            }
        }
        Root {
            dir: dir.to_path_buf(),
            recursive,
        }
    }
}

/// What a watch covers: the selected tasks' inputs (declared and discovered), the
/// workflow's own files, and what never triggers.
#[derive(Debug, Default)]
pub struct Scope {
    /// The workflow's files, absolute.
    workflow_files: Vec<PathBuf>,
    /// Per selected task, what it reads.
    inputs: Vec<(TaskId, Vec<Matcher>)>,
    /// Every task's declared outputs, and the engine's own files.
    outputs: Vec<Matcher>,
    /// The state dir, absolute.
    state_dir: Option<PathBuf>,
    /// `.gitignore` of the work tree the workflow is in, and `.engineignore` beside it.
    ignored: Vec<Gitignore>,
}

impl Scope {
    /// A scope that only reloads the workflow when one of `files` changes: while it is
    /// invalid.
    #[must_use]
    pub fn workflow_only(files: &[PathBuf]) -> Self {
        Self {
            workflow_files: files.iter().map(|file| absolute(file)).collect(),
            ..Self::default()
        }
    }

    /// The scope of a run of `selected` tasks of `workflow`; `discovered` holds the inputs
    /// each task's depfile named after its last success (relative to its `cwd`); `own`
    /// are files the engine itself writes outside the state dir (`--events`).
    #[must_use]
    pub fn of(
        workflow: &Workflow,
        selected: &[TaskId],
        discovered: &[(TaskId, Vec<String>)],
        files: &[PathBuf],
        state_dir: &Path,
        own: &[PathBuf],
    ) -> Self {
        let mut scope = Self::workflow_only(files);
        for &id in selected {
            let task = workflow.task(id);
            let cwd = absolute(&task.cwd);
            let mut matchers: Vec<Matcher> = task
                .inputs()
                .iter()
                .filter_map(|pattern| Matcher::of(&cwd, pattern))
                .collect();
            if let Some((_, paths)) = discovered.iter().find(|(task, _)| *task == id) {
                matchers.extend(
                    paths
                        .iter()
                        .map(|path| Matcher::Path(lexical(&cwd.join(path)))),
                );
            }
            scope.inputs.push((id, matchers));
        }
        scope.outputs = workflow.tasks.iter().flat_map(outputs_of).collect();
        scope
            .outputs
            .extend(own.iter().map(|file| Matcher::Path(absolute(file))));
        scope.state_dir = Some(absolute(state_dir));
        let dir = absolute(&workflow.path);
        let dir = dir.parent().unwrap_or_else(|| Path::new("/"));
        scope.ignored = ignore_files(dir);
        scope
    }

    /// The directories to watch.
    #[must_use]
    pub fn roots(&self) -> Vec<Root> {
        let mut roots: Vec<Root> = self
            .workflow_files
            .iter()
            .map(|file| Matcher::Path(file.clone()).root())
            .chain(
                self.inputs
                    .iter()
                    .flat_map(|(_, matchers)| matchers.iter().map(Matcher::root)),
            )
            .collect();
        roots.sort();
        roots.dedup();
        roots
    }

    /// What a change of `path` (absolute) means.
    #[must_use]
    pub fn judge(&self, path: &Path) -> Verdict {
        let path = lexical(path);
        if self.workflow_files.contains(&path) {
            return Verdict::Workflow;
        }
        if self.never_triggers(&path) {
            return Verdict::Ignored;
        }
        let tasks: Vec<TaskId> = self
            .inputs
            .iter()
            .filter(|(_, matchers)| matchers.iter().any(|m| m.matches(&path)))
            .map(|(task, _)| *task)
            .collect();
        if tasks.is_empty() {
            Verdict::Ignored
        } else {
            Verdict::Inputs(tasks)
        }
    }

    /// Whether a change there never starts a run: the state dir, a `.git` directory, a
    /// declared output of any task, an ignored path.
    fn never_triggers(&self, path: &Path) -> bool {
        if self
            .state_dir
            .as_deref()
            .is_some_and(|dir| path.starts_with(dir))
        {
            return true;
        }
        if path.components().any(|part| part.as_os_str() == ".git") {
            return true;
        }
        if self.outputs.iter().any(|output| output.matches(path)) {
            return true;
        }
        let is_dir = path.is_dir();
        self.ignored.iter().any(|ignore| {
            path.starts_with(ignore.path())
                && ignore.matched_path_or_any_parents(path, is_dir).is_ignore()
        })
    }
}

/// The matchers of a task's declared outputs (templated ones are known only once it starts,
/// and left out).
fn outputs_of(task: &Task) -> Vec<Matcher> {
    let cwd = absolute(&task.cwd);
    task.outputs()
        .iter()
        .filter(|pattern| !pattern.contains("${{"))
        .filter_map(|pattern| Matcher::of(&cwd, pattern))
        .collect()
}

/// The ignore files that apply to a workflow in `dir`: in a git work tree, its top
/// `.gitignore`, `.git/info/exclude` and the `.gitignore` files from there down to `dir`;
/// and `.engineignore` in `dir` (gitignore syntax), in or out of git.
fn ignore_files(dir: &Path) -> Vec<Gitignore> {
    let mut found = Vec::new();
    let top = dir.ancestors().find(|at| at.join(".git").exists());
    if let Some(top) = top {
        let mut builder = GitignoreBuilder::new(top);
        builder.add(top.join(".git/info/exclude"));
        let below: Vec<&Path> = dir.ancestors().take_while(|at| *at != top).collect();
        for at in std::iter::once(top).chain(below.into_iter().rev()) {
            let file = at.join(".gitignore");
            if file.is_file() {
                builder.add(file);
            }
        }
        if let Ok(ignore) = builder.build() {
            found.push(ignore);
        }
    }
    let own = dir.join(".engineignore");
    if own.is_file() {
        let (ignore, _) = Gitignore::new(own);
        found.push(ignore);
    }
    found
}

/// The path made absolute against the current directory, normalized lexically.
fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        lexical(path)
    } else {
        let cwd = std::env::current_dir().unwrap_or_default();
        lexical(&cwd.join(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_inputs_globs_and_directories_match() {
        let cwd = Path::new("/w");
        let literal = Matcher::of(cwd, "a.txt").expect("a matcher");
        assert!(literal.matches(Path::new("/w/a.txt")));
        assert!(!literal.matches(Path::new("/w/b.txt")));
        let glob = Matcher::of(cwd, "src/*.c").expect("a matcher");
        assert!(glob.matches(Path::new("/w/src/x.c")));
        assert!(!glob.matches(Path::new("/w/src/sub/x.c")));
        let deep = Matcher::of(cwd, "src/**/*.h").expect("a matcher");
        assert!(deep.matches(Path::new("/w/src/a/b/x.h")));
        let dir = Matcher::of(cwd, "data").expect("a matcher");
        assert!(dir.matches(Path::new("/w/data/x/y.csv")));
        let templated = Matcher::of(cwd, "in/${{ vars.x }}.txt").expect("a matcher");
        assert!(templated.matches(Path::new("/w/in/anything")));
    }

    #[test]
    fn outputs_state_dir_and_git_never_trigger() {
        let scope = Scope {
            workflow_files: vec![PathBuf::from("/w/flow.yaml")],
            inputs: vec![(
                TaskId(0),
                vec![Matcher::of(Path::new("/w"), "data").expect("a matcher")],
            )],
            outputs: vec![Matcher::of(Path::new("/w"), "data/out.txt").expect("a matcher")],
            state_dir: Some(PathBuf::from("/w/.engine")),
            ignored: Vec::new(),
        };
        assert_eq!(scope.judge(Path::new("/w/flow.yaml")), Verdict::Workflow);
        assert_eq!(
            scope.judge(Path::new("/w/data/in.txt")),
            Verdict::Inputs(vec![TaskId(0)])
        );
        assert_eq!(scope.judge(Path::new("/w/data/out.txt")), Verdict::Ignored);
        assert_eq!(scope.judge(Path::new("/w/.engine/x")), Verdict::Ignored);
        assert_eq!(scope.judge(Path::new("/w/data/.git/x")), Verdict::Ignored);
        assert_eq!(scope.judge(Path::new("/w/other.txt")), Verdict::Ignored);
    }
}
