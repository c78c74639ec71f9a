//! The secrets of a workflow as `engine run` needs them: every one has a value (else the run
//! is refused before anything starts), and one masker hides all their values in output,
//! logs, results and events.

use crate::error::EngineError;

/// The masker of the workflow's secrets, whose values come from the engine's environment or
/// the workflow's own `env` (`Workflow::secret_values`).
///
/// # Errors
/// A usage error naming a secret that has no value, or an empty one.
pub(crate) fn secrets_masker(
    workflow: &crate::model::Workflow,
) -> Result<crate::template::Masker, EngineError> {
    let mut all = Vec::with_capacity(workflow.secrets.len());
    for name in &workflow.secrets {
        let values = workflow.secret_values(name);
        let problem = if values.is_empty() {
            "has no value"
        } else if values.iter().any(String::is_empty) {
            "is empty"
        } else {
            all.extend(values);
            continue;
        };
        return Err(EngineError::Usage {
            message: format!("secret `{name}` {problem}"),
            hint: Some(format!(
                "set `{name}` to its value in the environment (or in the workflow's `env_file`) before `engine run`"
            )),
        });
    }
    crate::template::Masker::new(all).map_err(|error| EngineError::Usage {
        message: error.to_string(),
        hint: None,
    })
}
