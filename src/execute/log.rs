//! `TaskLog`: a task's full output on disk, created on the first line written.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Mutex;

/// The log file of one task attempt. Nothing is created for a task that prints nothing.
#[derive(Debug)]
pub struct TaskLog {
    path: PathBuf,
    file: Mutex<Option<BufWriter<File>>>,
}

impl TaskLog {
    /// A log that will be written at `path`.
    #[must_use]
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            file: Mutex::new(None),
        }
    }

    /// Where the log is (or will be).
    #[must_use]
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Appends raw bytes. Errors are reported once on stderr and then ignored: a full disk
    /// must not fail the task itself.
    pub fn write(&self, bytes: &[u8]) {
        let mut guard = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if guard.is_none() {
            if let Some(dir) = self.path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            match File::create(&self.path) {
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
        if let Some(file) = guard.as_mut() {
            let _ = file.write_all(bytes);
        }
    }

    /// Writes buffered bytes to disk.
    pub fn flush(&self) {
        let mut guard = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(file) = guard.as_mut() {
            let _ = file.flush();
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
