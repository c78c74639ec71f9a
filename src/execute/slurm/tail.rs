//! `Tail`: follows one output file of a job as Slurm appends to it, masking secrets, copying
//! every byte to the task's log and cutting the text into lines for the terminal.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use super::super::TaskLog;
use super::super::reactor::MAX_LINE;
use crate::template::{MaskStream, Masker};

/// Most bytes read from one file at one look, so that a job that floods its output cannot
/// hold up the others; the rest is read at the next look.
const READ_LIMIT: usize = 1 << 20;

/// What one look reads at once.
const CHUNK: usize = 64 * 1024;

/// One output file of a job, read from where the last look stopped.
#[derive(Debug)]
pub struct Tail {
    path: PathBuf,
    file: Option<File>,
    offset: u64,
    /// Masks the file as one stream, before it is logged or cut into lines.
    mask: MaskStream,
    /// The start of a line whose end has not been written yet.
    partial: Vec<u8>,
}

impl Tail {
    /// Follows `path`, which need not exist yet, masking the secrets of `masker`.
    #[must_use]
    pub fn new(path: PathBuf, masker: &Masker) -> Self {
        Self {
            path,
            file: None,
            offset: 0,
            mask: masker.stream(),
            partial: Vec::new(),
        }
    }

    /// Whether the file exists (Slurm creates it when the job starts).
    #[must_use]
    pub fn exists(&self) -> bool {
        self.file.is_some()
    }

    /// Reads what was appended since the last look, copies it to `log` and returns the
    /// complete lines (lines longer than the display limit are cut into pieces).
    pub fn read(&mut self, log: &TaskLog) -> Vec<String> {
        let mut lines = Vec::new();
        if self.file.is_none() {
            // Not there yet: the job has not started, or Slurm has not created it.
            self.file = File::open(&self.path).ok();
        }
        let Some(file) = self.file.take() else {
            return lines;
        };
        let mut buffer = vec![0u8; CHUNK];
        let mut masked = Vec::new();
        let mut read_now = 0;
        while read_now < READ_LIMIT {
            let read = match file.read_at(&mut buffer, self.offset) {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            self.offset += read as u64;
            read_now += read;
            masked.clear();
            self.mask.push(&buffer[..read], &mut masked);
            log.write(&masked);
            self.split(&masked, &mut lines);
        }
        self.file = Some(file);
        lines
    }

    /// Reads everything left and returns the remaining lines, the last one even without a
    /// line break. The file is opened afresh: on a network filesystem a new open is what
    /// shows the writes other machines have closed or synced.
    pub fn finish(&mut self, log: &TaskLog) -> Vec<String> {
        self.file = None;
        let mut lines = Vec::new();
        loop {
            let before = self.offset;
            lines.extend(self.read(log));
            if self.offset == before {
                break;
            }
        }
        let mut masked = Vec::new();
        self.mask.finish(&mut masked);
        log.write(&masked);
        self.split(&masked, &mut lines);
        if !self.partial.is_empty() {
            lines.push(String::from_utf8_lossy(&self.partial).into_owned());
            self.partial.clear();
        }
        self.file = None;
        lines
    }

    fn split(&mut self, mut bytes: &[u8], lines: &mut Vec<String>) {
        while let Some(end) = bytes.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&bytes[..end]);
            lines.push(String::from_utf8_lossy(&self.partial).into_owned());
            self.partial.clear();
            bytes = &bytes[end + 1..];
        }
        self.partial.extend_from_slice(bytes);
        while self.partial.len() >= MAX_LINE {
            let rest = self.partial.split_off(MAX_LINE);
            lines.push(String::from_utf8_lossy(&self.partial).into_owned());
            self.partial = rest;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn lines_are_read_as_they_are_appended_and_all_bytes_logged() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("job.out");
        let log = TaskLog::new(dir.path().join("task.log"));
        let mut tail = Tail::new(path.clone(), &Masker::none());
        assert!(tail.read(&log).is_empty(), "no file yet");
        let mut file = std::fs::File::create(&path).expect("create");
        file.write_all(b"one\ntw").expect("write");
        assert_eq!(tail.read(&log), ["one"]);
        assert!(tail.read(&log).is_empty());
        file.write_all(b"o\nthree\n\xffend").expect("write");
        assert_eq!(tail.read(&log), ["two", "three"]);
        assert_eq!(tail.finish(&log), ["\u{fffd}end"]);
        log.flush();
        let logged = std::fs::read(dir.path().join("task.log")).expect("log");
        assert_eq!(logged, b"one\ntwo\nthree\n\xffend");
    }

    #[test]
    fn long_lines_are_cut_and_floods_read_in_pieces() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("job.out");
        let log = TaskLog::new(dir.path().join("task.log"));
        let mut text = vec![b'x'; MAX_LINE + 10];
        text.push(b'\n');
        text.extend(std::iter::repeat_n(b"y\n".as_slice(), READ_LIMIT).flatten());
        std::fs::write(&path, &text).expect("write");
        let mut tail = Tail::new(path, &Masker::none());
        let first = tail.read(&log);
        assert_eq!(first[0].len(), MAX_LINE);
        assert_eq!(first[1].len(), 10);
        let mut total = first.len();
        total += tail.finish(&log).len();
        assert_eq!(total, 2 + READ_LIMIT);
    }

    #[test]
    fn a_secret_split_across_reads_and_the_line_cut_is_masked() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("job.out");
        let log = TaskLog::new(dir.path().join("task.log"));
        let masker = Masker::new(["supersecretvalue123"]).expect("a masker");
        let mut tail = Tail::new(path.clone(), &masker);
        let mut file = std::fs::File::create(&path).expect("create");
        // The secret straddles the cut of a long line into display pieces.
        let mut text = vec![b'x'; MAX_LINE - 5];
        text.extend_from_slice(b"supersec");
        file.write_all(&text).expect("write");
        let mut lines = tail.read(&log);
        file.write_all(b"retvalue123 end\n").expect("write");
        lines.extend(tail.finish(&log));
        log.flush();
        let shown = lines.concat();
        assert!(
            !shown.contains("supersec") && shown.ends_with("xxx*** end"),
            "{shown:?}"
        );
        let logged = std::fs::read_to_string(dir.path().join("task.log")).expect("log");
        assert!(logged.ends_with("xxx*** end\n"), "{logged:?}");
    }
}
