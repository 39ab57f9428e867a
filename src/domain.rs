//! Plain data shared by every stage of the data flow: what a feed is configured as, what the
//! parser found in a document, and the post that normalization makes of an entry.
//!
//! Nothing here does I/O; the types are the contract between `parse`, `normalize`, `store` and
//! `publish`, so each stage can be tested on its own.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Per feed `full_content`: when the linked page is fetched for the post's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FullContent {
    Never,
    /// When the entry's own text is under the feed's `min_content_chars` or under
    /// `article::SHORT_CHARS` characters.
    #[default]
    WhenShort,
    Always,
}

impl FullContent {
    pub fn parse(s: &str) -> Option<FullContent> {
        match s {
            "never" => Some(FullContent::Never),
            "when_short" => Some(FullContent::WhenShort),
            "always" => Some(FullContent::Always),
            _ => None,
        }
    }
}

/// One `[[feeds]]` table of the configuration, validated. The URL identifies the feed; names may
/// repeat (the original pipeline published several URLs under one `feed_name`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedConfig {
    pub name: String,
    pub url: String,
    pub collection: String,
    pub categories: Vec<String>,
    pub tags: Vec<String>,
    pub schedule: Option<String>,
    pub enabled: bool,
    /// Keep only the newest N entries of each poll.
    pub max_items: Option<usize>,
    /// Entries whose plain-text content is shorter are not published (post-format.md 7.4).
    /// `None` means the default of the collection (1000 for `community`, 0 otherwise).
    pub min_content_chars: Option<usize>,
    /// When to fetch the linked page for the full article (`None`: `[articles].full_content`).
    #[serde(default)]
    pub full_content: Option<FullContent>,
    /// CSS selector of the article body on the linked page, instead of readability.
    #[serde(default)]
    pub content_selector: Option<String>,
    /// The URL published as the posts' `feed_url` instead of the (redacted) fetch URL: for a
    /// feed whose URL carries a token (docs/security.md).
    #[serde(default)]
    pub public_url: Option<String>,
    /// The entry rules for this feed, compiled: its `[[feeds.rules]]` first, then the global
    /// `[[rules]]`, and its `keep_only` (src/rules). Not serialized: a changed rule re-tags
    /// posts through the entry hash, it does not make the feed "changed" (`config_hash`).
    #[serde(skip)]
    pub rules: crate::rules::FeedRules,
}

impl FeedConfig {
    /// A feed with the defaults of the configuration file, for tests and `inspect`.
    pub fn new(
        name: impl Into<String>,
        url: impl Into<String>,
        collection: impl Into<String>,
    ) -> Self {
        FeedConfig {
            name: name.into(),
            url: url.into(),
            collection: collection.into(),
            categories: Vec::new(),
            tags: Vec::new(),
            schedule: None,
            enabled: true,
            max_items: None,
            min_content_chars: None,
            full_content: None,
            content_selector: None,
            public_url: None,
            rules: crate::rules::FeedRules::default(),
        }
    }

    /// The effective minimum plain-text length of a published entry (post-format.md 7.4).
    pub fn effective_min_content_chars(&self) -> usize {
        self.min_content_chars
            .unwrap_or(if self.collection == "community" {
                1000
            } else {
                0
            })
    }
}

/// What the parser extracted from one feed document, independent of its format. Serializable
/// so a queued article job can keep its entry and feed in the store (`article_jobs`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ParsedFeed {
    /// `rss2`, `rss1`, `atom` or `json`: for logs and `inspect`.
    pub format: String,
    pub title: Option<String>,
    /// The feed-level author (first name), used when an entry has none.
    pub author: Option<String>,
    /// RSS `<ttl>` in minutes.
    pub ttl_minutes: Option<u32>,
    /// RSS `<skipHours>`: hours (0-23, GMT) during which the feed asks not to be read.
    pub skip_hours: Vec<u32>,
    /// RSS `<skipDays>`: day names (`Monday` ...).
    pub skip_days: Vec<String>,
    pub entries: Vec<ParsedEntry>,
    /// The feed's site link (RSS channel `<link>`, Atom `rel="alternate"`, JSON
    /// `home_page_url`): the base of a link-less entry's canonical URL (post-format.md 2).
    pub link: Option<String>,
    /// The tolerant repairs the document needed to be read (`truncated`: cut before its end,
    /// the complete entries before the cut kept), for `inspect` and the logs.
    pub repairs: Vec<String>,
}

/// One entry as found in the document. Strings are as the source gave them (HTML still HTML,
/// entities in titles possibly still escaped for Reddit); `normalize` applies the post rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ParsedEntry {
    /// The guid / Atom id / JSON id, if the document has one. Never a parser-generated id.
    pub id: Option<String>,
    /// The entry's main link (`<link>`, Atom `rel=alternate`, JSON `url`), resolved to absolute.
    pub link: Option<String>,
    pub title: Option<String>,
    /// Author names (or RSS `email (Name)` strings) in document order.
    pub authors: Vec<String>,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    /// RSS `<category>`, Atom `category@term`, JSON `tags`.
    pub categories: Vec<String>,
    /// `content:encoded` / Atom `content` / JSON `content_html`.
    pub content_html: Option<String>,
    /// RSS `description` / Atom `summary` / JSON `summary`.
    pub summary_html: Option<String>,
    /// JSON `content_text`.
    pub content_text: Option<String>,
    /// YouTube `yt:videoId`.
    pub youtube_id: Option<String>,
    /// The first enclosure / Media RSS content URL (a podcast item's audio file): the canonical
    /// URL of an entry without a link (post-format.md 2).
    pub enclosure: Option<String>,
    /// Media RSS `media:description` (inside `media:group` too), plain text: YouTube puts a
    /// video's whole description there (post-format.md 7.1).
    pub media_description: Option<String>,
}

/// `viewing_mode` of the front matter: by collection (post-format.md section 2).
pub fn viewing_mode(collection: &str) -> &'static str {
    match collection {
        "videos" | "events" | "roundups" | "magazines" => "internal",
        _ => "external",
    }
}

/// A normalized post: every front-matter field plus the body, ready to store and to render.
///
/// `slug` is the base slug from the title; when two posts of the same collection and day share it,
/// the store gives the later one a `-2`, `-3`, ... suffix and saves the final slug.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    /// Stable identity within the feed: guid/id, else link, else a hash of feed + title + date.
    pub entry_key: String,
    pub title: String,
    pub description: String,
    pub author: String,
    pub canonical_url: String,
    pub viewing_mode: String,
    pub feed_name: String,
    pub feed_url: String,
    pub collection: String,
    /// Post date in UTC, seconds precision.
    pub date: DateTime<Utc>,
    pub slug: String,
    pub categories: Vec<String>,
    pub tags: Vec<String>,
    pub tags_normalized: Vec<String>,
    /// Plain-text excerpt written before `<!--excerpt_end-->`.
    pub excerpt: String,
    /// The content converted to markdown (sanitized), without the title/author block and footer.
    pub content_markdown: String,
    /// YouTube video id for the `videos` collection layout.
    pub youtube_id: Option<String>,
    /// For Reddit posts in `community`: the `/comments/<id>/<segment>/` title segment, used to
    /// recognise cross-posts (post-format.md 7.6).
    pub reddit_segment: Option<String>,
    /// Hash of the source entry as normalized; a re-poll with the same hash changes nothing.
    pub content_hash: String,
}

/// An entry that normalization decided not to publish; remembered so it is not re-processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedEntry {
    pub entry_key: String,
    pub content_hash: String,
    pub reason: String,
}
