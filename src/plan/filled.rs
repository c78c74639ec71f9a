//! The commands of a plan with their templates filled in as far as they can be before the
//! run: variables, the environment and matrix values are known; results are not, and show
//! as `<tasks.build.results.tag>`.

use std::cell::OnceCell;

use rhai::Map;

use crate::model::{Task, Workflow};
use crate::template::{Context, Evaluator, Masker, Part, Root, Template, references};

/// Fills in templates for the plan; the evaluator is made on the first template.
pub struct Filler<'a> {
    workflow: &'a Workflow,
    evaluator: OnceCell<(Evaluator, Map, Map, Option<Masker>)>,
}

impl<'a> Filler<'a> {
    /// A filler for the tasks of `workflow`.
    #[must_use]
    pub fn new(workflow: &'a Workflow) -> Self {
        Self {
            workflow,
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
        let (evaluator, vars, process_env, masker) = self.evaluator.get_or_init(|| {
            let vars = self
                .workflow
                .vars
                .iter()
                .map(|(name, value)| (name.as_str().into(), value.to_dynamic()))
                .collect();
            let env = std::env::vars()
                .map(|(name, value)| (name.into(), value.into()))
                .collect();
            // A secret is shown as `***`, as in a run: the same values are masked (those
            // known; a plan runs without them). A masker that cannot be built hides every
            // filled-in value.
            let secrets = self
                .workflow
                .secrets
                .iter()
                .flat_map(|name| self.workflow.secret_values(name));
            let masker = Masker::new(secrets).ok();
            (Evaluator::new(), vars, env, masker)
        });
        let mut env = process_env.clone();
        for (name, value) in task.env.iter() {
            env.insert(name.as_str().into(), value.clone().into());
        }
        let mut context = Context {
            vars: vars.clone(),
            env,
            matrix: task
                .matrix
                .iter()
                .map(|(key, value)| (key.as_str().into(), value.to_dynamic()))
                .collect(),
            ..Context::default()
        };
        context.remember_texts("vars", &self.workflow.vars);
        context.remember_texts("matrix", &task.matrix);
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
