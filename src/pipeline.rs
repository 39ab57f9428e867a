//! `refresh(feed)`: fetch -> parse -> normalize -> store, the one path shared by `fetch` and
//! `run`. The one-shot command adds a progress bar, the daemon adds scheduling; neither has its
//! own pipeline.
//!
//! A feed's failure (network, HTTP status, unparsable document) is *data*: it is recorded on the
//! feed and returned in the report, never propagated, so one broken feed cannot stop the others.
//! Only a storage failure is an error, because then nothing can be recorded at all.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use tracing::{info, warn, Instrument};

use crate::app::App;

mod articles;
use crate::domain::{FeedConfig, ParsedEntry, ParsedFeed, Post, SkippedEntry};
use crate::fetch::{FetchResponse, Fetched, Trust, Validators};
use crate::normalize::{self, Normalized};
use crate::parse;
use crate::policy::{next_due, PollFacts};
use crate::redact::RedactedUrl;
use crate::store::{FeedRecord, Outcome, PollRecord, SaveReport, StoreError};
pub use articles::{extractor_for, resume as resume_articles, substitute};

/// What one refresh did, for summaries, logs and (later) metrics.
#[derive(Debug, Clone, Serialize)]
pub struct FeedReport {
    pub name: String,
    /// The configured URL; shown redacted (`fetch --json`, logs: src/redact.rs).
    #[serde(serialize_with = "crate::redact::ser_redacted")]
    pub url: String,
    pub outcome: Outcome,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    /// Entries in the document.
    pub entries: usize,
    /// Body bytes fetched (after decompression).
    pub bytes: u64,
    pub saved: SaveReport,
    /// Article links the network guard refused in this poll (the posts keep the feed's content).
    pub refused: usize,
    #[serde(serialize_with = "ser_secs")]
    pub elapsed: Duration,
    /// Posts created or updated by this poll (canonical URLs), for continuous publishing.
    #[serde(skip)]
    pub changed: Vec<String>,
    /// Entries dropped by each rule in this poll (`keep_only` for the keep-list's).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub rule_drops: std::collections::BTreeMap<String, usize>,
}

impl FeedReport {
    pub fn empty(name: &str, url: &str) -> FeedReport {
        FeedReport {
            name: name.to_string(),
            url: url.to_string(),
            outcome: Outcome::Failed,
            http_status: None,
            error: None,
            entries: 0,
            bytes: 0,
            saved: SaveReport::default(),
            refused: 0,
            elapsed: Duration::ZERO,
            changed: Vec::new(),
            rule_drops: Default::default(),
        }
    }
}

fn ser_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

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

/// For `reprocess`: the cached articles (full content) put in place of stored entries' content
/// exactly as a poll does before normalizing (so an entry whose page arrived after its poll gets
/// the same post), with every entry considered (`max_items` limits what a poll reads, not what is
/// stored). Returns the entries Reddit reports removed, with the reason. Nothing is queued.
pub async fn apply_cached_articles(
    app: &App,
    feed: &FeedConfig,
    parsed: &mut ParsedFeed,
    now: DateTime<Utc>,
) -> Result<HashMap<String, String>, StoreError> {
    let all = FeedConfig {
        max_items: None,
        ..feed.clone()
    };
    Ok(articles::plan(app, &all, parsed, now).await?.removed)
}

/// The newest `max` entries (by date; undated entries keep document order after dated ones).
fn newest(entries: &[ParsedEntry], max: Option<usize>) -> Vec<&ParsedEntry> {
    let mut list: Vec<&ParsedEntry> = entries.iter().collect();
    if let Some(max) = max {
        if list.len() > max {
            list.sort_by_key(|e| std::cmp::Reverse(e.published.or(e.updated)));
            list.truncate(max);
        }
    }
    list
}

