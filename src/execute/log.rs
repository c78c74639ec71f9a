//! `TaskLog`: a task's full output on disk, created on the first line written, private to
//! the user (0600, in directories made 0700). What it is given is already masked.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// The log file of one task. Nothing is created for a task that prints nothing; a retried
/// task's attempts are appended to one file.
#[derive(Debug)]
pub struct TaskLog {
    path: PathBuf,
    file: Mutex<Option<BufWriter<File>>>,
    /// A write failed (a full disk): said once, and nothing more is written.
    failed: AtomicBool,
}

impl TaskLog {
    /// A log that will be written at `path`.
    #[must_use]
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            file: Mutex::new(None),
            failed: AtomicBool::new(false),
        }
    }

    /// Appends output bytes, masked by the caller (`Masker`, `MaskStream`).
    pub fn write(&self, bytes: &[u8]) {
        self.write_raw(bytes);
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
                let _ = super::private_dir(dir);
            }
            match File::options()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(&self.path)
            {
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
        self.file.lock().is_ok_and(|guard| guard.is_some())
    }
}
