//! The wrapper script each Slurm job runs: the task's environment, its command, and its exit
//! status written to a file in the shared state dir, so that how a task ended never depends
//! on Slurm still remembering the job. A value that holds a secret is never written in it:
//! it is read from the environment the job got at submission, and the command's output then
//! runs through `engine __mask` before it reaches the job's output files.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::state_dir::JobFiles;

/// The environment variable that gives `engine __mask` the values to mask, as a JSON array.
pub const MASK_SECRETS: &str = "ENGINE_MASK";

/// A value in the wrapper: written in it, or read from the job's environment.
#[derive(Clone, Copy, Debug)]
pub enum Word<'a> {
    /// Written in the script, quoted.
    Text(&'a OsStr),
    /// Held by this environment variable of the submission (it holds a secret), which the
    /// script moves into a shell variable and takes out of the command's environment.
    Hidden(&'a str),
}

impl Word<'_> {
    fn write(self, out: &mut Vec<u8>) {
        match self {
            Word::Text(text) => quote(out, text.as_bytes()),
            Word::Hidden(variable) => {
                out.extend_from_slice(b"\"$hidden_");
                out.extend_from_slice(variable.as_bytes());
                out.push(b'"');
            }
        }
    }
}

/// What the wrapper of one job runs.
#[derive(Debug)]
pub struct Wrapper<'a> {
    /// A comment line naming the task, workflow, run and attempt.
    pub description: String,
    /// The command's program and arguments.
    pub command: Vec<Word<'a>>,
    /// Variables to export, in order (a later one wins).
    pub env: Vec<(&'a str, Word<'a>)>,
    /// The working directory.
    pub cwd: Word<'a>,
    /// The job's files.
    pub files: &'a JobFiles,
    /// The engine binary that masks the command's output (`__mask`), when there are secrets.
    pub mask: Option<&'a Path>,
}

impl Wrapper<'_> {
    /// The script's text. Bytes, not a `String`: paths need not be UTF-8.
    #[must_use]
    pub fn script(&self) -> Vec<u8> {
        let mut out: Vec<u8> = Vec::with_capacity(1024);
        out.extend_from_slice(b"#!/bin/sh\n# engine: ");
        out.extend(self.description.bytes().filter(|&b| b != b'\n'));
        out.extend_from_slice(
            b"\n# Runs the task's command, then writes its exit status to the status file, which\n\
              # engine reads from the shared state dir; Slurm's records are only the fallback.\n",
        );
        let hidden = self
            .env
            .iter()
            .map(|(_, value)| value)
            .chain(&self.command)
            .chain([&self.cwd])
            .filter_map(|word| match word {
                Word::Hidden(variable) => Some(*variable),
                Word::Text(_) => None,
            });
        for variable in hidden {
            for part in [
                b"hidden_",
                variable.as_bytes(),
                b"=\"$",
                variable.as_bytes(),
            ] {
                out.extend_from_slice(part);
            }
            out.extend_from_slice(b"\"; unset ");
            out.extend_from_slice(variable.as_bytes());
            out.push(b'\n');
        }
        for (name, value) in &self.env {
            out.extend_from_slice(b"export ");
            out.extend_from_slice(name.as_bytes());
            out.push(b'=');
            value.write(&mut out);
            out.push(b'\n');
        }
        // Slurm created the output files with the submission's umask: they are the user's
        // alone (their directory already is).
        out.extend_from_slice(b"chmod 600 -- ");
        quote(&mut out, self.files.stdout.as_os_str().as_bytes());
        out.push(b' ');
        quote(&mut out, self.files.stderr.as_os_str().as_bytes());
        out.extend_from_slice(b" 2>/dev/null\n");
        out.extend_from_slice(b"status_file=");
        quote(&mut out, self.files.status.as_os_str().as_bytes());
        // `finish` writes the status, and after it the signal that stopped the command when
        // this shell passed one on (`143 TERM`).
        out.extend_from_slice(
            b"\nstopped=\nfinish() {\n  printf '%s%s\\n' \"$1\" \"$stopped\" > \"$status_file.tmp\" && mv -f \"$status_file.tmp\" \"$status_file\"\n  exit \"$1\"\n}\ncd ",
        );
        self.cwd.write(&mut out);
        if matches!(self.cwd, Word::Hidden(_)) {
            // The shell's own message would name the directory.
            out.extend_from_slice(
                b" 2>/dev/null || { echo 'engine: cannot enter the working directory' >&2; finish 1; }\n",
            );
        } else {
            out.extend_from_slice(b" || finish 1\n");
        }
        out.extend_from_slice(SIGNALS_NOTE);
        out.extend_from_slice(HOLD_SIGNALS);
        out.extend_from_slice(
            b"if [ -n \"$default_signal\" ]; then\n  env --default-signal=INT,QUIT ",
        );
        self.command_line(&mut out);
        out.extend_from_slice(b" </dev/null &\nelse\n  ");
        self.command_line(&mut out);
        out.extend_from_slice(b" </dev/null &\nfi\n");
        out.extend_from_slice(PASS_SIGNALS);
        // On a network filesystem a node's writes reach other machines when the file is
        // closed or synced: sync the output before the status says it is complete.
        out.extend_from_slice(b"sync -- ");
        quote(&mut out, self.files.stdout.as_os_str().as_bytes());
        out.push(b' ');
        quote(&mut out, self.files.stderr.as_os_str().as_bytes());
        out.extend_from_slice(b" 2>/dev/null\nfinish \"$status\"\n");
        out
    }

    /// Appends the command, each word quoted, behind `engine __mask --` when it masks.
    fn command_line(&self, out: &mut Vec<u8>) {
        if let Some(engine) = self.mask {
            quote(out, engine.as_os_str().as_bytes());
            out.extend_from_slice(b" __mask -- ");
        }
        for (index, word) in self.command.iter().enumerate() {
            if index > 0 {
                out.push(b' ');
            }
            word.write(out);
        }
    }
}

