//! How much plain text an entry or a page holds: the `when_short` decision (is the feed's
//! content a teaser?) and whether an article is richer than the feed's content.
//!
//! A cheap scan of its own, apart from the service, because it runs for every entry of every
//! poll (no DOM, no allocation per tag) while the service runs only for the few it queues.

/// Entries with less plain text than this are teasers (`when_short`).
pub const SHORT_CHARS: usize = 500;

/// Plain-text length of an entry's own content (the first non-empty of content, summary, text),
/// for the `when_short` decision and the "richer" comparison.
pub fn own_len(entry: &crate::domain::ParsedEntry) -> usize {
    [
        &entry.content_html,
        &entry.summary_html,
        &entry.content_text,
    ]
    .into_iter()
    .flatten()
    .map(|h| plain_len(h))
    .find(|n| *n > 0)
    .unwrap_or(0)
}

/// Characters of plain text in an HTML fragment: tags, scripts and styles removed, entities
/// decoded, whitespace collapsed. Cheap (one scan, no DOM), for the `when_short` decision and to
/// tell whether an article is richer than the feed's content.
pub fn plain_len(html: &str) -> usize {
    let mut count = 0usize;
    let mut in_space = true;
    let mut rest = html;
    let push_text = |t: &str, count: &mut usize, in_space: &mut bool| {
        let decoded = html_escape::decode_html_entities(t);
        for c in decoded.chars() {
            if c.is_whitespace() {
                if !*in_space {
                    *count += 1;
                    *in_space = true;
                }
            } else {
                *count += 1;
                *in_space = false;
            }
        }
    };
    while let Some(lt) = rest.find('<') {
        push_text(&rest[..lt], &mut count, &mut in_space);
        let tag = &rest[lt..];
        let lower: String = tag.chars().take(8).collect::<String>().to_ascii_lowercase();
        let skip_to = if lower.starts_with("<script") {
            find_ci(tag, "</script>").map(|i| i + 9)
        } else if lower.starts_with("<style") {
            find_ci(tag, "</style>").map(|i| i + 8)
        } else if lower.starts_with("<!--") {
            tag.find("-->").map(|i| i + 3)
        } else {
            tag.find('>').map(|i| i + 1)
        };
        match skip_to {
            Some(n) => rest = &tag[n..],
            None => {
                rest = "";
                break;
            }
        }
        // A tag separates words.
        if !in_space {
            count += 1;
            in_space = true;
        }
    }
    push_text(rest, &mut count, &mut in_space);
    if in_space && count > 0 {
        count -= 1; // trailing separator
    }
    count
}

fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    hay.to_ascii_lowercase().find(needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_len_counts_visible_text_only() {
        assert_eq!(plain_len("<p>Hello <b>world</b></p>"), 11);
        assert_eq!(plain_len("<p>a</p><p>b</p>"), 3);
        assert_eq!(
            plain_len("<script>var x = 'long long long';</script><p>ab</p>"),
            2
        );
        assert_eq!(plain_len("<style>p{}</style>x &amp; y"), 5);
        assert_eq!(plain_len("<!-- comment --> hi "), 2);
        assert_eq!(plain_len(""), 0);
        assert_eq!(plain_len("<p>unterminated <b"), 12);
    }
}
