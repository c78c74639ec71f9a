//! What a new run deletes of old ones: runs of its workflow beyond the newest `RUNS_KEPT`
//! (their rows and their run directories), in batches once `store::PRUNE_SLACK` more have
//! gathered, and what failed attempts set aside beyond the
//! newest `INCOMPLETE_RUNS_KEPT` runs that set some aside. Deletes only in the state dir, only
//! what engine made there, only of this workflow.

use super::{Store, StoreError};
use crate::state_dir::StateDir;

/// Runs of one workflow kept in the record (with their logs); older ones are deleted when a
/// new run starts and `store::PRUNE_SLACK` of them have gathered.
pub const RUNS_KEPT: usize = 50;

/// Runs of one workflow whose set-aside outputs (`<state dir>/incomplete/<run>`) are kept;
/// older ones are deleted when a new run starts.
pub const INCOMPLETE_RUNS_KEPT: usize = 5;

/// Deletes the runs of the workflow keyed `workflow` beyond the newest `RUNS_KEPT`, and
/// their run directories; and what failed attempts set aside, beyond the newest
/// `INCOMPLETE_RUNS_KEPT` runs that set some aside.
///
/// # Errors
/// The record cannot be written or read.
pub fn prune_history(
    store: &mut Store,
    state_dir: &StateDir,
    workflow: &str,
) -> Result<(), StoreError> {
    let old = store.transaction(|writer| writer.prune(workflow, RUNS_KEPT))?;
    remove_runs(state_dir, &old);
    if !state_dir.incomplete().is_dir() {
        return Ok(());
    }
    // Only this workflow's runs: another workflow sharing the state dir keeps its own.
    let runs = store.runs(workflow, RUNS_KEPT)?;
    let with_outputs = runs
        .iter()
        .filter(|run| is_run_id(&run.id) && state_dir.incomplete_of(&run.id).is_dir());
    for run in with_outputs.skip(INCOMPLETE_RUNS_KEPT) {
        let _ = std::fs::remove_dir_all(state_dir.incomplete_of(&run.id));
    }
    Ok(())
}

/// Whether `id` has the shape run ids have (digits and dashes): one component of a path in
/// the state dir, never `..` or a path of its own.
fn is_run_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit() || b == b'-')
}

/// Removes the directories of the runs `old`, just pruned from the record.
pub fn remove_runs(state_dir: &StateDir, old: &[String]) {
    // An id that is not a run id's shape (a damaged record) names no directory engine made:
    // joined to a path it could reach outside `runs/` (`..`), so nothing is removed for it.
    for id in old.iter().filter(|id| is_run_id(id)) {
        // A run dir that cannot be removed stays; the record no longer points at it.
        let _ = std::fs::remove_dir_all(state_dir.run(id).path());
        let _ = std::fs::remove_dir_all(state_dir.incomplete_of(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_digits_and_dashes_are_run_ids() {
        assert!(is_run_id("20261125-153012-123-4242"));
        assert!(!is_run_id(""));
        assert!(!is_run_id(".."));
        assert!(!is_run_id("1/2"));
    }
}
