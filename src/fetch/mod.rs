//! HTTP: one client that owns every limit (timeouts, redirects, body size, user agent,
//! concurrency), so no caller can forget one. Modeled on lychee's and Miniflux's fetchers.
//!
//! Redirects are followed by hand rather than by reqwest's policy: feedsmith needs to know
//! whether *every* hop was permanent (301/308) to update the stored URL, to refuse non-HTTP
//! schemes at each hop, to apply the per-host limit to the host actually contacted, and to put
//! every hop through the network guard ([`guard`]): a redirect is a URL chosen by the server.

pub mod guard;
pub mod hosts;

pub use hosts::{HostLedger, HostRule, HostSnapshot, RequestOutcome};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::StatusCode;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;

use crate::redact::{redact_text, redact_url};

/// `[http]`: the client every request of the program goes through (owned here, by the stage
/// that uses it; `config` fills it from the file).
#[derive(Debug, Clone, serde::Serialize)]
pub struct HttpSettings {
    pub user_agent: String,
    #[serde(serialize_with = "crate::units::ser_duration")]
    pub timeout: Duration,
    #[serde(serialize_with = "crate::units::ser_duration")]
    pub connect_timeout: Duration,
    pub max_body: u64,
    pub concurrency: usize,
    pub per_host_concurrency: usize,
    pub max_redirects: usize,
    /// Hosts (names or address literals) the network guard lets feed content reach even when
    /// they are internal (docs/security.md).
    pub allow_hosts: Vec<String>,
    /// Turn the network guard off for internal addresses (an aggregator of intranet feeds).
    pub allow_private_networks: bool,
    /// Query keys whose values are redacted wherever a URL is shown, added to the built-in
    /// list (`token`, `key`, `feed`, `user`, `secret`, `password`, `sig`, `auth`, ...).
    pub secret_query_keys: Vec<String>,
    /// Per-host politeness (`[[hosts]]`, with the built-in Reddit preset), most specific first
    /// is not required: [`HostRule::for_host`] picks the longest match.
    #[serde(skip)]
    pub hosts: Vec<HostRule>,
    /// How long a request may wait for its host's slot and pace before the poll is *deferred*
    /// (retried at the next tick, no backoff): the queue is bounded apart from the request.
    #[serde(serialize_with = "crate::units::ser_duration")]
    pub max_host_wait: Duration,
    /// The proxy for every request the operator trusts (feed URLs and their origins), unless a
    /// `[[hosts]]` rule names its own. `None`: the environment's (`HTTPS_PROXY`, ...).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::redact::ser_redacted_opt"
    )]
    pub proxy: Option<String>,
}

/// What the client sends with `Accept`: feeds first, anything else last (autodiscovery needs HTML).
const ACCEPT: &str = "application/rss+xml, application/atom+xml, application/feed+json, \
     application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.9, text/html;q=0.5, */*;q=0.1";

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{url} is not a valid http(s) URL: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("{url} redirects to {target}, which is not http or https; feedsmith only follows http(s) redirects")]
    BadRedirectScheme { url: String, target: String },
    #[error("{url}: more than {max} redirects (a redirect loop?); use the final feed URL in the configuration")]
    TooManyRedirects { url: String, max: usize },
    #[error("{url}: timed out after {secs}s; the server is too slow or not answering (raise [http].timeout if it is just slow)")]
    Timeout { url: String, secs: u64 },
    #[error("{url}: cannot connect: {detail}; check the host name and your network")]
    Connect { url: String, detail: String },
    #[error("{url}: HTTP {status}{hint}")]
    Status {
        url: String,
        status: u16,
        hint: String,
        retry_after: Option<DateTime<Utc>>,
    },
    #[error("{url}: the body is larger than the {limit}-byte limit ([http].max_body)")]
    TooLarge { url: String, limit: u64 },
    #[error("{url}: the response broke off: {detail}")]
    Body { url: String, detail: String },
    #[error("{url}: refused, no request sent: {refusal}; feedsmith does not fetch internal addresses named by feed content or redirects (allow this host with [http] allow_hosts = [\"{host}\"], or all private networks with [http] allow_private_networks = true)", host = refusal.host)]
    Refused {
        url: String,
        refusal: guard::Refusal,
    },
    /// The host asked this process to wait (a 429/503 with `Retry-After`, or a block page) in
    /// answer to another feed's request: nothing is sent until then.
    #[error("{url}: not requested: {host} asked to wait until {until} (a 429/503 with Retry-After, or a block, on another of its feeds); polled again after that", until = until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))]
    HostPaused {
        url: String,
        host: String,
        until: DateTime<Utc>,
    },
    /// No slot at the host within `[http] max_host_wait` (its other requests, its interval):
    /// not a failure of the feed, which is polled at the next tick with no backoff.
    #[error("{url}: no request slot at {host} within {waited} ([http] max_host_wait; the host's other requests and its [[hosts]] interval come first); polled again at the next tick", waited = crate::units::format_duration(*waited))]
    Deferred {
        url: String,
        host: String,
        waited: Duration,
    },
}

