//! A `RunReport` from the run record, and the report's file written. The record is read as
//! it is (never written); a file is only replaced when it is a report engine wrote.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;

use super::model::{RunReport, Sources};
use crate::files::to_hex;
use crate::model::Workflow;
use crate::record::store::{RunRow, files_from_json};
use crate::record::{Store, StoreError};
use crate::state_dir::StateDir;
use crate::template::Masker;

/// What the first bytes of a report engine wrote are.
const OWN_START: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";

/// The report of `run` of the workflow keyed `key` in `store`, its logs read from
/// `state_dir`; `workflow` is the workflow as it reads now, if it can be read.
///
/// # Errors
/// What the record said.
pub fn from_record(
    store: &Store,
    state_dir: &StateDir,
    key: &str,
    run: &RunRow,
    workflow: Option<&Workflow>,
    workflow_note: Option<String>,
    masker: &Masker,
) -> Result<RunReport, StoreError> {
    let attempts = store.attempts(&run.id)?;
    let made: FxHashMap<String, Vec<(String, String)>> = store
        .successes(key)?
        .into_iter()
        .filter(|(_, success)| success.run == run.id)
        .map(|(task, success)| {
            let files = files_from_json(&success.output_files)
                .into_iter()
                .map(|file| (file.path, to_hex(&file.digest)))
                .collect();
            (task, files)
        })
        .collect();
    let dir = state_dir.path().to_path_buf();
    let read_log = move |path: &str| std::fs::read(dir.join(path)).ok();
    Ok(RunReport::build(&Sources {
        run,
        attempts: &attempts,
        workflow,
        workflow_note,
        made: &made,
        read_log: &read_log,
        masker,
    }))
}

/// Why the report cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The path holds a file engine did not write.
    #[error("`{}` exists and is not a report engine wrote", .0.display())]
    NotOurs(PathBuf),
    /// Writing failed.
    #[error("cannot write the report `{}`: {error}", path.display())]
    Io {
        /// The report's path.
        path: PathBuf,
        /// What failed.
        error: std::io::Error,
    },
}

/// Writes `html` to `path` (readable by the user alone when new): through a file beside it
/// renamed into place, so a reader never sees half a report. An existing file is replaced
/// only when it is a report.
///
/// # Errors
/// The path holds another file; the directory cannot be written.
pub fn write_file(path: &Path, html: &str) -> Result<(), ReportError> {
    let io = |error| ReportError::Io {
        path: path.to_owned(),
        error,
    };
    // A symbolic link is the user's, whatever it points to: renaming over it would replace
    // the link itself.
    if std::fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_symlink()) {
        return Err(ReportError::NotOurs(path.to_owned()));
    }
    if let Ok(mut file) = std::fs::File::open(path) {
        let mut start = vec![0u8; OWN_START.len()];
        let ours = std::io::Read::read_exact(&mut file, &mut start).is_ok()
            && start == OWN_START.as_bytes();
        if !ours {
            return Err(ReportError::NotOurs(path.to_owned()));
        }
    }
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let name = path.file_name().map_or_else(
        || "report.html".into(),
        |name| name.to_string_lossy().into_owned(),
    );
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    // Made new here (never a file that was there), so removing it after a failure removes
    // only what this call wrote.
    let mut file = {
        use std::os::unix::fs::OpenOptionsExt as _;
        std::fs::File::options()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)
            .map_err(io)?
    };
    let written = file
        .write_all(html.as_bytes())
        .and_then(|()| std::fs::rename(&temporary, path));
    if let Err(error) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(io(error));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_no_report_is_kept() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("notes.html");
        std::fs::write(&path, "my notes").expect("write");
        assert!(matches!(
            write_file(&path, "<!doctype html>"),
            Err(ReportError::NotOurs(_))
        ));
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "my notes");
        let report = dir.path().join("sub/report.html");
        let html = format!("{OWN_START}<title>one</title>");
        write_file(&report, &html).expect("a new report");
        write_file(&report, &format!("{OWN_START}two")).expect("a report is replaced");
        // A link to a report is the user's: kept, and so is what it points to.
        let link = dir.path().join("link.html");
        std::os::unix::fs::symlink(&report, &link).expect("symlink");
        assert!(matches!(
            write_file(&link, &format!("{OWN_START}three")),
            Err(ReportError::NotOurs(_))
        ));
        assert!(std::fs::symlink_metadata(&link).expect("link").is_symlink());
        assert!(
            std::fs::read_to_string(&report)
                .expect("read")
                .ends_with("two")
        );
        assert!(
            std::fs::read_to_string(&report)
                .expect("read")
                .ends_with("two")
        );
    }
}
