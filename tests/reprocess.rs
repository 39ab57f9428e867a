//! `feedsmith reprocess` and `feedsmith rules test` end to end, with the real binary: rules added
//! after the posts were stored (on SQLite and PostgreSQL), `rules test` agreeing with the
//! `reprocess` that follows, a taxonomy change that rewrites only the files it retags, a
//! collection change that moves posts, and second runs and dry runs that write nothing (file
//! modification times and the database's `updated_at` unchanged).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use serde_json::Value;

use crate::rules::{feeds, files, posts, run, serve_corpus, skip_reasons, RULES};
use crate::support::{db::PgDatabase, feed_toml, rss, Reply, TestServer, Workspace};

/// Every exported file with its modification time.
fn mtimes(dir: &Path) -> BTreeMap<String, SystemTime> {
    files(dir)
        .into_iter()
        .map(|f| {
            let t = std::fs::metadata(dir.join(&f)).unwrap().modified().unwrap();
            (f, t)
        })
        .collect()
}

/// `(id, updated_at)` of every stored post.
async fn updated_at(ws: &Workspace, db: Option<&str>) -> Vec<(i64, String)> {
    match db {
        Some(url) => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            let rows = sqlx::query_as("SELECT id, updated_at::text FROM posts ORDER BY id")
                .fetch_all(&pool)
                .await
                .unwrap();
            pool.close().await;
            rows
        }
        None => {
            let url = format!("sqlite://{}", ws.db_path().display());
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            let rows = sqlx::query_as("SELECT id, updated_at FROM posts ORDER BY id")
                .fetch_all(&pool)
                .await
                .unwrap();
            pool.close().await;
            rows
        }
    }
}

fn json(out: &crate::support::Output) -> Value {
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

/// The configuration file with more TOML appended.
fn append_config(ws: &Workspace, more: &str) {
    let text = std::fs::read_to_string(ws.config_path()).unwrap();
    std::fs::write(ws.config_path(), format!("{text}\n{more}\n")).unwrap();
}

fn rule<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no rule {name:?} in {report}"))
}

