//! YAML front matter (post-format.md section 2), in the seed's field order and quoting.
//!
//! Values are untrusted, so every scalar except the two the seed writes bare
//! (`excerpt_separator`, `date`) goes through [`yaml_quoted`] (URLs through [`yaml_string`]): one
//! line, in double quotes, `\` and `"` escaped, control characters and YAML-forbidden
//! non-characters removed. Inside a double-quoted scalar YAML gives no meaning to
//! `---`, `: `, `#`, `&`, `*`, `!` or `|`, so no title can end the front matter, add a key, or
//! create an anchor, alias or tag. `feed_url` is quoted like every other string, exactly as the
//! seed and every real example write it (post-format.md section 2).

use super::text::{collapse_ws, remove_controls, strip_tags};
use super::{format_date, permalink, RenderOptions};
use crate::domain::Post;

/// The cleaning of a front-matter scalar: tags removed, line breaks and whitespace runs to one
/// space, trimmed, control characters removed, one surrounding pair of quotes (`"`, `'` or a
/// backtick) dropped.
pub fn clean_scalar(value: &str) -> String {
    if is_plain(value) {
        return value.to_string();
    }
    clean_scalar_general(value)
}

/// Whether `value` comes out of [`clean_scalar`] and [`yaml_string`] unchanged: printable ASCII
/// with no tag opening, double quote, backslash or brace, no whitespace to collapse and no pair
/// of surrounding quotes to drop. Most front-matter values are (feed names, authors, tags,
/// URLs), and the general path makes five strings per value: rendering 50 000 posts spent more
/// time in their front matter than in their bodies. `is_plain_values_take_the_general_path`
/// checks that both paths agree.
fn is_plain(value: &str) -> bool {
    let b = value.as_bytes();
    let printable = b
        .iter()
        .all(|&c| (0x20..0x7f).contains(&c) && !matches!(c, b'<' | b'"' | b'\\' | b'{' | b'}'));
    let trimmed = b.first() != Some(&b' ') && b.last() != Some(&b' ');
    let quoted = b.len() >= 2 && b[0] == b[b.len() - 1] && matches!(b[0], b'\'' | b'`');
    printable && trimmed && !quoted && !b.windows(2).any(|w| w == b"  ")
}

fn clean_scalar_general(value: &str) -> String {
    let v = collapse_ws(&remove_controls(
        &strip_tags(value).replace(['\n', '\r', '\t'], " "),
    ));
    [('"', '"'), ('\'', '\''), ('`', '`')]
        .iter()
        .find_map(|(a, b)| {
            v.strip_prefix(*a)
                .and_then(|r| r.strip_suffix(*b))
                .filter(|_| v.chars().count() >= 2)
        })
        .map(|s| s.trim().to_string())
        .unwrap_or(v)
}

/// A cleaned value as a double-quoted YAML scalar.
pub fn yaml_quoted(value: &str) -> String {
    // A plain value is its own cleaning and its own YAML text: checked once, not once per step.
    if is_plain(value) {
        return format!("\"{value}\"");
    }
    yaml_string(&clean_scalar_general(value))
}

/// A double-quoted YAML scalar of `value` as it is (for URLs, which are not text to clean):
/// only control characters are removed and whitespace collapsed, so it stays on one line.
///
/// When the value holds a Liquid delimiter (`{{`, `{%`, `%}`, `}}`), its braces are written as
/// the YAML escapes `\x7B` and `\x7D`: YAML reads the same value back, but the file holds no
/// delimiter for a Liquid-aware tool (a plugin that renders front matter) to execute.
fn yaml_string(value: &str) -> String {
    if is_plain(value) {
        return format!("\"{value}\"");
    }
    yaml_string_general(value)
}

fn yaml_string_general(value: &str) -> String {
    let v = collapse_ws(&remove_controls(&value.replace(['\n', '\r', '\t'], " ")));
    let v = v.replace('\\', "\\\\").replace('"', "\\\"");
    let v = if super::render::has_liquid(&v) {
        v.replace('{', "\\x7B").replace('}', "\\x7D")
    } else {
        v
    };
    format!("\"{v}\"")
}

/// `["a", "b"]`; empty -> `[]`.
fn flow_list(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|i| yaml_quoted(i)).collect();
    format!("[{}]", inner.join(", "))
}

/// A URL with `{`, `}` and `|` percent-encoded, so it cannot hold a Liquid delimiter.
fn liquid_free_url(url: &str) -> String {
    url.replace('{', "%7B")
        .replace('}', "%7D")
        .replace('|', "%7C")
}

