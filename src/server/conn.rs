//! The API's accept loop: what `axum::serve` leaves out and an exposed daemon needs.
//!
//! - **Header-read timeout** (`[server] header_timeout`): a client that does not send a whole
//!   request head in time is disconnected (slowloris).
//! - **Idle timeout** (`[server] idle_timeout`): a connection without traffic is closed, whether
//!   it idles between keep-alive requests or stalls in a body.
//! - **Connection cap** (`[server] max_connections`): beyond it, connections are still accepted
//!   (so they do not pile up in the kernel's backlog) but served in *overflow* mode: one request,
//!   a short header timeout, only `/healthz` and `/readyz` answered, everything else 503, then
//!   closed. At most [`OVERFLOW_SLOTS`] overflow connections are open; a newer one evicts the
//!   oldest, so a liveness probe always gets a slot and file descriptors stay bounded
//!   (`max_connections + OVERFLOW_SLOTS` plus the database's), below the process limit.
//! - A failed `accept` (EMFILE) waits a moment instead of spinning.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

/// Overflow connections open at once (beyond `max_connections`).
pub const OVERFLOW_SLOTS: usize = 64;
/// An overflow connection's request head must arrive within this.
const OVERFLOW_HEADER_TIMEOUT: Duration = Duration::from_secs(1);

/// `[server]`'s connection limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
}

/// Serve `main` (and `overflow` beyond the cap) on `listener` until `shutdown`; then stop
/// accepting, let in-flight requests finish (graceful shutdown of each connection) and return.
pub async fn serve(
    listener: TcpListener,
    main: Router,
    overflow: Router,
    limits: Limits,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let overflowing: Arc<Mutex<VecDeque<CancellationToken>>> =
        Arc::new(Mutex::new(VecDeque::with_capacity(OVERFLOW_SLOTS)));
    let tracker = TaskTracker::new();
    let mut last_accept_warning: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            r = listener.accept() => r,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(e) => {
                // EMFILE/ENFILE (or a connection reset before accept): wait for descriptors to
                // free up rather than spin; say so at most every 10 s.
                if last_accept_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                    warn!("HTTP server: cannot accept a connection: {e}; check the open-file limit (LimitNOFILE) against [server].max_connections");
                    last_accept_warning = Some(Instant::now());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        match slots.clone().try_acquire_owned() {
            Ok(permit) => {
                let router = main.clone();
                let stop = shutdown.clone();
                tracker.spawn(async move {
                    serve_connection(
                        stream,
                        router,
                        limits.header_timeout,
                        limits.idle_timeout,
                        true,
                        stop,
                    )
                    .await;
                    drop(permit);
                });
            }
            Err(_) => {
                let evict = CancellationToken::new();
                {
                    let mut q = lock(&overflowing);
                    q.retain(|t| !t.is_cancelled());
                    if q.len() >= OVERFLOW_SLOTS {
                        if let Some(oldest) = q.pop_front() {
                            oldest.cancel();
                        }
                    }
                    q.push_back(evict.clone());
                }
                debug!("HTTP server: over [server].max_connections; serving in overflow mode");
                let router = overflow.clone();
                let q = overflowing.clone();
                tracker.spawn(async move {
                    serve_connection(
                        stream,
                        router,
                        OVERFLOW_HEADER_TIMEOUT,
                        OVERFLOW_HEADER_TIMEOUT,
                        false,
                        evict.clone(),
                    )
                    .await;
                    evict.cancel();
                    lock(&q).retain(|t| !t.is_cancelled());
                });
            }
        }
    }
    drop(listener);
    tracker.close();
    tracker.wait().await;
}

/// One connection: HTTP/1.1 with the header-read timeout; closed after `idle` without traffic,
/// and gracefully (after the request in flight) when `stop` is cancelled.
async fn serve_connection(
    stream: TcpStream,
    router: Router,
    header_timeout: Duration,
    idle: Duration,
    keep_alive: bool,
    stop: CancellationToken,
) {
    let started = Instant::now();
    let activity = Arc::new(AtomicU64::new(0));
    let io = TokioIo::new(Tracked {
        inner: stream,
        started,
        last: activity.clone(),
    });
    let service = TowerToHyperService::new(router);
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(keep_alive)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let check = (idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    let mut ticker = tokio::time::interval(check);
    let mut stopping = false;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    debug!("HTTP connection ended: {e}");
                }
                return;
            }
            _ = stop.cancelled(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = ticker.tick() => {
                let last = Duration::from_millis(activity.load(Ordering::Relaxed));
                if started.elapsed().saturating_sub(last) > idle {
                    debug!("HTTP connection idle for {idle:?}; closed");
                    return; // dropping the connection closes the socket
                }
            }
        }
    }
}

/// A socket that records when it last read or wrote (milliseconds since `started`).
struct Tracked {
    inner: TcpStream,
    started: Instant,
    last: Arc<AtomicU64>,
}

impl Tracked {
    fn touch(&self) {
        self.last
            .store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.touch();
        }
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}
