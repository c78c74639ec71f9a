//! `Controller`: the Slurm controller as engine reaches it, through the client commands
//! `sbatch`, `squeue`, `scontrol` and `scancel`, each run with a time limit.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use super::queue::{
    JobRecord, QueueEntry, SQUEUE_FORMAT, is_unknown_job, parse_scontrol, parse_squeue,
};

/// How long one Slurm command may take. Slurm's clients retry an unreachable controller for
/// about 18 s here before they give up; this is a little longer, so that their own message
/// is what engine reports.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Most jobs asked about by id in one `squeue`; for more, `squeue` lists all of the user's
/// jobs and engine picks its own. Measured with Slurm 22.05: `squeue -j` with 1,000 ids costs
/// the client 0.26 s of CPU, listing all 6,600 jobs of the user 0.05 s (the controller sends
/// all jobs either way).
const LISTED_JOBS: usize = 50;

/// The Slurm client commands, found on `PATH` once.
#[derive(Clone, Debug)]
pub struct Controller {
    sbatch: PathBuf,
    squeue: PathBuf,
    scontrol: PathBuf,
    scancel: PathBuf,
}

impl Controller {
    /// Finds the client commands on `path` (the value of `PATH`).
    ///
    /// # Errors
    /// The name of the first command that is missing.
    pub fn find(path: Option<&std::ffi::OsStr>) -> Result<Self, String> {
        let find = |name: &str| find_program(path, name).ok_or_else(|| name.to_owned());
        Ok(Self {
            sbatch: find("sbatch")?,
            squeue: find("squeue")?,
            scontrol: find("scontrol")?,
            scancel: find("scancel")?,
        })
    }

    /// Asks whether the controller answers (`scontrol ping`).
    ///
    /// # Errors
    /// What `scontrol` said when it does not.
    pub fn ping(&self) -> Result<(), String> {
        let output = run(&self.scontrol, &["ping".into()])?;
        let text = String::from_utf8_lossy(&output.stdout);
        if output.status.success() && text.contains("is UP") {
            Ok(())
        } else {
            Err(first_line(&text, &output.stderr))
        }
    }

    /// Asks `sbatch --test-only` whether the cluster could run a job with these arguments.
    ///
    /// # Errors
    /// `sbatch`'s reason when it refuses.
    pub fn test_only(&self, args: &[OsString]) -> Result<(), String> {
        let output = run(&self.sbatch, args)?;
        if output.status.success() {
            Ok(())
        } else {
            Err(message(&output))
        }
    }

    /// Submits a job with `sbatch --parsable`, with `env` added to its environment (which
    /// `--export=ALL` hands on to the job); returns its id.
    ///
    /// # Errors
    /// `sbatch`'s reason when it refuses the job.
    pub fn submit(&self, args: &[OsString], env: &[(String, OsString)]) -> Result<String, String> {
        let output = run_with(&self.sbatch, args, env)?;
        if !output.status.success() {
            return Err(message(&output));
        }
        // `ID` or `ID;cluster`.
        let text = String::from_utf8_lossy(&output.stdout);
        let id = text.trim().split(';').next().unwrap_or_default();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
            return Err(format!("sbatch printed no job id: {:?}", text.trim()));
        }
        Ok(id.to_owned())
    }

    /// The jobs of `ids` that `squeue` still knows, in one call. Jobs it has forgotten are
    /// left out.
    ///
    /// # Errors
    /// When `squeue` fails.
    pub fn queue(&self, ids: &[&str]) -> Result<Vec<QueueEntry>, String> {
        let which = if ids.len() <= LISTED_JOBS {
            format!("--jobs={}", ids.join(","))
        } else {
            format!("--user={}", rustix::process::getuid().as_raw())
        };
        let args: Vec<OsString> = vec![
            "--noheader".into(),
            "--states=all".into(),
            which.into(),
            format!("--format={SQUEUE_FORMAT}").into(),
        ];
        let output = run(&self.squeue, &args)?;
        if output.status.success() {
            let mut entries = parse_squeue(&String::from_utf8_lossy(&output.stdout));
            if ids.len() > LISTED_JOBS {
                let wanted: rustc_hash::FxHashSet<&str> = ids.iter().copied().collect();
                entries.retain(|entry| wanted.contains(entry.id.as_str()));
            }
            return Ok(entries);
        }
        // With one id that Slurm has forgotten, squeue fails instead of listing nothing.
        if is_unknown_job(&String::from_utf8_lossy(&output.stderr)) {
            return Ok(Vec::new());
        }
        Err(message(&output))
    }

    /// What `scontrol show job` says of a job; `None` when Slurm does not know it (any more).
    ///
    /// # Errors
    /// When `scontrol` fails otherwise.
    pub fn show_job(&self, id: &str) -> Result<Option<JobRecord>, String> {
        let args: Vec<OsString> = vec!["-o".into(), "show".into(), "job".into(), id.into()];
        let output = run(&self.scontrol, &args)?;
        if output.status.success() {
            return Ok(parse_scontrol(&String::from_utf8_lossy(&output.stdout)));
        }
        if is_unknown_job(&String::from_utf8_lossy(&output.stderr)) {
            return Ok(None);
        }
        Err(message(&output))
    }

    /// Cancels jobs with one `scancel`; with `kill`, sends SIGKILL to every process of the
    /// running ones instead of Slurm's SIGTERM, grace and SIGKILL.
    ///
    /// # Errors
    /// When `scancel` fails.
    pub fn cancel(&self, ids: &[&str], kill: bool) -> Result<(), String> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut args: Vec<OsString> = Vec::with_capacity(ids.len() + 2);
        if kill {
            args.push("--signal=KILL".into());
            args.push("--full".into());
        }
        args.extend(ids.iter().map(OsString::from));
        let output = run(&self.scancel, &args)?;
        // scancel also fails when a job had already ended; that is no failure here.
        if output.status.success() || is_unknown_job(&String::from_utf8_lossy(&output.stderr)) {
            Ok(())
        } else {
            Err(message(&output))
        }
    }
}

