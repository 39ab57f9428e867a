//! Prometheus metrics, kept in atomics and rendered in the text exposition format by hand.
//!
//! A dozen series do not justify a metrics framework and its exporter; this is the whole of it,
//! lock-free on the hot path. Every name starts with `feedsmith_`.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::store::Outcome;

/// What one stored poll contributes to the metrics. Its own small type, so that this module
/// stays a leaf: the pipeline reports to it, it does not read the pipeline's types.
#[derive(Debug, Clone, Copy)]
pub struct PollSample<'a> {
    pub url: &'a str,
    pub outcome: Outcome,
    pub posts_new: usize,
    pub posts_updated: usize,
    pub bytes: u64,
    pub elapsed: Duration,
}

/// Upper bounds (seconds) of the fetch duration histogram buckets.
const BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0];

#[derive(Default)]
pub struct Metrics {
    polls_ok: AtomicU64,
    polls_not_modified: AtomicU64,
    polls_deferred: AtomicU64,
    polls_failed: AtomicU64,
    posts_new: AtomicU64,
    posts_updated: AtomicU64,
    bytes_fetched: AtomicU64,
    duration_buckets: [AtomicU64; BUCKETS.len()],
    duration_count: AtomicU64,
    duration_sum_micros: AtomicU64,
    feeds_failing: AtomicI64,
    feeds_configured: AtomicI64,
    scheduler_lag_micros: AtomicI64,
    polls_in_flight: AtomicI64,
    store_write_failures: AtomicU64,
    /// The last store write's error, until a poll is stored again (`/readyz` is 503 meanwhile).
    last_write_error: Mutex<Option<String>>,
    /// Feeds whose last poll could not be stored, not even as a failure (a full disk, a
    /// read-only file): feed URL -> error. Their rows still show the poll before, so
    /// `/api/feeds` and `feeds_failing` take the failure from here.
    unstored: Mutex<HashMap<String, String>>,
    /// Entries each rule matched (`[[rules]]`, src/rules), by rule name.
    rule_matches: Mutex<std::collections::BTreeMap<String, u64>>,
}

impl Metrics {
    pub fn record_poll(&self, r: &PollSample<'_>) {
        match r.outcome {
            Outcome::Ok => &self.polls_ok,
            Outcome::NotModified => &self.polls_not_modified,
            Outcome::Failed => &self.polls_failed,
            Outcome::Deferred => &self.polls_deferred,
        }
        .fetch_add(1, Ordering::Relaxed);
        self.posts_new
            .fetch_add(r.posts_new as u64, Ordering::Relaxed);
        self.posts_updated
            .fetch_add(r.posts_updated as u64, Ordering::Relaxed);
        self.bytes_fetched.fetch_add(r.bytes, Ordering::Relaxed);
        self.observe_duration(r.elapsed);
        // A report is recorded only once its poll is stored: the store writes again.
        if let Ok(mut last) = self.last_write_error.lock() {
            *last = None;
        }
        if let Ok(mut unstored) = self.unstored.lock() {
            unstored.remove(r.url);
        }
    }

