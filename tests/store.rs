//! The storage contract, one suite run against both backends: a real SQLite file and a fresh
//! PostgreSQL database. Identity, idempotence, updates in place, one transaction per feed, leases.

use std::collections::HashSet;
use std::sync::Arc;

use crate::support::db::{self, TestStore};
use chrono::{TimeZone, Utc};
use feedsmith::domain::{FeedConfig, Post, SkippedEntry};
use feedsmith::store::{
    ArticleRecord, Claim, Keep, Lease, Outcome, PollRecord, PostFilter, SavedPoll, Store,
};

fn post(key: &str, url: &str, title: &str, hash: &str) -> Post {
    Post {
        entry_key: key.into(),
        title: title.into(),
        description: "d".into(),
        author: "a".into(),
        canonical_url: url.into(),
        viewing_mode: "external".into(),
        feed_name: "F".into(),
        feed_url: "https://example.org/feed".into(),
        collection: "blogs".into(),
        date: Utc.with_ymd_and_hms(2025, 8, 3, 22, 48, 15).unwrap(),
        slug: title.replace(' ', "-"),
        categories: vec![],
        tags: vec!["Blogs".into()],
        tags_normalized: vec!["blogs".into()],
        excerpt: "e".into(),
        content_markdown: format!("content {hash}"),
        youtube_id: None,
        reddit_segment: None,
        content_hash: hash.into(),
    }
}

async fn open(backend: &str) -> (TestStore, i64, i64) {
    let t = if backend == "postgres" {
        db::postgres()
            .await
            .expect("the postgres_backend tests check db::pg_admin_url first")
    } else {
        db::sqlite().await
    };
    let feeds = t
        .store
        .sync_feeds(&[
            FeedConfig::new("F", "https://example.org/feed", "blogs"),
            FeedConfig::new("G", "https://example.org/other", "blogs"),
        ])
        .await
        .unwrap();
    let (f, g) = (feeds[0].id, feeds[1].id);
    (t, f, g)
}

fn ok_poll() -> PollRecord {
    let mut p = PollRecord::new(Utc::now(), Outcome::Ok);
    p.etag = Some("\"v1\"".into());
    p.http_status = Some(200);
    p
}

async fn same_posts_twice_add_nothing_and_changes_update_in_place(backend: &str) {
    let (t, feed, _) = open(backend).await;
    let store = &t.store;
    let batch = vec![
        post("k1", "https://e.org/1", "One", "h1"),
        post("k2", "https://e.org/2", "Two", "h2"),
    ];
    let r = store
        .save_poll(feed, &ok_poll(), batch.clone(), vec![], Keep::Counts)
        .await
        .unwrap()
        .report;
    assert_eq!((r.new, r.updated, r.unchanged), (2, 0, 0));
    let r = store
        .save_poll(feed, &ok_poll(), batch.clone(), vec![], Keep::Counts)
        .await
        .unwrap()
        .report;
    assert_eq!((r.new, r.updated, r.unchanged), (0, 0, 2));

    let mut changed = batch.clone();
    changed[0] = post("k1", "https://e.org/1", "One renamed", "h1b");
    let r = store
        .save_poll(feed, &ok_poll(), changed.clone(), vec![], Keep::Counts)
        .await
        .unwrap()
        .report;
    assert_eq!((r.new, r.updated, r.unchanged), (0, 1, 1));
    let all = store.list_posts(&PostFilter::default()).await.unwrap();
    assert_eq!(all.len(), 2);
    let one = store.find_post("https://e.org/1").await.unwrap().unwrap();
    assert_eq!(one.post.title, "One renamed");
    assert_eq!(
        one.post.slug, "One",
        "the published path does not move on update"
    );
    assert_eq!(one.path, "_blogs/2025-08-03-One.md");
    let known = store.known_entries(feed).await.unwrap();
    assert_eq!(known.get("k1").map(String::as_str), Some("h1b"));
}

async fn canonical_url_is_unique_across_feeds_and_slugs_get_suffixes(backend: &str) {
    let (t, f, g) = open(backend).await;
    let store = &t.store;
    store
        .save_poll(
            f,
            &ok_poll(),
            vec![post("k1", "https://e.org/same", "Same Title", "h")],
            vec![],
            Keep::Counts,
        )
        .await
        .unwrap();
    let r = store
        .save_poll(
            g,
            &ok_poll(),
            vec![
                post("other-key", "https://e.org/same", "Same Title", "h"),
                post("k3", "https://e.org/3", "Same Title", "h3"),
            ],
            vec![],
            Keep::Counts,
        )
        .await
        .unwrap()
        .report;
    assert_eq!((r.new, r.duplicates), (1, 1));
    let paths: Vec<String> = store
        .list_posts(&PostFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.path)
        .collect();
    assert!(
        paths.contains(&"_blogs/2025-08-03-Same-Title.md".to_string()),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"_blogs/2025-08-03-Same-Title-2.md".to_string()),
        "{paths:?}"
    );
    // The duplicate is remembered so it is not normalized again on the next poll.
    assert!(store
        .known_entries(g)
        .await
        .unwrap()
        .contains_key("other-key"));
}

async fn reddit_cross_posts_keep_the_first(backend: &str) {
    let (t, f, g) = open(backend).await;
    let store = &t.store;
    let mut a = post(
        "t3_a",
        "https://www.reddit.com/r/devops/comments/a/my_title/",
        "My title",
        "h",
    );
    a.collection = "community".into();
    a.reddit_segment = Some("my_title".into());
    let mut b = post(
        "t3_b",
        "https://www.reddit.com/r/azure/comments/b/my_title/",
        "My title",
        "h",
    );
    b.collection = "community".into();
    b.reddit_segment = Some("my_title".into());
    store
        .save_poll(f, &ok_poll(), vec![a], vec![], Keep::Counts)
        .await
        .unwrap();
    let r = store
        .save_poll(g, &ok_poll(), vec![b], vec![], Keep::Counts)
        .await
        .unwrap()
        .report;
    assert_eq!((r.new, r.duplicates), (0, 1));
}

