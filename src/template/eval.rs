//! Evaluating template expressions against a run's values (`vars`, `env`, `matrix`, `tasks`)
//! and rendering templates with every value quoted where it stands. It reads no files and
//! starts no processes; one hardened rhai engine with an operation budget does the work.

use std::cell::Cell;
use std::time::{Duration, Instant};

use rhai::{Dynamic, Engine, EvalAltResult, Map, Scope};

use super::lex::{TokenKind, tokenize};
use super::parse::{Expr, Part, Template};
use super::quote::{HereDocEnd, QuoteContext};
use super::value::{Raw, insert, no_value, raw, text_of};

/// The operations one expression may take, so that a template cannot hang the engine.
const OPERATIONS_LIMIT: u64 = 100_000;
/// The largest string an expression may build (a result is at most 1 MiB).
const STRING_LIMIT: usize = 4 * 1024 * 1024;
/// The largest array or map an expression may build.
const COLLECTION_LIMIT: usize = 100_000;
/// How long one expression may run. Rhai counts the operations of each closure call (as in
/// `array.map(|x| …)`) from where the call started, so nested closures can exceed the
/// operation budget many times over; a clock bounds them.
const TIME_LIMIT: Duration = Duration::from_secs(2);
const TIME_LIMIT_MESSAGE: &str = "it ran longer than 2 seconds";

/// How the dependencies of a task ended, for `success()` and `failure()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DependencyStatus {
    /// Every dependency succeeded.
    pub all_succeeded: bool,
    /// At least one dependency failed.
    pub any_failed: bool,
}

impl DependencyStatus {
    /// Every dependency succeeded (or there are none).
    pub const SUCCEEDED: Self = Self {
        all_succeeded: true,
        any_failed: false,
    };
}

/// The values an expression can read.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The workflow's `vars`.
    pub vars: Map,
    /// The task's environment.
    pub env: Map,
    /// The task's matrix values.
    pub matrix: Map,
    /// The task's parameters.
    pub params: Map,
    /// The words after `--` for the task named with them.
    pub args: rhai::Array,
    /// Task name to `#{ status: "success" | "failure" | "skipped" | …, results: #{ key: "value" } }`.
    pub tasks: Map,
    /// For `success()` and `failure()`.
    pub status: DependencyStatus,
    /// `vars.x` and `matrix.k` that are numbers written otherwise than they print (`3.10`),
    /// with their text: what `${{ vars.x }}` inserts as text.
    pub texts: Vec<(String, String)>,
}

impl Context {
    /// Remembers the text of `root.name`, a number written otherwise than it prints, like
    /// `python: 3.10`.
    pub fn remember_text(&mut self, root: &str, name: &str, text: &str) {
        self.texts.push((format!("{root}.{name}"), text.to_owned()));
    }

    /// The text of the expression when it only reads a number written otherwise than it
    /// prints (`${{ matrix.python }}` for `python: 3.10`).
    fn written_text(&self, expr: &Expr) -> Option<&str> {
        if self.texts.is_empty() {
            return None;
        }
        let tokens = tokenize(&expr.source);
        let [root, dot, name] = tokens.as_slice() else {
            return None;
        };
        if root.kind != TokenKind::Ident
            || dot.kind != TokenKind::Dot
            || name.kind != TokenKind::Ident
        {
            return None;
        }
        let path = format!(
            "{}.{}",
            &expr.source[root.span.clone()],
            &expr.source[name.span.clone()]
        );
        self.texts
            .iter()
            .find(|(known, _)| *known == path)
            .map(|(_, text)| text.as_str())
    }
}

/// An expression that could not be evaluated or inserted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`${{{{ {expr} }}}}` {message}")]
pub struct RenderError {
    /// The expression's source.
    pub expr: String,
    /// What went wrong, as a fragment following the expression.
    pub message: String,
}

impl RenderError {
    fn new(expr: &Expr, message: String) -> Self {
        Self {
            expr: expr.source.clone(),
            message,
        }
    }
}

thread_local! {
    /// The dependency status of the expression being evaluated on this thread.
    static STATUS: Cell<DependencyStatus> = const {
        Cell::new(DependencyStatus { all_succeeded: false, any_failed: false })
    };
    /// When the expression being evaluated on this thread must stop.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
    /// Progress calls on this thread, for checking the deadline now and then.
    static TICKS: Cell<u32> = const { Cell::new(0) };
}

/// Sets the thread's evaluation state (dependency status and deadline) and restores the
/// previous one when dropped, also when unwinding.
struct EvalGuard {
    status: DependencyStatus,
    deadline: Option<Instant>,
}

impl EvalGuard {
    fn set(status: DependencyStatus, deadline: Option<Instant>) -> Self {
        Self {
            status: STATUS.with(|cell| cell.replace(status)),
            deadline: DEADLINE.with(|cell| cell.replace(deadline)),
        }
    }
}

