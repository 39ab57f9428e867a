//! The published file (post-format.md section 1): front matter, then the body layout, with one
//! trailing newline.
//!
//! Our own body lines (excerpt, `## title`, `**Author:**`, footer) carry untrusted text, so they
//! are escaped for markdown: `<` cannot open raw HTML and `{:` cannot start a kramdown attribute
//! list. Text containing `{{` or `{%` is wrapped in Liquid `{% raw %}` so Jekyll prints it
//! instead of executing it (or failing the build).

use super::frontmatter::front_matter;
use super::{RenderOptions, VideoEmbed};
use crate::domain::Post;

/// A URL as a markdown link target: characters that would end or break the link are encoded.
pub(crate) fn md_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for c in url.trim().chars() {
        match c {
            ' ' => out.push_str("%20"),
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            '"' => out.push_str("%22"),
            c if c.is_control() || c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

/// Escape one line of plain text for markdown: `<` as `&lt;` (no raw HTML), `{:` as `\{:` (no
/// kramdown attribute list or extension), and a leading block marker (`#`, `>`, `-`, `+`, `*`,
/// `=`, `|`, `1.`) escaped so an excerpt that begins with one stays a paragraph.
fn md_text(s: &str) -> String {
    let s = s.replace('<', "&lt;").replace("{:", "\\{:");
    let starts_block = s.starts_with(['#', '>', '-', '+', '*', '=', '|', '~', '`'])
        || s.split_once(['.', ')']).is_some_and(|(n, _)| {
            !n.is_empty() && n.len() <= 9 && n.bytes().all(|b| b.is_ascii_digit())
        });
    if starts_block {
        let mut out = String::with_capacity(s.len() + 1);
        let mut chars = s.chars();
        if s.starts_with(|c: char| c.is_ascii_digit()) {
            // `1. text` -> `1\. text`
            for c in chars.by_ref() {
                if c == '.' || c == ')' {
                    out.push('\\');
                    out.push(c);
                    break;
                }
                out.push(c);
            }
        } else {
            out.push('\\');
        }
        out.extend(chars);
        out
    } else {
        s
    }
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

/// The complete file text: front matter and body, byte-exact per post-format.md section 1
/// (section 7.7 for `videos`).
pub fn render_post(post: &Post, opts: &RenderOptions) -> String {
    let mut s = front_matter(post, opts);
    s.reserve(post.content_markdown.len() + 1024);
    s.push('\n');
    s.push_str(&liquid_safe(&md_text(&post.excerpt)));
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
            liquid_safe(&post.feed_name.replace('<', "&lt;").replace("{:", "\\{:")),
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
    fn liquid_is_neutralized() {
        assert_eq!(liquid_safe("a {{ b }}"), "{% raw %}a {{ b }}{% endraw %}");
        assert!(!liquid_safe("{% endraw %}{{x}}").contains("{% endraw %}{{"));
        assert_eq!(liquid_safe("plain { text }"), "plain { text }");
    }

    #[test]
    fn own_lines_are_escaped() {
        assert_eq!(md_text("a <script> b"), "a &lt;script> b");
        assert_eq!(md_text("x {: onclick=y}"), "x \\{: onclick=y}");
        assert_eq!(md_text("# of users"), "\\# of users");
        assert_eq!(md_text("- item"), "\\- item");
        assert_eq!(md_text("2025. A year"), "2025\\. A year");
        assert_eq!(md_text("1) one"), "1\\) one");
        assert_eq!(md_text("Version 1.2"), "Version 1.2");
        assert_eq!(md_text("日本語"), "日本語");
    }

    #[test]
    fn urls_cannot_break_links() {
        assert_eq!(
            md_url("https://e/a b(c)<d>\"\n"),
            "https://e/a%20b%28c%29%3Cd%3E%22"
        );
    }
}
