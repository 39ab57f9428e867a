//! The article step inside a poll (see `crate::article` for the why). Before normalization, the
//! entries that want their linked page take it from the cache when it is there; the rest are
//! queued and applied after the poll is stored. The same substitution runs on every later poll,
//! so an entry normalized with its article keeps the same content hash and is left alone.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::app::App;
use crate::article::{self, own_len, ArticleJob, Extractor, FullContent};
use crate::domain::{FeedConfig, ParsedEntry, ParsedFeed, SkippedEntry};
use crate::normalize;
use crate::store::{ArticleRecord, ArticleStatus, QueuedArticle, StoreError};

use super::{build_batch, newest};

/// What the cache could not answer: pages to fetch, and entries Reddit reports removed.
#[derive(Default)]
pub(super) struct Plan {
    /// `(entry as in the document, link, extractor)`.
    pub to_fetch: Vec<(ParsedEntry, String, Extractor)>,
    /// Entry keys of removed Reddit posts, with the reason.
    pub removed: HashMap<String, String>,
    /// Links the network guard refuses without asking DNS, with the reason (the post keeps the
    /// feed's content; nothing is queued or sent).
    pub refused: Vec<String>,
}

/// The effective `full_content` of a feed.
pub fn mode(app: &App, feed: &FeedConfig) -> FullContent {
    feed.full_content
        .unwrap_or(app.settings.articles.full_content)
}

/// How the linked page of `link` is read for `feed`.
pub fn extractor_for(feed: &FeedConfig, link: &str) -> Extractor {
    if article::reddit::is_comments_url(link) {
        Extractor::RedditJson
    } else if let Some(sel) = &feed.content_selector {
        Extractor::Selector(sel.clone())
    } else {
        Extractor::Readability
    }
}

/// Whether `entry` wants its linked page, and the link.
fn wants_article<'e>(
    mode: FullContent,
    feed: &FeedConfig,
    entry: &'e ParsedEntry,
) -> Option<&'e str> {
    let link = entry
        .link
        .as_deref()
        .map(str::trim)
        .filter(|l| l.starts_with("http://") || l.starts_with("https://"))?;
    let wanted = match mode {
        FullContent::Never => false,
        FullContent::Always => true,
        FullContent::WhenShort => {
            own_len(entry) < feed.effective_min_content_chars().max(article::SHORT_CHARS)
        }
    };
    wanted.then_some(link)
}

/// Put a cached article in place of the entry's content when it is richer. True when it did.
pub fn substitute(entry: &mut ParsedEntry, record: &ArticleRecord) -> bool {
    let Some(html) = record
        .content_html
        .as_deref()
        .filter(|_| record.status == ArticleStatus::Ok)
    else {
        return false;
    };
    if article::plain_len(html) <= own_len(entry) {
        return false;
    }
    entry.content_html = Some(html.to_string());
    true
}

/// The entries of `parsed` whose linked page the article step wants (by index), with the link:
/// only those normalization will look at (`max_items` keeps the newest), per the feed's
/// `full_content` mode.
fn wanted(app: &App, feed: &FeedConfig, parsed: &ParsedFeed) -> Vec<(usize, String)> {
    let mode = mode(app, feed);
    if mode == FullContent::Never {
        return Vec::new();
    }
    // (Addresses as integers: the set identifies entries without borrowing them.)
    let considered: HashSet<usize> = newest(&parsed.entries, feed.max_items)
        .into_iter()
        .map(|e| e as *const ParsedEntry as usize)
        .collect();
    let mut wanted = Vec::new();
    for (i, entry) in parsed.entries.iter().enumerate() {
        if !considered.contains(&(entry as *const ParsedEntry as usize)) {
            continue;
        }
        if let Some(link) = wants_article(mode, feed, entry) {
            wanted.push((i, link.to_string()));
        }
    }
    wanted
}

/// For `inspect --full-content`: the pages a poll of `parsed` would want, as `(entry index,
/// link, extractor)`, so that `inspect` fetches exactly those into its cache before the poll.
pub fn pages_wanted(
    app: &App,
    feed: &FeedConfig,
    parsed: &ParsedFeed,
) -> Vec<(usize, String, Extractor)> {
    wanted(app, feed, parsed)
        .into_iter()
        .map(|(i, link)| {
            let extractor = extractor_for(feed, &link);
            (i, link, extractor)
        })
        .collect()
}

