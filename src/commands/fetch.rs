//! `feedsmith fetch`: poll the configured feeds once, store, print a summary, exit.

use std::borrow::Cow;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, Utc};

use futures_util::stream::{self, StreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::cli::FetchArgs;
use crate::config::Settings;
use crate::domain::FeedConfig;
use crate::error::{CommandError, Exit};
use crate::pipeline::{claim_batch, claim_now, leased_elsewhere, refresh_leased, FeedReport};
use crate::store::lease_owner;
use crate::store::{FeedRecord, Outcome, StoreError};
use crate::telemetry;

pub async fn run(settings: Settings, args: &FetchArgs) -> Result<Exit, CommandError> {
    let selected = settings
        .select_feeds(&args.feeds)
        .map_err(|e| CommandError::Usage(e.to_string()))?;
    if selected.is_empty() {
        return Err(CommandError::Usage(format!(
            "no enabled feeds in {}: add [[feeds]] tables (config/feedsmith.toml in the repository is an example)",
            settings.source
        )));
    }
    let db_url = settings.database.url.clone();
    let app = Arc::new(App::build(settings).await?);
    app.store
        .check_writable()
        .await
        .map_err(|e| e.at(&db_url))?;
    // Each feed's record is read when its lease is taken (pipeline::claim_batch). The selected
    // feeds are copied only when they are not all of them in order.
    {
        let all = &app.settings.feeds;
        let chosen: Cow<'_, [FeedConfig]> = if selected.iter().copied().eq(0..all.len()) {
            Cow::Borrowed(all.as_slice())
        } else {
            Cow::Owned(selected.iter().map(|&i| all[i].clone()).collect())
        };
        app.store
            .register_feeds(&chosen)
            .await
            .map_err(|e| e.at(&db_url))?;
    }
    // A killed earlier run's leases would keep its feeds from this run until they expire.
    crate::pipeline::break_dead_leases(&app).await;
    // Pages queued by an earlier run (full content) continue beside the polls.
    let feeds: Vec<&FeedConfig> = selected.iter().map(|&i| &app.settings.feeds[i]).collect();
    if let Err(e) = crate::pipeline::resume_articles(&app, &feeds).await {
        tracing::warn!("cannot read the article queue: {e}");
    }
    // Webhooks get the events of this run's polls: their cursors exist before the first poll.
    let deliveries =
        crate::events::deliver::Worker::new(Arc::clone(&app.store), &app.settings.http.user_agent)
            .map_err(|e| CommandError::Runtime(format!("cannot build the webhook client: {e}")))?;
    let delivery_config = super::webhooks::worker_config(&app.settings);
    deliveries
        .register(&delivery_config)
        .await
        .map_err(|e| e.at(&db_url))?;
    let started = Instant::now();
    let total = selected.len();
    let grace = app.settings.schedule.shutdown_grace;
    let stop = Stop::listen()?;

    let bar = progress_bar(selected.len() as u64, args.json);
    // The polls run as one task on the runtime's worker threads, beside the tasks of the HTTP
    // connections and of the store, rather than in `block_on` on the main thread: a future woken
    // by a task on its own worker is polled there, while waking the main thread is a futex call
    // and a context switch, several per feed (a warm fetch of 2000 feeds: 13% less CPU).
    let done = Arc::new(std::sync::Mutex::new(Tally {
        keep_all: args.json,
        ..Tally::default()
    }));
    let mut polls = tokio::spawn(poll_all(
        Arc::clone(&app),
        selected,
        bar.clone(),
        stop.token.clone(),
        Arc::clone(&done),
    ));
    // On SIGTERM/SIGINT no poll starts any more; those in flight get `shutdown_grace` to finish.
    let finished = tokio::select! {
        joined = &mut polls => Some(joined),
        () = async { stop.token.cancelled().await; tokio::time::sleep(grace).await } => None,
    };
    match finished {
        Some(Ok(())) => {}
        Some(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Some(Err(e)) => {
            return Err(CommandError::Runtime(format!(
                "the polls were cancelled: {e}"
            )))
        }
        None => {
            polls.abort();
            let _ = polls.await;
        }
    }
    let tally = std::mem::take(&mut *done.lock().unwrap_or_else(|p| p.into_inner()));
    // Linked pages queued by the polls (full content): the run waits for them at most
    // `[articles] fetch_deadline` (`--articles-wait`), not after a signal (the grace is used
    // up); what is left stays in the stored queue for the next run.
    let pending = app.articles.pending();
    let wait = match stop.signal() {
        Some(_) => Duration::ZERO,
        None => args
            .articles_wait
            .unwrap_or(app.settings.articles.fetch_deadline),
    };
    if pending > 0 {
        bar.set_message(format!("{pending} article pages"));
        app.articles.drain_for(wait).await;
    }
    let queued = match app.store.queued_articles().await {
        Ok(q) => q.len(),
        Err(e) => {
            tracing::warn!("cannot count the article queue: {e}");
            0
        }
    };
    // The webhooks' deliveries, within [events] deliver_deadline (what is left waits for the
    // next fetch or for `run`: it is in the database).
    if !delivery_config.webhooks.is_empty() && stop.signal().is_none() {
        bar.set_message("webhook deliveries");
        match deliveries
            .drain(
                &delivery_config,
                delivery_config.events.deliver_deadline,
                &stop.token,
            )
            .await
        {
            Ok((report, 0)) => tracing::debug!(
                delivered = report.delivered,
                retried = report.retried,
                dead = report.dead,
                "webhooks: every delivery done"
            ),
            Ok((report, pending)) => tracing::warn!(
                delivered = report.delivered,
                dead = report.dead,
                pending,
                "webhooks: deliveries still pending at [events] deliver_deadline; the next fetch or `run` sends them"
            ),
            Err(e) => tracing::error!("webhooks: delivery failed: {e}"),
        }
    }
    bar.finish_and_clear();
    telemetry::clear_progress_bar();
    // `[publish] git`: one commit for the whole run (before the store closes: the lease).
    let git_failed = super::export::git_commit(&app).await;
    app.store.close().await;

    if let Some(e) = tally.error {
        return Err(e.into());
    }
    let reports = tally.kept;
    let mut summary = tally.summary;
    summary.elapsed_ms = started.elapsed().as_millis();
    let articles = app.articles.stats();
    summary.articles = (articles.fetched, articles.failed);
    summary.articles_queued = queued;
    summary.new += articles.posts_new as usize;
    summary.updated += articles.posts_updated as usize;
    if args.json {
        let json = serde_json::to_string_pretty(&reports)
            .map_err(|e| CommandError::Runtime(e.to_string()))?;
        crate::outln!("{json}")?;
    }
    let json_logs = telemetry::is_json();
    let mut failures: Vec<&FeedReport> = reports
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Failed | Outcome::Deferred))
        .collect();
    // Failures first, then the deferred (not failures: the next run polls them), by name.
    failures.sort_by(|a, b| {
        (a.outcome == Outcome::Deferred, &a.name).cmp(&(b.outcome == Outcome::Deferred, &b.name))
    });
    if summary.failed > 0 && !json_logs {
        eprintln!("{} failed:", summary.failed);
    }
    for r in &failures {
        let error = r.error.as_deref().unwrap_or("unknown error");
        // Fetch errors start with the URL already printed in the parentheses.
        let shown = crate::redact::redact_url(&r.url);
        let error = error.strip_prefix(&format!("{shown}: ")).unwrap_or(error);
        let what = if r.outcome == Outcome::Deferred {
            "deferred"
        } else {
            "failed"
        };
        if json_logs {
            tracing::warn!(feed = %r.name, url = %shown, error, "{what}");
        } else {
            eprintln!("{what}: {} ({shown}): {error}", r.name);
        }
    }
    if json_logs {
        tracing::info!(
            ok = summary.ok,
            not_modified = summary.not_modified,
            failed = summary.failed,
            deferred = summary.deferred,
            posts_new = summary.new,
            posts_updated = summary.updated,
            articles_fetched = summary.articles.0,
            articles_failed = summary.articles.1,
            articles_queued = summary.articles_queued,
            elapsed_ms = summary.elapsed_ms as u64,
            "{summary}"
        );
    } else {
        eprintln!("{summary}");
    }
    if let Some((name, code)) = stop.signal() {
        let polled = summary.ok + summary.not_modified + summary.failed;
        eprintln!(
            "stopped by {name}: {} of {total} feeds not polled (they are polled by the next run)",
            total.saturating_sub(polled)
        );
        return Ok(code);
    }
    if git_failed {
        // The posts are stored and exported; the commit or push is what failed (logged above).
        return Ok(Exit::Fatal);
    }
    Ok(exit_code(&summary))
}

