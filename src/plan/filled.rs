//! The commands of a plan with their templates filled in as far as they can be before the
//! run: variables, the environment and matrix values are known; results are not, and show
//! as `<tasks.build.results.tag>`. The values come from `Templating`, as in a run; secrets
//! are masked by the workflow's masker.

use std::cell::OnceCell;

use super::Graph;
use super::fill::{Scope, Templating};
use crate::model::{Task, Workflow};
use crate::template::{DependencyStatus, Evaluator, Masker, Part, Root, Template, references};

/// Fills in templates for the plan; the evaluator is made on the first template.
pub struct Filler<'a> {
    scope: Scope<'a>,
    templating: Templating,
    evaluator: OnceCell<(Evaluator, Option<Masker>)>,
}

impl<'a> Filler<'a> {
    /// A filler for the tasks of `graph`.
    #[must_use]
    pub fn new(workflow: &'a Workflow, graph: &'a Graph) -> Self {
        Self {
            scope: Scope { workflow, graph },
            templating: Templating::new(),
            evaluator: OnceCell::new(),
        }
    }

    /// The task's command (`run` or `script`) as it would run, or `None` without templates.
    #[must_use]
    pub fn command(&self, task: &Task) -> Option<String> {
        let template = task.templates.as_ref()?.command.as_ref()?;
        Some(self.fill(task, template))
    }

    fn fill(&self, task: &Task, template: &Template) -> String {
        let (evaluator, masker) = self.evaluator.get_or_init(|| {
            // A secret is shown as `***`, as in a run: the same values are masked (those
            // known; a plan runs without them). A masker that cannot be built hides every
            // filled-in value.
            let masker = self.scope.workflow.known_secrets_masker().ok();
            (Evaluator::new(), masker)
        });
        // Before the run no task has ended: `tasks` is empty and reads of it are shown as
        // they are written.
        let context = self
            .templating
            .context(self.scope, task, &[], DependencyStatus::SUCCEEDED);
        let mut out = String::new();
        for part in &template.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Expr(expr) => {
                    let reads_tasks = references(expr)
                        .iter()
                        .any(|reference| reference.root == Root::Tasks);
                    let alone = Template {
                        parts: vec![Part::Expr(expr.clone())],
                        flavor: template.flavor,
                    };
                    match evaluator.render(&alone, &context) {
                        Ok(text) if !reads_tasks => match masker {
                            Some(masker) => out.push_str(&masker.mask(&text)),
                            None => out.push_str("***"),
                        },
                        // Known only once the run is under way.
                        _ => {
                            out.push('<');
                            out.push_str(&expr.source);
                            out.push('>');
                        }
                    }
                }
            }
        }
        out
    }
}
