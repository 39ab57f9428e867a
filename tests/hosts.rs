//! Hosts, not feeds, are the unit of politeness and failure. All of 127.0.0.0/8 is loopback,
//! so servers on 127.0.0.2 and 127.0.0.3 are two hosts to the fetcher.

use std::time::Duration;

use crate::support::{feed_toml, rss, Reply, TestServer, Workspace};

/// One host with 2 hanging feeds, 1 dripping feed and 20 good ones, another host with 20 good
/// ones, `timeout = "3s"` and two slots per host: every good feed is stored in one `fetch` and
/// none is reported as timed out, because the timeout starts when the request is sent, not
/// while it waits for a slot behind the hanging ones. (It used to: most of the good feeds of
/// the first host "timed out" without ever being requested.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_sibling_does_not_time_out_its_healthy_neighbours() {
    let busy = TestServer::start_at("127.0.0.2:0").await;
    let calm = TestServer::start_at("127.0.0.3:0").await;
    let body = "word ".repeat(80);
    let mut feeds = String::new();
    let mut good = Vec::new();
    for (host, server) in [("busy", &busy), ("calm", &calm)] {
        for i in 0..20 {
            let path = format!("/{host}{i}.xml");
            server.route(
                &path,
                Reply::feed(rss("F", &[(&format!("{host}-{i}"), "Post", body.as_str())])),
            );
            let name = format!("{host} {i}");
            feeds.push_str(&feed_toml(&name, &server.url(&path), "blogs", ""));
            good.push((name, server, path));
        }
    }
    busy.route("/a-hang1.xml", Reply::Hang);
    busy.route("/a-hang2.xml", Reply::Hang);
    busy.route(
        "/a-drip.xml",
        Reply::Drip(
            rss("D", &[("d", "Drip", "x")]).into_bytes(),
            Duration::from_millis(500),
        ),
    );
    // The faults come first in the file, so they take the busy host's slots before its good
    // feeds do.
    let mut faults = String::new();
    for (name, path) in [
        ("Hang 1", "/a-hang1.xml"),
        ("Hang 2", "/a-hang2.xml"),
        ("Drip", "/a-drip.xml"),
    ] {
        faults.push_str(&feed_toml(name, &busy.url(path), "blogs", ""));
    }
    let feeds = faults + &feeds;
    let ws = Workspace::new(
        "[http]\ntimeout = \"3s\"\nconnect_timeout = \"2s\"\nper_host_concurrency = 2\nconcurrency = 16\n",
        &feeds,
    );
    let out = ws.run(&["fetch"]).await;
    eprintln!("{}", out.stderr);
    assert_eq!(
        out.code, 3,
        "the three faults fail, nothing else: {}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("feeds: 40 ok, 0 not modified, 3 failed; posts: 40 new"),
        "{}",
        out.stderr
    );
    for fault in ["Hang 1", "Hang 2", "Drip"] {
        assert!(
            out.stderr.contains(&format!("failed: {fault} (")),
            "{}",
            out.stderr
        );
    }
    let timed_out = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("failed:") && l.contains("timed out"))
        .count();
    assert_eq!(timed_out, 3, "only the faults time out: {}", out.stderr);
    for (name, server, path) in &good {
        assert_eq!(server.statuses(path), vec![200], "{name} requested once");
    }
    assert_eq!(ws.posts().await.len(), 40);
}

/// A 403 whose body is an HTML block page (Reddit's "whoa there, pardner" page) is reported as
/// blocked, with the way out, and is not parsed: the link in it is never followed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_html_403_is_a_block_and_is_not_parsed() {
    let server = TestServer::start_at("127.0.0.2:0").await;
    let page = format!(
        "<!doctype html><html><head><title>Blocked</title><link rel=\"alternate\" type=\"application/rss+xml\" href=\"{}\"></head><body>whoa there, pardner! Your request has been blocked due to a network policy.</body></html>",
        server.url("/lure.xml")
    );
    server.route(
        "/r/devops/.rss",
        Reply::status(403, &page).with_content_type("text/html; charset=UTF-8"),
    );
    server.route("/lure.xml", Reply::feed(rss("Lure", &[("l", "Lure", "x")])));
    let ws = Workspace::new(
        "",
        &feed_toml("Reddit", &server.url("/r/devops/.rss"), "community", ""),
    );
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "403 Forbidden; blocked: 127.0.0.2 answered with an HTML block page, not a feed"
        ),
        "{}",
        out.stderr
    );
    assert!(
        server.statuses("/lure.xml").is_empty(),
        "a link in the block page was followed"
    );
    assert!(ws.posts().await.is_empty());
}

