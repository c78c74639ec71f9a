//! Tests of resolving and digesting, through the public functions.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::Duration;

use glob::Pattern;
use proptest::prelude::*;
use rustc_hash::FxHashMap;
use tempfile::TempDir;

use super::*;

/// A temp dir holding `files` (path, content); directories are created as needed.
fn tree(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, content) in files {
        write(dir.path(), path, content);
    }
    dir
}

fn write(root: &Path, path: &str, content: &str) {
    let full = root.join(path);
    fs::create_dir_all(full.parent().expect("a parent")).expect("create parents");
    fs::write(full, content).expect("write file");
}

fn digests(cwd: &Path, patterns: &[&str]) -> Vec<FileDigest> {
    digest_all(cwd, patterns, None).expect("digests")
}

fn stamp(path: &Path) -> Stamp {
    Stamp::of(&fs::metadata(path).expect("stat"))
}

#[test]
fn a_file_whose_stamp_the_cache_knows_is_not_read_and_any_change_is() {
    let dir = tree(&[("a", "one\n"), ("d/x", "inside\n")]);
    let a = dir.path().join("a");
    let x = dir.path().join("d/x");
    let plain_tree = digests(dir.path(), &["d"]);
    // Made-up digests: what the cache says is taken without reading.
    let mut known = FxHashMap::default();
    known.insert(a.clone(), (stamp(&a), [7; 32]));
    known.insert(x.clone(), (stamp(&x), [8; 32]));
    let cache = DigestCache::new(known, SETTLED);
    let cached = |pattern: &str| {
        digest_all(dir.path(), &[pattern], Some(&cache)).expect("digests")[0].digest
    };
    assert_eq!(cached("a"), [7; 32]);
    assert_ne!(
        cached("d"),
        plain_tree[0].digest,
        "the file inside the tree was read"
    );
    // Same size, new content: the times differ. A file found unchanged is not looked at
    // again until a new look (a task starts or ends), then the change is seen.
    fs::write(&a, "two\n").expect("write");
    assert_eq!(cached("a"), [7; 32], "looked at again within one look");
    cache.new_look();
    assert_eq!(cached("a"), *blake3::hash(b"two\n").as_bytes());
    // Only the status change time differs (a chmod): read again too.
    cache.new_look();
    known_only_ctime_changes(&x, &cache, dir.path());
}

/// Changes the mode of `x` and back: its content and modification time stay, its status
/// change time moves, and the cache's made-up digest is no longer taken.
fn known_only_ctime_changes(x: &Path, cache: &DigestCache, cwd: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let before = fs::metadata(x).expect("stat");
    std::thread::sleep(Duration::from_millis(20));
    fs::set_permissions(x, fs::Permissions::from_mode(0o600)).expect("chmod");
    fs::set_permissions(x, before.permissions()).expect("chmod back");
    let after = fs::metadata(x).expect("stat");
    assert_eq!(after.modified().ok(), before.modified().ok());
    assert_eq!(after.len(), before.len());
    assert_eq!(
        digest_all(cwd, &["d/x"], Some(cache)).expect("digests")[0].digest,
        *blake3::hash(b"inside\n").as_bytes()
    );
}

#[test]
fn only_files_that_had_settled_when_read_are_learned() {
    let dir = tree(&[("a", "one\n"), ("d/x", "inside\n")]);
    // Just written: not settled an hour before now.
    let cache = DigestCache::new(FxHashMap::default(), Duration::from_secs(3600));
    digest_all(dir.path(), &["a", "d"], Some(&cache)).expect("digests");
    assert!(cache.take_learned().is_empty());
    // With no margin, files changed before they were read are learned, each once.
    let cache = DigestCache::new(FxHashMap::default(), Duration::ZERO);
    let first = digest_all(dir.path(), &["a", "d"], Some(&cache)).expect("digests");
    let mut learned: Vec<(PathBuf, Digest)> = cache
        .take_learned()
        .into_iter()
        .map(|(path, _, digest)| (path, digest))
        .collect();
    learned.sort();
    assert_eq!(
        learned,
        [
            (dir.path().join("a"), *blake3::hash(b"one\n").as_bytes()),
            (
                dir.path().join("d/x"),
                *blake3::hash(b"inside\n").as_bytes()
            ),
        ]
    );
    let again = digest_all(dir.path(), &["a", "d"], Some(&cache)).expect("digests");
    assert_eq!(again, first);
    assert!(cache.take_learned().is_empty(), "learned twice");
}

