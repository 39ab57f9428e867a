//! The published file (post-format.md section 1): front matter, then the body layout, with one
//! trailing newline.
//!
//! Our own body lines (excerpt, `## title`, `**Author:**`, footer) carry untrusted text, so they
//! are escaped for markdown: `<` cannot open raw HTML and `{:` cannot start a kramdown attribute
//! list. Text containing `{{`, `{%`, `%}` or `}}` is wrapped in Liquid `{% raw %}` so Jekyll
//! prints it instead of executing it (or failing the build).
//!
//! Links we write ourselves (the footer, `canonical_url`) pass [`safe_link`] last: an absolute
//! http(s) URL without userinfo, with `{`, `}` and `|` percent-encoded (the `url` crate keeps
//! them in query and fragment, and Liquid reads them anywhere in the file). Whatever the
//! normalizer chose, a `javascript:`, `file:` or `data:` link is never written.

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

/// Whether `s` holds a Liquid delimiter (`{{`, `{%`, `%}`, `}}`).
pub(crate) fn has_liquid(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("%}") || s.contains("}}")
}

/// `url` as a link feedsmith may publish: an absolute `http`/`https` URL with a host, without
/// userinfo (removed), with `{`, `}` and `|` percent-encoded and no whitespace or control
/// characters. `None` for anything else (`javascript:`, `file:`, `data:`, relative, garbage).
pub fn safe_link(url: &str) -> Option<String> {
    let trimmed = url.trim();
    let parsed = url::Url::parse(trimmed).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(str::is_empty) {
        return None;
    }
    // The text as given (byte-exact for the golden cases) unless userinfo must go.
    let text = if parsed.username().is_empty() && parsed.password().is_none() {
        trimmed.to_string()
    } else {
        crate::redact::without_userinfo(trimmed)
    };
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '{' => out.push_str("%7B"),
            '}' => out.push_str("%7D"),
            '|' => out.push_str("%7C"),
            c if c.is_control() || c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    Some(out)
}