/// A 429 with `Retry-After: 3600` on one feed of a host pauses the host: its sibling feeds are
/// not requested in that run (each says until when), while another host is unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_pauses_every_feed_of_its_host_and_no_other() {
    let limited = TestServer::start_at("127.0.0.2:0").await;
    let other = TestServer::start_at("127.0.0.3:0").await;
    let body = "word ".repeat(80);
    limited.route(
        "/a-limited.xml",
        Reply::status(429, "slow down").with_header("Retry-After", "3600"),
    );
    let mut feeds = feed_toml("Limited", &limited.url("/a-limited.xml"), "blogs", "");
    for i in 0..4 {
        let path = format!("/f{i}.xml");
        let feed = Reply::feed(rss("F", &[(&format!("l{i}"), "Post", body.as_str())]));
        limited.route(&path, feed.clone());
        other.route(&path, feed);
        feeds.push_str(&feed_toml(
            &format!("Sibling {i}"),
            &limited.url(&path),
            "blogs",
            "",
        ));
        feeds.push_str(&feed_toml(
            &format!("Other {i}"),
            &other.url(&path),
            "blogs",
            "",
        ));
    }
    let ws = Workspace::new("[http]\nper_host_concurrency = 1\n", &feeds);
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("feeds: 4 ok, 0 not modified, 1 failed, 4 deferred"),
        "the siblings are deferred, not failed: {}",
        out.stderr
    );
    assert_eq!(limited.statuses("/a-limited.xml"), vec![429]);
    for i in 0..4 {
        let path = format!("/f{i}.xml");
        assert!(
            limited.statuses(&path).is_empty(),
            "sibling {i} was requested"
        );
        assert_eq!(
            other.statuses(&path),
            vec![200],
            "the other host is unaffected"
        );
    }
    let deferred: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("deferred: Sibling") && l.contains("asked to wait until"))
        .collect();
    eprintln!("{}", deferred.join("\n"));
    assert_eq!(deferred.len(), 4, "{}", out.stderr);

    // Deferred is not a failure: no failure counted, no backoff, due again when the pause ends.
    let list = ws.run(&["feeds", "list", "--json"]).await;
    assert_eq!(list.code, 0, "{}", list.stderr);
    let feeds: Vec<serde_json::Value> = serde_json::from_str(&list.stdout).unwrap();
    let paused_until = feeds[0]["host_paused_until"].as_str().map(str::to_string);
    assert!(paused_until.is_some(), "{}", list.stdout);
    for f in feeds
        .iter()
        .filter(|f| f["name"].as_str().unwrap().starts_with("Sibling"))
    {
        assert_eq!(f["last_outcome"], "deferred", "{f}");
        assert_eq!(f["consecutive_failures"], 0, "{f}");
        assert_eq!(f["host"], "127.0.0.2", "{f}");
        assert_eq!(
            f["host_paused_until"].as_str().map(str::to_string),
            paused_until,
            "{f}"
        );
    }
    for f in feeds
        .iter()
        .filter(|f| f["name"].as_str().unwrap().starts_with("Other"))
    {
        assert!(f["host_paused_until"].is_null(), "{f}");
    }

    // The pause is stored: a second `fetch` right after sends nothing to that host, not even
    // the feed that got the 429, and `hosts list` shows the pause and why.
    let again = ws.run(&["fetch"]).await;
    eprintln!(
        "second fetch: {}",
        again.stderr.lines().last().unwrap_or("")
    );
    assert_eq!(
        limited.statuses("/a-limited.xml"),
        vec![429],
        "{}",
        again.stderr
    );
    for i in 0..4 {
        assert!(
            limited.statuses(&format!("/f{i}.xml")).is_empty(),
            "{}",
            again.stderr
        );
    }
    let hosts = ws.run(&["hosts", "list", "--json"]).await;
    assert_eq!(hosts.code, 0, "{}", hosts.stderr);
    let hosts: Vec<serde_json::Value> = serde_json::from_str(&hosts.stdout).unwrap();
    let h = hosts
        .iter()
        .find(|h| h["host"] == "127.0.0.2")
        .expect("the paused host is listed");
    assert_eq!(h["pause_status"], 429, "{h}");
    assert_eq!(h["pause_reason"], "Retry-After", "{h}");
    assert_eq!(h["feeds"], 5, "{h}");
    // The second run deferred the feed that got the 429 too: it is not requested either.
    assert_eq!(h["deferred"], 5, "{h}");
    assert!(h["last_throttled_at"].is_string(), "{h}");
    let o = hosts.iter().find(|h| h["host"] == "127.0.0.3").unwrap();
    assert!(o["paused_until"].is_null(), "{o}");
    let text = ws.run(&["hosts", "list"]).await;
    assert!(
        text.stdout.lines().any(|l| l.starts_with("127.0.0.2")
            && l.contains("PAUSED until")
            && l.contains("5 deferred")),
        "{}",
        text.stdout
    );
}

