//! The daemon's read API against stored posts: keyset pagination that stays consistent while new
//! posts arrive, single posts, and `/feed.xml` parsed back with feed-rs.

use std::collections::HashSet;
use std::time::Duration;

use crate::support::{feed_toml, Reply, TestServer, Workspace};

fn feed_with(n: usize, day_offset: usize) -> String {
    let mut s = String::from("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title><link>http://example.org/</link><description>d</description>");
    for i in 0..n {
        let day = 1 + day_offset + i;
        s.push_str(&format!(
            "<item><guid>g{day}</guid><title>Post of day {day}</title><link>http://example.org/p{day}</link><pubDate>{:02} Aug 2025 10:00:00 GMT</pubDate><description>Body {day}.</description></item>",
            day
        ));
    }
    s.push_str("</channel></rss>");
    s
}

async fn get_json(url: &str) -> serde_json::Value {
    let resp = reqwest::get(url).await.unwrap();
    assert_eq!(resp.status(), 200, "{url}");
    serde_json::from_str(&resp.text().await.unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_api_pagination_single_post_and_atom_feed() {
    let server = TestServer::start().await;
    server.route("/feed.xml", Reply::feed(feed_with(7, 0)));
    let port = crate::support::free_port();
    let extra =
        format!("[schedule]\ndefault = \"0 0 0 1 1 *\"\n[server]\nlisten = \"127.0.0.1:{port}\"\n");
    let ws = Workspace::new(
        &extra,
        &feed_toml("Days", &server.url("/feed.xml"), "news", ""),
    );
    assert_eq!(ws.run(&["fetch"]).await.code, 0);

    let mut daemon = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedsmith"))
        .arg("--config")
        .arg(ws.config_path())
        .arg("run")
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if reqwest::get(format!("{base}/healthz")).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Page through 2 at a time while newer posts arrive between pages.
    let mut seen = Vec::new();
    let mut url = format!("{base}/api/posts?limit=2");
    let mut page = 0;
    loop {
        let body = get_json(&url).await;
        for item in body["items"].as_array().unwrap() {
            seen.push(item["title"].as_str().unwrap().to_string());
        }
        page += 1;
        if page == 1 {
            server.route("/feed.xml", Reply::feed(feed_with(10, 0)));
            let out = ws.run(&["fetch"]).await;
            assert!(out.stderr.contains("posts: 3 new"), "{}", out.stderr);
        }
        match body["next_cursor"].as_str() {
            Some(c) => url = format!("{base}/api/posts?limit=2&cursor={c}"),
            None => break,
        }
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no repeats: {seen:?}");
    for day in 1..=7 {
        assert!(
            seen.contains(&format!("Post of day {day}")),
            "no gaps: day {day} missing from {seen:?}"
        );
    }
    let dates: Vec<String> = seen.clone();
    assert_eq!(
        dates.first().map(String::as_str),
        Some("Post of day 7"),
        "newest first"
    );

    // Filters and errors.
    let news = get_json(&format!(
        "{base}/api/posts?collection=news&since=2025-08-09"
    ))
    .await;
    assert_eq!(news["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        reqwest::get(format!("{base}/api/posts?cursor=nonsense"))
            .await
            .unwrap()
            .status(),
        400
    );

    // One post with its markdown and file.
    let first = get_json(&format!("{base}/api/posts?limit=1")).await;
    let id = first["items"][0]["id"].as_i64().unwrap();
    let post = get_json(&format!("{base}/api/posts/{id}")).await;
    assert_eq!(post["title"], "Post of day 10");
    assert!(post["markdown"].as_str().unwrap().contains("Body 10."));
    assert!(post["file"]
        .as_str()
        .unwrap()
        .starts_with("---\nlayout: \"post\"\n"));
    assert_eq!(
        reqwest::get(format!("{base}/api/posts/999999"))
            .await
            .unwrap()
            .status(),
        404
    );

    // The aggregate Atom feed parses back to the stored posts.
    let xml = reqwest::get(format!("{base}/feed.xml"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let parsed = feed_rs::parser::parse(&xml[..]).expect("valid Atom");
    assert_eq!(parsed.entries.len(), 10);
    let stored: HashSet<String> = ws
        .posts()
        .await
        .iter()
        .map(|p| p["canonical_url"].as_str().unwrap().to_string())
        .collect();
    let in_feed: HashSet<String> = parsed.entries.iter().map(|e| e.id.clone()).collect();
    assert_eq!(stored, in_feed);
    assert_eq!(
        parsed.entries[0].title.as_ref().unwrap().content,
        "Post of day 10"
    );
    // The content is HTML (issue 21), not the markdown as text.
    let content = parsed.entries[0].content.as_ref().expect("content");
    assert_eq!(content.content_type.essence().to_string(), "text/html");
    let body = content.body.as_deref().unwrap_or_default();
    assert!(body.contains("<p>") && !body.contains("**"), "{body}");

    daemon.start_kill().unwrap();
    let _ = daemon.wait().await;
}
