//! The files tasks read and write, across tasks: a task that reads what another writes must
//! not run at the same time as it (it depends on the writer, or the writer on it), and two
//! tasks that may run at once must not write the same file. Only
//! literal paths are compared (no globs, no templates, no templated `cwd`): what they match
//! is known when the tasks run.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use serde_saphyr::Spanned;

use super::validator::{Entry, Validator};
use crate::diagnostic::{Diagnostic, DiagnosticKind, Span};
use crate::files::is_glob;
use crate::model::Task;

/// One literal `inputs` or `outputs` entry of a task.
struct Declared<'r> {
    /// The entry (task as written) it belongs to.
    entry: usize,
    /// As written.
    pattern: &'r Spanned<String>,
}

impl Validator<'_> {
    /// Reports each literal input that is, lies in or contains another task's literal output
    /// while neither task depends on the other, directly or not; and each output that tasks
    /// which may run at once both write (including the tasks of one matrix).
    pub(super) fn check_file_dependencies(
        &mut self,
        entries: &[Entry<'_>],
        tasks: &[Task],
        edges: &[Vec<(usize, Span)>],
    ) {
        // Normalized paths as bytes: compared with memcmp, not component by component.
        let mut outputs: BTreeMap<Vec<u8>, Vec<Declared<'_>>> = BTreeMap::new();
        let mut inputs: Vec<(Vec<u8>, Declared<'_>)> = Vec::new();
        let mut order = Order::new(edges);
        for (index, entry) in entries.iter().enumerate() {
            let Some(task) = tasks.get(entry.first as usize) else {
                continue;
            };
            if task.templates.as_ref().is_some_and(|t| t.cwd.is_some()) {
                continue;
            }
            for pattern in literal(entry.raw.inputs.as_deref()) {
                let path = normalize(&task.cwd.join(&pattern.value));
                inputs.push((
                    path,
                    Declared {
                        entry: index,
                        pattern,
                    },
                ));
            }
            for pattern in literal(entry.raw.outputs.as_deref()) {
                let path = normalize(&task.cwd.join(&pattern.value));
                let declared = Declared {
                    entry: index,
                    pattern,
                };
                if entry.combinations.as_ref().is_some_and(|all| all.len() > 1) {
                    self.written_by_every_combination(entry, &declared);
                }
                let writers = outputs.entry(path).or_default();
                if writers.iter().any(|writer| writer.entry == index) {
                    continue;
                }
                if let Some(first) = writers
                    .iter()
                    .find(|writer| !order.ordered(writer.entry, index))
                {
                    self.written_twice(entries, first, &declared);
                }
                writers.push(declared);
            }
        }
        for (path, input) in &inputs {
            // Ordered either way, there is no race: a writer that depends on the reader
            // changes the file after it was read, on purpose.
            let unordered = writers_of(&outputs, path, input.entry)
                .find(|(_, writer)| !order.ordered(input.entry, writer.entry));
            if let Some((output, writer)) = unordered {
                let what = if output == path.as_slice() {
                    "which".to_owned()
                } else if path.starts_with(output) {
                    format!("inside `{}`, which", writer.pattern.value)
                } else {
                    format!("a directory holding `{}`, which", writer.pattern.value)
                };
                self.read_without_dependency(entries, input, &what, writer);
            }
        }
    }

    fn read_without_dependency(
        &mut self,
        entries: &[Entry<'_>],
        input: &Declared<'_>,
        what: &str,
        writer: &Declared<'_>,
    ) {
        let reader = &entries[input.entry];
        let maker = &entries[writer.entry];
        self.current = reader.file;
        let diagnostic = Diagnostic::error(
            DiagnosticKind::FileWithoutDependency,
            format!(
                "task `{}` reads `{}`, {what} task `{}` writes, but does not depend on it",
                reader.name.value, input.pattern.value, maker.name.value
            ),
        )
        .at(
            self.span(input.pattern),
            Some(format!("written by `{}`", maker.name.value)),
        )
        .hint(format!(
            "add `{}` to `depends_on` of `{}`, so that it runs once the file is written",
            maker.name.value, reader.name.value
        ));
        self.push_pointing_at(diagnostic, maker.file, writer.pattern);
    }

    /// Pushes `diagnostic` of the current file, showing where `pattern` is written too when
    /// that is in the same file (labels elsewhere would point into the wrong text).
    fn push_pointing_at(&mut self, diagnostic: Diagnostic, file: usize, pattern: &Spanned<String>) {
        let diagnostic = if file == self.current {
            diagnostic.also(self.span(pattern), "written here")
        } else {
            diagnostic
        };
        self.push(diagnostic);
    }

    fn written_twice(
        &mut self,
        entries: &[Entry<'_>],
        first: &Declared<'_>,
        second: &Declared<'_>,
    ) {
        let (a, b) = (&entries[first.entry], &entries[second.entry]);
        self.current = b.file;
        let diagnostic = Diagnostic::error(
            DiagnosticKind::OutputWrittenTwice,
            format!(
                "tasks `{}` and `{}` both write `{}`, and may run at the same time",
                a.name.value, b.name.value, second.pattern.value
            ),
        )
        .at(
            self.span(second.pattern),
            Some(format!("also written by `{}`", a.name.value)),
        )
        .hint(format!(
            "give each task its own outputs, or make one depend on the other (`depends_on: [{}]`)",
            a.name.value
        ));
        self.push_pointing_at(diagnostic, a.file, first.pattern);
    }

    fn written_by_every_combination(&mut self, entry: &Entry<'_>, output: &Declared<'_>) {
        self.current = entry.file;
        self.push(
            Diagnostic::error(
                DiagnosticKind::OutputWrittenTwice,
                format!(
                    "every task of matrix `{}` writes `{}`, and they may run at the same time",
                    entry.task_name(),
                    output.pattern.value
                ),
            )
            .at(
                self.span(output.pattern),
                Some("the same path for each".into()),
            )
            .hint("put a matrix value in the path, like `out/${{ matrix.os }}.txt`"),
        );
    }
}

impl Validator<'_> {
    /// Reports each output that is no place for a task to write (an existing device, FIFO
    /// or socket; the workflow's directory or one holding it; the default state dir or a path
    /// in it, including globs that may match those), and warns about each output outside the
    /// workflow's directory, where engine never sets aside what a failed attempt left.
    /// Templated outputs and outputs of a task with a templated `cwd` are known only when
    /// the task runs: what they match is guarded then.
    pub(super) fn check_output_places(&mut self, entries: &[Entry<'_>], tasks: &[Task]) {
        let file = self.sources_main_path();
        let Some(root) = file.parent().map(Path::to_path_buf) else {
            return;
        };
        let (root, _) = resolve_existing(&root);
        let state_dir = root.join(crate::state_dir::DEFAULT_NAME);
        // Outputs of many tasks share their directories: each is resolved once.
        let mut dirs: rustc_hash::FxHashMap<PathBuf, (PathBuf, bool)> =
            rustc_hash::FxHashMap::default();
        for entry in entries {
            let Some(task) = tasks.get(entry.first as usize) else {
                continue;
            };
            if task.templates.as_ref().is_some_and(|t| t.cwd.is_some()) {
                continue;
            }
            let outputs = entry
                .raw
                .outputs
                .as_ref()
                .map_or(&[][..], |list| &list.value[..]);
            for pattern in outputs {
                if pattern.value.contains("${{") || pattern.value.is_empty() {
                    continue;
                }
                self.current = entry.file;
                let written = normalize(&task.cwd.join(&pattern.value));
                let (full, may_exist) =
                    resolve_in(Path::new(OsStr::from_bytes(&written)), &mut dirs);
                let problem = unsafe_output(&full, &pattern.value, may_exist, &root, &state_dir);
                if let Some(problem) = problem {
                    let diagnostic = Diagnostic::error(
                        DiagnosticKind::UnsafeOutput,
                        format!("output `{}` {problem}", pattern.value),
                    )
                    .at(self.span(pattern), Some("not a place to write".into()))
                    .hint(
                        "`outputs` name the files and directories a task writes, inside the \
                         workflow's directory (like `out/` or `build/*.o`)",
                    );
                    self.push(diagnostic);
                    continue;
                }
                let inside = if is_glob(&pattern.value) {
                    literal_prefix(&full).starts_with(&root)
                } else {
                    full.starts_with(&root)
                };
                if !inside {
                    let diagnostic = Diagnostic::warning(
                        DiagnosticKind::OutputOutsideWorkflow,
                        format!(
                            "output `{}` is outside the workflow's directory `{}`",
                            pattern.value,
                            root.display()
                        ),
                    )
                    .at(self.span(pattern), Some("outside".into()))
                    .hint(
                        "engine never moves or deletes anything outside the workflow's \
                         directory: if the task fails, what it wrote there stays as it is",
                    );
                    self.push(diagnostic);
                }
            }
        }
    }
}

/// What makes an output (absolute, existing part resolved) no place to write, if anything.
/// `may_exist` is false when its directory does not exist: then it is not looked at.
fn unsafe_output(
    full: &Path,
    written: &str,
    may_exist: bool,
    root: &Path,
    state_dir: &Path,
) -> Option<String> {
    use std::os::unix::fs::FileTypeExt;

    if !is_glob(written) {
        let place = |full: &Path| {
            if root.starts_with(full) {
                Some("is the workflow's directory or holds it".to_owned())
            } else if full.starts_with(state_dir) {
                Some("is engine's state dir or in it".to_owned())
            } else {
                None
            }
        };
        if let Some(problem) = place(full) {
            return Some(problem);
        }
        if !may_exist {
            return None;
        }
        // One `lstat` for most outputs (they do not exist yet, or are plain files); a
        // symlink as the last component stands for its target.
        let mut kind = std::fs::symlink_metadata(full).ok()?.file_type();
        if kind.is_symlink() {
            let target = std::fs::canonicalize(full).ok()?;
            if let Some(problem) = place(&target) {
                return Some(problem);
            }
            kind = std::fs::metadata(&target).ok()?.file_type();
        }
        if kind.is_file() || kind.is_dir() {
            return None;
        }
        let what = if kind.is_char_device() {
            "a character device"
        } else if kind.is_block_device() {
            "a block device"
        } else if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "a special file"
        };
        return Some(format!("is {what}, not a regular file or directory"));
    }
    let pattern = glob::Pattern::new(&full.to_string_lossy()).ok()?;
    let options = crate::files::GLOB_OPTIONS;
    if root
        .ancestors()
        .any(|dir| pattern.matches_path_with(dir, options))
    {
        return Some("may match the workflow's directory or one holding it".to_owned());
    }
    if pattern.matches_path_with(state_dir, options) {
        return Some("may match engine's state dir".to_owned());
    }
    None
}

/// The directories of a glob before its first glob component (the path itself when it has
/// none).
fn literal_prefix(full: &Path) -> PathBuf {
    full.components()
        .take_while(|c| !is_glob(&c.as_os_str().to_string_lossy()))
        .collect()
}

/// `resolve_existing` of the path's directory, remembered in `dirs`, with its last
/// component; and whether that directory exists.
fn resolve_in(
    path: &Path,
    dirs: &mut rustc_hash::FxHashMap<PathBuf, (PathBuf, bool)>,
) -> (PathBuf, bool) {
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => {
            let (dir, exists) = dirs
                .entry(parent.to_path_buf())
                .or_insert_with(|| resolve_existing(parent));
            (dir.join(name), *exists)
        }
        _ => resolve_existing(path),
    }
}

/// The path with its longest existing leading part resolved (symlinks, `..`); the rest as
/// it is. Glob components never exist, so a glob keeps them. Also whether all of it exists.
fn resolve_existing(path: &Path) -> (PathBuf, bool) {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    loop {
        if let Ok(resolved) = std::fs::canonicalize(&existing) {
            let all = rest.is_empty();
            let full = rest
                .iter()
                .rev()
                .fold(resolved, |path, part| path.join(part));
            return (full, all);
        }
        match (
            existing.file_name().map(ToOwned::to_owned),
            existing.parent(),
        ) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent.to_path_buf();
            }
            _ => return (path.to_path_buf(), false),
        }
    }
}

