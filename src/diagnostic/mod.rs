//! Problems found in a workflow file, with their locations, and their rendering for people
//! (miette, with the source line and carets) and for tools (JSON).

mod problem;
mod render;
mod source;

pub use problem::{Diagnostic, DiagnosticKind, Label, Severity, Span, suggest};
pub use render::{Report, render_human, render_json};
pub use source::Source;

#[cfg(test)]
mod snapshot_tests;
