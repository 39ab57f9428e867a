//! The embedded default backend: one SQLite file, WAL mode, nothing to install.
//!
//! SQLite allows one writer at a time. Rather than letting concurrent feed transactions collide
//! and retry on `SQLITE_BUSY` (a deferred transaction that upgrades to a write lock can fail
//! without waiting for the busy timeout), writes go through one connection of their own behind an
//! async mutex inside the process ([`Writer`]); readers use the pool and never wait thanks to WAL.
//! The busy timeout still covers other processes (a `posts list` while the daemon writes).
//!
//! Polls are group-committed: [`GroupWriter`] collects the polls that arrive while it writes and
//! stores each group at once: the polls that change only their feed's row (a 304, a failure, the
//! common case of a steady-state poll) with one `UPDATE ... FROM json_each(?)` statement, the
//! polls with posts in one transaction with a savepoint each. `save_poll` still returns only after
//! its poll is committed, so what a caller sees stored, and what survives a crash, is the same as
//! with one transaction per poll.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Connection, Row, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio_util::sync::CancellationToken;

use super::{
    config_hash, to_json, ArticleRecord, Claim, FeedRecord, Keep, Lease, Outcome, PollRecord,
    PollSave, PostFilter, SaveReport, Saved, SavedPoll, Store, StoreError, StoredPost,
};
use crate::domain::{FeedConfig, Post, SkippedEntry};
use crate::normalize::{post_path, post_path_with_slug};
use crate::store::outbox::EventKind;

pub struct SqliteStore {
    pool: SqlitePool,
    /// The one connection that writes, behind the write lock (see [`Writer`]).
    writer: Arc<Mutex<Writer>>,
    /// Polls waiting to be group-committed by the [`GroupWriter`] task.
    queue: mpsc::UnboundedSender<WriteJob>,
    /// The [`checkpointer`] task, stopped by `closing` and awaited by `close`.
    checkpointer: Mutex<Option<tokio::task::JoinHandle<()>>>,
    closing: CancellationToken,
    /// The database URL, for read errors that name the file ([`StoreError::at`]).
    url: String,
}

impl SqliteStore {
    /// A read's error named by the file, told apart by cause ([`StoreError::at`]).
    fn read_error(&self, e: StoreError) -> StoreError {
        e.at(&self.url)
    }

