//! `feedsmith reprocess` over 50 000 stored posts (50 feeds x 1000 entries by default;
//! `FEEDS` and `ITEMS` change it): posts per second and the process's peak RSS, for
//! docs/performance.md.
//!
//!     cargo bench --bench reprocess
//!
//! The database is filled through the library (the poll's own `build_batch` and store calls, so
//! the stored posts and parsed entries are what a cold fetch stores; that normalization's
//! single-thread rate is printed too), then the release binary runs under `/usr/bin/time` three
//! times: with the configuration unchanged (every entry normalized again and compared, nothing
//! written), after a rule was added (a tag on the posts that mention Kubernetes: those are
//! rewritten, the others get their new hash), and once more (nothing written). No network.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use feedsmith::domain::{ParsedEntry, ParsedFeed};
use feedsmith::store::{Keep, Outcome, PollRecord};

const TOPICS: [&str; 5] = ["Kubernetes", "PostgreSQL", "Rust", "Terraform", "Gardening"];

/// A blog-like entry: four paragraphs (about 1.6 KB of HTML), a link, an image, categories.
fn entry(feed: usize, i: usize) -> ParsedEntry {
    let topic = TOPICS[(feed + i) % TOPICS.len()];
    let para = |n: usize| {
        format!(
            "<p>Paragraph {n} of post {i}: notes on {topic} from the field. We changed the \
             <a href=\"https://bench.example/ref/{i}/{n}\">configuration</a> and measured again, \
             then wrote down what surprised us, what did not, and what we would try next time \
             with <strong>{topic}</strong> and its ecosystem of tools and habits.</p>"
        )
    };
    ParsedEntry {
        id: Some(format!("https://bench.example/f{feed}/p{i}")),
        link: Some(format!("https://bench.example/f{feed}/p{i}")),
        title: Some(format!("Post {i} of feed {feed}: working with {topic}")),
        authors: vec![format!("Author {}", i % 17)],
        published: Some(
            Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap() + Duration::minutes((i * 7) as i64),
        ),
        categories: vec![topic.to_string(), "Engineering".into()],
        content_html: Some(format!(
            "{}<p><img src=\"https://bench.example/img/{i}.png\" alt=\"figure\"></p>{}{}{}",
            para(1),
            para(2),
            para(3),
            para(4)
        )),
        ..ParsedEntry::default()
    }
}

fn config(dir: &Path, feeds: usize, rules: &str) -> String {
    let mut s = format!(
        "[database]\nurl = \"sqlite://{}\"\n\n[articles]\nfull_content = \"never\"\n\n{rules}\n",
        dir.join("bench.db").display()
    );
    for f in 0..feeds {
        s.push_str(&format!(
            "[[feeds]]\nname = \"Feed {f}\"\nurl = \"https://bench.example/f{f}/feed.xml\"\ncollection = \"blogs\"\n\n"
        ));
    }
    s
}

/// Run the binary under /usr/bin/time; returns (wall seconds, peak RSS in MiB, stdout).
fn timed(cfg: &Path, args: &[&str]) -> (f64, f64, String) {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "TIME %e %M"])
        .arg(env!("CARGO_BIN_EXE_feedsmith"))
        .arg("--config")
        .arg(cfg)
        .arg("-q")
        .args(args)
        .output()
        .expect("run /usr/bin/time feedsmith");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let line = stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("TIME "))
        .expect("time's line");
    let mut parts = line.split_whitespace().skip(1);
    let wall: f64 = parts.next().unwrap().parse().unwrap();
    let rss_kb: f64 = parts.next().unwrap().parse().unwrap();
    (
        wall,
        rss_kb / 1024.0,
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn main() {
    let feeds: usize = std::env::var("FEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let items: usize = std::env::var("ITEMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    // `KEEP=DIR`: fill DIR and leave it there (to profile a run by hand), instead of a
    // temporary directory.
    let keep = std::env::var_os("KEEP").map(std::path::PathBuf::from);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir_path = keep.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir_path).expect("KEEP directory");
    let dir = &dir_path;
    let cfg = dir.join("feedsmith.toml");
    std::fs::write(&cfg, config(dir, feeds, "")).unwrap();
    let settings = feedsmith::config::load(Some(&cfg), None).expect("bench configuration");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (normalized, norm_secs, entry_bytes, entry_rows) = rt.block_on(async {
        let store = feedsmith::store::connect(&settings.database)
            .await
            .expect("open");
        let records = store.sync_feeds(&settings.feeds).await.expect("sync");
        let enrich = settings.enrich.enrichment.clone();
        let now = Utc::now();
        let mut norm = std::time::Duration::ZERO;
        let mut posts = 0usize;
        for (f, (feed, record)) in settings.feeds.iter().zip(&records).enumerate() {
            let parsed = ParsedFeed {
                format: "rss2".into(),
                entries: (0..items).map(|i| entry(f, i)).collect(),
                ..ParsedFeed::default()
            };
            let t = Instant::now();
            let batch = feedsmith::pipeline::build_batch(
                feed,
                &parsed,
                &HashMap::new(),
                now,
                Some(&enrich),
            );
            norm += t.elapsed();
            posts += batch.posts.len();
            store
                .save_poll(
                    record.id,
                    &PollRecord::new(now, Outcome::Ok),
                    batch.posts,
                    batch.skipped,
                    Keep::Counts,
                )
                .await
                .expect("save");
            store
                .save_parsed_entries(record.id, &batch.entries)
                .await
                .expect("save entries");
        }
        store.close().await;
        let pool = sqlx::SqlitePool::connect(&settings.database.url)
            .await
            .unwrap();
        let (bytes, rows): (i64, i64) =
            sqlx::query_as("SELECT COALESCE(SUM(LENGTH(data)), 0), COUNT(*) FROM entries")
                .fetch_one(&pool)
                .await
                .unwrap();
        pool.close().await;
        (posts, norm.as_secs_f64(), bytes, rows)
    });
    println!(
        "stored {normalized} posts; the poll's normalization (build_batch, one thread): {:.0} posts/s",
        normalized as f64 / norm_secs
    );
    println!(
        "entries table: {entry_rows} rows, {entry_bytes} bytes, {:.0} bytes per post",
        entry_bytes as f64 / entry_rows.max(1) as f64
    );
    let report = |label: &str, (wall, rss, out): (f64, f64, String)| {
        let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
        let t = &v["totals"];
        println!(
            "| {label} | {normalized} | {wall:.2} | {:.0} | {rss:.0} | {} changed, {} rehashed, {} unchanged |",
            normalized as f64 / wall,
            t["changed"],
            t["rehashed"],
            t["unchanged"]
        );
    };
    println!("| run | posts | wall s | posts/s | peak RSS MiB | result |");
    println!("|---|---|---|---|---|---|");
    report("unchanged config", timed(&cfg, &["reprocess", "--json"]));
    std::fs::write(
        &cfg,
        config(
            dir,
            feeds,
            "[[rules]]\nname = \"k8s\"\nwhen = { content = \"(?i)\\\\bkubernetes\\\\b\" }\naction = \"tag\"\ntags = [\"Containers\"]\n",
        ),
    )
    .unwrap();
    report("a rule added", timed(&cfg, &["reprocess", "--json"]));
    report("second run", timed(&cfg, &["reprocess", "--json"]));
}