/// Continuous publishing (`[publish] dir`): export the posts this poll created or updated, with
/// the same code as `feedsmith export`. A publishing problem is logged, never fails the poll: the
/// posts are stored and the next export catches up.
async fn publish_changed(app: &App, dir: &std::path::Path, canonical_urls: &[String]) {
    let mut posts = Vec::with_capacity(canonical_urls.len());
    for url in canonical_urls {
        match app.store.find_post(url).await {
            Ok(Some(p)) => posts.push(p),
            Ok(None) => {}
            Err(e) => {
                warn!("publishing: cannot read post {url}: {e}");
                return;
            }
        }
    }
    let dir = dir.to_path_buf();
    let render = app.render.clone();
    let result = tokio::task::spawn_blocking(move || {
        crate::publish::export(
            &dir,
            &posts,
            &render,
            crate::publish::ExportOptions::default(),
        )
    })
    .await;
    match result {
        Ok(Ok(report)) => {
            info!(
                written = report.written,
                unchanged = report.unchanged,
                skipped = report.skipped,
                "published"
            );
            // `[publish] git`: the committer (run) or the end of fetch commits these files.
            app.git.mark(&report);
        }
        Ok(Err(e)) => warn!("publishing failed: {e}"),
        Err(e) => warn!("publishing task failed: {e}"),
    }
}

/// Parse a fetched body; when it is an HTML page that advertises a feed, fetch and parse that
/// feed instead (autodiscovery). Returns the parsed feed and the discovered URL, if any.
async fn parse_with_discovery(
    app: &App,
    fetched: Fetched,
    trust: &Trust,
) -> Result<(ParsedFeed, Option<String>, Option<Fetched>), String> {
    // Relative entry links resolve against the URL without userinfo (no credentials in posts).
    let first = parse_blocking(
        fetched.body.clone(),
        fetched.content_type.clone(),
        crate::redact::without_userinfo(&fetched.final_url),
    )
    .await;
    match first {
        Ok(parsed) => Ok((parsed, None, Some(fetched))),
        Err(err) => {
            if !parse::looks_like_html(&fetched.body) {
                return Err(err.to_string());
            }
            let links = parse::discover_feed_links(&fetched.body, &fetched.final_url);
            let Some(link) = links.into_iter().find(|l| *l != fetched.final_url) else {
                return Err(format!(
                    "{} returned an HTML page without a feed link (<link rel=\"alternate\" type=\"application/rss+xml\">); use the feed's own URL",
                    RedactedUrl::new(&fetched.final_url)
                ));
            };
            info!(page = %RedactedUrl::new(&fetched.final_url), feed = %RedactedUrl::new(&link), "autodiscovered a feed link in an HTML page");
            let second = app
                .fetcher
                .fetch(&link, &Validators::default(), trust)
                .await
                .map_err(|e| format!("autodiscovered feed {}: {e}", RedactedUrl::new(&link)))?;
            let FetchResponse::Modified(doc) = second else {
                return Err(format!(
                    "autodiscovered feed {}: unexpected 304 without validators",
                    RedactedUrl::new(&link)
                ));
            };
            let parsed = parse_blocking(
                doc.body.clone(),
                doc.content_type.clone(),
                crate::redact::without_userinfo(&doc.final_url),
            )
            .await
            .map_err(|e| format!("autodiscovered feed {}: {e}", RedactedUrl::new(&link)))?;
            Ok((parsed, Some(link), Some(doc)))
        }
    }
}

/// Run a poll's CPU-bound work (parsing, normalization) on the blocking pool, on a thread whose
/// scheduling priority is lowered (its nice value raised by 10, up to 19; Linux only, where it is
/// per thread; once per thread, which keeps it for later blocking work).
///
/// Why: a cold fetch of many feeds is bound by the store's single writer, whose statements hop
/// between a runtime worker and the database connection's thread. With every core busy
/// normalizing, each hop waited for a time slice; at a lower priority, normalization takes the
/// cores only when the writer, the HTTP connections and the reactor do not need them. It is the
/// usual treatment of batch work in a daemon: it also yields to the host's other services.
fn cpu_work<F, R>(f: F) -> tokio::task::JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        lower_priority();
        f()
    })
}

fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        thread_local!(static LOWERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
        if !LOWERED.get() {
            LOWERED.set(true);
            // SAFETY: nice has no memory-safety preconditions; glibc applies it to the calling
            // thread on Linux. It adds to the current value (a process started with `nice -n 15`
            // gets 19, never a higher priority). Failure (not expected: raising one's own nice
            // value needs no privilege) leaves the thread at its priority, which is only slower.
            unsafe {
                libc::nice(CPU_WORK_NICE);
            }
        }
    }
}

