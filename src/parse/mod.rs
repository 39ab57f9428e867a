//! Parsing: feed document bytes -> [`ParsedFeed`], for RSS 0.9x/1.0/2.0, Atom 0.3/1.0 and JSON
//! Feed 1.0/1.1, tolerant of what real feeds get wrong.
//!
//! The strict path is feed-rs on UTF-8 text (`decode` settles the encoding first, so the XML
//! parser never sees a BOM, UTF-16 or a lying `encoding=`). Only when that fails, or finds no
//! entries in a document that visibly has some, the text goes through `repair` (one small named
//! function per real-world breakage) and is parsed again: the happy path pays nothing for the
//! tolerance. feed-rs (and quick-xml under it) can panic on hostile bytes; every call is isolated
//! with `catch_unwind` and a panic becomes this feed's error, never the process's.
//!
//! Work is bounded: every repair is linear in the document, DTDs (where entity bombs live) are
//! dropped rather than expanded, and HTML entities are translated one at a time. `convert` maps
//! feed-rs's model onto the domain; `discover` recognises HTML pages and their feed links.

mod convert;
mod decode;
mod discover;
mod repair;

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::domain::ParsedFeed;

pub use decode::to_utf8;
pub use discover::{discover_feed_links, looks_like_html};

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("the document is empty (the server returned no content); check the feed URL")]
    Empty,
    #[error("the document is {what}, not a feed{}", not_a_feed_advice(what))]
    NotAFeed { what: String },
    #[error("the document looks like a feed but cannot be read even after repairs ({detail}); the publisher must fix it")]
    Malformed { detail: String },
    #[error(
        "the feed parser crashed on this document ({detail}); this poll of the feed is skipped"
    )]
    Panicked { detail: String },
}

fn parser(base_url: Option<&str>) -> feed_rs::parser::Parser {
    feed_rs::parser::Builder::new()
        .base_uri(base_url)
        // No invented ids: an entry without one gets an empty id, mapped to None, so identity
        // falls back to the link (never to a random UUID that changes on every poll).
        .id_generator(|_, _, _| String::new())
        .build()
}

thread_local! {
    /// Set while this thread runs the XML parser, whose panics are expected and contained.
    static IN_PARSER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A panic inside the parser is turned into this feed's error; the default hook would still
/// print a scary "thread panicked" message on stderr. Install, once, a hook that stays quiet
/// (a debug log line) for contained parser panics and defers to the previous hook otherwise.
fn quiet_contained_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_PARSER.with(|f| f.get()) {
                tracing::debug!("feed parser panicked (contained): {info}");
            } else {
                previous(info);
            }
        }));
    });
}

fn run_parser(bytes: &[u8], base_url: Option<&str>) -> Result<feed_rs::model::Feed, ParseError> {
    quiet_contained_panics();
    IN_PARSER.with(|f| f.set(true));
    let result = catch_unwind(AssertUnwindSafe(|| parser(base_url).parse(bytes)));
    IN_PARSER.with(|f| f.set(false));
    match result {
        Ok(Ok(feed)) => Ok(feed),
        Ok(Err(e)) => Err(ParseError::Malformed {
            detail: e.to_string(),
        }),
        Err(panic) => {
            let detail = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(ParseError::Panicked { detail })
        }
    }
}

/// Does the text visibly contain entries (so zero parsed entries means the parse went wrong)?
fn has_entry_elements(text: &str) -> bool {
    text.contains("<item") || text.contains("<entry")
}