/// Liquid reads `{{` and `{%` anywhere in a Jekyll file's body. Wrap text containing a Liquid
/// delimiter in `{% raw %}`; an `endraw` inside is broken up so it cannot end the raw block
/// early.
fn liquid_safe(s: &str) -> String {
    if has_liquid(s) {
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
        // Ids are validated where they are parsed (video.rs); checked again here because this
        // one is written into a Liquid tag unescaped.
        let id = post.youtube_id.as_ref().filter(|id| {
            !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
        if let Some(id) = id {
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
        let feed_name = liquid_safe(&post.feed_name.replace('<', "&lt;").replace("{:", "\\{:"));
        match safe_link(&post.canonical_url) {
            Some(url) => s.push_str(&format!(
                "This post appeared first on \"{feed_name}\". [Read the entire article here]({})\n",
                md_url(&url)
            )),
            // Not a publishable link: the footer names the feed without one.
            None => s.push_str(&format!("This post appeared first on \"{feed_name}\".\n")),
        }
    }
    while s.ends_with("\n\n") {
        s.pop();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn post() -> Post {
        use chrono::TimeZone;
        Post {
            entry_key: "k".into(),
            title: "Title".into(),
            description: "Description".into(),
            author: "Author".into(),
            canonical_url: "https://example.org/post/1".into(),
            viewing_mode: "external".into(),
            feed_name: "Feed".into(),
            feed_url: "https://example.org/feed.xml".into(),
            collection: "blogs".into(),
            date: chrono::Utc
                .with_ymd_and_hms(2025, 8, 3, 22, 48, 15)
                .unwrap(),
            slug: "title".into(),
            categories: vec!["Cat".into()],
            tags: vec!["Tag".into()],
            tags_normalized: vec!["tag".into()],
            excerpt: "Excerpt".into(),
            content_markdown: "Body".into(),
            youtube_id: None,
            reddit_segment: None,
            content_hash: String::new(),
        }
    }

    /// `Err` when Liquid would execute anything of `file` but our own tags: the front matter
    /// holds no delimiter at all; the body's delimiters are inside `{% raw %}` blocks, each
    /// ended by our own `{% endraw %}` and by nothing before it; the only other tag is a
    /// `{% youtube <id> %}` with an id of YouTube's alphabet.
    fn liquid_check(file: &str) -> Result<(), String> {
        let fm_end = file
            .get(4..)
            .and_then(|r| r.find("\n---\n"))
            .ok_or("no front matter")?
            + 4;
        let (front, body) = file.split_at(fm_end);
        if has_liquid(front) {
            return Err(format!("a Liquid delimiter in the front matter:\n{front}"));
        }
        yaml_rust2::YamlLoader::load_from_str(&front[4..])
            .map_err(|e| format!("front matter is not YAML: {e}\n{front}"))?;
        let mut rest = body;
        loop {
            let next = ["{{", "{%", "%}", "}}"]
                .iter()
                .filter_map(|d| rest.find(d).map(|i| (i, *d)))
                .min();
            let Some((i, delim)) = next else {
                return Ok(());
            };
            let here = &rest[i..];
            if let Some(inner) = here.strip_prefix("{% raw %}") {
                let end = inner
                    .find("{% endraw %}")
                    .ok_or_else(|| format!("unterminated raw block: {here}"))?;
                if inner.find("endraw") != Some(end + 3) {
                    return Err(format!("a raw block ends early: {here}"));
                }
                rest = &inner[end + "{% endraw %}".len()..];
            } else if let Some(tag) = here.strip_prefix("{% youtube ") {
                let (id, after) = tag.split_once(" %}").ok_or("broken youtube tag")?;
                if id.is_empty()
                    || !id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    return Err(format!("youtube tag with id {id:?}"));
                }
                rest = after;
            } else {
                return Err(format!("{delim} outside a raw block: {here}"));
            }
        }
    }

    fn hostile() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                Just("{"),
                Just("}"),
                Just("%"),
                Just("|"),
                Just("raw"),
                Just("endraw"),
                Just("end"),
                Just(" "),
                Just("-"),
                Just("a"),
                Just("\n"),
                Just("<"),
                Just(":"),
                Just("\""),
                Just("\\"),
                Just("#"),
            ],
            0..40,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Random strings of `{%}|` and `raw` in every field of a post never give Liquid
        /// anything to execute, and the front matter stays valid YAML.
        #[test]
        fn no_field_can_inject_liquid(
            fields in prop::collection::vec(hostile(), 12),
            video in any::<bool>(),
            embed_link in any::<bool>(),
        ) {
            let mut p = post();
            p.title = fields[0].clone();
            p.description = fields[1].clone();
            p.author = fields[2].clone();
            p.canonical_url = format!("https://example.org/a?q={}#{}", fields[3], fields[4]);
            p.feed_name = fields[5].clone();
            p.feed_url = format!("https://example.org/f?x={}", fields[6]);
            p.categories = vec![fields[7].clone()];
            p.tags = vec![fields[8].clone()];
            p.tags_normalized = vec![fields[8].to_lowercase()];
            p.excerpt = fields[9].clone();
            p.content_markdown = fields[10].clone();
            p.slug = fields[11].clone();
            if video {
                p.collection = "videos".into();
                p.youtube_id = Some(fields[11].clone());
            }
            let opts = RenderOptions {
                video_embed: if embed_link { VideoEmbed::Link } else { VideoEmbed::Liquid },
                ..RenderOptions::default()
            };
            let file = render_post(&p, &opts);
            if let Err(e) = liquid_check(&file) {
                return Err(TestCaseError::fail(format!("{e}\n--- file:\n{file}")));
            }
        }
    }

    #[test]
    fn the_checker_catches_what_it_must() {
        let ok = render_post(&post(), &RenderOptions::default());
        assert_eq!(liquid_check(&ok), Ok(()));
        assert!(liquid_check(&ok.replace("Body", "{{ site }}")).is_err());
        assert!(liquid_check(&ok.replace("Body", "{% raw %}x{%endraw%}y{% endraw %}")).is_err());
        assert!(liquid_check(&ok.replace("Title", "{{x}}")).is_err());
    }

    #[test]
    fn only_http_links_are_written() {
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "file:///etc/passwd",
            "data:text/html,<script>alert(1)</script>",
            "/relative/path",
            "vbscript:x",
            "http://",
            "",
        ] {
            assert_eq!(safe_link(bad), None, "{bad}");
            let mut p = post();
            p.canonical_url = bad.to_string();
            let file = render_post(&p, &RenderOptions::default());
            assert!(file.contains("canonical_url: \"\"\n"), "{file}");
            assert!(
                file.ends_with("This post appeared first on \"Feed\".\n"),
                "{file}"
            );
            assert!(
                !file.contains("javascript:") && !file.contains("file:") && !file.contains("data:")
            );
        }
        assert_eq!(
            safe_link("https://alice:PW@host/a?k={{site.secret}}#{%raw%}|x").as_deref(),
            Some("https://host/a?k=%7B%7Bsite.secret%7D%7D#%7B%raw%%7D%7Cx")
        );
        assert_eq!(
            safe_link(" https://example.org/post/1 ").as_deref(),
            Some("https://example.org/post/1")
        );
    }

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
