//! Normalization: a parsed feed entry becomes a Jekyll post exactly per
//! `../shared/spec/post-format.md`. Pure: no I/O, no clock (the caller passes `first_seen`), so
//! every rule is unit-tested and the golden cases run as plain tests.
//!
//! Submodules: [`slug`] (slugs, transliteration), [`tags`], [`text`] (titles, plain text,
//! summaries), [`content`] (source selection, Reddit, sanitizing), [`markdown`] (the only user of
//! the GPL `html2md` crate), [`render`] (front matter and body layout).

mod content;
mod markdown;
mod render;
mod slug;
mod tags;
mod text;

#[cfg(test)]
mod golden;

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::{viewing_mode, FeedConfig, ParsedEntry, ParsedFeed, Post, SkippedEntry};

pub use render::{clean_scalar, render_post};
pub use slug::slugify;
pub use tags::{build_tags, normalize_tag};
pub use text::clean_title;

/// Bumped when a rule changes, so stored entries are normalized again (their hash changes).
const RULES_VERSION: u32 = 1;

/// How videos are embedded (`[publish] video_embed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VideoEmbed {
    /// `{% youtube <id> %}` (a Liquid tag, e.g. jekyll-youtube).
    #[default]
    Liquid,
    /// A plain markdown link, for sites without the tag.
    Link,
}

/// Publishing options that shape the rendered file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderOptions {
    /// Permalink pattern with `{collection}`, `{date}`, `{slug}`.
    pub permalink: String,
    pub video_embed: VideoEmbed,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            permalink: "/{collection}/{date}-{slug}.html".into(),
            video_embed: VideoEmbed::Liquid,
        }
    }
}

/// The result of normalizing one entry.
#[derive(Debug, Clone, PartialEq)]
pub enum Normalized {
    Post(Box<Post>),
    /// Not published (too short for its collection); remembered by the store.
    Skipped(SkippedEntry),
}

#[derive(Debug, thiserror::Error)]
pub enum NormalizeError {
    #[error("entry {title:?} has no link and no http(s) id, so it has no canonical URL; skipped")]
    NoCanonicalUrl { title: String },
}

/// `2025-08-03 22:48:15 +00:00`.
pub fn format_date(d: &DateTime<Utc>) -> String {
    d.format("%Y-%m-%d %H:%M:%S +00:00").to_string()
}

/// RFC 3339 or RFC 2822 (with the obsolete zone names such as `EDT`), to UTC, seconds kept.
pub fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_rfc2822(s))
        .ok()
        .map(|d| d.with_timezone(&Utc).trunc_subsecs(0))
}

/// `_<collection>/<yyyy-MM-dd>-<slug>.md`.
pub fn post_path(post: &Post) -> String {
    format!(
        "_{}/{}-{}.md",
        post.collection,
        post.date.format("%Y-%m-%d"),
        post.slug
    )
}

/// The permalink pattern with `{collection}`, `{date}` and `{slug}` filled in.
pub fn permalink(post: &Post, pattern: &str) -> String {
    pattern
        .replace("{collection}", &post.collection)
        .replace("{date}", &post.date.format("%Y-%m-%d").to_string())
        .replace("{slug}", &post.slug)
}

/// Author (post-format.md section 4): entry names, else the feed's author, else the feed's name,
/// else `Unknown`. `/u/x` -> `x`; `mail (Name)` -> `Name`; a bare address -> its local part.
pub fn author(entry_authors: &[String], feed_author: Option<&str>, feed_name: &str) -> String {
    let names: Vec<String> = entry_authors
        .iter()
        .map(|a| clean_author(a))
        .filter(|a| !a.is_empty())
        .collect();
    if !names.is_empty() {
        return names.join(", ");
    }
    [
        feed_author.map(clean_author),
        Some(text::collapse_ws(feed_name)),
    ]
    .into_iter()
    .flatten()
    .find(|a| !a.is_empty())
    .unwrap_or_else(|| "Unknown".to_string())
}

