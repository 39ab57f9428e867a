//! The entry rules (src/rules) applied inside normalization, so every path that makes a post
//! (poll, article arrival, model step, reprocess, `inspect`) gets the same result from one
//! function.
//!
//! How: the entry is normalized as usual (without the minimum length, which a rule may change),
//! the rules are evaluated on the post's title, author, URL, plain text and categories, and
//! their decision is applied by normalizing again with the feed's settings changed as the rules
//! say (`tag` adds to the feed's tags, `category` to its categories, `route` changes its
//! collection, `min_chars` its minimum). A routed or tagged post is thus exactly the post the
//! feed would have made had it been configured that way (path, permalink prefix, viewing mode,
//! tag rules). The second normalization only happens for an entry a rule changed.

use chrono::{DateTime, Utc};

use super::{normalize_unruled, too_short, Enrichment, NormalizeError, Normalized};
use crate::domain::{FeedConfig, ParsedEntry, ParsedFeed, SkippedEntry};
use crate::rules::{self, Applied, Subject};

/// [`super::normalize_entry_keyed`] with the rules that matched, in order (what
/// `inspect --explain`, the poll's log line and `feedsmith_rule_matches_total` report).
pub fn normalize_entry_explained(
    feed: &FeedConfig,
    parsed: &ParsedFeed,
    entry: &ParsedEntry,
    first_seen: DateTime<Utc>,
    enrich: Option<&Enrichment>,
    key: String,
    hash: String,
) -> Result<(Normalized, Vec<Applied>), NormalizeError> {
    if feed.rules.is_empty() {
        return normalize_unruled(feed, parsed, entry, first_seen, enrich, key, hash, None)
            .map(|(n, _)| (n, Vec::new()));
    }
    let (first, plain) = normalize_unruled(
        feed,
        parsed,
        entry,
        first_seen,
        enrich,
        key.clone(),
        hash.clone(),
        Some(0),
    )?;
    let Normalized::Post(post) = first else {
        // Not reached (no minimum): kept as it is.
        return Ok((first, Vec::new()));
    };
    let mut categories = entry.categories.clone();
    categories.extend(feed.categories.iter().cloned());
    let decision = rules::evaluate(
        &feed.rules,
        &Subject {
            title: &post.title,
            content: &plain,
            author: &post.author,
            url: &post.canonical_url,
            categories: &categories,
            feed: &feed.name,
            collection: &feed.collection,
            date: post.date,
            now: Utc::now(),
        },
    );
    if let Some(reason) = decision.dropped {
        return Ok((
            Normalized::Skipped(SkippedEntry {
                entry_key: key,
                content_hash: hash,
                reason,
            }),
            decision.applied,
        ));
    }
    let changes_feed = !decision.tags.is_empty()
        || !decision.categories.is_empty()
        || decision.collection.is_some();
    if changes_feed {
        let mut ruled = feed.clone();
        for t in &decision.tags {
            if !ruled.tags.contains(t) {
                ruled.tags.push(t.clone());
            }
        }
        for c in &decision.categories {
            if !ruled.categories.contains(c) {
                ruled.categories.push(c.clone());
            }
        }
        if let Some(c) = &decision.collection {
            ruled.collection = c.clone();
        }
        let (n, _) = normalize_unruled(
            &ruled,
            parsed,
            entry,
            first_seen,
            enrich,
            key,
            hash,
            Some(
                decision
                    .min_chars
                    .unwrap_or_else(|| ruled.effective_min_content_chars()),
            ),
        )?;
        return Ok((n, decision.applied));
    }
    let min = decision
        .min_chars
        .unwrap_or_else(|| feed.effective_min_content_chars());
    let plain_len = plain.chars().count();
    if plain_len < min {
        return Ok((
            Normalized::Skipped(too_short(key, hash, plain_len, min, &feed.collection)),
            decision.applied,
        ));
    }
    Ok((Normalized::Post(post), decision.applied))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{compile_rule, FeedRules};

    fn feed_with(rules: &[&str], keep_only: bool) -> FeedConfig {
        let mut feed = FeedConfig::new("Blog", "https://example.org/feed", "blogs");
        let compiled = rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                compile_rule(&toml::from_str(r).unwrap(), &format!("rules[{i}]")).unwrap()
            })
            .collect();
        feed.rules = FeedRules::new(compiled, keep_only);
        feed
    }

    fn entry(title: &str, words: usize) -> ParsedEntry {
        ParsedEntry {
            id: Some("e1".into()),
            link: Some("https://example.org/e1".into()),
            title: Some(title.into()),
            categories: vec!["Copilot".into()],
            content_html: Some(format!("<p>{}</p>", "word ".repeat(words))),
            ..ParsedEntry::default()
        }
    }

    fn run(feed: &FeedConfig, e: &ParsedEntry) -> (Normalized, Vec<Applied>) {
        let parsed = ParsedFeed::default();
        let key = super::super::entry_key(feed, e);
        let hash = super::super::entry_hash(feed, &parsed, e);
        normalize_entry_explained(feed, &parsed, e, Utc::now(), None, key, hash).unwrap()
    }

    #[test]
    fn route_gives_the_collections_path_and_viewing_mode() {
        let feed = feed_with(
            &["when = { categories = \"(?i)^copilot$\" }\naction = \"route\"\ncollection = \"videos\""],
            false,
        );
        let (n, applied) = run(&feed, &entry("Copilot news", 50));
        let Normalized::Post(p) = n else {
            panic!("{n:?}")
        };
        assert_eq!(p.collection, "videos");
        assert_eq!(p.viewing_mode, "internal");
        assert!(super::super::post_path(&p).starts_with("_videos/"));
        assert_eq!(applied.len(), 1);
    }

    #[test]
    fn tag_and_category_reach_the_front_matter() {
        let feed = feed_with(
            &[
                "when = { title = \"news\" }\naction = \"tag\"\ntags = [\"Release Notes\"]",
                "when = { title = \"news\" }\naction = \"category\"\ncategory = \"News\"",
            ],
            false,
        );
        let (n, _) = run(&feed, &entry("Copilot news", 50));
        let Normalized::Post(p) = n else {
            panic!("{n:?}")
        };
        assert!(p.tags.iter().any(|t| t == "Release Notes"), "{:?}", p.tags);
        assert_eq!(p.categories, ["News"]);
    }

    #[test]
    fn min_chars_overrides_the_feeds_minimum() {
        let mut feed = feed_with(
            &["when = { title = \"short\" }\naction = \"min_chars\"\nmin_chars = 10"],
            false,
        );
        feed.min_content_chars = Some(1000);
        let (n, _) = run(&feed, &entry("short one", 5));
        assert!(matches!(n, Normalized::Post(_)), "{n:?}");
        let (n, _) = run(&feed, &entry("other one", 5));
        let Normalized::Skipped(s) = n else {
            panic!("{n:?}")
        };
        assert!(s.reason.contains("below the 1000 required"), "{}", s.reason);
    }

    #[test]
    fn drop_and_keep_only_skip_with_the_reason() {
        let feed = feed_with(
            &["name = \"no news\"\nwhen = { title = \"news\" }\naction = \"drop\""],
            false,
        );
        let (n, _) = run(&feed, &entry("Copilot news", 50));
        let Normalized::Skipped(s) = n else {
            panic!("{n:?}")
        };
        assert_eq!(s.reason, "rule \"no news\"");
        let feed = feed_with(&["when = { title = \"keepme\" }\naction = \"keep\""], true);
        let (n, _) = run(&feed, &entry("Copilot news", 50));
        let Normalized::Skipped(s) = n else {
            panic!("{n:?}")
        };
        assert_eq!(s.reason, crate::rules::KEEP_ONLY_REASON);
        let (n, _) = run(&feed, &entry("keepme", 50));
        assert!(matches!(n, Normalized::Post(_)));
    }

    #[test]
    fn rules_are_in_the_hash_only_when_there_are_some() {
        let parsed = ParsedFeed::default();
        let e = entry("Copilot news", 50);
        let plain = FeedConfig::new("Blog", "https://example.org/feed", "blogs");
        let a = feed_with(&["when = { title = \"a\" }\naction = \"drop\""], false);
        let b = feed_with(&["when = { title = \"b\" }\naction = \"drop\""], false);
        let h = |f: &FeedConfig| super::super::entry_hash(f, &parsed, &e);
        assert_ne!(h(&a), h(&b));
        assert_ne!(h(&a), h(&plain));
        assert_eq!(h(&feed_with(&[], false)), h(&plain));
    }
}
