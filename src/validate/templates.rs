//! Templates (`${{ }}`) and conditions (`if`) of tasks: parsed once per task, their errors
//! and the names they use located in the file.

use std::ops::Range;
use std::sync::Arc;

use serde_saphyr::Spanned;

use super::script::{first_line, script_span};
use super::validator::Validator;
use crate::diagnostic::{Diagnostic, DiagnosticKind, Span, suggest};
use crate::model::{Condition, TaskFiles, Templates, Value};
use crate::parse::RawTask;
use crate::parse::location_span;
use crate::template::names::{self, Place};
use crate::template::{self, Expr, Flavor, Part, Reference, Root, Template, TemplateError};

/// A reference to another task's results or status, checked once the graph is known.
#[derive(Clone)]
pub(super) struct TaskReference {
    /// The file it is in.
    pub file: usize,
    /// The task named.
    pub name: String,
    /// Where.
    pub span: Span,
}

/// What the templates of one task need checked.
pub(super) struct Uses<'v> {
    /// The workflow's variables.
    pub vars: &'v [(String, Value)],
    /// The task's matrix keys (`None`: not a matrix task).
    pub matrix: Option<Vec<String>>,
    /// Whether task references are allowed here (not in workflow-wide `env`).
    pub tasks_allowed: bool,
    /// Task references found, for the later check.
    pub tasks: Vec<TaskReference>,
    /// The task's parameters (`None`: it declares none, or this is not inside a task).
    pub params: Option<Vec<String>>,
}

