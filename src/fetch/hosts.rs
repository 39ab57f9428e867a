//! Hosts, not feeds, are the unit of politeness and failure: one book of every host the program
//! talks to (feed polls, autodiscovery, article pages, Reddit JSON, the model endpoint), with
//! each host's slots (concurrency), request-start pace (a token bucket, `[[hosts]] interval` and
//! `burst`), pause (after a 429/503 `Retry-After` or a block page) and request counts.
//!
//! In one process the book is the truth. With a [`HostLedger`] (the store, wired by `app`), the
//! pace and the pauses are also shared through the database: a `fetch` right after a 429 sends
//! nothing to that host, and replicas on one PostgreSQL database send at most the host's rate
//! in total, not each.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// `[[hosts]]`: how one host (and its subdomains) is asked. Hosts throttle as hosts, so the
/// limits are shared by every feed, article page and autodiscovery request to them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HostRule {
    /// `reddit.com` matches `reddit.com` and `www.reddit.com`; the host name, without a port.
    #[serde(rename = "match")]
    pub pattern: String,
    /// Minimum time between two request starts (a token bucket refilled at this rate).
    #[serde(serialize_with = "crate::units::ser_duration")]
    pub interval: Duration,
    /// Requests that may start back to back before the interval applies.
    pub burst: u32,
    /// Requests at once; `None`: `[http].per_host_concurrency`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
    /// Replaces `[http].user_agent` for this host (some hosts want a contact in it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Sent with every request to this host (an API key header, a cookie a site asks for).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The proxy for this host's requests (`http://`, `https://` or `socks5://`), replacing
    /// `[http] proxy`.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::redact::ser_redacted_opt"
    )]
    pub proxy: Option<String>,
}

impl HostRule {
    /// A rule for `pattern` with no limit of its own.
    pub fn new(pattern: &str) -> HostRule {
        HostRule {
            pattern: pattern.to_string(),
            interval: Duration::ZERO,
            burst: 1,
            concurrency: None,
            user_agent: None,
            headers: BTreeMap::new(),
            proxy: None,
        }
    }

    /// Reddit allows clients without OAuth about ten requests a minute and answers a burst
    /// with 429 or a block page: at most 10 a minute, two back to back, one at a time.
    pub fn reddit_preset() -> HostRule {
        HostRule {
            interval: Duration::from_secs(6),
            burst: 2,
            concurrency: Some(1),
            ..HostRule::new("reddit.com")
        }
    }

    pub fn matches(&self, host: &str) -> bool {
        let p = self.pattern.as_str();
        host == p || host.strip_suffix(p).is_some_and(|rest| rest.ends_with('.'))
    }

    /// The most specific rule for `host` (the longest pattern that matches).
    pub fn for_host<'a>(rules: &'a [HostRule], host: &str) -> Option<&'a HostRule> {
        rules
            .iter()
            .filter(|r| r.matches(host))
            .max_by_key(|r| r.pattern.len())
    }
}

/// The generic cell rate algorithm, as a reservation: given the host's theoretical arrival time
/// `tat` (when the bucket is full again), when may a request asked for at `now` start, and what
/// is the new `tat`? `burst` requests may start back to back, then one per `interval`.
///
/// It is one number per host, so the store can keep it and replicas can share it: the whole
/// token bucket is `tat`, updated in one transaction.
pub fn gcra(
    tat: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    interval: Duration,
    burst: u32,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let step = chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::MAX);
    let tat = tat.unwrap_or(now).max(now);
    let tolerance = step * (burst.max(1) as i32 - 1);
    let start = (tat - tolerance).max(now);
    (start, tat + step)
}

/// Where hosts' pace and pauses are shared beyond this process: the store (see `app`). Errors
/// are strings because the fetcher only logs them and falls back to its own book: a store
/// that cannot be reached must not stop the requests.
#[async_trait::async_trait]
pub trait HostLedger: Send + Sync {
    /// Reserve the next request start at `host` ([`gcra`], atomically in the store); returns
    /// when it may start and the host's pause, if one is stored.
    async fn reserve(
        &self,
        host: &str,
        interval: Duration,
        burst: u32,
        now: DateTime<Utc>,
    ) -> Result<(DateTime<Utc>, Option<DateTime<Utc>>), String>;
    /// Store a pause (it only ever extends a stored one). `status`: the HTTP status that
    /// caused it.
    async fn pause(&self, host: &str, until: DateTime<Utc>, status: u16, reason: &str);
    /// Every stored pause still in force.
    async fn pauses(&self, now: DateTime<Utc>) -> Result<Vec<(String, DateTime<Utc>)>, String>;
}