async fn a_failure_half_way_stores_nothing_of_that_feed(backend: &str) {
    let (t, feed, other) = open(backend).await;
    let store = &t.store;
    store
        .save_poll(
            other,
            &ok_poll(),
            vec![post("o1", "https://e.org/o1", "Other", "h")],
            vec![],
            Keep::Counts,
        )
        .await
        .unwrap();
    store
        .save_poll(
            feed,
            &ok_poll(),
            vec![post("k0", "https://e.org/0", "Before", "h")],
            vec![],
            Keep::Counts,
        )
        .await
        .unwrap();
    // A real database failure in the middle of the batch: the second insert aborts.
    t.fail_inserts_titled_boom().await;
    let mut poll = ok_poll();
    poll.etag = Some("\"v2\"".into());
    let batch = vec![
        post("k1", "https://e.org/1", "Fine", "h1"),
        post("k2", "https://e.org/2", "boom", "h2"),
    ];
    let skipped = vec![SkippedEntry {
        entry_key: "s".into(),
        content_hash: "x".into(),
        reason: "short".into(),
    }];
    assert!(store
        .save_poll(feed, &poll, batch.clone(), skipped.clone(), Keep::Counts)
        .await
        .is_err());

    let titles: Vec<String> = store
        .list_posts(&PostFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.post.title)
        .collect();
    assert_eq!(titles.len(), 2, "{titles:?}");
    assert!(titles.contains(&"Before".to_string()) && titles.contains(&"Other".to_string()));
    let feeds = store.list_feeds().await.unwrap();
    let f = feeds.iter().find(|f| f.id == feed).unwrap();
    assert_eq!(
        f.etag.as_deref(),
        Some("\"v1\""),
        "the feed's state is not advanced either"
    );
    assert!(!store.known_entries(feed).await.unwrap().contains_key("s"));
}

async fn failures_count_up_keep_validators_and_reset_on_success(backend: &str) {
    let (t, feed, _) = open(backend).await;
    let store = &t.store;
    store
        .save_poll(feed, &ok_poll(), vec![], vec![], Keep::Counts)
        .await
        .unwrap();
    let mut failed = PollRecord::new(Utc::now(), Outcome::Failed);
    failed.http_status = Some(503);
    failed.error = Some("HTTP 503".into());
    failed.retry_after = Some(Utc::now() + chrono::Duration::seconds(120));
    store
        .save_poll(feed, &failed, vec![], vec![], Keep::Counts)
        .await
        .unwrap();
    store
        .save_poll(feed, &failed, vec![], vec![], Keep::Counts)
        .await
        .unwrap();
    let f = store
        .list_feeds()
        .await
        .unwrap()
        .into_iter()
        .find(|f| f.id == feed)
        .unwrap();
    assert_eq!(f.consecutive_failures, 2);
    assert_eq!(f.etag.as_deref(), Some("\"v1\""));
    assert_eq!(f.last_status, Some(503));
    assert!(f.retry_after.is_some());
    assert_eq!(f.last_outcome, Some(Outcome::Failed));

    let mut not_modified = PollRecord::new(Utc::now(), Outcome::NotModified);
    not_modified.http_status = Some(304);
    store
        .save_poll(feed, &not_modified, vec![], vec![], Keep::Counts)
        .await
        .unwrap();
    let f = store
        .list_feeds()
        .await
        .unwrap()
        .into_iter()
        .find(|f| f.id == feed)
        .unwrap();
    assert_eq!(f.consecutive_failures, 0);
    assert_eq!(
        f.etag.as_deref(),
        Some("\"v1\""),
        "a 304 keeps the validators"
    );
    assert!(f.retry_after.is_none() && f.last_error.is_none());
}

/// A claim as the scheduler makes it: not polled since `tick_at`, due by `due_by`.
fn claim<'a>(
    urls: &'a [String],
    owner: &'a str,
    tick_at: chrono::DateTime<Utc>,
    due_by: chrono::DateTime<Utc>,
    until: chrono::DateTime<Utc>,
) -> Claim<'a> {
    Claim {
        urls,
        tick_at,
        due_by,
        lease: Lease { owner, until },
    }
}

