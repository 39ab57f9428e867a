//! The article service: jobs queued after a poll is stored, run in the background with their
//! own concurrency, a per-host interval, `Retry-After` and exponential backoff, and their posts
//! stored (through the optional model step) once the page arrives.
//!
//! Apart from the settings, the page extraction and the metrics so that this file is the queue
//! and its state only: what a job is, when it runs, what it does with the result.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use super::page::extract_body;
use super::{http_settings, ArticleError, ArticleSettings, Extracted, Extractor, Stats};
use crate::domain::{FeedConfig, Post, SkippedEntry};
use crate::enrich::ModelClient;
use crate::fetch::HttpSettings;
use crate::fetch::{FetchError, FetchResponse, Fetcher, Trust, Validators};
use crate::redact::RedactedUrl;
use crate::store::{ArticleRecord, ArticleStatus, Store};

/// What a finished article does to the stored posts: computed by the pipeline (which owns
/// normalization) from the article record.
#[derive(Debug, Default)]
pub struct Outcome {
    pub posts: Vec<Post>,
    pub skipped: Vec<SkippedEntry>,
    /// Delete stored posts of the skipped entries (a Reddit post removed after publishing).
    pub withdraw: bool,
    /// The feed the posts belong to, for the optional language-model step.
    pub feed: Option<FeedConfig>,
}

/// Turns the cached article into posts; built by the pipeline with the entry and feed it needs.
pub type Finish = Box<dyn FnOnce(&ArticleRecord) -> Outcome + Send + Sync>;

/// One linked page to fetch for one entry.
pub struct ArticleJob {
    pub feed_id: i64,
    pub feed_name: String,
    /// The entry's link (the cache key).
    pub url: String,
    /// The configured feed's origin: the link is fetched on the feed's say-so, so only that
    /// origin (and the operator's exceptions) may be internal (src/fetch/guard.rs).
    pub trust: Trust,
    pub extractor: Extractor,
    pub finish: Finish,
}

/// Runs article jobs in the background, bounded and polite. Shared by `fetch` (which waits for
/// the jobs before its summary) and `run` (where retries wait out their backoff).
pub struct ArticleService {
    settings: ArticleSettings,
    fetcher: Fetcher,
    store: Arc<dyn Store>,
    permits: Semaphore,
    /// When the next request to each host may start.
    hosts: Mutex<HashMap<String, tokio::time::Instant>>,
    /// URLs with a job queued or running: a second poll does not queue the same page twice.
    in_flight: Mutex<HashSet<String>>,
    tracker: TaskTracker,
    cancel: CancellationToken,
    /// Whether failed jobs wait for their retry time in this process (the daemon) or are left
    /// to a later poll (one-shot `fetch`, which must end).
    retry_in_process: AtomicBool,
    stats: Mutex<Stats>,
    /// The optional language-model step and `[enrich].max_tags`: posts updated with their
    /// article go through it like posts of a poll, so the article does not undo the enrichment.
    model: Mutex<Option<(Arc<ModelClient>, usize)>>,
}