/// What is added to the nice value of the threads doing a poll's CPU-bound work (0 is normal,
/// 19 the lowest priority).
#[cfg(target_os = "linux")]
const CPU_WORK_NICE: libc::c_int = 10;

/// Parsing is CPU work (and can take tens of milliseconds on a large podcast feed): keep it off
/// the async reactor so timers and other fetches stay on time.
async fn parse_blocking(
    body: Vec<u8>,
    content_type: Option<String>,
    base: String,
) -> Result<ParsedFeed, parse::ParseError> {
    match cpu_work(move || parse::parse_feed(&body, content_type.as_deref(), Some(&base))).await {
        Ok(result) => result,
        Err(join) => Err(parse::ParseError::Panicked {
            detail: join.to_string(),
        }),
    }
}

/// Poll one feed once and store the result, inside a `poll` span (feed name and URL) and with
/// one log line for the outcome. See the module doc for the error contract.
pub async fn refresh(
    app: &App,
    feed: &FeedConfig,
    record: &FeedRecord,
) -> Result<FeedReport, StoreError> {
    let span = tracing::info_span!("poll", feed = %feed.name, url = %RedactedUrl::new(&feed.url));
    let result = refresh_inner(app, feed, record)
        .instrument(span.clone())
        .await;
    let _entered = span.enter();
    let result = result.map_err(|e| e.at(&app.settings.database.url));
    match &result {
        Ok(report) => log_report(report),
        Err(e) => {
            tracing::error!("cannot store the poll: {e}");
            record_store_failure(app, record, &feed.url, e).await;
        }
    }
    result
}

/// A poll whose result could not be stored is a failed poll: in the metrics, on `/readyz` (503
/// until a poll is stored again), and on the feed's row when that one small write still works
/// (the feed is then also listed as failing by `feeds list` and `/api/feeds`). Why: on a full
/// disk the daemon used to log errors while every status said `ok`.
async fn record_store_failure(app: &App, record: &FeedRecord, feed_url: &str, e: &StoreError) {
    let error = format!("cannot store the poll: {e}");
    let mut failed = PollRecord::new(Utc::now().trunc_subsecs(0), Outcome::Failed);
    failed.error = Some(error.clone());
    failed.health = app.settings.health.rules();
    let recorded = app
        .store
        .save_poll(record.id, &failed, &[], &[])
        .await
        .is_ok();
    app.metrics.record_store_failure(feed_url, &error, recorded);
}

fn log_report(r: &FeedReport) {
    let s = &r.saved;
    match r.outcome {
        Outcome::Failed => warn!(
            outcome = r.outcome.as_str(),
            status = r.http_status,
            error = r.error.as_deref().unwrap_or(""),
            ms = r.elapsed.as_millis() as u64,
            "poll failed"
        ),
        Outcome::Deferred => info!(
            outcome = r.outcome.as_str(),
            reason = r.error.as_deref().unwrap_or(""),
            ms = r.elapsed.as_millis() as u64,
            "poll deferred"
        ),
        _ => info!(
            outcome = r.outcome.as_str(),
            status = r.http_status,
            entries = r.entries,
            new = s.new,
            updated = s.updated,
            unchanged = s.unchanged,
            skipped = s.skipped,
            duplicates = s.duplicates,
            refused = r.refused,
            bytes = r.bytes,
            ms = r.elapsed.as_millis() as u64,
            dropped_by_rules = %crate::rules::drops_summary(&r.rule_drops),
            "polled"
        ),
    }
}

