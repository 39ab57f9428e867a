//! The fault matrix: one `feedsmith fetch` over every misbehaviour we can produce on loopback,
//! each beside a valid twin feed. Every fault must get its expected outcome in the feed's status,
//! every twin must be stored, the run must end within a bound (timeouts work), memory must stay
//! bounded (peak RSS measured by /usr/bin/time), nothing may panic, and the exit code is 3.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::support::{feed_toml, Reply, TestServer, Workspace};

#[derive(Debug)]
enum Expect {
    /// Polled fine and stored this many posts.
    Ok(i64),
    /// Failed, with this HTTP status (if any) and this text in the error.
    Failed(Option<i64>, &'static str),
}

fn gzip_zeros(bytes: usize) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..bytes / chunk.len() {
        enc.write_all(&chunk).unwrap();
    }
    enc.finish().unwrap()
}

fn item(guid: &str, title: &str, body: &str) -> String {
    format!("<item><guid>{guid}</guid><title>{title}</title><link>http://example.org/{guid}</link><pubDate>Sun, 03 Aug 2025 22:48:15 GMT</pubDate><description><![CDATA[{body}]]></description></item>")
}

fn channel(items: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>F</title><link>http://example.org/</link><description>d</description>{items}</channel></rss>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_gets_its_outcome_and_every_twin_is_stored() {
    let server = TestServer::start().await;
    let valid = channel(&item("v1", "Valid", "<p>ok</p>"));
    let cases: Vec<(&str, Reply, Expect)> = vec![
        ("hang", Reply::Hang, Expect::Failed(None, "timed out")),
        ("headers-then-hang", Reply::HeadersThenHang, Expect::Failed(None, "timed out")),
        ("drip", Reply::Drip(valid.as_bytes().to_vec(), Duration::from_secs(1)), Expect::Failed(None, "timed out")),
        ("reset", Reply::Reset(valid.as_bytes().to_vec()), Expect::Failed(None, "broke off")),
        ("short-body", Reply::Truncated { body: valid.as_bytes()[..100].to_vec(), announced: valid.len() }, Expect::Failed(None, "broke off")),
        ("redirect-3", Reply::status(301, "").with_header("Location", "/r/1"), Expect::Ok(1)),
        ("redirect-loop", Reply::status(302, "").with_header("Location", "/f/redirect-loop"), Expect::Failed(None, "more than 5 redirects")),
        ("redirect-file", Reply::status(302, "").with_header("Location", "file:///etc/passwd"), Expect::Failed(None, "not http or https")),
        ("redirect-ftp", Reply::status(302, "").with_header("Location", "ftp://example.org/f.xml"), Expect::Failed(None, "not http or https")),
        ("404", Reply::status(404, "no"), Expect::Failed(Some(404), "HTTP 404")),
        ("410", Reply::status(410, "gone"), Expect::Failed(Some(410), "gone for good")),
        ("429", Reply::status(429, "slow down").with_header("Retry-After", "120"), Expect::Failed(Some(429), "Retry-After")),
        ("503-date", Reply::status(503, "busy").with_header("Retry-After", "Wed, 21 Oct 2099 07:28:00 GMT"), Expect::Failed(Some(503), "Retry-After")),
        ("500", Reply::status(500, "boom"), Expect::Failed(Some(500), "HTTP 500")),
        ("20mib", Reply::feed(vec![b' '; 20 * 1024 * 1024]), Expect::Failed(None, "larger than")),
        ("gzip-bomb", Reply::feed(gzip_zeros(1100 << 20)).with_header("Content-Encoding", "gzip"), Expect::Failed(None, "larger than")),
        (
            "html-with-feed",
            Reply::feed(b"<!DOCTYPE html><html><head><link rel=\"alternate\" type=\"application/rss+xml\" href=\"/r/discovered.xml\"></head></html>".to_vec()).with_content_type("text/html"),
            Expect::Ok(1),
        ),
        ("html-without-feed", Reply::feed(b"<!DOCTYPE html><html><body>hi</body></html>".to_vec()).with_content_type("text/html"), Expect::Failed(None, "without a feed link")),
        ("empty-200", Reply::feed(Vec::new()), Expect::Failed(None, "empty")),
        ("truncated-xml", Reply::feed(channel(&format!("{}{}", item("t1", "Whole", "a"), item("t2", "Cut", "b"))).as_bytes()[..300].to_vec()), Expect::Ok(1)),
        ("invalid-utf8", Reply::feed([&b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>F</title><item><guid>u1</guid><title>Bad \xff\xfe bytes</title><link>http://example.org/u1</link></item></channel></rss>"[..]].concat()), Expect::Ok(1)),
        ("bare-ampersand", Reply::feed(channel(&item("a1", "Fish & Chips", "a & b")).replace("&amp;", "&")), Expect::Ok(1)),
        (
            "billion-laughs",
            Reply::feed(format!(
                "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">{}]><rss version=\"2.0\"><channel><title>&lol9;</title>{}</channel></rss>",
                (1..10).map(|i| format!("<!ENTITY lol{i} \"{}\">", format!("&lol{};", i - 1).repeat(10))).collect::<String>(),
                item("b1", "Laughs &lol9;", "x")
            )),
            Expect::Ok(1),
        ),
        ("bom", Reply::feed([&b"\xEF\xBB\xBF"[..], valid.replace("v1", "bom1").as_bytes()].concat()), Expect::Ok(1)),
        ("iso-8859-1", Reply::feed([&b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss version=\"2.0\"><channel><title>F</title><item><guid>l1</guid><title>Caf\xe9</title><link>http://example.org/l1</link></item></channel></rss>"[..]].concat()), Expect::Ok(1)),
        ("wrong-content-type", Reply::feed(valid.replace("v1", "ct1")).with_content_type("text/plain"), Expect::Ok(1)),
        // Kept since post-format.md 2's fallback chain: the feed's site link + `#` + key hash.
        ("no-guid-no-link", Reply::feed(channel("<item><title>Orphan</title><description>x</description></item>")), Expect::Ok(1)),
        (
            "hostile-html",
            Reply::feed(channel(&item("h1", "Hostile", "<p onclick=\"x()\">Hi<script>alert(1)</script><iframe src=\"https://evil\"></iframe><img src=\"x.png\" onerror=\"steal()\"><a href=\"javascript:alert(2)\">js</a></p>"))),
            Expect::Ok(1),
        ),
        ("10000-items", Reply::feed(channel(&(0..10_000).map(|i| item(&format!("m{i}"), &format!("Item {i}"), "x")).collect::<String>())), Expect::Ok(10_000)),
        ("rotating-etag", Reply::RotatingEtag(valid.replace("v1", "e1").into_bytes()), Expect::Ok(1)),
        ("ignores-if-none-match", Reply::IgnoresConditional(valid.replace("v1", "i1").into_bytes()), Expect::Ok(1)),
    ];
    server.route(
        "/r/1",
        Reply::status(302, "").with_header("Location", "/r/2"),
    );
    server.route(
        "/r/2",
        Reply::status(307, "").with_header("Location", "/r/3"),
    );
    server.route("/r/3", Reply::feed(valid.replace("v1", "r3")));
    server.route(
        "/r/discovered.xml",
        Reply::feed(valid.replace("v1", "disc1")),
    );

    // A `Retry-After` pauses its whole host (tests/hosts.rs), so the rate-limit faults live on
    // a host of their own (all of 127.0.0.0/8 is loopback); every other fault shares one host
    // with its twin, which must still be stored.
    let limited = TestServer::start_at("127.0.0.2:0").await;
    let host_of = |name: &str| {
        if matches!(name, "429" | "503-date") {
            &limited
        } else {
            &server
        }
    };
    let mut feeds = String::new();
    for (name, reply, _) in &cases {
        host_of(name).route(&format!("/f/{name}"), reply.clone());
        server.route(
            &format!("/t/{name}"),
            Reply::feed(channel(&item(
                &format!("twin-{name}"),
                &format!("Twin of {name}"),
                "<p>twin</p>",
            ))),
        );
        feeds.push_str(&feed_toml(
            &format!("fault {name}"),
            &host_of(name).url(&format!("/f/{name}")),
            "blogs",
            "",
        ));
        feeds.push_str(&feed_toml(
            &format!("twin {name}"),
            &server.url(&format!("/t/{name}")),
            "blogs",
            "",
        ));
    }
    let ws = Workspace::new("[http]\ntimeout = \"4s\"\nconnect_timeout = \"2s\"\nconcurrency = 64\nper_host_concurrency = 64\n", &feeds);

    let rss_file = ws.dir.path().join("rss.txt");
    let time = std::path::Path::new("/usr/bin/time");
    let started = Instant::now();
    let mut cmd = if time.exists() {
        let mut c = tokio::process::Command::new(time);
        c.arg("-f")
            .arg("%M")
            .arg("-o")
            .arg(&rss_file)
            .arg(env!("CARGO_BIN_EXE_feedsmith"));
        c
    } else {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_feedsmith"))
    };
    let out = cmd
        .arg("--config")
        .arg(ws.config_path())
        .arg("fetch")
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        elapsed < Duration::from_secs(60),
        "the run took {elapsed:?}: timeouts must bound it"
    );
    match std::fs::read_to_string(&rss_file) {
        Ok(text) => {
            let kb: u64 = text
                .lines()
                .last()
                .and_then(|l| l.trim().parse().ok())
                .unwrap_or(0);
            eprintln!(
                "fault matrix: {:.1}s, peak RSS {} MB",
                elapsed.as_secs_f64(),
                kb / 1024
            );
            assert!(
                kb > 0 && kb < 400 * 1024,
                "peak RSS {kb} kB is over the 400 MB cap"
            );
        }
        Err(_) => eprintln!("note: /usr/bin/time is not installed; peak RSS not measured"),
    }

    let list = ws.run(&["feeds", "list", "--json"]).await;
    let status: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    let feed = |name: &str| {
        status
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap()
            .clone()
    };
    let mut problems = Vec::new();
    for (name, _, expect) in &cases {
        let f = feed(&format!("fault {name}"));
        let twin = feed(&format!("twin {name}"));
        if twin["posts"] != 1 {
            problems.push(format!("twin of {name} not stored: {twin}"));
        }
        match expect {
            Expect::Ok(posts) => {
                if f["last_outcome"] != "ok" || f["posts"].as_i64() != Some(*posts) {
                    problems.push(format!("{name}: expected ok with {posts} posts, got {f}"));
                }
            }
            Expect::Failed(code, text) => {
                let err = f["last_error"].as_str().unwrap_or_default();
                if f["last_outcome"] != "failed"
                    || !err.contains(text)
                    || code.is_some_and(|c| f["last_status"].as_i64() != Some(c))
                {
                    problems.push(format!(
                        "{name}: expected failure {code:?} containing {text:?}, got {f}"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(feed("fault 410")["gone"], true);

    // Hostile HTML was sanitized; the billion laughs did not expand.
    let posts = ws.posts().await;
    let show = |title: &str| {
        let id = posts
            .iter()
            .find(|p| p["title"].as_str().is_some_and(|t| t.starts_with(title)))
            .unwrap()["id"]
            .to_string();
        let ws = &ws;
        async move { ws.run(&["posts", "show", &id]).await.stdout }
    };
    let hostile = show("Hostile").await;
    for bad in [
        "<script",
        "alert(1)",
        "iframe",
        "onerror",
        "onclick",
        "javascript:",
    ] {
        assert!(!hostile.contains(bad), "{bad} survived:\n{hostile}");
    }
    let laughs = show("Laughs").await;
    assert!(laughs.len() < 5000, "entity expansion is bounded");
    assert!(show("Caf").await.contains("title: \"Café\""));

    // ETag games: the second poll downloads again but changes nothing.
    let again = ws
        .run(&[
            "fetch",
            "--feed",
            "fault rotating-etag",
            "--feed",
            "fault ignores-if-none-match",
        ])
        .await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again
            .stderr
            .contains("2 ok, 0 not modified, 0 failed; posts: 0 new, 0 updated"),
        "{}",
        again.stderr
    );
}
