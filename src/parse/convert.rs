//! feed-rs's model -> the domain's `ParsedFeed`, plus what feed-rs does not expose (RSS
//! `skipHours`/`skipDays`).

use feed_rs::model::{Entry, Feed, FeedType, Link};

use crate::domain::{ParsedEntry, ParsedFeed};

fn absolute(href: &str, base: Option<&url::Url>) -> String {
    let href = href.trim();
    match (url::Url::parse(href), base) {
        (Ok(u), _) => u.to_string(),
        (Err(_), Some(b)) => b
            .join(href)
            .map(|u| u.to_string())
            .unwrap_or_else(|_| href.to_string()),
        (Err(_), None) => href.to_string(),
    }
}

/// The entry's page: `rel="alternate"` (or no rel), else the first link.
fn main_link(links: &[Link]) -> Option<&Link> {
    links
        .iter()
        .find(|l| matches!(l.rel.as_deref(), None | Some("alternate")) && !l.href.trim().is_empty())
        .or_else(|| {
            links
                .iter()
                .find(|l| !l.href.trim().is_empty() && l.rel.as_deref() != Some("self"))
        })
}

fn is_plain(mime: &str) -> bool {
    mime.starts_with("text/plain")
}

fn entry(e: Entry, base: Option<&url::Url>) -> ParsedEntry {
    let id = Some(e.id.trim().to_string()).filter(|s| !s.is_empty());
    let link = main_link(&e.links).map(|l| absolute(&l.href, base));
    let (content_html, content_text) = match e.content {
        Some(c) => match c.body {
            Some(body) if is_plain(c.content_type.as_ref()) => (None, Some(body)),
            Some(body) => (Some(body), None),
            None => (None, None),
        },
        None => (None, None),
    };
    let summary_html = e.summary.map(|t| {
        if is_plain(t.content_type.as_ref()) && !t.content.contains('<') {
            html_escape::encode_text(&t.content).into_owned()
        } else {
            t.content
        }
    });
    let youtube_id = id
        .as_deref()
        .and_then(|i| i.strip_prefix("yt:video:"))
        .map(str::to_string);
    ParsedEntry {
        link,
        title: e.title.map(|t| t.content),
        authors: e
            .authors
            .into_iter()
            .map(|p| match p.email {
                Some(mail) if p.name.trim().is_empty() || p.name == "unknown" => mail,
                _ => p.name,
            })
            .collect(),
        published: e.published,
        updated: e.updated,
        categories: e
            .categories
            .into_iter()
            .map(|c| {
                if c.term.trim().is_empty() {
                    c.label.unwrap_or_default()
                } else {
                    c.term
                }
            })
            .filter(|c| !c.trim().is_empty())
            .collect(),
        content_html,
        summary_html,
        content_text,
        youtube_id,
        id,
    }
}

pub fn feed(f: Feed, base: Option<&url::Url>, text: &str) -> ParsedFeed {
    let format = match f.feed_type {
        FeedType::Atom => "atom",
        FeedType::JSON => "json",
        FeedType::RSS0 | FeedType::RSS2 => "rss2",
        FeedType::RSS1 => "rss1",
    };
    let (skip_hours, skip_days) = if format == "rss2" {
        skip_rules(text)
    } else {
        (Vec::new(), Vec::new())
    };
    ParsedFeed {
        format: format.to_string(),
        title: f.title.map(|t| t.content),
        author: f
            .authors
            .into_iter()
            .map(|p| p.name)
            .find(|n| !n.trim().is_empty()),
        ttl_minutes: f.ttl,
        skip_hours,
        skip_days,
        entries: f.entries.into_iter().map(|e| entry(e, base)).collect(),
    }
}

/// The contents of every `<tag>...</tag>` inside the first `<block>...</block>`.
fn values_in(text: &str, block: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{block}>"), format!("</{block}>"));
    let Some(s) = text.find(&open) else {
        return Vec::new();
    };
    let Some(e) = text[s..].find(&close) else {
        return Vec::new();
    };
    let inner = &text[s + open.len()..s + e];
    let (topen, tclose) = (format!("<{tag}>"), format!("</{tag}>"));
    inner
        .split(&topen)
        .skip(1)
        .filter_map(|part| part.split(&tclose).next())
        .map(|v| v.trim().to_string())
        .collect()
}

/// RSS `<skipHours><hour>N</hour>...` and `<skipDays><day>Monday</day>...`.
pub fn skip_rules(text: &str) -> (Vec<u32>, Vec<String>) {
    let hours = values_in(text, "skipHours", "hour")
        .into_iter()
        .filter_map(|h| h.parse::<u32>().ok())
        .filter(|h| *h < 24)
        .collect();
    let days = values_in(text, "skipDays", "day")
        .into_iter()
        .filter(|d| !d.is_empty() && d.len() < 12)
        .collect();
    (hours, days)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_hours_and_days() {
        let rss = "<rss><channel><skipHours><hour>1</hour><hour> 2 </hour><hour>99</hour></skipHours><skipDays><day>Sunday</day></skipDays></channel></rss>";
        assert_eq!(skip_rules(rss), (vec![1, 2], vec!["Sunday".to_string()]));
    }
}
