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

use crate::domain::{FeedConfig, Post, SkippedEntry};

/// `[database]`, owned by the store. `Debug` and `Serialize` show the URL without its password (`config check`, logs): a
/// PostgreSQL URL is the database's credential.
#[derive(Clone)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
}

impl DatabaseSettings {
    /// The URL with the password (and secret query values such as `sslpassword`) masked.
    pub fn redacted_url(&self) -> String {
        let masked = match url::Url::parse(&self.url) {
            Ok(mut u) if u.password().is_some() => {
                let _ = u.set_password(Some(crate::redact::MASK));
                u.to_string()
            }
            _ => self.url.clone(),
        };
        // Userinfo stays (the user name helps), the query is redacted.
        match masked.split_once('?') {
            Some((base, query)) => format!("{base}?{}", crate::redact::redact_query(query)),
            None => masked,
        }
    }
}

impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &self.redacted_url())
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

impl Serialize for DatabaseSettings {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("DatabaseSettings", 2)?;
        st.serialize_field("url", &self.redacted_url())?;
        st.serialize_field("max_connections", &self.max_connections)?;
        st.end()
    }
}

pub mod entries;
pub mod hosts;
pub mod outbox;
mod outbox_sql;
pub mod postgres;
pub(crate) mod posts;
mod queries;
pub mod sqlite;

pub use entries::StoredEntry;

/// Row -> record mapping, identical for both backends except for the row type; generated per
/// backend by `row_mappers!(RowType)` (sqlx's generic `Row` bounds would be longer than this).
macro_rules! row_mappers {
    ($row:ty) => {
        pub(crate) const FEED_COLUMNS: &str =
            "f.id, f.url, f.fetch_url, f.name, f.collection, f.etag, f.last_modified, \
             f.last_polled_at, f.last_success_at, f.last_status, f.last_outcome, f.last_error, \
             f.consecutive_failures, f.retry_after, f.gone, f.ttl_minutes, f.next_due_at, \
             (SELECT COUNT(*) FROM posts p WHERE p.feed_id = f.id) AS post_count";

        pub(crate) fn feed_from_row(row: &$row) -> Result<FeedRecord, sqlx::Error> {
            Ok(FeedRecord {
                id: row.try_get("id")?,
                url: row.try_get("url")?,
                fetch_url: row.try_get("fetch_url")?,
                name: row.try_get("name")?,
                collection: row.try_get("collection")?,
                etag: row.try_get("etag")?,
                last_modified: row.try_get("last_modified")?,
                last_polled_at: row.try_get("last_polled_at")?,
                last_success_at: row.try_get("last_success_at")?,
                last_status: row.try_get("last_status")?,
                // Written only as `Outcome::as_str`; anything else reads as "never polled".
                last_outcome: row
                    .try_get::<Option<String>, _>("last_outcome")?
                    .as_deref()
                    .and_then(Outcome::parse),
                last_error: row.try_get("last_error")?,
                consecutive_failures: row.try_get("consecutive_failures")?,
                retry_after: row.try_get("retry_after")?,
                gone: row.try_get("gone")?,
                ttl_minutes: row.try_get("ttl_minutes")?,
                next_due_at: row.try_get("next_due_at")?,
                post_count: row.try_get("post_count")?,
            })
        }

        pub(crate) fn article_from_row(row: &$row) -> Result<ArticleRecord, sqlx::Error> {
            Ok(ArticleRecord {
                url: row.try_get("url")?,
                status: {
                    let text: String = row.try_get("status")?;
                    crate::store::ArticleStatus::parse(&text).ok_or_else(|| {
                        sqlx::Error::Decode(format!("articles.status = {text:?}: expected ok, failed or removed").into())
                    })?
                },
                extractor: row.try_get("extractor")?,
                content_html: row.try_get("content_html")?,
                etag: row.try_get("etag")?,
                last_modified: row.try_get("last_modified")?,
                http_status: row.try_get("http_status")?,
                error: row.try_get("error")?,
                failures: row.try_get("failures")?,
                fetched_at: row.try_get("fetched_at")?,
                next_attempt_at: row.try_get("next_attempt_at")?,
            })
        }

        pub(crate) fn json_list(row: &$row, col: &str) -> Result<Vec<String>, StoreError> {
            let text: String = row.try_get(col)?;
            serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("posts.{col}: {e}")))
        }

        /// The columns of `placed_columns!`, for the post at
        /// `index` of the poll's batch.
        pub(crate) fn placed_from_row(
            row: &$row,
            index: usize,
        ) -> Result<crate::store::Placed, sqlx::Error> {
            Ok(crate::store::Placed {
                index,
                id: row.try_get("id")?,
                path: row.try_get("path")?,
                slug: row.try_get("slug")?,
                date: row.try_get("date")?,
                collection: row.try_get("collection")?,
                canonical_url: row.try_get("canonical_url")?,
                first_seen_at: row.try_get("first_seen_at")?,
                updated_at: row.try_get("updated_at")?,
            })
        }

        pub(crate) fn post_from_row(row: &$row) -> Result<StoredPost, StoreError> {
            Ok(StoredPost {
                id: row.try_get("id")?,
                feed_id: row.try_get("feed_id")?,
                path: row.try_get("path")?,
                first_seen_at: row.try_get("first_seen_at")?,
                updated_at: row.try_get("updated_at")?,
                post: Post {
                    entry_key: row.try_get("entry_key")?,
                    title: row.try_get("title")?,
                    description: row.try_get("description")?,
                    author: row.try_get("author")?,
                    canonical_url: row.try_get("canonical_url")?,
                    viewing_mode: row.try_get("viewing_mode")?,
                    feed_name: row.try_get("feed_name")?,
                    feed_url: row.try_get("feed_url")?,
                    collection: row.try_get("collection")?,
                    date: row.try_get("date")?,
                    slug: row.try_get("slug")?,
                    categories: json_list(row, "categories")?,
                    tags: json_list(row, "tags")?,
                    tags_normalized: json_list(row, "tags_normalized")?,
                    excerpt: row.try_get("excerpt")?,
                    content_markdown: row.try_get("content_markdown")?,
                    youtube_id: row.try_get("youtube_id")?,
                    reddit_segment: row.try_get("reddit_segment")?,
                    content_hash: row.try_get("content_hash")?,
                },
            })
        }
    };
}
pub(crate) use row_mappers;

