//! The daemon's scheduler: cron ticks decide when feedsmith *looks*, the due-time policy
//! ([`policy`]) decides whether a feed may be polled then, and [`crate::pipeline::refresh_leased`] does
//! the work, exactly as `fetch` does.
//!
//! Design:
//! - one tokio-cron-scheduler job per distinct cron expression (not one per feed: a thousand
//!   feeds on the default schedule are one job), plus a one-second heartbeat job that proves the
//!   scheduler loop is alive (watchdog, `/readyz`) and measures its lag;
//! - on a tick, each feed of the schedule waits its deterministic jitter (a hash of its URL, spread
//!   over half the schedule's period, at most `[schedule].max_jitter`, 10 minutes by default), then is polled if it is due and not
//!   already running; the fetcher's global and per-host semaphores bound the actual HTTP work, so
//!   a slow feed only ever holds its own slot;
//! - shutdown: stop ticking, let in-flight polls finish within the grace period, then cancel the
//!   rest. A cancelled poll drops its transaction uncommitted: no half-stored feed.

/// The due-time policy, a pure module of its own (the pipeline applies it too).
pub use crate::policy;

mod polls;
use polls::Polls;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use tokio_cron_scheduler::{Job, JobScheduler};
use tracing::{error, info, warn};
use uuid::Uuid;

