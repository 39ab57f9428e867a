//! The whole real-world corpus (`../shared/corpus`, 112 feeds from public projects' test data)
//! served from loopback through the real `feedsmith inspect`: nothing panics, every `ok` file
//! yields posts (or is a valid feed with no entries), every `reject` file fails with a clear
//! message.
//!
//! Served over HTTP, not read as files: a link-less entry's canonical URL falls back to the
//! feed's site link or URL (post-format.md 2), which a file path is not. There is no exception
//! list any more: the 11 files whose entries all lack a link (podcast items with only an
//! enclosure, announcement feeds, an RDF with `rdf:about`) were skipped before and give posts
//! now.

use std::collections::HashMap;

/// feedparser's entry count per corpus file, recorded once by `tools/feedparser_counts.py`
/// (feedparser 6.0.14 from PyPI): every entry feedparser returns from an `ok` file must become a
/// post here (the files are inspected as `blogs`, where no length or cross-post rule skips).
const FEEDPARSER_COUNTS: &str = include_str!("fixtures/feedparser-counts.tsv");

/// Files where feedsmith keeps fewer entries than feedparser, with the reason.
const FEWER_THAN_FEEDPARSER: &[(&str, &str)] = &[];

/// `ok` files whose entries legitimately produce no post, with the reason. None today.
const NO_POSTS_EXPECTED: &[(&str, &str)] = &[];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_corpus_file_through_inspect() {
    let Some(shared) = crate::support::shared_dir() else {
        return;
    };
    let manifest = std::fs::read_to_string(shared.join("corpus/MANIFEST.tsv")).unwrap();
    let exceptions: HashMap<&str, &str> = NO_POSTS_EXPECTED.iter().copied().collect();
    let fewer: HashMap<&str, &str> = FEWER_THAN_FEEDPARSER.iter().copied().collect();
    let feedparser: HashMap<&str, usize> = FEEDPARSER_COUNTS
        .lines()
        .filter(|l| !l.starts_with('#'))
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            Some((cols[0], cols.get(2)?.parse().ok()?))
        })
        .collect();
    let (mut feedparser_total, mut kept_total) = (0, 0);
    let ws = crate::support::Workspace::new("", "");
    let server = crate::support::TestServer::start().await;
    let mut failures = Vec::new();
    let mut ok_files = 0;
    let mut posts_total = 0;
    let started = std::time::Instant::now();

    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, quirks, expect) = (cols[0], cols[5], cols[6]);
        let path = shared.join("corpus/feeds").join(file);
        let route = format!("/feeds/{file}");
        server.route(
            &route,
            crate::support::Reply::feed(std::fs::read(&path).unwrap()),
        );
        let out = ws.run(&["inspect", "--json", &server.url(&route)]).await;
        if out.code == 101 || out.stderr.contains("panicked") {
            failures.push(format!("{file}: PANIC\n{}", out.stderr));
            continue;
        }
        match expect {
            "ok" => {
                if out.code != 0 {
                    failures.push(format!(
                        "{file}: expected posts, got exit {}: {}",
                        out.code,
                        out.stderr.trim()
                    ));
                    continue;
                }
                let posts: Vec<serde_json::Value> = match serde_json::from_str(&out.stdout) {
                    Ok(p) => p,
                    Err(e) => {
                        failures.push(format!("{file}: stdout is not a JSON array: {e}"));
                        continue;
                    }
                };
                ok_files += 1;
                posts_total += posts.len();
                let theirs = feedparser.get(file).copied().unwrap_or(0);
                feedparser_total += theirs;
                kept_total += posts.len().min(theirs);
                if posts.len() < theirs && !fewer.contains_key(file) {
                    failures.push(format!(
                        "{file}: feedparser returns {theirs} entries, feedsmith kept {}: {}",
                        posts.len(),
                        out.stderr.trim()
                    ));
                }
                let empty_ok =
                    quirks.split(',').any(|q| q == "no-entries") || exceptions.contains_key(file);
                if posts.is_empty() && !empty_ok {
                    failures.push(format!(
                        "{file}: parsed but produced no posts: {}",
                        out.stderr.trim()
                    ));
                }
                for p in &posts {
                    let file_text = p["file"].as_str().unwrap_or_default();
                    if !file_text.starts_with("---\nlayout: \"post\"\n")
                        || !file_text.ends_with('\n')
                    {
                        failures.push(format!("{file}: malformed post file: {file_text:.200}"));
                    }
                }
            }
            _ => {
                if out.code == 0 {
                    failures.push(format!("{file}: a non-feed was accepted"));
                } else if !out.stderr.contains("error:") || out.stderr.trim().len() < 20 {
                    failures.push(format!("{file}: unclear error: {}", out.stderr.trim()));
                }
            }
        }
    }
    eprintln!(
        "corpus: {ok_files} ok files gave {posts_total} posts in {:.1}s (including process start-up); \
         of feedparser's {feedparser_total} entries, {kept_total} kept",
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} corpus failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
