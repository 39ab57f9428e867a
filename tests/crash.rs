//! Crash safety: SIGKILL `feedsmith fetch` (SQLite) and `feedsmith run` (PostgreSQL) at
//! pseudo-random moments while they store 500 loopback feeds. After every kill the database is
//! intact, every post committed before the kill is still there, nothing is duplicated, and the
//! next run completes the work.

use std::collections::HashSet;
use std::time::Duration;

use crate::support::db::PgDatabase;
use crate::support::{feed_toml, Reply, TestServer, Workspace};

const FEEDS: usize = 500;
const ITEMS: usize = 5;

async fn farm() -> (TestServer, String) {
    let server = TestServer::start().await;
    let mut feeds = String::new();
    for f in 0..FEEDS {
        let items: String = (0..ITEMS)
            .map(|i| format!("<item><guid>f{f}-{i}</guid><title>Feed {f} item {i}</title><link>http://example.org/{f}/{i}</link><description>&lt;p&gt;Body {f} {i}&lt;/p&gt;</description></item>"))
            .collect();
        let path = format!("/{f}.xml");
        server.route(
            &path,
            Reply::feed(format!(
                "<rss version=\"2.0\"><channel><title>F{f}</title>{items}</channel></rss>"
            )),
        );
        feeds.push_str(&feed_toml(
            &format!("Feed {f}"),
            &server.url(&path),
            "blogs",
            "",
        ));
    }
    (server, feeds)
}

/// A small deterministic generator for kill delays (no dependency on a RNG crate).
fn delays(seed: u64, n: usize, max_ms: u64) -> Vec<Duration> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            Duration::from_millis(30 + x % max_ms)
        })
        .collect()
}

fn kill9(child: &tokio::process::Child) {
    if let Some(pid) = child.id() {
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
    }
}

/// Start `feedsmith fetch` in `ws`, SIGKILL it after `delay`; whether the kill landed before it
/// exited on its own.
async fn fetch_killed_after(ws: &Workspace, delay: Duration) -> bool {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedsmith"))
        .arg("--config")
        .arg(ws.config_path())
        .arg("fetch")
        .env("RUST_LOG", "off")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(delay).await;
    kill9(&child);
    let status = child.wait_with_output().await.unwrap().status;
    status.code().is_none()
}

async fn sqlite_urls(db: &std::path::Path) -> Vec<String> {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(check, "ok", "SQLite integrity check after a kill");
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT f.url, p.entry_key, p.canonical_url, p.path FROM posts p JOIN feeds f ON f.id = p.feed_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    check_posts(&rows)
}