/// `insert_posts_query(feed_id, rows, now, on_conflict)` for one backend, by
/// `post_inserts!(Database)`: the one place that lists the columns of a new post and binds them,
/// for a single post (at a chosen slug and path) as for a run of them.
macro_rules! post_inserts {
    ($db:ty) => {
        /// `INSERT INTO posts ... VALUES ..., ...` for `rows` of (post, slug, path), first seen
        /// and updated `now`, followed by `suffix` ([`INSERTED_IDS`], or nothing: then a conflict
        /// is an error, and the statement changes nothing).
        pub(crate) fn insert_posts_query<'a>(
            feed_id: i64,
            rows: &'a [(&'a Post, &'a str, String)],
            now: DateTime<Utc>,
            suffix: &str,
        ) -> sqlx::QueryBuilder<'a, $db> {
            let mut qb = sqlx::QueryBuilder::<$db>::new(
                "INSERT INTO posts (feed_id, entry_key, canonical_url, path, collection, slug, date, \
                 title, description, author, viewing_mode, feed_name, feed_url, categories, tags, \
                 tags_normalized, excerpt, content_markdown, youtube_id, reddit_segment, \
                 content_hash, first_seen_at, updated_at) ",
            );
            qb.push_values(rows, |mut b, (post, slug, path)| {
                b.push_bind(feed_id)
                    .push_bind(&post.entry_key)
                    .push_bind(&post.canonical_url)
                    .push_bind(path)
                    .push_bind(&post.collection)
                    .push_bind(*slug)
                    .push_bind(post.date)
                    .push_bind(&post.title)
                    .push_bind(&post.description)
                    .push_bind(&post.author)
                    .push_bind(&post.viewing_mode)
                    .push_bind(&post.feed_name)
                    .push_bind(&post.feed_url)
                    .push_bind(to_json(&post.categories))
                    .push_bind(to_json(&post.tags))
                    .push_bind(to_json(&post.tags_normalized))
                    .push_bind(&post.excerpt)
                    .push_bind(&post.content_markdown)
                    .push_bind(&post.youtube_id)
                    .push_bind(&post.reddit_segment)
                    .push_bind(&post.content_hash)
                    .push_bind(now)
                    .push_bind(now);
            });
            qb.push(suffix);
            qb
        }
    };
}
pub(crate) use post_inserts;

/// The columns of a stored post that the database decides, or may store otherwise than they
/// were given (PostgreSQL keeps microseconds of a time): with the rest of the [`Post`] given,
/// they make the post exactly as [`Store::find_post`] reads it. A `RETURNING` list.
macro_rules! placed_columns {
    () => {
        "id, entry_key, path, slug, date, collection, canonical_url, first_seen_at, updated_at"
    };
}
pub(crate) use placed_columns;

/// The suffix of [`post_inserts!`]'s statement that skips conflicting rows and returns the
/// `placed_columns!` of the rows inserted.
pub(crate) const INSERTED: &str = concat!(" ON CONFLICT DO NOTHING RETURNING ", placed_columns!());

