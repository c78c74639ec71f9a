//! Fingerprints and up-to-date checks: whether a task must run, and why.
//!
//! A task's fingerprint covers what it runs (the command after templating, or the script),
//! its environment, isolation, shell and working directory (relative to the workflow's
//! directory when inside it, so that a moved project keeps its fingerprints), the declared
//! outputs, the
//! content of every input (declared, and discovered: what its `depfile` named after its last
//! success), and the key of every task it depends on. A dependency's key is
//! its fingerprint with the digest of what it produced, so a change upstream reaches
//! everything downstream, while a dependency that ran again and produced the very same
//! outputs does not rerun its dependents.

use std::fmt;
use std::io::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::store::{Success, files_from_json};
use crate::exchange::Launch;
use crate::files::{Digest, DigestCache, FileDigest, FilesError, digest_all, to_hex};
use crate::model::{Command, Task, TaskFiles};

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
    /// Each file its `depfile` named after its last success (its discovered inputs) and
    /// the digest of its content, or `GONE` for one that no longer exists. Absent from
    /// what engines before `depfile` stored: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub discovered: Vec<(String, String)>,
}

/// Only the paths of the discovered inputs of stored `Parts`: what a check needs of the last
/// success, read without keeping the rest (2,000 tasks' digests are not worth allocating).
#[derive(Deserialize)]
struct DiscoveredPaths {
    #[serde(default)]
    discovered: Vec<(String, serde::de::IgnoredAny)>,
}

/// The paths of the discovered inputs kept in a success's stored `parts` (empty when it
/// has none or the text is not the record's), as the task's `depfile` named them: relative
/// to its working directory unless absolute. For watch mode, which watches them too.
#[must_use]
pub fn discovered_paths(parts: &str) -> Vec<String> {
    serde_json::from_str::<DiscoveredPaths>(parts)
        .map(|parts| parts.discovered.into_iter().map(|(path, _)| path).collect())
        .unwrap_or_default()
}

/// The digest of a discovered input that does not exist (or cannot be read): never equal to
/// a content digest, so the task reruns, and the compiler says what is missing.
pub const GONE: &str = "gone";

impl Parts {
    /// The parts of a task about to run with `launch`, in a workflow whose directory is
    /// `workflow_dir`, whose `last` success is recorded: its inputs, and with a `depfile`
    /// the files that success discovered, are digested now (read, unless `cache` knows them
    /// unchanged).
    ///
    /// # Errors
    /// A declared input that does not exist or cannot be read (a discovered one that does
    /// not is `GONE`).
    pub fn of(
        task: &Task,
        launch: &Launch,
        workflow_dir: &Path,
        deps: &[(String, Digest)],
        last: Option<&Success>,
        cache: Option<&DigestCache>,
    ) -> Result<Self, FilesError> {
        let files = launch.files.as_deref();
        let inputs = match files {
            Some(files) if !files.inputs.is_empty() => {
                digest_all(&launch.cwd, &files.inputs, cache)?
            }
            _ => Vec::new(),
        };
        let discovered = match (files.and_then(|files| files.depfile.as_ref()), last) {
            (Some(_), Some(last)) => {
                let paths = discovered_paths(&last.parts);
                digest_discovered(&launch.cwd, &paths, cache)
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
                    // Written into the hasher as `format!` would render it, without the text.
                    let _ = write!(hasher, "{constants:?}");
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
        let _ = write!(settings, "{:?}\0", task.isolation);
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
            discovered,
        })
    }

