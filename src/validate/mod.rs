//! Validation: `RawWorkflow` to the `Workflow` model. Every problem in the file is collected
//! in one pass, each with its location and a hint; nothing runs unless this succeeds.

mod cycles;
mod dependencies;
mod files;
mod interface;
mod matrix;
mod names;
mod params;
mod script;
mod settings;
mod slurm;
mod templates;
mod validator;

pub use matrix::{combinations, expansion_name};
pub use settings::override_var;
pub use validator::{
    File, validate_files, validate_files_requested, validate_files_warned, validate_workflow,
};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_saphyr::Spanned;

use crate::diagnostic::{Diagnostic, DiagnosticKind, Report, Source};
use crate::model::{Given, Workflow};
use crate::parse::{RawInclude, RawWorkflow, location_span, parse_workflow};

/// Loads a workflow file and the files it includes: read, parse, validate.
///
/// # Errors
/// A report for each file with problems, every problem located.
pub fn load_workflow(path: &Path) -> Result<Workflow, Vec<Report>> {
    load_workflow_warned(path).map(|(workflow, _)| workflow)
}

/// Like `load_workflow`, and also returns the warnings of a valid workflow, one report per
/// file that has any.
///
/// # Errors
/// A report for each file with problems, every problem located.
pub fn load_workflow_warned(path: &Path) -> Result<(Workflow, Vec<Report>), Vec<Report>> {
    load_workflow_requested(path, &[])
}

/// Like `load_workflow_warned`, with the instances of tasks with parameters that the
/// command line asks for (task as written and the values given, checked already).
///
/// # Errors
/// A report for each file with problems, every problem located.
pub fn load_workflow_requested(
    path: &Path,
    requests: &[(String, Given)],
) -> Result<(Workflow, Vec<Report>), Vec<Report>> {
    let (sources, raws, namespaces) = load_files(path)?;
    let files = sources
        .iter()
        .zip(raws)
        .zip(namespaces)
        .map(|((source, raw), namespace)| File {
            source: source.as_ref(),
            raw,
            namespace,
        })
        .collect();
    validate_files_requested(files, requests)
        .map(|(workflow, warnings)| (workflow, reports(&sources, warnings)))
        .map_err(|found| reports(&sources, found))
}

/// The files a workflow is made of, as far as they can be read now: the file itself, the
/// files it includes (depth first) and each one's `env_file`. Watch mode reloads the
/// workflow when one of them changes. A file that cannot be read or parsed ends the list
/// where it stands (the main file is always in it).
#[must_use]
pub fn workflow_files(path: &Path) -> Vec<PathBuf> {
    let mut files = vec![path.to_path_buf()];
    let Ok((sources, raws, _)) = load_files(path) else {
        return files;
    };
    for (source, raw) in sources.iter().zip(&raws) {
        let dir = source.path().parent().unwrap_or_else(|| Path::new(""));
        if source.path() != path {
            files.push(source.path().to_path_buf());
        }
        if let Some(env_file) = &raw.env_file {
            files.push(dir.join(&env_file.value));
        }
    }
    files
}

/// The files of a workflow, read and parsed, the main one first, with the namespace of
/// each (`docs:` for `include: { docs: ... }`, empty for the main file and a list's).
type Loaded = (Vec<Arc<Source>>, Vec<RawWorkflow>, Vec<String>);

/// Reads and parses a workflow file and, depth first, every file it includes, each once.
fn load_files(path: &Path) -> Result<Loaded, Vec<Report>> {
    let main = Arc::new(read_source(path).map_err(|report| vec![report])?);
    let raw = parse_workflow(&main).map_err(|diagnostics| {
        vec![Report {
            source: Arc::clone(&main),
            diagnostics,
        }]
    })?;
    let mut sources = vec![main];
    let mut raws = vec![raw];
    let mut namespaces = vec![String::new()];
    let mut problems: Vec<(usize, Diagnostic)> = Vec::new();
    let mut failed: Vec<Report> = Vec::new();
    let mut next = 0;
    while next < raws.len() {
        let includes: Vec<(String, Spanned<String>)> = match raws[next].include.take() {
            None => Vec::new(),
            Some(RawInclude::Flat(files)) => files
                .into_iter()
                .map(|file| (namespaces[next].clone(), file))
                .collect(),
            Some(RawInclude::Namespaced(files)) => {
                let mut out = Vec::with_capacity(files.len());
                for (name, file) in files {
                    if !is_namespace(&name.value) {
                        let span = location_span(&sources[next], name.referenced);
                        problems.push((
                            next,
                            Diagnostic::error(
                                DiagnosticKind::InvalidInclude,
                                format!("invalid namespace `{}`", name.value),
                            )
                            .at(span, Some("not a name".into()))
                            .hint("a namespace is lowercase letters, digits, `_` and `-`, starting with a letter, like `docs`"),
                        ));
                        continue;
                    }
                    out.push((format!("{}{}:", namespaces[next], name.value), file));
                }
                out
            }
        };
        let dir = sources[next]
            .path()
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        for (namespace, include) in includes {
            let path = dir.join(&include.value);
            let canonical = std::fs::canonicalize(&path).ok();
            // A file joins once per namespace: included twice under two names, its tasks are
            // there twice.
            let known = sources.iter().zip(&namespaces).any(|(source, known)| {
                *known == namespace
                    && canonical.as_deref().is_some_and(|c| {
                        std::fs::canonicalize(source.path()).ok().as_deref() == Some(c)
                    })
            });
            if known {
                continue;
            }
            // Shown as the user would write it: next to the including file's shown name.
            let shown = Path::new(sources[next].name()).parent().map_or_else(
                || PathBuf::from(&include.value),
                |dir| dir.join(&include.value),
            );
            let source = match read_source_as(&path, shown.display().to_string()) {
                Ok(source) => Arc::new(source),
                Err(report) => {
                    let why = report
                        .diagnostics
                        .first()
                        .map_or_else(String::new, |d| d.message.clone());
                    let span = location_span(&sources[next], include.referenced);
                    problems.push((
                        next,
                        Diagnostic::error(
                            DiagnosticKind::InvalidInclude,
                            format!("cannot include `{}`: {why}", include.value),
                        )
                        .at(span, None)
                        .hint("`include` paths are relative to the file that includes them"),
                    ));
                    continue;
                }
            };
            match parse_workflow(&source) {
                Ok(raw) => {
                    sources.push(source);
                    raws.push(raw);
                    namespaces.push(namespace);
                }
                Err(diagnostics) => failed.push(Report {
                    source,
                    diagnostics,
                }),
            }
        }
        next += 1;
    }
    if problems.is_empty() && failed.is_empty() {
        return Ok((sources, raws, namespaces));
    }
    let mut all = reports(&sources, problems);
    all.extend(failed);
    Err(all)
}

