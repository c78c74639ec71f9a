//! `engine run`: validate, plan and run a workflow; and the hidden `__script` worker that
//! runs one script task in its own process.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::args::{RunArgs, ScriptArgs};
use crate::error::EngineError;
use crate::execute::{Inbox, LocalExecutor, Message, Outbox, RunContext};
use crate::model::Command;
use crate::report::Reporter;
use crate::schedule::{Coordinator, Options};

/// Runs the selected tasks of a workflow.
///
/// # Errors
/// An invalid workflow or request (exit 2), failed tasks (1), an interruption (130).
pub fn run(args: &RunArgs) -> Result<(), EngineError> {
    let workflow = Arc::new(super::load_with_vars(&args.file, &args.vars)?);
    let graph = super::select(&workflow, &args.tasks, &args.file)?;
    if args.dry_run {
        return super::write_stdout(&crate::plan::render_plan_text(&workflow, &graph));
    }
    let run_id = run_id();
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(|| default_state_dir(&workflow.path));
    let log_dir = state_dir.join("runs").join(&run_id).join("logs");
    let events = match &args.events {
        Some(path) => Some(std::fs::File::create(path).map_err(EngineError::io(format!(
            "cannot create `{}`",
            path.display()
        )))?),
        None => None,
    };
    // Each output message carries up to one 64 KiB read of a pipe. A short queue makes a
    // task that prints faster than stdout or the events file take it wait on its pipe instead
    // of piling its output up in memory here.
    let (outbox, inbox) = Inbox::new(MESSAGE_QUEUE).map_err(EngineError::io(
        "cannot create the coordinator's inbox".to_owned(),
    ))?;
    let signals = forward_signals(outbox.clone())?;
    // Finding the CPUs reads cgroup files: once, and only when a default needs them.
    let cpus = std::cell::LazyCell::new(default_jobs);
    let jobs = within_open_file_limit(args.jobs.unwrap_or_else(|| *cpus));
    let threads = args.threads.unwrap_or_else(|| (*cpus).max(4));
    let masker = secrets_masker(&workflow)?;
    let context = RunContext {
        run_id: run_id.clone(),
        workflow_path: workflow.path.clone(),
        log_dir: log_dir.clone(),
        results_dir: state_dir.join("runs").join(&run_id).join("results"),
        outbox,
        masker: masker.clone(),
    };
    let executor = LocalExecutor::new(context, inbox, threads, workflow.tasks.len());
    let reporter = Reporter::new(
        Arc::clone(&workflow),
        &graph,
        args.progress,
        args.output,
        events,
        log_dir,
    );
    let options = Options {
        jobs,
        threads,
        keep_going: args.keep_going,
        grace: args.grace.get(),
    };
    let mut coordinator = Coordinator::new(&workflow, &graph, executor, reporter, options);
    let summary = coordinator.run(&run_id);
    signals.close();
    let (executor, reporter) = coordinator.into_parts();
    drop(executor);
    reporter
        .finish(&summary)
        .map_err(EngineError::io("cannot write the events file"))?;
    if summary.interrupted {
        Err(EngineError::Interrupted)
    } else if summary.failed > 0 {
        Err(EngineError::TasksFailed {
            failed: summary.failed,
        })
    } else {
        Ok(())
    }
}

/// The masker of the workflow's secrets, whose values come from the engine's environment or
/// the workflow's own `env`.
///
/// # Errors
/// A usage error naming a secret that has no value.
fn secrets_masker(
    workflow: &crate::model::Workflow,
) -> Result<crate::template::Masker, EngineError> {
    let mut values = Vec::with_capacity(workflow.secrets.len());
    for name in &workflow.secrets {
        let from_env = std::env::var(name).ok();
        let from_workflow = || {
            workflow
                .tasks
                .iter()
                .flat_map(|task| task.env.iter())
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        };
        match from_env.or_else(from_workflow) {
            Some(value) => values.push(value),
            None => {
                return Err(EngineError::Usage {
                    message: format!("secret `{name}` has no value"),
                    hint: Some(format!(
                        "set `{name}` in the environment (or in the workflow's `env_file`) before `engine run`"
                    )),
                });
            }
        }
    }
    Ok(crate::template::Masker::new(values))
}

/// Messages waiting for the coordinator at most: about 8 MiB of output in the worst case.
const MESSAGE_QUEUE: usize = 128;

