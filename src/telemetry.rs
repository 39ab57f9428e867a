//! Logging: `tracing` to stderr, human-readable on a terminal, JSON lines for services
//! (`--log-format json`). The default filter shows feedsmith's own events at INFO and its
//! libraries' at WARN (html5ever, sqlx and the scheduler are chatty at INFO and DEBUG and say
//! nothing a user can act on); `-v`/`-vv`/`-q` move feedsmith's level, and `RUST_LOG` overrides
//! everything.
//!
//! While a progress bar is drawn, log lines are written through [`indicatif::ProgressBar::suspend`]
//! so they appear above the bar instead of tearing it.

use std::io::Write;
use std::sync::{Mutex, OnceLock};

use clap::ValueEnum;
use indicatif::ProgressBar;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Colored, human-readable lines (the default on a terminal).
    Pretty,
    /// One JSON object per line (for journald, Docker, Kubernetes log collectors).
    Json,
}

fn active_bar() -> &'static Mutex<Option<ProgressBar>> {
    static BAR: OnceLock<Mutex<Option<ProgressBar>>> = OnceLock::new();
    BAR.get_or_init(|| Mutex::new(None))
}

/// Route log output around `bar` until [`clear_progress_bar`] is called.
pub fn set_progress_bar(bar: &ProgressBar) {
    if let Ok(mut slot) = active_bar().lock() {
        *slot = Some(bar.clone());
    }
}

pub fn clear_progress_bar() {
    if let Ok(mut slot) = active_bar().lock() {
        *slot = None;
    }
}

#[derive(Clone, Copy)]
struct StderrAroundBar;

struct LineWriter;

impl Write for LineWriter {
    /// The formatter writes one event per call. Every URL in it is redacted here, as a net
    /// under the fields that already carry a [`crate::redact::RedactedUrl`]: a library's error
    /// text or a log line added later cannot print a feed's credentials or token.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let redacted = crate::redact::redact_text(&text);
        let out = redacted.as_bytes();
        let bar = active_bar().lock().ok().and_then(|b| b.clone());
        match bar {
            Some(bar) if !bar.is_hidden() => bar.suspend(|| std::io::stderr().write_all(out))?,
            _ => std::io::stderr().write_all(out)?,
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> MakeWriter<'a> for StderrAroundBar {
    type Writer = LineWriter;
    fn make_writer(&'a self) -> Self::Writer {
        LineWriter
    }
}

/// How much feedsmith logs, from `-q`, `-v` and `-vv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verbosity {
    /// Errors only (`-q`).
    Quiet,
    /// feedsmith at INFO, libraries at WARN.
    #[default]
    Normal,
    /// feedsmith at DEBUG (`-v`).
    Debug,
    /// feedsmith at TRACE (`-vv`).
    Trace,
}

impl Verbosity {
    pub fn from_flags(verbose: u8, quiet: bool) -> Verbosity {
        match (quiet, verbose) {
            (true, _) => Verbosity::Quiet,
            (false, 0) => Verbosity::Normal,
            (false, 1) => Verbosity::Debug,
            (false, _) => Verbosity::Trace,
        }
    }

    /// The `EnvFilter` directives used when `RUST_LOG` is not set.
    pub fn directives(self) -> &'static str {
        match self {
            Verbosity::Quiet => "error",
            Verbosity::Normal => "warn,feedsmith=info",
            Verbosity::Debug => "warn,feedsmith=debug",
            Verbosity::Trace => "warn,feedsmith=trace",
        }
    }
}

/// Colour only on a terminal, and never when `NO_COLOR` is set to anything non-empty
/// (<https://no-color.org>).
fn use_colour() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && std::io::IsTerminal::is_terminal(&std::io::stderr())
}

static JSON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether logs are JSON lines (`--log-format json`): commands then write their summaries and
/// failure lists as log events too, so every line on stderr is JSON.
pub fn is_json() -> bool {
    JSON.load(std::sync::atomic::Ordering::Relaxed)
}

/// Install the global subscriber. Safe to call once per process; later calls are ignored
/// (integration tests run commands in one process).
///
/// `interactive` is a person watching a long command on a terminal (`fetch` with a progress
/// bar): there, the per-feed INFO lines and the per-article WARN lines would scroll the bar
/// away and repeat the failure list printed at the end, so feedsmith's poll and article events
/// show from ERROR unless `-v` asks for them.
pub fn init(format: LogFormat, verbosity: Verbosity, interactive: bool) {
    JSON.store(
        format == LogFormat::Json,
        std::sync::atomic::Ordering::Relaxed,
    );
    let mut directives = verbosity.directives().to_string();
    if interactive && verbosity == Verbosity::Normal {
        directives.push_str(",feedsmith::pipeline=error,feedsmith::article=error");
    }
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(directives));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(StderrAroundBar);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder
            .with_target(false)
            .with_ansi(use_colour())
            .try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::Verbosity;

    #[test]
    fn flags_map_to_levels_and_libraries_stay_at_warn() {
        assert_eq!(Verbosity::from_flags(0, true), Verbosity::Quiet);
        assert_eq!(Verbosity::from_flags(3, true), Verbosity::Quiet);
        assert_eq!(
            Verbosity::from_flags(0, false).directives(),
            "warn,feedsmith=info"
        );
        assert_eq!(
            Verbosity::from_flags(1, false).directives(),
            "warn,feedsmith=debug"
        );
        assert_eq!(
            Verbosity::from_flags(2, false).directives(),
            "warn,feedsmith=trace"
        );
        for v in [0, 1, 2, 5] {
            let d = Verbosity::from_flags(v, false).directives();
            assert!(d.starts_with("warn,"), "{d}");
            d.parse::<tracing_subscriber::EnvFilter>().unwrap();
        }
    }
}
