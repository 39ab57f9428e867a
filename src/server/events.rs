//! `/api/events?after=ID&limit=N` (the outbox, oldest first, paged by id) and
//! `/api/deliveries?status=dead` (webhook deliveries, newest first). Same auth as `/api/*`.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::scheduler::Daemon;

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    after: Option<i64>,
    limit: Option<i64>,
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}

fn unavailable(e: impl std::fmt::Display) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "error": e.to_string() })),
    )
        .into_response()
}

/// `GET /api/events?after=ID&limit=N`: `{"items": [...], "next_after": ID}`. Pass `next_after`
/// as the next page's `after`; on the last page it is the id of the newest event (or `after`),
/// so polling with it returns only what is new. Ids only grow, and events are committed in id
/// order (docs/events.md), so no event is skipped.
pub async fn events(State(d): State<Arc<Daemon>>, Query(q): Query<EventsQuery>) -> Response {
    let after = q.after.unwrap_or(0);
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return bad_request(format!("limit must be from 1 to {MAX_LIMIT}"));
    }
    let app = d.app();
    match app.store.outbox().list_events(after, limit).await {
        Ok(list) => {
            let next_after = list.last().map(|e| e.id).unwrap_or(after);
            let items: Vec<serde_json::Value> = list
                .iter()
                .map(|e| {
                    let mut v = serde_json::to_value(e).unwrap_or_default();
                    if let Some(url) = &e.feed_url {
                        v["feed_url"] = json!(crate::redact::redact_url(url));
                    }
                    v
                })
                .collect();
            Json(json!({ "items": items, "next_after": next_after })).into_response()
        }
        Err(e) => unavailable(e),
    }
}

#[derive(Debug, Deserialize)]
pub struct DeliveriesQuery {
    status: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/deliveries?status=pending|delivered|dead&limit=N`, newest first.
pub async fn deliveries(
    State(d): State<Arc<Daemon>>,
    Query(q): Query<DeliveriesQuery>,
) -> Response {
    if let Some(s) = q.status.as_deref() {
        if !matches!(s, "pending" | "delivered" | "dead") {
            return bad_request(format!("status {s:?}: expected pending, delivered or dead"));
        }
    }
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return bad_request(format!("limit must be from 1 to {MAX_LIMIT}"));
    }
    let app = d.app();
    match app
        .store
        .outbox()
        .list_deliveries(q.status.as_deref(), limit)
        .await
    {
        Ok(list) => {
            let items: Vec<serde_json::Value> = list
                .iter()
                .map(|x| {
                    let mut v = serde_json::to_value(x).unwrap_or_default();
                    v["webhook"] = json!(crate::redact::redact_url(&x.webhook));
                    v
                })
                .collect();
            Json(json!({ "items": items })).into_response()
        }
        Err(e) => unavailable(e),
    }
}
