//! The article step's counters ([`Stats`], for `fetch`'s summary and the tests) and their
//! Prometheus lines for `/metrics`. Apart from the service so that what is counted, and how it
//! is written, can be read in one place.

use serde::Serialize;

use super::ArticleService;

/// Counters for summaries and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub fetched: u64,
    pub failed: u64,
    /// Of `failed`: refused by the network guard (no request sent).
    pub refused: u64,
    pub removed: u64,
    /// Posts published because their article arrived (held back as too short before).
    pub posts_new: u64,
    /// Stored posts whose content was replaced by their article.
    pub posts_updated: u64,
}

impl ArticleService {
    /// Prometheus text for `/metrics` (appended to the daemon's own metrics).
    pub fn render_metrics(&self) -> String {
        let st = self.stats();
        let mut s = String::from(
            "# HELP feedsmith_articles_total Linked pages fetched for full content, by outcome.\n\
             # TYPE feedsmith_articles_total counter\n",
        );
        for (outcome, v) in [
            ("ok", st.fetched),
            ("failed", st.failed),
            ("removed", st.removed),
        ] {
            s.push_str(&format!(
                "feedsmith_articles_total{{outcome=\"{outcome}\"}} {v}\n"
            ));
        }
        s.push_str(&format!(
            "# HELP feedsmith_articles_posts_total Posts published (new) or updated with their article.\n\
             # TYPE feedsmith_articles_posts_total counter\n\
             feedsmith_articles_posts_total{{change=\"new\"}} {}\n\
             feedsmith_articles_posts_total{{change=\"updated\"}} {}\n\
             # HELP feedsmith_articles_pending Article pages queued or being fetched.\n\
             # TYPE feedsmith_articles_pending gauge\n\
             feedsmith_articles_pending {}\n",
            st.posts_new,
            st.posts_updated,
            self.pending()
        ));
        s
    }
}