/// `placed_columns!` as a suffix that returns them from a plain statement.
pub(crate) const RETURNING_PLACED: &str = concat!(" RETURNING ", placed_columns!());

/// What the database decided for one post it stored (new or updated) in a poll: with the
/// post given at `index` of the batch, the post as stored ([`Placed::stored`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Placed {
    pub index: usize,
    pub id: i64,
    pub path: String,
    pub slug: String,
    pub date: DateTime<Utc>,
    pub collection: String,
    pub canonical_url: String,
    pub first_seen_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Placed {
    /// The stored post: `post` (the one given at [`Placed::index`]) with what the database
    /// kept. Why these fields: an update keeps the slug, date, path and collection of the first
    /// publication, and the canonical URL when another post holds the new one.
    fn stored(self, feed_id: i64, mut post: Post) -> StoredPost {
        post.slug = self.slug;
        post.date = self.date;
        post.collection = self.collection;
        post.canonical_url = self.canonical_url;
        StoredPost {
            id: self.id,
            feed_id,
            path: self.path,
            first_seen_at: self.first_seen_at,
            updated_at: self.updated_at,
            post,
        }
    }
}

/// What the post rules did with one feed's entries: the counts, and (when asked) where each
/// new or updated post was stored, in batch order.
#[derive(Debug, Default)]
pub(crate) struct Saved {
    pub report: SaveReport,
    pub placed: Vec<Placed>,
}

impl Saved {
    /// The poll's result, made from the batch it was given (moved, not copied): the stored
    /// form of every placed post, in batch order.
    pub(crate) fn into_poll(self, feed_id: i64, posts: Vec<Post>) -> SavedPoll {
        let mut placed = self.placed.into_iter().peekable();
        let mut stored = Vec::with_capacity(placed.len());
        for (i, post) in posts.into_iter().enumerate() {
            if let Some(p) = placed.next_if(|p| p.index == i) {
                stored.push(p.stored(feed_id, post));
            }
        }
        SavedPoll {
            report: self.report,
            posts: stored,
        }
    }
}

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
    #[error("{url}: this database was migrated by a newer feedsmith (migration {version}); upgrade feedsmith or use another database")]
    NewerDatabase { url: String, version: i64 },
    #[error("the database {url} is not writable: {source}\n  fix: make the file, its directory and its -wal/-shm files writable by this user, free disk space, or point [database].url / --database-url at a writable file")]
    NotWritable { url: String, source: sqlx::Error },
    #[error("the database {url} cannot be read: {source}\n  fix: restore the file from a backup (or recover it with `sqlite3 {path} .recover`), or point [database].url / --database-url at another file", path = url.trim_start_matches("sqlite://"))]
    Unreadable { url: String, source: sqlx::Error },
    /// The server is not there: said at once, instead of after the pool's 10 s wait as "pool
    /// timed out" with a hint about writable directories.
    #[error("cannot reach PostgreSQL: {reason} at {host}:{port}\n  fix: start PostgreSQL there, or correct [database].url / FEEDSMITH__DATABASE__URL / --database-url")]
    Unreachable {
        host: String,
        port: u16,
        reason: String,
    },
}

/// The file a `sqlite:` URL names, as SQLite will open it; `None` for another scheme or a URL
/// that does not parse (opening reports that with its own message).
pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    use std::str::FromStr;
    if !url.starts_with("sqlite:") {
        return None;
    }
    sqlx::sqlite::SqliteConnectOptions::from_str(url)
        .ok()
        .map(|o| o.get_filename().to_path_buf())
}

/// Whether the file a `sqlite://PATH` URL names exists.
fn sqlite_file_exists(url: &str) -> bool {
    sqlite_path(url).is_some_and(|p| p.is_file())
}

/// SQLite's primary result code of a database error (`SQLITE_FULL` is 13, whatever its extended
/// code), or `None` for other errors.
fn sqlite_code(e: &sqlx::Error) -> Option<i64> {
    match e {
        sqlx::Error::Database(db) => db.code()?.parse::<i64>().ok().map(|c| c & 0xff),
        _ => None,
    }
}

impl StoreError {
    /// A damaged file (SQLite's CORRUPT or NOTADB): read commands try [`Store::salvage_posts`].
    pub fn is_damaged(&self) -> bool {
        matches!(self, StoreError::Unreadable { .. })
            || match self {
                StoreError::Sql(e) | StoreError::Open { source: e, .. } => {
                    matches!(sqlite_code(e), Some(11 | 26))
                }
                _ => false,
            }
    }

