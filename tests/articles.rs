//! The article step (full content) end to end: the real binary, a loopback server holding a
//! teaser feed and its linked pages, a real SQLite file.

use std::collections::HashMap;
use std::time::Duration;

use crate::support::{feed_toml, Reply, TestServer, Workspace};

/// A page that buries `article` in navigation, ads, a comment thread, scripts and a footer.
fn page(title: &str, article: &str) -> String {
    format!(
        "<!DOCTYPE html><html><head><title>{title} | Example Blog</title>\
         <script>window.tracker = 'TRACKING-CODE';</script><style>.ad{{color:red}}</style></head><body>\
         <header><nav><ul><li><a href=\"/\">Home</a></li><li><a href=\"/archive\">Archive</a></li>\
         <li><a href=\"/about\">About us</a></li></ul></nav></header>\
         <div class=\"ad-banner\">SPONSORED: Buy the enterprise plan today!</div>\
         <main><article><h1>{title}</h1><div class=\"post-body\">{article}</div></article></main>\
         <section class=\"comments\"><h3>Comments</h3><p>COMMENT: first!</p><p>COMMENT: great read</p></section>\
         <script>document.write('INJECTED-SCRIPT')</script>\
         <footer><p>FOOTER: Copyright 2026 Example Blog. All rights reserved.</p></footer></body></html>"
    )
}

fn article_text(topic: &str) -> String {
    (0..10)
        .map(|i| format!("<p>Section {i} on {topic}: the team moved every service to declarative pipelines, measured lead time and failure rate, and wrote down what worked so other teams could repeat it.</p>"))
        .collect()
}

fn html(body: String) -> Reply {
    Reply::feed(body).with_content_type("text/html; charset=utf-8")
}

/// An RSS feed whose items carry only a one-line teaser and link to `links`.
fn teaser_feed(server: &TestServer, items: &[(&str, &str)]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Teasers</title><link>http://example.test/</link><description>d</description>\n",
    );
    for (path, title) in items {
        let link = server.url(path);
        s.push_str(&format!(
            "<item><guid>{link}</guid><title>{title}</title><link>{link}</link><pubDate>Sun, 03 Aug 2025 22:48:15 GMT</pubDate><description>Read more...</description></item>\n"
        ));
    }
    s.push_str("</channel></rss>\n");
    s
}

/// `canonical_url -> content_markdown` of every stored post.
async fn contents(ws: &Workspace) -> HashMap<String, String> {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", ws.db_path().display()))
        .await
        .unwrap();
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT canonical_url, content_markdown FROM posts")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    rows.into_iter().collect()
}

/// `url -> (status, error)` of the article cache.
async fn articles(ws: &Workspace) -> HashMap<String, (String, Option<String>)> {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", ws.db_path().display()))
        .await
        .unwrap();
    let rows: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT url, status, error FROM articles")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    rows.into_iter().map(|(u, s, e)| (u, (s, e))).collect()
}