/// The front matter block, from the opening `---` line to the closing `---` line inclusive.
pub fn front_matter(post: &Post, opts: &RenderOptions) -> String {
    let fields: [(&str, String); 14] = [
        ("layout", yaml_string("post")),
        ("title", yaml_quoted(&post.title)),
        ("description", yaml_quoted(&post.description)),
        ("author", yaml_quoted(&post.author)),
        ("excerpt_separator", "<!--excerpt_end-->".to_string()),
        // Only an http(s) link is published (render.rs); a post stored with another keeps "".
        (
            "canonical_url",
            yaml_string(&super::render::safe_link(&post.canonical_url).unwrap_or_default()),
        ),
        ("viewing_mode", yaml_quoted(&post.viewing_mode)),
        ("feed_name", yaml_quoted(&post.feed_name)),
        // Redacted (credentials, tokens) even when a post was stored before it was.
        (
            "feed_url",
            yaml_string(&crate::redact::redact_url(&liquid_free_url(&post.feed_url))),
        ),
        ("date", format_date(&post.date)),
        ("permalink", yaml_string(&permalink(post, &opts.permalink))),
        ("categories", flow_list(&post.categories)),
        ("tags", flow_list(&post.tags)),
        ("tags_normalized", flow_list(&post.tags_normalized)),
    ];
    let mut s = String::with_capacity(1024);
    s.push_str("---\n");
    for (key, value) in fields {
        s.push_str(key);
        s.push_str(": ");
        s.push_str(&value);
        s.push('\n');
    }
    s.push_str("---\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]
        /// The shortcut for plain values changes no output: on strings of the characters that
        /// matter (quotes, braces, tags, whitespace, controls, non-ASCII), both paths agree.
        #[test]
        fn is_plain_values_take_the_general_path(
            v in "[a-z \"'`<>{}%\\\\\t\n\u{1}\u{7f}é\u{2028}\u{85}\u{a0}]{0,12}"
        ) {
            proptest::prop_assert_eq!(clean_scalar(&v), clean_scalar_general(&v));
            proptest::prop_assert_eq!(yaml_string(&v), yaml_string_general(&v));
            proptest::prop_assert_eq!(yaml_quoted(&v), yaml_string_general(&clean_scalar_general(&v)));
        }
    }

    #[test]
    fn plain_values_are_told_apart() {
        for plain in [
            "",
            "a",
            "Farm feed 0001",
            "https://e.org/a?b=1&c=2",
            "it's",
            "'",
        ] {
            assert!(is_plain(plain), "{plain:?}");
        }
        for not in [
            " a", "a ", "a  b", "a\tb", "'a'", "`a`", "\"a", "a<b", "{{", "é", "a\u{7f}",
        ] {
            assert!(!is_plain(not), "{not:?}");
        }
    }

    #[test]
    fn scalars_cannot_break_front_matter() {
        for (input, expect) in [
            ("plain", "\"plain\""),
            ("say \"hi\"", "\"say \\\"hi\\\"\""),
            ("back\\slash", "\"back\\\\slash\""),
            ("line\nbreak\r\nand\ttab", "\"line break and tab\""),
            ("---", "\"---\""),
            ("\"quoted\"", "\"quoted\""),
            ("'single'", "\"single\""),
            ("`tick`", "\"tick\""),
            ("\"", "\"\\\"\""),
            ("<b>bold</b>: &anchor !tag #c", "\"bold: &anchor !tag #c\""),
            ("bell\u{7}nul\u{0}\u{85}\u{2028}x", "\"bellnulx\""),
            ("emoji 🦀 עברית", "\"emoji 🦀 עברית\""),
        ] {
            assert_eq!(yaml_quoted(input), expect, "{input:?}");
        }
    }

    #[test]
    fn feed_url_is_quoted_as_in_the_seed() {
        assert_eq!(
            yaml_string("https://www.reddit.com/r/devops/.rss"),
            "\"https://www.reddit.com/r/devops/.rss\""
        );
        assert_eq!(
            yaml_string("https://www.youtube.com/feeds/videos.xml?channel_id=UC&x=[1]"),
            "\"https://www.youtube.com/feeds/videos.xml?channel_id=UC&x=[1]\""
        );
        assert_eq!(yaml_string("https://x/a\"b"), "\"https://x/a\\\"b\"");
        assert_eq!(yaml_string("https://x/\n---"), "\"https://x/ ---\"");
    }

    #[test]
    fn lists() {
        assert_eq!(flow_list(&[]), "[]");
        assert_eq!(
            flow_list(&["C#".into(), "a\"b".into()]),
            "[\"C#\", \"a\\\"b\"]"
        );
    }
}
