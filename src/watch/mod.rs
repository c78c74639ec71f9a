//! Watch mode's file side: what a watch covers and what a change means (`Scope`), and the
//! debounced file watcher (`Watcher`, over `notify`). It decides nothing about runs and
//! prints nothing: `cli::watch` wires it to the coordinator and the terminal.

mod scope;
mod watcher;

pub use scope::{Root, Scope, Verdict};
pub use watcher::{DEBOUNCE, WatchError, Watcher};
