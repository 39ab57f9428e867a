//! `feedsmith inspect URL|FILE`: what would this feed produce? Fetches or reads one document,
//! parses and normalizes it exactly as `fetch` would, prints the posts, stores nothing.

use std::collections::HashMap;
use std::path::Path;

use chrono::{SubsecRound, Utc};
use serde_json::json;

use crate::app::render_options;
use crate::cli::InspectArgs;
use crate::config::Settings;
use crate::domain::{FeedConfig, ParsedFeed};
use crate::error::{exit, CommandError};
use crate::fetch::{FetchResponse, Fetcher, Validators};
use crate::normalize::{permalink, post_path, render_post};
use crate::parse;
use crate::pipeline::build_batch;

pub async fn run(settings: Settings, args: &InspectArgs) -> Result<u8, CommandError> {
    let source = args.source.trim();
    let (body, content_type, base) = if Path::new(source).is_file() {
        let body = std::fs::read(source)
            .map_err(|e| CommandError::Runtime(format!("cannot read {source}: {e}")))?;
        (body, None, None)
    } else if source.starts_with("http://") || source.starts_with("https://") {
        let fetcher =
            Fetcher::new(&settings.http).map_err(|e| CommandError::Runtime(e.to_string()))?;
        match fetcher.fetch(source, &Validators::default()).await {
            Ok(FetchResponse::Modified(doc)) => (doc.body, doc.content_type, Some(doc.final_url)),
            Ok(FetchResponse::NotModified { .. }) => {
                return Err(CommandError::Runtime(format!(
                    "{source}: unexpected 304 Not Modified"
                )))
            }
            Err(e) => return Err(CommandError::Runtime(e.to_string())),
        }
    } else {
        return Err(CommandError::Usage(format!(
            "{source:?} is neither an existing file nor an http(s) URL"
        )));
    };

    let parsed = parse_document(
        &settings,
        &body,
        content_type.as_deref(),
        base.as_deref(),
        source,
    )
    .await?;
    let feed = feed_for(&settings, args, source, &parsed);
    let batch = build_batch(&feed, &parsed, &HashMap::new(), Utc::now().trunc_subsecs(0));
    let render = render_options(&settings);

    if args.json {
        let items: Vec<serde_json::Value> = batch
            .posts
            .iter()
            .map(|p| {
                json!({
                    "entry_key": p.entry_key,
                    "title": p.title,
                    "canonical_url": p.canonical_url,
                    "date": crate::normalize::format_date(&p.date),
                    "author": p.author,
                    "collection": p.collection,
                    "path": post_path(p),
                    "permalink": permalink(p, &render.permalink),
                    "tags": p.tags,
                    "tags_normalized": p.tags_normalized,
                    "description": p.description,
                    "file": render_post(p, &render),
                })
            })
            .collect();
        let text = serde_json::to_string_pretty(&items)
            .map_err(|e| CommandError::Runtime(e.to_string()))?;
        println!("{text}");
    } else {
        for p in &batch.posts {
            println!("==> {} <==", post_path(p));
            print!("{}", render_post(p, &render));
            println!();
        }
    }
    for s in &batch.skipped {
        eprintln!("skipped entry {}: {}", s.entry_key, s.reason);
    }
    eprintln!(
        "{}: {} feed, {} entries -> {} posts, {} skipped",
        source,
        parsed.format,
        parsed.entries.len(),
        batch.posts.len(),
        batch.skipped.len()
    );
    Ok(exit::OK)
}

/// Parse, following an HTML page's advertised feed link for URLs.
async fn parse_document(
    settings: &Settings,
    body: &[u8],
    content_type: Option<&str>,
    base: Option<&str>,
    source: &str,
) -> Result<ParsedFeed, CommandError> {
    match parse::parse_feed(body, content_type, base) {
        Ok(p) => Ok(p),
        Err(e) => {
            let link = base
                .filter(|_| parse::looks_like_html(body))
                .and_then(|b| parse::discover_feed_links(body, b).into_iter().next());
            let Some(link) = link else {
                return Err(CommandError::Runtime(format!("{source}: {e}")));
            };
            eprintln!("{source} is an HTML page; following its feed link {link}");
            let fetcher =
                Fetcher::new(&settings.http).map_err(|e| CommandError::Runtime(e.to_string()))?;
            match fetcher.fetch(&link, &Validators::default()).await {
                Ok(FetchResponse::Modified(doc)) => {
                    parse::parse_feed(&doc.body, doc.content_type.as_deref(), Some(&doc.final_url))
                        .map_err(|e| CommandError::Runtime(format!("{link}: {e}")))
                }
                Ok(FetchResponse::NotModified { .. }) => {
                    Err(CommandError::Runtime(format!("{link}: unexpected 304")))
                }
                Err(e) => Err(CommandError::Runtime(e.to_string())),
            }
        }
    }
}

/// The feed configuration to normalize with: the configured feed of this URL if there is one,
/// overridden by `--name` / `--collection`.
fn feed_for(
    settings: &Settings,
    args: &InspectArgs,
    source: &str,
    parsed: &ParsedFeed,
) -> FeedConfig {
    let mut feed = settings
        .feeds
        .iter()
        .find(|f| f.url == source)
        .cloned()
        .unwrap_or_else(|| {
            let name = parsed
                .title
                .clone()
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| source.to_string());
            FeedConfig::new(name, source, "blogs")
        });
    if let Some(n) = &args.name {
        feed.name = n.clone();
    }
    if let Some(c) = &args.collection {
        feed.collection = c.clone();
    }
    feed
}
