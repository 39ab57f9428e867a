//! The binary: parse the command line, run the command, end with its [`Exit`].

use std::process::ExitCode;

use clap::Parser;
use feedsmith::error::Exit;

fn main() -> ExitCode {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    bound_malloc_arenas(cores);
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

/// At most [`ARENAS_PER_CORE`] glibc malloc arenas per core, unless `MALLOC_ARENA_MAX` says
/// otherwise.
///
/// Why: glibc gives a thread that finds the arenas busy a new one, up to eight per core, and each
/// arena keeps the memory freed into it for its own thread's later use. A cold `fetch` runs the
/// runtime's workers, the blocking pool (parsing, normalization) and one thread per SQLite
/// connection: with the default limit the 2000-feed cold fetch held 7 arenas of 3-10 MB each
/// (45 MB anonymous memory for a 21 MB heap peak, heaptrack). One arena per core bounded that
/// (43-44 MB) but made the threads wait for each other's arena locks: 25-30 % slower cold, with
/// twice the system time. Four per core keeps the cold fetch within 7 % of the unbounded time
/// at 49 MB (docs/performance.md, "Memory and scale"). The environment variable is honoured so
/// an operator can still tune it.
const ARENAS_PER_CORE: usize = 4;

fn bound_malloc_arenas(cores: usize) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
            let arenas = cores.saturating_mul(ARENAS_PER_CORE);
            let arenas = libc::c_int::try_from(arenas).unwrap_or(libc::c_int::MAX);
            // SAFETY: mallopt only sets an allocator parameter; called at the start of main,
            // before any thread of ours exists. A value it refuses (returns 0) leaves glibc's
            // default, which is only more memory.
            unsafe {
                libc::mallopt(libc::M_ARENA_MAX, arenas.max(1));
            }
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = cores;
}
