//! Plain text: entity decoding, tag stripping, whitespace, words, titles, the choice of the
//! source HTML and the paragraphs of plain text read from HTML. Everything here is linear in
//! the input: titles and contents come from the internet and may be huge or malformed.
//!
//! These are the primitives; what the description and the excerpt are made of (which
//! paragraphs count, the sentence-aware cuts) is `summary.rs`, re-exported here for the
//! callers in `normalize` that name it through `text::`.

use std::borrow::Cow;

use crate::domain::ParsedEntry;

// The summary heuristics live in `summary.rs`; normalize's callers still reach them as
// `text::summarize` and `text::informative_paragraphs`.

/// Source HTML by preference (post-format.md 7.1): full content, else the summary, else Media
/// RSS `media:description` (YouTube's whole video description), else JSON `content_text`. The
/// two plain-text sources are escaped (so text is never read as markup) and split into
/// paragraphs: on blank lines, and for a video description on every line break.
/// Borrowed when it is the entry's own HTML (no copy of the content per entry).
pub fn source_html(entry: &ParsedEntry) -> Cow<'_, str> {
    fn nonempty(s: &Option<String>) -> Option<&str> {
        s.as_deref().filter(|t| !t.trim().is_empty())
    }
    nonempty(&entry.content_html)
        .or_else(|| nonempty(&entry.summary_html))
        .map(Cow::Borrowed)
        .or_else(|| nonempty(&entry.media_description).map(|t| Cow::Owned(plain_to_html(t, true))))
        .or_else(|| nonempty(&entry.content_text).map(|t| Cow::Owned(plain_to_html(t, false))))
        .unwrap_or_default()
}

/// Plain text as HTML paragraphs (split on blank lines), escaped; `lines` makes every line a
/// paragraph (a video description's lines are its layout: credits, chapters, links, which a
/// soft line break would run together on the page).
fn plain_to_html(text: &str, lines: bool) -> String {
    let text = text.replace("\r\n", "\n");
    let split: Vec<&str> = if lines {
        text.split('\n').collect()
    } else {
        text.split("\n\n").collect()
    };
    split
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .map(|p| format!("<p>{}</p>", html_escape::encode_text(p.trim())))
        .collect()
}

/// The hashtags of a plain text (`#aspnet`, `#dotnet`), in order, without `#`, each once: a
/// YouTube description's hashtags are the video's own tags (post-format.md 7.1). A hashtag
/// starts the text or follows whitespace, runs over letters, digits and `_`, and has a letter;
/// at most `max` are taken, so a description of hundreds cannot flood the tags.
pub fn hashtags(text: &str, max: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut prev_space = true;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '#' && prev_space {
            let start = i + 1;
            let mut end = start;
            while let Some(&(j, n)) = chars.peek() {
                if n.is_alphanumeric() || n == '_' {
                    end = j + n.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            let tag = &text[start..end];
            if tag.chars().any(char::is_alphabetic)
                && tag.chars().count() <= 40
                && !out.iter().any(|t| t.eq_ignore_ascii_case(tag))
            {
                out.push(tag.to_string());
                if out.len() == max {
                    break;
                }
            }
            prev_space = false;
            continue;
        }
        prev_space = c.is_whitespace();
    }
    out
}

/// Decode HTML entities (named, decimal, hex).
pub fn decode_entities(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    // Sanitized HTML (html5ever's serialization) writes only these entities, and every entry
    // is decoded several times: decode them here, and leave anything else to `html_escape`,
    // whose named-entity lookup compares against its whole table.
    const COMMON: [(&str, char); 6] = [
        ("&amp;", '&'),
        ("&lt;", '<'),
        ("&gt;", '>'),
        ("&quot;", '"'),
        ("&nbsp;", '\u{a0}'),
        ("&#39;", '\''),
    ];
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(&(entity, c)) = COMMON.iter().find(|(e, _)| tail.starts_with(e)) else {
            return html_escape::decode_html_entities(s);
        };
        out.push(c);
        rest = &tail[entity.len()..];
    }
    out.push_str(rest);
    Cow::Owned(out)
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
    let mut out = String::with_capacity(s.len());
    for word in words(s) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The words of `s`: exactly `s.split_whitespace()`, faster on ASCII text (most feed text),
/// which is split byte by byte without decoding characters (about 1.4x faster). Normalization
/// splits every paragraph of every entry into words (whitespace collapsing, summaries).
pub fn words(s: &str) -> Words<'_> {
    if s.is_ascii() {
        Words::Ascii { s, pos: 0 }
    } else {
        Words::Unicode(s.split_whitespace())
    }
}