/// The CPUs this process may use (cgroup quotas included), at least 1.
fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// `.engine/` next to the workflow file.
fn default_state_dir(workflow: &Path) -> PathBuf {
    workflow
        .parent()
        .map_or_else(|| PathBuf::from(".engine"), |dir| dir.join(".engine"))
}

/// Descriptors each running process task holds: two pipes, a pidfd and its log file.
const FILES_PER_TASK: u64 = 4;

/// Descriptors kept for everything else (the events file, the reporter, libraries).
const FILES_RESERVED: u64 = 64;

/// Raises the soft limit on open files to the hard one, then lowers `jobs` if even that
/// limit cannot hold that many running process tasks (with a note on stderr).
fn within_open_file_limit(jobs: usize) -> usize {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(maximum)) = (limit.current, limit.maximum)
        && current < maximum
    {
        limit.current = Some(maximum);
        if setrlimit(Resource::Nofile, limit).is_err() {
            limit.current = Some(current);
        }
    }
    let Some(files) = limit.current else {
        return jobs;
    };
    let fit = usize::try_from(files.saturating_sub(FILES_RESERVED) / FILES_PER_TASK)
        .unwrap_or(usize::MAX)
        .max(1);
    if jobs > fit {
        eprintln!(
            "engine: running at most {fit} process tasks at once, not {jobs}: the open-file \
             limit is {files} (`ulimit -n`)"
        );
        return fit;
    }
    jobs
}

/// Forwards SIGINT and SIGTERM to the coordinator as `Message::Interrupt`.
fn forward_signals(outbox: Outbox) -> Result<signal_hook::iterator::Handle, EngineError> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .map_err(EngineError::io("cannot install signal handlers"))?;
    let handle = signals.handle();
    std::thread::Builder::new()
        .name("engine-signals".into())
        .spawn(move || {
            for _ in signals.forever() {
                if !outbox.send(Message::Interrupt) {
                    break;
                }
            }
        })
        .map_err(EngineError::io("cannot start the signal thread"))?;
    Ok(handle)
}

/// A run id that sorts by time: `20261125-153012-123-4242` (UTC date, time, milliseconds, pid).
fn run_id() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (year, month, day) = civil_date(i64::try_from(secs / 86_400).unwrap_or(0));
    let rest = secs % 86_400;
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}-{:03}-{}",
        rest / 3600,
        (rest / 60) % 60,
        rest % 60,
        now.subsec_millis(),
        std::process::id()
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_date(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// The hidden worker: runs the script of one task in this process, printing to stdout.
///
/// # Errors
/// An invalid workflow or task name (2); a failed script (1).
pub fn script_worker(args: &ScriptArgs) -> Result<(), EngineError> {
    use crate::script::{CancelToken, ScriptEnd, ScriptScope, script_engine};
    use std::io::Write;
    let workflow = super::load(&args.file)?;
    let task = workflow
        .find(&args.task)
        .map(|id| workflow.task(id))
        .ok_or_else(|| EngineError::Usage {
            message: format!("no task named `{}`", args.task),
            hint: None,
        })?;
    let Command::Script { ast, .. } = &task.command else {
        return Err(EngineError::Usage {
            message: format!("task `{}` has no script", task.name),
            hint: None,
        });
    };
    let scope = ScriptScope {
        print: Box::new(|line| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
        }),
        token: Arc::new(CancelToken::new()),
        cwd: std::env::current_dir().unwrap_or_else(|_| task.cwd.clone()),
        env: Vec::new(),
        results: std::cell::RefCell::default(),
    };
    let (end, results) = crate::script::run_script_with_results(&script_engine(), ast, scope);
    if let Some(path) = std::env::var_os("ENGINE_RESULTS")
        && !results.is_empty()
    {
        let text: String = results
            .iter()
            .map(|(key, value)| crate::template::format_result(key, value))
            .collect();
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut file| file.write_all(text.as_bytes()));
        if let Err(error) = written {
            eprintln!("cannot write the results to $ENGINE_RESULTS: {error}");
            return Err(EngineError::TasksFailed { failed: 1 });
        }
    }
    match end {
        ScriptEnd::Done => Ok(()),
        ScriptEnd::Failed(message) => {
            eprintln!("{message}");
            Err(EngineError::TasksFailed { failed: 1 })
        }
        ScriptEnd::Cancelled => Err(EngineError::Interrupted),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(20_417), (2025, 11, 25));
        assert_eq!(civil_date(11_016), (2000, 2, 29));
    }
}
