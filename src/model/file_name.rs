//! `file_name`: a task's name as the name of one file in the state dir (its log, its results,
//! its Slurm job's files), never a path: a matrix value like `a/../../x` or `b/c` must not
//! lead out of the directory or into a new one. Knows nothing of where the files are.

use std::fmt::Write as _;

/// Longest name made, in bytes: file systems allow 255, and the callers add suffixes like
/// `.12.status`.
const MAX_LEN: usize = 200;

/// `task` as one file name. Plain names stay as they are (`build`, `test[os=linux]`); a `/`,
/// a `%`, a control character and a leading `.` are written `%XX` (their UTF-8 bytes in hex),
/// so that different names never make the same file name and none is `.` or `..`. A name
/// longer than 200 bytes keeps its first bytes and ends in `%~` and a hash of the whole name
/// (which no escape makes), so it stays unique.
#[must_use]
pub fn file_name(task: &str) -> String {
    let mut name = String::with_capacity(task.len());
    for (at, c) in task.char_indices() {
        let escaped = match c {
            '/' | '%' => true,
            '.' => at == 0,
            c => c.is_control(),
        };
        if escaped {
            let mut bytes = [0; 4];
            for byte in c.encode_utf8(&mut bytes).bytes() {
                let _ = write!(name, "%{byte:02X}");
            }
        } else {
            name.push(c);
        }
    }
    if name.len() <= MAX_LEN {
        return name;
    }
    let hash = blake3::hash(task.as_bytes()).to_hex();
    let hash = &hash.as_str()[..16];
    let mut end = MAX_LEN - hash.len() - 2;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}%~{hash}", &name[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_stay_readable_and_paths_become_one_name() {
        let cases = [
            ("build", "build"),
            ("test[os=linux]", "test[os=linux]"),
            ("test[os=linux,py=3.10]", "test[os=linux,py=3.10]"),
            ("t[v=café ü]", "t[v=café ü]"),
            ("t[v=b/c]", "t[v=b%2Fc]"),
            ("t[v=a/../../../../x]", "t[v=a%2F..%2F..%2F..%2F..%2Fx]"),
            ("t[v=100%]", "t[v=100%25]"),
            ("t[v=a\nb\0]", "t[v=a%0Ab%00]"),
            (".", "%2E"),
            ("..", "%2E."),
            (".hidden", "%2Ehidden"),
        ];
        for (task, expected) in cases {
            assert_eq!(file_name(task), expected, "{task:?}");
        }
    }

    #[test]
    fn different_names_make_different_file_names() {
        let names = [
            "t[v=b/c]",
            "t[v=b%2Fc]",
            "t[v=b%252Fc]",
            "..",
            "%2E.",
            ".%2E",
        ];
        let made: std::collections::HashSet<String> =
            names.iter().map(|name| file_name(name)).collect();
        assert_eq!(made.len(), names.len(), "{made:?}");
    }

    #[test]
    fn long_names_are_cut_with_a_hash_and_stay_unique() {
        let long = |end: &str| format!("t[v={}{end}]", "é/".repeat(200));
        let (a, b) = (file_name(&long("a")), file_name(&long("b")));
        assert_ne!(a, b);
        for name in [&a, &b] {
            assert!(name.len() <= MAX_LEN, "{} bytes", name.len());
            assert!(name.starts_with("t[v=é%2Fé%2F"), "{name}");
            assert!(!name.contains('/'), "{name}");
        }
        // A name just under the limit is not cut.
        let fits = "x".repeat(MAX_LEN);
        assert_eq!(file_name(&fits), fits);
    }
}
