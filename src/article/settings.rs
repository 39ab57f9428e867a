//! `[articles]`: the article step's limits and defaults, and the HTTP settings its fetcher is
//! built with. Plain data, apart from the service so that `config` and `inspect` read it
//! without the queue.

use std::time::Duration;

use serde::Serialize;

use super::FullContent;
use crate::fetch::HttpSettings;

/// `[articles]`: limits of the article step.
#[derive(Debug, Clone, Serialize)]
pub struct ArticleSettings {
    /// Default `full_content` of feeds that do not set it.
    pub full_content: FullContent,
    /// Article fetches at once (separate from the feed fetches, so articles never delay polls).
    pub concurrency: usize,
    /// Minimum time between two article requests to the same host.
    #[serde(serialize_with = "crate::units::ser_duration")]
    pub per_host_interval: Duration,
    /// Largest article page accepted.
    pub max_body: u64,
    /// Attempts before a failing page is given up (the post keeps the feed's content).
    pub max_attempts: u32,
    /// First retry delay; doubled after each failure.
    #[serde(serialize_with = "crate::units::ser_duration")]
    pub retry_backoff: Duration,
    /// How long a one-shot `fetch` waits for queued pages after the polls (`0`: not at all);
    /// what is left stays queued in the store for the next run.
    #[serde(serialize_with = "crate::units::ser_duration")]
    pub fetch_deadline: Duration,
}

impl Default for ArticleSettings {
    fn default() -> Self {
        ArticleSettings {
            full_content: FullContent::WhenShort,
            concurrency: 4,
            per_host_interval: Duration::from_secs(1),
            max_body: 5 * 1024 * 1024,
            max_attempts: 5,
            retry_backoff: Duration::from_secs(600),
            fetch_deadline: Duration::from_secs(30),
        }
    }
}

/// The feed fetcher's rules (timeouts, redirects, User-Agent, per-host limit) with the article
/// step's own body cap and concurrency: used by the service and by `inspect --full-content`.
pub fn http_settings(settings: &ArticleSettings, http: &HttpSettings) -> HttpSettings {
    HttpSettings {
        max_body: settings.max_body.min(http.max_body),
        concurrency: settings.concurrency.max(1),
        ..http.clone()
    }
}