    /// The same error, told apart by cause and named by the database URL, for the errors an
    /// operator fixes outside feedsmith: a read-only or full file system, a file that is not a
    /// database, a database migrated by a newer feedsmith. Why: sqlx's own words ("previously
    /// applied but is missing", "database is locked" with no path) said neither which file nor
    /// what to do.
    pub fn at(self, url: &str) -> StoreError {
        let url = url.to_string();
        let classify = |source: sqlx::Error, fallback: fn(sqlx::Error) -> StoreError| {
            match sqlite_code(&source) {
                // READONLY, CANTOPEN, FULL, PERM, IOERR
                Some(8 | 14 | 13 | 3 | 10) => StoreError::NotWritable {
                    url: url.clone(),
                    source,
                },
                // NOTADB, CORRUPT
                Some(26 | 11) => StoreError::Unreadable {
                    url: url.clone(),
                    source,
                },
                _ => fallback(source),
            }
        };
        match self {
            StoreError::Migrate(sqlx::migrate::MigrateError::VersionMissing(version)) => {
                StoreError::NewerDatabase { url, version }
            }
            StoreError::Migrate(sqlx::migrate::MigrateError::Execute(source)) => {
                classify(source, |e| {
                    StoreError::Migrate(sqlx::migrate::MigrateError::Execute(e))
                })
            }
            StoreError::Open { url: u, source } => match sqlite_code(&source) {
                Some(26 | 11) => StoreError::Unreadable { url: u, source },
                Some(8) => StoreError::NotWritable { url: u, source },
                // An existing file that cannot be opened for writing (a read-only file system:
                // its -shm file cannot be created); a missing directory keeps the open error.
                Some(14) if sqlite_file_exists(&u) => StoreError::NotWritable { url: u, source },
                _ => StoreError::Open { url: u, source },
            },
            StoreError::Sql(source) => classify(source, StoreError::Sql),
            other => other,
        }
    }
}

/// How a poll ended, as stored in `feeds.last_outcome` and reported in summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    NotModified,
    Failed,
    /// Not requested because of the host (no slot within `[http] max_host_wait`, or the host
    /// paused): polled again at the next tick; the failure count and backoff stay as they were.
    Deferred,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::NotModified => "not_modified",
            Outcome::Failed => "failed",
            Outcome::Deferred => "deferred",
        }
    }

    /// The outcome stored as [`Outcome::as_str`] (`feeds.last_outcome`).
    pub fn parse(s: &str) -> Option<Outcome> {
        [
            Outcome::Ok,
            Outcome::NotModified,
            Outcome::Failed,
            Outcome::Deferred,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }

    /// The feed answered (200 or 304).
    pub fn is_success(self) -> bool {
        matches!(self, Outcome::Ok | Outcome::NotModified)
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
    pub last_outcome: Option<Outcome>,
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
    /// The host blocked this client (a block page, or paused after one): `feed.blocked`.
    pub blocked: bool,
    /// `[health]`: when failures make the feed `failing` (decided in the poll's transaction).
    pub health: outbox::HealthRules,
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
            blocked: false,
            health: outbox::HealthRules::default(),
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

/// What [`Store::save_poll`] hands back besides the counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Only the counts: the posts are dropped once stored.
    Counts,
    /// Also the new and updated posts as stored (continuous publishing exports them).
    Posts,
}

/// What [`Store::save_poll`] stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SavedPoll {
    pub report: SaveReport,
    /// With [`Keep::Posts`]: the posts this poll created or updated, in the poll's order,
    /// exactly as [`Store::find_post`] reads them (the path and slug the store decided, the
    /// first publication's date). Empty with [`Keep::Counts`].
    pub posts: Vec<StoredPost>,
}

/// A queued article job as stored: the page, its feed, and the entry and feed fields (JSON of
/// [`crate::domain::ParsedEntry`] and [`crate::domain::ParsedFeed`]) it is normalized from
/// when the page arrives.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedArticle {
    pub url: String,
    pub feed_url: String,
    pub entry: String,
    pub meta: String,
    pub queued_at: DateTime<Utc>,
}

/// The stored post that holds a canonical URL, for the messages about entries that want it too.
pub(crate) struct UrlOwner {
    pub post_id: i64,
    pub feed_name: String,
    pub feed_url: String,
}

impl UrlOwner {
    /// An entry whose link changed to this URL: it keeps its own post (`own_id`), updated, at
    /// its old URL. Why a warning: the feed now says two entries are one article, which only its
    /// author can settle; the message says which post to compare.
    pub(crate) fn warn_moved(&self, post: &Post, own_id: i64) {
        tracing::warn!(
            "entry {:?} of feed {:?} now links to {}, which post #{} of feed {:?} ({}) already \
             holds; post #{own_id} stays this entry's post, is updated and keeps its own URL",
            post.entry_key,
            post.feed_name,
            post.canonical_url,
            self.post_id,
            self.feed_name,
            self.feed_url
        );
    }

