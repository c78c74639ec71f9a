//! Parsing: workflow text to `RawWorkflow` with source spans, and the JSON Schema of the
//! format. Structural problems (YAML syntax, unknown keys, wrong types) become diagnostics
//! here; meaning (names, dependencies, commands) is `validate`'s job.

mod chunked;
mod node;
mod raw;
mod schema;
mod structure;

pub use raw::{
    RawAxis, RawCall, RawDefaults, RawDependency, RawDependsOn, RawEnv, RawExecutor, RawInclude,
    RawIsolation, RawMatrix, RawParam, RawParamSpec, RawParams, RawPools, RawResources, RawSlurm,
    RawTask, RawTasks, RawValue, RawVars, RawWorkflow,
};
pub use schema::workflow_schema;

use rustc_hash::{FxBuildHasher, FxHashSet};
use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::{Budget, DuplicateKeyPolicy, Location, MergeKeyPolicy, Options, Spanned};

use crate::diagnostic::{Diagnostic, DiagnosticKind, Source, Span};

/// The deepest nesting of lists and mappings the parser accepts.
const MAX_DEPTH: usize = 48;

/// How many events (scalars, starts and ends of lists and mappings) all aliases and merge
/// keys together may expand to: what an alias bomb grows, while 10,000 tasks merging a small
/// anchor (`<<: *defaults`) stay well within it.
const MAX_REPLAYED_EVENTS: usize = 1_000_000;

/// Parser options: YAML 1.2's core schema (only `true` and `false` are booleans; `yes`, `no`,
/// `on`, `off`, `y` and `n` are strings), budgets raised for workflows of a few hundred
/// thousand tasks, while alias bombs and deep nesting are still refused early. Aliases are
/// limited by what they expand to, not by how many there are: a merge key in every task is
/// one alias per task.
pub(crate) fn parser_options() -> Options {
    let mut budget = Budget::default();
    budget.max_nodes = 20_000_000;
    budget.max_events = 40_000_000;
    budget.max_total_scalar_bytes = 512 * 1024 * 1024;
    budget.max_reader_input_bytes = Some(512 * 1024 * 1024);
    budget.max_depth = MAX_DEPTH;
    budget.max_aliases = 1_000_000;
    budget.max_anchors = 1_000_000;
    budget.max_merge_keys = 1_000_000;
    budget.enforce_alias_anchor_ratio = false;
    budget.max_recorded_anchor_events = 200_000;
    let mut options = serde_saphyr::options! { with_snippet: false };
    options.strict_booleans = true;
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = MAX_REPLAYED_EVENTS;
    options
}

/// Options for the first, faster try at a parse: repeated keys are passed through to the
/// types instead of tracked in a set for every mapping, and `<<` is an ordinary key instead of
/// a merge (a tenth of the parse time). A workflow parsed so counts only when
/// [`keys_are_distinct_words`] holds for it; otherwise it is parsed again with
/// [`parser_options`], which reports repeated keys and applies merges.
pub(crate) fn fast_parser_options() -> Options {
    let mut options = parser_options();
    options.duplicate_keys = DuplicateKeyPolicy::PassThrough;
    options.merge_keys = MergeKeyPolicy::AsOrdinary;
    options
}

/// Whether a workflow parsed with [`fast_parser_options`] is the one [`parser_options`]
/// gives: every key of its tasks and `env` mappings is a plain word (which YAML reads as
/// that very string, so two keys are the same YAML key exactly when their texts are equal)
/// and no mapping has one twice. Repeated fields of the other mappings are already refused
/// by the types, and so is `<<`, which is no field name.
fn keys_are_distinct_words(workflow: &RawWorkflow) -> bool {
    let tasks = &workflow.tasks.value;
    let shared_envs = [
        workflow.env.as_ref(),
        workflow
            .defaults
            .as_ref()
            .and_then(|defaults| defaults.env.as_ref()),
    ];
    let task_envs = tasks
        .values()
        .filter_map(|task| task.value.as_ref()?.env.as_deref());
    let matrices = tasks
        .values()
        .filter_map(|task| task.value.as_ref()?.matrix.as_ref());
    distinct_words(tasks.keys())
        && shared_envs
            .into_iter()
            .flatten()
            .chain(task_envs)
            .all(|env| distinct_words(env.keys()))
        && workflow
            .vars
            .as_ref()
            .is_none_or(|vars| distinct_words(vars.keys()))
        && workflow
            .pools
            .as_ref()
            .is_none_or(|pools| distinct_words(pools.keys()))
        && matrices
            .into_iter()
            .all(|matrix| distinct_words(matrix.value.keys()))
}

