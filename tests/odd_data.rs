//! Odd data as real feeds carry it, through `fetch`, `export` and a real `jekyll build`: titles
//! of 100 CJK characters and 200 Cyrillic ones (more bytes than a file name may have), entries
//! dated 2100 and 9999.

use std::path::Path;

use crate::support::{feed_toml, jekyll, jekyll_build, jekyll_site, Reply, TestServer, Workspace};

fn item(guid: &str, title: &str, date: &str) -> String {
    format!(
        "<item><guid>{guid}</guid><title>{title}</title><link>http://example.org/{guid}</link>\
         <pubDate>{date}</pubDate><description>&lt;p&gt;Body of {guid}.&lt;/p&gt;</description></item>"
    )
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.path().is_dir() {
                out.extend(walk(&e.path()));
            } else {
                out.push(e.path().display().to_string());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_non_latin_titles_and_future_dates_export_and_build() {
    let cjk: String = "日本語の長いタイトル".chars().cycle().take(100).collect();
    let cyrillic: String = "Привет".chars().cycle().take(200).collect();
    let server = TestServer::start().await;
    let items = [
        item("cjk", &cjk, "Sun, 03 Aug 2025 22:48:15 GMT"),
        item("cyr", &cyrillic, "Sun, 03 Aug 2025 22:48:15 GMT"),
        item("y2100", "Dated 2100", "Fri, 01 Jan 2100 00:00:00 GMT"),
        item("y9999", "Dated 9999", "Fri, 31 Dec 9999 23:59:59 GMT"),
        item("undated", "Dated by when it was first seen", ""),
    ]
    .concat();
    let doc = format!("<rss version=\"2.0\"><channel><title>Odd</title>{items}</channel></rss>");
    server.route("/odd.xml", Reply::feed(doc.clone()));
    let ws = Workspace::new("", &feed_toml("Odd", &server.url("/odd.xml"), "blogs", ""));
    let before = chrono::Utc::now();
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let after = chrono::Utc::now() + chrono::TimeDelta::seconds(1);
    let posts = ws.posts().await;
    assert_eq!(posts.len(), 5, "{posts:?}");

    for p in &posts {
        let title = p["title"].as_str().unwrap();
        let path = p["path"].as_str().unwrap();
        let permalink = p["permalink"].as_str().unwrap();
        // Path and permalink agree: same collection, same `<date>-<slug>` stem.
        let stem = path
            .strip_prefix("_blogs/")
            .and_then(|p| p.strip_suffix(".md"))
            .unwrap();
        assert_eq!(permalink, format!("/blogs/{stem}.html"), "{title}");
        assert!(stem.len() + ".html".len() <= 255, "{permalink}");
        let date =
            chrono::DateTime::parse_from_str(p["date"].as_str().unwrap(), "%Y-%m-%d %H:%M:%S %z")
                .map(|d| d.with_timezone(&chrono::Utc))
                .or_else(|_| {
                    chrono::DateTime::parse_from_rfc3339(p["date"].as_str().unwrap())
                        .map(|d| d.with_timezone(&chrono::Utc))
                })
                .unwrap();
        if title.starts_with("Dated") {
            // Replaced by the first-seen time: the time of the fetch.
            assert!(
                date >= before - chrono::TimeDelta::seconds(1) && date <= after,
                "{title}: {date}"
            );
        } else {
            assert_eq!(stem.get(..10), Some("2025-08-03"), "{title}");
        }
    }
    let cjk_post = posts.iter().find(|p| p["title"] == cjk.as_str()).unwrap();
    let slug_bytes = cjk_post["path"].as_str().unwrap().len() - "_blogs/2025-08-03-.md".len();
    assert_eq!(slug_bytes, 198, "66 whole CJK characters");

    // The feed's own date is kept: the entry as parsed is stored with the post (`entries`,
    // for reprocess), 2100 and 9999 included.
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", ws.db_path().display()))
        .await
        .unwrap();
    let rows: Vec<Vec<u8>> = sqlx::query_scalar("SELECT data FROM entries")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    let kept: Vec<(String, String)> = rows
        .iter()
        .map(|d| feedsmith::store::entries::decode(d).unwrap().entry)
        .filter_map(|e| Some((e.title?, e.published?.to_rfc3339())))
        .collect();
    assert!(
        kept.contains(&("Dated 2100".into(), "2100-01-01T00:00:00+00:00".into()))
            && kept.contains(&("Dated 9999".into(), "9999-12-31T23:59:59+00:00".into())),
        "{kept:?}"
    );

    // inspect --explain shows the feed's own date of a replaced one.
    let feed_file = ws.dir.path().join("odd.xml");
    std::fs::write(&feed_file, &doc).unwrap();
    let inspect = ws
        .run(&["inspect", feed_file.to_str().unwrap(), "--explain"])
        .await;
    assert_eq!(inspect.code, 0, "{}", inspect.stderr);
    assert!(
        inspect
            .stdout
            .contains("the feed says 2100-01-01 00:00:00 +00:00")
            && inspect
                .stdout
                .contains("the feed says 9999-12-31 23:59:59 +00:00"),
        "{}",
        inspect.stdout
    );

    // Export and build: every page is built at its permalink.
    let site = ws.dir.path().join("site");
    jekyll_site(
        &site,
        "title: test\ncollections:\n  blogs:\n    output: true\n",
        "<html><body><h1>{{ page.title }}</h1>{{ content }}</body></html>\n",
    );
    let out = ws.run(&["export", "--out", site.to_str().unwrap()]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    for p in &posts {
        let file = site.join(p["path"].as_str().unwrap());
        assert!(
            file.is_file(),
            "{} not exported: {:?}",
            file.display(),
            walk(&site)
        );
    }
    let Some(jekyll) = jekyll() else {
        return;
    };
    let dest = ws.dir.path().join("_site");
    jekyll_build(jekyll, &site, &dest);
    for p in &posts {
        let permalink = p["permalink"].as_str().unwrap();
        let page = dest.join(permalink.trim_start_matches('/'));
        assert!(
            page.is_file(),
            "no page at {permalink} (a future post is not built); built: {:?}",
            walk(&dest)
        );
    }
}

fn rss_items(title: &str, items: &[(&str, &str, &str)]) -> String {
    let items: String = items
        .iter()
        .map(|(guid, link, body)| {
            format!(
                "<item><guid>{guid}</guid><title>Entry {guid}</title><link>{link}</link>\
                 <pubDate>Sun, 03 Aug 2025 22:48:15 GMT</pubDate>\
                 <description>&lt;p&gt;{body}&lt;/p&gt;</description></item>"
            )
        })
        .collect();
    format!("<rss version=\"2.0\"><channel><title>{title}</title>{items}</channel></rss>")
}

/// An entry whose link changes to a URL another post holds is still the same entry: its post is
/// updated (keeping its own URL) and the warning names the post that owns the URL. A new entry of
/// another feed with a stored URL is a duplicate: logged at INFO with both feeds, and counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_moving_onto_a_stored_url_keeps_the_entrys_post_and_says_who_owns_it() {
    let server = TestServer::start().await;
    let (u1, u2) = ("http://example.org/one", "http://example.org/two");
    server.route(
        "/a.xml",
        Reply::feed(rss_items("A", &[("a1", u1, "first version")])),
    );
    server.route(
        "/b.xml",
        Reply::feed(rss_items("B", &[("b1", u2, "the owner")])),
    );
    let feeds = format!(
        "{}{}",
        feed_toml("Feed A", &server.url("/a.xml"), "blogs", ""),
        feed_toml("Feed B", &server.url("/b.xml"), "blogs", "")
    );
    let ws = Workspace::new("", &feeds);
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);

    // a1 now links to b1's URL, with a new body.
    server.route(
        "/a.xml",
        Reply::feed(rss_items("A", &[("a1", u2, "second version")])),
    );
    let out = ws.run(&["fetch", "--feed", "Feed A"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let warning = out
        .stderr
        .lines()
        .find(|l| l.contains("WARN") && l.contains(u2))
        .unwrap_or_else(|| panic!("no warning about {u2}:\n{}", out.stderr));
    assert!(
        warning.contains("Feed B") && warning.contains("a1"),
        "the warning names the entry and the owning post's feed: {warning}"
    );
    assert!(out.stderr.contains("1 updated"), "{}", out.stderr);
    let posts = ws.posts().await;
    let a1 = posts.iter().find(|p| p["feed"] == "Feed A").unwrap();
    assert_eq!(a1["canonical_url"], u1, "the post keeps its own URL");
    let shown = ws
        .run(&["posts", "show", a1["id"].to_string().as_str()])
        .await;
    assert!(shown.stdout.contains("second version"), "{}", shown.stdout);

    // A third feed carries b1's URL as a new entry: a duplicate across feeds.
    server.route(
        "/c.xml",
        Reply::feed(rss_items("C", &[("c1", u2, "a copy")])),
    );
    let config = std::fs::read_to_string(ws.config_path()).unwrap();
    std::fs::write(
        ws.config_path(),
        config + &feed_toml("Feed C", &server.url("/c.xml"), "blogs", ""),
    )
    .unwrap();
    let out = ws.run(&["fetch", "--feed", "Feed C"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let info = out
        .stderr
        .lines()
        .find(|l| l.contains("INFO") && l.contains("duplicate") && l.contains(u2))
        .unwrap_or_else(|| panic!("no INFO line about the duplicate:\n{}", out.stderr));
    assert!(
        info.contains("Feed C") && info.contains("Feed B"),
        "both feeds named: {info}"
    );
    assert!(out.stderr.contains("1 duplicate"), "{}", out.stderr);
}