/// `[http] max_host_wait`: a feed that cannot get a slot at its host in time is deferred, not
/// failed (no failure counted, no backoff), and the next run polls it. Here one slot at the
/// host is held by a hanging feed for the 3 s timeout and the siblings may wait 1 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_without_a_host_slot_in_time_is_deferred_then_polled_next_run() {
    let busy = TestServer::start_at("127.0.0.2:0").await;
    let calm = TestServer::start_at("127.0.0.3:0").await;
    let body = "word ".repeat(80);
    busy.route("/a-hang.xml", Reply::Hang);
    let mut feeds = feed_toml("Hang", &busy.url("/a-hang.xml"), "blogs", "");
    for i in 0..3 {
        let path = format!("/f{i}.xml");
        let entry =
            |who: &str| Reply::feed(rss("F", &[(&format!("{who}{i}"), "Post", body.as_str())]));
        busy.route(&path, entry("busy"));
        calm.route(&path, entry("calm"));
        feeds.push_str(&feed_toml(
            &format!("Busy {i}"),
            &busy.url(&path),
            "blogs",
            "",
        ));
        feeds.push_str(&feed_toml(
            &format!("Calm {i}"),
            &calm.url(&path),
            "blogs",
            "",
        ));
    }
    let ws = Workspace::new(
        "[http]\ntimeout = \"3s\"\nconnect_timeout = \"2s\"\nper_host_concurrency = 1\nmax_host_wait = \"1s\"\n",
        &feeds,
    );
    let out = ws.run(&["fetch"]).await;
    eprintln!("{}", out.stderr);
    let line = out
        .stderr
        .lines()
        .find(|l| l.starts_with("feeds: "))
        .unwrap_or("");
    assert!(
        line.starts_with("feeds: 3 ok, 0 not modified, 1 failed, 3 deferred"),
        "{}",
        out.stderr
    );
    assert_eq!(out.code, 3, "only the hanging feed failed: {}", out.stderr);
    assert_eq!(
        out.stderr
            .lines()
            .filter(|l| l.starts_with("deferred: Busy")
                && l.contains("no request slot at 127.0.0.2 within 1s"))
            .count(),
        3,
        "{}",
        out.stderr
    );
    for i in 0..3 {
        assert!(busy.statuses(&format!("/f{i}.xml")).is_empty());
        assert_eq!(calm.statuses(&format!("/f{i}.xml")), vec![200]);
    }
    let list = ws.run(&["feeds", "list", "--json"]).await;
    let feeds: Vec<serde_json::Value> = serde_json::from_str(&list.stdout).unwrap();
    for f in feeds
        .iter()
        .filter(|f| f["name"].as_str().unwrap().starts_with("Busy"))
    {
        assert_eq!(f["last_outcome"], "deferred", "{f}");
        assert_eq!(f["consecutive_failures"], 0, "{f}");
        assert_eq!(f["due_now"], true, "no backoff: {f}");
    }
    let metrics_like = ws.run(&["hosts", "list", "--json"]).await;
    let hosts: Vec<serde_json::Value> = serde_json::from_str(&metrics_like.stdout).unwrap();
    let h = hosts.iter().find(|h| h["host"] == "127.0.0.2").unwrap();
    assert_eq!(h["deferred"], 3, "{h}");
    assert_eq!(h["failing"], 1, "{h}");

    // The hanging feed is in backoff; the deferred ones are polled by the next run.
    busy.route(
        "/a-hang.xml",
        Reply::feed(rss("H", &[("h", "Hang", body.as_str())])),
    );
    let next = ws.run(&["fetch"]).await;
    for i in 0..3 {
        assert_eq!(
            busy.statuses(&format!("/f{i}.xml")),
            vec![200],
            "{}",
            next.stderr
        );
    }
    // The three deferred feeds and the one that hung, now answering.
    assert!(next.stderr.contains("posts: 4 new"), "{}", next.stderr);
}

