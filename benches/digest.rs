//! Micro-benchmarks of `files::digest_all`, one path after another (`sequential`: the way it
//! was before the digests went to rayon) against the thresholds it uses (`default`) and
//! against everything on the pool (`always`): one 2 GiB file, 10,000 files of 4 KiB in one
//! tree, and 1 to 64 small files named one by one (where the pool must not cost more than
//! it saves).
//!
//! Run with `cargo bench --bench digest`; the files are written once into a temp dir under
//! the system's temp directory (2 GiB free needed), read from the page cache, and removed at
//! the end. Numbers are in BENCHMARKS.md.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use divan::Bencher;
use divan::counter::BytesCount;
use engine::files::{Parallelism, digest_all_with};
use tempfile::TempDir;

/// The temp dir of the files, taken and removed when the benchmarks are done.
static DIR: Mutex<Option<TempDir>> = Mutex::new(None);

fn main() {
    divan::main();
    drop(DIR.lock().expect("not poisoned").take());
}

/// The size of the large file.
const LARGE: usize = 2 << 30;

/// How many small files the tree holds, and the size of each.
const TREE_FILES: usize = 10_000;
const SMALL: usize = 4096;

/// The ways to go parallel that are compared.
const MODES: &[&str] = &["sequential", "default", "always"];

fn parallelism(mode: &str) -> Parallelism {
    match mode {
        "sequential" => Parallelism::SEQUENTIAL,
        "default" => Parallelism::DEFAULT,
        _ => Parallelism::ALWAYS,
    }
}

/// The fixture root, made on first use: `large.bin`, `tree/` and `small/`.
fn root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().to_owned();
        // Bytes that differ from block to block, so no layer can shortcut zeros.
        let block: Vec<u8> = (0..1_u32 << 20)
            .map(|i| u8::try_from(i % 251).expect("below 251"))
            .collect();
        let mut large = fs::File::create(root.join("large.bin")).expect("create");
        for _ in 0..LARGE / block.len() {
            std::io::Write::write_all(&mut large, &block).expect("write");
        }
        for i in 0..TREE_FILES {
            let sub = root.join(format!("tree/d{:02}", i % 100));
            fs::create_dir_all(&sub).expect("mkdir");
            fs::write(sub.join(format!("f{i:05}")), &block[i % 64..i % 64 + SMALL]).expect("write");
        }
        fs::create_dir_all(root.join("small")).expect("mkdir");
        for i in 0..64 {
            fs::write(root.join(format!("small/f{i:02}")), &block[i..i + SMALL]).expect("write");
        }
        *DIR.lock().expect("not poisoned") = Some(dir);
        root
    })
}

fn digest(patterns: &[String], mode: &str) -> usize {
    digest_all_with(root(), patterns, None, parallelism(mode))
        .expect("digests")
        .len()
}

/// One 2 GiB file.
#[divan::bench(args = MODES, sample_count = 5, sample_size = 1)]
fn large_file(bencher: Bencher, mode: &str) {
    let patterns = ["large.bin".to_owned()];
    digest(&patterns, mode);
    bencher
        .counter(BytesCount::new(LARGE))
        .bench(|| digest(&patterns, mode));
}

/// 10,000 files of 4 KiB in 100 directories, named by the tree's root.
#[divan::bench(args = MODES, sample_count = 10, sample_size = 1)]
fn tree_of_small_files(bencher: Bencher, mode: &str) {
    let patterns = ["tree".to_owned()];
    digest(&patterns, mode);
    bencher
        .counter(BytesCount::new(TREE_FILES * SMALL))
        .bench(|| digest(&patterns, mode));
}

/// The same 10,000 files matched one by one by a glob.
#[divan::bench(args = MODES, sample_count = 10, sample_size = 1)]
fn glob_of_small_files(bencher: Bencher, mode: &str) {
    let patterns = ["tree/**/f*".to_owned()];
    assert_eq!(digest(&patterns, mode), TREE_FILES);
    bencher
        .counter(BytesCount::new(TREE_FILES * SMALL))
        .bench(|| digest(&patterns, mode));
}

/// A task's few inputs: 1 to 64 files of 4 KiB named one by one.
#[divan::bench(consts = [1, 2, 4, 8, 16, 64], args = MODES, sample_count = 200)]
fn few_small_files<const N: usize>(bencher: Bencher, mode: &str) {
    let patterns: Vec<String> = (0..N).map(|i| format!("small/f{i:02}")).collect();
    digest(&patterns, mode);
    bencher
        .counter(BytesCount::new(N * SMALL))
        .bench(|| digest(&patterns, mode));
}
