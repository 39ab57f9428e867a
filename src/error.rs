//! The binary's error edge: every failure maps to one exit code of the interface contract.

use crate::app::AppError;
use crate::config::ConfigError;
use crate::store::StoreError;

/// Exit codes (interface.md).
pub mod exit {
    pub const OK: u8 = 0;
    pub const FATAL: u8 = 1;
    pub const USAGE: u8 = 2;
    /// `fetch` finished and some feeds failed (the others were stored).
    pub const FEEDS_FAILED: u8 = 3;
    /// `fetch` finished and every feed failed: nothing could be polled (network down?).
    pub const ALL_FEEDS_FAILED: u8 = 4;
}

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Runtime(String),
    /// Stdout was closed by its reader (`| head`): not an error for the user; exit 0, silently.
    #[error("stdout closed")]
    BrokenPipe,
}

impl From<AppError> for CommandError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Store(s) => CommandError::Store(s),
            other => CommandError::Runtime(other.to_string()),
        }
    }
}

impl CommandError {
    /// A failed write of machine output: [`CommandError::BrokenPipe`] when the reader went away.
    pub fn from_stdout(e: std::io::Error) -> CommandError {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            CommandError::BrokenPipe
        } else {
            CommandError::Runtime(format!("cannot write to stdout: {e}"))
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            CommandError::BrokenPipe => exit::OK,
            CommandError::Config(_) | CommandError::Usage(_) => exit::USAGE,
            CommandError::Store(StoreError::Unsupported { .. }) => exit::USAGE,
            CommandError::Store(_) | CommandError::Runtime(_) => exit::FATAL,
        }
    }
}