use crate::app::{render_options, App};
use crate::config::{self, Settings};
use crate::domain::FeedConfig;
use crate::fetch::Fetcher;
use crate::pipeline::refresh_leased;
use crate::store::{Claim, FeedRecord, Lease, Outcome, StoreError};
use crate::systemd;

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("scheduler: {0}")]
    Cron(#[from] tokio_cron_scheduler::JobSchedulerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// Where `reload` re-reads the configuration from.
#[derive(Debug, Clone)]
pub struct ConfigSource {
    pub path: Option<PathBuf>,
    pub database_url: Option<String>,
}

pub struct Daemon {
    app: RwLock<Arc<App>>,
    sched: tokio::sync::Mutex<JobScheduler>,
    jobs: tokio::sync::Mutex<Vec<Uuid>>,
    /// URLs of the feeds this process is polling now. Checked *before* a claim: a claim made
    /// while this process's own earlier poll of the feed was finishing (its lease just released
    /// by `save_poll`, the URL not yet taken out of this set) used to be dropped with its lease
    /// held, so nobody polled the feed until the lease ran out.
    running: Mutex<HashSet<String>>,
    /// The poll tasks: their jitter, and the stop and grace of shutdown.
    polls: Polls,
    /// Unix milliseconds of the last heartbeat tick (0: never).
    heartbeat_ms: AtomicI64,
    source: ConfigSource,
    /// This replica's lease owner id: host, process and start time.
    owner: String,
}

/// Continue the stored article queue of `feeds`, logged (a store error waits for the next
/// try): at start and on every tick.
async fn resume_articles(app: &App, feeds: &[&FeedConfig]) {
    match crate::pipeline::resume_articles(app, feeds).await {
        Ok(0) => {}
        Ok(n) => info!(jobs = n, "article queue resumed"),
        Err(e) => warn!("cannot read the article queue: {e}"),
    }
}

/// Give the heap that start-up freed back to the system. Why: glibc keeps freed memory in its
/// arenas for later use, and the start-up's transient memory (the parsed configuration file,
/// the feed sync) is large and not used again: with 20 000 feeds the idle daemon held 66 MB
/// resident of which 12 MB was in use, and 52 MB after this call (docs/performance.md, "Memory
/// and scale"). Once per start and per reload, so its cost (a walk over the arenas) is nothing.
fn release_freed_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of glibc's arenas to the kernel; it takes the
    // arenas' own locks and has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// One schedule's feeds: their places in the settings they were installed from, not copies
/// (with 20 000 feeds a copy of every feed's configuration was 7 MB for the daemon's life). A
/// reload installs new groups over the new settings; a tick of an old group still running reads
/// the old ones, consistently.
struct Group {
    app: Arc<App>,
    feeds: Vec<usize>,
}

impl Group {
    fn feeds(&self) -> impl Iterator<Item = &FeedConfig> {
        self.feeds
            .iter()
            .filter_map(|&i| self.app.settings.feeds.get(i))
    }
}

impl Daemon {
    pub async fn start(app: App, source: ConfigSource) -> Result<Arc<Daemon>, SchedulerError> {
        let sched = JobScheduler::new().await?;
        let daemon = Arc::new(Daemon {
            app: RwLock::new(Arc::new({
                // A daemon outlives a failing page's backoff, so it retries in process.
                app.articles.set_retry_in_process(true);
                app
            })),
            sched: tokio::sync::Mutex::new(sched),
            jobs: tokio::sync::Mutex::new(Vec::new()),
            running: Mutex::new(HashSet::new()),
            polls: Polls::default(),
            heartbeat_ms: AtomicI64::new(0),
            source,
            owner: crate::store::lease_owner().to_string(),
        });
        daemon.install().await?;
        // A crashed predecessor's leases (a restart after SIGKILL) would keep its feeds
        // unpolled until they expire.
        crate::pipeline::break_dead_leases(&daemon.app()).await;
        daemon.sched.lock().await.start().await?;
        // The stored article queue continues at once, not at the first cron tick: a restart
        // (a deploy, a crash) must not leave pages waiting for half an hour.
        let app = daemon.app();
        let feeds: Vec<&FeedConfig> = app.settings.feeds.iter().filter(|f| f.enabled).collect();
        resume_articles(&app, &feeds).await;
        release_freed_heap();
        Ok(daemon)
    }

    /// The current application (settings, store, fetcher); replaced by `reload`.
    pub fn app(&self) -> Arc<App> {
        match self.app.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// True when the scheduler loop ticked within the last few seconds.
    pub fn scheduler_healthy(&self) -> bool {
        let last = self.heartbeat_ms.load(Ordering::Relaxed);
        last > 0 && Utc::now().timestamp_millis() - last < 5_000
    }

    /// (Re)create the cron jobs for the current configuration's enabled feeds.
    async fn install(self: &Arc<Self>) -> Result<(), SchedulerError> {
        let app = self.app();
        let all = &app.settings.feeds;
        // The enabled feeds, copied only when some are disabled (with 20 000 feeds a copy of
        // every feed's configuration is 7 MB).
        let enabled: Cow<'_, [FeedConfig]> = if all.iter().all(|f| f.enabled) {
            Cow::Borrowed(all.as_slice())
        } else {
            Cow::Owned(all.iter().filter(|f| f.enabled).cloned().collect())
        };
        // No records back: a tick reads them, and a poll claims its own.
        app.store.register_feeds(&enabled).await?;
        app.metrics.set_feeds_configured(enabled.len() as i64);
        drop(enabled);

        let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, f) in all.iter().enumerate().filter(|(_, f)| f.enabled) {
            let expr = f
                .schedule
                .clone()
                .unwrap_or_else(|| app.settings.schedule.default.clone());
            groups.entry(expr).or_default().push(i);
        }

        let sched = self.sched.lock().await;
        let mut jobs = self.jobs.lock().await;
        for id in jobs.drain(..) {
            sched.remove(&id).await?;
        }
        let hb = self.clone();
        jobs.push(
            sched
                .add(Job::new_async("* * * * * *", move |_, _| {
                    let d = hb.clone();
                    Box::pin(async move { d.heartbeat() })
                })?)
                .await?,
        );
        for (expr, feeds) in groups {
            let window = jitter_window(&expr, app.settings.schedule.max_jitter);
            let feeds = Arc::new(Group {
                app: app.clone(),
                feeds,
            });
            info!(schedule = %expr, feeds = feeds.feeds.len(), jitter_window_s = window.as_secs_f64(), "scheduled");
            let d = self.clone();
            let job = Job::new_async(expr.as_str(), move |_, _| {
                let d = d.clone();
                let feeds = feeds.clone();
                Box::pin(async move { d.tick(feeds, window).await })
            })?;
            jobs.push(sched.add(job).await?);
        }
        Ok(())
    }

    fn heartbeat(&self) {
        let now = Utc::now();
        self.heartbeat_ms
            .store(now.timestamp_millis(), Ordering::Relaxed);
        // Ticks are due on whole seconds; how far past it we run is the scheduler's lag.
        let lag = Duration::from_nanos(u64::from(now.timestamp_subsec_nanos()));
        self.app().metrics.set_scheduler_lag(lag);
    }

    /// One cron tick of a schedule: start a (jittered) poll task for each due feed.
    async fn tick(self: Arc<Self>, group: Arc<Group>, window: Duration) {
        if self.polls.stopping() {
            return;
        }
        let app = self.app();
        let records: HashMap<String, FeedRecord> = match app.store.list_feeds().await {
            Ok(list) => {
                let failing = list
                    .iter()
                    .filter(|r| r.last_outcome == Some(Outcome::Failed))
                    .count();
                app.metrics.set_feeds_failing(failing as i64);
                list.into_iter().map(|r| (r.url.clone(), r)).collect()
            }
            Err(e) => {
                error!("cannot read feed states, skipping this tick: {e}");
                return;
            }
        };
        // The stored article queue: pages queued before a restart, or by a one-shot `fetch`,
        // whose feeds answer 304 and so queue nothing new.
        let feeds: Vec<&FeedConfig> = group.feeds().collect();
        resume_articles(&app, &feeds).await;
        let now = Utc::now();
        // The cron occurrence this tick belongs to: a feed polled since then was polled in this
        // cycle (by this replica or another) and is not claimed again.
        let tick_at = now.trunc_subsecs(0);
        for feed in feeds.iter() {
            let Some(record) = records.get(&feed.url) else {
                continue;
            };
            if !policy::is_due(record.next_due_at, record.gone, now) {
                continue;
            }
            let delay = policy::jitter(&feed.url, window);
            let d = self.clone();
            let feed = FeedConfig::clone(feed);
            self.polls
                .spawn_after(delay, async move { d.poll(feed, tick_at).await });
        }
    }

    /// Claim one feed (a lease in the shared database) and poll it. Several replicas race for the
    /// same feed at the same moment; the database lets exactly one win.
    async fn poll(&self, feed: FeedConfig, tick_at: DateTime<Utc>) {
        if self.polls.stopping() {
            return;
        }
        let app = self.app();
        let due_by = Utc::now() + chrono::Duration::from_std(policy::DUE_SLACK).unwrap_or_default();
        // Never twice at once in this process (a poll from an earlier tick may still run).
        let fresh = match self.running.lock() {
            Ok(mut set) => set.insert(feed.url.clone()),
            Err(_) => false,
        };
        if !fresh {
            return;
        }
        // The claim waits for the database like the poll does, so a hard stop ends it too.
        let claim = Claim {
            urls: std::slice::from_ref(&feed.url),
            tick_at,
            due_by,
            lease: Lease::for_ttl(&self.owner, app.settings.schedule.lease),
        };
        let claimed = match self
            .polls
            .until_hard_stop(app.store.claim_due(&claim))
            .await
        {
            None => None,
            Some(Ok(mut records)) => records.pop(),
            Some(Err(e)) => {
                error!(feed = %feed.name, url = %feed.url, "cannot claim the feed: {e}");
                None
            }
        };
        let Some(record) = claimed else {
            // Not due any more, or another replica has it.
            if let Ok(mut set) = self.running.lock() {
                set.remove(&feed.url);
            }
            return;
        };
        app.metrics.polls_started();
        let poll = refresh_leased(&app, &feed, &record, &self.owner);
        match self.polls.until_hard_stop(poll).await {
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                error!(feed = %feed.name, url = %feed.url, "cannot store the poll: {e}");
            }
            None => {
                warn!(feed = %feed.name, url = %feed.url, "poll cancelled at shutdown; nothing of it was stored");
            }
        }
        app.metrics.polls_finished();
        if let Ok(mut set) = self.running.lock() {
            set.remove(&feed.url);
        }
    }

    /// Re-read the configuration (SIGHUP). An invalid configuration is logged and the running one
    /// stays in force.
    pub async fn reload(self: &Arc<Self>) {
        systemd::notify("RELOADING=1");
        match self.try_reload().await {
            Ok(n) => info!(feeds = n, "configuration reloaded"),
            Err(e) => error!("configuration reload failed, keeping the running configuration: {e}"),
        }
        systemd::notify("READY=1");
    }

    async fn try_reload(self: &Arc<Self>) -> Result<usize, ReloadError> {
        let path = config::locate(self.source.path.as_deref())?;
        let settings: Settings =
            config::load(path.as_deref(), self.source.database_url.as_deref())?;
        let old = self.app();
        if settings.database.url != old.settings.database.url {
            warn!("[database].url changed; a restart is needed to switch databases, the current one stays in use");
        }
        let fetcher = Fetcher::new(&settings.http).map_err(ReloadError::Client)?;
        crate::app::share_hosts(&fetcher, &old.store);
        fetcher.load_host_pauses().await;
        let n = settings.feeds.iter().filter(|f| f.enabled).count();
        // The model client carries over when its settings did not change (budget and pause too).
        let model = crate::enrich::ModelClient::reuse_or_build(
            old.model.as_ref(),
            settings.enrich.model.as_ref(),
            &settings.http.user_agent,
        )
        .map_err(ReloadError::Client)?;
        old.articles
            .set_model(model.clone(), settings.enrich.max_tags);
        if let Some(m) = &model {
            m.set_hosts(fetcher.gate());
        }
        let app = App {
            render: render_options(&settings),
            model,
            settings,
            store: old.store.clone(),
            fetcher,
            metrics: old.metrics.clone(),
            // In-flight article jobs stay with the running service ([articles] limits apply at
            // the next start).
            articles: old.articles.clone(),
            git: old.git.clone(),
        };
        match self.app.write() {
            Ok(mut g) => *g = Arc::new(app),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(app),
        }
        self.install().await?;
        release_freed_heap();
        Ok(n)
    }

    /// Stop scheduling, let in-flight polls finish within `grace`, cancel the rest.
    pub async fn shutdown(&self, grace: Duration) {
        self.polls.stop();
        // Article fetches are abandoned: their entries are queued again by a later poll.
        self.app().articles.shutdown().await;
        if let Err(e) = self.sched.lock().await.shutdown().await {
            warn!("scheduler shutdown: {e}");
        }
        let in_flight = self.running.lock().map(|s| s.len()).unwrap_or(0);
        if in_flight > 0 {
            info!(
                in_flight,
                grace_s = grace.as_secs_f64(),
                "waiting for in-flight polls"
            );
        }
        if self.polls.drain(grace).await {
            warn!("grace period over; the remaining polls were cancelled");
        }
    }
}

