//! Matrix expansion: a task with `matrix:` becomes one task per combination of values. A key
//! written as a template (`${{ glob("src/*.c") }}`) is evaluated here, once, when the
//! workflow is loaded: `glob` lists files below the task's `cwd`; it reads no file's content.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rhai::Dynamic;
use serde_saphyr::Spanned;

use super::settings::value_of;
use super::templates::TaskReference;
use super::validator::Validator;
use crate::diagnostic::{Diagnostic, DiagnosticKind};
use crate::files::glob_files;
use crate::model::{Axis, Expansion, Value};
use crate::parse::{RawAxis, RawMatrix, RawValue};
use crate::template::names::Place;
use crate::template::{self, Context, Evaluator, Expr, Part, Root};

/// The most expansions one matrix may make.
pub const MAX_EXPANSIONS: usize = 4096;

/// One combination: each matrix key with its value, in the matrix's key order.
pub type Combination = Vec<(String, Value)>;

/// A valid matrix: its combinations, or, when an axis reads a dependency's results, the
/// axes the task expands by during the run (with those reads, to check that the task
/// depends on what it reads).
pub(super) enum Matrix {
    /// Known when the workflow is loaded.
    Static(Vec<Combination>),
    /// Known once the tasks whose results it reads are done.
    Dynamic(Arc<Expansion>, Vec<TaskReference>),
}

/// An axis's values, or the expression that yields them during the run.
enum AxisOf {
    Known(Vec<Value>),
    Later(Expr, Vec<TaskReference>),
}

impl Validator<'_> {
    /// The combinations of a task's matrix, in order (the last key varies fastest), or
    /// `None` when the task has no matrix or the matrix is invalid (then reported).
    pub(super) fn matrix(
        &mut self,
        task: &str,
        matrix: &Spanned<RawMatrix>,
        cwd: &Path,
    ) -> Option<Matrix> {
        if matrix.value.is_empty() {
            self.push(
                Diagnostic::error(
                    DiagnosticKind::InvalidMatrix,
                    format!("the matrix of task `{task}` is empty"),
                )
                .at(self.span(matrix), Some("no keys".into()))
                .hint("give each key a list of values, like `matrix: { os: [linux, mac] }`, or remove `matrix`"),
            );
            return None;
        }
        let mut valid = true;
        let mut axes: Vec<(String, Vec<Value>)> = Vec::with_capacity(matrix.value.len());
        let mut dynamic: Vec<(String, Axis)> = Vec::new();
        let mut reads: Vec<TaskReference> = Vec::new();
        for (key, values) in &matrix.value {
            if !is_identifier(&key.value) {
                valid = false;
                self.push(
                    Diagnostic::error(
                        DiagnosticKind::InvalidMatrix,
                        format!("invalid matrix key `{}` in task `{task}`", key.value),
                    )
                    .at(self.span(key), Some("not a name".into()))
                    .hint("use letters, digits and `_`, not starting with a digit, like `python_version`"),
                );
            }
            let axis = match &values.value {
                RawAxis::Values(list) => match self.axis_list(&key.value, task, values, list) {
                    Some(axis) => axis,
                    None => {
                        valid = false;
                        continue;
                    }
                },
                RawAxis::Template(text) => {
                    let text = Spanned::new(text.clone(), values.referenced, values.defined);
                    match self.axis_template(task, &key.value, &text, cwd) {
                        Some(AxisOf::Known(axis)) => axis,
                        Some(AxisOf::Later(expr, references)) => {
                            reads.extend(references);
                            dynamic.push((key.value.clone(), Axis::Expr(expr)));
                            continue;
                        }
                        None => {
                            valid = false;
                            continue;
                        }
                    }
                }
            };
            if let Some(repeated) = first_repeat(&axis) {
                valid = false;
                self.push(
                    Diagnostic::error(
                        DiagnosticKind::InvalidMatrix,
                        format!(
                            "matrix key `{}` of task `{task}` {} `{repeated}` twice",
                            key.value,
                            if matches!(values.value, RawAxis::Values(_)) {
                                "lists"
                            } else {
                                "yields"
                            }
                        ),
                    )
                    .at(self.span(values), None)
                    .hint("each value makes one task: remove the repeated one"),
                );
            }
            dynamic.push((key.value.clone(), Axis::Values(axis.clone())));
            axes.push((key.value.clone(), axis));
        }
        let count = axes
            .iter()
            .map(|(_, values)| values.len())
            .try_fold(1usize, usize::checked_mul);
        if count.is_none_or(|count| count > MAX_EXPANSIONS) {
            self.push(
                Diagnostic::error(
                    DiagnosticKind::InvalidMatrix,
                    format!("the matrix of task `{task}` makes more than {MAX_EXPANSIONS} tasks"),
                )
                .at(self.span(matrix), None)
                .hint("split the task, or generate the workflow when it needs this many"),
            );
            return None;
        }
        if !valid {
            return None;
        }
        if reads.is_empty() {
            return Some(Matrix::Static(combinations(&axes)));
        }
        let mut after: Vec<String> = reads.iter().map(|read| read.name.clone()).collect();
        after.dedup();
        let expansion = Expansion {
            axes: dynamic,
            after,
        };
        Some(Matrix::Dynamic(Arc::new(expansion), reads))
    }
}

