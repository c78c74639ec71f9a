//! Starting a process task's process: in a new process group, stdin from `/dev/null`, stdout
//! and stderr into pipes for the reactor, the engine's environment with the task's variables
//! over it.
//!
//! The common case goes straight to `posix_spawn`, with what does not change from task to
//! task made once per run: the engine's environment as `NAME=value` strings (std's `Command`
//! copies the whole environment into a map and back at every spawn as soon as one variable is
//! set), one `/dev/null` descriptor for every task's stdin, and the spawn attributes (a new
//! process group, an empty signal mask, SIGPIPE back to its default). On 2 cores that saves
//! about 27 µs of the engine's time per task, a quarter of what starting a process costs it.
//! A program named without a `/` is looked up on `PATH` by the engine (`Lookup`: an
//! `access` per directory), instead of by `posix_spawnp` in the child (a failed `execve` per
//! directory before the program's, while the engine waits).
//!
//! Two cases go through std's `Command` instead, which gives the same result the slow way: a
//! task that runs in another directory than the engine's own (nix has no
//! `posix_spawn_file_actions_addchdir_np`), and a program looked up in a `PATH` the task sets
//! (`posix_spawnp` searches the engine's own `PATH`).

use std::ffi::{CStr, CString, OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use nix::spawn::{PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags};
use nix::sys::signal::{SigSet, Signal};
use rustc_hash::FxHashMap;

use super::lookup::Lookup;

/// What to start: the program and its arguments, the variables set over the engine's
/// environment (a later one wins over an earlier one of the same name), and the directory.
#[derive(Debug, Default)]
pub(super) struct Invocation {
    pub argv: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
    pub cwd: PathBuf,
}

impl Invocation {
    /// Sets a variable over the engine's environment (and over any set before).
    pub fn env(&mut self, name: impl Into<OsString>, value: impl Into<OsString>) -> &mut Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Whether `name` is one of the variables set (the last of each name counts).
    fn sets(&self, name: &[u8]) -> bool {
        self.env.iter().any(|(key, _)| key.as_bytes() == name)
    }
}

/// A started process: its pid (also its process group's id) and the read ends of its output.
#[derive(Debug)]
pub(super) struct Spawned {
    pub pid: u32,
    pub stdout: File,
    pub stderr: File,
}

/// Starts processes; made once per run, with the first process task.
pub(super) struct Spawner {
    dev_null: OwnedFd,
    attr: PosixSpawnAttr,
    /// The engine's working directory, if it can be read.
    here: Option<PathBuf>,
    /// The engine's environment: each variable's name and its `NAME=value` string.
    environment: Vec<(OsString, CString)>,
    /// Each variable of `environment` by name: its index there.
    by_name: FxHashMap<OsString, usize>,
    /// Programs looked up on the engine's `PATH`.
    lookup: Lookup,
}

impl std::fmt::Debug for Spawner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spawner")
            .field("here", &self.here)
            .field("environment", &self.environment.len())
            .field("lookup", &self.lookup)
            .finish_non_exhaustive()
    }
}

impl Spawner {
    /// Opens `/dev/null` and reads the engine's environment and working directory.
    ///
    /// # Errors
    /// `/dev/null` cannot be opened or the spawn attributes cannot be made.
    pub fn new() -> std::io::Result<Self> {
        let dev_null = File::open("/dev/null")?.into();
        let mut attr = PosixSpawnAttr::init()?;
        attr.set_flags(
            PosixSpawnFlags::POSIX_SPAWN_SETPGROUP
                | PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK
                | PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF,
        )?;
        attr.set_pgroup(nix::unistd::Pid::from_raw(0))?;
        attr.set_sigmask(&SigSet::empty())?;
        // The Rust runtime ignores SIGPIPE; a task gets the default, as std's `Command` gives.
        let mut default = SigSet::empty();
        default.add(Signal::SIGPIPE);
        attr.set_sigdefault(&default)?;
        let environment: Vec<(OsString, CString)> = std::env::vars_os()
            .filter_map(|(name, value)| {
                let entry = CString::new(assignment(&name, &value)).ok()?;
                Some((name, entry))
            })
            .collect();
        let by_name = environment
            .iter()
            .enumerate()
            .map(|(index, (name, _))| (name.clone(), index))
            .collect();
        Ok(Self {
            dev_null,
            attr,
            here: std::env::current_dir().ok(),
            environment,
            by_name,
            lookup: Lookup::new(std::env::var_os("PATH").as_deref()),
        })
    }

