//! `feedsmith completions SHELL` and `feedsmith man`: generated from the clap definitions in
//! [`crate::cli`], so they always list exactly the commands and flags `--help` shows. Neither
//! reads the configuration.

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::{CommandError, Exit};

/// The completion script for `shell`, on stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<Exit, CommandError> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "feedsmith", &mut buf);
    write_stdout(&buf)
}

/// The man page (roff) of `feedsmith` and its subcommands, on stdout.
pub fn man() -> Result<Exit, CommandError> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut buf)
        .map_err(|e| CommandError::Runtime(format!("cannot render the man page: {e}")))?;
    // One page for the whole tool: append each subcommand's section, as git's pages list theirs.
    for sub in Cli::command().get_subcommands() {
        if sub.is_hide_set() {
            continue;
        }
        let name = sub.get_name().to_string();
        let man = clap_mangen::Man::new(sub.clone());
        buf.extend_from_slice(format!(".SH \"FEEDSMITH {}\"\n", name.to_uppercase()).as_bytes());
        man.render_description_section(&mut buf)
            .and_then(|()| man.render_options_section(&mut buf))
            .and_then(|()| man.render_subcommands_section(&mut buf))
            .map_err(|e| CommandError::Runtime(format!("cannot render the man page: {e}")))?;
    }
    write_stdout(&buf)
}

fn write_stdout(bytes: &[u8]) -> Result<Exit, CommandError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(CommandError::from_stdout)?;
    Ok(Exit::Ok)
}
