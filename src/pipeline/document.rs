//! The document stage: fetched bytes become a parsed feed, on the blocking pool, following an
//! HTML page to the feed it advertises (autodiscovery). `fetch`/`run` (through [`super::poll`]),
//! `inspect` and `feeds add` all read a document here, so a URL that works in one works in all
//! three, with the same network guard on the discovered link.

use crate::domain::ParsedFeed;
use crate::fetch::{FetchResponse, Fetched, Fetcher, Trust, Validators};
use crate::parse::{self, ParseError};
use crate::redact::RedactedUrl;

/// A parsed document and where it came from.
#[derive(Debug)]
pub struct Document {
    pub parsed: ParsedFeed,
    /// The feed link an HTML page advertised, when the fetched body was such a page: the URL to
    /// poll from now on.
    pub discovered: Option<String>,
    /// Validators of the response actually parsed (the discovered feed's after autodiscovery).
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// Why a fetched body gave no feed. The messages name the URL and what to do.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("{} returned an HTML page without a feed link (<link rel=\"alternate\" type=\"application/rss+xml\">); use the feed's own URL", RedactedUrl::new(page))]
    NoFeedLink { page: String },
    /// The advertised link could not be fetched or parsed.
    #[error("autodiscovered feed {}: {detail}", RedactedUrl::new(link))]
    Discovered { link: String, detail: String },
}

/// Parse `fetched`; when it is an HTML page that advertises a feed, fetch that feed with
/// `fetcher` (the network guard applies to it unless `trust` covers its origin) and parse it.
pub async fn read(
    fetcher: &Fetcher,
    fetched: Fetched,
    trust: &Trust,
) -> Result<Document, DocumentError> {
    // Relative entry links resolve against the URL without userinfo (no credentials in posts).
    let base = crate::redact::without_userinfo(&fetched.final_url);
    // The body comes back from the parse (not copied for it): autodiscovery reads it again
    // only when it was no feed.
    let (first, body) = parse_returning(fetched.body, fetched.content_type, Some(base)).await;
    let err = match first {
        Ok(parsed) => {
            return Ok(Document {
                parsed,
                discovered: None,
                etag: fetched.etag,
                last_modified: fetched.last_modified,
            })
        }
        Err(err) => err,
    };
    let Some(body) = body.filter(|b| parse::looks_like_html(b)) else {
        return Err(err.into());
    };
    let links = parse::discover_feed_links(&body, &fetched.final_url);
    drop(body);
    let Some(link) = links.into_iter().find(|l| *l != fetched.final_url) else {
        return Err(DocumentError::NoFeedLink {
            page: fetched.final_url,
        });
    };
    tracing::info!(page = %RedactedUrl::new(&fetched.final_url), feed = %RedactedUrl::new(&link), "autodiscovered a feed link in an HTML page");
    let failed = |detail: String| DocumentError::Discovered {
        link: link.clone(),
        detail,
    };
    let doc = match fetcher.fetch(&link, &Validators::default(), trust).await {
        Ok(FetchResponse::Modified(doc)) => doc,
        Ok(FetchResponse::NotModified { .. }) => {
            return Err(failed("unexpected 304 without validators".into()))
        }
        Err(e) => return Err(failed(e.to_string())),
    };
    let parsed = parse_blocking(
        doc.body,
        doc.content_type,
        Some(crate::redact::without_userinfo(&doc.final_url)),
    )
    .await
    .map_err(|e| failed(e.to_string()))?;
    Ok(Document {
        parsed,
        discovered: Some(link),
        etag: doc.etag,
        last_modified: doc.last_modified,
    })
}

/// The document of bytes with no URL of their own (`inspect FILE`): no autodiscovery, no base
/// for relative links, no validators. On the blocking pool, as every parse.
pub async fn read_bytes(body: Vec<u8>) -> Result<Document, ParseError> {
    Ok(Document {
        parsed: parse_blocking(body, None, None).await?,
        discovered: None,
        etag: None,
        last_modified: None,
    })
}

/// [`parse_blocking`] that hands the body back (`None` if the parser's thread died).
async fn parse_returning(
    body: Vec<u8>,
    content_type: Option<String>,
    base: Option<String>,
) -> (Result<ParsedFeed, ParseError>, Option<Vec<u8>>) {
    let parsed = super::cpu_work(move || {
        let result = parse::parse_feed(&body, content_type.as_deref(), base.as_deref());
        (result, body)
    })
    .await;
    match parsed {
        Ok((result, body)) => (result, Some(body)),
        Err(join) => (
            Err(ParseError::Panicked {
                detail: join.to_string(),
            }),
            None,
        ),
    }
}

/// Parsing is CPU work (and can take tens of milliseconds on a large podcast feed): keep it off
/// the async reactor so timers and other fetches stay on time.
async fn parse_blocking(
    body: Vec<u8>,
    content_type: Option<String>,
    base: Option<String>,
) -> Result<ParsedFeed, ParseError> {
    parse_returning(body, content_type, base).await.0
}
