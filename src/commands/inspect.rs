//! `feedsmith inspect URL|FILE`: what would this feed produce? Fetches or reads one document,
//! parses and normalizes it exactly as `fetch` would, prints the posts, stores nothing.

use std::collections::HashMap;
use std::path::Path;

use chrono::{SubsecRound, Utc};
use serde_json::json;

use crate::app::render_options;
use crate::cli::InspectArgs;
use crate::config::Settings;
use crate::domain::{FeedConfig, ParsedEntry, ParsedFeed, Post};
use crate::enrich::{Enrichment, Rejection, TagScore, Tagging};
use crate::error::{CommandError, Exit};
use crate::fetch::{FetchResponse, Fetcher, Trust, Validators};
use crate::normalize::{
    build_tags, build_tags_with, entry_key, explain_tags, permalink, post_path, render_post,
};
use crate::pipeline::build_batch;
use crate::redact::RedactedUrl;

pub async fn run(settings: Settings, args: &InspectArgs) -> Result<Exit, CommandError> {
    let source = args.source.trim();
    // The same document stage as a poll (src/pipeline/document.rs): parsing on the blocking
    // pool, and an HTML page followed to the feed it advertises.
    let mut parsed = if Path::new(source).is_file() {
        let body = std::fs::read(source)
            .map_err(|e| CommandError::Runtime(format!("cannot read {source}: {e}")))?;
        crate::pipeline::document::read_bytes(body)
            .await
            .map_err(|e| CommandError::Runtime(format!("{source}: {e}")))?
    } else if source.starts_with("http://") || source.starts_with("https://") {
        let fetcher =
            Fetcher::new(&settings.http).map_err(|e| CommandError::Runtime(e.to_string()))?;
        let trust = Trust::origin_of(source);
        let fetched = match fetcher.fetch(source, &Validators::default(), &trust).await {
            Ok(FetchResponse::Modified(doc)) => doc,
            Ok(FetchResponse::NotModified { .. }) => {
                return Err(CommandError::Runtime(format!(
                    "{source}: unexpected 304 Not Modified"
                )))
            }
            Err(e) => return Err(CommandError::Runtime(e.to_string())),
        };
        let doc = crate::pipeline::document::read(&fetcher, fetched, &trust)
            .await
            .map_err(|e| CommandError::Runtime(format!("{}: {e}", RedactedUrl::new(source))))?;
        if let Some(link) = &doc.discovered {
            eprintln!(
                "{} is an HTML page; following its feed link {}",
                RedactedUrl::new(source),
                RedactedUrl::new(link)
            );
        }
        doc.parsed
    } else {
        return Err(CommandError::Usage(format!(
            "{source:?} is neither an existing file nor an http(s) URL"
        )));
    };

    let feed = feed_for(&settings, args, source, &parsed);
    if args.full_content {
        with_full_content(&settings, &feed, &mut parsed).await?;
    }
    let enrich = settings.enrich.enrichment.clone();
    // Normalization on the blocking pool, as in a poll (it is the CPU-heavy stage).
    let (batch, parsed) = {
        let (feed, enrich) = (feed.clone(), enrich.clone());
        tokio::task::spawn_blocking(move || {
            let now = Utc::now().trunc_subsecs(0);
            let batch = build_batch(&feed, &parsed, &HashMap::new(), now, Some(&enrich));
            (batch, parsed)
        })
        .await
        .map_err(|e| CommandError::Runtime(format!("{source}: normalization failed: {e}")))?
    };
    let render = render_options(&settings);
    let entries: HashMap<String, &ParsedEntry> = parsed
        .entries
        .iter()
        .map(|e| (entry_key(&feed, e), e))
        .collect();
    // The entry's own date when the post has its first-seen time instead (a date too far in
    // the future is not kept; see normalize::date::post_date).
    let replaced_date = |p: &Post| {
        let entry = entries.get(&p.entry_key)?;
        entry
            .published
            .or(entry.updated)
            .map(|own| chrono::SubsecRound::trunc_subsecs(own, 0))
            .filter(|own| *own != p.date)
    };
    let explain = |p: &Post| -> Option<Explanation> {
        let entry = entries.get(&p.entry_key)?;
        Some(explanation(&feed, entry, p, &enrich))
    };
    // What the network guard says of the entry's link (the article step's target).
    let link_verdict = |p: &Post| -> Option<String> {
        let link = entries.get(&p.entry_key)?.link.as_deref()?.trim();
        let shown = crate::redact::RedactedUrl::new(link);
        if !(link.starts_with("http://") || link.starts_with("https://")) {
            return Some(format!("{shown}: not http(s); no article is fetched"));
        }
        Some(
            match crate::fetch::precheck(&settings.http, link, &Trust::origin_of(&feed.url)) {
                Ok(()) => format!("{shown}: allowed (checked again after DNS when fetched)"),
                Err(e) => e.to_string(),
            },
        )
    };

    if args.json {
        let items: Vec<serde_json::Value> = batch
            .posts
            .iter()
            .map(|p| {
                let mut item = json!({
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
                });
                if args.explain {
                    if let (Some(obj), Some(e)) = (item.as_object_mut(), explain(p)) {
                        let mut e = e.to_json(&enrich);
                        if let Some(own) = replaced_date(p) {
                            e["feed_date"] = json!(crate::normalize::format_date(&own));
                        }
                        e["article_link"] = json!(link_verdict(p));
                        // The document's tolerant repairs (`truncated`): why an entry may be
                        // missing, and that the feed's publisher has something to fix.
                        e["repaired"] = json!(parsed.repairs);
                        e["rules"] = json!(batch.rule_trace.get(&p.entry_key));
                        obj.insert("explain".into(), e);
                    }
                }
                item
            })
            .collect();
        let text = serde_json::to_string_pretty(&items)
            .map_err(|e| CommandError::Runtime(e.to_string()))?;
        crate::outln!("{text}")?;
    } else if args.explain {
        if !parsed.repairs.is_empty() {
            crate::outln!("repaired: {}", parsed.repairs.join(", "))?;
            crate::outln!()?;
        }
        for p in &batch.posts {
            crate::outln!("==> {} <==", post_path(p))?;
            crate::outln!("title: {}", p.title)?;
            let date = crate::normalize::format_date(&p.date);
            match replaced_date(p) {
                Some(own) => crate::outln!(
                    "date: {date} (first seen; the feed says {}, more than {} hours ahead)",
                    crate::normalize::format_date(&own),
                    crate::normalize::MAX_AHEAD.num_hours()
                )?,
                None => crate::outln!("date: {date}")?,
            }
            if let Some(v) = link_verdict(p) {
                crate::outln!("article link: {v}")?;
            }
            match explain(p) {
                Some(e) => crate::out!("{}", e.to_text(&enrich))?,
                None => crate::outln!("tags: {:?}", p.tags)?,
            }
            crate::outln!(
                "rules: {}",
                matched_rules_text(batch.rule_trace.get(&p.entry_key))
            )?;
            crate::outln!()?;
        }
        for s in &batch.skipped {
            crate::outln!("==> skipped: {} <==", s.entry_key)?;
            crate::outln!("reason: {}", s.reason)?;
            crate::outln!(
                "rules: {}",
                matched_rules_text(batch.rule_trace.get(&s.entry_key))
            )?;
            crate::outln!()?;
        }
    } else {
        for p in &batch.posts {
            crate::outln!("==> {} <==", post_path(p))?;
            crate::out!("{}", render_post(p, &render))?;
            crate::outln!()?;
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
    Ok(Exit::Ok)
}

/// The rules that matched an entry and what each did (`inspect --explain`), in order.
fn matched_rules_text(applied: Option<&Vec<crate::rules::Applied>>) -> String {
    match applied {
        None => "none matched".to_string(),
        Some(list) => list
            .iter()
            .map(|a| format!("{:?} -> {}", a.rule, a.action))
            .collect::<Vec<_>>()
            .join("; "),
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
    // The feed URL written into posts (`feed_url`): --feed-url, else the URL itself, else the
    // file as an absolute `file://` URL. A bare relative path would be meaningless in a post.
    let url = match &args.feed_url {
        Some(u) => u.clone(),
        None if Path::new(source).is_file() => std::fs::canonicalize(source)
            .ok()
            .and_then(|p| url::Url::from_file_path(p).ok())
            .map_or_else(|| source.to_string(), |u| u.to_string()),
        None => source.to_string(),
    };
    let mut feed = settings
        .feeds
        .iter()
        .find(|f| f.url == source || f.url == url)
        .cloned()
        .unwrap_or_else(|| {
            let name = parsed
                .title
                .clone()
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| source.to_string());
            let mut feed = FeedConfig::new(name, url, "blogs");
            feed.rules = settings.global_rules.clone();
            feed
        });
    if let Some(n) = &args.name {
        feed.name = n.clone();
    }
    if let Some(c) = &args.collection {
        feed.collection = c.clone();
    }
    feed
}

/// Where a post's tags came from, for `inspect --explain`.
struct Explanation {
    /// Each published tag with its sources (`entry category`, `feed tags`, `feed categories`,
    /// `collection`, `keywords`).
    tags: Vec<(String, Vec<&'static str>)>,
    tagging: Option<Tagging>,
}

fn explanation(
    feed: &FeedConfig,
    entry: &ParsedEntry,
    post: &Post,
    enrich: &Enrichment,
) -> Explanation {
    let tagging = explain_tags(feed, entry, enrich);
    let keyword_tags = tagging.as_ref().map(Tagging::tags).unwrap_or_default();
    // Each input alone, through the same rules (a probe feed with no collection).
    let probe = |categories: &[String], tags: &[String], collection: &str| {
        let mut f = FeedConfig::new("", "", collection);
        f.categories = categories.to_vec();
        f.tags = tags.to_vec();
        f
    };
    let sources: [(&'static str, Vec<String>); 5] = [
        (
            "entry category",
            build_tags(&entry.categories, &probe(&[], &[], "")).0,
        ),
        ("feed tags", build_tags(&[], &probe(&[], &feed.tags, "")).0),
        (
            "feed categories",
            build_tags(&[], &probe(&feed.categories, &[], "")).0,
        ),
        (
            "collection",
            build_tags(&[], &probe(&[], &[], &feed.collection)).0,
        ),
        (
            "keywords",
            build_tags_with(&[], &probe(&[], &[], ""), &keyword_tags).0,
        ),
    ];
    let tags = post
        .tags
        .iter()
        .map(|t| {
            let from = sources
                .iter()
                .filter(|(_, list)| list.iter().any(|x| x.eq_ignore_ascii_case(t)))
                .map(|(name, _)| *name)
                .collect();
            (t.clone(), from)
        })
        .collect();
    Explanation { tags, tagging }
}

fn rules_text(s: &TagScore) -> String {
    let mut parts = Vec::new();
    if !s.title_terms.is_empty() {
        let terms: Vec<String> = s.title_terms.iter().map(|t| format!("{t:?}")).collect();
        parts.push(format!("title {}", terms.join(", ")));
    }
    if !s.body_terms.is_empty() {
        let terms: Vec<String> = s
            .body_terms
            .iter()
            .map(|(t, n)| format!("{t:?} x{n}"))
            .collect();
        parts.push(format!("body {}", terms.join(", ")));
    }
    parts.join("; ")
}

impl Explanation {
    fn to_text(&self, enrich: &Enrichment) -> String {
        let mut out = String::new();
        out.push_str(
            "tags:
",
        );
        for (tag, from) in &self.tags {
            out.push_str(&format!(
                "  {tag:<24} <- {}
",
                from.join(", ")
            ));
        }
        match &self.tagging {
            None => out.push_str(
                "keyword tags: off
",
            ),
            Some(t) => {
                out.push_str(&format!(
                    "keyword tags: {} kept (max {}); body {} words, body threshold {:.2}
",
                    t.kept.len(),
                    enrich.max_tags(),
                    t.words,
                    t.threshold
                ));
                for s in &t.kept {
                    out.push_str(&format!(
                        "  + {:<22} {:>5.2}  {}
",
                        s.tag,
                        s.score,
                        rules_text(s)
                    ));
                }
                for (s, why) in &t.rejected {
                    let why = match why {
                        Rejection::BelowThreshold => "below threshold",
                        Rejection::OverCap => "over max_tags",
                    };
                    out.push_str(&format!(
                        "  - {:<22} {:>5.2}  {}  ({why})\n",
                        s.tag,
                        s.score,
                        rules_text(s)
                    ));
                }
            }
        }
        out
    }

    fn to_json(&self, enrich: &Enrichment) -> serde_json::Value {
        let score = |s: &TagScore| {
            json!({
                "tag": s.tag,
                "score": (s.score * 100.0).round() / 100.0,
                "title_terms": s.title_terms,
                "body_terms": s.body_terms.iter().map(|(t, n)| json!({"term": t, "count": n})).collect::<Vec<_>>(),
            })
        };
        json!({
            "tags": self.tags.iter().map(|(t, from)| json!({"tag": t, "from": from})).collect::<Vec<_>>(),
            "keyword_tags": self.tagging.as_ref().map(|t| json!({
                "max_tags": enrich.max_tags(),
                "words": t.words,
                "threshold": (t.threshold * 100.0).round() / 100.0,
                "kept": t.kept.iter().map(score).collect::<Vec<_>>(),
                "rejected": t.rejected.iter().map(|(s, why)| {
                    let mut v = score(s);
                    if let Some(o) = v.as_object_mut() {
                        o.insert("reason".into(), json!(match why {
                            Rejection::BelowThreshold => "below threshold",
                            Rejection::OverCap => "over max_tags",
                        }));
                    }
                    v
                }).collect::<Vec<_>>(),
            })),
        })
    }
}

/// `--full-content`: every entry with an http(s) link gets its linked page, as the article step
/// of `fetch` would use it (whatever the feed's `full_content` mode, so the extraction can be
/// judged on any feed). One line per entry on stderr: the link, what happened, and the
/// plain-text length of the entry's own content and of the article.
async fn with_full_content(
    settings: &Settings,
    feed: &FeedConfig,
    parsed: &mut ParsedFeed,
) -> Result<(), CommandError> {
    use crate::article::{fetch_article, own_len, plain_len, Extracted};
    let http = crate::article::http_settings(&settings.articles, &settings.http);
    let fetcher = Fetcher::new(&http).map_err(|e| CommandError::Runtime(e.to_string()))?;
    let mut removed = Vec::new();
    for entry in &mut parsed.entries {
        let Some(link) = entry
            .link
            .clone()
            .filter(|l| l.starts_with("http://") || l.starts_with("https://"))
        else {
            continue;
        };
        let own = own_len(entry);
        let extractor = crate::pipeline::extractor_for(feed, &link);
        match fetch_article(&fetcher, &link, &extractor, &Trust::origin_of(&feed.url)).await {
            Ok(Extracted::Content(html)) => {
                let record = crate::store::ArticleRecord {
                    url: link.clone(),
                    status: crate::store::ArticleStatus::Ok,
                    extractor: extractor.key(),
                    content_html: Some(html),
                    etag: None,
                    last_modified: None,
                    http_status: Some(200),
                    error: None,
                    failures: 0,
                    fetched_at: Utc::now(),
                    next_attempt_at: None,
                };
                let article_len = record.content_html.as_deref().map_or(0, plain_len);
                let used = crate::pipeline::substitute(entry, &record);
                eprintln!(
                    "{}: {} ({}): {own} -> {article_len} characters",
                    crate::redact::RedactedUrl::new(&link),
                    if used {
                        "article used"
                    } else {
                        "feed content kept (richer)"
                    },
                    extractor.key()
                );
            }
            Ok(Extracted::Removed(reason)) => {
                eprintln!(
                    "{}: {reason}; not published",
                    crate::redact::RedactedUrl::new(&link)
                );
                removed.push(link);
            }
            Err(e) => eprintln!(
                "{}: article not used: {e}",
                crate::redact::RedactedUrl::new(&link)
            ),
        }
    }
    parsed
        .entries
        .retain(|e| !e.link.as_ref().is_some_and(|l| removed.contains(l)));
    Ok(())
}