impl Drop for EvalGuard {
    fn drop(&mut self) {
        STATUS.with(|cell| cell.set(self.status));
        DEADLINE.with(|cell| cell.set(self.deadline));
    }
}

/// The engine every template expression compiles and runs on: the script limits of
/// `base_engine`, an operation budget, smaller data limits, no output and no `eval`, plus
/// `raw`, `success`, `failure`, `always` and the shared helpers (paths, `from_json`).
pub(crate) fn template_engine() -> Engine {
    let mut engine = crate::script::base_engine();
    engine.set_max_operations(OPERATIONS_LIMIT);
    engine.set_max_string_size(STRING_LIMIT);
    engine.set_max_array_size(COLLECTION_LIMIT);
    engine.set_max_map_size(COLLECTION_LIMIT);
    engine.on_progress(|_| {
        // Rhai's own count restarts in each closure call, so count the calls here and look
        // at the clock every 256 of them.
        let ticks = TICKS.with(|ticks| {
            ticks.set(ticks.get().wrapping_add(1));
            ticks.get()
        });
        let late = ticks % 256 == 0
            && DEADLINE
                .with(Cell::get)
                .is_some_and(|deadline| Instant::now() > deadline);
        late.then(|| Dynamic::from(TIME_LIMIT_MESSAGE))
    });
    engine.on_print(|_| {});
    engine.on_debug(|_, _, _| {});
    engine.disable_symbol("eval");
    engine.register_type_with_name::<Raw>("raw");
    engine.register_fn("to_string", |raw: &mut Raw| raw.0.clone());
    engine.register_fn("raw", raw);
    engine.register_fn("success", || STATUS.with(Cell::get).all_succeeded);
    engine.register_fn("failure", || STATUS.with(Cell::get).any_failed);
    engine.register_fn("always", || true);
    crate::script::register_helpers(&mut engine);
    engine
}

/// The engine of matrix axis templates: the template engine and `glob(pattern)`, which asks
/// `glob` for the files (this module reads none).
pub(crate) fn axis_engine(
    glob: impl Fn(&str) -> Result<Vec<String>, String> + Send + Sync + 'static,
) -> Engine {
    let mut engine = template_engine();
    engine.register_fn(
        "glob",
        move |pattern: &str| -> Result<rhai::Array, Box<EvalAltResult>> {
            glob(pattern)
                .map(|paths| paths.into_iter().map(Dynamic::from).collect())
                .map_err(|message| format!("glob: {message}").into())
        },
    );
    engine
}

/// Evaluates and renders templates.
pub struct Evaluator {
    engine: Engine,
}

impl Default for Evaluator {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Evaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator").finish_non_exhaustive()
    }
}

impl Evaluator {
    /// An evaluator with its own engine.
    #[must_use]
    pub fn new() -> Self {
        Self {
            engine: template_engine(),
        }
    }

    /// An evaluator for matrix axis templates, whose `glob(pattern)` calls `glob` (the files
    /// of `pattern`, or a message).
    #[must_use]
    pub fn for_matrix_axes(
        glob: impl Fn(&str) -> Result<Vec<String>, String> + Send + Sync + 'static,
    ) -> Self {
        Self {
            engine: axis_engine(glob),
        }
    }

    /// The template's text with each expression's value quoted where it stands.
    pub fn render(&self, template: &Template, ctx: &Context) -> Result<String, RenderError> {
        let mut out = String::new();
        // The inserted bytes of each value inside a here-document, checked once the lines
        // around them are complete.
        let mut guarded = Vec::new();
        for part in &template.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Expr(expr) => {
                    // A number read alone is inserted as written, except where it must stay a
                    // number: in script code and in shell arithmetic.
                    let as_text = !matches!(
                        expr.quoting.context,
                        QuoteContext::ScriptCode | QuoteContext::ShellArithmetic
                    );
                    let value = match ctx.written_text(expr).filter(|_| as_text) {
                        Some(text) => Dynamic::from(text.to_owned()),
                        None => self.eval(expr, ctx)?,
                    };
                    let start = out.len();
                    insert(&mut out, &value, &expr.quoting)
                        .map_err(|message| RenderError::new(expr, message))?;
                    if let Some(end) = &expr.quoting.heredoc
                        && !value.is::<Raw>()
                    {
                        guarded.push((start..out.len(), end, expr));
                    }
                }
            }
        }
        for (inserted, end, expr) in guarded {
            if ends_heredoc(&out, inserted, end) {
                return Err(RenderError::new(
                    expr,
                    format!(
                        "cannot be inserted: a line would end the here-document `{}` early",
                        end.delimiter
                    ),
                ));
            }
        }
        Ok(out)
    }

    /// The value of an expression.
    pub fn eval(&self, expr: &Expr, ctx: &Context) -> Result<Dynamic, RenderError> {
        let mut scope = Scope::new();
        let mentioned = roots_of(expr);
        for (name, map) in [
            ("vars", &ctx.vars),
            ("env", &ctx.env),
            ("matrix", &ctx.matrix),
            ("tasks", &ctx.tasks),
            ("params", &ctx.params),
        ] {
            // Only the maps the expression names are copied into its scope.
            if mentioned.contains(&name) {
                scope.push_constant(name, map.clone());
            }
        }
        if mentioned.contains(&"args") {
            scope.push_constant("args", ctx.args.clone());
        }
        let _state = EvalGuard::set(ctx.status, Some(Instant::now() + TIME_LIMIT));
        self.engine
            .eval_ast_with_scope::<Dynamic>(&mut scope, &expr.ast)
            .map(Dynamic::flatten)
            .map_err(|error| RenderError::new(expr, describe(&error)))
    }

    /// The value of a condition, which must be `true` or `false`.
    pub fn condition(&self, expr: &Expr, ctx: &Context) -> Result<bool, RenderError> {
        let value = self.eval(expr, ctx)?;
        if let Ok(flag) = value.as_bool() {
            return Ok(flag);
        }
        let message = if value.is_unit() {
            format!("must be true or false, but it {}", no_value())
        } else {
            let shown = text_of(&value).unwrap_or_else(|_| value.type_name().to_owned());
            format!("must be true or false, not `{shown}`")
        };
        Err(RenderError::new(expr, message))
    }
}

