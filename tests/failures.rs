//! Storage failures an operator meets, made real: a full disk (a 2 MiB tmpfs), a read-only file
//! system, a file that is not a database, a database migrated by a newer feedsmith. Each must be
//! visible (readiness, metrics, the error text with the path and the fix), and the daemon must
//! recover by itself once the cause is gone.
//!
//! The tmpfs tests need `mount` (root, or a CI container that allows it); they say so and skip
//! otherwise.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::free_port;
use crate::support::{feed_toml, Reply, TestServer, Workspace};

/// A tmpfs of `size` mounted at a fresh directory, unmounted on drop.
struct Tmpfs {
    dir: PathBuf,
    _parent: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let parent = tempfile::tempdir().ok()?;
        let dir = parent.path().join("mnt");
        std::fs::create_dir(&dir).ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipping: cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)");
            return None;
        }
        Some(Tmpfs {
            dir,
            _parent: parent,
        })
    }

    fn remount(&self, opts: &str) {
        let ok = std::process::Command::new("mount")
            .args(["-o", &format!("remount,{opts}")])
            .arg(&self.dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "remount {opts}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.dir)
            .status();
    }
}

/// Fill the file system holding `dir` until a write fails (ENOSPC).
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let block = vec![0x55u8; 16 * 1024];
    while f.write_all(&block).is_ok() {}
    let _ = f.flush();
    path
}

async fn get(url: &str) -> (u16, String) {
    match reqwest::get(url).await {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.text().await.unwrap_or_default())
        }
        Err(_) => (0, String::new()),
    }
}

async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A feed of `n` entries of round `round`, each with a body of about `body_kib` KiB of text
/// that does not compress away in the database (SQLite does not compress; the text varies).
fn big_feed(round: usize, n: usize, body_kib: usize) -> String {
    let mut items = String::new();
    for i in 0..n {
        let body: String = (0..body_kib * 1024 / 16)
            .map(|w| format!("w{:06}r{round}i{i} ", w * 7919 % 1_000_003))
            .collect();
        items.push_str(&format!(
            "<item><guid>r{round}-i{i}</guid><title>Round {round} item {i}</title>\
             <link>http://example.org/{round}/{i}</link><description>{body}</description></item>"
        ));
    }
    format!("<rss version=\"2.0\"><channel><title>Big</title>{items}</channel></rss>")
}

