//! Quoting values where they stand: which context each `${{ }}` of a template is in (found by
//! the shell and rhai lexers) and how a value's text is escaped for it, so that a value can
//! never become syntax. It does not evaluate expressions.

use std::ops::Range;

use super::lex::{RhaiScanner, RhaiState};
use super::parse::{Flavor, Part, TemplateError};
use super::shell::shell_quotings;

/// How a value is written where its `${{ }}` stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quoting {
    /// The syntax around the expression.
    pub context: QuoteContext,
    /// Inside shell backticks: after escaping for `context`, `\`, `` ` `` and `$` are escaped
    /// once more for the backticks' own backslash processing.
    pub in_backticks: bool,
    /// Inside a shell here-document body, at any depth: no line of the result may equal the
    /// delimiter, or the rest of the value would run as commands.
    pub heredoc: Option<HereDocEnd>,
}

/// The syntax a value is inserted into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuoteContext {
    /// A plain value: the text as is.
    Verbatim,
    /// Unquoted shell code: one single-quoted word (bare when only safe characters).
    ShellWord,
    /// Inside shell `"…"`: `$`, `` ` ``, `"` and `\` escaped.
    ShellDoubleQuoted,
    /// Inside shell `'…'`: each `'` written `'\''`.
    ShellSingleQuoted,
    /// An unquoted here-document body: `$`, `` ` `` and `\` escaped.
    ShellHereDoc,
    /// A quoted here-document body (`<<'EOF'`): as is.
    ShellQuotedHereDoc,
    /// A shell comment: line breaks written as `\n` so the comment cannot end.
    ShellComment,
    /// Inside `$(( ))`: only integers are accepted.
    ShellArithmetic,
    /// Rhai code: a rhai literal.
    ScriptCode,
    /// Inside a rhai `"…"` string: escaped for it.
    ScriptString,
    /// Inside a rhai backtick string: a `${"…"}` interpolation of an escaped string.
    ScriptBacktick,
    /// A rhai comment: on one line, with no `*/` or `/*`.
    ScriptComment,
}

/// The end of a shell here-document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HereDocEnd {
    /// The delimiter word, quotes removed.
    pub delimiter: String,
    /// `<<-`: leading tabs are removed before lines are compared with the delimiter.
    pub strip_tabs: bool,
}

impl Quoting {
    /// Text as is: the quoting of every expression of a plain template.
    #[must_use]
    pub fn verbatim() -> Self {
        Self::new(QuoteContext::Verbatim)
    }

    pub(crate) fn new(context: QuoteContext) -> Self {
        Self {
            context,
            in_backticks: false,
            heredoc: None,
        }
    }
}

/// Why an expression cannot be quoted where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    message: String,
    hint: Option<&'static str>,
}

impl Refusal {
    pub(crate) fn new(message: impl Into<String>, hint: Option<&'static str>) -> Self {
        Self {
            message: message.into(),
            hint,
        }
    }
}

