//! Downstream publishing: `export` into a real Jekyll site (built by the real `jekyll`), the
//! incremental and edit-safe rules, OPML round trips.

use std::path::Path;
use std::time::Duration;

use crate::support::{feed_toml, jekyll, jekyll_build, jekyll_site, Reply, TestServer, Workspace};

/// Titles that try to break front matter, Liquid, paths and encodings.
const HOSTILE: &[(&str, &str)] = &[
    ("h1", "Quotes \"double\" and 'single': a colon, too"),
    ("h2", "--- front matter breaker ---"),
    ("h3", "Emoji 🦀🎉 and Ünïcödé letters"),
    ("h4", "日本語のタイトル: テスト"),
    ("h5", "&amp;anchor !tag #comment {{ liquid }} {% raw %}"),
    ("h6", "Path ../../etc/passwd /absolute"),
];

fn hostile_feed() -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>Hostile</title><link>http://example.org/</link><description>d</description>\n",
    );
    for (guid, title) in HOSTILE {
        let t = title.replace('&', "&amp;").replace('<', "&lt;");
        s.push_str(&format!(
            "<item><guid>{guid}</guid><title>{t}</title><link>http://example.org/{guid}</link><pubDate>Sun, 03 Aug 2025 22:48:15 GMT</pubDate>\
             <description><![CDATA[<p>Text with {{{{ template }}}} and {{% tag %}} and <script>alert(1)</script> &lt;b&gt;.</p><ul><li>one</li></ul>]]></description></item>\n"
        ));
    }
    s.push_str("</channel></rss>\n");
    s
}

async fn workspace_with_posts() -> (TestServer, Workspace) {
    let server = TestServer::start().await;
    server.route("/hostile.xml", Reply::feed(hostile_feed()));
    let ws = Workspace::new(
        "",
        &feed_toml(
            "Hostile Feed",
            &server.url("/hostile.xml"),
            "blogs",
            "categories = [\"Coding\"]",
        ),
    );
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    (server, ws)
}