/// Why the command runs in the background (a comment in each wrapper).
const SIGNALS_NOTE: &[u8] = b"\
# The command runs in the background so that this shell can pass each signal it gets on to
# all of the job's processes at the same instant: engine stops a job with `scancel --batch`,
# which signals this shell alone. (A plain `scancel` may signal the processes one by one,
# children first, and a shell in the command could start its next command in between.) A
# background command starts with SIGINT and SIGQUIT ignored; `env --default-signal` gives
# them back where it exists (coreutils 8.31 and later).
";

/// Holds the signals that come before the command is started and this shell passes them on
/// (a job stopped as it starts): without it, the shell would die of one and leave the command
/// running. A trap that is not an ignore is reset in the background command. A job stopped
/// before its command started ends without starting it.
const HOLD_SIGNALS: &[u8] = br#"held=
for signal in TERM INT HUP USR1 USR2; do trap "held=\"\$held $signal\"" "$signal"; done
default_signal=
env --default-signal=INT,QUIT true 2>/dev/null && default_signal=1
for signal in $held; do
  case $signal in TERM) stopped=" TERM"; finish 143 ;; INT) stopped=" INT"; finish 130 ;; HUP) stopped=" HUP"; finish 129 ;; esac
done
"#;

/// Passes TERM, INT, HUP, USR1 and USR2 on to the job's process group (when this shell
/// leads it, as a batch shell does; else to the command alone), and waits for the command.
/// The shell ignores its own copy of the signal while it sends it.
const PASS_SIGNALS: &[u8] = b"\
pid=$!
group=$pid
{ read -r stat </proc/$$/stat; } 2>/dev/null && stat=${stat##*) } && set -- $stat && [ \"$3\" = \"$$\" ] && group=0
pass() {
  trap '' \"$1\"
  case $1 in TERM|INT|HUP) stopped=\" $1\" ;; esac
  kill -s \"$1\" \"$group\" 2>/dev/null
  trap \"pass $1\" \"$1\"
}
for signal in TERM INT HUP USR1 USR2; do trap \"pass $signal\" \"$signal\"; done
for signal in $held; do pass \"$signal\"; done
wait \"$pid\"
status=$?
# `wait` returns when a signal comes in; wait on until the command has ended.
while kill -0 \"$pid\" 2>/dev/null; do wait \"$pid\"; status=$?; done
# A `wait` that a signal interrupts gives 128 + the signal, and the command, ending at that
# instant, may be collected with it: its own status is asked for once more (127: none left
# to give, the one above stands).
if wait \"$pid\" 2>/dev/null; then status=0; else last=$?; [ \"$last\" -eq 127 ] || status=$last; fi
";

