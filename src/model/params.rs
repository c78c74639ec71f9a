//! Task parameters: a task's `Signature` (its declared `params`), binding given values to it
//! (`Signature::bind`), the name of the task instance a binding makes (`build(profile=release)`),
//! and reading `name=value` words of the command line. Pure: no files, no YAML.

use std::fmt;

/// One declared parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    /// Its name.
    pub name: String,
    /// Its default, as written; `None` when it is required.
    pub default: Option<String>,
    /// The values it may take; empty when any value goes.
    pub values: Vec<String>,
}

/// A task's parameters, in the order the file declares them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// The task's name as written.
    pub task: String,
    /// Its parameters.
    pub params: Vec<Param>,
}

/// Values given to a task's parameters, by name.
pub type Given = Vec<(String, String)>;

/// Why values cannot be bound to a signature. Each message names the task's signature.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// Required parameters without a value.
    #[error("`{task}` needs {}: {signature}", list(missing))]
    Missing {
        /// The task.
        task: String,
        /// The parameters without a value.
        missing: Vec<String>,
        /// The task's signature.
        signature: String,
    },
    /// A name the task does not declare.
    #[error("`{task}` has no parameter `{name}`: {signature}")]
    Unknown {
        /// The task.
        task: String,
        /// The unknown name.
        name: String,
        /// The closest declared name, if one is close.
        closest: Option<String>,
        /// The task's signature.
        signature: String,
    },
    /// A value outside the parameter's `values`.
    #[error("`{task}` takes {name}={}, not `{value}`: {signature}", values.join("|"))]
    Disallowed {
        /// The task.
        task: String,
        /// The parameter.
        name: String,
        /// The value given.
        value: String,
        /// The values allowed.
        values: Vec<String>,
        /// The task's signature.
        signature: String,
    },
    /// The same parameter given twice.
    #[error("`{task}` got `{name}` twice: {signature}")]
    Repeated {
        /// The task.
        task: String,
        /// The parameter.
        name: String,
        /// The task's signature.
        signature: String,
    },
}

impl ParamError {
    /// A hint to go with the message.
    #[must_use]
    pub fn hint(&self) -> String {
        match self {
            Self::Missing { task, missing, .. } => format!(
                "give them after the task's name: `{task} {}`",
                missing
                    .iter()
                    .map(|name| format!("{name}=..."))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Self::Unknown {
                closest: Some(closest),
                ..
            } => format!("did you mean `{closest}`?"),
            Self::Unknown { .. } => {
                "parameters are given as `name=value` after the task's name".to_owned()
            }
            Self::Disallowed { values, .. } => format!("use one of: {}", values.join(", ")),
            Self::Repeated { .. } => "give each parameter once".to_owned(),
        }
    }
}

/// The candidate most like `input`, when one is close: short names are often swapped
/// letters (`evn`), which Jaro-Winkler alone scores low.
fn closest<'a>(input: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    candidates
        .map(|candidate| {
            let score = strsim::jaro_winkler(input, candidate)
                .max(strsim::normalized_damerau_levenshtein(input, candidate));
            (score, candidate)
        })
        .filter(|(score, _)| *score >= 0.6)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate.to_owned())
}

fn list(names: &[String]) -> String {
    names.join(", ")
}

impl fmt::Display for Signature {
    /// `deploy env=<dev|prod> [version=1.0]`: required parameters first as written, optional
    /// ones in brackets with their defaults.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.task)?;
        for param in &self.params {
            let shown = if param.values.is_empty() {
                param.name.clone()
            } else {
                param.values.join("|")
            };
            match &param.default {
                None => write!(f, " {}=<{shown}>", param.name)?,
                Some(default) => write!(f, " [{}={default}]", param.name)?,
            }
        }
        Ok(())
    }
}

impl Signature {
    /// Every parameter's value: the given one, else its default.
    ///
    /// # Errors
    /// An unknown name, a repeated one, a value not allowed, or a required parameter without
    /// a value (checked in that order).
    pub fn bind(&self, given: &[(String, String)]) -> Result<Vec<(String, String)>, ParamError> {
        for (at, (name, value)) in given.iter().enumerate() {
            let Some(param) = self.params.iter().find(|param| param.name == *name) else {
                return Err(ParamError::Unknown {
                    task: self.task.clone(),
                    name: name.clone(),
                    closest: closest(name, self.params.iter().map(|p| p.name.as_str())),
                    signature: self.to_string(),
                });
            };
            if given[..at].iter().any(|(earlier, _)| earlier == name) {
                return Err(ParamError::Repeated {
                    task: self.task.clone(),
                    name: name.clone(),
                    signature: self.to_string(),
                });
            }
            if !param.values.is_empty() && !param.values.contains(value) {
                return Err(ParamError::Disallowed {
                    task: self.task.clone(),
                    name: name.clone(),
                    value: value.clone(),
                    values: param.values.clone(),
                    signature: self.to_string(),
                });
            }
        }
        let mut bound = Vec::with_capacity(self.params.len());
        let mut missing = Vec::new();
        for param in &self.params {
            let value = given
                .iter()
                .find(|(name, _)| *name == param.name)
                .map(|(_, value)| value.clone())
                .or_else(|| param.default.clone());
            match value {
                Some(value) => bound.push((param.name.clone(), value)),
                None => missing.push(param.name.clone()),
            }
        }
        if missing.is_empty() {
            Ok(bound)
        } else {
            Err(ParamError::Missing {
                task: self.task.clone(),
                missing,
                signature: self.to_string(),
            })
        }
    }

