//! Parsing `${{ expr }}` templates: splitting text into literal parts and compiled rhai
//! expressions, with errors located at the exact bytes. It does not evaluate anything.
//!
//! `${{` opens an expression and the first `}}` outside a rhai string literal closes it, so a
//! map literal ending an expression needs a space (`${{ #{a: #{b: 1} } }}`); `}}` inside a
//! comment still closes. `$${{` is a literal `${{`.

use std::ops::Range;
use std::sync::{Arc, OnceLock};

use rhai::{Engine, ParseError};

use super::eval::template_engine;
use super::lex::RhaiScanner;
use super::quote::{Quoting, assign_quotings};

const OPEN: &str = "${{";
const CLOSE: &str = "}}";

/// Where a template's text is used, which decides how inserted values are quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// A `run` shell command: every value becomes exactly one shell word.
    Shell,
    /// A rhai `script`: every value becomes a rhai literal.
    Script,
    /// A plain value (an `env` value, a `cwd`): the value's text as is.
    Plain,
}

/// A text with `${{ }}` expressions in it.
#[derive(Debug, Clone)]
pub struct Template {
    /// Literal text and expressions, in order; no two text parts are adjacent.
    pub parts: Vec<Part>,
    /// Where the text is used.
    pub flavor: Flavor,
}

/// One piece of a template.
#[derive(Debug, Clone)]
pub enum Part {
    /// Literal text (`$${{` already turned into `${{`).
    Text(String),
    /// A `${{ }}` expression.
    Expr(Expr),
}

/// One compiled `${{ }}` expression.
#[derive(Debug, Clone)]
pub struct Expr {
    /// The expression text, trimmed.
    pub source: String,
    /// The bytes of `source` within the template text.
    pub span: Range<usize>,
    /// The compiled expression.
    pub ast: Arc<rhai::AST>,
    /// How its value is quoted where it stands.
    pub quoting: Quoting,
}

/// A problem in a template, located at bytes of its text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    /// The bytes the problem is about.
    pub span: Range<usize>,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl TemplateError {
    pub(crate) fn new(span: Range<usize>, message: impl Into<String>, hint: Option<&str>) -> Self {
        Self {
            span,
            message: message.into(),
            hint: hint.map(str::to_owned),
        }
    }
}

/// Parses the `${{ }}` expressions of `text`. `None` when the text has no `${{`, the common
/// case, which costs one scan and no allocation. Every problem is reported, not the first.
pub fn parse(text: &str, flavor: Flavor) -> Result<Option<Template>, Vec<TemplateError>> {
    if !text.contains(OPEN) {
        return Ok(None);
    }
    let mut parts = Vec::new();
    let mut errors = Vec::new();
    // The whole `${{ … }}` of each expression, for errors about where it stands.
    let mut wholes = Vec::new();
    let mut literal = String::new();
    let mut rest = 0;
    while let Some(found) = text[rest..].find(OPEN) {
        let open = rest + found;
        // A `$` before `${{` cannot belong to anything already consumed, which ends in `}`.
        if open > 0 && text.as_bytes()[open - 1] == b'$' {
            literal.push_str(&text[rest..open - 1]);
            literal.push_str(OPEN);
            rest = open + OPEN.len();
            continue;
        }
        literal.push_str(&text[rest..open]);
        let body = open + OPEN.len();
        let Some(close) = find_close(text, body) else {
            errors.push(TemplateError::new(
                open..body,
                "unclosed `${{`",
                Some("end the expression with `}}`, or write `$${{` for a literal `${{`"),
            ));
            rest = text.len();
            break;
        };
        rest = close + CLOSE.len();
        let inner = &text[body..close];
        let source = inner.trim();
        let start = body + (inner.len() - inner.trim_start().len());
        if source.is_empty() {
            errors.push(TemplateError::new(
                open..rest,
                "empty expression",
                Some(
                    "write an expression such as `${{ vars.name }}`, or `$${{` for a literal `${{`",
                ),
            ));
            continue;
        }
        match compile(source, start) {
            Ok(expr) => {
                if !literal.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                }
                parts.push(Part::Expr(expr));
                wholes.push(open..rest);
            }
            Err(error) => errors.push(error),
        }
    }
    literal.push_str(&text[rest..]);
    if !literal.is_empty() {
        parts.push(Part::Text(literal));
    }
    if errors.is_empty() {
        assign_quotings(&mut parts, flavor, &wholes)?;
        Ok(Some(Template { parts, flavor }))
    } else {
        Err(errors)
    }
}

