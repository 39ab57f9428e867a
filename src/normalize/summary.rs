//! The summary heuristics: which paragraphs of a post are worth summarizing (greetings, stock
//! sentences, link-only lines and captions dropped) and the sentence-aware cuts that make the
//! `description` (200 characters) and the excerpt (300) out of them (post-format.md 2 and 7.5).
//!
//! Apart from the text primitives (`text.rs`) because these are judgement calls, tuned on the
//! corpus and changed on their own, while the primitives are exact transformations; both stay
//! linear in the input, which comes from the internet.

use super::text::words;

/// Sentences of a paragraph: split after `.`, `!`, `?` (and `…`) followed by whitespace.
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if matches!(c, '.' | '!' | '?' | '…') {
            let next_is_space = chars.peek().is_none_or(|(_, n)| n.is_whitespace());
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
/// long is cut at the last word boundary within `max - 3` and gets `...` (post-format.md 2 and
/// 7.5). Never cuts a word, and never a markdown construct: the excerpt is published as markdown,
/// and text that came as JSON `content_text` may carry literal `` `code` ``, `**bold**` or
/// `[link](url)`. A selection whose last sentence leaves such a construct open loses that
/// sentence; a cut inside one moves back before its opening delimiter.
pub fn summarize(text: &str, max: usize) -> String {
    // Only the first `max + 2` characters (and the word that crosses them) can reach the result:
    // kept sentences total at most `max`, and a cut first sentence uses `max - 3`. Collapsing
    // and splitting just that prefix keeps long bodies from costing their whole length.
    let text = collapsed_prefix(text, max + 2);
    let all = sentences(&text);
    let mut kept: Vec<&str> = Vec::new();
    let mut len = 0;
    for s in &all {
        let n = len + usize::from(!kept.is_empty()) + s.chars().count();
        if n > max {
            break;
        }
        kept.push(s);
        len = n;
    }
    while !kept.is_empty() && unclosed_markdown(&kept.join(" ")).is_some() {
        kept.pop();
    }
    if !kept.is_empty() {
        return kept.join(" ");
    }
    let first = all.first().copied().unwrap_or_default();
    let mut cut = cut_at_word(first, max.saturating_sub(3));
    if let Some(open) = unclosed_markdown(&cut) {
        let before = trim_cut(cut.get(..open).unwrap_or_default());
        if !before.is_empty() {
            cut = before.to_string();
        }
    }
    cut + "..."
}

/// `collapse_ws(text)` up to the first word that ends at or after `min_chars` characters.
fn collapsed_prefix(text: &str, min_chars: usize) -> String {
    let mut out = String::new();
    let mut chars = 0;
    for word in words(text) {
        if chars >= min_chars {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
            chars += 1;
        }
        out.push_str(word);
        chars += word.chars().count();
    }
    out
}

/// At most `max` characters, cut at the last word boundary. A single word longer than `max` (a
/// long URL, say) is the one case cut by characters: there is no boundary to cut at.
fn cut_at_word(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let prefix: String = s.chars().take(max + 1).collect();
    let cut = match prefix.rfind(char::is_whitespace) {
        Some(i) if i > 0 => &prefix[..i],
        _ => return s.chars().take(max).collect(),
    };
    cut.trim_end_matches(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':' | '-'))
        .to_string()
}

fn trim_cut(s: &str) -> &str {
    s.trim_end_matches(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':' | '-' | '('))
}