impl FetchError {
    pub fn http_status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
    pub fn retry_after(&self) -> Option<DateTime<Utc>> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            FetchError::HostPaused { until, .. } => Some(*until),
            _ => None,
        }
    }
    pub fn is_gone(&self) -> bool {
        self.http_status() == Some(410)
    }
    /// True when the network guard refused the destination (nothing was sent, and retrying will
    /// not change that until the configuration does).
    pub fn is_refused(&self) -> bool {
        matches!(self, FetchError::Refused { .. })
    }
    /// True when nothing was asked of the host because of the host itself (its queue, its
    /// pause): the poll is deferred, not failed, and earns no backoff.
    pub fn is_deferred(&self) -> bool {
        matches!(
            self,
            FetchError::Deferred { .. } | FetchError::HostPaused { .. }
        )
    }
    /// True when the host blocks this client: a block page (an HTML 403/429, named `blocked:` in
    /// the hint), for feed health `blocked` (src/store/outbox.rs). The sibling feeds it pauses
    /// are deferred ([`FetchError::is_deferred`]) and keep their health.
    pub fn is_blocked(&self) -> bool {
        match self {
            FetchError::Status { hint, .. } => hint.contains("; blocked: "),
            _ => false,
        }
    }
}

/// Whose say-so a fetch runs on: the origin (scheme, host, port) of the configured feed it is
/// for. Hops on that origin are the operator's choice and go anywhere; every other hop goes
/// through the network guard. [`Trust::none`] (content of a page given to `inspect`, tests)
/// trusts nothing.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    origin: Option<url::Origin>,
}

impl Trust {
    /// Trust the origin of `configured_url` (a `[[feeds]]` URL, or the URL given to `inspect`).
    pub fn origin_of(configured_url: &str) -> Trust {
        Trust {
            origin: Url::parse(configured_url)
                .ok()
                .map(|u| u.origin())
                .filter(|o| o.is_tuple()),
        }
    }
    /// Trust nothing: every hop is checked.
    pub fn none() -> Trust {
        Trust::default()
    }
}

/// The network guard's verdict on `url` without DNS (address literals, `localhost`): `Err` with
/// the refusal when it is certain, `Ok` when the URL may be fetched or only DNS can tell (the
/// fetch checks again, at every hop). For the poll's plan, so a refused article is reported with
/// its entry at once, and for `inspect --explain`.
pub fn precheck(settings: &HttpSettings, url: &str, trust: &Trust) -> Result<(), FetchError> {
    let parsed = parse_http_url(url)?;
    let guard = guard::Guard::new(&settings.allow_hosts, settings.allow_private_networks);
    match guard.route(&parsed, trust.origin.as_ref()) {
        Ok(_) => Ok(()),
        Err(refusal) => Err(FetchError::Refused {
            url: redact_url(url),
            refusal,
        }),
    }
}

/// Caching hints of a response, for the scheduler's due-time policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheHints {
    pub max_age: Option<Duration>,
    pub expires: Option<DateTime<Utc>>,
}

/// A 200 response, body read in full (within the limit) and decompressed.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub final_url: String,
    pub status: u16,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// Set when every redirect hop was permanent: the URL to fetch from now on.
    pub permanent_url: Option<String>,
    pub cache: CacheHints,
}

#[derive(Debug, Clone)]
pub enum FetchResponse {
    Modified(Fetched),
    NotModified {
        etag: Option<String>,
        last_modified: Option<String>,
        permanent_url: Option<String>,
        cache: CacheHints,
    },
}

/// Conditional-GET validators from the previous successful poll.
#[derive(Debug, Clone, Default)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

pub struct Fetcher {
    /// For destinations the operator trusts: the system resolver, the configured proxy (or the
    /// environment's). One per proxy in use: `[http] proxy` and each `[[hosts]] proxy`.
    clients: HashMap<Option<String>, reqwest::Client>,
    /// For every other destination: resolves through [`guard::GuardedResolver`] and connects to
    /// the vetted addresses only; no proxy (a proxy would resolve the name itself, past the
    /// guard).
    guarded: reqwest::Client,
    guard: guard::Guard,
    settings: HttpSettings,
    global: Arc<Semaphore>,
    /// Every host's slots, pace, pause and counts ([`hosts`]); shared with the article
    /// fetcher ([`Fetcher::sharing_hosts`]), so feeds and pages queue at one host together.
    book: Arc<hosts::HostBook>,
}

