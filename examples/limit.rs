//! The physical limit of a feed poll on this machine: fetch every configured feed with
//! feedsmith's own [`Fetcher`] (same HTTP settings, same concurrency) and parse it with
//! [`parse::parse_feed`], and store nothing: no normalization, no database.
//!
//!     cargo build --release --example limit
//!     target/release/examples/limit --config feedsmith.toml
//!
//! Parsing runs on the blocking pool, as in `feedsmith fetch`. Prints one line:
//! `feeds=N ok=N failed=N entries=N bytes=N elapsed=S feeds_per_s=N entries_per_s=N`.
//!
//! `--warm`: the limit of a warm poll. Every feed is first fetched once (untimed) for its
//! validators; the timed pass then sends each one conditional GET with them, as a warm `fetch`
//! does, and counts the 304s (`not_modified=N` on the line; a 200 is parsed as above).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use feedsmith::config;
use feedsmith::fetch::{FetchResponse, Fetcher, Trust, Validators};
use feedsmith::parse;
use futures_util::stream::{self, StreamExt};

#[derive(Default)]
struct Tally {
    ok: usize,
    failed: usize,
    entries: usize,
    bytes: u64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut path: Option<PathBuf> = None;
    let mut warm = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--config" | "-c" => path = args.next().map(PathBuf::from),
            "--warm" => warm = true,
            other => {
                return Err(format!(
                    "unknown argument {other}; usage: limit --config FILE [--warm]"
                )
                .into())
            }
        }
    }
    let path = path.ok_or("usage: limit --config FILE [--warm]")?;
    let settings = config::load(Some(&path), None)?;
    let urls: Vec<String> = settings
        .feeds
        .iter()
        .filter(|f| f.enabled)
        .map(|f| f.url.clone())
        .collect();
    let fetcher = Arc::new(Fetcher::new(&settings.http)?);
    // The same bound on finished-but-unprocessed bodies as `feedsmith fetch`.
    let in_flight = settings.http.concurrency.max(1);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // Warm: each feed's validators from one untimed unconditional GET.
    let validators: Vec<Validators> = if warm {
        runtime.block_on(
            stream::iter(urls.iter())
                .map(|url| {
                    let fetcher = fetcher.clone();
                    async move {
                        match fetcher
                            .fetch(url, &Validators::default(), &Trust::origin_of(url))
                            .await
                        {
                            Ok(FetchResponse::Modified(doc)) => Validators {
                                etag: doc.etag,
                                last_modified: doc.last_modified,
                            },
                            _ => Validators::default(),
                        }
                    }
                })
                .buffered(in_flight)
                .collect(),
        )
    } else {
        vec![Validators::default(); urls.len()]
    };
    let not_modified = std::sync::atomic::AtomicUsize::new(0);
    let started = Instant::now();
    let tally = runtime.block_on(async {
        let results: Vec<Result<(usize, u64), String>> = stream::iter(urls.iter().zip(&validators))
            .map(|(url, validators)| {
                let fetcher = fetcher.clone();
                let not_modified = &not_modified;
                async move {
                    let resp = fetcher
                        .fetch(url, validators, &Trust::origin_of(url))
                        .await
                        .map_err(|e| e.to_string())?;
                    let FetchResponse::Modified(doc) = resp else {
                        if warm {
                            not_modified.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            return Ok((0, 0));
                        }
                        return Err(format!("{url}: 304 without validators"));
                    };
                    let bytes = doc.body.len() as u64;
                    let entries = tokio::task::spawn_blocking(move || {
                        parse::parse_feed(
                            &doc.body,
                            doc.content_type.as_deref(),
                            Some(&doc.final_url),
                        )
                        .map(|p| p.entries.len())
                    })
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| format!("{url}: {e}"))?;
                    Ok((entries, bytes))
                }
            })
            .buffer_unordered(in_flight)
            .collect()
            .await;
        let mut t = Tally::default();
        for r in results {
            match r {
                Ok((entries, bytes)) => {
                    t.ok += 1;
                    t.entries += entries;
                    t.bytes += bytes;
                }
                Err(e) => {
                    t.failed += 1;
                    eprintln!("failed: {e}");
                }
            }
        }
        t
    });
    let secs = started.elapsed().as_secs_f64();
    let warm_part = if warm {
        format!(
            " not_modified={}",
            not_modified.load(std::sync::atomic::Ordering::Relaxed)
        )
    } else {
        String::new()
    };
    println!(
        "feeds={} ok={} failed={} entries={} bytes={}{warm_part} elapsed={:.3} feeds_per_s={:.0} entries_per_s={:.0}",
        urls.len(),
        tally.ok,
        tally.failed,
        tally.entries,
        tally.bytes,
        secs,
        urls.len() as f64 / secs,
        tally.entries as f64 / secs
    );
    if tally.failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}
