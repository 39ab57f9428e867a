//! Output formats shared by the CLI and the HTTP API: the post as JSON, its markdown as HTML
//! (`/feed.xml`) and XML escaping (Atom, OPML).

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

/// A post's markdown as HTML, for `/feed.xml`'s `<content type="html">`: feed readers show HTML,
/// and markdown sent as text showed its syntax (`**`, `[x](u)`, `|---|`) to the reader.
/// pulldown-cmark (CommonMark with tables and strikethrough, what the converter writes), then
/// the same sanitizing as feed content: the markdown is feedsmith's own, but it carries text
/// from the internet, so the HTML is held to the same rules as any other.
pub fn content_html(markdown: &str) -> String {
    use pulldown_cmark::{html, Options, Parser};
    let parser = Parser::new_ext(
        markdown,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
    );
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, parser);
    crate::normalize::sanitize(&out, None)
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
    fn markdown_becomes_safe_html() {
        let html = super::content_html(
            "Hello **world**, [a link](https://e.org/x) and ![i](https://e.org/i.png)\n\n* one\n* two\n\n| A |\n|---|\n| b |\n\n\\<script> text &lt;b> [x](javascript:alert(1))",
        );
        for want in [
            "<strong>world</strong>",
            "<a href=\"https://e.org/x\" rel=\"noopener noreferrer nofollow\">a link</a>",
            "<img src=\"https://e.org/i.png\" alt=\"i\">",
            "<li>one</li>",
            "<td>b</td>",
            "&lt;script&gt; text &lt;b&gt;",
        ] {
            assert!(html.contains(want), "{want} in {html}");
        }
        assert!(
            !html.contains("javascript") && !html.contains("<script"),
            "{html}"
        );
    }

    #[test]
    fn xml_escaping() {
        assert_eq!(
            super::xml_escape("a&b<c>\"d'\u{1}\u{FFFF}"),
            "a&amp;b&lt;c&gt;&quot;d&apos;"
        );
    }
}
