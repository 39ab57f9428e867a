//! [`record`]: a [`Polled`] stored. The next due time is decided here (the poll's facts and the
//! backoff policy), then one `save_poll`, then what follows a stored poll: the parsed entries
//! for `reprocess`, withdrawn removed posts, queued article pages, continuous publishing and
//! the poll's metrics.

use tracing::{info, warn};

use super::{articles, FeedReport, Polled};
use crate::app::App;
use crate::domain::FeedConfig;
use crate::policy::next_due;
use crate::store::{FeedRecord, Keep, Outcome, SaveReport, StoreError, StoredPost};

/// Store what `polled` produced for `record`'s feed and return the poll's report.
pub async fn record(
    app: &App,
    feed: &FeedConfig,
    record: &FeedRecord,
    polled: Polled,
) -> Result<FeedReport, StoreError> {
    let Polled {
        started,
        now,
        mut poll,
        mut facts,
        mut report,
        posts,
        skipped,
        removed,
        entries,
        articles,
        ..
    } = polled;
    facts.consecutive_failures = match poll.outcome {
        Outcome::Failed => u32::try_from(record.consecutive_failures)
            .unwrap_or(0)
            .saturating_add(1),
        _ => 0,
    };
    poll.next_due_at = match poll.outcome {
        // Due again at once (the next tick, the next `fetch`), or when the host's pause ends;
        // the stored due time before this poll is not pushed back.
        Outcome::Deferred => poll.retry_after.or(Some(now)),
        _ => Some(next_due(now, &facts, app.settings.schedule.max_backoff)),
    };

    // Continuous publishing exports what this poll stored, as the store hands it back; without
    // it the posts are dropped once stored.
    let keep = match app.settings.publish.dir {
        Some(_) => Keep::Posts,
        None => Keep::Counts,
    };
    let saved = app
        .store
        .save_poll(record.id, &poll, posts, skipped, keep)
        .await?;
    report.saved = SaveReport {
        unchanged: report.saved.unchanged + saved.report.unchanged,
        ..saved.report
    };
    // After the poll: a failure here loses only what `reprocess` could redo for these entries.
    if let Err(e) = app.store.save_parsed_entries(record.id, &entries).await {
        warn!("cannot store the parsed entries (reprocess will skip them): {e}");
    }
    drop(entries);
    if !removed.is_empty() {
        let withdrawn = app
            .store
            .save_entries(record.id, &[], &removed, true)
            .await?;
        report.saved.skipped += withdrawn.skipped;
    }
    if let Some((meta, plan)) = articles {
        articles::submit(app, feed, record.id, &meta, plan).await;
    }
    report.outcome = poll.outcome;
    report.http_status = poll.http_status;
    report.error = poll.error;
    report.elapsed = started.elapsed();
    if let Some(dir) = &app.settings.publish.dir {
        // Only continuous publishing reads it; a one-shot fetch of thousands of feeds would
        // otherwise hold every post's URL until the end.
        report.changed = saved
            .posts
            .iter()
            .map(|p| p.post.canonical_url.clone())
            .collect();
        if !saved.posts.is_empty() {
            publish_changed(app, dir, saved.posts).await;
        }
    }
    app.metrics.record_poll(&crate::metrics::PollSample {
        url: &report.url,
        outcome: report.outcome,
        posts_new: report.saved.new,
        posts_updated: report.saved.updated,
        bytes: report.bytes,
        elapsed: report.elapsed,
    });
    Ok(report)
}

/// Continuous publishing (`[publish] dir`): export the posts this poll created or updated (as
/// `save_poll` stored them: nothing is read back), with the same code as `feedsmith export`. A
/// publishing problem is logged, never fails the poll: the posts are stored and the next export
/// catches up.
async fn publish_changed(app: &App, dir: &std::path::Path, posts: Vec<StoredPost>) {
    let dir = dir.to_path_buf();
    let render = app.render.clone();
    let result = tokio::task::spawn_blocking(move || {
        crate::publish::export(
            &dir,
            &posts,
            &render,
            crate::publish::ExportOptions::default(),
        )
    })
    .await;
    match result {
        Ok(Ok(report)) => {
            info!(
                written = report.written,
                unchanged = report.unchanged,
                skipped = report.skipped,
                "published"
            );
            // `[publish] git`: the committer (run) or the end of fetch commits these files.
            app.git.mark(&report);
        }
        Ok(Err(e)) => warn!("publishing failed: {e}"),
        Err(e) => warn!("publishing task failed: {e}"),
    }
}