/// A namespace's name: a lowercase letter, then lowercase letters, digits, `_` and `-`.
fn is_namespace(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Diagnostics grouped into one report per file, in file order.
fn reports(sources: &[Arc<Source>], found: Vec<(usize, Diagnostic)>) -> Vec<Report> {
    let mut reports: Vec<Report> = Vec::new();
    for (file, source) in sources.iter().enumerate() {
        let diagnostics: Vec<Diagnostic> = found
            .iter()
            .filter(|(at, _)| *at == file)
            .map(|(_, diagnostic)| diagnostic.clone())
            .collect();
        if !diagnostics.is_empty() {
            reports.push(Report {
                source: Arc::clone(source),
                diagnostics,
            });
        }
    }
    reports
}

/// Reads a workflow file as UTF-8 text.
///
/// # Errors
/// A report when the file cannot be read or is not UTF-8.
pub fn read_source(path: &Path) -> Result<Source, Report> {
    read_source_as(path, path.display().to_string())
}

/// What a path that is neither a regular file nor a directory is (a directory gets its own
/// message when it fails to be read).
fn not_a_file(metadata: &std::fs::Metadata) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let kind = metadata.file_type();
    if kind.is_file() || kind.is_dir() {
        None
    } else if kind.is_fifo() {
        Some("a pipe")
    } else if kind.is_char_device() || kind.is_block_device() {
        Some("a device")
    } else if kind.is_socket() {
        Some("a socket")
    } else {
        Some("not a regular file")
    }
}

/// Reads a workflow file as UTF-8 text, shown to users as `name`.
fn read_source_as(path: &Path, name: String) -> Result<Source, Report> {
    use crate::diagnostic::Span;

    // Tasks resolve `cwd` against the workflow's directory and child processes get the
    // workflow's path, so keep it absolute; messages show the path as the user gave it.
    let path = &std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    // A pipe or a device (`/dev/stdin`, a FIFO) is read once and has no directory to keep a
    // run's state in: only a file is a workflow.
    let metadata = std::fs::metadata(path);
    if let Ok(metadata) = &metadata {
        crate::files::observe::file(path, metadata);
    }
    if let Some(what) = metadata.ok().and_then(|m| not_a_file(&m)) {
        let diagnostic = Diagnostic::error(
            DiagnosticKind::Unreadable,
            format!("`{name}` is {what}, not a workflow file"),
        )
        .hint("save the workflow in a file (`cat > workflow.yaml`) and give that file's path");
        let source = Arc::new(Source::new(path.clone(), name, ""));
        return Err(Report {
            source,
            diagnostics: vec![diagnostic],
        });
    }
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) => {
            let (message, hint) = match error.kind() {
                std::io::ErrorKind::NotFound => (
                    format!("`{name}` does not exist"),
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
            let source = Arc::new(Source::new(path.clone(), name, ""));
            return Err(Report {
                source,
                diagnostics: vec![diagnostic],
            });
        }
    };
    match String::from_utf8(bytes) {
        Ok(text) => {
            crate::files::observe::source_text(&text);
            Ok(Source::new(path.clone(), name, text))
        }
        Err(error) => {
            let valid = error.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(error.as_bytes()).into_owned();
            // Offsets shift where the lossy text replaced bytes; the first bad byte is at
            // `valid` in both, since everything before it is unchanged.
            let source = Arc::new(Source::new(path.clone(), name, text));
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
