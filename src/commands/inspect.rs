//! `feedsmith inspect URL|FILE`: what would this feed produce? Fetches or reads one document,
//! then runs the poll's own stages on it ([`crate::pipeline::poll`] with [`Source::Read`]) against an empty
//! scratch store, so its posts are those a first `fetch` would store; prints them, stores
//! nothing of the user's.

use std::collections::HashMap;
use std::path::Path;

use chrono::Utc;
use serde_json::json;

use crate::app::{render_options, App};
use crate::cli::InspectArgs;
use crate::config::Settings;
use crate::domain::{FeedConfig, FullContent, ParsedEntry, ParsedFeed, Post};
use crate::enrich::{Enrichment, Rejection, TagScore, Tagging};
use crate::error::{CommandError, Exit};
use crate::fetch::{FetchResponse, Fetcher, Trust, Validators};
use crate::normalize::{
    build_tags, build_tags_with, entry_key, explain_tags, permalink, post_path, render_post,
};
use crate::pipeline::Source;
use crate::redact::RedactedUrl;
use crate::store::FeedRecord;

pub async fn run(settings: Settings, args: &InspectArgs) -> Result<Exit, CommandError> {
    let source = args.source.trim();
    let is_file = Path::new(source).is_file();
    if !(is_file || source.starts_with("http://") || source.starts_with("https://")) {
        return Err(CommandError::Usage(format!(
            "{source:?} is neither an existing file nor an http(s) URL"
        )));
    }
    let scratch = Scratch::open(&settings).await?;
    let app = &scratch.app;
    // The same document stage as a poll (src/pipeline/document.rs): parsing on the blocking
    // pool, and an HTML page followed to the feed it advertises.
    let doc = if is_file {
        let body = std::fs::read(source)
            .map_err(|e| CommandError::Runtime(format!("cannot read {source}: {e}")))?;
        crate::pipeline::document::read_bytes(body)
            .await
            .map_err(|e| CommandError::Runtime(format!("{source}: {e}")))?
    } else {
        let trust = Trust::origin_of(source);
        let fetched = match app
            .fetcher
            .fetch(source, &Validators::default(), &trust)
            .await
        {
            Ok(FetchResponse::Modified(doc)) => doc,
            Ok(FetchResponse::NotModified { .. }) => {
                return Err(CommandError::Runtime(format!(
                    "{source}: unexpected 304 Not Modified"
                )))
            }
            Err(e) => return Err(CommandError::Runtime(e.to_string())),
        };
        let doc = crate::pipeline::document::read(&app.fetcher, fetched, &trust)
            .await
            .map_err(|e| CommandError::Runtime(format!("{}: {e}", RedactedUrl::new(source))))?;
        if let Some(link) = &doc.discovered {
            eprintln!(
                "{} is an HTML page; following its feed link {}",
                RedactedUrl::new(source),
                RedactedUrl::new(link)
            );
        }
        doc
    };

    let mut feed = feed_for(&settings, args, source, &doc.parsed);
    // `--full-content` fetches every linked page into the scratch store's article cache, which
    // the poll then reads as a `fetch` would; without it, no page is wanted.
    feed.full_content = Some(if args.full_content {
        FullContent::Always
    } else {
        FullContent::Never
    });
    let record = scratch.record(&feed).await?;
    if args.full_content {
        with_full_content(app, &feed, &doc.parsed).await?;
    }
    // The poll's own stages from here (cached articles, normalization on the blocking pool,
    // removed posts taken out), against the empty scratch store: nothing is known, so every
    // entry is normalized, and nothing is stored.
    let polled = crate::pipeline::poll(app, &feed, &record, Source::Read(Box::new(doc)))
        .await
        .map_err(|e| CommandError::Runtime(format!("{source}: {e}")))?;
    if let Some(e) = &polled.poll.error {
        return Err(CommandError::Runtime(format!("{source}: {e}")));
    }
    let Some(parsed) = &polled.document else {
        return Err(CommandError::Runtime(format!(
            "{source}: the poll kept no document"
        )));
    };
    let enrich = settings.enrich.enrichment.clone();
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
        let items: Vec<serde_json::Value> = polled
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
                        e["rules"] = json!(polled.rule_trace.get(&p.entry_key));
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
        for p in &polled.posts {
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
                matched_rules_text(polled.rule_trace.get(&p.entry_key))
            )?;
            crate::outln!()?;
        }
        for s in &polled.skipped {
            crate::outln!("==> skipped: {} <==", s.entry_key)?;
            crate::outln!("reason: {}", s.reason)?;
            crate::outln!(
                "rules: {}",
                matched_rules_text(polled.rule_trace.get(&s.entry_key))
            )?;
            crate::outln!()?;
        }
    } else {
        for p in &polled.posts {
            crate::outln!("==> {} <==", post_path(p))?;
            crate::out!("{}", render_post(p, &render))?;
            crate::outln!()?;
        }
    }
    for s in &polled.skipped {
        eprintln!("skipped entry {}: {}", s.entry_key, s.reason);
    }
    eprintln!(
        "{}: {} feed, {} entries -> {} posts, {} skipped",
        source,
        parsed.format,
        parsed.entries.len(),
        polled.posts.len(),
        polled.skipped.len()
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

/// `--full-content`: every linked page a poll would want (the feed's `full_content` is
/// `always` here, so the extraction can be judged on any feed) is fetched now, as the article
/// step of `fetch` fetches it, and put in the scratch store's article cache, from which the poll
/// takes it exactly as a `fetch` would. One line per page on stderr: the link, what happened,
/// and the plain-text length of the entry's own content and of the article.
async fn with_full_content(
    app: &App,
    feed: &FeedConfig,
    parsed: &ParsedFeed,
) -> Result<(), CommandError> {
    use crate::article::{fetch_article, own_len, plain_len, Extracted};
    use crate::store::{ArticleRecord, ArticleStatus};
    let http = crate::article::http_settings(&app.settings.articles, &app.settings.http);
    let fetcher = Fetcher::new(&http).map_err(|e| CommandError::Runtime(e.to_string()))?;
    for (i, link, extractor) in crate::pipeline::pages_wanted(app, feed, parsed) {
        let own = parsed.entries.get(i).map_or(0, own_len);
        let shown = RedactedUrl::new(&link);
        let cached = |status, content_html, error| ArticleRecord {
            url: link.clone(),
            status,
            extractor: extractor.key(),
            content_html,
            etag: None,
            last_modified: None,
            http_status: Some(200),
            error,
            failures: 0,
            fetched_at: Utc::now(),
            next_attempt_at: None,
        };
        let record =
            match fetch_article(&fetcher, &link, &extractor, &Trust::origin_of(&feed.url)).await {
                Ok(Extracted::Content(html)) => {
                    let article_len = plain_len(&html);
                    // The rule of pipeline::substitute: the article only if it is richer.
                    let verdict = if article_len > own {
                        "article used"
                    } else {
                        "feed content kept (richer)"
                    };
                    eprintln!(
                        "{shown}: {verdict} ({}): {own} -> {article_len} characters",
                        extractor.key()
                    );
                    cached(ArticleStatus::Ok, Some(html), None)
                }
                Ok(Extracted::Removed(reason)) => {
                    eprintln!("{shown}: {reason}; not published");
                    cached(ArticleStatus::Removed, None, Some(reason))
                }
                Err(e) => {
                    eprintln!("{shown}: article not used: {e}");
                    continue;
                }
            };
        app.store
            .put_article(&record)
            .await
            .map_err(|e| CommandError::Runtime(format!("inspect's scratch store: {e}")))?;
    }
    Ok(())
}

/// The store and app `inspect` polls against: a SQLite file in a temporary directory, removed
/// when `inspect` ends. Why a store at all: the poll's stages read one (known entries, the
/// article cache); an empty one makes every entry new, as on a first `fetch`, and nothing the
/// user has is read or written.
struct Scratch {
    app: App,
    _dir: tempfile::TempDir,
}

impl Scratch {
    async fn open(settings: &Settings) -> Result<Scratch, CommandError> {
        let dir = tempfile::Builder::new()
            .prefix("feedsmith-inspect-")
            .tempdir()
            .map_err(|e| {
                CommandError::Runtime(format!(
                    "cannot create inspect's scratch directory in {}: {e}; set TMPDIR to a writable directory",
                    std::env::temp_dir().display()
                ))
            })?;
        let mut scratch = settings.clone();
        scratch.database = crate::store::DatabaseSettings {
            url: format!("sqlite://{}", dir.path().join("inspect.db").display()),
            max_connections: 2,
        };
        let app = App::build(scratch)
            .await
            .map_err(|e| CommandError::Runtime(format!("inspect's scratch store: {e}")))?;
        Ok(Scratch { app, _dir: dir })
    }

    /// The feed's row in the scratch store (a poll needs one).
    async fn record(&self, feed: &FeedConfig) -> Result<FeedRecord, CommandError> {
        self.app
            .store
            .sync_feeds(std::slice::from_ref(feed))
            .await
            .ok()
            .and_then(|mut rows| rows.pop())
            .ok_or_else(|| CommandError::Runtime("inspect's scratch store has no feed row".into()))
    }
}