async fn leases_are_exclusive_expire_and_cover_one_cycle(backend: &str) {
    let (t, f, g) = open(backend).await;
    let store = &t.store;
    let urls = vec!["https://example.org/feed".to_string()];
    let now = Utc::now();
    let soon = now + chrono::Duration::seconds(60);
    let claimed = store
        .claim_due(&claim(&urls, "A", now, now, soon))
        .await
        .unwrap();
    assert_eq!(claimed.iter().map(|r| r.id).collect::<Vec<_>>(), vec![f]);
    assert!(
        store
            .claim_due(&claim(&urls, "B", now, now, soon))
            .await
            .unwrap()
            .is_empty(),
        "leased by A"
    );
    assert!(!store
        .renew_lease(
            f,
            Lease {
                owner: "B",
                until: soon
            }
        )
        .await
        .unwrap());
    assert!(store
        .renew_lease(
            f,
            Lease {
                owner: "A",
                until: soon
            }
        )
        .await
        .unwrap());

    // The poll's result releases the lease; the feed was polled in this cycle.
    let mut poll = ok_poll();
    poll.polled_at = now;
    store
        .save_poll(f, &poll, vec![], vec![], Keep::Counts)
        .await
        .unwrap();
    assert!(
        store
            .claim_due(&claim(&urls, "B", now, now, soon))
            .await
            .unwrap()
            .is_empty(),
        "already polled since this tick"
    );
    let next_tick = now + chrono::Duration::seconds(2);
    assert_eq!(
        store
            .claim_due(&claim(&urls, "B", next_tick, next_tick, soon))
            .await
            .unwrap()
            .len(),
        1,
        "due in the next cycle"
    );

    // A dead owner's lease expires and another takes the feed over.
    let other = vec!["https://example.org/other".to_string()];
    let short = Utc::now() + chrono::Duration::seconds(1);
    assert_eq!(
        store
            .claim_due(&claim(&other, "dead", now, now, short))
            .await
            .unwrap()[0]
            .id,
        g
    );
    assert!(store
        .claim_due(&claim(&other, "B", now, now, soon))
        .await
        .unwrap()
        .is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(
        store
            .claim_due(&claim(&other, "B", now, now, soon))
            .await
            .unwrap()
            .len(),
        1,
        "taken over after expiry"
    );
}

async fn concurrent_claims_never_claim_twice(backend: &str) {
    let (t, _, _) = open(backend).await;
    let feeds: Vec<FeedConfig> = (0..500)
        .map(|i| {
            FeedConfig::new(
                format!("F{i}"),
                format!("https://example.org/{i}.xml"),
                "blogs",
            )
        })
        .collect();
    t.store.sync_feeds(&feeds).await.unwrap();
    let urls: Vec<String> = feeds.iter().map(|f| f.url.clone()).collect();
    let now = Utc::now();
    let until = now + chrono::Duration::seconds(120);
    let mut tasks = Vec::new();
    for owner in 0..8 {
        let store = t.store.clone();
        let urls = urls.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            // Claim in small interleaved batches, as replicas' per-feed claims do.
            for chunk in urls.chunks(25) {
                mine.extend(
                    store
                        .claim_due(&claim(chunk, &format!("owner{owner}"), now, now, until))
                        .await
                        .unwrap()
                        .into_iter()
                        .map(|r| r.id),
                );
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let unique: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), unique.len(), "a feed was claimed twice");
    assert_eq!(unique.len(), 500, "every due feed was claimed once");
}

fn article(url: &str, status: &str, failures: i64) -> ArticleRecord {
    ArticleRecord {
        url: url.into(),
        status: feedsmith::store::ArticleStatus::parse(status).unwrap(),
        extractor: "readability".into(),
        content_html: (status == "ok").then(|| format!("<p>article at {url}</p>")),
        etag: Some("\"a1\"".into()),
        last_modified: None,
        http_status: Some(if status == "ok" { 200 } else { 404 }),
        error: (status != "ok").then(|| "HTTP 404".to_string()),
        failures,
        fetched_at: Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap(),
        next_attempt_at: (status == "failed")
            .then(|| Utc.with_ymd_and_hms(2026, 11, 29, 12, 10, 0).unwrap()),
    }
}

async fn articles_are_cached_by_url_and_replaced_in_place(backend: &str) {
    let (t, _, _) = open(backend).await;
    let store = &t.store;
    let urls = vec!["https://e.org/a".to_string(), "https://e.org/b".to_string()];
    assert!(store.get_articles(&urls).await.unwrap().is_empty());
    store
        .put_article(&article("https://e.org/a", "failed", 1))
        .await
        .unwrap();
    store
        .put_article(&article("https://e.org/b", "ok", 0))
        .await
        .unwrap();
    let got = store.get_articles(&urls).await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got["https://e.org/a"],
        article("https://e.org/a", "failed", 1)
    );
    assert_eq!(got["https://e.org/b"], article("https://e.org/b", "ok", 0));
    // A retry that succeeds replaces the failure, keyed by URL.
    store
        .put_article(&article("https://e.org/a", "ok", 0))
        .await
        .unwrap();
    let got = store.get_articles(&urls[..1]).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got["https://e.org/a"].status.as_str(), "ok");
    assert_eq!(got["https://e.org/a"].failures, 0);
    assert!(store.get_articles(&[]).await.unwrap().is_empty());
}

async fn enrichments_are_cached_by_content_hash_and_model(backend: &str) {
    let (t, _, _) = open(backend).await;
    let store = &t.store;
    let hashes = vec!["h1".to_string(), "h2".to_string(), "h3".to_string()];
    assert!(store
        .get_enrichments("m", &hashes)
        .await
        .unwrap()
        .is_empty());
    store.put_enrichment("h1", "m", "{\"a\":1}").await.unwrap();
    store.put_enrichment("h2", "m", "{\"b\":2}").await.unwrap();
    store
        .put_enrichment("h1", "other", "{\"o\":1}")
        .await
        .unwrap();
    let got = store.get_enrichments("m", &hashes).await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got["h1"], "{\"a\":1}");
    assert_eq!(got["h2"], "{\"b\":2}");
    // Keyed by hash and model: another model's answer is its own, a new answer replaces.
    store.put_enrichment("h1", "m", "{\"a\":2}").await.unwrap();
    let got = store.get_enrichments("m", &hashes[..1]).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got["h1"], "{\"a\":2}");
    let got = store.get_enrichments("other", &hashes).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got["h1"], "{\"o\":1}");
    assert!(store.get_enrichments("m", &[]).await.unwrap().is_empty());
}