fn paths(cwd: &Path, patterns: &[&str]) -> Vec<String> {
    digests(cwd, patterns).into_iter().map(|d| d.path).collect()
}

/// The digest of the one path `pattern` resolves to.
fn one(cwd: &Path, pattern: &str) -> Digest {
    let found = digests(cwd, &[pattern]);
    assert_eq!(found.len(), 1, "{found:?}");
    found[0].digest
}

#[test]
fn digests_are_stable_and_follow_content() {
    let dir = tree(&[("a.txt", "one"), ("b.txt", "one")]);
    let first = digests(dir.path(), &["a.txt"]);
    assert_eq!(first, digests(dir.path(), &["a.txt"]));
    assert_eq!(first[0].digest, *blake3::hash(b"one").as_bytes());
    write(dir.path(), "a.txt", "two");
    assert_ne!(first, digests(dir.path(), &["a.txt"]));
}

#[test]
fn same_content_under_another_name_changes_the_list() {
    let dir = tree(&[("a.c", "int x;")]);
    let before = digests(dir.path(), &["*.c"]);
    fs::rename(dir.path().join("a.c"), dir.path().join("b.c")).expect("rename");
    let after = digests(dir.path(), &["*.c"]);
    assert_eq!(before[0].digest, after[0].digest);
    assert_ne!(before, after);
}

#[test]
fn double_star_finds_nested_files_but_not_dotfiles() {
    let dir = tree(&[
        ("a.c", ""),
        ("src/b.c", ""),
        ("src/deep/er/c.c", ""),
        ("src/d.h", ""),
        ("src/.e.c", ""),
        (".git/f.c", ""),
    ]);
    let found = paths(dir.path(), &["**/*.c"]);
    assert_eq!(found, ["a.c", "src/b.c", "src/deep/er/c.c"]);
}

#[test]
fn a_literal_leading_dot_matches_dotfiles() {
    let dir = tree(&[
        (".env", ""),
        (".envrc", ""),
        ("a/.env.local", ""),
        ("a/visible", ""),
        (".hidden/.env", ""),
        ("src/.e.c", ""),
        ("src/f.c", ""),
    ]);
    assert_eq!(paths(dir.path(), &["src/.*.c"]), ["src/.e.c"]);
    assert_eq!(paths(dir.path(), &[".env*"]), [".env", ".envrc"]);
    assert_eq!(
        paths(dir.path(), &["**/.env*"]),
        [".env", ".envrc", "a/.env.local"]
    );
    // Never `.` or `..`, though `.*` matches those names.
    assert_eq!(paths(dir.path(), &["a/.*"]), ["a/.env.local"]);
    assert_eq!(paths(dir.path(), &[".*"]), [".env", ".envrc", ".hidden"]);
}

#[test]
fn star_does_not_cross_a_slash() {
    let dir = tree(&[("a.c", ""), ("sub/b.c", ""), ("src/x/y", ""), ("src/z", "")]);
    assert_eq!(paths(dir.path(), &["*.c"]), ["a.c"]);
    assert_eq!(paths(dir.path(), &["src/*"]), ["src/x", "src/z"]);
    assert!(paths(dir.path(), &["*.h"]).is_empty());
}

#[test]
fn glob_files_lists_files_sorted_relative_to_cwd() {
    let dir = tree(&[
        ("src/lapi.c", ""),
        ("src/b.c", ""),
        ("src/.hidden.c", ""),
        ("src/sub/deep.c", ""),
        ("src/lapi.h", ""),
    ]);
    fs::create_dir_all(dir.path().join("src/dir.c")).expect("a directory named like a file");
    symlink(dir.path().join("src/b.c"), dir.path().join("src/link.c")).expect("symlink");
    assert_eq!(
        glob_files(dir.path(), "src/*.c").expect("glob"),
        ["src/b.c", "src/lapi.c", "src/link.c"]
    );
    assert_eq!(
        glob_files(dir.path(), "src/**/*.c").expect("glob"),
        ["src/b.c", "src/lapi.c", "src/link.c", "src/sub/deep.c"]
    );
    assert_eq!(
        glob_files(dir.path(), "./src/lapi.h").expect("literal"),
        ["src/lapi.h"]
    );
    assert!(
        glob_files(dir.path(), "src/none.c")
            .expect("missing literal")
            .is_empty()
    );
    assert!(
        glob_files(dir.path(), "src")
            .expect("a directory")
            .is_empty()
    );
    assert!(glob_files(dir.path(), "*.rs").expect("no match").is_empty());
    assert!(matches!(
        glob_files(dir.path(), "src/[.c"),
        Err(FilesError::InvalidPattern { .. })
    ));
}

