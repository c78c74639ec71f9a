//! Reading one regular file's content into its blake3 digest: small files through one
//! reused buffer on the calling thread, large ones in pieces read and hashed on rayon's pool
//! and merged as blake3's tree merges them. Reads through the file handle it is given, never
//! by path again, so what is hashed is the file that was checked to be a regular file.

use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use blake3::hazmat::{self, HasherExt};

use super::Digest;

/// The size of the read buffer of each thread for files hashed on one thread.
const BUFFER_SIZE: usize = 64 * 1024;

/// The most bytes of a large file one thread reads and hashes at a time: a subtree of
/// blake3's tree (a power of two of its 1 KiB chunks).
const LEAF_SIZE: u64 = 1024 * 1024;

thread_local! {
    /// The read buffer of each thread, reused by every digest: zeroing a new one for each
    /// task's files cost more than hashing them when they are small.
    static BUFFER: std::cell::RefCell<Box<[u8]>> =
        std::cell::RefCell::new(vec![0; BUFFER_SIZE].into_boxed_slice());
}

/// Opens for reading without blocking, so a FIFO cannot hang the check.
pub(super) fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
}

/// The blake3 digest of everything `file` reads; `size` is what its metadata said, and
/// files of at least `parallel_from` bytes are hashed on rayon's pool.
pub(super) fn hash(file: File, size: u64, parallel_from: u64) -> io::Result<Digest> {
    if size >= parallel_from {
        hash_in_parallel(file, size)
    } else {
        hash_here(file)
    }
}

/// Hashes on the calling thread through its reused buffer.
fn hash_here(mut file: File) -> io::Result<Digest> {
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

/// Hashes a large file on rayon's pool: blake3's tree is split at its own subtree boundaries
/// and each leaf of at most `LEAF_SIZE` bytes is read (`pread`) and hashed by whichever thread
/// takes it, then the chaining values are merged up to the root. The file is read, not
/// memory-mapped: a mapped file that another process truncates kills the reader with SIGBUS,
/// and tasks may still be writing files while they are checked. A file whose size changed
/// while it was read is read again from its start on the calling thread, so the digest is
/// what reading it through would give.
fn hash_in_parallel(mut file: File, size: u64) -> io::Result<Digest> {
    if size <= LEAF_SIZE {
        return hash_here(file);
    }
    let split = hazmat::left_subtree_len(size);
    let (left, right) = rayon::join(
        || subtree(&file, 0, split),
        || subtree(&file, split, size - split),
    );
    let ends_at_size = BUFFER.with_borrow_mut(|buffer| file.read_at(&mut buffer[..1], size))? == 0;
    match (left, right) {
        (Ok(left), Ok(right)) if ends_at_size => {
            Ok(*hazmat::merge_subtrees_root(&left, &right, hazmat::Mode::Hash).as_bytes())
        }
        (Err(error), _) | (_, Err(error)) if error.kind() != ErrorKind::UnexpectedEof => Err(error),
        _ => {
            file.seek(SeekFrom::Start(0))?;
            hash_here(file)
        }
    }
}

/// The chaining value of the `len` bytes of `file` at `offset`, a subtree of blake3's tree.
fn subtree(file: &File, offset: u64, len: u64) -> io::Result<hazmat::ChainingValue> {
    if len <= LEAF_SIZE {
        return leaf(file, offset, len);
    }
    let split = hazmat::left_subtree_len(len);
    let (left, right) = rayon::join(
        || subtree(file, offset, split),
        || subtree(file, offset + split, len - split),
    );
    Ok(hazmat::merge_subtrees_non_root(
        &left?,
        &right?,
        hazmat::Mode::Hash,
    ))
}

/// The chaining value of one leaf, read through this thread's buffer.
fn leaf(file: &File, offset: u64, len: u64) -> io::Result<hazmat::ChainingValue> {
    let mut hasher = blake3::Hasher::new();
    hasher.set_input_offset(offset);
    BUFFER.with_borrow_mut(|buffer| {
        let mut done = 0;
        while done < len {
            let want =
                usize::try_from(len - done).map_or(buffer.len(), |left| left.min(buffer.len()));
            file.read_exact_at(&mut buffer[..want], offset + done)?;
            hasher.update(&buffer[..want]);
            done += want as u64;
        }
        Ok(hasher.finalize_non_root())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temp file holding `len` bytes of a pattern that differs from chunk to chunk.
    fn file_of(len: usize) -> (tempfile::NamedTempFile, Vec<u8>) {
        let content: Vec<u8> = (0..len)
            .map(|i| u8::try_from((i * 7 + i / 4096) % 251).expect("below 251"))
            .collect();
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), &content).expect("write");
        (file, content)
    }

    #[test]
    fn both_ways_give_blake3_of_the_content() {
        // Empty, one byte, within a chunk, exactly one chunk, and chunks plus a tail.
        for len in [0, 1, 100_000, 1 << 20, (1 << 20) + 1, 2_500_000, 4 << 20] {
            let (file, content) = file_of(len);
            let expected = *blake3::hash(&content).as_bytes();
            for parallel_from in [0, u64::MAX] {
                let opened = open(file.path()).expect("open");
                let size = u64::try_from(len).expect("small");
                assert_eq!(
                    hash(opened, size, parallel_from).expect("hash"),
                    expected,
                    "{len} bytes, parallel from {parallel_from}"
                );
            }
        }
        // A file whose size changed after it was taken is hashed as it is.
        let (file, content) = file_of(3_000_000);
        for size in [3, 2_000_000, 3_500_000] {
            let opened = open(file.path()).expect("open");
            assert_eq!(
                hash(opened, size, 0).expect("hash"),
                *blake3::hash(&content).as_bytes(),
                "size taken as {size}"
            );
        }
    }
}
