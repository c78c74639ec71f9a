//! A task's `requires`, checked in the task's own process before its command: an `sh`
//! prelude runs each check, says the first failing one's message on stderr and exits 1, or
//! `exec`s the command. So the checks run in the task's directory and environment and its
//! process group (stopped and timed out with it), and their message reaches the user the way
//! all the task's output does: through the masker, into its log. Every executor uses it.

use std::ffi::{OsStr, OsString};

use crate::model::Requirement;

/// The name the prelude runs under (`$0`), which `sh` puts in its own messages.
const NAME: &str = "engine-requires";

/// The program and arguments that check `requires` and then run `command` (program first).
#[must_use]
pub fn with_requirements<'a>(
    requires: &[Requirement],
    command: impl IntoIterator<Item = &'a OsStr>,
) -> Vec<OsString> {
    let mut argv: Vec<OsString> = ["sh", "-c"].map(OsString::from).into();
    argv.push(prelude(requires).into());
    argv.push(NAME.into());
    argv.extend(command.into_iter().map(OsStr::to_os_string));
    argv
}

/// The script: one line per check, then `exec "$@"`.
fn prelude(requires: &[Requirement]) -> String {
    let mut script = String::new();
    for requirement in requires {
        let said = format!("requirement not met: {}", requirement.message);
        script.push_str(&format!(
            "sh -e -c {} >/dev/null 2>&1 </dev/null || {{ printf '%s\\n' {} >&2; exit 1; }}\n",
            quote(&requirement.run),
            quote(&said)
        ));
    }
    script.push_str("exec \"$@\"\n");
    script
}

/// `text` as one single-quoted shell word.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(requires: &[Requirement]) -> std::process::Output {
        let argv = with_requirements(
            requires,
            ["sh", "-c", "echo the command ran"].map(OsStr::new),
        );
        std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .output()
            .expect("run sh")
    }

    fn requirement(run: &str, message: &str) -> Requirement {
        Requirement {
            run: run.to_owned(),
            message: message.to_owned(),
        }
    }

    #[test]
    fn the_first_failing_check_stops_the_command_with_its_message() {
        let out = run(&[
            requirement("true", "never said"),
            requirement("echo hidden; exit 3", "it's 'quoted' $HOME"),
            requirement("false", "not reached"),
        ]);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "requirement not met: it's 'quoted' $HOME\n"
        );
    }

    #[test]
    fn the_command_runs_when_every_check_passes() {
        let out = run(&[requirement("test -d /", "root"), requirement("true", "x")]);
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "the command ran\n");
    }
}