/// What a non-feed document is, for the error message; `None` when it may be a broken feed.
fn classify(text: &str, bytes: &[u8], base_url: Option<&str>) -> Option<String> {
    let head: String = text
        .chars()
        .take(4096)
        .collect::<String>()
        .to_ascii_lowercase();
    if looks_like_html(bytes) || looks_like_html(head.as_bytes()) {
        let links = base_url
            .map(|b| discover_feed_links(text.as_bytes(), b))
            .unwrap_or_default();
        return Some(match links.first() {
            Some(link) => format!("an HTML page that advertises the feed {link}"),
            None => "an HTML page".into(),
        });
    }
    if head.contains("<opml") {
        return Some("an OPML subscription list".into());
    }
    let trimmed = head.trim_start();
    if trimmed.starts_with('[') {
        return Some("a JSON document that is not a JSON Feed".into());
    }
    if !text.contains('<') {
        return Some("a plain-text document, without XML markup".into());
    }
    let is_feedish = head.contains("<rss")
        || head.contains("<feed")
        || head.contains("<rdf:rdf")
        || head.contains("<channel")
        || head.contains(":rdf")
        || head.contains("<entry");
    if !is_feedish && trimmed.starts_with('<') {
        return Some(
            "an XML document without a feed root element (<rss>, <feed> or <rdf:RDF>)".into(),
        );
    }
    None
}

/// What to tell the user about a document that is not a feed.
fn not_a_feed_advice(what: &str) -> &'static str {
    if what.starts_with("an HTML page that advertises") {
        "; subscribe to the advertised feed URL instead"
    } else if what.starts_with("an HTML page") {
        " (no <link rel=\"alternate\"> feed link found); use the URL of the feed itself"
    } else if what.starts_with("an OPML") {
        "; import it with `feedsmith feeds import` instead"
    } else {
        "; check that the URL points to an RSS, Atom or JSON feed"
    }
}

fn is_blank(text: &str) -> bool {
    let mut rest = text.trim();
    // A document of only a prolog and comments is empty too.
    loop {
        if rest.is_empty() {
            return true;
        }
        if let Some(r) = rest.strip_prefix("<?") {
            match r.find("?>") {
                Some(e) => rest = r[e + 2..].trim_start(),
                None => return false,
            }
        } else if let Some(r) = rest.strip_prefix("<!--") {
            match r.find("-->") {
                Some(e) => rest = r[e + 3..].trim_start(),
                None => return true,
            }
        } else {
            return false;
        }
    }
}

/// JSON Feed. feed-rs deserializes strictly: an integer `id` (rss-funnel's feeds) or any other
/// field of the wrong type fails the whole document, so on failure the document is re-typed
/// through `serde_json::Value` and parsed again. feed-rs folds `content_text` into the summary
/// when `content_html` is present, so the three bodies are taken from the JSON itself.
fn parse_json(bytes: &[u8], base_url: Option<&str>) -> Result<ParsedFeed, ParseError> {
    let base = base_url.and_then(|b| url::Url::parse(b).ok());
    let mut value: Result<serde_json::Value, _> = serde_json::from_slice(bytes);
    let feed = match run_parser(bytes, base_url) {
        Ok(feed) => feed,
        Err(ParseError::Panicked { detail }) => return Err(ParseError::Panicked { detail }),
        Err(_) => {
            let original = value.as_ref().map_err(|e| ParseError::Malformed {
                detail: format!("the JSON is invalid: {e}"),
            })?;
            let fixed = retype_json_feed(original)?;
            let bytes = serde_json::to_vec(&fixed).map_err(|e| ParseError::Malformed {
                detail: e.to_string(),
            })?;
            let feed = run_parser(&bytes, base_url)?;
            // The bodies below are read from what feed-rs parsed (field names may be mapped).
            value = Ok(fixed);
            feed
        }
    };
    let mut parsed = convert::feed(feed, base.as_ref(), "");
    if let Some(items) = value
        .as_ref()
        .ok()
        .and_then(|v| v.get("items"))
        .and_then(|i| i.as_array())
    {
        let items: Vec<&serde_json::Value> = items.iter().filter(|i| i.is_object()).collect();
        if items.len() == parsed.entries.len() {
            for (entry, item) in parsed.entries.iter_mut().zip(items) {
                let text = |k: &str| {
                    item.get(k)
                        .and_then(|v| v.as_str())
                        .map(str::to_string)
                        .filter(|s| !s.trim().is_empty())
                };
                entry.content_html = text("content_html");
                entry.content_text = text("content_text");
                entry.summary_html = text("summary").map(|s| {
                    // JSON Feed summaries are plain text.
                    if s.contains('<') {
                        s
                    } else {
                        html_escape::encode_text(&s).into_owned()
                    }
                });
            }
        }
    }
    Ok(parsed)
}