/// Answers whether one entry depends on another, directly or not, in about constant time
/// for the usual shapes: a file passed along a dependency (a direct edge), read a few steps
/// further down (a short walk up from the reader), or read by many tasks far below its writer
/// (the writer's dependents, collected once).
pub(super) struct Order<'e> {
    edges: &'e [Vec<(usize, Span)>],
    /// Per entry, the entries that depend on it directly.
    dependents: Vec<Vec<usize>>,
    /// Per entry asked about, every entry that depends on it, directly or not.
    below: rustc_hash::FxHashMap<usize, rustc_hash::FxHashSet<usize>>,
}

/// How many entries the walk up from a reader visits before it asks the writer instead.
const SHORT_WALK: usize = 64;

impl<'e> Order<'e> {
    pub(super) fn new(edges: &'e [Vec<(usize, Span)>]) -> Self {
        let mut dependents = vec![Vec::new(); edges.len()];
        for (entry, deps) in edges.iter().enumerate() {
            for &(dep, _) in deps {
                dependents[dep].push(entry);
            }
        }
        Self {
            edges,
            dependents,
            below: rustc_hash::FxHashMap::default(),
        }
    }

    /// Whether `a` depends on `b` or `b` on `a`.
    fn ordered(&mut self, a: usize, b: usize) -> bool {
        self.depends(a, b) || self.depends(b, a)
    }

