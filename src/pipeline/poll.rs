//! [`poll`]: one feed fetched, parsed, planned for articles, normalized and enriched, as a value.
//! Nothing is written here (the store is only read: known entries, the article cache); what
//! the poll produced is stored by [`super::record`].

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, SubsecRound, Utc};
use tracing::warn;

use super::document::{self, Document};
use super::{articles, build_batch, cpu_work, FeedReport};
use crate::app::App;
use crate::domain::{FeedConfig, ParsedFeed, Post, SkippedEntry};
use crate::fetch::{FetchError, FetchResponse, Trust, Validators};
use crate::policy::PollFacts;
use crate::store::{FeedRecord, Outcome, PollRecord, StoreError, StoredEntry};

/// What one poll produced, before storage.
pub struct Polled {
    pub(super) started: Instant,
    /// The poll's time (whole seconds): first-seen time of new entries, base of the next due time.
    pub(super) now: DateTime<Utc>,
    /// The feed's row after the poll, except its next due time (set by `record`).
    pub poll: PollRecord,
    pub(super) facts: PollFacts,
    /// The counts known before storage (entries, bytes, refused links, rule drops, unchanged).
    pub report: FeedReport,
    pub posts: Vec<Post>,
    pub skipped: Vec<SkippedEntry>,
    /// Entries Reddit reports removed (from the article cache): withdrawn after the poll.
    pub(super) removed: Vec<SkippedEntry>,
    /// The parsed form of the entries normalized this poll (for `reprocess`).
    pub(super) entries: Vec<StoredEntry>,
    /// The document's feed-level fields and its article plan: the pages still to fetch are
    /// queued once the poll is stored.
    pub(super) articles: Option<(ParsedFeed, articles::Plan)>,
    /// Entries that could not become posts, with the reason (they are in `skipped` too): logged
    /// by [`super::refresh`]; `inspect` prints its skipped entries itself.
    pub warnings: Vec<String>,
    /// The rules that matched each entry (by entry key), for `inspect --explain`.
    pub rule_trace: HashMap<String, Vec<crate::rules::Applied>>,
    /// The whole parsed document (after cached articles replaced teasers), kept only when the
    /// caller asks ([`Source::Read`], for `inspect`): a poll does not hold it past
    /// normalization.
    pub document: Option<ParsedFeed>,
}

impl Polled {
    fn new(app: &App, feed: &FeedConfig) -> Polled {
        let now = Utc::now().trunc_subsecs(0);
        let mut poll = PollRecord::new(now, Outcome::Failed);
        poll.health = app.settings.health.rules();
        Polled {
            started: Instant::now(),
            now,
            poll,
            facts: PollFacts::default(),
            report: FeedReport::empty(&feed.name, &feed.url),
            posts: Vec::new(),
            skipped: Vec::new(),
            removed: Vec::new(),
            entries: Vec::new(),
            articles: None,
            warnings: Vec::new(),
            rule_trace: HashMap::new(),
            document: None,
        }
    }

    fn fetch_failed(&mut self, e: &FetchError) {
        self.poll.retry_after = e.retry_after();
        self.poll.error = Some(e.to_string());
        if e.is_deferred() {
            // The host's queue or pause, not the feed: no failure, no backoff, and the next
            // tick (or the pause's end) polls it again.
            self.poll.outcome = Outcome::Deferred;
            return;
        }
        self.poll.http_status = e.http_status();
        self.facts.retry_after = e.retry_after();
        self.poll.gone = e.is_gone();
        self.poll.blocked = e.is_blocked();
    }
}

/// Where a poll's document comes from.
pub enum Source {
    /// Fetched from the feed's URL with the stored validators (`run`, `fetch`, `refresh`).
    Fetch,
    /// Read by the caller: `inspect`, which reads a file or fetches a URL itself (it needs the
    /// document before the poll, to name the feed and fetch its pages) and polls against an
    /// empty store of its own. The parsed document is kept in [`Polled::document`], and there is
    /// no model step (`inspect` must not spend a model's budget).
    Read(Box<Document>),
}

