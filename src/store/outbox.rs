//! The outbox: events written in the same transaction as the change that caused them (a post
//! stored, updated or withdrawn; a feed's health changing), and the webhook deliveries made
//! from them (docs/events.md).
//!
//! Why here, in the store, and not in `crate::events`: the events are written *inside* the
//! store's transactions, so their types and the health rule that decides them must sit below
//! the store (the delivery worker in `crate::events` reads them through [`Outbox`]).
//!
//! Times in these tables are Unix milliseconds: both backends compare and order them as numbers
//! (SQLite's text times compare wrongly when one has a fraction and the other not).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Outcome, PollRecord, StoreError};

/// Every event type, as receivers see it (`X-Feedsmith-Event`, `"type"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum EventKind {
    #[serde(rename = "post.created")]
    PostCreated,
    #[serde(rename = "post.updated")]
    PostUpdated,
    #[serde(rename = "post.withdrawn")]
    PostWithdrawn,
    #[serde(rename = "feed.failing")]
    FeedFailing,
    #[serde(rename = "feed.recovered")]
    FeedRecovered,
    #[serde(rename = "feed.blocked")]
    FeedBlocked,
    #[serde(rename = "feed.gone")]
    FeedGone,
    #[serde(rename = "feed.stale")]
    FeedStale,
}

impl EventKind {
    pub const ALL: [EventKind; 8] = [
        EventKind::PostCreated,
        EventKind::PostUpdated,
        EventKind::PostWithdrawn,
        EventKind::FeedFailing,
        EventKind::FeedRecovered,
        EventKind::FeedBlocked,
        EventKind::FeedGone,
        EventKind::FeedStale,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::PostCreated => "post.created",
            EventKind::PostUpdated => "post.updated",
            EventKind::PostWithdrawn => "post.withdrawn",
            EventKind::FeedFailing => "feed.failing",
            EventKind::FeedRecovered => "feed.recovered",
            EventKind::FeedBlocked => "feed.blocked",
            EventKind::FeedGone => "feed.gone",
            EventKind::FeedStale => "feed.stale",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One stored event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRecord {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub feed_id: Option<i64>,
    pub post_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    /// What the event says beyond the ids: the post's path, URL and title (for a withdrawn post,
    /// the whole post as it was), or the feed's new health with the error that caused it.
    pub data: serde_json::Value,
    /// The feed's name, URL and collection when the feed is still stored (for the filters of a
    /// webhook and for receivers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feed_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feed_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
}

/// A feed's health. `Ok` is the absence of a problem; the others are each announced once by an
/// event when the feed enters them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthState {
    Ok,
    Failing,
    Blocked,
    Gone,
    Stale,
}

impl HealthState {
    pub const ALL: [HealthState; 5] = [
        HealthState::Ok,
        HealthState::Failing,
        HealthState::Blocked,
        HealthState::Gone,
        HealthState::Stale,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Ok => "ok",
            HealthState::Failing => "failing",
            HealthState::Blocked => "blocked",
            HealthState::Gone => "gone",
            HealthState::Stale => "stale",
        }
    }

    pub fn parse(s: &str) -> Option<HealthState> {
        HealthState::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// A state that [`EventKind::FeedRecovered`] ends (stale ends silently, with a new post).
    fn is_problem(self) -> bool {
        matches!(
            self,
            HealthState::Failing | HealthState::Blocked | HealthState::Gone
        )
    }
}

/// `[health]`: when failures make a feed `failing`. Plain data carried by each
/// [`PollRecord`], so the store decides the transition inside the poll's transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthRules {
    /// Consecutive failed polls.
    pub failing_after: u32,
    /// Or this long since the failure streak began.
    pub failing_for: chrono::Duration,
}

impl Default for HealthRules {
    fn default() -> Self {
        HealthRules {
            failing_after: 5,
            failing_for: chrono::Duration::hours(24),
        }
    }
}

