//! Queries that are the same on both backends, written once: `shared_queries!(Database)`
//! expands them in a backend's module as free functions over any executor of that database (its
//! pool, its writing connection, a transaction), or over a connection inside the caller's
//! transaction where they take several statements. The SQL text uses `$N` placeholders, which
//! sqlx's SQLite driver binds like PostgreSQL's. The backends' `Store` methods keep only how
//! they reach the database (SQLite's one writing connection, PostgreSQL's pool), and the
//! fragments that truly differ, which the expansion names: `in_list`/`list_arg` (a list
//! parameter), `FOR_UPDATE` (a row lock), `LEASE_NOW`/`LEASE_UNTIL`/`lease_secs` (the
//! database's clock), `FEED_UPDATED_AT`/`BIND_UPDATED_AT` (a feed row's `updated_at`).

macro_rules! shared_queries {
    ($db:ty) => {
        /// One feed's record by id (`None`: no such feed).
        async fn q_feed<'e, E: sqlx::Executor<'e, Database = $db>>(
            e: E,
            id: i64,
        ) -> Result<Option<FeedRecord>, StoreError> {
            let row = sqlx::query(&format!("SELECT {FEED_COLUMNS} FROM feeds f WHERE f.id = $1"))
                .bind(id)
                .fetch_optional(e)
                .await?;
            Ok(row.as_ref().map(feed_from_row).transpose()?)
        }

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
        /// Write what the poll learned into the feed's row, and the feed's health after it
        /// (in the caller's transaction). Validators: a failure keeps the stored ones (the next
        /// poll should still be conditional), a 304 keeps them unless the server sent new ones,
        /// a 200 replaces them (a server that stopped sending them must not get stale ones
        /// back). The feed's lease is released.
        async fn q_update_feed_state(
            conn: &mut <$db as sqlx::Database>::Connection,
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
                 consecutive_failures = CASE WHEN $4 THEN 0 WHEN $14 THEN consecutive_failures \
                 ELSE consecutive_failures + 1 END, \
                 retry_after = $8, gone = $9, fetch_url = COALESCE($10, fetch_url), \
                 ttl_minutes = COALESCE($11, ttl_minutes), next_due_at = $12, \
                 lease_owner = NULL, lease_until = NULL, updated_at = {FEED_UPDATED_AT} \
                 WHERE id = $13"
            );
            let query = sqlx::query(&sql)
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
                .bind(poll.outcome == Outcome::Deferred);
            let query = if BIND_UPDATED_AT {
                query.bind(Utc::now())
            } else {
                query
            };
            query.execute(&mut *conn).await?;
            outbox::after_poll(conn, feed_id, poll).await?;
            Ok(())
        }

        /// Every stored host, by name.
        async fn q_list_hosts<'e, E: sqlx::Executor<'e, Database = $db>>(
            e: E,
        ) -> Result<Vec<crate::store::hosts::HostRecord>, StoreError> {
            crate::store::hosts::host_row!(<$db as sqlx::Database>::Row);
            let rows = sqlx::query(&format!(
                "SELECT {} FROM hosts ORDER BY host",
                crate::store::hosts::HOST_COLUMNS
            ))
            .fetch_all(e)
            .await?;
            rows.iter()
                .map(|r| host_from_row(r).map_err(StoreError::from))
                .collect()
        }

        /// The stored pauses still in force at `now`. Compared here, not in SQL: SQLite's text
        /// times compare wrongly when one has a fraction and the other not.
        async fn q_host_pauses<'e, E: sqlx::Executor<'e, Database = $db>>(
            e: E,
            now: DateTime<Utc>,
        ) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
            let rows: Vec<(String, Option<DateTime<Utc>>)> =
                sqlx::query_as("SELECT host, paused_until FROM hosts WHERE paused_until IS NOT NULL")
                    .fetch_all(e)
                    .await?;
            Ok(rows
                .into_iter()
                .filter_map(|(h, u)| u.filter(|u| *u > now).map(|u| (h, u)))
                .collect())
        }

        /// `host`'s row, created if missing, read for update (in the caller's transaction):
        /// the row exists before it is read, so PostgreSQL's row lock makes read, compute and
        /// write one step across replicas (SQLite's write lock already does).
        async fn locked_host<T>(
            conn: &mut <$db as sqlx::Database>::Connection,
            host: &str,
            columns: &str,
            now: DateTime<Utc>,
        ) -> Result<T, StoreError>
        where
            T: Send + Unpin + for<'r> sqlx::FromRow<'r, <$db as sqlx::Database>::Row>,
        {
            sqlx::query(
                "INSERT INTO hosts (host, updated_at) VALUES ($1, $2) ON CONFLICT (host) DO NOTHING",
            )
            .bind(host)
            .bind(now)
            .execute(&mut *conn)
            .await?;
            Ok(sqlx::query_as(&format!(
                "SELECT {columns} FROM hosts WHERE host = $1{FOR_UPDATE}"
            ))
            .bind(host)
            .fetch_one(&mut *conn)
            .await?)
        }

        /// Reserve the next request start at `host` (in the caller's transaction): when it may
        /// start, and the stored pause in force (then nothing is reserved).
        async fn q_reserve_host(
            conn: &mut <$db as sqlx::Database>::Connection,
            host: &str,
            interval: std::time::Duration,
            burst: u32,
            now: DateTime<Utc>,
        ) -> Result<(DateTime<Utc>, Option<DateTime<Utc>>), StoreError> {
            let (tat, paused): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) =
                locked_host(conn, host, "next_request_at, paused_until", now).await?;
            let r = crate::store::hosts::reserve(tat, paused, now, interval, burst);
            if r.paused_until.is_none() {
                sqlx::query(
                    "UPDATE hosts SET next_request_at = $2, requests = requests + 1, \
                     updated_at = $3 WHERE host = $1",
                )
                .bind(host)
                .bind(r.next_request_at)
                .bind(now)
                .execute(&mut *conn)
                .await?;
            }
            Ok((r.start, r.paused_until))
        }

        /// Pause `host` until `until` (in the caller's transaction), extending a stored pause
        /// still in force, never shortening it.
        async fn q_pause_host(
            conn: &mut <$db as sqlx::Database>::Connection,
            host: &str,
            until: DateTime<Utc>,
            status: u16,
            reason: &str,
        ) -> Result<(), StoreError> {
            let now = Utc::now();
            let (stored,): (Option<DateTime<Utc>>,) =
                locked_host(conn, host, "paused_until", now).await?;
            let until = crate::store::hosts::extended(stored.filter(|u| *u > now), until);
            let throttled = crate::store::hosts::is_throttle(status).then_some(now);
            sqlx::query(
                "UPDATE hosts SET paused_until = $2, pause_status = $3, pause_reason = $4, \
                 last_throttled_at = COALESCE($5, last_throttled_at), updated_at = $6 \
                 WHERE host = $1",
            )
            .bind(host)
            .bind(until)
            .bind(i64::from(status))
            .bind(reason)
            .bind(throttled)
            .bind(now)
            .execute(&mut *conn)
            .await?;
            Ok(())
        }

        /// Take or extend the named lease for `owner` for `ttl` on the database's clock, in one
        /// statement: taken when free or expired, extended when ours; concurrent callers
        /// serialize on the row, so exactly one of them gets it. True when `owner` holds it.
        async fn q_acquire_lease<'e, E: sqlx::Executor<'e, Database = $db>>(
            e: E,
            name: &str,
            owner: &str,
            ttl: std::time::Duration,
        ) -> Result<bool, StoreError> {
            let held: Option<String> = sqlx::query_scalar(&format!(
                "INSERT INTO leases (name, owner, until_at) VALUES ($1, $2, {LEASE_UNTIL}) \
                 ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, \
                 until_at = excluded.until_at \
                 WHERE leases.owner = excluded.owner OR leases.until_at < {LEASE_NOW} \
                 RETURNING owner"
            ))
            .bind(name)
            .bind(owner)
            .bind(lease_secs(ttl))
            .fetch_optional(e)
            .await?;
            Ok(held.as_deref() == Some(owner))
        }

        /// Give the named lease up if `owner` holds it.
        async fn q_release_lease<'e, E: sqlx::Executor<'e, Database = $db>>(
            e: E,
            name: &str,
            owner: &str,
        ) -> Result<(), StoreError> {
            sqlx::query("DELETE FROM leases WHERE name = $1 AND owner = $2")
                .bind(name)
                .bind(owner)
                .execute(e)
                .await?;
            Ok(())
        }

        /// Cached articles by URL.
        async fn q_get_articles<'e, E: sqlx::Executor<'e, Database = $db>>(
            e: E,
            urls: &[String],
        ) -> Result<HashMap<String, ArticleRecord>, StoreError> {
            if urls.is_empty() {
                return Ok(HashMap::new());
            }
            let rows = sqlx::query(&format!("SELECT * FROM articles WHERE url {}", in_list("$1")))
                .bind(list_arg(urls))
                .fetch_all(e)
                .await?;
            let mut out = HashMap::with_capacity(rows.len());
            for row in &rows {
                let rec = article_from_row(row)?;
                out.insert(rec.url.clone(), rec);
            }
            Ok(out)
        }

        /// Insert or replace the cached article of `r.url`.
        async fn q_put_article<'e, E: sqlx::Executor<'e, Database = $db>>(
            e: E,
            r: &ArticleRecord,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO articles (url, status, extractor, content_html, etag, last_modified, \
                 http_status, error, failures, fetched_at, next_attempt_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (url) DO UPDATE SET status = excluded.status, \
                 extractor = excluded.extractor, content_html = excluded.content_html, \
                 etag = excluded.etag, last_modified = excluded.last_modified, \
                 http_status = excluded.http_status, error = excluded.error, \
                 failures = excluded.failures, fetched_at = excluded.fetched_at, \
                 next_attempt_at = excluded.next_attempt_at",
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
            .execute(e)
            .await?;
            Ok(())
        }

        /// Cached model results of `model` by content hash.
        async fn q_get_enrichments<'e, E: sqlx::Executor<'e, Database = $db>>(
            e: E,
            model: &str,
            content_hashes: &[String],
        ) -> Result<HashMap<String, String>, StoreError> {
            if content_hashes.is_empty() {
                return Ok(HashMap::new());
            }
            let rows = sqlx::query(&format!(
                "SELECT content_hash, result FROM enrichments WHERE model = $1 \
                 AND content_hash {}",
                in_list("$2")
            ))
            .bind(model)
            .bind(list_arg(content_hashes))
            .fetch_all(e)
            .await?;
            let mut out = HashMap::with_capacity(rows.len());
            for row in &rows {
                out.insert(row.try_get("content_hash")?, row.try_get("result")?);
            }
            Ok(out)
        }

        /// Insert or replace the cached model result of `content_hash` for `model`.
        async fn q_put_enrichment<'e, E: sqlx::Executor<'e, Database = $db>>(
            e: E,
            content_hash: &str,
            model: &str,
            result: &str,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO enrichments (content_hash, model, result, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (content_hash, model) DO UPDATE SET \
                 result = excluded.result, created_at = excluded.created_at",
            )
            .bind(content_hash)
            .bind(model)
            .bind(result)
            .bind(Utc::now())
            .execute(e)
            .await?;
            Ok(())
        }
    };
}
pub(crate) use shared_queries;