fn mtimes(dir: &Path) -> Vec<(String, std::time::SystemTime)> {
    let mut out = Vec::new();
    for entry in walk(dir) {
        let meta = std::fs::metadata(&entry).unwrap();
        out.push((entry.display().to_string(), meta.modified().unwrap()));
    }
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_is_byte_exact_incremental_and_edit_safe() {
    let (_server, ws) = workspace_with_posts().await;
    let site = ws.dir.path().join("site");
    let site_arg = site.to_str().unwrap();
    let out = ws.run(&["export", "--out", site_arg]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "export: {} written, 0 unchanged, 0 skipped",
            HOSTILE.len()
        )),
        "{}",
        out.stderr
    );

    let posts = ws.posts().await;
    assert_eq!(posts.len(), HOSTILE.len());
    for p in &posts {
        let path = site.join(p["path"].as_str().unwrap());
        let show = ws.run(&["posts", "show", &p["id"].to_string()]).await;
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            show.stdout,
            "export == posts show for {path:?}"
        );
        assert!(path.starts_with(&site));
    }

    // Re-export: nothing rewritten, mtimes unchanged.
    let before = mtimes(&site.join("_blogs"));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = ws.run(&["export", "--out", site_arg]).await;
    assert!(
        again.stderr.contains(&format!(
            "0 written, {} unchanged, 0 skipped",
            HOSTILE.len()
        )),
        "{}",
        again.stderr
    );
    assert_eq!(before, mtimes(&site.join("_blogs")));

    // An edited file is never overwritten, unless --force.
    let edited = site.join(posts[0]["path"].as_str().unwrap());
    std::fs::write(&edited, "edited by a person\n").unwrap();
    let foreign = site.join("_blogs/notes.md");
    std::fs::write(&foreign, "not feedsmith's\n").unwrap();
    let skip = ws.run(&["export", "--out", site_arg]).await;
    assert!(skip.stderr.contains("1 skipped"), "{}", skip.stderr);
    assert!(skip.stderr.contains("edited since"), "{}", skip.stderr);
    assert_eq!(
        std::fs::read_to_string(&edited).unwrap(),
        "edited by a person\n"
    );
    let force = ws.run(&["export", "--out", site_arg, "--force"]).await;
    assert!(force.stderr.contains("1 written"), "{}", force.stderr);
    assert_ne!(
        std::fs::read_to_string(&edited).unwrap(),
        "edited by a person\n"
    );
    assert_eq!(
        std::fs::read_to_string(&foreign).unwrap(),
        "not feedsmith's\n",
        "files feedsmith did not write are left alone"
    );

    // Nothing is deleted without --prune; --prune removes only feedsmith's stale files.
    let stale = site.join("_blogs/2020-01-01-stale.md");
    std::fs::write(&stale, "x").unwrap();
    let prune = ws.run(&["export", "--out", site_arg, "--prune"]).await;
    assert_eq!(prune.code, 0, "{}", prune.stderr);
    assert!(
        stale.exists() && foreign.exists(),
        "only files in feedsmith's manifest are pruned"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jekyll_builds_the_exported_site() {
    let Some(jekyll) = jekyll() else {
        return;
    };
    let (_server, ws) = workspace_with_posts().await;
    let site = ws.dir.path().join("site");
    jekyll_site(
        &site,
        "title: test\ncollections:\n  blogs:\n    output: true\n  community:\n    output: true\n  news:\n    output: true\n  videos:\n    output: true\n",
        "<html><body><h1>{{ page.title }}</h1>{{ content }}</body></html>\n",
    );
    let out = ws.run(&["export", "--out", site.to_str().unwrap()]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);

    let dest = ws.dir.path().join("_site");
    let (stdout, stderr) = jekyll_build(jekyll, &site, &dest);
    for text in [&stdout, &stderr] {
        assert!(
            !text.contains("Warning") && !text.contains("Error") && !text.contains("Liquid"),
            "jekyll complained:\n{stdout}\n{stderr}"
        );
    }
    for p in ws.posts().await {
        let permalink = p["permalink"].as_str().unwrap();
        let page = dest.join(permalink.trim_start_matches('/'));
        assert!(
            page.is_file(),
            "no page at {permalink}; built: {:?}",
            walk(&dest)
        );
        let html = std::fs::read_to_string(&page).unwrap();
        assert!(!html.contains("<script>"), "sanitized: {html}");
        if p["title"].as_str().unwrap().contains("liquid") {
            assert!(
                html.contains("{{ template }}"),
                "Liquid in content is kept literally: {html}"
            );
        }
    }
}

#[tokio::test]
async fn opml_round_trip_and_real_world_import() {
    let feeds = format!(
        "{}{}",
        feed_toml(
            "Reddit DevOps",
            "https://www.reddit.com/r/devops/.rss",
            "community",
            ""
        ),
        feed_toml(
            "A & B's <feed>",
            "https://example.org/feed?a=1&b=2",
            "blogs",
            ""
        )
    );
    let ws = Workspace::new("", &feeds);
    let exported = ws.run(&["feeds", "export"]).await;
    assert_eq!(exported.code, 0, "{}", exported.stderr);
    let opml_path = ws.dir.path().join("out.opml");
    std::fs::write(&opml_path, &exported.stdout).unwrap();

    let empty = Workspace::new("", "");
    let imported = empty
        .run(&["feeds", "import", opml_path.to_str().unwrap(), "--write"])
        .await;
    assert_eq!(imported.code, 0, "{}", imported.stderr);
    let check = empty.run(&["config", "check"]).await;
    assert_eq!(check.code, 0, "{}", check.stderr);
    for needle in [
        "https://www.reddit.com/r/devops/.rss",
        "https://example.org/feed?a=1&b=2",
        "A & B's <feed>",
        "Reddit DevOps",
    ] {
        assert!(
            check.stdout.contains(needle),
            "{needle} missing after round trip:\n{}",
            check.stdout
        );
    }
    // Importing again adds nothing: the URL identifies a feed.
    let again = empty
        .run(&["feeds", "import", opml_path.to_str().unwrap()])
        .await;
    assert!(again.stderr.contains("0 new feeds"), "{}", again.stderr);

    let Some(shared) = crate::support::shared_dir() else {
        return;
    };
    let real = shared.join("corpus/feeds/freshrss__opml-default.xml");
    let out = empty
        .run(&["feeds", "import", real.to_str().unwrap()])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("url = \"https://github.com/FreshRSS/FreshRSS/releases.atom\""),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("name = \"FreshRSS releases\""),
        "{}",
        out.stdout
    );

    let not_opml = empty
        .run(&[
            "feeds",
            "import",
            shared
                .join("corpus/feeds/feedjira__slashdot.xml")
                .to_str()
                .unwrap(),
        ])
        .await;
    assert_eq!(not_opml.code, 2, "{}", not_opml.stderr);
}