/// The stored health of a feed with a problem or a failure streak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthRow {
    pub state: HealthState,
    /// When the current failure streak began (`None`: no streak).
    pub failing_since: Option<DateTime<Utc>>,
}

/// The health rule: the row after a poll (`None`: healthy, no streak) and the event to write,
/// from the row before, the poll, and the feed's consecutive failures counting this poll.
///
/// - a 410 makes the feed `gone`, a host block (`poll.blocked`) `blocked`;
/// - other failures make it `failing` after `failing_after` of them in a row, or once the streak
///   is `failing_for` old;
/// - each of those is announced once, when the feed enters it; the first success after any of
///   them is `feed.recovered`;
/// - `stale` (set by the daily check) survives successes and is left for a failure state.
pub fn next_health(
    prev: Option<HealthRow>,
    poll: &PollRecord,
    consecutive_failures: i64,
) -> (Option<HealthRow>, Option<EventKind>) {
    let prev_state = prev.map(|p| p.state).unwrap_or(HealthState::Ok);
    // A deferred poll asked nothing of the feed (its host was busy or paused): it says nothing
    // about the feed's health, which stays as it was.
    if poll.outcome == Outcome::Deferred {
        return (prev, None);
    }
    if poll.outcome != Outcome::Failed {
        return match prev_state {
            s if s.is_problem() => (None, Some(EventKind::FeedRecovered)),
            HealthState::Stale => (
                Some(HealthRow {
                    state: HealthState::Stale,
                    failing_since: None,
                }),
                None,
            ),
            _ => (None, None),
        };
    }
    let since = prev.and_then(|p| p.failing_since).unwrap_or(poll.polled_at);
    let (state, event) = if poll.gone {
        (HealthState::Gone, EventKind::FeedGone)
    } else if poll.blocked {
        (HealthState::Blocked, EventKind::FeedBlocked)
    } else if consecutive_failures >= i64::from(poll.health.failing_after)
        || poll.polled_at - since >= poll.health.failing_for
    {
        (HealthState::Failing, EventKind::FeedFailing)
    } else {
        // A streak not long enough yet: a problem state already entered stays.
        let keep = if prev_state.is_problem() {
            prev_state
        } else {
            HealthState::Ok
        };
        return (
            Some(HealthRow {
                state: keep,
                failing_since: Some(since),
            }),
            None,
        );
    };
    let row = HealthRow {
        state,
        failing_since: Some(since),
    };
    if prev_state == state {
        (Some(row), None)
    } else {
        (Some(row), Some(event))
    }
}

/// What a feed event's `data` says.
pub(crate) fn feed_event_data(
    state: Option<HealthRow>,
    poll: &PollRecord,
    consecutive_failures: i64,
) -> String {
    serde_json::json!({
        "health": state.map(|s| s.state).unwrap_or(HealthState::Ok),
        "consecutive_failures": consecutive_failures,
        "failing_since": state.and_then(|s| s.failing_since).map(|t| t.to_rfc3339()),
        "http_status": poll.http_status,
        "error": poll.error.as_deref().map(crate::redact::redact_text),
    })
    .to_string()
}

/// A feed's stored health (only feeds with a row: the others are healthy).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedHealthRecord {
    pub feed_id: i64,
    pub state: HealthState,
    pub failing_since: Option<DateTime<Utc>>,
    pub changed_at: DateTime<Utc>,
}

/// A webhook as the outbox sees it: its key and which events it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookFilter {
    /// Its key in the delivery table (the `name`, else the URL).
    pub name: String,
    pub events: Vec<EventKind>,
    /// Feed names or URLs; empty: every feed.
    pub feeds: Vec<String>,
    /// Collections; empty: every collection.
    pub collections: Vec<String>,
}

impl WebhookFilter {
    pub fn wants(&self, e: &EventRecord) -> bool {
        if !self.events.iter().any(|k| k.as_str() == e.kind) {
            return false;
        }
        let feed_ok = self.feeds.is_empty()
            || self.feeds.iter().any(|f| {
                e.feed_name.as_deref() == Some(f.as_str()) || e.feed_url.as_deref() == Some(f)
            });
        let collection_ok = self.collections.is_empty()
            || e.collection
                .as_deref()
                .is_some_and(|c| self.collections.iter().any(|x| x == c));
        feed_ok && collection_ok
    }
}

