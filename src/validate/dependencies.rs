//! `depends_on`: each entry (a task, one matrix expansion, or a selector `name[key=value]`)
//! resolved to task ids for each item of the depending task, with its problems located.
//! Templated selectors are evaluated here, once per item, from `matrix` and `vars` only.

use rustc_hash::{FxHashMap, FxHashSet};
use serde_saphyr::Spanned;

use super::validator::{Entry, Validator};
use crate::diagnostic::{Diagnostic, DiagnosticKind, Span, suggest};
use crate::model::{Pick, Selector, TaskId, Value, item_matches};
use crate::template::{self, Context, Evaluator, Flavor, Part, Root, Template};

use super::templates::Uses;

/// The lookups of task names while dependencies are resolved.
pub(super) struct Lookup<'e, 'r> {
    pub(super) entries: &'e [Entry<'r>],
    /// Task names (as written, or an instance's) to their entry.
    pub(super) groups: &'e FxHashMap<&'e str, usize>,
    /// Matrix expansion names to their task.
    pub(super) expanded: &'e FxHashMap<&'e str, TaskId>,
    /// Task names, by entry.
    pub(super) names: &'e [&'e str],
}

impl Lookup<'_, '_> {
    /// The entry a task id belongs to.
    pub(super) fn entry_of(&self, id: TaskId) -> usize {
        self.entries
            .partition_point(|entry| entry.first <= id.0)
            .saturating_sub(1)
    }
}

/// What one `depends_on` entry names.
enum Target {
    /// Every item of a task (or the task itself).
    Whole(usize),
    /// One matrix expansion, by its full name.
    One(usize, TaskId),
    /// The items a selector picks, per item of the depending task.
    Picked(usize, Selector),
}

impl Target {
    fn entry(&self) -> usize {
        match self {
            Self::Whole(index) | Self::One(index, _) | Self::Picked(index, _) => *index,
        }
    }
}

/// The dependencies of one written task.
pub(super) struct Dependencies {
    /// The task ids each item waits for (one list without a matrix), without repeats.
    pub(super) per_item: Vec<Vec<TaskId>>,
    /// Edges between written tasks, for the cycle check.
    pub(super) edges: Vec<(usize, Span)>,
}

