//! Task parameters: each task's `params` read into a `Signature`, and the instances of the
//! tasks that have them: one per set of values that the command line or a dependency's
//! `with` gives (`build(profile=release)`), made here, when the workflow is loaded, so that
//! everything after validation sees ordinary tasks. `with` values that are templates read
//! the depending task's `params` and `vars`, evaluated here, once per instance.

use std::collections::VecDeque;
use std::sync::Arc;

use indexmap::IndexMap;
use rustc_hash::{FxHashMap, FxHashSet};
use serde_saphyr::{Location, Spanned};

use super::matrix::MAX_EXPANSIONS;
use super::settings::value_of;
use super::validator::Validator;
use crate::diagnostic::{Diagnostic, DiagnosticKind, suggest};
use crate::model::{Given, Param, Signature, Value};
use crate::parse::{RawCall, RawDependency, RawDependsOn, RawParam, RawTask, RawValue};
use crate::template::{self, Context, Evaluator, Flavor};

/// A task as written: its file, name and fields, and its full name (with its file's
/// namespace: `docs:build`); the first definition of a name.
pub(super) type Written<'r> = (usize, &'r Spanned<String>, &'r RawTask, String);

/// One task made from a written one: the task itself, or one instance of a task with
/// parameters.
pub(super) struct Instance {
    /// Its name: the written one, or `build(profile=release)`.
    pub(super) name: String,
    /// The written task's parameters, if it declares any.
    pub(super) signature: Option<Arc<Signature>>,
    /// The values of its parameters (without the required ones nobody gave, for the
    /// written task that nothing instantiates).
    pub(super) params: Vec<(String, String)>,
    /// The first task made from its written task: it reports the written task's problems,
    /// which every other instance shares.
    pub(super) primary: bool,
    /// Its `depends_on` entries as task names, a `{ task, with }` entry as the instance it
    /// names.
    pub(super) deps: Vec<Spanned<String>>,
}