/// Per-host `user_agent` and `headers` are sent to that host only, and a bad header or proxy
/// names its rule and key (exit 2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_rule_sends_its_own_user_agent_and_headers() {
    let special = TestServer::start_at("127.0.0.2:0").await;
    let plain = TestServer::start_at("127.0.0.3:0").await;
    let feed = Reply::feed(rss("F", &[("x", "Post", "body")]));
    special.route("/f.xml", feed.clone());
    plain.route("/f.xml", feed);
    let feeds = feed_toml("Special", &special.url("/f.xml"), "blogs", "")
        + &feed_toml("Plain", &plain.url("/f.xml"), "blogs", "");
    let ws = Workspace::new(
        "[[hosts]]\nmatch = \"127.0.0.2\"\nuser_agent = \"feedsmith-test (+mailto:ops@example.org)\"\nheaders = { \"X-Api-Key\" = \"k-123\" }\n",
        &feeds,
    );
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let s = &special.requests("/f.xml")[0];
    assert_eq!(
        s.headers["user-agent"],
        "feedsmith-test (+mailto:ops@example.org)"
    );
    assert_eq!(s.headers["x-api-key"], "k-123");
    let p = &plain.requests("/f.xml")[0];
    assert!(
        p.headers["user-agent"].starts_with("feedsmith/"),
        "{:?}",
        p.headers
    );
    assert!(!p.headers.contains_key("x-api-key"));

    for (extra, message) in [
        (
            "[[hosts]]\nmatch = \"example.org\"\nheaders = { \"Bad Header\" = \"v\" }\n",
            "hosts[0] (match = \"example.org\").headers: \"Bad Header\" is not a valid HTTP header name",
        ),
        (
            "[[hosts]]\nmatch = \"example.org\"\nproxy = \"ftp://proxy:21\"\n",
            "hosts[0] (match = \"example.org\").proxy = \"ftp://proxy:21\": expected an http:// or https:// proxy URL",
        ),
        (
            "[http]\nproxy = \"not a url\"\n",
            "[http].proxy = \"not a url\": not a URL",
        ),
    ] {
        let ws = Workspace::new(extra, "");
        let out = ws.run(&["config", "check"]).await;
        assert_eq!(out.code, 2, "{extra}: {}", out.stderr);
        assert!(out.stderr.contains(message), "{extra}: {}", out.stderr);
    }
}

