//! File targets: `engine run FILE out/a.o` selects the task that produces `out/a.o`. Turns
//! the targets of the command line into what `Graph::build` selects: a target that names a
//! task, a matrix item or a selector stays as it is; any other is a path (relative to the
//! current directory, as a shell user types it) matched against every task's declared
//! outputs, resolved against the task's `cwd` with their templates filled in as the run
//! fills them. Reads no file's content and runs nothing; the current directory is given.

use std::path::{Component, Path, PathBuf};

use glob::Pattern;
use rustc_hash::{FxHashMap, FxHashSet};

use super::Graph;
use super::fill::{Scope, Templating};
use crate::diagnostic::suggest;
use crate::files::{GLOB_OPTIONS, is_glob, lexical};
use crate::model::{Task, TaskId, Workflow};
use crate::template::{DependencyStatus, Evaluator, Part, Root, Template, references};

/// A path target that no task produces.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no task produces `{target}`")]
pub struct TargetError {
    /// The target as typed.
    pub target: String,
    /// `did you mean ...?` with the closest declared output (or task name), if one is close.
    pub suggestion: Option<String>,
}

/// One target of the command line and what it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The target as typed.
    pub target: String,
    /// What `Graph::build` selects for it: the target itself when it names a task (or a
    /// matrix item, or a selector), else the names of the tasks that produce the file.
    pub tasks: Vec<String>,
    /// Whether it was taken as a file.
    pub file: bool,
}

/// Resolves every target: see the module's comment. `cwd` is the directory relative paths
/// are taken from (the engine's current directory). A target that looks like a task name
/// and neither names a task nor is produced is left as it is, for `Graph::build` to report
/// as an unknown task with its own suggestion.
///
/// # Errors
/// The first path target that no task produces.
pub fn resolve_targets(
    workflow: &Workflow,
    targets: &[String],
    cwd: &Path,
) -> Result<Vec<Resolved>, TargetError> {
    let mut names: FxHashSet<&str> = FxHashSet::default();
    for task in &workflow.tasks {
        names.insert(&task.name);
        if let Some(group) = &task.group {
            names.insert(group);
        }
    }
    // An alias stands for its task's name (a matrix task's name as written).
    let aliases: FxHashMap<&str, &str> = workflow
        .tasks
        .iter()
        .flat_map(|task| {
            let name = task.group.as_deref().unwrap_or(&task.name);
            task.aliases()
                .iter()
                .map(move |alias| (alias.as_str(), name))
        })
        .collect();
    let mut outputs: Option<Vec<Output>> = None;
    let mut resolved = Vec::with_capacity(targets.len());
    for target in targets {
        if let Some(&name) = aliases.get(target.as_str()) {
            resolved.push(Resolved {
                target: target.clone(),
                tasks: vec![name.to_owned()],
                file: false,
            });
            continue;
        }
        if names_task(&names, target) {
            resolved.push(Resolved {
                target: target.clone(),
                tasks: vec![target.clone()],
                file: false,
            });
            continue;
        }
        let outputs = outputs.get_or_insert_with(|| declared_outputs(workflow));
        let found = producers(outputs, &lexical(&cwd.join(target)));
        if found.is_empty() {
            // Typed as if from the workflow's directory: the path from here is the hint.
            let from_workflow = workflow
                .path
                .parent()
                .map(|dir| lexical(&dir.join(target)))
                .filter(|path| !producers(outputs, path).is_empty());
            if let Some(path) = from_workflow {
                return Err(TargetError {
                    target: target.clone(),
                    suggestion: Some(format!(
                        "did you mean `{}`? (a file target is relative to the current directory)",
                        relative(&path, cwd)
                    )),
                });
            }
            if looks_like_task_name(target) {
                resolved.push(Resolved {
                    target: target.clone(),
                    tasks: vec![target.clone()],
                    file: false,
                });
                continue;
            }
            return Err(TargetError {
                target: target.clone(),
                suggestion: closest(target, outputs, cwd, &names),
            });
        }
        resolved.push(Resolved {
            target: target.clone(),
            tasks: found
                .into_iter()
                .map(|id| workflow.task(id).name.clone())
                .collect(),
            file: true,
        });
    }
    Ok(resolved)
}

