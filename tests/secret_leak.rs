//! Secrets in feed URLs never leave the process (issue 18): a feed configured as
//! `http://alice:PASSWORD@host/f.xml?token=...&feed=...&user=...` (the form of Reddit's private
//! feeds) and a failing one like it, polled by `fetch` and `run`, exported, listed and checked.
//! Every output channel (stdout and stderr of each command in pretty and JSON logs, the API,
//! the exported files) is searched for the secret strings. On SQLite and on PostgreSQL, whose
//! URL carries a password too.

use std::path::Path;
use std::time::Duration;

use crate::support::db::PgDatabase;
use crate::support::{feed_toml, Reply, TestServer, Workspace};

const PASSWORD: &str = "Pw0rdLeak";
const TOKEN: &str = "TokLeak1";
const FEED_KEY: &str = "FeedLeak2";
const USER_KEY: &str = "UserLeak3";
const DB_PASSWORD: &str = "DbLeak4";
const SECRETS: &[&str] = &[
    PASSWORD,
    TOKEN,
    FEED_KEY,
    USER_KEY,
    DB_PASSWORD,
    "alice:",
    "bob:",
];

fn feed_doc() -> String {
    // Relative links, images and entry links: resolved against the feed URL, which must not
    // lend them its userinfo.
    let mut s = String::from(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Private</title><description>d</description>\n",
    );
    for i in 0..3 {
        s.push_str(&format!(
            "<item><guid>private-{i}</guid><title>Private post {i}</title><link>posts/{i}.html</link>\
             <pubDate>Sun, 03 Aug 2025 22:48:15 GMT</pubDate><description><![CDATA[<p>Body {i} with <a href=\"/rel/{i}\">a relative link</a> \
             and <img src=\"img/{i}.png\" alt=\"an image\"> and enough words to be a post of its own.</p>]]></description></item>\n"
        ));
    }
    s.push_str("</channel></rss>\n");
    s
}

/// No link, no http(s) id, and the channel has no link either: the canonical URL falls back to
/// the feed's URL (post-format.md 2), which must not bring its token along.
fn linkless_doc() -> String {
    "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Tokened</title><description>d</description>\
     <item><guid isPermaLink=\"false\">linkless-1</guid><title>Linkless post</title>\
     <pubDate>Sun, 03 Aug 2025 22:48:15 GMT</pubDate><description><![CDATA[<p>A post without a link, \
     long enough to be published on its own merits.</p>]]></description></item></channel></rss>\n"
        .to_string()
}

