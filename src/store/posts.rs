//! The post rules, written once for both backends: which entry is a new post, an update, a
//! duplicate (same canonical URL, or a Reddit cross-post) or a remembered skip; the slug suffix
//! that keeps paths unique; a stored post's path that never moves; a withdrawn post deleted with
//! its event. `post_rules!(Database)` expands them in a backend's module, over its transaction
//! type `Tx` and the SQL text below, which both databases accept as it is (`$N` placeholders:
//! sqlx's SQLite driver binds `$N` to the N-th argument, as PostgreSQL does).
//!
//! What each backend keeps for itself is only what truly differs: `insert_run` (a failed
//! multi-row insert is undone by SQLite alone, by a savepoint in PostgreSQL), and the events'
//! SQL in its `outbox` (JSON functions, PostgreSQL's event lock).

/// Rows per multi-row insert: 23 parameters each, well under SQLite's 32 766 (and PostgreSQL's
/// 65 535).
pub(crate) const INSERT_RUN: usize = 40;

/// Entry keys per `IN (...)` list of [`post_rules!`]' `stored_posts`.
pub(crate) const KEYS_PER_QUERY: usize = 500;

/// The reason stored for a new entry whose canonical URL another post holds.
pub(crate) const DUPLICATE_URL: &str = "duplicate: canonical URL already stored";

/// The reason stored for a Reddit community post whose segment another post holds.
pub(crate) const CROSS_POST: &str = "duplicate: Reddit cross-post of a stored post";

/// Whether a new post needs the cross-post check (so it is not inserted in a run).
pub(crate) fn needs_cross_post_check(post: &crate::domain::Post) -> bool {
    post.reddit_segment.is_some() && post.collection == "community"
}

