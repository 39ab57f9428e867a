//! Feed health through the real daemon: a feed failing five times in a row gives exactly one
//! `feed.failing`, the first success after it one `feed.recovered`, as events (`/api/events`)
//! and as metrics (`feedsmith_feed_health{state}`); polling never stops meanwhile. A 410 gives
//! `feed.gone`. (The rule itself, with a day of failure and blocks, is unit-tested on plain
//! times in src/store/outbox.rs: no clock to wait for there.)

use std::time::{Duration, Instant};

use crate::support::{feed_toml, rss, Reply, TestServer, Workspace};

async fn get(url: &str) -> String {
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

async fn events(base: &str) -> Vec<serde_json::Value> {
    let v: serde_json::Value =
        serde_json::from_str(&get(&format!("{base}/api/events?after=0")).await).unwrap();
    v["items"].as_array().unwrap().clone()
}

fn kinds(events: &[serde_json::Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .filter(|k| k.starts_with("feed."))
        .collect()
}

async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(Instant::now() < end, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_failures_one_failing_event_then_recovered_in_events_and_metrics() {
    let server = TestServer::start().await;
    server.route("/feed.xml", Reply::status(500, "down"));
    let port = crate::support::free_port();
    // Every second, backoff capped at a second: the failures come quickly.
    let extra = format!(
        "[schedule]\ndefault = \"*/1 * * * * *\"\nmax_backoff = \"1s\"\nmax_jitter = \"0s\"\n[server]\nlisten = \"127.0.0.1:{port}\"\n[health]\nfailing_after = 5\n"
    );
    let ws = Workspace::new(
        &extra,
        &feed_toml("Flaky", &server.url("/feed.xml"), "news", ""),
    );
    let mut daemon = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedsmith"))
        .arg("--config")
        .arg(ws.config_path())
        .arg("run")
        .current_dir(ws.dir.path())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    wait_until("the daemon", || async {
        reqwest::get(format!("{base}/healthz")).await.is_ok()
    })
    .await;

    wait_until("feed.failing", || async {
        kinds(&events(&base).await).contains(&"feed.failing".to_string())
    })
    .await;
    let polls_at_failing = server.statuses("/feed.xml").len();
    assert!(
        polls_at_failing >= 5,
        "failing after 5 failures, not {polls_at_failing}"
    );
    let metrics = get(&format!("{base}/metrics")).await;
    assert!(
        metrics.contains("feedsmith_feed_health{state=\"failing\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("feedsmith_feed_health{state=\"ok\"} 0"),
        "{metrics}"
    );
    let feeds: serde_json::Value =
        serde_json::from_str(&get(&format!("{base}/api/feeds")).await).unwrap();
    assert_eq!(feeds[0]["health"], "failing");

    // Polling goes on (the backoff cap applies); more failures announce nothing new.
    wait_until("three more polls", || {
        let n = server.statuses("/feed.xml").len();
        async move { n >= polls_at_failing + 3 }
    })
    .await;
    assert_eq!(kinds(&events(&base).await), vec!["feed.failing"]);

    server.route(
        "/feed.xml",
        Reply::feed(rss(
            "Flaky",
            &[("a", "Back", "It works again, with enough words.")],
        )),
    );
    wait_until("feed.recovered", || async {
        kinds(&events(&base).await).contains(&"feed.recovered".to_string())
    })
    .await;
    // A few more successful polls: still exactly one of each.
    wait_until("more polls", || {
        let n = server.statuses("/feed.xml").len();
        async move { n >= polls_at_failing + 6 }
    })
    .await;
    let all = events(&base).await;
    println!("events: {}", serde_json::to_string_pretty(&all).unwrap());
    assert_eq!(kinds(&all), vec!["feed.failing", "feed.recovered"]);
    let failing = all.iter().find(|e| e["type"] == "feed.failing").unwrap();
    assert_eq!(failing["data"]["consecutive_failures"], 5);
    assert_eq!(failing["data"]["http_status"], 500);
    assert_eq!(failing["feed_name"], "Flaky");
    let metrics = get(&format!("{base}/metrics")).await;
    assert!(
        metrics.contains("feedsmith_feed_health{state=\"failing\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("feedsmith_feed_health{state=\"ok\"} 1"),
        "{metrics}"
    );
    daemon.kill().await.unwrap();

    // `feeds list --unhealthy` lists nothing now; the post arrived as post.created.
    let out = ws.run(&["feeds", "list", "--unhealthy", "--json"]).await;
    assert_eq!(out.stdout.trim(), "[]", "{}", out.stderr);
    assert!(all.iter().any(|e| e["type"] == "post.created"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_on_410_once_and_listed_as_unhealthy() {
    let server = TestServer::start().await;
    server.route("/feed.xml", Reply::status(410, "gone"));
    let ws = Workspace::new("", &feed_toml("Old", &server.url("/feed.xml"), "news", ""));
    assert_eq!(ws.run(&["fetch"]).await.code, 4);
    assert_eq!(ws.run(&["fetch"]).await.code, 4);
    let out = ws.run(&["events", "--json"]).await;
    let list: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(kinds(&list), vec!["feed.gone"], "{list:?}");
    let out = ws.run(&["feeds", "list", "--unhealthy", "--json"]).await;
    let feeds: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(feeds[0]["health"], "gone");
    assert_eq!(feeds[0]["name"], "Old");
}

/// The same rule on PostgreSQL, through `fetch`: five failures, one `feed.failing`; a success,
/// one `feed.recovered`, after the post it stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_and_recovered_on_postgres() {
    let Some(db) = crate::support::db::PgDatabase::create().await else {
        return;
    };
    let server = TestServer::start().await;
    server.route("/feed.xml", Reply::status(503, "down"));
    let ws = Workspace::new(
        "",
        &feed_toml("Flaky", &server.url("/feed.xml"), "news", ""),
    );
    let args = ["--database-url", db.url.as_str(), "fetch"];
    for _ in 0..6 {
        assert_eq!(ws.run(&args).await.code, 4);
    }
    server.route(
        "/feed.xml",
        Reply::feed(rss(
            "Flaky",
            &[("a", "Back", "It works again, with enough words.")],
        )),
    );
    assert_eq!(ws.run(&args).await.code, 0);
    assert_eq!(ws.run(&args).await.code, 0);
    let out = ws
        .run(&["--database-url", db.url.as_str(), "events", "--json"])
        .await;
    let list: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    let types: Vec<&str> = list.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        vec!["feed.failing", "post.created", "feed.recovered"]
    );
    assert_eq!(list[0]["data"]["consecutive_failures"], 5);
}

/// A block page (an HTML 403) makes the feed `blocked`, once; the next success recovers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_page_is_blocked_once_then_recovered() {
    let server = TestServer::start().await;
    server.route(
        "/feed.xml",
        Reply::status(403, "<html><body>Access denied</body></html>")
            .with_content_type("text/html"),
    );
    let ws = Workspace::new(
        "",
        &feed_toml("Walled", &server.url("/feed.xml"), "news", ""),
    );
    assert_eq!(ws.run(&["fetch"]).await.code, 4);
    let out = ws.run(&["feeds", "list", "--unhealthy", "--json"]).await;
    let feeds: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(feeds[0]["health"], "blocked", "{}", out.stdout);
    server.route(
        "/feed.xml",
        Reply::feed(rss(
            "Walled",
            &[("a", "Open", "Open again, with enough words.")],
        )),
    );
    // The block paused the host, in the database too: a new process defers the feed (not
    // requested), and its health stays `blocked`.
    let deferred = ws.run(&["fetch"]).await;
    assert!(
        deferred.stderr.contains("0 failed, 1 deferred"),
        "{}",
        deferred.stderr
    );
    let out = ws.run(&["feeds", "list", "--unhealthy", "--json"]).await;
    let feeds: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(feeds[0]["health"], "blocked", "{}", out.stdout);
    // Fifteen minutes later (the stored pause moved into the past): polled, recovered.
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", ws.db_path().display()))
        .await
        .unwrap();
    sqlx::query("UPDATE hosts SET paused_until = '2000-01-01T00:00:00+00:00'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert_eq!(ws.run(&["fetch"]).await.code, 0);
    let out = ws.run(&["events", "--json"]).await;
    let list: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        kinds(&list),
        vec!["feed.blocked", "feed.recovered"],
        "{list:?}"
    );
}
