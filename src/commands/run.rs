//! `feedsmith run`: the daemon. Wires the scheduler, the HTTP endpoints, systemd notifications and
//! signals; the polling itself is `pipeline::refresh_leased`, as in `fetch`.

use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::app::App;
use crate::config::Settings;
use crate::error::{CommandError, Exit};
use crate::scheduler::{ConfigSource, Daemon};
use crate::{server, systemd};

pub async fn run(settings: Settings, source: ConfigSource) -> Result<Exit, CommandError> {
    let listen = settings.server.listen.clone();
    let configured_listen = listen.clone();
    let grace = settings.schedule.shutdown_grace;
    let feeds = settings.feeds.iter().filter(|f| f.enabled).count();
    let app = App::build(settings).await?; // opens and migrates the database
    let listener = tokio::net::TcpListener::bind(&listen).await.map_err(|e| {
        CommandError::Runtime(format!(
            "cannot listen on {listen}: {e}; change [server].listen"
        ))
    })?;
    let local = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or(listen);
    let mut hup = signal(SignalKind::hangup()).map_err(|e| CommandError::Runtime(e.to_string()))?;
    let mut term =
        signal(SignalKind::terminate()).map_err(|e| CommandError::Runtime(e.to_string()))?;
    let mut int =
        signal(SignalKind::interrupt()).map_err(|e| CommandError::Runtime(e.to_string()))?;

    // Webhooks get the events of the first polls too: their cursors exist before the scheduler
    // starts.
    let worker =
        crate::events::deliver::Worker::new(app.store.clone(), &app.settings.http.user_agent)
            .map_err(|e| CommandError::Runtime(format!("cannot build the webhook client: {e}")))?;
    worker
        .register(&super::webhooks::worker_config(&app.settings))
        .await
        .map_err(|e| CommandError::Runtime(e.to_string()))?;
    let daemon = Daemon::start(app, source)
        .await
        .map_err(|e| CommandError::Runtime(e.to_string()))?;
    // The webhook deliveries and the outbox chores (retention, stale feeds), until shutdown.
    let stop_events = CancellationToken::new();
    let deliveries = {
        let d = daemon.clone();
        let stop = stop_events.clone();
        tokio::spawn(async move {
            worker
                .run(|| super::webhooks::worker_config(&d.app().settings), stop)
                .await
        })
    };
    let chores = {
        let d = daemon.clone();
        let store = daemon.app().store.clone();
        tokio::spawn(crate::events::chores::run(
            store,
            move || {
                let app = d.app();
                (app.settings.events.clone(), app.settings.health.clone())
            },
            stop_events.clone(),
        ))
    };
    let stop_server = CancellationToken::new();
    let router = server::router(daemon.clone());
    let overflow = server::overflow_router(daemon.clone());
    let limits = server::conn::Limits {
        max_connections: daemon.app().settings.server.max_connections,
        header_timeout: daemon.app().settings.server.header_timeout,
        idle_timeout: daemon.app().settings.server.idle_timeout,
    };
    warn_if_exposed(&local, daemon.app().settings.server.token.is_some());
    let server_stop = stop_server.clone();
    let server = tokio::spawn(async move {
        server::conn::serve(listener, router, overflow, limits, server_stop).await;
    });
    info!(listen = %local, feeds, "feedsmith is running");
    systemd::notify("READY=1");
    let watchdog = spawn_watchdog(daemon.clone());
    // `[publish] git = true`: commits what continuous publishing exports (src/publish/git.rs).
    let stop_git = CancellationToken::new();
    let committer = spawn_git_committer(&daemon, stop_git.clone());

    loop {
        tokio::select! {
            _ = hup.recv() => {
                info!("SIGHUP: reloading the configuration");
                daemon.reload().await;
                // The socket is bound once; a changed address would otherwise be ignored
                // without a word while the operator waits for it.
                let wanted = daemon.app().settings.server.listen.clone();
                if wanted != configured_listen {
                    warn!(
                        "[server].listen changed from {configured_listen} to {wanted}; the daemon \
                         keeps listening on {local} until it is restarted"
                    );
                }
            }
            _ = term.recv() => { info!("SIGTERM: shutting down"); break; }
            _ = int.recv() => { info!("SIGINT: shutting down"); break; }
        }
    }
    systemd::notify("STOPPING=1");
    let tasks = Tasks {
        daemon: daemon.clone(),
        committer,
        stop_git,
        deliveries,
        chores,
        stop_events,
        server,
        stop_server,
        watchdog,
    };
    // Each step is bounded on its own, but a step that still hangs (a wedged task, a database
    // that never answers) must not keep the process up until systemd's SIGKILL: past the
    // deadline, or on a second signal, the daemon exits at once and says which step it was in.
    // Nothing is lost by that: uncommitted polls are polled again, undelivered events stay queued.
    let step = Step::default();
    let deadline = grace * 2 + STOP_SLACK;
    tokio::select! {
        _ = tasks.stop(grace, &step) => {}
        _ = tokio::time::sleep(deadline) => {
            error!(step = step.get(), deadline_s = deadline.as_secs_f64(), "shutdown did not finish in time; exiting without waiting further");
            return Ok(Exit::Ok);
        }
        _ = term.recv() => {
            warn!(step = step.get(), "second SIGTERM: exiting without waiting further");
            return Ok(Exit::Ok);
        }
        _ = int.recv() => {
            warn!(step = step.get(), "second SIGINT: exiting without waiting further");
            return Ok(Exit::Ok);
        }
    }
    info!("stopped");
    Ok(Exit::Ok)
}