/// `[http] proxy`: feed requests go through the proxy (here a test server that answers as the
/// proxy would, recording the absolute-form request line), and credentials in the proxy URL
/// are redacted in `config check`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_proxy_carries_the_feed_requests() {
    let proxy = TestServer::start_at("127.0.0.4:0").await;
    // A plain-HTTP request through a proxy is sent in absolute form: the proxy sees the whole
    // URL as the path.
    let target = "http://feeds.invalid/f.xml";
    proxy.route(
        target,
        Reply::feed(rss("F", &[("p", "Through the proxy", "body")])),
    );
    let ws = Workspace::new(
        &format!("[http]\nproxy = \"http://user:s3cret@{}\"\n", proxy.addr),
        &feed_toml("Proxied", target, "blogs", ""),
    );
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        proxy.statuses(target),
        vec![200],
        "{:?}",
        proxy.all_requests()
    );
    let r = &proxy.requests(target)[0];
    assert!(
        r.headers.contains_key("proxy-authorization"),
        "{:?}",
        r.headers
    );
    assert_eq!(ws.posts().await.len(), 1);
    let check = ws.run(&["config", "check"]).await;
    assert!(!check.stdout.contains("s3cret"), "{}", check.stdout);
    assert!(check.stdout.contains("proxy = "), "{}", check.stdout);
}

/// `[[hosts]] interval = "500ms"` on a host with 8 feeds due together: the request starts the
/// server sees are at least 500 ms apart (20 ms allowed for scheduling). Another host, with no
/// rule, gets its 8 requests at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_interval_spaces_request_starts_and_leaves_other_hosts_alone() {
    let paced = TestServer::start_at("127.0.0.2:0").await;
    let free = TestServer::start_at("127.0.0.3:0").await;
    let body = "word ".repeat(80);
    let mut feeds = String::new();
    for i in 0..8 {
        let path = format!("/f{i}.xml");
        let feed = Reply::feed(rss("F", &[(&format!("p{i}"), "Post", body.as_str())]));
        paced.route(&path, feed.clone());
        free.route(&path, feed);
        feeds.push_str(&feed_toml(
            &format!("Paced {i}"),
            &paced.url(&path),
            "blogs",
            "",
        ));
        feeds.push_str(&feed_toml(
            &format!("Free {i}"),
            &free.url(&path),
            "blogs",
            "",
        ));
    }
    let ws = Workspace::new(
        "[http]\nper_host_concurrency = 8\n\n[[hosts]]\nmatch = \"127.0.0.2\"\ninterval = \"500ms\"\n",
        &feeds,
    );
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut starts: Vec<std::time::Instant> =
        paced.all_requests().into_iter().map(|(_, t)| t).collect();
    starts.sort();
    assert_eq!(starts.len(), 8);
    let gaps: Vec<u128> = starts
        .windows(2)
        .map(|w| w[1].duration_since(w[0]).as_millis())
        .collect();
    eprintln!("paced host, ms between request starts: {gaps:?}");
    // Starts are taken from the bucket 500 ms apart; what the server sees can shift by the
    // time a request takes to be sent on a loaded machine, so each gap is allowed 100 ms of
    // that, and the whole span must hold seven intervals.
    assert!(gaps.iter().all(|&g| g >= 400), "{gaps:?}");
    let span = starts[7].duration_since(starts[0]).as_millis();
    assert!(
        span >= 3400,
        "8 starts at 500 ms need 3.5 s, took {span} ms: {gaps:?}"
    );
    let mut free_starts: Vec<std::time::Instant> =
        free.all_requests().into_iter().map(|(_, t)| t).collect();
    free_starts.sort();
    assert_eq!(free_starts.len(), 8);
    let spread = free_starts[7].duration_since(free_starts[0]).as_millis();
    eprintln!("free host, first to last request start: {spread} ms");
    assert!(
        spread < 1500,
        "the other host is not paced (paced, 8 starts take 3.5 s): {spread} ms"
    );
}

