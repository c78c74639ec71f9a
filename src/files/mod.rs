//! The files of a task: resolves its `inputs:` and `outputs:` patterns against a working
//! directory and fingerprints their content with blake3, for up-to-date checks that compare
//! content, never clocks. Only reads the file system; knows nothing of tasks or of the run
//! record that stores the digests. Declares and re-exports only: `pattern` resolves,
//! `digest` digests matches and trees, `content` hashes one file's content, `cache` keeps digests by stamp, `error` says what went wrong, `observe` notes what a run
//! looked at.

mod cache;
mod content;
mod digest;
mod error;
pub mod observe;
mod pattern;
#[cfg(test)]
mod tests;

pub use cache::{DigestCache, Learned, SETTLED, Stamp};
pub use digest::{Digest, FileDigest, Parallelism, digest_all, digest_all_with, from_hex, to_hex};
pub use error::FilesError;
pub(crate) use pattern::{GLOB_OPTIONS, resolve_now};
pub use pattern::{check_pattern, glob_files, is_glob, lexical};