impl Validator<'_> {
    /// The values of a matrix axis written as a list, or `None` when one is invalid or there
    /// are none (reported).
    fn axis_list(
        &mut self,
        key: &str,
        task: &str,
        values: &Spanned<RawAxis>,
        list: &[Spanned<RawValue>],
    ) -> Option<Vec<Value>> {
        let mut valid = true;
        if list.is_empty() {
            valid = false;
            self.push(
                Diagnostic::error(
                    DiagnosticKind::InvalidMatrix,
                    format!("matrix key `{key}` of task `{task}` has no values"),
                )
                .at(self.span(values), Some("empty list".into()))
                .hint("list at least one value, or remove the key"),
            );
        }
        let mut axis = Vec::with_capacity(list.len());
        for value in list {
            match value_of(self.source(), value) {
                Some(Value::List(_)) | None => {
                    valid = false;
                    self.push(
                        Diagnostic::error(
                            DiagnosticKind::InvalidMatrix,
                            format!(
                                "matrix values of `{key}` must be strings, numbers or booleans"
                            ),
                        )
                        .at(self.span(value), Some("a list".into()))
                        .hint("write each combination's value as one item of the list"),
                    );
                }
                Some(value) => axis.push(value),
            }
        }
        valid.then_some(axis)
    }

    /// The values of a matrix axis written as a template (`src: ${{ glob("src/*.c") }}`),
    /// or `None` when it is invalid (reported).
    fn axis_template(
        &mut self,
        task: &str,
        key: &str,
        text: &Spanned<String>,
        cwd: &Path,
    ) -> Option<AxisOf> {
        let parsed = match template::parse(&text.value, template::Flavor::Plain) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => {
                self.push(
                    Diagnostic::error(
                        DiagnosticKind::InvalidMatrix,
                        format!("matrix key `{key}` of task `{task}` must be a list or a template"),
                    )
                    .at(self.span(text), Some("neither a list nor a `${{ }}`".into()))
                    .hint(format!(
                        "list the values, like `{key}: [{}]`, or make them with a template, like `{key}: ${{{{ glob(\"src/*.c\") }}}}`",
                        text.value
                    )),
                );
                return None;
            }
            Err(errors) => {
                self.template_errors(text, &errors);
                return None;
            }
        };
        let [Part::Expr(expr)] = parsed.parts.as_slice() else {
            self.push(
                Diagnostic::error(
                    DiagnosticKind::InvalidMatrix,
                    format!("the template of matrix key `{key}` of task `{task}` must be one `${{{{ }}}}` and nothing else"),
                )
                .at(self.span(text), Some("text around the `${{ }}`".into()))
                .hint("an axis template yields the whole list: move the text into the expression"),
            );
            return None;
        };
        self.check_calls(text, &expr.source, expr.span.start, Place::MatrixAxis);
        let references = template::references(expr);
        if references.iter().any(|r| r.root == Root::Tasks) {
            // Read once the tasks it reads are done: the task expands during the run.
            let reads = references
                .iter()
                .filter(|r| r.root == Root::Tasks)
                .map(|reference| TaskReference {
                    file: self.current(),
                    name: reference.name.clone(),
                    span: self.text_span(text, &reference.span),
                })
                .collect();
            if let Some(reference) = references.iter().find(|r| r.root != Root::Tasks) {
                self.push(
                    Diagnostic::error(
                        DiagnosticKind::InvalidMatrix,
                        format!(
                            "the template of matrix key `{key}` of task `{task}` cannot read `{}.{}`",
                            reference.root.name(),
                            reference.name
                        ),
                    )
                    .at(self.text_span(text, &reference.span), Some("not known when the matrix expands".into()))
                    .hint("an axis that reads results may read `tasks.<name>.results` only, like `${{ from_json(tasks.split.results.shards) }}`"),
                );
                return None;
            }
            return Some(AxisOf::Later(expr.clone(), reads));
        }
        if let Some(reference) = references.first() {
            // `--var` is applied after loading, and `env` and `matrix` belong to each task.
            self.push(
                Diagnostic::error(
                    DiagnosticKind::InvalidMatrix,
                    format!(
                        "the template of matrix key `{key}` of task `{task}` cannot read `{}.{}`",
                        reference.root.name(),
                        reference.name
                    ),
                )
                .at(self.text_span(text, &reference.span), Some("not known when the workflow is loaded".into()))
                .hint("an axis template is evaluated once when the workflow is loaded: use functions like `glob(\"src/*.c\")` or `from_json(\"[1, 2]\")`"),
            );
            return None;
        }
        let empty_globs = Arc::new(Mutex::new(Vec::new()));
        let evaluator = {
            let cwd = cwd.to_path_buf();
            let empty_globs = Arc::clone(&empty_globs);
            Evaluator::for_matrix_axes(move |pattern| {
                let files = glob_files(&cwd, pattern).map_err(|error| error.to_string())?;
                if files.is_empty()
                    && let Ok(mut empty) = empty_globs.lock()
                {
                    empty.push(pattern.to_owned());
                }
                Ok(files)
            })
        };
        let value = match evaluator.eval(expr, &Context::default()) {
            Ok(value) => value,
            Err(error) => {
                self.push(
                    Diagnostic::error(
                        DiagnosticKind::InvalidMatrix,
                        format!("the values of matrix key `{key}` of task `{task}`: {error}"),
                    )
                    .at(self.span(text), None)
                    .hint("an axis template yields a list of strings, numbers or booleans"),
                );
                return None;
            }
        };
        let Some(values) = axis_values(&value) else {
            self.push(
                Diagnostic::error(
                    DiagnosticKind::InvalidMatrix,
                    format!(
                        "the template of matrix key `{key}` of task `{task}` must yield a list of strings, numbers or booleans, not {}",
                        describe_dynamic(&value)
                    ),
                )
                .at(self.span(text), None)
                .hint("`glob(\"src/*.c\")` yields the matching files, `from_json(text)` a JSON array"),
            );
            return None;
        };
        if values.is_empty() {
            let empty = empty_globs.lock().map(|e| e.clone()).unwrap_or_default();
            let message = match empty.as_slice() {
                [] => format!(
                    "matrix key `{key}` of task `{task}` has no values: the task has no items"
                ),
                [pattern, ..] => {
                    format!("`glob(\"{pattern}\")` matches no file: task `{task}` has no items")
                }
            };
            // The directory as the workflow names it, not as this machine does.
            let dir = self.dir();
            let shown = match cwd.strip_prefix(&dir) {
                Ok(rest) if rest.as_os_str().is_empty() => "the workflow's directory".to_owned(),
                Ok(rest) => format!("`{}`", rest.display()),
                Err(_) => format!("`{}`", cwd.display()),
            };
            self.push(
                Diagnostic::warning(DiagnosticKind::InvalidMatrix, message)
                    .at(self.span(text), Some("no values".into()))
                    .hint(format!(
                        "glob paths are relative to the task's `cwd` ({shown}); the task runs nothing, and tasks that depend on it do not wait for it"
                    )),
            );
        }
        Some(AxisOf::Known(values))
    }
}

