//! Criterion micro-benchmarks of the per-entry pipeline, per byte of input:
//! parse, sanitize + HTML-to-markdown alone, normalize (those and the rest of `normalize_entry`;
//! also with the built-in keyword tags, as `fetch` runs it), the content hash that lets unchanged
//! entries skip normalization, slug + tags, and front matter rendering.
//!
//! The content stages of issue 25 ("one HTML tree per entry"), before and after, on each
//! entry's HTML: `content_string_path` is the old path (ammonia sanitizes into a string, which
//! the markdown converter and the two plain-text scans read again; its `ammonia_sanitize` part
//! is also measured alone) and `content_one_tree` the new one (one html5ever parse into
//! feedsmith's tree, sanitized in place, markdown and text read off it). Same outputs (the
//! tests in `src/normalize/html/identity.rs`).
//!
//!     cargo bench --bench pipeline
//!
//! Inputs: the real-world corpus (`../shared/corpus/feeds`, files expected to parse) and a small
//! generated farm (`../shared/bench/genfarm.py`, 20 feeds x 25 items, written to a temporary
//! folder). A missing input set is skipped with a note. No network.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use feedsmith::domain::{FeedConfig, ParsedEntry, ParsedFeed, Post};
use feedsmith::enrich::Enrichment;
use feedsmith::normalize::{self, Normalized, RenderOptions};
use feedsmith::parse::parse_feed;

/// One input set: documents (bytes, content type, base URL) and their parsed form.
struct Set {
    name: &'static str,
    docs: Vec<(Vec<u8>, Option<&'static str>, String)>,
    parsed: Vec<(FeedConfig, ParsedFeed)>,
}

fn shared() -> PathBuf {
    std::env::var_os("FEEDSMITH_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"))
}

fn content_type(path: &Path) -> Option<&'static str> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => Some("application/feed+json"),
        _ => Some("application/xml"),
    }
}

fn load(
    name: &'static str,
    files: Vec<PathBuf>,
    collection_of: impl Fn(&str) -> &'static str,
) -> Set {
    let mut docs = Vec::new();
    let mut parsed = Vec::new();
    for path in files {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let base = format!(
            "https://bench.example/{}",
            path.file_name().unwrap_or_default().to_string_lossy()
        );
        let ct = content_type(&path);
        if let Ok(feed) = parse_feed(&bytes, ct, Some(&base)) {
            let collection = collection_of(std::str::from_utf8(&bytes).unwrap_or_default());
            parsed.push((
                FeedConfig::new("Bench feed", base.clone(), collection),
                feed,
            ));
            docs.push((bytes, ct, base));
        }
    }
    Set { name, docs, parsed }
}

/// The corpus files whose manifest says they are feeds (`expect` = ok).
fn corpus() -> Option<Set> {
    let dir = shared().join("corpus");
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).ok()?;
    let files: Vec<PathBuf> = manifest
        .lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (cols.last() == Some(&"ok")).then(|| dir.join("feeds").join(cols[0]))
        })
        .collect();
    Some(load("corpus", files, |_| "blogs"))
}

