//! Digesting what patterns resolve to: blake3 of a file's content, or of a directory's tree,
//! with the cache's known digests taken instead of reading. Many matches, a large
//! directory's entries and a large file's chunks are digested on rayon's pool; the result and
//! the error returned are those of digesting one path after another. A file the cache found
//! unchanged since its last `new_look` is not looked at again. Only reads the file system.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{self, File, FileType, Metadata};
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use rayon::prelude::*;

use super::content::{self, open};
use super::pattern::{Match, has_descendants, is_missing, resolve, sort_and_dedup};
use super::{DigestCache, FilesError, Stamp, observe};

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

/// When digesting goes to rayon's pool: below each threshold the work stays on the calling
/// thread, where handing it over would cost more than it saves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parallelism {
    /// The least number of matches digested in parallel.
    pub matches: usize,
    /// The least number of entries of one directory digested in parallel.
    pub entries: usize,
    /// The least size in bytes of a file hashed on every CPU.
    pub file_bytes: u64,
}

impl Parallelism {
    /// The thresholds `digest_all` uses, measured on a 2-CPU machine (BENCHMARKS.md).
    pub const DEFAULT: Self = Self {
        matches: 64,
        entries: 64,
        file_bytes: 1024 * 1024,
    };

    /// Everything on the calling thread, one path after another.
    pub const SEQUENTIAL: Self = Self {
        matches: usize::MAX,
        entries: usize::MAX,
        file_bytes: u64::MAX,
    };

    /// Everything on rayon's pool, however small; for tests.
    pub const ALWAYS: Self = Self {
        matches: 0,
        entries: 0,
        file_bytes: 0,
    };
}

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
    digest_all_with(cwd, patterns, cache, Parallelism::DEFAULT)
}

/// `digest_all` with other thresholds for going parallel, for benchmarks and tests: the
/// result is the same whatever they are.
///
/// # Errors
///
/// As `digest_all`.
pub fn digest_all_with(
    cwd: &Path,
    patterns: &[impl AsRef<str>],
    cache: Option<&DigestCache>,
    parallelism: Parallelism,
) -> Result<Vec<FileDigest>, FilesError> {
    let mut matches = Vec::with_capacity(patterns.len());
    for pattern in patterns {
        resolve(cwd, pattern.as_ref(), &mut matches)?;
    }
    sort_and_dedup(&mut matches);
    // When a later match lies inside an earlier directory (`dist/**` matches every level of
    // `dist`), the matches go in order so that the later ones take the digests the earlier
    // tree found; the entries of each directory may still go in parallel.
    let nested: Vec<bool> = (0..matches.len())
        .map(|index| has_descendants(&matches[index + 1..], &matches[index].path))
        .collect();
    let in_order = nested.contains(&true) || matches.len() < parallelism.matches;
    let digester = Digester::new(cache, parallelism, nested.contains(&true));
    let one = |(found, nested): (&Match, &bool)| digester.top(found, *nested);
    let digests: Vec<Option<Digest>> = if in_order {
        matches
            .iter()
            .zip(&nested)
            .map(one)
            .collect::<Result<_, _>>()?
    } else {
        // Every match is digested, and the first error in path order is the one returned.
        let results: Vec<_> = matches.par_iter().zip(&nested).map(one).collect();
        results.into_iter().collect::<Result<_, _>>()?
    };
    Ok(matches
        .into_iter()
        .zip(digests)
        .filter_map(|(found, digest)| {
            digest.map(|digest| FileDigest {
                path: found.path,
                digest,
            })
        })
        .collect())
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

/// Digests files and trees, remembering the digests found inside a tree when later matches
/// lie inside it too (`dist/**` matches every level of `dist`); with a cache, files whose
/// stamp it knows are not read. Shared by the threads of rayon's pool.
struct Digester<'c> {
    /// Digests found inside trees, when `remembering`.
    known: Mutex<HashMap<PathBuf, Digest>>,
    /// Whether any match lies inside another.
    remembering: bool,
    cache: Option<&'c DigestCache>,
    parallelism: Parallelism,
}

impl<'c> Digester<'c> {
    fn new(cache: Option<&'c DigestCache>, parallelism: Parallelism, remembering: bool) -> Self {
        Self {
            known: Mutex::new(HashMap::new()),
            remembering,
            cache,
            parallelism,
        }
    }

