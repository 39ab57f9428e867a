//! Several feedsmith processes on one SQLite file, as an operator gets them: two `fetch` runs
//! from cron that overlap, a `fetch` beside the daemon, two processes started together on a file
//! that does not exist yet. Every process must exit 0, every feed must be stored by one of them,
//! nothing twice, and the file must pass `PRAGMA integrity_check`.
//!
//! Why these fail without `BEGIN IMMEDIATE`: a deferred transaction that reads first and then
//! writes gets `SQLITE_BUSY` (or `SQLITE_BUSY_SNAPSHOT`, 517) at once when another process wrote
//! in between; SQLite does not call the busy handler for it, so `busy_timeout` never applies.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{feed_toml, Reply, StderrLog, TestServer, Workspace};

const FEEDS: usize = 20;
const ROUNDS: usize = 10;
const ITEMS: usize = 3;

/// The feeds' documents for `round`: every round brings `ITEMS` new entries per feed and keeps
/// the previous round's (edited), so each round both inserts and updates.
fn publish_round(server: &TestServer, round: usize) {
    for f in 0..FEEDS {
        let mut items = String::new();
        for r in round.saturating_sub(1)..=round {
            for i in 0..ITEMS {
                items.push_str(&format!(
                    "<item><guid>f{f}-r{r}-i{i}</guid><title>Feed {f} round {r} item {i}</title>\
                     <link>http://example.org/{f}/{r}/{i}</link>\
                     <description>&lt;p&gt;Body of {f}/{r}/{i}, seen in round {round}&lt;/p&gt;</description></item>"
                ));
            }
        }
        server.route(
            &format!("/{f}.xml"),
            Reply::feed(format!(
                "<rss version=\"2.0\"><channel><title>F{f}</title>{items}</channel></rss>"
            )),
        );
    }
}

fn feeds(server: &TestServer) -> String {
    (0..FEEDS)
        .map(|f| {
            feed_toml(
                &format!("Feed {f}"),
                &server.url(&format!("/{f}.xml")),
                "blogs",
                "schedule = \"* * * * * *\"",
            )
        })
        .collect()
}

fn feedsmith(ws: &Workspace, args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedsmith"));
    cmd.arg("--config")
        .arg(ws.config_path())
        .args(args)
        .current_dir(ws.dir.path())
        .env_remove("FEEDSMITH_CONFIG")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Run `fetch` processes at once (started together) and return (exit code, stderr) of each.
async fn fetches_together(ws: &Workspace, n: usize) -> Vec<(i32, String)> {
    let children: Vec<_> = (0..n)
        .map(|_| feedsmith(ws, &["fetch"]).spawn().expect("spawn feedsmith"))
        .collect();
    let mut out = Vec::new();
    for child in children {
        let o = child.wait_with_output().await.expect("wait feedsmith");
        out.push((
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        ));
    }
    out
}

/// (feed url, entry keys) per stored post, the integrity check's answer, and the number of
/// canonical URLs stored more than once.
async fn stored(ws: &Workspace) -> (Vec<(String, String)>, String, i64) {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", ws.db_path().display()))
        .await
        .unwrap();
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT f.url, p.entry_key FROM posts p JOIN feeds f ON f.id = p.feed_id ORDER BY 1, 2",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&pool)
        .await
        .unwrap();
    let dups: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT canonical_url FROM posts GROUP BY canonical_url HAVING COUNT(*) > 1)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    (rows, integrity, dups)
}