/// The longest a host's `Retry-After` pauses all of its feeds in one process (a typo or a
/// hostile header must not silence a host for weeks; the feed's own due time still honours
/// its `Retry-After`, capped by the scheduling policy).
const HOST_PAUSE_CAP: chrono::Duration = chrono::Duration::hours(6);

/// How long a block page (an HTML 403/429) pauses its host.
const BLOCK_PAUSE: chrono::Duration = chrono::Duration::minutes(15);

impl Fetcher {
    pub fn new(settings: &HttpSettings) -> Result<Self, reqwest::Error> {
        let book = Arc::new(hosts::HostBook::new(
            &settings.hosts,
            settings.per_host_concurrency,
        ));
        Self::with_book(settings, book)
    }

    /// A fetcher with its own limits (`settings`: the article step's body cap and concurrency)
    /// that shares `other`'s hosts: their slots, pace, pauses and counts.
    pub fn sharing_hosts(settings: &HttpSettings, other: &Fetcher) -> Result<Self, reqwest::Error> {
        Self::with_book(settings, other.book.clone())
    }

    fn with_book(
        settings: &HttpSettings,
        book: Arc<hosts::HostBook>,
    ) -> Result<Self, reqwest::Error> {
        let mut clients = HashMap::new();
        let proxies = std::iter::once(settings.proxy.clone()).chain(
            settings
                .hosts
                .iter()
                .filter_map(|h| h.proxy.clone())
                .map(Some),
        );
        for proxy in proxies {
            if clients.contains_key(&proxy) {
                continue;
            }
            let mut builder = Self::builder(settings);
            if let Some(p) = &proxy {
                builder = builder.proxy(reqwest::Proxy::all(p)?);
            }
            clients.insert(proxy, builder.build()?);
        }
        let guarded = Self::builder(settings)
            .dns_resolver(guard::resolver())
            .no_proxy()
            .build()?;
        Ok(Fetcher {
            clients,
            guarded,
            guard: guard::Guard::new(&settings.allow_hosts, settings.allow_private_networks),
            settings: settings.clone(),
            global: Arc::new(Semaphore::new(settings.concurrency)),
            book,
        })
    }

    /// Share the hosts' pace and pauses through `ledger` (the store): across processes on
    /// SQLite, across replicas on PostgreSQL. Set once, by `app`.
    pub fn share_hosts(&self, ledger: Arc<dyn HostLedger>) {
        self.book.share(ledger);
    }

    /// Read the stored host pauses now (before the first request, so no poll waits for that
    /// read; later they are read again every few seconds by whichever request finds them old).
    pub async fn load_host_pauses(&self) {
        self.book.refresh_pauses(Utc::now()).await;
    }

    /// The host book for a client of its own (the model endpoint's POSTs): its requests take
    /// the same host slots, pace and pauses as everything else.
    pub fn gate(&self) -> HostGate {
        HostGate {
            book: Arc::clone(&self.book),
            max_wait: self.settings.max_host_wait,
        }
    }

    /// Every host this process has talked to, for `hosts list` and `/api/hosts`.
    pub fn hosts(&self) -> Vec<HostSnapshot> {
        self.book.snapshot()
    }

    /// The host metrics (`feedsmith_host_requests_total`, `feedsmith_host_paused`,
    /// `feedsmith_deferred_total`) in the Prometheus text format.
    pub fn render_metrics(&self) -> String {
        self.book.render_metrics()
    }

    /// The client for a trusted request to `host`: its `[[hosts]]` proxy, else `[http] proxy`.
    fn trusted_client(&self, host: &str) -> &reqwest::Client {
        let proxy = self
            .book
            .rule(host)
            .and_then(|r| r.proxy.clone())
            .or_else(|| self.settings.proxy.clone());
        match self.clients.get(&proxy) {
            Some(c) => c,
            None => self.clients.values().next().unwrap_or(&self.guarded),
        }
    }