impl Validator<'_> {
    /// The signature of a task's `params`, or `None` (reported when invalid).
    pub(super) fn signature(&mut self, name: &str, raw: &RawTask) -> Option<Arc<Signature>> {
        let params = raw.params.as_ref()?;
        if let Some(matrix) = &raw.matrix {
            self.push(
                Diagnostic::error(
                    DiagnosticKind::InvalidParams,
                    format!("task `{name}` has both `matrix` and `params`"),
                )
                .at(self.span(matrix), None)
                .hint("a task with `params` cannot have a `matrix`: move the matrix to a task that depends on it with `with`"),
            );
            return None;
        }
        let mut valid = true;
        let mut out = Vec::with_capacity(params.value.len());
        for (key, param) in &params.value {
            if !is_param_name(&key.value) {
                valid = false;
                self.push(
                    Diagnostic::error(
                        DiagnosticKind::InvalidParams,
                        format!("invalid parameter name `{}` in task `{name}`", key.value),
                    )
                    .at(self.span(key), Some("not a name".into()))
                    .hint("use lowercase letters, digits and `_`, not starting with a digit, like `profile`"),
                );
            }
            let (default, values) = match &param.value {
                RawParam::Required => (None, Vec::new()),
                RawParam::Default(value) => {
                    let value = Spanned::new(value.clone(), param.referenced, param.defined);
                    (self.param_text(&value), Vec::new())
                }
                RawParam::Spec(spec) => (
                    spec.default
                        .as_ref()
                        .and_then(|value| self.param_text(value)),
                    spec.values
                        .iter()
                        .flatten()
                        .filter_map(|value| self.param_text(value))
                        .collect(),
                ),
            };
            if let (Some(default), false) = (&default, values.is_empty())
                && !values.contains(default)
            {
                valid = false;
                self.push(
                    Diagnostic::error(
                        DiagnosticKind::InvalidParams,
                        format!(
                            "the default `{default}` of parameter `{}` of task `{name}` is not one of its values",
                            key.value
                        ),
                    )
                    .at(self.span(param), None)
                    .hint(format!("use one of: {}", values.join(", "))),
                );
            }
            out.push(Param {
                name: key.value.clone(),
                default,
                values,
            });
        }
        valid.then(|| {
            Arc::new(Signature {
                task: name.to_owned(),
                params: out,
            })
        })
    }

    /// A parameter's value as text, as written; `None` for a list (reported).
    fn param_text(&mut self, value: &Spanned<RawValue>) -> Option<String> {
        if let RawValue::List(_) = value.value {
            self.push(
                Diagnostic::error(
                    DiagnosticKind::InvalidParams,
                    "a parameter's value is one value, not a list",
                )
                .at(self.span(value), None)
                .hint("write one value; `values: [...]` lists the values it may take"),
            );
            return None;
        }
        value_of(self.source(), value).map(|value| text_of(&value))
    }

    /// Every task made from the written ones, by written task: the task itself for one
    /// without parameters; for one with, an instance for each set of values that
    /// `requests` (from the command line, already checked) and the dependencies' `with`
    /// give, and when nothing gives any, the task with its defaults.
    pub(super) fn instances(
        &mut self,
        written: &[Written<'_>],
        signatures: &[Option<Arc<Signature>>],
        requests: &[(String, Given)],
        vars: &[(String, Value)],
    ) -> Vec<Vec<Instance>> {
        let index: FxHashMap<&str, usize> = written
            .iter()
            .enumerate()
            .map(|(at, (_, _, _, full))| (full.as_str(), at))
            .collect();
        let mut made = Made {
            out: written.iter().map(|_| Vec::new()).collect(),
            known: FxHashSet::default(),
            queue: VecDeque::new(),
            count: 0,
            too_many: false,
        };
        for (at, (_, _, _, full)) in written.iter().enumerate() {
            if signatures[at].is_none() {
                made.add(at, full.clone(), None, Vec::new());
            }
        }
        for (task, given) in requests {
            if let Some(&at) = index.get(task.as_str())
                && let Some(signature) = &signatures[at]
                && let Ok(bound) = signature.bind(given)
            {
                let name = signature.instance_name(&bound);
                made.add(at, name, Some(Arc::clone(signature)), bound);
            }
        }
        let mut reported = FxHashSet::default();
        loop {
            while let Some((at, which)) = made.queue.pop_front() {
                let (deps, calls) = self.calls(
                    written,
                    (&index, at),
                    signatures,
                    &made.out[at][which],
                    vars,
                    &mut reported,
                );
                made.out[at][which].deps = deps;
                for (target, bound) in calls {
                    let signature = signatures[target]
                        .as_ref()
                        .expect("a call names a task with params");
                    let name = signature.instance_name(&bound);
                    made.add(target, name, Some(Arc::clone(signature)), bound);
                }
            }
            if made.too_many {
                self.current = 0;
                self.push(
                    Diagnostic::error(
                        DiagnosticKind::InvalidParams,
                        format!("the tasks' parameters make more than {MAX_EXPANSIONS} tasks"),
                    )
                    .hint("a dependency's `with` that grows with each instance never ends: give fixed values"),
                );
                break;
            }
            // What nothing instantiated runs with its defaults, or cannot run at all.
            let mut added = false;
            for (at, signature) in signatures.iter().enumerate() {
                let Some(signature) = signature else { continue };
                if !made.out[at].is_empty() {
                    continue;
                }
                added = true;
                if let Ok(bound) = signature.bind(&[]) {
                    made.add(
                        at,
                        signature.task.clone(),
                        Some(Arc::clone(signature)),
                        bound,
                    );
                } else {
                    let defaults = signature
                        .params
                        .iter()
                        .filter_map(|p| p.default.clone().map(|d| (p.name.clone(), d)))
                        .collect();
                    made.add(
                        at,
                        signature.task.clone(),
                        Some(Arc::clone(signature)),
                        defaults,
                    );
                    // Its values are unknown, so are the instances its dependencies name:
                    // it keeps only the plain ones (it cannot run anyway).
                    made.queue.pop_back();
                    let (file, _, raw, _) = &written[at];
                    made.out[at][0].deps = named_deps(&self.namespaces[*file], raw, &index);
                }
            }
            if !added {
                break;
            }
        }
        made.out
    }

    /// An instance's dependencies as names, and the instances its `{ task, with }` entries
    /// (and plain names of tasks with parameters) name: written task and values.
    fn calls(
        &mut self,
        written: &[Written<'_>],
        (index, at): (&FxHashMap<&str, usize>, usize),
        signatures: &[Option<Arc<Signature>>],
        instance: &Instance,
        vars: &[(String, Value)],
        reported: &mut FxHashSet<(usize, usize, String)>,
    ) -> (Vec<Spanned<String>>, Vec<Call>) {
        let (file, _, raw, _) = &written[at];
        let file = *file;
        self.current = file;
        // Borrowing the namespace would hold `self`, which `call` needs: the main file's
        // (empty) costs nothing to copy.
        let namespace = self.namespaces[file].clone();
        let mut deps = Vec::with_capacity(entries(raw).count());
        let mut calls = Vec::new();
        for Listed {
            name,
            referenced,
            defined,
            with,
        } in entries(raw)
        {
            let name = Spanned::new(resolve(&namespace, name, index), referenced, defined);
            let takes_params = index
                .get(name.value.as_str())
                .is_some_and(|&target| signatures[target].is_some());
            if with.is_none() && !takes_params {
                deps.push(name);
                continue;
            }
            // A plain name of a task with parameters is its instance with the defaults.
            let call = RawCall {
                task: name,
                with: with.cloned().unwrap_or_default(),
            };
            match self.call(written, index, signatures, instance, &call, vars) {
                Ok((name, target)) => {
                    deps.push(Spanned::new(name, call.task.referenced, call.task.defined));
                    if let Some(target) = target {
                        calls.push(target);
                    }
                }
                Err(diagnostic) => {
                    let key = (
                        file,
                        diagnostic
                            .primary
                            .as_ref()
                            .map_or(0, |label| label.span.offset),
                        diagnostic.message.clone(),
                    );
                    if reported.insert(key) {
                        self.push(diagnostic);
                    }
                }
            }
        }
        (deps, calls)
    }

    /// The task a `{ task, with }` entry names, and the written task and values when it is
    /// an instance of a task with parameters.
    fn call(
        &mut self,
        written: &[Written<'_>],
        index: &FxHashMap<&str, usize>,
        signatures: &[Option<Arc<Signature>>],
        instance: &Instance,
        call: &RawCall,
        vars: &[(String, Value)],
    ) -> Result<(String, Option<Call>), Diagnostic> {
        let depender = &instance.name;
        let Some(&target) = index.get(call.task.value.as_str()) else {
            let hint = suggest(
                &call.task.value,
                written.iter().map(|(_, _, _, full)| full.as_str()),
            )
            .unwrap_or_else(|| "`engine list FILE` shows the task names".to_owned());
            return Err(Diagnostic::error(
                DiagnosticKind::UnknownDependency,
                format!(
                    "task `{depender}` depends on `{}`, which is not a task",
                    call.task.value
                ),
            )
            .at(self.span(&call.task), Some("no task has this name".into()))
            .hint(hint));
        };
        let Some(signature) = &signatures[target] else {
            if call.with.is_empty() {
                return Ok((call.task.value.clone(), None));
            }
            let has_params = written[target].2.params.is_some();
            let key = call.with.keys().next().expect("not empty");
            return Err(Diagnostic::error(
                DiagnosticKind::InvalidParams,
                format!(
                    "task `{depender}` gives parameters to `{}`, which has {}",
                    call.task.value,
                    if has_params {
                        "invalid params"
                    } else {
                        "no params"
                    }
                ),
            )
            .at(self.span(key), None)
            .hint(format!(
                "declare them on `{}` (`params: {{ {}: default }}`) or remove `with`",
                call.task.value, key.value
            )));
        };
        let mut given: Given = Vec::with_capacity(call.with.len());
        for (key, value) in &call.with {
            let Some(text) = self.with_value(instance, value, vars)? else {
                continue;
            };
            given.push((key.value.clone(), text));
        }
        match signature.bind(&given) {
            Ok(bound) => Ok((signature.instance_name(&bound), Some((target, bound)))),
            Err(error) => Err(Diagnostic::error(
                DiagnosticKind::InvalidParams,
                format!("in `depends_on` of `{depender}`: {error}"),
            )
            .at(self.span(&call.task), None)
            .hint(error.hint())),
        }
    }

    /// One `with` value as text: as written, or a template filled from the depending
    /// instance's `params` and the `vars`.
    fn with_value(
        &mut self,
        instance: &Instance,
        value: &Spanned<RawValue>,
        vars: &[(String, Value)],
    ) -> Result<Option<String>, Diagnostic> {
        let Some(text) = self.param_text(value) else {
            return Ok(None);
        };
        if !text.contains("${{") {
            return Ok(Some(text));
        }
        let failed = |message: String| {
            Diagnostic::error(DiagnosticKind::InvalidParams, message)
                .at(self.span(value), None)
                .hint("a `with` value's template reads the task's `params` and `vars`, filled when the workflow is loaded")
        };
        let parsed = match template::parse(&text, Flavor::Plain) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => return Ok(Some(text)),
            Err(errors) => {
                let message = errors.first().map_or_else(
                    || "is not a valid template".to_owned(),
                    |e| e.message.clone(),
                );
                return Err(failed(message));
            }
        };
        let context = Context {
            vars: vars
                .iter()
                .map(|(name, value)| (name.as_str().into(), value.to_dynamic()))
                .collect(),
            params: instance
                .params
                .iter()
                .map(|(name, value)| (name.as_str().into(), value.clone().into()))
                .collect(),
            ..Context::default()
        };
        Evaluator::new()
            .render(&parsed, &context)
            .map(Some)
            .map_err(|error| failed(format!("the `with` value of `{}`: {error}", instance.name)))
    }
}

/// An instance a dependency names: its written task and its parameters' values.
type Call = (usize, Vec<(String, String)>);

/// The values of a `with`.
type With = IndexMap<Spanned<String>, Spanned<RawValue>, rustc_hash::FxBuildHasher>;

/// One `depends_on` entry: the name as written, where it is written, and its `with`.
struct Listed<'r> {
    name: &'r str,
    referenced: Location,
    defined: Location,
    with: Option<&'r With>,
}