impl ArticleService {
    pub fn new(
        settings: &ArticleSettings,
        http: &HttpSettings,
        store: Arc<dyn Store>,
        retry_in_process: bool,
        hosts_of: Option<&Fetcher>,
    ) -> Result<ArticleService, reqwest::Error> {
        let http = http_settings(settings, http);
        // Article pages queue at a host with its feeds (one host scheduler for every request).
        let fetcher = match hosts_of {
            Some(feeds) => Fetcher::sharing_hosts(&http, feeds)?,
            None => Fetcher::new(&http)?,
        };
        Ok(ArticleService {
            settings: settings.clone(),
            fetcher,
            store,
            permits: Semaphore::new(settings.concurrency.max(1)),
            hosts: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashSet::new()),
            tracker: TaskTracker::new(),
            cancel: CancellationToken::new(),
            retry_in_process: AtomicBool::new(retry_in_process),
            stats: Mutex::new(Stats::default()),
            model: Mutex::new(None),
        })
    }

    /// The daemon sets this: failed pages wait out their backoff in the process and are tried
    /// again. One-shot `fetch` leaves them to a later run, so it can end.
    pub fn set_retry_in_process(&self, on: bool) {
        self.retry_in_process.store(on, Ordering::Relaxed);
    }

    /// Set (or, after a reload, replace) the language-model step applied to article posts.
    pub fn set_model(&self, model: Option<Arc<ModelClient>>, max_tags: usize) {
        *lock(&self.model) = model.map(|m| (m, max_tags));
    }

    pub fn settings(&self) -> &ArticleSettings {
        &self.settings
    }

    pub fn stats(&self) -> Stats {
        *lock(&self.stats)
    }

    /// Whether a job for `url` is queued or running.
    pub fn is_queued(&self, url: &str) -> bool {
        lock(&self.in_flight).contains(url)
    }

    /// Queue a job unless one for the same URL is already queued or running.
    pub fn submit(self: &Arc<Self>, job: ArticleJob) {
        if !lock(&self.in_flight).insert(job.url.clone()) {
            return;
        }
        let this = Arc::clone(self);
        self.tracker.spawn(async move {
            let url = job.url.clone();
            this.run_job(job).await;
            lock(&this.in_flight).remove(&url);
        });
    }

    /// Wait until every queued job has finished (one-shot `fetch`, tests).
    pub async fn drain(&self) {
        self.tracker.close();
        self.tracker.wait().await;
        self.tracker.reopen();
    }

    /// Wait for the queued jobs at most `deadline` (`[articles] fetch_deadline`, `fetch
    /// --articles-wait`); then the rest are stopped, and stay in the stored queue for the next
    /// run. True when every job finished in time.
    pub async fn drain_for(&self, deadline: Duration) -> bool {
        self.tracker.close();
        let done = tokio::time::timeout(deadline, self.tracker.wait())
            .await
            .is_ok();
        if !done {
            self.cancel.cancel();
            self.tracker.wait().await;
        }
        self.tracker.reopen();
        done
    }

    async fn dequeue(&self, url: &str) {
        if let Err(e) = self.store.dequeue_article(url).await {
            warn!(url = %RedactedUrl::new(url), "cannot take the article job off the stored queue (it is tried again later): {e}");
        }
    }

    /// Stop: running fetches are abandoned (their entries are picked up again by a later poll).
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        self.drain().await;
    }

    /// Jobs queued or running.
    pub fn pending(&self) -> usize {
        lock(&self.in_flight).len()
    }

    async fn run_job(self: &Arc<Self>, job: ArticleJob) {
        loop {
            let record = tokio::select! {
                _ = self.cancel.cancelled() => return,
                r = self.attempt(&job) => r,
            };
            let (record, refused) = match record {
                Some(r) => r,
                None => return,
            };
            if let Err(e) = self.store.put_article(&record).await {
                warn!(url = %RedactedUrl::new(&job.url), "cannot store the article: {e}");
                return;
            }
            match record.status {
                ArticleStatus::Ok | ArticleStatus::Removed => {
                    let ArticleJob {
                        feed_id,
                        feed_name,
                        url,
                        finish,
                        ..
                    } = job;
                    let outcome = finish(&record);
                    self.apply(feed_id, &feed_name, &url, outcome).await;
                    self.dequeue(&url).await;
                    return;
                }
                _ => {}
            }
            // Failed: retry in this process only when allowed and attempts remain. A job given
            // up leaves the stored queue; one that may still succeed stays in it for a later
            // run (one-shot `fetch`) or a later attempt here (the daemon).
            let give_up = refused || record.failures >= i64::from(self.settings.max_attempts);
            if give_up {
                self.dequeue(&job.url).await;
            }
            let Some(at) = record
                .next_attempt_at
                .filter(|_| self.retry_in_process.load(Ordering::Relaxed) && !give_up)
            else {
                return;
            };
            let wait = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
            tokio::select! {
                _ = self.cancel.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn apply(&self, feed_id: i64, feed_name: &str, url: &str, mut outcome: Outcome) {
        if outcome.posts.is_empty() && outcome.skipped.is_empty() {
            return;
        }
        let model = lock(&self.model).clone();
        if let (Some((client, max_tags)), Some(feed)) = (model, &outcome.feed) {
            crate::enrich::llm::enrich_posts(
                &*self.store,
                &client,
                feed,
                &mut outcome.posts,
                max_tags,
            )
            .await;
        }
        match self
            .store
            .save_entries(feed_id, &outcome.posts, &outcome.skipped, outcome.withdraw)
            .await
        {
            Ok(report) => {
                let mut stats = lock(&self.stats);
                stats.posts_new += report.new as u64;
                stats.posts_updated += report.updated as u64;
                drop(stats);
                info!(
                    feed = %feed_name,
                    url = %RedactedUrl::new(url),
                    new = report.new,
                    updated = report.updated,
                    skipped = report.skipped,
                    "article applied"
                );
            }
            Err(e) => {
                warn!(feed = %feed_name, url = %RedactedUrl::new(url), "cannot store the post with its article: {e}")
            }
        }
    }

    /// Wait for this host's turn (the per-host interval, or a `Retry-After` it sent).
    async fn host_turn(&self, url: &str) {
        let host = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            .unwrap_or_default();
        let start = {
            let mut hosts = lock(&self.hosts);
            let now = tokio::time::Instant::now();
            let next = hosts.get(&host).copied().unwrap_or(now).max(now);
            hosts.insert(host, next + self.settings.per_host_interval);
            next
        };
        tokio::time::sleep_until(start).await;
    }

    fn host_retry_after(&self, url: &str, until: DateTime<Utc>) {
        let Some(host) = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        else {
            return;
        };
        let wait = (until - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        let at = tokio::time::Instant::now() + wait.min(Duration::from_secs(24 * 3600));
        let mut hosts = lock(&self.hosts);
        let e = hosts.entry(host).or_insert(at);
        *e = (*e).max(at);
    }

    /// One fetch + extraction, and whether the network guard refused it. `None` when the cache
    /// already answers (another job stored it).
    async fn attempt(&self, job: &ArticleJob) -> Option<(ArticleRecord, bool)> {
        let previous = self
            .store
            .get_articles(std::slice::from_ref(&job.url))
            .await
            .ok()
            .and_then(|mut m| m.remove(&job.url));
        let extractor_key = job.extractor.key();
        let failures = previous
            .as_ref()
            .filter(|p| p.status == ArticleStatus::Failed)
            .map_or(0, |p| p.failures);
        let validators = match &previous {
            Some(p) if p.status != ArticleStatus::Failed && p.extractor == extractor_key => {
                Validators {
                    etag: p.etag.clone(),
                    last_modified: p.last_modified.clone(),
                }
            }
            _ => Validators::default(),
        };
        let fetch_url = job.extractor.fetch_url(&job.url);

        let _permit = self.permits.acquire().await.ok()?;
        self.host_turn(&fetch_url).await;
        let started = std::time::Instant::now();
        let now = Utc::now().trunc_subsecs(0);
        let mut record = ArticleRecord {
            url: job.url.clone(),
            status: ArticleStatus::Failed,
            extractor: extractor_key,
            content_html: None,
            etag: None,
            last_modified: None,
            http_status: None,
            error: None,
            failures: failures + 1,
            fetched_at: now,
            next_attempt_at: None,
        };
        let result = self
            .fetcher
            .fetch(&fetch_url, &validators, &job.trust)
            .await;
        let mut guard_refused = false;
        match result {
            Err(e) if e.is_refused() => {
                // Nothing was sent. Retrying in this process cannot change the answer, so the
                // job ends here; a later poll tries again after the backoff (by then the
                // operator may have added the host to `[http] allow_hosts`).
                guard_refused = true;
                record.next_attempt_at = Some(self.retry_time(now, record.failures, &e));
                record.error = Some(e.to_string());
            }
            Err(e) => {
                if let Some(until) = e.retry_after() {
                    self.host_retry_after(&fetch_url, until);
                }
                record.http_status = e.http_status().map(i64::from);
                record.next_attempt_at = Some(self.retry_time(now, record.failures, &e));
                record.error = Some(e.to_string());
            }
            Ok(FetchResponse::NotModified { .. }) => {
                // The cached extraction still holds.
                let mut p = previous?;
                p.fetched_at = now;
                return Some((p, false));
            }
            Ok(FetchResponse::Modified(doc)) => {
                record.http_status = Some(i64::from(doc.status));
                record.etag = doc.etag.clone();
                record.last_modified = doc.last_modified.clone();
                let extractor = job.extractor.clone();
                let page_url = doc.final_url.clone();
                let comments_url = job.url.clone();
                let content_type = doc.content_type.clone();
                let body = doc.body;
                let extracted = tokio::task::spawn_blocking(move || {
                    extract_body(
                        &body,
                        content_type.as_deref(),
                        &page_url,
                        &comments_url,
                        &extractor,
                    )
                })
                .await
                .unwrap_or_else(|e| Err(ArticleError::Task(e)));
                match extracted {
                    Ok(Extracted::Content(html)) => {
                        record.status = ArticleStatus::Ok;
                        record.content_html = Some(html);
                        record.failures = 0;
                    }
                    Ok(Extracted::Removed(reason)) => {
                        record.status = ArticleStatus::Removed;
                        record.error = Some(reason);
                        record.failures = 0;
                    }
                    Err(e) => {
                        // The page is there but holds nothing usable: retrying soon won't help.
                        record.error = Some(e.to_string());
                        record.failures = i64::from(self.settings.max_attempts);
                    }
                }
            }
        }
        let mut stats = lock(&self.stats);
        match record.status {
            ArticleStatus::Ok => stats.fetched += 1,
            ArticleStatus::Removed => stats.removed += 1,
            ArticleStatus::Failed => {
                stats.failed += 1;
                stats.refused += u64::from(guard_refused);
                warn!(
                    feed = %job.feed_name,
                    url = %RedactedUrl::new(&job.url),
                    attempt = record.failures,
                    error = record.error.as_deref().unwrap_or(""),
                    "article not fetched; the post keeps the feed's content"
                );
            }
        }
        debug!(url = %RedactedUrl::new(&job.url), status = %record.status, ms = started.elapsed().as_millis() as u64, "article");
        Some((record, guard_refused))
    }

    fn retry_time(&self, now: DateTime<Utc>, failures: i64, e: &FetchError) -> DateTime<Utc> {
        let exp = u32::try_from(failures.saturating_sub(1))
            .unwrap_or(0)
            .min(16);
        let backoff = self.settings.retry_backoff.saturating_mul(1u32 << exp);
        let backoff = chrono::Duration::from_std(backoff).unwrap_or(chrono::Duration::days(1));
        let at = now + backoff;
        e.retry_after().map_or(at, |r| r.max(at))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}
