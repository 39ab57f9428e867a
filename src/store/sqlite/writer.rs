//! The SQLite store's writing side: its one writing connection ([`Writer`]), the background
//! checkpointer beside it, and the group commit of polls ([`GroupWriter`]); see the parent
//! module for why.

use super::*;

/// The writing connection's page cache, in KiB: SQLite's default, 2 MiB. It holds the pages every
/// insert walks: the upper levels and recent leaves of the posts table and its five indexes.
/// It was 8 MiB, which filled during every cold fetch and was 8.5 MB of its 21 MB heap peak
/// (docs/performance.md, "Memory and scale"); 2 MiB kept the cold fetch's time within noise.
pub(super) const WRITER_CACHE_KIB: &str = "-2048";

/// The writing connection checkpoints the WAL itself (inside a commit, under the write lock) only
/// once it holds this many pages (32 MiB); below that, [`checkpointer`] does it beside the
/// writer. SQLite's default is 1000.
pub(super) const WRITER_AUTOCHECKPOINT: &str = "8192";

/// After a write, the background checkpoint waits this long, so a burst of writes is
/// checkpointed together.
pub(super) const CHECKPOINT_DELAY: Duration = Duration::from_millis(100);

/// The store's one writing connection, opened on first use (and again after an error), used only
/// under the write lock. Why one connection and not the pool's: SQLite has one writer at a time
/// anyway, and in WAL mode a connection keeps its page cache only while no other connection
/// writes; pooled connections taking turns each began with a cold cache and read the indexes'
/// pages again.
pub(super) struct Writer {
    pub(super) options: SqliteConnectOptions,
    pub(super) conn: Option<SqliteConnection>,
    /// Asks [`checkpointer`] for a checkpoint; it ends when this is dropped (by `close`, or with
    /// the store).
    pub(super) checkpoints: Option<mpsc::Sender<()>>,
}

impl Writer {
    /// The connection, for a write: a checkpoint follows it shortly.
    pub(super) async fn conn(&mut self) -> Result<&mut SqliteConnection, StoreError> {
        // Full means one is asked for already.
        if let Some(checkpoints) = &self.checkpoints {
            let _ = checkpoints.try_send(());
        }
        if self.conn.is_none() {
            self.conn = Some(SqliteConnection::connect_with(&self.options).await?);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| StoreError::Corrupt("no connection".into()))
    }

    /// Pass `result` on; after an error, the connection is replaced on next use, so a broken one
    /// (its thread gone, say) fails one write, not every write after it.
    pub(super) fn check<T>(&mut self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if result.is_err() {
            self.conn = None;
        }
        result
    }
}

/// Checkpoints the WAL (copies its pages into the database file) on a connection of its own,
/// shortly after writes, while the writer goes on writing: a `PASSIVE` checkpoint neither waits
/// for nor blocks the writer. Why: the writing connection's automatic checkpoint ran inside a
/// commit, under the write lock, every 1000 pages, with two `fsync`s; in a cold fetch (bound by
/// the one writer) it was the writer's largest cost. The writer's own checkpoint remains, at
/// [`WRITER_AUTOCHECKPOINT`] pages, for what this one has not copied yet: the WAL only starts
/// over from its beginning after a checkpoint that the writer sees complete.
///
/// `closing` ends it at once: `close` leaves the checkpoint to the last connection's close, and a
/// one-shot `fetch` does not wait out the delay.
pub(super) async fn checkpointer(
    options: SqliteConnectOptions,
    mut wanted: mpsc::Receiver<()>,
    closing: CancellationToken,
) {
    let mut conn: Option<SqliteConnection> = None;
    while wanted.recv().await.is_some() {
        tokio::select! {
            _ = tokio::time::sleep(CHECKPOINT_DELAY) => {}
            _ = closing.cancelled() => break,
        }
        if conn.is_none() {
            match SqliteConnection::connect_with(&options).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    tracing::debug!("checkpoint: cannot open a connection: {e}");
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut *c)
            .await
        {
            // Not an error of any write: the writer's own checkpoint still runs. A connection
            // that failed is opened again next time.
            tracing::debug!("checkpoint failed: {e}");
            conn = None;
        }
    }
    if let Some(c) = conn {
        let _ = c.close().await;
    }
}