/// 0 when every feed was polled, 3 when some failed, 4 when all of them did (a run that stored
/// nothing is a different alarm from one bad feed).
fn exit_code(summary: &Summary) -> Exit {
    let polled = summary.ok + summary.not_modified;
    match (summary.failed, polled) {
        (0, _) => Exit::Ok,
        (_, 0) => Exit::AllFeedsFailed,
        _ => Exit::FeedsFailed,
    }
}

/// SIGTERM and SIGINT while `fetch` runs: the first one stops new polls (and is remembered for
/// the exit code); the default action (dying at once, exit 143 without a summary) is replaced.
struct Stop {
    token: CancellationToken,
    /// 0 until a signal arrives, then 2 (SIGINT) or 15 (SIGTERM).
    signal: Arc<AtomicI32>,
}

impl Stop {
    fn listen() -> Result<Stop, CommandError> {
        use tokio::signal::unix::{signal, SignalKind};
        let failed =
            |e: std::io::Error| CommandError::Runtime(format!("cannot handle signals: {e}"));
        let mut term = signal(SignalKind::terminate()).map_err(failed)?;
        let mut int = signal(SignalKind::interrupt()).map_err(failed)?;
        let stop = Stop {
            token: CancellationToken::new(),
            signal: Arc::new(AtomicI32::new(0)),
        };
        let (token, got) = (stop.token.clone(), Arc::clone(&stop.signal));
        tokio::spawn(async move {
            let (n, name) = tokio::select! {
                _ = term.recv() => (libc::SIGTERM, "SIGTERM"),
                _ = int.recv() => (libc::SIGINT, "SIGINT"),
            };
            got.store(n, Ordering::SeqCst);
            tracing::warn!("{name}: no new polls; waiting for the polls in flight");
            token.cancel();
        });
        Ok(stop)
    }

