//! The webhook delivery worker: fans new events out into deliveries (one per event and webhook
//! that takes it), claims due deliveries with a lease, POSTs each, and records the attempt.
//!
//! - At least once: a delivery is done only after a 2xx; anything else (another status, a
//!   timeout, a refused connection) is retried with exponential backoff and jitter, or after the
//!   receiver's `Retry-After`; after `max_attempts` it is dead-lettered (`webhooks list`,
//!   `/api/deliveries?status=dead`).
//! - Exactly one sender at a time: a delivery is claimed with a lease in the database (the
//!   webhook's timeout plus a margin), and an attempt is recorded only by the lease's holder.
//!   A replica that dies mid-send leaves the lease to expire; another replica sends it again
//!   (at least once).
//! - In order per post: the store hands out only the oldest pending delivery of a post (or of a
//!   feed, for feed events) per webhook, so `post.updated` never overtakes its `post.created`.
//! - The network guard: webhook URLs are the operator's (like `[[feeds]]` URLs), so their origin
//!   is trusted, even on a private address; the decision is logged once per webhook. Redirects
//!   are not followed, so nothing beyond that origin is ever contacted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::{sign, EventsSettings, WebhookSettings};
use crate::normalize::{render_post, RenderOptions};
use crate::store::outbox::{AttemptResult, ClaimedDelivery};
use crate::store::{Store, StoreError};

/// What the worker needs of the configuration (taken again each cycle, so a reload applies).
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub webhooks: Vec<WebhookSettings>,
    pub events: EventsSettings,
    pub render: RenderOptions,
    /// `[http] allow_hosts` and `allow_private_networks`, for the guard's logged verdict.
    pub allow_hosts: Vec<String>,
    pub allow_private_networks: bool,
    pub user_agent: String,
}

/// Deliveries claimed per cycle (sent concurrently).
const CLAIM_BATCH: i64 = 16;

/// Added to the longest webhook timeout for the lease: the send is over (or abandoned) well
/// before another replica may take the delivery over.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// What one cycle did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CycleReport {
    pub delivered: usize,
    pub retried: usize,
    pub dead: usize,
}

impl CycleReport {
    fn attempts(&self) -> usize {
        self.delivered + self.retried + self.dead
    }
}

pub struct Worker {
    store: Arc<dyn Store>,
    /// The lease owner id of this process.
    owner: String,
    client: reqwest::Client,
    /// Webhook URLs whose guard decision was logged already.
    logged: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl Worker {
    pub fn new(store: Arc<dyn Store>, user_agent: &str) -> Result<Worker, reqwest::Error> {
        let client = reqwest::Client::builder()
            .user_agent(user_agent)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let owner = format!(
            "{}:{}:{}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into()),
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        );
        Ok(Worker {
            store,
            owner,
            client,
            logged: Default::default(),
        })
    }

    /// Give new webhooks their cursor (they start with the events from now on). Called before
    /// the first poll, so the events of this run's polls reach them.
    pub async fn register(&self, cfg: &WorkerConfig) -> Result<(), StoreError> {
        let names: Vec<String> = cfg.webhooks.iter().map(|w| w.name.clone()).collect();
        if names.is_empty() {
            return Ok(());
        }
        self.store.outbox().register_webhooks(&names).await
    }

    /// One round: fan out new events, claim due deliveries, send them, record the attempts.
    pub async fn cycle(&self, cfg: &WorkerConfig) -> Result<CycleReport, StoreError> {
        let mut report = CycleReport::default();
        if cfg.webhooks.is_empty() {
            return Ok(report);
        }
        let outbox = self.store.outbox();
        for w in &cfg.webhooks {
            self.log_guard_decision(w, cfg);
            outbox.fan_out(&w.filter(), Utc::now()).await?;
        }
        let names: Vec<String> = cfg.webhooks.iter().map(|w| w.name.clone()).collect();
        let lease = cfg
            .webhooks
            .iter()
            .map(|w| w.timeout)
            .max()
            .unwrap_or_default()
            + LEASE_MARGIN;
        let claimed = outbox
            .claim_deliveries(&names, &self.owner, lease, CLAIM_BATCH)
            .await?;
        let sends = claimed.into_iter().filter_map(|c| {
            let webhook = cfg.webhooks.iter().find(|w| w.name == c.delivery.webhook)?;
            Some(self.attempt(webhook, c, cfg))
        });
        for result in futures_util::future::join_all(sends).await {
            match result? {
                AttemptResult::Delivered { .. } => report.delivered += 1,
                AttemptResult::Retry { .. } => report.retried += 1,
                AttemptResult::Dead { .. } => report.dead += 1,
            }
        }
        Ok(report)
    }

    /// The daemon's loop: a cycle every `poll_interval` (at once again after a busy one), until
    /// `stop`. A failing database is logged and retried.
    pub async fn run(&self, config: impl Fn() -> WorkerConfig, stop: CancellationToken) {
        let cfg = config();
        if let Err(e) = self.register(&cfg).await {
            tracing::error!("webhooks: cannot register the webhooks' cursors: {e}");
        }
        let mut registered: Vec<String> = cfg.webhooks.iter().map(|w| w.name.clone()).collect();
        loop {
            let cfg = config();
            let names: Vec<String> = cfg.webhooks.iter().map(|w| w.name.clone()).collect();
            if names != registered {
                // A reload added a webhook: it starts from now.
                if let Err(e) = self.register(&cfg).await {
                    tracing::error!("webhooks: cannot register the webhooks' cursors: {e}");
                }
                registered = names;
            }
            let busy = match self.cycle(&cfg).await {
                Ok(r) => r.attempts() as i64 >= CLAIM_BATCH,
                Err(e) => {
                    tracing::error!("webhooks: delivery cycle failed: {e}");
                    false
                }
            };
            if busy {
                continue;
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(cfg.events.poll_interval) => {}
            }
        }
    }

    /// `fetch`'s last step: deliver until nothing is pending, or the next retry falls after
    /// `deadline`, or `stop`. Returns the attempts made and how many deliveries are still
    /// pending.
    pub async fn drain(
        &self,
        cfg: &WorkerConfig,
        deadline: Duration,
        stop: &CancellationToken,
    ) -> Result<(CycleReport, usize), StoreError> {
        let mut total = CycleReport::default();
        if cfg.webhooks.is_empty() {
            return Ok((total, 0));
        }
        let end = Instant::now() + deadline;
        let names: Vec<String> = cfg.webhooks.iter().map(|w| w.name.clone()).collect();
        loop {
            let r = self.cycle(cfg).await?;
            total.delivered += r.delivered;
            total.retried += r.retried;
            total.dead += r.dead;
            if r.attempts() as i64 >= CLAIM_BATCH {
                continue;
            }
            let Some(next) = self.store.outbox().next_pending(&names).await? else {
                return Ok((total, 0));
            };
            let wait = (next - Utc::now()).to_std().unwrap_or_default();
            if Instant::now() + wait > end || stop.is_cancelled() {
                let pending = self
                    .store
                    .outbox()
                    .delivery_counts()
                    .await?
                    .iter()
                    .filter(|c| names.contains(&c.webhook))
                    .map(|c| c.pending as usize)
                    .sum();
                return Ok((total, pending));
            }
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = tokio::time::sleep(wait.max(Duration::from_millis(20))) => {}
            }
        }
    }

