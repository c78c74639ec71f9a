//! Fingerprints and up-to-date checks: whether a task must run, and why.
//!
//! A task's fingerprint covers what it runs (the command after templating, or the script),
//! its environment, isolation, shell and working directory (relative to the workflow's
//! directory when inside it, so that a moved project keeps its fingerprints), the declared
//! outputs, the
//! content of every input, and the key of every task it depends on. A dependency's key is
//! its fingerprint with the digest of what it produced, so a change upstream reaches
//! everything downstream, while a dependency that ran again and produced the very same
//! outputs does not rerun its dependents.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::store::{Success, files_from_json};
use crate::exchange::Launch;
use crate::files::{Digest, DigestCache, FileDigest, FilesError, digest_all, to_hex};
use crate::model::{Command, Task};

/// What went into a fingerprint, kept with each success so that a later check can say what
/// changed. Digests are hex.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parts {
    /// The command line or script, templates filled in.
    pub command: String,
    /// The task's environment variables.
    pub env: String,
    /// Isolation, shell, working directory and the output patterns.
    pub settings: String,
    /// Each input path and the digest of its content.
    pub inputs: Vec<(String, String)>,
    /// Each dependency's name and key.
    pub deps: Vec<(String, String)>,
}

impl Parts {
    /// The parts of a task about to run with `launch`, in a workflow whose directory is
    /// `workflow_dir`: its inputs are digested now (read, unless `cache` knows them
    /// unchanged).
    ///
    /// # Errors
    /// An input that does not exist or cannot be read.
    pub fn of(
        task: &Task,
        launch: &Launch,
        workflow_dir: &Path,
        deps: &[(String, Digest)],
        cache: Option<&DigestCache>,
    ) -> Result<Self, FilesError> {
        let files = launch.files.as_deref();
        let inputs = match files {
            Some(files) if !files.inputs.is_empty() => {
                digest_all(&launch.cwd, &files.inputs, cache)?
            }
            _ => Vec::new(),
        };
        let command = match &launch.command {
            Command::None => blake3::hash(b"none"),
            Command::Shell { run, shell } => {
                let mut hasher = blake3::Hasher::new();
                hasher.update(b"shell\0");
                hasher.update(shell.as_bytes());
                hasher.update(b"\0");
                hasher.update(run.as_bytes());
                hasher.finalize()
            }
            Command::Script { source, .. } => {
                let mut hasher = blake3::Hasher::new();
                hasher.update(b"script\0");
                hasher.update(source.as_bytes());
                if let Some(constants) = &launch.constants {
                    hasher.update(format!("{constants:?}").as_bytes());
                }
                hasher.finalize()
            }
        };
        let mut env = blake3::Hasher::new();
        for (name, value) in launch.env.iter() {
            env.update(name.as_bytes());
            env.update(b"=");
            env.update(value.as_bytes());
            env.update(b"\0");
        }
        let mut settings = blake3::Hasher::new();
        settings.update(format!("{:?}\0", task.isolation).as_bytes());
        // Inside the workflow's directory, the working directory counts by its place there
        // (`` for the directory itself, never an absolute path): a project moved or cloned
        // elsewhere keeps its fingerprints.
        let cwd = launch.cwd.strip_prefix(workflow_dir).unwrap_or(&launch.cwd);
        settings.update(cwd.as_os_str().as_encoded_bytes());
        settings.update(b"\0");
        for output in files.map_or(&[][..], |files| &files.outputs) {
            settings.update(output.as_bytes());
            settings.update(b"\0");
        }
        Ok(Self {
            command: command.to_hex().to_string(),
            env: env.finalize().to_hex().to_string(),
            settings: settings.finalize().to_hex().to_string(),
            inputs: inputs
                .into_iter()
                .map(|file| (file.path, to_hex(&file.digest)))
                .collect(),
            deps: deps
                .iter()
                .map(|(name, key)| (name.clone(), to_hex(key)))
                .collect(),
        })
    }

    /// The fingerprint: one digest of all parts.
    #[must_use]
    pub fn fingerprint(&self) -> Digest {
        let mut hasher = blake3::Hasher::new();
        for part in [&self.command, &self.env, &self.settings] {
            hasher.update(part.as_bytes());
            hasher.update(b"\0");
        }
        for (name, digest) in self.inputs.iter().chain(&self.deps) {
            hasher.update(name.as_bytes());
            hasher.update(b"\0");
            hasher.update(digest.as_bytes());
            hasher.update(b"\0");
        }
        *hasher.finalize().as_bytes()
    }

