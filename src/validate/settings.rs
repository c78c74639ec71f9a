//! The workflow-wide settings: `vars`, `pools`, `secrets` and `env_file`.

use serde_saphyr::Spanned;

use super::matrix::is_identifier;
use super::names::is_env_name;
use super::validator::Validator;
use crate::diagnostic::{Diagnostic, DiagnosticKind, Source};
use crate::model::{Number, Pool, Value};
use crate::parse::{RawPools, RawValue, RawVars, location_span};

impl Validator<'_> {
    /// Adds a file's `vars` to `vars`; a name already defined (in another file) is an error.
    pub(super) fn vars(&mut self, raw: Option<&RawVars>, vars: &mut Vec<(String, Value)>) {
        let Some(raw) = raw else { return };
        for (name, value) in raw {
            if !is_identifier(&name.value) {
                self.push(
                    Diagnostic::error(
                        DiagnosticKind::InvalidSetting,
                        format!("invalid variable name `{}`", name.value),
                    )
                    .at(self.span(name), Some("not a name".into()))
                    .hint("use letters, digits and `_`, not starting with a digit, like `release_tag`"),
                );
                continue;
            }
            if vars.iter().any(|(known, _)| *known == name.value) {
                self.push(
                    Diagnostic::error(
                        DiagnosticKind::DuplicateKey,
                        format!("variable `{}` is defined in two files", name.value),
                    )
                    .at(self.span(name), Some("defined again here".into()))
                    .hint("an included file and the file including it share one set of `vars`: rename one"),
                );
                continue;
            }
            match value_of(self.source(), value) {
                Some(converted) => vars.push((name.value.clone(), converted)),
                None => self.push(
                    Diagnostic::error(
                        DiagnosticKind::WrongType,
                        format!("variable `{}` holds a list of lists", name.value),
                    )
                    .at(self.span(value), None)
                    .hint("a variable is a string, a number, a boolean or a list of those"),
                ),
            }
        }
    }

    /// Adds a file's `pools` to `pools`.
    pub(super) fn pools(&mut self, raw: Option<&RawPools>, pools: &mut Vec<Pool>) {
        let Some(raw) = raw else { return };
        for (name, size) in raw {
            if pools.iter().any(|pool| pool.name == name.value) {
                self.push(
                    Diagnostic::error(
                        DiagnosticKind::DuplicateKey,
                        format!("pool `{}` is defined in two files", name.value),
                    )
                    .at(self.span(name), Some("defined again here".into()))
                    .hint("rename one of the pools"),
                );
                continue;
            }
            let size_ok = size.value >= 1 && usize::try_from(size.value).is_ok();
            if !size_ok {
                self.push(
                    Diagnostic::error(
                        DiagnosticKind::UnknownPool,
                        format!("pool `{}` has size {}", name.value, size.value),
                    )
                    .at(self.span(size), Some("expected 1 or more".into()))
                    .hint("a pool's size is how many of its tasks may run at once: at least 1"),
                );
            }
            pools.push(Pool {
                name: name.value.clone(),
                size: usize::try_from(size.value).unwrap_or(usize::MAX).max(1),
            });
        }
    }

    /// Adds a file's `secrets` to `secrets`.
    pub(super) fn secrets(
        &mut self,
        raw: Option<&Vec<Spanned<String>>>,
        secrets: &mut Vec<String>,
    ) {
        let Some(raw) = raw else { return };
        for name in raw {
            if !is_env_name(&name.value) {
                self.push(
                    Diagnostic::error(
                        DiagnosticKind::InvalidEnvName,
                        format!("invalid secret name `{}`", name.value),
                    )
                    .at(
                        self.span(name),
                        Some("not an environment variable name".into()),
                    )
                    .hint("`secrets` lists names of environment variables, like `API_TOKEN`"),
                );
            } else if !secrets.contains(&name.value) {
                secrets.push(name.value.clone());
            }
        }
    }

    /// The variables of an `env_file`, relative to the current file's directory.
    pub(super) fn env_file(&mut self, raw: Option<&Spanned<String>>) -> Vec<(String, String)> {
        let Some(file) = raw else { return Vec::new() };
        let path = self.dir().join(&file.value);
        match std::fs::metadata(&path) {
            Ok(metadata) => crate::files::observe::file(&path, &metadata),
            Err(_) => crate::files::observe::missing(&path),
        }
        let problem = match dotenvy::from_path_iter(&path) {
            Ok(lines) => match lines.collect::<Result<Vec<_>, _>>() {
                Ok(vars) => return vars,
                Err(dotenvy::Error::LineParse(line, index)) => format!(
                    "cannot read `{}`: invalid line `{}` (at character {})",
                    file.value,
                    line.trim_end(),
                    index + 1
                ),
                Err(error) => format!("cannot read `{}`: {error}", file.value),
            },
            Err(dotenvy::Error::Io(error)) if error.kind() == std::io::ErrorKind::NotFound => {
                format!("the env file `{}` does not exist", file.value)
            }
            Err(error) => format!("cannot read `{}`: {error}", file.value),
        };
        self.push(
            Diagnostic::error(DiagnosticKind::InvalidSetting, problem)
                .at(self.span(file), None)
                .hint(
                    "`env_file` names a file of `NAME=value` lines, relative to the workflow file",
                ),
        );
        Vec::new()
    }
}

