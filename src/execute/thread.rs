//! Thread tasks: scripts run by the shared rhai engine on a pool of worker threads. They cannot be killed,
//! only cancelled: a cancelled script stops at its next operation or wakes from `sleep`.

use std::collections::HashMap;
use std::sync::Arc;

use rhai::Engine;

use super::pool::WorkerPool;
use super::{Exit, Message, RunContext, TaskLog, Termination};
use crate::events::Stream;
use crate::model::{Command, Task, TaskId};
use crate::script::{CancelToken, ScriptEnd, ScriptScope, run_script, script_engine};

/// Runs scripts on a pool of worker threads.
pub struct ThreadExecutor {
    pool: WorkerPool,
    engine: Arc<Engine>,
    context: Arc<RunContext>,
    running: HashMap<TaskId, Arc<CancelToken>>,
}

impl ThreadExecutor {
    /// A pool of `threads` workers for one run.
    ///
    /// # Errors
    /// When the pool's threads cannot be created.
    pub fn new(context: Arc<RunContext>, threads: usize) -> Result<Self, String> {
        let pool = WorkerPool::new(threads)
            .map_err(|error| format!("cannot start the worker threads: {error}"))?;
        Ok(Self {
            pool,
            engine: Arc::new(script_engine()),
            context,
            running: HashMap::new(),
        })
    }

    /// Starts a script task on the pool.
    pub fn start(&mut self, task: &Task) -> Result<Option<u32>, String> {
        let Command::Script { ast, .. } = &task.command else {
            return Err("only scripts run on threads".into());
        };
        let token = Arc::new(CancelToken::new());
        self.running.insert(task.id, Arc::clone(&token));
        let ast = Arc::clone(ast);
        let engine = Arc::clone(&self.engine);
        let sender = self.context.sender.clone();
        let log = TaskLog::new(self.context.log_dir.join(format!("{}.log", task.name)));
        let id = task.id;
        let mut env = task.env.to_vec();
        env.push(("ENGINE_TASK".into(), task.name.clone()));
        env.push((
            "ENGINE_WORKFLOW".into(),
            self.context.workflow_path.display().to_string(),
        ));
        env.push(("ENGINE_RUN_ID".into(), self.context.run_id.clone()));
        let cwd = task.cwd.clone();
        self.pool.spawn(move || {
            let log = Arc::new(log);
            let print_log = Arc::clone(&log);
            let print_sender = sender.clone();
            let scope = ScriptScope {
                print: Box::new(move |line: String| {
                    print_log.write(line.as_bytes());
                    print_log.write(b"\n");
                    let _ = print_sender.send(Message::Output {
                        task: id,
                        stream: Stream::Stdout,
                        lines: vec![line],
                    });
                }),
                token,
                cwd,
                env,
            };
            let end = run_script(&engine, &ast, scope);
            log.flush();
            let exit = match end {
                ScriptEnd::Done => Exit::ScriptDone,
                ScriptEnd::Failed(message) => Exit::ScriptFailed(message),
                ScriptEnd::Cancelled => Exit::ScriptCancelled,
            };
            let _ = sender.send(Message::Finished { task: id, exit });
        });
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
