//! The model step of one poll, as the pipeline, the article fetcher and `reprocess` call it
//! ([`enrich_posts`]): cached answers first, the client for the others, every accepted answer
//! applied, and the posts that fell back for a transient reason marked ([`PENDING_SUFFIX`]) so
//! that a later poll retries them.
//!
//! Apart from the client and the answer's checks because it is the one part that knows the
//! store (the `enrichments` cache) and the logging policy of a whole batch, and it never fails.

use std::collections::HashMap;

use tracing::{debug, info, warn};

use super::{apply, ModelAnswer, ModelClient, ModelError};
use crate::domain::{FeedConfig, Post};
use crate::store::Store;

/// Appended to the content hash of a post that fell back for a transient reason, so the next
/// poll normalizes it again and retries the model.
pub const PENDING_SUFFIX: &str = "+model-pending";

/// The model step of one poll: cached answers for the batch's posts (one query), model calls
/// for the others (bounded by the client's concurrency, awaited together), successes cached,
/// every answer applied. Posts that fall back keep their deterministic result; see the module
/// doc for the retry of transient failures. Never fails: a store error is logged and the posts
/// go on with what could be done.
pub async fn enrich_posts(
    store: &dyn Store,
    client: &ModelClient,
    feed: &FeedConfig,
    posts: &mut [Post],
    max_tags: usize,
) {
    if posts.is_empty() {
        return;
    }
    let s = client.settings();
    let hashes: Vec<String> = posts.iter().map(|p| p.content_hash.clone()).collect();
    let cached = match store.get_enrichments(&s.model, &hashes).await {
        Ok(c) => c,
        Err(e) => {
            warn!("model step: cannot read the cache: {e}");
            HashMap::new()
        }
    };
    let mut answers: Vec<Option<ModelAnswer>> = Vec::with_capacity(posts.len());
    let mut to_ask = Vec::new();
    for (i, post) in posts.iter().enumerate() {
        let hit = cached.get(&post.content_hash).and_then(|json| {
            serde_json::from_str::<ModelAnswer>(json)
                .map_err(|e| warn!(entry = %post.entry_key, "model step: ignoring a corrupt cached answer: {e}"))
                .ok()
        });
        if hit.is_none() {
            to_ask.push(i);
        }
        answers.push(hit);
    }
    let cached_n = posts.len() - to_ask.len();
    let calls = to_ask.iter().map(|&i| {
        let post = &posts[i];
        async move { (i, client.enrich(post).await) }
    });
    let results = futures_util::future::join_all(calls).await;
    let (mut asked, mut accepted) = (0usize, 0usize);
    let mut pending = Vec::new();
    for (i, result) in results {
        let post = &posts[i];
        match result {
            Ok(answer) => {
                asked += 1;
                accepted += 1;
                match serde_json::to_string(&answer) {
                    Ok(json) => {
                        if let Err(e) = store
                            .put_enrichment(&post.content_hash, &s.model, &json)
                            .await
                        {
                            warn!(entry = %post.entry_key, "model step: cannot cache the answer: {e}");
                        }
                    }
                    Err(e) => warn!("model step: cannot serialize the answer: {e}"),
                }
                answers[i] = Some(answer);
            }
            Err(e) => {
                if !matches!(e, ModelError::Budget(_) | ModelError::Paused(_)) {
                    asked += 1;
                }
                match &e {
                    // Logged once: the budget once a day by the client, the pause with the 429/503
                    // that started it; one line per post would be noise.
                    ModelError::Budget(_) | ModelError::Paused(_) => {
                        debug!(entry = %post.entry_key, "model step skipped: {e}")
                    }
                    _ => warn!(
                        entry = %post.entry_key,
                        url = %post.canonical_url,
                        "model step failed, keeping the deterministic result: {e}{}",
                        if e.is_transient() { " (retried on a later poll)" } else { "" }
                    ),
                }
                if e.is_transient() {
                    pending.push(i);
                }
            }
        }
    }
    for (post, answer) in posts.iter_mut().zip(&answers) {
        if let Some(answer) = answer {
            *post = apply(post, feed, answer, max_tags, s.max_input_chars);
        }
    }
    for i in pending {
        posts[i].content_hash.push_str(PENDING_SUFFIX);
    }
    if cached_n + asked > 0 {
        info!(
            posts = posts.len(),
            cached = cached_n,
            asked,
            accepted,
            "model step"
        );
    }
}
