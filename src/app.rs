//! The one wiring function: settings -> store, HTTP client, render options. Used by every
//! command and by the integration tests, so what the tests run is what users run.

use std::sync::Arc;

use crate::article::ArticleService;
use crate::config::Settings;
use crate::fetch::Fetcher;
use crate::metrics::Metrics;
use crate::normalize::RenderOptions;
use crate::store::{self, Outcome, Store, StoreError};

pub struct App {
    pub settings: Settings,
    pub store: Arc<dyn Store>,
    pub fetcher: Fetcher,
    pub render: RenderOptions,
    pub metrics: Arc<Metrics>,
    /// The article step (full content), with its own HTTP limits.
    pub articles: Arc<ArticleService>,
    /// The optional language-model step (`[enrich] endpoint`), with its own HTTP client, budget
    /// and concurrency; `None` when off.
    pub model: Option<Arc<crate::enrich::ModelClient>>,
    /// Exports waiting for their git commit (`[publish] git = true`, src/publish/git.rs).
    pub git: Arc<crate::publish::git::GitQueue>,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

impl App {
    /// Open (and migrate) the database and build the HTTP client.
    pub async fn build(settings: Settings) -> Result<App, AppError> {
        let store = store::connect(&settings.database).await?;
        let fetcher = Fetcher::new(&settings.http)?;
        share_hosts(&fetcher, &store);
        fetcher.load_host_pauses().await;
        let render = render_options(&settings);
        let articles = Arc::new(ArticleService::new(
            &settings.articles,
            &settings.http,
            Arc::clone(&store),
            false,
            Some(&fetcher),
        )?);
        let model = crate::enrich::ModelClient::reuse_or_build(
            None,
            settings.enrich.model.as_ref(),
            &settings.http.user_agent,
        )?;
        articles.set_model(model.clone(), settings.enrich.max_tags);
        if let Some(m) = &model {
            m.set_hosts(fetcher.gate());
        }
        Ok(App {
            settings,
            store,
            fetcher,
            render,
            metrics: Arc::new(Metrics::default()),
            articles,
            model,
            git: crate::publish::git::GitQueue::new(),
        })
    }
}

/// The hosts' pace and pauses go through the store, so they hold across processes (a `fetch`
/// right after a 429 sends nothing to that host) and across replicas on PostgreSQL.
pub fn share_hosts(fetcher: &Fetcher, store: &Arc<dyn Store>) {
    fetcher.share_hosts(Arc::new(StoreHosts(Arc::clone(store))));
}

/// The store as the fetcher's [`crate::fetch::HostLedger`] (wired here so `fetch` never
/// depends on `store`).
struct StoreHosts(Arc<dyn Store>);

#[async_trait::async_trait]
impl crate::fetch::HostLedger for StoreHosts {
    async fn reserve(
        &self,
        host: &str,
        interval: std::time::Duration,
        burst: u32,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<
        (
            chrono::DateTime<chrono::Utc>,
            Option<chrono::DateTime<chrono::Utc>>,
        ),
        String,
    > {
        self.0
            .reserve_host(host, interval, burst, now)
            .await
            .map_err(|e| e.to_string())
    }

    async fn pause(
        &self,
        host: &str,
        until: chrono::DateTime<chrono::Utc>,
        status: u16,
        reason: &str,
    ) {
        if let Err(e) = self.0.pause_host(host, until, status, reason).await {
            tracing::warn!(
                host,
                "host pause not stored (it holds in this process only): {e}"
            );
        }
    }

    async fn pauses(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<(String, chrono::DateTime<chrono::Utc>)>, String> {
        self.0.host_pauses(now).await.map_err(|e| e.to_string())
    }
}

pub fn render_options(settings: &Settings) -> RenderOptions {
    RenderOptions {
        permalink: settings.publish.permalink.clone(),
        video_embed: settings.publish.video_embed,
    }
}

/// One host as `hosts list` and `/api/hosts` show it: its rule, its feeds, what the store
/// holds (pause, pace) and, in the daemon, what this process sees (requests in flight, by
/// outcome).
#[derive(Debug, Clone, serde::Serialize)]
pub struct HostView {
    pub host: String,
    /// The `[[hosts]]` rule that applies (`None`: the `[http]` defaults).
    #[serde(rename = "match")]
    pub rule: Option<String>,
    #[serde(serialize_with = "crate::units::ser_duration")]
    pub interval: std::time::Duration,
    pub burst: u32,
    pub concurrency: usize,
    /// Configured feeds on this host, and how many of them were last deferred or failed.
    pub feeds: usize,
    pub deferred: usize,
    pub failing: usize,
    pub paused_until: Option<chrono::DateTime<chrono::Utc>>,
    pub pause_reason: Option<String>,
    pub pause_status: Option<i64>,
    pub last_throttled_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When the host's request budget is full again (hosts with an interval).
    pub next_request_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Requests in flight now, and sent by outcome since the process started (the daemon's
    /// view; a one-shot command has sent none).
    pub in_flight: usize,
    pub requests: std::collections::BTreeMap<&'static str, u64>,
}

/// Every host the configuration names (through its feeds and `[[hosts]]` rules), the store
/// knows or this process talked to, by name.
pub async fn hosts_view(app: &App) -> Result<Vec<HostView>, StoreError> {
    use std::collections::BTreeMap;
    let now = chrono::Utc::now();
    let stored = app.store.list_hosts().await?;
    let records = app.store.list_feeds().await?;
    let live = app.fetcher.hosts();
    let rules = &app.settings.http.hosts;
    let mut views: BTreeMap<String, HostView> = BTreeMap::new();
    let view = |host: &str| {
        let rule = crate::fetch::HostRule::for_host(rules, host);
        HostView {
            host: host.to_string(),
            rule: rule.map(|r| r.pattern.clone()),
            interval: rule.map_or(std::time::Duration::ZERO, |r| r.interval),
            burst: rule.map_or(1, |r| r.burst),
            concurrency: rule
                .and_then(|r| r.concurrency)
                .unwrap_or(app.settings.http.per_host_concurrency),
            feeds: 0,
            deferred: 0,
            failing: 0,
            paused_until: None,
            pause_reason: None,
            pause_status: None,
            last_throttled_at: None,
            next_request_at: None,
            in_flight: 0,
            requests: BTreeMap::new(),
        }
    };
    for feed in app.settings.feeds.iter().filter(|f| f.enabled) {
        let record = records.iter().find(|r| r.url == feed.url);
        let url = record.map_or(feed.url.as_str(), |r| r.effective_url());
        let Some(host) = feed_host(url) else {
            continue;
        };
        let v = views.entry(host.clone()).or_insert_with(|| view(&host));
        v.feeds += 1;
        match record.and_then(|r| r.last_outcome) {
            Some(Outcome::Deferred) => v.deferred += 1,
            Some(Outcome::Failed) => v.failing += 1,
            _ => {}
        }
    }
    for s in stored {
        let v = views.entry(s.host.clone()).or_insert_with(|| view(&s.host));
        v.paused_until = s.paused_until.filter(|u| *u > now);
        if v.paused_until.is_some() {
            v.pause_reason = s.pause_reason;
            v.pause_status = s.pause_status;
        }
        v.last_throttled_at = s.last_throttled_at;
        v.next_request_at = s.next_request_at.filter(|t| *t > now);
    }
    for l in live {
        let v = views.entry(l.host.clone()).or_insert_with(|| view(&l.host));
        v.in_flight = l.in_flight;
        v.requests = l.requests;
        v.paused_until = v.paused_until.max(l.paused_until);
        v.last_throttled_at = v.last_throttled_at.max(l.last_throttled_at);
    }
    Ok(views.into_values().collect())
}

/// The host a feed URL is paced and paused by (`None`: not an http(s) URL).
pub fn feed_host(url: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()
        .filter(|u| u.host_str().is_some())
        .map(|u| crate::fetch::host_key(&u))
}

/// The stored host pauses in force, by host (empty when the store cannot say: the listings that
/// show them are still worth printing).
pub async fn host_pauses(
    app: &App,
) -> std::collections::HashMap<String, chrono::DateTime<chrono::Utc>> {
    match app.store.host_pauses(chrono::Utc::now()).await {
        Ok(p) => p.into_iter().collect(),
        Err(e) => {
            tracing::debug!("host pauses not read: {e}");
            Default::default()
        }
    }
}