/// The values of an axis template's list, or `None` when it is no list of strings, numbers
/// and booleans.
fn axis_values(value: &Dynamic) -> Option<Vec<Value>> {
    let array = value.read_lock::<rhai::Array>()?;
    array
        .iter()
        .map(|item| {
            if let Some(text) = item.read_lock::<rhai::ImmutableString>() {
                Some(Value::String(text.to_string()))
            } else if let Ok(int) = item.as_int() {
                Some(Value::Integer(int))
            } else if let Ok(float) = item.as_float() {
                Some(Value::Float(float))
            } else if let Ok(flag) = item.as_bool() {
                Some(Value::Bool(flag))
            } else {
                None
            }
        })
        .collect()
}

/// How a message names the type of a value that is not a list of scalars.
fn describe_dynamic(value: &Dynamic) -> String {
    if value.is_array() {
        "a list holding other values (lists, maps or nothing)".to_owned()
    } else if value.is_unit() {
        "nothing".to_owned()
    } else if value.is_map() {
        "a map".to_owned()
    } else if value.is_string() {
        format!("the text `{value}`")
    } else {
        format!("`{value}` ({})", value.type_name())
    }
}

/// Every combination of one value per axis, the last axis varying fastest.
#[must_use]
pub fn combinations(axes: &[(String, Vec<Value>)]) -> Vec<Combination> {
    let mut out: Vec<Combination> = vec![Vec::new()];
    for (key, values) in axes {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                values.iter().map(move |value| {
                    let mut combination = prefix.clone();
                    combination.push((key.clone(), value.clone()));
                    combination
                })
            })
            .collect();
    }
    out
}

