//! The daemon's HTTP endpoints (axum): liveness, readiness, Prometheus metrics and feed status.
//! Read-only: nothing here changes state.
//!
//! Exposed to a network, it is hardened (docs/security.md): [`conn`] bounds connections and
//! their timeouts; with `[server] token_env` set, `/api/*` and `/feed.xml` require
//! `Authorization: Bearer <token>` while `/healthz`, `/readyz` and `/metrics` stay open for
//! probes and scrapers.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

mod api;
pub mod conn;
mod events;

/// A `since` value (`--since`, `/api/posts?since=`) that is neither a day nor an RFC 3339 time.
#[derive(Debug, thiserror::Error)]
#[error("{value:?}: expected a date like 2025-08-01 or 2025-08-01T12:00:00Z")]
pub struct SinceError {
    pub value: String,
}

/// `since` accepts a day (`2025-08-01`, midnight UTC) or an RFC 3339 time. It lives here, the
/// lowest layer that reads it, so the API does not reach up into the commands for it.
pub fn parse_since(s: &str) -> Result<chrono::DateTime<chrono::Utc>, SinceError> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc());
        }
    }
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .map(|d| d.with_timezone(&chrono::Utc))
        .map_err(|_| SinceError {
            value: s.to_string(),
        })
}

use crate::policy;
use crate::redact::{redact_text, redact_url};
use crate::scheduler::Daemon;
use crate::store::Outcome;

pub fn router(daemon: Arc<Daemon>) -> Router {
    let protected = Router::new()
        .route("/api/feeds", get(api_feeds))
        .route("/api/hosts", get(api_hosts))
        .route("/api/posts", get(api::posts))
        .route("/api/posts/{id}", get(api::post))
        .route("/api/events", get(events::events))
        .route("/api/deliveries", get(events::deliveries))
        .route("/feed.xml", get(api::atom_feed))
        .route_layer(middleware::from_fn_with_state(
            daemon.clone(),
            require_token,
        ));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(protected)
        .with_state(daemon)
}

/// What a connection beyond `[server] max_connections` is served: the probes, and 503 for
/// everything else (src/server/conn.rs).
pub fn overflow_router(daemon: Arc<Daemon>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(|| async {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "1")],
                "too many connections; retry later\n",
            )
        })
        .with_state(daemon)
}

/// `/api/*` and `/feed.xml` with `[server] token_env` set: `Authorization: Bearer <token>` or 401.
async fn require_token(
    State(d): State<Arc<Daemon>>,
    req: axum::extract::Request,
    next: middleware::Next,
) -> Response {
    let app = d.app();
    let Some(token) = &app.settings.server.token else {
        return next.run(req).await;
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    match given {
        Some(g) if constant_time_eq(g.as_bytes(), token.0.as_bytes()) => next.run(req).await,
        _ => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            Json(json!({"error": "this endpoint needs Authorization: Bearer <token> (the value of the variable named by [server].token_env)"})),
        )
            .into_response(),
    }
}

/// Equality that takes as long for every wrong token of a length (no timing oracle).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Alive: the process answers HTTP.
async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready: the database answers and the scheduler loop is ticking.
async fn readyz(State(d): State<Arc<Daemon>>) -> Response {
    let db = d.app().store.ping().await;
    let sched = d.scheduler_healthy();
    // A database that answers reads but cannot store polls (a full disk, a read-only file) is
    // not ready: 503 from a failed write until a poll is stored again.
    let write = d.app().metrics.write_error();
    let status = if db.is_ok() && sched && write.is_none() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let database = match (&db, write) {
        (Err(e), _) => e.to_string(),
        (Ok(()), Some(w)) => format!("writes fail: {w}"),
        (Ok(()), None) => "ok".to_string(),
    };
    let body = json!({
        "database": database,
        "scheduler": if sched { "ok" } else { "not ticking" },
    });
    (status, Json(body)).into_response()
}

async fn metrics(State(d): State<Arc<Daemon>>) -> Response {
    let health = {
        let app = d.app();
        let ids: Vec<i64> = match app.store.list_feeds().await {
            Ok(records) => records
                .iter()
                .filter(|r| app.settings.feeds.iter().any(|f| f.url == r.url))
                .map(|r| r.id)
                .collect(),
            Err(_) => Vec::new(),
        };
        crate::events::chores::render_metrics(&*app.store, &ids).await
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        {
            let app = d.app();
            app.metrics.render()
                + &app.fetcher.render_metrics()
                + &app.articles.render_metrics()
                + &crate::fetch::guard::render_metrics()
                + &health
        },
    )
        .into_response()
}

/// Each host: its rule, its feeds' states, its pause (stored, so every replica's), and this
/// process's requests in flight and by outcome.
async fn api_hosts(State(d): State<Arc<Daemon>>) -> Response {
    let app = d.app();
    match crate::app::hosts_view(&app).await {
        Ok(hosts) => Json(hosts).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

/// Each configured feed's status: last poll, outcome, error, next due time.
async fn api_feeds(State(d): State<Arc<Daemon>>) -> Response {
    let app = d.app();
    let paused = crate::app::host_pauses(&app).await;
    let records = match app.store.list_feeds().await {
        Ok(r) => r,
        Err(e) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"error": e.to_string()})),
            )
                .into_response()
        }
    };
    let health = app.store.outbox().feed_health().await.unwrap_or_default();
    let now = chrono::Utc::now();
    let items: Vec<serde_json::Value> = app
        .settings
        .feeds
        .iter()
        .map(|f| {
            let r = records.iter().find(|r| r.url == f.url);
            let host = crate::app::feed_host(r.map_or(f.url.as_str(), |r| r.effective_url()));
            // A poll that could not be stored at all is not on the row yet.
            let unstored = app.metrics.unstored_failure(&f.url);
            let h = r.and_then(|r| health.iter().find(|h| h.feed_id == r.id));
            json!({
                "health": h.map(|h| h.state).unwrap_or(crate::store::outbox::HealthState::Ok),
                "health_since": h.filter(|h| h.state != crate::store::outbox::HealthState::Ok).map(|h| h.changed_at),
                "name": f.name,
                // Redacted (credentials, tokens: src/redact.rs), and so is the stored error,
                // which may predate redaction.
                "url": redact_url(&f.url),
                "collection": f.collection,
                "enabled": f.enabled,
                "fetch_url": r.and_then(|r| r.fetch_url.as_deref().map(redact_url)),
                "last_polled_at": r.and_then(|r| r.last_polled_at),
                "last_success_at": r.and_then(|r| r.last_success_at),
                "last_outcome": if unstored.is_some() { Some(Outcome::Failed) } else { r.and_then(|r| r.last_outcome) },
                "last_status": r.and_then(|r| r.last_status),
                "last_error": unstored
                    .or_else(|| r.and_then(|r| r.last_error.clone()))
                    .map(|e| redact_text(&e)),
                "consecutive_failures": r.map(|r| r.consecutive_failures).unwrap_or(0),
                "gone": r.map(|r| r.gone).unwrap_or(false),
                "next_due_at": r.and_then(|r| r.next_due_at),
                "due_now": r.map(|r| f.enabled && policy::is_due(r.next_due_at, r.gone, now)).unwrap_or(f.enabled),
                "posts": r.map(|r| r.post_count).unwrap_or(0),
                "host": host,
                "host_paused_until": host.as_ref().and_then(|h| paused.get(h)),
            })
        })
        .collect();
    Json(items).into_response()
}