    /// The signal that stopped the run, and the exit code it means by convention (128 + n).
    fn signal(&self) -> Option<(&'static str, Exit)> {
        match self.signal.load(Ordering::SeqCst) {
            libc::SIGTERM => Some(("SIGTERM", Exit::Terminated)),
            libc::SIGINT => Some(("SIGINT", Exit::Interrupted)),
            _ => None,
        }
    }
}

/// Poll every feed (at most the HTTP concurrency at once) and push the reports, in
/// completion order, into `done` (so the polls finished before a grace period ran out are kept
/// when the rest are cancelled). Once `stop` is cancelled, no further poll starts.
async fn poll_all(
    app: Arc<App>,
    feeds: Vec<usize>,
    bar: ProgressBar,
    stop: CancellationToken,
    done: Arc<std::sync::Mutex<Tally>>,
) {
    // Fetch permits inside the fetcher bound the HTTP work; this bound keeps finished bodies,
    // parsed documents and normalized posts from piling up in memory while they wait for the
    // blocking pool and the writer. Twice the HTTP concurrency held 8-9 MB more at the peak of
    // the 2000-feed cold fetch (53-54 MB against 45 MB) for no measured gain in time: the cold
    // fetch is CPU-bound (docs/performance.md, "Memory and scale").
    let in_flight = app.settings.http.concurrency.max(1);
    // Owned items (borrowing ones do not satisfy `tokio::spawn`'s higher-ranked bounds).
    let live = Arc::new(InFlight::default());
    let stop_claiming = stop.clone();
    // Whole seconds, as stored poll times are: a poll stored since then started after this run.
    let since = Utc::now().trunc_subsecs(0);
    let polling = Arc::clone(&app);
    stream::iter(feeds)
        // The feeds' leases are taken a batch at a time, just before their polls start (see
        // pipeline::claim_batch), so none runs out while its feed waits.
        .chunks(in_flight)
        .then(move |chunk| {
            let app = Arc::clone(&app);
            let stopped = stop.is_cancelled();
            async move {
                if stopped {
                    return stream::iter(Vec::new()); // no lease taken for polls that never start
                }
                let urls: Vec<String> = chunk
                    .iter()
                    .map(|&i| app.settings.feeds[i].url.clone())
                    .collect();
                let mut claimed = match claim_batch(&app, &urls, lease_owner()).await {
                    Ok(claimed) => claimed,
                    // The batch's feeds are not polled, and the run fails with the error.
                    Err(e) => return stream::iter(vec![Err(e)]),
                };
                let polls = chunk.into_iter().map(|i| {
                    let url = &app.settings.feeds[i].url;
                    let (record, mine) = match claimed.mine.remove(url) {
                        Some(record) => (record, true),
                        None => match claimed.elsewhere.remove(url) {
                            Some(record) => (record, false),
                            None => return Ok(Item::Gone(i)),
                        },
                    };
                    Ok(Item::Poll(i, Box::new(record), mine))
                });
                stream::iter(polls.collect::<Vec<_>>())
            }
        })
        .flatten()
        .take_while(move |_| std::future::ready(!stop_claiming.is_cancelled()))
        .map(|item| {
            let (app, bar, live) = (Arc::clone(&polling), bar.clone(), Arc::clone(&live));
            async move {
                let (i, record, claimed) = match item? {
                    Item::Poll(i, record, claimed) => (i, record, claimed),
                    Item::Gone(i) => {
                        let feed = &app.settings.feeds[i];
                        bar.inc(1);
                        let mut report = FeedReport::empty(&feed.name, &feed.url);
                        report.error = Some(
                            "its row is no longer in the database (removed by another feedsmith \
                             process since this run started); run fetch again to add it back"
                                .into(),
                        );
                        return Ok(report);
                    }
                };
                let feed = &app.settings.feeds[i];
                if !claimed {
                    match wait_for_lease(&app, &record, since).await {
                        Waited::Claimed => {}
                        Waited::PolledElsewhere(row) => {
                            bar.inc(1);
                            return Ok(polled_elsewhere(feed, &row));
                        }
                        Waited::Stuck => {
                            bar.inc(1);
                            return Ok(leased_elsewhere(feed));
                        }
                    }
                }
                let host = host_of(&feed.url);
                bar.set_message(live.start(&host));
                let result = refresh_leased(&app, feed, &record, lease_owner()).await;
                bar.inc(1);
                bar.set_message(live.finish(&host));
                result
            }
        })
        .buffer_unordered(in_flight)
        .for_each(|result| {
            done.lock().unwrap_or_else(|p| p.into_inner()).add(result);
            std::future::ready(())
        })
        .await
}