/// The iterator of [`words`].
#[derive(Debug, Clone)]
pub enum Words<'a> {
    Ascii { s: &'a str, pos: usize },
    Unicode(std::str::SplitWhitespace<'a>),
}

/// Whether an ASCII byte is whitespace as `char::is_whitespace` says (tab, line feed, vertical
/// tab, form feed, carriage return, space; `u8::is_ascii_whitespace` leaves out the vertical tab).
#[inline]
pub(crate) fn is_ascii_space(b: u8) -> bool {
    b == b' ' || b.wrapping_sub(b'\t') < 5
}

impl<'a> Iterator for Words<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        match self {
            Words::Unicode(it) => it.next(),
            Words::Ascii { s, pos } => {
                let bytes = s.as_bytes();
                let mut i = *pos;
                while i < bytes.len() && is_ascii_space(bytes[i]) {
                    i += 1;
                }
                let start = i;
                while i < bytes.len() && !is_ascii_space(bytes[i]) {
                    i += 1;
                }
                *pos = i;
                // Every byte offset of ASCII text is a char boundary.
                (start < i).then(|| s.get(start..i)).flatten()
            }
        }
    }
}

/// Drop control characters (C0 and C1, plus line/paragraph separators, the BOM and the
/// non-characters YAML does not allow), which no front-matter value or title may carry.
pub fn remove_controls(s: &str) -> String {
    s.chars().filter(|&c| !is_removed_control(c)).collect()
}

/// The characters [`remove_controls`] drops.
pub fn is_removed_control(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{FEFF}' | '\u{200B}' | '\u{FFFE}' | '\u{FFFF}'
        )
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

/// The elements that end a paragraph of [`html_paragraphs`] (start and end tag alike).
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

/// Whether a tag named `name` ends a paragraph of plain text.
pub fn is_block(name: &str) -> bool {
    BLOCKS.iter().any(|b| b.eq_ignore_ascii_case(name))
}

/// The paragraphs of plain text being collected from a walk over HTML: [`Paragraphs::text`]
/// adds text, [`Paragraphs::tag`] a tag (a block one ends the paragraph, an inline one is a
/// space). Whitespace is collapsed per paragraph when it ends.
#[derive(Debug, Default)]
pub struct Paragraphs {
    current: String,
    done: Vec<String>,
}

impl Paragraphs {
    /// Decoded text (a text node of a tree).
    pub fn text(&mut self, text: &str) {
        self.current.push_str(text);
    }

    pub fn tag(&mut self, name: &str) {
        if is_block(name) {
            self.flush(false);
        } else {
            self.current.push(' ');
        }
    }

    fn flush(&mut self, decode: bool) {
        let text = if decode {
            collapse_paragraph(&decode_entities(&self.current))
        } else {
            collapse_paragraph(&self.current)
        };
        if !text.is_empty() {
            self.done.push(text);
        }
        self.current.clear();
    }

    pub fn finish(mut self) -> Vec<String> {
        self.flush(false);
        self.done
    }
}

/// Paragraphs of plain text from sanitized HTML: block elements end a paragraph, inline markup is
/// dropped, entities decoded, whitespace collapsed inside each paragraph. (Normalization reads
/// them off the sanitized tree instead, [`crate::normalize::html::Tree::paragraphs`], to the
/// same result.)
pub fn html_paragraphs(html: &str) -> Vec<String> {
    // Here `current` holds raw HTML text, decoded when the paragraph ends.
    let mut p = Paragraphs::default();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        p.current.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let Some(j) = after.find('>') else {
            p.current.push_str(after);
            rest = "";
            break;
        };
        let tag = after[..j].trim_start_matches('/');
        let name_len = tag
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        if is_block(&tag[..name_len]) {
            p.flush(true);
        } else {
            p.current.push(' ');
        }
        rest = &after[j + 1..];
    }
    p.current.push_str(rest);
    p.flush(true);
    p.done
}

