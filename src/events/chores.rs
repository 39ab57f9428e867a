//! The daemon's outbox chores: retention (`[events] keep`) and the daily stale-feed check
//! (`[health] stale_after`), and the `feedsmith_feed_health{state}` and
//! `feedsmith_webhook_deliveries{webhook,status}` gauges, read from the store at scrape time (so
//! every replica reports the cluster's one truth).

use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::{EventsSettings, HealthSettings};
use crate::store::outbox::HealthState;
use crate::store::{Store, StoreError};

/// How often retention runs.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How often the stale check runs.
const STALE_EVERY: Duration = Duration::from_secs(86_400);

async fn stale_check(store: &dyn Store, health: &HealthSettings) -> Result<usize, StoreError> {
    let now = Utc::now();
    let age = chrono::Duration::from_std(health.stale_after).unwrap_or(chrono::Duration::days(365));
    store.outbox().check_stale(now - age, now).await
}

/// Until `stop`: retention every hour, the stale check every day, both once at start.
pub async fn run(
    store: Arc<dyn Store>,
    config: impl Fn() -> (EventsSettings, HealthSettings),
    stop: CancellationToken,
) {
    let mut prune = tokio::time::interval(PRUNE_EVERY);
    let mut stale = tokio::time::interval(STALE_EVERY);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = prune.tick() => {
                let (events, _) = config();
                let keep = chrono::Duration::from_std(events.keep).unwrap_or(chrono::Duration::days(30));
                match store.outbox().prune_events(Utc::now() - keep).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(events = n, "events: deleted the events older than [events] keep"),
                    Err(e) => tracing::warn!("events: retention failed: {e}"),
                }
            }
            _ = stale.tick() => {
                let (_, health) = config();
                match stale_check(&*store, &health).await {
                    Ok(0) => {}
                    Ok(n) => tracing::warn!(feeds = n, "health: feeds stale (no post newer than [health] stale_after)"),
                    Err(e) => tracing::warn!("health: stale check failed: {e}"),
                }
            }
        }
    }
}

/// `feedsmith_feed_health{state}`: how many of the configured feeds (`feed_ids`) are in each
/// state; a feed without a health row is `ok`.
pub async fn render_metrics(store: &dyn Store, feed_ids: &[i64]) -> String {
    let rows = match store.outbox().feed_health().await {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!("health metrics: {e}");
            return String::new();
        }
    };
    let mut counts: std::collections::HashMap<HealthState, usize> = Default::default();
    for id in feed_ids {
        let state = rows
            .iter()
            .find(|r| r.feed_id == *id)
            .map(|r| r.state)
            .unwrap_or(HealthState::Ok);
        *counts.entry(state).or_default() += 1;
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# HELP feedsmith_feed_health Configured feeds by health state (docs/events.md)."
    );
    let _ = writeln!(s, "# TYPE feedsmith_feed_health gauge");
    for state in HealthState::ALL {
        let _ = writeln!(
            s,
            "feedsmith_feed_health{{state=\"{}\"}} {}",
            state.as_str(),
            counts.get(&state).copied().unwrap_or(0)
        );
    }
    if let Ok(deliveries) = store.outbox().delivery_counts().await {
        if !deliveries.is_empty() {
            let _ = writeln!(
                s,
                "# HELP feedsmith_webhook_deliveries Webhook deliveries by status (dead: after max_attempts)."
            );
            let _ = writeln!(s, "# TYPE feedsmith_webhook_deliveries gauge");
        }
        for d in deliveries {
            let name = crate::redact::redact_url(&d.webhook)
                .replace('\\', "\\\\")
                .replace('"', "\\\"");
            for (status, n) in [
                ("pending", d.pending),
                ("delivered", d.delivered),
                ("dead", d.dead),
            ] {
                let _ = writeln!(
                    s,
                    "feedsmith_webhook_deliveries{{webhook=\"{name}\",status=\"{status}\"}} {n}"
                );
            }
        }
    }
    s
}
