//! The structural check: walks a `Node` tree against the format's JSON Schema (generated from
//! the `Raw*` types) and reports every unknown key, wrong type, missing key, invalid value and
//! duplicate key at once. It runs only after the typed parse failed.

use serde_json::Value;

use super::node::{Node, NodeValue};
use crate::diagnostic::{Diagnostic, DiagnosticKind, suggest};

/// Checks `root` against `schema` (a whole schema document with `$defs`).
#[must_use]
pub fn check_structure(root: &Node, schema: &Value) -> Vec<Diagnostic> {
    let mut checker = Checker {
        root: schema,
        found: Vec::new(),
        path: Vec::new(),
    };
    match &root.value {
        NodeValue::Null => checker.found.push(
            Diagnostic::error(DiagnosticKind::EmptyFile, "the workflow file is empty")
                .at(root.span, None)
                .hint("a workflow needs at least a `tasks:` mapping; see `engine schema`"),
        ),
        NodeValue::Mapping(_) => checker.check(root, schema),
        other => checker.found.push(
            Diagnostic::error(
                DiagnosticKind::RootNotMapping,
                format!(
                    "the top level of a workflow must be a mapping, found {}",
                    other.describe()
                ),
            )
            .at(
                root.span,
                Some("expected keys like `name:` and `tasks:`".into()),
            )
            .hint("start the file with `tasks:` and indent each task below it"),
        ),
    }
    checker.found
}

/// Keys of other tools' formats (Taskfile, GitHub Actions, Make-like runners) and the key of
/// this format that means the same, checked before the closest spelling: `sources` is closer
/// to `resources` in spelling but means `inputs`.
const SYNONYMS: &[(&str, &str)] = &[
    ("sources", "inputs"),
    ("source", "inputs"),
    ("generates", "outputs"),
    ("targets", "outputs"),
    ("cmds", "run"),
    ("cmd", "run"),
    ("command", "run"),
    ("commands", "run"),
    ("dir", "cwd"),
    ("working-directory", "cwd"),
    ("working_directory", "cwd"),
    ("workdir", "cwd"),
    ("needs", "depends_on"),
    ("deps", "depends_on"),
    ("depends", "depends_on"),
    ("after", "depends_on"),
    ("timeout-minutes", "timeout"),
    ("when", "if"),
];

/// The key of this format that another tool's `name` means, if it is a known synonym.
fn synonym_of(name: &str) -> Option<&'static str> {
    SYNONYMS
        .iter()
        .find(|(other, _)| other.eq_ignore_ascii_case(name))
        .map(|&(_, key)| key)
}

struct Checker<'s> {
    root: &'s Value,
    found: Vec<Diagnostic>,
    path: Vec<String>,
}

/// The JSON Schema type names a node satisfies. Scalars also satisfy `string`, since the
/// parser reads `run: 5` as the string `5`.
fn satisfies(node: &NodeValue, ty: &str) -> bool {
    matches!(
        (node, ty),
        (NodeValue::Null, "null")
            | (NodeValue::Bool, "boolean" | "string")
            | (NodeValue::Integer, "integer" | "number" | "string")
            | (NodeValue::Float, "number" | "string")
            | (NodeValue::String(_), "string")
            | (NodeValue::Sequence(_), "array")
            | (NodeValue::Mapping(_), "object")
    )
}

fn type_names(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(ty)) => vec![ty.as_str()],
        Some(Value::Array(types)) => types.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn describe_type(ty: &str) -> &'static str {
    match ty {
        "string" => "a string",
        "array" => "a list",
        "object" => "a mapping",
        "integer" => "a whole number",
        "number" => "a number",
        "boolean" => "true or false",
        _ => "nothing",
    }
}