/// The words of `text` joined by single spaces, with no space before a word that starts with
/// `, . ! ? ; :` (inline tags became spaces, which may leave ` ,`).
fn collapse_paragraph(text: &str) -> String {
    let punct = |b: u8| matches!(b, b',' | b'.' | b'!' | b'?' | b';' | b':');
    let mut out = String::with_capacity(text.len());
    if !text.is_ascii() {
        for word in words(text) {
            if !out.is_empty() && !word.as_bytes().first().is_some_and(|&b| punct(b)) {
                out.push(' ');
            }
            out.push_str(word);
        }
        return out;
    }
    // ASCII: most of a paragraph is words separated by one space each, which stay as they are;
    // copy such stretches whole and decide only at other whitespace.
    let bytes = text.as_bytes();
    let mut i = bytes.iter().take_while(|&&b| is_ascii_space(b)).count();
    let mut run = i;
    while let Some(&b) = bytes.get(i) {
        if !is_ascii_space(b) {
            i += 1;
            continue;
        }
        if b == b' '
            && bytes
                .get(i + 1)
                .is_some_and(|&n| !is_ascii_space(n) && !punct(n))
        {
            i += 1;
            continue;
        }
        out.push_str(text.get(run..i).unwrap_or_default());
        while bytes.get(i).is_some_and(|&n| is_ascii_space(n)) {
            i += 1;
        }
        if bytes.get(i).is_some_and(|&n| !punct(n)) {
            out.push(' ');
        }
        run = i;
    }
    out.push_str(text.get(run..).unwrap_or_default());
    out
}

/// The HTML without `<figcaption>` elements: image captions describe a picture, not the post.
pub fn without_captions(html: &str) -> Cow<'_, str> {
    const OPEN: &str = "<figcaption";
    const CLOSE: &str = "</figcaption>";
    let Some(first) = find_ascii_ci(html, 0, OPEN) else {
        return Cow::Borrowed(html);
    };
    let mut out = String::with_capacity(html.len());
    let mut pos = 0;
    let mut next = Some(first);
    while let Some(start) = next {
        out.push_str(&html[pos..start]);
        match find_ascii_ci(html, start, CLOSE) {
            Some(j) => {
                pos = j + CLOSE.len();
                next = find_ascii_ci(html, pos, OPEN);
            }
            None => {
                pos = html.len();
                break;
            }
        }
    }
    out.push_str(&html[pos..]);
    Cow::Owned(out)
}

