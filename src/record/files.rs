//! TEMPORARY stand-in; replaced by the helper's module.
#![allow(missing_docs, clippy::missing_errors_doc)]
use std::path::Path;

pub type Digest = [u8; 32];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileDigest {
    pub path: String,
    pub digest: Digest,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FilesError {
    #[error("`{path}` does not exist")]
    Missing { path: String },
    #[error("`{pattern}` is not a valid glob: {message}")]
    InvalidPattern { pattern: String, message: String },
    #[error("cannot read `{path}`: {message}")]
    Unreadable { path: String, message: String },
}

pub fn digest_all(cwd: &Path, patterns: &[impl AsRef<str>]) -> Result<Vec<FileDigest>, FilesError> {
    let mut out = Vec::new();
    for p in patterns {
        let p = p.as_ref();
        let bytes =
            std::fs::read(cwd.join(p)).map_err(|_| FilesError::Missing { path: p.to_owned() })?;
        out.push(FileDigest {
            path: p.to_owned(),
            digest: *blake3::hash(&bytes).as_bytes(),
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out.dedup_by(|a, b| a.path == b.path);
    Ok(out)
}

pub fn remove_all(cwd: &Path, patterns: &[impl AsRef<str>]) -> (Vec<String>, Vec<FilesError>) {
    let mut removed = Vec::new();
    for p in patterns {
        if std::fs::remove_file(cwd.join(p.as_ref())).is_ok() {
            removed.push(p.as_ref().to_owned());
        }
    }
    (removed, Vec::new())
}

pub fn to_hex(d: &Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn from_hex(s: &str) -> Option<Digest> {
    if s.len() != 64 {
        return None;
    }
    let mut d = [0u8; 32];
    for (i, slot) in d.iter_mut().enumerate() {
        *slot = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(d)
}