    fn builder(settings: &HttpSettings) -> reqwest::ClientBuilder {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static(ACCEPT));
        reqwest::Client::builder()
            .user_agent(settings.user_agent.clone())
            .default_headers(headers)
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(settings.per_host_concurrency)
            .gzip(true)
            .deflate(true)
            .brotli(true)
    }

    /// Until when `host` asked to be left alone, if that is still in the future.
    async fn paused_until(&self, host: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.book.paused_until(host, now).await
    }

    /// Pause every request to `host` until `until` (capped at [`HOST_PAUSE_CAP`]); a later
    /// pause only ever extends it. Stored too, so other processes and replicas hold it.
    async fn pause_host(
        &self,
        host: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
        status: u16,
        reason: &str,
    ) {
        let until = until.min(now + HOST_PAUSE_CAP);
        tracing::warn!(host, until = %until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), "host paused: no request to it until then");
        self.book.pause(host, until, status, reason).await;
    }

    /// GET `url` (conditionally when validators are given), following up to `max_redirects`
    /// http(s) redirects, within the total timeout and the body limit. Each hop off the trusted
    /// origin goes through the network guard: refused before anything is sent.
    pub async fn fetch(
        &self,
        url: &str,
        validators: &Validators,
        trust: &Trust,
    ) -> Result<FetchResponse, FetchError> {
        let total = self.settings.timeout;
        // `[http].timeout` measures the request, not the queue: the first hop's host and global
        // slots are taken before the clock starts. Why: with the clock started first, 32 feeds
        // on one host behind two hanging ones all "timed out", most of them never requested.
        // (Redirect hops take their slots inside the timeout; they are rare and mostly on the
        // same, already busy host.)
        // The wait for those slots is bounded by `[http] max_host_wait` instead: past it the
        // poll is deferred (no request, no failure, no backoff). A paused host is not waited for.
        let first = match Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {
                let host = host_key(&u);
                let wait = self.settings.max_host_wait;
                match self.book.admit(&host, true, Some(&self.global), wait).await {
                    Ok(slots) => Some(slots),
                    Err(why) => {
                        self.book.count_deferred(&host);
                        return Err(turned_away(url, host, why));
                    }
                }
            }
            _ => None,
        };
        match tokio::time::timeout(total, self.fetch_inner(url, validators, trust, first)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout {
                url: redact_url(url),
                secs: total.as_secs(),
            }),
        }
    }

    async fn fetch_inner(
        &self,
        url: &str,
        validators: &Validators,
        trust: &Trust,
        mut first_permits: Option<hosts::Slots>,
    ) -> Result<FetchResponse, FetchError> {
        let mut current = parse_http_url(url)?;
        let mut all_permanent = true;
        let mut hops = 0usize;
        loop {
            let host = host_key(&current);
            let client = match self.guard.route(&current, trust.origin.as_ref()) {
                Ok(guard::Route::Trusted) => self.trusted_client(&host),
                Ok(guard::Route::Guarded) => &self.guarded,
                Err(refusal) => {
                    guard::count(refusal.kind);
                    return Err(FetchError::Refused {
                        url: redact_url(current.as_str()),
                        refusal,
                    });
                }
            };
            let (_host_permit, _global_permit) = match first_permits.take() {
                Some(permits) => permits,
                // A redirect hop waits inside the request's timeout, not `max_host_wait`.
                None => match self
                    .book
                    .admit(&host, true, Some(&self.global), Duration::MAX)
                    .await
                {
                    Ok(slots) => slots,
                    Err(why) => return Err(turned_away(url, host, why)),
                },
            };
            let mut req = client.get(current.clone());
            if let Some(rule) = self.book.rule(&host) {
                if let Some(ua) = &rule.user_agent {
                    req = req.header(header::USER_AGENT, ua);
                }
                for (k, v) in &rule.headers {
                    req = req.header(k.as_str(), v.as_str());
                }
            }
            if let Some(etag) = &validators.etag {
                req = req.header(header::IF_NONE_MATCH, etag);
            }
            if let Some(lm) = &validators.last_modified {
                req = req.header(header::IF_MODIFIED_SINCE, lm);
            }
            if let Some(until) = self.paused_until(&host, Utc::now()).await {
                return Err(FetchError::HostPaused {
                    url: redact_url(url),
                    host,
                    until,
                });
            }
            tracing::debug!(
                url = %redact_url(current.as_str()),
                if_none_match = validators.etag.as_deref(),
                if_modified_since = validators.last_modified.as_deref(),
                "request"
            );
            let sent = std::time::Instant::now();
            let resp = match req.send().await {
                Ok(resp) => resp,
                Err(e) => {
                    if let Some(refusal) = guard::find_refusal(&e) {
                        return Err(FetchError::Refused {
                            url: redact_url(current.as_str()),
                            refusal,
                        });
                    }
                    let err = classify(url, &e, self.settings.timeout);
                    self.book.count(&host, RequestOutcome::Failed);
                    if matches!(err, FetchError::Connect { .. }) {
                        // A host that cannot be reached is paused as a host (capped, jittered)
                        // after a few failures in a row, instead of every feed finding out.
                        if let Some(until) = self.book.connect_failed(&host, Utc::now()) {
                            self.pause_host(&host, until, Utc::now(), 0, "connect failures")
                                .await;
                        }
                    }
                    return Err(err);
                }
            };
            let status = resp.status();
            self.book.answered(&host);
            tracing::debug!(
                url = %redact_url(current.as_str()),
                status = status.as_u16(),
                etag = resp.headers().get(header::ETAG).and_then(|v| v.to_str().ok()),
                location = resp.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).map(redact_url),
                ms = sent.elapsed().as_millis() as u64,
                "response headers"
            );

            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                self.book.count(&host, RequestOutcome::Ok);
                let location = resp
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| FetchError::Status {
                        url: redact_url(url),
                        status: status.as_u16(),
                        hint: " (a redirect without a Location header)".into(),
                        retry_after: None,
                    })?;
                let target = current.join(location).map_err(|e| FetchError::InvalidUrl {
                    url: redact_url(location),
                    reason: e.to_string(),
                })?;
                if !matches!(target.scheme(), "http" | "https") {
                    return Err(FetchError::BadRedirectScheme {
                        url: redact_url(url),
                        target: redact_url(target.as_str()),
                    });
                }
                hops += 1;
                if hops > self.settings.max_redirects {
                    return Err(FetchError::TooManyRedirects {
                        url: redact_url(url),
                        max: self.settings.max_redirects,
                    });
                }
                all_permanent &= matches!(
                    status,
                    StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
                );
                current = target;
                continue;
            }

            let permanent_url = (hops > 0 && all_permanent).then(|| current.to_string());
            let headers = resp.headers();
            let etag = header_string(headers, header::ETAG);
            let last_modified = header_string(headers, header::LAST_MODIFIED);
            let cache = cache_hints(headers);

            if status.is_success() || status == StatusCode::NOT_MODIFIED {
                self.book.count(&host, RequestOutcome::Ok);
            }
            if status == StatusCode::NOT_MODIFIED {
                return Ok(FetchResponse::NotModified {
                    etag,
                    last_modified,
                    permanent_url,
                    cache,
                });
            }
            if !status.is_success() {
                let retry_after = headers
                    .get(header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, Utc::now()));
                let blocked = blocked_hint(current.host_str().unwrap_or_default(), status, headers);
                let now = Utc::now();
                let code = status.as_u16();
                match (&blocked, retry_after) {
                    (None, Some(until)) if matches!(code, 429 | 503) => {
                        self.book.count(&host, RequestOutcome::Throttled);
                        self.pause_host(&host, until, now, code, "Retry-After")
                            .await
                    }
                    (Some(_), _) => {
                        self.book.count(&host, RequestOutcome::Blocked);
                        let until = retry_after
                            .unwrap_or(now + BLOCK_PAUSE)
                            .max(now + BLOCK_PAUSE);
                        self.pause_host(&host, until, now, code, "blocked").await
                    }
                    _ if code == 429 => self.book.count(&host, RequestOutcome::Throttled),
                    _ => self.book.count(&host, RequestOutcome::Error),
                }
                let hint = blocked.unwrap_or_else(|| status_hint(status, retry_after));
                return Err(FetchError::Status {
                    url: redact_url(url),
                    status: status.as_u16(),
                    hint,
                    retry_after,
                });
            }

            let content_type = header_string(headers, header::CONTENT_TYPE);
            let limit = self.settings.max_body;
            if resp.content_length().is_some_and(|len| len > limit) {
                return Err(FetchError::TooLarge {
                    url: redact_url(url),
                    limit,
                });
            }
            let body = read_limited(resp, url, limit, self.settings.timeout).await?;
            return Ok(FetchResponse::Modified(Fetched {
                final_url: current.to_string(),
                status: status.as_u16(),
                etag,
                last_modified,
                content_type,
                body,
                permanent_url,
                cache,
            }));
        }
    }
}

