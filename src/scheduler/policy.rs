//! When is a feed next due? A pure function of what the last poll learned and the current time,
//! so every politeness rule is unit-tested with an injected clock.
//!
//! The cron schedule says when feedsmith *looks*; this policy says whether a feed may be polled at
//! that moment. Rules, each only ever pushing the due time later:
//! - failures back off exponentially (1 min, 2, 4, ... capped at `[schedule].max_backoff`), and a
//!   success resets the count;
//! - `Retry-After` on 429/503 is honoured (capped at 7 days so a typo cannot silence a feed forever);
//! - `Cache-Control: max-age` and `Expires` on a success (capped at `max_backoff`);
//! - RSS `<ttl>` minutes (same cap);
//! - RSS `<skipHours>` / `<skipDays>` (GMT, per the RSS 2.0 spec) move the due time to the first
//!   hour that is not skipped;
//! - a 410 Gone feed is never due until its configuration changes (handled by the store).

use std::time::Duration;

use chrono::{DateTime, Datelike, Duration as ChronoDuration, Timelike, Utc};

use crate::fetch::CacheHints;

/// Cron timers fire a little late; a feed due within this slack of a tick is polled at that tick,
/// so a `ttl` equal to the cron period does not skip every other tick.
pub const DUE_SLACK: Duration = Duration::from_secs(5);

const BACKOFF_BASE: Duration = Duration::from_secs(60);
const RETRY_AFTER_CAP: Duration = Duration::from_secs(7 * 86400);

/// What one poll learned that bears on the next one.
#[derive(Debug, Clone, Default)]
pub struct PollFacts {
    /// Consecutive failures *including* this poll (0 after a success).
    pub consecutive_failures: u32,
    pub retry_after: Option<DateTime<Utc>>,
    pub cache: CacheHints,
    pub ttl_minutes: Option<u32>,
    /// Hours 0-23 (GMT) during which the feed asks not to be read.
    pub skip_hours: Vec<u32>,
    /// Days of the week (`Monday` ...) during which the feed asks not to be read.
    pub skip_days: Vec<String>,
}

/// The earliest time the feed may be polled again. `started` is when this poll started.
pub fn next_due(started: DateTime<Utc>, facts: &PollFacts, max_backoff: Duration) -> DateTime<Utc> {
    let cap = |d: Duration, cap: Duration| {
        ChronoDuration::from_std(d.min(cap)).unwrap_or(ChronoDuration::zero())
    };
    let mut due = started;
    if facts.consecutive_failures > 0 {
        let exp = facts.consecutive_failures.saturating_sub(1).min(30);
        let backoff = BACKOFF_BASE.saturating_mul(1u32 << exp.min(20));
        due = due.max(started + cap(backoff, max_backoff));
    } else {
        if let Some(max_age) = facts.cache.max_age {
            due = due.max(started + cap(max_age, max_backoff));
        }
        if let Some(expires) = facts.cache.expires {
            let limit = started + cap(max_backoff, max_backoff);
            due = due.max(expires.min(limit));
        }
        if let Some(ttl) = facts.ttl_minutes {
            due = due.max(started + cap(Duration::from_secs(u64::from(ttl) * 60), max_backoff));
        }
    }
    if let Some(retry) = facts.retry_after {
        due = due.max(retry.min(started + cap(RETRY_AFTER_CAP, RETRY_AFTER_CAP)));
    }
    let due = skip_forward(due, &facts.skip_hours, &facts.skip_days);
    // The cache decision, for `-v`: why the next poll is when it is.
    tracing::debug!(
        next_due = %due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        in_secs = (due - started).num_seconds(),
        failures = facts.consecutive_failures,
        retry_after = ?facts.retry_after,
        max_age_secs = ?facts.cache.max_age.map(|d| d.as_secs()),
        ttl_minutes = ?facts.ttl_minutes,
        "next poll"
    );
    due
}

