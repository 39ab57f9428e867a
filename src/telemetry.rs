//! Logging: `tracing` to stderr, human-readable on a terminal, JSON lines for services
//! (`--log-format json`), filtered by `RUST_LOG` (default `info`).
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

/// Install the global subscriber. Safe to call once per process; later calls are ignored
/// (integration tests run commands in one process).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
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
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
    };
}