/// A feed of `poll_all`'s stream, once its batch was claimed, by its place in
/// `app.settings.feeds`.
enum Item {
    /// Poll it (the record, and whether this process holds its lease).
    Poll(usize, Box<FeedRecord>, bool),
    /// Its row vanished since the run registered it.
    Gone(usize),
}

/// What came of waiting for a feed whose lease another process holds.
enum Waited {
    /// The lease is this process's now: poll the feed.
    Claimed,
    /// The other process stored a poll that started after this `fetch` did (its row): that
    /// poll is this feed's result.
    PolledElsewhere(Box<FeedRecord>),
    /// Neither within `[http] max_host_wait`: the other poll is stuck.
    Stuck,
}

/// A feed whose lease another process holds (a daemon's poll, another `fetch`) is not
/// requested a second time at once. `fetch` waits until either the lease is free (it then polls
/// the feed itself, mostly a 304) or the other process has stored a poll that started after
/// `since` (this run's start) and was not deferred: either way, when `fetch` ends every feed
/// was polled after it started. Why the second case: a daemon whose schedule is due again as
/// soon as its poll is stored would otherwise keep taking the lease back between two checks.
async fn wait_for_lease(app: &App, record: &FeedRecord, since: DateTime<Utc>) -> Waited {
    let deadline = Instant::now() + app.settings.http.max_host_wait;
    let mut pause = Duration::from_millis(50);
    while Instant::now() < deadline {
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(500));
        match claim_now(app, std::slice::from_ref(&record.url), lease_owner()).await {
            Ok(mine) if !mine.is_empty() => return Waited::Claimed,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!("cannot take the feed's lease: {e}");
                return Waited::Stuck;
            }
        }
        match app.store.feed(record.id).await {
            Ok(row) => {
                // A deferred poll sent no request (the other process's host queue was full):
                // it is no poll of the feed.
                let polled = |r: &FeedRecord| {
                    r.last_polled_at.is_some_and(|at| at > since)
                        && r.last_outcome != Some(Outcome::Deferred)
                };
                if let Some(row) = row.filter(polled) {
                    return Waited::PolledElsewhere(Box::new(row));
                }
            }
            Err(e) => {
                tracing::warn!("cannot read the feed's state: {e}");
                return Waited::Stuck;
            }
        }
    }
    Waited::Stuck
}

