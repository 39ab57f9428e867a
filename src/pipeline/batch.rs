//! The normalize stage of a poll: a parsed document becomes posts and skipped entries, with the
//! rules applied and the parsed form of each entry kept for `reprocess`. Pure CPU work, the same
//! for a poll, an article's arrival, `inspect` and `reprocess`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::domain::{FeedConfig, ParsedEntry, ParsedFeed, Post, SkippedEntry};
use crate::normalize::{self, Normalized};

/// The posts a document yields, before storage.
#[derive(Debug, Default)]
pub struct Batch {
    pub posts: Vec<Post>,
    pub skipped: Vec<SkippedEntry>,
    /// Entries whose key and hash are already stored: left alone without normalizing.
    pub unchanged: usize,
    /// Entries that could not be turned into posts (no URL ...), with the reason.
    pub warnings: Vec<String>,
    /// The parsed form of the entries of `posts` and `skipped`, for `reprocess`.
    pub entries: Vec<crate::store::StoredEntry>,
    /// Entries each rule matched, and those each `drop` rule dropped (src/rules).
    pub rule_matches: std::collections::BTreeMap<String, usize>,
    pub rule_drops: std::collections::BTreeMap<String, usize>,
    /// The rules that matched each entry (by entry key; entries no rule matched are absent),
    /// for `inspect --explain`.
    pub rule_trace: HashMap<String, Vec<crate::rules::Applied>>,
}

/// Turn a parsed document into posts. `known` maps stored entry keys to content hashes; entries
/// whose hash is unchanged are not normalized again (the expensive part: sanitize + markdown).
/// `enrich` adds keyword tags (`None`: section 5's tags only); its taxonomy is part of the hash.
pub fn build_batch(
    feed: &FeedConfig,
    parsed: &ParsedFeed,
    known: &HashMap<String, String>,
    now: DateTime<Utc>,
    enrich: Option<&crate::enrich::Enrichment>,
) -> Batch {
    let mut batch = Batch::default();
    let mut seen_keys = HashSet::new();
    for entry in newest(&parsed.entries, feed.max_items) {
        let key = normalize::entry_key(feed, entry);
        if !seen_keys.insert(key.clone()) {
            continue; // the same entry twice in one document: the first wins
        }
        let hash = normalize::entry_hash_with(feed, parsed, entry, enrich);
        if known.get(&key) == Some(&hash) {
            batch.unchanged += 1;
            continue;
        }
        let keyed = normalize::normalize_entry_explained(
            feed,
            parsed,
            entry,
            now,
            enrich,
            key.clone(),
            hash.clone(),
        );
        if keyed.is_ok() {
            batch.entries.push(crate::store::StoredEntry {
                entry_key: key.clone(),
                first_seen_at: now,
                data: crate::store::entries::encode(parsed, entry),
            });
        }
        let keyed = keyed.map(|(n, applied)| {
            count_rules(&mut batch, &n, &applied);
            if !applied.is_empty() {
                batch.rule_trace.insert(key.clone(), applied);
            }
            n
        });
        match keyed {
            Ok(Normalized::Post(post)) => batch.posts.push(*post),
            Ok(Normalized::Skipped(skipped)) => batch.skipped.push(skipped),
            Err(e) => {
                batch.warnings.push(e.to_string());
                batch.skipped.push(SkippedEntry {
                    entry_key: key,
                    content_hash: hash,
                    reason: e.to_string(),
                });
            }
        }
    }
    batch
}

/// Add one entry's rule matches (and its drop, if a rule dropped it) to the batch's counts.
fn count_rules(batch: &mut Batch, n: &Normalized, applied: &[crate::rules::Applied]) {
    for a in applied {
        *batch.rule_matches.entry(a.rule.clone()).or_default() += 1;
    }
    if let Normalized::Skipped(s) = n {
        match applied.last() {
            Some(last) if last.action == "drop" => {
                *batch.rule_drops.entry(last.rule.clone()).or_default() += 1;
            }
            _ if s.reason == crate::rules::KEEP_ONLY_REASON => {
                *batch.rule_drops.entry("keep_only".into()).or_default() += 1;
            }
            _ => {}
        }
    }
}

/// The newest `max` entries (by date; undated entries keep document order after dated ones).
pub(super) fn newest(entries: &[ParsedEntry], max: Option<usize>) -> Vec<&ParsedEntry> {
    let mut list: Vec<&ParsedEntry> = entries.iter().collect();
    if let Some(max) = max {
        if list.len() > max {
            list.sort_by_key(|e| std::cmp::Reverse(e.published.or(e.updated)));
            list.truncate(max);
        }
    }
    list
}