/// [`StoreReads`](crate::store::StoreReads) for a backend, written once: each read is one
/// shared query over the backend's reading pool (`self.pool`), its error passed through the
/// backend's `read_error` (SQLite names the file; PostgreSQL's URL may hold a password, so its
/// errors stay as they are). Expanded in the backend's module, after `shared_queries!`.
macro_rules! shared_reads {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl crate::store::StoreReads for $store {
            async fn feed(&self, id: i64) -> Result<Option<FeedRecord>, StoreError> {
                q_feed(&self.pool, id).await.map_err(|e| self.read_error(e))
            }

            async fn feed_lease_owners(&self) -> Result<Vec<String>, StoreError> {
                let sql = "SELECT DISTINCT lease_owner FROM feeds WHERE lease_owner IS NOT NULL";
                let owners = sqlx::query_scalar(sql).fetch_all(&self.pool).await;
                owners.map_err(|e| self.read_error(e.into()))
            }

            async fn feeds_by_url(&self, urls: &[String]) -> Result<Vec<FeedRecord>, StoreError> {
                let sql = format!(
                    "SELECT {FEED_COLUMNS} FROM feeds f WHERE f.url {}",
                    in_list("$1")
                );
                let rows = sqlx::query(&sql)
                    .bind(list_arg(urls))
                    .fetch_all(&self.pool)
                    .await;
                let rows = rows.map_err(|e| self.read_error(e.into()))?;
                rows.iter()
                    .map(|r| feed_from_row(r).map_err(StoreError::from))
                    .collect()
            }

            async fn list_feeds(&self) -> Result<Vec<FeedRecord>, StoreError> {
                let sql = format!("SELECT {FEED_COLUMNS} FROM feeds f ORDER BY f.name, f.url");
                let rows = sqlx::query(&sql).fetch_all(&self.pool).await;
                let rows = rows.map_err(|e| self.read_error(e.into()))?;
                rows.iter()
                    .map(|r| feed_from_row(r).map_err(StoreError::from))
                    .collect()
            }

            async fn known_entries(
                &self,
                feed_id: i64,
            ) -> Result<HashMap<String, String>, StoreError> {
                let known = q_known_entries(&self.pool, feed_id).await;
                known.map_err(|e| self.read_error(e))
            }

            async fn feed_posts(&self, feed_id: i64) -> Result<Vec<StoredPost>, StoreError> {
                let posts = q_feed_posts(&self.pool, feed_id).await;
                posts.map_err(|e| self.read_error(e))
            }

            async fn get_articles(
                &self,
                urls: &[String],
            ) -> Result<HashMap<String, ArticleRecord>, StoreError> {
                let articles = q_get_articles(&self.pool, urls).await;
                articles.map_err(|e| self.read_error(e))
            }

            async fn queued_articles(
                &self,
            ) -> Result<Vec<crate::store::QueuedArticle>, StoreError> {
                let jobs = q_queued_articles(&self.pool).await;
                jobs.map_err(|e| self.read_error(e))
            }

            async fn get_enrichments(
                &self,
                model: &str,
                content_hashes: &[String],
            ) -> Result<HashMap<String, String>, StoreError> {
                let cached = q_get_enrichments(&self.pool, model, content_hashes).await;
                cached.map_err(|e| self.read_error(e))
            }

            async fn find_post(&self, id_or_url: &str) -> Result<Option<StoredPost>, StoreError> {
                let post = q_find_post(&self.pool, id_or_url).await;
                post.map_err(|e| self.read_error(e))
            }

            async fn host_pauses(
                &self,
                now: DateTime<Utc>,
            ) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
                let pauses = q_host_pauses(&self.pool, now).await;
                pauses.map_err(|e| self.read_error(e))
            }

            async fn list_hosts(&self) -> Result<Vec<crate::store::hosts::HostRecord>, StoreError> {
                q_list_hosts(&self.pool)
                    .await
                    .map_err(|e| self.read_error(e))
            }

            async fn parsed_entries(
                &self,
                feed_id: i64,
            ) -> Result<Vec<crate::store::StoredEntry>, StoreError> {
                let entries = q_parsed_entries(&self.pool, feed_id).await;
                entries.map_err(|e| self.read_error(e))
            }

            async fn skipped_entries(&self, feed_id: i64) -> Result<Vec<SkippedEntry>, StoreError> {
                let skipped = q_skipped_entries(&self.pool, feed_id).await;
                skipped.map_err(|e| self.read_error(e))
            }

            async fn ping(&self) -> Result<(), StoreError> {
                let pong = sqlx::query("SELECT 1").execute(&self.pool).await;
                pong.map(|_| ()).map_err(|e| self.read_error(e.into()))
            }
        }
    };
}
pub(crate) use shared_reads;

