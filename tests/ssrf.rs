//! The network guard against a hostile feed (issue 18): a feed on 127.0.0.2 whose teaser
//! entries point the article step at an "internal" host on 127.0.0.3, at `localhost`,
//! `0.0.0.0`, the decimal and hex spellings of 127.0.0.1, `[::1]`, the cloud metadata address,
//! and a redirect from the feed's own host to 127.0.0.3. Nothing of it may be requested, the
//! posts keep the feed's own text, and `[http] allow_hosts` turns exactly the allowed host back
//! on. The real binary, real sockets, a real SQLite file.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::support::{feed_toml, Reply, TestServer, Workspace};

/// (No `_`: markdown would escape it and hide a leak from the check.)
const SECRET: &str = "dbpassword-hunter2-internal";

/// Connections accepted by listeners on 127.0.0.1 and [::1] at `port` (where `localhost`,
/// `0.0.0.0`, `2130706433`, `0x7f000001` and `[::1]` lead): every one is a guard failure.
struct Canary {
    hits: Arc<AtomicUsize>,
}

impl Canary {
    /// `None` when the port is taken on 127.0.0.1 (the caller picks another port).
    async fn bind(port: u16) -> Option<Canary> {
        let hits = Arc::new(AtomicUsize::new(0));
        let v4 = TcpListener::bind(("127.0.0.1", port)).await.ok()?;
        // IPv6 loopback may be absent in a container: then `[::1]` cannot connect either.
        let v6 = TcpListener::bind(("::1", port)).await.ok();
        for listener in std::iter::once(v4).chain(v6) {
            let hits = hits.clone();
            tokio::spawn(async move {
                while let Ok((_sock, _)) = listener.accept().await {
                    hits.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
        Some(Canary { hits })
    }
    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// The internal host (127.0.0.3) and canaries on the same port of 127.0.0.1 and [::1].
async fn internal_hosts() -> (TestServer, Canary) {
    for _ in 0..20 {
        let internal = TestServer::start_at("127.0.0.3:0").await;
        if let Some(canary) = Canary::bind(internal.addr.port()).await {
            return (internal, canary);
        }
    }
    panic!("no port free on both 127.0.0.3 and 127.0.0.1");
}

fn secret_page() -> String {
    let text: String = (0..12)
        .map(|i| format!("<p>Internal configuration line {i}: {SECRET} and the admin console lives here, do not publish this page anywhere.</p>"))
        .collect();
    format!("<!DOCTYPE html><html><head><title>admin</title></head><body><article><h1>Admin</h1>{text}</article></body></html>")
}

fn hostile_feed(feed: &TestServer, port: u16) -> (String, Vec<String>) {
    let links = vec![
        format!("http://127.0.0.3:{port}/admin/secret.html"),
        format!("http://localhost:{port}/admin/secret.html"),
        format!("http://0.0.0.0:{port}/admin/secret.html"),
        format!("http://2130706433:{port}/admin/secret.html"),
        format!("http://0x7f000001:{port}/admin/secret.html?hex"),
        format!("http://[::1]:{port}/admin/secret.html"),
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/".to_string(),
        feed.url("/go/secret"),
    ];
    let mut s = String::from(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Hostile</title><link>http://example.test/</link><description>d</description>\n",
    );
    for (i, link) in links.iter().enumerate() {
        s.push_str(&format!(
            "<item><guid>entry-{i}</guid><title>Entry {i}</title><link>{link}</link><pubDate>Sun, 03 Aug 2025 22:48:15 GMT</pubDate><description>Feed's own teaser text {i}.</description></item>\n"
        ));
    }
    s.push_str("</channel></rss>\n");
    (s, links)
}

/// `title -> content_markdown` of every stored post.
async fn contents(ws: &Workspace) -> HashMap<String, String> {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", ws.db_path().display()))
        .await
        .unwrap();
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT title, content_markdown FROM posts")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    rows.into_iter().collect()
}

async fn article_errors(ws: &Workspace) -> Vec<(String, String, Option<String>)> {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", ws.db_path().display()))
        .await
        .unwrap();
    let rows = sqlx::query_as("SELECT url, status, error FROM articles ORDER BY url")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    rows
}

const ARTICLES: &str = "[articles]\nfull_content = \"when_short\"\nper_host_interval = \"10ms\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_content_cannot_reach_internal_addresses() {
    let (internal, canary) = internal_hosts().await;
    let port = internal.addr.port();
    internal.route(
        "/admin/secret.html",
        Reply::feed(secret_page()).with_content_type("text/html"),
    );
    let feed = TestServer::start_at("127.0.0.2:0").await;
    let (doc, links) = hostile_feed(&feed, port);
    feed.route("/feed.xml", Reply::feed(doc));
    feed.route(
        "/go/secret",
        Reply::status(302, "").with_header(
            "Location",
            &format!("http://127.0.0.3:{port}/admin/secret.html"),
        ),
    );

    let ws = Workspace::new(
        ARTICLES,
        &feed_toml("Hostile", &feed.url("/feed.xml"), "blogs", ""),
    );
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);

    assert!(
        internal.all_requests().is_empty(),
        "the internal host was requested: {:?}",
        internal.all_requests()
    );
    assert_eq!(
        canary.hits(),
        0,
        "a loopback spelling reached 127.0.0.1/[::1]"
    );
    // The redirect hop on the feed's own origin is fetched (the operator trusts that origin);
    // its target is not.
    assert_eq!(feed.statuses("/go/secret"), [302]);

    let posts = contents(&ws).await;
    assert_eq!(
        posts.len(),
        links.len(),
        "every entry is published: {posts:?}"
    );
    for (i, _) in links.iter().enumerate() {
        let body = &posts[&format!("Entry {i}")];
        assert!(
            body.contains(&format!("Feed's own teaser text {i}")),
            "entry {i} lost the feed's text: {body}"
        );
        assert!(
            !body.contains(SECRET),
            "entry {i} published the internal page"
        );
    }
    // The links the guard refuses without DNS are reported in the poll's log line, each with
    // its reason and the way to allow it; the redirect (refused at its second hop) is recorded
    // in the article cache.
    assert!(out.stderr.contains("refused=7"), "{}", out.stderr);
    assert_eq!(
        out.stderr
            .matches("article refused; the post keeps the feed's content")
            .count(),
        7,
        "{}",
        out.stderr
    );
    let records = article_errors(&ws).await;
    assert_eq!(records.len(), 1, "{records:?}");
    for (url, status, error) in &records {
        let error = error.as_deref().unwrap_or("");
        assert_eq!(status, "failed", "{url}");
        assert!(error.contains("refused, no request sent"), "{url}: {error}");
        assert!(
            error.contains("127.0.0.3 is a loopback address"),
            "{url}: {error}"
        );
        assert!(error.contains("allow_hosts"), "{url}: {error}");
    }
    // inspect --explain shows the verdict per entry.
    let out_explain = ws
        .run(&["inspect", &feed.url("/feed.xml"), "--explain"])
        .await;
    assert_eq!(out_explain.code, 0, "{}", out_explain.stderr);
    assert_eq!(
        out_explain.stdout.matches("article link: ").count(),
        links.len(),
        "{}",
        out_explain.stdout
    );
    assert!(
        out_explain
            .stdout
            .contains("refused, no request sent: 0.0.0.0 is an unspecified address"),
        "{}",
        out_explain.stdout
    );
    assert!(
        out.stderr.contains("refused, no request sent"),
        "the refusals are logged: {}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("169.254.169.254 is a link-local address"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("localhost is a loopback name"),
        "{}",
        out.stderr
    );

    // The operator allows 127.0.0.3: exactly those pages are fetched, the other spellings of
    // the loopback host stay refused.
    let ws = Workspace::new(
        &format!("[http]\nallow_hosts = [\"127.0.0.3\"]\n{ARTICLES}"),
        &feed_toml("Hostile", &feed.url("/feed.xml"), "blogs", ""),
    );
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        internal.statuses("/admin/secret.html"),
        [200, 200],
        "the direct link and the redirect target are fetched once each"
    );
    assert_eq!(canary.hits(), 0, "only the allowed host is reached");
    let posts = contents(&ws).await;
    for i in [0usize, 7] {
        assert!(
            posts[&format!("Entry {i}")].contains(SECRET),
            "entry {i}: the allowed page is used"
        );
    }
    for i in 1..7usize {
        assert!(!posts[&format!("Entry {i}")].contains(SECRET), "entry {i}");
    }
}

/// A configured feed may live anywhere, but its redirect to another internal origin is the
/// server's choice and is refused; an autodiscovered feed link is treated the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_and_autodiscovery_of_a_feed_are_guarded() {
    let (internal, canary) = internal_hosts().await;
    internal.route(
        "/feed.xml",
        Reply::feed(crate::support::rss(
            "Internal",
            &[("i1", "Internal", "secret")],
        )),
    );
    let feed = TestServer::start_at("127.0.0.2:0").await;
    feed.route(
        "/moved.xml",
        Reply::status(301, "").with_header("Location", &internal.url("/feed.xml")),
    );
    feed.route(
        "/page.html",
        Reply::feed(format!(
            "<!DOCTYPE html><html><head><link rel=\"alternate\" type=\"application/rss+xml\" href=\"{}\"></head><body>hi</body></html>",
            internal.url("/feed.xml")
        ))
        .with_content_type("text/html"),
    );
    let ws = Workspace::new(
        "",
        &format!(
            "{}{}",
            feed_toml("Moved", &feed.url("/moved.xml"), "blogs", ""),
            feed_toml("Page", &feed.url("/page.html"), "blogs", "")
        ),
    );
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 4, "both feeds fail: {}", out.stderr);
    assert!(
        internal.all_requests().is_empty(),
        "{:?}",
        internal.all_requests()
    );
    assert_eq!(canary.hits(), 0);
    assert!(
        out.stderr.matches("refused, no request sent").count() >= 2,
        "{}",
        out.stderr
    );

    // The feed's own origin is trusted even when it is internal: a configured feed on
    // 127.0.0.3 is fetched.
    let ws = Workspace::new(
        "",
        &feed_toml("Internal", &internal.url("/feed.xml"), "blogs", ""),
    );
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(internal.statuses("/feed.xml"), [200]);
}
