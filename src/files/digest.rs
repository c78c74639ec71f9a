//! Digesting what patterns resolve to: blake3 of a file's content, or of a directory's tree,
//! with the cache's known digests taken instead of reading. Only reads the file system.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{self, File, FileType, Metadata, OpenOptions};
use std::io::{self, ErrorKind, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::pattern::{Match, has_descendants, is_missing, resolve, sort_and_dedup};
use super::{DigestCache, FilesError, Stamp};

/// A blake3 digest.
pub type Digest = [u8; 32];

/// One resolved path and the digest of its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileDigest {
    /// The path as resolved from the pattern, relative to the cwd when the pattern was
    /// relative, with `/` separators, never a trailing slash (e.g. `src/a.c`, `out`,
    /// `../data/x.csv`, `/abs/p`).
    pub path: String,
    /// For a file: blake3 of its content. For a directory: blake3 over its tree (the
    /// sorted names of its entries, their kinds and their digests, recursively).
    pub digest: Digest,
}

/// The size of the read buffer of each thread.
const BUFFER_SIZE: usize = 64 * 1024;

/// Resolves `patterns` against `cwd` and digests every match: sorted by path, each path once.
///
/// A literal pattern must exist; a glob may match nothing. `*` stays within one component
/// and skips dotfiles; `**` matches any depth but does not enter symlinked directories.
/// Symlinks named by a pattern or matched by a glob are followed; inside a directory, only
/// symlinks to files are.
///
/// # Errors
///
/// `InvalidPattern` for a pattern `check_pattern` refuses, `Missing` for a literal pattern
/// naming nothing, `Unreadable` when a file or directory cannot be read (or is neither, like
/// a FIFO). The first error in path order stops the call.
pub fn digest_all(
    cwd: &Path,
    patterns: &[impl AsRef<str>],
    cache: Option<&DigestCache>,
) -> Result<Vec<FileDigest>, FilesError> {
    let mut matches = Vec::with_capacity(patterns.len());
    for pattern in patterns {
        resolve(cwd, pattern.as_ref(), &mut matches)?;
    }
    sort_and_dedup(&mut matches);
    let mut digester = Digester::new(cache);
    let mut digests = Vec::with_capacity(matches.len());
    for (index, found) in matches.iter().enumerate() {
        let nested = || has_descendants(&matches[index + 1..], &found.path);
        if let Some(digest) = digester.top(found, nested)? {
            digests.push(FileDigest {
                path: found.path.clone(),
                digest,
            });
        }
    }
    Ok(digests)
}

/// A hex rendering of a digest: lowercase, 64 characters.
#[must_use]
pub fn to_hex(digest: &Digest) -> String {
    blake3::Hash::from_bytes(*digest).to_hex().to_string()
}

/// The digest rendered by `to_hex` (upper case is accepted too), or `None` for anything
/// that is not 64 hex digits.
#[must_use]
pub fn from_hex(text: &str) -> Option<Digest> {
    blake3::Hash::from_hex(text)
        .ok()
        .map(|hash| *hash.as_bytes())
}

/// Opens for reading without blocking, so a FIFO cannot hang the check.
fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
}

/// What one entry of a directory contributes to the directory's digest.
enum Entry {
    /// A regular file, or a symlink to one: its content digest.
    File(Digest),
    /// A subdirectory (not a symlink): its tree digest.
    Dir(Digest),
    /// A symlink to a directory, a dangling or looping one: its target text.
    Link(PathBuf),
    /// A FIFO, socket or device: only its name counts.
    Other,
    /// Gone between listing and reading.
    Vanished,
}

thread_local! {
    /// The read buffer of each thread, reused by every digest: zeroing a new one for each
    /// task's files cost more than hashing them when they are small.
    static BUFFER: std::cell::RefCell<Box<[u8]>> =
        std::cell::RefCell::new(vec![0; BUFFER_SIZE].into_boxed_slice());
}

/// Digests files and trees, remembering the digests found inside a tree when later matches
/// lie inside it too (`dist/**` matches every level of `dist`); with a cache, files whose
/// stamp it knows are not read.
struct Digester<'c> {
    known: HashMap<PathBuf, Digest>,
    cache: Option<&'c DigestCache>,
}

impl<'c> Digester<'c> {
    fn new(cache: Option<&'c DigestCache>) -> Self {
        Self {
            known: HashMap::new(),
            cache,
        }
    }

    /// The digest the cache holds for the regular file at `path` (symlinks followed). Only
    /// absolute paths are cached: a relative one would name another file elsewhere.
    fn cached(&self, path: &Path) -> Option<Digest> {
        let cache = self.cache.filter(|_| path.is_absolute())?;
        let metadata = fs::metadata(path).ok().filter(Metadata::is_file)?;
        cache.get(path, &Stamp::of(&metadata))
    }

    /// The digest of the open regular `file` at `path`, whose metadata is `metadata`;
    /// learned by the cache once read.
    fn read(&mut self, path: &Path, file: File, metadata: &Metadata) -> io::Result<Digest> {
        let read_at = SystemTime::now();
        let digest = Self::content(file)?;
        if let Some(cache) = self.cache.filter(|_| path.is_absolute()) {
            cache.learn(path, Stamp::of(metadata), digest, read_at);
        }
        Ok(digest)
    }

