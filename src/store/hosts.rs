//! The `hosts` table: each host's pace (the GCRA's one number, [`crate::fetch::hosts::gcra`])
//! and pause, shared by every process and replica on the database. The fetcher reaches it
//! through `app`'s [`crate::fetch::HostLedger`]; `hosts list` and `/api/hosts` read it.
//!
//! Both backends compute in Rust inside one write transaction (SQLite's `BEGIN IMMEDIATE`,
//! PostgreSQL's row lock), so a reservation is atomic across processes; the arithmetic is
//! written once, here.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// A host's stored state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostRecord {
    pub host: String,
    /// When the host's token bucket is full again (the GCRA's theoretical arrival time).
    pub next_request_at: Option<DateTime<Utc>>,
    pub paused_until: Option<DateTime<Utc>>,
    /// The HTTP status of the last pause (0: connect failures).
    pub pause_status: Option<i64>,
    pub pause_reason: Option<String>,
    pub last_throttled_at: Option<DateTime<Utc>>,
    /// Paced requests reserved through the table.
    pub requests: i64,
    pub updated_at: DateTime<Utc>,
}

/// What a reservation decided: when the request may start, the new bucket time, and the pause
/// in force (then nothing is reserved).
pub(crate) struct Reservation {
    pub start: DateTime<Utc>,
    pub next_request_at: Option<DateTime<Utc>>,
    pub paused_until: Option<DateTime<Utc>>,
}

/// The reservation for a host whose stored state is `tat` and `paused`.
pub(crate) fn reserve(
    tat: Option<DateTime<Utc>>,
    paused: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    interval: Duration,
    burst: u32,
) -> Reservation {
    if let Some(until) = paused.filter(|u| *u > now) {
        return Reservation {
            start: until,
            next_request_at: tat,
            paused_until: Some(until),
        };
    }
    let (start, next) = crate::fetch::hosts::gcra(tat, now, interval, burst);
    Reservation {
        start,
        next_request_at: Some(next),
        paused_until: None,
    }
}

/// A pause only ever extends a stored one.
pub(crate) fn extended(stored: Option<DateTime<Utc>>, until: DateTime<Utc>) -> DateTime<Utc> {
    stored.map_or(until, |s| s.max(until))
}

/// Throttling statuses (429, or 503 with Retry-After) set `last_throttled_at`.
pub(crate) fn is_throttle(status: u16) -> bool {
    matches!(status, 429 | 503)
}

macro_rules! host_row {
    ($row:ty) => {
        pub(crate) fn host_from_row(
            r: &$row,
        ) -> Result<crate::store::hosts::HostRecord, sqlx::Error> {
            use sqlx::Row;
            Ok(crate::store::hosts::HostRecord {
                host: r.try_get("host")?,
                next_request_at: r.try_get("next_request_at")?,
                paused_until: r.try_get("paused_until")?,
                pause_status: r.try_get("pause_status")?,
                pause_reason: r.try_get("pause_reason")?,
                last_throttled_at: r.try_get("last_throttled_at")?,
                requests: r.try_get("requests")?,
                updated_at: r.try_get("updated_at")?,
            })
        }
    };
}
pub(crate) use host_row;

pub(crate) const HOST_COLUMNS: &str = "host, next_request_at, paused_until, pause_status, \
     pause_reason, last_throttled_at, requests, updated_at";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_pause_reserves_nothing_and_only_ever_extends() {
        let now = Utc::now();
        let later = now + chrono::Duration::seconds(60);
        let r = reserve(None, Some(later), now, Duration::from_secs(1), 1);
        assert_eq!(r.paused_until, Some(later));
        assert_eq!(r.next_request_at, None);
        let r = reserve(None, Some(now), now, Duration::from_secs(1), 1);
        assert_eq!(r.paused_until, None);
        assert_eq!(r.start, now);
        assert_eq!(extended(Some(later), now), later);
        assert_eq!(extended(None, now), now);
    }
}
