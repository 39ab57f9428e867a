//! Arbitrary text in every field: slug charset and length, tags_normalized idempotence, and a
//! front matter of exactly 14 one-line fields.
#![no_main]

use chrono::{TimeZone, Utc};
use feedsmith::domain::{FeedConfig, ParsedEntry, ParsedFeed};
use feedsmith::normalize::{build_tags, normalize_entry, normalize_tag, render_post, slugify, Normalized, RenderOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let slug = slugify(&text);
    assert!(!slug.is_empty() && slug.chars().count() <= 200);
    assert!(slug.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_'), "{slug:?}");
    let n = normalize_tag(&text);
    assert_eq!(normalize_tag(&n), n);

    let parts: Vec<String> = text.split('\u{1}').map(str::to_string).collect();
    let field = |i: usize| parts.get(i).cloned().unwrap_or_default();
    let mut feed = FeedConfig::new(field(3), "https://example.org/feed.xml", "blogs");
    feed.categories = vec![field(4)];
    feed.tags = vec![field(5)];
    let (tags, normalized) = build_tags(&[field(2)], &feed);
    assert_eq!(tags.len(), normalized.len());
    let entry = ParsedEntry {
        id: Some("id".into()),
        link: Some("https://example.org/post".into()),
        title: Some(field(0)),
        authors: vec![field(1)],
        categories: vec![field(2)],
        content_html: Some(field(6)),
        published: Some(Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()),
        ..ParsedEntry::default()
    };
    if let Ok(Normalized::Post(post)) = normalize_entry(&feed, &ParsedFeed::default(), &entry, Utc::now()) {
        let file = render_post(&post, &RenderOptions::default());
        assert!(file.starts_with("---\nlayout: \"post\"\n"));
        let fm: Vec<&str> = file.lines().skip(1).take_while(|l| *l != "---").collect();
        assert_eq!(fm.len(), 14, "{file}");
    }
});
