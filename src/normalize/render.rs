//! The published file: YAML front matter in the seed's field order, then the body layout
//! (post-format.md sections 1 and 2).
//!
//! Every scalar goes through [`yaml_quoted`], so no field can break or inject front matter: the
//! value is one line, in double quotes, with `\` and `"` escaped and control characters removed.
//! Inside double quotes YAML gives no meaning to `---`, `: `, `#`, `&`, `*`, `!` or `|`.
//! The body is wrapped in Liquid `{% raw %}` when it contains `{{` or `{%`, so Jekyll prints
//! such text instead of executing it (or failing the build).

use super::text::{collapse_ws, remove_controls, strip_tags};
use super::{permalink, RenderOptions, VideoEmbed};
use crate::domain::Post;

/// A front-matter scalar: tags removed, whitespace collapsed, trimmed, one surrounding pair of
/// quotes dropped, control characters removed, then double-quoted with `\` and `"` escaped.
pub fn yaml_quoted(value: &str) -> String {
    format!("\"{}\"", yaml_escape(&clean_scalar(value)))
}

pub fn clean_scalar(value: &str) -> String {
    let v = collapse_ws(&remove_controls(
        &strip_tags(value).replace(['\n', '\r', '\t'], " "),
    ));
    let unquoted = [('"', '"'), ('\'', '\''), ('`', '`')]
        .iter()
        .find_map(|(a, b)| {
            v.strip_prefix(*a)
                .and_then(|r| r.strip_suffix(*b))
                .filter(|_| v.chars().count() >= 2)
        })
        .map(str::trim)
        .map(str::to_string);
    unquoted.unwrap_or(v)
}

fn yaml_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn flow_list(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|i| yaml_quoted(i)).collect();
    format!("[{}]", inner.join(", "))
}

/// `feed_url` is written unquoted like the seed, unless YAML would read it differently.
fn plain_or_quoted(url: &str) -> String {
    let clean = remove_controls(url.trim());
    let plain_safe = !clean.is_empty()
        && !clean.contains(": ")
        && !clean.contains(" #")
        && !clean.contains(char::is_whitespace)
        && !clean.ends_with(':')
        && !clean.starts_with([
            '[', ']', '{', '}', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`', '#', '-', '?',
            ',',
        ]);
    if plain_safe {
        clean
    } else {
        yaml_quoted(&clean)
    }
}

/// A URL as a markdown link target: characters that would end or break the link are encoded.
fn md_url(url: &str) -> String {
    url.trim()
        .replace(' ', "%20")
        .replace('(', "%28")
        .replace(')', "%29")
        .replace('<', "%3C")
        .replace('>', "%3E")
}

/// Escape text for a markdown line of our own (excerpt, heading, author): `<` cannot open HTML.
fn md_text(s: &str) -> String {
    s.replace('<', "&lt;")
}

/// Liquid reads `{{` and `{%` anywhere in a Jekyll file's body. Wrap text containing them in
/// `{% raw %}`; an `endraw` inside is broken up so it cannot end the raw block early.
fn liquid_safe(s: &str) -> String {
    if s.contains("{{") || s.contains("{%") {
        format!(
            "{{% raw %}}{}{{% endraw %}}",
            s.replace("endraw", "end\u{200B}raw")
        )
    } else {
        s.to_string()
    }
}

pub fn render_post(post: &Post, opts: &RenderOptions) -> String {
    let mut s = String::with_capacity(post.content_markdown.len() + 2048);
    s.push_str("---\n");
    s.push_str("layout: \"post\"\n");
    s.push_str(&format!("title: {}\n", yaml_quoted(&post.title)));
    s.push_str(&format!(
        "description: {}\n",
        yaml_quoted(&post.description)
    ));
    s.push_str(&format!("author: {}\n", yaml_quoted(&post.author)));
    s.push_str("excerpt_separator: <!--excerpt_end-->\n");
    s.push_str(&format!(
        "canonical_url: {}\n",
        yaml_quoted(&post.canonical_url)
    ));
    s.push_str(&format!(
        "viewing_mode: {}\n",
        yaml_quoted(&post.viewing_mode)
    ));
    s.push_str(&format!("feed_name: {}\n", yaml_quoted(&post.feed_name)));
    s.push_str(&format!("feed_url: {}\n", plain_or_quoted(&post.feed_url)));
    s.push_str(&format!("date: {}\n", super::format_date(&post.date)));
    s.push_str(&format!(
        "permalink: {}\n",
        yaml_quoted(&permalink(post, &opts.permalink))
    ));
    s.push_str(&format!("categories: {}\n", flow_list(&post.categories)));
    s.push_str(&format!("tags: {}\n", flow_list(&post.tags)));
    s.push_str(&format!(
        "tags_normalized: {}\n",
        flow_list(&post.tags_normalized)
    ));
    s.push_str("---\n\n");

    let excerpt = liquid_safe(&md_text(&post.excerpt));
    s.push_str(&excerpt);
    s.push_str("<!--excerpt_end-->\n\n");
    let content = liquid_safe(post.content_markdown.trim());

    if post.collection == "videos" {
        if let Some(id) = &post.youtube_id {
            match opts.video_embed {
                VideoEmbed::Liquid => s.push_str(&format!("{{% youtube {id} %}}\n\n")),
                VideoEmbed::Link => s.push_str(&format!(
                    "[Watch on YouTube](https://www.youtube.com/watch?v={id})\n\n"
                )),
            }
        }
        if !content.is_empty() {
            s.push_str(&content);
            s.push('\n');
        }
    } else {
        s.push_str(&format!("## {}\n\n", liquid_safe(&md_text(&post.title))));
        s.push_str(&format!(
            "**Author:** {}\n\n",
            liquid_safe(&md_text(&post.author))
        ));
        if !content.is_empty() {
            s.push_str(&content);
            s.push_str("\n\n");
        }
        s.push_str(&format!(
            "This post appeared first on \"{}\". [Read the entire article here]({})\n",
            liquid_safe(&md_text(&post.feed_name)),
            md_url(&post.canonical_url)
        ));
    }
    while s.ends_with("\n\n") {
        s.pop();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

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
            ("<b>bold</b>: &anchor !tag #c", "\"bold: &anchor !tag #c\""),
            ("bell\u{7}nul\u{0}", "\"bellnul\""),
        ] {
            assert_eq!(yaml_quoted(input), expect, "{input:?}");
        }
    }

    #[test]
    fn feed_url_is_plain_unless_yaml_needs_quotes() {
        assert_eq!(
            plain_or_quoted("https://www.reddit.com/r/devops/.rss"),
            "https://www.reddit.com/r/devops/.rss"
        );
        assert_eq!(plain_or_quoted("https://x/a b"), "\"https://x/a b\"");
        assert_eq!(plain_or_quoted("https://x/#frag"), "https://x/#frag");
        assert_eq!(plain_or_quoted("https://x/ #c"), "\"https://x/ #c\"");
    }

    #[test]
    fn liquid_is_neutralized() {
        assert_eq!(liquid_safe("a {{ b }}"), "{% raw %}a {{ b }}{% endraw %}");
        assert!(!liquid_safe("{% endraw %}{{x}}").contains("{% endraw %}{{"));
        assert_eq!(liquid_safe("plain { text }"), "plain { text }");
    }
}