    /// Whether `from` depends on `target`, directly or not.
    pub(super) fn depends(&mut self, from: usize, target: usize) -> bool {
        let mut seen = rustc_hash::FxHashSet::default();
        let mut stack = vec![from];
        while let Some(next) = stack.pop() {
            for &(dep, _) in &self.edges[next] {
                if dep == target {
                    return true;
                }
                if seen.insert(dep) {
                    stack.push(dep);
                }
            }
            if seen.len() > SHORT_WALK {
                return self.below(target).contains(&from);
            }
        }
        false
    }

    /// Every entry that depends on `entry`, directly or not (collected once).
    fn below(&mut self, entry: usize) -> &rustc_hash::FxHashSet<usize> {
        let dependents = &self.dependents;
        self.below.entry(entry).or_insert_with(|| {
            let mut seen = rustc_hash::FxHashSet::default();
            let mut stack = vec![entry];
            while let Some(next) = stack.pop() {
                for &dependent in &dependents[next] {
                    if seen.insert(dependent) {
                        stack.push(dependent);
                    }
                }
            }
            seen
        })
    }
}

/// The entries of an `inputs` or `outputs` list without globs or templates.
fn literal(list: Option<&Spanned<Vec<Spanned<String>>>>) -> impl Iterator<Item = &Spanned<String>> {
    list.map_or(&[][..], |list| list.value.as_slice())
        .iter()
        .filter(|pattern| !pattern.value.contains("${{") && !is_glob(&pattern.value))
}

