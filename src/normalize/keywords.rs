//! Keyword tags from a taxonomy, the settings in effect ([`Enrichment`]). Pure and compiled
//! once at load (see [`super::taxonomy`] for the file format and the scoring), so it sits in
//! normalization, which calls it; the language-model step, which does I/O, is `crate::enrich`.
//!
//! The taxonomies are read and compiled once, when the configuration is loaded (a SIGHUP reload
//! compiles them again), and shared behind an [`Arc`]: [`Enrichment`] is immutable,
//! `Send + Sync`, and does no I/O, so normalization stays pure. Its [`Enrichment::fingerprint`]
//! is part of every entry's hash, so changing the taxonomy (or `max_tags`) re-tags posts on the
//! next poll.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::taxonomy::{Tagging, Taxonomy, TaxonomyError};

/// Default of `[enrich] max_tags`.
pub const DEFAULT_MAX_TAGS: usize = 10;

/// The keyword-tagging settings in effect: on/off, the cap, the global taxonomy and per-feed
/// overrides (by feed URL).
#[derive(Debug, Clone)]
pub struct Enrichment {
    keyword_tags: bool,
    max_tags: usize,
    taxonomy: Arc<Taxonomy>,
    per_feed: BTreeMap<String, Arc<Taxonomy>>,
}

impl Enrichment {
    /// Keyword tagging with `taxonomy` for every feed except those in `per_feed` (feed URL ->
    /// taxonomy).
    pub fn new(
        keyword_tags: bool,
        max_tags: usize,
        taxonomy: Arc<Taxonomy>,
        per_feed: BTreeMap<String, Arc<Taxonomy>>,
    ) -> Enrichment {
        Enrichment {
            keyword_tags,
            max_tags,
            taxonomy,
            per_feed,
        }
    }

    /// The defaults: keyword tags on, the built-in taxonomy, 10 tags at most.
    pub fn builtin() -> Result<Enrichment, TaxonomyError> {
        Ok(Enrichment::new(
            true,
            DEFAULT_MAX_TAGS,
            Taxonomy::builtin()?,
            BTreeMap::new(),
        ))
    }

    /// No keyword tags: the spec's tags only (post-format.md section 5).
    pub fn off() -> Result<Enrichment, TaxonomyError> {
        Ok(Enrichment {
            keyword_tags: false,
            ..Enrichment::builtin()?
        })
    }

    pub fn keyword_tags(&self) -> bool {
        self.keyword_tags
    }

    pub fn max_tags(&self) -> usize {
        self.max_tags
    }

    /// The taxonomy used for the feed with this URL, `None` when keyword tagging is off.
    pub fn taxonomy_for(&self, feed_url: &str) -> Option<&Taxonomy> {
        if !self.keyword_tags {
            return None;
        }
        Some(self.per_feed.get(feed_url).unwrap_or(&self.taxonomy))
    }

    /// What the tags of the feed's posts depend on, for `entry_hash`.
    pub fn fingerprint(&self, feed_url: &str) -> String {
        match self.taxonomy_for(feed_url) {
            None => "keyword-tags off".to_string(),
            Some(t) => format!("keyword-tags {} {}", self.max_tags, t.fingerprint()),
        }
    }

    /// Keyword tags of one post (`None` when tagging is off for the feed).
    pub fn tag(&self, feed_url: &str, title: &str, body: &str) -> Option<Tagging> {
        self.taxonomy_for(feed_url)
            .map(|t| t.tag(title, body, self.max_tags))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiled once and shared between the pipeline's blocking tasks.
    #[test]
    fn enrichment_is_send_and_sync() {
        fn shared<T: Send + Sync>() {}
        shared::<Enrichment>();
        shared::<Taxonomy>();
    }

    #[test]
    fn per_feed_taxonomy_and_fingerprints() {
        let own = Arc::new(
            Taxonomy::from_toml("[tags.Feedsmith]\nterms = [\"feedsmith\"]\n", "own.toml").unwrap(),
        );
        let mut per_feed = BTreeMap::new();
        per_feed.insert("https://e/own".to_string(), own);
        let e = Enrichment::new(true, 10, Taxonomy::builtin().unwrap(), per_feed);
        let title = "feedsmith on Kubernetes";
        assert_eq!(
            e.tag("https://e/own", title, "").unwrap().tags(),
            ["Feedsmith"]
        );
        assert_eq!(
            e.tag("https://e/x", title, "").unwrap().tags(),
            ["Kubernetes"]
        );
        assert_ne!(e.fingerprint("https://e/own"), e.fingerprint("https://e/x"));
        let off = Enrichment::off().unwrap();
        assert!(off.tag("https://e/x", title, "").is_none());
        assert_ne!(off.fingerprint("https://e/x"), e.fingerprint("https://e/x"));
        let fewer = Enrichment::new(true, 3, Taxonomy::builtin().unwrap(), BTreeMap::new());
        assert_ne!(
            fewer.fingerprint("https://e/x"),
            e.fingerprint("https://e/x")
        );
    }
}
