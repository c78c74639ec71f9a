//! `--events FILE`: one versioned JSON object per line for other tools.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::events::{EVENTS_VERSION, Event, SkipReason};
use crate::model::Workflow;

/// Writes events as JSON lines.
pub struct JsonEvents {
    out: BufWriter<File>,
    started: Instant,
}

impl JsonEvents {
    /// Writes to `file`.
    #[must_use]
    pub fn new(file: File) -> Self {
        Self {
            out: BufWriter::new(file),
            started: Instant::now(),
        }
    }

    /// Writes one event. Write errors are ignored here and surface at `finish`.
    pub fn write(&mut self, workflow: &Workflow, event: &Event) {
        let name = |task: crate::model::TaskId| workflow.task(task).name.as_str();
        let elapsed_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut value = match event {
            Event::RunStarted { run_id, tasks } => {
                let unix_ms = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis());
                json!({ "event": "run_started", "run_id": run_id, "workflow": workflow.name,
                        "file": workflow.path, "tasks": tasks, "unix_ms": unix_ms })
            }
            Event::TaskExpanded { task, names, .. } => {
                json!({ "event": "task_expanded", "task": name(*task), "count": names.len(),
                        "items": names })
            }
            Event::TaskReady { task } => json!({ "event": "task_ready", "task": name(*task) }),
            Event::TaskStarted {
                task,
                pid,
                attempt,
                attempts,
            } => {
                json!({ "event": "task_started", "task": name(*task), "pid": pid,
                        "isolation": workflow.task(*task).isolation,
                        "attempt": attempt, "attempts": attempts })
            }
            Event::TaskRetrying {
                task,
                attempt,
                attempts,
                status,
                duration,
                delay,
            } => {
                let mut value = json!({ "event": "task_retrying", "task": name(*task),
                                        "attempt": attempt, "attempts": attempts,
                                        "duration_ms": u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
                                        "delay_ms": u64::try_from(delay.as_millis()).unwrap_or(u64::MAX) });
                merge(
                    &mut value,
                    serde_json::to_value(status).unwrap_or(Value::Null),
                );
                value
            }
            Event::TaskJob {
                task,
                job_id,
                state,
            } => {
                json!({ "event": "task_job", "task": name(*task), "job_id": job_id, "state": state })
            }
            Event::TaskOutput {
                task,
                stream,
                lines,
            } => {
                json!({ "event": "task_output", "task": name(*task), "stream": stream, "lines": lines })
            }
            Event::TaskFinished {
                task,
                status,
                duration,
                attempt,
                allowed,
                results,
            } => {
                let results: serde_json::Map<String, Value> = results
                    .iter()
                    .map(|(key, value)| (key.clone(), Value::String(value.clone())))
                    .collect();
                let mut value = json!({ "event": "task_finished", "task": name(*task),
                                        "duration_ms": u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
                                        "attempt": attempt, "allowed_failure": allowed,
                                        "results": results });
                merge(
                    &mut value,
                    serde_json::to_value(status).unwrap_or(Value::Null),
                );
                value
            }
            Event::TaskSkipped { task, reason } => {
                let mut value = json!({ "event": "task_skipped", "task": name(*task) });
                merge(
                    &mut value,
                    serde_json::to_value(reason).unwrap_or(Value::Null),
                );
                if let SkipReason::DependencyFailed { dependency } = reason {
                    value["dependency"] = json!(name(*dependency));
                }
                value
            }
            Event::Interrupting { forced } => json!({ "event": "interrupting", "forced": forced }),
            Event::Warning { message } => json!({ "event": "warning", "message": message }),
            Event::OutputsSetAside {
                task,
                attempt,
                to,
                moved,
                left,
            } => {
                let left: Vec<Value> = left
                    .iter()
                    .map(|(path, reason)| json!({ "path": path, "reason": reason }))
                    .collect();
                json!({ "event": "outputs_set_aside", "task": name(*task), "attempt": attempt,
                        "to": to, "moved": moved, "left": left })
            }
            Event::RunFinished {
                duration,
                interrupted,
            } => {
                json!({ "event": "run_finished", "duration_ms": u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
                        "interrupted": interrupted })
            }
        };
        value["v"] = json!(EVENTS_VERSION);
        value["t_ms"] = json!(elapsed_ms);
        let _ = serde_json::to_writer(&mut self.out, &value);
        let _ = self.out.write_all(b"\n");
        // Readers follow the file live, and an engine killed outright leaves every change of
        // state in it; output lines ride along with the next one.
        if !matches!(event, Event::TaskOutput { .. }) {
            let _ = self.out.flush();
        }
    }

    /// Flushes the file.
    ///
    /// # Errors
    /// When the events could not be written.
    pub fn finish(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

fn merge(into: &mut Value, from: Value) {
    if let (Some(into), Value::Object(from)) = (into.as_object_mut(), from) {
        into.extend(from);
    }
}
