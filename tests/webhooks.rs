//! Webhooks from the outbox, against a loopback receiver (tests/support/receiver.rs): retries
//! until a 2xx (a 500, then a timeout, then accepted), every event exactly once by delivery id,
//! signed, in causal order per post; redelivery after SIGKILL of `run`; two replicas on
//! PostgreSQL never sending one delivery at once. Run with `--nocapture` to see the attempts.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::support::db::PgDatabase;
use crate::support::free_port;
use crate::support::receiver::{Receiver, Step};
use crate::support::{feed_toml, rss, Reply, TestServer, Workspace};

const SECRET: &str = "s3cret-signing-key";

fn webhook_toml(url: &str, extra: &str) -> String {
    format!(
        "[events]\nretry_initial = \"100ms\"\nretry_max = \"400ms\"\ndeliver_deadline = \"20s\"\npoll_interval = \"100ms\"\n\
         [[webhooks]]\nname = \"site\"\nurl = \"{url}\"\nevents = [\"post.created\", \"post.updated\", \"post.withdrawn\"]\n\
         secret_env = \"HOOK_SECRET\"\ntimeout = \"1s\"\nmax_attempts = 20\n{extra}\n"
    )
}

fn items(n: usize, version: &str) -> String {
    let owned: Vec<(String, String, String)> = (1..=n)
        .map(|i| {
            (
                format!("p{i}"),
                format!("Post {i}"),
                format!("{version} body of post {i}, long enough to be a post."),
            )
        })
        .collect();
    let refs: Vec<(&str, &str, &str)> = owned
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    rss("Hooks", &refs)
}