    /// The required parameters: those without a default.
    pub fn required(&self) -> impl Iterator<Item = &str> {
        self.params
            .iter()
            .filter(|param| param.default.is_none())
            .map(|param| param.name.as_str())
    }

    /// The name of the instance `bound` makes: the task's name with the values that differ
    /// from their defaults, in declaration order (`build(profile=release)`); the task's name
    /// alone when every value is its default.
    #[must_use]
    pub fn instance_name(&self, bound: &[(String, String)]) -> String {
        let differing: Vec<String> = self
            .params
            .iter()
            .zip(bound)
            .filter(|(param, (_, value))| param.default.as_ref() != Some(value))
            .map(|(_, (name, value))| format!("{name}={value}"))
            .collect();
        if differing.is_empty() {
            self.task.clone()
        } else {
            format!("{}({})", self.task, differing.join(","))
        }
    }
}

/// A task named on the command line with the parameters given after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The task (or file, or selector) as typed.
    pub name: String,
    /// The `name=value` words after it.
    pub given: Given,
}

/// Why command-line words cannot be read as targets.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// `name=value` before any task name.
    #[error("`{0}` is a parameter, given without a task name")]
    WithoutTask(String),
}

/// Reads command-line words as targets: a word `name=value` (a name of letters, digits, `_`
/// and `-`, not inside `[...]`) is a parameter of the target before it; any other word is a
/// target. `build(profile=release)` is read as `build profile=release`.
///
/// # Errors
/// A parameter before any target.
pub fn read_targets(words: &[String]) -> Result<Vec<Target>, TargetError> {
    let mut targets: Vec<Target> = Vec::new();
    for word in words {
        if let Some((name, value)) = as_param(word) {
            let Some(last) = targets.last_mut() else {
                return Err(TargetError::WithoutTask(word.clone()));
            };
            last.given.push((name.to_owned(), value.to_owned()));
            continue;
        }
        targets.push(instance_target(word));
    }
    Ok(targets)
}

/// `build(profile=release,x=1)` as `build` with its values; any other word as itself.
fn instance_target(word: &str) -> Target {
    if let Some(open) = word.find('(')
        && let Some(inner) = word[open + 1..].strip_suffix(')')
        && !word[..open].is_empty()
    {
        let given: Option<Given> = inner
            .split(',')
            .map(|pair| as_param(pair).map(|(n, v)| (n.to_owned(), v.to_owned())))
            .collect();
        if let Some(given) = given {
            return Target {
                name: word[..open].to_owned(),
                given,
            };
        }
    }
    Target {
        name: word.to_owned(),
        given: Vec::new(),
    }
}

/// `name=value` with a parameter-like name, not a selector (`test[os=linux]`) nor a path.
fn as_param(word: &str) -> Option<(&str, &str)> {
    let (name, value) = word.split_once('=')?;
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    valid.then_some((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deploy() -> Signature {
        Signature {
            task: "deploy".into(),
            params: vec![
                Param {
                    name: "env".into(),
                    default: None,
                    values: vec!["dev".into(), "prod".into()],
                },
                Param {
                    name: "version".into(),
                    default: Some("1.0".into()),
                    values: Vec::new(),
                },
            ],
        }
    }

    fn given(pairs: &[(&str, &str)]) -> Given {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn signature_shows_required_and_optional() {
        assert_eq!(deploy().to_string(), "deploy env=<dev|prod> [version=1.0]");
    }

    #[test]
    fn binding_fills_defaults_and_names_the_instance() {
        let sig = deploy();
        let bound = sig.bind(&given(&[("env", "prod")])).expect("valid");
        assert_eq!(bound, given(&[("env", "prod"), ("version", "1.0")]));
        assert_eq!(sig.instance_name(&bound), "deploy(env=prod)");
        let bound = sig
            .bind(&given(&[("version", "2"), ("env", "dev")]))
            .expect("valid");
        assert_eq!(sig.instance_name(&bound), "deploy(env=dev,version=2)");
    }

    #[test]
    fn binding_errors_name_the_signature() {
        let sig = deploy();
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[],
                "`deploy` needs env: deploy env=<dev|prod> [version=1.0]",
            ),
            (
                &[("evn", "dev")],
                "`deploy` has no parameter `evn`: deploy env=<dev|prod> [version=1.0]",
            ),
            (
                &[("env", "qa")],
                "`deploy` takes env=dev|prod, not `qa`: deploy env=<dev|prod> [version=1.0]",
            ),
            (
                &[("env", "dev"), ("env", "prod")],
                "`deploy` got `env` twice: deploy env=<dev|prod> [version=1.0]",
            ),
        ];
        for (pairs, message) in cases {
            let error = sig.bind(&given(pairs)).expect_err("invalid");
            assert_eq!(error.to_string(), *message);
        }
        let error = sig.bind(&given(&[("evn", "dev")])).expect_err("invalid");
        assert_eq!(error.hint(), "did you mean `env`?");
    }

    #[test]
    fn words_become_targets_with_their_params() {
        let words: Vec<String> = [
            "deploy",
            "env=prod",
            "test[os=linux]",
            "build(profile=release)",
        ]
        .map(String::from)
        .to_vec();
        let targets = read_targets(&words).expect("valid");
        assert_eq!(
            targets,
            vec![
                Target {
                    name: "deploy".into(),
                    given: given(&[("env", "prod")])
                },
                Target {
                    name: "test[os=linux]".into(),
                    given: Vec::new()
                },
                Target {
                    name: "build".into(),
                    given: given(&[("profile", "release")])
                },
            ]
        );
        assert_eq!(
            read_targets(&["env=prod".to_owned()]),
            Err(TargetError::WithoutTask("env=prod".into()))
        );
    }
}
