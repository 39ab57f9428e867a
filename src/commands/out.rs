//! Machine output on stdout, written through one locked handle per call and checked.
//!
//! `println!` panics when stdout is a closed pipe (`feedsmith posts list | head -1`). Here a
//! write error becomes a [`CommandError`]: a broken pipe means the reader has what it wanted, so
//! the command stops and exits 0 without a message, as ripgrep does; any other error (a full
//! disk behind a redirect) is reported.

use std::io::Write;

use crate::error::CommandError;

/// Write `args` to stdout. Prefer the [`outln!`](crate::outln) and [`out!`](crate::out) macros.
pub fn write_fmt(args: std::fmt::Arguments<'_>) -> Result<(), CommandError> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_fmt(args)
        .and_then(|()| stdout.flush())
        .map_err(CommandError::from_stdout)
}

/// `print!` to stdout that returns a [`CommandError`] instead of panicking on a closed pipe.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::commands::out::write_fmt(format_args!($($arg)*)) };
}

/// `println!` to stdout that returns a [`CommandError`] instead of panicking on a closed pipe.
#[macro_export]
macro_rules! outln {
    () => { $crate::commands::out::write_fmt(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::commands::out::write_fmt(format_args!("{}\n", format_args!($($arg)*))) };
}