/// What one request to a host came to, for `feedsmith_host_requests_total{host,outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RequestOutcome {
    /// 2xx or 304.
    Ok,
    /// 429, or 503 with `Retry-After`: the host asked to slow down.
    Throttled,
    /// An HTML 403/429 block page.
    Blocked,
    /// Any other status.
    Error,
    /// No answer (connect failure, reset, timeout).
    Failed,
}

impl RequestOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestOutcome::Ok => "ok",
            RequestOutcome::Throttled => "throttled",
            RequestOutcome::Blocked => "blocked",
            RequestOutcome::Error => "error",
            RequestOutcome::Failed => "failed",
        }
    }
}

/// Why a request was not let through to its host ([`HostBook::admit`]).
pub(crate) enum TurnedAway {
    /// The host asked to be left alone until then.
    Paused(DateTime<Utc>),
    /// No slot (and pace) within the wait allowed.
    Deferred(Duration),
}

/// The slots a request holds while it runs: its host's (if it takes one) and the global one
/// (if the caller has such a limit).
pub(crate) type Slots = (Option<OwnedSemaphorePermit>, Option<OwnedSemaphorePermit>);

/// One host's state as `hosts list` and `/api/hosts` show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HostSnapshot {
    pub host: String,
    /// The `[[hosts]]` rule that applies (`None`: the defaults).
    #[serde(rename = "match", skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(serialize_with = "crate::units::ser_duration")]
    pub interval: Duration,
    pub burst: u32,
    pub concurrency: usize,
    pub in_flight: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_until: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_throttled_at: Option<DateTime<Utc>>,
    /// Requests by outcome since the process started.
    pub requests: BTreeMap<&'static str, u64>,
    /// Polls deferred because no slot came within `[http] max_host_wait`.
    pub deferred: u64,
}

/// A host's request-start budget: `burst` tokens, one more every `interval`, kept as the GCRA's
/// one number so the in-process book and the store's work the same way.
#[derive(Default)]
struct Pace {
    tat: Option<DateTime<Utc>>,
}

#[derive(Default)]
struct HostEntry {
    slots: Option<Arc<Semaphore>>,
    concurrency: usize,
    pace: Arc<tokio::sync::Mutex<Pace>>,
    paused_until: Option<DateTime<Utc>>,
    last_throttled_at: Option<DateTime<Utc>>,
    requests: BTreeMap<RequestOutcome, u64>,
    deferred: u64,
    /// Connect failures in a row (reset by any answer).
    connect_failures: u32,
}

/// The in-process book of hosts (see the module doc).
pub(crate) struct HostBook {
    rules: Vec<HostRule>,
    per_host_concurrency: usize,
    hosts: Mutex<HashMap<String, HostEntry>>,
    ledger: OnceLock<Arc<dyn HostLedger>>,
    /// When the stored pauses were last read (other processes' pauses are learned this often).
    pauses_read: Mutex<Option<tokio::time::Instant>>,
}

/// Connect failures in a row that pause a host.
pub const CONNECT_FAILURES_PAUSE: u32 = 3;

/// How often the stored pauses are read again, so a pause another replica or process stored
/// reaches this one.
const PAUSES_REFRESH: Duration = Duration::from_secs(5);

impl HostBook {
    pub(crate) fn new(rules: &[HostRule], per_host_concurrency: usize) -> HostBook {
        HostBook {
            rules: rules.to_vec(),
            per_host_concurrency,
            hosts: Mutex::new(HashMap::new()),
            ledger: OnceLock::new(),
            pauses_read: Mutex::new(None),
        }
    }

    pub(crate) fn rule(&self, host: &str) -> Option<&HostRule> {
        HostRule::for_host(&self.rules, host)
    }

    pub(crate) fn share(&self, ledger: Arc<dyn HostLedger>) {
        let _ = self.ledger.set(ledger);
    }

    fn with<R>(&self, host: &str, f: impl FnOnce(&mut HostEntry) -> R) -> R {
        let mut hosts = match self.hosts.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let entry = hosts.entry(host.to_string()).or_insert_with(|| {
            let n = self
                .rule(host)
                .and_then(|r| r.concurrency)
                .unwrap_or(self.per_host_concurrency)
                .max(1);
            HostEntry {
                slots: Some(Arc::new(Semaphore::new(n))),
                concurrency: n,
                ..HostEntry::default()
            }
        });
        f(entry)
    }

