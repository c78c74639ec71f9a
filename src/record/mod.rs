//! The run record: a durable journal of every run in the state dir, the up-to-date checks
//! that read it, and the gate that keeps its durability protocol for the coordinator.

pub mod aside;
pub mod depfile;
pub mod explain;
pub mod fresh;
pub mod gate;
pub mod journal;
pub mod lock;
mod mailbox;
pub mod prune;
pub mod reserve;
pub mod state;
pub mod store;
pub mod strays;
pub mod unchanged;

pub use gate::{Gate, Record};
pub use journal::{Checked, Decision, Ended, Forced, Journal, Resume, RunInfo};
pub use state::{AttemptStatus, RunOutcome, UnknownState};
pub use store::{Store, StoreError};

/// Opens, creating it if it is missing, a file of engine's own in the state dir (the lock,
/// the check mark) to be rewritten in place. `None` when what is at `path` is not engine's
/// to write: a symbolic link (never followed), a file that has another name too (a hard
/// link to someone's file), a directory, a pipe or a device (never waited on).
///
/// # Errors
/// The file cannot be opened or looked at.
fn open_own(path: &std::path::Path) -> std::io::Result<Option<std::fs::File>> {
    use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(path);
    let file = match opened {
        Ok(file) => file,
        Err(error) if error.raw_os_error() == Some(nix::libc::ELOOP) => return Ok(None),
        Err(error) => return Err(error),
    };
    let meta = file.metadata()?;
    Ok((meta.is_file() && meta.nlink() == 1).then_some(file))
}

/// Writes `text` over the start of `file` and cuts the file to its length, only when that
/// length differs: a truncation to nothing first would make ext4 free the file's blocks and
/// write new ones out (0.7 ms, measured), and the text is mostly as long as the last one.
///
/// # Errors
/// The write or the cut failed.
fn rewrite(file: &std::fs::File, text: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt as _;
    file.write_all_at(text, 0)?;
    let length = text.len() as u64;
    if file.metadata()?.len() != length {
        file.set_len(length)?;
    }
    Ok(())
}
