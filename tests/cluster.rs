//! Cluster mode against the real PostgreSQL: several `feedsmith run` replicas share one fresh
//! database and a few hundred loopback feeds; every feed is polled by exactly one replica per
//! cycle, posts are stored once, and a replica killed mid-poll loses its feeds only until its
//! lease expires.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::db::PgDatabase;
use crate::support::free_port;
use crate::support::{feed_toml, rss, Reply, TestServer};

fn write_config(
    dir: &std::path::Path,
    db_url: &str,
    port: u16,
    schedule: &str,
    feeds: &str,
) -> std::path::PathBuf {
    let path = dir.join(format!("replica-{port}.toml"));
    let text = format!(
        "[database]\nurl = \"{db_url}\"\nmax_connections = 4\n[http]\ntimeout = \"10s\"\nconcurrency = 32\nper_host_concurrency = 32\n\
         [schedule]\ndefault = \"{schedule}\"\nlease = \"3s\"\nshutdown_grace = \"2s\"\n[server]\nlisten = \"127.0.0.1:{port}\"\n[articles]\nfull_content = \"never\"\n{feeds}"
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn start_replica(config: &std::path::Path) -> tokio::process::Child {
    start_replica_on(config, None)
}

/// A replica whose lease owner names `host` (its `HOSTNAME`), as a container's would: a replica
/// of another host cannot tell whether a lease's owner still runs, so it waits for the lease to
/// expire (replicas of one host free a stopped replica's leases at once).
fn start_replica_on(config: &std::path::Path, host: Option<&str>) -> tokio::process::Child {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedsmith"));
    if let Some(host) = host {
        command.env("HOSTNAME", host);
    }
    command
        .arg("--config")
        .arg(config)
        .arg("run")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

async fn post_count(db_url: &str) -> (i64, i64) {
    let pool = sqlx::PgPool::connect(db_url).await.unwrap();
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM posts")
        .fetch_one(&pool)
        .await
        .unwrap();
    let distinct: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT canonical_url) FROM posts")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    (total, distinct)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_poll_each_feed_once_per_cycle() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let server = TestServer::start().await;
    let n = 200;
    let mut feeds = String::new();
    for i in 0..n {
        let path = format!("/f{i}.xml");
        server.route(
            &path,
            Reply::feed(rss(
                "F",
                &[(&format!("e{i}"), &format!("Entry {i}"), "body")],
            )),
        );
        feeds.push_str(&feed_toml(
            &format!("Feed {i}"),
            &server.url(&path),
            "blogs",
            "",
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let period = 4u64;
    let schedule = format!("*/{period} * * * * *");
    let mut replicas = Vec::new();
    for _ in 0..3 {
        let cfg = write_config(dir.path(), &db.url, free_port(), &schedule, &feeds);
        replicas.push(start_replica(&cfg));
    }
    // Let them run several cycles.
    tokio::time::sleep(Duration::from_secs(period * 4 + 2)).await;
    for r in &mut replicas {
        r.start_kill().unwrap();
        let _ = r.wait().await;
    }

    let mut polled = 0;
    for i in 0..n {
        let times = server.times(&format!("/f{i}.xml"));
        if !times.is_empty() {
            polled += 1;
        }
        for pair in times.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(
                gap > Duration::from_secs(period) / 2,
                "feed {i} was polled twice in one cycle ({gap:?} apart)"
            );
        }
        assert!(
            times.len() >= 2,
            "feed {i} polled only {} times in 4 cycles",
            times.len()
        );
    }
    assert_eq!(polled, n, "every feed was polled");
    let (total, distinct) = post_count(&db.url).await;
    assert_eq!((total, distinct), (n as i64, n as i64), "posts stored once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replicas_feed_is_taken_over_after_its_lease() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let server = TestServer::start().await;
    // The slow feed keeps its poller busy long enough to be killed mid-poll.
    let body = rss("S", &[("s1", "Slow one", "body")]);
    server.route(
        "/slow.xml",
        Reply::Slow(Duration::from_secs(4), Box::new(Reply::feed(body))),
    );
    let feeds = feed_toml("Slow", &server.url("/slow.xml"), "blogs", "");
    let dir = tempfile::tempdir().unwrap();
    let schedule = "*/1 * * * * *";

    // On "another host": the survivors cannot see that it stopped, only that its lease expired.
    let mut first = start_replica_on(
        &write_config(dir.path(), &db.url, free_port(), schedule, &feeds),
        Some("replica-a.example"),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.times("/slow.xml").is_empty() {
        assert!(Instant::now() < deadline, "the first replica never polled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // SIGKILL mid-poll: no shutdown, the lease stays behind.
    first.start_kill().unwrap();
    let _ = first.wait().await;
    let killed_at = Instant::now();

    let mut others = Vec::new();
    for _ in 0..2 {
        others.push(start_replica(&write_config(
            dir.path(),
            &db.url,
            free_port(),
            schedule,
            &feeds,
        )));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.times("/slow.xml").len() < 2 {
        assert!(Instant::now() < deadline, "no replica took the feed over");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let takeover = server.times("/slow.xml")[1] - killed_at;
    eprintln!(
        "lease takeover after a kill: {:.2}s (lease 3s)",
        takeover.as_secs_f64()
    );
    assert!(
        takeover >= Duration::from_secs(2),
        "taken over before the lease expired: {takeover:?}"
    );
    // Wait for the slow poll to be stored, then check nothing was duplicated.
    tokio::time::sleep(Duration::from_secs(6)).await;
    for r in &mut others {
        r.start_kill().unwrap();
        let _ = r.wait().await;
    }
    assert_eq!(post_count(&db.url).await, (1, 1));
}

/// Hosts, not replicas, set the pace: two `run` replicas on one PostgreSQL database, twenty
/// feeds of one host at `[[hosts]] interval = "1s"` (burst 1), all due every two seconds. The
/// host's pace is reserved through the `hosts` table, so the server sees at most one request
/// start per second in total, not one per replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_a_hosts_interval() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let server = TestServer::start_at("127.0.0.5:0").await;
    let mut feeds = String::new();
    for i in 0..20 {
        let path = format!("/f{i}.xml");
        server.route(
            &path,
            Reply::feed(rss(
                "F",
                &[(&format!("h{i}"), &format!("Entry {i}"), "body")],
            )),
        );
        feeds.push_str(&feed_toml(
            &format!("Feed {i}"),
            &server.url(&path),
            "blogs",
            "",
        ));
    }
    feeds.push_str("[[hosts]]\nmatch = \"127.0.0.5\"\ninterval = \"1s\"\n");
    let dir = tempfile::tempdir().unwrap();
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let cfg = write_config(dir.path(), &db.url, free_port(), "*/2 * * * * *", &feeds);
        replicas.push(start_replica(&cfg));
    }
    tokio::time::sleep(Duration::from_secs(20)).await;
    for r in &mut replicas {
        r.start_kill().unwrap();
        let _ = r.wait().await;
    }
    let mut starts: Vec<Instant> = server.all_requests().into_iter().map(|(_, t)| t).collect();
    starts.sort();
    let gaps: Vec<u128> = starts
        .windows(2)
        .map(|w| w[1].duration_since(w[0]).as_millis())
        .collect();
    let span = starts
        .last()
        .zip(starts.first())
        .map_or(0, |(l, f)| l.duration_since(*f).as_millis());
    eprintln!(
        "two replicas, one host at 1/s: {} requests over {span} ms; ms between starts: {gaps:?}",
        starts.len()
    );
    assert!(starts.len() >= 10, "the replicas polled: {gaps:?}");
    // Each start is reserved 1 s after the previous one; what the server sees may shift by the
    // time a request takes to be sent on a loaded machine (100 ms allowed per gap), and the
    // whole run must hold one interval per request.
    assert!(gaps.iter().all(|&g| g >= 900), "{gaps:?}");
    assert!(
        span as usize >= (starts.len() - 1) * 980,
        "{} requests in {span} ms: {gaps:?}",
        starts.len()
    );
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let reserved: i64 = sqlx::query_scalar("SELECT requests FROM hosts WHERE host = '127.0.0.5'")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert!(reserved as usize >= starts.len(), "{reserved} reservations");
}
