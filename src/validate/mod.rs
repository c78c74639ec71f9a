//! Validation: `RawWorkflow` to the `Workflow` model. Every problem in the file is collected
//! in one pass, each with its location and a hint; nothing runs unless this succeeds.

mod cycles;
mod names;
mod script;
mod slurm;
mod validator;

pub use validator::validate_workflow;

use std::path::Path;
use std::sync::Arc;

use crate::diagnostic::{Report, Source};
use crate::model::Workflow;
use crate::parse::parse_workflow;

/// Loads a workflow file: read, parse, validate.
///
/// # Errors
/// A report with every problem found, located in the file.
pub fn load_workflow(path: &Path) -> Result<Workflow, Report> {
    let source = Arc::new(read_source(path)?);
    let fail = |diagnostics| Report {
        source: Arc::clone(&source),
        diagnostics,
    };
    let raw = parse_workflow(&source).map_err(fail)?;
    validate_workflow(&source, raw).map_err(fail)
}

/// Reads a workflow file as UTF-8 text.
///
/// # Errors
/// A report when the file cannot be read or is not UTF-8.
pub fn read_source(path: &Path) -> Result<Source, Report> {
    use crate::diagnostic::{Diagnostic, DiagnosticKind, Span};

    let name = path.display().to_string();
    // Tasks resolve `cwd` against the workflow's directory and child processes get the
    // workflow's path, so keep it absolute; messages show the path as the user gave it.
    let path = &std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) => {
            let (message, hint) = match error.kind() {
                std::io::ErrorKind::NotFound => (
                    format!("no such file `{name}`"),
                    "check the path; workflow files usually end in `.yaml`".to_owned(),
                ),
                std::io::ErrorKind::PermissionDenied => (
                    format!("cannot read `{name}`: permission denied"),
                    "check the file's permissions".to_owned(),
                ),
                _ if path.is_dir() => (
                    format!("`{name}` is a directory, not a workflow file"),
                    "name the YAML file inside it".to_owned(),
                ),
                _ => (
                    format!("cannot read `{name}`: {error}"),
                    "check the path".to_owned(),
                ),
            };
            let diagnostic = Diagnostic::error(DiagnosticKind::Unreadable, message).hint(hint);
            let source = Arc::new(Source::new(path.to_path_buf(), name, ""));
            return Err(Report {
                source,
                diagnostics: vec![diagnostic],
            });
        }
    };
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Source::new(path.to_path_buf(), name, text)),
        Err(error) => {
            let valid = error.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(error.as_bytes()).into_owned();
            // Offsets shift where the lossy text replaced bytes; the first bad byte is at
            // `valid` in both, since everything before it is unchanged.
            let source = Arc::new(Source::new(path.to_path_buf(), name, text));
            let diagnostic = Diagnostic::error(
                DiagnosticKind::NotUtf8,
                format!("the file is not valid UTF-8 (first bad byte at offset {valid})"),
            )
            .at(Span::new(valid, 1), Some("not UTF-8".into()))
            .hint("save the file as UTF-8");
            Err(Report {
                source,
                diagnostics: vec![diagnostic],
            })
        }
    }
}
