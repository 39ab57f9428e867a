//! The daemon's poll tasks as the clock sees them, apart from what a poll does: each waits its
//! jitter, then runs unless shutdown began meanwhile; at shutdown the running ones get the
//! grace period and are then cancelled. Kept free of HTTP and the store so that its timing is
//! tested on tokio's paused clock (a paused clock jumps ahead whenever every task waits, which
//! real sockets would make meaningless).

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The daemon's poll tasks and the two moments of its shutdown.
#[derive(Debug, Default)]
pub(crate) struct Polls {
    tracker: TaskTracker,
    /// Cancelled at shutdown: no new polls start, polls still waiting their jitter end.
    stop_ticks: CancellationToken,
    /// Cancelled when the grace period is over: in-flight polls are abandoned uncommitted.
    hard_stop: CancellationToken,
}

impl Polls {
    /// True once shutdown began: a poll about to start returns instead.
    pub(crate) fn stopping(&self) -> bool {
        self.stop_ticks.is_cancelled()
    }

    /// Start a task that waits `delay` (the feed's jitter), then runs `poll`; shutdown during
    /// the wait ends the task without running it.
    pub(crate) fn spawn_after<F>(&self, delay: Duration, poll: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let stop = self.stop_ticks.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = stop.cancelled() => return,
            }
            poll.await;
        });
    }

    /// Run `work` (a poll's fetch and store) until it ends or the grace period of a shutdown is
    /// over; `None` when it was cancelled, which drops it (and its open transaction) unfinished.
    pub(crate) async fn until_hard_stop<F: Future>(&self, work: F) -> Option<F::Output> {
        tokio::select! {
            out = work => Some(out),
            _ = self.hard_stop.cancelled() => None,
        }
    }

    /// Begin shutdown: no poll starts from now on.
    pub(crate) fn stop(&self) {
        self.stop_ticks.cancel();
    }

    /// Wait for the running polls for at most `grace`, then cancel those left and wait for
    /// them to unwind. Returns true when the grace period ran out.
    pub(crate) async fn drain(&self, grace: Duration) -> bool {
        self.stop();
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_ok()
        {
            return false;
        }
        self.hard_stop.cancel();
        self.tracker.wait().await;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tokio::time::Instant;

    /// Let every task that can run, run (the paused clock does not move meanwhile).
    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    /// The timer wheel counts whole milliseconds, rounding a deadline up: a sleep of `d` ends
    /// at `d` or up to 1 ms later on the paused clock.
    fn at_about(actual: Duration, expected: Duration) -> bool {
        actual >= expected && actual <= expected + Duration::from_millis(1)
    }

    #[tokio::test(start_paused = true)]
    async fn a_poll_waits_exactly_its_jitter() {
        let polls = Polls::default();
        let started: Arc<Mutex<Option<Instant>>> = Arc::default();
        let t0 = Instant::now();
        let s = started.clone();
        polls.spawn_after(Duration::from_secs(10), async move {
            *s.lock().unwrap() = Some(Instant::now());
        });
        // The paused clock jumps to each timer in turn while the test sleeps.
        tokio::time::sleep(Duration::from_millis(9_990)).await;
        settle().await;
        assert_eq!(*started.lock().unwrap(), None, "started before its jitter");
        tokio::time::sleep(Duration::from_millis(20)).await;
        let at = started.lock().unwrap().expect("started at its jitter");
        assert!(at_about(at - t0, Duration::from_secs(10)), "{:?}", at - t0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_feeds_of_a_tick_spread_over_the_jitter_window() {
        // What `Daemon::tick` does for 200 feeds of one schedule: each waits policy::jitter.
        let window = Duration::from_secs(300);
        let polls = Polls::default();
        let starts: Arc<Mutex<Vec<Duration>>> = Arc::default();
        let t0 = Instant::now();
        let mut delays = Vec::new();
        for i in 0..200 {
            let delay = crate::policy::jitter(&format!("https://host{i}.example/feed.xml"), window);
            delays.push(delay);
            let starts = starts.clone();
            polls.spawn_after(delay, async move {
                starts.lock().unwrap().push(Instant::now() - t0);
            });
        }
        tokio::time::sleep(window / 2).await;
        settle().await;
        let halfway = starts.lock().unwrap().len();
        assert!(
            (60..=140).contains(&halfway),
            "{halfway} of 200 polls started in the first half of the window"
        );
        tokio::time::sleep(window / 2 + Duration::from_millis(2)).await;
        let mut starts = starts.lock().unwrap().clone();
        assert_eq!(starts.len(), 200, "every feed polled within the window");
        let mut per_tenth = [0usize; 10];
        for s in &starts {
            per_tenth[(s.as_millis() * 10 / window.as_millis()).min(9) as usize] += 1;
        }
        assert!(
            per_tenth.iter().all(|n| (5..=40).contains(n)),
            "polls bunch up instead of spreading: {per_tenth:?} per tenth of the window"
        );
        // Each started at its own jitter.
        starts.sort();
        delays.sort();
        for (s, d) in starts.iter().zip(&delays) {
            assert!(at_about(*s, *d), "started at {s:?}, jitter {d:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_ends_polls_still_waiting_their_jitter_without_running_them() {
        let polls = Polls::default();
        let ran: Arc<Mutex<bool>> = Arc::default();
        let r = ran.clone();
        polls.spawn_after(Duration::from_secs(60), async move {
            *r.lock().unwrap() = true;
        });
        tokio::time::advance(Duration::from_secs(10)).await;
        let t0 = Instant::now();
        let ran_out = polls.drain(Duration::from_secs(30)).await;
        assert!(!ran_out, "nothing was in flight");
        assert_eq!(
            Instant::now() - t0,
            Duration::ZERO,
            "shutdown waited for a jitter"
        );
        tokio::time::advance(Duration::from_secs(120)).await;
        settle().await;
        assert!(!*ran.lock().unwrap(), "a poll started after shutdown");
        assert!(polls.stopping());
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_grace_lets_short_polls_finish_and_cancels_the_rest_at_the_deadline() {
        let polls = Arc::new(Polls::default());
        // (how long the poll's work takes in seconds, what it returned: `None` if cancelled)
        type Outcomes = Arc<Mutex<Vec<(u64, Option<()>)>>>;
        let outcomes: Outcomes = Arc::default();
        for secs in [5, 20, 100, 3_600] {
            let (p, o) = (polls.clone(), outcomes.clone());
            polls.spawn_after(Duration::ZERO, async move {
                let work = tokio::time::sleep(Duration::from_secs(secs));
                let out = p.until_hard_stop(work).await;
                o.lock().unwrap().push((secs, out));
            });
        }
        settle().await;
        let t0 = Instant::now();
        let ran_out = polls.drain(Duration::from_secs(30)).await;
        assert!(ran_out);
        assert_eq!(
            Instant::now() - t0,
            Duration::from_secs(30),
            "not at the deadline"
        );
        let mut outcomes = outcomes.lock().unwrap().clone();
        outcomes.sort();
        assert_eq!(
            outcomes,
            vec![(5, Some(())), (20, Some(())), (100, None), (3_600, None)]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_returns_when_the_last_poll_ends_within_the_grace() {
        let polls = Arc::new(Polls::default());
        let finished: Arc<Mutex<Option<Option<()>>>> = Arc::default();
        let (p, f) = (polls.clone(), finished.clone());
        polls.spawn_after(Duration::ZERO, async move {
            let out = p
                .until_hard_stop(tokio::time::sleep(Duration::from_secs(7)))
                .await;
            *f.lock().unwrap() = Some(out);
        });
        settle().await;
        let t0 = Instant::now();
        assert!(!polls.drain(Duration::from_secs(30)).await);
        assert_eq!(Instant::now() - t0, Duration::from_secs(7));
        assert_eq!(
            *finished.lock().unwrap(),
            Some(Some(())),
            "cancelled within the grace"
        );
    }
}
