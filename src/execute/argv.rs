//! Running simple commands without a shell. Like make, a `run` line with no shell syntax is
//! split into words and executed directly, which saves starting `sh` for every task.

/// Words that mean something to the shell itself: reserved words and builtins that have no
/// program of the same name or that change the shell's own state.
const SHELL_WORDS: &[&str] = &[
    "!", ".", ":", "[[", "]]", "{", "}", "alias", "bg", "break", "case", "cd", "command",
    "continue", "do", "done", "elif", "else", "esac", "eval", "exec", "exit", "export", "fc", "fg",
    "fi", "for", "function", "getopts", "hash", "if", "in", "jobs", "local", "read", "readonly",
    "return", "select", "set", "shift", "source", "then", "time", "times", "trap", "type",
    "typeset", "ulimit", "umask", "unalias", "unset", "until", "wait", "while",
];

/// The words of `run` when it can be executed without a shell: only plain words made of
/// letters, digits and `-_./=:,+%@`, separated by spaces, the first of which is not a shell
/// word and does not assign a variable. Anything else (quotes, `$`, globs, redirections,
/// pipes, `;`, `&`, newlines, comments, `~`) needs the shell.
#[must_use]
pub fn direct_argv(run: &str) -> Option<Vec<&str>> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+%@ ".contains(c);
    let run = run.trim_matches(|c| c == ' ' || c == '\n');
    if run.is_empty() || !run.chars().all(plain) {
        return None;
    }
    let words: Vec<&str> = run.split(' ').filter(|word| !word.is_empty()).collect();
    let first = *words.first()?;
    if SHELL_WORDS.contains(&first) || first.contains('=') {
        return None;
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_commands_run_directly() {
        assert_eq!(direct_argv("true"), Some(vec!["true"]));
        assert_eq!(
            direct_argv("  cargo build --release  "),
            Some(vec!["cargo", "build", "--release"])
        );
        assert_eq!(
            direct_argv("./gen.sh out/a.txt key=value\n"),
            Some(vec!["./gen.sh", "out/a.txt", "key=value"])
        );
    }

    #[test]
    fn shell_syntax_needs_the_shell() {
        for run in [
            "echo $HOME",
            "echo 'a b'",
            "echo \"x\"",
            "ls *.rs",
            "a | b",
            "a && b",
            "a; b",
            "a > out",
            "sleep 1 &",
            "cd dir",
            "exit 3",
            "FOO=1 make",
            "echo a\necho b",
            "echo ~",
            "x # comment",
            "echo \\n",
            "export A",
            "",
            "   ",
        ] {
            assert_eq!(direct_argv(run), None, "{run:?}");
        }
    }
}