fn clean_author(raw: &str) -> String {
    let a = text::collapse_ws(&text::remove_controls(&text::decode_entities(raw)));
    let a = a
        .strip_prefix("/u/")
        .or_else(|| a.strip_prefix("u/"))
        .unwrap_or(&a)
        .trim()
        .to_string();
    if let (Some(open), true) = (a.find('('), a.ends_with(')')) {
        let name = a[open + 1..a.len() - 1].trim();
        if a[..open].contains('@') && !name.is_empty() {
            return name.to_string();
        }
    }
    if !a.contains(' ') {
        if let Some((local, domain)) = a.split_once('@') {
            if !local.is_empty() && domain.contains('.') {
                return local.to_string();
            }
        }
    }
    a
}

/// Stable identity: the guid/id, else the link, else a hash of feed URL + title + date. Never a
/// random value, so a re-poll finds the same key.
pub fn entry_key(feed: &FeedConfig, entry: &ParsedEntry) -> String {
    if let Some(id) = entry.id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        return id.to_string();
    }
    if let Some(link) = entry
        .link
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        return link.to_string();
    }
    let date = entry
        .published
        .or(entry.updated)
        .map(|d| d.to_rfc3339())
        .unwrap_or_default();
    let title = entry.title.as_deref().unwrap_or_default();
    format!(
        "sha256:{}",
        hex::encode(Sha256::digest(
            format!("{}\n{title}\n{date}", feed.url).as_bytes()
        ))
    )
}

/// Hash of everything normalization reads: the entry, the feed-level author and the feed's
/// configuration. Same hash, same post: the pipeline skips unchanged entries without work.
pub fn entry_hash(feed: &FeedConfig, parsed: &ParsedFeed, entry: &ParsedEntry) -> String {
    let mut h = Sha256::new();
    let mut field = |s: &str| {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    };
    field(&RULES_VERSION.to_string());
    field(&feed.name);
    field(&feed.url);
    field(&feed.collection);
    field(&feed.categories.join("\u{1}"));
    field(&feed.tags.join("\u{1}"));
    field(&feed.effective_min_content_chars().to_string());
    field(parsed.author.as_deref().unwrap_or_default());
    field(entry.id.as_deref().unwrap_or_default());
    field(entry.link.as_deref().unwrap_or_default());
    field(entry.title.as_deref().unwrap_or_default());
    field(&entry.authors.join("\u{1}"));
    field(
        &entry
            .published
            .map(|d| d.to_rfc3339_opts(SecondsFormat::Secs, true))
            .unwrap_or_default(),
    );
    field(
        &entry
            .updated
            .map(|d| d.to_rfc3339_opts(SecondsFormat::Secs, true))
            .unwrap_or_default(),
    );
    field(&entry.categories.join("\u{1}"));
    field(entry.content_html.as_deref().unwrap_or_default());
    field(entry.summary_html.as_deref().unwrap_or_default());
    field(entry.content_text.as_deref().unwrap_or_default());
    field(entry.youtube_id.as_deref().unwrap_or_default());
    hex::encode(h.finalize())
}