async fn save_entries_publishes_held_back_entries_and_withdraws_removed_posts(backend: &str) {
    let (t, feed, _) = open(backend).await;
    let store = &t.store;
    let held = SkippedEntry {
        entry_key: "k1".into(),
        content_hash: "h1".into(),
        reason: "too short".into(),
    };
    store
        .save_poll(
            feed,
            &ok_poll(),
            vec![post("k2", "https://e.org/2", "Two", "h2")],
            vec![held],
            Keep::Counts,
        )
        .await
        .unwrap();
    let polled = store.list_feeds().await.unwrap()[0].last_polled_at;
    // The article arrives: the held-back entry becomes a post, the feed's poll state is untouched.
    let r = store
        .save_entries(
            feed,
            &[post("k1", "https://e.org/1", "One", "h1a")],
            &[],
            false,
        )
        .await
        .unwrap();
    assert_eq!((r.new, r.updated), (1, 0));
    let known = store.known_entries(feed).await.unwrap();
    assert_eq!(known.get("k1").map(String::as_str), Some("h1a"));
    assert_eq!(store.list_feeds().await.unwrap()[0].last_polled_at, polled);
    // Reddit reports k2 removed: the post goes, the entry is remembered as skipped.
    let removed = SkippedEntry {
        entry_key: "k2".into(),
        content_hash: "h2".into(),
        reason: "removed on Reddit".into(),
    };
    let r = store
        .save_entries(feed, &[], &[removed], true)
        .await
        .unwrap();
    assert_eq!(r.skipped, 1);
    assert!(store.find_post("https://e.org/2").await.unwrap().is_none());
    assert!(store.find_post("https://e.org/1").await.unwrap().is_some());
    let known = store.known_entries(feed).await.unwrap();
    assert_eq!(known.get("k2").map(String::as_str), Some("h2"));
}

/// Feed `g` stores `https://e.org/taken-url` (post g1) and the path of the title "Clash"
/// (post g2), for the duplicate and the slug suffix of another feed's poll.
async fn other_feed_holds_a_url_and_a_path(
    store: &Arc<dyn Store>,
    g: i64,
    keep: Keep,
) -> SavedPoll {
    let batch = vec![
        post("g1", "https://e.org/taken-url", "Other Feed", "h"),
        post("g2", "https://e.org/g2", "Clash", "h"),
    ];
    store
        .save_poll(g, &ok_poll(), batch, vec![], keep)
        .await
        .unwrap()
}

/// A big poll (more posts than one multi-row insert takes) mixing new posts, a stored post
/// that changed, a duplicate URL, a path clash and an entry held back before: every post ends
/// where one-by-one saving would put it.
async fn large_polls_store_every_post_as_one_by_one_would(backend: &str) {
    let (t, f, g) = open(backend).await;
    let store = &t.store;
    other_feed_holds_a_url_and_a_path(store, g, Keep::Counts).await;
    let held = SkippedEntry {
        entry_key: "k7".into(),
        content_hash: "old".into(),
        reason: "too short".into(),
    };
    store
        .save_poll(
            f,
            &ok_poll(),
            vec![post("k3", "https://e.org/3", "Post 3", "h3")],
            vec![held],
            Keep::Counts,
        )
        .await
        .unwrap();
    let mut batch: Vec<Post> = (0..95)
        .map(|i| {
            post(
                &format!("k{i}"),
                &format!("https://e.org/{i}"),
                &format!("Post {i}"),
                "h",
            )
        })
        .collect();
    batch[3] = post("k3", "https://e.org/3", "Post 3", "h3-changed");
    batch[50] = post("k50", "https://e.org/taken-url", "Post 50", "h");
    batch[60] = post("k60", "https://e.org/60", "Clash", "h");
    let r = store
        .save_poll(f, &ok_poll(), batch.clone(), vec![], Keep::Counts)
        .await
        .unwrap()
        .report;
    assert_eq!(
        (r.new, r.updated, r.unchanged, r.duplicates),
        (93, 1, 0, 1),
        "{r:?}"
    );
    let all = store.list_posts(&PostFilter::default()).await.unwrap();
    assert_eq!(all.len(), 2 + 1 + 93);
    let clash = store.find_post("https://e.org/60").await.unwrap().unwrap();
    assert_eq!(clash.path, "_blogs/2025-08-03-Clash-2.md");
    let p7 = store.find_post("https://e.org/7").await.unwrap().unwrap();
    assert_eq!(p7.path, "_blogs/2025-08-03-Post-7.md");
    assert_eq!(p7.post.content_markdown, "content h");
    let p3 = store.find_post("https://e.org/3").await.unwrap().unwrap();
    assert_eq!(p3.post.content_markdown, "content h3-changed");
    let taken = store
        .find_post("https://e.org/taken-url")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.post.entry_key, "g1", "the first feed keeps its post");
    let known = store.known_entries(f).await.unwrap();
    assert_eq!(known.len(), 95, "every entry is known (k50 as a duplicate)");
    assert_eq!(
        known.get("k7").map(String::as_str),
        Some("h"),
        "k7 is published now"
    );
    // Saving the same poll again changes nothing.
    let r = store
        .save_poll(f, &ok_poll(), batch.clone(), vec![], Keep::Counts)
        .await
        .unwrap()
        .report;
    assert_eq!((r.new, r.updated, r.unchanged), (0, 0, 94), "{r:?}");
}