/// The byte offset of the earliest markdown construct that `s` opens but does not close: a code
/// span (a run of backticks), `**`, `__`, `~~` or `*` emphasis, a link's `[text]` or its
/// `(destination)`. Inside a code span nothing else counts, as in CommonMark.
fn unclosed_markdown(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut open: Vec<(usize, &str)> = Vec::new();
    let mut i = 0;
    let word_before = |i: usize| i > 0 && bytes[i - 1].is_ascii_alphanumeric();
    let space_after = |j: usize| bytes.get(j).is_none_or(|b| b.is_ascii_whitespace());
    while i < bytes.len() {
        let b = bytes[i];
        // Every delimiter below starts with one of these bytes; the rest of the text is skipped.
        if !matches!(b, b'`' | b'*' | b'_' | b'~' | b'[' | b']' | b')') {
            i += 1;
            continue;
        }
        if b == b'`' {
            let run = bytes[i..].iter().take_while(|&&c| c == b'`').count();
            let fence = &s[i..i + run];
            match s[i + run..].find(fence) {
                Some(j) => i += run + j + run,
                None => return Some(open.first().map_or(i, |(p, _)| (*p).min(i))),
            }
            continue;
        }
        let two = s.get(i..i + 2).unwrap_or_default();
        let delim: Option<&str> = match two {
            "**" | "__" | "~~" | "](" => Some(two),
            _ => match b {
                b'*' => Some("*"),
                b'[' => Some("["),
                b']' => Some("]"),
                b')' => Some(")"),
                _ => None,
            },
        };
        match delim {
            Some("[") => open.push((i, "[")),
            Some("](") => {
                if let Some(pos) = open.iter().rposition(|(_, d)| *d == "[") {
                    let (start, _) = open.remove(pos);
                    open.push((start, "("));
                }
                i += 2;
                continue;
            }
            Some("]") => {
                if let Some(pos) = open.iter().rposition(|(_, d)| *d == "[") {
                    open.remove(pos);
                }
            }
            Some(")") => {
                if let Some(pos) = open.iter().rposition(|(_, d)| *d == "(") {
                    open.remove(pos);
                }
            }
            Some(d) => {
                let len = d.len();
                if let Some(pos) = open.iter().rposition(|(_, o)| *o == d) {
                    // A closer: not preceded by a space.
                    if i > 0 && !bytes[i - 1].is_ascii_whitespace() {
                        open.remove(pos);
                    }
                } else if !(space_after(i + len) || d.starts_with('_') && word_before(i)) {
                    open.push((i, d));
                }
                i += len;
                continue;
            }
            None => {}
        }
        i += 1;
    }
    open.first().map(|(p, _)| *p)
}

/// Paragraphs worth summarizing: the opening of a post often is not (post-format.md 2 and 7.5
/// take "the first sentences" and "the first paragraph"; these are *(ours)* refinements of what
/// counts as first). Dropped:
/// - link-only lines (every word a URL, or `Link:`/`Source:` and a URL);
/// - image captions (`Image: ...`, `Photo by ... on Unsplash`, `Credit: ...`; `<figcaption>` text
///   is removed earlier, see [`without_captions`](super::text::without_captions));
/// - greetings at the opening (`Hi all,`, `Hey everyone!`, `Hello r/devops,`): a greeting-only
///   sentence goes, a greeting that opens a sentence is cut off it;
/// - stock sentences that say nothing about the post (`Long time lurker, first time poster.`,
///   `Sorry if this is the wrong sub.`, `Thanks in advance!`).
///
/// When nothing is left, the paragraphs are returned unchanged, so a post of nothing but a
/// greeting still gets the spec's description.
pub fn informative_paragraphs(paragraphs: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    // The description needs at most 202 characters and the excerpt only the first paragraph:
    // past 400 kept characters, later paragraphs cannot change either.
    let mut kept_chars = 0usize;
    for p in paragraphs {
        if kept_chars > 400 {
            break;
        }
        if is_link_only(p) || is_caption(p) {
            continue;
        }
        let mut kept: Vec<String> = Vec::new();
        for s in sentences(p) {
            let opening = out.is_empty() && kept.is_empty();
            let s = if opening {
                strip_greeting(s)
            } else {
                s.to_string()
            };
            if s.is_empty() || is_stock_sentence(&s) {
                continue;
            }
            // After a dropped greeting (`hey guys,` on a line of its own), the text starts here.
            kept.push(if opening { upper_first(&s) } else { s });
        }
        if !kept.is_empty() {
            let joined = kept.join(" ");
            kept_chars += joined.chars().count() + 1;
            out.push(joined);
        }
    }
    if out.is_empty() {
        paragraphs.to_vec()
    } else {
        out
    }
}

fn is_url(word: &str) -> bool {
    let w = word
        .trim_matches(|c: char| matches!(c, '<' | '>' | '(' | ')' | '[' | ']' | '"' | '\''))
        .as_bytes();
    // Compared without lower-casing a copy: this runs for every word of a paragraph.
    ["http://", "https://", "www."].iter().any(|p| {
        w.get(..p.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(p.as_bytes()))
    })
}

