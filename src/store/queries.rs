//! Queries that are the same on both backends, written once: `shared_queries!(Database)`
//! expands them in a backend's module as free functions over any executor of that database (its
//! pool, its writing connection, a transaction). The SQL text uses `$N` placeholders, which
//! sqlx's SQLite driver binds like PostgreSQL's. The backends' `Store` methods keep only how
//! they reach the database (SQLite's one writing connection, PostgreSQL's pool).

macro_rules! shared_queries {
    ($db:ty) => {
        /// `entry_key -> content_hash` of every post and skipped entry of a feed.
        async fn q_known_entries<'e, E: sqlx::Executor<'e, Database = $db>>(
            e: E,
            feed_id: i64,
        ) -> Result<HashMap<String, String>, StoreError> {
            let rows = sqlx::query(
                "SELECT entry_key, content_hash FROM posts WHERE feed_id = $1 \
                 UNION ALL SELECT entry_key, content_hash FROM skipped_entries WHERE feed_id = $1",
            )
            .bind(feed_id)
            .fetch_all(e)
            .await?;
            let mut map = HashMap::with_capacity(rows.len());
            for row in rows {
                map.insert(row.try_get("entry_key")?, row.try_get("content_hash")?);
            }
            Ok(map)
        }

        /// One article job kept (a later job for the same page replaces its entry).
        async fn q_queue_article<'e, E: sqlx::Executor<'e, Database = $db>>(
            e: E,
            j: &crate::store::QueuedArticle,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO article_jobs (url, feed_url, entry, meta, queued_at) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (url) DO UPDATE SET feed_url = $2, entry = $3, meta = $4",
            )
            .bind(&j.url)
            .bind(&j.feed_url)
            .bind(&j.entry)
            .bind(&j.meta)
            .bind(j.queued_at)
            .execute(e)
            .await?;
            Ok(())
        }

        async fn q_queued_articles<'e, E: sqlx::Executor<'e, Database = $db>>(
            e: E,
        ) -> Result<Vec<crate::store::QueuedArticle>, StoreError> {
            let rows: Vec<(String, String, String, String, DateTime<Utc>)> = sqlx::query_as(
                "SELECT url, feed_url, entry, meta, queued_at FROM article_jobs \
                 ORDER BY queued_at, url",
            )
            .fetch_all(e)
            .await?;
            Ok(rows
                .into_iter()
                .map(
                    |(url, feed_url, entry, meta, queued_at)| crate::store::QueuedArticle {
                        url,
                        feed_url,
                        entry,
                        meta,
                        queued_at,
                    },
                )
                .collect())
        }

        async fn q_dequeue_article<'e, E: sqlx::Executor<'e, Database = $db>>(
            e: E,
            url: &str,
        ) -> Result<(), StoreError> {
            sqlx::query("DELETE FROM article_jobs WHERE url = $1")
                .bind(url)
                .execute(e)
                .await?;
            Ok(())
        }

        async fn q_feed_posts<'e, E: sqlx::Executor<'e, Database = $db>>(
            e: E,
            feed_id: i64,
        ) -> Result<Vec<StoredPost>, StoreError> {
            let rows = sqlx::query("SELECT * FROM posts WHERE feed_id = $1")
                .bind(feed_id)
                .fetch_all(e)
                .await?;
            rows.iter().map(post_from_row).collect()
        }

        /// By numeric id, canonical URL, or stored path.
        async fn q_find_post<'e, E: sqlx::Executor<'e, Database = $db>>(
            e: E,
            id_or_url: &str,
        ) -> Result<Option<StoredPost>, StoreError> {
            let row = match id_or_url.trim().parse::<i64>() {
                Ok(id) => {
                    sqlx::query("SELECT * FROM posts WHERE id = $1")
                        .bind(id)
                        .fetch_optional(e)
                        .await?
                }
                Err(_) => {
                    sqlx::query("SELECT * FROM posts WHERE canonical_url = $1 OR path = $1")
                        .bind(id_or_url.trim())
                        .fetch_optional(e)
                        .await?
                }
            };
            row.as_ref().map(post_from_row).transpose()
        }

        /// One parsed entry stored: inserted, or replaced keeping its first `first_seen_at`.
        async fn q_save_parsed_entry<'e, E: sqlx::Executor<'e, Database = $db>>(
            e: E,
            feed_id: i64,
            entry: &crate::store::StoredEntry,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO entries (feed_id, entry_key, first_seen_at, data) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (feed_id, entry_key) DO UPDATE SET data = excluded.data \
                 WHERE entries.data <> excluded.data",
            )
            .bind(feed_id)
            .bind(&entry.entry_key)
            .bind(entry.first_seen_at)
            .bind(&entry.data)
            .execute(e)
            .await?;
            Ok(())
        }

        async fn q_parsed_entries<'e, E: sqlx::Executor<'e, Database = $db>>(
            e: E,
            feed_id: i64,
        ) -> Result<Vec<crate::store::StoredEntry>, StoreError> {
            let rows = sqlx::query(
                "SELECT entry_key, first_seen_at, data FROM entries WHERE feed_id = $1 \
                 ORDER BY entry_key",
            )
            .bind(feed_id)
            .fetch_all(e)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(crate::store::StoredEntry {
                        entry_key: r.try_get("entry_key")?,
                        first_seen_at: r.try_get("first_seen_at")?,
                        data: r.try_get("data")?,
                    })
                })
                .collect()
        }

        async fn q_skipped_entries<'e, E: sqlx::Executor<'e, Database = $db>>(
            e: E,
            feed_id: i64,
        ) -> Result<Vec<SkippedEntry>, StoreError> {
            let rows = sqlx::query(
                "SELECT entry_key, content_hash, reason FROM skipped_entries WHERE feed_id = $1",
            )
            .bind(feed_id)
            .fetch_all(e)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(SkippedEntry {
                        entry_key: r.try_get("entry_key")?,
                        content_hash: r.try_get("content_hash")?,
                        reason: r.try_get("reason")?,
                    })
                })
                .collect()
        }
    };
}
pub(crate) use shared_queries;