    /// A new entry whose URL is already stored: not stored again.
    pub(crate) fn info_duplicate(&self, post: &Post) {
        tracing::info!(
            "entry {:?} of feed {:?} is a duplicate of post #{} of feed {:?} ({}): {} is \
             already stored; not stored again",
            post.entry_key,
            post.feed_name,
            self.post_id,
            self.feed_name,
            self.feed_url,
            post.canonical_url
        );
    }
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

/// What became of a linked page, as stored in `articles.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArticleStatus {
    /// Fetched and extracted: `content_html` holds the article.
    Ok,
    /// The last attempt failed (`error`, `failures`, `next_attempt_at` say how and when next).
    Failed,
    /// Reddit reports the post removed or deleted: it is not published.
    Removed,
}

impl ArticleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ArticleStatus::Ok => "ok",
            ArticleStatus::Failed => "failed",
            ArticleStatus::Removed => "removed",
        }
    }

    pub fn parse(s: &str) -> Option<ArticleStatus> {
        // (The inverse of `as_str`; `Display` prints the same word.)
        match s {
            "ok" => Some(ArticleStatus::Ok),
            "failed" => Some(ArticleStatus::Failed),
            "removed" => Some(ArticleStatus::Removed),
            _ => None,
        }
    }
}

impl std::fmt::Display for ArticleStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A linked page fetched for its full content, cached by URL so it is fetched once.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArticleRecord {
    pub url: String,
    pub status: ArticleStatus,
    /// What produced the content (`readability`, `css:<selector>`, `reddit-json`): a feed whose
    /// extractor changed does not reuse the cached result.
    pub extractor: String,
    /// Extracted HTML (not yet sanitized; normalization sanitizes it like feed content).
    pub content_html: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub http_status: Option<i64>,
    pub error: Option<String>,
    /// Consecutive failed attempts.
    pub failures: i64,
    pub fetched_at: DateTime<Utc>,
    /// Not retried before this time (backoff after failures).
    pub next_attempt_at: Option<DateTime<Utc>>,
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

/// One poll's batch as [`Store::save_poll`] hands it to a backend.
pub struct PollSave<'a> {
    pub feed_id: i64,
    pub poll: &'a PollRecord,
    pub posts: Vec<Post>,
    pub skipped: Vec<SkippedEntry>,
    pub keep: Keep,
}

/// A feed's lease: who holds it, and until when. Why a type: the end was computed from the
/// configured length in three places (the scheduler, `fetch`, `reprocess`), each with its own
/// fallback.
#[derive(Debug, Clone, Copy)]
pub struct Lease<'a> {
    pub owner: &'a str,
    pub until: DateTime<Utc>,
}

impl<'a> Lease<'a> {
    /// Held for `ttl` from now (`[schedule].lease`, validated to a sane length).
    pub fn for_ttl(owner: &'a str, ttl: std::time::Duration) -> Lease<'a> {
        let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::minutes(5));
        Lease {
            owner,
            until: Utc::now() + ttl,
        }
    }

    /// Ended a second ago: renewing with it gives the lease up (nothing to undo if it was lost).
    pub fn ended(owner: &'a str) -> Lease<'a> {
        Lease {
            owner,
            until: Utc::now() - chrono::Duration::seconds(1),
        }
    }
}

/// Which feeds [`Store::claim_due`] takes, and the lease it takes them with.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    pub urls: &'a [String],
    /// Not polled since this tick (one poll per cycle, whichever replica ticks first).
    pub tick_at: DateTime<Utc>,
    /// Due by then.
    pub due_by: DateTime<Utc>,
    pub lease: Lease<'a>,
}

impl<'a> Claim<'a> {
    /// Whatever the feeds' due and poll times: only another's lease keeps a feed from the
    /// claimant (`fetch` and `reprocess`, which poll or rewrite now, not on a schedule). "Any
    /// time" is a century ahead, not `DateTime::MAX_UTC`: SQLite compares the stored times as
    /// text, and that year has a sign.
    pub fn regardless_of_due(urls: &'a [String], lease: Lease<'a>) -> Claim<'a> {
        let any_time = Utc::now() + chrono::Duration::days(36_500);
        Claim {
            urls,
            tick_at: any_time,
            due_by: any_time,
            lease,
        }
    }
}