impl<'s> Checker<'s> {
    fn resolve(&self, mut schema: &'s Value) -> &'s Value {
        // `$ref`s point into `$defs` of the same document; a chain ends in at most a few steps.
        for _ in 0..8 {
            let Some(reference) = schema.get("$ref").and_then(Value::as_str) else {
                break;
            };
            let pointer = reference.trim_start_matches('#');
            match self.root.pointer(pointer) {
                Some(target) => schema = target,
                None => break,
            }
        }
        schema
    }

    /// Where the current value is, for messages: "`run` of task `build`", "`defaults`".
    fn place(&self) -> String {
        match self.path.as_slice() {
            [] => "the top level".to_owned(),
            [tasks, name] if tasks == "tasks" => format!("task `{name}`"),
            [tasks, name, rest @ ..] if tasks == "tasks" => {
                format!("`{}` of task `{name}`", rest.join("."))
            }
            path => format!("`{}`", path.join(".")),
        }
    }

    /// The alternatives a schema allows: its `anyOf`/`oneOf` branches, or itself.
    fn alternatives(&self, schema: &'s Value) -> Vec<&'s Value> {
        let schema = self.resolve(schema);
        let branches = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Value::as_array);
        match branches {
            Some(branches) => branches
                .iter()
                .flat_map(|branch| self.alternatives(branch))
                .collect(),
            None => vec![schema],
        }
    }

    fn check(&mut self, node: &Node, schema: &'s Value) {
        let alternatives = self.alternatives(schema);
        // Enumerations (`const` or `enum` branches) accept exactly the listed strings.
        let allowed: Vec<&str> = alternatives
            .iter()
            .flat_map(|alt| {
                let listed = alt
                    .get("enum")
                    .and_then(Value::as_array)
                    .map(|values| values.iter().collect::<Vec<_>>());
                listed.unwrap_or_else(|| alt.get("const").into_iter().collect())
            })
            .filter_map(Value::as_str)
            .collect();
        if !allowed.is_empty()
            && !matches!(
                node.value,
                NodeValue::Null | NodeValue::Sequence(_) | NodeValue::Mapping(_)
            )
        {
            self.check_enum(node, &allowed);
            return;
        }
        let chosen = alternatives
            .iter()
            .find(|alt| type_names(alt).iter().any(|ty| satisfies(&node.value, ty)))
            .or_else(|| {
                alternatives
                    .iter()
                    .find(|alt| type_names(alt).is_empty() && alt.get("const").is_none())
            });
        let Some(chosen) = chosen else {
            self.wrong_type(node, &alternatives, !allowed.is_empty());
            return;
        };
        match &node.value {
            NodeValue::Mapping(entries) => self.check_mapping(node, entries, chosen),
            NodeValue::Sequence(items) => {
                if let Some(item_schema) = chosen.get("items") {
                    for (index, item) in items.iter().enumerate() {
                        self.path.push(index.to_string());
                        self.check(item, item_schema);
                        self.path.pop();
                    }
                }
            }
            _ => {}
        }
    }

    fn wrong_type(&mut self, node: &Node, alternatives: &[&Value], enumeration: bool) {
        let types: Vec<&str> = alternatives
            .iter()
            .flat_map(|alt| type_names(alt))
            .filter(|ty| *ty != "null")
            .collect();
        // Where a string is allowed every scalar is read as one, so naming numbers and
        // booleans beside it (as `env` values do for editors) adds nothing.
        let takes_text = types.contains(&"string");
        let mut expected: Vec<&str> = types
            .into_iter()
            .filter(|ty| !(takes_text && matches!(*ty, "number" | "integer" | "boolean")))
            .map(describe_type)
            .collect();
        if enumeration {
            expected.push("one of the listed words");
        }
        expected.dedup();
        let expected = expected.join(" or ");
        let message = format!(
            "{} must be {expected}, found {}",
            self.place(),
            node.value.describe()
        );
        let diagnostic = Diagnostic::error(DiagnosticKind::WrongType, message)
            .at(node.span, Some(format!("expected {expected}")))
            .maybe_hint(self.type_hint().map(str::to_owned));
        self.found.push(diagnostic);
    }

    fn type_hint(&self) -> Option<&'static str> {
        match self.path.last().map(String::as_str) {
            Some("tasks") => Some("write each task as `name:` with its fields indented below it"),
            Some("depends_on") => Some("list task names like `depends_on: [build, test]`"),
            Some("env") => Some("write variables as a mapping, like `env: { MODE: fast }`"),
            Some("run" | "script") => {
                Some("a multi-line command can be written as a block: `run: |`")
            }
            _ => None,
        }
    }

    fn check_enum(&mut self, node: &Node, allowed: &[&str]) {
        let (text, found) = match &node.value {
            NodeValue::String(text) => (text.clone(), format!("`{text}`")),
            other => (String::new(), other.describe().to_owned()),
        };
        if allowed.contains(&text.as_str()) {
            return;
        }
        let listed = allowed
            .iter()
            .map(|name| format!("`{name}`"))
            .collect::<Vec<_>>()
            .join(" or ");
        self.found.push(
            Diagnostic::error(
                DiagnosticKind::InvalidValue,
                format!("{} must be {listed}, found {found}", self.place()),
            )
            .at(node.span, Some(format!("expected {listed}")))
            .maybe_hint(suggest(&text, allowed.iter().copied()).or_else(|| self.enum_hint())),
        );
    }

