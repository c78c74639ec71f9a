//! Reading one regular file's content into its blake3 digest: small files through one
//! reused buffer on the calling thread, large ones in big chunks hashed on rayon's pool while
//! the next chunk is read. Reads through the file handle it is given, never by path again, so
//! what is hashed is the file that was checked to be a regular file.

use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::Digest;

/// The size of the read buffer of each thread for files hashed on one thread.
const BUFFER_SIZE: usize = 64 * 1024;

/// The size of each of the two chunks a large file is read in: one is hashed on every CPU
/// while the other is read.
const CHUNK_SIZE: usize = 1024 * 1024;

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
        hash_in_parallel(file)
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

/// Hashes chunk after chunk with `update_rayon` (blake3's tree split over the pool) while
/// the next chunk is read. The file is read, not memory-mapped: a mapped file that another
/// process truncates kills the reader with SIGBUS, and tasks may still be writing files
/// while they are checked.
fn hash_in_parallel(mut file: File) -> io::Result<Digest> {
    let mut hasher = blake3::Hasher::new();
    let mut current = vec![0; CHUNK_SIZE];
    let mut next = vec![0; CHUNK_SIZE];
    let mut filled = fill(&mut file, &mut current)?;
    while filled > 0 {
        let ((), read) = rayon::join(
            || {
                hasher.update_rayon(&current[..filled]);
            },
            || fill(&mut file, &mut next),
        );
        filled = read?;
        std::mem::swap(&mut current, &mut next);
    }
    Ok(*hasher.finalize().as_bytes())
}

/// Reads into `buffer` until it is full or the file ends; how many bytes were read.
fn fill(file: &mut File, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
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
        for len in [0, 1, 100_000, CHUNK_SIZE, 2 * CHUNK_SIZE + 12_345] {
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
    }
}