/// A JSON Feed whose values have the wrong JSON types, re-typed so feed-rs accepts it: ids and
/// other scalars that should be strings are stringified, `tags` given as one string becomes a
/// list, an `author` given as a string becomes `{"name": ...}`, malformed lists are dropped.
/// A JSON document that is not a JSON Feed at all is mapped by [`coerce_json_feed`] or rejected.
fn retype_json_feed(value: &serde_json::Value) -> Result<serde_json::Value, ParseError> {
    use serde_json::Value;
    let is_json_feed = value
        .get("version")
        .and_then(|v| v.as_str())
        .is_some_and(|v| v.contains("jsonfeed.org"));
    let mut value = if is_json_feed {
        value.clone()
    } else {
        coerce_json_feed(value).ok_or_else(|| ParseError::NotAFeed {
            what: "a JSON document that is not a JSON Feed (no \"version\": \"https://jsonfeed.org/version/1.1\" and no \"items\" list)".into(),
        })?
    };
    let Some(obj) = value.as_object_mut() else {
        return Err(ParseError::NotAFeed {
            what: "a JSON document that is not a JSON Feed (its top level is not an object)".into(),
        });
    };
    fn retype_strings(obj: &mut serde_json::Map<String, Value>, keys: &[&str]) {
        for key in keys {
            match obj.get(*key) {
                Some(Value::Number(n)) => {
                    let s = n.to_string();
                    obj.insert((*key).to_string(), Value::String(s));
                }
                Some(Value::Bool(b)) => {
                    let s = b.to_string();
                    obj.insert((*key).to_string(), Value::String(s));
                }
                Some(Value::String(_)) | None => {}
                Some(_) => {
                    obj.remove(*key);
                }
            }
        }
    }
    fn retype_people(obj: &mut serde_json::Map<String, Value>) {
        if let Some(Value::String(name)) = obj.get("author") {
            let name = name.clone();
            obj.insert("author".into(), serde_json::json!({ "name": name }));
        } else if obj.get("author").is_some_and(|a| !a.is_object()) {
            obj.remove("author");
        }
        if obj.get("authors").is_some_and(|a| !a.is_array()) {
            obj.remove("authors");
        }
        if let Some(Value::Array(list)) = obj.get_mut("authors") {
            list.retain(|a| a.is_object());
        }
    }
    const FEED_STRINGS: &[&str] = &[
        "title",
        "home_page_url",
        "feed_url",
        "description",
        "user_comment",
        "next_url",
        "icon",
        "favicon",
        "language",
    ];
    const ITEM_STRINGS: &[&str] = &[
        "id",
        "url",
        "external_url",
        "title",
        "content_html",
        "content_text",
        "summary",
        "image",
        "banner_image",
        "date_published",
        "date_modified",
        "language",
    ];
    retype_strings(obj, FEED_STRINGS);
    retype_people(obj);
    if obj.get("items").is_some_and(|i| !i.is_array()) {
        obj.insert("items".into(), Value::Array(Vec::new()));
    }
    if let Some(Value::Array(items)) = obj.get_mut("items") {
        items.retain(|i| i.is_object());
        for item in items.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            retype_strings(item, ITEM_STRINGS);
            retype_people(item);
            match item.get("tags") {
                Some(Value::String(t)) => {
                    let t = t.clone();
                    item.insert("tags".into(), Value::Array(vec![Value::String(t)]));
                }
                Some(Value::Array(_)) | None => {}
                Some(_) => {
                    item.remove("tags");
                }
            }
            if let Some(Value::Array(tags)) = item.get_mut("tags") {
                tags.retain(|t| t.is_string());
            }
            if item.get("attachments").is_some_and(|a| !a.is_array()) {
                item.remove("attachments");
            }
            // An attachment needs a string `url` and `mime_type`; others are dropped.
            if let Some(Value::Array(list)) = item.get_mut("attachments") {
                list.retain(|a| {
                    a.get("url").is_some_and(Value::is_string)
                        && a.get("mime_type").is_some_and(Value::is_string)
                });
                for a in list.iter_mut() {
                    if let Some(a) = a.as_object_mut() {
                        retype_strings(a, &["title"]);
                        if a.get("size_in_bytes").is_some_and(|v| !v.is_u64()) {
                            a.remove("size_in_bytes");
                        }
                        if a.get("duration_in_seconds").is_some_and(|v| !v.is_u64()) {
                            a.remove("duration_in_seconds");
                        }
                    }
                }
            }
        }
    }
    Ok(value)
}

