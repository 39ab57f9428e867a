//! Output formats shared by the CLI and the HTTP API: the post as JSON and XML escaping (Atom,
//! OPML).

use serde_json::json;

use crate::normalize::{format_date, permalink};
use crate::store::StoredPost;

/// The JSON object of a stored post (interface.md lists the required fields of `posts list --json`).
pub fn post_json(p: &StoredPost, permalink_pattern: &str) -> serde_json::Value {
    json!({
        "id": p.id,
        "feed": p.post.feed_name,
        // Redacted even for posts stored before feed_url was (src/redact.rs).
        "feed_url": crate::redact::redact_url(&p.post.feed_url),
        "collection": p.post.collection,
        "title": p.post.title,
        "canonical_url": crate::redact::without_userinfo(&p.post.canonical_url),
        // `date` keeps the front-matter form (interface.md's contract, which scripts parse);
        // `date_rfc3339` is the same instant for JSON tools that expect RFC 3339.
        "date": format_date(&p.post.date),
        "date_rfc3339": p.post.date.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "path": p.path,
        "permalink": permalink(&p.post, permalink_pattern),
        "author": p.post.author,
        "description": p.post.description,
        "tags": p.post.tags,
        "tags_normalized": p.post.tags_normalized,
        "categories": p.post.categories,
        "first_seen_at": p.first_seen_at.to_rfc3339(),
        "updated_at": p.updated_at.to_rfc3339(),
    })
}

/// Escape text for XML content and attribute values; characters XML 1.0 forbids are dropped
/// rather than producing an invalid document.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            '\u{FFFE}' | '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn xml_escaping() {
        assert_eq!(
            super::xml_escape("a&b<c>\"d'\u{1}\u{FFFF}"),
            "a&amp;b&lt;c&gt;&quot;d&apos;"
        );
    }
}