    pub(crate) fn slots(&self, host: &str) -> Arc<Semaphore> {
        self.with(host, |e| {
            e.slots
                .clone()
                .unwrap_or_else(|| Arc::new(Semaphore::new(1)))
        })
    }

    /// Let a request through to `host`, or say why not: a pause turns it away at once; else it
    /// waits for the host's slot (when `slot`), its pace, then the `global` slot (when given),
    /// all within `max_wait` (in that order, so a busy host never holds global slots that other
    /// hosts could use). One admission for the fetcher's first hop and for clients of
    /// their own ([`super::HostGate`]).
    pub(crate) async fn admit(
        &self,
        host: &str,
        slot: bool,
        global: Option<&Arc<Semaphore>>,
        max_wait: Duration,
    ) -> Result<Slots, TurnedAway> {
        if let Some(until) = self.paused_until(host, Utc::now()).await {
            return Err(TurnedAway::Paused(until));
        }
        let wait = async {
            let host_slot = match slot {
                true => self.slots(host).acquire_owned().await.ok(),
                false => None,
            };
            // Paced after the slot is taken, so the interval separates request starts.
            if let Some(until) = self.pace(host).await {
                return Err(TurnedAway::Paused(until));
            }
            let global_slot = match global {
                Some(g) => Arc::clone(g).acquire_owned().await.ok(),
                None => None,
            };
            Ok((host_slot, global_slot))
        };
        match tokio::time::timeout(max_wait, wait).await {
            Ok(admitted) => admitted,
            Err(_) => Err(TurnedAway::Deferred(max_wait)),
        }
    }

    /// Wait until a request to `host` may start under its interval (a no-op without one).
    /// Returns a pause the store knows of, when there is one.
    pub(crate) async fn pace(&self, host: &str) -> Option<DateTime<Utc>> {
        let rule = self.rule(host)?;
        if rule.interval.is_zero() {
            return None;
        }
        let (interval, burst) = (rule.interval, rule.burst);
        let pace = self.with(host, |e| e.pace.clone());
        // Held while waiting: requests to one host start in the order they asked.
        let mut pace = pace.lock().await;
        let now = Utc::now();
        let shared = match self.ledger.get() {
            Some(ledger) => match ledger.reserve(host, interval, burst, now).await {
                Ok(reserved) => Some(reserved),
                Err(e) => {
                    tracing::debug!(
                        host,
                        "host pace not shared (store: {e}); paced in this process"
                    );
                    None
                }
            },
            None => None,
        };
        let (start, paused) = shared.unwrap_or_else(|| {
            let (start, tat) = gcra(pace.tat, now, interval, burst);
            pace.tat = Some(tat);
            (start, None)
        });
        if let Some(until) = paused.filter(|u| *u > now) {
            self.note_pause(host, until);
            return Some(until);
        }
        if let Ok(wait) = (start - Utc::now()).to_std() {
            tokio::time::sleep(wait).await;
        }
        None
    }

    /// Until when `host` asked to be left alone, if that is still in the future (this
    /// process's pauses, and the store's, read at most every [`PAUSES_REFRESH`]).
    pub(crate) async fn paused_until(
        &self,
        host: &str,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        self.refresh_pauses(now).await;
        self.with(host, |e| e.paused_until.filter(|u| *u > now))
    }

    pub(crate) async fn refresh_pauses(&self, now: DateTime<Utc>) {
        let Some(ledger) = self.ledger.get() else {
            return;
        };
        {
            let mut read = match self.pauses_read.lock() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
            let fresh = read.is_some_and(|at| at.elapsed() < PAUSES_REFRESH);
            if fresh {
                return;
            }
            *read = Some(tokio::time::Instant::now());
        }
        match ledger.pauses(now).await {
            Ok(pauses) => {
                for (host, until) in pauses {
                    self.note_pause(&host, until);
                }
            }
            Err(e) => tracing::debug!("stored host pauses not read: {e}"),
        }
    }

    fn note_pause(&self, host: &str, until: DateTime<Utc>) {
        self.with(host, |e| {
            e.paused_until = Some(e.paused_until.map_or(until, |u| u.max(until)));
        });
    }

    /// Pause every request to `host` until `until`, here and in the store.
    pub(crate) async fn pause(&self, host: &str, until: DateTime<Utc>, status: u16, reason: &str) {
        self.note_pause(host, until);
        if let Some(ledger) = self.ledger.get() {
            ledger.pause(host, until, status, reason).await;
        }
    }

