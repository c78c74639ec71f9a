//! Turning an evaluated value into the text inserted for its `${{ }}`: the value's text, JSON
//! for arrays and maps (in shell text, a list is its elements: one word each when bare), a
//! rhai literal in script code, quoted by `quote`. It also owns `Raw`, the opt-out from
//! quoting.

use std::fmt::Write;

use rhai::{Array, Dynamic, EvalAltResult, ImmutableString, Map};

use super::quote::{self, QuoteContext, Quoting};

/// What `raw(x)` returns: text inserted verbatim, without any quoting, in every flavor.
///
/// This is the documented way to insert shell (or rhai) syntax from a value, for example
/// `${{ raw(vars.flags) }}` to pass several words; the value must then be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raw(pub String);

/// `raw(x)`, registered in every template engine: the text of `x`, to be inserted verbatim
/// instead of quoted. The documented way to insert shell syntax (several words, a pipe, a
/// redirection) or rhai code from a value; the value must then be trusted.
pub(crate) fn raw(value: Dynamic) -> Result<Raw, Box<EvalAltResult>> {
    text_of(&value)
        .map(Raw)
        .map_err(|message| format!("raw(): {message}").into())
}

/// The text of a value: strings as is, numbers and booleans as written, arrays and maps as
/// JSON. Fails for `()` and for types that have no text.
pub(crate) fn text_of(value: &Dynamic) -> Result<String, String> {
    if let Some(raw) = value.read_lock::<Raw>() {
        return Ok(raw.0.clone());
    }
    if let Some(text) = value.read_lock::<ImmutableString>() {
        return Ok(text.to_string());
    }
    if value.is_unit() {
        return Err(no_value());
    }
    if value.is_int() || value.is_float() || value.is_bool() || value.is_char() {
        return Ok(value.to_string());
    }
    if value.is_array() || value.is_map() {
        return json_of(value).map(|json| json.to_string());
    }
    Err(format!(
        "cannot be inserted: a value of type `{}`",
        value.type_name()
    ))
}

pub(crate) fn no_value() -> String {
    "has no value: a missing variable, result or map key".to_owned()
}

fn json_of(value: &Dynamic) -> Result<serde_json::Value, String> {
    use serde_json::Value;
    Ok(if value.is_unit() {
        Value::Null
    } else if let Some(array) = value.read_lock::<Array>() {
        Value::Array(array.iter().map(json_of).collect::<Result<_, _>>()?)
    } else if let Some(map) = value.read_lock::<Map>() {
        let mut object = serde_json::Map::new();
        for (key, item) in map.iter() {
            object.insert(key.to_string(), json_of(item)?);
        }
        Value::Object(object)
    } else if let Ok(int) = value.as_int() {
        Value::from(int)
    } else if let Ok(float) = value.as_float() {
        serde_json::Number::from_f64(float)
            .map(Value::Number)
            .ok_or_else(|| format!("cannot be written as JSON: `{float}`"))?
    } else if let Ok(flag) = value.as_bool() {
        Value::Bool(flag)
    } else {
        Value::String(text_of(value)?)
    })
}

/// Writes `value` as a rhai literal.
fn rhai_literal(value: &Dynamic, out: &mut String) -> Result<(), String> {
    if let Some(raw) = value.read_lock::<Raw>() {
        out.push_str(&raw.0);
    } else if let Some(text) = value.read_lock::<ImmutableString>() {
        out.push('"');
        quote::script_string(&text, out);
        out.push('"');
    } else if value.is_unit() {
        out.push_str("()");
    } else if let Ok(int) = value.as_int() {
        // In parentheses, a negative number cannot merge with a `-` before it.
        if int < 0 {
            let _ = write!(out, "({int})");
        } else {
            let _ = write!(out, "{int}");
        }
    } else if let Ok(float) = value.as_float() {
        if !float.is_finite() {
            return Err(format!("cannot be written as a rhai literal: `{float}`"));
        }
        // `{:?}` keeps every digit; rhai wants a `.` before any exponent.
        let mut written = format!("{float:?}");
        if let Some(e) = written.find('e').filter(|_| !written.contains('.')) {
            written.insert_str(e, ".0");
        }
        if float.is_sign_negative() {
            let _ = write!(out, "({written})");
        } else {
            out.push_str(&written);
        }
    } else if let Ok(flag) = value.as_bool() {
        let _ = write!(out, "{flag}");
    } else if let Ok(c) = value.as_char() {
        out.push('\'');
        match c {
            '\'' => out.push_str("\\'"),
            '"' => out.push('"'),
            c => quote::script_string(&c.to_string(), out),
        }
        out.push('\'');
    } else if let Some(array) = value.read_lock::<Array>() {
        out.push('[');
        for (index, item) in array.iter().enumerate() {
            if index > 0 {
                out.push_str(", ");
            }
            rhai_literal(item, out)?;
        }
        out.push(']');
    } else if let Some(map) = value.read_lock::<Map>() {
        out.push_str("#{");
        for (index, (key, item)) in map.iter().enumerate() {
            if index > 0 {
                out.push_str(", ");
            }
            out.push('"');
            quote::script_string(key, out);
            out.push_str("\": ");
            rhai_literal(item, out)?;
        }
        out.push('}');
    } else {
        return Err(format!(
            "cannot be inserted: a value of type `{}`",
            value.type_name()
        ));
    }
    Ok(())
}

