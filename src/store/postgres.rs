//! The cluster backend: several replicas share one PostgreSQL database.
//!
//! Same contract as the SQLite store (one transaction per feed, unique entry key and canonical
//! URL), plus what concurrency among processes needs:
//! - feeds are claimed with `SELECT ... FOR UPDATE SKIP LOCKED` and a lease (owner, expiry) so
//!   exactly one replica polls a feed, and a dead replica's feeds are taken over when its lease
//!   expires; lease times use the database clock, so replicas' clock skew does not matter;
//! - inserts use `ON CONFLICT DO NOTHING`, so two replicas storing the same article from two
//!   feeds at the same moment both succeed, one as a duplicate, instead of one failing its feed.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgPool, Row};

use super::{
    config_hash, to_json, ArticleRecord, Claim, FeedRecord, Keep, Lease, Outcome, PollRecord,
    PollSave, PostFilter, SaveReport, SavedPoll, Store, StoreError, StoredPost,
};
use crate::domain::{FeedConfig, Post, SkippedEntry};
use crate::normalize::{post_path, post_path_with_slug};
use crate::store::outbox::EventKind;

// What the SQL written once for both backends (`store::queries`, `store::outbox_sql`) asks of
// this one.

/// A text list parameter: an array.
fn in_list(param: &str) -> String {
    format!("= ANY({param})")
}

fn list_arg<S: AsRef<str>>(items: &[S]) -> Vec<&str> {
    items.iter().map(AsRef::as_ref).collect()
}

const POST_EVENT_DATA: &str = "json_build_object('entry_key', entry_key, 'path', path, \
     'canonical_url', canonical_url, 'title', title, 'content_hash', content_hash)::text";

const GREATEST: &str = "GREATEST";

/// Row locks: replicas read and move a webhook's cursor, and claim deliveries, one at a time.
const FOR_UPDATE: &str = " FOR UPDATE";
const SKIP_LOCKED: &str = " FOR UPDATE SKIP LOCKED";

/// The database's clock, for leases (so replicas' clock skew does not matter).
const LEASE_NOW: &str = "now()";
/// A lease's end, `$3` (from [`lease_secs`]) from now on the database's clock.
const LEASE_UNTIL: &str = "now() + make_interval(secs => $3)";

fn lease_secs(ttl: Duration) -> f64 {
    ttl.as_secs_f64().max(1.0)
}

/// A feed row's `updated_at` after a poll: the database's clock (no parameter bound for it).
const FEED_UPDATED_AT: &str = "now()";
const BIND_UPDATED_AT: bool = false;

/// `$body` in a transaction from the pool, committed; its value or the error. For the writes
/// both backends share (`shared_writes!`).
macro_rules! in_write_tx {
    ($store:expr, $tx:ident => $body:expr) => {{
        let result = async {
            let mut $tx = $store.pool.begin().await?;
            let value = $body;
            $tx.commit().await?;
            Ok::<_, StoreError>(value)
        }
        .await;
        result
    }};
}

/// `$body`, one statement on the pool `$conn`.
macro_rules! on_writer {
    ($store:expr, $conn:ident => $body:expr) => {{
        let $conn = &$store.pool;
        $body
    }};
}

mod outbox;

pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// A read's error as it is: the URL may carry a password, so it is not added.
    fn read_error(&self, e: StoreError) -> StoreError {
        e
    }

    pub async fn open(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let open_err = |source| StoreError::Open {
            url: redact(url),
            source,
        };
        let options = PgConnectOptions::from_str(url).map_err(open_err)?;
        reachable(&options).await?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(open_err)?;
        Ok(PgStore { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// How long to wait for the server's TCP port before saying it is not there.
const REACH_TIMEOUT: Duration = Duration::from_secs(5);

/// One TCP connect to the server before the pool starts: a refused or unroutable address is
/// reported at once and by name (`connection refused at db:5432`), where the pool would retry
/// for its whole acquire timeout and then say only "pool timed out". A Unix socket path
/// (`host=/run/postgresql`) is left to the pool.
async fn reachable(options: &PgConnectOptions) -> Result<(), StoreError> {
    let host = options.get_host().to_string();
    let port = options.get_port();
    if host.starts_with('/') {
        return Ok(());
    }
    let unreachable = |reason: String| StoreError::Unreachable {
        host: host.clone(),
        port,
        reason,
    };
    match tokio::time::timeout(
        REACH_TIMEOUT,
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Err(unreachable("connection refused".into()))
        }
        Ok(Err(e)) => Err(unreachable(e.to_string())),
        Err(_) => Err(unreachable(format!(
            "no answer within {}s",
            REACH_TIMEOUT.as_secs()
        ))),
    }
}

/// The URL without its password, for messages and logs.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

super::row_mappers!(PgRow);
super::post_inserts!(sqlx::Postgres);
super::posts::post_rules!(sqlx::Postgres);
super::queries::shared_queries!(sqlx::Postgres);
super::queries::shared_reads!(PgStore);
super::queries::shared_writes!(PgStore);

type Tx<'a> = sqlx::Transaction<'a, sqlx::Postgres>;

/// Insert `run` (new posts, in order) with one statement, all at their first-choice paths, and
/// return the rows' `placed_columns!`. `None`, with nothing changed, when any of them
/// conflicts: the caller then saves them one by one, which resolves each conflict exactly as
/// before. Why: four round trips per post to the database server were most of a cold poll's
/// time in a cluster. The rows are returned even without `_keep`: they are counted.
async fn insert_run(
    tx: &mut Tx<'_>,
    feed_id: i64,
    run: &[&Post],
    now: DateTime<Utc>,
    _keep: bool,
) -> Result<Option<Vec<PgRow>>, StoreError> {
    let rows: Vec<(&Post, &str, String)> = run
        .iter()
        .map(|p| (*p, p.slug.as_str(), post_path(p)))
        .collect();
    let mut qb = insert_posts_query(feed_id, &rows, now, super::INSERTED);
    sqlx::query("SAVEPOINT insert_run")
        .execute(&mut **tx)
        .await?;
    let inserted = qb.build().fetch_all(&mut **tx).await?;
    if inserted.len() == run.len() {
        sqlx::query("RELEASE SAVEPOINT insert_run")
            .execute(&mut **tx)
            .await?;
        Ok(Some(inserted))
    } else {
        sqlx::query("ROLLBACK TO SAVEPOINT insert_run")
            .execute(&mut **tx)
            .await?;
        sqlx::query("RELEASE SAVEPOINT insert_run")
            .execute(&mut **tx)
            .await?;
        Ok(None)
    }
}

/// Insert or update the configured feeds (by URL): a feed whose configuration changed is no
/// longer `gone` and is due at once.
async fn upsert_feeds(
    tx: &mut Tx<'_>,
    feeds: &[FeedConfig],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for f in feeds {
        sqlx::query(
                "INSERT INTO feeds (url, name, collection, config_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) \
                 ON CONFLICT (url) DO UPDATE SET name = EXCLUDED.name, collection = EXCLUDED.collection, \
                 gone = CASE WHEN feeds.config_hash IS NOT DISTINCT FROM EXCLUDED.config_hash THEN feeds.gone ELSE FALSE END, \
                 next_due_at = CASE WHEN feeds.config_hash IS NOT DISTINCT FROM EXCLUDED.config_hash THEN feeds.next_due_at ELSE NULL END, \
                 updated_at = CASE WHEN feeds.config_hash IS NOT DISTINCT FROM EXCLUDED.config_hash THEN feeds.updated_at ELSE EXCLUDED.updated_at END, \
                 config_hash = EXCLUDED.config_hash",
            )
            .bind(&f.url)
            .bind(&f.name)
            .bind(&f.collection)
            .bind(config_hash(f))
            .bind(now)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

#[async_trait]
impl Store for PgStore {
    async fn migrate(&self) -> Result<usize, StoreError> {
        // A new database has no `_sqlx_migrations` yet, and a query naming it would not parse.
        let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(&self.pool)
            .await?;
        let count = "SELECT count(*) FROM _sqlx_migrations";
        let before: i64 = if exists {
            sqlx::query_scalar(count).fetch_one(&self.pool).await?
        } else {
            0
        };
        // sqlx takes an advisory lock, so replicas starting together migrate once.
        sqlx::migrate!("./migrations/postgres")
            .run(&self.pool)
            .await?;
        let after: i64 = sqlx::query_scalar(count).fetch_one(&self.pool).await?;
        Ok(usize::try_from(after - before).unwrap_or(0))
    }

    async fn sync_feeds(&self, feeds: &[FeedConfig]) -> Result<Vec<FeedRecord>, StoreError> {
        let now = Utc::now().trunc_subsecs(0);
        let mut tx = self.pool.begin().await?;
        upsert_feeds(&mut tx, feeds, now).await?;
        let mut out = Vec::with_capacity(feeds.len());
        for f in feeds {
            let row = sqlx::query(&format!(
                "SELECT {FEED_COLUMNS} FROM feeds f WHERE f.url = $1"
            ))
            .bind(&f.url)
            .fetch_one(&mut *tx)
            .await?;
            out.push(feed_from_row(&row)?);
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn register_feeds(&self, feeds: &[FeedConfig]) -> Result<(), StoreError> {
        let now = Utc::now().trunc_subsecs(0);
        let mut tx = self.pool.begin().await?;
        upsert_feeds(&mut tx, feeds, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn store_poll(&self, save: PollSave<'_>) -> Result<SavedPoll, StoreError> {
        let (feed_id, poll, keep) = (save.feed_id, save.poll, save.keep);
        let (posts, skipped) = (save.posts, save.skipped);
        let now = Utc::now();
        let mut tx = self.pool.begin().await?;
        let keep = keep == Keep::Posts;
        let saved = save_entries_tx(&mut tx, feed_id, &posts, &skipped, now, keep).await?;
        q_update_feed_state(&mut tx, feed_id, poll).await?;
        tx.commit().await?;
        Ok(saved.into_poll(feed_id, posts))
    }

    async fn rehash_posts(
        &self,
        feed_id: i64,
        hashes: &[(String, String)],
    ) -> Result<usize, StoreError> {
        let (keys, values): (Vec<&str>, Vec<&str>) =
            hashes.iter().map(|(k, h)| (k.as_str(), h.as_str())).unzip();
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE posts p SET content_hash = r.h, updated_at = $2              FROM unnest($3::text[], $4::text[]) AS r(k, h)              WHERE p.feed_id = $1 AND p.entry_key = r.k",
        )
        .bind(feed_id)
        .bind(Utc::now())
        .bind(&keys)
        .bind(&values)
        .execute(&mut *tx)
        .await?;
        outbox::post_events(&mut tx, EventKind::PostUpdated, feed_id, &keys).await?;
        tx.commit().await?;
        Ok(done.rows_affected() as usize)
    }

    async fn list_posts(&self, filter: &PostFilter) -> Result<Vec<StoredPost>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.* FROM posts p JOIN feeds f ON f.id = p.feed_id \
             WHERE ($1::text IS NULL OR f.name = $1 OR f.url = $1) \
             AND ($2::text IS NULL OR p.collection = $2) \
             AND ($3::timestamptz IS NULL OR p.date >= $3) \
             AND ($5::timestamptz IS NULL OR p.date < $5 OR (p.date = $5 AND p.id < $6)) \
             ORDER BY p.date DESC, p.id DESC LIMIT $4",
        )
        .bind(&filter.feed)
        .bind(&filter.collection)
        .bind(filter.since)
        .bind(filter.limit)
        .bind(filter.before.map(|(d, _)| d))
        .bind(filter.before.map(|(_, id)| id))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(post_from_row).collect()
    }

    async fn claim_due(&self, claim: &Claim<'_>) -> Result<Vec<FeedRecord>, StoreError> {
        let (urls, tick_at, due_by) = (claim.urls, claim.tick_at, claim.due_by);
        let (owner, lease_until) = (claim.lease.owner, claim.lease.until);
        let lease_secs = (lease_until - Utc::now()).num_milliseconds().max(1000) as f64 / 1000.0;
        let mut tx = self.pool.begin().await?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "WITH due AS ( \
                 SELECT id FROM feeds \
                 WHERE url = ANY($1) AND NOT gone \
                 AND (next_due_at IS NULL OR next_due_at <= $2) \
                 AND (last_polled_at IS NULL OR last_polled_at < $3) \
                 AND (lease_until IS NULL OR lease_until < now()) \
                 ORDER BY id FOR UPDATE SKIP LOCKED) \
             UPDATE feeds f SET lease_owner = $4, lease_until = now() + make_interval(secs => $5) \
             FROM due WHERE f.id = due.id RETURNING f.id",
        )
        .bind(urls)
        .bind(due_by)
        .bind(tick_at)
        .bind(owner)
        .bind(lease_secs)
        .fetch_all(&mut *tx)
        .await?;
        let rows = sqlx::query(&format!(
            "SELECT {FEED_COLUMNS} FROM feeds f WHERE f.id = ANY($1) ORDER BY f.id"
        ))
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| feed_from_row(r).map_err(StoreError::from))
            .collect()
    }

    async fn renew_lease(&self, feed_id: i64, lease: Lease<'_>) -> Result<bool, StoreError> {
        let (owner, lease_until) = (lease.owner, lease.until);
        let lease_secs = (lease_until - Utc::now()).num_milliseconds().max(1000) as f64 / 1000.0;
        let done = sqlx::query(
            "UPDATE feeds SET lease_until = now() + make_interval(secs => $1) WHERE id = $2 AND lease_owner = $3",
        )
        .bind(lease_secs)
        .bind(feed_id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    fn outbox(&self) -> &dyn super::outbox::Outbox {
        self
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