/// Whether the keys are all plain words ([`is_plain_word`]), no two the same.
fn distinct_words<'k>(keys: impl ExactSizeIterator<Item = &'k Spanned<String>>) -> bool {
    let mut seen = FxHashSet::with_capacity_and_hasher(keys.len(), FxBuildHasher);
    keys.into_iter()
        .all(|key| is_plain_word(&key.value) && seen.insert(key.value.as_str()))
}

/// Whether `text`, written as a plain YAML scalar, is read as that string: a letter or `_`,
/// then letters, digits, `_`, `-` and `.`, and not a word YAML 1.2's core schema reads as
/// null, a boolean or a number.
fn is_plain_word(text: &str) -> bool {
    const NOT_STRINGS: &[&str] = &["null", "true", "false", "inf", "nan", "infinity"];
    text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'.'))
        && !NOT_STRINGS
            .iter()
            .any(|word| word.eq_ignore_ascii_case(text))
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
    // A large file is parsed in chunks on several threads when that is provably the same;
    // otherwise, and on any problem, it is parsed whole below.
    let parts = chunked::chunk_count(source.text().len(), parse_threads);
    if parts > 1 {
        if let Some(workflow) = chunked::parse_chunked(source.text(), parts) {
            return Ok(workflow);
        }
    } else if let Ok(workflow) =
        serde_saphyr::from_str_with_options::<RawWorkflow>(source.text(), fast_parser_options())
    {
        if keys_are_distinct_words(&workflow) {
            return Ok(workflow);
        }
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

/// The threads a parse may use: the CPUs this process may use (cgroup quotas included).
fn parse_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
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
    // The parser appends ` at line L, column C` (and may add more places after it, as for an
    // alias); the location is shown separately.
    let message = text
        .split_once(" at line ")
        .map_or(text.as_str(), |(message, _)| message)
        .to_owned();
    let (kind, message, hint) = match error {
        Error::Budget {
            breach: BudgetBreach::Depth { .. },
            ..
        } => (
            DiagnosticKind::TooComplex,
            format!(
                "the file is nested too deeply: more than {MAX_DEPTH} levels of lists and mappings"
            ),
            "a workflow needs at most a few levels of nesting",
        ),
        Error::Budget {
            breach:
                BudgetBreach::Aliases { .. }
                | BudgetBreach::Anchors { .. }
                | BudgetBreach::AliasAnchorRatio { .. }
                | BudgetBreach::RecordedAnchorEvents { .. }
                | BudgetBreach::RecordedAnchorBytes { .. },
            ..
        }
        | Error::AliasError { .. }
        | Error::AliasReplayLimitExceeded { .. }
        | Error::AliasExpansionLimitExceeded { .. }
        | Error::AliasReplayStackDepthExceeded { .. } => (
            DiagnosticKind::TooComplex,
            "the file uses too many YAML aliases and anchors to expand safely".to_owned(),
            "a workflow needs neither deep nesting nor many YAML aliases; write the values out",
        ),
        Error::Budget { .. } => (
            DiagnosticKind::TooComplex,
            format!("the file is too large to parse safely: {message}"),
            "split the workflow into smaller files",
        ),
        Error::MultipleDocuments { .. } => (
            DiagnosticKind::Syntax,
            "the file holds more than one YAML document".to_owned(),
            "a workflow is one YAML document: remove the `---` before this line and merge the parts",
        ),
        Error::DuplicateMappingKey { key, .. } => (
            DiagnosticKind::DuplicateKey,
            format!(
                "key `{}` appears twice in one mapping",
                key.as_deref().unwrap_or("?")
            ),
            "remove or rename one of them",
        ),
        // A value the typed parse refused that the structural check let through, such as
        // `depends_on: 5`: a type problem, not a syntax one. Checked before `tab`, since the
        // message quotes the user's value.
        _ if message.starts_with("invalid type: ") || message.starts_with("invalid value: ") => (
            DiagnosticKind::WrongType,
            format!(
                "wrong type: {}",
                message
                    .split_once(": ")
                    .map_or(message.as_str(), |(_, rest)| rest)
            ),
            "`engine schema` shows what each field accepts",
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
    let in_flow = message.contains("flow");
    let mut diagnostic = Diagnostic::error(kind, message).hint(hint);
    if let Some(location) = error.location() {
        let mut span = location_span(source, location);
        if kind == DiagnosticKind::Tab {
            span = tab_before(source.text(), span);
        }
        if kind == DiagnosticKind::Syntax
            && let Some((at, template)) = template_in_flow(source.text(), span, in_flow)
        {
            let what = if source.text()[..at].rfind("matrix:") > source.text()[..at].rfind('\n') {
                "the matrix"
            } else {
                "the mapping or list"
            };
            return Diagnostic::error(
                kind,
                "invalid YAML: a `${{ }}` template inside `{ }` or `[ ]` is read as YAML's own braces",
            )
            .at(Span::new(at, template.len()), Some("unquoted template in a flow collection".into()))
            .hint(format!(
                "quote the value (`'{}'`) or write {what} in block style, one entry per line",
                template.replace('\'', "''")
            ));
        }
        if kind == DiagnosticKind::Syntax && selector_in_flow(source.text(), span) {
            diagnostic = diagnostic.hint(
                "inside a `[...]` list, `name[key]` reads as a nested list: quote it \
                 (`[\"map_reads[sample]\"]`) or write the list in block style (`- map_reads[sample]`, \
                 one per line)",
            );
        }
        diagnostic = diagnostic.at(span, None);
    }
    diagnostic
}

/// When a YAML error at `span` sits at an unquoted `${{` inside a flow mapping or sequence
/// (`matrix: { src: ${{ glob("*.c") }} }`), where the template starts and its text up to its
/// `}}` (or the line's end). `in_flow`: the parser said it was reading a flow collection.
fn template_in_flow(text: &str, span: Span, in_flow: bool) -> Option<(usize, &str)> {
    let offset = span.offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |at| at + 1);
    let line_end = text[offset..]
        .find('\n')
        .map_or(text.len(), |at| offset + at);
    let line = &text[line_start..line_end];
    // The parser stops at the `{` after the `$`, or at the `$`.
    let near = offset - line_start;
    let start = [near.checked_sub(1), Some(near)]
        .into_iter()
        .flatten()
        .find(|&at| line.get(at..).is_some_and(|rest| rest.starts_with("${{")))?;
    // Only inside a flow collection: an unclosed `{` or `[` before it on the line.
    let before = &line[..start];
    let opened = before.matches(['{', '[']).count() > before.matches(['}', ']']).count();
    if !opened && !in_flow {
        return None;
    }
    let rest = &line[start..];
    let end = rest.find("}}").map_or(rest.len(), |at| at + 2);
    Some((line_start + start, &rest[..end]))
}

/// The parser places a tab error at the token after the tab; point at the tab itself, the
/// last one before `span` on its line, when there is one.
fn tab_before(text: &str, span: Span) -> Span {
    let end = span.offset.min(text.len());
    let line_start = text[..end].rfind('\n').map_or(0, |at| at + 1);
    text[line_start..end]
        .rfind('\t')
        .map_or(span, |at| Span::new(line_start + at, 1))
}

/// Whether the parser stopped at a `[` that follows a name, as in `[map_reads[sample]]`: a
/// selector written unquoted in a flow sequence.
fn selector_in_flow(text: &str, span: Span) -> bool {
    let at = span.offset.min(text.len());
    text[at..].starts_with('[')
        && text[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn syntax_hint(message: &str) -> &'static str {
    if message.contains("end of input") || message.contains("flow") || message.contains("unclosed")
    {
        "check that every `[` and `{` is closed and every quote ends"
    } else if message.contains("mapping values are not allowed") {
        "a `: ` inside a value starts a new key: quote the value, or write it as a block (`run: |` and the command on the next lines)"
    } else if message.contains("mapping values")
        || message.contains("indent")
        || message.contains("expected key")
    {
        "check the indentation: keys of one mapping start in the same column"
    } else {
        "check the YAML syntax around this place"
    }
}

#[cfg(test)]
pub(crate) mod tests;