/// Move `due` to the start of the first hour that is neither a skipped hour nor on a skipped day.
fn skip_forward(due: DateTime<Utc>, hours: &[u32], days: &[String]) -> DateTime<Utc> {
    if hours.is_empty() && days.is_empty() {
        return due;
    }
    let skipped = |t: DateTime<Utc>| {
        hours.contains(&t.hour())
            || days.iter().any(|d| {
                d.trim().eq_ignore_ascii_case(&t.weekday().to_string())
                    || weekday_name(t).eq_ignore_ascii_case(d.trim())
            })
    };
    let mut t = due;
    // A week of hours is enough; a feed that skips every hour is polled anyway rather than never.
    for _ in 0..(24 * 8) {
        if !skipped(t) {
            return t;
        }
        let next_hour = t + ChronoDuration::hours(1);
        t = next_hour
            .with_minute(0)
            .and_then(|x| x.with_second(0))
            .and_then(|x| x.with_nanosecond(0))
            .unwrap_or(next_hour);
    }
    due
}

fn weekday_name(t: DateTime<Utc>) -> &'static str {
    match t.weekday() {
        chrono::Weekday::Mon => "Monday",
        chrono::Weekday::Tue => "Tuesday",
        chrono::Weekday::Wed => "Wednesday",
        chrono::Weekday::Thu => "Thursday",
        chrono::Weekday::Fri => "Friday",
        chrono::Weekday::Sat => "Saturday",
        chrono::Weekday::Sun => "Sunday",
    }
}

/// Whether a feed may be polled at a tick at `now`.
pub fn is_due(next_due_at: Option<DateTime<Utc>>, gone: bool, now: DateTime<Utc>) -> bool {
    if gone {
        return false;
    }
    let slack = ChronoDuration::from_std(DUE_SLACK).unwrap_or(ChronoDuration::zero());
    next_due_at.is_none_or(|due| due <= now + slack)
}