async fn refresh_inner(
    app: &App,
    feed: &FeedConfig,
    record: &FeedRecord,
) -> Result<FeedReport, StoreError> {
    let started = Instant::now();
    let now = Utc::now().trunc_subsecs(0);
    let url = record.effective_url().to_string();
    let mut report = FeedReport::empty(&feed.name, &feed.url);
    let mut facts = PollFacts::default();
    let validators = Validators {
        etag: record.etag.clone(),
        last_modified: record.last_modified.clone(),
    };

    let mut poll = PollRecord::new(now, Outcome::Failed);
    poll.health = app.settings.health.rules();
    let mut posts = Vec::new();
    let mut skipped = Vec::new();
    // Removed Reddit posts (from the article cache) and the article plan of this document.
    let mut removed: Vec<SkippedEntry> = Vec::new();
    let mut article_doc: Option<(ParsedFeed, articles::Plan)> = None;
    // The parsed form of the entries normalized this poll (for `reprocess`).
    let mut parsed_entries: Vec<crate::store::StoredEntry> = Vec::new();

    // The configured URL's origin is the operator's choice; anything else (a redirect to another
    // host, an autodiscovered link elsewhere) goes through the network guard.
    let trust = Trust::origin_of(&feed.url);
    match app.fetcher.fetch(&url, &validators, &trust).await {
        Err(e) if e.is_deferred() => {
            // The host's queue or pause, not the feed: no failure, no backoff, and the next
            // tick (or the pause's end) polls it again.
            poll.outcome = Outcome::Deferred;
            poll.retry_after = e.retry_after();
            poll.error = Some(e.to_string());
        }
        Err(e) => {
            poll.http_status = e.http_status();
            poll.retry_after = e.retry_after();
            facts.retry_after = e.retry_after();
            poll.gone = e.is_gone();
            poll.blocked = e.is_blocked();
            poll.error = Some(e.to_string());
        }
        Ok(FetchResponse::NotModified {
            etag,
            last_modified,
            permanent_url,
            cache,
        }) => {
            facts.cache = cache;
            facts.ttl_minutes = record.ttl_minutes.and_then(|t| u32::try_from(t).ok());
            poll.outcome = Outcome::NotModified;
            poll.http_status = Some(304);
            poll.etag = etag;
            poll.last_modified = last_modified;
            poll.fetch_url = permanent_url;
        }
        Ok(FetchResponse::Modified(fetched)) => {
            poll.http_status = Some(fetched.status);
            report.bytes = fetched.body.len() as u64;
            facts.cache = fetched.cache.clone();
            let permanent_url = fetched.permanent_url.clone();
            match parse_with_discovery(app, fetched, &trust).await {
                Err(message) => poll.error = Some(message),
                Ok((mut parsed, discovered, doc)) => {
                    let known = app.store.known_entries(record.id).await?;
                    // Cached articles replace teaser content before the hash is taken; pages
                    // not cached yet are fetched after this poll is stored.
                    let plan = articles::plan(app, feed, &mut parsed, now).await?;
                    let mut removed_hashes: HashMap<String, String> = plan
                        .removed
                        .keys()
                        .filter_map(|k| known.get(k).map(|h| (k.clone(), h.clone())))
                        .collect();
                    for reason in &plan.refused {
                        warn!("article refused; the post keeps the feed's content: {reason}");
                    }
                    report.refused = plan.refused.len();
                    // The feed-level fields (no entries) outlive normalization, which consumes
                    // the document, to queue the article jobs after the poll is stored.
                    article_doc = Some((articles::meta_of(&parsed), plan));
                    let feed_for_batch = feed.clone();
                    let enrich = app.settings.enrich.enrichment.clone();
                    let batch = cpu_work(move || {
                        let batch =
                            build_batch(&feed_for_batch, &parsed, &known, now, Some(&enrich));
                        let skip = (parsed.skip_hours.clone(), parsed.skip_days.clone());
                        (batch, parsed.entries.len(), parsed.ttl_minutes, skip)
                    })
                    .await;
                    match batch {
                        Err(join) => poll.error = Some(format!("normalization failed: {join}")),
                        Ok((batch, entries, ttl, (skip_hours, skip_days))) => {
                            for w in &batch.warnings {
                                warn!(feed = %feed.name, url = %RedactedUrl::new(&feed.url), "entry skipped: {w}");
                            }
                            report.entries = entries;
                            report.saved.unchanged = batch.unchanged;
                            report.rule_drops = batch.rule_drops;
                            app.metrics.record_rule_matches(&batch.rule_matches);
                            parsed_entries = batch.entries;
                            posts = batch.posts;
                            skipped = batch.skipped;
                            if let Some((_, plan)) = &article_doc {
                                if !plan.removed.is_empty() {
                                    for (k, h) in
                                        posts.iter().map(|p| (&p.entry_key, &p.content_hash)).chain(
                                            skipped.iter().map(|s| (&s.entry_key, &s.content_hash)),
                                        )
                                    {
                                        if plan.removed.contains_key(k) {
                                            removed_hashes.insert(k.clone(), h.clone());
                                        }
                                    }
                                    posts.retain(|p| !plan.removed.contains_key(&p.entry_key));
                                    skipped.retain(|s| !plan.removed.contains_key(&s.entry_key));
                                    removed =
                                        articles::removed_entries(&plan.removed, &removed_hashes);
                                }
                            }
                            poll.outcome = Outcome::Ok;
                            poll.ttl_minutes = ttl;
                            facts.ttl_minutes = ttl;
                            facts.skip_hours = skip_hours;
                            facts.skip_days = skip_days;
                            if let Some(doc) = doc {
                                // Validators of the document actually parsed; after autodiscovery
                                // they belong to the discovered URL, which becomes the fetch URL.
                                poll.etag = doc.etag;
                                poll.last_modified = doc.last_modified;
                            }
                            poll.fetch_url = discovered.or(permanent_url);
                        }
                    }
                }
            }
        }
    }

    // The optional language-model step (src/enrich/llm.rs): never fails the poll.
    if let Some(model) = &app.model {
        let max_tags = app.settings.enrich.max_tags;
        crate::enrich::llm::enrich_posts(&*app.store, model, feed, &mut posts, max_tags).await;
    }

    facts.consecutive_failures = match poll.outcome {
        Outcome::Failed => u32::try_from(record.consecutive_failures)
            .unwrap_or(0)
            .saturating_add(1),
        _ => 0,
    };
    poll.next_due_at = match poll.outcome {
        // Due again at once (the next tick, the next `fetch`), or when the host's pause ends;
        // the stored due time before this poll is not pushed back.
        Outcome::Deferred => poll.retry_after.or(Some(now)),
        _ => Some(next_due(now, &facts, app.settings.schedule.max_backoff)),
    };

    let saved = app
        .store
        .save_poll(record.id, &poll, &posts, &skipped)
        .await?;
    report.saved = SaveReport {
        unchanged: report.saved.unchanged + saved.unchanged,
        ..saved
    };
    // After the poll: a failure here loses only what `reprocess` could redo for these entries.
    if let Err(e) = app
        .store
        .save_parsed_entries(record.id, &parsed_entries)
        .await
    {
        warn!("cannot store the parsed entries (reprocess will skip them): {e}");
    }
    drop(parsed_entries);
    if !removed.is_empty() {
        let withdrawn = app
            .store
            .save_entries(record.id, &[], &removed, true)
            .await?;
        report.saved.skipped += withdrawn.skipped;
    }
    if let Some((meta, plan)) = article_doc {
        articles::submit(app, feed, record.id, &meta, plan).await;
    }
    report.outcome = poll.outcome;
    report.http_status = poll.http_status;
    report.error = poll.error;
    report.elapsed = started.elapsed();
    if app.settings.publish.dir.is_some() {
        // Only continuous publishing reads it; a one-shot fetch of thousands of feeds would
        // otherwise hold every post's URL until the end.
        report.changed = posts.into_iter().map(|p| p.canonical_url).collect();
    }
    if let Some(dir) = &app.settings.publish.dir {
        if saved.new + saved.updated > 0 {
            publish_changed(app, dir, &report.changed).await;
        }
    }
    app.metrics.record_poll(&crate::metrics::PollSample {
        url: &report.url,
        outcome: report.outcome,
        posts_new: report.saved.new,
        posts_updated: report.saved.updated,
        bytes: report.bytes,
        elapsed: report.elapsed,
    });
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A poll's CPU work runs 10 nice levels lower (where the nice value is per thread), and the
    /// runtime's own threads keep their priority.
    #[cfg(target_os = "linux")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn cpu_work_runs_at_a_lower_priority() {
        // SAFETY (both calls): getpriority reads the calling thread's nice value; errno is not
        // needed, a nice value of -1 cannot occur here.
        let nice = || unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        let before = nice();
        let inside = cpu_work(nice).await.unwrap();
        assert_eq!(inside, (before + CPU_WORK_NICE).min(19));
        assert_eq!(nice(), before, "the caller's thread keeps its priority");
        // Once per thread: a second call on the same thread does not lower it again.
        let again = cpu_work(nice).await.unwrap();
        assert_eq!(again, inside);
    }
}
