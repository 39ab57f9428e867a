//! Dates (post-format.md section 3). Everything is UTC with whole seconds: the front matter,
//! the file name and the permalink all show the UTC date, so a post never moves between days
//! depending on the machine's time zone.

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};

/// `2025-08-03 22:48:15 +00:00`, the seed's format (written unquoted in the front matter).
pub fn format_date(d: &DateTime<Utc>) -> String {
    d.format("%Y-%m-%d %H:%M:%S +00:00").to_string()
}

/// `yyyy-MM-dd` of the UTC date, used in file names and permalinks.
pub fn day(d: &DateTime<Utc>) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// How far past its first-seen time an entry's own date may lie. Why a day: time zones and clock
/// skew put honest dates up to a day ahead; an entry dated 2100 or 9999 (a typo, a placeholder,
/// a broken generator) would otherwise stay on top of `/api/posts` and `/feed.xml` for good, and
/// Jekyll would not publish it at all (a future post).
pub const MAX_AHEAD: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// The post's date: the entry's own, unless it is missing or more than [`MAX_AHEAD`] after
/// `first_seen`, then `first_seen`. Whole seconds.
pub fn post_date(own: Option<DateTime<Utc>>, first_seen: DateTime<Utc>) -> DateTime<Utc> {
    match own {
        Some(d) if d <= first_seen + MAX_AHEAD => d,
        _ => first_seen,
    }
    .trunc_subsecs(0)
}

/// RFC 3339 (fractions dropped) or RFC 2822 including the obsolete zone names (`GMT`, `EDT`,
/// `PDT`...), converted to UTC. A few near-misses seen in real feeds are accepted as well
/// (a space instead of `T`, no zone: read as UTC). `None` when nothing fits.
pub fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc).trunc_subsecs(0));
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(s) {
        return Some(d.with_timezone(&Utc).trunc_subsecs(0));
    }
    // `2025-08-03 22:48:15+00:00`: RFC 3339 allows the space, chrono's strict parser does not.
    if let Some((date, time)) = s.split_once(' ') {
        if let Ok(d) = DateTime::parse_from_rfc3339(&format!("{date}T{time}")) {
            return Some(d.with_timezone(&Utc).trunc_subsecs(0));
        }
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(n.and_utc().trunc_subsecs(0));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn p(s: &str) -> Option<String> {
        parse_date(s).map(|d| format_date(&d))
    }

    #[test]
    fn dates_far_in_the_future_become_the_first_seen_time() {
        let seen = Utc.with_ymd_and_hms(2026, 12, 2, 13, 0, 0).unwrap();
        let at = |y, m, d, h| Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap();
        assert_eq!(post_date(Some(at(2100, 1, 1, 0)), seen), seen);
        assert_eq!(post_date(Some(at(9999, 12, 31, 23)), seen), seen);
        assert_eq!(post_date(None, seen), seen);
        // Up to a day ahead (time zones, skew) is kept, a second more is not.
        assert_eq!(
            post_date(Some(at(2026, 12, 3, 13)), seen),
            at(2026, 12, 3, 13)
        );
        assert_eq!(
            post_date(
                Some(at(2026, 12, 3, 13) + chrono::TimeDelta::seconds(1)),
                seen
            ),
            seen
        );
        assert_eq!(post_date(Some(at(1999, 1, 1, 0)), seen), at(1999, 1, 1, 0));
    }

    #[test]
    fn rfc3339_to_utc_without_fractions() {
        assert_eq!(
            p("2025-08-04T02:12:01+02:00").as_deref(),
            Some("2025-08-04 00:12:01 +00:00")
        );
        assert_eq!(
            p("2025-08-03T22:48:15.999Z").as_deref(),
            Some("2025-08-03 22:48:15 +00:00")
        );
        assert_eq!(
            p("2025-08-03 22:48:15+00:00").as_deref(),
            Some("2025-08-03 22:48:15 +00:00")
        );
        assert_eq!(
            p("2025-08-03T22:48:15").as_deref(),
            Some("2025-08-03 22:48:15 +00:00")
        );
    }

    #[test]
    fn rfc2822_with_zone_names() {
        assert_eq!(
            p("Sun, 03 Aug 2025 18:48:15 EDT").as_deref(),
            Some("2025-08-03 22:48:15 +00:00")
        );
        assert_eq!(
            p("Sun, 3 Aug 2025 22:48:15 GMT").as_deref(),
            Some("2025-08-03 22:48:15 +00:00")
        );
    }

    #[test]
    fn garbage_is_none() {
        for s in ["", "yesterday", "2025-13-45T99:00:00Z", &"9".repeat(500)] {
            assert_eq!(parse_date(s), None, "{s}");
        }
    }

    #[test]
    fn day_is_utc() {
        let d = Utc.with_ymd_and_hms(2025, 1, 3, 0, 30, 0).unwrap();
        assert_eq!(day(&d), "2025-01-03");
    }
}