/// What shutdown waits for beyond the grace period (the webhook deliveries' own wait, the server's
/// in-flight requests, closing the database).
const STOP_SLACK: Duration = Duration::from_secs(10);

/// The shutdown step in progress, named in the log when shutdown is cut short.
#[derive(Default)]
struct Step(std::sync::Mutex<&'static str>);

impl Step {
    fn set(&self, name: &'static str) {
        tracing::debug!(step = name, "shutdown");
        if let Ok(mut s) = self.0.lock() {
            *s = name;
        }
    }

    fn get(&self) -> &'static str {
        self.0.lock().map(|s| *s).unwrap_or("unknown")
    }
}

/// The daemon's tasks, stopped in order by `stop`: polls first (they feed the rest), then the
/// committer, the event workers, the HTTP server and last the database.
struct Tasks {
    daemon: Arc<Daemon>,
    committer: Option<JoinHandle<()>>,
    stop_git: CancellationToken,
    deliveries: JoinHandle<()>,
    chores: JoinHandle<()>,
    stop_events: CancellationToken,
    server: JoinHandle<()>,
    stop_server: CancellationToken,
    watchdog: Option<JoinHandle<()>>,
}

impl Tasks {
    async fn stop(self, grace: Duration, step: &Step) {
        step.set("polls");
        self.daemon.shutdown(grace).await;
        step.set("git committer");
        self.stop_git.cancel();
        if let Some(c) = self.committer {
            let _ = c.await;
        }
        // An attempt in flight ends with its own timeout; an unrecorded one is sent again later
        // (at least once).
        step.set("webhook deliveries and chores");
        self.stop_events.cancel();
        let _ = tokio::time::timeout(grace, async {
            let _ = self.deliveries.await;
            let _ = self.chores.await;
        })
        .await;
        step.set("HTTP server");
        self.stop_server.cancel();
        if let Some(w) = self.watchdog {
            w.abort();
        }
        if let Err(e) = self.server.await {
            error!("HTTP server task: {e}");
        }
        step.set("database");
        self.daemon.app().store.close().await;
    }
}

/// The API serves stored posts and feed status (URLs, errors): on a non-loopback address
/// without a token anyone who can reach the port reads them.
fn warn_if_exposed(listen: &str, has_token: bool) {
    if exposed_without_token(listen, has_token) {
        warn!(listen = %listen, "the API listens on a non-loopback address without a token: anyone who can reach it reads /api/* and /feed.xml; set [server].token_env (docs/security.md) or listen on 127.0.0.1");
    }
}

/// Whether `listen` is reachable beyond this host while no token guards the API.
fn exposed_without_token(listen: &str, has_token: bool) -> bool {
    !has_token
        && listen
            .parse::<std::net::SocketAddr>()
            .is_ok_and(|a| !a.ip().is_loopback())
}

/// `WATCHDOG=1` at half of `WATCHDOG_USEC`, only while the scheduler loop is ticking: a wedged
/// scheduler stops the pings and systemd restarts the service.
fn spawn_watchdog(daemon: Arc<Daemon>) -> Option<tokio::task::JoinHandle<()>> {
    let interval = systemd::watchdog_interval()?;
    Some(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        loop {
            ticker.tick().await;
            if daemon.scheduler_healthy() {
                systemd::notify("WATCHDOG=1");
            }
        }
    }))
}

/// The git committer task, when `[publish] git = true` (its settings are read at start; a
/// change needs a restart).
fn spawn_git_committer(
    daemon: &Arc<Daemon>,
    stop: CancellationToken,
) -> Option<tokio::task::JoinHandle<()>> {
    let app = daemon.app();
    let (git, dir) = (
        app.settings.publish.git.clone()?,
        app.settings.publish.dir.clone()?,
    );
    Some(tokio::spawn(crate::publish::git::run_committer(
        app.store.clone(),
        dir,
        git,
        app.git.clone(),
        stop,
    )))
}

#[cfg(test)]
mod tests {
    #[test]
    fn exposure_warning() {
        use super::exposed_without_token as exposed;
        assert!(exposed("0.0.0.0:8080", false));
        assert!(exposed("[::]:8080", false));
        assert!(exposed("192.168.1.5:8080", false));
        assert!(!exposed("0.0.0.0:8080", true));
        assert!(!exposed("127.0.0.1:8080", false));
        assert!(!exposed("127.0.0.2:8080", false));
        assert!(!exposed("[::1]:8080", false));
    }
}
