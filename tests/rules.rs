//! Entry rules end to end: a Reddit feed and a blog feed of the shared corpus, served on the
//! loopback interface, polled by the real binary with four rules (drop by title, route by
//! category, tag by content, drop under 200 words), on SQLite and on PostgreSQL; `inspect
//! --explain` naming the rules; bad rules as configuration errors (exit 2) naming rule and key.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::support::{db::PgDatabase, feed_toml, Reply, TestServer, Workspace};

const REDDIT: &str = "corpus/feeds/redditproxy__localllama.xml";
const BLOG: &str = "corpus/feeds/feedjira__aws-blog.xml";

/// The four rules of the issue's test, global.
pub const RULES: &str = r#"
[[rules]]
name = "no job posts"
when = { title = "(?i)\\b(job|hiring)\\b" }
action = "drop"

[[rules]]
name = "databases to their own collection"
when = { categories = "(?i)^(databases|amazon sdb)$" }
action = "route"
collection = "databases"

[[rules]]
name = "gpu talk"
when = { content = "(?i)\\b(gpu|cuda|vram)\\b" }
action = "tag"
tags = ["GPU Talk"]

[[rules]]
name = "short community posts"
when = { words_lt = 200, collection = "community" }
action = "drop"
"#;

/// Serve the two corpus feeds; returns their URLs.
pub async fn serve_corpus(shared: &Path) -> (TestServer, String, String) {
    let server = TestServer::start_at("127.0.0.2:0").await;
    server.route(
        "/reddit.xml",
        Reply::feed(std::fs::read(shared.join(REDDIT)).unwrap()),
    );
    server.route(
        "/blog.xml",
        Reply::feed(std::fs::read(shared.join(BLOG)).unwrap()),
    );
    let (r, b) = (server.url("/reddit.xml"), server.url("/blog.xml"));
    (server, r, b)
}

/// The two `[[feeds]]` tables (the Reddit feed without its collection's 1000-character minimum,
/// so the rules see every entry).
pub fn feeds(reddit: &str, blog: &str) -> String {
    feed_toml("LocalLLaMA", reddit, "community", "min_content_chars = 0")
        + &feed_toml("AWS Blog", blog, "blogs", "")
}

/// `feedsmith [--database-url URL] ARGS` in the workspace.
pub async fn run(ws: &Workspace, db: Option<&str>, args: &[&str]) -> crate::support::Output {
    let mut all: Vec<&str> = Vec::new();
    if let Some(url) = db {
        all.extend(["--database-url", url]);
    }
    all.extend(args);
    ws.run(&all).await
}

pub async fn posts(ws: &Workspace, db: Option<&str>) -> Vec<Value> {
    let out = run(ws, db, &["posts", "list", "--json"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

/// Skip reasons and their counts, from the database.
pub async fn skip_reasons(ws: &Workspace, db: Option<&str>) -> BTreeMap<String, i64> {
    let rows: Vec<(String, i64)> = match db {
        Some(url) => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            let rows =
                sqlx::query_as("SELECT reason, COUNT(*) FROM skipped_entries GROUP BY reason")
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            pool.close().await;
            rows
        }
        None => {
            let url = format!("sqlite://{}", ws.db_path().display());
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            let rows =
                sqlx::query_as("SELECT reason, COUNT(*) FROM skipped_entries GROUP BY reason")
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            pool.close().await;
            rows
        }
    };
    rows.into_iter().collect()
}

/// Files under `dir`, relative, sorted.
pub fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(subdirs) = std::fs::read_dir(dir) else {
        return out;
    };
    for sub in subdirs.flatten() {
        if !sub.path().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(sub.path()).unwrap().flatten() {
            out.push(format!(
                "{}/{}",
                sub.file_name().to_string_lossy(),
                f.file_name().to_string_lossy()
            ));
        }
    }
    out.sort();
    out
}

fn count_by(posts: &[Value], key: &str) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for p in posts {
        *m.entry(p[key].as_str().unwrap_or_default().to_string())
            .or_default() += 1;
    }
    m
}

