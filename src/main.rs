//! The binary: parse the command line, run the command, end with its [`Exit`].

use std::process::ExitCode;

use clap::Parser;
use feedsmith::error::Exit;

fn main() -> ExitCode {
    let cli = feedsmith::cli::Cli::parse();
    let interactive = matches!(cli.command, feedsmith::cli::Command::Fetch(_))
        && cli.log_format == feedsmith::telemetry::LogFormat::Pretty
        && std::io::IsTerminal::is_terminal(&std::io::stderr());
    feedsmith::telemetry::init(
        cli.log_format,
        feedsmith::telemetry::Verbosity::from_flags(cli.verbose, cli.quiet),
        interactive,
    );
    // Parsing and normalization run on the blocking pool and are pure CPU work: more threads
    // than twice the cores only add per-thread stacks and malloc arenas (peak RSS), not speed.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads((cores * 2).clamp(4, 64))
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::Fatal.into();
        }
    };
    runtime.block_on(feedsmith::commands::dispatch(cli)).into()
}
