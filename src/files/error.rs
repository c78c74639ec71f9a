//! Why the files of a pattern cannot be resolved or digested: the one error type of `files`.

/// Why the files of a pattern cannot be resolved or digested.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FilesError {
    /// A pattern without glob characters names nothing that exists (a dangling symlink
    /// counts as missing).
    #[error("`{path}` does not exist")]
    Missing {
        /// The normalized path.
        path: String,
    },
    /// A glob pattern that `glob::Pattern` refuses, an empty pattern or one with a NUL byte.
    #[error("`{pattern}` is not a valid glob: {message}")]
    InvalidPattern {
        /// The pattern as written.
        pattern: String,
        /// What is wrong with it.
        message: String,
    },
    /// Reading failed (permission denied, ...).
    #[error("cannot read `{path}`: {message}")]
    Unreadable {
        /// The path that could not be read.
        path: String,
        /// The reason, from the operating system.
        message: String,
    },
}
