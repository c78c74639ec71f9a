//! How deeply a script's data nests: arrays, maps, closures (function pointers with captured
//! values) and shared values inside one another. Owns the check that keeps that depth bounded;
//! must not change or copy the values it looks at.
//!
//! Rhai walks values recursively when it prints, compares, clones, drops or measures them, one
//! stack frame (or several) per level. A value nested deeper than a script thread's stack can
//! hold would overflow it, which aborts the whole engine. Rhai's size limits do not bound the
//! depth (a chain of one-element arrays is small, and closures are not counted at all), so every
//! read of a variable checks the depth of its value: a value can only grow deeper by being read
//! and wrapped again, so no value ever gets much deeper than [`MAX_DATA_DEPTH`].
//!
//! Measuring a big array on every read would make a loop that indexes it quadratic, so a value
//! measured while a script runs is stamped (rhai's tag) with the current epoch and not measured
//! again in that epoch. An epoch lasts [`EPOCH_OPERATIONS`] script operations, and one
//! operation nests a value at most a few levels deeper, so a stamped value that grows in place
//! stays within a few thousand levels until it is measured again; the script threads' stack
//! holds that. Scripts cannot set tags (see [`super::base_engine`]), so a stamp is never forged.

use std::cell::Cell;

use rhai::{Dynamic, EvalAltResult, FnPtr, Position, Scope};

/// The deepest nesting of arrays, maps, closures and shared values a script may read from a
/// variable. Real data (JSON documents, configuration) stays far below it.
pub const MAX_DATA_DEPTH: usize = 256;

/// Script operations per epoch: a value measured in an epoch is not measured again in it.
pub const EPOCH_OPERATIONS: u64 = 1024;

thread_local! {
    /// The stamp of the current epoch of the script running on this thread; 0 when no script
    /// runs here (templates), and every read is measured.
    static STAMP: Cell<i32> = const { Cell::new(0) };
    /// Operations of the script running on this thread.
    static OPERATIONS: Cell<u64> = const { Cell::new(0) };
}

/// Starts the epochs of a script on this thread (`true`) or ends them (`false`).
pub fn run_epochs(running: bool) {
    STAMP.with(|stamp| stamp.set(i32::from(running)));
    OPERATIONS.with(|operations| operations.set(0));
}

/// Counts one operation of the script running on this thread; starts a new epoch every
/// [`EPOCH_OPERATIONS`] operations.
pub fn count_operation() {
    let count = OPERATIONS.with(|operations| {
        let count = operations.get().wrapping_add(1);
        operations.set(count);
        count
    });
    if count % EPOCH_OPERATIONS == 0 {
        STAMP.with(|stamp| {
            if stamp.get() != 0 {
                // Positive stamps only: 0 means "no epochs", negative ones are never used.
                stamp.set(stamp.get() % i32::MAX + 1);
            }
        });
    }
}

/// Checks the value of variable `name` before the script reads it.
///
/// # Errors
/// The value nests more than [`MAX_DATA_DEPTH`] levels deep.
pub fn check_read(scope: &mut Scope, name: &str) -> Result<(), Box<EvalAltResult>> {
    // A constant (`vars`, `matrix`, `tasks`, a `const`) is not measured: it cannot be changed,
    // so it cannot grow deeper, and it does not outlive the block that made it; what is made
    // from it is measured when it is read from a variable.
    let Some(value) = scope.get_mut(name) else {
        return Ok(());
    };
    let stamp = STAMP.with(Cell::get);
    if stamp != 0 && value.tag() == stamp {
        return Ok(());
    }
    if nested_deeper_than(value, MAX_DATA_DEPTH) {
        return Err(too_deep(name));
    }
    // A shared value's tag is its content's: stamping it would take its lock.
    if stamp != 0 && !value.is_shared() {
        value.set_tag(stamp);
    }
    Ok(())
}

/// Whether `value` nests more than `levels` levels deep. Recurses at most `levels + 1` frames
/// deep, whatever the value.
#[must_use]
pub fn nested_deeper_than(value: &Dynamic, levels: usize) -> bool {
    if value.is_shared() {
        // A shared value locked by this thread (being written) cannot be read, here or by the
        // script: it cannot be made deeper through this read either.
        return match levels.checked_sub(1) {
            None => true,
            Some(rest) => value
                .read_lock::<Dynamic>()
                .is_some_and(|inner| nested_deeper_than(&inner, rest)),
        };
    }
    if let Ok(array) = value.as_array_ref() {
        return levels
            .checked_sub(1)
            .is_none_or(|rest| array.iter().any(|item| nested_deeper_than(item, rest)));
    }
    if let Ok(map) = value.as_map_ref() {
        return levels
            .checked_sub(1)
            .is_none_or(|rest| map.values().any(|item| nested_deeper_than(item, rest)));
    }
    if value.is_fnptr()
        && let Some(pointer) = value.read_lock::<FnPtr>()
    {
        return levels.checked_sub(1).is_none_or(|rest| {
            pointer
                .iter_curry()
                .any(|item| nested_deeper_than(item, rest))
        });
    }
    false
}

/// The error for reading variable `name` whose value nests too deeply. A data-size error, so
/// that `try`/`catch` cannot catch it.
#[must_use]
pub fn too_deep(name: &str) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorDataTooLarge(
        format!(
            "Nesting of `{name}` (arrays, maps or closures inside one another more than \
             {MAX_DATA_DEPTH} levels deep)"
        ),
        Position::NONE,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested_arrays(depth: usize) -> Dynamic {
        let mut value = Dynamic::from(1_i64);
        for _ in 0..depth {
            value = Dynamic::from_array(vec![value]);
        }
        value
    }

    #[test]
    fn depth_counts_every_container_level() {
        assert!(!nested_deeper_than(&Dynamic::from(1_i64), 0));
        assert!(nested_deeper_than(&nested_arrays(1), 0));
        assert!(!nested_deeper_than(&nested_arrays(3), 3));
        assert!(nested_deeper_than(&nested_arrays(4), 3));
        let mut map = rhai::Map::new();
        map.insert("x".into(), nested_arrays(2));
        assert!(nested_deeper_than(&Dynamic::from_map(map.clone()), 2));
        assert!(!nested_deeper_than(&Dynamic::from_map(map), 3));
    }

    #[test]
    fn a_deep_value_is_measured_without_deep_recursion() {
        // Built and dropped without the walks that would overflow: only the check runs.
        let mut value = nested_arrays(100_000);
        assert!(nested_deeper_than(&value, MAX_DATA_DEPTH));
        // Take it apart one level at a time: dropping it whole would recurse 100 000 deep.
        while let Ok(mut array) = value.as_array_mut().map(|mut a| std::mem::take(&mut *a)) {
            match array.pop() {
                Some(inner) => value = inner,
                None => break,
            }
        }
    }
}
