//! Thread tasks: scripts run by the shared rhai engine on a pool of worker threads. They cannot be killed,
//! only cancelled: a cancelled script stops at its next operation or wakes from `sleep`.

use std::sync::Arc;

use rhai::Engine;
use rustc_hash::FxHashMap;

use super::pool::WorkerPool;
use super::{RunContext, TaskLog};
use crate::events::Stream;
use crate::exchange::{Exit, Launch, Message, Termination};
use crate::model::{Command, Task, TaskId};
use crate::script::{CancelToken, ScriptEnd, ScriptScope, run_script_with_results, script_engine};

/// Runs scripts on a pool of worker threads, created with the first script so that a run
/// without scripts starts no threads and builds no script engine.
pub struct ThreadExecutor {
    threads: usize,
    workers: Option<(WorkerPool, Arc<Engine>)>,
    context: Arc<RunContext>,
    /// The workflow's path as text (`ENGINE_WORKFLOW`), made once for every task.
    workflow: String,
    running: FxHashMap<TaskId, Arc<CancelToken>>,
}

impl ThreadExecutor {
    /// An executor for one run that will run up to `threads` scripts at once.
    #[must_use]
    pub fn new(context: Arc<RunContext>, threads: usize) -> Self {
        Self {
            threads,
            workers: None,
            workflow: context.workflow_path.display().to_string(),
            context,
            running: FxHashMap::default(),
        }
    }

    /// The pool and the script engine, made on first use.
    fn workers(&mut self) -> Result<&(WorkerPool, Arc<Engine>), String> {
        if self.workers.is_none() {
            let pool = WorkerPool::new(self.threads)
                .map_err(|error| format!("cannot start the worker threads: {error}"))?;
            self.workers = Some((pool, Arc::new(script_engine())));
        }
        self.workers
            .as_ref()
            .ok_or_else(|| "the worker threads are missing".to_owned())
    }

    /// Starts a script task on the pool.
    pub fn start(&mut self, task: &Task, launch: &Launch) -> Result<Option<u32>, String> {
        let Command::Script { ast, .. } = &launch.command else {
            return Err("only scripts run on threads".into());
        };
        let engine = Arc::clone(&self.workers()?.1);
        let token = Arc::new(CancelToken::new());
        let token_for_running = Arc::clone(&token);
        let ast = Arc::clone(ast);
        let outbox = self.context.outbox.clone();
        // The log's path is made on the worker: the coordinator's thread does as little per
        // task as it can.
        let context = Arc::clone(&self.context);
        let attempt = launch.attempt;
        let masker = self.context.masker.clone();
        let masker_for_results = self.context.masker.clone();
        let id = task.id;
        let name = task.name.clone();
        let mut env = launch.env.to_vec();
        env.push(("ENGINE_TASK".into(), name.clone()));
        env.push(("ENGINE_WORKFLOW".into(), self.workflow.clone()));
        env.push(("ENGINE_RUN_ID".into(), self.context.run_id.clone()));
        let cwd = launch.cwd.clone();
        let constants = launch.constants.clone();
        let Some((pool, _)) = &self.workers else {
            return Err("the worker threads are missing".into());
        };
        pool.spawn(move || {
            let log = TaskLog::new(context.run_dir.log(&name));
            if attempt > 1 {
                log.write(format!("engine: attempt {attempt}\n").as_bytes());
            }
            let log = Arc::new(log);
            let print_log = Arc::clone(&log);
            let print_outbox = outbox.clone();
            let scope = ScriptScope {
                print: Box::new(move |line: String| {
                    let line = masker.mask(&line).into_owned();
                    print_log.write(line.as_bytes());
                    print_log.write(b"\n");
                    print_outbox.send(Message::Output {
                        task: id,
                        stream: Stream::Stdout,
                        lines: vec![line],
                    });
                }),
                token,
                cwd,
                env,
                results: std::cell::RefCell::default(),
                constants,
            };
            let (end, results) = run_script_with_results(&engine, &ast, scope);
            let mut results = results;
            crate::events::mask_results(&masker_for_results, &mut results);
            log.flush();
            let exit = match end {
                ScriptEnd::Done => Exit::ScriptDone,
                ScriptEnd::Failed(message) => Exit::ScriptFailed(message),
                ScriptEnd::Cancelled => Exit::ScriptCancelled,
            };
            outbox.send(Message::Finished {
                task: id,
                exit,
                results,
            });
        });
        self.running.insert(task.id, token_for_running);
        Ok(None)
    }

    /// Cancels a running script; scripts cannot be killed, so both kinds of termination are
    /// the same request.
    pub fn terminate(&mut self, task: TaskId, _how: Termination) {
        if let Some(token) = self.running.get(&task) {
            token.cancel();
        }
    }

    /// Forgets a task that ended.
    pub fn finished(&mut self, task: TaskId) {
        self.running.remove(&task);
    }
}
