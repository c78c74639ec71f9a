//! `tasks.<name>.outputs`: the paths a finished task declared as its outputs, as another task
//! reads them: globs expanded to what they match now (sorted), every path relative to the
//! reading task's working directory. Reads directories to expand globs; never a file's content.

use std::path::{Component, Path, PathBuf};

use crate::files::{is_glob, lexical, resolve_now};

/// The paths of `patterns` (a task's outputs, templates filled in), relative to
/// `producer_cwd`, as seen from `reader_cwd`: a literal path as written (rebased), a glob as
/// the sorted paths it matches now.
#[must_use]
pub fn seen_from(patterns: &[String], producer_cwd: &Path, reader_cwd: &Path) -> Vec<String> {
    let mut out = Vec::with_capacity(patterns.len());
    for pattern in patterns {
        // An absolute path stays absolute: it names the same file from anywhere.
        let absolute = Path::new(pattern).is_absolute();
        if is_glob(pattern) {
            let (found, _) = resolve_now(producer_cwd, std::slice::from_ref(pattern));
            out.extend(
                found
                    .into_iter()
                    .map(|(_, full)| shown(&full, reader_cwd, absolute)),
            );
        } else {
            out.push(shown(&producer_cwd.join(pattern), reader_cwd, absolute));
        }
    }
    out
}

/// `path` as the reading task names it: relative to its `cwd` when both are absolute.
fn shown(path: &Path, reader_cwd: &Path, keep_absolute: bool) -> String {
    let path = lexical(path);
    let base = lexical(reader_cwd);
    if keep_absolute || !path.is_absolute() || !base.is_absolute() {
        return path.to_string_lossy().into_owned();
    }
    relative_to(&path, &base).to_string_lossy().into_owned()
}

/// `path` relative to `base`, both absolute and normalized: `../` for each of `base`'s
/// components past the common prefix.
pub(super) fn relative_to(path: &Path, base: &Path) -> PathBuf {
    let ours: Vec<Component<'_>> = path.components().collect();
    let theirs: Vec<Component<'_>> = base.components().collect();
    let common = ours.iter().zip(&theirs).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..theirs.len() {
        out.push("..");
    }
    for component in &ours[common..] {
        out.push(component);
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_rebased_on_the_readers_directory() {
        let cases = [
            ("/p/w", "obj/a.o", "/p/w", "obj/a.o"),
            ("/p/w/lib", "a.o", "/p/w", "lib/a.o"),
            ("/p/w", "lib/a.o", "/p/w/bin", "../lib/a.o"),
            ("/p/w/x", "../y/a.o", "/p/w/z", "../y/a.o"),
            ("/p/w", "/abs/a.o", "/p/w", "/abs/a.o"),
        ];
        for (producer, pattern, reader, expected) in cases {
            assert_eq!(
                seen_from(
                    &[pattern.to_owned()],
                    Path::new(producer),
                    Path::new(reader)
                ),
                [expected],
                "{pattern} from {producer} seen from {reader}"
            );
        }
    }

    #[test]
    fn globs_become_the_sorted_files_they_match() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("obj")).expect("mkdir");
        for name in ["b.o", "a.o", "c.txt"] {
            std::fs::write(dir.path().join("obj").join(name), "").expect("write");
        }
        let found = seen_from(&["obj/*.o".to_owned()], dir.path(), dir.path());
        assert_eq!(found, ["obj/a.o", "obj/b.o"]);
    }
}