/// One feed-row-only poll waiting to be written, and who waits for its commit.
pub(super) struct StateWrite {
    pub(super) feed_id: i64,
    pub(super) poll: PollRecord,
    pub(super) done: oneshot::Sender<Result<(), StoreError>>,
}

/// One poll with posts or skipped entries waiting to be written, and who waits for its commit.
pub(super) struct PollWrite {
    pub(super) feed_id: i64,
    pub(super) poll: PollRecord,
    pub(super) posts: Vec<Post>,
    pub(super) skipped: Vec<SkippedEntry>,
    /// [`Keep::Posts`]: the stored posts go back with the result.
    pub(super) keep: bool,
    pub(super) done: oneshot::Sender<Result<SavedPoll, StoreError>>,
}

impl PollWrite {
    /// The poll's result, made of its own batch (moved, not copied).
    pub(super) fn result(self, saved: Result<Saved, StoreError>) -> Result<SavedPoll, StoreError> {
        saved.map(|s| s.into_poll(self.feed_id, self.posts))
    }

    /// Hand the result to the waiting `save_poll`.
    fn finish(self, saved: Result<Saved, StoreError>) {
        let PollWrite {
            feed_id,
            posts,
            done,
            ..
        } = self;
        let _ = done.send(saved.map(|s| s.into_poll(feed_id, posts)));
    }
}

/// What [`GroupWriter`] is asked to write.
pub(super) enum WriteJob {
    State(StateWrite),
    Poll(PollWrite),
}

impl WriteJob {
    fn feed_id(&self) -> i64 {
        match self {
            WriteJob::State(j) => j.feed_id,
            WriteJob::Poll(j) => j.feed_id,
        }
    }
}

/// At most this many polls per group (a group of feed-row-only polls is one statement whose
/// JSON text stays well under SQLite's limits; a group of polls with posts is one transaction).
pub(super) const MAX_GROUP: usize = 256;

/// The group-commit task of the polls. It takes everything queued (up to [`MAX_GROUP`]), waits
/// for the store's write lock, takes what arrived meanwhile, and writes the group: the polls that
/// change only their feed's row with one statement, the polls with posts in one transaction (a
/// savepoint each, so one poll's failure is its own). Every poll is acknowledged after the commit
/// that holds it, so a crash loses at most polls whose `save_poll` had not returned yet, exactly
/// as with a transaction per poll; those feeds are simply polled again.
///
/// Why: a cold fetch is bound by SQLite's single writer, and a commit per feed wrote the index
/// pages every feed's inserts touch again and again (a 2000-feed cold fetch appended 900 MB to
/// the WAL for a 234 MB database). It ends when the store is dropped.
pub(super) struct GroupWriter {
    pub(super) writer: Arc<Mutex<Writer>>,
    pub(super) queue: mpsc::UnboundedReceiver<WriteJob>,
}

