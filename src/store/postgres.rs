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
    config_hash, to_json, ArticleRecord, FeedRecord, Outcome, PollRecord, PostFilter, SaveReport,
    Store, StoreError, StoredPost,
};
use crate::domain::{FeedConfig, Post, SkippedEntry};
use crate::normalize::{post_path, post_path_with_slug};
use crate::store::outbox::EventKind;

mod outbox;

pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
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

type Tx<'a> = sqlx::Transaction<'a, sqlx::Postgres>;

/// Insert `run` (new posts, in order) with one statement, all at their first-choice paths.
/// `false`, with nothing changed, when any of them conflicts: the caller then saves them one by
/// one, which resolves each conflict exactly as before. Why: four round trips per post to the
/// database server were most of a cold poll's time in a cluster.
async fn insert_run(
    tx: &mut Tx<'_>,
    feed_id: i64,
    run: &[&Post],
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let rows: Vec<(&Post, &str, String)> = run
        .iter()
        .map(|p| (*p, p.slug.as_str(), post_path(p)))
        .collect();
    let mut qb = insert_posts_query(feed_id, &rows, now, super::INSERTED_IDS);
    sqlx::query("SAVEPOINT insert_run")
        .execute(&mut **tx)
        .await?;
    let inserted = qb.build().fetch_all(&mut **tx).await?.len();
    if inserted == run.len() {
        sqlx::query("RELEASE SAVEPOINT insert_run")
            .execute(&mut **tx)
            .await?;
        Ok(true)
    } else {
        sqlx::query("ROLLBACK TO SAVEPOINT insert_run")
            .execute(&mut **tx)
            .await?;
        sqlx::query("RELEASE SAVEPOINT insert_run")
            .execute(&mut **tx)
            .await?;
        Ok(false)
    }
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
            .execute(&mut *tx)
            .await?;
        }
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

    async fn list_feeds(&self) -> Result<Vec<FeedRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {FEED_COLUMNS} FROM feeds f ORDER BY f.name, f.url"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| feed_from_row(r).map_err(StoreError::from))
            .collect()
    }

    async fn known_entries(&self, feed_id: i64) -> Result<HashMap<String, String>, StoreError> {
        q_known_entries(&self.pool, feed_id).await
    }

    async fn save_poll(
        &self,
        feed_id: i64,
        poll: &PollRecord,
        posts: &[Post],
        skipped: &[SkippedEntry],
    ) -> Result<SaveReport, StoreError> {
        let now = Utc::now();
        let mut tx = self.pool.begin().await?;
        let report = save_entries_tx(&mut tx, feed_id, posts, skipped, now).await?;
        update_feed_state(&mut tx, feed_id, poll).await?;
        tx.commit().await?;
        Ok(report)
    }

    async fn save_entries(
        &self,
        feed_id: i64,
        posts: &[Post],
        skipped: &[SkippedEntry],
        withdraw: bool,
    ) -> Result<SaveReport, StoreError> {
        let mut tx = self.pool.begin().await?;
        if withdraw {
            withdraw_posts(&mut tx, feed_id, skipped).await?;
        }
        let report = save_entries_tx(&mut tx, feed_id, posts, skipped, Utc::now()).await?;
        tx.commit().await?;
        Ok(report)
    }

    async fn rehash_posts(
        &self,
        feed_id: i64,
        hashes: &[(String, String)],
    ) -> Result<usize, StoreError> {
        if hashes.is_empty() {
            return Ok(0);
        }
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

    async fn get_articles(
        &self,
        urls: &[String],
    ) -> Result<HashMap<String, ArticleRecord>, StoreError> {
        if urls.is_empty() {
            return Ok(HashMap::new());
        }
        let rows = sqlx::query("SELECT * FROM articles WHERE url = ANY($1)")
            .bind(urls)
            .fetch_all(&self.pool)
            .await?;
        let mut out = HashMap::with_capacity(rows.len());
        for row in &rows {
            let rec = article_from_row(row)?;
            out.insert(rec.url.clone(), rec);
        }
        Ok(out)
    }

    async fn queue_articles(&self, jobs: &[super::QueuedArticle]) -> Result<(), StoreError> {
        if jobs.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for j in jobs {
            q_queue_article(&mut *tx, j).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn queued_articles(&self) -> Result<Vec<super::QueuedArticle>, StoreError> {
        q_queued_articles(&self.pool).await
    }

    async fn dequeue_article(&self, url: &str) -> Result<(), StoreError> {
        q_dequeue_article(&self.pool, url).await
    }

    async fn put_article(&self, r: &ArticleRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO articles (url, status, extractor, content_html, etag, last_modified, \
             http_status, error, failures, fetched_at, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (url) DO UPDATE SET status = EXCLUDED.status, \
             extractor = EXCLUDED.extractor, content_html = EXCLUDED.content_html, \
             etag = EXCLUDED.etag, last_modified = EXCLUDED.last_modified, \
             http_status = EXCLUDED.http_status, error = EXCLUDED.error, \
             failures = EXCLUDED.failures, fetched_at = EXCLUDED.fetched_at, \
             next_attempt_at = EXCLUDED.next_attempt_at",
        )
        .bind(&r.url)
        .bind(r.status.as_str())
        .bind(&r.extractor)
        .bind(&r.content_html)
        .bind(&r.etag)
        .bind(&r.last_modified)
        .bind(r.http_status)
        .bind(&r.error)
        .bind(r.failures)
        .bind(r.fetched_at)
        .bind(r.next_attempt_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_enrichments(
        &self,
        model: &str,
        content_hashes: &[String],
    ) -> Result<HashMap<String, String>, StoreError> {
        if content_hashes.is_empty() {
            return Ok(HashMap::new());
        }
        let rows = sqlx::query(
            "SELECT content_hash, result FROM enrichments WHERE model = $1 \
             AND content_hash = ANY($2)",
        )
        .bind(model)
        .bind(content_hashes)
        .fetch_all(&self.pool)
        .await?;
        let mut out = HashMap::with_capacity(rows.len());
        for row in &rows {
            out.insert(row.try_get("content_hash")?, row.try_get("result")?);
        }
        Ok(out)
    }

    async fn put_enrichment(
        &self,
        content_hash: &str,
        model: &str,
        result: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO enrichments (content_hash, model, result, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (content_hash, model) DO UPDATE SET \
             result = EXCLUDED.result, created_at = EXCLUDED.created_at",
        )
        .bind(content_hash)
        .bind(model)
        .bind(result)
        .bind(Utc::now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn feed_posts(&self, feed_id: i64) -> Result<Vec<StoredPost>, StoreError> {
        q_feed_posts(&self.pool, feed_id).await
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

    async fn claim_due(
        &self,
        urls: &[String],
        owner: &str,
        tick_at: DateTime<Utc>,
        due_by: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<FeedRecord>, StoreError> {
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

    async fn renew_lease(
        &self,
        feed_id: i64,
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
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

    async fn find_post(&self, id_or_url: &str) -> Result<Option<StoredPost>, StoreError> {
        q_find_post(&self.pool, id_or_url).await
    }

    async fn reserve_host(
        &self,
        host: &str,
        interval: Duration,
        burst: u32,
        now: DateTime<Utc>,
    ) -> Result<(DateTime<Utc>, Option<DateTime<Utc>>), StoreError> {
        // The row lock makes the read-compute-write one step across replicas.
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO hosts (host, updated_at) VALUES ($1, $2) ON CONFLICT (host) DO NOTHING",
        )
        .bind(host)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let (tat, paused): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) = sqlx::query_as(
            "SELECT next_request_at, paused_until FROM hosts WHERE host = $1 FOR UPDATE",
        )
        .bind(host)
        .fetch_one(&mut *tx)
        .await?;
        let r = super::hosts::reserve(tat, paused, now, interval, burst);
        if r.paused_until.is_none() {
            sqlx::query(
                "UPDATE hosts SET next_request_at = $2, requests = requests + 1, updated_at = $3 \
                 WHERE host = $1",
            )
            .bind(host)
            .bind(r.next_request_at)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok((r.start, r.paused_until))
    }

    async fn pause_host(
        &self,
        host: &str,
        until: DateTime<Utc>,
        status: u16,
        reason: &str,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        let throttled = super::hosts::is_throttle(status).then_some(now);
        // GREATEST: a pause only ever extends a stored one still in force.
        sqlx::query(
            "INSERT INTO hosts (host, paused_until, pause_status, pause_reason, last_throttled_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (host) DO UPDATE SET \
             paused_until = CASE WHEN hosts.paused_until > $6 THEN GREATEST(hosts.paused_until, $2) ELSE $2 END, \
             pause_status = $3, pause_reason = $4, \
             last_throttled_at = COALESCE($5, hosts.last_throttled_at), updated_at = $6",
        )
        .bind(host)
        .bind(until)
        .bind(i64::from(status))
        .bind(reason)
        .bind(throttled)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn host_pauses(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
        let rows: Vec<(String, DateTime<Utc>)> =
            sqlx::query_as("SELECT host, paused_until FROM hosts WHERE paused_until > $1")
                .bind(now)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows)
    }

    async fn list_hosts(&self) -> Result<Vec<super::hosts::HostRecord>, StoreError> {
        super::hosts::host_row!(sqlx::postgres::PgRow);
        let rows = sqlx::query(&format!(
            "SELECT {} FROM hosts ORDER BY host",
            super::hosts::HOST_COLUMNS
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| host_from_row(r).map_err(StoreError::from))
            .collect()
    }

    async fn acquire_lease(
        &self,
        name: &str,
        owner: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, StoreError> {
        // One statement on the database clock: taken when free or expired, extended when ours;
        // concurrent callers serialize on the row, so exactly one of them gets it.
        let held: Option<String> = sqlx::query_scalar(
            "INSERT INTO leases (name, owner, until_at) \
             VALUES ($1, $2, now() + make_interval(secs => $3)) \
             ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, until_at = EXCLUDED.until_at \
             WHERE leases.owner = EXCLUDED.owner OR leases.until_at < now() \
             RETURNING owner",
        )
        .bind(name)
        .bind(owner)
        .bind(ttl.as_secs_f64().max(1.0))
        .fetch_optional(&self.pool)
        .await?;
        Ok(held.as_deref() == Some(owner))
    }

    async fn release_lease(&self, name: &str, owner: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND owner = $2")
            .bind(name)
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    fn outbox(&self) -> &dyn super::outbox::Outbox {
        self
    }

    async fn save_parsed_entries(
        &self,
        feed_id: i64,
        entries: &[super::StoredEntry],
    ) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for e in entries {
            q_save_parsed_entry(&mut *tx, feed_id, e).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn parsed_entries(&self, feed_id: i64) -> Result<Vec<super::StoredEntry>, StoreError> {
        q_parsed_entries(&self.pool, feed_id).await
    }

    async fn skipped_entries(&self, feed_id: i64) -> Result<Vec<SkippedEntry>, StoreError> {
        q_skipped_entries(&self.pool, feed_id).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

/// See the SQLite store for the validator rules; here the lease is released with the result.
async fn update_feed_state(
    tx: &mut Tx<'_>,
    feed_id: i64,
    poll: &PollRecord,
) -> Result<(), StoreError> {
    let validators = match poll.outcome {
        Outcome::Ok => "etag = $1, last_modified = $2",
        Outcome::NotModified => {
            "etag = COALESCE($1, etag), last_modified = COALESCE($2, last_modified)"
        }
        Outcome::Failed | Outcome::Deferred => {
            "etag = COALESCE(etag, $1), last_modified = COALESCE(last_modified, $2)"
        }
    };
    let sql = format!(
        "UPDATE feeds SET {validators}, last_polled_at = $3, \
         last_success_at = CASE WHEN $4 THEN $3 ELSE last_success_at END, \
         last_status = $5, last_outcome = $6, last_error = $7, \
         consecutive_failures = CASE WHEN $4 THEN 0 WHEN $14 THEN consecutive_failures ELSE consecutive_failures + 1 END, \
         retry_after = $8, gone = $9, fetch_url = COALESCE($10, fetch_url), \
         ttl_minutes = COALESCE($11, ttl_minutes), next_due_at = $12, lease_owner = NULL, lease_until = NULL, \
         updated_at = now() WHERE id = $13"
    );
    sqlx::query(&sql)
        .bind(&poll.etag)
        .bind(&poll.last_modified)
        .bind(poll.polled_at)
        .bind(poll.outcome.is_success())
        .bind(poll.http_status.map(i64::from))
        .bind(poll.outcome.as_str())
        .bind(&poll.error)
        .bind(poll.retry_after)
        .bind(poll.gone)
        .bind(&poll.fetch_url)
        .bind(poll.ttl_minutes.map(i64::from))
        .bind(poll.next_due_at)
        .bind(feed_id)
        .bind(poll.outcome == Outcome::Deferred)
        .execute(&mut **tx)
        .await?;
    outbox::after_poll(tx, feed_id, poll).await?;
    Ok(())
}
