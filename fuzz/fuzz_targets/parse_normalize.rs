//! Feed bytes -> posts: parse (with every repair) and normalize every entry, then render it.
//! Nothing may panic, and every rendered file must keep the front matter shape.
#![no_main]

use chrono::{TimeZone, Utc};
use feedsmith::domain::FeedConfig;
use feedsmith::normalize::{normalize_entry, render_post, Normalized, RenderOptions};
use feedsmith::parse::parse_feed;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = parse_feed(data, Some("application/xml"), Some("https://example.org/feed.xml")) else {
        return;
    };
    let collection = if data.first().is_some_and(|b| b % 2 == 0) { "community" } else { "videos" };
    let mut feed = FeedConfig::new("Fuzz", "https://example.org/feed.xml", collection);
    feed.min_content_chars = Some(0);
    let now = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
    for entry in parsed.entries.iter().take(50) {
        if let Ok(Normalized::Post(post)) = normalize_entry(&feed, &parsed, entry, now) {
            let file = render_post(&post, &RenderOptions::default());
            let fm_lines = file.lines().skip(1).take_while(|l| *l != "---").count();
            assert_eq!(fm_lines, 14, "front matter broken:\n{file}");
        }
    }
});
