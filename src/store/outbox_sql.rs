//! The outbox's SQL, written once for both backends: `outbox_rules!(Store, Row, Connection)`
//! expands, in a backend's `outbox` module, the event writes that the post rules and the poll's
//! transaction call (`insert_event`, `post_events`, `post_withdrawn`, `after_poll`) and the whole
//! [`Outbox`](crate::store::outbox::Outbox) implementation. The SQL text uses `$N`
//! placeholders, which sqlx's SQLite driver binds like PostgreSQL's.
//!
//! Each backend keeps only what truly differs, as items the expansion names:
//! - `lock_events(conn)`: PostgreSQL's advisory lock that numbers and commits events in one
//!   order (a no-op on SQLite, whose one writer already does);
//! - `in_list(param)` and `list_arg(items)`: a text list parameter (`= ANY($1)` with an array,
//!   `IN (SELECT value FROM json_each($1))` with JSON text);
//! - `POST_EVENT_DATA` (the JSON object built in SQL), `GREATEST` (the two-argument maximum),
//!   `FOR_UPDATE` and `SKIP_LOCKED` (row locks, empty on SQLite);
//! - `in_write_tx!(store, tx => body)` and `on_writer!(store, conn => body)`: how a write
//!   reaches the database (SQLite's one writing connection in `BEGIN IMMEDIATE`, replaced after
//!   an error; PostgreSQL's pool), the same pair the post rules' writes use.