/// A JSON document shaped like a feed but not declaring JSON Feed (an `items` array of objects
/// with a title or URL): map the usual field names onto JSON Feed 1.1.
fn coerce_json_feed(v: &serde_json::Value) -> Option<serde_json::Value> {
    use serde_json::{json, Value};
    let items = v.get("items")?.as_array()?;
    let meta = v.get("meta").unwrap_or(v);
    let pick = |o: &Value, keys: &[&str]| {
        keys.iter()
            .find_map(|k| o.get(*k).filter(|x| !x.is_null()).cloned())
    };
    let mut out_items = Vec::with_capacity(items.len());
    for item in items {
        if !item.is_object() {
            continue;
        }
        let mut o = serde_json::Map::new();
        if let Some(id) = pick(item, &["id", "guid"]) {
            o.insert(
                "id".into(),
                Value::String(
                    id.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| id.to_string()),
                ),
            );
        }
        for (to, from) in [
            ("url", &["url", "link", "href"][..]),
            ("title", &["title"][..]),
            (
                "content_html",
                &["content_html", "html", "content", "body"][..],
            ),
            ("content_text", &["content_text", "text"][..]),
            ("summary", &["summary", "description"][..]),
            (
                "date_published",
                &[
                    "date_published",
                    "published_at",
                    "published",
                    "date",
                    "pubDate",
                ][..],
            ),
            (
                "date_modified",
                &["date_modified", "updated_at", "updated", "modified"][..],
            ),
            ("tags", &["tags", "categories"][..]),
        ] {
            if let Some(x) = pick(item, from) {
                o.insert(to.into(), x);
            }
        }
        if let Some(a) = pick(item, &["author", "authors"]) {
            let name = a
                .get("name")
                .cloned()
                .or_else(|| a.as_str().map(|s| Value::String(s.to_string())));
            if let Some(name) = name {
                o.insert("authors".into(), json!([{ "name": name }]));
            }
        }
        if !o.contains_key("id") {
            if let Some(u) = o.get("url").cloned() {
                o.insert("id".into(), u);
            }
        }
        if o.contains_key("title") || o.contains_key("url") {
            out_items.push(Value::Object(o));
        }
    }
    if out_items.is_empty() && !items.is_empty() {
        return None;
    }
    Some(json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": pick(meta, &["title", "name"]).unwrap_or(Value::String(String::new())),
        "home_page_url": pick(meta, &["home_page_url", "home", "link", "url"]),
        "items": out_items,
    }))
}

