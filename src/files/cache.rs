//! What a file's metadata says of its content (`Stamp`) and the digests known by path and
//! stamp (`DigestCache`), so that a file that has not changed is not read again. Holds
//! digests; never reads a file's content.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustc_hash::FxHashMap;

use super::Digest;

/// How long before it is read a file must have last changed for its digest to be kept: a
/// write in the same tick of a coarse file system clock (a second on some, two on FAT) as an
/// earlier one would leave its stamp as it was.
pub const SETTLED: Duration = Duration::from_secs(3);

/// What a file's metadata says of its content: device, inode, size, and the times of its
/// last modification and last status change (in nanoseconds). Any write changes the
/// status change time, which no one can set back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stamp {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
    /// `st_size`.
    pub size: u64,
    /// `st_mtime` in nanoseconds.
    pub mtime_ns: i64,
    /// `st_ctime` in nanoseconds.
    pub ctime_ns: i64,
}

impl Stamp {
    /// The stamp of a file's metadata.
    #[must_use]
    pub fn of(metadata: &Metadata) -> Self {
        let ns = |seconds: i64, nanos: i64| seconds.saturating_mul(1_000_000_000) + nanos;
        Self {
            dev: metadata.dev(),
            ino: metadata.ino(),
            size: metadata.size(),
            mtime_ns: ns(metadata.mtime(), metadata.mtime_nsec()),
            ctime_ns: ns(metadata.ctime(), metadata.ctime_nsec()),
        }
    }
}

/// A file's digest as it was learned: its path, its stamp then, and the digest.
pub type Learned = (PathBuf, Stamp, Digest);

/// Digests of file contents by absolute path and stamp, so that a file that has not changed
/// is not read again: the stamp is checked, the content is not. A digest is learned only
/// when the file had last changed `settle` before it was read (see `SETTLED`).
#[derive(Debug)]
pub struct DigestCache {
    settle: Duration,
    inner: Mutex<CacheInner>,
}

#[derive(Debug, Default)]
struct CacheInner {
    known: FxHashMap<PathBuf, (Stamp, Digest)>,
    learned: Vec<Learned>,
    /// Files whose stamp was found equal to a known one since the last `new_look`: their
    /// digest, taken again without a `stat` (a 2,000-task build checks each shared header
    /// once, not once per task that names it).
    looked: FxHashMap<PathBuf, Digest>,
    /// Counts `new_look`s: a look taken before one is not kept after it.
    look: u64,
}

impl DigestCache {
    /// A cache of `known` digests that learns the settled ones it reads.
    #[must_use]
    pub fn new(known: FxHashMap<PathBuf, (Stamp, Digest)>, settle: Duration) -> Self {
        Self {
            settle,
            inner: Mutex::new(CacheInner {
                known,
                ..CacheInner::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The digest of the file at `path` if its stamp is still `stamp`.
    pub(super) fn get(&self, path: &Path, stamp: &Stamp) -> Option<Digest> {
        match self.lock().known.get(path) {
            Some((known, digest)) if known == stamp => Some(*digest),
            _ => None,
        }
    }

    /// The digest of the file at `path` as found unchanged since the last `new_look`, without
    /// looking at the file again.
    pub(super) fn looked(&self, path: &Path) -> Option<Digest> {
        self.lock().looked.get(path).copied()
    }

    /// Which look a `stat` about to be taken belongs to, for `keep_look`.
    pub(super) fn look(&self) -> u64 {
        self.lock().look
    }

    /// Keeps that the file at `path` was found unchanged with `digest` by a `stat` taken
    /// during `look`, unless a `new_look` came since.
    pub(super) fn keep_look(&self, path: &Path, digest: Digest, look: u64) {
        let mut inner = self.lock();
        if inner.look == look {
            inner.looked.insert(path.to_owned(), digest);
        }
    }

    /// Forgets what was found unchanged: files may change from now on (a task is starting
    /// or has ended), so each is looked at again.
    pub fn new_look(&self) {
        let mut inner = self.lock();
        inner.look += 1;
        inner.looked.clear();
    }

    /// Learns the digest of a file read at `read_at`, with the stamp it had before it was
    /// read, if it had settled by then.
    pub(super) fn learn(&self, path: &Path, stamp: Stamp, digest: Digest, read_at: SystemTime) {
        let Ok(read_ns) = read_at.duration_since(UNIX_EPOCH) else {
            return;
        };
        let read_ns = i64::try_from(read_ns.as_nanos()).unwrap_or(i64::MAX);
        let settle = i64::try_from(self.settle.as_nanos()).unwrap_or(i64::MAX);
        if stamp.mtime_ns.max(stamp.ctime_ns).saturating_add(settle) >= read_ns {
            return;
        }
        let mut inner = self.lock();
        if inner.known.get(path) == Some(&(stamp, digest)) {
            return;
        }
        inner.known.insert(path.to_owned(), (stamp, digest));
        inner.learned.push((path.to_owned(), stamp, digest));
    }

    /// The digests learned since the last call, to keep.
    pub fn take_learned(&self) -> Vec<Learned> {
        std::mem::take(&mut self.lock().learned)
    }
}
