//! The storage contract against a real SQLite file: identity, idempotence, updates in place,
//! one transaction per feed.

use chrono::{TimeZone, Utc};
use feedsmith::domain::{FeedConfig, Post, SkippedEntry};
use feedsmith::store::sqlite::SqliteStore;
use feedsmith::store::{Outcome, PollRecord, PostFilter, Store};

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

async fn open() -> (tempfile::TempDir, SqliteStore, i64, i64) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = SqliteStore::open(&url, 4).await.unwrap();
    store.migrate().await.unwrap();
    let feeds = store
        .sync_feeds(&[
            FeedConfig::new("F", "https://example.org/feed", "blogs"),
            FeedConfig::new("G", "https://example.org/other", "blogs"),
        ])
        .await
        .unwrap();
    (dir, store, feeds[0].id, feeds[1].id)
}

fn ok_poll() -> PollRecord {
    let mut p = PollRecord::new(Utc::now(), Outcome::Ok);
    p.etag = Some("\"v1\"".into());
    p.http_status = Some(200);
    p
}

#[tokio::test]
async fn same_posts_twice_add_nothing_and_changes_update_in_place() {
    let (_dir, store, feed, _) = open().await;
    let batch = vec![
        post("k1", "https://e.org/1", "One", "h1"),
        post("k2", "https://e.org/2", "Two", "h2"),
    ];
    let r = store
        .save_poll(feed, &ok_poll(), &batch, &[])
        .await
        .unwrap();
    assert_eq!((r.new, r.updated, r.unchanged), (2, 0, 0));
    let r = store
        .save_poll(feed, &ok_poll(), &batch, &[])
        .await
        .unwrap();
    assert_eq!((r.new, r.updated, r.unchanged), (0, 0, 2));

    let mut changed = batch.clone();
    changed[0] = post("k1", "https://e.org/1", "One renamed", "h1b");
    let r = store
        .save_poll(feed, &ok_poll(), &changed, &[])
        .await
        .unwrap();
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

#[tokio::test]
async fn canonical_url_is_unique_across_feeds_and_slugs_get_suffixes() {
    let (_dir, store, f, g) = open().await;
    store
        .save_poll(
            f,
            &ok_poll(),
            &[post("k1", "https://e.org/same", "Same Title", "h")],
            &[],
        )
        .await
        .unwrap();
    let r = store
        .save_poll(
            g,
            &ok_poll(),
            &[
                post("other-key", "https://e.org/same", "Same Title", "h"),
                post("k3", "https://e.org/3", "Same Title", "h3"),
            ],
            &[],
        )
        .await
        .unwrap();
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

#[tokio::test]
async fn reddit_cross_posts_keep_the_first() {
    let (_dir, store, f, g) = open().await;
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
    store.save_poll(f, &ok_poll(), &[a], &[]).await.unwrap();
    let r = store.save_poll(g, &ok_poll(), &[b], &[]).await.unwrap();
    assert_eq!((r.new, r.duplicates), (0, 1));
}

#[tokio::test]
async fn a_failure_half_way_stores_nothing_of_that_feed() {
    let (_dir, store, feed, other) = open().await;
    store
        .save_poll(
            other,
            &ok_poll(),
            &[post("o1", "https://e.org/o1", "Other", "h")],
            &[],
        )
        .await
        .unwrap();
    store
        .save_poll(
            feed,
            &ok_poll(),
            &[post("k0", "https://e.org/0", "Before", "h")],
            &[],
        )
        .await
        .unwrap();
    // A real SQLite failure in the middle of the batch: the second insert aborts.
    sqlx::query("CREATE TRIGGER boom BEFORE INSERT ON posts WHEN NEW.title = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END")
        .execute(store.pool())
        .await
        .unwrap();
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
        .save_poll(feed, &poll, &batch, &skipped)
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

#[tokio::test]
async fn failures_count_up_keep_validators_and_reset_on_success() {
    let (_dir, store, feed, _) = open().await;
    store.save_poll(feed, &ok_poll(), &[], &[]).await.unwrap();
    let mut failed = PollRecord::new(Utc::now(), Outcome::Failed);
    failed.http_status = Some(503);
    failed.error = Some("HTTP 503".into());
    failed.retry_after = Some(Utc::now() + chrono::Duration::seconds(120));
    store.save_poll(feed, &failed, &[], &[]).await.unwrap();
    store.save_poll(feed, &failed, &[], &[]).await.unwrap();
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
    assert_eq!(f.last_outcome.as_deref(), Some("failed"));

    let mut not_modified = PollRecord::new(Utc::now(), Outcome::NotModified);
    not_modified.http_status = Some(304);
    store
        .save_poll(feed, &not_modified, &[], &[])
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