impl Controller {
    /// Cancels those of `ids` that are still pending, in one `scancel --state=PENDING`: the
    /// controller itself skips any that began to run meanwhile.
    ///
    /// # Errors
    /// When `scancel` fails.
    pub fn cancel_pending(&self, ids: &[&str]) -> Result<(), String> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut args: Vec<OsString> = vec!["--state=PENDING".into()];
        args.extend(ids.iter().map(OsString::from));
        let output = run(&self.scancel, &args)?;
        if output.status.success() || is_unknown_job(&String::from_utf8_lossy(&output.stderr)) {
            Ok(())
        } else {
            Err(message(&output))
        }
    }
}

impl Controller {
    /// Sends `signal` (a name without `SIG`) to the batch shell of each running job of `ids`,
    /// and to none of its other processes, in one `scancel --batch`. Jobs that do not run
    /// (still pending, or over) are no failure.
    ///
    /// # Errors
    /// When `scancel` fails.
    pub fn signal_batch(&self, ids: &[&str], signal: &str) -> Result<(), String> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut args: Vec<OsString> = vec!["--batch".into(), format!("--signal={signal}").into()];
        args.extend(ids.iter().map(OsString::from));
        let output = run(&self.scancel, &args)?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.success() || is_unknown_job(&stderr) || is_not_running(&stderr) {
            Ok(())
        } else {
            Err(message(&output))
        }
    }
}

/// Whether `scancel` refused to signal a job because it does not run: still pending ("Job
/// can not be altered now") or already over ("Job/step already completing or completed").
fn is_not_running(stderr: &str) -> bool {
    stderr.contains("can not be altered now") || stderr.contains("already completing or completed")
}

/// The first executable file called `name` in the directories of `path`.
fn find_program(path: Option<&std::ffi::OsStr>, name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path?).find_map(|dir| {
        let candidate = dir.join(name);
        let metadata = std::fs::metadata(&candidate).ok()?;
        (metadata.is_file() && metadata.permissions().mode() & 0o111 != 0).then_some(candidate)
    })
}

/// Runs a command to its end, or kills it after `COMMAND_TIMEOUT`.
fn run(program: &Path, args: &[OsString]) -> Result<Output, String> {
    run_with(program, args, &[])
}