/// Every accepted delivery's signature is the HMAC of its body; each delivery id is accepted
/// exactly once; per post the accepted events follow the order of their event ids and begin
/// with `post.created`.
fn check_deliveries(receiver: &Receiver) -> Vec<serde_json::Value> {
    let accepted = receiver.accepted();
    let mut ids = HashSet::new();
    let mut per_post: HashMap<i64, Vec<(i64, String)>> = HashMap::new();
    for a in &accepted {
        assert!(
            ids.insert(a.delivery.clone()),
            "delivery {} accepted twice",
            a.delivery
        );
        let sig = a.signature.as_deref().expect("signed");
        assert!(
            feedsmith::events::sign::verify(SECRET.as_bytes(), &a.body, sig),
            "bad signature on {}",
            a.delivery
        );
        let v = a.json();
        assert_eq!(v["event"]["type"], a.event.as_str());
        if let Some(post) = v["event"]["post_id"].as_i64() {
            per_post
                .entry(post)
                .or_default()
                .push((v["event"]["id"].as_i64().unwrap(), a.event.clone()));
        }
    }
    for (post, seq) in &per_post {
        let mut sorted = seq.clone();
        sorted.sort();
        assert_eq!(&sorted, seq, "post {post}: events out of order");
        assert_eq!(seq[0].1, "post.created", "post {post}: {seq:?}");
    }
    accepted.iter().map(|a| a.json()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_after_500_and_timeout_then_each_event_once_signed_and_in_order() {
    let feeds = TestServer::start().await;
    feeds.route("/feed.xml", Reply::feed(items(3, "First")));
    let receiver =
        Receiver::start(vec![Step::Status(500), Step::Hang(Duration::from_secs(3))]).await;
    let ws = Workspace::new(
        &webhook_toml(&receiver.url(), ""),
        &feed_toml("Hooks", &feeds.url("/feed.xml"), "news", ""),
    );
    let env = [("HOOK_SECRET", SECRET)];
    let out = ws.run_with_env(&["fetch"], &env).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    receiver.print_log("fetch 1 (500, timeout, then accepted)");
    let attempts = receiver.attempts();
    assert_eq!(attempts[0].answered, Some(500));
    assert_eq!(attempts[1].answered, None, "the second attempt times out");
    let accepted = check_deliveries(&receiver);
    assert_eq!(accepted.len(), 3, "three posts, three post.created");
    assert!(accepted
        .iter()
        .all(|v| v["event"]["type"] == "post.created"));
    // The body carries the post and its rendered file.
    let first = &accepted[0];
    assert!(first["post"]["title"]
        .as_str()
        .unwrap()
        .starts_with("Post "));
    assert!(first["post"]["file"].as_str().unwrap().starts_with("---\n"));
    assert_eq!(first["feed"]["name"], "Hooks");
    // The 500 and the timeout were retried under the same delivery id.
    let failed: HashSet<&str> = attempts[..2].iter().map(|a| a.delivery.as_str()).collect();
    let accepted_ids: HashSet<String> = receiver
        .accepted()
        .into_iter()
        .map(|a| a.delivery)
        .collect();
    assert!(failed.iter().all(|d| accepted_ids.contains(*d)));

    // An edit: post.updated, after its post.created, once.
    feeds.route("/feed.xml", Reply::feed(items(3, "Edited")));
    let out = ws.run_with_env(&["fetch"], &env).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    receiver.print_log("fetch 2 (three posts edited)");
    let accepted = check_deliveries(&receiver);
    assert_eq!(accepted.len(), 6);
    assert_eq!(
        accepted
            .iter()
            .filter(|v| v["event"]["type"] == "post.updated")
            .count(),
        3
    );

    // Nothing pending or dead; the CLI says so.
    let list = ws.run_with_env(&["webhooks", "list", "--json"], &env).await;
    assert_eq!(list.code, 0, "{}", list.stderr);
    let list: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(list[0]["delivered"], 6);
    assert_eq!(list[0]["pending"], 0);
    assert_eq!(list[0]["dead"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_lettered_after_max_attempts_and_listed() {
    let feeds = TestServer::start().await;
    feeds.route("/feed.xml", Reply::feed(items(1, "Only")));
    let receiver = Receiver::start(vec![Step::RetryAfter(0)]).await;
    receiver.then(Some(Step::Status(500)));
    let ws = Workspace::new(
        &webhook_toml(&receiver.url(), "").replace("max_attempts = 20", "max_attempts = 3"),
        &feed_toml("Hooks", &feeds.url("/feed.xml"), "news", ""),
    );
    let env = [("HOOK_SECRET", SECRET)];
    let out = ws.run_with_env(&["fetch"], &env).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    receiver.print_log("dead letter (503 Retry-After: 0, then 500s)");
    assert_eq!(receiver.attempts().len(), 3, "max_attempts = 3");
    let dead = ws
        .run_with_env(&["webhooks", "list", "--dead", "--json"], &env)
        .await;
    let dead: serde_json::Value = serde_json::from_str(&dead.stdout).unwrap();
    assert_eq!(dead.as_array().unwrap().len(), 1, "{dead}");
    assert_eq!(dead[0]["status"], "dead");
    assert_eq!(dead[0]["attempts"], 3);
    assert_eq!(dead[0]["last_error"], "HTTP 500 Internal Server Error");
}

/// `run` in the workspace; its log goes to `run.log` there.
fn spawn_run(ws: &Workspace, db_url: Option<&str>) -> tokio::process::Child {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedsmith"));
    cmd.arg("--config").arg(ws.config_path());
    if let Some(url) = db_url {
        cmd.arg("--database-url").arg(url);
    }
    cmd.arg("run")
        .current_dir(ws.dir.path())
        .env("HOOK_SECRET", SECRET)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(ws.dir.path().join("run.log")).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

async fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < end, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undelivered_events_survive_sigkill_of_run() {
    let feeds = TestServer::start().await;
    feeds.route("/feed.xml", Reply::feed(items(4, "First")));
    // Everything fails until the daemon is killed.
    let receiver = Receiver::start(vec![]).await;
    receiver.then(Some(Step::Status(500)));
    let port = free_port();
    let extra = format!(
        "[schedule]\ndefault = \"*/1 * * * * *\"\nmax_jitter = \"0s\"\n[server]\nlisten = \"127.0.0.1:{}\"\n{}",
        port,
        webhook_toml(&receiver.url(), "").replace("retry_initial = \"100ms\"", "retry_initial = \"1s\"")
    );
    let ws = Workspace::new(
        &extra,
        &feed_toml("Hooks", &feeds.url("/feed.xml"), "news", ""),
    );
    let mut daemon = spawn_run(&ws, None);
    wait_for("four failed attempts", Duration::from_secs(30), || {
        let a = receiver.attempts();
        a.iter()
            .filter(|a| a.answered.is_some())
            .map(|a| &a.delivery)
            .collect::<HashSet<_>>()
            .len()
            >= 4
    })
    .await;
    daemon.kill().await.unwrap(); // SIGKILL
    receiver.print_log("before the SIGKILL");
    receiver.mark("run killed with SIGKILL; the receiver accepts from now on; run started again");
    let before: HashSet<String> = receiver
        .attempts()
        .into_iter()
        .map(|a| a.delivery)
        .collect();
    assert!(receiver.accepted().is_empty());

    receiver.then(None); // accept from now on
    let mut daemon = spawn_run(&ws, None);
    wait_for(
        "the four deliveries after the restart",
        Duration::from_secs(60),
        || receiver.accepted().len() >= 4,
    )
    .await;
    // The metrics say so too (from the database: the deliveries of both processes).
    let metrics_url = format!("http://127.0.0.1:{port}/metrics");
    let want = "feedsmith_webhook_deliveries{webhook=\"site\",status=\"delivered\"} 4";
    let mut metrics = String::new();
    for _ in 0..50 {
        metrics = reqwest::get(&metrics_url)
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains(want) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(metrics.contains(want), "{metrics}");
    daemon.kill().await.unwrap();
    receiver.print_log("SIGKILL of run with undelivered events, then restart (all attempts)");
    let accepted = check_deliveries(&receiver);
    assert_eq!(accepted.len(), 4);
    let after: HashSet<String> = receiver
        .accepted()
        .into_iter()
        .map(|a| a.delivery)
        .collect();
    assert_eq!(
        before, after,
        "the same deliveries, redelivered under their ids"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_postgres_never_send_one_delivery_at_once() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let feeds = TestServer::start().await;
    feeds.route("/feed.xml", Reply::feed(items(24, "First")));
    // Every attempt is held in flight a while: a second sender of the same delivery would
    // arrive during it.
    let receiver = Receiver::start(vec![Step::Status(500), Step::Status(500)]).await;
    receiver.then(Some(Step::SlowOk(Duration::from_millis(300))));
    let mk = |port: u16| {
        let extra = format!(
            "[schedule]\ndefault = \"*/1 * * * * *\"\nmax_jitter = \"0s\"\n[server]\nlisten = \"127.0.0.1:{port}\"\n{}",
            webhook_toml(&receiver.url(), "")
        );
        Workspace::new(
            &extra,
            &feed_toml("Hooks", &feeds.url("/feed.xml"), "news", ""),
        )
    };
    let (ws1, ws2) = (mk(free_port()), mk(free_port()));
    let mut a = spawn_run(&ws1, Some(&db.url));
    let mut b = spawn_run(&ws2, Some(&db.url));
    wait_for("24 deliveries", Duration::from_secs(90), || {
        receiver.accepted().len() >= 24
    })
    .await;
    // A little longer: a duplicate would show now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    a.kill().await.unwrap();
    b.kill().await.unwrap();
    receiver.print_log("two replicas on PostgreSQL");
    let attempts = receiver.attempts();
    assert!(
        attempts.iter().all(|a| !a.overlapped),
        "a delivery was sent by two replicas at once"
    );
    let accepted = check_deliveries(&receiver);
    assert_eq!(accepted.len(), 24);
    // Both replicas sent deliveries (from their logs): the leases, not one idle replica, kept
    // them apart.
    let sent = |ws: &Workspace| {
        std::fs::read_to_string(ws.dir.path().join("run.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("webhook delivered"))
            .count()
    };
    let (by_a, by_b) = (sent(&ws1), sent(&ws2));
    println!("delivered by replica 1: {by_a}, by replica 2: {by_b}");
    assert_eq!(by_a + by_b, 24);
    assert!(
        by_a > 0 && by_b > 0,
        "both replicas deliver: {by_a} and {by_b}"
    );
}
