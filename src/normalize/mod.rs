//! Normalization: a parsed feed entry becomes a Jekyll post exactly per
//! `../shared/spec/post-format.md`.
//!
//! Pure: no I/O and no clock (the caller passes `first_seen`), so every rule is unit-tested and
//! the spec's golden cases run as plain tests. Input is untrusted internet content: nothing here
//! panics on it, and the output (front matter and markdown) cannot be broken or made to carry
//! active content whatever the feed contains.
//!
//! Submodules, one concern each:
//! [`text`] (entities, whitespace, plain text, source selection), [`summary`] (the description
//! and excerpt: which paragraphs inform, and where to cut),
//! [`slug`] (slugs and the transliteration shared with tags), [`tags`], [`author`], [`date`],
//! [`reddit`] (Reddit's markers, trailer and URLs), [`html`] (the entry's one HTML tree: parsed
//! once, sanitized with ammonia's policy, read for markdown and text), [`sanitize`] (the same
//! sanitizing to a string), [`markdown`] (HTML to markdown), [`video`] (YouTube ids), [`frontmatter`] (YAML) and
//! [`render`] (the file layout).
//!
//! Keyword tags ([`taxonomy`], [`Enrichment`]) come in through [`normalize_entry_with`]: the compiled
//! taxonomy is passed in, so normalization still reads no file. [`normalize_entry`] is the spec
//! exactly (section 5's tags only), which is what the golden cases check.

mod author;
mod date;
mod frontmatter;
mod html;
mod keywords;
pub mod lint;
mod markdown;
mod reddit;
mod render;
mod ruled;
mod sanitize;
mod slug;
mod summary;
mod tags;
pub mod taxonomy;
mod text;
mod video;

#[cfg(test)]
mod golden;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::{viewing_mode, FeedConfig, ParsedEntry, ParsedFeed, Post, SkippedEntry};
use taxonomy::Tagging;

pub use author::author;
pub use date::{format_date, parse_date, MAX_AHEAD};
pub use frontmatter::clean_scalar;
pub use keywords::{Enrichment, DEFAULT_MAX_TAGS};
pub use markdown::html_to_markdown;
pub use reddit::{is_reddit, reddit_segment};
pub use render::{render_post, safe_link};
pub use ruled::normalize_entry_explained;
pub use sanitize::sanitize;
pub use slug::slugify;
pub use tags::{build_tags, build_tags_with, normalize_tag};
pub(crate) use text::is_ascii_space;
pub use text::{clean_title, words};
pub use video::youtube_id;

/// Bumped when a rule changes, so stored entries are normalized again (their hash changes).
/// 3: boilerplate-aware, markdown-safe description and excerpt; keyword tags.
/// 4: canonical URL fallback chain, `media:description` and hashtags, every image as markdown,
/// Reddit thumbnail tables.
const RULES_VERSION: u32 = 4;

/// Hashtags of one `media:description` taken as tags, at most.
const MAX_HASHTAGS: usize = 10;

/// How videos are embedded (`[publish] video_embed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VideoEmbed {
    /// `{% youtube <id> %}` (a Liquid tag, e.g. jekyll-youtube), as the original site did.
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

/// The result of normalizing one entry. The post is boxed: it is many times the size of a
/// skipped entry (clippy's `large_enum_variant`).
#[derive(Debug, Clone, PartialEq)]
pub enum Normalized {
    Post(Box<Post>),
    /// Not published (too short for its collection); remembered by the store.
    Skipped(SkippedEntry),
}

#[derive(Debug, thiserror::Error)]
pub enum NormalizeError {
    /// post-format.md section 2: nothing of the fallback chain is an http(s) URL. Only a feed
    /// read from a file (`inspect FILE`) can get here: a configured feed's URL is http(s).
    #[error("entry {title:?} has no http(s) link, id or enclosure, and the feed has no http(s) site link or URL, so it has no canonical URL; skipped (serve the file over HTTP to give it one)")]
    NoCanonicalUrl { title: String },
}

/// `_<collection>/<yyyy-MM-dd>-<slug>.md`.
pub fn post_path(post: &Post) -> String {
    post_path_with_slug(post, &post.slug)
}

/// [`post_path`] with another slug (a `-2` suffix tried on a clash), without copying the post.
pub fn post_path_with_slug(post: &Post, slug: &str) -> String {
    format!("_{}/{}-{}.md", post.collection, date::day(&post.date), slug)
}