/// Writes `value` to `out` as `quoting` requires. The error is a message about the value.
pub(crate) fn insert(out: &mut String, value: &Dynamic, quoting: &Quoting) -> Result<(), String> {
    if value.is_unit() {
        return Err(no_value());
    }
    if let Some(raw) = value.read_lock::<Raw>() {
        out.push_str(&raw.0);
        return Ok(());
    }
    if quoting.context == QuoteContext::ScriptCode {
        return rhai_literal(value, out);
    }
    let text = match value.read_lock::<Array>() {
        Some(list) if is_shell_text(quoting.context) => {
            let texts = list.iter().map(text_of).collect::<Result<Vec<_>, _>>()?;
            if quoting.context == QuoteContext::ShellWord {
                // Bare, a list is one word per element, each quoted on its own.
                let mut words = String::new();
                for (index, text) in texts.iter().enumerate() {
                    if index > 0 {
                        words.push(' ');
                    }
                    quote::shell_word(text, &mut words);
                }
                push_quoted(out, &words, quoting);
                return Ok(());
            }
            // Inside quotes (or a here-document, a comment), the elements are one text
            // separated by spaces, like `"$*"`.
            texts.join(" ")
        }
        _ => text_of(value)?,
    };
    let mut quoted = String::with_capacity(text.len() + 2);
    match quoting.context {
        QuoteContext::Verbatim | QuoteContext::ShellQuotedHereDoc => quoted.push_str(&text),
        QuoteContext::ShellWord => quote::shell_word(&text, &mut quoted),
        QuoteContext::ShellDoubleQuoted => quote::shell_double(&text, &mut quoted),
        QuoteContext::ShellSingleQuoted => quote::shell_single(&text, &mut quoted),
        QuoteContext::ShellHereDoc => quote::shell_heredoc(&text, &mut quoted),
        QuoteContext::ShellComment => quote::one_line(&text, &mut quoted),
        QuoteContext::ShellArithmetic if quote::is_integer(&text) => quoted.push_str(&text),
        QuoteContext::ShellArithmetic => {
            return Err(format!("must be an integer inside `$(( ))`, not `{text}`"));
        }
        QuoteContext::ScriptString => quote::script_string(&text, &mut quoted),
        QuoteContext::ScriptBacktick => {
            quoted.push_str("${\"");
            quote::script_string(&text, &mut quoted);
            quoted.push_str("\"}");
        }
        QuoteContext::ScriptComment => quote::script_comment(&text, &mut quoted),
        QuoteContext::ScriptCode => unreachable!("handled above"),
    }
    push_quoted(out, &quoted, quoting);
    Ok(())
}

/// Appends text already quoted for its context, escaped once more inside backticks.
fn push_quoted(out: &mut String, quoted: &str, quoting: &Quoting) {
    if quoting.in_backticks {
        out.push_str(&quote::shell_backticks(quoted));
    } else {
        out.push_str(quoted);
    }
}

/// Whether a context is shell text, where a list is inserted as its elements' texts rather
/// than as JSON.
fn is_shell_text(context: QuoteContext) -> bool {
    matches!(
        context,
        QuoteContext::ShellWord
            | QuoteContext::ShellDoubleQuoted
            | QuoteContext::ShellSingleQuoted
            | QuoteContext::ShellHereDoc
            | QuoteContext::ShellQuotedHereDoc
            | QuoteContext::ShellComment
    )
}