/// Read the (already decompressed) body chunk by chunk, failing as soon as it passes `limit`:
/// a gzip bomb is stopped after `limit` inflated bytes, not after it filled memory.
async fn read_limited(
    mut resp: reqwest::Response,
    url: &str,
    limit: u64,
    timeout: Duration,
) -> Result<Vec<u8>, FetchError> {
    let mut body: Vec<u8> =
        Vec::with_capacity(resp.content_length().unwrap_or(64 * 1024).min(limit) as usize);
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() as u64 + chunk.len() as u64 > limit {
                    return Err(FetchError::TooLarge {
                        url: redact_url(url),
                        limit,
                    });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) if e.is_timeout() => {
                return Err(FetchError::Timeout {
                    url: redact_url(url),
                    secs: timeout.as_secs(),
                })
            }
            Err(e) => {
                return Err(FetchError::Body {
                    url: redact_url(url),
                    detail: redact_text(&error_chain(&e)),
                })
            }
        }
    }
}

/// A way into the host book for requests the [`Fetcher`] does not send itself (the language
/// model's POSTs): one host scheduler for every request the program makes.
#[derive(Clone)]
pub struct HostGate {
    book: Arc<hosts::HostBook>,
    max_wait: Duration,
}

/// A request's place at its host: the slot is given back when this is dropped.
pub struct HostPass {
    _slot: Option<OwnedSemaphorePermit>,
    host: String,
}