/// `sync_feeds` at a steady-state start (no configuration changed) reads every record at once
/// (SQLite: as one JSON document); the records must be those `list_feeds` reads row by row, in
/// the configuration's order, and a changed configuration must still be written.
async fn a_steady_state_start_reads_the_records_list_feeds_reads(backend: &str) {
    let (t, f, g) = open(backend).await;
    let store = &t.store;
    let t0 = Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap();
    let mut ok = PollRecord::new(t0, Outcome::Ok);
    ok.http_status = Some(200);
    ok.etag = Some("W/\"v\\1\" é".into());
    ok.last_modified = Some("Sun, 29 Nov 2026 11:00:00 GMT".into());
    ok.ttl_minutes = Some(45);
    ok.fetch_url = Some("https://example.org/moved".into());
    ok.next_due_at = Some(t0 + chrono::Duration::minutes(45));
    store
        .save_poll(
            f,
            &ok,
            vec![post("k1", "https://e.org/1", "One", "h1")],
            vec![],
            Keep::Counts,
        )
        .await
        .unwrap();
    let mut failed = PollRecord::new(t0, Outcome::Failed);
    failed.http_status = Some(503);
    failed.error = Some("HTTP 503\nline two \"quoted\"".into());
    failed.retry_after = Some(t0 + chrono::Duration::seconds(90));
    store
        .save_poll(g, &failed, vec![], vec![], Keep::Counts)
        .await
        .unwrap();

    let configs = [
        FeedConfig::new("G", "https://example.org/other", "blogs"),
        FeedConfig::new("F", "https://example.org/feed", "blogs"),
    ];
    let synced = store.sync_feeds(&configs).await.unwrap();
    let listed = store.list_feeds().await.unwrap();
    let by_id = |id: i64| listed.iter().find(|r| r.id == id).unwrap().clone();
    assert_eq!(synced, vec![by_id(g), by_id(f)]);
    assert_eq!(synced[1].post_count, 1);
    assert_eq!(synced[1].etag, ok.etag);
    assert_eq!(synced[1].ttl_minutes, Some(45));
    assert_eq!(synced[0].last_error, failed.error);
    assert_eq!(synced[0].retry_after, failed.retry_after);
    assert_eq!(synced[0].consecutive_failures, 1);

    // A changed configuration is still stored: the name, and a new feed.
    let changed = [
        FeedConfig::new("G renamed", "https://example.org/other", "blogs"),
        FeedConfig::new("H", "https://example.org/third", "blogs"),
    ];
    let synced = store.sync_feeds(&changed).await.unwrap();
    assert_eq!(synced[0].id, g);
    assert_eq!(synced[0].name, "G renamed");
    assert_eq!(synced[1].name, "H");
    assert_eq!(store.list_feeds().await.unwrap().len(), 3);
    let again = store.sync_feeds(&changed).await.unwrap();
    assert_eq!(again, synced);
}

/// `feeds_by_url` (`fetch` reads a batch's records when it claims it) gives the stored feeds
/// among the URLs, as `list_feeds` reads them, and leaves out a URL that is not stored.
async fn feeds_by_url_reads_the_asked_feeds_as_list_feeds_does(backend: &str) {
    let (t, f, _) = open(backend).await;
    let store = &t.store;
    let t0 = Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap();
    let mut gone = PollRecord::new(t0, Outcome::Failed);
    gone.gone = true;
    store
        .save_poll(f, &gone, vec![], vec![], Keep::Counts)
        .await
        .unwrap();
    let all = store.list_feeds().await.unwrap();
    let asked = [
        "https://example.org/feed".to_string(),
        "https://example.org/never-stored".to_string(),
    ];
    let got = store.feeds_by_url(&asked).await.unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(&got[0], all.iter().find(|r| r.id == f).unwrap());
    assert!(got[0].gone);
    assert!(store.feeds_by_url(&[]).await.unwrap().is_empty());
}

/// `register_feeds` (the daemon's start) stores what `sync_feeds` would: new feeds, a changed
/// configuration (due at once, no longer gone), nothing when nothing changed, and it keeps a
/// feed's poll state.
async fn register_feeds_stores_what_sync_feeds_would(backend: &str) {
    let (t, f, _) = open(backend).await;
    let store = &t.store;
    let t0 = Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap();
    let mut gone = PollRecord::new(t0, Outcome::Failed);
    gone.gone = true;
    gone.next_due_at = Some(t0 + chrono::Duration::hours(6));
    store
        .save_poll(f, &gone, vec![], vec![], Keep::Counts)
        .await
        .unwrap();
    let before = store.list_feeds().await.unwrap();

    // The same configuration as `open` synced: nothing changes.
    let same = [
        FeedConfig::new("F", "https://example.org/feed", "blogs"),
        FeedConfig::new("G", "https://example.org/other", "blogs"),
    ];
    store.register_feeds(&same).await.unwrap();
    assert_eq!(store.list_feeds().await.unwrap(), before);

    // A renamed feed and a new one: stored as sync_feeds stores them.
    let changed = [
        FeedConfig::new("F renamed", "https://example.org/feed", "blogs"),
        FeedConfig::new("G", "https://example.org/other", "blogs"),
        FeedConfig::new("H", "https://example.org/third", "videos"),
    ];
    store.register_feeds(&changed).await.unwrap();
    let after = store.list_feeds().await.unwrap();
    assert_eq!(after.len(), 3);
    let feed = after.iter().find(|r| r.id == f).unwrap();
    assert_eq!(feed.name, "F renamed");
    assert!(!feed.gone, "a changed configuration gets another chance");
    assert_eq!(feed.next_due_at, None, "and is due at once");
    let third = after.iter().find(|r| r.name == "H").unwrap();
    assert_eq!(third.collection, "videos");
    assert_eq!(store.sync_feeds(&changed).await.unwrap().len(), 3);
    assert_eq!(
        store.list_feeds().await.unwrap(),
        after,
        "sync_feeds agrees"
    );
}

/// Another connection to a test database.
enum Reader {
    Pg(sqlx::PgPool),
    Sqlite(sqlx::SqlitePool),
}

impl Reader {
    /// The one value `sql` selects for `id` (its one parameter, `$1`, which SQLite reads too),
    /// read on this reader's own connection.
    async fn scalar<T>(&self, sql: &str, id: i64) -> T
    where
        T: Send
            + Unpin
            + for<'r> sqlx::Decode<'r, sqlx::Postgres>
            + sqlx::Type<sqlx::Postgres>
            + for<'r> sqlx::Decode<'r, sqlx::Sqlite>
            + sqlx::Type<sqlx::Sqlite>,
    {
        match self {
            Reader::Pg(pool) => sqlx::query_scalar(sql).bind(id).fetch_one(pool).await,
            Reader::Sqlite(pool) => sqlx::query_scalar(sql).bind(id).fetch_one(pool).await,
        }
        .unwrap()
    }