/// Every entry of rounds `0..=round` of every feed, stored once.
async fn assert_round_stored(ws: &Workspace, round: usize) {
    let (rows, integrity, dups) = stored(ws).await;
    assert_eq!(integrity, "ok", "round {round}: integrity check");
    assert_eq!(dups, 0, "round {round}: duplicated canonical URLs");
    let keys: std::collections::HashSet<&str> = rows.iter().map(|(_, k)| k.as_str()).collect();
    assert_eq!(
        rows.len(),
        keys.len(),
        "round {round}: an entry stored twice"
    );
    for f in 0..FEEDS {
        for r in 0..=round {
            for i in 0..ITEMS {
                let key = format!("f{f}-r{r}-i{i}");
                assert!(
                    keys.contains(key.as_str()),
                    "round {round}: entry {key} of feed {f} stored by neither process"
                );
            }
        }
    }
    assert_eq!(rows.len(), FEEDS * ITEMS * (round + 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_a_fresh_file_both_migrate_or_wait() {
    let server = TestServer::start().await;
    publish_round(&server, 0);
    for attempt in 0..10 {
        let ws = Workspace::new("", &feeds(&server));
        for (code, stderr) in fetches_together(&ws, 2).await {
            assert_eq!(
                code, 0,
                "attempt {attempt}: fetch on a fresh file: {stderr}"
            );
        }
        assert_round_stored(&ws, 0).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_fetches_together_store_every_feed_for_ten_rounds() {
    let server = TestServer::start().await;
    let ws = Workspace::new("", &feeds(&server));
    let started = Instant::now();
    for round in 0..ROUNDS {
        publish_round(&server, round);
        for (code, stderr) in fetches_together(&ws, 2).await {
            assert_eq!(
                code, 0,
                "round {round}: a concurrent fetch failed: {stderr}"
            );
        }
        assert_round_stored(&ws, round).await;
    }
    eprintln!(
        "{ROUNDS} rounds of two concurrent fetches of {FEEDS} feeds: {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_beside_the_daemon_stores_every_feed_for_ten_rounds() {
    let server = TestServer::start().await;
    let port = crate::support::free_port();
    let ws = Workspace::new(
        &format!("[server]\nlisten = \"127.0.0.1:{port}\"\n[schedule]\nmax_jitter = \"0s\"\n"),
        &feeds(&server),
    );
    publish_round(&server, 0);
    let migrated = feedsmith(&ws, &["migrate"]).output().await.unwrap();
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    let mut daemon = feedsmith(&ws, &["run"]).spawn().expect("spawn run");
    let log = StderrLog::of(&mut daemon);
    let started = Instant::now();
    for round in 0..ROUNDS {
        publish_round(&server, round);
        // Let the daemon poll the new documents too, so both write at once.
        tokio::time::sleep(Duration::from_millis(300)).await;
        for (code, stderr) in fetches_together(&ws, 1).await {
            assert_eq!(code, 0, "round {round}: fetch beside run failed: {stderr}");
        }
        assert_round_stored(&ws, round).await;
    }
    let elapsed = started.elapsed();
    if let Some(pid) = daemon.id() {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
    }
    let status = tokio::time::timeout(Duration::from_secs(30), daemon.wait())
        .await
        .unwrap_or_else(|_| panic!("the daemon stops on SIGTERM; its log:\n{}", log.text()));
    let stderr = log.finish().await;
    assert!(
        !stderr.contains("cannot store"),
        "the daemon failed to store a poll beside fetch:\n{stderr}"
    );
    assert!(
        !stderr.contains("database is locked"),
        "the daemon hit a lock:\n{stderr}"
    );
    assert_eq!(status.unwrap().code(), Some(0), "{stderr}");
    eprintln!(
        "{ROUNDS} rounds of fetch beside run, {FEEDS} feeds: {:.1}s",
        elapsed.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_replicas_started_together_migrate_once() {
    let Some(db) = crate::support::db::PgDatabase::create().await else {
        return;
    };
    let server = TestServer::start().await;
    publish_round(&server, 0);
    let ws = Workspace::new("", &feeds(&server));
    let children: Vec<_> = (0..3)
        .map(|_| {
            feedsmith(&ws, &["--database-url", &db.url, "fetch"])
                .spawn()
                .expect("spawn feedsmith")
        })
        .collect();
    for child in children {
        let o = child.wait_with_output().await.unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let migrations: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    let posts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM posts")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .unwrap()
        .count();
    assert_eq!(migrations as usize, files);
    assert_eq!(posts as usize, FEEDS * ITEMS);
}

/// `fetch` on SIGTERM/SIGINT: no poll starts after the signal, the polls in flight finish within
/// `[schedule].shutdown_grace` (and are stored), the summary is printed, and the exit code is
/// 128 + the signal (143, 130).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_stops_on_sigterm_and_sigint_with_a_summary() {
    let server = TestServer::start().await;
    let mut feeds = String::new();
    for f in 0..10 {
        let path = format!("/slow{f}.xml");
        server.route(
            &path,
            Reply::Slow(
                Duration::from_millis(1500),
                Box::new(Reply::feed(crate::support::rss(
                    &format!("S{f}"),
                    &[(&format!("s{f}"), "Slow entry", "body")],
                ))),
            ),
        );
        feeds.push_str(&feed_toml(
            &format!("Slow {f}"),
            &server.url(&path),
            "blogs",
            "",
        ));
        let path = format!("/hang{f}.xml");
        server.route(&path, Reply::Hang);
    }
    let hanging: String = (0..10)
        .map(|f| {
            feed_toml(
                &format!("Hang {f}"),
                &server.url(&format!("/hang{f}.xml")),
                "blogs",
                "",
            )
        })
        .collect();

    for (signal, code, grace, feeds) in
        [("-TERM", 143, "10s", &feeds), ("-INT", 130, "1s", &hanging)]
    {
        let ws = Workspace::new(
            &format!(
                "[http]\nconcurrency = 2\ntimeout = \"60s\"\n[schedule]\nshutdown_grace = \"{grace}\"\n"
            ),
            feeds,
        );
        let child = feedsmith(&ws, &["fetch"]).spawn().unwrap();
        let pid = child.id().unwrap();
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let sent = Instant::now();
        let status = std::process::Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let out = child.wait_with_output().await.unwrap();
        let waited = sent.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{signal}: {stderr}");
        let summary = stderr
            .lines()
            .find(|l| l.starts_with("feeds: "))
            .unwrap_or_else(|| panic!("{signal}: no summary:\n{stderr}"));
        let ok: usize = summary["feeds: ".len()..]
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert!(stderr.contains("stopped by SIG"), "{stderr}");
        // Only the polls in flight at the signal (at most 4: twice the HTTP concurrency) ever
        // reached the server.
        let requests = server
            .all_requests()
            .into_iter()
            .filter(|(path, _)| path.starts_with(if code == 143 { "/slow" } else { "/hang" }))
            .count();
        assert!(requests <= 4, "{signal}: {requests} feeds requested");
        if code == 143 {
            // The polls in flight (at most 4: twice the HTTP concurrency) finished and were
            // stored; the others were never started.
            assert!((1..=4).contains(&ok), "{summary}");
            assert_eq!(requests, ok, "every poll in flight finished: {summary}");
            assert!(
                stderr.contains(&format!("{} of 10 feeds not polled", 10 - ok)),
                "{stderr}"
            );
            let (rows, _, _) = stored(&ws).await;
            assert_eq!(rows.len(), ok, "every finished poll is stored");
        } else {
            // Hanging feeds: the grace (1 s) runs out and fetch exits anyway.
            assert_eq!(ok, 0, "{summary}");
            assert!(waited < Duration::from_secs(15), "{waited:?}");
        }
    }
}

/// SIGHUP with a changed `[server].listen`: the daemon keeps its socket and says (WARN) that the
/// new address needs a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_with_a_changed_listen_address_warns_that_it_needs_a_restart() {
    let free_port = || crate::support::free_port();
    let (port, other) = (free_port(), free_port());
    let server = TestServer::start().await;
    publish_round(&server, 0);
    let ws = Workspace::new(
        &format!("[server]\nlisten = \"127.0.0.1:{port}\"\n"),
        &feeds(&server),
    );
    let mut daemon = feedsmith(&ws, &["run"]).spawn().unwrap();
    let pid = daemon.id().unwrap();
    let log = StderrLog::of(&mut daemon);
    let ready = format!("http://127.0.0.1:{port}/readyz");
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::get(&ready).await.map(|r| r.status().as_u16()).ok() != Some(200) {
        assert!(Instant::now() < deadline, "the daemon never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let config = std::fs::read_to_string(ws.config_path()).unwrap();
    std::fs::write(
        ws.config_path(),
        config.replace(&format!("127.0.0.1:{port}"), &format!("127.0.0.1:{other}")),
    )
    .unwrap();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = log.text();
        if let Some(line) = text.lines().find(|l| l.contains("[server].listen changed")) {
            assert!(line.contains("WARN"), "{line}");
            assert!(line.contains(&format!("127.0.0.1:{other}")), "{line}");
            assert!(line.contains("restart"), "{line}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no warning after SIGHUP:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Still serving on the old address.
    assert_eq!(
        reqwest::get(&ready).await.map(|r| r.status().as_u16()).ok(),
        Some(200)
    );
    let _ = daemon.start_kill();
    let _ = daemon.wait().await;
}

/// `fetch` claims each feed through its lease, as a daemon replica does: a feed the daemon is
/// polling right now (a slow server holds each request for 3 s) is never requested twice at
/// once. `fetch` waits until it can take the lease (and polls the feed itself) or until the
/// daemon has stored a poll that started after `fetch` did; the daemon here polls the feed
/// again every second, so this is also the case where it would keep taking the lease back.
/// Either way `fetch` exits 0 with nothing deferred. A feed on another host (127.0.0.3), which
/// the daemon is not polling, is not held up by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_beside_the_daemon_never_polls_the_same_feed_at_once() {
    let slow = TestServer::start_at("127.0.0.2:0").await;
    let body = crate::support::rss("Slow", &[("s1", "Slow post", "Body.")]);
    slow.route(
        "/slow.xml",
        Reply::Slow(Duration::from_secs(3), Box::new(Reply::feed(body))),
    );
    let quick = TestServer::start_at("127.0.0.3:0").await;
    quick.route(
        "/quick.xml",
        Reply::feed(crate::support::rss(
            "Quick",
            &[("q1", "Quick post", "Body.")],
        )),
    );
    let port = crate::support::free_port();
    let feeds = format!(
        "{}{}",
        feed_toml("Slow", &slow.url("/slow.xml"), "blogs", ""),
        // Not the daemon's: its schedule never comes during the test.
        feed_toml(
            "Quick",
            &quick.url("/quick.xml"),
            "blogs",
            "schedule = \"0 0 0 1 1 *\""
        )
    );
    let ws = Workspace::new(
        &format!("[server]\nlisten = \"127.0.0.1:{port}\"\n[schedule]\ndefault = \"*/1 * * * * *\"\nmax_jitter = \"0s\"\n"),
        &feeds,
    );
    let migrated = feedsmith(&ws, &["migrate"]).output().await.unwrap();
    assert!(migrated.status.success());
    let mut daemon = feedsmith(&ws, &["run"]).spawn().expect("spawn run");
    let deadline = Instant::now() + Duration::from_secs(20);
    while slow.times("/slow.xml").is_empty() {
        assert!(
            Instant::now() < deadline,
            "the daemon never polled the slow feed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let fetch_started = Instant::now();
    let fetch = ws.run(&["fetch"]).await;
    let fetch_took = fetch_started.elapsed();
    let _ = daemon.start_kill();
    let daemon_log = daemon
        .wait_with_output()
        .await
        .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        .unwrap_or_default();
    assert_eq!(fetch.code, 0, "{}\ndaemon: {daemon_log}", fetch.stderr);
    let times = slow.times("/slow.xml");
    assert!(
        times.len() >= 2,
        "the daemon's requests and fetch's: {times:?}\nfetch: {}\ndaemon: {daemon_log}",
        fetch.stderr
    );
    for pair in times.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(2500),
            "a request came while another was still open ({:?} apart): {times:?}",
            pair[1] - pair[0]
        );
    }
    assert!(
        fetch.stderr.contains("0 deferred") || !fetch.stderr.contains("deferred"),
        "fetch did not give up on the slow feed:\n{}\ndaemon: {daemon_log}",
        fetch.stderr
    );
    // The other host's feed was polled at once, not after the slow one.
    let quick_at = quick.times("/quick.xml");
    assert_eq!(quick_at.len(), 1);
    assert!(
        quick_at[0] < times[1],
        "the feed on 127.0.0.3 waited for the slow feed's lease"
    );
    assert!(fetch_took >= Duration::from_secs(1), "{fetch_took:?}");
    // Each feed has its one post: nothing stored twice.
    let posts = ws.posts().await;
    assert_eq!(posts.len(), 2, "{posts:?}");
}
