//! `Test`: one run of the real `engine` binary in a fresh temp dir, after casey/just's
//! `tests/test.rs`. Give it workflow files and arguments, say what stdout, stderr and the exit
//! code must be, then `run` it. Every run also checks that the binary did not panic.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use assert_cmd::cargo::cargo_bin;

/// The workflow file most tests use, relative to the temp dir.
pub const WORKFLOW: &str = "workflow.yaml";

/// The path of the `engine` binary under test.
pub fn engine() -> &'static Path {
    cargo_bin!("engine")
}

/// The repository root, where `workflows/` and `schemas/` are.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// One `engine` invocation and what it must produce.
#[must_use = "a test does nothing until `run`"]
pub struct Test {
    dir: tempfile::TempDir,
    current_dir: Option<PathBuf>,
    args: Vec<OsString>,
    status: i32,
    stdout: Option<String>,
    stderr: Option<String>,
    stdout_has: Vec<String>,
    stderr_has: Vec<String>,
    stdout_lacks: Vec<String>,
    env: Vec<(String, String)>,
}

/// What a run printed, for checks beyond the builder's.
pub struct Output {
    pub stdout: String,
    pub stderr: String,
}

impl Test {
    /// A command in `dir`, with no arguments or expectations yet but success.
    fn in_dir(
        dir: tempfile::TempDir,
        current_dir: Option<PathBuf>,
        env: Vec<(String, String)>,
    ) -> Self {
        Self {
            dir,
            current_dir,
            args: Vec::new(),
            status: 0,
            stdout: None,
            stderr: None,
            stdout_has: Vec::new(),
            stderr_has: Vec::new(),
            stdout_lacks: Vec::new(),
            env,
        }
    }

    /// A test in a new, empty temp dir, expecting success.
    pub fn new() -> Self {
        Self::in_dir(
            tempfile::tempdir().expect("create a temp dir"),
            None,
            Vec::new(),
        )
    }

    /// Sets an environment variable of the engine.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Writes `yaml` to `workflow.yaml` in the temp dir.
    pub fn workflow(self, yaml: &str) -> Self {
        self.file(WORKFLOW, yaml)
    }

    /// Writes a file (text or bytes) into the temp dir.
    pub fn file(self, name: &str, contents: impl AsRef<[u8]>) -> Self {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create the file's directory");
        }
        std::fs::write(path, contents).expect("write the file");
        self
    }

    /// Runs in the repository root instead of the temp dir, for the example workflows.
    pub fn in_repository(mut self) -> Self {
        self.current_dir = Some(root().to_path_buf());
        self
    }

    /// The command-line arguments after `engine`.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// The exit code it must end with (default 0).
    pub fn status(mut self, code: i32) -> Self {
        self.status = code;
        self
    }

    /// Exactly what stdout must be.
    pub fn stdout(mut self, text: &str) -> Self {
        self.stdout = Some(text.to_owned());
        self
    }

    /// Exactly what stderr must be.
    pub fn stderr(mut self, text: &str) -> Self {
        self.stderr = Some(text.to_owned());
        self
    }

    /// Text that stdout must contain.
    pub fn stdout_has(mut self, part: &str) -> Self {
        self.stdout_has.push(part.to_owned());
        self
    }

    /// Text that stderr must contain.
    pub fn stderr_has(mut self, part: &str) -> Self {
        self.stderr_has.push(part.to_owned());
        self
    }

    /// Text that stdout must not contain.
    pub fn stdout_lacks(mut self, part: &str) -> Self {
        self.stdout_lacks.push(part.to_owned());
        self
    }

    /// A path inside the temp dir.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs like `run`, then gives the temp dir back for the next command: no arguments, no
    /// expectations (exit code 0), the files and the environment as they are.
    #[track_caller]
    pub fn run_then(self) -> (Output, Self) {
        let output = self.check();
        let next = Self::in_dir(self.dir, self.current_dir, self.env);
        (output, next)
    }

    /// Runs like `run` and gives the temp dir back for the next command, as `run_then` does.
    #[track_caller]
    pub fn then(self) -> Self {
        self.run_then().1
    }

    /// Runs `engine` and checks everything that was asked for.
    #[track_caller]
    pub fn run(self) -> Output {
        self.check()
    }

    #[track_caller]
    fn check(&self) -> Output {
        let current_dir = self
            .current_dir
            .clone()
            .unwrap_or_else(|| self.dir.path().to_path_buf());
        let output = std::process::Command::new(engine())
            .args(&self.args)
            .current_dir(current_dir)
            .env("NO_COLOR", "1")
            .env_remove("CLICOLOR_FORCE")
            .envs(self.env.iter().map(|(name, value)| (name, value)))
            .stdin(std::process::Stdio::null())
            .output()
            .expect("start engine");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let shown = format!(
            "engine {:?}\n--- stdout ---\n{stdout}\n--- stderr ---\n{}",
            self.args,
            clip(&stderr)
        );
        assert!(!stderr.contains("panicked"), "engine panicked\n{shown}");
        assert_eq!(
            output.status.code(),
            Some(self.status),
            "exit code\n{shown}"
        );
        if let Some(expected) = &self.stdout {
            assert_eq!(&stdout, expected, "stdout\n{shown}");
        }
        if let Some(expected) = &self.stderr {
            assert_eq!(&stderr, expected, "stderr\n{shown}");
        }
        for part in &self.stdout_has {
            assert!(
                stdout.contains(part.as_str()),
                "stdout lacks {part:?}\n{shown}"
            );
        }
        for part in &self.stderr_has {
            assert!(
                stderr.contains(part.as_str()),
                "stderr lacks {part:?}\n{shown}"
            );
        }
        for part in &self.stdout_lacks {
            assert!(
                !stdout.contains(part.as_str()),
                "stdout has {part:?}\n{shown}"
            );
        }
        Output { stdout, stderr }
    }
}

/// At most a few thousand characters of `text`, for failure messages about huge inputs.
fn clip(text: &str) -> &str {
    match text.char_indices().nth(4000) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

/// Parses JSON output, or fails showing it.
#[track_caller]
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("not JSON ({error}):\n{text}"))
}
