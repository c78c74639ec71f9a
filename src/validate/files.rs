//! The files tasks read and write, across tasks: a task that reads what another writes must
//! not run at the same time as it (it depends on the writer, or the writer on it), and two
//! tasks that may run at once must not write the same file. Only
//! literal paths are compared (no globs, no templates, no templated `cwd`): what they match
//! is known when the tasks run.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStringExt;
use std::path::{Component, Path, PathBuf};

use serde_saphyr::Spanned;

use super::validator::{Entry, Validator, ancestors};
use crate::diagnostic::{Diagnostic, DiagnosticKind, Span};
use crate::model::Task;
use crate::record::files::is_glob;

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
        let mut outputs: BTreeMap<Vec<u8>, Declared<'_>> = BTreeMap::new();
        let mut inputs: Vec<(Vec<u8>, Declared<'_>)> = Vec::new();
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
                if entry.combinations.is_some() {
                    self.written_by_every_combination(entry, &declared);
                }
                match outputs.get(&path) {
                    Some(first) if first.entry != index => {
                        let (a, b) = (first.entry, index);
                        if !ancestors(b, edges).contains(&a) && !ancestors(a, edges).contains(&b) {
                            self.written_twice(entries, first, &declared);
                        }
                    }
                    Some(_) => {}
                    None => {
                        outputs.insert(path, declared);
                    }
                }
            }
        }
        for (path, input) in &inputs {
            // Ordered either way, there is no race: a writer that depends on the reader
            // changes the file after it was read, on purpose.
            let unordered = writers_of(&outputs, path, input.entry).find(|(_, writer)| {
                !ancestors(input.entry, edges).contains(&writer.entry)
                    && !ancestors(writer.entry, edges).contains(&input.entry)
            });
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
        let mut diagnostic = Diagnostic::error(
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
        if maker.file == reader.file {
            diagnostic = diagnostic.also(self.span(writer.pattern), "written here");
        }
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
        let mut diagnostic = Diagnostic::error(
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
        if a.file == b.file {
            diagnostic = diagnostic.also(self.span(first.pattern), "written here");
        }
        self.push(diagnostic);
    }

    fn written_by_every_combination(&mut self, entry: &Entry<'_>, output: &Declared<'_>) {
        self.current = entry.file;
        self.push(
            Diagnostic::error(
                DiagnosticKind::OutputWrittenTwice,
                format!(
                    "every task of matrix `{}` writes `{}`, and they may run at the same time",
                    entry.name.value, output.pattern.value
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

/// The entries of an `inputs` or `outputs` list without globs or templates.
fn literal(list: Option<&Spanned<Vec<Spanned<String>>>>) -> impl Iterator<Item = &Spanned<String>> {
    list.map(|list| list.value.as_slice())
        .unwrap_or(&[])
        .iter()
        .filter(|pattern| !pattern.value.contains("${{") && !is_glob(&pattern.value))
}

/// The outputs of other entries than `reader` that `path` is, lies in, or contains, with
/// their paths (all normalized).
fn writers_of<'o, 'r>(
    outputs: &'o BTreeMap<Vec<u8>, Declared<'r>>,
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
        .filter(move |(_, declared)| declared.entry != reader)
        .map(|(output, declared)| (output.as_slice(), declared))
}

/// `path` with `.` and `..` resolved by its components alone (no file system access), as
/// bytes.
fn normalize(path: &Path) -> Vec<u8> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out.into_os_string().into_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalized_by_their_components() {
        assert_eq!(
            normalize(Path::new("/w/./out//a/../b.txt")),
            b"/w/out/b.txt"
        );
        assert_eq!(normalize(Path::new("/w/out/")), b"/w/out");
    }
}
