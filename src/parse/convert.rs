//! feed-rs's model -> the domain's `ParsedFeed`, plus what feed-rs does not expose (RSS
//! `skipHours`/`skipDays`).

use feed_rs::model::{Entry, Feed, FeedType, Link, Person};

use crate::domain::{ParsedEntry, ParsedFeed};

fn absolute(href: &str, base: Option<&url::Url>) -> String {
    let href = href.trim();
    match (url::Url::parse(href), base) {
        (Ok(u), _) => u.to_string(),
        (Err(_), Some(b)) => b
            .join(href)
            .map(|u| u.to_string())
            .unwrap_or_else(|_| href.to_string()),
        (Err(_), None) => href.to_string(),
    }
}

/// The entry's page: `rel="alternate"` (or no rel), else the first link.
fn main_link(links: &[Link]) -> Option<&Link> {
    links
        .iter()
        .find(|l| matches!(l.rel.as_deref(), None | Some("alternate")) && !l.href.trim().is_empty())
        .or_else(|| {
            links
                .iter()
                .find(|l| !l.href.trim().is_empty() && l.rel.as_deref() != Some("self"))
        })
}

/// An absolute http(s) URL, or nothing: a `javascript:`, `file:` or `data:` link is never a
/// post's URL (post-format.md 2).
fn http_url(href: &str, base: Option<&url::Url>) -> Option<String> {
    let u = absolute(href, base);
    url::Url::parse(&u)
        .ok()
        .filter(|p| matches!(p.scheme(), "http" | "https"))
        .map(|_| u)
}

fn is_plain(mime: &str) -> bool {
    mime.starts_with("text/plain")
}

fn entry(e: Entry, base: Option<&url::Url>) -> ParsedEntry {
    let id = Some(e.id.trim().to_string()).filter(|s| !s.is_empty());
    let link = main_link(&e.links).map(|l| absolute(&l.href, base));
    let (content_html, content_text) = match e.content {
        Some(c) => match c.body {
            Some(body) if is_plain(c.content_type.as_ref()) => (None, Some(body)),
            Some(body) => (Some(body), None),
            None => (None, None),
        },
        None => (None, None),
    };
    let summary_html = e.summary.map(|t| {
        if is_plain(t.content_type.as_ref()) && !t.content.contains('<') {
            html_escape::encode_text(&t.content).into_owned()
        } else {
            t.content
        }
    });
    // YouTube's Atom ids are `yt:video:<id>`, the same value as `<yt:videoId>` (which feed-rs
    // does not expose); `feed` fills the gap from the document when the id has another shape.
    // The first enclosure (RSS `<enclosure>` and Media RSS content, which feed-rs both gives
    // as media objects) and the first `media:description`.
    let enclosure = e
        .media
        .iter()
        .flat_map(|m| &m.content)
        .filter_map(|c| c.url.as_ref())
        .find_map(|u| http_url(u.as_str(), base));
    let media_description = e
        .media
        .iter()
        .filter_map(|m| m.description.as_ref())
        .map(|d| d.content.clone())
        .find(|d| !d.trim().is_empty());
    let youtube_id = id
        .as_deref()
        .and_then(|i| i.strip_prefix("yt:video:"))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty());
    ParsedEntry {
        link,
        title: e.title.map(|t| unwrap_xhtml_div(t.content)),
        authors: e.authors.into_iter().filter_map(person).collect(),
        published: e.published,
        updated: e.updated,
        categories: e
            .categories
            .into_iter()
            .map(|c| {
                if c.term.trim().is_empty() {
                    c.label.unwrap_or_default()
                } else {
                    c.term
                }
            })
            .filter(|c| !c.trim().is_empty())
            .collect(),
        content_html,
        summary_html,
        content_text,
        youtube_id,
        enclosure,
        media_description,
        id,
    }
}

pub fn feed(f: Feed, base: Option<&url::Url>, text: &str) -> ParsedFeed {
    let format = match f.feed_type {
        FeedType::Atom => "atom",
        FeedType::JSON => "json",
        FeedType::RSS0 | FeedType::RSS2 => "rss2",
        FeedType::RSS1 => "rss1",
    };
    let (skip_hours, skip_days) = if format == "rss2" {
        skip_rules(text)
    } else {
        (Vec::new(), Vec::new())
    };
    // The feed's author; RSS has none, so its `<managingEditor>` (a contributor to feed-rs) stands in.
    let author = f.authors.into_iter().find_map(person).or_else(|| {
        f.contributors
            .into_iter()
            .filter(|p| p.name == "managingEditor")
            .find_map(person)
    });
    let mut entries: Vec<ParsedEntry> = f.entries.into_iter().map(|e| entry(e, base)).collect();
    if format == "atom" && entries.iter().any(|e| e.youtube_id.is_none()) {
        let ids = yt_video_ids(text);
        // Only when every entry was found in the text: a miscount would attach ids to the wrong entries.
        if ids.len() == entries.len() {
            for (e, id) in entries.iter_mut().zip(ids) {
                if e.youtube_id.is_none() {
                    e.youtube_id = id;
                }
            }
        }
    }
    let link = main_link(&f.links).and_then(|l| http_url(&l.href, base));
    ParsedFeed {
        link,
        repairs: Vec::new(),
        format: format.to_string(),
        title: f.title.map(|t| unwrap_xhtml_div(t.content)),
        author,
        ttl_minutes: f.ttl,
        skip_hours,
        skip_days,
        entries,
    }
}

