//! What a person sees running `fetch` on a terminal, through a real pseudo-terminal (tmux):
//! mid-run the progress line shows feeds done, in flight and the host they wait on; at the end
//! one list of failures, each once, then the summary, and no per-feed log lines.

use std::process::Command;
use std::time::Duration;

use crate::support::{feed_toml, rss, Reply, TestServer, Workspace};

struct Tmux {
    socket: String,
}

impl Tmux {
    fn available() -> bool {
        Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    fn start(command: &str) -> Tmux {
        let socket = format!("feedsmith-test-{}", std::process::id());
        let status = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "new-session",
                "-d",
                "-s",
                "t",
                "-x",
                "160",
                "-y",
                "60",
            ])
            .arg(command)
            .env_remove("NO_COLOR")
            .status()
            .expect("tmux");
        assert!(status.success());
        Tmux { socket }
    }

    fn capture(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-t", "t"])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_on_a_terminal_shows_progress_then_failures_once_and_the_summary() {
    if !Tmux::available() {
        assert!(
            std::env::var_os("FEEDSMITH_REQUIRE_TMUX").is_none(),
            "tmux is required in CI but not installed"
        );
        eprintln!("skipping: tmux is not installed (Debian package `tmux`)");
        return;
    }
    // Two hosts (all of 127.0.0.0/8 is loopback): one whose feeds are slow, one fast.
    let slow = TestServer::start_at("127.0.0.2:0").await;
    let fast = TestServer::start_at("127.0.0.3:0").await;
    let body = "word ".repeat(80);
    let mut feeds = String::new();
    for i in 0..26 {
        let server = if i < 8 { &slow } else { &fast };
        let path = format!("/f{i}.xml");
        let feed = Reply::feed(rss(
            &format!("F{i}"),
            &[(&format!("g{i}"), "Post", body.as_str())],
        ));
        let reply = if i < 8 {
            Reply::Slow(Duration::from_millis(1500), Box::new(feed))
        } else {
            feed
        };
        server.route(&path, reply);
        feeds.push_str(&feed_toml(
            &format!("Feed {i}"),
            &server.url(&path),
            "blogs",
            "",
        ));
    }
    for i in 0..4 {
        let path = format!("/broken{i}.xml");
        fast.route(&path, Reply::status(500, "boom"));
        feeds.push_str(&feed_toml(
            &format!("Broken {i}"),
            &fast.url(&path),
            "blogs",
            "",
        ));
    }
    let ws = Workspace::new(
        "[http]\nper_host_concurrency = 4\ntimeout = \"20s\"\nconnect_timeout = \"2s\"\n",
        &feeds,
    );
    let done = ws.dir.path().join("done");
    let command = format!(
        "{} --config {} fetch; echo exit=$? > {}; sleep 60",
        env!("CARGO_BIN_EXE_feedsmith"),
        ws.config_path().display(),
        done.display()
    );
    let tmux = Tmux::start(&command);

    // Mid-run: once the fast host is done, the progress line names the host its 8 slow feeds
    // wait on (they take about 3 s: two rounds of 1.5 s at 4 slots). Captured until it does, so
    // a loaded machine that finishes the fast feeds late does not make the test flaky.
    let mut mid = String::new();
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        mid = tmux.capture();
        if mid.contains("in flight, all on 127.0.0.2") {
            break;
        }
    }
    eprintln!("--- mid-run ---\n{mid}");
    assert!(mid.contains("/30 feeds, ETA"), "{mid}");
    assert!(
        mid.contains("in flight, all on 127.0.0.2"),
        "the host they wait on is named: {mid}"
    );

    for _ in 0..200 {
        if done.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let end = tmux.capture();
    eprintln!("--- at the end ---\n{end}");
    assert_eq!(
        std::fs::read_to_string(&done).unwrap_or_default().trim(),
        "exit=3",
        "{end}"
    );
    assert!(end.contains("4 failed:"), "{end}");
    for i in 0..4 {
        assert_eq!(
            end.matches(&format!("failed: Broken {i} ")).count(),
            1,
            "each failure once: {end}"
        );
    }
    assert!(
        end.contains("feeds: 26 ok, 0 not modified, 4 failed; posts: 26 new"),
        "{end}"
    );
    assert!(
        !end.contains(" INFO ") && !end.contains(" WARN "),
        "no per-feed lines: {end}"
    );
}