fn assert_clean(channel: &str, text: &str) {
    for secret in SECRETS {
        assert!(
            !text.contains(secret),
            "{channel} leaks {secret:?}:\n{text}"
        );
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

async fn no_secret_in_any_output(database_url: Option<String>) {
    let server = TestServer::start().await;
    let query = format!("token={TOKEN}&feed={FEED_KEY}&user={USER_KEY}");
    server.route(&format!("/f.xml?{query}"), Reply::feed(feed_doc()));
    let addr = server.addr;
    let good = format!("http://alice:{PASSWORD}@{addr}/f.xml?{query}");
    let bad = format!("http://bob:{PASSWORD}@{addr}/missing.xml?token={TOKEN}");
    server.route(
        &format!("/t.xml?token={TOKEN}"),
        Reply::feed(linkless_doc()),
    );
    let tokened = format!("http://{addr}/t.xml?token={TOKEN}");
    let port = crate::support::free_port();
    let ws = Workspace::new(
        &format!(
            // Every second, without jitter: the daemon polls both feeds while it runs.
            "[schedule]\ndefault = \"* * * * * *\"\nmax_jitter = \"0s\"\n[server]\nlisten = \"127.0.0.1:{port}\"\n"
        ),
        &format!(
            "{}{}{}",
            feed_toml("Private", &good, "blogs", ""),
            feed_toml("Broken", &bad, "blogs", ""),
            feed_toml("Tokened", &tokened, "blogs", "")
        ),
    );
    let mut global: Vec<String> = Vec::new();
    if let Some(url) = &database_url {
        global.push("--database-url".into());
        global.push(url.clone());
    }
    let run = |args: &[&str]| {
        let mut all: Vec<String> = global.clone();
        all.extend(args.iter().map(|s| s.to_string()));
        let ws = &ws;
        async move {
            let refs: Vec<&str> = all.iter().map(String::as_str).collect();
            ws.run(&refs).await
        }
    };

    let site = ws.dir.path().join("site");
    let site_arg = site.to_str().unwrap().to_string();
    let commands: Vec<Vec<&str>> = vec![
        vec!["fetch"],
        vec!["--log-format", "json", "fetch"],
        vec!["fetch", "--json"],
        vec!["feeds", "list"],
        vec!["feeds", "list", "--json"],
        vec!["feeds", "export"],
        vec!["config", "check"],
        vec!["migrate"],
        vec!["posts", "list", "--json"],
        vec!["posts", "show", "1"],
        vec!["--log-format", "json", "export", "--out", &site_arg],
    ];
    for args in &commands {
        let out = run(args).await;
        assert!(
            out.code == 0 || out.code == 3,
            "{args:?} exited {}: {}",
            out.code,
            out.stderr
        );
        assert_clean(&format!("{args:?} stdout"), &out.stdout);
        assert_clean(&format!("{args:?} stderr"), &out.stderr);
    }
    // The requests did carry the credentials: the test is not passing by fetching nothing.
    assert!(!server.requests(&format!("/f.xml?{query}")).is_empty());
    let listed = run(&["posts", "list", "--json"]).await;
    let posts: Vec<serde_json::Value> = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(posts.len(), 4, "{posts:?}");
    let files: Vec<_> = walk(&site)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    assert_eq!(files.len(), 4);
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        assert_clean(&f.display().to_string(), &text);
        if !text.contains("Linkless post") {
            assert!(
                text.contains(&format!("http://{addr}/posts/")),
                "links resolve: {text}"
            );
        }
        assert!(text.contains("feed_url: "), "{text}");
    }
    // Moving subscriptions: the one output that keeps them, on request.
    let out = run(&["feeds", "export", "--include-secrets"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains(PASSWORD) && out.stdout.contains(TOKEN));

    // The daemon: its log (JSON) and every endpoint.
    let log = ws.dir.path().join("daemon.log");
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedsmith"));
    cmd.arg("--config").arg(ws.config_path());
    for g in &global {
        cmd.arg(g);
    }
    let mut daemon = cmd
        .args(["--log-format", "json", "run"])
        .env("RUST_LOG", "debug")
        .stderr(std::fs::File::create(&log).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..200 {
        if reqwest::get(format!("{base}/healthz")).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        up,
        "daemon: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    for path in [
        "/api/feeds",
        "/api/posts",
        "/api/posts/1",
        "/feed.xml",
        "/metrics",
        "/readyz",
    ] {
        let body = reqwest::get(format!("{base}{path}"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_clean(path, &body);
    }
    // Until the daemon has polled (the failing feed is in its backoff by then; its failure
    // lines were checked in the fetch runs above).
    let mut log_text = String::new();
    for _ in 0..100 {
        log_text = std::fs::read_to_string(&log).unwrap_or_default();
        if log_text.contains("\"polled\"") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = daemon.kill().await;
    let _ = daemon.wait().await;
    let log_text = std::fs::read_to_string(&log).unwrap_or(log_text);
    assert!(log_text.contains("feedsmith is running"), "{log_text}");
    assert!(
        log_text.contains("\"polled\""),
        "the daemon polled: {log_text}"
    );
    assert_clean("daemon log", &log_text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_any_output_sqlite() {
    no_secret_in_any_output(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_any_output_postgres() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    // Trust authentication ignores the password, so the URL can carry one to be leaked.
    let url = db
        .url
        .replacen("://postgres@", &format!("://postgres:{DB_PASSWORD}@"), 1);
    assert!(
        url.contains(DB_PASSWORD),
        "unexpected admin URL form: {}",
        db.url
    );
    no_secret_in_any_output(Some(url)).await;
}