/// A `vars` or matrix value in the model; `None` for a list of lists. A number keeps the text
/// it was written with in `source` (where an alias's anchor is) when it prints otherwise.
pub(super) fn value_of(source: &Source, raw: &Spanned<RawValue>) -> Option<Value> {
    let text = || {
        let span = location_span(source, raw.defined);
        source
            .text()
            .get(span.offset..span.offset + span.len)
            .unwrap_or("")
    };
    Some(match &raw.value {
        RawValue::String(text) => Value::String(text.clone()),
        RawValue::Integer(number) => Value::number(Number::Integer(*number), text()),
        RawValue::Float(number) => Value::number(Number::Float(*number), text()),
        RawValue::Bool(value) => Value::Bool(*value),
        RawValue::List(values) => Value::List(
            values
                .iter()
                .map(|value| match value.value {
                    RawValue::List(_) => None,
                    _ => value_of(source, value),
                })
                .collect::<Option<Vec<_>>>()?,
        ),
    })
}

/// Sets variable `name` of `workflow` from `--var name=text`, read as the type the workflow
/// gives it: a number stays a number, a list takes `a,b,c` or `[a, b, c]`.
///
/// # Errors
/// The message and hint when the variable is not declared or the text is not of its type.
pub fn override_var(
    workflow: &mut crate::model::Workflow,
    name: &str,
    text: &str,
) -> Result<(), (String, Option<String>)> {
    let Some(slot) = workflow.vars.iter_mut().find(|(known, _)| known == name) else {
        let hint = crate::diagnostic::suggest(name, workflow.vars.iter().map(|(n, _)| n.as_str()))
            .unwrap_or_else(|| {
                format!("declare it in the workflow first: `vars: {{ {name}: default }}`")
            });
        return Err((
            format!("`--var {name}=...`: the workflow has no variable `{name}`"),
            Some(hint),
        ));
    };
    let wrong = |expected: &str| {
        (
            format!("`--var {name}={text}`: expected {expected}, as `{name}` is declared"),
            Some(format!(
                "`{name}` is {} in the workflow",
                slot.1.type_name()
            )),
        )
    };
    let value = match &slot.1 {
        Value::String(_) => Value::String(text.to_owned()),
        Value::Integer(_) | Value::Written(Number::Integer(_), _) => Value::number(
            Number::Integer(text.trim().parse().map_err(|_| wrong("a whole number"))?),
            text,
        ),
        Value::Float(_) | Value::Written(Number::Float(_), _) => Value::number(
            Number::Float(text.trim().parse().map_err(|_| wrong("a number"))?),
            text,
        ),
        Value::Bool(_) => Value::Bool(match text.trim() {
            "true" => true,
            "false" => false,
            _ => return Err(wrong("`true` or `false`")),
        }),
        Value::List(_) => {
            let inner = text.trim();
            let inner = inner
                .strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
                .unwrap_or(inner);
            Value::List(
                inner
                    .split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(|item| Value::String(item.to_owned()))
                    .collect(),
            )
        }
    };
    slot.1 = value;
    Ok(())
}