impl Validator<'_> {
    /// The dependencies of one task as task ids, per item of its matrix, and as edges
    /// between written tasks for the cycle check.
    pub(super) fn dependencies(
        &mut self,
        entry: &Entry<'_>,
        lookup: &Lookup<'_, '_>,
        vars: &[(String, Value)],
    ) -> Dependencies {
        let mut per_item: Vec<Vec<TaskId>> = vec![Vec::new(); entry.count() as usize];
        let listed = &entry.instance.deps;
        let task_name = entry.task_name();
        let mut edges: Vec<(usize, Span)> = Vec::with_capacity(listed.len());
        let mut listed_names: Vec<(&str, Span)> = Vec::with_capacity(listed.len());
        for dep in listed {
            let span = self.span(dep);
            let Some(target) = self.target(task_name, dep, span, lookup) else {
                continue;
            };
            let index = target.entry();
            if std::ptr::eq(&raw const lookup.entries[index], entry) {
                self.push(
                    Diagnostic::error(
                        DiagnosticKind::SelfDependency,
                        format!("task `{task_name}` depends on itself"),
                    )
                    .at(span, Some("this is the task itself".into()))
                    .hint("remove it from `depends_on`"),
                );
                continue;
            }
            let text = dep.value.as_str();
            if let Some((_, first)) = listed_names.iter().find(|(other, _)| *other == text) {
                let first = *first;
                self.push(
                    Diagnostic::error(
                        DiagnosticKind::RepeatedDependency,
                        format!("task `{task_name}` lists `{text}` twice in `depends_on`"),
                    )
                    .at(span, Some("listed again here".into()))
                    .also(first, "first listed here")
                    .hint("remove the repeated name"),
                );
                continue;
            }
            listed_names.push((text, span));
            let found = &lookup.entries[index];
            match &target {
                Target::Whole(_) => {
                    for list in &mut per_item {
                        list.extend((found.first..found.first + found.count()).map(TaskId));
                    }
                }
                Target::One(_, id) => per_item.iter_mut().for_each(|list| list.push(*id)),
                Target::Picked(_, selector) => {
                    let Some(picked) = self.picked(entry, found, selector, dep, span, vars) else {
                        continue;
                    };
                    for (list, ids) in per_item.iter_mut().zip(picked) {
                        list.extend(ids);
                    }
                }
            }
            if !edges.iter().any(|(other, _)| *other == index) {
                edges.push((index, span));
            }
        }
        // A task listed both whole and by one expansion waits once for each.
        for list in &mut per_item {
            let mut seen = FxHashSet::default();
            list.retain(|id| seen.insert(*id));
        }
        Dependencies { per_item, edges }
    }

    /// What a `depends_on` entry names, or `None` (reported) when it names nothing.
    fn target(
        &mut self,
        task_name: &str,
        dep: &Spanned<String>,
        span: Span,
        lookup: &Lookup<'_, '_>,
    ) -> Option<Target> {
        let text = dep.value.as_str();
        if let Some(&index) = lookup.groups.get(text) {
            return Some(Target::Whole(index));
        }
        if let Some(&id) = lookup.expanded.get(text) {
            return Some(Target::One(lookup.entry_of(id), id));
        }
        let selector = match Selector::parse(text) {
            Ok(selector) => selector,
            Err(error) => {
                self.push(
                    Diagnostic::error(
                        DiagnosticKind::InvalidSelector,
                        format!(
                            "`{text}` in `depends_on` of `{task_name}` is not a selector: {error}"
                        ),
                    )
                    .at(
                        span,
                        Some("expected `name` or `name[key=value,...]`".into()),
                    )
                    .hint(SELECTOR_FORMS),
                );
                return None;
            }
        };
        if selector.picks.is_some()
            && let Some(&index) = lookup.groups.get(selector.name.as_str())
        {
            return Some(Target::Picked(index, selector));
        }
        // In a namespaced file, its own tasks are the likely meant ones.
        let own = format!("{}{}", self.namespaces[self.current], selector.name);
        let hint = suggest(
            &own,
            lookup.names.iter().copied().filter(|n| *n != task_name),
        )
        .unwrap_or_else(|| "`engine list FILE` shows the task names".to_owned());
        self.push(
            Diagnostic::error(
                DiagnosticKind::UnknownDependency,
                format!("task `{task_name}` depends on `{text}`, which is not a task"),
            )
            .at(span, Some("no task has this name".into()))
            .hint(hint),
        );
        None
    }

    /// The items of `target` that `selector` picks, for each item of `entry`; `None` when
    /// the selector is wrong (reported).
    fn picked(
        &mut self,
        entry: &Entry<'_>,
        target: &Entry<'_>,
        selector: &Selector,
        dep: &Spanned<String>,
        span: Span,
        vars: &[(String, Value)],
    ) -> Option<Vec<Vec<TaskId>>> {
        let task = entry.task_name();
        let name = selector.name.as_str();
        let Some(items) = target.combinations.as_deref() else {
            if target.expands.is_some() {
                self.push(
                    Diagnostic::error(
                        DiagnosticKind::InvalidSelector,
                        format!(
                            "task `{task}` selects items of `{name}`, whose items are made during the run"
                        ),
                    )
                    .at(span, Some("`[...]` selects items known when the workflow is loaded".into()))
                    .hint(format!(
                        "depend on `{name}` itself: it waits for every item its matrix makes"
                    )),
                );
                return None;
            }
            // An invalid matrix is reported where it is.
            if target.raw.matrix.is_none() {
                self.push(
                    Diagnostic::error(
                        DiagnosticKind::InvalidSelector,
                        format!("task `{task}` selects items of `{name}`, which has no matrix"),
                    )
                    .at(span, Some("`[...]` selects matrix items".into()))
                    .hint(format!("depend on `{name}` itself")),
                );
            }
            return None;
        };
        if entry.raw.matrix.is_some() && entry.combinations.is_none() {
            return None;
        }
        let own: Vec<&str> = key_names(entry.combinations.as_deref());
        let theirs: Vec<&str> = key_names(Some(items));
        let picks = selector.picks.as_deref().unwrap_or_default();
        if !self.check_picks(task, name, picks, &own, &theirs, span) {
            return None;
        }
        let templated = picks
            .iter()
            .any(|pick| matches!(pick, Pick::Template { .. }));
        let templates = if templated {
            self.pick_templates(entry, picks, dep, span, vars)?
        } else {
            Vec::new()
        };
        let ids_of = |wanted: &[(String, String)]| -> Vec<TaskId> {
            items
                .iter()
                .enumerate()
                .filter(|(_, item)| item_matches(item, wanted))
                .map(|(at, _)| TaskId(target.first + u32::try_from(at).unwrap_or(u32::MAX)))
                .collect()
        };
        if selector.is_static() {
            let wanted = wanted_of(picks, &[], &theirs, &[]);
            let ids = ids_of(&wanted);
            if ids.is_empty() {
                self.push(
                    Diagnostic::error(
                        DiagnosticKind::InvalidSelector,
                        format!("`{}` selects no item of `{name}`", dep.value),
                    )
                    .at(span, Some("no matrix item matches".into()))
                    .hint(values_hint(name, items, &theirs)),
                );
                return None;
            }
            return Some(vec![ids; entry.count() as usize]);
        }
        let evaluator = Evaluator::new();
        let vars_map: rhai::Map = vars
            .iter()
            .map(|(name, value)| (name.as_str().into(), value.to_dynamic()))
            .collect();
        let none: Vec<(String, Value)> = Vec::new();
        let own_items: Vec<&Vec<(String, Value)>> = match entry.combinations.as_ref() {
            Some(combinations) => combinations.iter().collect(),
            None => vec![&none],
        };
        let mut out = Vec::with_capacity(own_items.len());
        for item in own_items {
            let mut context = Context {
                vars: vars_map.clone(),
                matrix: item
                    .iter()
                    .map(|(key, value)| (key.as_str().into(), value.to_dynamic()))
                    .collect(),
                ..Context::default()
            };
            for (root, values) in [("vars", vars), ("matrix", item.as_slice())] {
                for (key, value) in values {
                    if let Some(text) = value.written() {
                        context.remember_text(root, key, text);
                    }
                }
            }
            let item_name = item_name(task, item);
            let mut filled = Vec::with_capacity(templates.len());
            for template in &templates {
                match evaluator.render(template, &context) {
                    Ok(text) => filled.push(text),
                    Err(error) => {
                        self.push(
                            Diagnostic::error(
                                DiagnosticKind::InvalidSelector,
                                format!("the selector `{}` of `{item_name}`: {error}", dep.value),
                            )
                            .at(span, None)
                            .hint("a selector's template reads `matrix` and `vars` and is evaluated when the workflow is loaded"),
                        );
                        return None;
                    }
                }
            }
            let wanted = wanted_of(picks, item, &theirs, &filled);
            let ids = ids_of(&wanted);
            if ids.is_empty() {
                let shown = wanted
                    .iter()
                    .map(|(key, value)| format!("{key}={value}"))
                    .collect::<Vec<_>>()
                    .join(",");
                self.push(
                    Diagnostic::error(
                        DiagnosticKind::InvalidSelector,
                        format!(
                            "`{}` selects no item of `{name}` for `{item_name}` (it asks for `{name}[{shown}]`)",
                            dep.value
                        ),
                    )
                    .at(span, Some("no matrix item matches".into()))
                    .hint(values_hint(name, items, &theirs)),
                );
                return None;
            }
            out.push(ids);
        }
        Some(out)
    }

    /// Checks the keys of a selector's picks against both matrices.
    fn check_picks(
        &mut self,
        task: &str,
        name: &str,
        picks: &[Pick],
        own: &[&str],
        theirs: &[&str],
        span: Span,
    ) -> bool {
        let mut valid = true;
        for pick in picks {
            let problem = match pick {
                Pick::Equals { key, .. } | Pick::Template { key, .. }
                    if !theirs.contains(&key.as_str()) =>
                {
                    Some(unknown_key(name, key, theirs))
                }
                Pick::Same(key) if !theirs.contains(&key.as_str()) => {
                    Some(unknown_key(name, key, theirs))
                }
                Pick::Same(key) if !own.contains(&key.as_str()) => Some((
                    format!(
                        "`{key}` alone selects by this item's `{key}`, but task `{task}` has no matrix key `{key}`"
                    ),
                    format!(
                        "write a value (`{name}[{key}=value]`), or add `{key}` to the matrix of `{task}`"
                    ),
                )),
                Pick::Shared if !own.iter().any(|key| theirs.contains(key)) => Some((
                    format!(
                        "`..` selects by the matrix keys `{task}` and `{name}` share, and they share none"
                    ),
                    format!(
                        "write `{name}` to depend on every item, or choose values: `{name}[{}=value]`",
                        theirs.first().copied().unwrap_or("key")
                    ),
                )),
                _ => None,
            };
            if let Some((message, hint)) = problem {
                valid = false;
                self.push(
                    Diagnostic::error(DiagnosticKind::InvalidSelector, message)
                        .at(span, None)
                        .hint(hint),
                );
            }
        }
        valid
    }

    /// The templates of a selector's `key=${{ }}` picks, in order, after checking what they
    /// read: only `matrix` (of the depending task) and `vars`.
    fn pick_templates(
        &mut self,
        entry: &Entry<'_>,
        picks: &[Pick],
        dep: &Spanned<String>,
        span: Span,
        vars: &[(String, Value)],
    ) -> Option<Vec<Template>> {
        let mut uses = Uses {
            vars,
            matrix: entry
                .raw
                .matrix
                .as_ref()
                .map(|matrix| matrix.value.keys().map(|key| key.value.clone()).collect()),
            tasks_allowed: true,
            tasks: Vec::new(),
            params: None,
        };
        // The whole entry as one template: its problems are located in the file.
        let whole = self.template(dep, Flavor::Plain, &mut uses)?;
        let mut valid = true;
        for part in &whole.parts {
            let Part::Expr(expr) = part else { continue };
            for reference in template::references(expr) {
                if matches!(reference.root, Root::Env | Root::Tasks) {
                    valid = false;
                    self.push(
                        Diagnostic::error(
                            DiagnosticKind::InvalidSelector,
                            format!(
                                "a selector cannot read `{}.{}`",
                                reference.root.name(),
                                reference.name
                            ),
                        )
                        .at(self.text_span(dep, &reference.span), Some("not known when the workflow is loaded".into()))
                        .hint("a selector is evaluated when the workflow is loaded: it reads `matrix` and `vars` only"),
                    );
                }
            }
        }
        if !valid {
            return None;
        }
        let mut templates = Vec::new();
        for pick in picks {
            if let Pick::Template { text, .. } = pick {
                match template::parse(text, Flavor::Plain) {
                    Ok(Some(parsed)) => templates.push(parsed),
                    _ => {
                        self.push(
                            Diagnostic::error(
                                DiagnosticKind::InvalidSelector,
                                format!("cannot read the template `{text}` of a selector"),
                            )
                            .at(span, None)
                            .hint(SELECTOR_FORMS),
                        );
                        return None;
                    }
                }
            }
        }
        Some(templates)
    }
}