    async fn last_outcome(&self, feed_id: i64) -> Option<String> {
        self.scalar("SELECT last_outcome FROM feeds WHERE id = $1", feed_id)
            .await
    }

    async fn post_count(&self, feed_id: i64) -> i64 {
        self.scalar("SELECT count(*) FROM posts WHERE feed_id = $1", feed_id)
            .await
    }
}

async fn reader(t: &TestStore, backend: &str) -> std::sync::Arc<Reader> {
    std::sync::Arc::new(if backend == "postgres" {
        Reader::Pg(sqlx::PgPool::connect(&t.url).await.unwrap())
    } else {
        Reader::Sqlite(sqlx::SqlitePool::connect(&t.url).await.unwrap())
    })
}

/// The SQLite store group-commits polls with posts too (one transaction, a savepoint per poll).
/// Many concurrent polls, some failing half-way (a database error after 40 of their posts), some
/// sharing a canonical URL: each failing poll gets its error and stores nothing, not even its
/// feed's state; every other poll is stored whole and committed (visible to another connection)
/// when its `save_poll` returns; the shared URL is stored once, the others count a duplicate.
async fn concurrent_polls_with_posts_commit_alone_or_fail_alone(backend: &str) {
    let (t, _, _) = open(backend).await;
    t.fail_inserts_titled_boom().await;
    let feeds: Vec<FeedConfig> = (0..120)
        .map(|i| {
            FeedConfig::new(
                format!("P{i}"),
                format!("https://example.org/p{i}.xml"),
                "blogs",
            )
        })
        .collect();
    let records = t.store.sync_feeds(&feeds).await.unwrap();
    let reader = reader(&t, backend).await;
    let fails = |i: usize| i % 7 == 3;
    let shares = move |i: usize| i % 10 == 0 && !fails(i);
    let mut tasks = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let store = t.store.clone();
        let reader = reader.clone();
        let id = r.id;
        tasks.push(tokio::spawn(async move {
            // A failing poll fails in its second statement of inserts (runs of at most 40), after
            // the first has written its rows.
            let n = if fails(i) { 45 } else { 3 };
            let mut posts: Vec<_> = (0..n)
                .map(|j| {
                    post(
                        &format!("k{i}-{j}"),
                        &format!("https://e.org/{i}/{j}"),
                        &format!("T{i} {j}"),
                        "h",
                    )
                })
                .collect();
            if fails(i) {
                posts[42].title = "boom".into();
            }
            if shares(i) {
                posts.push(post(
                    &format!("shared-{i}"),
                    "https://e.org/shared",
                    &format!("Shared {i}"),
                    "h",
                ));
            }
            let skipped = vec![SkippedEntry {
                entry_key: format!("short-{i}"),
                content_hash: "x".into(),
                reason: "short".into(),
            }];
            let mut poll = ok_poll();
            poll.etag = Some(format!("\"p{i}\""));
            let saved = store
                .save_poll(id, &poll, posts.clone(), skipped.clone(), Keep::Counts)
                .await;
            if fails(i) {
                assert!(saved.is_err(), "poll {i} must fail: {saved:?}");
                assert_eq!(reader.post_count(id).await, 0, "poll {i}");
                None
            } else {
                let report = saved.unwrap().report;
                assert_eq!(reader.post_count(id).await as usize, report.new, "poll {i}");
                assert_eq!(report.skipped, 1, "poll {i}");
                Some(report)
            }
        }));
    }
    let mut new = 0;
    let mut duplicates = 0;
    for task in tasks {
        if let Some(report) = task.await.unwrap() {
            new += report.new;
            duplicates += report.duplicates;
        }
    }
    let ok = (0..120).filter(|&i| !fails(i)).count();
    let sharing = (0..120).filter(|&i| shares(i)).count();
    assert_eq!(new, ok * 3 + 1);
    assert_eq!(duplicates, sharing - 1);
    let stored = t.store.list_posts(&PostFilter::default()).await.unwrap();
    assert_eq!(stored.len(), new);
    let states = t.store.list_feeds().await.unwrap();
    for (i, r) in records.iter().enumerate() {
        let f = states.iter().find(|f| f.id == r.id).unwrap();
        let known = t.store.known_entries(r.id).await.unwrap();
        if fails(i) {
            assert_eq!(f.etag, None, "feed {i}: a failed poll advances nothing");
            assert!(f.last_polled_at.is_none(), "feed {i}");
            assert!(known.is_empty(), "feed {i}: {known:?}");
        } else {
            assert_eq!(f.etag, Some(format!("\"p{i}\"")), "feed {i}");
            assert!(known.contains_key(&format!("short-{i}")), "feed {i}");
            assert!(known.contains_key(&format!("k{i}-2")), "feed {i}");
        }
    }
}