fn is_link_only(p: &str) -> bool {
    let labels = [
        "link", "link:", "links:", "source", "source:", "via", "via:", "url:", "-", "|", "[link]",
    ];
    // All words first: it fails at the first ordinary word, which is almost always the first.
    p.split_whitespace()
        .all(|w| is_url(w) || labels.iter().any(|l| l.eq_ignore_ascii_case(w)))
        && p.split_whitespace().any(is_url)
}

fn is_caption(p: &str) -> bool {
    // Every rule below needs 25 words or fewer: longer paragraphs are not lower-cased at all.
    let words = p.split_whitespace().take(26).count();
    if words > 25 {
        return false;
    }
    let lower = p.to_lowercase();
    let prefixes = [
        "image:",
        "image credit",
        "image source",
        "image by ",
        "image via ",
        "photo:",
        "photo by ",
        "photo credit",
        "photo via ",
        "picture:",
        "screenshot:",
        "caption:",
        "credit:",
        "credits:",
        "(image",
        "[image",
        "(photo",
        "[photo",
        "(source:",
        "source:",
        "fig.",
        "figure ",
    ];
    (words <= 25 && prefixes.iter().any(|pre| lower.starts_with(pre)))
        || (words <= 12 && lower.contains(" on unsplash"))
        || matches!(
            lower.trim_end_matches(['.', ':']),
            "image" | "images" | "screenshot" | "screenshots" | "photo" | "gallery" | "video"
        )
}

/// `Hi all, I have ...` -> `I have ...`; `Hey everyone!` -> `` (a greeting and at most three
/// more words, ended by punctuation).
fn strip_greeting(s: &str) -> String {
    static GREETING: std::sync::OnceLock<Option<regex_lite::Regex>> = std::sync::OnceLock::new();
    let re = GREETING.get_or_init(|| {
        regex_lite::Regex::new(
            r"(?i)^(?:hi|hey|hello|hiya|heya|howdy|greetings|hallo|good (?:morning|afternoon|evening|day)|dear)(?:[ 	]+[\w/'’.-]+){0,3}[ 	]*(?:[,!:;—–]+|\.(?:[ 	]|$)|[ 	]+-+)[ 	]*",
        )
        .ok()
    });
    if let Some(m) = re.as_ref().and_then(|re| re.find(s)) {
        return upper_first(s[m.end()..].trim_start());
    }
    // `Hi i'm looking for ...`: a greeting run into the sentence, without punctuation.
    let mut words = s.splitn(3, ' ');
    if let (Some(greeting), Some(next), Some(_)) = (words.next(), words.next(), words.next()) {
        let next = next.to_lowercase().replace('’', "'");
        let greeting = greeting.to_lowercase();
        if matches!(greeting.as_str(), "hi" | "hey" | "hello")
            && matches!(
                next.as_str(),
                "i" | "i'm"
                    | "i've"
                    | "i'd"
                    | "we"
                    | "we're"
                    | "we've"
                    | "my"
                    | "our"
                    | "so"
                    | "just"
            )
        {
            return upper_first(s[greeting.len()..].trim_start());
        }
    }
    s.to_string()
}

/// The first letter upper-cased (`is there` -> `Is there`).
fn upper_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) if first.is_lowercase() => first.to_uppercase().chain(chars).collect(),
        Some(first) => std::iter::once(first).chain(chars).collect(),
        None => String::new(),
    }
}

