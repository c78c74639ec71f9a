//! `TaskLog`: a task's full output on disk, created on the first line written.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::template::Masker;

/// The log file of one task. Nothing is created for a task that prints nothing; a retried
/// task's attempts are appended to one file.
#[derive(Debug)]
pub struct TaskLog {
    path: PathBuf,
    file: Mutex<Option<BufWriter<File>>>,
    /// A write failed (a full disk): said once, and nothing more is written.
    failed: AtomicBool,
    /// With secrets to hide, complete lines are written masked; the unfinished last line
    /// waits here.
    masking: Option<(Masker, Mutex<Vec<u8>>)>,
}

impl TaskLog {
    /// A log that will be written at `path`.
    #[must_use]
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            file: Mutex::new(None),
            failed: AtomicBool::new(false),
            masking: None,
        }
    }

    /// A log that writes every secret of `masker` as `***`.
    #[must_use]
    pub fn masked(path: PathBuf, masker: &Masker) -> Self {
        let mut log = Self::new(path);
        if !masker.is_empty() {
            log.masking = Some((masker.clone(), Mutex::new(Vec::new())));
        }
        log
    }

    /// Appends output bytes, masked when the log masks.
    pub fn write(&self, bytes: &[u8]) {
        let Some((masker, pending)) = &self.masking else {
            self.write_raw(bytes);
            return;
        };
        let mut pending = pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        pending.extend_from_slice(bytes);
        let Some(end) = pending.iter().rposition(|&b| b == b'\n') else {
            return;
        };
        let complete: Vec<u8> = pending.drain(..=end).collect();
        let text = String::from_utf8_lossy(&complete);
        self.write_raw(masker.mask(&text).as_bytes());
    }

    /// Where the log is (or will be).
    #[must_use]
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Appends raw bytes. An error is reported once on stderr, and the log is written no
    /// more: a full disk must not fail the task itself, nor leave a log cut short silently.
    fn write_raw(&self, bytes: &[u8]) {
        if self.failed.load(Ordering::Relaxed) {
            return;
        }
        let mut guard = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if guard.is_none() {
            if let Some(dir) = self.path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            match File::options().create(true).append(true).open(&self.path) {
                Ok(file) => *guard = Some(BufWriter::with_capacity(64 * 1024, file)),
                Err(error) => {
                    eprintln!(
                        "engine: cannot write log `{}`: {error}",
                        self.path.display()
                    );
                    return;
                }
            }
        }
        if let Some(file) = guard.as_mut()
            && let Err(error) = file.write_all(bytes)
        {
            self.fail(&error);
        }
    }

    /// Says once that the log is cut short here, and why.
    fn fail(&self, error: &std::io::Error) {
        if !self.failed.swap(true, Ordering::Relaxed) {
            eprintln!(
                "engine: the log `{}` is incomplete: cannot write it: {error}; the task's output \
                 from here on is not in it",
                self.path.display()
            );
        }
    }

    /// Writes buffered bytes to disk.
    pub fn flush(&self) {
        if let Some((masker, pending)) = &self.masking {
            let rest = std::mem::take(
                &mut *pending
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
            if !rest.is_empty() {
                let text = String::from_utf8_lossy(&rest);
                self.write_raw(masker.mask(&text).as_bytes());
            }
        }
        let mut guard = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.failed.load(Ordering::Relaxed) {
            return;
        }
        if let Some(file) = guard.as_mut()
            && let Err(error) = file.flush()
        {
            self.fail(&error);
        }
    }

    /// Whether anything was written.
    #[must_use]
    pub fn exists(&self) -> bool {
        self.file
            .lock()
            .map(|guard| guard.is_some())
            .unwrap_or(false)
    }
}
