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
