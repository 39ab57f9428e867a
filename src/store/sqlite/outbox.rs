//! The outbox on SQLite (see `store::outbox`; the SQL is `store::outbox_sql`'s). Writes go
//! through the store's one writing connection, inside `BEGIN IMMEDIATE`: SQLite has one writer
//! at a time, so event ids are committed in their order and a cursor by id misses none; hence
//! no event lock here.

use sqlx::sqlite::SqliteRow;
use sqlx::SqliteConnection;

use super::{
    begin_immediate, in_list, list_arg, SqliteStore, FOR_UPDATE, GREATEST, POST_EVENT_DATA,
    SKIP_LOCKED,
};

/// No lock: the one writer numbers and commits events in one order already.
async fn lock_events(_conn: &mut SqliteConnection) -> Result<(), StoreError> {
    Ok(())
}

crate::store::outbox_sql::outbox_rules!(SqliteStore, SqliteRow, SqliteConnection);