#[test]
fn tree_digest_follows_nested_changes() {
    let dir = tree(&[("out/a", "1"), ("out/sub/b", "2")]);
    let mut seen = vec![one(dir.path(), "out")];
    assert_eq!(seen[0], one(dir.path(), "out/"));
    let mut changed = |what: &str| {
        let digest = one(dir.path(), "out");
        assert!(!seen.contains(&digest), "unchanged after {what}");
        seen.push(digest);
    };
    write(dir.path(), "out/sub/b", "3");
    changed("editing a nested file");
    write(dir.path(), "out/sub/c", "");
    changed("adding a file");
    fs::create_dir(dir.path().join("out/sub/empty")).expect("mkdir");
    changed("adding an empty directory");
    write(dir.path(), "out/.hidden", "");
    changed("adding a dotfile");
    fs::rename(dir.path().join("out/a"), dir.path().join("out/a2")).expect("rename");
    changed("renaming a file");
    symlink("a2", dir.path().join("out/link")).expect("symlink");
    changed("adding a symlink to a file");
    write(dir.path(), "out/a2", "changed");
    changed("editing the file a symlink points at");
    symlink("nowhere", dir.path().join("out/dangling")).expect("symlink");
    changed("adding a dangling symlink");
    fs::remove_file(dir.path().join("out/dangling")).expect("unlink");
    symlink("elsewhere", dir.path().join("out/dangling")).expect("symlink");
    changed("retargeting a dangling symlink");
}

#[test]
fn a_directory_and_a_file_differ_even_when_empty() {
    let dir = tree(&[("x/f", "")]);
    let with_file = one(dir.path(), "x");
    fs::remove_file(dir.path().join("x/f")).expect("unlink");
    fs::create_dir(dir.path().join("x/f")).expect("mkdir");
    assert_ne!(with_file, one(dir.path(), "x"));
}

#[test]
fn literal_paths_are_normalized_and_must_exist() {
    let dir = tree(&[("src/a.c", "x")]);
    assert_eq!(paths(dir.path(), &["./src//a.c"]), ["src/a.c"]);
    assert_eq!(paths(dir.path(), &["src/./"]), ["src"]);
    assert_eq!(
        digest_all(dir.path(), &["./no//such/file/"], None),
        Err(FilesError::Missing {
            path: "no/such/file".to_owned()
        })
    );
    assert_eq!(
        digest_all(dir.path(), &["src/a.c/b"], None),
        Err(FilesError::Missing {
            path: "src/a.c/b".to_owned()
        })
    );
}

#[test]
fn paths_outside_the_cwd_keep_their_form() {
    let dir = tree(&[("data/x.csv", "1"), ("work/keep", "")]);
    let cwd = dir.path().join("work");
    assert_eq!(paths(&cwd, &["../data/x.csv"]), ["../data/x.csv"]);
    assert_eq!(paths(&cwd, &["../data/*.csv"]), ["../data/x.csv"]);
    assert_eq!(paths(&cwd, &["../data/**/*.csv"]), ["../data/x.csv"]);
    let absolute = dir.path().join("data/x.csv");
    let absolute = absolute.to_str().expect("utf-8 temp dir");
    assert_eq!(paths(&cwd, &[absolute]), [absolute]);
    let pattern = format!(
        "{}/*.csv",
        Pattern::escape(&dir.path().join("data").to_string_lossy())
    );
    assert_eq!(paths(&cwd, &[&pattern]), [absolute]);
    let pattern = pattern.replace("/*.csv", "/**/*.csv");
    assert_eq!(paths(&cwd, &[&pattern]), [absolute]);
}

