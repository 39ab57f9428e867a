//! The daemon's API exposed to a hostile network (issue 18): slowloris sockets are closed
//! within the header timeout, 1100 idle sockets against a process limited to 1024 descriptors
//! leave `/healthz` answering, the bearer token guards `/api/*` and `/feed.xml` (not the
//! probes), and `/feed.xml` never reflects the `Host` header. The real binary under `run`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::free_port;
use crate::support::{feed_toml, Reply, TestServer, Workspace};

struct Daemon {
    child: tokio::process::Child,
    base: String,
    port: u16,
    stderr: PathBuf,
}

impl Daemon {
    /// `run` with `server` TOML (without `listen`), optionally through `prlimit --nofile=N`.
    async fn start(
        ws_extra: &str,
        env: &[(&str, &str)],
        nofile: Option<u32>,
    ) -> (Daemon, Workspace, TestServer) {
        let server = TestServer::start().await;
        server.route(
            "/feed.xml",
            Reply::feed(crate::support::rss(
                "Feed",
                &[("g1", "First post", "Some text.")],
            )),
        );
        let port = free_port();
        let ws = Workspace::new(
            &format!(
                "[schedule]\ndefault = \"0 0 0 1 1 *\"\n[server]\nlisten = \"127.0.0.1:{port}\"\n{ws_extra}"
            ),
            &feed_toml("Feed", &server.url("/feed.xml"), "blogs", ""),
        );
        let fetched = ws.run_with_env(&["fetch"], env).await;
        assert_eq!(fetched.code, 0, "{}", fetched.stderr);
        let stderr = ws.dir.path().join("daemon.log");
        let log = std::fs::File::create(&stderr).unwrap();
        let bin = env!("CARGO_BIN_EXE_feedsmith");
        let mut cmd = match nofile {
            Some(n) => {
                let mut c = tokio::process::Command::new("prlimit");
                c.arg(format!("--nofile={n}")).arg("--").arg(bin);
                c
            }
            None => tokio::process::Command::new(bin),
        };
        let child = cmd
            .arg("--config")
            .arg(ws.config_path())
            .arg("run")
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let d = Daemon {
            child,
            base,
            port,
            stderr,
        };
        for _ in 0..200 {
            if reqwest::get(format!("{}/healthz", d.base)).await.is_ok() {
                return (d, ws, server);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the daemon did not start: {}", d.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

/// Seconds until the server closes a socket that sends its request head one byte at a time.
async fn closed_after(port: u16, drip: Duration) -> Duration {
    let mut sock = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let started = Instant::now();
    sock.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    loop {
        if sock.write_all(b"X").await.is_err() {
            return started.elapsed();
        }
        match tokio::time::timeout(drip, sock.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => panic!("the server answered an unfinished request head"),
            Err(_) => {}
        }
        assert!(started.elapsed() < Duration::from_secs(30), "never closed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_sockets_are_closed_within_the_header_timeout() {
    let (mut d, _ws, _server) = Daemon::start(
        "header_timeout = \"2s\"\nidle_timeout = \"30s\"\n",
        &[],
        None,
    )
    .await;
    let (a, b) = tokio::join!(
        closed_after(d.port, Duration::from_millis(300)),
        closed_after(d.port, Duration::from_millis(300))
    );
    for t in [a, b] {
        // The timeout, with a generous bound for a loaded machine.
        assert!(t >= Duration::from_millis(1500), "closed too early: {t:?}");
        assert!(
            t < Duration::from_secs(6),
            "closed after {t:?}, header_timeout is 2s"
        );
    }
    // A socket that sends nothing at all is closed as well.
    let mut idle = TcpStream::connect(("127.0.0.1", d.port)).await.unwrap();
    let mut buf = [0u8; 8];
    let r = tokio::time::timeout(Duration::from_secs(6), idle.read(&mut buf)).await;
    assert!(
        matches!(r, Ok(Ok(0)) | Ok(Err(_))),
        "a silent socket stayed open: {r:?}"
    );
    // And the daemon still serves.
    let resp = reqwest::get(format!("{}/healthz", d.base)).await.unwrap();
    assert_eq!(resp.status(), 200);
    let _ = d.child.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_are_closed_after_the_idle_timeout() {
    let (mut d, _ws, _server) = Daemon::start(
        "header_timeout = \"10s\"\nidle_timeout = \"1s\"\n",
        &[],
        None,
    )
    .await;
    let mut sock = TcpStream::connect(("127.0.0.1", d.port)).await.unwrap();
    sock.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = sock.read(&mut buf).await.unwrap();
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    // Kept alive, then silent: closed after about a second (bounded generously), well before
    // the 10 s header timeout could.
    let started = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(8), sock.read(&mut buf)).await;
    assert!(matches!(r, Ok(Ok(0)) | Ok(Err(_))), "still open: {r:?}");
    assert!(started.elapsed() < Duration::from_secs(8));
    let _ = d.child.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_while_1100_idle_sockets_hold_the_api() {
    if std::process::Command::new("prlimit")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipping: prlimit (util-linux) is not installed");
        return;
    }
    let (mut d, _ws, _server) = Daemon::start("", &[], Some(1024)).await;
    // Ready first (the scheduler's first tick), so a 503 below can only mean saturation.
    for _ in 0..100 {
        let ready = reqwest::get(format!("{}/readyz", d.base))
            .await
            .is_ok_and(|r| r.status() == 200);
        if ready {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut idle = Vec::with_capacity(1100);
    for _ in 0..1100 {
        match TcpStream::connect(("127.0.0.1", d.port)).await {
            Ok(s) => idle.push(s),
            Err(e) => panic!("connect {}: {e}", idle.len()),
        }
    }
    // Let the accept loop take them all.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    for probe in ["/healthz", "/readyz"] {
        let started = Instant::now();
        let resp = tokio::time::timeout(
            Duration::from_secs(1),
            client.get(format!("{}{probe}", d.base)).send(),
        )
        .await
        .unwrap_or_else(|_| panic!("{probe} did not answer within 1s; log:\n{}", d.log()))
        .unwrap_or_else(|e| panic!("{probe}: {e}; log:\n{}", d.log()));
        assert_eq!(resp.status(), 200, "{probe}");
        assert!(started.elapsed() < Duration::from_secs(1));
    }
    // Over the cap, the API says so instead of hanging.
    let resp = client
        .get(format!("{}/api/posts", d.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert!(
        !d.log().contains("cannot accept"),
        "descriptors ran out: {}",
        d.log()
    );
    drop(idle);
    // Once they are gone (the server sees each close), the API serves again.
    let mut status = 0;
    for _ in 0..50 {
        status = client
            .get(format!("{}/api/posts", d.base))
            .send()
            .await
            .map_or(0, |r| r.status().as_u16());
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "{}", d.log());
    let _ = d.child.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_guards_the_api_and_feed_xml_but_not_the_probes() {
    let token = "s3cr3t-api-token";
    let (mut d, _ws, _server) = Daemon::start(
        "token_env = \"FEEDSMITH_TEST_API_TOKEN\"\npublic_url = \"https://feeds.example.org/\"\n",
        &[("FEEDSMITH_TEST_API_TOKEN", token)],
        None,
    )
    .await;
    let client = reqwest::Client::new();
    for path in ["/api/feeds", "/api/posts", "/api/posts/1", "/feed.xml"] {
        let url = format!("{}{path}", d.base);
        let resp = client.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), 401, "{path} without a token");
        let resp = client
            .get(&url)
            .header("Authorization", "Bearer wrong-token-000")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{path} with a wrong token");
        let resp = client.get(&url).bearer_auth(token).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path} with the token");
    }
    for path in ["/healthz", "/metrics"] {
        let resp = client
            .get(format!("{}{path}", d.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path} stays open");
    }
    // Readiness may still be 503 while the scheduler starts: open means "never 401".
    let resp = client
        .get(format!("{}/readyz", d.base))
        .send()
        .await
        .unwrap();
    assert_ne!(resp.status(), 401, "/readyz stays open");
    // The self link is the configured public URL whatever Host says.
    let atom = client
        .get(format!("{}/feed.xml", d.base))
        .header("Host", "evil.example")
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        atom.contains("<link rel=\"self\" type=\"application/atom+xml\" href=\"https://feeds.example.org/feed.xml\"/>"),
        "{atom}"
    );
    assert!(!atom.contains("evil.example"), "{atom}");
    let _ = d.child.kill().await;
}