/// The names `Graph::build` selects for `resolved`, each once, in order.
#[must_use]
pub fn target_names(resolved: &[Resolved]) -> Vec<String> {
    let mut seen = FxHashSet::default();
    resolved
        .iter()
        .flat_map(|one| &one.tasks)
        .filter(|name| seen.insert(name.as_str()))
        .cloned()
        .collect()
}

/// Whether `target` names a task, a matrix task, or selects items of one
/// (`NAME[...]`, which `Graph::build` judges).
fn names_task(names: &FxHashSet<&str>, target: &str) -> bool {
    names.contains(target)
        || (target.ends_with(']')
            && target
                .find('[')
                .is_some_and(|open| names.contains(&target[..open])))
}

/// Whether `target` is written like a task name (a lowercase letter, then lowercase letters,
/// digits and underscores): no path has to be typed that way, so an unknown one is most
/// likely a misspelt task.
fn looks_like_task_name(target: &str) -> bool {
    let mut bytes = target.bytes();
    bytes.next().is_some_and(|first| first.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// One declared output of a task, absolute and normalized.
struct Output {
    task: TaskId,
    /// The path, or a glob's text.
    path: PathBuf,
    /// For a glob, its pattern (the working directory escaped).
    glob: Option<Pattern>,
}

/// Every output of every task that can be known before the run, in file order. Templates
/// are filled in with the task's matrix values, the variables and the environment; an
/// output (or a `cwd`) that reads `tasks.` (results known only once the run is under way)
/// is left out, as is one whose template cannot be filled in.
fn declared_outputs(workflow: &Workflow) -> Vec<Output> {
    let templated = workflow.tasks.iter().any(|task| {
        task.templates
            .as_ref()
            .is_some_and(|t| t.cwd.is_some() || !t.outputs.is_empty())
    });
    // The templates see the tasks of the whole workflow, as in a run of all of them.
    let graph = if templated {
        Some(Graph::build_all(workflow))
    } else {
        None
    };
    let templating = graph
        .as_ref()
        .map(|graph| (Templating::new(), graph, Evaluator::new()));
    let mut outputs = Vec::new();
    for task in &workflow.tasks {
        if task.outputs().is_empty() {
            continue;
        }
        let filled = match (&task.templates, &templating) {
            (Some(templates), Some((templating, graph, evaluator))) => {
                // Before the run no task has ended: the values are those `engine plan` shows.
                let context = std::cell::OnceCell::new();
                let fill = |template: &Template| {
                    if reads_tasks(template) {
                        return None;
                    }
                    let context = context.get_or_init(|| {
                        let scope = Scope { workflow, graph };
                        templating.context(scope, task, &[], DependencyStatus::SUCCEEDED)
                    });
                    evaluator.render(template, context).ok()
                };
                let cwd = match &templates.cwd {
                    None => Some(task.cwd.clone()),
                    Some(template) => fill(template).map(|dir| {
                        // As the run resolves a templated `cwd`: against the workflow's
                        // directory.
                        workflow
                            .path
                            .parent()
                            .unwrap_or_else(|| Path::new("."))
                            .join(dir)
                    }),
                };
                let Some(cwd) = cwd else {
                    continue;
                };
                let patterns: Vec<Option<String>> = task
                    .outputs()
                    .iter()
                    .enumerate()
                    .map(|(index, written)| {
                        match templates.outputs.iter().find(|(at, _)| *at == index) {
                            Some((_, template)) => fill(template),
                            None => Some(written.clone()),
                        }
                    })
                    .collect();
                (cwd, patterns)
            }
            _ => (
                task.cwd.clone(),
                task.outputs().iter().cloned().map(Some).collect(),
            ),
        };
        let (cwd, patterns) = filled;
        for pattern in patterns.into_iter().flatten() {
            if let Some(output) = output(task, &cwd, &pattern) {
                outputs.push(output);
            }
        }
    }
    outputs
}

/// Whether a template reads `tasks.`.
fn reads_tasks(template: &Template) -> bool {
    template.parts.iter().any(|part| match part {
        Part::Expr(expr) => references(expr)
            .iter()
            .any(|reference| reference.root == Root::Tasks),
        Part::Text(_) => false,
    })
}

/// The output `pattern` of `task`, resolved against `cwd`.
fn output(task: &Task, cwd: &Path, pattern: &str) -> Option<Output> {
    if pattern.is_empty() {
        return None;
    }
    if !is_glob(pattern) {
        return Some(Output {
            task: task.id,
            path: lexical(&cwd.join(pattern)),
            glob: None,
        });
    }
    // The working directory's part of the glob is literal, whatever characters it holds;
    // the pattern's leading `..` climb out of it.
    let relative = lexical(Path::new(pattern));
    let mut base = lexical(cwd);
    let mut rest = Vec::new();
    for component in relative.components() {
        match component {
            Component::ParentDir if rest.is_empty() => {
                base.pop();
            }
            Component::RootDir => base = PathBuf::from("/"),
            other => rest.push(other.as_os_str().to_string_lossy().into_owned()),
        }
    }
    let mut text = Pattern::escape(&base.to_string_lossy());
    if !text.ends_with('/') {
        text.push('/');
    }
    text.push_str(&rest.join("/"));
    let glob = Pattern::new(&text).ok()?;
    Some(Output {
        task: task.id,
        path: PathBuf::from(text),
        glob: Some(glob),
    })
}

/// The tasks that produce `path` (absolute, normalized), each once in file order: those
/// that declare it or a glob matching it; when none does, those that declare a directory
/// holding it. When nothing matches as written, the paths are compared once symbolic links
/// in their existing parts are resolved.
fn producers(outputs: &[Output], path: &Path) -> Vec<TaskId> {
    let mut found: Vec<TaskId> = outputs
        .iter()
        .filter(|output| match &output.glob {
            None => output.path == path,
            Some(glob) => glob.matches_path_with(path, GLOB_OPTIONS),
        })
        .map(|output| output.task)
        .collect();
    if found.is_empty() {
        found = outputs
            .iter()
            .filter(|output| output.glob.is_none() && path.starts_with(&output.path))
            .map(|output| output.task)
            .collect();
    }
    if found.is_empty() {
        let resolved = real(path);
        found = outputs
            .iter()
            .filter(|output| output.glob.is_none() && resolved.starts_with(real(&output.path)))
            .map(|output| output.task)
            .collect();
    }
    found.sort_unstable();
    found.dedup();
    found
}

/// The path with symbolic links and `..` resolved in its longest existing leading part; the
/// rest as it is.
fn real(path: &Path) -> PathBuf {
    let mut rest = Vec::new();
    let mut existing = path;
    loop {
        if let Ok(resolved) = std::fs::canonicalize(existing) {
            return rest
                .iter()
                .rev()
                .fold(resolved, |path, part| path.join(part));
        }
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent;
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// `did you mean ...?` with the declared literal output closest to `target` (shown relative
/// to `cwd`, as it would be typed), or the closest task name when the target could be one.
fn closest(
    target: &str,
    outputs: &[Output],
    cwd: &Path,
    names: &FxHashSet<&str>,
) -> Option<String> {
    let typed = lexical(Path::new(target));
    let typed = typed.to_string_lossy();
    let shown: Vec<String> = outputs
        .iter()
        .filter(|output| output.glob.is_none())
        .map(|output| {
            if Path::new(target).is_absolute() {
                output.path.to_string_lossy().into_owned()
            } else {
                relative(&output.path, cwd)
            }
        })
        .collect();
    let mut candidates: Vec<&str> = shown.iter().map(String::as_str).collect();
    if !target.contains('/') {
        let mut tasks: Vec<&str> = names.iter().copied().collect();
        tasks.sort_unstable();
        candidates.extend(tasks);
    }
    suggest(&typed, candidates)
}

/// `path` (absolute, normalized) relative to `base` (absolute), with `..` where it lies
/// outside.
fn relative(path: &Path, base: &Path) -> String {
    super::outputs::relative_to(path, &lexical(base))
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The workflow `yaml`, written to `dir/workflow.yaml` and loaded.
    fn load(dir: &Path, yaml: &str) -> Workflow {
        std::fs::create_dir_all(dir).expect("the workflow's directory");
        let path = dir.join("workflow.yaml");
        std::fs::write(&path, yaml).expect("write the workflow");
        crate::validate::load_workflow(&path).expect("a valid workflow")
    }

    fn tasks_of(workflow: &Workflow, target: &str, cwd: &Path) -> Result<Vec<String>, TargetError> {
        resolve_targets(workflow, &[target.to_owned()], cwd).map(|found| target_names(&found))
    }

    #[test]
    fn outputs_are_found_through_templated_cwds_and_globs_in_odd_directories() {
        let temp = tempfile::tempdir().expect("temp dir");
        // Glob characters in the workflow's directory are its name, not a pattern.
        let dir = temp.path().join("we[i]rd*");
        let workflow = load(
            &dir,
            r#"
vars:
  sub: part
tasks:
  gen:
    matrix:
      n: [1, 2]
    cwd: "${{ vars.sub }}"
    run: touch ${{ matrix.n }}.txt
    outputs: ["../out/${{ matrix.n }}.txt", "logs/*.log"]
  later:
    depends_on: [gen]
    run: echo
    outputs: ["${{ tasks.gen.status }}.txt"]
"#,
        );
        assert_eq!(
            tasks_of(&workflow, "out/2.txt", &dir),
            Ok(vec!["gen[n=2]".to_owned()])
        );
        assert_eq!(
            tasks_of(&workflow, "part/logs/x.log", &dir),
            Ok(vec!["gen[n=1]".to_owned(), "gen[n=2]".to_owned()])
        );
        assert_eq!(
            tasks_of(&workflow, "../we[i]rd*/part/logs/x.log", &dir.join("part")),
            Err(TargetError {
                target: "../we[i]rd*/part/logs/x.log".to_owned(),
                suggestion: Some(
                    "did you mean `logs/x.log`? (a file target is relative to the current \
                     directory)"
                        .to_owned()
                ),
            }),
            "relative to the current directory, not to the workflow's"
        );
        assert_eq!(
            tasks_of(&workflow, "../out/1.txt", &dir.join("part")),
            Ok(vec!["gen[n=1]".to_owned()])
        );
        // Known only during the run.
        let error = tasks_of(&workflow, "success.txt", &dir).expect_err("reads results");
        assert_eq!(error.to_string(), "no task produces `success.txt`");
        // A task by name wins over a path.
        assert_eq!(
            tasks_of(&workflow, "later", &dir),
            Ok(vec!["later".to_owned()])
        );
    }

    #[test]
    fn paths_are_shown_relative_to_the_directory() {
        let base = Path::new("/w/sub");
        assert_eq!(relative(Path::new("/w/sub/out/a.o"), base), "out/a.o");
        assert_eq!(relative(Path::new("/w/out/a.o"), base), "../out/a.o");
        assert_eq!(relative(Path::new("/w/sub"), base), ".");
    }

    #[test]
    fn task_names_and_selectors_are_told_from_paths() {
        let names: FxHashSet<&str> = ["build", "test"].into_iter().collect();
        assert!(names_task(&names, "build"));
        assert!(names_task(&names, "test[os=linux]"));
        assert!(!names_task(&names, "out[1].txt"));
        assert!(!names_task(&names, "./build"));
        assert!(looks_like_task_name("biuld"));
        assert!(!looks_like_task_name("out/a.o"));
        assert!(!looks_like_task_name("app.o"));
        assert!(!looks_like_task_name("Build"));
    }
}