    /// Starts `invocation`.
    ///
    /// # Errors
    /// The pipes cannot be made, or the process cannot be started (the program is not found
    /// or not executable, the directory does not exist, an argument holds a NUL byte).
    pub fn spawn(&mut self, invocation: &Invocation) -> std::io::Result<Spawned> {
        let Some(program) = invocation.argv.first() else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "no program to run",
            ));
        };
        let searched = !program.as_bytes().contains(&b'/');
        let here = self.here.as_deref() == Some(invocation.cwd.as_path());
        if here && !(searched && invocation.sets(b"PATH")) {
            self.posix_spawn(invocation, searched)
        } else {
            with_command(invocation)
        }
    }

    fn posix_spawn(&mut self, invocation: &Invocation, searched: bool) -> std::io::Result<Spawned> {
        let argv = invocation
            .argv
            .iter()
            .map(|word| c_string(word.as_bytes()))
            .collect::<std::io::Result<Vec<_>>>()?;
        let mut set = Vec::with_capacity(invocation.env.len());
        for (index, (name, value)) in invocation.env.iter().enumerate() {
            let overridden = invocation.env[index + 1..]
                .iter()
                .any(|(later, _)| later == name);
            if !overridden {
                set.push(c_string(&assignment(name, value))?);
            }
        }
        // The engine's variables but those the task sets, then the task's.
        let mut over: Vec<usize> = invocation
            .env
            .iter()
            .filter_map(|(name, _)| self.by_name.get(name).copied())
            .collect();
        over.sort_unstable();
        let mut envp: Vec<&CStr> = Vec::with_capacity(self.environment.len() + set.len());
        envp.extend(
            self.environment
                .iter()
                .enumerate()
                .filter(|(index, _)| over.binary_search(index).is_err())
                .map(|(_, (_, entry))| entry.as_c_str()),
        );
        envp.extend(set.iter().map(CString::as_c_str));
        let (stdout, stdout_writer) = pipe()?;
        let (stderr, stderr_writer) = pipe()?;
        let mut actions = PosixSpawnFileActions::init()?;
        actions.add_dup2(self.dev_null.as_raw_fd(), 0)?;
        actions.add_dup2(stdout_writer.as_raw_fd(), 1)?;
        actions.add_dup2(stderr_writer.as_raw_fd(), 2)?;
        let program = &invocation.argv[0];
        let found = if searched {
            self.lookup.find(program)
        } else {
            None
        };
        // A program looked up by the engine that fails to start (removed since, say) is
        // looked up again by `posix_spawnp`, which gives the error `execvp` would.
        let started = match found
            .map(|path| nix::spawn::posix_spawn(path, &actions, &self.attr, &argv, &envp))
        {
            Some(Ok(pid)) => Ok(pid),
            Some(Err(_)) => nix::spawn::posix_spawnp(&argv[0], &actions, &self.attr, &argv, &envp),
            None if searched => {
                nix::spawn::posix_spawnp(&argv[0], &actions, &self.attr, &argv, &envp)
            }
            None => nix::spawn::posix_spawn(argv[0].as_c_str(), &actions, &self.attr, &argv, &envp),
        };
        let pid = started.map_err(std::io::Error::from)?;
        Ok(Spawned {
            pid: u32::try_from(pid.as_raw()).map_err(|_| std::io::Error::other("no process id"))?,
            stdout: stdout.into(),
            stderr: stderr.into(),
        })
    }
}

/// Starts `invocation` with std's `Command`.
fn with_command(invocation: &Invocation) -> std::io::Result<Spawned> {
    let mut command = Command::new(&invocation.argv[0]);
    command
        .args(&invocation.argv[1..])
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .current_dir(&invocation.cwd)
        .envs(invocation.env.iter().map(|(name, value)| (name, value)));
    let mut child = command.spawn()?;
    let pid = child.id();
    // Dropping the `Child` neither waits for it nor signals it: the reactor reaps it by pid.
    match (child.stdout.take(), child.stderr.take()) {
        (Some(stdout), Some(stderr)) => Ok(Spawned {
            pid,
            stdout: File::from(OwnedFd::from(stdout)),
            stderr: File::from(OwnedFd::from(stderr)),
        }),
        _ => {
            if let Some(group) = super::reactor::Group::new(pid) {
                let _ = group.kill_and_reap();
            }
            Err(std::io::Error::other(
                "the process's output pipes are missing",
            ))
        }
    }
}

/// `NAME=value`.
fn assignment(name: &OsStr, value: &OsStr) -> Vec<u8> {
    let mut entry = Vec::with_capacity(name.len() + value.len() + 1);
    entry.extend_from_slice(name.as_bytes());
    entry.push(b'=');
    entry.extend_from_slice(value.as_bytes());
    entry
}

fn c_string(bytes: &[u8]) -> std::io::Result<CString> {
    CString::new(bytes).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "an argument or environment variable holds a NUL byte",
        )
    })
}