async fn four_rules_on_the_corpus(db: Option<&str>) {
    let Some(shared) = crate::support::shared_dir() else {
        return;
    };
    let (_server, reddit, blog) = serve_corpus(&shared).await;
    let ws = Workspace::new(
        &format!("[publish]\ndir = \"site\"\n\n{RULES}\n"),
        &feeds(&reddit, &blog),
    );
    let out = run(&ws, db, &["fetch"]).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    // The summary counts the drops by rule.
    assert!(
        out.stderr
            .contains("20 dropped by rules (no job posts 1, short community posts 19)"),
        "{}",
        out.stderr
    );

    let posts = posts(&ws, db).await;
    let by_collection = count_by(&posts, "collection");
    eprintln!("{by_collection:?}");
    assert_eq!(
        by_collection,
        BTreeMap::from([
            ("blogs".to_string(), 8),
            ("community".to_string(), 6),
            ("databases".to_string(), 1),
        ])
    );
    // Tagged by content: the posts that talk about GPUs.
    let gpu: Vec<&str> = posts
        .iter()
        .filter(|p| {
            p["tags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t == "GPU Talk")
        })
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    assert_eq!(gpu.len(), 3, "{gpu:?}");
    // Dropped: remembered with the rule's name as the reason.
    let reasons = skip_reasons(&ws, db).await;
    assert_eq!(
        reasons,
        BTreeMap::from([
            ("rule \"no job posts\"".to_string(), 1),
            ("rule \"short community posts\"".to_string(), 19),
        ])
    );
    // Exported: routed posts under their collection's folder.
    let exported = files(&ws.dir.path().join("site"));
    let in_dir = |d: &str| exported.iter().filter(|f| f.starts_with(d)).count();
    assert_eq!(in_dir("_blogs/"), 8, "{exported:?}");
    assert_eq!(in_dir("_community/"), 6, "{exported:?}");
    assert_eq!(in_dir("_databases/"), 1, "{exported:?}");
    assert!(
        exported.contains(&"_databases/2009-01-12-SimpleDB-Developers-Brown-Bag.md".to_string()),
        "{exported:?}"
    );
    // The routed post's permalink follows its collection.
    let simpledb = std::fs::read_to_string(
        ws.dir
            .path()
            .join("site/_databases/2009-01-12-SimpleDB-Developers-Brown-Bag.md"),
    )
    .unwrap();
    assert!(
        simpledb
            .contains("permalink: \"/databases/2009-01-12-SimpleDB-Developers-Brown-Bag.html\""),
        "{simpledb}"
    );
    // A second poll of the same documents changes nothing.
    let again = run(&ws, db, &["fetch"]).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stderr.contains("posts: 0 new, 0 updated"),
        "{}",
        again.stderr
    );
}

#[tokio::test]
async fn four_rules_on_a_reddit_and_a_blog_feed_sqlite() {
    four_rules_on_the_corpus(None).await;
}

#[tokio::test]
async fn four_rules_on_a_reddit_and_a_blog_feed_postgres() {
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    four_rules_on_the_corpus(Some(&pg.url)).await;
}

#[tokio::test]
async fn inspect_explain_names_the_rules() {
    let Some(shared) = crate::support::shared_dir() else {
        return;
    };
    let (_server, reddit, blog) = serve_corpus(&shared).await;
    let ws = Workspace::new(RULES, &feeds(&reddit, &blog));
    let out = run(&ws, None, &["inspect", &blog, "--explain"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("rules: \"databases to their own collection\" -> route \"databases\""),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("rules: none matched"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("reason: rule \"no job posts\"\nrules: \"no job posts\" -> drop"),
        "{}",
        out.stdout
    );
    let json = run(&ws, None, &["inspect", &blog, "--explain", "--json"]).await;
    let items: Vec<Value> = serde_json::from_str(&json.stdout).unwrap();
    let routed = items
        .iter()
        .find(|p| p["collection"] == "databases")
        .unwrap();
    assert_eq!(
        routed["explain"]["rules"][0]["rule"],
        "databases to their own collection"
    );
}

#[tokio::test]
async fn bad_rules_are_configuration_errors_naming_rule_and_key() {
    let cases = [
        (
            "[[rules]]\nname = \"broken\"\nwhen = { title = \"(job\" }\naction = \"drop\"\n",
            "rule \"broken\" (rules[0]): `when.title`: invalid regex \"(job\": error: unclosed group\n  fix: correct the pattern",
        ),
        (
            "[[rules]]\nwhen = { title = \"a\" }\naction = \"drop\"\n[[rules]]\nwhen = { titel = \"job\" }\naction = \"drop\"\n",
            "rules[1]: `when.titel`: unknown condition\n  fix: use one of: title, content, author, url, categories, feed, collection, words_lt, words_gt, lang, older_than, all, any, not",
        ),
        (
            "[[rules]]\nname = \"x\"\nwhen = { title = \"a\" }\naction = \"explode\"\n",
            "rule \"x\" (rules[0]): `action`: unknown action \"explode\"\n  fix: use one of \"drop\", \"keep\", \"tag\", \"category\", \"route\", \"min_chars\"",
        ),
    ];
    for (rules, want) in cases {
        let ws = Workspace::new(rules, "");
        let out = ws.run(&["config", "check"]).await;
        assert_eq!(out.code, 2, "{rules}\n{}", out.stderr);
        assert!(
            out.stderr.contains(want),
            "{rules}\nwant {want:?}\ngot {}",
            out.stderr
        );
    }
    // A feed's own rules are named by their position under the feed.
    let ws = Workspace::new(
        "",
        "[[feeds]]\nname = \"F\"\nurl = \"https://example.org/feed\"\ncollection = \"blogs\"\nrules = [{ when = { lang = \"english\" }, action = \"drop\" }]\n",
    );
    let out = ws.run(&["config", "check"]).await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "feeds[0].rules[0]: `when.lang`: \"english\" is not an ISO 639-1 language code"
        ),
        "{}",
        out.stderr
    );
}

/// The README's rule examples are valid configuration (each block loads on its own).
#[tokio::test]
async fn the_readme_rule_examples_load() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("### Rules").expect("a Rules section");
    let section = &readme[start..];
    let end = section.find("\n## ").unwrap_or(section.len());
    let blocks: Vec<&str> = section[..end]
        .split("```toml\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .collect();
    assert_eq!(
        blocks.len(),
        3,
        "the README's Rules section has three TOML examples"
    );
    for b in &blocks {
        let ws = Workspace::new(b, "");
        let out = ws.run(&["config", "check"]).await;
        assert_eq!(out.code, 0, "{b}\n{}", out.stderr);
    }
}
