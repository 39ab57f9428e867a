//! HTML pages: recognise them, and find the feeds they advertise (`<link rel="alternate">`).

const FEED_TYPES: &[&str] = &[
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/json",
    "application/rdf+xml",
    "text/xml",
    "application/xml",
];

/// At most this many advertised feeds are returned.
const MAX_LINKS: usize = 50;

/// True when the document starts like an HTML page rather than a feed.
pub fn looks_like_html(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(2048)]).to_ascii_lowercase();
    let t = head.trim_start_matches('\u{feff}').trim_start();
    t.starts_with("<!doctype html")
        || t.starts_with("<html")
        || (head.contains("<html")
            && !head.contains("<rss")
            && !head.contains("<feed")
            && !head.contains("<rdf:rdf"))
}

/// The value of attribute `name` in a tag's text.
fn attr(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find(name) {
        let at = from + i;
        from = at + name.len();
        let before_ok = at == 0 || lower.as_bytes()[at - 1].is_ascii_whitespace();
        let rest = lower[at + name.len()..].trim_start();
        if !before_ok || !rest.starts_with('=') {
            continue;
        }
        let offset = tag.len() - rest.len() + 1;
        let value_part = tag[offset..].trim_start();
        let value = match value_part.chars().next() {
            Some(q @ ('"' | '\'')) => value_part[1..].split(q).next().unwrap_or_default(),
            _ => value_part
                .split(|c: char| c.is_whitespace() || c == '>')
                .next()
                .unwrap_or_default(),
        };
        return Some(html_escape::decode_html_entities(value.trim()).into_owned());
    }
    None
}

/// Feed URLs advertised by `<link rel="alternate" type="...feed type..." href="...">`, resolved
/// against `base_url`, in document order, without duplicates.
pub fn discover_feed_links(html: &[u8], base_url: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(html);
    let lower = text.to_ascii_lowercase();
    let base = url::Url::parse(base_url).ok();
    let mut out: Vec<String> = Vec::new();
    let mut from = 0;
    while let Some(i) = lower[from..].find("<link") {
        let start = from + i;
        let Some(len) = lower[start..].find('>') else {
            break;
        };
        let tag = &text[start..start + len];
        from = start + len;
        let rel = attr(tag, "rel").unwrap_or_default().to_ascii_lowercase();
        let kind = attr(tag, "type").unwrap_or_default().to_ascii_lowercase();
        // The type must match exactly (parameters aside): `application/json+oembed` is no feed.
        let kind = kind.split(';').next().unwrap_or_default().trim();
        if !rel.split_whitespace().any(|r| r == "alternate") || !FEED_TYPES.contains(&kind) {
            continue;
        }
        let Some(href) = attr(tag, "href").filter(|h| !h.is_empty()) else {
            continue;
        };
        let resolved = match &base {
            Some(b) => b.join(&href).map(|u| u.to_string()).unwrap_or(href),
            None => href,
        };
        if (resolved.starts_with("http://") || resolved.starts_with("https://"))
            && !out.contains(&resolved)
        {
            out.push(resolved);
            // A page advertises a handful of feeds; a bound keeps the duplicate check cheap.
            if out.len() >= MAX_LINKS {
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_advertised_feeds() {
        let html = br#"<!DOCTYPE html><html><head>
            <link rel="stylesheet" href="/s.css">
            <link rel="alternate" type="application/rss+xml" title="RSS" href="/feed.xml">
            <LINK REL='alternate' TYPE='application/atom+xml' HREF='https://other.example/atom'>
            <link rel="alternate" type="text/html" href="/page">
            </head></html>"#;
        assert!(looks_like_html(html));
        assert_eq!(
            discover_feed_links(html, "https://example.org/blog/"),
            ["https://example.org/feed.xml", "https://other.example/atom"]
        );
        assert!(discover_feed_links(b"<html><head></head></html>", "https://e/").is_empty());
        // oEmbed and stylesheets are not feeds; JSON Feed is; entities in href are decoded.
        let html = br#"<link rel="alternate" type="application/json+oembed" href="/o">
            <link rel="alternate" type="application/feed+json" href="feed.json?a=1&amp;b=2">
            <link rel="alternate" type="application/rss+xml" href="/feed.xml">"#;
        assert_eq!(
            discover_feed_links(html, "https://example.org/blog/post"),
            [
                "https://example.org/blog/feed.json?a=1&b=2",
                "https://example.org/feed.xml"
            ]
        );
        assert!(!looks_like_html(
            b"<?xml version=\"1.0\"?><rss version=\"2.0\"></rss>"
        ));
    }
}