/// A pipe whose ends are closed on exec; the write end becomes the task's stdout or stderr
/// through `dup2`, which clears that flag on the copy.
fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::path::Path;

    fn run(spawner: &mut Spawner, invocation: &Invocation) -> (String, String, i32) {
        let mut spawned = spawner.spawn(invocation).expect("spawn");
        let (mut out, mut err) = (String::new(), String::new());
        spawned.stdout.read_to_string(&mut out).expect("stdout");
        spawned.stderr.read_to_string(&mut err).expect("stderr");
        let pid =
            rustix::process::Pid::from_raw(i32::try_from(spawned.pid).expect("pid")).expect("pid");
        let (_, status) =
            rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty())
                .expect("wait")
                .expect("status");
        (out, err, status.exit_status().expect("exited"))
    }

    fn script(cwd: &Path, text: &str) -> Invocation {
        Invocation {
            argv: ["sh", "-c", text].map(OsString::from).into(),
            env: Vec::new(),
            cwd: cwd.to_path_buf(),
        }
    }

    /// Both ways of starting a process give a task the same start: its own process group,
    /// stdin at its end, output in the pipes, the variables set over the engine's
    /// environment (the last of a name winning), SIGPIPE at its default and no signal blocked.
    #[test]
    fn both_ways_start_a_process_alike() {
        let mut spawner = Spawner::new().expect("spawner");
        let here = spawner.here.clone().expect("cwd");
        let elsewhere = tempfile::tempdir().expect("dir");
        let elsewhere = elsewhere.path().canonicalize().expect("canonical");
        let text = "echo \"pgid=$(cut -d' ' -f5 /proc/$$/stat) pid=$$\"; \
                    echo \"stdin=$(cat | wc -c)\"; echo \"pwd=$(pwd -P)\"; \
                    echo \"A=$A HOME=${HOME:+set}\"; grep -E '^Sig(Blk|Ign)' /proc/self/status; \
                    echo oops >&2; exit 7";
        for cwd in [&here, &elsewhere] {
            let mut invocation = script(cwd, text);
            invocation.env("A", "first").env("A", "second");
            // The first goes straight to posix_spawn, the second through std's `Command`.
            assert_eq!(spawner.here.as_deref() == Some(cwd.as_path()), cwd == &here);
            let (out, err, code) = run(&mut spawner, &invocation);
            assert_eq!((err.as_str(), code), ("oops\n", 7), "{out}");
            let mut lines = out.lines();
            let ids = lines.next().expect("ids");
            let (pgid, pid) = ids
                .strip_prefix("pgid=")
                .and_then(|rest| rest.split_once(" pid="))
                .expect("ids line");
            assert_eq!(pgid, pid, "its own process group: {ids}");
            assert_eq!(lines.next(), Some("stdin=0"));
            assert_eq!(
                lines.next(),
                Some(format!("pwd={}", cwd.display()).as_str())
            );
            assert_eq!(lines.next(), Some("A=second HOME=set"));
            let signals: Vec<&str> = lines.collect();
            // No signal blocked; SIGPIPE (bit 13) not ignored.
            assert!(
                signals.contains(&"SigBlk:\t0000000000000000"),
                "{signals:?}"
            );
            let ignored = signals
                .iter()
                .find_map(|line| line.strip_prefix("SigIgn:\t"))
                .and_then(|mask| u64::from_str_radix(mask, 16).ok())
                .expect("SigIgn");
            assert_eq!(ignored & (1 << 12), 0, "SIGPIPE ignored: {signals:?}");
        }
    }

    #[test]
    fn a_missing_program_is_not_found_either_way() {
        let mut spawner = Spawner::new().expect("spawner");
        let here = spawner.here.clone().expect("cwd");
        let elsewhere = tempfile::tempdir().expect("dir");
        for cwd in [here.as_path(), elsewhere.path()] {
            for program in ["engine-no-such-program", "./engine-no-such-program"] {
                let invocation = Invocation {
                    argv: vec![program.into()],
                    env: Vec::new(),
                    cwd: cwd.to_path_buf(),
                };
                let error = spawner.spawn(&invocation).expect_err("not found");
                assert_eq!(error.kind(), std::io::ErrorKind::NotFound, "{program}");
            }
        }
    }

    #[test]
    fn a_program_is_looked_up_in_the_path_the_task_sets() {
        let mut spawner = Spawner::new().expect("spawner");
        let here = spawner.here.clone().expect("cwd");
        let bin = tempfile::tempdir().expect("dir");
        let tool = bin.path().join("engine-test-tool");
        std::fs::write(&tool, "#!/bin/sh\necho found me\n").expect("write");
        let executable = std::os::unix::fs::PermissionsExt::from_mode(0o755);
        std::fs::set_permissions(&tool, executable).expect("chmod");
        let mut invocation = Invocation {
            argv: vec!["engine-test-tool".into()],
            env: Vec::new(),
            cwd: here,
        };
        invocation.env("PATH", bin.path());
        let (out, _, code) = run(&mut spawner, &invocation);
        assert_eq!((out.as_str(), code), ("found me\n", 0));
    }

    #[test]
    fn a_nul_byte_is_refused_before_anything_starts() {
        let mut spawner = Spawner::new().expect("spawner");
        let here = spawner.here.clone().expect("cwd");
        let mut invocation = script(&here, "true");
        invocation.env("A", OsStr::from_bytes(b"x\0y"));
        let error = spawner.spawn(&invocation).expect_err("refused");
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    }
}
