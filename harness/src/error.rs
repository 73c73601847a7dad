//! The two kinds of trouble that are not a guest's fault.
//!
//! A cell that boots and fails is a *verdict*, not an error (see
//! [`crate::verdict`]). What lives here is everything that stops the harness
//! from reaching a verdict at all, split by who has to act: the user who wrote
//! a matrix or an image description ([`Error::BadInput`], exit status 2) or the
//! machine that runs it ([`Error::Infrastructure`], exit status 3).

use std::fmt;
use std::path::Path;

/// An error that prevents a verdict, classified by who must fix it. Every
/// layer reports its trouble as one of these two, so that the exit status
/// is decided here, in [`Error::exit_code`], and nowhere else.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The input is wrong: a matrix, an image description, a flag. The message
    /// names the file, line and key where it can. Exit status 2.
    #[error("{0}")]
    BadInput(String),
    /// The machine cannot do what was asked: qemu missing, a download failed, a
    /// cache directory is read-only, hugepages are exhausted. Exit status 3.
    #[error("{0}")]
    Infrastructure(String),
}

impl Error {
    /// Bad input, with a message the user can act on.
    pub fn bad_input(msg: impl Into<String>) -> Self {
        Error::BadInput(msg.into())
    }

    /// Trouble on the machine, with a message the user can act on.
    pub fn infra(msg: impl Into<String>) -> Self {
        Error::Infrastructure(msg.into())
    }

    /// An I/O failure on `path`, described as infrastructure trouble.
    pub fn io(path: &Path, what: &str, err: std::io::Error) -> Self {
        Error::Infrastructure(format!("{what} {}: {err}", path.display()))
    }

    /// Bad input at `path:line` about `key`: the one shape every file the
    /// user writes (matrices, image descriptions) is reported in, so that
    /// the line is found at once.
    pub fn at_key(path: &Path, line: usize, key: &str, what: impl fmt::Display) -> Self {
        Error::BadInput(format!("{}:{line}: key `{key}`: {what}", path.display()))
    }

    /// The process exit status this error maps to (documented in the README).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::BadInput(_) => 2,
            Error::Infrastructure(_) => 3,
        }
    }

    /// The message without its classification.
    pub fn message(&self) -> &str {
        match self {
            Error::BadInput(m) | Error::Infrastructure(m) => m,
        }
    }
}

/// The harness's result type.
pub type Result<T> = std::result::Result<T, Error>;

/// The 1-based line of byte `offset` in `text` (past the end: the last
/// line): where a TOML span starts, for [`Error::at_key`].
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}
