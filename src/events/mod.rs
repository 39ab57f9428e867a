//! Events out: the outbox's readers. Webhook delivery (signed, at least once, leased so one
//! replica sends each delivery: [`deliver`]), the retention and stale-feed chores of the daemon
//! ([`chores`]), and the `[events]`, `[health]` and `[[webhooks]]` settings they run with.
//!
//! The events themselves are written by the store, in the transaction of the change that caused
//! them (src/store/outbox.rs): this module only reads and delivers them.

use std::time::Duration;

use serde::Serialize;

use crate::store::outbox::{EventKind, HealthRules, WebhookFilter};
use crate::units::ser_duration;

pub mod chores;
pub mod deliver;
pub mod sign;

/// `[events]`: retention and the delivery worker's timing.
#[derive(Debug, Clone, Serialize)]
pub struct EventsSettings {
    /// Events older than this are deleted by the daemon (those with a delivery still pending
    /// stay until it is delivered or dead).
    #[serde(serialize_with = "ser_duration")]
    pub keep: Duration,
    /// How long `fetch` goes on delivering after its polls before it exits (what is left is
    /// delivered by the next `fetch` or by `run`).
    #[serde(serialize_with = "ser_duration")]
    pub deliver_deadline: Duration,
    /// The first retry's delay; each further retry doubles it (with jitter), up to `retry_max`.
    #[serde(serialize_with = "ser_duration")]
    pub retry_initial: Duration,
    #[serde(serialize_with = "ser_duration")]
    pub retry_max: Duration,
    /// How often the daemon's worker looks for new events and due retries.
    #[serde(serialize_with = "ser_duration")]
    pub poll_interval: Duration,
}

impl Default for EventsSettings {
    fn default() -> Self {
        EventsSettings {
            keep: Duration::from_secs(30 * 86_400),
            deliver_deadline: Duration::from_secs(30),
            retry_initial: Duration::from_secs(10),
            retry_max: Duration::from_secs(3600),
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// `[health]`: when a feed is failing or stale.
#[derive(Debug, Clone, Serialize)]
pub struct HealthSettings {
    /// Consecutive failed polls that make a feed `failing`.
    pub failing_after: u32,
    /// Or this long failing without a success in between.
    #[serde(serialize_with = "ser_duration")]
    pub failing_for: Duration,
    /// A feed whose newest post is older than this is `stale` (checked daily by `run`).
    #[serde(serialize_with = "ser_duration")]
    pub stale_after: Duration,
}

impl Default for HealthSettings {
    fn default() -> Self {
        HealthSettings {
            failing_after: 5,
            failing_for: Duration::from_secs(86_400),
            stale_after: Duration::from_secs(365 * 86_400),
        }
    }
}

impl HealthSettings {
    /// The part the store applies inside each poll's transaction.
    pub fn rules(&self) -> HealthRules {
        HealthRules {
            failing_after: self.failing_after,
            failing_for: chrono::Duration::from_std(self.failing_for)
                .unwrap_or(chrono::Duration::hours(24)),
        }
    }
}

/// The signing key of a webhook (`secret_env`), read at load; `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(pub String);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

/// One `[[webhooks]]` table.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookSettings {
    /// Its key in the delivery table and in `webhooks list`: `name`, else the URL.
    pub name: String,
    #[serde(serialize_with = "ser_redacted_url")]
    pub url: String,
    #[serde(serialize_with = "ser_kinds")]
    pub events: Vec<EventKind>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub feeds: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub collections: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
    #[serde(skip)]
    pub secret: Option<WebhookSecret>,
    #[serde(serialize_with = "ser_duration")]
    pub timeout: Duration,
    pub max_attempts: u32,
}

fn ser_kinds<S: serde::Serializer>(kinds: &[EventKind], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(kinds.iter().map(|k| k.as_str()))
}

fn ser_redacted_url<S: serde::Serializer>(url: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::redact::redact_url(url))
}

impl WebhookSettings {
    pub fn filter(&self) -> WebhookFilter {
        WebhookFilter {
            name: self.name.clone(),
            events: self.events.clone(),
            feeds: self.feeds.clone(),
            collections: self.collections.clone(),
        }
    }
}

/// The event type names, for messages.
pub fn event_names() -> String {
    EventKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