impl Validator<'_> {
    /// Parses one templated value: `None` when it has no `${{`, or when it is invalid
    /// (reported).
    pub(super) fn template(
        &mut self,
        value: &Spanned<String>,
        flavor: Flavor,
        uses: &mut Uses<'_>,
    ) -> Option<Template> {
        if !value.value.contains("${{") {
            return None;
        }
        match template::parse(&value.value, flavor) {
            Ok(Some(parsed)) => {
                for part in &parsed.parts {
                    if let Part::Expr(expr) = part {
                        self.check_references(value, expr, uses);
                        self.check_calls(value, &expr.source, expr.span.start, Place::Template);
                    }
                }
                Some(parsed)
            }
            Ok(None) => None,
            Err(errors) => {
                self.template_errors(value, &errors);
                None
            }
        }
    }

    /// The templated parts of a task: its command, env values and cwd.
    pub(super) fn task_templates(
        &mut self,
        command: Option<(&Spanned<String>, Flavor)>,
        env: &[(&Spanned<String>, usize)],
        cwd: Option<&Spanned<String>>,
        uses: &mut Uses<'_>,
    ) -> Option<Arc<Templates>> {
        let mut templates = Templates::default();
        if let Some((text, flavor)) = command {
            templates.command = self.template(text, flavor, uses);
        }
        for &(value, index) in env {
            if let Some(parsed) = self.template(value, Flavor::Plain, uses) {
                templates.env.push((index, parsed));
            }
        }
        if let Some(cwd) = cwd {
            templates.cwd = self.template(cwd, Flavor::Plain, uses);
        }
        let any =
            templates.command.is_some() || !templates.env.is_empty() || templates.cwd.is_some();
        any.then(|| Arc::new(templates))
    }

    /// A task's `inputs` and `outputs`: each entry checked as a path or glob, and its
    /// templates parsed. Returns the files (`None` without either list) and, when some entry
    /// has a template, the templates of each list.
    #[expect(
        clippy::type_complexity,
        reason = "a one-caller pair of (files, templates of inputs, outputs and depfile), destructured at once"
    )]
    pub(super) fn task_files(
        &mut self,
        raw: &RawTask,
        uses: &mut Uses<'_>,
    ) -> (
        Option<Arc<TaskFiles>>,
        Option<(
            Vec<(usize, Template)>,
            Vec<(usize, Template)>,
            Option<Template>,
        )>,
    ) {
        if raw.inputs.is_none() && raw.outputs.is_none() && raw.depfile.is_none() {
            return (None, None);
        }
        let mut files = TaskFiles::default();
        let mut templates = (Vec::new(), Vec::new());
        for (list, patterns, found, field) in [
            (
                raw.inputs.as_deref(),
                &mut files.inputs,
                &mut templates.0,
                "inputs",
            ),
            (
                raw.outputs.as_deref(),
                &mut files.outputs,
                &mut templates.1,
                "outputs",
            ),
        ] {
            for (index, entry) in list
                .map_or(&[][..], |l| l.value.as_slice())
                .iter()
                .enumerate()
            {
                match self.template(entry, Flavor::Plain, uses) {
                    Some(template) => found.push((index, template)),
                    None => self.check_file_pattern(entry, field),
                }
                patterns.push(entry.value.clone());
            }
        }
        let mut depfile = None;
        if let Some(entry) = raw.depfile.as_deref() {
            match self.template(entry, Flavor::Plain, uses) {
                Some(template) => depfile = Some(template),
                None => self.check_depfile(entry),
            }
            files.depfile = Some(entry.value.clone());
        }
        let any = !templates.0.is_empty() || !templates.1.is_empty() || depfile.is_some();
        (
            Some(Arc::new(files)),
            any.then_some((templates.0, templates.1, depfile)),
        )
    }

    /// A `depfile` without templates: one non-empty path, not a glob.
    fn check_depfile(&mut self, entry: &Spanned<String>) {
        let problem = if entry.value.trim().is_empty() {
            "an empty path"
        } else if entry.value.contains('\0') {
            "a NUL byte in a path"
        } else if crate::files::is_glob(&entry.value) {
            "a glob"
        } else {
            return;
        };
        self.push(
            Diagnostic::error(
                DiagnosticKind::InvalidFilePattern,
                format!("`depfile` `{}` is {problem}", entry.value),
            )
            .at(self.span(entry), Some("expected the path of one file, like `obj/main.d`".into()))
            .hint("the path is relative to the task's `cwd`; with a matrix, name each item's file with a template, like `${{ matrix.src }}.d`"),
        );
    }

    /// An `inputs` or `outputs` entry without templates: a non-empty path or a valid glob.
    fn check_file_pattern(&mut self, entry: &Spanned<String>, field: &str) {
        let problem = if entry.value.trim().is_empty() {
            Some("an empty path".to_owned())
        } else if entry.value.contains('\0') {
            Some("a NUL byte in a path".to_owned())
        } else {
            glob::Pattern::new(&entry.value)
                .err()
                .map(|error| format!("not a valid glob: {}", error.msg))
        };
        if let Some(problem) = problem {
            self.push(
                Diagnostic::error(
                    DiagnosticKind::InvalidFilePattern,
                    format!("`{field}` entry `{}` is {problem}", entry.value),
                )
                .at(self.span(entry), Some("expected a path or a glob like `src/**/*.c`".into()))
                .hint("paths are relative to the task's `cwd`; `*` matches within one directory, `**` any depth, `[abc]` one of the characters"),
            );
        }
    }

    /// A task's `if`.
    pub(super) fn condition(
        &mut self,
        text: &Spanned<String>,
        uses: &mut Uses<'_>,
    ) -> Option<Arc<Condition>> {
        match template::parse_condition(&text.value) {
            Ok(expr) => {
                self.check_references(text, &expr, uses);
                self.check_calls(text, &expr.source, expr.span.start, Place::Condition);
                Some(Arc::new(Condition {
                    text: expr.source.clone(),
                    checks_status: template::uses_status_function(&expr),
                    expr,
                }))
            }
            Err(errors) => {
                self.template_errors(text, &errors);
                None
            }
        }
    }

    /// Refuses calls in `code` (at byte `offset` of `value`'s text) of functions that do not
    /// exist at `place`, by the one table the run time also follows.
    pub(super) fn check_calls(
        &mut self,
        value: &Spanned<String>,
        code: &str,
        offset: usize,
        place: Place,
    ) {
        for call in names::bad_calls(code, place) {
            let span = self.text_span(value, &(offset + call.span.start..offset + call.span.end));
            self.push(
                Diagnostic::error(DiagnosticKind::UnknownReference, call.message)
                    .at(span, Some("not callable here".into()))
                    .hint(call.hint),
            );
        }
    }

    pub(super) fn template_errors(&mut self, value: &Spanned<String>, errors: &[TemplateError]) {
        for error in errors {
            let span = self.text_span(value, &error.span);
            self.push(
                Diagnostic::error(DiagnosticKind::TemplateSyntax, error.message.clone())
                    .at(span, None)
                    .maybe_hint(error.hint.clone()),
            );
        }
    }

    /// Checks the names an expression uses: variables and matrix keys now, tasks later.
    fn check_references(&mut self, value: &Spanned<String>, expr: &Expr, uses: &mut Uses<'_>) {
        if let Some((name, range)) = undefined_variable(expr) {
            let span = self.text_span(value, &range);
            self.push(
                Diagnostic::error(
                    DiagnosticKind::UnknownReference,
                    format!("unknown name `{name}` in a template"),
                )
                .at(span, Some("not known here".into()))
                .hint(format!(
                    "templates read `vars.{name}`, `env.{name}`, `matrix.{name}` or `tasks.<task>.results.{name}`"
                )),
            );
        }
        for reference in template::references(expr) {
            let span = self.text_span(value, &reference.span);
            match reference.root {
                Root::Vars => {
                    if !uses.vars.iter().any(|(name, _)| *name == reference.name) {
                        let names = uses.vars.iter().map(|(name, _)| name.as_str());
                        let hint = suggest(&reference.name, names).unwrap_or_else(|| {
                            format!("declare it under `vars:`, like `vars: {{ {}: value }}`", reference.name)
                        });
                        self.push(
                            Diagnostic::error(
                                DiagnosticKind::UnknownReference,
                                format!("unknown variable `vars.{}`", reference.name),
                            )
                            .at(span, Some("not in `vars`".into()))
                            .hint(hint),
                        );
                    }
                }
                Root::Matrix => self.check_matrix_reference(&reference, span, uses),
                Root::Params => self.check_params_reference(&reference, span, uses),
                Root::Tasks if uses.tasks_allowed => uses.tasks.push(TaskReference {
                    file: self.current(),
                    name: reference.name,
                    span,
                }),
                Root::Tasks => self.push(
                    Diagnostic::error(
                        DiagnosticKind::UnknownReference,
                        format!("`tasks.{}` is only known inside a task", reference.name),
                    )
                    .at(span, None)
                    .hint("read other tasks' results in a task's own `run`, `script`, `env`, `cwd` or `if`"),
                ),
                Root::Env => {}
            }
        }
    }

    fn check_matrix_reference(&mut self, reference: &Reference, span: Span, uses: &Uses<'_>) {
        let message = match &uses.matrix {
            Some(keys) if keys.contains(&reference.name) => return,
            Some(keys) => (
                format!("unknown matrix key `matrix.{}`", reference.name),
                suggest(&reference.name, keys.iter().map(String::as_str))
                    .unwrap_or_else(|| format!("the matrix has: {}", keys.join(", "))),
            ),
            None => (
                format!(
                    "`matrix.{}` is used, but the task has no matrix",
                    reference.name
                ),
                format!(
                    "add `matrix: {{ {}: [...] }}` to the task, or use a variable",
                    reference.name
                ),
            ),
        };
        self.push(
            Diagnostic::error(DiagnosticKind::UnknownReference, message.0)
                .at(span, None)
                .hint(message.1),
        );
    }

    fn check_params_reference(&mut self, reference: &Reference, span: Span, uses: &Uses<'_>) {
        let message = match &uses.params {
            Some(names) if names.contains(&reference.name) => return,
            Some(names) => (
                format!("unknown parameter `params.{}`", reference.name),
                suggest(&reference.name, names.iter().map(String::as_str))
                    .unwrap_or_else(|| format!("the task's params are: {}", names.join(", "))),
            ),
            None => (
                format!(
                    "`params.{}` is used, but the task has no params",
                    reference.name
                ),
                format!(
                    "declare it on the task: `params: {{ {}: default }}`",
                    reference.name
                ),
            ),
        };
        self.push(
            Diagnostic::error(DiagnosticKind::UnknownReference, message.0)
                .at(span, None)
                .hint(message.1),
        );
    }

    /// The span in the file of bytes `range` of a scalar's value.
    pub(super) fn text_span(&self, value: &Spanned<String>, range: &Range<usize>) -> Span {
        let source = self.source();
        let start = location_span(source, value.referenced);
        let text = &value.value;
        let at = range.start.min(text.len());
        let before = &text[..at];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |index| index + 1);
        let column = before[line_start..].chars().count() + 1;
        match script_span(source, start, text, line, column) {
            Some(span) => {
                let rest = &text[at..];
                let on_line = rest.find('\n').unwrap_or(rest.len());
                Span::new(span.offset, range.len().min(on_line).max(1))
            }
            None => first_line(source, start),
        }
    }
}