    /// As stored with a success.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// What differs from `before`, the parts of the last success.
    #[must_use]
    pub fn changes(&self, before: &Self) -> Vec<Change> {
        let mut changes = Vec::new();
        if self.command != before.command {
            changes.push(Change::Command);
        }
        if self.env != before.env {
            changes.push(Change::Env);
        }
        if self.settings != before.settings {
            changes.push(Change::Settings);
        }
        diff(&self.inputs, &before.inputs, &mut changes, |path, how| {
            Change::Input(path, how)
        });
        diff(&self.deps, &before.deps, &mut changes, |name, how| {
            Change::Dependency(name, how)
        });
        changes
    }
}

/// Compares two sorted-by-name lists of (name, digest).
fn diff(
    now: &[(String, String)],
    before: &[(String, String)],
    changes: &mut Vec<Change>,
    change: impl Fn(String, How) -> Change,
) {
    let old: rustc_hash::FxHashMap<&str, &str> = before
        .iter()
        .map(|(name, digest)| (name.as_str(), digest.as_str()))
        .collect();
    for (name, digest) in now {
        match old.get(name.as_str()) {
            None => changes.push(change(name.clone(), How::Added)),
            Some(was) if *was != digest => changes.push(change(name.clone(), How::Changed)),
            Some(_) => {}
        }
    }
    let new: rustc_hash::FxHashSet<&str> = now.iter().map(|(name, _)| name.as_str()).collect();
    for (name, _) in before {
        if !new.contains(name.as_str()) {
            changes.push(change(name.clone(), How::Removed));
        }
    }
}

/// How one input or dependency differs from the last success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    /// New since then.
    Added,
    /// There then, gone now.
    Removed,
    /// Different content (an input) or key (a dependency).
    Changed,
}

/// One difference from the last success.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The command or script.
    Command,
    /// The environment.
    Env,
    /// Isolation, shell, working directory or the output patterns.
    Settings,
    /// An input.
    Input(String, How),
    /// A dependency.
    Dependency(String, How),
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Command => f.write_str("the command changed"),
            Self::Env => f.write_str("its env changed"),
            Self::Settings => f.write_str("its isolation, shell, cwd or outputs changed"),
            Self::Input(path, How::Changed) => write!(f, "input `{path}` changed"),
            Self::Input(path, How::Added) => write!(f, "input `{path}` is new"),
            Self::Input(path, How::Removed) => write!(f, "input `{path}` is gone"),
            Self::Dependency(name, How::Changed) => {
                write!(f, "dependency `{name}` changed")
            }
            Self::Dependency(name, How::Added) => write!(f, "dependency `{name}` is new"),
            Self::Dependency(name, How::Removed) => {
                write!(f, "dependency `{name}` was removed")
            }
        }
    }
}

/// Why a task runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Why {
    /// It declares no outputs: nothing to be up to date.
    NoOutputs,
    /// `--force`.
    Forced,
    /// No successful run of it is recorded.
    NeverSucceeded,
    /// A later run started it and did not finish it: its outputs are incomplete.
    Incomplete,
    /// Its fingerprint differs from its last success.
    Changed(Vec<Change>),
    /// An output is gone.
    OutputMissing(String),
    /// An output's content differs from what its last success left.
    OutputChanged(String),
    /// A glob output matches a path its last success did not make.
    OutputAdded(String),
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoOutputs => f.write_str("it has no `outputs`, so it always runs"),
            Self::Forced => f.write_str("forced (`--force`)"),
            Self::NeverSucceeded => f.write_str("no successful run is recorded"),
            Self::Incomplete => {
                f.write_str("its last run did not finish: its outputs are incomplete")
            }
            Self::Changed(changes) => {
                const SHOWN: usize = 3;
                let mut text: Vec<String> = changes
                    .iter()
                    .take(SHOWN)
                    .map(ToString::to_string)
                    .collect();
                if changes.len() > SHOWN {
                    text.push(format!("{} more changes", changes.len() - SHOWN));
                }
                if text.is_empty() {
                    text.push("its fingerprint changed".to_owned());
                }
                f.write_str(&text.join(", "))
            }
            Self::OutputMissing(path) => write!(f, "output `{path}` is missing"),
            Self::OutputChanged(path) => {
                write!(f, "output `{path}` changed since its last run")
            }
            Self::OutputAdded(path) => write!(f, "output `{path}` is new"),
        }
    }
}

/// Whether a task with `parts` is up to date against its last success: `Ok(())` when it is.
///
/// # Errors
/// Why it must run.
pub fn up_to_date(
    outputs: &[String],
    cwd: &Path,
    parts: &Parts,
    fingerprint: &Digest,
    last: Option<&Success>,
    cache: Option<&DigestCache>,
) -> Result<(), Why> {
    if outputs.is_empty() {
        return Err(Why::NoOutputs);
    }
    let Some(last) = last else {
        return Err(Why::NeverSucceeded);
    };
    if !last.complete {
        return Err(Why::Incomplete);
    }
    if last.fingerprint != *fingerprint {
        let before: Parts = serde_json::from_str(&last.parts).unwrap_or_default();
        return Err(Why::Changed(parts.changes(&before)));
    }
    let now = match digest_all(cwd, outputs, cache) {
        Ok(now) => now,
        Err(FilesError::Missing { path }) => return Err(Why::OutputMissing(path)),
        Err(error) => return Err(Why::OutputMissing(error.to_string())),
    };
    if outputs_digest(&now) == last.outputs {
        return Ok(());
    }
    outputs_match(&now, &files_from_json(&last.output_files))
}

