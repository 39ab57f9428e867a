//! Parsing: feed document bytes -> [`ParsedFeed`], for RSS 0.9x/1.0/2.0, Atom 0.3/1.0 and JSON
//! Feed 1.0/1.1, tolerant of what real feeds get wrong.
//!
//! The strict path is feed-rs on UTF-8 text ([`decode`] settles the encoding first). Only when
//! that fails, or finds no entries in a document that visibly has some, the text goes through
//! [`repair`] and is parsed again: the happy path pays nothing for the tolerance. feed-rs (and
//! quick-xml under it) can panic on hostile bytes; the call is isolated with `catch_unwind` and a
//! panic becomes this feed's error, never the process's.

mod convert;
mod decode;
mod discover;
mod repair;

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::domain::ParsedFeed;

pub use convert::skip_rules;
pub use discover::{discover_feed_links, looks_like_html};

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("the document is empty; the server returned no feed")]
    Empty,
    #[error("the document is {what}, not a feed; use the URL of the feed itself")]
    NotAFeed { what: String },
    #[error("the feed cannot be read even after repairs: {detail}")]
    Malformed { detail: String },
    #[error("the feed parser crashed on this document ({detail}); the feed is skipped")]
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

fn run_parser(bytes: &[u8], base_url: Option<&str>) -> Result<feed_rs::model::Feed, ParseError> {
    match catch_unwind(AssertUnwindSafe(|| parser(base_url).parse(bytes))) {
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

/// What a non-feed document is, for the error message.
fn classify(text: &str, bytes: &[u8]) -> Option<String> {
    let head: String = text
        .chars()
        .take(4096)
        .collect::<String>()
        .to_ascii_lowercase();
    if looks_like_html(bytes) {
        return Some("an HTML page".into());
    }
    if head.contains("<opml") {
        return Some("an OPML subscription list (import it with `feedsmith feeds import`)".into());
    }
    let is_feedish = head.contains("<rss")
        || head.contains("<feed")
        || head.contains("<rdf:rdf")
        || head.contains("<channel");
    if !is_feedish && head.trim_start().starts_with('<') {
        return Some("an XML document without a feed root (<rss>, <feed> or <rdf:RDF>)".into());
    }
    None
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

/// JSON Feed: feed-rs wants string ids; some feeds use numbers. Stringify them and retry.
fn parse_json(bytes: &[u8], base_url: Option<&str>) -> Result<ParsedFeed, ParseError> {
    let base = base_url.and_then(|b| url::Url::parse(b).ok());
    let text = String::from_utf8_lossy(bytes);
    match run_parser(bytes, base_url) {
        Ok(feed) => return Ok(convert::feed(feed, base.as_ref(), &text)),
        Err(ParseError::Panicked { detail }) => return Err(ParseError::Panicked { detail }),
        Err(_) => {}
    }
    let mut value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| ParseError::Malformed {
            detail: format!("invalid JSON: {e}"),
        })?;
    let is_json_feed = value
        .get("version")
        .and_then(|v| v.as_str())
        .is_some_and(|v| v.contains("jsonfeed.org"));
    if !is_json_feed {
        value = coerce_json_feed(&value).ok_or_else(|| ParseError::NotAFeed {
            what: "a JSON document that is not a JSON Feed (no \"version\": \"https://jsonfeed.org/version/1.x\" and no \"items\" list)".into(),
        })?;
    }
    if let Some(items) = value.get_mut("items").and_then(|i| i.as_array_mut()) {
        for item in items {
            if let Some(id) = item.get_mut("id") {
                if !id.is_string() {
                    *id = serde_json::Value::String(id.to_string().trim_matches('"').to_string());
                }
            }
        }
    }
    let fixed = serde_json::to_vec(&value).map_err(|e| ParseError::Malformed {
        detail: e.to_string(),
    })?;
    let feed = run_parser(&fixed, base_url)?;
    Ok(convert::feed(feed, base.as_ref(), &text))
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
    let base = base_url.and_then(|b| url::Url::parse(b).ok());

    let strict = run_parser(text.as_bytes(), base_url);
    let strict_error = match strict {
        Ok(feed) if !(feed.entries.is_empty() && has_entry_elements(&text)) => {
            return Ok(convert::feed(feed, base.as_ref(), &text));
        }
        Ok(_) => ParseError::Malformed {
            detail: "no entries could be read".into(),
        },
        Err(e) => e,
    };

    if let Some(what) = classify(&text, bytes) {
        // An Atom feed wrapped in an XHTML page is still a feed; anything else HTML-like is not.
        if !(what.starts_with("an HTML page") && text.contains("<feed") && text.contains("</feed>"))
        {
            return Err(ParseError::NotAFeed { what });
        }
    }

    let repaired = repair::repair(&text);
    // Truncated before the root element closed and nothing readable in it: hopeless, not empty.
    let truncated = !text.trim_end().ends_with('>')
        || !(text.contains("</rss>") || text.contains("</feed>") || text.contains("</rdf:RDF>"));
    match run_parser(repaired.as_bytes(), base_url) {
        Ok(feed) if feed.entries.is_empty() && truncated => Err(ParseError::Malformed {
            detail: format!(
                "the document is truncated and has no readable entries ({strict_error})"
            ),
        }),
        Ok(feed) if !(feed.entries.is_empty() && has_entry_elements(&repaired)) => {
            Ok(convert::feed(feed, base.as_ref(), &repaired))
        }
        Ok(_) => Err(ParseError::Malformed {
            detail: format!("entries are present but unreadable ({strict_error})"),
        }),
        Err(ParseError::Panicked { detail }) => Err(ParseError::Panicked { detail }),
        Err(_) => Err(match strict_error {
            ParseError::Malformed { detail } => ParseError::Malformed { detail },
            other => other,
        }),
    }
}

#[cfg(test)]
mod tests;
