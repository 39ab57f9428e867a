//! feedsmith: a feed aggregator that turns RSS, Atom and JSON Feed entries into Jekyll posts.
//!
//! Data flows one way: [`config`] -> [`fetch`] -> [`parse`] -> [`normalize`] -> [`store`], wired
//! by [`app`] and driven by [`pipeline::refresh`], which both `fetch` and `run` use.

pub mod app;
pub mod article;
pub mod cli;
pub mod commands;
pub mod config;
pub mod domain;
pub mod enrich;
pub mod error;
pub mod fetch;
pub mod metrics;
pub mod normalize;
pub mod parse;
pub mod pipeline;
pub mod publish;
pub mod scheduler;
pub mod server;
pub mod store;
pub mod systemd;
pub mod telemetry;
