//! The hidden `engine __script` worker: runs the script of one task in its own process, as
//! the process executor spawns it (`process.rs`) for a script task with `isolation:
//! process`. It prints to stdout and writes results to `$ENGINE_RESULTS`; it reports to no
//! coordinator: its exit code tells how the script ended.

use std::sync::Arc;

use super::{SCRIPT_CONSTANTS, SCRIPT_SOURCE};
use crate::error::EngineError;
use crate::model::{Command, Workflow};

/// Runs the script of `task` of `workflow` in this process, printing to stdout.
///
/// # Errors
/// An unknown task or one without a script (2); a failed script (1); a cancelled one (130).
pub fn run_script_worker(workflow: &Workflow, task: &str) -> Result<(), EngineError> {
    use crate::script::{CancelToken, ScriptEnd, ScriptScope, script_engine};
    use std::io::Write;
    let task = workflow
        .find(task)
        .map(|id| workflow.task(id))
        .ok_or_else(|| EngineError::Usage {
            message: format!("no task named `{task}`"),
            hint: None,
        })?;
    let Command::Script { ast, .. } = &task.command else {
        return Err(EngineError::Usage {
            message: format!("task `{}` has no script", task.name),
            hint: None,
        });
    };
    let engine = script_engine();
    // The engine passes the script with its templates filled in, and the constants.
    let filled_in = match std::env::var(SCRIPT_SOURCE) {
        Ok(source) => Some(
            engine
                .compile(&source)
                .map_err(|error| EngineError::Usage {
                    message: format!(
                        "the script of task `{}` does not compile: {error}",
                        task.name
                    ),
                    hint: None,
                })?,
        ),
        Err(_) => None,
    };
    let ast = filled_in.as_ref().unwrap_or(ast);
    let constants = match std::env::var(SCRIPT_CONSTANTS) {
        Ok(json) => Some(Arc::new(engine.parse_json(&json, true).map_err(
            |error| EngineError::Usage {
                message: format!("invalid {SCRIPT_CONSTANTS}: {error}"),
                hint: None,
            },
        )?)),
        Err(_) => None,
    };
    let cwd = std::env::current_dir().unwrap_or_else(|_| task.cwd.clone());
    // The script runs on a thread with the stack of the engine's worker threads, so that it
    // meets the same limits here as on a thread of the engine.
    let run = || {
        let scope = ScriptScope {
            print: Box::new(|line| {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
            }),
            token: Arc::new(CancelToken::new()),
            cwd,
            env: Vec::new(),
            results: std::cell::RefCell::default(),
            constants,
        };
        crate::script::run_script_with_results(&engine, ast, scope)
    };
    let (end, results) = std::thread::scope(|threads| {
        std::thread::Builder::new()
            .name("engine-script".into())
            .stack_size(crate::script::STACK_BYTES)
            .spawn_scoped(threads, run)
            .map_err(EngineError::io("cannot start the script's thread"))?
            .join()
            .map_err(|_| EngineError::TasksFailed { failed: 1 })
    })?;
    if let Some(path) = std::env::var_os("ENGINE_RESULTS")
        && !results.is_empty()
    {
        let text: String = results
            .iter()
            .map(|(key, value)| crate::results::format_result(key, value))
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
