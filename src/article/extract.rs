//! Main-content extraction from a fetched page: a readability port (`dom_smoothie`, which
//! follows Mozilla's readability.js, the extractor behind Firefox's reader view) or, when the
//! feed names one, a CSS selector (like Miniflux's scraper rules). Pure functions: the caller
//! fetches, and sanitizes the result like any feed content.

use dom_query::{Document, Matcher};
use dom_smoothie::{Config, Readability};

/// How a page's main content is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extractor {
    /// Readability scoring of the whole page.
    Readability,
    /// The elements matching a CSS selector, in document order.
    Selector(String),
    /// Reddit's JSON form of a comments page (`<url>.json`): no HTML scraping at all.
    RedditJson,
}

impl Extractor {
    /// The URL actually requested for an entry link: Reddit's JSON form for `RedditJson`.
    pub fn fetch_url(&self, link: &str) -> String {
        match self {
            Extractor::RedditJson => {
                super::reddit::json_url(link).unwrap_or_else(|| link.to_string())
            }
            _ => link.to_string(),
        }
    }

    /// Stored with the cached article: a feed whose extractor changed does not reuse it.
    pub fn key(&self) -> String {
        match self {
            Extractor::Readability => "readability".to_string(),
            Extractor::Selector(s) => format!("css:{s}"),
            Extractor::RedditJson => "reddit-json".to_string(),
        }
    }
}

/// A `content_selector` the extractor cannot use (the configuration names the feed and key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid CSS selector: {0}")]
pub struct SelectorError(String);

/// Why a page gave no usable content; the caller keeps the feed's content then. The message is
/// stored with the article record and shown by `inspect --full-content`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// The readability port refused the page before scoring it.
    #[error("{0}")]
    Unreadable(String),
    #[error("no main content found: {0}")]
    NoMainContent(String),
    #[error("no main content found: the page has no text")]
    NoText,
    #[error("the selector {0:?} matched nothing on the page")]
    NoMatch(String),
    #[error("the selector {0:?} matched only empty elements")]
    OnlyEmpty(String),
}

/// Whether `selector` is a CSS selector the extractor understands (checked when the
/// configuration is loaded, so a typo is an error naming the feed, not a silent empty post).
pub fn check_selector(selector: &str) -> Result<(), SelectorError> {
    Matcher::new(selector)
        .map(|_| ())
        .map_err(|e| SelectorError(format!("{e:?}")))
}

/// Pages larger than this many elements are not scored (readability's own default guard).
const MAX_ELEMENTS: usize = 20_000;

/// The page's main content as HTML. `url` resolves relative links.
pub fn extract(html: &str, url: &str, extractor: &Extractor) -> Result<String, ExtractError> {
    match extractor {
        Extractor::Selector(selector) => select(html, selector),
        Extractor::Readability | Extractor::RedditJson => readability(html, url),
    }
}

fn readability(html: &str, url: &str) -> Result<String, ExtractError> {
    let cfg = Config {
        max_elements_to_parse: MAX_ELEMENTS,
        ..Default::default()
    };
    let mut r = Readability::new(html, Some(url), Some(cfg))
        .map_err(|e| ExtractError::Unreadable(e.to_string()))?;
    let article = r
        .parse()
        .map_err(|e| ExtractError::NoMainContent(e.to_string()))?;
    let content = article.content.to_string();
    if super::plain_len(&content) == 0 {
        return Err(ExtractError::NoText);
    }
    Ok(content)
}

fn select(html: &str, selector: &str) -> Result<String, ExtractError> {
    let doc = Document::from(html);
    let Some(sel) = doc.try_select(selector) else {
        return Err(ExtractError::NoMatch(selector.to_string()));
    };
    // Scripts and styles inside the chosen element are chrome, not content (the sanitizer drops
    // them too; removing them here keeps the length comparison honest).
    sel.select("script, style, noscript").remove();
    let html: String = sel.iter().map(|n| n.html().to_string()).collect();
    if super::plain_len(&html) == 0 {
        return Err(ExtractError::OnlyEmpty(selector.to_string()));
    }
    Ok(html)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(article: &str) -> String {
        format!(
            "<html><head><title>T</title><script>var tracking = 1;</script></head><body>\
             <nav><ul><li><a href=\"/\">Home</a></li><li><a href=\"/about\">About</a></li></ul></nav>\
             <div class=\"ad\">Buy now! Limited offer!</div>\
             <article><h1>The title</h1>{article}</article>\
             <aside class=\"comments\"><p>First comment: nice post</p></aside>\
             <footer>Copyright 2026 Example Corp. All rights reserved.</footer></body></html>"
        )
    }

    fn long_text() -> String {
        (0..12)
            .map(|i| format!("<p>Paragraph {i} explains how the deployment pipeline builds, tests and ships every change to production without manual steps, and why that matters.</p>"))
            .collect()
    }

    #[test]
    fn readability_keeps_the_article_and_drops_the_chrome() {
        let html = page(&long_text());
        let out = extract(&html, "http://example.test/a", &Extractor::Readability).unwrap();
        assert!(out.contains("Paragraph 0 explains"), "{out}");
        assert!(out.contains("Paragraph 11 explains"), "{out}");
        assert!(!out.contains("Buy now"), "{out}");
        assert!(!out.contains("var tracking"), "{out}");
        assert!(!out.contains("Copyright 2026"), "{out}");
    }

    #[test]
    fn a_selector_takes_exactly_the_matching_elements() {
        let html =
            page("<div class=\"body\"><p>Only this.</p><script>x()</script></div><p>Not this.</p>");
        let sel = Extractor::Selector("article .body".into());
        let out = extract(&html, "http://example.test/a", &sel).unwrap();
        assert!(out.contains("Only this."), "{out}");
        assert!(!out.contains("Not this."), "{out}");
        assert!(!out.contains("x()"), "{out}");
    }

    #[test]
    fn a_selector_that_matches_nothing_is_an_error() {
        let err = extract(
            "<p>x</p>",
            "http://e/",
            &Extractor::Selector(".missing".into()),
        )
        .unwrap_err();
        assert_eq!(err, ExtractError::NoMatch(".missing".into()));
        assert_eq!(
            err.to_string(),
            "the selector \".missing\" matched nothing on the page"
        );
    }

    #[test]
    fn invalid_selectors_are_rejected_up_front() {
        assert!(check_selector("article .post-body").is_ok());
        assert!(check_selector("div[").is_err());
        assert!(check_selector("").is_err());
    }

    #[test]
    fn a_page_without_text_is_an_error_not_an_empty_article() {
        assert!(extract(
            "<html><body><img src=x></body></html>",
            "http://e/",
            &Extractor::Readability
        )
        .is_err());
    }
}