/// A deterministic offset in `[0, window)` for a feed, so feeds sharing a schedule spread out
/// instead of firing in the same second (FNV-1a of the URL: stable across runs and replicas).
pub fn jitter(url: &str, window: Duration) -> Duration {
    let ms = window.as_millis() as u64;
    if ms == 0 {
        return Duration::ZERO;
    }
    let hash = url.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    Duration::from_millis(hash % ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }
    const DAY: Duration = Duration::from_secs(86400);

    #[test]
    fn a_healthy_feed_is_due_right_away() {
        let now = t("2025-08-04T10:00:00Z");
        assert_eq!(next_due(now, &PollFacts::default(), DAY), now);
        assert!(is_due(None, false, now));
        assert!(
            is_due(Some(now + ChronoDuration::seconds(3)), false, now),
            "within the slack"
        );
        assert!(!is_due(Some(now + ChronoDuration::seconds(60)), false, now));
    }

    #[test]
    fn failures_back_off_exponentially_capped_and_reset() {
        let now = t("2025-08-04T10:00:00Z");
        let due = |n| {
            next_due(
                now,
                &PollFacts {
                    consecutive_failures: n,
                    ..Default::default()
                },
                DAY,
            )
        };
        assert_eq!(due(1), now + ChronoDuration::minutes(1));
        assert_eq!(due(2), now + ChronoDuration::minutes(2));
        assert_eq!(due(5), now + ChronoDuration::minutes(16));
        assert_eq!(
            due(12),
            now + ChronoDuration::hours(24),
            "capped at max_backoff"
        );
        assert_eq!(due(40), now + ChronoDuration::hours(24));
        let small_cap = next_due(
            now,
            &PollFacts {
                consecutive_failures: 12,
                ..Default::default()
            },
            Duration::from_secs(3600),
        );
        assert_eq!(
            small_cap,
            now + ChronoDuration::hours(1),
            "the cap is configurable"
        );
        assert_eq!(due(0), now, "a success resets");
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let now = t("2025-08-04T10:00:00Z");
        let later = now + ChronoDuration::minutes(90);
        let facts = PollFacts {
            consecutive_failures: 1,
            retry_after: Some(later),
            ..Default::default()
        };
        assert_eq!(next_due(now, &facts, DAY), later);
        let absurd = PollFacts {
            consecutive_failures: 1,
            retry_after: Some(now + ChronoDuration::days(400)),
            ..Default::default()
        };
        assert_eq!(next_due(now, &absurd, DAY), now + ChronoDuration::days(7));
    }

    #[test]
    fn cache_control_and_expires() {
        let now = t("2025-08-04T10:00:00Z");
        let facts = PollFacts {
            cache: CacheHints {
                max_age: Some(Duration::from_secs(1800)),
                expires: None,
            },
            ..Default::default()
        };
        assert_eq!(
            next_due(now, &facts, DAY),
            now + ChronoDuration::minutes(30)
        );
        let expires = PollFacts {
            cache: CacheHints {
                max_age: None,
                expires: Some(now + ChronoDuration::hours(2)),
            },
            ..Default::default()
        };
        assert_eq!(next_due(now, &expires, DAY), now + ChronoDuration::hours(2));
        let past = PollFacts {
            cache: CacheHints {
                max_age: None,
                expires: Some(now - ChronoDuration::hours(2)),
            },
            ..Default::default()
        };
        assert_eq!(
            next_due(now, &past, DAY),
            now,
            "an Expires in the past changes nothing"
        );
        let huge = PollFacts {
            cache: CacheHints {
                max_age: Some(Duration::from_secs(10 * 86400)),
                expires: None,
            },
            ..Default::default()
        };
        assert_eq!(next_due(now, &huge, DAY), now + ChronoDuration::days(1));
    }

    #[test]
    fn rss_ttl() {
        let now = t("2025-08-04T10:00:00Z");
        let facts = PollFacts {
            ttl_minutes: Some(60),
            ..Default::default()
        };
        assert_eq!(next_due(now, &facts, DAY), now + ChronoDuration::hours(1));
    }

    #[test]
    fn skip_hours_and_days() {
        // 2025-08-04 is a Monday.
        let now = t("2025-08-04T10:20:00Z");
        let hours = PollFacts {
            skip_hours: vec![10, 11],
            ..Default::default()
        };
        assert_eq!(next_due(now, &hours, DAY), t("2025-08-04T12:00:00Z"));
        let days = PollFacts {
            skip_days: vec!["Monday".into()],
            ..Default::default()
        };
        assert_eq!(next_due(now, &days, DAY), t("2025-08-05T00:00:00Z"));
        let both = PollFacts {
            ttl_minutes: Some(60),
            skip_hours: vec![11],
            skip_days: vec!["tuesday".into()],
            ..Default::default()
        };
        assert_eq!(
            next_due(t("2025-08-04T22:30:00Z"), &both, DAY),
            t("2025-08-04T23:30:00Z")
        );
        let all: Vec<u32> = (0..24).collect();
        let never = PollFacts {
            skip_hours: all,
            ..Default::default()
        };
        assert_eq!(
            next_due(now, &never, DAY),
            now,
            "skipping every hour is ignored"
        );
    }

    #[test]
    fn gone_feeds_are_never_due() {
        assert!(!is_due(None, true, t("2025-08-04T10:00:00Z")));
    }

    #[test]
    fn jitter_is_deterministic_and_spreads() {
        let w = Duration::from_secs(600);
        assert_eq!(jitter("https://a/feed", w), jitter("https://a/feed", w));
        assert!(jitter("https://a/feed", w) < w);
        let seconds: std::collections::HashSet<u64> = (0..1000)
            .map(|i| jitter(&format!("https://example.org/{i}.xml"), w).as_secs())
            .collect();
        assert!(
            seconds.len() > 400,
            "1000 feeds spread over many seconds, got {}",
            seconds.len()
        );
        assert_eq!(jitter("x", Duration::ZERO), Duration::ZERO);
    }
}