fn is_stock_sentence(s: &str) -> bool {
    // Every stock sentence has at most 14 words: longer ones are not lower-cased at all
    // (lower-casing keeps whitespace where it is, so the count is the same).
    if words(s).nth(14).is_some() {
        return false;
    }
    let lower = s.to_lowercase().replace('’', "'");
    let starts = [
        "long time lurker",
        "long-time lurker",
        "longtime lurker",
        "first time poster",
        "first-time poster",
        "first time posting",
        "throwaway account",
        "using a throwaway",
        "sorry for the long post",
        "sorry for the wall of text",
        "sorry if this is the wrong",
        "sorry if this isn't the right",
        "sorry if this is not the right",
        "not sure if this is the right",
        "not sure if this is the best place",
        "apologies if this is the wrong",
        "apologies for the long post",
        "mods, please",
        "mods please",
        "thanks in advance",
        "thank you in advance",
        "tia",
        "any help is appreciated",
        "any help would be appreciated",
        "any advice is appreciated",
        "any advice would be appreciated",
        "hope this helps",
        "hope you're all doing well",
        "hope you are all doing well",
        "hope everyone is doing well",
        "hope you're doing well",
        "hope all is well",
        "i hope you are all",
        "i hope you're all",
        "i hope everyone is",
        "i hope you are doing",
        "i hope you're doing",
    ];
    let words = lower.split_whitespace().count();
    words <= 14
        && starts.iter().any(|p| {
            lower.starts_with(p)
                && lower[p.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_alphanumeric())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn paras(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn boilerplate_openings_are_skipped() {
        let p = informative_paragraphs(&paras(&[
            "Hi all,",
            "https://example.com/some/long/link",
            "Hey everyone, long time lurker, first time poster. I run Terraform at work. Thanks in advance!",
        ]));
        assert_eq!(p, ["I run Terraform at work."]);
        let p = informative_paragraphs(&paras(&[
            "Hello r/devops! We moved our CI to GitHub Actions.",
        ]));
        assert_eq!(p, ["We moved our CI to GitHub Actions."]);
        let p = informative_paragraphs(&paras(&[
            "Photo by Jane Doe on Unsplash",
            "Image: a diagram of the cluster",
            "Link: https://example.com/x",
            "good morning, what do you use for secrets?",
        ]));
        assert_eq!(p, ["What do you use for secrets?"]);
        let p = informative_paragraphs(&paras(&[
            "hey guys,",
            "is there any way to read the stats?",
        ]));
        assert_eq!(p, ["Is there any way to read the stats?"]);
        let p = informative_paragraphs(&paras(&["Hi i’m looking to build a server."]));
        assert_eq!(p, ["I’m looking to build a server."]);
        let p = informative_paragraphs(&paras(&[
            "Hello everyone, I hope you are all having a better time than me. A storm hit.",
        ]));
        assert_eq!(p, ["A storm hit."]);
        // Not greetings: a greeting word that opens a longer phrase stays.
        let p = informative_paragraphs(&paras(&["Hello world programs in Rust are short."]));
        assert_eq!(p, ["Hello world programs in Rust are short."]);
        // Only boilerplate: the text is kept as it is rather than lost.
        assert_eq!(informative_paragraphs(&paras(&["Hi all!"])), ["Hi all!"]);
        // Ordinary text is untouched.
        let text = paras(&["I had my Strix halo for a while now, I though I can download it."]);
        assert_eq!(informative_paragraphs(&text), text);
    }

    #[test]
    fn cuts_never_split_a_markdown_construct() {
        // The cut falls inside a code span: it moves back before the backtick.
        let text = format!(
            "{} `kubectl get pods --all-namespaces -o wide` end",
            "word ".repeat(36)
        );
        let d = summarize(&text, 200);
        assert!(d.ends_with("word...") && !d.contains('`'), "{d}");
        // Inside a link: back before `[`.
        let text = format!(
            "{} [the docs](https://example.com/a/very/long/path/that/goes/on) end",
            "word ".repeat(37)
        );
        let d = summarize(&text, 200);
        assert!(d.ends_with("word...") && !d.contains('['), "{d}");
        // A sentence that leaves emphasis open is not taken whole.
        let d = summarize("First one. Second **bold. Third** here.", 25);
        assert_eq!(d, "First one.");
        // Closed constructs are fine, and literal characters in prose are not constructs.
        assert_eq!(summarize("Run `make`. Done.", 200), "Run `make`. Done.");
        assert_eq!(summarize("5 * 3 = 15. Yes.", 200), "5 * 3 = 15. Yes.");
        assert_eq!(unclosed_markdown("snake_case_name and a_b"), None);
        assert_eq!(unclosed_markdown("see [x](y) and **z**"), None);
        assert_eq!(unclosed_markdown("see [x](y"), Some(4));
        assert_eq!(unclosed_markdown("a ``b` c"), Some(2));
    }

    #[test]
    fn cuts_never_split_a_word() {
        let text = "Supercalifragilistic ".repeat(30);
        let d = summarize(&text, 200);
        assert!(d.ends_with("Supercalifragilistic..."), "{d}");
        assert!(d.chars().count() <= 200);
    }
}
