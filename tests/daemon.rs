//! `feedsmith run` as a real process: a seconds-level cron against a loopback HTTP server,
//! systemd notifications on a real unix datagram socket, SIGHUP reload, SIGTERM shutdown.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use crate::support::free_port;
use crate::support::{feed_toml, rss, Reply, StderrLog, TestServer, Workspace};

async fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

struct Notify {
    socket: UnixDatagram,
    seen: Vec<String>,
}

impl Notify {
    fn new(dir: &std::path::Path) -> (Notify, std::path::PathBuf) {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket.set_nonblocking(true).unwrap();
        (
            Notify {
                socket,
                seen: Vec::new(),
            },
            path,
        )
    }
    fn drain(&mut self) -> &[String] {
        let mut buf = [0u8; 512];
        while let Ok(n) = self.socket.recv(&mut buf) {
            self.seen
                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        &self.seen
    }
    fn has(&mut self, msg: &str) -> bool {
        self.drain().iter().any(|m| m == msg)
    }
}

fn kill(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// `feedsmith run` with JSON logs on `ws`'s configuration (plus what `configure` adds): the
/// child, its pid and its stderr, read as it comes.
fn spawn_run(
    ws: &Workspace,
    configure: impl FnOnce(&mut tokio::process::Command),
) -> (tokio::process::Child, u32, StderrLog) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedsmith"));
    cmd.arg("--config")
        .arg(ws.config_path())
        .args(["--log-format", "json", "run"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    configure(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    let pid = child.id().unwrap();
    let log = StderrLog::of(&mut child);
    (child, pid, log)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_polls_reloads_and_stops_cleanly() {
    let server = TestServer::start().await;
    server.route("/a.xml", Reply::feed(rss("A", &[("a1", "A one", "first")])));
    server.route("/b.xml", Reply::feed(rss("B", &[("b1", "B one", "first")])));
    server.route("/c.xml", Reply::feed(rss("C", &[("c1", "C one", "first")])));
    let port = free_port();
    let extra = format!("[schedule]\ndefault = \"*/1 * * * * *\"\nshutdown_grace = \"3s\"\n[server]\nlisten = \"127.0.0.1:{port}\"\n");
    let feeds_ab = format!(
        "{}{}",
        feed_toml("A", &server.url("/a.xml"), "blogs", ""),
        feed_toml("B", &server.url("/b.xml"), "blogs", "")
    );
    let ws = Workspace::new(&extra, &feeds_ab);
    let (mut notify, sock) = Notify::new(ws.dir.path());

    let (mut child, pid, log) = spawn_run(&ws, |cmd| {
        cmd.env("NOTIFY_SOCKET", &sock)
            .env("WATCHDOG_USEC", "2000000")
            .env_remove("WATCHDOG_PID");
    });

    wait_for("READY=1", Duration::from_secs(20), || notify.has("READY=1")).await;
    wait_for("first polls", Duration::from_secs(10), || {
        server.statuses("/a.xml").first() == Some(&200)
    })
    .await;
    wait_for("a conditional re-poll", Duration::from_secs(10), || {
        server.statuses("/a.xml").contains(&304)
    })
    .await;
    wait_for("WATCHDOG=1", Duration::from_secs(5), || {
        notify.has("WATCHDOG=1")
    })
    .await;

    // HTTP endpoints.
    let base = format!("http://127.0.0.1:{port}");
    assert_eq!(get(&format!("{base}/healthz")).await.0, 200);
    let (status, body) = get(&format!("{base}/readyz")).await;
    assert_eq!(status, 200, "{body}");
    let (_, metrics) = get(&format!("{base}/metrics")).await;
    assert!(
        metrics.contains("feedsmith_polls_total{outcome=\"ok\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("feedsmith_fetch_duration_seconds_bucket")
            && metrics.contains("feedsmith_articles_total{outcome=\"ok\"} 0")
            && metrics.contains("feedsmith_articles_pending 0"),
        "{metrics}"
    );
    let (_, feeds) = get(&format!("{base}/api/feeds")).await;
    let feeds: serde_json::Value = serde_json::from_str(&feeds).unwrap();
    assert_eq!(feeds.as_array().unwrap().len(), 2);
    assert!(
        feeds[0]["last_outcome"].is_string() && feeds[0]["next_due_at"].is_string(),
        "{feeds}"
    );

    // New entries appear after the server adds them.
    server.route(
        "/a.xml",
        Reply::feed(rss(
            "A",
            &[("a1", "A one", "first"), ("a2", "A two", "second")],
        )),
    );
    let mut found = false;
    for _ in 0..50 {
        let posts = ws.posts().await;
        if posts.iter().any(|p| p["title"] == "A two") {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(found, "the new entry was stored by the daemon");

    // Reload: B removed, C added.
    let feeds_ac = format!(
        "{}{}",
        feed_toml("A", &server.url("/a.xml"), "blogs", ""),
        feed_toml("C", &server.url("/c.xml"), "blogs", "")
    );
    std::fs::write(
        ws.config_path(),
        std::fs::read_to_string(ws.config_path())
            .unwrap()
            .replace(&feeds_ab, &feeds_ac),
    )
    .unwrap();
    kill(pid, "-HUP");
    wait_for("RELOADING=1", Duration::from_secs(10), || {
        notify.has("RELOADING=1")
    })
    .await;
    wait_for("C polled after reload", Duration::from_secs(10), || {
        !server.statuses("/c.xml").is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let b_after_reload = server.statuses("/b.xml").len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        server.statuses("/b.xml").len(),
        b_after_reload,
        "a removed feed is no longer polled"
    );

    // An invalid configuration is refused and the running one stays.
    std::fs::write(ws.config_path(), "[http]\ntimeot = 1\n").unwrap();
    kill(pid, "-HUP");
    let c_before = server.statuses("/c.xml").len();
    wait_for(
        "C still polled after a bad reload",
        Duration::from_secs(10),
        || server.statuses("/c.xml").len() > c_before + 1,
    )
    .await;

    // Clean shutdown.
    let stopping = Instant::now();
    kill(pid, "-TERM");
    let status = match tokio::time::timeout(Duration::from_secs(15), child.wait()).await {
        Ok(status) => status.unwrap(),
        Err(_) => panic!(
            "the daemon did not exit within 15 s of SIGTERM; its log:\n{}",
            log.text()
        ),
    };
    let stderr = log.finish().await;
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stopping.elapsed() < Duration::from_secs(10), "{stderr}");
    assert!(notify.has("STOPPING=1"));
    assert!(stderr.contains("configuration reload failed"), "{stderr}");
    assert!(
        stderr.contains("\"message\":\"polled\""),
        "JSON logs with one line per poll: {stderr:.2000}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_feeds_do_not_delay_healthy_ones() {
    let server = TestServer::start().await;
    server.route("/ok.xml", Reply::feed(rss("Ok", &[("o1", "Fine", "fine")])));
    server.route("/hang.xml", Reply::Hang);
    server.route("/500.xml", Reply::status(500, "boom"));
    server.route(
        "/garbage.xml",
        Reply::feed(b"<html><body>not a feed</body></html>".to_vec())
            .with_content_type("text/html"),
    );
    let port = free_port();
    let extra = format!("[schedule]\ndefault = \"*/1 * * * * *\"\nshutdown_grace = \"1s\"\n[server]\nlisten = \"127.0.0.1:{port}\"\n");
    let mut feeds = String::new();
    for (name, path) in [
        ("Ok", "/ok.xml"),
        ("Hang", "/hang.xml"),
        ("Err", "/500.xml"),
        ("Garbage", "/garbage.xml"),
    ] {
        feeds.push_str(&feed_toml(name, &server.url(path), "blogs", ""));
    }
    let ws = Workspace::new(&extra, &feeds);
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedsmith"))
        .arg("--config")
        .arg(ws.config_path())
        .arg("run")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    // The healthy feed is polled on (nearly) every one-second tick while the hanging one waits
    // for its timeout; the failing ones back off.
    wait_for(
        "healthy feed polled 5 times",
        Duration::from_secs(15),
        || server.statuses("/ok.xml").len() >= 5,
    )
    .await;
    assert_eq!(
        server.statuses("/hang.xml").len(),
        1,
        "a hanging feed is never polled twice at once"
    );
    assert_eq!(
        server.statuses("/500.xml").len(),
        1,
        "a failing feed backs off"
    );
    assert!(child.try_wait().unwrap().is_none(), "the daemon stays up");
    let rss_kb = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap();
    assert!(rss_kb < 200_000, "memory stays bounded: {rss_kb} kB");
    let (_, feeds) = get(&format!("http://127.0.0.1:{port}/api/feeds")).await;
    let feeds: serde_json::Value = serde_json::from_str(&feeds).unwrap();
    let err = feeds
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Err")
        .unwrap();
    assert_eq!(err["last_outcome"], "failed");
    assert_eq!(err["last_status"], 500);
    assert_eq!(err["consecutive_failures"], 1);

    kill(pid, "-TERM");
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits")
        .unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "the hanging poll is cancelled after the grace period"
    );
}

/// SIGTERM waits for the poll in flight, up to `shutdown_grace`; a second SIGTERM (an operator
/// who will not wait, or `systemctl kill`) ends the process at once and says where shutdown was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigterm_ends_a_waiting_shutdown_at_once() {
    let server = TestServer::start().await;
    server.route("/hang.xml", Reply::Hang);
    let extra = "[http]\ntimeout = \"120s\"\n[schedule]\ndefault = \"*/1 * * * * *\"\nshutdown_grace = \"60s\"\nmax_jitter = \"0s\"\n";
    let ws = Workspace::new(
        extra,
        &feed_toml("Hang", &server.url("/hang.xml"), "blogs", ""),
    );
    let (mut child, pid, log) = spawn_run(&ws, |_| {});
    wait_for("the hanging poll started", Duration::from_secs(20), || {
        !server.times("/hang.xml").is_empty()
    })
    .await;
    kill(pid, "-TERM");
    wait_for(
        "shutdown waits for the poll",
        Duration::from_secs(10),
        || log.text().contains("waiting for in-flight polls"),
    )
    .await;
    // Still waiting: the grace period is a minute.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(child.try_wait().unwrap().is_none(), "{}", log.text());
    let second = Instant::now();
    kill(pid, "-TERM");
    let status = match tokio::time::timeout(Duration::from_secs(10), child.wait()).await {
        Ok(status) => status.unwrap(),
        Err(_) => panic!("a second SIGTERM did not end the daemon:\n{}", log.text()),
    };
    assert!(second.elapsed() < Duration::from_secs(5));
    let stderr = log.finish().await;
    assert_eq!(status.code(), Some(0), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("second SIGTERM"))
        .unwrap_or_else(|| panic!("no word of the second signal:\n{stderr}"));
    assert!(line.contains("\"step\":\"polls\""), "{line}");
}
