//! Parsing: workflow text to `RawWorkflow` with source spans, and the JSON Schema of the
//! format. Structural problems (YAML syntax, unknown keys, wrong types) become diagnostics
//! here; meaning (names, dependencies, commands) is `validate`'s job.

mod node;
mod raw;
mod schema;
mod structure;

pub use raw::{RawDefaults, RawDependsOn, RawEnv, RawIsolation, RawTask, RawWorkflow};
pub use schema::workflow_schema;

use serde_saphyr::{Budget, Location, Options};

use crate::diagnostic::{Diagnostic, DiagnosticKind, Source, Span};

/// Parser options: budgets raised for workflows of a few hundred thousand tasks, while alias
/// bombs and deep nesting are still refused early.
pub(crate) fn parser_options() -> Options {
    let mut budget = Budget::default();
    budget.max_nodes = 20_000_000;
    budget.max_events = 40_000_000;
    budget.max_total_scalar_bytes = 512 * 1024 * 1024;
    budget.max_reader_input_bytes = Some(512 * 1024 * 1024);
    budget.max_depth = 48;
    budget.max_aliases = 10_000;
    budget.max_anchors = 10_000;
    budget.max_recorded_anchor_events = 200_000;
    let mut options = serde_saphyr::options! { with_snippet: false };
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = 200_000;
    options
}

/// The byte span of a parser location; computed from line and column when the parser has no
/// byte offset.
pub fn location_span(source: &Source, location: Location) -> Span {
    let span = location.span();
    match (span.byte_offset(), span.byte_len()) {
        (Some(offset), Some(len)) => Span::new(
            usize::try_from(offset).unwrap_or(0),
            usize::try_from(len).unwrap_or(0),
        ),
        _ => {
            let line = usize::try_from(location.line()).unwrap_or(1);
            let column = usize::try_from(location.column()).unwrap_or(1);
            Span::new(source.offset(line, column), 1)
        }
    }
}

/// Parses a workflow file.
///
/// # Errors
/// Every structural problem found, each located in `source`.
pub fn parse_workflow(source: &Source) -> Result<RawWorkflow, Vec<Diagnostic>> {
    if is_blank(source.text()) {
        return Err(vec![
            Diagnostic::error(DiagnosticKind::EmptyFile, "the workflow file is empty").hint(
                "a workflow needs at least a `tasks:` mapping; see `engine schema` or README.md",
            ),
        ]);
    }
    let typed_error = match serde_saphyr::from_str_with_options(source.text(), parser_options()) {
        Ok(workflow) => return Ok(workflow),
        Err(error) => error,
    };
    // The typed parse stops at the first problem. Parse again into a plain tree and check it
    // against the schema, which finds every structural problem at once.
    let found = match node::parse_tree(source) {
        Ok(tree) => structure::check_structure(&tree, &workflow_schema()),
        Err(tree_error) => vec![yaml_diagnostic(source, &tree_error)],
    };
    if found.is_empty() {
        Err(vec![yaml_diagnostic(source, &typed_error)])
    } else {
        Err(found)
    }
}

/// Whether the text holds nothing but blank lines and comments.
fn is_blank(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .all(|line| line.is_empty() || line.starts_with('#') || line == "---")
}

/// A diagnostic for an error of the YAML parser.
fn yaml_diagnostic(source: &Source, error: &serde_saphyr::Error) -> Diagnostic {
    use serde_saphyr::Error;
    let text = error.without_snippet().to_string();
    // The parser appends ` at line L, column C`; the location is shown separately.
    let message = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(message, _)| message)
        .to_owned();
    let (kind, message, hint) = match error {
        Error::Budget { .. }
        | Error::AliasError { .. }
        | Error::AliasReplayLimitExceeded { .. }
        | Error::AliasExpansionLimitExceeded { .. }
        | Error::AliasReplayStackDepthExceeded { .. } => (
            DiagnosticKind::TooComplex,
            format!("the file is too complex to parse safely: {message}"),
            "a workflow needs neither deep nesting nor many YAML aliases; write the values out",
        ),
        Error::DuplicateMappingKey { key, .. } => (
            DiagnosticKind::DuplicateKey,
            format!(
                "key `{}` appears twice in one mapping",
                key.as_deref().unwrap_or("?")
            ),
            "remove or rename one of them",
        ),
        _ if message.contains("tab") => (
            DiagnosticKind::Tab,
            "tab character where YAML needs spaces".to_owned(),
            "indent with spaces; YAML does not allow tabs for indentation",
        ),
        _ if message.contains("recursion limit")
            || message.contains("nesting")
            || message.contains("depth") =>
        {
            (
                DiagnosticKind::TooComplex,
                format!("the file is nested too deeply: {message}"),
                "a workflow needs at most a few levels of nesting",
            )
        }
        _ => (
            DiagnosticKind::Syntax,
            format!("invalid YAML: {message}"),
            syntax_hint(&message),
        ),
    };
    let mut diagnostic = Diagnostic::error(kind, message).hint(hint);
    if let Some(location) = error.location() {
        diagnostic = diagnostic.at(location_span(source, location), None);
    }
    diagnostic
}

fn syntax_hint(message: &str) -> &'static str {
    if message.contains("end of input") || message.contains("flow") {
        "check that every `[` and `{` is closed and every quote ends"
    } else if message.contains("mapping values are not allowed") {
        "a `: ` inside a value starts a new key: quote the value, or write it as a block (`run: |` and the command on the next lines)"
    } else if message.contains("mapping values") || message.contains("indent") {
        "check the indentation: keys of one mapping start in the same column"
    } else {
        "check the YAML syntax around this place"
    }
}

#[cfg(test)]
mod tests;
