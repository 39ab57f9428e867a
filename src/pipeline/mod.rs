//! The poll of one feed, in stages that follow the data: [`poll`] (fetch -> [`document`] ->
//! article plan -> [`build_batch`] -> model step) produces a [`Polled`] value and writes nothing;
//! [`record`] stores it. [`refresh`] is the two in a row, and [`refresh_leased`] holds the feed's
//! lease around them: `run` and `fetch` both poll through it, so neither has its own pipeline
//! and a `fetch` beside a daemon never polls a feed the daemon is polling. `inspect` runs
//! [`poll`] on a document it read ([`Source::Read`]: no model step) against a scratch store.
//!
//! A feed's failure (network, HTTP status, unparsable document) is *data*: it is recorded on the
//! feed and returned in the report, never propagated, so one broken feed cannot stop the others.
//! Only a storage failure is an error, because then nothing can be recorded at all.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use tracing::{info, warn, Instrument};

use crate::app::App;

mod articles;
mod batch;
pub mod document;
mod poll;
mod record;
use crate::domain::{FeedConfig, ParsedFeed};
use crate::redact::RedactedUrl;
use crate::store::{
    dead_local_owner, Claim, FeedRecord, Lease, Outcome, PollRecord, SaveReport, StoreError,
};
pub use articles::{extractor_for, pages_wanted, resume as resume_articles, substitute};
use batch::newest;
pub use batch::{build_batch, Batch};
pub use poll::{poll, Polled, Source};
pub use record::record;

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

/// Poll one feed once and store the result, inside a `poll` span (feed name and URL) and with
/// one log line for the outcome. See the module doc for the error contract.
pub async fn refresh(
    app: &App,
    feed: &FeedConfig,
    record: &FeedRecord,
) -> Result<FeedReport, StoreError> {
    let span = tracing::info_span!("poll", feed = %feed.name, url = %RedactedUrl::new(&feed.url));
    let result = async {
        let polled = poll(app, feed, record, Source::Fetch).await?;
        for w in &polled.warnings {
            warn!(feed = %feed.name, url = %RedactedUrl::new(&feed.url), "entry skipped: {w}");
        }
        self::record(app, feed, record, polled).await
    }
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

/// [`refresh`] of a feed whose lease `owner` holds (from `claim_due`), renewing the lease every
/// third of `[schedule] lease` while the poll runs, so a slow poll is not taken over by another
/// replica or a `fetch`. `save_poll` releases the lease.
pub async fn refresh_leased(
    app: &App,
    feed: &FeedConfig,
    record: &FeedRecord,
    owner: &str,
) -> Result<FeedReport, StoreError> {
    let lease = app.settings.schedule.lease;
    let renew_every = (lease / 3).max(Duration::from_millis(500));
    let poll = refresh(app, feed, record);
    tokio::pin!(poll);
    // The lease is renewed by a future polled *beside* the poll, never inside a select arm: an
    // arm's body suspends the poll, and a poll holding a transaction while its renewal waits for
    // a pooled connection would starve the pool (every connection held by a suspended poll,
    // every renewal waiting for one).
    let renewer = async {
        let mut renew =
            tokio::time::interval_at(tokio::time::Instant::now() + renew_every, renew_every);
        loop {
            renew.tick().await;
            match app
                .store
                .renew_lease(record.id, Lease::for_ttl(owner, lease))
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    warn!(feed = %feed.name, "lease lost while polling; another replica may poll it too")
                }
                Err(e) => warn!(feed = %feed.name, "cannot renew the lease: {e}"),
            }
        }
    };
    tokio::select! {
        result = &mut poll => result,
        () = renewer => unreachable!("the lease renewal loops until the poll ends"),
    }
}

