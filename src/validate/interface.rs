//! A task's command-line interface (`manual`, `aliases`, `group`, `confirm`) and its
//! preconditions (`requires`), and the check that no alias is another task's name or alias.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::names::{is_task_name, task_name_like};
use super::validator::{Entry, Validator};
use crate::diagnostic::{Diagnostic, DiagnosticKind};
use crate::model::{Command, Interface, Isolation, Requirement};
use crate::parse::RawTask;

impl Validator<'_> {
    /// The `aliases`, `group` and `confirm` of a task (`None` without any), and its
    /// `requires`.
    pub(super) fn interface(
        &mut self,
        raw: &RawTask,
        task: &str,
        isolation: Isolation,
        command: &Command,
    ) -> (Option<Arc<Interface>>, Arc<[Requirement]>) {
        let aliases: Vec<String> = raw
            .aliases
            .as_deref()
            .map(|aliases| aliases.value.iter().map(|a| a.value.clone()).collect())
            .unwrap_or_default();
        let group = raw
            .group
            .as_deref()
            .map(|group| group.value.trim().to_owned());
        if let Some(written) = raw.group.as_deref().filter(|g| g.value.trim().is_empty()) {
            self.push(
                Diagnostic::error(
                    DiagnosticKind::InvalidSetting,
                    format!("`group` of task `{task}` is empty"),
                )
                .at(
                    self.span(written),
                    Some("a heading for `engine list`".into()),
                )
                .hint("write a heading like `group: release`, or leave `group` out"),
            );
        }
        let confirm = raw.confirm.as_deref().map(|q| q.value.trim().to_owned());
        if let Some(written) = raw.confirm.as_deref().filter(|q| q.value.trim().is_empty()) {
            self.push(
                Diagnostic::error(
                    DiagnosticKind::InvalidSetting,
                    format!("`confirm` of task `{task}` is empty"),
                )
                .at(self.span(written), Some("the question to ask".into()))
                .hint("write the question, like `confirm: \"Deploy to production?\"`"),
            );
        }
        let interface = (!aliases.is_empty() || group.is_some() || confirm.is_some()).then(|| {
            Arc::new(Interface {
                aliases,
                group,
                confirm,
            })
        });
        (interface, self.requires(raw, task, isolation, command))
    }

    /// A task's `requires`: commands without templates, on a process task with a command.
    fn requires(
        &mut self,
        raw: &RawTask,
        task: &str,
        isolation: Isolation,
        command: &Command,
    ) -> Arc<[Requirement]> {
        let Some(written) = raw.requires.as_deref() else {
            return Arc::from(Vec::new());
        };
        let runs_a_process = isolation == Isolation::Process && !matches!(command, Command::None);
        if !runs_a_process && !written.value.is_empty() {
            let hint = if matches!(command, Command::None) {
                "a task without a command starts no process to check them in: put `requires` on a task it depends on"
            } else {
                "they are checked in the task's process: give the task `isolation: process`"
            };
            self.push(
                Diagnostic::error(
                    DiagnosticKind::InvalidSetting,
                    format!("`requires` of task `{task}` needs a process task"),
                )
                .at(
                    self.span(written),
                    Some("checked in the task's process".into()),
                )
                .hint(hint),
            );
        }
        let mut requires = Vec::with_capacity(written.value.len());
        for requirement in &written.value {
            let run = requirement.run.value.trim();
            let problem = if run.is_empty() {
                Some((
                    "is empty",
                    "write a command that fails when the task cannot run, like `test -f .env`",
                ))
            } else if run.contains("${{") {
                Some((
                    "has a template, which `requires` does not fill in",
                    "write the command without `${{ }}`; the task's environment variables work: `test -n \"$TOKEN\"`",
                ))
            } else {
                None
            };
            if let Some((what, hint)) = problem {
                self.push(
                    Diagnostic::error(
                        DiagnosticKind::InvalidSetting,
                        format!("a `requires` command of task `{task}` {what}"),
                    )
                    .at(self.span(&requirement.run), Some("a shell command".into()))
                    .hint(hint),
                );
            }
            let message = requirement
                .message
                .as_deref()
                .map(str::trim)
                .filter(|message| !message.is_empty())
                .map_or_else(|| format!("`{run}` failed"), str::to_owned);
            requires.push(Requirement {
                run: run.to_owned(),
                message,
            });
        }
        requires.into()
    }

    /// Every alias is a valid name, and none is a task's name or another alias.
    pub(super) fn check_aliases(&mut self, entries: &[Entry<'_>]) {
        let names: FxHashMap<&str, usize> = entries
            .iter()
            .enumerate()
            .map(|(index, entry)| (entry.name.value.as_str(), index))
            .collect();
        let mut seen: FxHashMap<&str, usize> = FxHashMap::default();
        // The instances of a task with parameters share its entry's text: checked once.
        let mut checked: rustc_hash::FxHashSet<(usize, &str)> = rustc_hash::FxHashSet::default();
        for (index, entry) in entries.iter().enumerate() {
            let Some(aliases) = entry.raw.aliases.as_deref() else {
                continue;
            };
            if !checked.insert((entry.file, entry.name.value.as_str())) {
                continue;
            }
            self.current = entry.file;
            let task = entry.name.value.as_str();
            for alias in &aliases.value {
                let span = self.span(alias);
                let text = alias.value.as_str();
                if !is_task_name(text) {
                    self.push(
                        Diagnostic::error(
                            DiagnosticKind::InvalidTaskName,
                            format!("invalid alias `{text}` of task `{task}`"),
                        )
                        .at(span, Some("aliases follow the rule of task names".into()))
                        .hint(format!(
                            "start with a lowercase letter and use only `a-z`, `0-9` and `_`, like `{}`",
                            task_name_like(text)
                        )),
                    );
                    continue;
                }
                if let Some(&other) = names.get(text) {
                    let what = if other == index {
                        format!("alias `{text}` of task `{task}` is its own name")
                    } else {
                        format!("alias `{text}` of task `{task}` is the name of another task")
                    };
                    self.push(
                        Diagnostic::error(DiagnosticKind::DuplicateTask, what)
                            .at(span, Some("already a task's name".into()))
                            .hint(format!(
                                "`engine run {text}` must mean one task: choose another alias"
                            )),
                    );
                    continue;
                }
                if let Some(&other) = seen.get(text) {
                    let other = entries[other].name.value.as_str();
                    let what = if other == task {
                        format!("task `{task}` lists the alias `{text}` twice")
                    } else {
                        format!("alias `{text}` of task `{task}` is also an alias of `{other}`")
                    };
                    self.push(
                        Diagnostic::error(DiagnosticKind::DuplicateTask, what)
                            .at(span, Some("already an alias".into()))
                            .hint(format!(
                                "`engine run {text}` must mean one task: keep one of them"
                            )),
                    );
                    continue;
                }
                seen.insert(text, index);
            }
        }
    }
}