async fn rules_added_after_the_posts_were_stored(db: Option<&str>) {
    let Some(shared) = crate::support::shared_dir() else {
        return;
    };
    let (_server, reddit, blog) = serve_corpus(&shared).await;
    let ws = Workspace::new("[publish]\ndir = \"site\"\n", &feeds(&reddit, &blog));
    let out = run(&ws, db, &["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(posts(&ws, db).await.len(), 35);
    let site = ws.dir.path().join("site");
    assert_eq!(files(&site).len(), 35);

    // Nothing changed yet: a reprocess has nothing to do.
    let first = json(&run(&ws, db, &["reprocess", "--json"]).await);
    assert_eq!(first["totals"]["entries"], 35, "{first}");
    assert_eq!(first["totals"]["unchanged"], 35, "{first}");

    append_config(&ws, RULES);
    let before_files = mtimes(&site);
    let before_rows = updated_at(&ws, db).await;

    // The dry run: per rule, and the changes reprocess would make.
    let test = json(&run(&ws, db, &["rules", "test", "--json"]).await);
    let summary = &test["summary"];
    assert_eq!(summary["entries"], 35, "{test}");
    assert_eq!(summary["new"], 0, "{test}");
    assert_eq!(summary["changed"], 3, "{test}");
    assert_eq!(summary["withdrawn"], 20, "{test}");
    assert_eq!(summary["moved"], 1, "{test}");
    assert_eq!(summary["rehashed"], 11, "{test}");
    let jobs = rule(&test, "no job posts");
    assert_eq!(
        (jobs["matches"].as_u64(), jobs["dropped"].as_u64()),
        (Some(1), Some(1))
    );
    let route = rule(&test, "databases to their own collection");
    assert_eq!(
        (route["matches"].as_u64(), route["moved"].as_u64()),
        (Some(1), Some(1))
    );
    let gpu = rule(&test, "gpu talk");
    assert_eq!(
        (gpu["published"].as_u64(), gpu["retagged"].as_u64()),
        (Some(3), Some(3)),
        "{gpu}"
    );
    let short = rule(&test, "short community posts");
    assert_eq!(short["dropped"], 19, "{short}");
    assert_eq!(
        test["examples"]["moved"][0],
        "SimpleDB Developer's Brown Bag"
    );
    assert_eq!(test["examples"]["withdrawn"].as_array().unwrap().len(), 20);
    // `--dry-run` says the same, and neither writes anything.
    let dry = json(&run(&ws, db, &["reprocess", "--dry-run", "--json"]).await);
    assert_eq!(dry["totals"], *summary, "{dry}");
    assert_eq!(mtimes(&site), before_files);
    assert_eq!(updated_at(&ws, db).await, before_rows);

    // reprocess does what `rules test` said.
    let done = json(&run(&ws, db, &["reprocess", "--json"]).await);
    assert_eq!(done["totals"], *summary, "{done}");
    let stored = posts(&ws, db).await;
    let mut by_collection = BTreeMap::new();
    for p in &stored {
        *by_collection
            .entry(p["collection"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    assert_eq!(
        by_collection,
        BTreeMap::from([
            ("blogs".to_string(), 8),
            ("community".to_string(), 6),
            ("databases".to_string(), 1)
        ])
    );
    assert_eq!(
        skip_reasons(&ws, db).await,
        BTreeMap::from([
            ("rule \"no job posts\"".to_string(), 1),
            ("rule \"short community posts\"".to_string(), 19),
        ])
    );
    // Exported: the moved post at its new path; without --prune the old files stay.
    let now = files(&site);
    assert!(now.contains(&"_databases/2009-01-12-SimpleDB-Developers-Brown-Bag.md".to_string()));
    assert!(now.contains(&"_blogs/2009-01-12-SimpleDB-Developers-Brown-Bag.md".to_string()));
    assert_eq!(now.len(), 36, "{now:?}");

    // A second run writes nothing: no file, no row.
    let files_after = mtimes(&site);
    let rows_after = updated_at(&ws, db).await;
    let again = json(&run(&ws, db, &["reprocess", "--json"]).await);
    assert_eq!(again["totals"]["unchanged"], 35, "{again}");
    for k in [
        "new",
        "changed",
        "withdrawn",
        "moved",
        "rehashed",
        "reskipped",
    ] {
        assert_eq!(again["totals"][k], 0, "{k}: {again}");
    }
    assert_eq!(mtimes(&site), files_after);
    assert_eq!(updated_at(&ws, db).await, rows_after);
    let test_again = json(&run(&ws, db, &["rules", "test", "--json"]).await);
    assert_eq!(test_again["summary"], again["totals"]);

    // --prune: the withdrawn posts' files and the moved post's old file go.
    let pruned = json(&run(&ws, db, &["reprocess", "--prune", "--json"]).await);
    assert_eq!(pruned["exported"]["pruned"], 21, "{pruned}");
    assert_eq!(files(&site).len(), 15);
}

#[tokio::test]
async fn rules_test_matches_the_reprocess_that_follows_sqlite() {
    rules_added_after_the_posts_were_stored(None).await;
}

#[tokio::test]
async fn rules_test_matches_the_reprocess_that_follows_postgres() {
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    rules_added_after_the_posts_were_stored(Some(&pg.url)).await;
}

/// Three posts, one about Postgres; a taxonomy of one's own tags Kubernetes only, then also
/// Postgres.
async fn three_posts(extra: &str) -> (TestServer, Workspace) {
    let server = TestServer::start_at("127.0.0.2:0").await;
    server.route(
        "/feed.xml",
        Reply::feed(rss(
            "Notes",
            &[
                (
                    "n1",
                    "Running a Kubernetes cluster",
                    "We run kubernetes in production and it is fine.",
                ),
                (
                    "n2",
                    "Tuning Postgres",
                    "How we tuned postgres for a write-heavy load.",
                ),
                ("n3", "Gardening", "Tomatoes, beans and a lot of patience."),
            ],
        )),
    );
    let ws = Workspace::new(
        &format!("[publish]\ndir = \"site\"\n\n[enrich]\ntaxonomy = \"mine.toml\"\n{extra}"),
        &feed_toml("Notes", &server.url("/feed.xml"), "blogs", ""),
    );
    std::fs::write(
        ws.dir.path().join("mine.toml"),
        "[tags.Kubernetes]\nterms = [\"kubernetes\"]\n",
    )
    .unwrap();
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    (server, ws)
}

#[tokio::test]
async fn a_taxonomy_change_retags_and_rewrites_only_those_files() {
    let (_server, ws) = three_posts("").await;
    let site = ws.dir.path().join("site");
    let before = mtimes(&site);
    assert_eq!(before.len(), 3);
    std::fs::write(
        ws.dir.path().join("mine.toml"),
        "[tags.Kubernetes]\nterms = [\"kubernetes\"]\n\n[tags.PostgreSQL]\nterms = [\"postgres\"]\n",
    )
    .unwrap();
    // Time enough for a rewritten file to get another modification time.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let done = json(&ws.run(&["reprocess", "--json"]).await);
    assert_eq!(done["totals"]["changed"], 1, "{done}");
    assert_eq!(done["totals"]["rehashed"], 2, "{done}");
    let tuned = ws
        .posts()
        .await
        .into_iter()
        .find(|p| p["title"] == "Tuning Postgres")
        .unwrap();
    assert!(
        tuned["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "PostgreSQL"),
        "{tuned}"
    );
    let after = mtimes(&site);
    let rewritten: Vec<&String> = after
        .iter()
        .filter(|(f, t)| before.get(*f) != Some(t))
        .map(|(f, _)| f)
        .collect();
    assert_eq!(rewritten, ["_blogs/2025-08-03-Tuning-Postgres.md"]);
    let file = std::fs::read_to_string(site.join("_blogs/2025-08-03-Tuning-Postgres.md")).unwrap();
    assert!(file.contains("PostgreSQL"), "{file}");
    // And a second run touches nothing.
    let again = json(&ws.run(&["reprocess", "--json"]).await);
    assert_eq!(again["totals"]["unchanged"], 3, "{again}");
    assert_eq!(mtimes(&site), after);
}

#[tokio::test]
async fn a_collection_change_moves_posts() {
    let (_server, ws) = three_posts("").await;
    let site = ws.dir.path().join("site");
    // The feed now goes to `notes`.
    let text = std::fs::read_to_string(ws.config_path()).unwrap();
    std::fs::write(
        ws.config_path(),
        text.replace("collection = \"blogs\"", "collection = \"notes\""),
    )
    .unwrap();
    let rows_before = updated_at(&ws, None).await;
    let dry = ws.run(&["reprocess", "--dry-run"]).await;
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(
        dry.stdout.starts_with("dry run: 3 entries: 0 new, 0 changed, 0 withdrawn, 3 moved, 0 unchanged (nothing written)"),
        "{}",
        dry.stdout
    );
    assert_eq!(updated_at(&ws, None).await, rows_before);
    let done = json(&ws.run(&["reprocess", "--json"]).await);
    assert_eq!(done["totals"]["moved"], 3, "{done}");
    let stored = ws.posts().await;
    assert!(
        stored.iter().all(|p| p["collection"] == "notes"),
        "{stored:?}"
    );
    let names = files(&site);
    assert_eq!(names.len(), 6, "old files stay without --prune: {names:?}");
    assert!(names.contains(&"_notes/2025-08-03-Tuning-Postgres.md".to_string()));
    let moved = std::fs::read_to_string(site.join("_notes/2025-08-03-Tuning-Postgres.md")).unwrap();
    assert!(
        moved.contains("permalink: \"/notes/2025-08-03-Tuning-Postgres.html\""),
        "{moved}"
    );
    // With --prune (nothing left to move) the old files go.
    let pruned = json(&ws.run(&["reprocess", "--prune", "--json"]).await);
    assert_eq!(pruned["totals"]["moved"], 0, "{pruned}");
    assert_eq!(pruned["exported"]["pruned"], 3, "{pruned}");
    assert!(files(&site).iter().all(|f| f.starts_with("_notes/")));
}
