//! One linked page fetched and extracted ([`fetch_article`] for `inspect --full-content`,
//! [`extract_body`] for the service): what a page gave ([`Extracted`]) and why it gave nothing
//! ([`ArticleError`]).
//!
//! Apart from the service because it needs neither the cache nor the queue: the same
//! extraction serves the background jobs and the one-off `inspect`, so they cannot differ.

use super::{extract, reddit, Extractor};
use crate::fetch::{FetchError, FetchResponse, Fetcher, Trust, Validators};
use crate::redact::RedactedUrl;

/// What a linked page gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extracted {
    /// The main content, as HTML (not yet sanitized).
    Content(String),
    /// Reddit reports the post removed or deleted, with the reason.
    Removed(String),
}

/// Why one linked page gave no article; its message is stored with the record (`error`) and
/// shown by `inspect --full-content`.
#[derive(Debug, thiserror::Error)]
pub enum ArticleError {
    #[error("{0}: unexpected 304 Not Modified")]
    NotModified(RedactedUrl),
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Reddit(#[from] reddit::RedditError),
    #[error(transparent)]
    Extract(#[from] extract::ExtractError),
    /// The blocking task that extracts panicked or was cancelled.
    #[error("extraction failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Fetch one linked page and extract it, without the cache or the queue (`inspect
/// --full-content`). The fetcher's limits apply.
pub async fn fetch_article(
    fetcher: &Fetcher,
    url: &str,
    extractor: &Extractor,
    trust: &Trust,
) -> Result<Extracted, ArticleError> {
    let fetch_url = extractor.fetch_url(url);
    let doc = match fetcher
        .fetch(&fetch_url, &Validators::default(), trust)
        .await?
    {
        FetchResponse::Modified(doc) => doc,
        FetchResponse::NotModified { .. } => {
            return Err(ArticleError::NotModified(RedactedUrl::new(&fetch_url)))
        }
    };
    let extractor = extractor.clone();
    let comments_url = url.to_string();
    tokio::task::spawn_blocking(move || {
        extract_body(
            &doc.body,
            doc.content_type.as_deref(),
            &doc.final_url,
            &comments_url,
            &extractor,
        )
    })
    .await?
}

/// The extraction of a fetched page: Reddit JSON or an HTML page, by the job's extractor.
pub(super) fn extract_body(
    body: &[u8],
    content_type: Option<&str>,
    page_url: &str,
    comments_url: &str,
    extractor: &Extractor,
) -> Result<Extracted, ArticleError> {
    if *extractor == Extractor::RedditJson {
        return match reddit::parse(body)? {
            reddit::RedditPost::Removed { reason } => Ok(Extracted::Removed(reason)),
            reddit::RedditPost::Live {
                selftext_html,
                external_url,
                author,
            } => Ok(Extracted::Content(reddit::as_feed_html(
                &selftext_html,
                external_url.as_deref(),
                author.as_deref(),
                comments_url,
            ))),
        };
    }
    let (text, _) = crate::parse::to_utf8(body, content_type);
    Ok(Extracted::Content(extract::extract(
        &text, page_url, extractor,
    )?))
}