/// Sets the quoting of every expression of `parts`; `wholes` are the bytes of each
/// `${{ … }}` in the template text, in order.
pub(crate) fn assign_quotings(
    parts: &mut [Part],
    flavor: Flavor,
    wholes: &[Range<usize>],
) -> Result<(), Vec<TemplateError>> {
    if flavor == Flavor::Plain {
        return Ok(());
    }
    // The text with one placeholder byte where each expression stands.
    let mut text = String::new();
    let mut exprs = Vec::new();
    for part in parts.iter() {
        match part {
            Part::Text(literal) => text.push_str(literal),
            Part::Expr(_) => {
                exprs.push(text.len());
                text.push('\0');
            }
        }
    }
    let quotings = match flavor {
        Flavor::Shell => shell_quotings(&text, &exprs),
        Flavor::Script => script_quotings(&text, &exprs),
        Flavor::Plain => unreachable!("returned above"),
    };
    let mut errors = Vec::new();
    let targets = parts.iter_mut().filter_map(|part| match part {
        Part::Expr(expr) => Some(expr),
        Part::Text(_) => None,
    });
    for ((expr, quoting), whole) in targets.zip(quotings).zip(wholes) {
        match quoting {
            Ok(quoting) => expr.quoting = quoting,
            Err(refusal) => errors.push(TemplateError::new(
                whole.clone(),
                format!(
                    "`${{{{ {} }}}}` cannot be quoted {}",
                    expr.source, refusal.message
                ),
                refusal.hint,
            )),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The context of each expression of a rhai script template (see `shell_quotings`).
fn script_quotings(text: &str, exprs: &[usize]) -> Vec<Result<Quoting, Refusal>> {
    let bytes = text.as_bytes();
    let mut scanner = RhaiScanner::new(true);
    let mut quotings = Vec::with_capacity(exprs.len());
    let mut i = 0;
    for &at in exprs {
        while i < at {
            i = scanner.step(bytes, i);
        }
        let quoting = match scanner.state() {
            // In a backtick string, `\${` is a literal `${`.
            state
                if scanner.escaping()
                    || i > at
                    || (state == RhaiState::Backtick && at > 0 && bytes[at - 1] == b'\\') =>
            {
                Err(Refusal::new(
                    "right after an escaping `\\`",
                    Some("remove the `\\`, or write `$${{` for a literal `${{`"),
                ))
            }
            RhaiState::Code => Ok(QuoteContext::ScriptCode),
            RhaiState::String => Ok(QuoteContext::ScriptString),
            RhaiState::Backtick => Ok(QuoteContext::ScriptBacktick),
            RhaiState::Comment => Ok(QuoteContext::ScriptComment),
            RhaiState::Char => Err(Refusal::new(
                "inside a character literal",
                Some("use a string: `\"${{ … }}\"`"),
            )),
        };
        quotings.push(quoting.map(Quoting::new));
        // The placeholder stands for a literal: a word in code, text in a string.
        if i == at {
            i = at + 1;
        }
    }
    quotings
}

/// Characters a shell word may hold without quotes.
fn is_bare(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"_./:=@%+,-".contains(&byte)
}

/// Words the shell reads as syntax where a command starts.
const RESERVED: &[&str] = &[
    "case", "do", "done", "elif", "else", "esac", "fi", "for", "function", "if", "in", "select",
    "then", "time", "until", "while",
];

/// One shell word for `text`, bare when that is unambiguous, otherwise single-quoted.
pub(crate) fn shell_word(text: &str, out: &mut String) {
    // `name=…` at the start of a command would be an assignment, not a word.
    let assignment = text.split_once('=').is_some_and(|(name, _)| {
        name.trim_end_matches('+')
            .bytes()
            .all(|byte| byte == b'_' || byte.is_ascii_alphanumeric())
    });
    if !text.is_empty() && text.bytes().all(is_bare) && !assignment && !RESERVED.contains(&text) {
        out.push_str(text);
    } else {
        out.push('\'');
        shell_single(text, out);
        out.push('\'');
    }
}

/// The inside of shell `'…'`.
pub(crate) fn shell_single(text: &str, out: &mut String) {
    escape(text, out, |c| (c == '\'').then_some("'\\''"));
}

/// The inside of shell `"…"`.
pub(crate) fn shell_double(text: &str, out: &mut String) {
    escape(text, out, |c| match c {
        '$' => Some("\\$"),
        '`' => Some("\\`"),
        '"' => Some("\\\""),
        '\\' => Some("\\\\"),
        _ => None,
    });
}

/// An unquoted here-document body, where quotes are literal.
pub(crate) fn shell_heredoc(text: &str, out: &mut String) {
    escape(text, out, |c| match c {
        '$' => Some("\\$"),
        '`' => Some("\\`"),
        '\\' => Some("\\\\"),
        _ => None,
    });
}

/// Text kept on one line, for comments.
pub(crate) fn one_line(text: &str, out: &mut String) {
    escape(text, out, |c| match c {
        '\n' => Some("\\n"),
        '\r' => Some("\\r"),
        _ => None,
    });
}

/// The extra escaping layer of shell backticks.
pub(crate) fn shell_backticks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape(text, &mut out, |c| match c {
        '$' => Some("\\$"),
        '`' => Some("\\`"),
        '\\' => Some("\\\\"),
        _ => None,
    });
    out
}

/// The inside of a rhai `"…"` string.
pub(crate) fn script_string(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                use std::fmt::Write;
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

/// Text in a rhai comment: one line, and no `*/` or `/*`.
pub(crate) fn script_comment(text: &str, out: &mut String) {
    escape(text, out, |c| match c {
        '\n' => Some("\\n"),
        '\r' => Some("\\r"),
        '*' => Some("\\*"),
        '/' => Some("\\/"),
        _ => None,
    });
}

/// Whether `text` is an integer the shell's arithmetic reads as written.
pub(crate) fn is_integer(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty()
        && digits.bytes().all(|byte| byte.is_ascii_digit())
        // A leading zero would be read as octal.
        && (digits == "0" || !digits.starts_with('0'))
}

fn escape(text: &str, out: &mut String, replace: impl Fn(char) -> Option<&'static str>) {
    out.reserve(text.len());
    for c in text.chars() {
        match replace(c) {
            Some(escaped) => out.push_str(escaped),
            None => out.push(c),
        }
    }
}