/// The report of a feed another process polled while `fetch` waited for it: that poll's stored
/// outcome, status and error (its post counts are that process's to report).
fn polled_elsewhere(feed: &FeedConfig, row: &FeedRecord) -> FeedReport {
    let mut report = FeedReport::empty(&feed.name, &feed.url);
    report.outcome = row.last_outcome.unwrap_or(Outcome::Failed);
    report.http_status = row.last_status.and_then(|s| u16::try_from(s).ok());
    report.error = row.last_error.clone();
    tracing::info!(
        feed = %feed.name,
        outcome = report.outcome.as_str(),
        "polled by another feedsmith process while this fetch waited; its result is kept"
    );
    report
}

/// The host a feed is polled from, for the progress line (the politeness unit).
fn host_of(url: &str) -> String {
    crate::app::feed_host(url).unwrap_or_default()
}

/// Feeds being polled now, by host: the progress line shows how many are in flight and, when
/// several wait on one host, which.
#[derive(Default)]
struct InFlight {
    by_host: std::sync::Mutex<std::collections::HashMap<String, usize>>,
}

impl InFlight {
    fn start(&self, host: &str) -> String {
        self.update(host, true)
    }

    fn finish(&self, host: &str) -> String {
        self.update(host, false)
    }

    /// Count the change and return the progress message.
    fn update(&self, host: &str, started: bool) -> String {
        let Ok(mut hosts) = self.by_host.lock() else {
            return String::new();
        };
        let n = hosts.entry(host.to_string()).or_insert(0);
        if started {
            *n += 1;
        } else {
            *n = n.saturating_sub(1);
        }
        hosts.retain(|_, n| *n > 0);
        progress_message(&hosts)
    }
}

/// "12 in flight, 9 on reddit.com": the busiest host is named when it holds at least two.
fn progress_message(hosts: &std::collections::HashMap<String, usize>) -> String {
    let total: usize = hosts.values().sum();
    match hosts.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))) {
        Some((host, &n)) if n >= 2 && hosts.len() > 1 => {
            format!("{total} in flight, {n} on {host}")
        }
        Some((host, &n)) if n >= 2 => format!("{total} in flight, all on {host}"),
        _ => format!("{total} in flight"),
    }
}

fn progress_bar(len: u64, json: bool) -> ProgressBar {
    if json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} feeds, ETA {eta}  {wide_msg}",
    ) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    telemetry::set_progress_bar(&bar);
    bar
}

