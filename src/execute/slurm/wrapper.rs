//! The wrapper script each Slurm job runs: the task's environment, its command, and its exit
//! status written to a file in the shared state dir, so that how a task ended never depends
//! on Slurm still remembering the job.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::files::JobFiles;

/// What the wrapper of one job runs.
#[derive(Debug)]
pub struct Wrapper<'a> {
    /// A comment line naming the task, workflow, run and attempt.
    pub description: String,
    /// The command's program and arguments.
    pub command: Vec<&'a OsStr>,
    /// Variables to export, in order (a later one wins).
    pub env: Vec<(&'a str, &'a OsStr)>,
    /// The working directory.
    pub cwd: &'a Path,
    /// The job's files.
    pub files: &'a JobFiles,
}

impl Wrapper<'_> {
    /// The script's text. Bytes, not a `String`: paths need not be UTF-8.
    #[must_use]
    pub fn script(&self) -> Vec<u8> {
        let mut out: Vec<u8> = Vec::with_capacity(1024);
        out.extend_from_slice(b"#!/bin/sh\n# engine: ");
        out.extend(self.description.bytes().filter(|&b| b != b'\n'));
        out.extend_from_slice(
            b"\n# Runs the task's command, then writes its exit status to the status file, which\n\
              # engine reads from the shared state dir; Slurm's records are only the fallback.\n",
        );
        for (name, value) in &self.env {
            out.extend_from_slice(b"export ");
            out.extend_from_slice(name.as_bytes());
            out.push(b'=');
            quote(&mut out, value.as_bytes());
            out.push(b'\n');
        }
        out.extend_from_slice(b"status_file=");
        quote(&mut out, self.files.status.as_os_str().as_bytes());
        out.extend_from_slice(
            b"\nfinish() {\n  printf '%s\\n' \"$1\" > \"$status_file.tmp\" && mv -f \"$status_file.tmp\" \"$status_file\"\n  exit \"$1\"\n}\ncd ",
        );
        quote(&mut out, self.cwd.as_os_str().as_bytes());
        out.extend_from_slice(b" || finish 1\n");
        for (index, word) in self.command.iter().enumerate() {
            if index > 0 {
                out.push(b' ');
            }
            quote(&mut out, word.as_bytes());
        }
        out.extend_from_slice(b" </dev/null\nstatus=$?\n");
        // On a network filesystem a node's writes reach other machines when the file is
        // closed or synced: sync the output before the status says it is complete.
        out.extend_from_slice(b"sync -- ");
        quote(&mut out, self.files.stdout.as_os_str().as_bytes());
        out.push(b' ');
        quote(&mut out, self.files.stderr.as_os_str().as_bytes());
        out.extend_from_slice(b" 2>/dev/null\nfinish \"$status\"\n");
        out
    }
}

/// Appends `text` as one single-quoted shell word.
fn quote(out: &mut Vec<u8>, text: &[u8]) {
    out.push(b'\'');
    for &byte in text {
        if byte == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(byte);
        }
    }
    out.push(b'\'');
}

/// What a job's status file says.
#[derive(Debug, PartialEq, Eq)]
pub enum StatusFile {
    /// Not written (yet): the command still runs, or the job died before it ended.
    Missing,
    /// The command's exit status, as the shell saw it (128 + N for a command killed by
    /// signal N).
    Code(i32),
    /// Written, but not an exit status.
    Invalid(String),
}

/// Reads a job's status file.
#[must_use]
pub fn read_status(path: &Path) -> StatusFile {
    match std::fs::read_to_string(path) {
        Ok(text) => match text.trim().parse() {
            Ok(code) => StatusFile::Code(code),
            Err(_) => StatusFile::Invalid(text.trim().chars().take(80).collect()),
        },
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => StatusFile::Missing,
        Err(error) => StatusFile::Invalid(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::process::Command;

    use super::*;

    fn run_wrapper(command: &[&str], cwd: &Path, dir: &Path) -> (JobFiles, std::process::Output) {
        let files = JobFiles::new(dir, "t", 1);
        let wrapper = Wrapper {
            description: "task `t`\nof a test".into(),
            command: command.iter().map(OsStr::new).collect(),
            env: vec![
                ("ENGINE_TASK", OsStr::new("t")),
                ("QUOTED", OsStr::new("it's $HOME `x`")),
                ("ENGINE_TASK", OsStr::new("later wins")),
            ],
            cwd,
            files: &files,
        };
        std::fs::write(&files.script, wrapper.script()).expect("write the script");
        std::fs::set_permissions(&files.script, std::fs::Permissions::from_mode(0o755))
            .expect("make it executable");
        let output = Command::new(&files.script)
            .output()
            .expect("run the wrapper");
        (files, output)
    }

    #[test]
    fn the_wrapper_runs_the_command_with_its_env_and_records_the_exit_status() {
        let dir = tempfile::tempdir().expect("temp dir");
        let work = dir.path().join("work dir");
        std::fs::create_dir(&work).expect("work dir");
        let (files, output) = run_wrapper(
            &[
                "sh",
                "-c",
                "echo \"$ENGINE_TASK|$QUOTED|$(pwd)\"; read x; echo \"stdin: ${x:-empty}\"; exit 3",
            ],
            &work,
            dir.path(),
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            stdout,
            format!(
                "later wins|it's $HOME `x`|{}\nstdin: empty\n",
                work.display()
            )
        );
        assert_eq!(output.status.code(), Some(3));
        assert_eq!(read_status(&files.status), StatusFile::Code(3));
        assert!(!files.status.with_extension("status.tmp").exists());
    }

    #[test]
    fn a_missing_working_directory_fails_with_status_1() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (files, output) = run_wrapper(&["true"], &dir.path().join("nowhere"), dir.path());
        assert_eq!(output.status.code(), Some(1));
        assert_eq!(read_status(&files.status), StatusFile::Code(1));
    }

    #[test]
    fn a_command_killed_by_a_signal_reports_128_plus_the_signal() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (files, _) = run_wrapper(&["sh", "-c", "kill -9 $$"], dir.path(), dir.path());
        assert_eq!(read_status(&files.status), StatusFile::Code(137));
    }

    #[test]
    fn status_files_are_read_strictly() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("s");
        assert_eq!(read_status(&path), StatusFile::Missing);
        std::fs::write(&path, "0\n").expect("write");
        assert_eq!(read_status(&path), StatusFile::Code(0));
        std::fs::write(&path, "oops").expect("write");
        assert_eq!(read_status(&path), StatusFile::Invalid("oops".into()));
    }
}