impl HostGate {
    /// Wait for `url`'s host: its pause (an error at once), its slot (when `slot`; a client
    /// with its own concurrency setting, like the model's, passes `false`) and its pace, at
    /// most `[http] max_host_wait` (then [`FetchError::Deferred`]).
    pub async fn enter(&self, url: &str, slot: bool) -> Result<HostPass, FetchError> {
        let parsed = parse_http_url(url)?;
        let host = host_key(&parsed);
        match self.book.admit(&host, slot, None, self.max_wait).await {
            Ok((slot, _)) => Ok(HostPass { _slot: slot, host }),
            Err(why) => Err(turned_away(url, host, why)),
        }
    }

    /// What the host answered (`None`: no answer): counted, and a 429/503 with `Retry-After`
    /// pauses the host for everyone.
    pub async fn answered(
        &self,
        pass: &HostPass,
        status: Option<u16>,
        retry_after: Option<DateTime<Utc>>,
    ) {
        let host = &pass.host;
        match status {
            None => self.book.count(host, RequestOutcome::Failed),
            Some(code) => {
                self.book.answered(host);
                match (code, retry_after) {
                    (429 | 503, Some(until)) => {
                        self.book.count(host, RequestOutcome::Throttled);
                        let now = Utc::now();
                        self.book
                            .pause(host, until.min(now + HOST_PAUSE_CAP), code, "Retry-After")
                            .await;
                    }
                    (429, None) => self.book.count(host, RequestOutcome::Throttled),
                    (200..=399, _) => self.book.count(host, RequestOutcome::Ok),
                    _ => self.book.count(host, RequestOutcome::Error),
                }
            }
        }
    }
}

/// The error for a request its host turned away ([`hosts::HostBook::admit`]).
fn turned_away(url: &str, host: String, why: hosts::TurnedAway) -> FetchError {
    match why {
        hosts::TurnedAway::Paused(until) => FetchError::HostPaused {
            url: redact_url(url),
            host,
            until,
        },
        hosts::TurnedAway::Deferred(waited) => FetchError::Deferred {
            url: redact_url(url),
            host,
            waited,
        },
    }
}

/// The host a request is paced and paused by: the host name, lowercase, without the port.
pub fn host_key(url: &Url) -> String {
    url.host_str().unwrap_or_default().to_ascii_lowercase()
}

fn parse_http_url(url: &str) -> Result<Url, FetchError> {
    let parsed = Url::parse(url).map_err(|e| FetchError::InvalidUrl {
        url: redact_url(url),
        reason: e.to_string(),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(FetchError::InvalidUrl {
            url: redact_url(url),
            reason: format!("scheme {:?} is not http or https", parsed.scheme()),
        });
    }
    Ok(parsed)
}

fn header_string(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn cache_hints(headers: &HeaderMap) -> CacheHints {
    let max_age = headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|directive| {
            let d = directive.trim();
            let (k, v) = d.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("max-age")
                .then(|| v.trim().trim_matches('"').parse::<u64>().ok())
                .flatten()
                .map(Duration::from_secs)
        });
    let expires = headers
        .get(header::EXPIRES)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v.trim()).ok())
        .map(DateTime::<Utc>::from);
    CacheHints { max_age, expires }
}

/// `Retry-After` is either delta-seconds or an HTTP date (RFC 9110 10.2.3).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        let secs = secs.min(30 * 86400) as i64;
        return Some(now + chrono::Duration::seconds(secs));
    }
    httpdate::parse_http_date(v).ok().map(DateTime::<Utc>::from)
}