/// A task's `depends_on` entries, in the order written (borrowed: nothing is copied).
fn entries(raw: &RawTask) -> impl Iterator<Item = Listed<'_>> {
    let (one, many) = match raw.depends_on.as_ref() {
        None => (None, [].iter()),
        Some(depends_on) => match &depends_on.value {
            RawDependsOn::One(name) => (
                Some(Listed {
                    name,
                    referenced: depends_on.referenced,
                    defined: depends_on.defined,
                    with: None,
                }),
                [].iter(),
            ),
            RawDependsOn::Many(items) => (None, items.iter()),
        },
    };
    one.into_iter().chain(many.map(|item| match &item.value {
        RawDependency::Name(name) => Listed {
            name,
            referenced: item.referenced,
            defined: item.defined,
            with: None,
        },
        RawDependency::Call(call) => Listed {
            name: &call.task.value,
            referenced: call.task.referenced,
            defined: call.task.defined,
            with: Some(&call.with),
        },
    }))
}

/// The `depends_on` entries that are plain names, resolved.
fn named_deps(
    namespace: &str,
    raw: &RawTask,
    index: &FxHashMap<&str, usize>,
) -> Vec<Spanned<String>> {
    entries(raw)
        .filter(|listed| listed.with.is_none())
        .map(|listed| {
            Spanned::new(
                resolve(namespace, listed.name, index),
                listed.referenced,
                listed.defined,
            )
        })
        .collect()
}