    /// The digest of one match; `None` for a glob match that vanished. `nested` says
    /// whether later matches lie inside this one when it is a directory.
    fn top(
        &mut self,
        found: &Match,
        nested: impl FnOnce() -> bool,
    ) -> Result<Option<Digest>, FilesError> {
        if !self.known.is_empty()
            && let Some(digest) = self.known.get(&found.full)
        {
            return Ok(Some(*digest));
        }
        if let Some(digest) = self.cached(&found.full) {
            return Ok(Some(digest));
        }
        let unreadable = |error: io::Error| FilesError::Unreadable {
            path: found.path.clone(),
            message: error.to_string(),
        };
        let file = match open(&found.full) {
            Ok(file) => file,
            Err(error) if is_missing(&error) && found.glob_from.is_some() => return Ok(None),
            Err(error) if is_missing(&error) => {
                return Err(FilesError::Missing {
                    path: found.path.clone(),
                });
            }
            Err(error) => return Err(unreadable(error)),
        };
        let metadata = file.metadata().map_err(unreadable)?;
        let kind = metadata.file_type();
        if kind.is_file() {
            self.read(&found.full, file, &metadata)
                .map(Some)
                .map_err(unreadable)
        } else if kind.is_dir() {
            drop(file);
            let remember = nested();
            self.tree(&found.full, &found.path, remember).map(Some)
        } else {
            Err(FilesError::Unreadable {
                path: found.path.clone(),
                message: "not a regular file or directory".to_owned(),
            })
        }
    }

    /// The blake3 digest of everything `file` reads.
    fn content(mut file: File) -> io::Result<Digest> {
        let mut hasher = blake3::Hasher::new();
        BUFFER.with_borrow_mut(|buffer| {
            loop {
                match file.read(buffer) {
                    Ok(0) => return Ok(*hasher.finalize().as_bytes()),
                    Ok(read) => {
                        hasher.update(&buffer[..read]);
                    }
                    Err(error) if error.kind() == ErrorKind::Interrupted => {}
                    Err(error) => return Err(error),
                }
            }
        })
    }

    /// The tree digest of directory `dir` (shown as `shown` in errors): blake3 over its
    /// entries sorted by name, each as name, a 0 byte, a kind letter and what the kind
    /// carries: `f` and the content digest, `d` and the subtree digest, `l`, the link
    /// target and a 0 byte, or `o` alone. Subdirectories reached through a symlink are not
    /// entered, so cycles end.
    fn tree(&mut self, dir: &Path, shown: &str, remember: bool) -> Result<Digest, FilesError> {
        let unreadable = |path: &str, error: io::Error| FilesError::Unreadable {
            path: path.to_owned(),
            message: error.to_string(),
        };
        let mut entries = fs::read_dir(dir)
            .and_then(|listing| {
                listing
                    .map(|entry| entry.and_then(|e| Ok((e.file_name(), e.file_type()?))))
                    .collect::<io::Result<Vec<(OsString, FileType)>>>()
            })
            .map_err(|error| unreadable(shown, error))?;
        entries.sort_unstable_by(|a, b| a.0.as_encoded_bytes().cmp(b.0.as_encoded_bytes()));
        let mut hasher = blake3::Hasher::new();
        for (name, kind) in entries {
            let path = dir.join(&name);
            let child = || format!("{shown}/{}", name.to_string_lossy());
            let entry = self
                .entry(&path, kind, &child, remember)
                .map_err(|error| match error {
                    Ok(error) => unreadable(&child(), error),
                    Err(error) => error,
                })?;
            let (tag, digest) = match &entry {
                Entry::File(digest) => (b'f', Some(*digest)),
                Entry::Dir(digest) => (b'd', Some(*digest)),
                Entry::Link(_) => (b'l', None),
                Entry::Other => (b'o', None),
                Entry::Vanished => continue,
            };
            hasher.update(name.as_encoded_bytes());
            hasher.update(&[0, tag]);
            if let Some(digest) = digest {
                hasher.update(&digest);
                if remember {
                    self.known.insert(path, digest);
                }
            } else if let Entry::Link(target) = &entry {
                hasher.update(target.as_os_str().as_encoded_bytes());
                hasher.update(&[0]);
            }
        }
        Ok(*hasher.finalize().as_bytes())
    }

    /// What the entry at `path` of type `kind` contributes; `child` renders its shown path.
    /// An `io::Error` about the entry itself comes back as `Err(Ok(_))`, an error from
    /// deeper down as `Err(Err(_))`.
    fn entry(
        &mut self,
        path: &Path,
        kind: FileType,
        child: &dyn Fn() -> String,
        remember: bool,
    ) -> Result<Entry, Result<io::Error, FilesError>> {
        let vanished = |error: io::Error| {
            if error.kind() == ErrorKind::NotFound {
                Ok(Entry::Vanished)
            } else {
                Err(Ok(error))
            }
        };
        if kind.is_dir() {
            return self
                .tree(path, &child(), remember)
                .map(Entry::Dir)
                .map_err(Err);
        }
        let is_file =
            kind.is_file() || (kind.is_symlink() && fs::metadata(path).is_ok_and(|m| m.is_file()));
        if is_file {
            if let Some(digest) = self.cached(path) {
                return Ok(Entry::File(digest));
            }
            let read = open(path).and_then(|file| {
                let metadata = file.metadata()?;
                self.read(path, file, &metadata)
            });
            return match read {
                Ok(digest) => Ok(Entry::File(digest)),
                Err(error) => vanished(error),
            };
        }
        if kind.is_symlink() {
            return match fs::read_link(path) {
                Ok(target) => Ok(Entry::Link(target)),
                Err(error) => vanished(error),
            };
        }
        Ok(Entry::Other)
    }
}