/// Parses an `if:` condition: one expression, written with or without `${{ }}`. Spans are
/// relative to `text`.
pub fn parse_condition(text: &str) -> Result<Expr, Vec<TemplateError>> {
    let source = text.trim();
    let start = text.len() - text.trim_start().len();
    if source.is_empty() {
        return Err(vec![TemplateError::new(
            0..text.len(),
            "empty condition",
            Some("write an expression such as `vars.deploy == \"yes\"`"),
        )]);
    }
    if !source.starts_with(OPEN) {
        return compile(source, start).map_err(|error| vec![error]);
    }
    let template = parse(text, Flavor::Plain)?.expect("the text contains `${{`");
    let mut found = None;
    let mut beside = false;
    for part in template.parts {
        match part {
            Part::Expr(expr) if found.is_none() => found = Some(expr),
            Part::Text(text) if text.trim().is_empty() => {}
            _ => beside = true,
        }
    }
    match found {
        Some(expr) if !beside => Ok(expr),
        _ => Err(vec![TemplateError::new(
            start..start + source.len(),
            "a condition is one expression",
            Some("put the whole condition inside one `${{ }}`, or write it without `${{ }}`"),
        )]),
    }
}

/// The index of the `}}` that closes an expression whose text starts at `body`.
fn find_close(text: &str, body: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut scanner = RhaiScanner::new(false);
    let mut i = body;
    while i < bytes.len() {
        if scanner.at_top_level() && bytes[i..].starts_with(CLOSE.as_bytes()) {
            return Some(i);
        }
        i = scanner.step(bytes, i);
    }
    None
}

/// The engine that compiles every template expression (compiling needs no per-run state).
fn compiler() -> &'static Engine {
    static COMPILER: OnceLock<Engine> = OnceLock::new();
    COMPILER.get_or_init(template_engine)
}

/// Compiles `source`, which starts at byte `start` of the template text.
fn compile(source: &str, start: usize) -> Result<Expr, TemplateError> {
    match compiler().compile_expression(source) {
        Ok(ast) => Ok(Expr {
            source: source.to_owned(),
            span: start..start + source.len(),
            ast: Arc::new(ast),
            quoting: Quoting::verbatim(),
        }),
        Err(error) => Err(syntax_error(source, start, &error)),
    }
}

fn syntax_error(source: &str, start: usize, error: &ParseError) -> TemplateError {
    let at = offset_of(source, error.position());
    // Rhai gives a position; the span covers the word or character there.
    let word = |c: char| c == '_' || c.is_alphanumeric();
    let rest = &source[at..];
    let len = match rest.chars().next() {
        Some(c) if word(c) => rest.find(|c| !word(c)).unwrap_or(rest.len()),
        Some(c) => c.len_utf8(),
        None => 0,
    };
    let mut message = error.err_type().to_string();
    if let Some(first) = message.get(..1) {
        let lower = first.to_ascii_lowercase();
        message.replace_range(..1, &lower);
    }
    TemplateError::new(
        start + at..start + at + len,
        message,
        Some("`${{ }}` holds one rhai expression: no statements, assignments or loops"),
    )
}

/// The byte offset in `source` of a rhai position (1-based line, 1-based character; no
/// character means the start of the line; no position means the start).
fn offset_of(source: &str, position: rhai::Position) -> usize {
    let Some(line) = position.line() else {
        return 0;
    };
    let line_start = source
        .split_inclusive('\n')
        .take(line - 1)
        .map(str::len)
        .sum::<usize>()
        .min(source.len());
    let column = position.position().unwrap_or(1) - 1;
    source[line_start..]
        .char_indices()
        .nth(column)
        .map_or(source.len(), |(offset, _)| line_start + offset)
}