impl GroupWriter {
    pub(super) async fn run(mut self) {
        let mut jobs = Vec::with_capacity(MAX_GROUP);
        while self.queue.recv_many(&mut jobs, MAX_GROUP).await > 0 {
            let lock = Arc::clone(&self.writer);
            let mut writer = lock.lock().await;
            while jobs.len() < MAX_GROUP {
                match self.queue.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            write_jobs(&mut writer, &mut jobs).await;
        }
    }
}

/// Write `jobs` (and empty it), acknowledging each. A feed queued twice (not done by the
/// pipeline, which waits for its poll to be stored) is written in a later group, in order.
pub(super) async fn write_jobs(writer: &mut Writer, jobs: &mut Vec<WriteJob>) {
    while !jobs.is_empty() {
        let mut seen = HashSet::with_capacity(jobs.len());
        let mut states = Vec::new();
        let mut polls = Vec::new();
        let mut later = Vec::new();
        for job in jobs.drain(..) {
            if !seen.insert(job.feed_id()) {
                later.push(job);
                continue;
            }
            match job {
                WriteJob::State(j) => states.push(j),
                WriteJob::Poll(j) => polls.push(j),
            }
        }
        *jobs = later;
        if !states.is_empty() {
            write_states(writer, states).await;
        }
        if !polls.is_empty() {
            write_polls(writer, polls).await;
        }
    }
}

/// Feed-row-only polls (distinct feeds) with one statement.
pub(super) async fn write_states(writer: &mut Writer, group: Vec<StateWrite>) {
    let polls: Vec<(i64, &PollRecord)> = group.iter().map(|j| (j.feed_id, &j.poll)).collect();
    // One transaction: the rows and the health events they cause.
    let written = async {
        let mut tx = begin_immediate(writer.conn().await?).await?;
        update_feed_states(&mut tx, &polls).await?;
        tx.commit().await?;
        Ok::<(), StoreError>(())
    }
    .await;
    match written {
        Ok(()) => {
            for job in group {
                let _ = job.done.send(Ok(()));
            }
        }
        Err(e) => {
            // Nothing of the group was written (one statement): write each row on its own, so
            // each poll gets its own error, if any, on a fresh connection.
            tracing::warn!(
                "storing {} polls together failed, storing them one by one: {e}",
                group.len()
            );
            writer.conn = None;
            for job in group {
                let result = async {
                    let mut tx = begin_immediate(writer.conn().await?).await?;
                    q_update_feed_state(&mut tx, job.feed_id, &job.poll).await?;
                    tx.commit().await?;
                    Ok(())
                }
                .await;
                let result = writer.check(result);
                let _ = job.done.send(result);
            }
        }
    }
}

/// Polls with posts (distinct feeds) in one transaction, a savepoint each: a poll that fails is
/// rolled back alone and gets its error, the others are committed.
pub(super) async fn write_polls(writer: &mut Writer, group: Vec<PollWrite>) {
    let now = Utc::now();
    let written: Result<Vec<Result<Saved, StoreError>>, StoreError> = async {
        let mut tx = begin_immediate(writer.conn().await?).await?;
        let mut results = Vec::with_capacity(group.len());
        for job in &group {
            let mut savepoint = tx.begin().await?;
            let saved = save_poll_tx(&mut savepoint, job, now).await;
            match saved {
                Ok(saved) => {
                    savepoint.commit().await?;
                    results.push(Ok(saved));
                }
                Err(e) => {
                    savepoint.rollback().await?;
                    results.push(Err(e));
                }
            }
        }
        tx.commit().await?;
        Ok(results)
    }
    .await;
    match written {
        Ok(results) => {
            for (job, result) in group.into_iter().zip(results) {
                job.finish(result);
            }
        }
        Err(e) => {
            // The group's transaction failed as a whole (its commit, or a savepoint that could
            // not be rolled back): nothing of it was written. Write each poll in a transaction of
            // its own, so each gets its own result.
            tracing::warn!(
                "storing {} polls together failed, storing them one by one: {e}",
                group.len()
            );
            writer.conn = None;
            for job in group {
                let result = write_poll(writer, &job).await;
                job.finish(result);
            }
        }
    }
}

/// One poll with posts in a transaction of its own.
pub(super) async fn write_poll(writer: &mut Writer, job: &PollWrite) -> Result<Saved, StoreError> {
    let result = async {
        let mut tx = begin_immediate(writer.conn().await?).await?;
        let saved = save_poll_tx(&mut tx, job, Utc::now()).await?;
        tx.commit().await?;
        Ok(saved)
    }
    .await;
    writer.check(result)
}

/// A poll with posts inside the caller's transaction (or savepoint): its entries, then its
/// feed's row.
pub(super) async fn save_poll_tx(
    tx: &mut Tx<'_>,
    job: &PollWrite,
    now: DateTime<Utc>,
) -> Result<Saved, StoreError> {
    let saved = save_entries_tx(tx, job.feed_id, &job.posts, &job.skipped, now, job.keep).await?;
    q_update_feed_state(tx, job.feed_id, &job.poll).await?;
    Ok(saved)
}