/// Apply cached articles to `parsed` and list what is left to fetch. One query per poll.
pub(super) async fn plan(
    app: &App,
    feed: &FeedConfig,
    parsed: &mut ParsedFeed,
    now: DateTime<Utc>,
) -> Result<Plan, StoreError> {
    let mut plan = Plan::default();
    let wanted = wanted(app, feed, parsed);
    if wanted.is_empty() {
        return Ok(plan);
    }
    let urls: Vec<String> = wanted.iter().map(|(_, l)| l.clone()).collect();
    let cache = app.store.get_articles(&urls).await?;
    let max_attempts = i64::from(app.settings.articles.max_attempts);
    for (i, link) in wanted {
        let extractor = extractor_for(feed, &link);
        let entry = &mut parsed.entries[i];
        match cache.get(&link).filter(|r| r.extractor == extractor.key()) {
            Some(r) if r.status == ArticleStatus::Ok => {
                substitute(entry, r);
            }
            Some(r) if r.status == ArticleStatus::Removed => {
                let reason = r
                    .error
                    .clone()
                    .unwrap_or_else(|| "removed on Reddit".to_string());
                plan.removed
                    .insert(normalize::entry_key(feed, entry), reason);
            }
            Some(r) if r.failures >= max_attempts => {} // given up: the feed's content stays
            Some(r) if r.next_attempt_at.is_some_and(|at| at > now) => {} // backing off
            _ => {
                let fetch_url = extractor.fetch_url(&link);
                let trust = crate::fetch::Trust::origin_of(&feed.url);
                if let Err(e) = crate::fetch::precheck(&app.settings.http, &fetch_url, &trust) {
                    if let crate::fetch::FetchError::Refused { refusal, .. } = &e {
                        crate::refused::count(refusal.kind);
                    }
                    plan.refused.push(e.to_string());
                } else if !app.articles.is_queued(&link) {
                    plan.to_fetch.push((entry.clone(), link, extractor));
                }
            }
        }
    }
    Ok(plan)
}

/// Queue the plan's pages, in the store first (so a restart or the next `fetch` continues the
/// queue: [`resume`]), then in this process. Each job re-normalizes its entry once the page is
/// in the cache.
pub(super) async fn submit(
    app: &App,
    feed: &FeedConfig,
    feed_id: i64,
    parsed: &ParsedFeed,
    plan: Plan,
) {
    if plan.to_fetch.is_empty() {
        return;
    }
    let meta = Arc::new(meta_of(parsed));
    let meta_json = serde_json::to_string(&*meta).unwrap_or_default();
    let now = now_secs();
    let rows: Vec<QueuedArticle> = plan
        .to_fetch
        .iter()
        .filter_map(|(entry, link, _)| {
            Some(QueuedArticle {
                url: link.clone(),
                feed_url: feed.url.clone(),
                entry: serde_json::to_string(entry).ok()?,
                meta: meta_json.clone(),
                queued_at: now,
            })
        })
        .collect();
    if let Err(e) = app.store.queue_articles(&rows).await {
        // The jobs still run in this process; only a restart would lose them.
        tracing::warn!(feed = %feed.name, "article jobs not stored (they run, but a restart forgets them): {e}");
    }
    for (entry, link, extractor) in plan.to_fetch {
        app.articles.submit(job(
            app,
            feed,
            feed_id,
            Arc::clone(&meta),
            entry,
            link,
            extractor,
        ));
    }
}

/// Continue the stored article queue for `feeds`: every job whose page is not backing off is
/// submitted again (`fetch` at start; the daemon on every tick). Jobs of feeds no longer
/// configured, and pages given up, leave the queue. Returns how many were submitted.
pub async fn resume(app: &App, feeds: &[&FeedConfig]) -> Result<usize, StoreError> {
    let queued = app.store.queued_articles().await?;
    if queued.is_empty() {
        return Ok(0);
    }
    let records = app.store.list_feeds().await?;
    let urls: Vec<String> = queued.iter().map(|q| q.url.clone()).collect();
    let cache = app.store.get_articles(&urls).await?;
    let max_attempts = i64::from(app.settings.articles.max_attempts);
    let now = now_secs();
    let mut submitted = 0;
    for q in queued {
        if app.articles.is_queued(&q.url) {
            continue;
        }
        if !app.settings.feeds.iter().any(|f| f.url == q.feed_url) {
            app.store.dequeue_article(&q.url).await?;
            continue;
        }
        let feed = feeds.iter().find(|f| f.url == q.feed_url && f.enabled);
        let record = records.iter().find(|r| r.url == q.feed_url);
        let (Some(feed), Some(record)) = (feed, record) else {
            continue; // not this run's feed (`fetch --feed`), or disabled: stays queued
        };
        if mode(app, feed) == FullContent::Never {
            app.store.dequeue_article(&q.url).await?;
            continue;
        }
        match cache.get(&q.url) {
            Some(r) if r.status == ArticleStatus::Failed && r.failures >= max_attempts => {
                app.store.dequeue_article(&q.url).await?;
                continue;
            }
            Some(r)
                if r.status == ArticleStatus::Failed
                    && r.next_attempt_at.is_some_and(|at| at > now) =>
            {
                continue; // backing off: stays queued for a later run
            }
            _ => {}
        }
        let (Ok(entry), Ok(meta)) = (
            serde_json::from_str::<ParsedEntry>(&q.entry),
            serde_json::from_str::<ParsedFeed>(&q.meta),
        ) else {
            tracing::warn!(url = %crate::redact::RedactedUrl::new(&q.url), "a queued article job could not be read; dropped");
            app.store.dequeue_article(&q.url).await?;
            continue;
        };
        let extractor = extractor_for(feed, &q.url);
        app.articles.submit(job(
            app,
            feed,
            record.id,
            Arc::new(meta),
            entry,
            q.url,
            extractor,
        ));
        submitted += 1;
    }
    Ok(submitted)
}

