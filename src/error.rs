//! The binary's error edge: every failure maps to one exit code of the interface contract.

use crate::app::AppError;
use crate::config::ConfigError;
use crate::store::StoreError;

/// How the process ends: the exit codes of the interface contract (../shared/spec/interface.md,
/// "Exit codes"), as one type, so a command cannot return a code the contract does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: success (`fetch`: every feed polled; a 304 counts as success).
    Ok,
    /// 1: fatal runtime error (database unreachable, I/O, a failed git commit or push).
    Fatal,
    /// 2: usage or configuration error; the message names the file, key and problem.
    Usage,
    /// 3: `fetch` finished and some feeds failed (the others were stored).
    FeedsFailed,
    /// 4: `fetch` finished and every feed failed: nothing could be polled (network down?).
    AllFeedsFailed,
    /// 130: `fetch` stopped by SIGINT after letting in-flight polls finish.
    Interrupted,
    /// 143: `fetch` stopped by SIGTERM after letting in-flight polls finish.
    Terminated,
}

impl Exit {
    /// The process exit status.
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Fatal => 1,
            Exit::Usage => 2,
            Exit::FeedsFailed => 3,
            Exit::AllFeedsFailed => 4,
            // 128 + the signal's number, by shell convention.
            Exit::Interrupted => 128 + 2,
            Exit::Terminated => 128 + 15,
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
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

    pub fn exit(&self) -> Exit {
        match self {
            CommandError::BrokenPipe => Exit::Ok,
            CommandError::Config(_) | CommandError::Usage(_) => Exit::Usage,
            CommandError::Store(StoreError::Unsupported { .. }) => Exit::Usage,
            CommandError::Store(_) | CommandError::Runtime(_) => Exit::Fatal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_the_contracts() {
        let codes: Vec<u8> = [
            Exit::Ok,
            Exit::Fatal,
            Exit::Usage,
            Exit::FeedsFailed,
            Exit::AllFeedsFailed,
            Exit::Interrupted,
            Exit::Terminated,
        ]
        .into_iter()
        .map(Exit::code)
        .collect();
        assert_eq!(codes, [0, 1, 2, 3, 4, 130, 143]);
        // The signals' numbers on the platforms feedsmith runs on.
        assert_eq!(Exit::Interrupted.code(), 128 + libc::SIGINT as u8);
        assert_eq!(Exit::Terminated.code(), 128 + libc::SIGTERM as u8);
    }

    #[test]
    fn a_closed_stdout_exits_0_and_a_bad_setting_2() {
        let pipe = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        assert_eq!(CommandError::from_stdout(pipe).exit(), Exit::Ok);
        let full = std::io::Error::other("disk full");
        assert_eq!(CommandError::from_stdout(full).exit(), Exit::Fatal);
        assert_eq!(CommandError::Usage("x".into()).exit(), Exit::Usage);
    }
}
