//! What earlier runs of a workflow left running when their engine was killed (SIGKILL, a
//! crash): their Slurm jobs and processes are stopped, and the runs recorded as died, before
//! a new run of the workflow starts.

use crate::error::EngineError;
use crate::record::{Store, StoreError};
use crate::state_dir::StateDir;

/// Stops what earlier runs of the workflow keyed `workflow` left running when their engine
/// was killed, and records them as died. Their processes are found by the run id every task
/// inherits in its environment (`ENGINE_RUN_ID`), so a process that took over a recorded pid
/// is never touched; their Slurm jobs, first, by the ids in the run's job list.
///
/// # Errors
/// The record cannot be read or written.
pub(crate) fn stop_strays(
    store: &mut Store,
    state_dir: &StateDir,
    workflow: &str,
) -> Result<(), EngineError> {
    // This engine holds the workflow's lock: no run without an end is still going.
    let died = store
        .unfinished_runs(workflow)
        .map_err(StoreError::into_engine_error)?;
    if died.is_empty() {
        return Ok(());
    }
    let runs = if died.len() == 1 {
        format!("run {}", died[0])
    } else {
        format!("{} earlier runs", died.len())
    };
    let job_lists: Vec<std::path::PathBuf> = died
        .iter()
        .map(|run| state_dir.run(run).job_list())
        .filter(|list| list.exists())
        .collect();
    match crate::execute::slurm::cancel_left_jobs(&job_lists, std::env::var_os("PATH").as_deref()) {
        Ok(jobs) if jobs.is_empty() => {}
        Ok(jobs) => eprintln!(
            "engine: cancelled {} Slurm job(s) left in the queue by {runs} whose engine died: {}",
            jobs.len(),
            jobs.join(" ")
        ),
        Err(error) => eprintln!(
            "engine: Slurm jobs of {runs} whose engine died may still be in the queue ({error}); \
             their ids are in {}",
            job_lists
                .iter()
                .map(|list| format!("`{}`", list.display()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
    // After the Slurm jobs: on a node of the cluster, the jobs' own processes carry the run
    // id too, and a job whose processes were killed would end before it could be cancelled.
    let stopped = crate::record::strays::stop(&died);
    if stopped > 0 {
        eprintln!("engine: stopped {stopped} process(es) left running by {runs} whose engine died");
    }
    store
        .transaction(|writer| {
            for run in &died {
                writer.mark_died(run)?;
            }
            Ok(())
        })
        .map_err(StoreError::into_engine_error)
}