/// Half of the schedule's period (the time between its next two occurrences), at most
/// `[schedule].max_jitter`: feeds sharing a schedule spread over it without drifting into the next tick.
pub fn jitter_window(expr: &str, max: Duration) -> Duration {
    let parsed = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .build()
        .parse(expr);
    let Ok(cron) = parsed else {
        return Duration::ZERO;
    };
    let now = Utc::now();
    let first = cron.find_next_occurrence(&now, false);
    let second = first
        .as_ref()
        .ok()
        .and_then(|f| cron.find_next_occurrence(f, false).ok());
    match (first, second) {
        (Ok(a), Some(b)) => (b - a)
            .to_std()
            .map(|p| (p / 2).min(max))
            .unwrap_or(Duration::ZERO),
        _ => Duration::ZERO,
    }
}

/// Why a SIGHUP reload left the running configuration in force.
#[derive(Debug, thiserror::Error)]
enum ReloadError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The HTTP client of the fetcher or of the model step could not be built.
    #[error("{0}")]
    Client(reqwest::Error),
    #[error(transparent)]
    Schedule(#[from] SchedulerError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_window_is_half_the_period_capped() {
        let max = Duration::from_secs(600);
        assert_eq!(jitter_window("*/2 * * * * *", max), Duration::from_secs(1));
        assert_eq!(
            jitter_window("0 */30 * * * *", max),
            Duration::from_secs(600)
        );
        assert_eq!(
            jitter_window("0 */10 * * * *", max),
            Duration::from_secs(300)
        );
        assert_eq!(
            jitter_window("0 */10 * * * *", Duration::ZERO),
            Duration::ZERO
        );
        assert_eq!(jitter_window("nonsense", max), Duration::ZERO);
    }
}