    fn enum_hint(&self) -> Option<String> {
        (self.path.last().map(String::as_str) == Some("isolation"))
            .then(|| "`thread` runs inside the engine, `process` in its own OS process".to_owned())
    }

    fn check_mapping(&mut self, node: &Node, entries: &[(Node, Node)], schema: &'s Value) {
        let properties = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties");
        self.check_duplicates(entries);
        for (key, value) in entries {
            let name = match &key.value {
                NodeValue::String(name) => name.clone(),
                other => {
                    self.found.push(
                        Diagnostic::error(
                            DiagnosticKind::WrongType,
                            format!(
                                "keys in {} must be strings, found {}",
                                self.place(),
                                other.describe()
                            ),
                        )
                        .at(key.span, None),
                    );
                    continue;
                }
            };
            let value_schema = properties
                .and_then(|props| props.get(&name))
                .or(match additional {
                    Some(Value::Bool(false)) => None,
                    Some(Value::Bool(true)) | None => {
                        Some(&Value::Bool(true)).filter(|_| properties.is_none())
                    }
                    Some(other) => Some(other),
                });
            match value_schema {
                Some(Value::Bool(true)) => {}
                Some(value_schema) => {
                    self.path.push(name);
                    self.check(value, value_schema);
                    self.path.pop();
                }
                None => self.unknown_key(key, &name, properties),
            }
        }
        let required = schema.get("required").and_then(Value::as_array);
        for field in required.into_iter().flatten().filter_map(Value::as_str) {
            let present = entries
                .iter()
                .any(|(key, _)| matches!(&key.value, NodeValue::String(name) if name == field));
            if !present {
                let hint = if field == "tasks" {
                    "add a `tasks:` mapping with at least one task".to_owned()
                } else {
                    format!("add `{field}:`")
                };
                self.found.push(
                    Diagnostic::error(
                        DiagnosticKind::MissingKey,
                        format!("{} has no `{field}`", self.place()),
                    )
                    .at(node.span, Some(format!("`{field}` is required here")))
                    .hint(hint),
                );
            }
        }
    }

    fn unknown_key(
        &mut self,
        key: &Node,
        name: &str,
        properties: Option<&serde_json::Map<String, Value>>,
    ) {
        let known: Vec<&str> = properties
            .map(|props| props.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let synonym = synonym_of(name).filter(|key| known.contains(key));
        let hint = synonym.map_or_else(
            || suggest(name, known.iter().copied()),
            |key| Some(format!("did you mean `{key}`?")),
        );
        let hint = hint.unwrap_or_else(|| {
            let listed = known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ");
            format!("the keys allowed here are {listed}")
        });
        self.found.push(
            Diagnostic::error(
                DiagnosticKind::UnknownKey,
                format!("unknown key `{name}` in {}", self.place()),
            )
            .at(key.span, Some("not a key of the workflow format".into()))
            .hint(hint),
        );
    }

    fn check_duplicates(&mut self, entries: &[(Node, Node)]) {
        let mut seen = std::collections::HashMap::with_capacity(entries.len());
        for (key, _) in entries {
            let NodeValue::String(name) = &key.value else {
                continue;
            };
            let first = match seen.entry(name.as_str()) {
                std::collections::hash_map::Entry::Occupied(entry) => *entry.get(),
                std::collections::hash_map::Entry::Vacant(entry) => {
                    entry.insert(key.span);
                    continue;
                }
            };
            {
                let (kind, message) = if self.path.len() == 1 && self.path[0] == "tasks" {
                    (
                        DiagnosticKind::DuplicateTask,
                        format!("task `{name}` is defined twice"),
                    )
                } else {
                    (
                        DiagnosticKind::DuplicateKey,
                        format!("key `{name}` appears twice in {}", self.place()),
                    )
                };
                self.found.push(
                    Diagnostic::error(kind, message)
                        .at(key.span, Some("defined again here".into()))
                        .also(first, "first defined here")
                        .hint("rename one of them or merge them into one"),
                );
            }
        }
    }
}
