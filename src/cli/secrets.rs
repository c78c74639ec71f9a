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
    workflow.secrets_masker().map_err(|error| EngineError::Usage {
        message: error.to_string(),
        hint: error.secret().map(|name| {
            format!(
                "set `{name}` to its value in the environment (or in the workflow's `env_file`) before `engine run`"
            )
        }),
    })
}