/// Parse a feed document. `content_type` is the HTTP header (for its charset), `base_url` the
/// document's URL (for relative links).
pub fn parse_feed(
    bytes: &[u8],
    content_type: Option<&str>,
    base_url: Option<&str>,
) -> Result<ParsedFeed, ParseError> {
    let first = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace() && *b != 0xEF && *b != 0xBB && *b != 0xBF);
    let Some(first) = first else {
        return Err(ParseError::Empty);
    };
    if bytes[first] == b'{' {
        return parse_json(&bytes[first..], base_url);
    }

    let (text, _encoding) = decode::to_utf8(bytes, content_type);
    if is_blank(&text) {
        return Err(ParseError::Empty);
    }
    let linked = match repair::rdf_item_links(&text) {
        std::borrow::Cow::Owned(linked) => Some(linked),
        std::borrow::Cow::Borrowed(_) => None,
    };
    let text = linked.unwrap_or(text);
    let base = base_url.and_then(|b| url::Url::parse(b).ok());

    // The strict path: most feeds end here, without paying for any repair.
    let mut strict_feed = None;
    let strict_error = match run_parser(text.as_bytes(), base_url) {
        Ok(feed) if !(feed.entries.is_empty() && has_entry_elements(&text)) => {
            return Ok(convert::feed(feed, base.as_ref(), &text));
        }
        Ok(feed) => {
            strict_feed = Some(feed);
            ParseError::Malformed {
                detail: "no entries could be read".into(),
            }
        }
        Err(ParseError::Panicked { detail }) => {
            tracing::warn!(%detail, "feed parser panicked; retrying on the repaired document");
            ParseError::Panicked { detail }
        }
        Err(e) => e,
    };

    if strict_feed.is_none() {
        if let Some(what) = classify(&text, bytes, base_url) {
            // An Atom feed wrapped in an XHTML page is still a feed; anything else HTML-like is not.
            let wrapped_atom = what.starts_with("an HTML page")
                && text.contains("<feed")
                && text.contains("</feed>");
            if !wrapped_atom {
                return Err(ParseError::NotAFeed { what });
            }
        }
    }

    let repaired = repair::repair(&text);
    let strict_detail = detail_of(strict_error);
    // Truncated before the root element closed and nothing readable in it: hopeless, not empty.
    let truncated = !text.trim_end().ends_with('>')
        || !(text.contains("</rss>") || text.contains("</feed>") || text.contains("</rdf:RDF>"));
    match run_parser(repaired.as_bytes(), base_url) {
        Ok(feed) if !feed.entries.is_empty() => {
            let mut parsed = convert::feed(feed, base.as_ref(), &repaired);
            if truncated {
                // The complete entries before the cut are read; say so (`inspect` prints it).
                tracing::warn!(
                    entries = parsed.entries.len(),
                    "feed document repaired: truncated (it ends before its root element closes); the complete entries before the cut are kept"
                );
                parsed.repairs.push("truncated".into());
            }
            Ok(parsed)
        }
        // The strict parse read the document and the repairs found nothing more: it is a feed
        // without entries after all (`<item` was text, in a CDATA section or a comment).
        _ if strict_feed.is_some() => match strict_feed {
            Some(feed) => Ok(convert::feed(feed, base.as_ref(), &text)),
            None => Err(ParseError::Malformed {
                detail: strict_detail,
            }),
        },
        Ok(_) if truncated => Err(ParseError::Malformed {
            detail: format!(
                "the document is truncated and has no readable entries ({strict_detail})"
            ),
        }),
        Ok(feed) if !has_entry_elements(&repaired) => {
            Ok(convert::feed(feed, base.as_ref(), &repaired))
        }
        Ok(_) => Err(ParseError::Malformed {
            detail: format!("it has entries but none could be read ({strict_detail})"),
        }),
        Err(ParseError::Panicked { detail }) => Err(ParseError::Panicked { detail }),
        Err(_) => Err(ParseError::Malformed {
            detail: strict_detail,
        }),
    }
}

/// The message of an error, without the variant's user-facing prefix (for nesting).
fn detail_of(e: ParseError) -> String {
    match e {
        ParseError::Malformed { detail } | ParseError::Panicked { detail } => detail,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
