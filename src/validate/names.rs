//! The naming rules: task names and environment variable names.

/// Whether `name` is a valid task name: a lowercase letter (after a `_` for a private task),
/// then lowercase letters, digits, `_` and `-`. (A `:` comes only from a namespaced include:
/// `docs:build`.)
#[must_use]
pub fn is_task_name(name: &str) -> bool {
    let mut bytes = name.strip_prefix('_').unwrap_or(name).bytes();
    bytes.next().is_some_and(|first| first.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A valid task name close to `name`, for the hint.
#[must_use]
pub fn task_name_like(name: &str) -> String {
    let mut fixed: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if !fixed.starts_with(|c: char| c.is_ascii_lowercase()) {
        fixed.insert_str(0, "task_");
    }
    fixed
}

/// Whether `name` can be an environment variable name: a letter or underscore, then
/// letters, digits and underscores.
#[must_use]
pub fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_names() {
        for good in [
            "a",
            "build",
            "step_2",
            "a_b_c",
            "a-b",
            "build-docs",
            "_private",
        ] {
            assert!(is_task_name(good), "{good}");
        }
        for bad in [
            "", "Build", "2step", "_", "__a", "_2", "-a", "a:b", "a b", "a.b", "é",
        ] {
            assert!(!is_task_name(bad), "{bad}");
        }
        assert_eq!(task_name_like("Build-All"), "build_all");
        assert_eq!(task_name_like("2step"), "task_2step");
        assert!(is_task_name(&task_name_like("Ünïcode name")));
    }

    #[test]
    fn env_names() {
        assert!(is_env_name("PATH"));
        assert!(is_env_name("_x1"));
        assert!(!is_env_name("1X"));
        assert!(!is_env_name("A-B"));
        assert!(!is_env_name(""));
    }
}