/// Runs `program` with `args` and, on top of the engine's environment, `env` (which
/// `sbatch --export=ALL` hands on to the job: values never written in a file).
fn run_with(
    program: &Path,
    args: &[OsString],
    env: &[(String, OsString)],
) -> Result<Output, String> {
    let name = program.file_name().map_or_else(
        || program.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let child = Command::new(program)
        .args(args)
        .envs(env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| format!("cannot run `{name}`: {error}"))?;
    let pid = child.id();
    // A thread collects the output (both pipes, so neither fills up); this one waits for it
    // with a limit. The child is reaped only by that thread, so its pid cannot be reused
    // while this one may still kill it.
    let (sender, receiver) = crossbeam_channel::bounded(1);
    std::thread::Builder::new()
        .name(format!("engine-{name}"))
        .spawn(move || {
            let _ = sender.send(child.wait_with_output());
        })
        .map_err(|error| format!("cannot run `{name}`: {error}"))?;
    let Ok(output) = receiver.recv_timeout(COMMAND_TIMEOUT) else {
        if let Ok(pid) = i32::try_from(pid) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = receiver.recv();
        return Err(format!(
            "`{name}` did not answer within {}s",
            COMMAND_TIMEOUT.as_secs()
        ));
    };
    output.map_err(|error| format!("cannot run `{name}`: {error}"))
}

/// What a failed command said: its stderr (else stdout), without Slurm's prefixes, on one line.
fn message(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let text = if stderr.trim().is_empty() {
        stdout
    } else {
        stderr
    };
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    if lines.is_empty() {
        return match output.status.code() {
            Some(code) => format!("exited with code {code} without a message"),
            None => "killed by a signal".to_owned(),
        };
    }
    lines.join("; ")
}

fn first_line(stdout: &str, stderr: &[u8]) -> String {
    let stderr = String::from_utf8_lossy(stderr);
    stdout
        .lines()
        .chain(stderr.lines())
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("no answer")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// A directory with fake Slurm commands: each prints `stdout` and `stderr`, exits `code`.
    fn fake_commands(dir: &Path, stdout: &str, stderr: &str, code: i32) {
        for name in ["sbatch", "squeue", "scontrol", "scancel"] {
            let path = dir.join(name);
            std::fs::write(
                &path,
                format!("#!/bin/sh\nprintf '{stdout}'\nprintf '{stderr}' >&2\nexit {code}\n"),
            )
            .expect("write a fake command");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .expect("make it executable");
        }
    }

    #[test]
    fn commands_are_found_on_path_or_named_when_missing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let empty = tempfile::tempdir().expect("temp dir");
        fake_commands(dir.path(), "", "", 0);
        let path = std::env::join_paths([empty.path(), dir.path()]).expect("PATH");
        assert!(Controller::find(Some(&path)).is_ok());
        assert_eq!(
            Controller::find(Some(empty.path().as_os_str())).err(),
            Some("sbatch".to_owned())
        );
        assert_eq!(Controller::find(None).err(), Some("sbatch".to_owned()));
    }

    #[test]
    fn submission_reads_the_job_id_or_the_refusal() {
        let dir = tempfile::tempdir().expect("temp dir");
        fake_commands(dir.path(), "4242;cluster\\n", "", 0);
        let controller = Controller::find(Some(dir.path().as_os_str())).expect("found");
        assert_eq!(controller.submit(&[], &[]), Ok("4242".to_owned()));
        fake_commands(
            dir.path(),
            "",
            "sbatch: error: Batch job submission failed: Invalid account\\n",
            1,
        );
        assert_eq!(
            controller.submit(&[], &[]),
            Err("sbatch: error: Batch job submission failed: Invalid account".to_owned())
        );
        fake_commands(dir.path(), "Slurmctld(primary) at vm is DOWN\\n", "", 1);
        assert_eq!(
            controller.ping(),
            Err("Slurmctld(primary) at vm is DOWN".to_owned())
        );
    }

    #[test]
    fn many_jobs_are_picked_from_all_of_the_users_jobs() {
        let dir = tempfile::tempdir().expect("temp dir");
        fake_commands(dir.path(), "", "", 0);
        // This squeue lists jobs 1 to 200 and records its arguments.
        let calls = dir.path().join("calls");
        std::fs::write(
            dir.path().join("squeue"),
            format!(
                "#!/bin/sh\necho \"$*\" >> '{}'\nfor i in $(seq 200); do echo \"$i|PENDING|Priority|\"; done\n",
                calls.display()
            ),
        )
        .expect("write the fake squeue");
        let controller = Controller::find(Some(dir.path().as_os_str())).expect("found");
        let many: Vec<String> = (101..=100 + LISTED_JOBS + 1)
            .map(|i| i.to_string())
            .collect();
        let many_refs: Vec<&str> = many.iter().map(String::as_str).collect();
        // The fake ignores the filter it is given; engine filters only in the second case.
        assert_eq!(
            controller.queue(&["1", "2", "3"]).expect("queue").len(),
            200
        );
        let entries = controller.queue(&many_refs).expect("queue");
        let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, many_refs);
        let calls = std::fs::read_to_string(calls).expect("calls");
        let calls: Vec<&str> = calls.lines().collect();
        assert!(calls[0].contains("--jobs=1,2,3"), "{}", calls[0]);
        let uid = rustix::process::getuid().as_raw();
        assert!(calls[1].contains(&format!("--user={uid}")), "{}", calls[1]);
    }

    #[test]
    fn a_forgotten_job_is_no_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        fake_commands(
            dir.path(),
            "",
            "slurm_load_jobs error: Invalid job id specified\\n",
            1,
        );
        let controller = Controller::find(Some(dir.path().as_os_str())).expect("found");
        assert_eq!(controller.queue(&["7"]), Ok(Vec::new()));
        assert_eq!(controller.show_job("7"), Ok(None));
        assert_eq!(controller.cancel(&["7"], false), Ok(()));
    }
}