/// Appends `text` as one single-quoted shell word.
fn quote(out: &mut Vec<u8>, text: &[u8]) {
    out.push(b'\'');
    for &byte in text {
        if byte == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(byte);
        }
    }
    out.push(b'\'');
}

/// What a job's status file says.
#[derive(Debug, PartialEq, Eq)]
pub enum StatusFile {
    /// Not written (yet): the command still runs, or the job died before it ended.
    Missing,
    /// The command's exit status, as the shell saw it (128 + N for a command killed by
    /// signal N).
    Code(i32),
    /// The command's exit status after this shell passed on a signal that stops (TERM, INT
    /// or HUP) to it: the job was stopped, by engine or by someone else.
    Stopped {
        /// The command's exit status.
        code: i32,
        /// The signal's name without `SIG`.
        signal: String,
    },
    /// Written, but not an exit status.
    Invalid(String),
}

/// Reads a job's status file.
#[must_use]
pub fn read_status(path: &Path) -> StatusFile {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let (code, signal) = text
                .trim()
                .split_once(' ')
                .map_or((text.trim(), None), |(code, signal)| (code, Some(signal)));
            match (code.parse(), signal) {
                (Ok(code), None) => StatusFile::Code(code),
                (Ok(code), Some(signal @ ("TERM" | "INT" | "HUP"))) => StatusFile::Stopped {
                    code,
                    signal: signal.to_owned(),
                },
                _ => StatusFile::Invalid(text.trim().chars().take(80).collect()),
            }
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => StatusFile::Missing,
        Err(error) => StatusFile::Invalid(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::process::Command;

    use super::*;

    fn run_wrapper(command: &[&str], cwd: &Path, dir: &Path) -> (JobFiles, std::process::Output) {
        let files = JobFiles::new(dir, "t", 1);
        let wrapper = Wrapper {
            description: "task `t`\nof a test".into(),
            command: command
                .iter()
                .map(|word| Word::Text(OsStr::new(word)))
                .collect(),
            env: vec![
                ("ENGINE_TASK", Word::Text(OsStr::new("t"))),
                ("QUOTED", Word::Text(OsStr::new("it's $HOME `x`"))),
                ("ENGINE_TASK", Word::Text(OsStr::new("later wins"))),
            ],
            cwd: Word::Text(cwd.as_os_str()),
            files: &files,
            mask: None,
        };
        std::fs::write(&files.script, wrapper.script()).expect("write the script");
        std::fs::set_permissions(&files.script, std::fs::Permissions::from_mode(0o755))
            .expect("make it executable");
        let output = Command::new(&files.script)
            .output()
            .expect("run the wrapper");
        (files, output)
    }

    #[test]
    fn the_wrapper_runs_the_command_with_its_env_and_records_the_exit_status() {
        let dir = tempfile::tempdir().expect("temp dir");
        let work = dir.path().join("work dir");
        std::fs::create_dir(&work).expect("work dir");
        let (files, output) = run_wrapper(
            &[
                "sh",
                "-c",
                "echo \"$ENGINE_TASK|$QUOTED|$(pwd)\"; read x; echo \"stdin: ${x:-empty}\"; exit 3",
            ],
            &work,
            dir.path(),
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            stdout,
            format!(
                "later wins|it's $HOME `x`|{}\nstdin: empty\n",
                work.display()
            )
        );
        assert_eq!(output.status.code(), Some(3));
        assert_eq!(read_status(&files.status), StatusFile::Code(3));
        assert!(!files.status.with_extension("status.tmp").exists());
    }

    #[test]
    fn a_missing_working_directory_fails_with_status_1() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (files, output) = run_wrapper(&["true"], &dir.path().join("nowhere"), dir.path());
        assert_eq!(output.status.code(), Some(1));
        assert_eq!(read_status(&files.status), StatusFile::Code(1));
    }

    #[test]
    fn a_command_killed_by_a_signal_reports_128_plus_the_signal() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (files, _) = run_wrapper(&["sh", "-c", "kill -9 $$"], dir.path(), dir.path());
        assert_eq!(read_status(&files.status), StatusFile::Code(137));
    }

    /// Starts the wrapper of `command`, as the leader of its own process group (as Slurm
    /// starts a batch shell) or in the test's group.
    fn spawn_wrapper(command: &str, dir: &Path, leader: bool) -> (JobFiles, std::process::Child) {
        spawn_wrapper_with(command, dir, leader, &[])
    }

    /// [`spawn_wrapper`] with `env` set for the wrapper.
    fn spawn_wrapper_with(
        command: &str,
        dir: &Path,
        leader: bool,
        env: &[(&str, &str)],
    ) -> (JobFiles, std::process::Child) {
        use std::os::unix::process::CommandExt;
        let files = JobFiles::new(dir, "t", 1);
        let wrapper = Wrapper {
            description: "task `t`".into(),
            command: vec![
                Word::Text(OsStr::new("sh")),
                Word::Text(OsStr::new("-c")),
                Word::Text(OsStr::new(command)),
            ],
            env: Vec::new(),
            cwd: Word::Text(dir.as_os_str()),
            files: &files,
            mask: None,
        };
        std::fs::write(&files.script, wrapper.script()).expect("write the script");
        std::fs::set_permissions(&files.script, std::fs::Permissions::from_mode(0o755))
            .expect("make it executable");
        // A signal ignored on entry cannot be trapped by a shell, and an ignore is inherited
        // (`nohup cargo test`): give the wrapper the defaults a batch shell starts with.
        let mut spawn = Command::new("env");
        spawn
            .arg("--default-signal=TERM,INT,HUP,USR1,USR2")
            .arg(&files.script);
        spawn.stdout(std::process::Stdio::piped());
        spawn.envs(env.iter().copied());
        if leader {
            spawn.process_group(0);
        }
        let child = spawn.spawn().expect("start the wrapper");
        (files, child)
    }

    fn wait_for(path: &Path) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !path.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "{} never appeared",
                path.display()
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// The processes (not zombies) in process group `group`: state and command of each.
    fn live_in_group(group: i32) -> Vec<String> {
        let mut live = Vec::new();
        for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            let Some((command, rest)) = stat.rsplit_once(") ") else {
                continue;
            };
            let fields: Vec<&str> = rest.split(' ').collect();
            if fields.get(2) == Some(&group.to_string().as_str()) && fields[0] != "Z" {
                live.push(format!("{} {command})", fields[0]));
            }
        }
        live
    }

    fn signal(child: &std::process::Child, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("a pid"));
        nix::sys::signal::kill(pid, signal).expect("signal the wrapper");
    }

    #[test]
    fn sigterm_to_the_batch_shell_stops_every_process_of_the_command_at_once() {
        // As `scancel --batch` does: the signal reaches the wrapper alone. The command's
        // shell must not go on to its next command once `sleep` is gone.
        let dir = tempfile::tempdir().expect("temp dir");
        let (files, mut child) =
            spawn_wrapper("touch started; sleep 30; touch after", dir.path(), true);
        let group = i32::try_from(child.id()).expect("a pid");
        wait_for(&dir.path().join("started"));
        signal(&child, nix::sys::signal::Signal::SIGTERM);
        let status = child.wait().expect("wait for the wrapper");
        assert_eq!(status.code(), Some(143));
        assert_eq!(
            read_status(&files.status),
            StatusFile::Stopped {
                code: 143,
                signal: "TERM".into()
            }
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(!dir.path().join("after").exists(), "the command went on");
        assert_eq!(
            live_in_group(group),
            Vec::<String>::new(),
            "processes of the job are left"
        );
    }

    #[test]
    fn a_job_stopped_before_its_command_starts_ends_without_starting_it() {
        // The job is stopped while the wrapper checks for `env --default-signal`, before the
        // command is started: the wrapper must not die of it (the command would be started by
        // no one, or left running) but end as stopped, without starting the command.
        let dir = tempfile::tempdir().expect("temp dir");
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).expect("bin dir");
        let shim = bin.join("env");
        std::fs::write(
            &shim,
            "#!/bin/sh\ncase \"$*\" in *' true') kill -TERM $PPID ;; esac\nexec /usr/bin/env \"$@\"\n",
        )
        .expect("write the env shim");
        std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let (files, mut child) =
            spawn_wrapper_with("touch after; sleep 5", dir.path(), true, &[("PATH", &path)]);
        let group = i32::try_from(child.id()).expect("a pid");
        let status = child.wait().expect("wait for the wrapper");
        assert_eq!(
            read_status(&files.status),
            StatusFile::Stopped {
                code: 143,
                signal: "TERM".into()
            },
            "the wrapper ended with {status:?}"
        );
        assert_eq!(status.code(), Some(143));
        assert_eq!(
            live_in_group(group),
            Vec::<String>::new(),
            "processes of the job are left"
        );
        assert!(
            !dir.path().join("after").exists(),
            "the command was started"
        );
    }

    #[test]
    fn a_wrapper_that_leads_no_process_group_signals_only_its_command() {
        // Were the wrapper to signal its process group here, it would hit this test.
        let dir = tempfile::tempdir().expect("temp dir");
        let (files, mut child) = spawn_wrapper("touch started; exec sleep 30", dir.path(), false);
        wait_for(&dir.path().join("started"));
        signal(&child, nix::sys::signal::Signal::SIGHUP);
        assert_eq!(child.wait().expect("wait").code(), Some(129));
        assert_eq!(
            read_status(&files.status),
            StatusFile::Stopped {
                code: 129,
                signal: "HUP".into()
            }
        );
    }

    #[test]
    fn usr1_reaches_the_command_without_stopping_it_and_sigint_is_not_ignored() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (files, mut child) = spawn_wrapper(
            // A `sleep` the signal ends fails; under `sh -e` that would end the command
            // before its trap runs.
            "grep SigIgn /proc/self/status; trap 'touch got-usr1; exit 0' USR1; \
             touch started; while :; do sleep 0.05 || :; done",
            dir.path(),
            true,
        );
        wait_for(&dir.path().join("started"));
        signal(&child, nix::sys::signal::Signal::SIGUSR1);
        assert_eq!(child.wait().expect("wait").code(), Some(0));
        assert_eq!(read_status(&files.status), StatusFile::Code(0));
        assert!(dir.path().join("got-usr1").exists());
        // SIGINT and SIGQUIT are not ignored in the command, although it runs in the
        // background of the wrapper (coreutils' `env --default-signal`).
        let mut stdout = String::new();
        std::io::Read::read_to_string(child.stdout.as_mut().expect("stdout"), &mut stdout)
            .expect("read stdout");
        let mask = stdout
            .trim()
            .strip_prefix("SigIgn:")
            .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .unwrap_or_else(|| panic!("no SigIgn line in {stdout:?}"));
        assert_eq!(mask & 0b110, 0, "SIGINT or SIGQUIT ignored: {mask:x}");
    }

    #[test]
    fn status_files_are_read_strictly() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("s");
        assert_eq!(read_status(&path), StatusFile::Missing);
        std::fs::write(&path, "0\n").expect("write");
        assert_eq!(read_status(&path), StatusFile::Code(0));
        std::fs::write(&path, "oops").expect("write");
        assert_eq!(read_status(&path), StatusFile::Invalid("oops".into()));
        std::fs::write(&path, "143 TERM\n").expect("write");
        assert_eq!(
            read_status(&path),
            StatusFile::Stopped {
                code: 143,
                signal: "TERM".into()
            }
        );
        std::fs::write(&path, "0 USR1\n").expect("write");
        assert_eq!(read_status(&path), StatusFile::Invalid("0 USR1".into()));
    }
}