    pub async fn open(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let open_err = |source| StoreError::Open {
            url: url.to_string(),
            source,
        };
        let options = SqliteConnectOptions::from_str(url)
            .map_err(open_err)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool_options = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(30))
            // A connection to a local file does not go stale: pinging it before every use (the
            // pool's default) costs a round trip to its worker thread per statement.
            .test_before_acquire(false);
        // Two processes opening a fresh file together: the first connection of each switches it
        // to WAL mode, which needs an exclusive lock that SQLite does not wait for (no busy
        // handler). The loser gets `database is locked` at once; retry within the busy timeout.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let pool = loop {
            match pool_options.clone().connect_with(options.clone()).await {
                Ok(p) => break p,
                Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(open_err(e)),
            }
        };
        let (checkpoints, wanted) = mpsc::channel(1);
        let closing = CancellationToken::new();
        let checkpointer = tokio::spawn(checkpointer(options.clone(), wanted, closing.clone()));
        let writer = Arc::new(Mutex::new(Writer {
            options: options
                .pragma("cache_size", WRITER_CACHE_KIB)
                .pragma("temp_store", "memory")
                .pragma("wal_autocheckpoint", WRITER_AUTOCHECKPOINT),
            conn: None,
            checkpoints: Some(checkpoints),
        }));
        let (queue, jobs) = mpsc::unbounded_channel();
        tokio::spawn(
            GroupWriter {
                writer: Arc::clone(&writer),
                queue: jobs,
            }
            .run(),
        );
        Ok(SqliteStore {
            pool,
            writer,
            queue,
            checkpointer: Mutex::new(Some(checkpointer)),
            closing,
            url: url.to_string(),
        })
    }

    /// Every stored feed's record and configuration hash, by URL, read as JSON documents of
    /// [`FEED_PAGE`] feeds each: one message from the connection's thread per page instead of
    /// one per row, which is most of the cost of reading thousands of rows. Why pages and not
    /// one document: with 20 000 feeds the one document and its parse held about 36 MB at the
    /// daemon's start. `None` when a value is not in the form this program writes (a time not
    /// in RFC 3339, say); the caller then reads the rows one by one.
    async fn stored_feeds(
        &self,
    ) -> Result<Option<HashMap<String, (Option<String>, FeedRecord)>>, StoreError> {
        let mut out = HashMap::new();
        let mut after = i64::MIN;
        loop {
            let doc: Option<String> = sqlx::query_scalar(
                "SELECT json_group_array(json_array(f.id, f.url, f.fetch_url, f.name, f.collection, \
                 f.etag, f.last_modified, f.last_polled_at, f.last_success_at, f.last_status, \
                 f.last_outcome, f.last_error, f.consecutive_failures, f.retry_after, f.gone, \
                 f.ttl_minutes, f.next_due_at, \
                 (SELECT COUNT(*) FROM posts p WHERE p.feed_id = f.id), f.config_hash)) \
                 FROM (SELECT * FROM feeds WHERE id > ?1 ORDER BY id LIMIT ?2) f",
            )
            .bind(after)
            .bind(FEED_PAGE)
            .fetch_one(&self.pool)
            .await?;
            let Some(doc) = doc else { return Ok(None) };
            let Ok(rows) = serde_json::from_str::<Vec<StoredFeedRow>>(&doc) else {
                return Ok(None);
            };
            drop(doc);
            let full_page = rows.len() as i64 >= FEED_PAGE;
            for r in rows {
                after = after.max(r.id);
                let Some((hash, record)) = stored_feed_record(r) else {
                    return Ok(None);
                };
                out.insert(record.url.clone(), (hash, record));
            }
            if !full_page {
                return Ok(Some(out));
            }
        }
    }

    /// Upsert the feeds whose configuration is new or changed, in one write transaction (the
    /// stored hashes are read inside it, so two processes starting together write each change
    /// once).
    async fn write_feeds(&self, feeds: &[FeedConfig]) -> Result<(), StoreError> {
        let mut writer = self.writer.lock().await;
        let now = Utc::now().trunc_subsecs(0);
        let mut tx = begin_immediate(writer.conn().await?).await?;
        // Steady state (every start of `fetch` or `run`): nothing changed, so nothing is written;
        // the stored hashes are read once instead of upserting every feed.
        let stored = stored_hashes(&mut *tx).await?;
        for f in feeds {
            let hash = config_hash(f);
            if stored_as_is(&stored, f, &hash) {
                continue;
            }
            sqlx::query(
                "INSERT INTO feeds (url, name, collection, config_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (url) DO UPDATE SET name = excluded.name, collection = excluded.collection, \
                 gone = CASE WHEN feeds.config_hash IS excluded.config_hash THEN feeds.gone ELSE 0 END, \
                 next_due_at = CASE WHEN feeds.config_hash IS excluded.config_hash THEN feeds.next_due_at ELSE NULL END, \
                 updated_at = CASE WHEN feeds.config_hash IS excluded.config_hash THEN feeds.updated_at ELSE excluded.updated_at END, \
                 config_hash = excluded.config_hash",
            )
            .bind(&f.url)
            .bind(&f.name)
            .bind(&f.collection)
            .bind(&hash)
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Store a poll that changes only the feed's row, committed together with the other such
    /// polls that are waiting, and return once it is committed.
    async fn save_state(&self, feed_id: i64, poll: &PollRecord) -> Result<(), StoreError> {
        let (done, committed) = oneshot::channel();
        let job = WriteJob::State(StateWrite {
            feed_id,
            poll: poll.clone(),
            done,
        });
        if self.queue.send(job).is_err() {
            // The writer is gone (its runtime shut down while this store lives on, as in a test
            // that shares a store between runtimes): nothing was queued, write it directly.
            let mut writer = self.writer.lock().await;
            let result = async {
                let mut tx = begin_immediate(writer.conn().await?).await?;
                q_update_feed_state(&mut tx, feed_id, poll).await?;
                tx.commit().await?;
                Ok(())
            }
            .await;
            return writer.check(result);
        }
        match committed.await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Sql(sqlx::Error::WorkerCrashed)),
        }
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

// What the SQL written once for both backends (`store::queries`, `store::outbox_sql`) asks of
// this one.

/// A text list parameter: JSON text, read by `json_each`.
fn in_list(param: &str) -> String {
    format!("IN (SELECT value FROM json_each({param}))")
}

fn list_arg<S: AsRef<str>>(items: &[S]) -> String {
    let items: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    serde_json::to_string(&items).unwrap_or_else(|_| "[]".into())
}

const POST_EVENT_DATA: &str = "json_object('entry_key', entry_key, 'path', path, \
     'canonical_url', canonical_url, 'title', title, 'content_hash', content_hash)";

/// SQLite's scalar `max` of two values.
const GREATEST: &str = "MAX";

/// No row locks: the write transaction holds the database's write lock.
const FOR_UPDATE: &str = "";
const SKIP_LOCKED: &str = "";

/// The database's clock, for leases: `leases.until_at` is in Unix seconds.
const LEASE_NOW: &str = "CAST(strftime('%s', 'now') AS INTEGER)";
/// A lease's end, `$3` seconds (from [`lease_secs`]) from now on the database's clock.
const LEASE_UNTIL: &str = "CAST(strftime('%s', 'now') AS INTEGER) + $3";

fn lease_secs(ttl: Duration) -> i64 {
    ttl.as_secs().max(1) as i64
}

/// A feed row's `updated_at` after a poll: `$15`, bound to this process's clock (SQLite's own
/// time text would differ from the form sqlx writes).
const FEED_UPDATED_AT: &str = "$15";
const BIND_UPDATED_AT: bool = true;

/// Every stored feed's configuration hash, by URL (the steady-state check of a start).
async fn stored_hashes<'e, E: sqlx::Executor<'e, Database = sqlx::Sqlite>>(
    e: E,
) -> Result<HashMap<String, Option<String>>, StoreError> {
    let rows: Vec<(String, Option<String>)> = sqlx::query_as("SELECT url, config_hash FROM feeds")
        .fetch_all(e)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Whether `feed` is stored with the configuration whose hash is `hash`.
fn stored_as_is(stored: &HashMap<String, Option<String>>, feed: &FeedConfig, hash: &str) -> bool {
    stored
        .get(&feed.url)
        .is_some_and(|h| h.as_deref() == Some(hash))
}

/// `$body` in a write transaction on the one writing connection, committed; its value, or the
/// error, after which the connection is replaced ([`Writer::check`]). For the writes both
/// backends share (`shared_writes!`).
macro_rules! in_write_tx {
    ($store:expr, $tx:ident => $body:expr) => {{
        let mut writer = $store.writer.lock().await;
        let result = async {
            let mut $tx = begin_immediate(writer.conn().await?).await?;
            let value = $body;
            $tx.commit().await?;
            Ok::<_, StoreError>(value)
        }
        .await;
        writer.check(result)
    }};
}

/// `$body`, one statement on the writing connection `$conn`, checked as [`in_write_tx`] is.
macro_rules! on_writer {
    ($store:expr, $conn:ident => $body:expr) => {{
        let mut writer = $store.writer.lock().await;
        let result = async {
            let $conn = writer.conn().await?;
            $body
        }
        .await;
        writer.check(result)
    }};
}

mod feeds;
mod outbox;
mod writer;

use feeds::*;
use writer::*;

super::row_mappers!(SqliteRow);
super::post_inserts!(sqlx::Sqlite);
super::posts::post_rules!(sqlx::Sqlite);
super::queries::shared_queries!(sqlx::Sqlite);
super::queries::shared_reads!(SqliteStore);
super::queries::shared_writes!(SqliteStore);

type Tx<'a> = sqlx::Transaction<'a, sqlx::Sqlite>;

/// `SQLITE_BUSY` in any of its extended forms.
fn is_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|c| c.parse::<i64>().ok())
            .is_some_and(|c| c & 0xff == 5),
        _ => false,
    }
}