    fn known(&self) -> MutexGuard<'_, HashMap<PathBuf, Digest>> {
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The digest the cache holds for the regular file at `path` (symlinks followed). Only
    /// absolute paths are cached: a relative one would name another file elsewhere.
    fn cached(&self, path: &Path) -> Option<Digest> {
        let cache = self.cache.filter(|_| path.is_absolute())?;
        if let Some(digest) = cache.looked(path) {
            return Some(digest);
        }
        let look = cache.look();
        let metadata = fs::metadata(path).ok().filter(Metadata::is_file)?;
        let digest = cache.get(path, &Stamp::of(&metadata))?;
        observe::file(path, &metadata);
        cache.keep_look(path, digest, look);
        Some(digest)
    }

    /// The digest of the open regular `file` at `path`, whose metadata is `metadata`;
    /// learned by the cache once read.
    fn read(&self, path: &Path, file: File, metadata: &Metadata) -> io::Result<Digest> {
        let read_at = SystemTime::now();
        observe::file(path, metadata);
        let digest = content::hash(file, metadata.len(), self.parallelism.file_bytes)?;
        if let Some(cache) = self.cache.filter(|_| path.is_absolute()) {
            cache.learn(path, Stamp::of(metadata), digest, read_at);
        }
        Ok(digest)
    }

    /// The digest of one match; `None` for a glob match that vanished. `nested` says
    /// whether later matches lie inside this one when it is a directory.
    fn top(&self, found: &Match, nested: bool) -> Result<Option<Digest>, FilesError> {
        if self.remembering
            && let Some(digest) = self.known().get(&found.full)
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
            Err(error) if is_missing(&error) && found.glob_from.is_some() => {
                observe::missing(&found.full);
                return Ok(None);
            }
            Err(error) if is_missing(&error) => {
                observe::missing(&found.full);
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
            self.tree(&found.full, &found.path, nested).map(Some)
        } else {
            Err(FilesError::Unreadable {
                path: found.path.clone(),
                message: "not a regular file or directory".to_owned(),
            })
        }
    }

    /// The tree digest of directory `dir` (shown as `shown` in errors): blake3 over its
    /// entries sorted by name, each as name, a 0 byte, a kind letter and what the kind
    /// carries: `f` and the content digest, `d` and the subtree digest, `l`, the link
    /// target and a 0 byte, or `o` alone. Subdirectories reached through a symlink are not
    /// entered, so cycles end. The entries of a large directory are digested in parallel;
    /// the first error in name order is returned either way.
    fn tree(&self, dir: &Path, shown: &str, remember: bool) -> Result<Digest, FilesError> {
        observe::dir_at(dir);
        let mut entries = fs::read_dir(dir)
            .and_then(|listing| {
                listing
                    .map(|entry| entry.and_then(|e| Ok((e.file_name(), e.file_type()?))))
                    .collect::<io::Result<Vec<(OsString, FileType)>>>()
            })
            .map_err(|error| unreadable(shown, error))?;
        entries.sort_unstable_by(|a, b| a.0.as_encoded_bytes().cmp(b.0.as_encoded_bytes()));
        let one =
            |(name, kind): &(OsString, FileType)| self.child(dir, shown, name, *kind, remember);
        let mut computed = (entries.len() >= self.parallelism.entries)
            .then(|| entries.par_iter().map(one).collect::<Vec<_>>().into_iter());
        let mut hasher = blake3::Hasher::new();
        for entry in &entries {
            let (name, _) = entry;
            let digested = match &mut computed {
                Some(computed) => computed.next().expect("one result per entry"),
                None => one(entry),
            }?;
            let (tag, digest) = match &digested {
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
                    self.known().insert(dir.join(name), digest);
                }
            } else if let Entry::Link(target) = &digested {
                hasher.update(target.as_os_str().as_encoded_bytes());
                hasher.update(&[0]);
            }
        }
        Ok(*hasher.finalize().as_bytes())
    }

    /// What the entry `name` of type `kind` in `dir` (shown as `shown`) contributes.
    fn child(
        &self,
        dir: &Path,
        shown: &str,
        name: &OsString,
        kind: FileType,
        remember: bool,
    ) -> Result<Entry, FilesError> {
        let child = || format!("{shown}/{}", name.to_string_lossy());
        self.entry(&dir.join(name), kind, &child, remember)
            .map_err(|error| match error {
                Ok(error) => unreadable(&child(), error),
                Err(error) => error,
            })
    }

    /// What the entry at `path` of type `kind` contributes; `child` renders its shown path.
    /// An `io::Error` about the entry itself comes back as `Err(Ok(_))`, an error from
    /// deeper down as `Err(Err(_))`.
    fn entry(
        &self,
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

/// The error for a path that cannot be read.
fn unreadable(path: &str, error: io::Error) -> FilesError {
    FilesError::Unreadable {
        path: path.to_owned(),
        message: error.to_string(),
    }
}
