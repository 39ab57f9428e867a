//! Entry content: choose the source HTML, apply the Reddit clean-ups, resolve relative URLs and
//! sanitize (post-format.md section 7).

use std::collections::HashSet;
use std::sync::OnceLock;

use crate::domain::ParsedEntry;

/// Source HTML by preference: full content, else the summary, else JSON `content_text`
/// (escaped, so text is never read as markup).
pub fn source_html(entry: &ParsedEntry) -> String {
    let nonempty = |s: &Option<String>| {
        s.as_deref()
            .filter(|t| !t.trim().is_empty())
            .map(str::to_string)
    };
    nonempty(&entry.content_html)
        .or_else(|| nonempty(&entry.summary_html))
        .or_else(|| {
            nonempty(&entry.content_text).map(|t| {
                t.split("\n\n")
                    .map(|p| format!("<p>{}</p>", html_escape::encode_text(p.trim())))
                    .collect::<String>()
            })
        })
        .unwrap_or_default()
}

/// True for `reddit.com` and any `*.reddit.com` host.
pub fn is_reddit(link: Option<&str>) -> bool {
    link.and_then(|l| url::Url::parse(l).ok())
        .and_then(|u| u.host_str().map(|h| h.to_ascii_lowercase()))
        .is_some_and(|h| h == "reddit.com" || h.ends_with(".reddit.com"))
}

/// The `/comments/<id>/<segment>/` title segment of a Reddit URL.
pub fn reddit_segment(link: &str) -> Option<String> {
    let u = url::Url::parse(link).ok()?;
    let parts: Vec<&str> = u.path_segments()?.filter(|s| !s.is_empty()).collect();
    let i = parts.iter().position(|p| *p == "comments")?;
    parts.get(i + 2).map(|s| s.to_string())
}

/// Remove Reddit's `SC_OFF`/`SC_ON` markers and its "submitted by /u/x [link] [comments]"
/// trailer. Returns the cleaned HTML and the `[link]` target when it is an external link (not
/// the comments page).
pub fn reddit_clean(html: &str, comments_url: Option<&str>) -> (String, Option<String>) {
    let mut s = html
        .replace("<!-- SC_OFF -->", "")
        .replace("<!-- SC_ON -->", "");
    let mut external = None;
    if let Some(pos) = s.rfind("submitted by") {
        let trailer = s[pos..].to_string();
        external = link_target(&trailer).filter(|l| {
            let same =
                comments_url.is_some_and(|c| c.trim_end_matches('/') == l.trim_end_matches('/'));
            !same && (l.starts_with("http://") || l.starts_with("https://"))
        });
        let mut cut = s[..pos].trim_end().to_string();
        for tail in ["&#32;", "&amp;#32;"] {
            while cut.ends_with(tail) {
                cut.truncate(cut.len() - tail.len());
                cut = cut.trim_end().to_string();
            }
        }
        s = cut;
    }
    (s, external)
}

/// The href of the `<a ...>[link]</a>` in Reddit's trailer.
fn link_target(trailer: &str) -> Option<String> {
    let end = trailer.find(">[link]</a>")?;
    let start = trailer[..end].rfind("<a ")?;
    let tag = &trailer[start..end];
    let href = tag.split("href=\"").nth(1)?.split('"').next()?;
    Some(html_escape::decode_html_entities(href).into_owned())
}

fn sanitizer(base: Option<&url::Url>) -> ammonia::Builder<'static> {
    static BLOCKED: OnceLock<HashSet<&'static str>> = OnceLock::new();
    let mut b = ammonia::Builder::default();
    // Script-like elements are removed with their content, not unwrapped into text.
    b.clean_content_tags(
        BLOCKED
            .get_or_init(|| {
                [
                    "script", "style", "iframe", "object", "embed", "form", "noscript", "template",
                    "svg", "math",
                ]
                .into_iter()
                .collect()
            })
            .clone(),
    );
    b.rm_tags([
        "iframe", "object", "embed", "form", "input", "button", "textarea", "select",
    ]);
    b.url_schemes(["http", "https", "mailto"].into_iter().collect());
    b.link_rel(Some("noopener noreferrer nofollow"));
    match base {
        Some(u) => b.url_relative(ammonia::UrlRelative::RewriteWithBase(u.clone())),
        None => b.url_relative(ammonia::UrlRelative::Deny),
    };
    b
}

/// Sanitize HTML (no script, style, iframe, object, embed, form, event handlers or
/// `javascript:`/`vbscript:`/`data:` URLs) with relative URLs resolved against `base`.
pub fn sanitize(html: &str, base: Option<&str>) -> String {
    let base = base
        .and_then(|b| url::Url::parse(b).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"));
    sanitizer(base.as_ref()).clean(html).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_and_resolves() {
        let html = r#"<p onclick="x()">Hi <a href="/rel">rel</a> <a href="javascript:alert(1)">js</a><img src="img.png" onerror="x()"></p><script>evil()</script><iframe src="https://e"></iframe><style>p{}</style>"#;
        let out = sanitize(html, Some("https://example.org/blog/post"));
        assert!(
            !out.contains("onclick") && !out.contains("onerror") && !out.contains("javascript:"),
            "{out}"
        );
        assert!(
            !out.contains("script")
                && !out.contains("evil")
                && !out.contains("iframe")
                && !out.contains("p{}"),
            "{out}"
        );
        assert!(out.contains("href=\"https://example.org/rel\""), "{out}");
        assert!(
            out.contains("src=\"https://example.org/blog/img.png\""),
            "{out}"
        );
    }

    #[test]
    fn reddit_trailer_and_external_link() {
        let comments = "https://www.reddit.com/r/x/comments/abc/title/";
        let html = format!(
            r#"<!-- SC_OFF --><div class="md"><p>Body</p></div><!-- SC_ON --> &#32; submitted by &#32; <a href="https://www.reddit.com/user/u"> /u/u </a> <br/> <span><a href="https://example.com/article">[link]</a></span> &#32; <span><a href="{comments}">[comments]</a></span>"#
        );
        let (clean, ext) = reddit_clean(&html, Some(comments));
        assert_eq!(clean, r#"<div class="md"><p>Body</p></div>"#);
        assert_eq!(ext.as_deref(), Some("https://example.com/article"));
        let self_post = html.replace("https://example.com/article", comments);
        assert_eq!(reddit_clean(&self_post, Some(comments)).1, None);
        assert_eq!(reddit_segment(comments).as_deref(), Some("title"));
        assert!(
            is_reddit(Some("https://old.reddit.com/r/x")) && is_reddit(Some("https://reddit.com/"))
        );
        assert!(!is_reddit(Some("https://notreddit.com/")) && !is_reddit(None));
    }
}
