//! The outbox on PostgreSQL (see `store::outbox`; the SQL is `store::outbox_sql`'s).
//!
//! Event ids come from a sequence, and PostgreSQL transactions commit in any order: a reader
//! paging by id (the API, the fan-out cursor) could see event 11 committed before event 10 and
//! never look back. So every transaction that writes an event takes one transaction-level
//! advisory lock first ([`EVENTS_LOCK`]), held to its commit: events are numbered and committed
//! in one order. Deliveries are claimed with `FOR UPDATE SKIP LOCKED` and a lease, so exactly
//! one replica sends a delivery at a time.

use sqlx::postgres::PgRow;
use sqlx::PgConnection;

use super::{in_list, list_arg, PgStore, FOR_UPDATE, GREATEST, POST_EVENT_DATA, SKIP_LOCKED};

/// The advisory lock key of event writes (any constant: "feedsmith events").
const EVENTS_LOCK: i64 = 0x6665_6564_6576_7473;

/// Take the event lock for the rest of the caller's transaction (re-entrant, so each event
/// write asks again at no cost).
async fn lock_events(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(EVENTS_LOCK)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

crate::store::outbox_sql::outbox_rules!(PgStore, PgRow, PgConnection);