    /// These parts with `discovered` as the discovered inputs of the run that just
    /// succeeded: `paths` as its depfile named them, those also declared inputs left out.
    /// A file digested by the check before the run keeps that digest (what the run read,
    /// unless it changed while the task ran, which the next run then sees); a new one is
    /// digested now.
    #[must_use]
    pub fn with_discovered(
        &self,
        cwd: &Path,
        paths: &[String],
        cache: Option<&DigestCache>,
    ) -> Self {
        let declared: rustc_hash::FxHashSet<&str> =
            self.inputs.iter().map(|(path, _)| path.as_str()).collect();
        let before: rustc_hash::FxHashMap<&str, &str> = self
            .discovered
            .iter()
            .filter(|(_, digest)| digest != GONE)
            .map(|(path, digest)| (path.as_str(), digest.as_str()))
            .collect();
        let fresh: Vec<String> = paths
            .iter()
            .filter(|path| !before.contains_key(normal(path).as_str()))
            .cloned()
            .collect();
        let mut discovered: Vec<(String, String)> = digest_discovered(cwd, &fresh, cache);
        discovered.extend(paths.iter().filter_map(|path| {
            let path = normal(path);
            before
                .get(path.as_str())
                .map(|digest| (path.clone(), (*digest).to_owned()))
        }));
        discovered.retain(|(path, _)| !declared.contains(path.as_str()));
        discovered.sort();
        discovered.dedup_by(|a, b| a.0 == b.0);
        Self {
            discovered,
            ..self.clone()
        }
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
        // Without discovered inputs, the fingerprint is what it was before `depfile`.
        if !self.discovered.is_empty() {
            hasher.update(b"discovered\0");
            for (name, digest) in &self.discovered {
                hasher.update(name.as_bytes());
                hasher.update(b"\0");
                hasher.update(digest.as_bytes());
                hasher.update(b"\0");
            }
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
        // The list is the last success's: only content differs, or a file is gone.
        let then: rustc_hash::FxHashMap<&str, &str> = before
            .discovered
            .iter()
            .map(|(path, digest)| (path.as_str(), digest.as_str()))
            .collect();
        for (path, digest) in &self.discovered {
            if then.get(path.as_str()).is_some_and(|was| was != digest) {
                let how = if digest == GONE {
                    How::Removed
                } else {
                    How::Changed
                };
                changes.push(Change::Discovered(path.clone(), how));
            }
        }
        changes
    }
}

/// A path as `digest_all` names what it resolves to (`./a.h` is `a.h`).
fn normal(path: &str) -> String {
    let lexical = crate::files::lexical(Path::new(path));
    lexical.to_string_lossy().replace('\\', "/")
}

/// The digests of discovered inputs, by path as `digest_all` names them, `GONE` for those
/// that do not exist or cannot be read. Paths are literal: glob characters in them are
/// escaped.
fn digest_discovered(
    cwd: &Path,
    paths: &[String],
    cache: Option<&DigestCache>,
) -> Vec<(String, String)> {
    let patterns: Vec<String> = paths
        .iter()
        .map(|path| {
            if crate::files::is_glob(path) {
                glob::Pattern::escape(path)
            } else {
                path.clone()
            }
        })
        .collect();
    // All at once, as they all exist but for a header just removed.
    if let Ok(found) = digest_all(cwd, &patterns, cache)
        && found.len() == paths.len()
    {
        return found
            .into_iter()
            .map(|file| (file.path, to_hex(&file.digest)))
            .collect();
    }
    let mut digests: Vec<(String, String)> = patterns
        .iter()
        .zip(paths)
        .map(|(pattern, path)| match digest_all(cwd, &[pattern], cache) {
            Ok(found) if found.len() == 1 => {
                let file = found.into_iter().next().expect("one file found");
                (file.path, to_hex(&file.digest))
            }
            _ => (normal(path), GONE.to_owned()),
        })
        .collect();
    digests.sort();
    digests.dedup_by(|a, b| a.0 == b.0);
    digests
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
    /// A file its depfile named last time (`Changed` or `Removed`).
    Discovered(String, How),
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
            Self::Discovered(path, How::Removed) => {
                write!(f, "discovered input `{path}` (from its depfile) is gone")
            }
            Self::Discovered(path, _) => {
                write!(f, "discovered input `{path}` (from its depfile) changed")
            }
            Self::Dependency(name, How::Removed) => {
                write!(f, "dependency `{name}` was removed")
            }
        }
    }
}

/// Why a task runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Why {
    /// It declares no `inputs`, `outputs` nor `depfile`: nothing to be up to date with.
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
            Self::NoOutputs => {
                f.write_str("it has no `inputs`, `outputs` nor `depfile`, so it always runs")
            }
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
///
/// A task with `outputs` is up to date when its fingerprint is its last success's and its
/// outputs hold what that success left; one with `inputs` or a `depfile` but no `outputs`,
/// when its fingerprint is its last success's; one with none of them always runs.
pub fn up_to_date(
    files: Option<&TaskFiles>,
    cwd: &Path,
    parts: &Parts,
    fingerprint: &Digest,
    last: Option<&Success>,
    cache: Option<&DigestCache>,
) -> Result<(), Why> {
    if !tracks_files(files) {
        return Err(Why::NoOutputs);
    }
    let outputs = files.map_or(&[][..], |files| &files.outputs);
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
    if outputs.is_empty() {
        return Ok(());
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

/// Whether a task with these files can be up to date, and has its success recorded: it
/// lists `inputs` or `outputs`, or has a `depfile`.
#[must_use]
pub fn tracks_files(files: Option<&TaskFiles>) -> bool {
    files.is_some_and(|files| {
        !files.inputs.is_empty() || !files.outputs.is_empty() || files.depfile.is_some()
    })
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
            discovered: Vec::new(),
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
