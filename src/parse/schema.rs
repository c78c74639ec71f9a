//! The JSON Schema of the workflow format, generated from the `Raw*` types.

use serde_json::Value;

use super::RawWorkflow;

/// The JSON Schema document of the workflow format (draft 2020-12), as committed in
/// `schemas/workflow.schema.json` and printed by `engine schema`.
#[must_use]
pub fn workflow_schema() -> Value {
    schemars::schema_for!(RawWorkflow).to_value()
}