fn metric(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_turns_readiness_red_counts_failed_polls_and_recovers() {
    let Some(fs) = Tmpfs::mount("2m") else { return };
    let server = TestServer::start().await;
    server.route("/big.xml", Reply::feed(big_feed(0, 2, 4)));
    let port = free_port();
    let ws = Workspace::new(
        &format!(
            "[schedule]\ndefault = \"*/1 * * * * *\"\nmax_jitter = \"0s\"\nshutdown_grace = \"1s\"\n\
             [server]\nlisten = \"127.0.0.1:{port}\"\n"
        ),
        &feed_toml("Big", &server.url("/big.xml"), "blogs", ""),
    );
    let db = fs.dir.join("feedsmith.db");
    let db_url = format!("sqlite://{}", db.display());
    let mut daemon = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedsmith"))
        .arg("--config")
        .arg(ws.config_path())
        .args(["--database-url", &db_url, "run"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    wait_until(
        "the first poll and readiness",
        Duration::from_secs(20),
        || async {
            get(&format!("{base}/readyz")).await.0 == 200 && !server.statuses("/big.xml").is_empty()
        },
    )
    .await;

    // The disk fills up, then the feed brings large new entries: every write fails.
    let filler = fill(&fs.dir);
    server.route("/big.xml", Reply::feed(big_feed(1, 8, 64)));
    wait_until(
        "/readyz 503 after failed writes",
        Duration::from_secs(30),
        || async { get(&format!("{base}/readyz")).await.0 == 503 },
    )
    .await;
    let (_, body) = get(&format!("{base}/readyz")).await;
    assert!(body.contains("full"), "readyz names the cause: {body}");
    let (_, metrics) = get(&format!("{base}/metrics")).await;
    assert!(
        metric(&metrics, "feedsmith_polls_total{outcome=\"failed\"}") >= 1.0,
        "{metrics}"
    );
    assert!(
        metric(&metrics, "feedsmith_store_write_failures_total") >= 1.0,
        "{metrics}"
    );
    // The gauge follows the feeds' rows at each scheduler tick (every second here).
    wait_until("feeds_failing >= 1", Duration::from_secs(10), || async {
        metric(
            &get(&format!("{base}/metrics")).await.1,
            "feedsmith_feeds_failing",
        ) >= 1.0
    })
    .await;
    let (_, feeds) = get(&format!("{base}/api/feeds")).await;
    let feeds: serde_json::Value = serde_json::from_str(&feeds).unwrap();
    assert_eq!(feeds[0]["last_outcome"], "failed", "{feeds}");
    assert!(
        feeds[0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot store")),
        "{feeds}"
    );

    // Space comes back: the next poll stores everything and readiness turns green again.
    std::fs::remove_file(filler).unwrap();
    wait_until(
        "/readyz 200 after space is freed",
        Duration::from_secs(30),
        || async { get(&format!("{base}/readyz")).await.0 == 200 },
    )
    .await;
    let pool = sqlx::SqlitePool::connect(&db_url).await.unwrap();
    wait_until(
        "the round-1 entries stored",
        Duration::from_secs(20),
        || async {
            let n: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM posts WHERE entry_key LIKE 'r1-%'")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            n == 8
        },
    )
    .await;
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(integrity, "ok");
    pool.close().await;
    let (_, feeds) = get(&format!("{base}/api/feeds")).await;
    let feeds: serde_json::Value = serde_json::from_str(&feeds).unwrap();
    // `ok`, or `not_modified` when a re-poll came after the one that stored the entries.
    assert_ne!(feeds[0]["last_outcome"], "failed", "{feeds}");
    let _ = daemon.start_kill();
    let _ = daemon.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_on_a_read_only_database_fails_before_downloading_and_names_the_path() {
    let Some(fs) = Tmpfs::mount("4m") else { return };
    let server = TestServer::start().await;
    server.route("/a.xml", Reply::feed(big_feed(0, 1, 1)));
    let ws = Workspace::new("", &feed_toml("A", &server.url("/a.xml"), "blogs", ""));
    let db = fs.dir.join("feedsmith.db");
    let db_url = format!("sqlite://{}", db.display());
    let out = ws.run(&["--database-url", &db_url, "migrate"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    fs.remount("ro");
    let out = ws.run(&["--database-url", &db_url, "fetch"]).await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(&db.display().to_string()),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("not writable"), "{}", out.stderr);
    assert!(out.stderr.contains("fix:"), "{}", out.stderr);
    assert!(
        server.statuses("/a.xml").is_empty(),
        "fetch downloaded feeds before finding the database read-only"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_from_a_newer_feedsmith_gets_a_clear_message() {
    let ws = Workspace::new("", "");
    let out = ws.run(&["migrate"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let url = format!("sqlite://{}", ws.db_path().display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (29991231000001, 'from the future', TRUE, x'00', 1)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    for args in [&["migrate"][..], &["posts", "list"][..]] {
        let out = ws.run(args).await;
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains(
                "this database was migrated by a newer feedsmith (migration 29991231000001); \
                 upgrade feedsmith or use another database"
            ),
            "{args:?}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains(&ws.db_path().display().to_string()),
            "{}",
            out.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_is_not_a_database_gets_sqlites_message_and_the_path() {
    let ws = Workspace::new("", "");
    let garbage: Vec<u8> = (0..16384u32).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(ws.db_path(), garbage).unwrap();
    let out = ws.run(&["posts", "list"]).await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("file is not a database"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&ws.db_path().display().to_string()),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("writable"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_database_names_the_file_and_how_to_recover() {
    let server = TestServer::start().await;
    server.route("/a.xml", Reply::feed(big_feed(0, 60, 2)));
    let ws = Workspace::new("", &feed_toml("A", &server.url("/a.xml"), "blogs", ""));
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Overwrite three pages in the middle of the file (the posts' pages, by then).
    let db = ws.db_path();
    let len = std::fs::metadata(&db).unwrap().len();
    let pages = len / 4096;
    assert!(pages > 10, "{pages} pages");
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
        f.seek(SeekFrom::Start(pages / 2 * 4096)).unwrap();
        f.write_all(&vec![0xABu8; 3 * 4096]).unwrap();
    }
    let out = ws.run(&["posts", "list"]).await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    // What can still be read is listed (row by row around the damaged pages), and the error
    // says how much could not be.
    let listed = out.stdout.lines().count();
    eprintln!("damaged file: {listed} of 60 posts listed\n{}", out.stderr);
    assert!(
        listed > 0 && listed < 60,
        "{listed} posts listed: {}",
        out.stdout
    );
    assert!(
        out.stderr
            .contains(&format!("the {listed} posts above could be read")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("malformed"),
        "SQLite's own words: {}",
        out.stderr
    );
    // `export` writes the posts that can be read, and prunes nothing on that partial set.
    let site = ws.dir.path().join("site");
    std::fs::create_dir_all(site.join("_blogs")).unwrap();
    let export = ws
        .run(&["export", "--out", site.to_str().unwrap(), "--prune"])
        .await;
    assert_eq!(export.code, 1, "{}", export.stderr);
    let written = std::fs::read_dir(site.join("_blogs")).unwrap().count();
    assert_eq!(written, listed, "{}", export.stderr);
    assert!(
        export.stderr.contains(
            "the posts that could be read were exported, 3 could not be; nothing was pruned"
        ),
        "{}",
        export.stderr
    );
    assert!(
        out.stderr.contains(&db.display().to_string()) && out.stderr.contains(".recover"),
        "{}",
        out.stderr
    );
}