/// A person's display string. feed-rs names the person of an RSS `<author>` / `<managingEditor>`
/// after the element and keeps the raw text (`email (Name)`) as the email: the raw text is what
/// the domain wants (normalize splits it). Atom authors with an empty `<name>` come back as
/// "unknown" (Google Alerts does this): no author rather than a fake one.
fn person(p: Person) -> Option<String> {
    let name = p.name.trim();
    let placeholder = matches!(
        name,
        "" | "unknown" | "author" | "managingEditor" | "webMaster"
    );
    let value = match p.email {
        Some(raw) if placeholder => raw.trim().to_string(),
        _ if name == "unknown" => String::new(),
        _ => name.to_string(),
    };
    Some(value).filter(|v| !v.is_empty())
}

/// Atom `type="xhtml"` text arrives wrapped in its mandatory `<div xmlns="...xhtml">`; for a title
/// the wrapper is markup, not text (Zed Shaw's feed title). Content keeps it (it is valid HTML).
fn unwrap_xhtml_div(s: String) -> String {
    let t = s.trim();
    if !(t.starts_with("<div") && t.ends_with("</div>") && t.contains("xhtml")) {
        return s;
    }
    match t.find('>') {
        Some(open) if open < t.len() - "</div>".len() => {
            t[open + 1..t.len() - "</div>".len()].trim().to_string()
        }
        _ => s,
    }
}

/// The `<yt:videoId>` of each `<entry>` of the document, in document order (feed-rs drops this
/// extension element). One linear pass.
fn yt_video_ids(text: &str) -> Vec<Option<String>> {
    const OPEN: &str = "<yt:videoId>";
    const CLOSE: &str = "</yt:videoId>";
    let mut out = Vec::new();
    for part in text.split("<entry").skip(1) {
        // `<entry` must be the whole element name (not `<entryfoo`).
        if !part.starts_with(|c: char| c == '>' || c.is_whitespace()) {
            continue;
        }
        let id = part.find(OPEN).and_then(|s| {
            let rest = &part[s + OPEN.len()..];
            rest.find(CLOSE).map(|e| rest[..e].trim().to_string())
        });
        out.push(id.filter(|v| !v.is_empty()));
    }
    out
}

/// The contents of every `<tag>...</tag>` inside the first `<block>...</block>`.
fn values_in(text: &str, block: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{block}>"), format!("</{block}>"));
    let Some(s) = text.find(&open) else {
        return Vec::new();
    };
    let Some(e) = text[s..].find(&close) else {
        return Vec::new();
    };
    let inner = &text[s + open.len()..s + e];
    let (topen, tclose) = (format!("<{tag}>"), format!("</{tag}>"));
    inner
        .split(&topen)
        .skip(1)
        .filter_map(|part| part.split(&tclose).next())
        .map(|v| v.trim().to_string())
        .collect()
}

/// RSS `<skipHours><hour>N</hour>...` and `<skipDays><day>Monday</day>...`.
pub fn skip_rules(text: &str) -> (Vec<u32>, Vec<String>) {
    let hours = values_in(text, "skipHours", "hour")
        .into_iter()
        .filter_map(|h| h.parse::<u32>().ok())
        .filter(|h| *h < 24)
        .collect();
    let days = values_in(text, "skipDays", "day")
        .into_iter()
        .filter(|d| !d.is_empty() && d.len() < 12)
        .collect();
    (hours, days)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(name: &str, email: Option<&str>) -> Person {
        Person {
            name: name.into(),
            uri: None,
            email: email.map(str::to_string),
        }
    }

    #[test]
    fn people() {
        let rss = who("author", Some("jane@example.org (Jane Doe)"));
        assert_eq!(person(rss).as_deref(), Some("jane@example.org (Jane Doe)"));
        assert_eq!(person(who("unknown", None)), None);
        assert_eq!(person(who("  ", None)), None);
        assert_eq!(person(who("Jane", None)).as_deref(), Some("Jane"));
    }

    #[test]
    fn xhtml_titles_and_youtube_ids() {
        assert_eq!(
            unwrap_xhtml_div("<div xmlns='http://www.w3.org/1999/xhtml'>Zed</div>".into()),
            "Zed"
        );
        assert_eq!(unwrap_xhtml_div("<b>x</b>".into()), "<b>x</b>");
        let doc = "<feed><entry><yt:videoId>abc</yt:videoId></entry><entry></entry></feed>";
        assert_eq!(yt_video_ids(doc), [Some("abc".to_string()), None]);
    }

    #[test]
    fn non_http_links_are_not_urls() {
        for bad in [
            "javascript:alert(1)",
            "file:///etc/passwd",
            "data:text/html,x",
            "ftp://e/x",
        ] {
            assert_eq!(http_url(bad, None), None, "{bad}");
        }
        let base = url::Url::parse("https://e.org/feed/").unwrap();
        assert_eq!(
            http_url("/a", Some(&base)).as_deref(),
            Some("https://e.org/a")
        );
    }

    #[test]
    fn skip_hours_and_days() {
        let rss = "<rss><channel><skipHours><hour>1</hour><hour> 2 </hour><hour>99</hour></skipHours><skipDays><day>Sunday</day></skipDays></channel></rss>";
        assert_eq!(skip_rules(rss), (vec![1, 2], vec!["Sunday".to_string()]));
    }
}