/// The first name an expression uses as a variable that is none of `vars`, `env`, `matrix`
/// and `tasks`, with its byte range in the template text. (Misspelled paths under those
/// four are checked by `references`.)
fn undefined_variable(expr: &Expr) -> Option<(String, Range<usize>)> {
    thread_local! {
        static STRICT: rhai::Engine = {
            let mut engine = crate::script::base_engine();
            engine.set_strict_variables(true);
            engine
        };
    }
    let mut scope = rhai::Scope::new();
    for name in ["vars", "env", "matrix", "tasks", "params", "args"] {
        scope.push_constant(name, ());
    }
    let error = STRICT
        .with(|engine| engine.compile_expression_with_scope(&scope, &expr.source))
        .err()?;
    let rhai::ParseErrorType::VariableUndefined(name) = *error.0 else {
        return None;
    };
    let line = error.1.line()?;
    let column = error.1.position().unwrap_or(1);
    let line_start: usize = expr
        .source
        .split_inclusive('\n')
        .take(line - 1)
        .map(str::len)
        .sum();
    let within = expr.source[line_start..]
        .char_indices()
        .nth(column - 1)
        .map_or(expr.source.len() - line_start, |(at, _)| at);
    let start = expr.span.start + line_start + within;
    Some((name.clone(), start..start + name.len()))
}
