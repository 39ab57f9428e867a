//! The integration suite, one test binary (as ripgrep does): every module below compiles
//! against one build of `support` and links once, instead of once per file.

mod support;

mod api;
mod articles;
mod bad_config;
mod cli;
mod cluster;
mod concurrency;
mod corpus;
mod crash;
mod daemon;
mod enrich;
mod enrich_model;
mod events;
mod export_safety;
mod failures;
mod faults;
mod fetch;
mod fetch_limits;
mod fidelity;
mod git_publish;
mod health;
mod hostile_publish;
mod hosts;
mod odd_data;
mod properties;
mod publish;
mod readme;
mod reprocess;
mod rules;
mod secret_leak;
mod server_hardening;
mod ssrf;
mod store;
mod systemd_unit;
mod terminal;
mod webhooks;