/// [`StoreWrites`](crate::store::StoreWrites) for a backend, written once: each write is the
/// shared statements inside the backend's `in_write_tx!` (SQLite: `BEGIN IMMEDIATE` on the one
/// writing connection; PostgreSQL: a pooled transaction) or `on_writer!` (one statement).
/// Expanded in the backend's module, after `shared_queries!` and `post_rules!`.
macro_rules! shared_writes {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl crate::store::StoreWrites for $store {
            async fn save_entries(
                &self,
                feed_id: i64,
                posts: &[Post],
                skipped: &[SkippedEntry],
                withdraw: bool,
            ) -> Result<SaveReport, StoreError> {
                let saved = in_write_tx!(self, tx => {
                    if withdraw {
                        withdraw_posts(&mut tx, feed_id, skipped).await?;
                    }
                    save_entries_tx(&mut tx, feed_id, posts, skipped, Utc::now(), false).await?
                })?;
                Ok(saved.report)
            }

            async fn break_feed_leases(&self, owners: &[String]) -> Result<u64, StoreError> {
                if owners.is_empty() {
                    return Ok(0);
                }
                let sql = format!(
                    "UPDATE feeds SET lease_owner = NULL, lease_until = NULL WHERE lease_owner {}",
                    in_list("$1")
                );
                on_writer!(self, conn => {
                    let done = sqlx::query(&sql).bind(list_arg(owners)).execute(conn).await;
                    done.map(|d| d.rows_affected()).map_err(StoreError::from)
                })
            }

            async fn put_article(&self, record: &ArticleRecord) -> Result<(), StoreError> {
                on_writer!(self, conn => q_put_article(conn, record).await)
            }

            async fn queue_articles(
                &self,
                jobs: &[crate::store::QueuedArticle],
            ) -> Result<(), StoreError> {
                if jobs.is_empty() {
                    return Ok(());
                }
                in_write_tx!(self, tx => {
                    for job in jobs {
                        q_queue_article(&mut *tx, job).await?;
                    }
                })
            }

            async fn dequeue_article(&self, url: &str) -> Result<(), StoreError> {
                on_writer!(self, conn => q_dequeue_article(conn, url).await)
            }

            async fn put_enrichment(
                &self,
                content_hash: &str,
                model: &str,
                result: &str,
            ) -> Result<(), StoreError> {
                on_writer!(self, conn => q_put_enrichment(conn, content_hash, model, result).await)
            }

            async fn reserve_host(
                &self,
                host: &str,
                interval: Duration,
                burst: u32,
                now: DateTime<Utc>,
            ) -> Result<(DateTime<Utc>, Option<DateTime<Utc>>), StoreError> {
                in_write_tx!(self, tx => q_reserve_host(&mut tx, host, interval, burst, now).await?)
            }

            async fn pause_host(
                &self,
                host: &str,
                until: DateTime<Utc>,
                status: u16,
                reason: &str,
            ) -> Result<(), StoreError> {
                in_write_tx!(self, tx => q_pause_host(&mut tx, host, until, status, reason).await?)
            }

            async fn acquire_lease(
                &self,
                name: &str,
                owner: &str,
                ttl: Duration,
            ) -> Result<bool, StoreError> {
                on_writer!(self, conn => q_acquire_lease(conn, name, owner, ttl).await)
            }

            async fn release_lease(&self, name: &str, owner: &str) -> Result<(), StoreError> {
                on_writer!(self, conn => q_release_lease(conn, name, owner).await)
            }

            async fn save_parsed_entries(
                &self,
                feed_id: i64,
                entries: &[crate::store::StoredEntry],
            ) -> Result<(), StoreError> {
                if entries.is_empty() {
                    return Ok(());
                }
                in_write_tx!(self, tx => {
                    for entry in entries {
                        q_save_parsed_entry(&mut *tx, feed_id, entry).await?;
                    }
                })
            }
        }
    };
}
pub(crate) use shared_writes;