/// The reads: the same SQL over a pool on both backends, written once (`shared_reads!` in
/// src/store/queries.rs). Why a trait of its own: the backends differ in how they write (the
/// SQLite group writer, PostgreSQL's pool), never in how they read, so only [`Store`] is
/// implemented twice. A `dyn Store` has these methods as its own; on a concrete store
/// (`SqliteStore`) bring the trait into scope.
#[async_trait]
pub trait StoreReads: Send + Sync {
    /// The owners of the feed leases stored now, expired or not (for [`dead_local_owner`]).
    async fn feed_lease_owners(&self) -> Result<Vec<String>, StoreError>;
    /// The stored feeds among `urls` (configured URLs), in no particular order; a URL not
    /// stored is left out.
    async fn feeds_by_url(&self, urls: &[String]) -> Result<Vec<FeedRecord>, StoreError>;
    /// All stored feeds with their state.
    async fn list_feeds(&self) -> Result<Vec<FeedRecord>, StoreError>;
    /// One stored feed's state, by id (`fetch` watching a feed another process is polling).
    async fn feed(&self, id: i64) -> Result<Option<FeedRecord>, StoreError>;
    /// `entry_key -> content_hash` of every post and remembered skipped entry of a feed, so the
    /// pipeline can leave unchanged entries alone without normalizing them again.
    async fn known_entries(&self, feed_id: i64) -> Result<HashMap<String, String>, StoreError>;
    /// Every stored post of one feed, in no particular order (`reprocess`). Why not
    /// `list_posts` with a feed filter: its newest-first order made SQLite walk the whole
    /// posts table by date for each feed (50 feeds of 1000 posts: 50 scans of 50 000 rows).
    async fn feed_posts(&self, feed_id: i64) -> Result<Vec<StoredPost>, StoreError>;
    /// Cached articles (full content) by URL.
    async fn get_articles(
        &self,
        urls: &[String],
    ) -> Result<HashMap<String, ArticleRecord>, StoreError>;
    /// Every queued article job, oldest first.
    async fn queued_articles(&self) -> Result<Vec<QueuedArticle>, StoreError>;
    /// Cached language-model results (the validated JSON answers) for `model`, by content hash
    /// (`[enrich] endpoint`, src/enrich/llm.rs): `content_hash -> result`.
    async fn get_enrichments(
        &self,
        model: &str,
        content_hashes: &[String],
    ) -> Result<HashMap<String, String>, StoreError>;
    /// By numeric id, canonical URL, or stored path (`_<collection>/<date>-<slug>.md`, as
    /// `posts list` prints it).
    async fn find_post(&self, id_or_url: &str) -> Result<Option<StoredPost>, StoreError>;
    /// The stored pauses still in force at `now`.
    async fn host_pauses(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, DateTime<Utc>)>, StoreError>;
    /// Every stored host, by name (`hosts list`, `/api/hosts`).
    async fn list_hosts(&self) -> Result<Vec<hosts::HostRecord>, StoreError>;
    /// Every stored parsed entry of a feed.
    async fn parsed_entries(&self, feed_id: i64) -> Result<Vec<StoredEntry>, StoreError>;
    /// Every remembered skipped entry of a feed, with its reason.
    async fn skipped_entries(&self, feed_id: i64) -> Result<Vec<SkippedEntry>, StoreError>;
    /// True when the database answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;
}

