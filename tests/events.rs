//! The outbox's settings and read side: a bad `[[webhooks]]` table is a configuration error
//! naming its key (exit 2, nothing written); `config check` shows the webhooks without their
//! secret; `/api/events` pages by id with the API's token; `events --after` pages alike; the
//! daemon's stale check marks a feed whose newest post is older than a year.

use std::time::Duration;

use crate::support::{feed_toml, rss, Reply, TestServer, Workspace};

fn hook(extra: &str) -> String {
    format!(
        "[[webhooks]]\nurl = \"http://127.0.0.1:9/hook\"\nevents = [\"post.created\"]\n{extra}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_webhook_settings_are_config_errors_naming_the_key() {
    let feed = feed_toml("A", "https://example.org/a.xml", "blogs", "");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "not http(s)",
            hook("").replace("http://127.0.0.1:9/hook", "ftp://example.org/hook"),
            "[[webhooks]] #1: url = \"ftp://example.org/hook\": expected an absolute http:// or https:// URL",
        ),
        (
            "unknown event",
            hook("").replace("\"post.created\"", "\"post.create\""),
            "[[webhooks]] #1: events: unknown event type \"post.create\"; expected one of: post.created, post.updated, post.withdrawn, feed.failing, feed.recovered, feed.blocked, feed.gone, feed.stale",
        ),
        (
            "missing secret variable",
            hook("secret_env = \"FEEDSMITH_TEST_NO_SUCH_SECRET\""),
            "[[webhooks]] #1: secret_env = \"FEEDSMITH_TEST_NO_SUCH_SECRET\": the environment variable FEEDSMITH_TEST_NO_SUCH_SECRET is not set or empty",
        ),
        (
            "unknown key",
            hook("retries = 3"),
            "unknown field `retries`",
        ),
        (
            "feed filter naming no feed",
            hook("feeds = [\"Nope\"]"),
            "[[webhooks]] #1: feeds: \"Nope\" is not the name or URL of a configured [[feeds]] table",
        ),
        (
            "bad retention",
            "[events]\nkeep = \"forever\"\n".to_string(),
            "[events].keep = \"forever\": expected a duration",
        ),
        (
            "bad failing_after",
            "[health]\nfailing_after = 0\n".to_string(),
            "[health].failing_after = 0",
        ),
    ];
    for (what, extra, message) in cases {
        let ws = Workspace::new(&extra, &feed);
        let out = ws.run(&["fetch"]).await;
        assert_eq!(out.code, 2, "{what}: {}", out.stderr);
        assert!(out.stderr.contains(message), "{what}: {}", out.stderr);
        assert!(!ws.db_path().exists(), "{what}: nothing written");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_check_shows_webhooks_without_the_secret() {
    let feed = feed_toml("A", "https://example.org/a.xml", "blogs", "");
    let ws = Workspace::new(&hook("name = \"site\"\nsecret_env = \"HOOK_KEY\""), &feed);
    let out = ws
        .run_with_env(&["config", "check"], &[("HOOK_KEY", "very-secret-key")])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("[[webhooks]]"), "{}", out.stdout);
    assert!(out.stdout.contains("secret_env = \"HOOK_KEY\""));
    assert!(out.stdout.contains("[events]") && out.stdout.contains("keep = \"720h\""));
    assert!(out.stdout.contains("[health]") && out.stdout.contains("failing_after = 5"));
    assert!(!out.stdout.contains("very-secret-key"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_page_by_id_in_the_api_and_the_cli() {
    let server = TestServer::start().await;
    let items: Vec<(String, String, String)> = (1..=5)
        .map(|i| {
            (
                format!("g{i}"),
                format!("Item {i}"),
                format!("Body of item {i} with words."),
            )
        })
        .collect();
    let refs: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    server.route("/feed.xml", Reply::feed(rss("Five", &refs)));
    let port = crate::support::free_port();
    let extra = format!(
        "[schedule]\ndefault = \"0 0 0 1 1 *\"\n[server]\nlisten = \"127.0.0.1:{port}\"\ntoken_env = \"API_TOKEN\"\n"
    );
    let ws = Workspace::new(
        &extra,
        &feed_toml("Five", &server.url("/feed.xml"), "news", ""),
    );
    let env = [("API_TOKEN", "t0ken")];
    assert_eq!(ws.run_with_env(&["fetch"], &env).await.code, 0);

    let out = ws
        .run_with_env(&["events", "--after", "2", "--limit", "2", "--json"], &env)
        .await;
    let page: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    let ids: Vec<i64> = page.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![3, 4]);

    let mut daemon = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedsmith"))
        .arg("--config")
        .arg(ws.config_path())
        .arg("run")
        .env("API_TOKEN", "t0ken")
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if reqwest::get(format!("{base}/healthz")).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let client = reqwest::Client::new();
    let unauthorized = client
        .get(format!("{base}/api/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), 401);
    // The daemon's daily stale check runs at start: the posts are dated 2025-08-03, more than
    // [health] stale_after (365 days) ago, so the feed is stale: one feed.stale, after them.
    for _ in 0..100 {
        let out = ws
            .run_with_env(&["events", "--after", "5", "--json"], &env)
            .await;
        if out.stdout.contains("feed.stale") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut after = 0;
    let mut seen = Vec::new();
    loop {
        let text = client
            .get(format!("{base}/api/events?after={after}&limit=2"))
            .bearer_auth("t0ken")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let items = v["items"].as_array().unwrap();
        if items.is_empty() {
            assert_eq!(v["next_after"], after);
            break;
        }
        seen.extend(items.iter().map(|e| {
            (
                e["id"].as_i64().unwrap(),
                e["type"].as_str().unwrap().to_string(),
            )
        }));
        after = v["next_after"].as_i64().unwrap();
    }
    assert_eq!(
        seen,
        (1..=5)
            .map(|i| (i, "post.created".to_string()))
            .chain([(6, "feed.stale".to_string())])
            .collect::<Vec<_>>()
    );
    let out = ws
        .run_with_env(&["feeds", "list", "--unhealthy", "--json"], &env)
        .await;
    let feeds: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(feeds[0]["health"], "stale");
    let deliveries = client
        .get(format!("{base}/api/deliveries?status=dead"))
        .bearer_auth("t0ken")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(deliveries, r#"{"items":[]}"#);
    let bad = client
        .get(format!("{base}/api/events?limit=0"))
        .bearer_auth("t0ken")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    daemon.kill().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// The outbox at the store, on both backends: events share the change's transaction, withdrawn
// posts carry their content, retention keeps what is still to be delivered.

mod outbox_store {
    use chrono::{TimeZone, Utc};
    use feedsmith::domain::{FeedConfig, Post, SkippedEntry};
    use feedsmith::store::outbox::{EventKind, WebhookFilter};
    use feedsmith::store::{Keep, Outcome, PollRecord};

    use crate::support::db::{self, TestStore};

    fn post(key: &str, title: &str, hash: &str) -> Post {
        Post {
            entry_key: key.into(),
            title: title.into(),
            description: "d".into(),
            author: "a".into(),
            canonical_url: format!("https://e.org/{key}"),
            viewing_mode: "external".into(),
            feed_name: "F".into(),
            feed_url: "https://example.org/feed".into(),
            collection: "blogs".into(),
            date: Utc.with_ymd_and_hms(2025, 8, 3, 22, 48, 15).unwrap(),
            slug: title.replace(' ', "-"),
            categories: vec![],
            tags: vec![],
            tags_normalized: vec![],
            excerpt: "e".into(),
            content_markdown: format!("content {hash}"),
            youtube_id: None,
            reddit_segment: None,
            content_hash: hash.into(),
        }
    }

    fn kinds(t: &[feedsmith::store::outbox::EventRecord]) -> Vec<&str> {
        t.iter().map(|e| e.kind.as_str()).collect()
    }

    async fn outbox_contract(t: TestStore) {
        let store = &t.store;
        let feed = store
            .sync_feeds(&[FeedConfig::new("F", "https://example.org/feed", "blogs")])
            .await
            .unwrap()[0]
            .id;
        let ok = PollRecord::new(Utc::now(), Outcome::Ok);
        store
            .save_poll(
                feed,
                &ok,
                vec![post("k1", "One", "h1"), post("k2", "Two", "h2")],
                vec![],
                Keep::Counts,
            )
            .await
            .unwrap();
        store
            .save_poll(
                feed,
                &ok,
                vec![post("k1", "One", "h1b")],
                vec![],
                Keep::Counts,
            )
            .await
            .unwrap();
        // A poll that fails half-way (the insert of `boom` raises) writes no event either.
        t.fail_inserts_titled_boom().await;
        assert!(store
            .save_poll(
                feed,
                &ok,
                vec![post("k3", "Three", "h3"), post("k4", "boom", "h4")],
                vec![],
                Keep::Counts,
            )
            .await
            .is_err());
        let outbox = store.outbox();
        let events = outbox.list_events(0, 100).await.unwrap();
        assert_eq!(
            kinds(&events),
            vec!["post.created", "post.created", "post.updated"]
        );
        assert_eq!(events[2].post_id, events[0].post_id);
        assert_eq!(events[0].data["title"], "One");
        assert_eq!(events[0].feed_name.as_deref(), Some("F"));

        // Withdrawn: the event carries the post, which is gone.
        let removed = SkippedEntry {
            entry_key: "k2".into(),
            content_hash: "h2".into(),
            reason: "removed".into(),
        };
        store
            .save_entries(feed, &[], &[removed], true)
            .await
            .unwrap();
        let events = outbox.list_events(3, 100).await.unwrap();
        assert_eq!(kinds(&events), vec!["post.withdrawn"]);
        assert_eq!(events[0].data["post"]["post"]["title"], "Two");

        // A webhook registered now starts after these events; a new one reaches it.
        let hook = WebhookFilter {
            name: "w".into(),
            events: vec![EventKind::PostCreated],
            feeds: vec![],
            collections: vec![],
        };
        outbox.register_webhooks(&["w".into()]).await.unwrap();
        assert_eq!(outbox.fan_out(&hook, Utc::now()).await.unwrap(), 0);
        store
            .save_poll(
                feed,
                &ok,
                vec![post("k5", "Five", "h5")],
                vec![],
                Keep::Counts,
            )
            .await
            .unwrap();
        assert_eq!(outbox.fan_out(&hook, Utc::now()).await.unwrap(), 1);
        assert_eq!(outbox.fan_out(&hook, Utc::now()).await.unwrap(), 0);

        // Retention: everything is old by then, except the event still to be delivered.
        let later = Utc::now() + chrono::Duration::seconds(5);
        assert_eq!(outbox.prune_events(later).await.unwrap(), 4);
        let left = outbox.list_events(0, 100).await.unwrap();
        assert_eq!(kinds(&left), vec!["post.created"]);
        assert_eq!(left[0].data["title"], "Five");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_outbox_contract() {
        outbox_contract(db::sqlite().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_outbox_contract() {
        let Some(t) = db::postgres().await else {
            return;
        };
        outbox_contract(t).await;
    }
}