    pub(crate) fn count(&self, host: &str, outcome: RequestOutcome) {
        self.with(host, |e| {
            *e.requests.entry(outcome).or_default() += 1;
            if outcome == RequestOutcome::Throttled {
                e.last_throttled_at = Some(Utc::now());
            }
        });
    }

    /// A connection to `host` failed. From the [`CONNECT_FAILURES_PAUSE`]th in a row, the host
    /// is paused: 30 s doubled per further failure, capped at 30 min, with up to 20 % jitter so
    /// replicas do not all come back at once. Returns the pause's end.
    pub(crate) fn connect_failed(&self, host: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let n = self.with(host, |e| {
            e.connect_failures = e.connect_failures.saturating_add(1);
            e.connect_failures
        });
        if n < CONNECT_FAILURES_PAUSE {
            return None;
        }
        let base = 30u64
            .saturating_mul(1 << (n - CONNECT_FAILURES_PAUSE).min(6))
            .min(1800);
        let jitter = (u64::from(now.timestamp_subsec_nanos()) % 200) as f64 / 1000.0;
        let secs = (base as f64 * (1.0 + jitter)) as i64;
        Some(now + chrono::Duration::seconds(secs))
    }

    /// `host` answered (any status): its connect-failure count starts again.
    pub(crate) fn answered(&self, host: &str) {
        self.with(host, |e| e.connect_failures = 0);
    }

    pub(crate) fn count_deferred(&self, host: &str) {
        self.with(host, |e| e.deferred += 1);
    }

    /// Every host this process has talked to (or been told about), sorted by name.
    pub(crate) fn snapshot(&self) -> Vec<HostSnapshot> {
        let now = Utc::now();
        let hosts = match self.hosts.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut out: Vec<HostSnapshot> = hosts
            .iter()
            .map(|(host, e)| {
                let rule = self.rule(host);
                let available = e.slots.as_ref().map_or(0, |s| s.available_permits());
                HostSnapshot {
                    host: host.clone(),
                    rule: rule.map(|r| r.pattern.clone()),
                    interval: rule.map_or(Duration::ZERO, |r| r.interval),
                    burst: rule.map_or(1, |r| r.burst),
                    concurrency: e.concurrency,
                    in_flight: e.concurrency.saturating_sub(available),
                    paused_until: e.paused_until.filter(|u| *u > now),
                    last_throttled_at: e.last_throttled_at,
                    requests: e.requests.iter().map(|(k, v)| (k.as_str(), *v)).collect(),
                    deferred: e.deferred,
                }
            })
            .collect();
        out.sort_by(|a, b| a.host.cmp(&b.host));
        out
    }

    /// `feedsmith_host_requests_total{host,outcome}`, `feedsmith_host_paused{host}` and
    /// `feedsmith_deferred_total`, in the Prometheus text format.
    pub(crate) fn render_metrics(&self) -> String {
        use std::fmt::Write;
        let hosts = self.snapshot();
        let mut out = String::new();
        out.push_str("# HELP feedsmith_host_requests_total Requests sent to a host, by outcome.\n");
        out.push_str("# TYPE feedsmith_host_requests_total counter\n");
        for h in &hosts {
            for (outcome, n) in &h.requests {
                let _ = writeln!(
                    out,
                    "feedsmith_host_requests_total{{host=\"{}\",outcome=\"{outcome}\"}} {n}",
                    escape_label(&h.host)
                );
            }
        }
        out.push_str(
            "# HELP feedsmith_host_paused 1 while a host is paused (Retry-After, block page).\n",
        );
        out.push_str("# TYPE feedsmith_host_paused gauge\n");
        for h in &hosts {
            let _ = writeln!(
                out,
                "feedsmith_host_paused{{host=\"{}\"}} {}",
                escape_label(&h.host),
                u8::from(h.paused_until.is_some())
            );
        }
        out.push_str("# HELP feedsmith_deferred_total Polls deferred: no host slot within [http] max_host_wait, or the host paused.\n");
        out.push_str("# TYPE feedsmith_deferred_total counter\n");
        let total: u64 = hosts.iter().map(|h| h.deferred).sum();
        let _ = writeln!(out, "feedsmith_deferred_total {total}");
        out
    }
}

fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn gcra_lets_a_burst_through_then_one_per_interval() {
        let i = Duration::from_secs(6);
        let mut tat = None;
        let mut starts = Vec::new();
        for _ in 0..5 {
            let (start, next) = gcra(tat, at(0), i, 2);
            tat = Some(next);
            starts.push((start - at(0)).num_seconds());
        }
        assert_eq!(starts, [0, 0, 6, 12, 18]);
        // After a quiet spell the bucket is full again.
        let (start, _) = gcra(tat, at(1000), i, 2);
        assert_eq!(start, at(1000));
    }

    #[test]
    fn gcra_with_burst_one_spaces_every_start() {
        let i = Duration::from_millis(500);
        let (s1, t1) = gcra(None, at(0), i, 1);
        let (s2, t2) = gcra(Some(t1), at(0), i, 1);
        let (s3, _) = gcra(Some(t2), at(0), i, 1);
        assert_eq!(s1, at(0));
        assert_eq!((s2 - s1).num_milliseconds(), 500);
        assert_eq!((s3 - s2).num_milliseconds(), 500);
    }

    #[test]
    fn the_longest_matching_rule_wins_and_subdomains_match() {
        let rules = vec![
            HostRule::new("example.org"),
            HostRule {
                burst: 3,
                ..HostRule::new("feeds.example.org")
            },
        ];
        assert_eq!(
            HostRule::for_host(&rules, "a.feeds.example.org").map(|r| r.burst),
            Some(3)
        );
        assert_eq!(
            HostRule::for_host(&rules, "www.example.org").map(|r| r.pattern.as_str()),
            Some("example.org")
        );
        assert!(HostRule::for_host(&rules, "notexample.org").is_none());
    }

    #[tokio::test]
    async fn pauses_extend_and_are_counted_in_the_metrics() {
        let book = HostBook::new(&[], 2);
        let now = Utc::now();
        book.pause("a.test", now + chrono::Duration::seconds(60), 429, "x")
            .await;
        book.pause("a.test", now + chrono::Duration::seconds(30), 429, "x")
            .await;
        assert_eq!(
            book.paused_until("a.test", now).await,
            Some(now + chrono::Duration::seconds(60))
        );
        assert_eq!(book.paused_until("b.test", now).await, None);
        book.count("a.test", RequestOutcome::Throttled);
        book.count_deferred("a.test");
        let m = book.render_metrics();
        assert!(
            m.contains("feedsmith_host_requests_total{host=\"a.test\",outcome=\"throttled\"} 1"),
            "{m}"
        );
        assert!(
            m.contains("feedsmith_host_paused{host=\"a.test\"} 1"),
            "{m}"
        );
        assert!(m.contains("feedsmith_deferred_total 1"), "{m}");
    }

    /// On tokio's paused clock (no real waiting): a request that finds its host's only slot
    /// taken waits exactly `max_wait`, then is turned away as deferred; a request to another
    /// host is admitted at once meanwhile, and the host's slot is free again once released.
    #[tokio::test(start_paused = true)]
    async fn a_busy_host_defers_after_max_wait_and_never_delays_another_host() {
        let book = HostBook::new(&[], 1);
        let max_wait = Duration::from_secs(120);
        let held = book.admit("slow.test", true, None, max_wait).await;
        assert!(held.is_ok(), "the first request takes the slot");
        let started = tokio::time::Instant::now();
        let other = book.admit("quick.test", true, None, max_wait).await;
        assert!(other.is_ok());
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "another host does not wait"
        );
        match book.admit("slow.test", true, None, max_wait).await {
            Err(TurnedAway::Deferred(waited)) => assert_eq!(waited, max_wait),
            Err(TurnedAway::Paused(until)) => panic!("not paused, only busy: {until}"),
            Ok(_) => panic!("admitted while the host's only slot is held"),
        }
        assert_eq!(
            started.elapsed(),
            max_wait,
            "deferred after exactly max_wait"
        );
        drop(held);
        let again = tokio::time::Instant::now();
        assert!(book.admit("slow.test", true, None, max_wait).await.is_ok());
        assert_eq!(
            again.elapsed(),
            Duration::ZERO,
            "the released slot is free at once"
        );
    }

    #[test]
    fn repeated_connect_failures_pause_the_host_with_a_capped_backoff() {
        let book = HostBook::new(&[], 2);
        let now = Utc::now();
        assert_eq!(book.connect_failed("x.test", now), None);
        assert_eq!(book.connect_failed("x.test", now), None);
        let first = book.connect_failed("x.test", now).unwrap();
        let secs = (first - now).num_seconds();
        assert!((30..=36).contains(&secs), "{secs}");
        for _ in 0..20 {
            book.connect_failed("x.test", now);
        }
        let capped = (book.connect_failed("x.test", now).unwrap() - now).num_seconds();
        assert!((1800..=2160).contains(&capped), "{capped}");
        book.answered("x.test");
        assert_eq!(book.connect_failed("x.test", now), None);
    }
}