/// 20 feeds x 25 items from genfarm.py (the benchmark farm's generator), in a temporary folder.
fn farm() -> Option<Set> {
    let script = shared().join("bench/genfarm.py");
    let out = std::env::temp_dir().join(format!("feedsmith-bench-farm-{}", std::process::id()));
    let ok = std::process::Command::new("python3")
        .arg(&script)
        .arg(&out)
        .args(["--feeds", "20", "--items", "25"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return None;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(out.join("feeds"))
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    // Reddit-shaped feeds go to the community collection, as genfarm's feeds.toml says.
    let set = load("farm", files, |text| {
        if text.contains("reddit.com/r/") {
            "community"
        } else {
            "blogs"
        }
    });
    let _ = std::fs::remove_dir_all(&out);
    Some(set)
}

impl Set {
    /// The sum of `f` over every entry of every parsed feed: one pass of a benchmarked stage
    /// (the sum is the result criterion keeps, so the work is not optimized away).
    fn sum_entries(&self, f: impl Fn(&FeedConfig, &ParsedFeed, &ParsedEntry) -> usize) -> usize {
        self.parsed
            .iter()
            .flat_map(|(feed, parsed)| parsed.entries.iter().map(move |e| (feed, parsed, e)))
            .map(|(feed, parsed, entry)| f(feed, parsed, entry))
            .sum()
    }
}

fn sets() -> Vec<Set> {
    let mut sets = Vec::new();
    for (what, set) in [("corpus", corpus()), ("farm", farm())] {
        match set {
            Some(s) if !s.docs.is_empty() => sets.push(s),
            _ => eprintln!("pipeline bench: no {what} input found; skipped"),
        }
    }
    sets
}

fn entry_html_bytes(feed: &ParsedFeed) -> u64 {
    feed.entries
        .iter()
        .map(|e| {
            e.content_html.as_deref().map_or(0, str::len)
                + e.summary_html.as_deref().map_or(0, str::len)
                + e.content_text.as_deref().map_or(0, str::len)
        })
        .sum::<usize>() as u64
}

fn posts_of(set: &Set) -> Vec<Post> {
    let now = Utc.with_ymd_and_hms(2025, 8, 4, 0, 0, 0).unwrap();
    let mut posts = Vec::new();
    for (feed, parsed) in &set.parsed {
        for entry in &parsed.entries {
            if let Ok(Normalized::Post(p)) = normalize::normalize_entry(feed, parsed, entry, now) {
                posts.push(*p);
            }
        }
    }
    posts
}

/// The ammonia `Builder` feedsmith used before issue 25 (src/normalize/sanitize.rs has the same
/// for the tests), relative URLs against a fixed base.
fn ammonia_builder() -> ammonia::Builder<'static> {
    let mut b = ammonia::Builder::default();
    b.clean_content_tags(
        [
            "script", "style", "iframe", "object", "embed", "form", "noscript", "template", "svg",
            "math", "textarea", "select", "button", "applet", "frameset", "frame", "title", "head",
        ]
        .into_iter()
        .collect(),
    );
    b.rm_tags(["input", "label", "fieldset", "legend", "option", "optgroup"]);
    b.url_schemes(["http", "https", "mailto"].into_iter().collect());
    b.link_rel(Some("noopener noreferrer nofollow"));
    b.strip_comments(true);
    b.url_relative(ammonia::UrlRelative::RewriteWithBase(
        url::Url::parse("https://example.org/blog/post").expect("a valid URL"),
    ));
    b
}

fn bench(c: &mut Criterion) {
    let now = Utc.with_ymd_and_hms(2025, 8, 4, 0, 0, 0).unwrap();
    for set in sets() {
        let mut g = c.benchmark_group(set.name);
        g.sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3));

        // Parse: document bytes -> ParsedFeed.
        let doc_bytes: u64 = set.docs.iter().map(|d| d.0.len() as u64).sum();
        g.throughput(Throughput::Bytes(doc_bytes));
        g.bench_function(
            BenchmarkId::new("parse", format!("{} docs", set.docs.len())),
            |b| {
                b.iter(|| {
                    set.docs
                        .iter()
                        .filter_map(|(bytes, ct, base)| parse_feed(bytes, *ct, Some(base)).ok())
                        .map(|f| f.entries.len())
                        .sum::<usize>()
                })
            },
        );

        let entries: usize = set.parsed.iter().map(|(_, p)| p.entries.len()).sum();
        let html_bytes: u64 = set.parsed.iter().map(|(_, p)| entry_html_bytes(p)).sum();

        // Sanitize + HTML-to-markdown alone, on each entry's HTML (content, else summary).
        g.throughput(Throughput::Bytes(html_bytes));
        g.bench_function(
            BenchmarkId::new("sanitize_and_markdown", format!("{entries} entries")),
            |b| {
                b.iter(|| {
                    set.sum_entries(|feed, _, entry| {
                        let html = entry
                            .content_html
                            .as_deref()
                            .or(entry.summary_html.as_deref());
                        let base = entry.link.as_deref().unwrap_or(&feed.url);
                        let safe = normalize::sanitize(html.unwrap_or_default(), Some(base));
                        normalize::html_to_markdown(&safe).len()
                    })
                })
            },
        );

        // Issue 25's content stages, before (string path) and after (one tree).
        let ammonia = ammonia_builder();
        let html_of = |entry: &ParsedEntry| {
            entry
                .content_html
                .as_deref()
                .or(entry.summary_html.as_deref())
                .unwrap_or_default()
                .to_string()
        };
        g.bench_function(
            BenchmarkId::new("ammonia_sanitize", format!("{entries} entries")),
            |b| {
                b.iter(|| {
                    set.sum_entries(|_, _, entry| ammonia.clean(&html_of(entry)).to_string().len())
                })
            },
        );
        g.bench_function(
            BenchmarkId::new("content_string_path", format!("{entries} entries")),
            |b| {
                b.iter(|| {
                    set.sum_entries(|_, _, entry| {
                        let safe = ammonia.clean(&html_of(entry)).to_string();
                        normalize::stages::string_path_text(&safe)
                    })
                })
            },
        );
        g.bench_function(
            BenchmarkId::new("content_one_tree", format!("{entries} entries")),
            |b| {
                b.iter(|| {
                    set.sum_entries(|_, _, entry| {
                        normalize::stages::one_tree(
                            &html_of(entry),
                            "https://example.org/blog/post",
                        )
                    })
                })
            },
        );

        // Normalize: sanitize + HTML-to-markdown + title, dates, tags, excerpt (per byte of HTML).
        g.throughput(Throughput::Bytes(html_bytes));
        g.bench_function(
            BenchmarkId::new("normalize_entry", format!("{entries} entries")),
            |b| {
                b.iter(|| {
                    set.sum_entries(|feed, parsed, entry| {
                        normalize::normalize_entry(feed, parsed, entry, now).is_ok() as usize
                    })
                })
            },
        );

        // The same with the built-in keyword tags, as `fetch` and `run` normalize by default.
        let enrich = Enrichment::builtin().expect("the built-in taxonomy compiles");
        g.bench_function(
            BenchmarkId::new(
                "normalize_entry_with_keyword_tags",
                format!("{entries} entries"),
            ),
            |b| {
                b.iter(|| {
                    set.sum_entries(|feed, parsed, entry| {
                        normalize::normalize_entry_with(feed, parsed, entry, now, Some(&enrich))
                            .is_ok() as usize
                    })
                })
            },
        );

        // The check that lets an unchanged entry skip normalization: key + content hash.
        g.bench_function(
            BenchmarkId::new("entry_key_and_hash", format!("{entries} entries")),
            |b| {
                b.iter(|| {
                    set.sum_entries(|feed, parsed, entry| {
                        normalize::entry_key(feed, entry).len()
                            + normalize::entry_hash(feed, parsed, entry).len()
                    })
                })
            },
        );

        // Slug and tags, per byte of title and categories.
        let meta_bytes: u64 = set
            .parsed
            .iter()
            .flat_map(|(_, p)| &p.entries)
            .map(|e| {
                (e.title.as_deref().map_or(0, str::len)
                    + e.categories.iter().map(String::len).sum::<usize>()) as u64
            })
            .sum();
        g.throughput(Throughput::Bytes(meta_bytes.max(1)));
        g.bench_function(
            BenchmarkId::new("slug_and_tags", format!("{entries} entries")),
            |b| {
                b.iter(|| {
                    set.sum_entries(|feed, _, entry| {
                        normalize::slugify(entry.title.as_deref().unwrap_or_default()).len()
                            + normalize::build_tags(&entry.categories, feed).0.len()
                    })
                })
            },
        );

        // Front matter + body: Post -> the Jekyll file text, per byte of output.
        let posts = posts_of(&set);
        let opts = RenderOptions::default();
        let out_bytes: u64 = posts
            .iter()
            .map(|p| normalize::render_post(p, &opts).len() as u64)
            .sum();
        g.throughput(Throughput::Bytes(out_bytes.max(1)));
        g.bench_function(
            BenchmarkId::new("render_post", format!("{} posts", posts.len())),
            |b| {
                b.iter(|| {
                    posts
                        .iter()
                        .map(|p| normalize::render_post(p, &opts).len())
                        .sum::<usize>()
                })
            },
        );
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