/// The YouTube id of a video: `yt:videoId`, else from the link (`watch?v=`, `youtu.be/`,
/// `shorts/`, `embed/`).
pub fn youtube_id(entry: &ParsedEntry) -> Option<String> {
    let valid = |s: &str| {
        !s.is_empty()
            && s.len() <= 32
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if let Some(id) = entry
        .youtube_id
        .as_deref()
        .map(str::trim)
        .filter(|s| valid(s))
    {
        return Some(id.to_string());
    }
    let u = url::Url::parse(entry.link.as_deref()?).ok()?;
    let host = u.host_str()?.to_ascii_lowercase();
    let id = if host.ends_with("youtu.be") {
        u.path_segments()?.next().map(str::to_string)
    } else if host.contains("youtube") {
        let segs: Vec<&str> = u.path_segments()?.collect();
        match segs.as_slice() {
            ["watch", ..] => u
                .query_pairs()
                .find(|(k, _)| k == "v")
                .map(|(_, v)| v.into_owned()),
            ["shorts" | "embed" | "live", id, ..] => Some(id.to_string()),
            _ => None,
        }
    } else {
        None
    };
    id.filter(|s| valid(s))
}

/// Normalize one entry of a parsed feed. `first_seen` is the date of an undated entry.
pub fn normalize_entry(
    feed: &FeedConfig,
    parsed: &ParsedFeed,
    entry: &ParsedEntry,
    first_seen: DateTime<Utc>,
) -> Result<Normalized, NormalizeError> {
    let reddit = content::is_reddit(entry.link.as_deref());
    let title = clean_title(entry.title.as_deref().unwrap_or_default(), reddit);
    let key = entry_key(feed, entry);
    let hash = entry_hash(feed, parsed, entry);

    let canonical_url = match entry
        .link
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        Some(link) => link.to_string(),
        None => match entry.id.as_deref().map(str::trim) {
            Some(id) if id.starts_with("http://") || id.starts_with("https://") => id.to_string(),
            _ => return Err(NormalizeError::NoCanonicalUrl { title }),
        },
    };

    // Content: source, Reddit clean-up, relative URLs against the entry link (else the feed URL),
    // sanitize, markdown.
    let mut html = content::source_html(entry);
    let mut external = None;
    if reddit {
        let (clean, ext) = content::reddit_clean(&html, Some(&canonical_url));
        html = clean;
        external = ext;
    }
    let base = entry.link.as_deref().unwrap_or(&feed.url);
    let safe_html = content::sanitize(&html, Some(base));
    let paragraphs = text::html_paragraphs(&safe_html);
    let plain_len: usize = paragraphs.iter().map(|p| p.chars().count()).sum::<usize>()
        + paragraphs.len().saturating_sub(1);

    let min = feed.effective_min_content_chars();
    if plain_len < min {
        return Ok(Normalized::Skipped(SkippedEntry {
            entry_key: key,
            content_hash: hash,
            reason: format!(
                "content has {plain_len} characters, below the {min} required in {}",
                feed.collection
            ),
        }));
    }

    let mut content_markdown = markdown::html_to_markdown(&safe_html);
    if let Some(link) = external {
        if !content_markdown.is_empty() {
            content_markdown.push_str("\n\n");
        }
        content_markdown.push_str(&format!(
            "[Link]({})",
            link.replace(' ', "%20").replace(')', "%29")
        ));
    }

    let plain = paragraphs.join(" ");
    let description = if plain.trim().is_empty() {
        title.clone()
    } else {
        text::summarize(&plain, 200)
    };
    let excerpt = match paragraphs.first() {
        Some(p) => text::summarize(p, 300),
        None => title.clone(),
    };

    let date = entry
        .published
        .or(entry.updated)
        .unwrap_or(first_seen)
        .trunc_subsecs(0);
    let (tags, tags_normalized) = build_tags(&entry.categories, feed);
    let youtube = if feed.collection == "videos" {
        youtube_id(entry)
    } else {
        None
    };

    Ok(Normalized::Post(Box::new(Post {
        entry_key: key,
        slug: slugify(&title),
        title,
        description,
        author: author(&entry.authors, parsed.author.as_deref(), &feed.name),
        reddit_segment: if reddit {
            content::reddit_segment(&canonical_url)
        } else {
            None
        },
        canonical_url,
        viewing_mode: viewing_mode(&feed.collection).to_string(),
        feed_name: feed.name.clone(),
        feed_url: feed.url.clone(),
        collection: feed.collection.clone(),
        date,
        categories: feed.categories.clone(),
        tags,
        tags_normalized,
        excerpt,
        content_markdown,
        youtube_id: youtube,
        content_hash: hash,
    })))
}