/// The one-line summary printed at the end.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub ok: usize,
    pub not_modified: usize,
    pub failed: usize,
    /// Polls deferred by their host's queue or pause (`[http] max_host_wait`): not failures.
    pub deferred: usize,
    pub new: usize,
    pub updated: usize,
    /// Entries not stored because their URL is (a Reddit cross-post, another feed's post).
    pub duplicates: usize,
    pub elapsed_ms: u128,
    /// Article pages fetched and failed (full content).
    pub articles: (u64, u64),
    /// Article pages still in the stored queue at the end (the next run continues them).
    pub articles_queued: usize,
    /// Entries dropped by each rule (`keep_only` for the keep-list).
    pub rule_drops: std::collections::BTreeMap<String, usize>,
}

impl Summary {
    /// Count one feed's report.
    fn add(&mut self, r: &FeedReport) {
        match r.outcome {
            Outcome::Ok => self.ok += 1,
            Outcome::NotModified => self.not_modified += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Deferred => self.deferred += 1,
        }
        self.new += r.saved.new;
        self.updated += r.saved.updated;
        self.duplicates += r.saved.duplicates;
        for (rule, n) in &r.rule_drops {
            *self.rule_drops.entry(rule.clone()).or_default() += n;
        }
    }
}

/// The polls' results as they finish: counted into the summary at once, and kept only where
/// they are printed (every report with `--json`, else the failed and deferred ones). Why: a
/// fetch of 20 000 feeds held every feed's report (name, URL, counts, rule drops) until the
/// end only to count them.
#[derive(Default)]
struct Tally {
    summary: Summary,
    kept: Vec<FeedReport>,
    /// The first storage failure, which fails the command once the polls have ended.
    error: Option<StoreError>,
    keep_all: bool,
}

impl Tally {
    fn add(&mut self, result: Result<FeedReport, StoreError>) {
        match result {
            Ok(report) => {
                self.summary.add(&report);
                if self.keep_all || matches!(report.outcome, Outcome::Failed | Outcome::Deferred) {
                    self.kept.push(report);
                }
            }
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "feeds: {} ok, {} not modified, {} failed",
            self.ok, self.not_modified, self.failed,
        )?;
        if self.deferred > 0 {
            // Not failures: their host was busy past [http] max_host_wait, or paused.
            write!(f, ", {} deferred", self.deferred)?;
        }
        write!(f, "; posts: {} new, {} updated", self.new, self.updated)?;
        if self.duplicates > 0 {
            let s = if self.duplicates == 1 { "" } else { "s" };
            write!(f, ", {} duplicate{s}", self.duplicates)?;
        }
        if !self.rule_drops.is_empty() {
            let n: usize = self.rule_drops.values().sum();
            write!(
                f,
                ", {n} dropped by rules ({})",
                crate::rules::drops_summary(&self.rule_drops)
            )?;
        }
        write!(f, "; {:.1}s", self.elapsed_ms as f64 / 1000.0)?;
        if self.articles != (0, 0) || self.articles_queued > 0 {
            write!(
                f,
                "; articles: {} fetched, {} failed, {} queued",
                self.articles.0, self.articles.1, self.articles_queued
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_tell_some_failed_from_all_failed() {
        let s = |ok, not_modified, failed| Summary {
            ok,
            not_modified,
            failed,
            ..Summary::default()
        };
        assert_eq!(exit_code(&s(3, 1, 0)), Exit::Ok);
        assert_eq!(exit_code(&s(0, 0, 0)), Exit::Ok);
        assert_eq!(exit_code(&s(2, 0, 1)), Exit::FeedsFailed);
        assert_eq!(exit_code(&s(0, 1, 1)), Exit::FeedsFailed);
        assert_eq!(exit_code(&s(0, 0, 5)), Exit::AllFeedsFailed);
    }

    #[test]
    fn the_progress_line_names_the_busiest_host() {
        let live = InFlight::default();
        assert_eq!(live.start("a.example"), "1 in flight");
        assert_eq!(live.start("a.example"), "2 in flight, all on a.example");
        assert_eq!(live.start("b.example"), "3 in flight, 2 on a.example");
        assert_eq!(live.finish("a.example"), "2 in flight");
        assert_eq!(live.finish("a.example"), "1 in flight");
        assert_eq!(live.finish("b.example"), "0 in flight");
    }
}