#[test]
fn patterns_are_checked() {
    for bad in ["[", "a/[b", "a**", "", "a\0b"] {
        assert!(check_pattern(bad).is_err(), "{bad:?}");
    }
    for good in ["src/**/*.c", "a?.txt", "[ab].c", "plain/path", "]"] {
        assert_eq!(check_pattern(good), Ok(()), "{good:?}");
    }
    let dir = tree(&[]);
    assert!(matches!(
        digest_all(dir.path(), &["src/["], None),
        Err(FilesError::InvalidPattern { pattern, .. }) if pattern == "src/["
    ));
    assert!(is_glob("a*") && is_glob("a?") && is_glob("[a]") && !is_glob("a/b.c"));
}

#[test]
fn a_cwd_with_glob_characters_works() {
    let dir = tree(&[("[x]*?/a.c", "1"), ("[x]*?/b.c", "2"), ("x/c.c", "3")]);
    let cwd = dir.path().join("[x]*?");
    assert_eq!(paths(&cwd, &["*.c"]), ["a.c", "b.c"]);
    assert_eq!(paths(&cwd, &["a.c"]), ["a.c"]);
}

#[test]
fn a_dangling_symlink_is_missing() {
    let dir = tree(&[]);
    symlink("nowhere", dir.path().join("link")).expect("symlink");
    symlink("loop", dir.path().join("loop")).expect("symlink");
    for name in ["link", "loop"] {
        assert_eq!(
            digest_all(dir.path(), &[name], None),
            Err(FilesError::Missing {
                path: name.to_owned()
            })
        );
    }
    // A glob that matches only dangling links matches nothing.
    assert!(paths(dir.path(), &["l*"]).is_empty());
}

#[test]
fn symlinks_named_by_a_pattern_are_followed() {
    let dir = tree(&[("real/f", "content")]);
    symlink("real", dir.path().join("dir-link")).expect("symlink");
    symlink("real/f", dir.path().join("file-link")).expect("symlink");
    assert_eq!(one(dir.path(), "dir-link"), one(dir.path(), "real"));
    assert_eq!(one(dir.path(), "file-link"), one(dir.path(), "real/f"));
}

#[test]
fn symlink_cycles_inside_a_directory_end() {
    let dir = tree(&[("d/f", "x")]);
    symlink("..", dir.path().join("d/up")).expect("symlink");
    symlink(".", dir.path().join("d/here")).expect("symlink");
    symlink("b", dir.path().join("d/a")).expect("symlink");
    symlink("a", dir.path().join("d/b")).expect("symlink");
    symlink(".", dir.path().join("d/again")).expect("symlink");
    let first = one(dir.path(), "d");
    assert_eq!(first, one(dir.path(), "d"));
    assert_eq!(paths(dir.path(), &["."]), ["."]);
    // glob 0.3 enters symlinked directories, so `**` would list `d/here/again/here/...`
    // to the kernel's limit of 40 links, in every combination.
    assert_eq!(paths(dir.path(), &["d/**/f"]), ["d/f"]);
    assert_eq!(
        paths(dir.path(), &["**"]),
        ["d", "d/again", "d/here", "d/up"]
    );
}