/// The first offset at or after `from` where the ASCII `needle` occurs in `hay`, ignoring ASCII
/// case: what `hay.to_ascii_lowercase()[from..].find(needle)` finds, without copying `hay`.
fn find_ascii_ci(hay: &str, from: usize, needle: &str) -> Option<usize> {
    let first = needle.chars().next()?;
    let mut i = from;
    loop {
        let rest = hay.get(i..)?;
        // A needle that starts with a non-letter (`<`) is found with `str::find`'s memchr.
        let k = if first.is_ascii_alphabetic() {
            rest.find(|c: char| c.eq_ignore_ascii_case(&first))?
        } else {
            rest.find(first)?
        };
        let at = i + k;
        if hay
            .as_bytes()
            .get(at..at + needle.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
        {
            return Some(at);
        }
        i = at + first.len_utf8();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// [`without_captions`] as it was written first (a lower-cased copy searched with `find`):
    /// the reference the faster version must match.
    fn without_captions_reference(html: &str) -> String {
        let lower = html.to_ascii_lowercase();
        let mut out = String::new();
        let mut pos = 0;
        while let Some(i) = lower[pos..].find("<figcaption") {
            let start = pos + i;
            out.push_str(&html[pos..start]);
            match lower[start..].find("</figcaption>") {
                Some(j) => pos = start + j + "</figcaption>".len(),
                None => {
                    pos = html.len();
                    break;
                }
            }
        }
        out.push_str(&html[pos..]);
        out
    }

    /// [`collapse_paragraph`] as it was written first: word by word.
    fn collapse_paragraph_reference(text: &str) -> String {
        let mut out = String::new();
        for word in text.split_whitespace() {
            if !out.is_empty() && !word.starts_with([',', '.', '!', '?', ';', ':']) {
                out.push(' ');
            }
            out.push_str(word);
        }
        out
    }

    proptest! {
        #[test]
        fn decode_entities_matches_html_escape(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("&amp;"), Just("&lt;"), Just("&gt;"), Just("&quot;"), Just("&nbsp;"),
                    Just("&#39;"), Just("&amp"), Just("&"), Just("&#x27;"), Just("&eacute;"),
                    Just("&amp;lt;"), Just("&lt"), Just("&ltx;"), Just("&#39"), Just("a"),
                    Just(" "), Just(";"), Just("\u{e9}"),
                ],
                0..12,
            )
        ) {
            let text = parts.concat();
            prop_assert_eq!(decode_entities(&text), html_escape::decode_html_entities(&text));
        }

        #[test]
        fn collapse_paragraph_matches_its_reference(
            text in "[ \t\n\x0b\r,.!?;:ab]{0,40}",
            unicode in "[ \u{a0}\u{2003}a,.\u{e9}]{0,20}",
        ) {
            prop_assert_eq!(collapse_paragraph(&text), collapse_paragraph_reference(&text));
            prop_assert_eq!(collapse_paragraph(&unicode), collapse_paragraph_reference(&unicode));
        }

        #[test]
        fn without_captions_matches_its_reference(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("<figcaption>".to_string()),
                    Just("<FigCaption class=x>".to_string()),
                    Just("</figcaption>".to_string()),
                    Just("</FIGCAPTION>".to_string()),
                    Just("<fig".to_string()),
                    Just("<p>\u{e9}t\u{e9}</p>".to_string()),
                    "[a-z<>/ ]{0,8}",
                ],
                0..12,
            )
        ) {
            let html = parts.concat();
            prop_assert_eq!(without_captions(&html).into_owned(), without_captions_reference(&html));
        }
    }

    /// Every whitespace character of Unicode (and some that are not), to mix into the inputs.
    const MIXED: &[char] = &[
        ' ',
        '\t',
        '\n',
        '\r',
        '\u{0b}',
        '\u{0c}',
        '\u{1c}',
        '\u{1f}',
        '\u{85}',
        '\u{a0}',
        '\u{1680}',
        '\u{2000}',
        '\u{200a}',
        '\u{200b}',
        '\u{2028}',
        '\u{2029}',
        '\u{202f}',
        '\u{205f}',
        '\u{3000}',
        '\u{feff}',
        'a',
        'Z',
        '.',
        ',',
        '\u{e9}',
        '\u{65e5}',
        '\u{1f600}',
    ];

    #[test]
    fn words_are_split_whitespace() {
        for text in [
            "",
            " ",
            "one",
            "  two  words  ",
            "tabs\tand\nlines\r\nvt\u{0b}ff\u{0c}end",
            "nbsp\u{a0}splits\u{2003}em\u{3000}ideographic\u{85}nel",
            "zero\u{200b}width and\u{feff}bom are not spaces",
            "caf\u{e9} na\u{ef}ve \u{65e5}\u{672c} \u{1f600}",
        ] {
            assert_eq!(
                words(text).collect::<Vec<_>>(),
                text.split_whitespace().collect::<Vec<_>>(),
                "{text:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn words_match_std_on_any_text(picks in proptest::collection::vec(0..MIXED.len(), 0..64)) {
            let text: String = picks.iter().map(|&i| MIXED[i]).collect();
            prop_assert_eq!(
                words(&text).collect::<Vec<_>>(),
                text.split_whitespace().collect::<Vec<_>>()
            );
        }

        #[test]
        fn words_match_std_on_ascii(text in "[ \t\n\x0b\x0c\r\x1c\x1fa-z.,]{0,48}") {
            prop_assert_eq!(
                words(&text).collect::<Vec<_>>(),
                text.split_whitespace().collect::<Vec<_>>()
            );
        }

        #[test]
        fn words_match_std_on_arbitrary_strings(text in any::<String>()) {
            prop_assert_eq!(
                words(&text).collect::<Vec<_>>(),
                text.split_whitespace().collect::<Vec<_>>()
            );
        }
    }

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
    fn captions_are_removed_from_html() {
        let html = "<figure><img src=x><figcaption>A <b>cat</b></figcaption></figure><p>Text.</p>";
        assert_eq!(html_paragraphs(&without_captions(html)), ["Text."]);
        assert!(matches!(without_captions("<p>x</p>"), Cow::Borrowed(_)));
        assert_eq!(without_captions("a<FIGCAPTION>open"), "a");
    }
}