    /// A poll whose result the store could not write. It counts as a failed poll; `recorded`
    /// says whether the failure itself could be written to the feed's row (if not, the feed is
    /// kept as failing here until a poll of it is stored).
    pub fn record_store_failure(&self, feed_url: &str, error: &str, recorded: bool) {
        self.polls_failed.fetch_add(1, Ordering::Relaxed);
        self.store_write_failures.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut last) = self.last_write_error.lock() {
            *last = Some(error.to_string());
        }
        if !recorded {
            if let Ok(mut unstored) = self.unstored.lock() {
                unstored.insert(feed_url.to_string(), error.to_string());
            }
        }
    }

    /// The last store write's error, while no poll has been stored since.
    pub fn write_error(&self) -> Option<String> {
        self.last_write_error.lock().ok().and_then(|l| l.clone())
    }

    /// The error of a feed's last poll when it could not be stored at all.
    pub fn unstored_failure(&self, feed_url: &str) -> Option<String> {
        self.unstored
            .lock()
            .ok()
            .and_then(|u| u.get(feed_url).cloned())
    }

    fn unstored_count(&self) -> usize {
        self.unstored.lock().map(|u| u.len()).unwrap_or(0)
    }

    fn observe_duration(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.duration_buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.duration_count.fetch_add(1, Ordering::Relaxed);
        self.duration_sum_micros
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    /// Entries matched by each rule in one batch (rule name -> count).
    pub fn record_rule_matches<'a>(
        &self,
        matches: impl IntoIterator<Item = (&'a String, &'a usize)>,
    ) {
        if let Ok(mut m) = self.rule_matches.lock() {
            for (rule, n) in matches {
                *m.entry(rule.clone()).or_default() += *n as u64;
            }
        }
    }

    pub fn set_feeds_failing(&self, n: i64) {
        self.feeds_failing.store(n, Ordering::Relaxed);
    }
    pub fn set_feeds_configured(&self, n: i64) {
        self.feeds_configured.store(n, Ordering::Relaxed);
    }
    pub fn set_scheduler_lag(&self, lag: Duration) {
        self.scheduler_lag_micros
            .store(lag.as_micros() as i64, Ordering::Relaxed);
    }
    pub fn polls_started(&self) {
        self.polls_in_flight.fetch_add(1, Ordering::Relaxed);
    }
    pub fn polls_finished(&self) {
        self.polls_in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut s = String::with_capacity(2048);
        let _ = writeln!(s, "# HELP feedsmith_polls_total Feed polls by outcome.");
        let _ = writeln!(s, "# TYPE feedsmith_polls_total counter");
        for (outcome, v) in [
            ("ok", &self.polls_ok),
            ("not_modified", &self.polls_not_modified),
            ("failed", &self.polls_failed),
            ("deferred", &self.polls_deferred),
        ] {
            let _ = writeln!(
                s,
                "feedsmith_polls_total{{outcome=\"{outcome}\"}} {}",
                get(v)
            );
        }
        let counters = [
            (
                "feedsmith_posts_new_total",
                "Posts created.",
                &self.posts_new,
            ),
            (
                "feedsmith_posts_updated_total",
                "Posts updated in place because their entry changed.",
                &self.posts_updated,
            ),
            (
                "feedsmith_fetched_bytes_total",
                "Response body bytes fetched (after decompression).",
                &self.bytes_fetched,
            ),
        ];
        let write_failures = &self.store_write_failures;
        let counters = counters.into_iter().chain([(
            "feedsmith_store_write_failures_total",
            "Polls whose result the database could not store (each also counts as a failed poll).",
            write_failures,
        )]);
        for (name, help, v) in counters {
            let _ = writeln!(
                s,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                get(v)
            );
        }
        let _ = writeln!(s, "# HELP feedsmith_fetch_duration_seconds Time of one poll (fetch, parse, normalize, store).");
        let _ = writeln!(s, "# TYPE feedsmith_fetch_duration_seconds histogram");
        for (i, bound) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                s,
                "feedsmith_fetch_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                get(&self.duration_buckets[i])
            );
        }
        let count = get(&self.duration_count);
        let _ = writeln!(
            s,
            "feedsmith_fetch_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            s,
            "feedsmith_fetch_duration_seconds_sum {}",
            get(&self.duration_sum_micros) as f64 / 1e6
        );
        let _ = writeln!(s, "feedsmith_fetch_duration_seconds_count {count}");
        let gauges = [
            (
                "feedsmith_feeds_failing",
                "Feeds whose last poll failed (including polls that could not be stored).",
                (self.feeds_failing.load(Ordering::Relaxed) + self.unstored_count() as i64) as f64,
            ),
            (
                "feedsmith_feeds_configured",
                "Feeds in the configuration.",
                self.feeds_configured.load(Ordering::Relaxed) as f64,
            ),
            (
                "feedsmith_polls_in_flight",
                "Polls running now.",
                self.polls_in_flight.load(Ordering::Relaxed) as f64,
            ),
            (
                "feedsmith_scheduler_lag_seconds",
                "How late the scheduler's last tick fired.",
                self.scheduler_lag_micros.load(Ordering::Relaxed) as f64 / 1e6,
            ),
        ];
        for (name, help, v) in gauges {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        if let Ok(m) = self.rule_matches.lock() {
            let _ = writeln!(s, "# HELP feedsmith_rule_matches_total Entries each rule matched (of [[rules]] and [[feeds.rules]]).\n# TYPE feedsmith_rule_matches_total counter");
            for (rule, n) in m.iter() {
                let label = rule
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                let _ = writeln!(s, "feedsmith_rule_matches_total{{rule=\"{label}\"}} {n}");
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(outcome: Outcome) -> PollSample<'static> {
        PollSample {
            url: "https://e/f",
            outcome,
            posts_new: 0,
            posts_updated: 0,
            bytes: 0,
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn counts_rule_matches_by_rule() {
        let m = Metrics::default();
        let batch = std::collections::BTreeMap::from([
            ("no job posts".to_string(), 2usize),
            ("say \"hi\"".to_string(), 1),
        ]);
        m.record_rule_matches(&batch);
        m.record_rule_matches(&batch);
        let text = m.render();
        assert!(
            text.contains("feedsmith_rule_matches_total{rule=\"no job posts\"} 4"),
            "{text}"
        );
        assert!(
            text.contains("feedsmith_rule_matches_total{rule=\"say \\\"hi\\\"\"} 2"),
            "{text}"
        );
    }

    #[test]
    fn renders_counters_and_histogram() {
        let m = Metrics::default();
        m.record_poll(&PollSample {
            posts_new: 3,
            posts_updated: 1,
            bytes: 1000,
            elapsed: Duration::from_millis(300),
            ..sample(Outcome::Ok)
        });
        m.record_poll(&PollSample {
            bytes: 1000,
            elapsed: Duration::from_secs(25),
            ..sample(Outcome::Failed)
        });
        let text = m.render();
        assert!(text.contains("feedsmith_polls_total{outcome=\"ok\"} 1"));
        assert!(text.contains("feedsmith_polls_total{outcome=\"failed\"} 1"));
        assert!(text.contains("feedsmith_posts_new_total 3"));
        assert!(text.contains("feedsmith_fetched_bytes_total 2000"));
        assert!(text.contains("feedsmith_fetch_duration_seconds_bucket{le=\"0.25\"} 0"));
        assert!(text.contains("feedsmith_fetch_duration_seconds_bucket{le=\"0.5\"} 1"));
        assert!(text.contains("feedsmith_fetch_duration_seconds_bucket{le=\"30\"} 2"));
        assert!(text.contains("feedsmith_fetch_duration_seconds_count 2"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.starts_with("feedsmith_"), "{line}");
        }
    }

    /// A poll that could not be stored is a failed poll, keeps the write error until a poll is
    /// stored again, and counts its feed as failing when not even the failure was written.
    #[test]
    fn a_store_failure_is_a_failed_poll_until_the_next_stored_one() {
        let m = Metrics::default();
        m.set_feeds_failing(0);
        m.record_store_failure("https://e/f", "database or disk is full", false);
        let text = m.render();
        assert!(
            text.contains("feedsmith_polls_total{outcome=\"failed\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("feedsmith_store_write_failures_total 1"),
            "{text}"
        );
        assert!(text.contains("feedsmith_feeds_failing 1"), "{text}");
        assert_eq!(m.write_error().as_deref(), Some("database or disk is full"));
        assert!(m.unstored_failure("https://e/f").is_some());
        m.record_poll(&sample(Outcome::Ok));
        assert_eq!(m.write_error(), None);
        assert_eq!(m.unstored_failure("https://e/f"), None);
        assert!(m.render().contains("feedsmith_feeds_failing 0"));
    }
}
