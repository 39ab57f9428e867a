//! The binary: parse the command line, run the command, map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = feedsmith::cli::Cli::parse();
    feedsmith::telemetry::init(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(feedsmith::error::exit::FATAL);
        }
    };
    let code = runtime.block_on(feedsmith::commands::dispatch(cli));
    ExitCode::from(code)
}