/// The forms of a selector, for hints.
const SELECTOR_FORMS: &str = "select matrix items with `name[key=value]`, `name[key=${{ matrix.key }}]`, `name[key]` (this item's value of `key`) or `name[..]` (every shared key); quote the entry in a `[...]` list";

/// The keys of a matrix, from its first combination.
fn key_names(items: Option<&[Vec<(String, Value)>]>) -> Vec<&str> {
    items
        .and_then(<[_]>::first)
        .map(|item| item.iter().map(|(key, _)| key.as_str()).collect())
        .unwrap_or_default()
}

/// The `(key, value text)` pairs a selector asks of `target` for one depending `item`;
/// `filled` holds the values of its templates, in order.
fn wanted_of(
    picks: &[Pick],
    item: &[(String, Value)],
    theirs: &[&str],
    filled: &[String],
) -> Vec<(String, String)> {
    let value_of = |key: &str| {
        item.iter()
            .find(|(own, _)| own == key)
            .map(|(_, value)| value.to_string())
    };
    let mut filled = filled.iter();
    let mut wanted = Vec::new();
    for pick in picks {
        match pick {
            Pick::Equals { key, value } => wanted.push((key.clone(), value.clone())),
            Pick::Template { key, .. } => {
                if let Some(value) = filled.next() {
                    wanted.push((key.clone(), value.clone()));
                }
            }
            Pick::Same(key) => {
                if let Some(value) = value_of(key) {
                    wanted.push((key.clone(), value));
                }
            }
            Pick::Shared => {
                for key in theirs {
                    if let Some(value) = value_of(key) {
                        wanted.push(((*key).to_owned(), value));
                    }
                }
            }
        }
    }
    wanted
}