/// Whether the outputs now are those of the last success.
///
/// # Errors
/// The first difference.
pub fn outputs_match(now: &[FileDigest], then: &[FileDigest]) -> Result<(), Why> {
    let old: rustc_hash::FxHashMap<&str, &Digest> = then
        .iter()
        .map(|file| (file.path.as_str(), &file.digest))
        .collect();
    for file in now {
        match old.get(file.path.as_str()) {
            None => return Err(Why::OutputAdded(file.path.clone())),
            Some(digest) if **digest != file.digest => {
                return Err(Why::OutputChanged(file.path.clone()));
            }
            Some(_) => {}
        }
    }
    if now.len() != then.len() {
        let present: rustc_hash::FxHashSet<&str> =
            now.iter().map(|file| file.path.as_str()).collect();
        if let Some(gone) = then
            .iter()
            .find(|file| !present.contains(file.path.as_str()))
        {
            return Err(Why::OutputMissing(gone.path.clone()));
        }
    }
    Ok(())
}

/// One digest of a task's outputs, for its key.
#[must_use]
pub fn outputs_digest(files: &[FileDigest]) -> Digest {
    let mut hasher = blake3::Hasher::new();
    for file in files {
        hasher.update(file.path.as_bytes());
        hasher.update(b"\0");
        hasher.update(&file.digest);
    }
    *hasher.finalize().as_bytes()
}

/// A task's key, which its dependents' fingerprints include: its fingerprint, the digest of
/// its outputs, and how it ended (`success`, `skipped`, `failure` for an allowed failure).
#[must_use]
pub fn key(fingerprint: &Digest, outputs: &Digest, status: &str) -> Digest {
    let mut hasher = blake3::Hasher::new();
    hasher.update(fingerprint);
    hasher.update(outputs);
    hasher.update(status.as_bytes());
    *hasher.finalize().as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(command: &str, inputs: &[(&str, &str)], deps: &[(&str, &str)]) -> Parts {
        let pairs = |list: &[(&str, &str)]| {
            list.iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect()
        };
        Parts {
            command: command.to_owned(),
            env: "e".to_owned(),
            settings: "s".to_owned(),
            inputs: pairs(inputs),
            deps: pairs(deps),
        }
    }

    #[test]
    fn every_part_changes_the_fingerprint() {
        let base = parts("c", &[("a.c", "1")], &[("dep", "k")]);
        let variants = [
            parts("c2", &[("a.c", "1")], &[("dep", "k")]),
            parts("c", &[("a.c", "2")], &[("dep", "k")]),
            parts("c", &[("b.c", "1")], &[("dep", "k")]),
            parts("c", &[("a.c", "1")], &[("dep", "k2")]),
            parts("c", &[("a.c", "1")], &[]),
        ];
        for variant in &variants {
            assert_ne!(variant.fingerprint(), base.fingerprint(), "{variant:?}");
        }
        assert_eq!(base.fingerprint(), base.clone().fingerprint());
    }

    #[test]
    fn changes_name_what_differs() {
        let before = parts("c", &[("a.c", "1"), ("b.c", "1")], &[("dep", "k")]);
        let now = parts("c", &[("a.c", "2"), ("n.c", "1")], &[("dep", "k2")]);
        let text: Vec<String> = now
            .changes(&before)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            text,
            [
                "input `a.c` changed",
                "input `n.c` is new",
                "input `b.c` is gone",
                "dependency `dep` changed"
            ]
        );
    }

    #[test]
    fn outputs_must_match_exactly() {
        let file = |path: &str, byte: u8| FileDigest {
            path: path.to_owned(),
            digest: [byte; 32],
        };
        let then = [file("a", 1), file("b", 2)];
        assert_eq!(outputs_match(&then, &then), Ok(()));
        assert_eq!(
            outputs_match(&[file("a", 1), file("b", 3)], &then),
            Err(Why::OutputChanged("b".into()))
        );
        assert_eq!(
            outputs_match(&[file("a", 1)], &then),
            Err(Why::OutputMissing("b".into()))
        );
        assert_eq!(
            outputs_match(&[file("a", 1), file("b", 2), file("c", 1)], &then),
            Err(Why::OutputAdded("c".into()))
        );
    }
}