macro_rules! outbox_rules {
    ($store:ty, $row:ty, $conn:ty) => {
        use crate::store::outbox::{
            delivery_uuid, feed_event_data, from_ms, ms, next_health, AttemptResult,
            ClaimedDelivery, DeliveryCounts, DeliveryRecord, EventKind, EventRecord,
            FeedHealthRecord, HealthRow, HealthState, Outbox, WebhookFilter,
        };
        use crate::store::{PollRecord, StoreError};
        use chrono::{DateTime, Utc};
        use sqlx::Row;

        /// Write one event.
        pub(crate) async fn insert_event(
            conn: &mut $conn,
            kind: EventKind,
            feed_id: Option<i64>,
            post_id: Option<i64>,
            data: &str,
        ) -> Result<(), StoreError> {
            lock_events(conn).await?;
            sqlx::query(
                "INSERT INTO events (type, feed_id, post_id, created_at, data) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(kind.as_str())
            .bind(feed_id)
            .bind(post_id)
            .bind(ms(Utc::now()))
            .bind(data)
            .execute(&mut *conn)
            .await?;
            Ok(())
        }

        /// `post.created` / `post.updated` for the stored posts of `feed_id` with these entry
        /// keys, in post id order, with one statement (the posts of a multi-row insert have no
        /// ids in hand).
        pub(crate) async fn post_events(
            conn: &mut $conn,
            kind: EventKind,
            feed_id: i64,
            entry_keys: &[&str],
        ) -> Result<(), StoreError> {
            if entry_keys.is_empty() {
                return Ok(());
            }
            lock_events(conn).await?;
            sqlx::query(&format!(
                "INSERT INTO events (type, feed_id, post_id, created_at, data) \
                 SELECT $1, feed_id, id, $2, {POST_EVENT_DATA} \
                 FROM posts WHERE feed_id = $3 AND entry_key {} ORDER BY id",
                in_list("$4")
            ))
            .bind(kind.as_str())
            .bind(ms(Utc::now()))
            .bind(feed_id)
            .bind(list_arg(entry_keys))
            .execute(&mut *conn)
            .await?;
            Ok(())
        }

        /// `post.withdrawn` for a stored post about to be deleted, carrying the whole post (it
        /// cannot be read later).
        pub(crate) async fn post_withdrawn(
            conn: &mut $conn,
            feed_id: i64,
            entry_key: &str,
        ) -> Result<(), StoreError> {
            let row = sqlx::query("SELECT * FROM posts WHERE feed_id = $1 AND entry_key = $2")
                .bind(feed_id)
                .bind(entry_key)
                .fetch_optional(&mut *conn)
                .await?;
            let Some(row) = row else { return Ok(()) };
            let post = super::post_from_row(&row)?;
            let data = serde_json::json!({
                "entry_key": post.post.entry_key,
                "path": post.path,
                "canonical_url": post.post.canonical_url,
                "title": post.post.title,
                "post": post,
            })
            .to_string();
            insert_event(
                conn,
                EventKind::PostWithdrawn,
                Some(feed_id),
                Some(post.id),
                &data,
            )
            .await
        }

        /// The feed's health after a poll whose row was just written, in the same transaction:
        /// the health row, and the event when the state changed
        /// (`store::outbox::next_health`).
        pub(crate) async fn after_poll(
            conn: &mut $conn,
            feed_id: i64,
            poll: &PollRecord,
        ) -> Result<(), StoreError> {
            let prev: Option<(String, Option<i64>)> =
                sqlx::query_as("SELECT state, failing_since FROM feed_health WHERE feed_id = $1")
                    .bind(feed_id)
                    .fetch_optional(&mut *conn)
                    .await?;
            let failed = poll.outcome == crate::store::Outcome::Failed;
            if prev.is_none() && !failed {
                return Ok(());
            }
            let prev = prev.map(|(state, since)| HealthRow {
                state: HealthState::parse(&state).unwrap_or(HealthState::Ok),
                failing_since: since.map(from_ms),
            });
            let failures: i64 = if failed {
                sqlx::query_scalar("SELECT consecutive_failures FROM feeds WHERE id = $1")
                    .bind(feed_id)
                    .fetch_optional(&mut *conn)
                    .await?
                    .unwrap_or(1)
            } else {
                0
            };
            let (next, event) = next_health(prev, poll, failures);
            match next {
                None => {
                    sqlx::query("DELETE FROM feed_health WHERE feed_id = $1")
                        .bind(feed_id)
                        .execute(&mut *conn)
                        .await?;
                }
                Some(row) if Some(row) != prev => {
                    sqlx::query(
                        "INSERT INTO feed_health (feed_id, state, failing_since, changed_at) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (feed_id) DO UPDATE SET state = $2, \
                         failing_since = $3, changed_at = CASE WHEN feed_health.state = $2 \
                         THEN feed_health.changed_at ELSE $4 END",
                    )
                    .bind(feed_id)
                    .bind(row.state.as_str())
                    .bind(row.failing_since.map(ms))
                    .bind(ms(Utc::now()))
                    .execute(&mut *conn)
                    .await?;
                }
                Some(_) => {}
            }
            if let Some(kind) = event {
                let data = feed_event_data(next, poll, failures);
                insert_event(conn, kind, Some(feed_id), None, &data).await?;
            }
            Ok(())
        }

        const EVENT_COLUMNS: &str = "e.id, e.type, e.feed_id, e.post_id, e.created_at, e.data, \
             f.name AS feed_name, f.url AS feed_url, f.collection AS collection";

        fn event_from_row(row: &$row) -> Result<EventRecord, StoreError> {
            let data: String = row.try_get("data")?;
            Ok(EventRecord {
                id: row.try_get("id")?,
                kind: row.try_get("type")?,
                feed_id: row.try_get("feed_id")?,
                post_id: row.try_get("post_id")?,
                created_at: from_ms(row.try_get("created_at")?),
                data: serde_json::from_str(&data)
                    .map_err(|e| StoreError::Corrupt(format!("events.data: {e}")))?,
                feed_name: row.try_get("feed_name")?,
                feed_url: row.try_get("feed_url")?,
                collection: row.try_get("collection")?,
            })
        }

        const DELIVERY_COLUMNS: &str =
            "d.id AS d_id, d.event_id, d.webhook, d.delivery_id, d.status, \
             d.attempts, d.next_attempt_at, d.last_status, d.last_error, d.created_at AS d_created_at, \
             d.finished_at, (SELECT type FROM events x WHERE x.id = d.event_id) AS event_type";

        fn delivery_from_row(row: &$row) -> Result<DeliveryRecord, StoreError> {
            Ok(DeliveryRecord {
                id: row.try_get("d_id")?,
                event_id: row.try_get("event_id")?,
                webhook: row.try_get("webhook")?,
                delivery_id: row.try_get("delivery_id")?,
                status: row.try_get("status")?,
                attempts: row.try_get("attempts")?,
                next_attempt_at: from_ms(row.try_get("next_attempt_at")?),
                last_status: row.try_get("last_status")?,
                last_error: row.try_get("last_error")?,
                created_at: from_ms(row.try_get("d_created_at")?),
                finished_at: row.try_get::<Option<i64>, _>("finished_at")?.map(from_ms),
                event_type: row
                    .try_get::<Option<String>, _>("event_type")?
                    .unwrap_or_default(),
            })
        }

        /// Events fanned out per statement.
        const FAN_OUT_BATCH: i64 = 500;

        /// One batch of `fan_out`, in its transaction: the webhook's next events after its
        /// cursor become its deliveries, and the cursor moves past them. `None` when the webhook
        /// has no cursor or no new event; else the deliveries created and the events read.
        async fn fan_out_batch(
            tx: &mut $conn,
            webhook: &WebhookFilter,
            now: DateTime<Utc>,
        ) -> Result<Option<(usize, usize)>, StoreError> {
            let cursor: Option<i64> = sqlx::query_scalar(&format!(
                "SELECT last_event_id FROM webhook_cursors WHERE webhook = $1{FOR_UPDATE}"
            ))
            .bind(&webhook.name)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(cursor) = cursor else {
                return Ok(None);
            };
            let rows = sqlx::query(&format!(
                "SELECT {EVENT_COLUMNS} FROM events e LEFT JOIN feeds f ON f.id = e.feed_id \
                 WHERE e.id > $1 ORDER BY e.id LIMIT $2"
            ))
            .bind(cursor)
            .bind(FAN_OUT_BATCH)
            .fetch_all(&mut *tx)
            .await?;
            let events = rows
                .iter()
                .map(event_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            let Some(last) = events.last().map(|e| e.id) else {
                return Ok(None);
            };
            let mut created = 0;
            for e in events.iter().filter(|e| webhook.wants(e)) {
                let order_key = match (e.post_id, e.feed_id) {
                    (Some(p), _) => format!("post:{p}"),
                    (None, Some(f)) => format!("feed:{f}"),
                    (None, None) => format!("event:{}", e.id),
                };
                created += sqlx::query(
                    "INSERT INTO deliveries (event_id, webhook, delivery_id, order_key, \
                     status, attempts, next_attempt_at, created_at) \
                     VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6) ON CONFLICT DO NOTHING",
                )
                .bind(e.id)
                .bind(&webhook.name)
                .bind(delivery_uuid(&webhook.name, e.id))
                .bind(order_key)
                .bind(ms(now))
                .bind(ms(now))
                .execute(&mut *tx)
                .await?
                .rows_affected() as usize;
            }
            sqlx::query("UPDATE webhook_cursors SET last_event_id = $1 WHERE webhook = $2")
                .bind(last)
                .bind(&webhook.name)
                .execute(&mut *tx)
                .await?;
            Ok(Some((created, events.len())))
        }

        #[async_trait::async_trait]
        impl Outbox for $store {
            async fn list_events(
                &self,
                after: i64,
                limit: i64,
            ) -> Result<Vec<EventRecord>, StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {EVENT_COLUMNS} FROM events e LEFT JOIN feeds f ON f.id = e.feed_id \
                     WHERE e.id > $1 ORDER BY e.id LIMIT $2"
                ))
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(event_from_row).collect()
            }

            async fn prune_events(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
                in_write_tx!(self, tx => {
                    sqlx::query(
                        "DELETE FROM deliveries WHERE status <> 'pending' AND created_at < $1",
                    )
                    .bind(ms(before))
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "DELETE FROM events WHERE created_at < $1 AND NOT EXISTS \
                         (SELECT 1 FROM deliveries d WHERE d.event_id = events.id)",
                    )
                    .bind(ms(before))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                })
            }

            async fn feed_health(&self) -> Result<Vec<FeedHealthRecord>, StoreError> {
                let rows: Vec<(i64, String, Option<i64>, i64)> = sqlx::query_as(
                    "SELECT feed_id, state, failing_since, changed_at FROM feed_health \
                     ORDER BY feed_id",
                )
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(feed_id, state, since, changed)| FeedHealthRecord {
                        feed_id,
                        state: HealthState::parse(&state).unwrap_or(HealthState::Ok),
                        failing_since: since.map(from_ms),
                        changed_at: from_ms(changed),
                    })
                    .collect())
            }

            async fn check_stale(
                &self,
                cutoff: DateTime<Utc>,
                now: DateTime<Utc>,
            ) -> Result<usize, StoreError> {
                in_write_tx!(self, tx => {
                    // Fresh again: a stale feed with a newer post.
                    sqlx::query(
                        "DELETE FROM feed_health WHERE state = 'stale' AND EXISTS \
                         (SELECT 1 FROM posts p WHERE p.feed_id = feed_health.feed_id AND p.date >= $1)",
                    )
                    .bind(cutoff)
                    .execute(&mut *tx)
                    .await?;
                    let stale: Vec<(i64, DateTime<Utc>)> = sqlx::query_as(
                        "SELECT p.feed_id, MAX(p.date) AS newest FROM posts p \
                         WHERE NOT EXISTS (SELECT 1 FROM feed_health h WHERE h.feed_id = p.feed_id) \
                         GROUP BY p.feed_id HAVING MAX(p.date) < $1",
                    )
                    .bind(cutoff)
                    .fetch_all(&mut *tx)
                    .await?;
                    for (feed_id, newest) in &stale {
                        sqlx::query(
                            "INSERT INTO feed_health (feed_id, state, failing_since, changed_at) \
                             VALUES ($1, 'stale', NULL, $2)",
                        )
                        .bind(feed_id)
                        .bind(ms(now))
                        .execute(&mut *tx)
                        .await?;
                        let data =
                            serde_json::json!({"health": "stale", "newest_post": newest.to_rfc3339()})
                                .to_string();
                        insert_event(&mut tx, EventKind::FeedStale, Some(*feed_id), None, &data)
                            .await?;
                    }
                    stale.len()
                })
            }

            async fn register_webhooks(&self, names: &[String]) -> Result<(), StoreError> {
                in_write_tx!(self, tx => {
                    lock_events(&mut tx).await?;
                    for name in names {
                        sqlx::query(
                            "INSERT INTO webhook_cursors (webhook, last_event_id) \
                             SELECT $1, COALESCE(MAX(id), 0) FROM events WHERE true \
                             ON CONFLICT (webhook) DO NOTHING",
                        )
                        .bind(name)
                        .execute(&mut *tx)
                        .await?;
                    }
                })
            }

            async fn fan_out(
                &self,
                webhook: &WebhookFilter,
                now: DateTime<Utc>,
            ) -> Result<usize, StoreError> {
                let mut created = 0;
                loop {
                    let batch =
                        in_write_tx!(self, tx => fan_out_batch(&mut tx, webhook, now).await?)?;
                    let Some((n, seen)) = batch else {
                        return Ok(created);
                    };
                    created += n;
                    if (seen as i64) < FAN_OUT_BATCH {
                        return Ok(created);
                    }
                }
            }

            async fn claim_deliveries(
                &self,
                webhooks: &[String],
                owner: &str,
                lease_for: std::time::Duration,
                limit: i64,
            ) -> Result<Vec<ClaimedDelivery>, StoreError> {
                let now = Utc::now();
                let until = now + chrono::Duration::from_std(lease_for).unwrap_or_default();
                let mut claimed = in_write_tx!(self, tx => {
                    let ids: Vec<i64> = sqlx::query_scalar(&format!(
                        "UPDATE deliveries SET lease_owner = $1, lease_until = $2 WHERE id IN ( \
                           SELECT d.id FROM deliveries d WHERE d.status = 'pending' \
                           AND d.next_attempt_at <= $3 AND (d.lease_until IS NULL OR d.lease_until < $3) \
                           AND d.webhook {} \
                           AND NOT EXISTS (SELECT 1 FROM deliveries o WHERE o.webhook = d.webhook \
                             AND o.order_key = d.order_key AND o.status = 'pending' AND o.id < d.id) \
                           ORDER BY d.id LIMIT $5{SKIP_LOCKED}) RETURNING id",
                        in_list("$4")
                    ))
                    .bind(owner)
                    .bind(ms(until))
                    .bind(ms(now))
                    .bind(list_arg(webhooks))
                    .bind(limit)
                    .fetch_all(&mut *tx)
                    .await?;
                    let mut claimed = Vec::with_capacity(ids.len());
                    for id in ids {
                        let row = sqlx::query(&format!(
                            "SELECT {DELIVERY_COLUMNS}, {EVENT_COLUMNS} FROM deliveries d \
                             JOIN events e ON e.id = d.event_id LEFT JOIN feeds f ON f.id = e.feed_id \
                             WHERE d.id = $1"
                        ))
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                        if let Some(row) = row {
                            claimed.push(ClaimedDelivery {
                                delivery: delivery_from_row(&row)?,
                                event: event_from_row(&row)?,
                            });
                        }
                    }
                    claimed
                })?;
                claimed.sort_by_key(|c| c.delivery.id);
                Ok(claimed)
            }

            async fn finish_delivery(
                &self,
                id: i64,
                owner: &str,
                result: &AttemptResult,
            ) -> Result<bool, StoreError> {
                let now = ms(Utc::now());
                let (status, next, http, error, finished) = match result {
                    AttemptResult::Delivered { status } => {
                        ("delivered", None, Some(i64::from(*status)), None, Some(now))
                    }
                    AttemptResult::Retry {
                        status,
                        error,
                        next_attempt_at,
                    } => (
                        "pending",
                        Some(ms(*next_attempt_at)),
                        status.map(i64::from),
                        Some(error.as_str()),
                        None,
                    ),
                    AttemptResult::Dead { status, error } => (
                        "dead",
                        None,
                        status.map(i64::from),
                        Some(error.as_str()),
                        Some(now),
                    ),
                };
                let done = on_writer!(self, conn => sqlx::query(
                    "UPDATE deliveries SET status = $1, attempts = attempts + 1, \
                     next_attempt_at = COALESCE($2, next_attempt_at), last_status = $3, \
                     last_error = $4, finished_at = $5, lease_owner = NULL, lease_until = NULL \
                     WHERE id = $6 AND lease_owner = $7",
                )
                .bind(status)
                .bind(next)
                .bind(http)
                .bind(error)
                .bind(finished)
                .bind(id)
                .bind(owner)
                .execute(conn)
                .await
                .map_err(StoreError::from))?
                .rows_affected();
                Ok(done == 1)
            }

            async fn list_deliveries(
                &self,
                status: Option<&str>,
                limit: i64,
            ) -> Result<Vec<DeliveryRecord>, StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {DELIVERY_COLUMNS} FROM deliveries d \
                     WHERE (CAST($1 AS TEXT) IS NULL OR d.status = $1) \
                     ORDER BY d.id DESC LIMIT $2"
                ))
                .bind(status)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(delivery_from_row).collect()
            }

            async fn delivery_counts(&self) -> Result<Vec<DeliveryCounts>, StoreError> {
                let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(
                    "SELECT webhook, COUNT(*) FILTER (WHERE status = 'pending'), \
                     COUNT(*) FILTER (WHERE status = 'delivered'), \
                     COUNT(*) FILTER (WHERE status = 'dead') \
                     FROM deliveries GROUP BY webhook ORDER BY webhook",
                )
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(webhook, pending, delivered, dead)| DeliveryCounts {
                        webhook,
                        pending,
                        delivered,
                        dead,
                    })
                    .collect())
            }

            async fn next_pending(
                &self,
                webhooks: &[String],
            ) -> Result<Option<DateTime<Utc>>, StoreError> {
                let next: Option<i64> = sqlx::query_scalar(&format!(
                    "SELECT MIN({GREATEST}(next_attempt_at, COALESCE(lease_until, 0))) \
                     FROM deliveries WHERE status = 'pending' AND webhook {}",
                    in_list("$1")
                ))
                .bind(list_arg(webhooks))
                .fetch_one(&self.pool)
                .await?;
                Ok(next.map(from_ms))
            }
        }
    };
}
pub(crate) use outbox_rules;