#[test]
fn a_fifo_is_refused_without_blocking() {
    let dir = tree(&[("d/f", "")]);
    nix::unistd::mkfifo(&dir.path().join("d/pipe"), nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    assert!(matches!(
        digest_all(dir.path(), &["d/pipe"], None),
        Err(FilesError::Unreadable { path, .. }) if path == "d/pipe"
    ));
    // Inside a directory, a FIFO counts by name only.
    let with_pipe = one(dir.path(), "d");
    fs::remove_file(dir.path().join("d/pipe")).expect("unlink");
    assert_ne!(with_pipe, one(dir.path(), "d"));
}

#[test]
fn results_are_sorted_and_each_path_once() {
    let dir = tree(&[("b.c", "1"), ("a.c", "2"), ("sub/c.c", "3")]);
    let found = paths(dir.path(), &["sub/c.c", "*.c", "b.c", "./b.c", "**/*.c"]);
    assert_eq!(found, ["a.c", "b.c", "sub/c.c"]);
}

#[test]
fn every_level_of_a_recursive_glob_gets_the_digest_it_gets_alone() {
    let dir = tree(&[("dist/a/b/f", "1"), ("dist/a/g", "2"), ("dist/h", "3")]);
    // `dist/**` lists the directories below `dist`, not `dist` itself.
    let all = digests(dir.path(), &["dist", "dist/**", "dist/**/*"]);
    let listed: Vec<&str> = all.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(
        listed,
        [
            "dist",
            "dist/a",
            "dist/a/b",
            "dist/a/b/f",
            "dist/a/g",
            "dist/h"
        ]
    );
    for found in &all {
        assert_eq!(found.digest, one(dir.path(), &found.path), "{}", found.path);
    }
}

#[test]
fn resolve_now_names_what_the_patterns_match() {
    let dir = tree(&[
        ("out/x", ""),
        ("out/sub/y", ""),
        ("a.o", ""),
        ("src/b.o", ""),
        ("src/b.c", ""),
        ("keep.txt", ""),
        ("target/inside", "precious"),
    ]);
    symlink("target", dir.path().join("link")).expect("symlink");
    let (found, errors) = resolve_now(
        dir.path(),
        &[
            "out/", "**/*.o", "missing", "link", "nothing*", ".", "..", "**",
        ],
    );
    let shown: Vec<&str> = found.iter().map(|(path, _)| path.as_str()).collect();
    // `**` matches directories, never the working directory itself.
    assert_eq!(
        shown,
        [
            "a.o", "link", "missing", "out", "out/sub", "src", "src/b.o", "target"
        ]
    );
    assert_eq!(found[0].1, dir.path().join("a.o"));
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn resolve_now_does_not_reach_through_a_symlinked_directory() {
    let dir = tree(&[("target/a.o", ""), ("work/real/b.o", "")]);
    symlink("../target", dir.path().join("work/linked")).expect("symlink");
    let cwd = dir.path().join("work");
    let (found, errors) = resolve_now(&cwd, &["*/*.o"]);
    let shown: Vec<&str> = found.iter().map(|(path, _)| path.as_str()).collect();
    assert_eq!((shown, errors), (vec!["real/b.o"], vec![]));
}

#[test]
fn a_name_that_is_not_utf8_does_not_stop_a_glob() {
    use std::os::unix::ffi::OsStrExt;

    let dir = tree(&[("d/a.c", ""), ("d/.b.c", ""), ("d/.git/c.c", "")]);
    let odd = std::ffi::OsStr::from_bytes(b"\xff.c");
    fs::write(dir.path().join("d").join(odd), "").expect("write");
    // The glob library panics on this name (its message shows in the test output);
    // the listing is redone without the code that panics.
    assert_eq!(paths(dir.path(), &["d/*.c"]), ["d/a.c"]);
    assert_eq!(paths(dir.path(), &["d/**/*.c"]), ["d/a.c"]);
    assert_eq!(paths(dir.path(), &["d/.*.c"]), ["d/.b.c"]);
    assert_eq!(digests(dir.path(), &["d"]).len(), 1);
}

#[test]
fn hex_round_trips() {
    let digest = *blake3::hash(b"x").as_bytes();
    let hex = to_hex(&digest);
    assert_eq!(hex.len(), 64);
    assert_eq!(hex, hex.to_lowercase());
    assert_eq!(from_hex(&hex), Some(digest));
    assert_eq!(from_hex(&hex.to_uppercase()), Some(digest));
    assert_eq!(from_hex(&hex[1..]), None);
    assert_eq!(from_hex(&format!("{}g", &hex[1..])), None);
}

/// The digests of `patterns` with everything on the calling thread and with everything on
/// rayon's pool, however small.
fn both_ways(
    cwd: &Path,
    patterns: &[&str],
) -> (
    Result<Vec<FileDigest>, FilesError>,
    Result<Vec<FileDigest>, FilesError>,
) {
    (
        digest_all_with(cwd, patterns, None, Parallelism::SEQUENTIAL),
        digest_all_with(cwd, patterns, None, Parallelism::ALWAYS),
    )
}

#[test]
fn the_parallel_path_gives_the_sequential_digests() {
    let mut files: Vec<(String, String)> = (0..300)
        .map(|i| (format!("many/d{}/f{i:03}", i % 7), format!("content {i}")))
        .collect();
    files.push(("many/d3/deeper/x".to_owned(), String::new()));
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(path, content)| (path.as_str(), content.as_str()))
        .collect();
    let dir = tree(&files);
    // A file of several read chunks, in a tree and alone.
    let large: Vec<u8> = (0..2_500_000_u32).map(|i| (i % 253) as u8).collect();
    fs::write(dir.path().join("many/large.bin"), &large).expect("write");
    symlink("d1", dir.path().join("many/link")).expect("symlink");
    for patterns in [
        &["many"][..],
        &["many/**/*"],
        &["many/**", "many"],
        &["many/large.bin"],
        &["many/d2/*", "many/d5/*", "many/large.bin"],
    ] {
        let (sequential, parallel) = both_ways(dir.path(), patterns);
        let sequential = sequential.expect("digests");
        assert!(!sequential.is_empty());
        assert_eq!(Ok(sequential), parallel, "{patterns:?}");
    }
    assert_eq!(
        one(dir.path(), "many/large.bin"),
        *blake3::hash(&large).as_bytes()
    );
}

#[test]
fn the_parallel_path_returns_the_first_error_in_path_order() {
    let files: Vec<(String, &str)> = (0..50).map(|i| (format!("f{i:02}"), "x")).collect();
    let files: Vec<(&str, &str)> = files.iter().map(|(p, c)| (p.as_str(), *c)).collect();
    let dir = tree(&files);
    nix::unistd::mkfifo(&dir.path().join("f10-pipe"), nix::sys::stat::Mode::S_IRWXU)
        .expect("mkfifo");
    let unreadable = Err(FilesError::Unreadable {
        path: "f10-pipe".to_owned(),
        message: "not a regular file or directory".to_owned(),
    });
    let missing = Err(FilesError::Missing {
        path: "f05-missing".to_owned(),
    });
    for (patterns, expected) in [
        (&["f*", "f99-missing"][..], &unreadable),
        (&["f*", "f05-missing"], &missing),
        (
            &["f05-missing", "f*", "f00-missing"],
            &Err(FilesError::Missing {
                path: "f00-missing".to_owned(),
            }),
        ),
    ] {
        let (sequential, parallel) = both_ways(dir.path(), patterns);
        assert_eq!(&sequential, expected, "{patterns:?}");
        assert_eq!(&parallel, expected, "{patterns:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// The result depends on the files, not on the order of the patterns.
    #[test]
    fn pattern_order_does_not_matter(
        files in proptest::collection::btree_map("[a-c]{1,2}(/[a-c]{1,2}){0,2}\\.[ch]", "[a-z]{0,8}", 1..12),
        seed in any::<u64>(),
    ) {
        let dir = tree(&[]);
        // A file may not also be a directory: keep the first of any such clash.
        let mut written = Vec::new();
        for (path, content) in &files {
            let full = dir.path().join(path);
            if full.parent().is_some_and(|parent| fs::create_dir_all(parent).is_ok())
                && fs::write(&full, content).is_ok()
            {
                written.push(path.clone());
            }
        }
        let mut patterns: Vec<String> = written.clone();
        patterns.extend(["**/*.c", "*/*.h", "a", "b/**"].map(str::to_owned));
        patterns.retain(|p| is_glob(p) || dir.path().join(p).exists());
        let forward = digest_all(dir.path(), &patterns, None).expect("digests");
        let len = patterns.len();
        patterns.rotate_left(usize::try_from(seed % len as u64).expect("small"));
        patterns.reverse();
        prop_assert_eq!(&forward, &digest_all(dir.path(), &patterns, None).expect("digests"));
        for path in &written {
            prop_assert!(forward.iter().any(|d| &d.path == path));
        }
    }

    /// Going parallel changes nothing, whatever the tree and the patterns.
    #[test]
    fn parallel_digests_are_the_sequential_ones(
        files in proptest::collection::btree_map("[a-c]{1,2}(/[a-c]{1,2}){0,2}\\.[ch]", "[a-z]{0,8}", 1..24),
        missing in proptest::option::of("[a-c]{1,2}\\.[ch]"),
    ) {
        let dir = tree(&[]);
        for (path, content) in &files {
            let full = dir.path().join(path);
            if full.parent().is_some_and(|parent| fs::create_dir_all(parent).is_ok()) {
                let _ = fs::write(&full, content);
            }
        }
        let mut patterns = vec!["**/*.c", "*/*.h", "a", "b/**", "c"];
        patterns.retain(|p| is_glob(p) || dir.path().join(p).exists());
        if let Some(missing) = &missing {
            patterns.push(missing);
        }
        let (sequential, parallel) = both_ways(dir.path(), &patterns);
        prop_assert_eq!(sequential, parallel);
    }
}