fn status_hint(status: StatusCode, retry_after: Option<DateTime<Utc>>) -> String {
    let reason = status.canonical_reason().unwrap_or("");
    let advice = match status.as_u16() {
        404 => "; the feed URL is wrong or was removed: check it in the configuration",
        410 => "; the feed is gone for good: remove it from the configuration",
        401 | 403 => "; the server refuses access (some sites block unknown user agents: see [http].user_agent)",
        429 | 503 => match retry_after {
            Some(_) => "; the server asks to retry later (Retry-After recorded)",
            None => "; the server is overloaded or rate-limiting; it will be retried",
        },
        500..=599 => "; a server-side error, usually temporary",
        _ => "",
    };
    format!(" {reason}{advice}")
}

/// A 403 or 429 that is an HTML page is a block, not an answer about the feed: Reddit's
/// "whoa there, pardner" page for anonymous clients, or a Cloudflare challenge that only a
/// browser passes. Said as such, with what to do, instead of "refuses access". (The body is
/// never parsed and no link in it is followed: an error status is never read as a feed.)
fn blocked_hint(host: &str, status: StatusCode, headers: &header::HeaderMap) -> Option<String> {
    if !matches!(status.as_u16(), 403 | 429) {
        return None;
    }
    let html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("html"));
    let challenge = headers.contains_key("cf-mitigated")
        || (headers
            .get(header::SERVER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|s| s.eq_ignore_ascii_case("cloudflare"))
            && html);
    let host = host.trim_start_matches("www.");
    let reddit = host == "reddit.com" || host.ends_with(".reddit.com");
    let reason = status.canonical_reason().unwrap_or("");
    if challenge {
        Some(format!(
            " {reason}; blocked: {host} answered with a Cloudflare challenge page, which only a browser can pass; ask the site for a feed URL outside the challenge, or use a proxy"
        ))
    } else if reddit && html {
        Some(format!(
            " {reason}; blocked: reddit.com blocks anonymous requests from this IP; use a private feed URL or a proxy"
        ))
    } else if html {
        Some(format!(
            " {reason}; blocked: {host} answered with an HTML block page, not a feed; it blocks this client (check [http].user_agent, or use a proxy)"
        ))
    } else {
        None
    }
}

/// Turn reqwest's error into the user's terms: timeout, connection problem, or broken body.
fn classify(url: &str, e: &reqwest::Error, timeout: Duration) -> FetchError {
    if e.is_timeout() {
        FetchError::Timeout {
            url: redact_url(url),
            secs: timeout.as_secs(),
        }
    } else if e.is_connect() || e.is_request() {
        FetchError::Connect {
            url: redact_url(url),
            detail: redact_text(&error_chain(e)),
        }
    } else {
        FetchError::Body {
            url: redact_url(url),
            detail: redact_text(&error_chain(e)),
        }
    }
}