/// One article job: the page, and how its arrival becomes posts (the entry normalized again
/// with the page's content, or withdrawn when Reddit reports it removed).
fn job(
    app: &App,
    feed: &FeedConfig,
    feed_id: i64,
    meta: Arc<ParsedFeed>,
    entry: ParsedEntry,
    link: String,
    extractor: Extractor,
) -> ArticleJob {
    let feed_name = feed.name.clone();
    let feed_url = feed.url.clone();
    let feed = feed.clone();
    let feed_for_model = feed.clone();
    let enrich = app.settings.enrich.enrichment.clone();
    let finish = move |record: &ArticleRecord| -> article::Outcome {
        let normalize_one = |e: ParsedEntry| {
            let doc = ParsedFeed {
                entries: vec![e],
                ..meta_of(&meta)
            };
            build_batch(&feed, &doc, &HashMap::new(), now_secs(), Some(&enrich))
        };
        if record.status == ArticleStatus::Removed {
            let batch = normalize_one(entry);
            let reason = record
                .error
                .clone()
                .unwrap_or_else(|| "removed on Reddit".to_string());
            let skipped = batch
                .posts
                .iter()
                .map(|p| (p.entry_key.clone(), p.content_hash.clone()))
                .chain(
                    batch
                        .skipped
                        .iter()
                        .map(|s| (s.entry_key.clone(), s.content_hash.clone())),
                )
                .map(|(entry_key, content_hash)| SkippedEntry {
                    entry_key,
                    content_hash,
                    reason: reason.clone(),
                })
                .collect();
            return article::Outcome {
                posts: Vec::new(),
                skipped,
                withdraw: true,
                feed: None,
            };
        }
        let mut entry = entry;
        substitute(&mut entry, record);
        let batch = normalize_one(entry);
        article::Outcome {
            posts: batch.posts,
            skipped: batch.skipped,
            withdraw: false,
            feed: Some(feed_for_model),
        }
    };
    ArticleJob {
        feed_id,
        feed_name,
        url: link,
        trust: crate::fetch::Trust::origin_of(&feed_url),
        extractor,
        finish: Box::new(finish),
    }
}

/// The feed-level fields normalization reads, without the entries.
pub(super) fn meta_of(parsed: &ParsedFeed) -> ParsedFeed {
    ParsedFeed {
        format: parsed.format.clone(),
        title: parsed.title.clone(),
        author: parsed.author.clone(),
        ttl_minutes: parsed.ttl_minutes,
        skip_hours: parsed.skip_hours.clone(),
        skip_days: parsed.skip_days.clone(),
        entries: Vec::new(),
        link: parsed.link.clone(),
        repairs: parsed.repairs.clone(),
    }
}

fn now_secs() -> DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(0)
}

/// Skipped records for removed entries found in the cache: the batch's hash when the entry was
/// normalized this poll, else the stored one.
pub(super) fn removed_entries(
    removed: &HashMap<String, String>,
    hashes: &HashMap<String, String>,
) -> Vec<SkippedEntry> {
    removed
        .iter()
        .filter_map(|(key, reason)| {
            hashes.get(key).map(|h| SkippedEntry {
                entry_key: key.clone(),
                content_hash: h.clone(),
                reason: reason.clone(),
            })
        })
        .collect()
}