/// The SQLite store group-commits polls that change only the feed's row; both backends must
/// leave every row exactly as storing the polls one by one would, and a poll must be committed
/// (visible to another connection, so a crash after `save_poll` returned cannot lose it) as soon
/// as its `save_poll` returns.
async fn concurrent_state_only_polls_each_store_their_own_row(backend: &str) {
    let (t, _, _) = open(backend).await;
    let feeds: Vec<FeedConfig> = (0..300)
        .map(|i| {
            FeedConfig::new(
                format!("S{i}"),
                format!("https://example.org/s{i}.xml"),
                "blogs",
            )
        })
        .collect();
    let records = t.store.sync_feeds(&feeds).await.unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap();
    let t1 = t0 + chrono::Duration::minutes(1);
    for r in &records {
        let mut p = PollRecord::new(t0, Outcome::Ok);
        p.http_status = Some(200);
        p.etag = Some(format!("\"e{}\"", r.id));
        p.last_modified = Some("Sun, 29 Nov 2026 11:00:00 GMT".into());
        p.ttl_minutes = Some(60);
        t.store
            .save_poll(r.id, &p, vec![], vec![], Keep::Counts)
            .await
            .unwrap();
    }
    // Five kinds of row-only polls: 304 without and with new validators (and a permanent
    // redirect), a 503 with Retry-After, a 200 whose document yielded nothing new and that
    // sent no validators, a 410.
    let poll = move |kind: i64, id: i64| -> PollRecord {
        let outcome = match kind {
            0 | 1 => Outcome::NotModified,
            3 => Outcome::Ok,
            _ => Outcome::Failed,
        };
        let mut p = PollRecord::new(t1, outcome);
        p.next_due_at = Some(t1 + chrono::Duration::minutes(30 + kind));
        match kind {
            0 => p.http_status = Some(304),
            1 => {
                p.http_status = Some(304);
                p.etag = Some(format!("\"n{id}\""));
                p.fetch_url = Some(format!("https://example.org/moved/{id}.xml"));
            }
            2 => {
                p.http_status = Some(503);
                p.error = Some(format!("HTTP 503 for {id}"));
                p.retry_after = Some(t1 + chrono::Duration::minutes(2));
            }
            3 => p.http_status = Some(200),
            _ => {
                p.http_status = Some(410);
                p.error = Some("HTTP 410 Gone".into());
                p.gone = true;
            }
        }
        p
    };
    // A connection of its own, to see what is committed.
    let reader = reader(&t, backend).await;
    let mut tasks = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let store = t.store.clone();
        let reader = reader.clone();
        let (id, p) = (r.id, poll(i as i64 % 5, r.id));
        tasks.push(tokio::spawn(async move {
            store
                .save_poll(id, &p, vec![], vec![], Keep::Counts)
                .await
                .unwrap();
            assert_eq!(
                reader.last_outcome(id).await.as_deref(),
                Some(p.outcome.as_str()),
                "committed when save_poll returns"
            );
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    // The failing feeds fail once more, concurrently: their failures count up by one each.
    let mut tasks = Vec::new();
    for (i, r) in records.iter().enumerate() {
        if i % 5 == 2 {
            let store = t.store.clone();
            let (id, p) = (r.id, poll(2, r.id));
            tasks.push(tokio::spawn(async move {
                store
                    .save_poll(id, &p, vec![], vec![], Keep::Counts)
                    .await
                    .unwrap()
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }

    let stored = t.store.list_feeds().await.unwrap();
    for (i, r) in records.iter().enumerate() {
        let kind = i as i64 % 5;
        let f = stored.iter().find(|f| f.id == r.id).unwrap();
        let etag = format!("\"e{}\"", r.id);
        let lm = "Sun, 29 Nov 2026 11:00:00 GMT";
        let (want_etag, want_lm) = match kind {
            0 | 2 | 4 => (Some(etag), Some(lm)),
            1 => (Some(format!("\"n{}\"", r.id)), Some(lm)),
            _ => (None, None),
        };
        let ctx = format!("feed {} (kind {kind})", r.id);
        assert_eq!(f.etag, want_etag, "{ctx}");
        assert_eq!(f.last_modified.as_deref(), want_lm, "{ctx}");
        assert_eq!(f.last_polled_at, Some(t1), "{ctx}");
        let success = matches!(kind, 0 | 1 | 3);
        assert_eq!(
            f.last_success_at,
            Some(if success { t1 } else { t0 }),
            "{ctx}"
        );
        let want_status = [304, 304, 503, 200, 410][kind as usize];
        assert_eq!(f.last_status, Some(want_status), "{ctx}");
        let want_outcome = ["not_modified", "not_modified", "failed", "ok", "failed"];
        assert_eq!(
            f.last_outcome.map(Outcome::as_str),
            Some(want_outcome[kind as usize]),
            "{ctx}"
        );
        assert_eq!(f.last_error.is_some(), !success, "{ctx}");
        let want_failures = [0, 0, 2, 0, 1][kind as usize];
        assert_eq!(f.consecutive_failures, want_failures, "{ctx}");
        assert_eq!(
            f.retry_after,
            (kind == 2).then(|| t1 + chrono::Duration::minutes(2)),
            "{ctx}"
        );
        assert_eq!(f.gone, kind == 4, "{ctx}");
        assert_eq!(
            f.fetch_url,
            (kind == 1).then(|| format!("https://example.org/moved/{}.xml", r.id)),
            "{ctx}"
        );
        assert_eq!(
            f.ttl_minutes,
            Some(60),
            "{ctx}: no TTL in the poll keeps the stored one"
        );
        assert_eq!(
            f.next_due_at,
            Some(t1 + chrono::Duration::minutes(30 + kind)),
            "{ctx}"
        );
    }
}

/// `save_poll` with `Keep::Posts` hands back the posts it created or updated, in the poll's
/// order, exactly as `find_post` reads them afterwards: through a multi-row insert and one by
/// one, with a slug suffix, an update that keeps the first slug, date and path, a link moved
/// onto another post's URL (the post keeps its own), a Reddit post checked for cross-posts, and
/// times finer than PostgreSQL keeps. Duplicates and unchanged posts are not handed back.
async fn saved_posts_are_what_find_post_reads(backend: &str) {
    let (t, f, g) = open(backend).await;
    let store = &t.store;
    let check = |saved: Vec<feedsmith::store::StoredPost>| async move {
        for p in &saved {
            let found = store.find_post(&p.id.to_string()).await.unwrap();
            assert_eq!(found.as_ref(), Some(p), "post {:?}", p.post.entry_key);
        }
        saved
            .into_iter()
            .map(|p| p.post.entry_key)
            .collect::<Vec<_>>()
    };
    let first = other_feed_holds_a_url_and_a_path(store, g, Keep::Posts).await;
    assert_eq!(check(first.posts).await, ["g1", "g2"]);
    let fine = Utc.timestamp_opt(1_754_261_295, 123_456_789).unwrap();
    let mut k3 = post("k3", "https://e.org/3", "Post 3", "h3");
    k3.date = fine;
    let mut k4 = post("k4", "https://e.org/4", "Post 4", "h4");
    k4.date = fine;
    let first = store
        .save_poll(f, &ok_poll(), vec![k3, k4], vec![], Keep::Posts)
        .await
        .unwrap();
    assert_eq!(check(first.posts).await, ["k3", "k4"]);

    let mut batch: Vec<Post> = (0..95)
        .map(|i| {
            let mut p = post(
                &format!("k{i}"),
                &format!("https://e.org/{i}"),
                &format!("Post {i}"),
                "h",
            );
            p.date = fine;
            p
        })
        .collect();
    // An update with a new title, slug and date: path, slug and date stay as first stored.
    batch[3] = post("k3", "https://e.org/3", "Post 3 renamed", "h3-changed");
    // An update whose link moved onto another feed's post: it keeps its own URL.
    batch[4] = post("k4", "https://e.org/g2", "Post 4", "h4-changed");
    batch[5].collection = "community".into();
    batch[5].reddit_segment = Some("segment-5".into());
    batch[50] = post("k50", "https://e.org/taken-url", "Post 50", "h");
    batch[60] = post("k60", "https://e.org/60", "Clash", "h");
    let saved = store
        .save_poll(f, &ok_poll(), batch.clone(), vec![], Keep::Posts)
        .await
        .unwrap();
    let r = saved.report;
    assert_eq!((r.new, r.updated, r.duplicates), (92, 2, 1), "{r:?}");
    let expected: Vec<String> = batch
        .iter()
        .map(|p| p.entry_key.clone())
        .filter(|k| k != "k50")
        .collect();
    let keys = check(saved.posts.clone()).await;
    assert_eq!(keys, expected);
    let by_key = |k: &str| saved.posts.iter().find(|p| p.post.entry_key == k).unwrap();
    assert_eq!(by_key("k3").path, "_blogs/2025-08-03-Post-3.md");
    assert_eq!(by_key("k3").post.slug, "Post-3");
    assert_eq!(by_key("k3").post.title, "Post 3 renamed");
    assert_eq!(by_key("k4").post.canonical_url, "https://e.org/4");
    assert_eq!(by_key("k60").path, "_blogs/2025-08-03-Clash-2.md");
    assert_eq!(by_key("k60").post.slug, "Clash-2");

    // Nothing changed: nothing handed back; and without `Keep::Posts`, only the counts.
    let again = store
        .save_poll(f, &ok_poll(), batch.clone(), vec![], Keep::Posts)
        .await
        .unwrap();
    assert!(again.posts.is_empty());
    batch[7].content_hash = "h7-changed".into();
    let counts = store
        .save_poll(f, &ok_poll(), batch, vec![], Keep::Counts)
        .await
        .unwrap();
    assert_eq!((counts.report.updated, counts.posts.len()), (1, 0));
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name("sqlite").await } )*
        }
        mod postgres_backend {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() {
                if super::db::pg_admin_url().is_some() { super::$name("postgres").await }
            } )*
        }
    };
}

suite!(
    same_posts_twice_add_nothing_and_changes_update_in_place,
    canonical_url_is_unique_across_feeds_and_slugs_get_suffixes,
    reddit_cross_posts_keep_the_first,
    a_failure_half_way_stores_nothing_of_that_feed,
    failures_count_up_keep_validators_and_reset_on_success,
    leases_are_exclusive_expire_and_cover_one_cycle,
    concurrent_claims_never_claim_twice,
    articles_are_cached_by_url_and_replaced_in_place,
    save_entries_publishes_held_back_entries_and_withdraws_removed_posts,
    enrichments_are_cached_by_content_hash_and_model,
    large_polls_store_every_post_as_one_by_one_would,
    concurrent_state_only_polls_each_store_their_own_row,
    concurrent_polls_with_posts_commit_alone_or_fail_alone,
    a_steady_state_start_reads_the_records_list_feeds_reads,
    saved_posts_are_what_find_post_reads,
    register_feeds_stores_what_sync_feeds_would,
    feeds_by_url_reads_the_asked_feeds_as_list_feeds_does,
);

/// A time stored in another form than this program writes (SQLite's own `datetime()` text, as a
/// hand edit or an old version might leave) makes the one-document read give way to the row by
/// row read, which understands it: the records are still those `list_feeds` reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_times_in_other_forms_are_read_as_list_feeds_reads_them() {
    let (t, f, _) = open("sqlite").await;
    sqlx::query(
        "UPDATE feeds SET last_polled_at = '2026-11-29 12:00:00', next_due_at = datetime('now') \
         WHERE id = ?",
    )
    .bind(f)
    .execute(t.sqlite.as_ref().unwrap().pool())
    .await
    .unwrap();
    let synced = t
        .store
        .sync_feeds(&[
            FeedConfig::new("F", "https://example.org/feed", "blogs"),
            FeedConfig::new("G", "https://example.org/other", "blogs"),
        ])
        .await
        .unwrap();
    let mut listed = t.store.list_feeds().await.unwrap();
    listed.sort_by_key(|r| r.id);
    assert_eq!(synced, listed);
    assert_eq!(
        synced[0].last_polled_at,
        Some(Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap())
    );
}