const ARTICLES_FAST: &str =
    "[articles]\nfull_content = \"when_short\"\nper_host_interval = \"10ms\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teaser_posts_get_the_article_without_the_page_chrome() {
    let server = TestServer::start().await;
    server.route(
        "/feed.xml",
        Reply::feed(teaser_feed(
            &server,
            &[
                ("/posts/1.html", "Pipelines"),
                ("/posts/2.html", "Observability"),
            ],
        )),
    );
    server.route(
        "/posts/1.html",
        html(page("Pipelines", &article_text("pipelines"))),
    );
    server.route(
        "/posts/2.html",
        html(page("Observability", &article_text("observability"))),
    );
    let ws = Workspace::new(
        ARTICLES_FAST,
        &feed_toml("Teasers", &server.url("/feed.xml"), "blogs", ""),
    );
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("articles: 2 fetched, 0 failed"),
        "{}",
        out.stderr
    );

    let posts = contents(&ws).await;
    assert_eq!(posts.len(), 2);
    let first = &posts[&server.url("/posts/1.html")];
    assert!(first.contains("Section 0 on pipelines"), "{first}");
    assert!(first.contains("Section 9 on pipelines"), "{first}");
    for chrome in [
        "TRACKING-CODE",
        "INJECTED-SCRIPT",
        "SPONSORED",
        "COMMENT:",
        "FOOTER:",
        "About us",
        "Read more",
    ] {
        assert!(
            !first.contains(chrome),
            "{chrome} leaked into the post:\n{first}"
        );
    }
    assert!(posts[&server.url("/posts/2.html")].contains("Section 3 on observability"));

    // A second run: the feed is unchanged (304) and nothing is fetched again.
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    // The feed changes (new ETag, same items): the cached articles are reused, not re-fetched.
    server.route(
        "/feed.xml",
        Reply::feed(
            teaser_feed(
                &server,
                &[
                    ("/posts/1.html", "Pipelines"),
                    ("/posts/2.html", "Observability"),
                ],
            ) + "<!-- changed -->",
        ),
    );
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("0 new, 0 updated"), "{}", out.stderr);
    assert_eq!(
        server.times("/posts/1.html").len(),
        1,
        "article fetched again"
    );
    assert_eq!(
        server.times("/posts/2.html").len(),
        1,
        "article fetched again"
    );
    assert_eq!(server.times("/feed.xml").len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_content_selector_overrides_the_extractor() {
    let server = TestServer::start().await;
    server.route(
        "/feed.xml",
        Reply::feed(teaser_feed(&server, &[("/a.html", "A")])),
    );
    // The selector picks the sidebar, which readability would never choose.
    let body = page("A", &article_text("the main story")).replace(
        "<footer>",
        &format!(
            "<aside id=\"notes\"><p>{}</p></aside><footer>",
            "SIDEBAR NOTE: the part this site's users want. ".repeat(15)
        ),
    );
    server.route("/a.html", html(body));
    let ws = Workspace::new(
        ARTICLES_FAST,
        &feed_toml(
            "Teasers",
            &server.url("/feed.xml"),
            "blogs",
            "content_selector = \"aside#notes\"",
        ),
    );
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let post = &contents(&ws).await[&server.url("/a.html")];
    assert!(post.contains("SIDEBAR NOTE"), "{post}");
    assert!(!post.contains("the main story"), "{post}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_pages_keep_the_feed_content_and_record_the_failure() {
    let server = TestServer::start().await;
    server.route(
        "/feed.xml",
        Reply::feed(teaser_feed(
            &server,
            &[
                ("/missing.html", "Missing"),
                ("/hang.html", "Hangs"),
                ("/huge.html", "Huge"),
                ("/good.html", "Good"),
            ],
        )),
    );
    server.route("/missing.html", Reply::status(404, "not found"));
    server.route("/hang.html", Reply::Hang);
    server.route("/huge.html", html("<p>x</p>".repeat(50 * 1024 * 1024 / 8)));
    server.route("/good.html", html(page("Good", &article_text("good news"))));
    let ws = Workspace::new(
        &format!("[http]\ntimeout = \"2s\"\nconnect_timeout = \"1s\"\n\n{ARTICLES_FAST}"),
        &feed_toml("Teasers", &server.url("/feed.xml"), "blogs", ""),
    );
    let started = std::time::Instant::now();
    let out = ws.run(&["fetch"]).await;
    assert_eq!(
        out.code, 0,
        "a broken article page is not a failed feed: {}",
        out.stderr
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(
        out.stderr.contains("articles: 1 fetched, 3 failed"),
        "{}",
        out.stderr
    );

    let posts = contents(&ws).await;
    assert_eq!(posts.len(), 4, "every entry is still published");
    for path in ["/missing.html", "/hang.html", "/huge.html"] {
        assert!(
            posts[&server.url(path)].contains("Read more"),
            "{path} lost its feed content"
        );
    }
    assert!(posts[&server.url("/good.html")].contains("Section 1 on good news"));

    let cache = articles(&ws).await;
    let err = |p: &str| cache[&server.url(p)].1.clone().unwrap_or_default();
    assert_eq!(cache[&server.url("/missing.html")].0, "failed");
    assert!(
        err("/missing.html").contains("404"),
        "{}",
        err("/missing.html")
    );
    assert!(
        err("/hang.html").contains("timed out"),
        "{}",
        err("/hang.html")
    );
    assert!(err("/huge.html").contains("limit"), "{}", err("/huge.html"));

    // The next run does not fetch the failed pages again: they wait for their retry time.
    server.route(
        "/feed.xml",
        Reply::feed(
            teaser_feed(
                &server,
                &[
                    ("/missing.html", "Missing"),
                    ("/hang.html", "Hangs"),
                    ("/huge.html", "Huge"),
                    ("/good.html", "Good"),
                ],
            ) + "<!-- v2 -->",
        ),
    );
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(server.times("/missing.html").len(), 1);
    assert_eq!(server.times("/good.html").len(), 1);
}

/// Reddit's JSON form of a comments page, as `https://www.reddit.com/.../slug.json` returns it.
fn reddit_json(selftext_html: &str, url: &str, is_self: bool, removed: Option<&str>) -> String {
    serde_json::json!([
        {"kind": "Listing", "data": {"children": [{"kind": "t3", "data": {
            "selftext": if removed.is_some() { "[removed]" } else { "text" },
            "selftext_html": html_escape(selftext_html),
            "url": url,
            "is_self": is_self,
            "removed_by_category": removed,
            "author": "alice",
            "permalink": "/r/devops/comments/x/y/"
        }}]}},
        {"kind": "Listing", "data": {"children": []}}
    ])
    .to_string()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reddit_posts_are_read_from_the_json_form_and_removed_posts_are_not_published() {
    let server = TestServer::start().await;
    let self_post = "/r/devops/comments/abc111/my_pipeline_story/";
    let link_post = "/r/devops/comments/abc222/great_article/";
    let removed = "/r/devops/comments/abc333/spam/";
    let entry = |path: &str, title: &str| {
        let link = server.url(path);
        // The feed's own content is a short teaser, so the community rule would skip it.
        format!(
            "<entry><id>t3_{title}</id><title>{title}</title><link href=\"{link}\"/><updated>2025-08-03T22:48:15+00:00</updated>\
             <author><name>/u/alice</name></author><content type=\"html\">&lt;p&gt;short&lt;/p&gt;</content></entry>"
        )
    };
    let feed = format!(
        "<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><title>r/devops</title><id>r</id><updated>2025-08-03T22:48:15+00:00</updated>{}{}{}</feed>",
        entry(self_post, "self"),
        entry(link_post, "link"),
        entry(removed, "removed")
    );
    server.route(
        "/r/devops/.rss",
        Reply::feed(feed).with_content_type("application/atom+xml"),
    );
    let long = (0..12)
        .map(|i| format!("<p>Step {i}: we replaced the hand-run deploy script with a reviewed pipeline, added canaries and rollbacks, and cut incidents by half.</p>"))
        .collect::<String>();
    let json = |body: String| Reply::feed(body).with_content_type("application/json");
    server.route(
        "/r/devops/comments/abc111/my_pipeline_story.json",
        json(reddit_json(
            &format!("<!-- SC_OFF --><div class=\"md\">{long}</div><!-- SC_ON -->"),
            &server.url(self_post),
            true,
            None,
        )),
    );
    server.route(
        "/r/devops/comments/abc222/great_article.json",
        json(reddit_json(
            &format!("<div class=\"md\">{long}</div>"),
            "https://blog.example.org/great-article",
            false,
            None,
        )),
    );
    server.route(
        "/r/devops/comments/abc333/spam.json",
        json(reddit_json(
            &long,
            &server.url(removed),
            true,
            Some("moderator"),
        )),
    );
    let ws = Workspace::new(
        ARTICLES_FAST,
        &feed_toml("Reddit", &server.url("/r/devops/.rss"), "community", ""),
    );
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);

    let posts = contents(&ws).await;
    let self_text = posts
        .get(&server.url(self_post))
        .unwrap_or_else(|| panic!("self post not published: {posts:?}\n{}", out.stderr));
    assert!(self_text.contains("Step 11: we replaced"), "{self_text}");
    let link_text = &posts[&server.url(link_post)];
    assert!(link_text.contains("Step 0: we replaced"), "{link_text}");
    assert!(
        link_text.contains("https://blog.example.org/great-article"),
        "the shared link is kept: {link_text}"
    );
    assert!(
        !posts.contains_key(&server.url(removed)),
        "a removed post is not published"
    );
    let cache = articles(&ws).await;
    assert_eq!(cache[&server.url(removed)].0, "removed");
    // Only the JSON form was requested, never the HTML comments page.
    assert!(server.times(self_post).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_turns_the_step_off() {
    let server = TestServer::start().await;
    server.route(
        "/feed.xml",
        Reply::feed(teaser_feed(&server, &[("/p.html", "P")])),
    );
    server.route("/p.html", html(page("P", &article_text("p"))));
    let ws = Workspace::new(
        ARTICLES_FAST,
        &feed_toml(
            "Teasers",
            &server.url("/feed.xml"),
            "blogs",
            "full_content = \"never\"",
        ),
    );
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(server.times("/p.html").is_empty());
    assert!(contents(&ws).await[&server.url("/p.html")].contains("Read more"));
}

/// The library path the daemon uses: `refresh` stores the poll and returns; the article is
/// fetched afterwards and applied to the stored post.
async fn app_for(ws: &Workspace) -> feedsmith::app::App {
    let settings = feedsmith::config::load(Some(&ws.config_path()), None).expect("config");
    feedsmith::app::App::build(settings).await.expect("app")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_poll_is_stored_before_the_article_arrives() {
    let server = TestServer::start().await;
    server.route(
        "/feed.xml",
        Reply::feed(teaser_feed(&server, &[("/slow.html", "Slow")])),
    );
    server.route(
        "/slow.html",
        Reply::Slow(
            Duration::from_secs(3),
            Box::new(html(page("Slow", &article_text("patience")))),
        ),
    );
    let ws = Workspace::new(
        ARTICLES_FAST,
        &feed_toml("Teasers", &server.url("/feed.xml"), "blogs", ""),
    );
    let app = app_for(&ws).await;
    let feeds = app.settings.feeds.clone();
    let records = app.store.sync_feeds(&feeds).await.unwrap();
    let started = std::time::Instant::now();
    let report = feedsmith::pipeline::refresh(&app, &feeds[0], &records[0])
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the poll waited for the article page"
    );
    assert_eq!(report.saved.new, 1);
    let url = server.url("/slow.html");
    let stored = app.store.find_post(&url).await.unwrap().unwrap();
    assert!(stored.post.content_markdown.contains("Read more"));
    assert_eq!(app.articles.pending(), 1);

    app.articles.drain().await;
    let stored = app.store.find_post(&url).await.unwrap().unwrap();
    assert!(
        stored
            .post
            .content_markdown
            .contains("Section 4 on patience"),
        "{}",
        stored.post.content_markdown
    );
    assert_eq!(app.articles.stats().posts_updated, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_retries_a_failed_page_after_its_backoff() {
    let server = TestServer::start().await;
    server.route(
        "/feed.xml",
        Reply::feed(teaser_feed(&server, &[("/flaky.html", "Flaky")])),
    );
    server.route(
        "/flaky.html",
        Reply::status(503, "busy").with_header("Retry-After", "1"),
    );
    let ws = Workspace::new(
        &format!("{ARTICLES_FAST}retry_backoff = \"1s\"\n"),
        &feed_toml("Teasers", &server.url("/feed.xml"), "blogs", ""),
    );
    let app = app_for(&ws).await;
    app.articles.set_retry_in_process(true);
    let feeds = app.settings.feeds.clone();
    let records = app.store.sync_feeds(&feeds).await.unwrap();
    feedsmith::pipeline::refresh(&app, &feeds[0], &records[0])
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while server.times("/flaky.html").is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.statuses("/flaky.html"), vec![503]);
    server.route(
        "/flaky.html",
        html(page("Flaky", &article_text("second try"))),
    );
    app.articles.drain().await;
    assert_eq!(server.statuses("/flaky.html"), vec![503, 200]);
    let gap = server.times("/flaky.html")[1] - server.times("/flaky.html")[0];
    assert!(
        gap >= Duration::from_millis(900),
        "retried after {gap:?}, before Retry-After"
    );
    let stored = app
        .store
        .find_post(&server.url("/flaky.html"))
        .await
        .unwrap()
        .unwrap();
    assert!(stored
        .post
        .content_markdown
        .contains("Section 2 on second try"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_full_content_shows_the_extracted_article() {
    let server = TestServer::start().await;
    server.route(
        "/feed.xml",
        Reply::feed(teaser_feed(
            &server,
            &[("/i.html", "Inspected"), ("/gone.html", "Gone")],
        )),
    );
    server.route(
        "/i.html",
        html(page("Inspected", &article_text("inspection"))),
    );
    server.route("/gone.html", Reply::status(404, "no"));
    let ws = Workspace::new(
        "",
        &feed_toml("Teasers", &server.url("/feed.xml"), "blogs", ""),
    );
    let out = ws
        .run(&["inspect", &server.url("/feed.xml"), "--full-content"])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("Section 7 on inspection"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("SPONSORED"), "{}", out.stdout);
    assert!(
        out.stderr.contains(&format!(
            "{}: article used (readability): 12 ->",
            server.url("/i.html")
        )),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("article not used"), "{}", out.stderr);
    assert!(out.stderr.contains("404"), "{}", out.stderr);
    // Nothing was stored: inspect does not even create the database file.
    assert!(
        !ws.db_path().exists(),
        "inspect created {}",
        ws.db_path().display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_updated_with_its_article_goes_through_the_model_step_too() {
    let server = TestServer::start().await;
    server.route(
        "/feed.xml",
        Reply::feed(teaser_feed(&server, &[("/m.html", "Pipelines")])),
    );
    server.route(
        "/m.html",
        html(page("Pipelines", &article_text("pipelines"))),
    );
    let answer = serde_json::json!({
        "title": "Declarative pipelines, measured",
        "description": "How one team moved every service to declarative pipelines.",
        "excerpt": "Every service moved to declarative pipelines.",
        "tags": ["CI/CD", "Pipelines"],
        "body": "Rewritten by the model. ".repeat(120),
    });
    let completion = serde_json::json!({
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": answer.to_string()}}],
    });
    server.route(
        "/v1/chat/completions",
        Reply::status(200, &completion.to_string()).with_content_type("application/json"),
    );
    let ws = Workspace::new(
        &format!(
            "[enrich]\nendpoint = \"{}\"\nmodel = \"m\"\napi_key_env = \"FEEDSMITH_TEST_ARTICLE_KEY\"\n\n{ARTICLES_FAST}",
            server.url("/v1")
        ),
        &feed_toml("Teasers", &server.url("/feed.xml"), "blogs", ""),
    );
    let out = ws
        .run_with_env(&["fetch"], &[("FEEDSMITH_TEST_ARTICLE_KEY", "k")])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Once for the teaser post of the poll, once for the post rebuilt with its article.
    assert_eq!(
        server.times("/v1/chat/completions").len(),
        2,
        "{}",
        out.stderr
    );
    let out = ws
        .run_with_env(
            &["posts", "list", "--json"],
            &[("FEEDSMITH_TEST_ARTICLE_KEY", "k")],
        )
        .await;
    let posts: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0]["title"], "Declarative pipelines, measured",
        "{posts:?}"
    );
    let body = &contents(&ws).await[&server.url("/m.html")];
    assert!(body.contains("Rewritten by the model."), "{body}");
}

/// The article queue lives in the store. `fetch --articles-wait 3s` with 50 pages at one page a
/// second returns after about 3 s of waiting, says how many are still queued, and the next
/// `fetch` continues the queue although the feed answers 304 (nothing new is queued by the
/// poll). A `run` killed with SIGKILL leaves the queue in the store, and the next run finishes
/// it: every held-back post is published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_article_queue_survives_runs_and_kills() {
    let server = TestServer::start_at("127.0.0.2:0").await;
    let items: Vec<(String, String)> = (0..50)
        .map(|i| (format!("/post/{i}"), format!("Queued post {i}")))
        .collect();
    for (path, title) in &items {
        server.route(path, html(page(title, &article_text(title))));
    }
    let refs: Vec<(&str, &str)> = items
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    server.route("/feed.xml", Reply::feed(teaser_feed(&server, &refs)));
    let port = crate::support::free_port();
    let ws = Workspace::new(
        &format!("[server]\nlisten = \"127.0.0.1:{port}\"\n[articles]\nfull_content = \"when_short\"\nper_host_interval = \"1s\"\n"),
        &feed_toml("Teasers", &server.url("/feed.xml"), "blogs", ""),
    );
    let pages = || {
        server
            .all_requests()
            .iter()
            .filter(|(p, _)| p.starts_with("/post/"))
            .count()
    };
    // "articles: N fetched, N failed, N queued" of a summary line.
    let articles = |summary: &str| -> (usize, usize) {
        let tail = summary.split("articles: ").nth(1).unwrap_or("");
        let n: Vec<usize> = tail
            .split(", ")
            .filter_map(|part| part.split(' ').next()?.parse().ok())
            .collect();
        (
            n.first().copied().unwrap_or(usize::MAX),
            n.get(2).copied().unwrap_or(usize::MAX),
        )
    };

    let started = std::time::Instant::now();
    let first = ws.run(&["fetch", "--articles-wait", "3s"]).await;
    let took = started.elapsed();
    assert_eq!(first.code, 0, "{}", first.stderr);
    let summary = first.stderr.lines().last().unwrap_or("").to_string();
    eprintln!("first fetch ({took:?}): {summary}");
    let (fetched1, queued1) = articles(&summary);
    assert!(
        (2..=5).contains(&fetched1),
        "about 3 pages at one a second in 3 s: {summary}"
    );
    assert!(took < Duration::from_secs(15), "{took:?}: {summary}");
    assert_eq!(queued1, 50 - fetched1, "{summary}");

    let second = ws.run(&["fetch", "--articles-wait", "3s"]).await;
    let summary2 = second.stderr.lines().last().unwrap_or("").to_string();
    eprintln!("second fetch: {summary2}");
    assert!(
        summary2.starts_with("feeds: 0 ok, 1 not modified"),
        "{summary2}"
    );
    assert_eq!(server.statuses("/feed.xml"), vec![200, 304]);
    let (fetched2, queued2) = articles(&summary2);
    assert!(fetched2 >= 2, "the queue continued: {summary2}");
    assert_eq!(queued2, queued1 - fetched2, "{summary2}");
    // A page is fetched again only when a run was stopped while it was in flight.
    let mut count: HashMap<String, usize> = HashMap::new();
    for (p, _) in server.all_requests() {
        if p.starts_with("/post/") {
            *count.entry(p).or_default() += 1;
        }
    }
    assert!(count.values().all(|&n| n <= 2), "{count:?}");
    assert!(
        count.values().filter(|&&n| n == 2).count() <= 1,
        "{count:?}"
    );

    // `run`, killed with SIGKILL mid-queue: the queue is still in the store.
    let mut daemon = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedsmith"))
        .arg("--config")
        .arg(ws.config_path())
        .arg("run")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let before_run = pages();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while pages() < before_run + 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    daemon.start_kill().unwrap(); // SIGKILL
    let _ = daemon.wait().await;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", ws.db_path().display()))
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM article_jobs")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    eprintln!(
        "after SIGKILL of run: {} pages fetched by it, {left} jobs left",
        pages() - before_run
    );
    assert!(pages() > before_run, "the daemon continued the queue");
    assert!(
        left > 0 && (left as usize) < queued2,
        "the queue is still there, less what the daemon applied: {left} of {queued2}"
    );

    // The rest, quickly: the interval is a setting, the queue is what carries over.
    let config = std::fs::read_to_string(ws.config_path()).unwrap();
    std::fs::write(
        ws.config_path(),
        config.replace("per_host_interval = \"1s\"", "per_host_interval = \"10ms\""),
    )
    .unwrap();
    let last = ws.run(&["fetch", "--articles-wait", "2m"]).await;
    let summary3 = last.stderr.lines().last().unwrap_or("").to_string();
    eprintln!("last fetch: {summary3}");
    assert_eq!(articles(&summary3).1, 0, "{summary3}");
    let contents = contents(&ws).await;
    assert_eq!(contents.len(), 50);
    for (url, body) in &contents {
        assert!(
            body.contains("Section 9 on Queued post"),
            "{url} has its article: {body}"
        );
    }
}
