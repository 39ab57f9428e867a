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
