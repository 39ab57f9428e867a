//! Plain text: entity decoding, tag stripping, whitespace, the choice of the source HTML, and
//! the sentence-aware cuts used for `description` and the excerpt. Everything here is linear in
//! the input: titles and contents come from the internet and may be huge or malformed.

use std::borrow::Cow;

use crate::domain::ParsedEntry;

/// Source HTML by preference (post-format.md 7.1): full content, else the summary, else JSON
/// `content_text`, which is escaped (and split into paragraphs on blank lines) so that text is
/// never read as markup.
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
                t.replace("\r\n", "\n")
                    .split("\n\n")
                    .filter(|p| !p.trim().is_empty())
                    .map(|p| format!("<p>{}</p>", html_escape::encode_text(p.trim())))
                    .collect::<String>()
            })
        })
        .unwrap_or_default()
}

/// Decode HTML entities (named, decimal, hex).
pub fn decode_entities(s: &str) -> Cow<'_, str> {
    if s.contains('&') {
        html_escape::decode_html_entities(s)
    } else {
        Cow::Borrowed(s)
    }
}

/// Remove `<...>` tags (and comments) from a string; a `<` that does not open a tag stays.
pub fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let opens_tag = after
            .starts_with(|c: char| c.is_ascii_alphabetic() || c == '/' || c == '!' || c == '?');
        match (opens_tag, after.find('>')) {
            (true, Some(j)) => rest = &after[j + 1..],
            (true, None) => {
                // No `>` anywhere after: nothing later can close a tag either. Stop here rather
                // than search again from every following `<` (quadratic on hostile input).
                out.push('<');
                out.push_str(after);
                return out;
            }
            (false, _) => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Runs of whitespace (including line breaks) to one space, trimmed.
pub fn collapse_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Drop control characters (C0 and C1, plus line/paragraph separators, the BOM and the
/// non-characters YAML does not allow), which no front-matter value or title may carry.
pub fn remove_controls(s: &str) -> String {
    s.chars()
        .filter(|c| {
            !c.is_control()
                && !matches!(
                    *c,
                    '\u{2028}' | '\u{2029}' | '\u{FEFF}' | '\u{200B}' | '\u{FFFE}' | '\u{FFFF}'
                )
        })
        .collect()
}

/// The title with entities decoded (twice for Reddit, which double-escapes `&amp;amp;`),
/// before tags are stripped; the slug is made from this.
pub fn decoded_title(raw: &str, reddit: bool) -> String {
    let once = decode_entities(raw).into_owned();
    if reddit {
        decode_entities(&once).into_owned()
    } else {
        once
    }
}

/// A clean one-line title: entities decoded (twice for Reddit), tags stripped, control
/// characters removed, whitespace collapsed; `Untitled` when nothing is left.
pub fn clean_title(raw: &str, reddit: bool) -> String {
    let t = collapse_ws(&remove_controls(
        &strip_tags(&decoded_title(raw, reddit)).replace(['\n', '\r', '\t'], " "),
    ));
    if t.is_empty() {
        "Untitled".to_string()
    } else {
        t
    }
}

/// Paragraphs of plain text from sanitized HTML: block elements end a paragraph, inline markup is
/// dropped, entities decoded, whitespace collapsed inside each paragraph.
pub fn html_paragraphs(html: &str) -> Vec<String> {
    const BLOCKS: &[&str] = &[
        "p",
        "div",
        "br",
        "li",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "pre",
        "blockquote",
        "tr",
        "table",
        "hr",
        "section",
        "article",
        "figure",
        "figcaption",
        "dd",
        "dt",
        "header",
        "footer",
    ];
    let mut paragraphs = Vec::new();
    let mut current = String::new();
    let mut rest = html;
    let flush = |current: &mut String, paragraphs: &mut Vec<String>| {
        let text = collapse_ws(&decode_entities(current));
        if !text.is_empty() {
            paragraphs.push(text);
        }
        current.clear();
    };
    while let Some(i) = rest.find('<') {
        current.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let Some(j) = after.find('>') else {
            current.push_str(after);
            rest = "";
            break;
        };
        let tag = after[..j].trim_start_matches('/');
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if BLOCKS.contains(&name.as_str()) {
            flush(&mut current, &mut paragraphs);
        } else {
            current.push(' ');
        }
        rest = &after[j + 1..];
    }
    current.push_str(rest);
    flush(&mut current, &mut paragraphs);
    // Inline separators may leave ` ,` or ` .`; tidy spaces before punctuation.
    paragraphs
        .into_iter()
        .map(|p| {
            let mut s = p;
            for punct in [",", ".", "!", "?", ";", ":"] {
                s = s.replace(&format!(" {punct}"), punct);
            }
            s
        })
        .collect()
}

/// Sentences of a paragraph: split after `.`, `!`, `?` (and `…`) followed by whitespace.
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (k, (i, c)) in chars.iter().enumerate() {
        if matches!(c, '.' | '!' | '?' | '…') {
            let next_is_space = chars.get(k + 1).is_none_or(|(_, n)| n.is_whitespace());
            if next_is_space {
                let end = i + c.len_utf8();
                let s = text[start..end].trim();
                if !s.is_empty() {
                    out.push(s);
                }
                start = end;
            }
        }
    }
    let tail = text[start..].trim();
    if !tail.is_empty() {
        out.push(tail);
    }
    out
}

/// Whole sentences while the total stays within `max` characters; a first sentence that is too
/// long is cut at the last word boundary within `max - 3` and gets `...`. Never cuts a word.
pub fn summarize(text: &str, max: usize) -> String {
    let text = collapse_ws(text);
    let mut out = String::new();
    for s in sentences(&text) {
        let len = out.chars().count() + usize::from(!out.is_empty()) + s.chars().count();
        if len <= max {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(s);
        } else {
            break;
        }
    }
    if !out.is_empty() {
        return out;
    }
    let first = sentences(&text).into_iter().next().unwrap_or_default();
    cut_at_word(first, max.saturating_sub(3)) + "..."
}

fn cut_at_word(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let prefix: String = s.chars().take(max + 1).collect();
    let cut = match prefix.rfind(char::is_whitespace) {
        Some(i) if i > 0 => &prefix[..i],
        _ => {
            // One huge word: cut at the character limit rather than return nothing.
            return s.chars().take(max).collect();
        }
    };
    cut.trim_end_matches(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':' | '-'))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles() {
        assert_eq!(
            clean_title("  Fish &amp; Chips \n today ", false),
            "Fish & Chips today"
        );
        assert_eq!(clean_title("R&amp;amp;D", true), "R&D");
        assert_eq!(clean_title("R&amp;amp;D", false), "R&amp;D");
        assert_eq!(clean_title("<b>Bold</b> move", false), "Bold move");
        assert_eq!(clean_title("   ", false), "Untitled");
        assert_eq!(clean_title("a < b", false), "a < b");
    }

    #[test]
    fn paragraphs_from_html() {
        let p = html_paragraphs(
            "<p>Hello <b>world</b>, friends.</p><ul><li>One</li><li>Two &amp; three</li></ul>Tail",
        );
        assert_eq!(p, ["Hello world, friends.", "One", "Two & three", "Tail"]);
    }

    #[test]
    fn summaries_keep_whole_sentences() {
        let text = "First sentence here. Second one follows! Third? ".repeat(3);
        let d = summarize(&text, 60);
        assert_eq!(d, "First sentence here. Second one follows! Third?");
        let long = format!("{} end.", "word ".repeat(100));
        let d = summarize(&long, 200);
        assert!(d.ends_with("...") && d.chars().count() <= 200, "{d}");
        assert!(!d.contains("wor..."), "never cuts a word: {d}");
        assert_eq!(summarize("Short.", 200), "Short.");
        assert_eq!(
            summarize("Version 1.2 is out. Yes.", 200),
            "Version 1.2 is out. Yes."
        );
    }
}