/// A task name written in a file of `namespace`, as the task it names: the file's own task
/// first (`build` in `docs:`'s file is `docs:build` when that exists), else the name as it
/// is; `:build` is the main file's `build` from anywhere.
pub(super) fn resolve(namespace: &str, text: &str, index: &FxHashMap<&str, usize>) -> String {
    if let Some(root) = text.strip_prefix(':') {
        return root.to_owned();
    }
    if namespace.is_empty() {
        return text.to_owned();
    }
    let base = text.split(['[', '(']).next().unwrap_or(text).trim();
    if index.contains_key(format!("{namespace}{base}").as_str()) {
        format!("{namespace}{}", text.trim_start())
    } else {
        text.to_owned()
    }
}

/// The instances made so far.
struct Made {
    out: Vec<Vec<Instance>>,
    known: FxHashSet<String>,
    /// Instances whose dependencies are still to be read: written task, instance.
    queue: VecDeque<(usize, usize)>,
    count: usize,
    too_many: bool,
}

impl Made {
    fn add(
        &mut self,
        at: usize,
        name: String,
        signature: Option<Arc<Signature>>,
        params: Vec<(String, String)>,
    ) {
        // Tasks without params are the written ones, each name once already (and a name
        // with params in parentheses is no written name): only instances can repeat.
        if self.too_many || (signature.is_some() && !self.known.insert(name.clone())) {
            return;
        }
        self.count += 1;
        if signature.is_some() && self.count > MAX_EXPANSIONS.max(self.out.len() * 2) {
            self.too_many = true;
            return;
        }
        let primary = self.out[at].is_empty();
        self.out[at].push(Instance {
            name,
            signature,
            params,
            primary,
            deps: Vec::new(),
        });
        self.queue.push_back((at, self.out[at].len() - 1));
    }
}

/// A value as text, numbers as written.
fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other
            .written()
            .map_or_else(|| other.to_string(), str::to_owned),
    }
}

/// A parameter's name: lowercase letters, digits and `_`, not starting with a digit.
fn is_param_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}