/// A task's item as its expansion name shows it (the task name without a matrix).
fn item_name(task: &str, item: &[(String, Value)]) -> String {
    if item.is_empty() {
        task.to_owned()
    } else {
        super::matrix::expansion_name(task, &item.to_vec())
    }
}

/// The message and hint for a selector key the target's matrix lacks.
fn unknown_key(name: &str, key: &str, theirs: &[&str]) -> (String, String) {
    (
        format!("task `{name}` has no matrix key `{key}`"),
        suggest(key, theirs.iter().copied())
            .unwrap_or_else(|| format!("the matrix of `{name}` has: {}", theirs.join(", "))),
    )
}

/// A hint listing the values of each key of `target`'s matrix.
fn values_hint(name: &str, items: &[Vec<(String, Value)>], keys: &[&str]) -> String {
    let mut parts = Vec::with_capacity(keys.len());
    for key in keys {
        let mut values: Vec<String> = Vec::new();
        for item in items {
            for (own, value) in item {
                let text = value.to_string();
                if own == key && !values.contains(&text) {
                    values.push(text);
                }
            }
        }
        let more = values.len() > 8;
        values.truncate(8);
        let mut shown = values.join(", ");
        if more {
            shown.push_str(", ...");
        }
        parts.push(format!("{key}: {shown}"));
    }
    format!(
        "the matrix of `{name}` has {}; values compare as written",
        parts.join("; ")
    )
}