/// The message for an evaluation error: reading through a missing value says so.
fn describe(error: &EvalAltResult) -> String {
    // The error inside the calls of `map`, closures and the like is the one that matters.
    let error = error.unwrap_inner();
    let mut message = error.to_string();
    // The position within a one-line expression says little; it is cut off.
    if !error.position().is_none()
        && let Some(cut) = message.strip_suffix(&format!(" ({})", error.position()))
    {
        message.truncate(cut.len());
    }
    if let Some(first) = message.get(..1) {
        let lower = first.to_ascii_lowercase();
        message.replace_range(..1, &lower);
    }
    if let EvalAltResult::ErrorTerminated(..) = error {
        return format!("cannot be evaluated: {TIME_LIMIT_MESSAGE}");
    }
    let through_nothing = match error {
        EvalAltResult::ErrorDotExpr(text, _) => text.contains("type '()'"),
        EvalAltResult::ErrorIndexingType(text, _) => text.starts_with("()"),
        _ => false,
    };
    if through_nothing {
        format!("{} ({message})", no_value())
    } else {
        format!("cannot be evaluated: {message}")
    }
}

/// Whether a line touched by the bytes `inserted` of `out` equals the here-document's
/// delimiter. Lines the template wrote alone were checked when it was parsed.
fn ends_heredoc(out: &str, inserted: std::ops::Range<usize>, end: &HereDocEnd) -> bool {
    let line_start = out[..inserted.start].rfind('\n').map_or(0, |at| at + 1);
    let line_end = out[inserted.end..]
        .find('\n')
        .map_or(out.len(), |at| inserted.end + at);
    out[line_start..line_end].split('\n').any(|line| {
        let line = if end.strip_tabs {
            line.trim_start_matches('\t')
        } else {
            line
        };
        line == end.delimiter
    })
}

/// Which of `vars`, `env`, `matrix`, `tasks`, `params` and `args` the expression names.
fn roots_of(expr: &Expr) -> Vec<&'static str> {
    let tokens = tokenize(&expr.source);
    let mut roots = Vec::new();
    for (index, token) in tokens.iter().enumerate() {
        let after_dot = index > 0 && tokens[index - 1].kind == TokenKind::Dot;
        if token.kind != TokenKind::Ident || after_dot {
            continue;
        }
        if let Some(root) = ["vars", "env", "matrix", "tasks", "params", "args"]
            .into_iter()
            .find(|root| *root == &expr.source[token.span.clone()])
        {
            roots.push(root);
        }
    }
    roots
}

/// Whether the expression calls `success()`, `failure()` or `always()`: a condition without
/// one of them runs only when every dependency succeeded.
#[must_use]
pub fn uses_status_function(expr: &Expr) -> bool {
    let tokens = tokenize(&expr.source);
    tokens.windows(2).enumerate().any(|(index, pair)| {
        let after_dot = index > 0 && tokens[index - 1].kind == TokenKind::Dot;
        pair[0].kind == TokenKind::Ident
            && pair[1].kind == TokenKind::Paren
            && !after_dot
            && matches!(
                &expr.source[pair[0].span.clone()],
                "success" | "failure" | "always"
            )
    })
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::{Cell, DependencyStatus, EvalGuard, STATUS};

    /// Sets the thread's status as an evaluation does, until the result is dropped.
    pub(crate) fn set_status(status: DependencyStatus) -> impl Drop {
        EvalGuard::set(status, None)
    }

    /// The thread's status outside any evaluation.
    pub(crate) fn current_status() -> DependencyStatus {
        STATUS.with(Cell::get)
    }
}
