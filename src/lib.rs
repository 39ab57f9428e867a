//! feedsmith: a feed aggregator that turns RSS, Atom and JSON Feed entries into Jekyll posts.
//!
//! Data flows one way: [`config`] -> [`fetch`] -> [`parse`] -> [`normalize`] -> [`store`], wired
//! by [`app`] and driven by [`pipeline::refresh_leased`] (poll, then record, under the feed's lease), which both `fetch` and `run` use.

pub mod app;
pub mod article;
pub mod cli;
pub mod commands;
pub mod config;
pub mod domain;
pub mod enrich;
pub mod error;
pub mod events;
pub mod fetch;
pub mod metrics;
pub mod normalize;
pub mod parse;
pub mod pipeline;
pub mod policy;
pub mod publish;
pub mod redact;
pub mod refused;
pub mod rules;
pub mod scheduler;
pub mod server;
pub mod store;
pub mod systemd;
pub mod telemetry;
pub mod units;

/// `../shared` beside the repository, or `$FEEDSMITH_SHARED`, when its corpus is there: for the
/// unit tests that read the corpus in place. `None`, with a notice, when it is absent (they
/// skip).
#[cfg(test)]
pub(crate) fn shared_dir() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("FEEDSMITH_SHARED")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared"))
        });
    if dir.join("corpus/MANIFEST.tsv").is_file() {
        Some(dir)
    } else {
        eprintln!("skipping: {}/corpus not found", dir.display());
        None
    }
}