/// The Reddit preset (10 requests a minute: interval 6 s, burst 2, one at a time) is in effect
/// and printed by `config check` unless a `[[hosts]]` rule for reddit.com replaces it; a bad
/// rule names itself and the key.
#[tokio::test]
async fn the_reddit_preset_is_printed_and_can_be_overridden() {
    let ws = Workspace::new("", "");
    let out = ws.run(&["config", "check"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(
            "[[hosts]]\nburst = 2\nconcurrency = 1\ninterval = \"6s\"\nmatch = \"reddit.com\"\n"
        ),
        "{}",
        out.stdout
    );
    let ws = Workspace::new(
        "[[hosts]]\nmatch = \"reddit.com\"\ninterval = \"30s\"\n",
        "",
    );
    let out = ws.run(&["config", "check"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("interval = \"30s\"\nmatch = \"reddit.com\""),
        "{}",
        out.stdout
    );
    assert_eq!(
        out.stdout.matches("match = \"reddit.com\"").count(),
        1,
        "{}",
        out.stdout
    );
    let ws = Workspace::new(
        "[[hosts]]\nmatch = \"example.org\"\ninterval = \"soon\"\n",
        "",
    );
    let out = ws.run(&["config", "check"]).await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "hosts[0] (match = \"example.org\").interval = \"soon\": expected a duration"
        ),
        "{}",
        out.stderr
    );
}

/// The daemon's view of its hosts: `/api/hosts` shows the pause a 429 set, with the requests by
/// outcome, and `/metrics` has `feedsmith_host_requests_total{host,outcome}` and
/// `feedsmith_host_paused{host}`; the other host is unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_shows_its_hosts_in_the_api_and_the_metrics() {
    let limited = TestServer::start_at("127.0.0.2:0").await;
    let fine = TestServer::start_at("127.0.0.3:0").await;
    limited.route(
        "/f.xml",
        Reply::status(429, "slow down").with_header("Retry-After", "3600"),
    );
    fine.route("/f.xml", Reply::feed(rss("F", &[("ok", "Post", "body")])));
    let port = crate::support::free_port();
    let ws = Workspace::new(
        &format!("[schedule]\ndefault = \"* * * * * *\"\nmax_jitter = \"0s\"\n[server]\nlisten = \"127.0.0.1:{port}\"\n"),
        &(feed_toml("Limited", &limited.url("/f.xml"), "blogs", "")
            + &feed_toml("Fine", &fine.url("/f.xml"), "blogs", "")),
    );
    let mut daemon = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedsmith"))
        .arg("--config")
        .arg(ws.config_path())
        .arg("run")
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut hosts = serde_json::Value::Null;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let Ok(resp) = reqwest::get(format!("{base}/api/hosts")).await else {
            continue;
        };
        hosts = serde_json::from_str(&resp.text().await.unwrap()).unwrap_or_default();
        let throttled = hosts
            .as_array()
            .and_then(|a| a.iter().find(|h| h["host"] == "127.0.0.2"))
            .is_some_and(|h| h["requests"]["throttled"] == 1 && h["pause_status"] == 429);
        if throttled && !fine.statuses("/f.xml").is_empty() {
            break;
        }
    }
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    daemon.start_kill().unwrap();
    let _ = daemon.wait().await;
    let list = hosts.as_array().expect("/api/hosts is a JSON array");
    let l = list.iter().find(|h| h["host"] == "127.0.0.2").unwrap();
    assert_eq!(l["requests"]["throttled"], 1, "{l}");
    assert!(l["paused_until"].is_string(), "{l}");
    assert_eq!(l["pause_status"], 429, "{l}");
    let f = list.iter().find(|h| h["host"] == "127.0.0.3").unwrap();
    assert!(f["paused_until"].is_null(), "{f}");
    assert!(f["requests"]["ok"].as_u64() >= Some(1), "{f}");
    assert!(
        metrics
            .contains("feedsmith_host_requests_total{host=\"127.0.0.2\",outcome=\"throttled\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("feedsmith_host_paused{host=\"127.0.0.2\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("feedsmith_host_paused{host=\"127.0.0.3\"} 0"),
        "{metrics}"
    );
    assert!(metrics.contains("feedsmith_deferred_total "), "{metrics}");
    assert_eq!(
        limited.statuses("/f.xml"),
        vec![429],
        "one request, then the pause holds"
    );
}
