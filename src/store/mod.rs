//! Storage: one [`Store`] trait that the rest of the program is written against, with a SQLite
//! implementation (the embedded default) and room for a PostgreSQL one chosen by URL scheme.
//!
//! SQL stays inside this module. Queries are checked at runtime (`sqlx::query` + `Row`), because
//! compile-time checked macros would bind the crate to one database and to a live database at
//! build time.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::DatabaseSettings;
use crate::domain::{FeedConfig, Post, SkippedEntry};

pub mod postgres;
pub mod sqlite;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {url}: {source}\n  fix: check [database].url / FEEDSMITH__DATABASE__URL / --database-url and that its directory exists and is writable")]
    Open { url: String, source: sqlx::Error },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("unsupported database URL {url:?}: {reason}")]
    Unsupported { url: String, reason: String },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// How a poll ended, as stored in `feeds.last_outcome` and reported in summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    NotModified,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::NotModified => "not_modified",
            Outcome::Failed => "failed",
        }
    }
}

/// A feed's stored state: its identity plus everything the poller learned about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedRecord {
    pub id: i64,
    pub url: String,
    /// Where to fetch now (after a permanent redirect or autodiscovery), else `url`.
    pub fetch_url: Option<String>,
    pub name: String,
    pub collection: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub last_polled_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_status: Option<i64>,
    pub last_outcome: Option<String>,
    pub last_error: Option<String>,
    pub consecutive_failures: i64,
    pub retry_after: Option<DateTime<Utc>>,
    pub gone: bool,
    pub ttl_minutes: Option<i64>,
    pub next_due_at: Option<DateTime<Utc>>,
    pub post_count: i64,
}

impl FeedRecord {
    pub fn effective_url(&self) -> &str {
        self.fetch_url.as_deref().unwrap_or(&self.url)
    }
}

/// What one poll learned, written to the feed's row (with the posts, in one transaction).
#[derive(Debug, Clone, PartialEq)]
pub struct PollRecord {
    pub polled_at: DateTime<Utc>,
    pub outcome: Outcome,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    /// Validators to send next time. `None` keeps the stored ones on failure, clears them on
    /// success without validators.
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub retry_after: Option<DateTime<Utc>>,
    pub gone: bool,
    /// New fetch URL after a permanent redirect or autodiscovery.
    pub fetch_url: Option<String>,
    pub ttl_minutes: Option<u32>,
    /// When the scheduler may poll again (`None`: at the next tick).
    pub next_due_at: Option<DateTime<Utc>>,
}

impl PollRecord {
    pub fn new(polled_at: DateTime<Utc>, outcome: Outcome) -> Self {
        PollRecord {
            polled_at,
            outcome,
            http_status: None,
            error: None,
            etag: None,
            last_modified: None,
            retry_after: None,
            gone: false,
            fetch_url: None,
            ttl_minutes: None,
            next_due_at: None,
        }
    }
}

/// What `save_poll` did with the posts it was given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SaveReport {
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Already stored under another feed or entry (same canonical URL, Reddit cross-post).
    pub duplicates: usize,
    pub skipped: usize,
}

/// A post as stored: the normalized post plus its storage identity and times.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredPost {
    pub id: i64,
    pub feed_id: i64,
    pub path: String,
    pub first_seen_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub post: Post,
}

#[derive(Debug, Clone, Default)]
pub struct PostFilter {
    /// Feed name or URL.
    pub feed: Option<String>,
    pub collection: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub limit: Option<i64>,
    /// Keyset cursor: only posts strictly older than this (date, id) in the newest-first order.
    /// Stable under inserts, so pages have no gaps or repeats while new posts arrive.
    pub before: Option<(DateTime<Utc>, i64)>,
}

/// The storage contract. Every method is one unit of work; `save_poll` is one transaction so a
/// failure half-way stores nothing of that feed and loses nothing else.
#[async_trait]
pub trait Store: Send + Sync {
    /// Apply the embedded migrations (idempotent).
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Insert or update the configured feeds (by URL) and return their records, in input order.
    /// A feed whose configuration changed is no longer `gone` and is due at once.
    async fn sync_feeds(&self, feeds: &[FeedConfig]) -> Result<Vec<FeedRecord>, StoreError>;
    /// All stored feeds with their state.
    async fn list_feeds(&self) -> Result<Vec<FeedRecord>, StoreError>;
    /// `entry_key -> content_hash` of every post and remembered skipped entry of a feed, so the
    /// pipeline can leave unchanged entries alone without normalizing them again.
    async fn known_entries(&self, feed_id: i64) -> Result<HashMap<String, String>, StoreError>;
    /// Store a poll's posts and the feed's new state atomically.
    async fn save_poll(
        &self,
        feed_id: i64,
        poll: &PollRecord,
        posts: &[Post],
        skipped: &[SkippedEntry],
    ) -> Result<SaveReport, StoreError>;
    async fn list_posts(&self, filter: &PostFilter) -> Result<Vec<StoredPost>, StoreError>;
    /// Claim the feeds among `urls` that are due for the tick at `tick_at`: not gone, due by
    /// `now + slack`, not polled since `tick_at` (so no feed is polled twice per cycle, whichever
    /// replica ticks first), and not leased by anyone else. The claimant holds a lease until
    /// `lease_until`; `save_poll` releases it.
    async fn claim_due(
        &self,
        urls: &[String],
        owner: &str,
        tick_at: DateTime<Utc>,
        due_by: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<FeedRecord>, StoreError>;
    /// Extend a lease held by `owner` (a long fetch); false when the lease was lost.
    async fn renew_lease(
        &self,
        feed_id: i64,
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// By numeric id or canonical URL.
    async fn find_post(&self, id_or_url: &str) -> Result<Option<StoredPost>, StoreError>;
    /// True when the database answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Hash of a feed's configuration: when it changes, a gone feed gets another chance.
pub(crate) fn config_hash(f: &FeedConfig) -> String {
    use sha2::{Digest, Sha256};
    let text = serde_json::to_string(f).unwrap_or_default();
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// List columns are stored as JSON arrays (portable across both backends).
pub(crate) fn to_json(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".to_string())
}

/// Open the store named by the URL scheme, and apply migrations.
pub async fn connect(settings: &DatabaseSettings) -> Result<Arc<dyn Store>, StoreError> {
    let url = settings.url.as_str();
    let store: Arc<dyn Store> = if url.starts_with("sqlite:") {
        Arc::new(sqlite::SqliteStore::open(url, settings.max_connections).await?)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Arc::new(postgres::PgStore::open(url, settings.max_connections).await?)
    } else {
        return Err(StoreError::Unsupported {
            url: url.to_string(),
            reason: "expected sqlite://PATH or postgres://USER@HOST/DB".into(),
        });
    };
    store.migrate().await?;
    Ok(store)
}