/// The name of one expansion: `test[os=linux,py=3.12]`.
#[must_use]
pub fn expansion_name(task: &str, combination: &Combination) -> String {
    let mut name = String::with_capacity(task.len() + 16 * combination.len());
    name.push_str(task);
    name.push('[');
    for (index, (key, value)) in combination.iter().enumerate() {
        if index > 0 {
            name.push(',');
        }
        name.push_str(key);
        name.push('=');
        name.push_str(&value.to_string());
    }
    name.push(']');
    name
}

/// A value listed twice (as its text), if any.
fn first_repeat(values: &[Value]) -> Option<String> {
    // A set, not a search of those before each: 2,000 values are 2,000 lookups, not 2 million
    // comparisons.
    let mut seen = rustc_hash::FxHashSet::default();
    values
        .iter()
        .map(Value::to_string)
        .find(|text| !seen.insert(text.clone()))
}

/// Whether `name` can be a key of a template's map: letters, digits and `_`, not starting
/// with a digit.
#[must_use]
pub fn is_identifier(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combinations_vary_the_last_key_fastest() {
        let axes = vec![
            (
                "os".to_owned(),
                vec![Value::String("linux".into()), Value::String("mac".into())],
            ),
            (
                "py".to_owned(),
                vec![Value::String("3.11".into()), Value::String("3.12".into())],
            ),
        ];
        let names: Vec<String> = combinations(&axes)
            .iter()
            .map(|combination| expansion_name("test", combination))
            .collect();
        assert_eq!(
            names,
            [
                "test[os=linux,py=3.11]",
                "test[os=linux,py=3.12]",
                "test[os=mac,py=3.11]",
                "test[os=mac,py=3.12]"
            ]
        );
    }
}