/// Free the feed leases of processes of this host that are gone ([`dead_local_owner`]), before
/// `fetch` or the daemon claims anything: a killed process's leases would otherwise keep its
/// feeds from every poll until they expire. Returns how many feeds were freed; a failure is
/// logged and changes nothing (the leases then expire as before).
pub async fn break_dead_leases(app: &App) -> u64 {
    let owners = match app.store.feed_lease_owners().await {
        Ok(owners) => owners,
        Err(e) => {
            warn!("cannot read the feeds' leases: {e}");
            return 0;
        }
    };
    let dead: Vec<String> = owners.into_iter().filter(|o| dead_local_owner(o)).collect();
    if dead.is_empty() {
        return 0;
    }
    match app.store.break_feed_leases(&dead).await {
        Ok(freed) => {
            tracing::info!(feeds = freed, owners = ?dead, "freed the feed leases of feedsmith processes on this host that are no longer running");
            freed
        }
        Err(e) => {
            warn!("cannot free the leases of stopped processes: {e}");
            0
        }
    }
}

/// For `fetch`: take the leases of the feeds at `urls` (configured URLs) now, whatever their
/// due time, so a daemon (or another `fetch`) on the same database does not poll them at the
/// same moment. Returns the records of the feeds this process may poll now; the others are
/// being polled elsewhere, or are marked gone (never leased: the daemon does not poll them).
pub async fn claim_now(
    app: &App,
    urls: &[String],
    owner: &str,
) -> Result<Vec<FeedRecord>, StoreError> {
    let lease = Lease::for_ttl(owner, app.settings.schedule.lease);
    app.store
        .claim_due(&Claim::regardless_of_due(urls, lease))
        .await
}

/// For `fetch`: [`claim_now`] of a batch of configured feeds, with each feed's record read in
/// the same step, so `fetch` needs no record of every feed before it starts (about 10 MB
/// at 20 000 feeds). The claimed feeds' records come back from the claim itself; the others are
/// read: a feed marked gone (never leased; `fetch` asks it again) joins the claimed ones, and
/// the rest are leased by another process. When the leases cannot be taken, every feed is
/// polled without one (the polls themselves then say whether the store works). A URL with no
/// stored feed (removed by another process since this run registered it) is left out.
pub async fn claim_batch(app: &App, urls: &[String], owner: &str) -> Result<Claimed, StoreError> {
    let mut mine: HashMap<String, FeedRecord> = match claim_now(app, urls, owner).await {
        Ok(records) => records.into_iter().map(|r| (r.url.clone(), r)).collect(),
        Err(e) => {
            warn!("cannot take the feeds' leases; polling without them: {e}");
            let all = app.store.feeds_by_url(urls).await?;
            return Ok(Claimed {
                mine: all.into_iter().map(|r| (r.url.clone(), r)).collect(),
                elsewhere: HashMap::new(),
            });
        }
    };
    let rest: Vec<String> = urls
        .iter()
        .filter(|u| !mine.contains_key(*u))
        .cloned()
        .collect();
    let mut elsewhere = HashMap::new();
    if !rest.is_empty() {
        for r in app.store.feeds_by_url(&rest).await? {
            if r.gone {
                mine.insert(r.url.clone(), r);
            } else {
                elsewhere.insert(r.url.clone(), r);
            }
        }
    }
    Ok(Claimed { mine, elsewhere })
}

/// What [`claim_batch`] found, by configured URL.
pub struct Claimed {
    /// The feeds this process polls now.
    pub mine: HashMap<String, FeedRecord>,
    /// The feeds another process holds the lease of.
    pub elsewhere: HashMap<String, FeedRecord>,
}

/// The report of a feed `fetch` did not poll because another process holds its lease: deferred
/// (no failure, no backoff), with the reason.
pub fn leased_elsewhere(feed: &FeedConfig) -> FeedReport {
    let mut report = FeedReport::empty(&feed.name, &feed.url);
    report.outcome = Outcome::Deferred;
    report.error = Some(
        "another feedsmith process (a daemon or another fetch on this database) is polling it now"
            .into(),
    );
    report
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
        .save_poll(
            record.id,
            &failed,
            Vec::new(),
            Vec::new(),
            crate::store::Keep::Counts,
        )
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