/// A write transaction that takes SQLite's write lock when it begins. Why: a deferred `BEGIN`
/// that reads and then writes asks for the lock only at its first write, and if another process
/// wrote in between, SQLite answers `SQLITE_BUSY` (`SQLITE_BUSY_SNAPSHOT` in WAL mode) at once,
/// without calling the busy handler, so `busy_timeout` never applied and concurrent `fetch` runs
/// or `fetch` beside `run` failed within a second. `BEGIN IMMEDIATE` waits for the lock (up to
/// the busy timeout) before it reads anything, so its reads cannot go stale. Every write
/// transaction of this backend begins here.
async fn begin_immediate(conn: &mut SqliteConnection) -> Result<Tx<'_>, StoreError> {
    Ok(conn.begin_with("BEGIN IMMEDIATE").await?)
}

/// Posts per statement of [`Store::rehash_posts`] (one JSON document each).
const REHASH_CHUNK: usize = 1000;

/// Insert `run` (new posts, in order) with one statement, all at their first-choice paths; with
/// `keep`, return the rows' `placed_columns!` (else no rows: nothing needs them). `None`,
/// with nothing changed, when any of them conflicts (a stored canonical URL or path):
/// the caller then inserts them one by one, which resolves each conflict exactly as before.
/// Why: one statement per post was most of a cold fetch's database time (each is a round trip
/// to the connection's thread), and conflicts are rare.
///
/// A plain `INSERT` (no `ON CONFLICT`): on a uniqueness conflict SQLite aborts the statement and
/// undoes the rows it had inserted, and the transaction goes on, so no savepoint is needed
/// around it (two round trips and a copy of every page it touches, per run).
async fn insert_run(
    tx: &mut Tx<'_>,
    feed_id: i64,
    run: &[&Post],
    now: DateTime<Utc>,
    keep: bool,
) -> Result<Option<Vec<SqliteRow>>, StoreError> {
    let rows: Vec<(&Post, &str, String)> = run
        .iter()
        .map(|p| (*p, p.slug.as_str(), post_path(p)))
        .collect();
    let suffix = if keep { super::RETURNING_PLACED } else { "" };
    let mut qb = insert_posts_query(feed_id, &rows, now, suffix);
    match qb.build().fetch_all(&mut **tx).await {
        Ok(rows) => Ok(Some(rows)),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[async_trait]
impl Store for SqliteStore {
    /// All pending migrations in one `BEGIN IMMEDIATE` transaction on the writing connection:
    /// SQLite's write lock is the migration lock (sqlx takes none for SQLite). Two processes
    /// started together on a fresh file used to both see no table and both create it, and one
    /// exited with `table feeds already exists`; now the second waits for the first (up to the
    /// busy timeout), then finds every migration applied. Each migration runs in a savepoint, so
    /// a failing one leaves the file as it was.
    async fn migrate(&self) -> Result<usize, StoreError> {
        let mut writer = self.writer.lock().await;
        let result = async {
            let mut tx = begin_immediate(writer.conn().await?).await?;
            // A fresh file has no `_sqlx_migrations` yet (and SQLite refuses to prepare a
            // statement naming a missing table, even in a branch not taken).
            let exists: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = '_sqlx_migrations')",
            )
            .fetch_one(&mut *tx)
            .await?;
            let count = "SELECT count(*) FROM _sqlx_migrations";
            let before: i64 = if exists {
                sqlx::query_scalar(count).fetch_one(&mut *tx).await?
            } else {
                0
            };
            sqlx::migrate!("./migrations/sqlite")
                .run_direct(&mut *tx)
                .await?;
            let after: i64 = sqlx::query_scalar(count).fetch_one(&mut *tx).await?;
            tx.commit().await?;
            Ok(usize::try_from(after - before).unwrap_or(0))
        }
        .await;
        writer.check(result)
    }

    async fn sync_feeds(&self, feeds: &[FeedConfig]) -> Result<Vec<FeedRecord>, StoreError> {
        // Steady state (every start of `fetch` or `run`): nothing changed, so nothing is written
        // and every record comes from one read.
        if let Some(mut stored) = self.stored_feeds().await? {
            let unchanged = feeds.iter().all(|f| {
                stored
                    .get(&f.url)
                    .is_some_and(|(hash, _)| hash.as_deref() == Some(config_hash(f).as_str()))
            });
            if unchanged {
                return feeds
                    .iter()
                    .map(|f| {
                        stored.remove(&f.url).map(|(_, r)| r).ok_or_else(|| {
                            StoreError::Corrupt(format!("feed {} is listed twice", f.url))
                        })
                    })
                    .collect();
            }
        }
        self.write_feeds(feeds).await?;
        // Every feed's state read back in pages (as the steady state reads it); row by row only
        // when a stored value is not in this program's form. Why not one read of all rows
        // inside the transaction: with 20 000 feeds its copies held about 36 MB at start-up.
        let mut by_url: HashMap<String, FeedRecord> = match self.stored_feeds().await? {
            Some(stored) => stored.into_iter().map(|(u, (_, r))| (u, r)).collect(),
            None => {
                let rows = sqlx::query(&format!("SELECT {FEED_COLUMNS} FROM feeds f"))
                    .fetch_all(&self.pool)
                    .await?;
                let mut by_url = HashMap::with_capacity(rows.len());
                for row in &rows {
                    let record = feed_from_row(row)?;
                    by_url.insert(record.url.clone(), record);
                }
                by_url
            }
        };
        feeds
            .iter()
            .map(|f| {
                by_url.remove(&f.url).ok_or_else(|| {
                    StoreError::Corrupt(format!("feed {} vanished while it was stored", f.url))
                })
            })
            .collect()
    }

    async fn register_feeds(&self, feeds: &[FeedConfig]) -> Result<(), StoreError> {
        // Steady state (every start of `run`): the stored hashes only, read without the write
        // lock; nothing changed, so nothing is written.
        let stored = stored_hashes(&self.pool)
            .await
            .map_err(|e| self.read_error(e))?;
        let unchanged = feeds
            .iter()
            .all(|f| stored_as_is(&stored, f, &config_hash(f)));
        drop(stored);
        if unchanged {
            return Ok(());
        }
        self.write_feeds(feeds).await
    }

    async fn store_poll(&self, save: PollSave<'_>) -> Result<SavedPoll, StoreError> {
        let (feed_id, poll, keep) = (save.feed_id, save.poll, save.keep);
        let (posts, skipped) = (save.posts, save.skipped);
        if posts.is_empty() && skipped.is_empty() {
            // A 304 or a failure changes one row: group-committed with the others waiting.
            self.save_state(feed_id, poll).await?;
            return Ok(SavedPoll::default());
        }
        // Group-committed with the other polls waiting (see [`GroupWriter`]). The batch moves
        // to the writer and back with the result: it is never copied.
        let (done, saved) = oneshot::channel();
        let job = WriteJob::Poll(PollWrite {
            feed_id,
            poll: poll.clone(),
            posts,
            skipped,
            keep: keep == Keep::Posts,
            done,
        });
        if let Err(mpsc::error::SendError(job)) = self.queue.send(job) {
            // The writer is gone (its runtime shut down while this store lives on): nothing was
            // queued, write it directly.
            let WriteJob::Poll(job) = job else {
                return Err(StoreError::Sql(sqlx::Error::WorkerCrashed));
            };
            let mut writer = self.writer.lock().await;
            let saved = write_poll(&mut writer, &job).await;
            return job.result(saved);
        }
        match saved.await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Sql(sqlx::Error::WorkerCrashed)),
        }
    }

    async fn rehash_posts(
        &self,
        feed_id: i64,
        hashes: &[(String, String)],
    ) -> Result<usize, StoreError> {
        let mut writer = self.writer.lock().await;
        let result = async {
            let mut tx = begin_immediate(writer.conn().await?).await?;
            let mut changed = 0;
            for chunk in hashes.chunks(REHASH_CHUNK) {
                let rows = serde_json::to_string(chunk)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                // The pairs are taken out of the JSON once (MATERIALIZED), as in
                // `update_feed_states`.
                let done = sqlx::query(
                    "WITH r AS MATERIALIZED (SELECT value ->> 0 AS k, value ->> 1 AS h                      FROM json_each(?1))                      UPDATE posts SET content_hash = r.h, updated_at = ?2 FROM r                      WHERE posts.feed_id = ?3 AND posts.entry_key = r.k",
                )
                .bind(rows)
                .bind(Utc::now())
                .bind(feed_id)
                .execute(&mut *tx)
                .await?;
                changed += done.rows_affected() as usize;
                let keys: Vec<&str> = chunk.iter().map(|(k, _)| k.as_str()).collect();
                outbox::post_events(&mut tx, EventKind::PostUpdated, feed_id, &keys).await?;
            }
            tx.commit().await?;
            Ok(changed)
        }
        .await;
        writer.check(result)
    }

    async fn list_posts(&self, filter: &PostFilter) -> Result<Vec<StoredPost>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.* FROM posts p JOIN feeds f ON f.id = p.feed_id \
             WHERE (?1 IS NULL OR f.name = ?1 OR f.url = ?1) \
             AND (?2 IS NULL OR p.collection = ?2) \
             AND (?3 IS NULL OR p.date >= ?3) \
             AND (?5 IS NULL OR p.date < ?5 OR (p.date = ?5 AND p.id < ?6)) \
             ORDER BY p.date DESC, p.id DESC LIMIT ?4",
        )
        .bind(&filter.feed)
        .bind(&filter.collection)
        .bind(filter.since)
        .bind(filter.limit.unwrap_or(-1))
        .bind(filter.before.map(|(d, _)| d))
        .bind(filter.before.map(|(_, id)| id))
        .fetch_all(&self.pool)
        .await
        // A damaged file: SQLite's message, the path and the way to recover.
        .map_err(|e| StoreError::from(e).at(&self.url))?;
        rows.iter().map(post_from_row).collect()
    }

    async fn salvage_posts(
        &self,
        filter: &PostFilter,
        error: StoreError,
    ) -> Result<(Vec<StoredPost>, usize), StoreError> {
        // The largest id, through the b-tree's rightmost path (sqlite_sequence is not used by
        // this table); if even that fails there is nothing to salvage.
        let Ok(max) = sqlx::query_scalar::<_, Option<i64>>("SELECT max(id) FROM posts")
            .fetch_one(&self.pool)
            .await
        else {
            return Err(error);
        };
        let feed_ok = |name: &Option<String>, url: &Option<String>| match &filter.feed {
            None => true,
            Some(f) => name.as_deref() == Some(f.as_str()) || url.as_deref() == Some(f.as_str()),
        };
        let (mut posts, mut lost) = (Vec::new(), 0usize);
        for id in 1..=max.unwrap_or(0) {
            let row = sqlx::query(
                "SELECT p.*, (SELECT name FROM feeds WHERE id = p.feed_id) AS salvage_feed_name, \
                 (SELECT url FROM feeds WHERE id = p.feed_id) AS salvage_feed_url \
                 FROM posts p WHERE p.id = ?",
            )
            .bind(id)
            .fetch_optional(&self.pool)
            .await;
            let row = match row {
                Ok(Some(row)) => row,
                Ok(None) => continue, // a deleted id
                Err(_) => {
                    lost += 1;
                    continue;
                }
            };
            let Ok(post) = post_from_row(&row) else {
                lost += 1;
                continue;
            };
            let name: Option<String> = row.try_get("salvage_feed_name").ok().flatten();
            let url: Option<String> = row.try_get("salvage_feed_url").ok().flatten();
            let keep = feed_ok(&name, &url)
                && filter
                    .collection
                    .as_ref()
                    .is_none_or(|c| &post.post.collection == c)
                && filter.since.is_none_or(|s| post.post.date >= s);
            if keep {
                posts.push(post);
            }
        }
        posts.sort_by(|a, b| b.post.date.cmp(&a.post.date).then(b.id.cmp(&a.id)));
        if let Some(limit) = filter.limit.and_then(|l| usize::try_from(l).ok()) {
            posts.truncate(limit);
        }
        Ok((posts, lost))
    }

    async fn claim_due(&self, claim: &Claim<'_>) -> Result<Vec<FeedRecord>, StoreError> {
        let (urls, tick_at, due_by) = (claim.urls, claim.tick_at, claim.due_by);
        let (owner, lease_until) = (claim.lease.owner, claim.lease.until);
        let now = Utc::now().trunc_subsecs(0);
        let urls_json =
            serde_json::to_string(urls).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        // The claimed rows are read back in one statement (not one per feed: `fetch` claims
        // [http] concurrency feeds at a time, and each record counts its posts).
        let rows = in_write_tx!(self, tx => {
            let ids: Vec<i64> = sqlx::query_scalar(
                "UPDATE feeds SET lease_owner = ?1, lease_until = ?2 \
                 WHERE url IN (SELECT value FROM json_each(?3)) AND gone = 0 \
                 AND (next_due_at IS NULL OR next_due_at <= ?4) \
                 AND (last_polled_at IS NULL OR last_polled_at < ?5) \
                 AND (lease_until IS NULL OR lease_until < ?6) RETURNING id",
            )
            .bind(owner)
            .bind(lease_until.trunc_subsecs(0))
            .bind(&urls_json)
            .bind(due_by)
            .bind(tick_at)
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
            if ids.is_empty() {
                Vec::new()
            } else {
                let ids = serde_json::to_string(&ids).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                sqlx::query(&format!(
                    "SELECT {FEED_COLUMNS} FROM feeds f \
                     WHERE f.id IN (SELECT value FROM json_each(?)) ORDER BY f.id"
                ))
                .bind(ids)
                .fetch_all(&mut *tx)
                .await?
            }
        })?;
        rows.iter()
            .map(|r| feed_from_row(r).map_err(StoreError::from))
            .collect()
    }

    async fn renew_lease(&self, feed_id: i64, lease: Lease<'_>) -> Result<bool, StoreError> {
        let (owner, lease_until) = (lease.owner, lease.until);
        let mut writer = self.writer.lock().await;
        let done = sqlx::query("UPDATE feeds SET lease_until = ? WHERE id = ? AND lease_owner = ?")
            .bind(lease_until.trunc_subsecs(0))
            .bind(feed_id)
            .bind(owner)
            .execute(writer.conn().await?)
            .await;
        writer
            .check(done.map_err(StoreError::from))
            .map(|d| d.rows_affected() == 1)
    }

    /// A real write, rolled back: SQLite reports a read-only file (or directory, for the WAL)
    /// only when a page is about to change, not at `BEGIN`.
    async fn check_writable(&self) -> Result<(), StoreError> {
        let mut writer = self.writer.lock().await;
        let result = async {
            let mut tx = begin_immediate(writer.conn().await?).await?;
            sqlx::query("CREATE TABLE feedsmith_write_check (x INTEGER)")
                .execute(&mut *tx)
                .await?;
            tx.rollback().await?;
            Ok(())
        }
        .await;
        writer.check(result)
    }

    fn outbox(&self) -> &dyn super::outbox::Outbox {
        self
    }

    async fn close(&self) {
        // The lock waits for the write in progress; the group writer's queue is empty, since
        // every poll waits for its own commit. The checkpointer and the writer close first, the
        // pool last, so the pool's last connection is the one that checkpoints and removes the WAL.
        let mut writer = self.writer.lock().await;
        writer.checkpoints = None;
        self.closing.cancel();
        if let Some(done) = self.checkpointer.lock().await.take() {
            let _ = done.await;
        }
        if let Some(conn) = writer.conn.take() {
            if let Err(e) = conn.close().await {
                tracing::warn!("closing the database's writing connection: {e}");
            }
        }
        self.pool.close().await;
    }
}