/// Fetch (or take the document read by the caller), parse, plan the articles, normalize and
/// enrich one feed. A feed's failure is data (`poll.outcome`, `poll.error`); only a failed store
/// read is an error.
pub async fn poll(
    app: &App,
    feed: &FeedConfig,
    record: &FeedRecord,
    source: Source,
) -> Result<Polled, StoreError> {
    if let Source::Read(doc) = source {
        let mut polled = Polled::new(app, feed);
        digest(app, feed, record, &mut polled, *doc, true).await?;
        return Ok(polled);
    }
    let mut polled = Polled::new(app, feed);
    let validators = Validators {
        etag: record.etag.clone(),
        last_modified: record.last_modified.clone(),
    };
    // The configured URL's origin is the operator's choice; anything else (a redirect to another
    // host, an autodiscovered link elsewhere) goes through the network guard.
    let trust = Trust::origin_of(&feed.url);
    match app
        .fetcher
        .fetch(record.effective_url(), &validators, &trust)
        .await
    {
        Err(e) => polled.fetch_failed(&e),
        Ok(FetchResponse::NotModified {
            etag,
            last_modified,
            permanent_url,
            cache,
        }) => {
            polled.facts.cache = cache;
            polled.facts.ttl_minutes = record.ttl_minutes.and_then(|t| u32::try_from(t).ok());
            polled.poll.outcome = Outcome::NotModified;
            polled.poll.http_status = Some(304);
            polled.poll.etag = etag;
            polled.poll.last_modified = last_modified;
            polled.poll.fetch_url = permanent_url;
        }
        Ok(FetchResponse::Modified(fetched)) => {
            polled.poll.http_status = Some(fetched.status);
            polled.report.bytes = fetched.body.len() as u64;
            polled.facts.cache = fetched.cache.clone();
            let permanent_url = fetched.permanent_url.clone();
            match document::read(&app.fetcher, fetched, &trust).await {
                Err(e) => polled.poll.error = Some(e.to_string()),
                Ok(doc) => {
                    digest(app, feed, record, &mut polled, doc, false).await?;
                    if polled.poll.outcome == Outcome::Ok {
                        polled.poll.fetch_url = polled.poll.fetch_url.take().or(permanent_url);
                    }
                }
            }
        }
    }
    // The optional language-model step (src/enrich/llm.rs): never fails the poll.
    if let Some(model) = &app.model {
        let max_tags = app.settings.enrich.max_tags;
        crate::enrich::llm::enrich_posts(&*app.store, model, feed, &mut polled.posts, max_tags)
            .await;
    }
    Ok(polled)
}

/// A parsed document: cached articles in place of teasers, then normalization on the blocking
/// pool, then the entries Reddit reports removed taken out.
async fn digest(
    app: &App,
    feed: &FeedConfig,
    record: &FeedRecord,
    polled: &mut Polled,
    doc: Document,
    keep_document: bool,
) -> Result<(), StoreError> {
    let Document {
        mut parsed,
        discovered,
        etag,
        last_modified,
    } = doc;
    let known = app.store.known_entries(record.id).await?;
    // Cached articles replace teaser content before the hash is taken; pages not cached yet are
    // fetched after this poll is stored.
    let plan = articles::plan(app, feed, &mut parsed, polled.now).await?;
    let mut removed_hashes: HashMap<String, String> = plan
        .removed
        .keys()
        .filter_map(|k| known.get(k).map(|h| (k.clone(), h.clone())))
        .collect();
    for reason in &plan.refused {
        warn!("article refused; the post keeps the feed's content: {reason}");
    }
    polled.report.refused = plan.refused.len();
    // The feed-level fields (no entries) outlive normalization, which consumes the document.
    let meta = articles::meta_of(&parsed);
    let feed_for_batch = feed.clone();
    let enrich = app.settings.enrich.enrichment.clone();
    let now = polled.now;
    let batch = cpu_work(move || {
        let batch = build_batch(&feed_for_batch, &parsed, &known, now, Some(&enrich));
        let skip = (parsed.skip_hours.clone(), parsed.skip_days.clone());
        let entries = parsed.entries.len();
        let ttl = parsed.ttl_minutes;
        (batch, entries, ttl, skip, keep_document.then_some(parsed))
    })
    .await;
    let (batch, entries, ttl, (skip_hours, skip_days), document) = match batch {
        Ok(done) => done,
        Err(join) => {
            polled.poll.error = Some(format!("normalization failed: {join}"));
            polled.articles = Some((meta, plan));
            return Ok(());
        }
    };
    polled.warnings = batch.warnings;
    polled.report.entries = entries;
    polled.report.saved.unchanged = batch.unchanged;
    polled.report.rule_drops = batch.rule_drops;
    app.metrics.record_rule_matches(&batch.rule_matches);
    polled.entries = batch.entries;
    polled.posts = batch.posts;
    polled.skipped = batch.skipped;
    polled.rule_trace = batch.rule_trace;
    polled.document = document;
    if !plan.removed.is_empty() {
        let this_poll = polled
            .posts
            .iter()
            .map(|p| (&p.entry_key, &p.content_hash))
            .chain(
                polled
                    .skipped
                    .iter()
                    .map(|s| (&s.entry_key, &s.content_hash)),
            );
        for (k, h) in this_poll {
            if plan.removed.contains_key(k) {
                removed_hashes.insert(k.clone(), h.clone());
            }
        }
        polled
            .posts
            .retain(|p| !plan.removed.contains_key(&p.entry_key));
        polled
            .skipped
            .retain(|s| !plan.removed.contains_key(&s.entry_key));
        polled.removed = articles::removed_entries(&plan.removed, &removed_hashes);
    }
    polled.poll.outcome = Outcome::Ok;
    polled.poll.ttl_minutes = ttl;
    polled.facts.ttl_minutes = ttl;
    polled.facts.skip_hours = skip_hours;
    polled.facts.skip_days = skip_days;
    // Validators of the document actually parsed; after autodiscovery they belong to the
    // discovered URL, which becomes the fetch URL.
    polled.poll.etag = etag;
    polled.poll.last_modified = last_modified;
    polled.poll.fetch_url = discovered;
    polled.articles = Some((meta, plan));
    Ok(())
}
