//! `Reserve`: room kept on the state dir's disk for the run record. A file of zeros that a
//! run makes when it is missing and deletes when the record cannot be written for a full
//! disk, so that the record can still say how the run ended (a task's output that filled the
//! disk must not make a successful run look `died`). It never deletes anything else.

use std::io::Write as _;
use std::path::PathBuf;

use crate::state_dir::StateDir;

/// How much room it keeps: the record's writes of many thousand tasks.
const SIZE: usize = 1 << 20;

/// The reserve of one state dir.
#[derive(Debug)]
pub struct Reserve {
    path: PathBuf,
}

impl Reserve {
    /// Makes the reserve in `state_dir` if it is missing or short. A disk too full for it
    /// leaves it short: the record then has no room in hand, as before there was one.
    #[must_use]
    pub fn keep(state_dir: &StateDir) -> Self {
        let path = state_dir.reserve();
        let whole = std::fs::metadata(&path).is_ok_and(|m| m.len() >= SIZE as u64);
        if !whole {
            // Zeros written, not a sparse file: the blocks must really be taken.
            let made = std::fs::File::create(&path).and_then(|mut file| {
                file.write_all(&vec![0; SIZE])
                    .and_then(|()| file.sync_all())
            });
            if made.is_err() {
                let _ = std::fs::remove_file(&path);
            }
        }
        Self { path }
    }

    /// Gives the room back to the disk; whether there was any to give.
    pub fn release(&self) -> bool {
        std::fs::remove_file(&self.path).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_is_made_once_and_released_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let state_dir = StateDir::at(dir.path());
        let reserve = Reserve::keep(&state_dir);
        let path = state_dir.reserve();
        assert_eq!(std::fs::metadata(&path).expect("made").len(), SIZE as u64);
        assert!(reserve.release());
        assert!(!path.exists());
        assert!(!reserve.release());
        let _again = Reserve::keep(&state_dir);
        assert!(path.exists());
    }
}
