//! Full article content: fetch an entry's linked page and extract its main text, for feeds that
//! carry only a teaser (the original pipeline did this for every entry; Miniflux and FreshRSS
//! offer it as an option).
//!
//! It never slows polling. A poll uses what the cache already holds (an article is fetched once,
//! by URL) and hands the rest to the [`ArticleService`], which runs after the poll is stored,
//! with its own concurrency limit, a per-host interval between requests, the feed fetcher's
//! rules (timeouts, size cap, redirects, User-Agent, `Retry-After`) and a smaller body cap. When
//! an article arrives the entry is normalized again with it and the post is updated, or
//! published if it was held back as too short. Failures are stored with a retry time
//! (exponential backoff) so a broken page is not fetched on every poll.
//!
//! Reddit comments pages are read through their JSON form ([`reddit`]): the self text and the
//! shared link as data, and removed or deleted posts are not published.
//!
//! The files: `settings.rs` (`[articles]`), `plain.rs` (how much text an entry has, for
//! `when_short`), `service.rs` (the background queue: jobs, hosts, retries, the store),
//! `page.rs` (one linked page fetched and extracted, shared with `inspect --full-content`) and
//! `metrics.rs` (its counters and `/metrics` lines); [`extract`] and [`reddit`] read the pages.

pub mod extract;
pub mod reddit;

mod metrics;
mod page;
mod plain;
mod service;
mod settings;

pub use extract::Extractor;
pub use metrics::Stats;
pub use page::{fetch_article, ArticleError, Extracted};
pub use plain::{own_len, plain_len, SHORT_CHARS};
pub use service::{ArticleJob, ArticleService, Finish, Outcome};
pub use settings::{http_settings, ArticleSettings};

/// Per feed `full_content` (plain data, so it lives in [`crate::domain`] with the feed's
/// configuration).
pub use crate::domain::FullContent;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse() {
        assert_eq!(
            FullContent::parse("when_short"),
            Some(FullContent::WhenShort)
        );
        assert_eq!(FullContent::parse("always"), Some(FullContent::Always));
        assert_eq!(FullContent::parse("never"), Some(FullContent::Never));
        assert_eq!(FullContent::parse("sometimes"), None);
    }
}