/// A delivery's state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryRecord {
    pub id: i64,
    pub event_id: i64,
    pub webhook: String,
    /// `X-Feedsmith-Delivery`: the same on every attempt, so receivers drop repeats.
    pub delivery_id: String,
    /// `pending`, `delivered` or `dead`.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(rename = "event")]
    pub event_type: String,
}

/// A delivery claimed by this replica (its lease held), with its event.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedDelivery {
    pub delivery: DeliveryRecord,
    pub event: EventRecord,
}

/// How an attempt ended, for [`Outbox::finish_delivery`].
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptResult {
    /// A 2xx.
    Delivered { status: u16 },
    /// Another answer or none: try again at `next_attempt_at`.
    Retry {
        status: Option<u16>,
        error: String,
        next_attempt_at: DateTime<Utc>,
    },
    /// The last attempt failed: dead-lettered.
    Dead { status: Option<u16>, error: String },
}

/// Deliveries per webhook and status.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DeliveryCounts {
    pub webhook: String,
    pub pending: i64,
    pub delivered: i64,
    pub dead: i64,
}

/// Read and write the outbox. Implemented by both stores; reached with [`super::Store::outbox`].
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Events with an id above `after`, oldest first, at most `limit`.
    async fn list_events(&self, after: i64, limit: i64) -> Result<Vec<EventRecord>, StoreError>;
    /// Delete events created before `before` (and their finished deliveries); an event with a
    /// delivery still pending stays. Returns how many events were deleted.
    async fn prune_events(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
    /// Every feed with a health row.
    async fn feed_health(&self) -> Result<Vec<FeedHealthRecord>, StoreError>;
    /// The daily check: feeds whose newest post is older than `cutoff` become `stale` (one
    /// `feed.stale` each); stale feeds with a newer post are healthy again. Returns how many
    /// became stale.
    async fn check_stale(
        &self,
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError>;
    /// Give each webhook a cursor at the newest event when it has none: a webhook added now gets
    /// the events from now on, not the whole history.
    async fn register_webhooks(&self, names: &[String]) -> Result<(), StoreError>;
    /// Create the deliveries of `webhook` for the events after its cursor that it takes, and move
    /// the cursor, in one transaction. Returns how many were created.
    async fn fan_out(
        &self,
        webhook: &WebhookFilter,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError>;
    /// Claim up to `limit` due pending deliveries of the webhooks named (leased until
    /// `lease_for` from now): only the oldest pending one of each post (or feed) per webhook, so
    /// a post's events arrive in their order.
    async fn claim_deliveries(
        &self,
        webhooks: &[String],
        owner: &str,
        lease_for: std::time::Duration,
        limit: i64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;
    /// Record an attempt of a delivery this replica holds; false when its lease was lost (the
    /// result is then not recorded: the holder's counts).
    async fn finish_delivery(
        &self,
        id: i64,
        owner: &str,
        result: &AttemptResult,
    ) -> Result<bool, StoreError>;
    /// Deliveries, newest first, of one status or all.
    async fn list_deliveries(
        &self,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DeliveryRecord>, StoreError>;
    /// Counts per webhook and status.
    async fn delivery_counts(&self) -> Result<Vec<DeliveryCounts>, StoreError>;
    /// When the earliest pending delivery of these webhooks may be sent (its `next_attempt_at`,
    /// or the end of its lease); `None`: nothing pending.
    async fn next_pending(&self, webhooks: &[String]) -> Result<Option<DateTime<Utc>>, StoreError>;
}

pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_ms(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(v).unwrap_or_default()
}

/// `X-Feedsmith-Delivery`: a UUID (v4 form) from the webhook, the event and this process's
/// random hasher seed, so two databases that number their events alike still give different ids.
pub(crate) fn delivery_uuid(webhook: &str, event_id: i64) -> String {
    use sha2::{Digest, Sha256};
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_i64(event_id);
    let seed = h.finish();
    let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let digest = Sha256::new()
        .chain_update(webhook.as_bytes())
        .chain_update(event_id.to_le_bytes())
        .chain_update(seed.to_le_bytes())
        .chain_update(nanos.to_le_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll(outcome: Outcome, at: i64) -> PollRecord {
        let mut p = PollRecord::new(
            DateTime::from_timestamp(1_700_000_000 + at, 0).unwrap(),
            outcome,
        );
        p.health = HealthRules::default();
        p
    }

    /// Five failures in a row: exactly one `feed.failing` (on the fifth), more failures say
    /// nothing new, the first success is `feed.recovered`, the next says nothing.
    #[test]
    fn five_failures_then_one_success() {
        let mut row = None;
        let mut events = Vec::new();
        for i in 1..=7 {
            let (next, event) = next_health(row, &poll(Outcome::Failed, i * 60), i);
            row = next;
            events.extend(event.map(|e| (i, e)));
        }
        assert_eq!(events, vec![(5, EventKind::FeedFailing)]);
        assert_eq!(row.unwrap().state, HealthState::Failing);
        let (next, event) = next_health(row, &poll(Outcome::NotModified, 600), 0);
        assert_eq!((next, event), (None, Some(EventKind::FeedRecovered)));
        assert_eq!(next_health(None, &poll(Outcome::Ok, 660), 0), (None, None));
    }

    /// A deferred poll (the host's queue or pause) neither recovers a failing feed nor adds to
    /// its streak.
    #[test]
    fn a_deferred_poll_keeps_the_health() {
        let failing = Some(HealthRow {
            state: HealthState::Failing,
            failing_since: DateTime::from_timestamp(1_700_000_000, 0),
        });
        assert_eq!(
            next_health(failing, &poll(Outcome::Deferred, 60), 5),
            (failing, None)
        );
        assert_eq!(
            next_health(None, &poll(Outcome::Deferred, 60), 0),
            (None, None)
        );
    }

    /// Two failures a day apart are a day of failure: failing, though fewer than five.
    #[test]
    fn a_day_of_failure_is_failing() {
        let (row, e) = next_health(None, &poll(Outcome::Failed, 0), 1);
        assert_eq!(e, None);
        let (row, e) = next_health(row, &poll(Outcome::Failed, 86_400), 2);
        assert_eq!(e, Some(EventKind::FeedFailing));
        assert_eq!(
            row.unwrap().failing_since,
            DateTime::from_timestamp(1_700_000_000, 0)
        );
    }

    #[test]
    fn gone_and_blocked_are_announced_once() {
        let mut p = poll(Outcome::Failed, 0);
        p.gone = true;
        let (row, e) = next_health(None, &p, 1);
        assert_eq!(e, Some(EventKind::FeedGone));
        assert_eq!(next_health(row, &p, 2).1, None);
        let mut b = poll(Outcome::Failed, 60);
        b.blocked = true;
        let (row, e) = next_health(None, &b, 1);
        assert_eq!(e, Some(EventKind::FeedBlocked));
        assert_eq!(next_health(row, &b, 2).1, None);
        assert_eq!(
            next_health(row, &poll(Outcome::Ok, 120), 0).1,
            Some(EventKind::FeedRecovered)
        );
    }

    #[test]
    fn stale_survives_success() {
        let stale = Some(HealthRow {
            state: HealthState::Stale,
            failing_since: None,
        });
        let (row, e) = next_health(stale, &poll(Outcome::Ok, 0), 0);
        assert_eq!((row, e), (stale, None));
    }

    #[test]
    fn kinds_round_trip_and_delivery_ids_differ() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
        }
        assert_ne!(delivery_uuid("w", 1), delivery_uuid("w", 1));
        assert_eq!(delivery_uuid("w", 1).len(), 36);
    }
}