/// The permalink pattern with `{collection}`, `{date}` and `{slug}` filled in (one pass, so a
/// slug containing `{date}` is not expanded again).
pub fn permalink(post: &Post, pattern: &str) -> String {
    let day = date::day(&post.date);
    let mut out = String::with_capacity(pattern.len() + post.slug.len() + 32);
    let mut rest = pattern;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        let (value, len) = [
            ("{collection}", post.collection.as_str()),
            ("{date}", day.as_str()),
            ("{slug}", post.slug.as_str()),
        ]
        .iter()
        .find(|(p, _)| after.starts_with(p))
        .map(|(p, v)| (*v, p.len()))
        .unwrap_or(("{", 1));
        out.push_str(value);
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

fn nonempty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// Stable identity: the guid/id, else the link, else the sha256 (hex) of feed URL + title +
/// date, with the first enclosure URL after them when there is one, and, for an entry with
/// none of these (RSS 0.92 items may have only a description), its content. Never a random
/// value, so a re-poll finds the same key, and two link-less podcast episodes or untitled
/// items of one feed do not share one. (Entries without id and link had no canonical URL
/// before rules version 4 and were never stored, so no stored key changes.)
pub fn entry_key(feed: &FeedConfig, entry: &ParsedEntry) -> String {
    if let Some(id) = nonempty(entry.id.as_deref()) {
        return id.to_string();
    }
    if let Some(link) = nonempty(entry.link.as_deref()) {
        return link.to_string();
    }
    let date = entry
        .published
        .or(entry.updated)
        .map(|d| d.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default();
    let title = entry.title.as_deref().unwrap_or_default();
    let mut input = format!("{}\n{title}\n{date}", feed.url);
    if let Some(enclosure) = nonempty(entry.enclosure.as_deref()) {
        input.push('\n');
        input.push_str(enclosure);
    } else if title.trim().is_empty() && date.is_empty() {
        input.push('\n');
        input.push_str(&text::source_html(entry));
    }
    hex::encode(Sha256::digest(input.as_bytes()))
}

/// Hash of everything normalization reads: the entry, the feed-level author, the feed's
/// configuration fields that reach the output, and the rules version. Same hash, same post, so
/// the pipeline can skip unchanged entries without normalizing them. Every field is
/// length-prefixed, so no two different inputs share a byte stream. This is the hash of
/// [`normalize_entry`] (no keyword tags); the pipeline uses [`entry_hash_with`].
pub fn entry_hash(feed: &FeedConfig, parsed: &ParsedFeed, entry: &ParsedEntry) -> String {
    entry_hash_with(feed, parsed, entry, None)
}

/// [`entry_hash`] that also covers the keyword tagging in effect for the feed (on/off,
/// `max_tags` and the fingerprint of the compiled taxonomy): a changed taxonomy re-tags posts on
/// the next poll.
pub fn entry_hash_with(
    feed: &FeedConfig,
    parsed: &ParsedFeed,
    entry: &ParsedEntry,
    enrich: Option<&Enrichment>,
) -> String {
    let mut h = Sha256::new();
    let mut field = |s: &str| {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    };
    // Borrowed, not cloned: the content is most of what is hashed.
    fn opt(s: &Option<String>) -> &str {
        s.as_deref().unwrap_or_default()
    }
    let date = |d: &Option<DateTime<Utc>>| {
        d.map(|d| d.to_rfc3339_opts(SecondsFormat::Secs, true))
            .unwrap_or_default()
    };
    field(&RULES_VERSION.to_string());
    field(&feed.name);
    field(&feed.url);
    field(&feed.collection);
    // Only when set, so the hashes of feeds without one stay as they were.
    if let Some(public) = &feed.public_url {
        field(public);
    }
    for list in [
        &feed.categories,
        &feed.tags,
        &entry.authors,
        &entry.categories,
    ] {
        field(&list.len().to_string());
        for item in list {
            field(item);
        }
    }
    field(&feed.effective_min_content_chars().to_string());
    field(opt(&parsed.author));
    field(opt(&entry.id));
    field(opt(&entry.link));
    field(opt(&entry.title));
    field(&date(&entry.published));
    field(&date(&entry.updated));
    field(opt(&entry.content_html));
    field(opt(&entry.summary_html));
    field(opt(&entry.content_text));
    field(opt(&entry.youtube_id));
    field(opt(&entry.enclosure));
    field(opt(&entry.media_description));
    field(opt(&parsed.link));
    field(
        &enrich
            .map(|e| e.fingerprint(&feed.url))
            .unwrap_or_else(|| "keyword-tags off".to_string()),
    );
    // The entry rules, like the taxonomy; only when the feed has some, so the hashes of feeds
    // without rules stay as they were.
    if !feed.rules.is_empty() {
        field(feed.rules.fingerprint());
    }
    hex::encode(h.finalize())
}

/// An absolute http(s) URL without userinfo, trimmed: the only kind of canonical URL.
fn http_url(s: Option<&str>) -> Option<&str> {
    let s = nonempty(s)?;
    url::Url::parse(s)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .filter(|u| u.username().is_empty() && u.password().is_none())
        .map(|_| s)
}

/// The canonical URL (post-format.md 2): the entry link unchanged, else the id when it is an
/// http(s) URL, else the first enclosure, else the feed's site link (else the feed URL) with
/// `#` and the first 12 hex digits of the entry key (its sha256 when the key is not already a
/// digest). A link that is not http(s) (`javascript:`, `file:`, `data:`) is never used. The key
/// is stable across polls and unique in the feed, so the URL is too; Miniflux also falls back
/// to the site link and the enclosure, where feedsmith used to drop the entry.
fn canonical_url(
    feed: &FeedConfig,
    parsed: &ParsedFeed,
    entry: &ParsedEntry,
    key: &str,
) -> Option<String> {
    if let Some(u) = http_url(entry.link.as_deref())
        .or_else(|| http_url(entry.id.as_deref()))
        .or_else(|| http_url(entry.enclosure.as_deref()))
    {
        return Some(u.to_string());
    }
    // The feed URL only as it may be published: its `public_url`, else redacted (a token in
    // its query must not become every link-less post's address).
    let feed_url = feed
        .public_url
        .clone()
        .unwrap_or_else(|| crate::redact::redact_url(&feed.url));
    let base = http_url(parsed.link.as_deref()).or_else(|| http_url(Some(&feed_url)))?;
    let mut url = url::Url::parse(base).ok()?;
    let digest = if key.len() >= 12 && key.bytes().all(|b| b.is_ascii_hexdigit()) {
        key[..12].to_ascii_lowercase()
    } else {
        hex::encode(Sha256::digest(key.as_bytes()))[..12].to_string()
    };
    url.set_fragment(Some(&digest));
    Some(url.to_string())
}

/// What normalization reads from an entry before it decides anything: the canonical URL, the
/// clean title, and the sanitized HTML (one tree, parsed once) with its plain-text paragraphs
/// (7.1-7.3).
struct Prepared {
    canonical_url: String,
    reddit: bool,
    title: String,
    tree: html::Tree,
    paragraphs: Vec<String>,
    /// The HTML sanitized and its base URL, for the tests that compare with the string path.
    #[cfg(test)]
    source: (String, String),
    /// Reddit's shared external link (7.2).
    external: Option<String>,
}

fn prepare(
    feed: &FeedConfig,
    parsed: &ParsedFeed,
    entry: &ParsedEntry,
    key: &str,
) -> Result<Prepared, NormalizeError> {
    let raw_title = entry.title.as_deref().unwrap_or_default();
    let canonical_url =
        canonical_url(feed, parsed, entry, key).ok_or_else(|| NormalizeError::NoCanonicalUrl {
            title: clean_title(raw_title, false),
        })?;
    let reddit = is_reddit(Some(&canonical_url));
    let title = clean_title(raw_title, reddit);

    // Content (7.1-7.3): source, Reddit clean-up, sanitize with relative URLs resolved against
    // the entry link (else the feed URL), then markdown.
    let mut html = text::source_html(entry);
    let mut external = None;
    if reddit {
        let (clean, ext) = reddit::reddit_clean(&html, &canonical_url);
        html = std::borrow::Cow::Owned(clean);
        external = ext;
    }
    // A link-less entry's relative URLs resolve against the site, not against an enclosure;
    // and without userinfo: a relative link or image resolved against `https://alice:PW@host/`
    // would publish the password (and send it from every reader's browser).
    let base = crate::redact::without_userinfo(
        http_url(entry.link.as_deref())
            .or_else(|| http_url(parsed.link.as_deref()))
            .unwrap_or(&feed.url),
    );
    let tree = html::Tree::sanitized(&html, sanitize::base_url(Some(&base)).as_ref());
    let paragraphs = tree.paragraphs(false);
    Ok(Prepared {
        canonical_url,
        reddit,
        title,
        tree,
        paragraphs,
        #[cfg(test)]
        source: (html.to_string(), base.to_string()),
        external,
    })
}

/// The keyword tagging of one entry, with the rules and scores behind it (`inspect --explain`).
/// `None` when tagging is off for the feed or the entry has no canonical URL.
pub fn explain_tags(
    feed: &FeedConfig,
    entry: &ParsedEntry,
    enrich: &Enrichment,
) -> Option<Tagging> {
    let p = prepare(feed, &ParsedFeed::default(), entry, &entry_key(feed, entry)).ok()?;
    enrich.tag(&feed.url, &p.title, &p.paragraphs.join(" "))
}

/// Normalize one entry of a parsed feed. `first_seen` is the date of an undated entry. Tags are
/// section 5's only; see [`normalize_entry_with`] for keyword tags.
pub fn normalize_entry(
    feed: &FeedConfig,
    parsed: &ParsedFeed,
    entry: &ParsedEntry,
    first_seen: DateTime<Utc>,
) -> Result<Normalized, NormalizeError> {
    normalize_entry_with(feed, parsed, entry, first_seen, None)
}

/// [`normalize_entry`] with keyword tags from `enrich` (when given and on for the feed), added to
/// section 5's inputs.
pub fn normalize_entry_with(
    feed: &FeedConfig,
    parsed: &ParsedFeed,
    entry: &ParsedEntry,
    first_seen: DateTime<Utc>,
    enrich: Option<&Enrichment>,
) -> Result<Normalized, NormalizeError> {
    let key = entry_key(feed, entry);
    let hash = entry_hash_with(feed, parsed, entry, enrich);
    normalize_entry_keyed(feed, parsed, entry, first_seen, enrich, key, hash)
}

/// [`normalize_entry_with`] for a caller that already has the entry's [`entry_key`] and
/// [`entry_hash_with`] (the pipeline computes both to skip unchanged entries).
pub fn normalize_entry_keyed(
    feed: &FeedConfig,
    parsed: &ParsedFeed,
    entry: &ParsedEntry,
    first_seen: DateTime<Utc>,
    enrich: Option<&Enrichment>,
    key: String,
    hash: String,
) -> Result<Normalized, NormalizeError> {
    normalize_entry_explained(feed, parsed, entry, first_seen, enrich, key, hash).map(|(n, _)| n)
}

/// The rule-free normalization of [`normalize_entry_keyed`], with the entry's plain text (the
/// paragraphs joined by spaces, what `min_content_chars` counts) for the rules. `min` replaces
/// the feed's effective `min_content_chars` (the rules' `min_chars`, or 0 to always get the
/// post the rules look at).
#[allow(clippy::too_many_arguments)]
fn normalize_unruled(
    feed: &FeedConfig,
    parsed: &ParsedFeed,
    entry: &ParsedEntry,
    first_seen: DateTime<Utc>,
    enrich: Option<&Enrichment>,
    key: String,
    hash: String,
    min: Option<usize>,
) -> Result<(Normalized, String), NormalizeError> {
    let raw_title = entry.title.as_deref().unwrap_or_default();
    let Prepared {
        canonical_url,
        reddit,
        title,
        tree,
        paragraphs,
        external,
        ..
    } = prepare(feed, parsed, entry, &key)?;
    let plain_len: usize = paragraphs.iter().map(|p| p.chars().count()).sum::<usize>()
        + paragraphs.len().saturating_sub(1);

    // 7.4: too short for the collection -> not published, but remembered.
    let min = min.unwrap_or_else(|| feed.effective_min_content_chars());
    if plain_len < min {
        tracing::debug!(entry = %key, plain_len, min, "entry below min_content_chars; skipped");
        return Ok((
            Normalized::Skipped(too_short(key, hash, plain_len, min, &feed.collection)),
            String::new(),
        ));
    }

    let mut content_markdown = markdown::tree_to_markdown(&tree, &paragraphs);
    if let Some(link) = external {
        if !content_markdown.is_empty() {
            content_markdown.push_str("\n\n");
        }
        content_markdown.push_str(&format!("[Link]({})", render::md_url(&link)));
    }

    // Description (whole sentences, <= 200) and excerpt (first paragraph, <= 300) of the
    // informative text: captions, link-only lines, greetings and stock sentences left out
    // (summary::informative_paragraphs); the title when there is no text at all.
    let without_captions;
    let summary_source: &[String] = if tree.has_captions() {
        without_captions = tree.paragraphs(true);
        &without_captions
    } else {
        &paragraphs
    };
    let summary_paragraphs = summary::informative_paragraphs(summary_source);
    let plain = summary_paragraphs.join(" ");
    let description = if plain.trim().is_empty() {
        title.clone()
    } else {
        summary::summarize(&plain, 200)
    };
    let excerpt = match summary_paragraphs.first() {
        Some(p) => summary::summarize(p, 300),
        None => title.clone(),
    };

    let date = date::post_date(entry.published.or(entry.updated), first_seen);
    // The plain text once: keyword tagging reads it, and the rules get it.
    let plain_text = paragraphs.join(" ");
    let keyword_tags = enrich
        .and_then(|e| e.tag(&feed.url, &title, &plain_text))
        .map(|t| t.tags())
        .unwrap_or_default();
    // A video description's hashtags are the entry's own categories (7.1).
    let hashtags = entry
        .media_description
        .as_deref()
        .map(|d| text::hashtags(d, MAX_HASHTAGS))
        .unwrap_or_default();
    let categories: std::borrow::Cow<[String]> = if hashtags.is_empty() {
        std::borrow::Cow::Borrowed(&entry.categories)
    } else {
        std::borrow::Cow::Owned([entry.categories.as_slice(), &hashtags].concat())
    };
    let (tags, tags_normalized) = build_tags_with(&categories, feed, &keyword_tags);
    let youtube = if feed.collection == "videos" {
        youtube_id(entry)
    } else {
        None
    };

    let post = Normalized::Post(Box::new(Post {
        entry_key: key,
        // The slug is made from the decoded title before tag stripping, as the slug cases do
        // (`<script>alert(1)</script> and ...` -> `scriptalert1script-and-...`).
        slug: slugify(&text::decoded_title(raw_title, reddit)),
        title,
        description,
        author: author(&entry.authors, parsed.author.as_deref(), &feed.name),
        reddit_segment: if reddit {
            reddit_segment(&canonical_url)
        } else {
            None
        },
        canonical_url,
        viewing_mode: viewing_mode(&feed.collection).to_string(),
        feed_name: feed.name.clone(),
        // Never the secret: the feed's `public_url`, else the redacted URL (src/redact.rs).
        feed_url: feed
            .public_url
            .clone()
            .unwrap_or_else(|| crate::redact::redact_url(&feed.url)),
        collection: feed.collection.clone(),
        date,
        categories: feed.categories.clone(),
        tags,
        tags_normalized,
        excerpt,
        content_markdown,
        youtube_id: youtube,
        content_hash: hash,
    }));
    Ok((post, plain_text))
}

/// 7.4: an entry too short for its collection (or for a rule's `min_chars`).
fn too_short(
    key: String,
    hash: String,
    plain_len: usize,
    min: usize,
    collection: &str,
) -> SkippedEntry {
    SkippedEntry {
        entry_key: key,
        content_hash: hash,
        reason: format!(
            "content has {plain_len} characters of text, below the {min} required in {collection}"
        ),
    }
}

/// The per-entry content stages on their own, for `benches/pipeline.rs` (not an API).
#[doc(hidden)]
pub mod stages {
    /// The one-tree path: parse and sanitize once, then the markdown, the paragraphs and
    /// (with captions) the summary paragraphs from the tree. Returns the total length.
    pub fn one_tree(html: &str, base: &str) -> usize {
        let tree =
            super::html::Tree::sanitized(html, super::sanitize::base_url(Some(base)).as_ref());
        let paragraphs = tree.paragraphs(false);
        let md = super::markdown::tree_to_markdown(&tree, &paragraphs);
        let summary = if tree.has_captions() {
            tree.paragraphs(true).len()
        } else {
            0
        };
        md.len() + paragraphs.len() + summary
    }

    /// The string path's reading of sanitized HTML (ammonia's output): the markdown (the
    /// converter's string reader), the paragraphs and the summary paragraphs, each read from
    /// the string again. Returns the total length.
    pub fn string_path_text(safe: &str) -> usize {
        let paragraphs = super::text::html_paragraphs(safe);
        let md = super::markdown::html_to_markdown(safe);
        let summary = match super::text::without_captions(safe) {
            std::borrow::Cow::Borrowed(_) => 0,
            std::borrow::Cow::Owned(h) => super::text::html_paragraphs(&h).len(),
        };
        md.len() + paragraphs.len() + summary
    }
}