/// The storage contract. Every method is one unit of work; `save_poll` is one transaction so a
/// failure half-way stores nothing of that feed and loses nothing else. The methods here are
/// the ones each backend writes its own way: migrations, feed sync, claims and leases of feeds,
/// the poll's (group) commit.
#[async_trait]
pub trait Store: StoreReads + StoreWrites {
    /// Apply the embedded migrations (idempotent).
    /// Apply the embedded migrations that are not applied yet; returns how many were.
    async fn migrate(&self) -> Result<usize, StoreError>;
    /// Insert or update the configured feeds (by URL) and return their records, in input order.
    /// A feed whose configuration changed is no longer `gone` and is due at once.
    async fn sync_feeds(&self, feeds: &[FeedConfig]) -> Result<Vec<FeedRecord>, StoreError>;
    /// [`Store::sync_feeds`] without the records: the daemon's start, which reads a feed's
    /// record when it claims the feed. Why: with 20 000 feeds the records handed back (and the
    /// steady state's read of every row) held about 8 MB at start-up for nothing.
    async fn register_feeds(&self, feeds: &[FeedConfig]) -> Result<(), StoreError>;
    /// Store a poll's posts and the feed's new state atomically. The batch is taken by value:
    /// with [`Keep::Posts`] its new and updated posts come back as stored (no read-back, no
    /// copy), otherwise it is dropped once stored.
    async fn save_poll(
        &self,
        feed_id: i64,
        poll: &PollRecord,
        posts: Vec<Post>,
        skipped: Vec<SkippedEntry>,
        keep: Keep,
    ) -> Result<SavedPoll, StoreError> {
        let save = PollSave {
            feed_id,
            poll,
            posts,
            skipped,
            keep,
        };
        self.store_poll(save).await
    }
    /// [`Store::save_poll`]'s work, each backend its own way (PostgreSQL: one transaction;
    /// SQLite: the group writer, which commits several polls in one transaction).
    async fn store_poll(&self, save: PollSave<'_>) -> Result<SavedPoll, StoreError>;
    async fn list_posts(&self, filter: &PostFilter) -> Result<Vec<StoredPost>, StoreError>;
    /// Store a new `content_hash` for posts of a feed whose stored form is otherwise what
    /// normalization gives again (`reprocess` after a change that does not touch them), as
    /// `(entry_key, content_hash)`; `updated_at` and a `post.updated` event each, as an update
    /// by [`Store::save_entries`] would. One statement for all of them, instead of a full row
    /// update per post: most posts of a reprocess are of this kind. Returns the rows changed.
    /// (An empty list changes nothing, in one empty transaction: callers skip the call.)
    async fn rehash_posts(
        &self,
        feed_id: i64,
        hashes: &[(String, String)],
    ) -> Result<usize, StoreError>;
    /// Claim the feeds among `claim.urls` that are due for the tick at `claim.tick_at`: not gone,
    /// due by `claim.due_by`, not polled since `tick_at` (so no feed is polled twice per cycle,
    /// whichever replica ticks first), and not leased by anyone else. The claimant holds
    /// `claim.lease`; `save_poll` releases it.
    async fn claim_due(&self, claim: &Claim<'_>) -> Result<Vec<FeedRecord>, StoreError>;
    /// Extend (or, with [`Lease::ended`], give up) a lease held by `lease.owner` (a long fetch);
    /// false when the lease was lost.
    async fn renew_lease(&self, feed_id: i64, lease: Lease<'_>) -> Result<bool, StoreError>;
    /// The posts that can still be read from a damaged database, one row at a time, newest
    /// first, and how many rows could not be read. For read commands on a file with damaged
    /// pages: what is intact is shown instead of nothing. The default (PostgreSQL) has no such
    /// mode and returns the error.
    async fn salvage_posts(
        &self,
        filter: &PostFilter,
        error: StoreError,
    ) -> Result<(Vec<StoredPost>, usize), StoreError> {
        let _ = filter;
        Err(error)
    }
    /// Fail now, before any feed is downloaded, when the database cannot be written (a
    /// read-only file or file system): `fetch` used to download everything first.
    async fn check_writable(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// The outbox: events and webhook deliveries (src/store/outbox.rs).
    fn outbox(&self) -> &dyn outbox::Outbox;
    /// Close every connection once the writes in progress are done, at the end of `fetch` and
    /// of `run`. For SQLite this leaves the whole database in its file: the last connection to
    /// close checkpoints the WAL and removes it. Later calls would reopen or fail; none are made.
    async fn close(&self);
}

/// The writes whose statements are the same on both backends, written once (`shared_writes!`
/// in src/store/queries.rs); each backend says only how a write reaches its database (SQLite's
/// one writing connection, PostgreSQL's pool).
#[async_trait]
pub trait StoreWrites: Send + Sync {
    /// Free every feed lease held by one of `owners` (processes known to be gone); returns how
    /// many feeds were freed.
    async fn break_feed_leases(&self, owners: &[String]) -> Result<u64, StoreError>;
    /// Store posts and skipped entries of a feed without touching its poll state (the article
    /// step updates posts after the poll that found them). With `withdraw`, a stored post of a
    /// skipped entry is deleted first (a Reddit post removed after it was published).
    async fn save_entries(
        &self,
        feed_id: i64,
        posts: &[Post],
        skipped: &[SkippedEntry],
        withdraw: bool,
    ) -> Result<SaveReport, StoreError>;
    /// Insert or replace the cached article of `record.url`.
    async fn put_article(&self, record: &ArticleRecord) -> Result<(), StoreError>;
    /// Keep article jobs in the queue (`article_jobs`): a later job for the same page replaces
    /// the entry it carries.
    async fn queue_articles(&self, jobs: &[QueuedArticle]) -> Result<(), StoreError>;
    /// Take a job off the queue (its page was applied, or given up).
    async fn dequeue_article(&self, url: &str) -> Result<(), StoreError>;
    /// Insert or replace the cached model result of `content_hash` for `model`.
    async fn put_enrichment(
        &self,
        content_hash: &str,
        model: &str,
        result: &str,
    ) -> Result<(), StoreError>;
    /// Reserve the next request start at `host` paced at `interval`/`burst`, atomically across
    /// processes ([`hosts`]). Returns when it may start and the stored pause, if one is in
    /// force (then nothing is reserved).
    async fn reserve_host(
        &self,
        host: &str,
        interval: std::time::Duration,
        burst: u32,
        now: DateTime<Utc>,
    ) -> Result<(DateTime<Utc>, Option<DateTime<Utc>>), StoreError>;
    /// Pause every request to `host` until `until` (extends a stored pause, never shortens it).
    async fn pause_host(
        &self,
        host: &str,
        until: DateTime<Utc>,
        status: u16,
        reason: &str,
    ) -> Result<(), StoreError>;
    /// Take or extend the named lease for `owner` for `ttl` on the database's clock: true when
    /// `owner` holds it afterwards (it was free, expired, or already `owner`'s). For work one
    /// replica at a time may do, such as committing into the site's git repository (`publish`).
    async fn acquire_lease(
        &self,
        name: &str,
        owner: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, StoreError>;
    /// Give the named lease up if `owner` holds it (a one-shot `fetch` at its end).
    async fn release_lease(&self, name: &str, owner: &str) -> Result<(), StoreError>;
    /// Store the parsed form of entries of a feed (`entries`, for `reprocess`): inserted, or
    /// replaced keeping the first `first_seen_at`.
    async fn save_parsed_entries(
        &self,
        feed_id: i64,
        entries: &[StoredEntry],
    ) -> Result<(), StoreError>;
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
    Ok(connect_migrating(settings).await?.0)
}

/// [`connect`], also returning how many migrations it applied (for `feedsmith migrate`).
pub async fn connect_migrating(
    settings: &DatabaseSettings,
) -> Result<(Arc<dyn Store>, usize), StoreError> {
    let url = settings.url.as_str();
    let store: Arc<dyn Store> = if url.starts_with("sqlite:") {
        Arc::new(
            sqlite::SqliteStore::open(url, settings.max_connections)
                .await
                .map_err(|e| e.at(url))?,
        )
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Arc::new(postgres::PgStore::open(url, settings.max_connections).await?)
    } else {
        return Err(StoreError::Unsupported {
            url: url.to_string(),
            reason: "expected sqlite://PATH or postgres://USER@HOST/DB".into(),
        });
    };
    let applied = store.migrate().await.map_err(|e| e.at(url))?;
    Ok((store, applied))
}

/// Whether a lease `owner` (as [`lease_owner`] writes it: `host:pid:nanos`) is a process of this
/// host that no longer runs. Why: a `fetch` killed with SIGKILL (an OOM kill, a CI timeout)
/// leaves the leases it had just claimed, and the next `fetch` waited `[http] max_host_wait` for
/// each such feed and then deferred it, until the leases expired (`[schedule].lease`). A lease
/// of another host, or of a live process, is never taken: this host cannot tell whether it is
/// gone. Linux only (it reads `/proc`); elsewhere no owner counts as gone.
pub fn dead_local_owner(owner: &str) -> bool {
    let (Some((host, pid)), Some((my_host, _))) =
        (owner_host_pid(owner), owner_host_pid(lease_owner()))
    else {
        return false;
    };
    if host != my_host || pid == std::process::id() || !cfg!(target_os = "linux") {
        return false;
    }
    !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// The host and process id of a lease owner written by [`lease_owner`] (`host:pid:nanos`; the
/// host may itself hold colons); `None` for any other text.
pub fn owner_host_pid(owner: &str) -> Option<(&str, u32)> {
    let mut parts = owner.rsplitn(3, ':');
    let (_nanos, pid, host) = (parts.next()?, parts.next()?, parts.next()?);
    Some((host, pid.parse().ok()?))
}

/// This process's lease owner id (feed leases, the `publish` lease): host, process id and
/// start time, so two processes on one host, or one restarted, never share an id.
pub fn lease_owner() -> &'static str {
    static OWNER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    OWNER.get_or_init(|| {
        let host = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "feedsmith".into());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        format!("{host}:{}:{nanos}", std::process::id())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_stopped_process_of_this_host_owns_a_dead_lease() {
        let me = lease_owner();
        let (host, pid) = owner_host_pid(me).unwrap();
        assert_eq!(pid, std::process::id());
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let ended = child.id();
        child.wait().unwrap();
        assert!(!dead_local_owner(me), "this process");
        assert!(
            !dead_local_owner(&format!("{host}:1:5")),
            "a running process (init)"
        );
        assert!(
            !dead_local_owner(&format!("other-{host}:{ended}:5")),
            "another host's process cannot be checked from here"
        );
        assert!(
            !dead_local_owner("no-colons"),
            "not an owner feedsmith writes"
        );
        assert!(!dead_local_owner(&format!("{host}:notapid:5")));
        if cfg!(target_os = "linux") {
            assert!(
                dead_local_owner(&format!("{host}:{ended}:5")),
                "an ended process"
            );
        }
    }
}