/// Feeds per JSON document read by `stored_feeds`.
const FEED_PAGE: i64 = 1000;

/// One row of `stored_feeds`' document as a record and its configuration hash; `None` when a
/// time is not in the form this program writes.
fn stored_feed_record(r: StoredFeedRow) -> Option<(Option<String>, FeedRecord)> {
    let time = |t: Option<String>| -> Result<Option<DateTime<Utc>>, ()> {
        match t {
            None => Ok(None),
            Some(t) => DateTime::parse_from_rfc3339(&t)
                .map(|t| Some(t.with_timezone(&Utc)))
                .map_err(|_| ()),
        }
    };
    let (Ok(last_polled_at), Ok(last_success_at), Ok(retry_after), Ok(next_due_at)) = (
        time(r.last_polled_at),
        time(r.last_success_at),
        time(r.retry_after),
        time(r.next_due_at),
    ) else {
        return None;
    };
    let record = FeedRecord {
        id: r.id,
        url: r.url,
        fetch_url: r.fetch_url,
        name: r.name,
        collection: r.collection,
        etag: r.etag,
        last_modified: r.last_modified,
        last_polled_at,
        last_success_at,
        last_status: r.last_status,
        last_outcome: r.last_outcome.as_deref().and_then(Outcome::parse),
        last_error: r.last_error,
        consecutive_failures: r.consecutive_failures,
        retry_after,
        gone: r.gone != 0,
        ttl_minutes: r.ttl_minutes,
        next_due_at,
        post_count: r.post_count,
    };
    Some((r.config_hash, record))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreReads;

    fn post(i: usize) -> Post {
        Post {
            entry_key: format!("k{i}"),
            title: format!("Post {i}"),
            description: "d".into(),
            author: "a".into(),
            canonical_url: format!("https://e.org/{i}"),
            viewing_mode: "external".into(),
            feed_name: "F".into(),
            feed_url: "https://e.org/feed".into(),
            collection: "blogs".into(),
            date: Utc::now().trunc_subsecs(0),
            slug: format!("post-{i}"),
            categories: vec![],
            tags: vec![],
            tags_normalized: vec![],
            excerpt: "e".into(),
            content_markdown: "x".repeat(3000),
            youtube_id: None,
            reddit_segment: None,
            content_hash: "h".into(),
        }
    }

    fn file_len(path: &std::path::Path) -> u64 {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    }

    /// Committed pages reach the database file without the writer's own checkpoint (which waits
    /// for 8192 pages): the background checkpointer copies them shortly after the write. And
    /// `close` leaves everything in the database file, with no WAL beside it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checkpoints_run_beside_the_writer_and_close_removes_the_wal() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let wal = dir.path().join("t.db-wal");
        let url = format!("sqlite://{}", db.display());
        let store = SqliteStore::open(&url, 2).await.unwrap();
        store.migrate().await.unwrap();
        let feed = FeedConfig::new("F", "https://e.org/feed", "blogs");
        let records = store.sync_feeds(&[feed]).await.unwrap();
        // Let the checkpoint of the migration's pages pass, then measure.
        tokio::time::sleep(CHECKPOINT_DELAY * 5).await;
        let before = file_len(&db);
        let posts: Vec<Post> = (0..200).map(post).collect();
        let poll = PollRecord::new(Utc::now(), Outcome::Ok);
        let saved = store
            .save_poll(records[0].id, &poll, posts, vec![], Keep::Counts)
            .await;
        assert_eq!(saved.unwrap().report.new, 200);
        assert!(
            file_len(&wal) > 200 * 3000,
            "the posts are in the WAL first"
        );
        let mut waited = 0;
        while file_len(&db) < before + 200 * 3000 {
            assert!(
                waited < 100,
                "no checkpoint after 10 s: {} bytes",
                file_len(&db)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
            waited += 1;
        }
        store.close().await;
        assert!(
            !wal.exists(),
            "close leaves no WAL ({} bytes)",
            file_len(&wal)
        );
        let mut conn = SqliteConnection::connect(&url).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM posts")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(n, 200);
    }

    /// More feeds than one page of `stored_feeds`: the first sync (fresh file), the steady
    /// state (nothing changed) and a sync after one feed changed all return every feed's own
    /// record, in the configuration's order, across the page boundaries.
    #[tokio::test]
    async fn feed_records_are_read_in_pages_without_losing_one() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = SqliteStore::open(&url, 2).await.unwrap();
        store.migrate().await.unwrap();
        let n = 2 * FEED_PAGE as usize + 7;
        // Not in id order: the configuration's order is what comes back.
        let mut feeds: Vec<FeedConfig> = (0..n)
            .map(|i| FeedConfig::new(format!("F{i}"), format!("https://e.org/{i}"), "blogs"))
            .collect();
        feeds.reverse();
        let first = store.sync_feeds(&feeds).await.unwrap();
        let urls =
            |records: &[FeedRecord]| records.iter().map(|r| r.url.clone()).collect::<Vec<_>>();
        let wanted: Vec<String> = feeds.iter().map(|f| f.url.clone()).collect();
        assert_eq!(urls(&first), wanted);
        let ids: std::collections::HashSet<i64> = first.iter().map(|r| r.id).collect();
        assert_eq!(ids.len(), n, "every feed has its own row");
        let steady = store.sync_feeds(&feeds).await.unwrap();
        assert_eq!(urls(&steady), wanted);
        assert!(first.iter().zip(&steady).all(|(a, b)| a.id == b.id));
        feeds[n / 2].collection = "community".into();
        let changed = store.sync_feeds(&feeds).await.unwrap();
        assert_eq!(urls(&changed), wanted);
        assert!(first.iter().zip(&changed).all(|(a, b)| a.id == b.id));
        assert_eq!(changed[n / 2].collection, "community");
    }

    /// The group statement itself works (a failing one would be hidden by the row-by-row
    /// fallback, which stores the same).
    #[tokio::test]
    async fn one_statement_stores_a_group_of_polls() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = SqliteStore::open(&url, 2).await.unwrap();
        store.migrate().await.unwrap();
        let feeds: Vec<FeedConfig> = (0..3)
            .map(|i| FeedConfig::new(format!("F{i}"), format!("https://e.org/{i}"), "blogs"))
            .collect();
        let records = store.sync_feeds(&feeds).await.unwrap();
        let at = Utc::now().trunc_subsecs(0);
        let mut polls = vec![
            PollRecord::new(at, Outcome::NotModified),
            PollRecord::new(at, Outcome::Failed),
            PollRecord::new(at, Outcome::Ok),
        ];
        polls[0].etag = Some("\"x\"".into());
        polls[1].error = Some("HTTP 500".into());
        polls[2].next_due_at = Some(at);
        let group: Vec<(i64, &PollRecord)> =
            records.iter().map(|r| r.id).zip(polls.iter()).collect();
        let mut conn = SqliteConnection::connect(&url).await.unwrap();
        update_feed_states(&mut conn, &group).await.unwrap();
        let stored = store.list_feeds().await.unwrap();
        for (r, p) in records.iter().zip(&polls) {
            let f = stored.iter().find(|f| f.id == r.id).unwrap();
            assert_eq!(f.last_outcome, Some(p.outcome));
            assert_eq!(f.last_polled_at, Some(at));
            assert_eq!(f.next_due_at, p.next_due_at);
        }
        assert_eq!(stored[0].etag.as_deref(), Some("\"x\""));
        assert_eq!(stored[1].consecutive_failures, 1);
        assert_eq!(stored[1].last_error.as_deref(), Some("HTTP 500"));
    }
}