/// The outputs of other entries than `reader` that `path` is, lies in, or contains, with
/// their paths (all normalized).
fn writers_of<'o, 'r>(
    outputs: &'o BTreeMap<Vec<u8>, Vec<Declared<'r>>>,
    path: &'o [u8],
    reader: usize,
) -> impl Iterator<Item = (&'o [u8], &'o Declared<'r>)> {
    // The path itself, or a directory output it lies in.
    let dirs = path
        .iter()
        .enumerate()
        .filter(|&(at, &byte)| byte == b'/' && at > 0)
        .map(|(at, _)| &path[..at]);
    let around = std::iter::once(path)
        .chain(dirs)
        .filter_map(|dir| outputs.get_key_value(dir));
    // Outputs inside the path, when the input is a directory: from `path/` up to `path0`.
    let mut from = path.to_vec();
    from.push(b'/');
    let mut to = path.to_vec();
    to.push(b'/' + 1);
    let inside = outputs.range(from..to);
    around
        .chain(inside)
        .flat_map(|(output, writers)| {
            writers
                .iter()
                .map(move |writer| (output.as_slice(), writer))
        })
        .filter(move |(_, declared)| declared.entry != reader)
}

/// `path` with `.` and `..` resolved by its components alone (no file system access), as
/// bytes.
fn normalize(path: &Path) -> Vec<u8> {
    crate::files::lexical(path).into_os_string().into_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_found_near_and_far() {
        // Two chains of 500 entries: 0..500 and 500..1000; each link depends on the one
        // before it.
        let span = Span::new(0, 0);
        let edges: Vec<Vec<(usize, Span)>> = (0..1000)
            .map(|entry| {
                if entry % 500 == 0 {
                    Vec::new()
                } else {
                    vec![(entry - 1, span)]
                }
            })
            .collect();
        let mut order = Order::new(&edges);
        assert!(order.depends(1, 0));
        assert!(order.depends(60, 3), "a short walk");
        assert!(
            order.depends(499, 0),
            "past the short walk: the writer's dependents"
        );
        assert!(order.depends(450, 7));
        assert!(!order.depends(0, 499));
        assert!(order.ordered(10, 400));
        assert!(order.ordered(400, 10));
        assert!(!order.ordered(499, 999), "two chains");
        assert!(!order.ordered(0, 500));
    }

    #[test]
    fn paths_are_normalized_by_their_components() {
        assert_eq!(
            normalize(Path::new("/w/./out//a/../b.txt")),
            b"/w/out/b.txt"
        );
        assert_eq!(normalize(Path::new("/w/out/")), b"/w/out");
    }
}
