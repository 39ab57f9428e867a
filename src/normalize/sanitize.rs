//! HTML sanitizing (post-format.md 7.3), with ammonia's policy on feedsmith's own tree
//! ([`super::html`]). Feed content is untrusted internet HTML;
//! what survives here is what the markdown converter sees, so the rules are strict: no active
//! content (`script`, `style`, `iframe`, `object`, `embed`, `form`...), no event-handler or
//! style attributes (ammonia's attribute allow-list), and only `http`, `https` and `mailto`
//! URLs, so `javascript:`, `vbscript:` and `data:` cannot reach a link. Relative URLs are made
//! absolute against the entry link (else the feed URL) because the post is read on another site.

/// The base URL relative URLs are resolved against: `base` when it is an absolute http(s) URL.
pub fn base_url(base: Option<&str>) -> Option<url::Url> {
    base.and_then(|b| url::Url::parse(b.trim()).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"))
}

/// Sanitize `html`, resolving relative URLs against `base` (an absolute http(s) URL; anything
/// else means relative URLs are dropped). Normalization does not go through this string: it
/// reads the sanitized tree ([`super::html::Tree`]); this is for callers that want HTML.
pub fn sanitize(html: &str, base: Option<&str>) -> String {
    super::html::sanitize_to_string(html, base_url(base).as_ref())
}

/// The ammonia `Builder` feedsmith used before the one-tree sanitizer: the reference the
/// differential tests compare it with.
#[cfg(test)]
pub fn ammonia_builder(base: Option<url::Url>) -> ammonia::Builder<'static> {
    let mut b = ammonia::Builder::default();
    b.clean_content_tags(super::html::DROP_WITH_CONTENT.iter().copied().collect());
    b.rm_tags(["input", "label", "fieldset", "legend", "option", "optgroup"]);
    b.url_schemes(["http", "https", "mailto"].into_iter().collect());
    b.link_rel(Some("noopener noreferrer nofollow"));
    b.strip_comments(true);
    match base {
        Some(u) => b.url_relative(ammonia::UrlRelative::RewriteWithBase(u)),
        None => b.url_relative(ammonia::UrlRelative::Deny),
    };
    b
}

/// What ammonia made of `html` with feedsmith's policy (the reference).
#[cfg(test)]
pub fn ammonia_sanitize(html: &str, base: Option<&str>) -> String {
    ammonia_builder(base_url(base)).clean(html).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_content_removed() {
        let html = r#"<p onclick="x()" style="color:red">Hi <a href="javascript:alert(1)">js</a> <a href="VBScript:x">vb</a> <a href="data:text/html,x">d</a><img src="x.png" onerror="x()"></p><script>evil()</script><iframe src="https://e"></iframe><style>p{}</style><object data="x"></object><embed src="x"><form action="/x"><input name="a"><button>Go</button></form><svg><script>s()</script></svg>"#;
        let out = sanitize(html, Some("https://example.org/blog/post"));
        for bad in [
            "onclick",
            "onerror",
            "style",
            "javascript",
            "vbscript",
            "VBScript",
            "data:",
            "script",
            "evil",
            "iframe",
            "p{}",
            "object",
            "embed",
            "form",
            "input",
            "button",
            "Go",
            "svg",
        ] {
            assert!(!out.contains(bad), "{bad} survived: {out}");
        }
        assert!(out.contains("Hi "), "{out}");
    }

    #[test]
    fn relative_urls_resolved() {
        let out = sanitize(
            r#"<a href="/rel">r</a><img src="img.png"><a href="//cdn.example/x">p</a>"#,
            Some("https://example.org/blog/post"),
        );
        assert!(out.contains(r#"href="https://example.org/rel""#), "{out}");
        assert!(
            out.contains(r#"src="https://example.org/blog/img.png""#),
            "{out}"
        );
        assert!(out.contains(r#"href="https://cdn.example/x""#), "{out}");
    }

    #[test]
    fn without_base_relative_urls_are_dropped() {
        let out = sanitize(r#"<a href="/rel">r</a>"#, Some("not a url"));
        assert!(!out.contains("/rel"), "{out}");
        assert!(out.contains('r'), "{out}");
    }
}
