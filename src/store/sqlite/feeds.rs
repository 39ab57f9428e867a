//! The SQLite store's feed rows: the poll's state written into a feed's row (one feed, or a
//! group of feed-row-only polls in one statement), and the row form of the stored-feeds read.

use super::*;

/// A row of [`SqliteStore::stored_feeds`]' document (a JSON array, in column order).
#[derive(serde::Deserialize)]
pub(super) struct StoredFeedRow {
    pub(super) id: i64,
    pub(super) url: String,
    pub(super) fetch_url: Option<String>,
    pub(super) name: String,
    pub(super) collection: String,
    pub(super) etag: Option<String>,
    pub(super) last_modified: Option<String>,
    pub(super) last_polled_at: Option<String>,
    pub(super) last_success_at: Option<String>,
    pub(super) last_status: Option<i64>,
    pub(super) last_outcome: Option<String>,
    pub(super) last_error: Option<String>,
    pub(super) consecutive_failures: i64,
    pub(super) retry_after: Option<String>,
    pub(super) gone: i64,
    pub(super) ttl_minutes: Option<i64>,
    pub(super) next_due_at: Option<String>,
    pub(super) post_count: i64,
    pub(super) config_hash: Option<String>,
}

/// The text sqlx stores for a time (`DateTime<Utc>` encodes as RFC 3339, `AutoSi`, `+00:00`), so
/// rows written by [`update_feed_states`] read back like those bound one by one.
pub(super) fn sqlite_time(t: Option<DateTime<Utc>>) -> serde_json::Value {
    match t {
        Some(t) => t
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
            .into(),
        None => serde_json::Value::Null,
    }
}

/// `q_update_feed_state` for many feeds (distinct ids) in one statement, hence one transaction.
pub(super) async fn update_feed_states(
    conn: &mut SqliteConnection,
    polls: &[(i64, &PollRecord)],
) -> Result<(), StoreError> {
    let rows: Vec<serde_json::Value> = polls
        .iter()
        .map(|(id, p)| {
            serde_json::json!([
                id,
                p.outcome.as_str(),
                p.etag,
                p.last_modified,
                sqlite_time(Some(p.polled_at)),
                p.http_status,
                p.error,
                sqlite_time(p.retry_after),
                i64::from(p.gone),
                p.fetch_url,
                p.ttl_minutes,
                sqlite_time(p.next_due_at),
            ])
        })
        .collect();
    let rows = serde_json::Value::Array(rows).to_string();
    // Same rules as q_update_feed_state, with the outcome chosen per row. The rows are taken
    // out of the JSON once (MATERIALIZED): referenced in place, every use of a column in the
    // SET clause would extract it from the row's JSON text again.
    sqlx::query(
        "WITH p AS MATERIALIZED (SELECT value ->> 0 AS id, value ->> 1 AS outcome, \
           value ->> 2 AS etag, value ->> 3 AS last_modified, value ->> 4 AS polled_at, \
           value ->> 5 AS status, value ->> 6 AS error, value ->> 7 AS retry_after, \
           value ->> 8 AS gone, value ->> 9 AS fetch_url, value ->> 10 AS ttl_minutes, \
           value ->> 11 AS next_due_at FROM json_each(?1)) \
         UPDATE feeds SET \
         etag = CASE p.outcome WHEN 'ok' THEN p.etag WHEN 'not_modified' THEN COALESCE(p.etag, feeds.etag) \
           ELSE COALESCE(feeds.etag, p.etag) END, \
         last_modified = CASE p.outcome WHEN 'ok' THEN p.last_modified \
           WHEN 'not_modified' THEN COALESCE(p.last_modified, feeds.last_modified) \
           ELSE COALESCE(feeds.last_modified, p.last_modified) END, \
         last_polled_at = p.polled_at, \
         last_success_at = CASE WHEN p.outcome IN ('ok', 'not_modified') THEN p.polled_at ELSE feeds.last_success_at END, \
         last_status = p.status, last_outcome = p.outcome, last_error = p.error, \
         consecutive_failures = CASE WHEN p.outcome IN ('ok', 'not_modified') THEN 0 \
           WHEN p.outcome = 'deferred' THEN feeds.consecutive_failures ELSE feeds.consecutive_failures + 1 END, \
         retry_after = p.retry_after, gone = p.gone, fetch_url = COALESCE(p.fetch_url, feeds.fetch_url), \
         ttl_minutes = COALESCE(p.ttl_minutes, feeds.ttl_minutes), next_due_at = p.next_due_at, \
         lease_owner = NULL, lease_until = NULL, updated_at = ?2 \
         FROM p \
         WHERE feeds.id = p.id",
    )
    .bind(rows)
    .bind(Utc::now())
    .execute(&mut *conn)
    .await?;
    // The health rule (outbox::after_poll) has nothing to do for a feed that did not fail and
    // has no health row, which is nearly every feed of a warm fetch; one read finds the few
    // others instead of one read per feed on the writing connection.
    let ids = serde_json::Value::Array(polls.iter().map(|(id, _)| (*id).into()).collect());
    let tracked: HashSet<i64> = sqlx::query_scalar(
        "SELECT feed_id FROM feed_health WHERE feed_id IN (SELECT value FROM json_each(?1))",
    )
    .bind(ids.to_string())
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();
    for (id, p) in polls {
        if p.outcome == crate::store::Outcome::Failed || tracked.contains(id) {
            outbox::after_poll(conn, *id, p).await?;
        }
    }
    Ok(())
}