macro_rules! post_rules {
    ($db:ty) => {
        /// `entry_key -> (id, content_hash)` of the stored posts among `posts`, one query per
        /// [`KEYS_PER_QUERY`](crate::store::posts::KEYS_PER_QUERY) keys.
        async fn stored_posts(
            tx: &mut Tx<'_>,
            feed_id: i64,
            posts: &[Post],
        ) -> Result<HashMap<String, (i64, String)>, StoreError> {
            let mut found = HashMap::with_capacity(posts.len());
            for chunk in posts.chunks(crate::store::posts::KEYS_PER_QUERY) {
                let mut qb = sqlx::QueryBuilder::<$db>::new(
                    "SELECT entry_key, id, content_hash FROM posts WHERE feed_id = ",
                );
                qb.push_bind(feed_id).push(" AND entry_key IN (");
                let mut keys = qb.separated(", ");
                for post in chunk {
                    keys.push_bind(&post.entry_key);
                }
                qb.push(")");
                for row in qb.build().fetch_all(&mut **tx).await? {
                    let key: String = row.try_get("entry_key")?;
                    found.insert(key, (row.try_get("id")?, row.try_get("content_hash")?));
                }
            }
            Ok(found)
        }

        async fn remember_skipped(
            tx: &mut Tx<'_>,
            feed_id: i64,
            entry_key: &str,
            content_hash: &str,
            reason: &str,
            now: DateTime<Utc>,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO skipped_entries (feed_id, entry_key, content_hash, reason, seen_at) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (feed_id, entry_key) DO UPDATE SET content_hash = excluded.content_hash, \
                 reason = excluded.reason, seen_at = excluded.seen_at",
            )
            .bind(feed_id)
            .bind(entry_key)
            .bind(content_hash)
            .bind(reason)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        async fn forget_skipped(
            tx: &mut Tx<'_>,
            feed_id: i64,
            entry_key: &str,
        ) -> Result<(), StoreError> {
            sqlx::query("DELETE FROM skipped_entries WHERE feed_id = $1 AND entry_key = $2")
                .bind(feed_id)
                .bind(entry_key)
                .execute(&mut **tx)
                .await?;
            Ok(())
        }

        /// Insert a new post (at `index` of the batch) at the first free
        /// `_collection/date-slug[-n].md` path, and say where. `None` when its canonical URL is
        /// already stored (possibly by another replica a moment ago), i.e. a duplicate.
        async fn insert_post(
            tx: &mut Tx<'_>,
            feed_id: i64,
            post: &Post,
            index: usize,
            now: DateTime<Utc>,
        ) -> Result<Option<crate::store::Placed>, StoreError> {
            for n in 1..=10_000u32 {
                let slug = if n > 1 {
                    std::borrow::Cow::Owned(format!("{}-{n}", post.slug))
                } else {
                    std::borrow::Cow::Borrowed(post.slug.as_str())
                };
                let path = post_path_with_slug(post, &slug);
                let rows = [(post, slug.as_ref(), path)];
                let row = insert_posts_query(feed_id, &rows, now, crate::store::INSERTED)
                    .build()
                    .fetch_optional(&mut **tx)
                    .await?;
                if let Some(row) = row {
                    return Ok(Some(placed_from_row(&row, index)?));
                }
                let same_url = sqlx::query("SELECT 1 FROM posts WHERE canonical_url = $1")
                    .bind(&post.canonical_url)
                    .fetch_optional(&mut **tx)
                    .await?
                    .is_some();
                if same_url {
                    return Ok(None);
                }
                // Otherwise the path is taken: try the next suffix.
            }
            Err(StoreError::Corrupt(format!(
                "more than 10000 posts share the path of {:?}",
                post_path(post)
            )))
        }

        /// Where each post of a run inserted by one statement (`run`, from `first` of the
        /// batch) was stored, from the statement's `placed_columns!`
        /// rows, in batch order (the rows come in no promised order: matched by entry key).
        fn placed_run(
            rows: &[<$db as sqlx::Database>::Row],
            run: &[&Post],
            first: usize,
        ) -> Result<Vec<crate::store::Placed>, StoreError> {
            let at: HashMap<&str, usize> = run
                .iter()
                .enumerate()
                .map(|(i, p)| (p.entry_key.as_str(), first + i))
                .collect();
            let mut placed = Vec::with_capacity(rows.len());
            for row in rows {
                let key: String = row.try_get("entry_key")?;
                let index = at.get(key.as_str()).copied().ok_or_else(|| {
                    StoreError::Corrupt(format!("an insert returned entry {key:?}, not inserted"))
                })?;
                placed.push(placed_from_row(row, index)?);
            }
            placed.sort_by_key(|p| p.index);
            Ok(placed)
        }

        /// The post that holds `url`, other than post `except` (ids start at 1: 0 excludes
        /// none).
        async fn url_owner(
            tx: &mut Tx<'_>,
            url: &str,
            except: i64,
        ) -> Result<Option<crate::store::UrlOwner>, StoreError> {
            let row: Option<(i64, String, String)> = sqlx::query_as(
                "SELECT p.id, f.name, f.url FROM posts p JOIN feeds f ON f.id = p.feed_id \
                 WHERE p.canonical_url = $1 AND p.id <> $2",
            )
            .bind(url)
            .bind(except)
            .fetch_optional(&mut **tx)
            .await?;
            Ok(row.map(|(post_id, feed_name, feed_url)| crate::store::UrlOwner {
                post_id,
                feed_name,
                feed_url,
            }))
        }

        /// Delete the stored posts of `skipped` entries, each with its `post.withdrawn` event
        /// (a Reddit post removed after it was published, a post a rule now drops).
        async fn withdraw_posts(
            tx: &mut Tx<'_>,
            feed_id: i64,
            skipped: &[SkippedEntry],
        ) -> Result<(), StoreError> {
            for s in skipped {
                outbox::post_withdrawn(tx, feed_id, &s.entry_key).await?;
                sqlx::query("DELETE FROM posts WHERE feed_id = $1 AND entry_key = $2")
                    .bind(feed_id)
                    .bind(&s.entry_key)
                    .execute(&mut **tx)
                    .await?;
            }
            Ok(())
        }

        /// The posts and skipped entries of one feed, inside the caller's transaction (shared
        /// by `save_poll` and `save_entries`, so both follow the same identity and duplicate
        /// rules). With `keep`, where each new or updated post was stored.
        async fn save_entries_tx(
            tx: &mut Tx<'_>,
            feed_id: i64,
            posts: &[Post],
            skipped: &[SkippedEntry],
            now: DateTime<Utc>,
            keep: bool,
        ) -> Result<crate::store::Saved, StoreError> {
            use crate::store::posts::{needs_cross_post_check, INSERT_RUN};
            let mut saved = crate::store::Saved::default();
            // Entries remembered as skipped: a post that is now published must leave that list.
            let skipped_keys: std::collections::HashSet<String> = if posts.is_empty() {
                Default::default()
            } else {
                sqlx::query_scalar("SELECT entry_key FROM skipped_entries WHERE feed_id = $1")
                    .bind(feed_id)
                    .fetch_all(&mut **tx)
                    .await?
                    .into_iter()
                    .collect()
            };
            let stored = if posts.is_empty() {
                HashMap::new()
            } else {
                stored_posts(tx, feed_id, posts).await?
            };
            // New posts that need no check of their own (not Reddit community posts, which are
            // checked for cross-posts) go in runs, one statement per run; the rest, and any run
            // with a conflict, one by one below. The order of the posts is kept either way.
            // Why: one statement per post was most of a cold fetch's database time, and
            // conflicts are rare.
            let plain_new =
                |post: &Post| !needs_cross_post_check(post) && !stored.contains_key(&post.entry_key);
            let mut i = 0;
            while i < posts.len() {
                let run_len = posts[i..]
                    .iter()
                    .take(INSERT_RUN)
                    .take_while(|p| plain_new(p))
                    .count();
                if run_len >= 2 {
                    let run: Vec<&Post> = posts[i..i + run_len].iter().collect();
                    if let Some(rows) = insert_run(tx, feed_id, &run, now, keep).await? {
                        if keep {
                            saved.placed.extend(placed_run(&rows, &run, i)?);
                        }
                        let keys: Vec<&str> = run.iter().map(|p| p.entry_key.as_str()).collect();
                        outbox::post_events(tx, EventKind::PostCreated, feed_id, &keys).await?;
                        for post in &run {
                            if skipped_keys.contains(post.entry_key.as_str()) {
                                forget_skipped(tx, feed_id, &post.entry_key).await?;
                            }
                        }
                        saved.report.new += run_len;
                        i += run_len;
                        continue;
                    }
                }
                let end = i + run_len.max(1);
                for (index, post) in posts.iter().enumerate().take(end).skip(i) {
                    let existing = stored.get(&post.entry_key);
                    let report = &mut saved.report;
                    let placed =
                        save_one(tx, feed_id, post, index, existing, &skipped_keys, now, report)
                            .await?;
                    if keep {
                        saved.placed.extend(placed);
                    }
                }
                i = end;
            }

            for s in skipped {
                remember_skipped(tx, feed_id, &s.entry_key, &s.content_hash, &s.reason, now)
                    .await?;
                saved.report.skipped += 1;
            }
            Ok(saved)
        }

        /// One post of a poll (at `index` of the batch), checked and written on its own: an
        /// update of a stored post, a duplicate, or an insert that resolves path conflicts.
        /// `existing`: its stored id and hash. Returns where it was stored, if it was.
        #[allow(clippy::too_many_arguments)]
        async fn save_one(
            tx: &mut Tx<'_>,
            feed_id: i64,
            post: &Post,
            index: usize,
            existing: Option<&(i64, String)>,
            skipped_keys: &std::collections::HashSet<String>,
            now: DateTime<Utc>,
            report: &mut SaveReport,
        ) -> Result<Option<crate::store::Placed>, StoreError> {
            use crate::store::posts::{CROSS_POST, DUPLICATE_URL};
            if let Some(&(id, ref hash)) = existing {
                if *hash == post.content_hash {
                    report.unchanged += 1;
                    return Ok(None);
                }
                // A link that moved onto another post's URL: still this entry (same key), so its
                // own post is updated and keeps its URL (canonical URLs are unique).
                let owner = url_owner(tx, &post.canonical_url, id).await?;
                if let Some(owner) = &owner {
                    owner.warn_moved(post, id);
                }
                let new_url = owner.is_none().then_some(&post.canonical_url);
                // Slug, date and path stay as first published: the post's URL on the site must
                // not move when its source edits a title or re-dates an entry.
                let row = sqlx::query(concat!(
                    "UPDATE posts SET canonical_url = COALESCE($1, canonical_url), title = $2, \
                     description = $3, author = $4, viewing_mode = $5, feed_name = $6, \
                     feed_url = $7, categories = $8, tags = $9, tags_normalized = $10, \
                     excerpt = $11, content_markdown = $12, youtube_id = $13, \
                     reddit_segment = $14, content_hash = $15, updated_at = $16 WHERE id = $17 \
                     RETURNING ",
                    crate::store::placed_columns!()
                ))
                .bind(new_url)
                .bind(&post.title)
                .bind(&post.description)
                .bind(&post.author)
                .bind(&post.viewing_mode)
                .bind(&post.feed_name)
                .bind(&post.feed_url)
                .bind(to_json(&post.categories))
                .bind(to_json(&post.tags))
                .bind(to_json(&post.tags_normalized))
                .bind(&post.excerpt)
                .bind(&post.content_markdown)
                .bind(&post.youtube_id)
                .bind(&post.reddit_segment)
                .bind(&post.content_hash)
                .bind(now)
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?;
                outbox::post_events(tx, EventKind::PostUpdated, feed_id, &[&post.entry_key])
                    .await?;
                report.updated += 1;
                return Ok(row.map(|r| placed_from_row(&r, index)).transpose()?);
            }

            let cross_post = match (&post.reddit_segment, post.collection.as_str()) {
                (Some(segment), "community") => sqlx::query(
                    "SELECT 1 FROM posts WHERE collection = 'community' AND reddit_segment = $1",
                )
                .bind(segment)
                .fetch_optional(&mut **tx)
                .await?
                .is_some(),
                _ => false,
            };
            // The common case is one statement: the insert itself. A conflict (same canonical
            // URL, or the path taken by another post) is told apart only when it happens.
            let placed = if cross_post {
                None
            } else {
                insert_post(tx, feed_id, post, index, now).await?
            };
            if placed.is_none() {
                let reason = if cross_post { CROSS_POST } else { DUPLICATE_URL };
                remember_skipped(tx, feed_id, &post.entry_key, &post.content_hash, reason, now)
                    .await?;
                if !cross_post {
                    if let Some(owner) = url_owner(tx, &post.canonical_url, 0).await? {
                        owner.info_duplicate(post);
                    }
                }
                report.duplicates += 1;
                return Ok(None);
            }
            if skipped_keys.contains(post.entry_key.as_str()) {
                forget_skipped(tx, feed_id, &post.entry_key).await?;
            }
            outbox::post_events(tx, EventKind::PostCreated, feed_id, &[&post.entry_key]).await?;
            report.new += 1;
            Ok(placed)
        }
    };
}
pub(crate) use post_rules;