    /// Why this webhook may be contacted: logged once per URL.
    fn log_guard_decision(&self, w: &WebhookSettings, cfg: &WorkerConfig) {
        let Ok(mut logged) = self.logged.lock() else {
            return;
        };
        if !logged.insert(w.url.clone()) {
            return;
        }
        let redacted = crate::redact::redact_url(&w.url);
        let Ok(url) = url::Url::parse(&w.url) else {
            return;
        };
        let guard = crate::fetch::guard::Guard::new(&cfg.allow_hosts, cfg.allow_private_networks);
        match guard.route(&url, None) {
            Err(refusal) => tracing::info!(
                webhook = %w.name,
                "network guard: webhook {redacted} is configured by the operator, so its origin is trusted although the guard would refuse it for feed content ({refusal}); redirects are not followed"
            ),
            Ok(_) => tracing::info!(
                webhook = %w.name,
                "network guard: webhook {redacted} is configured by the operator, so its origin is trusted; redirects are not followed"
            ),
        }
    }

    /// Send one claimed delivery and record the attempt.
    async fn attempt(
        &self,
        w: &WebhookSettings,
        c: ClaimedDelivery,
        cfg: &WorkerConfig,
    ) -> Result<AttemptResult, StoreError> {
        let body = self.body(&c, cfg).await?;
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let mut req = self
            .client
            .post(&w.url)
            .timeout(w.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Feedsmith-Event", &c.event.kind)
            .header("X-Feedsmith-Delivery", &c.delivery.delivery_id);
        if let Some(secret) = &w.secret {
            req = req.header(
                "X-Feedsmith-Signature",
                sign::signature(secret.0.as_bytes(), &body),
            );
        }
        let attempt = c.delivery.attempts + 1;
        let started = Instant::now();
        let sent = req.body(body).send().await;
        let (status, retry_after, error) = match &sent {
            Ok(resp) if resp.status().is_success() => (Some(resp.status().as_u16()), None, None),
            Ok(resp) => (
                Some(resp.status().as_u16()),
                retry_after(resp.headers()),
                Some(format!("HTTP {}", resp.status())),
            ),
            Err(e) if e.is_timeout() => (
                None,
                None,
                Some(format!(
                    "timed out after {}",
                    crate::units::format_duration(w.timeout)
                )),
            ),
            Err(e) => (None, None, Some(format!("cannot send: {}", error_chain(e)))),
        };
        let result = match error {
            None => AttemptResult::Delivered {
                status: status.unwrap_or(200),
            },
            Some(error) if attempt >= i64::from(w.max_attempts) => {
                AttemptResult::Dead { status, error }
            }
            Some(error) => {
                let delay = retry_after.unwrap_or_else(|| {
                    backoff(
                        &c.delivery.delivery_id,
                        attempt,
                        cfg.events.retry_initial,
                        cfg.events.retry_max,
                    )
                });
                AttemptResult::Retry {
                    status,
                    error,
                    next_attempt_at: Utc::now()
                        + chrono::Duration::from_std(delay).unwrap_or_default(),
                }
            }
        };
        let ms = started.elapsed().as_millis() as u64;
        match &result {
            AttemptResult::Delivered { status } => tracing::info!(
                webhook = %w.name, delivery = %c.delivery.delivery_id, event = %c.event.kind,
                event_id = c.event.id, attempt, status, ms, "webhook delivered"
            ),
            AttemptResult::Retry {
                status,
                error,
                next_attempt_at,
            } => tracing::warn!(
                webhook = %w.name, delivery = %c.delivery.delivery_id, event = %c.event.kind,
                event_id = c.event.id, attempt, status, ms, error = %error,
                retry_at = %next_attempt_at.to_rfc3339(), "webhook delivery failed; will retry"
            ),
            AttemptResult::Dead { status, error } => tracing::error!(
                webhook = %w.name, delivery = %c.delivery.delivery_id, event = %c.event.kind,
                event_id = c.event.id, attempt, status, ms, error = %error,
                "webhook delivery failed {attempt} times: dead-lettered (feedsmith webhooks list --dead)"
            ),
        }
        let held = self
            .store
            .outbox()
            .finish_delivery(c.delivery.id, &self.owner, &result)
            .await?;
        if !held {
            tracing::warn!(
                webhook = %w.name, delivery = %c.delivery.delivery_id,
                "webhook delivery: the lease expired during the attempt; another replica owns it now"
            );
        }
        Ok(result)
    }

    /// The JSON body: the event, and for a post event the post's fields, markdown and rendered
    /// file as they are now (a withdrawn post: as it was, from the event).
    async fn body(
        &self,
        c: &ClaimedDelivery,
        cfg: &WorkerConfig,
    ) -> Result<serde_json::Value, StoreError> {
        let e = &c.event;
        let mut body = json!({
            "delivery": c.delivery.delivery_id,
            "event": {
                "id": e.id,
                "type": e.kind,
                "created_at": e.created_at.to_rfc3339(),
                "feed_id": e.feed_id,
                "post_id": e.post_id,
                "data": e.data,
            },
            "feed": e.feed_id.map(|id| json!({
                "id": id,
                "name": e.feed_name,
                "url": e.feed_url.as_deref().map(crate::redact::redact_url),
                "collection": e.collection,
            })),
        });
        if e.kind == "post.withdrawn" {
            body["post"] = e.data.get("post").cloned().unwrap_or_default();
        } else if let Some(id) = e.post_id {
            body["post"] = match self.store.find_post(&id.to_string()).await? {
                Some(p) => {
                    let mut post = crate::publish::formats::post_json(&p, &cfg.render.permalink);
                    post["excerpt"] = json!(p.post.excerpt);
                    post["markdown"] = json!(p.post.content_markdown);
                    post["file"] = json!(render_post(&p.post, &cfg.render));
                    post
                }
                // Deleted since (withdrawn): its own event follows.
                None => serde_json::Value::Null,
            };
        }
        Ok(body)
    }
}

/// `Retry-After` in seconds or as an HTTP date, capped at a day.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    let d = match v.trim().parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => httpdate::parse_http_date(v.trim())
            .ok()?
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    };
    Some(d.min(Duration::from_secs(86_400)))
}