/// reqwest's top-level message ("error sending request") hides the cause ("dns error: ...");
/// join the chain so the user sees what actually failed.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    // reqwest/hyper wrappers that only repeat the URL or say nothing specific.
    let noise = |t: &str| {
        t.starts_with("error sending request")
            || t.starts_with("client error (")
            || t.starts_with("request or response body error")
    };
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        let text = err.to_string();
        if !noise(&text) && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = err.source();
    }
    if parts.is_empty() {
        parts.push(e.to_string());
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn html_403_and_429_pages_are_blocks_named_with_the_way_out() {
        let html = |extra: &[(&'static str, &'static str)]| {
            let mut h = header::HeaderMap::new();
            h.insert(
                header::CONTENT_TYPE,
                "text/html; charset=UTF-8".parse().unwrap(),
            );
            for (k, v) in extra {
                h.insert(*k, v.parse().unwrap());
            }
            h
        };
        let reddit = blocked_hint("www.reddit.com", StatusCode::FORBIDDEN, &html(&[])).unwrap();
        assert!(
            reddit.contains("blocked: reddit.com blocks anonymous requests from this IP; use a private feed URL or a proxy"),
            "{reddit}"
        );
        let cf = blocked_hint(
            "example.org",
            StatusCode::FORBIDDEN,
            &html(&[("cf-mitigated", "challenge")]),
        )
        .unwrap();
        assert!(cf.contains("Cloudflare challenge"), "{cf}");
        let other = blocked_hint("example.org", StatusCode::TOO_MANY_REQUESTS, &html(&[])).unwrap();
        assert!(
            other.contains("blocked: example.org answered with an HTML block page"),
            "{other}"
        );
        // Not a block: a 404 page, or a 403 that is not HTML.
        assert!(blocked_hint("www.reddit.com", StatusCode::NOT_FOUND, &html(&[])).is_none());
        assert!(blocked_hint(
            "www.reddit.com",
            StatusCode::FORBIDDEN,
            &header::HeaderMap::new()
        )
        .is_none());
    }

    use super::*;

    #[test]
    fn retry_after_seconds_and_date() {
        let now = DateTime::parse_from_rfc3339("2025-08-03T22:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_retry_after("120", now),
            Some(now + chrono::Duration::seconds(120))
        );
        let d = parse_retry_after("Sun, 03 Aug 2025 23:00:00 GMT", now).unwrap();
        assert_eq!(d.to_rfc3339(), "2025-08-03T23:00:00+00:00");
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn cache_control_max_age_and_expires() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=600"),
        );
        h.insert(
            header::EXPIRES,
            HeaderValue::from_static("Sun, 03 Aug 2025 23:00:00 GMT"),
        );
        let c = cache_hints(&h);
        assert_eq!(c.max_age, Some(Duration::from_secs(600)));
        assert_eq!(c.expires.unwrap().to_rfc3339(), "2025-08-03T23:00:00+00:00");
    }

    /// The guarded client's resolver through reqwest: a *name* (not a literal) that resolves to
    /// a loopback address is refused and nothing connects; the operator's allow list and the
    /// feed's own origin let it through. Uses this machine's host name, which /etc/hosts maps to
    /// a loopback address on most Linux systems (skips when it does not).
    #[tokio::test]
    async fn names_resolving_to_internal_addresses_are_refused_at_connect() {
        let mut buf = [0u8; 256];
        // SAFETY: gethostname writes at most buf.len() bytes, NUL-terminated when it fits.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        let name = String::from_utf8_lossy(&buf[..buf.iter().position(|b| *b == 0).unwrap_or(0)])
            .to_ascii_lowercase();
        if rc != 0 || name.is_empty() || name == "localhost" {
            eprintln!("skipping: no host name");
            return;
        }
        let resolved: Vec<std::net::SocketAddr> =
            match tokio::net::lookup_host((name.as_str(), 0)).await {
                Ok(a) => a.collect(),
                Err(_) => Vec::new(),
            };
        let Some(loopback) = resolved.iter().find(|a| a.ip().is_loopback()) else {
            eprintln!("skipping: {name} does not resolve to a loopback address ({resolved:?})");
            return;
        };
        let listener = tokio::net::TcpListener::bind((loopback.ip(), 0))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let h = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut req = Vec::new();
                let mut chunk = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&chunk[..n]),
                    }
                }
                let _ = sock
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    )
                    .await;
            }
        });
        let url = format!("http://{name}:{port}/secret");
        let settings = |allow: Vec<String>| HttpSettings {
            user_agent: "t".into(),
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            max_body: 1024,
            concurrency: 2,
            per_host_concurrency: 2,
            max_redirects: 2,
            allow_hosts: allow,
            allow_private_networks: false,
            secret_query_keys: Vec::new(),
            hosts: Vec::new(),
            max_host_wait: Duration::from_secs(60),
            proxy: None,
        };
        let fetcher = Fetcher::new(&settings(Vec::new())).unwrap();
        let err = fetcher
            .fetch(&url, &Validators::default(), &Trust::none())
            .await
            .expect_err("refused");
        assert!(err.is_refused(), "{err}");
        assert!(
            err.to_string().contains(&format!("{name} resolves to")),
            "{err}"
        );
        assert_eq!(
            hits.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "a connection was made"
        );

        // The feed's own origin, and an allowed host, are fetched.
        let ok = fetcher
            .fetch(
                &url,
                &Validators::default(),
                &Trust::origin_of(&format!("http://{name}:{port}/feed.xml")),
            )
            .await;
        assert!(matches!(ok, Ok(FetchResponse::Modified(_))), "{ok:?}");
        let allowed = Fetcher::new(&settings(vec![name.clone()])).unwrap();
        let ok = allowed
            .fetch(&url, &Validators::default(), &Trust::none())
            .await;
        assert!(matches!(ok, Ok(FetchResponse::Modified(_))), "{ok:?}");
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[test]
    fn only_http_urls() {
        assert!(parse_http_url("ftp://example.org/feed").is_err());
        assert!(parse_http_url("file:///etc/passwd").is_err());
        assert!(parse_http_url("https://example.org/feed").is_ok());
    }
}