/// The schema already makes `canonical_url`, `path` and `(feed, entry_key)` unique, so counting
/// distinct URLs proves nothing. What a kill could really break: a post stored under another
/// feed or entry, or an entry stored a second time under a suffixed slug (`...-2.md`) because
/// its first row was not seen. So every post must be entry `f{f}-{i}` of feed `/{f}.xml`, with
/// its own link, at the unsuffixed path of its title. Returns the canonical URLs.
fn check_posts(rows: &[(String, String, String, String)]) -> Vec<String> {
    for (feed_url, key, url, path) in rows {
        let (f, i) = key
            .strip_prefix('f')
            .and_then(|k| k.split_once('-'))
            .unwrap_or_else(|| panic!("unexpected entry key {key:?}"));
        assert!(
            feed_url.ends_with(&format!("/{f}.xml")),
            "{key} stored under feed {feed_url}"
        );
        assert_eq!(url, &format!("http://example.org/{f}/{i}"), "{key}");
        assert!(
            path.ends_with(&format!("-Feed-{f}-item-{i}.md")),
            "{key} stored at {path} (a second copy under a suffixed slug?)"
        );
    }
    rows.iter().map(|r| r.2.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_fetch_loses_and_duplicates_nothing() {
    let (_server, feeds) = farm().await;
    let ws = Workspace::new(
        "[http]\nconcurrency = 32\nper_host_concurrency = 32\n",
        &feeds,
    );
    assert_eq!(ws.run(&["migrate"]).await.code, 0);
    let mut committed: HashSet<String> = HashSet::new();
    let mut kills_mid_work = 0;
    for delay in delays(0x5eed, 8, 400) {
        if fetch_killed_after(&ws, delay).await {
            kills_mid_work += 1;
        }
        let now: HashSet<String> = sqlite_urls(&ws.db_path()).await.into_iter().collect();
        assert!(
            committed.is_subset(&now),
            "posts committed before a kill disappeared"
        );
        committed = now;
    }
    eprintln!("crash test: {kills_mid_work} of 8 kills landed mid-run");
    assert!(
        kills_mid_work >= 2,
        "kills must land mid-run ({kills_mid_work})"
    );
    let done = ws.run(&["fetch"]).await;
    assert_eq!(done.code, 0, "{}", done.stderr);
    let urls: HashSet<String> = sqlite_urls(&ws.db_path()).await.into_iter().collect();
    let expected: HashSet<String> = (0..FEEDS)
        .flat_map(|f| (0..ITEMS).map(move |i| format!("http://example.org/{f}/{i}")))
        .collect();
    assert_eq!(urls, expected, "the next run completes the work");
}

/// Every feed's validators, by URL.
async fn sqlite_validators(db: &std::path::Path) -> Vec<(String, Option<String>)> {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let rows = sqlx::query_as("SELECT url, etag FROM feeds ORDER BY url")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    rows
}

/// A warm fetch (every feed answers 304) stores only feed rows, group-committed: a kill at any
/// moment loses no post and no validator (at most the poll times of rows not committed yet, so
/// those feeds are simply polled again), and the next run completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_warm_fetch_loses_nothing_that_matters() {
    let (_server, feeds) = farm().await;
    let ws = Workspace::new(
        "[http]\nconcurrency = 32\nper_host_concurrency = 32\n",
        &feeds,
    );
    let cold = ws.run(&["fetch"]).await;
    assert_eq!(cold.code, 0, "{}", cold.stderr);
    let mut posts = sqlite_urls(&ws.db_path()).await;
    posts.sort();
    assert_eq!(posts.len(), FEEDS * ITEMS);
    let validators = sqlite_validators(&ws.db_path()).await;
    assert_eq!(validators.len(), FEEDS);
    assert!(validators.iter().all(|(_, etag)| etag.is_some()));
    let mut kills_mid_work = 0;
    for delay in delays(0xa11ce, 8, 80) {
        if fetch_killed_after(&ws, delay).await {
            kills_mid_work += 1;
        }
        let mut now = sqlite_urls(&ws.db_path()).await;
        now.sort();
        assert_eq!(
            now, posts,
            "the posts are exactly those stored before the kill"
        );
        assert_eq!(
            sqlite_validators(&ws.db_path()).await,
            validators,
            "every feed keeps its validators"
        );
    }
    eprintln!("warm crash test: {kills_mid_work} of 8 kills landed mid-run");
    let done = ws.run(&["fetch"]).await;
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert!(
        done.stderr.contains(&format!("{FEEDS} not modified")),
        "{}",
        done.stderr
    );
}

/// A `fetch` killed with SIGKILL leaves the leases it had just claimed. The next `fetch` on this
/// host sees that their owner no longer runs, frees them, and polls every feed: none is
/// deferred until the leases expire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_of_a_killed_fetch_do_not_hold_the_next_run() {
    let (_server, feeds) = farm().await;
    let ws = Workspace::new(
        "[http]\nconcurrency = 32\nper_host_concurrency = 32\nmax_host_wait = \"2s\"\n",
        &feeds,
    );
    let cold = ws.run(&["fetch"]).await;
    assert_eq!(cold.code, 0, "{}", cold.stderr);
    // A process of this host that has ended (its pid is free now), and one of another host.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    gone.wait().unwrap();
    let me = feedsmith::store::lease_owner();
    let (host, _) = feedsmith::store::owner_host_pid(me).unwrap();
    let dead = format!("{host}:{gone_pid}:1");
    let elsewhere = format!("{host}-other-replica:{}:1", std::process::id());
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", ws.db_path().display()))
        .await
        .unwrap();
    let far = "2999-01-01T00:00:00+00:00";
    sqlx::query("UPDATE feeds SET lease_owner = CASE WHEN id % 50 = 0 THEN ?1 ELSE ?2 END, lease_until = ?3")
        .bind(&elsewhere)
        .bind(&dead)
        .bind(far)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let started = std::time::Instant::now();
    let warm = ws.run(&["fetch"]).await;
    // Only the other host's 10 feeds stay leased: they are deferred after the wait.
    assert_eq!(warm.code, 0, "{}", warm.stderr);
    let polled = FEEDS - FEEDS / 50;
    assert!(
        warm.stderr.contains(&format!("{polled} not modified")),
        "{}",
        warm.stderr
    );
    assert!(
        warm.stderr
            .contains("freed the feed leases of feedsmith processes on this host"),
        "{}",
        warm.stderr
    );
    let deferred = warm.stderr.matches("is polling it now").count();
    assert_eq!(deferred, FEEDS / 50, "{}", warm.stderr);
    eprintln!("second run: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_the_daemon_under_postgresql() {
    let (_server, feeds) = farm().await;
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("feedsmith.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"{}\"\n[http]\nconcurrency = 32\nper_host_concurrency = 32\n[schedule]\ndefault = \"*/1 * * * * *\"\nmax_jitter = \"0s\"\nlease = \"2s\"\n[server]\nlisten = \"127.0.0.1:0\"\n[articles]\nfull_content = \"never\"\n{feeds}",
            db.url
        ),
    )
    .unwrap();
    let pool = sqlx::PgPool::connect(&db.url).await.ok();
    let mut committed: HashSet<String> = HashSet::new();
    for delay in delays(0xfeed, 5, 2500) {
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedsmith"))
            .arg("--config")
            .arg(&config)
            .arg("run")
            .env("RUST_LOG", "off")
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(800) + delay).await;
        kill9(&child);
        let _ = child.wait_with_output().await;
        let pool = match &pool {
            Some(p) => p.clone(),
            None => sqlx::PgPool::connect(&db.url).await.unwrap(),
        };
        let rows: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT f.url, p.entry_key, p.canonical_url, p.path FROM posts p JOIN feeds f ON f.id = p.feed_id",
        )
        .fetch_all(&pool)
        .await
        .unwrap_or_default();
        let now: HashSet<String> = check_posts(&rows).into_iter().collect();
        assert!(
            committed.is_subset(&now),
            "posts committed before a kill disappeared"
        );
        committed = now;
    }
    // A final daemon finishes the work once the dead one's leases expire.
    let mut last = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedsmith"))
        .arg("--config")
        .arg(&config)
        .arg("run")
        .env("RUST_LOG", "off")
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM posts")
            .fetch_one(&pool)
            .await
            .unwrap();
        if n as usize == FEEDS * ITEMS {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "only {n} posts after the restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let distinct: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT canonical_url) FROM posts")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(distinct as usize, FEEDS * ITEMS);
    last.start_kill().unwrap();
    let _ = last.wait().await;
    pool.close().await;
}