/// The delay before retry number `attempt` (1 after the first failure): `initial * 2^(n-1)`,
/// capped at `max`, times a jitter factor from 0.5 to 1 (so receivers that failed together are
/// not hit together again), drawn from the delivery and attempt.
pub fn backoff(delivery_id: &str, attempt: i64, initial: Duration, max: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let exp = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let base = initial.saturating_mul(2u32.saturating_pow(exp)).min(max);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write(delivery_id.as_bytes());
    h.write_i64(attempt);
    let jitter = 0.5 + (h.finish() % 1000) as f64 / 2000.0;
    base.mul_f64(jitter)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let initial = Duration::from_secs(10);
        let max = Duration::from_secs(3600);
        for attempt in 1..=12 {
            let d = backoff("d", attempt, initial, max);
            let base = (initial * 2u32.pow(attempt as u32 - 1)).min(max);
            assert!(d >= base / 2 && d <= base, "attempt {attempt}: {d:?}");
        }
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(reqwest::header::RETRY_AFTER, "999999".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(86_400)));
        let later =
            httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(120));
        h.insert(reqwest::header::RETRY_AFTER, later.parse().unwrap());
        let d = retry_after(&h).unwrap();
        assert!(d > Duration::from_secs(100) && d <= Duration::from_secs(120));
    }
}
