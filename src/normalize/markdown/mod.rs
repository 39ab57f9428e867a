//! HTML -> markdown, for sanitized HTML only.
//!
//! [`dom`] reads the sanitized HTML back into a tree and [`convert`] writes markdown from it,
//! byte for byte what the `html2md` crate (used before, and still the reference in the tests)
//! wrote. Two protections are added around the conversion:
//! - depth: the conversion recurses, so a hostile document nested thousands of levels deep could
//!   overflow the stack; such documents are flattened to paragraphs of text instead;
//! - markdown syntax smuggled in as text: the conversion escapes `<`, `*`, `_` and `#` in text
//!   but not `[...](...)` or kramdown's `{: ...}`, so `[x](javascript:...)` or `{: onclick=...}`
//!   written as text in the HTML would become live markup after conversion. [`neutralize`]
//!   makes them inert (and writes any remaining `<` outside code as `&lt;`).

mod convert;
pub(super) mod dom;
#[cfg(test)]
mod reference;

use super::text::html_paragraphs;

/// Deeper than this, the HTML is flattened to text paragraphs before conversion.
const MAX_DEPTH: usize = super::html::MAX_DEPTH;

/// The markdown of an HTML string (read with the string reader of [`dom`]; sanitized HTML is
/// expected, anything else is total but not made safe). Normalization converts the sanitized
/// tree instead ([`tree_to_markdown`]), to the same bytes.
pub fn html_to_markdown(html: &str) -> String {
    let md = match dom::Dom::parse(html, MAX_DEPTH) {
        Some(dom) => convert::clean_markdown(&convert::convert_clean(&dom)),
        None => html_paragraphs(html).join("\n\n"),
    };
    finish(&md)
}

/// The markdown of an entry's sanitized tree; `paragraphs` are its plain-text paragraphs
/// (the content of a tree too deep to convert).
pub fn tree_to_markdown(tree: &super::html::Tree, paragraphs: &[String]) -> String {
    let md = if tree.too_deep {
        paragraphs.join("\n\n")
    } else {
        convert::clean_markdown(&convert::convert_clean(&tree.dom))
    };
    finish(&md)
}

/// The safety and clean-up passes after the conversion.
fn finish(md: &str) -> String {
    tidy(&without_feed_footers(&quotes_without_empty_lines(
        &neutralize(md),
    )))
}

/// Without the feed's own footer paragraph, "The post <title> appeared first on <site>."
/// (WordPress/Yoast): feedsmith writes its own footer, so the post would have two. Share-button
/// widget paragraphs ("Share this:", "Like this:") go too: their buttons are gone.
fn without_feed_footers(md: &str) -> String {
    let lower = md.to_lowercase();
    if !lower.contains(" appeared first on ")
        && !lower.contains("share")
        && !lower.contains("like this")
    {
        return md.to_string();
    }
    let mut kept: Vec<&str> = Vec::new();
    let mut after_share = false;
    let mut in_fence = false;
    for p in md.split("\n\n") {
        // Code is the author's text: a chunk inside a fenced block is kept as it is.
        let fences = p
            .lines()
            .filter(|l| l.trim_start().starts_with("```"))
            .count();
        if in_fence || fences > 0 {
            in_fence ^= fences % 2 == 1;
            after_share = false;
            kept.push(p);
            continue;
        }
        // The list of share buttons under a "Share this:" heading goes with it.
        let link_list = p
            .lines()
            .all(|l| l.trim_start().starts_with("* [") || l.trim().is_empty());
        if super::lint::is_feed_footer(p)
            || super::lint::is_boilerplate(p)
            || (after_share && link_list)
        {
            after_share = !super::lint::is_feed_footer(p);
            continue;
        }
        after_share = false;
        kept.push(p);
    }
    kept.join("\n\n")
}

/// Quote blocks without `>` lines that quote nothing at their start or end, or twice in a row
/// (html2md wrote one before and after every quoted paragraph). One empty `>` line between two
/// quoted paragraphs stays: it is what separates them.
fn quotes_without_empty_lines(md: &str) -> String {
    let is_quote = |l: &str| l.trim_start().starts_with('>');
    let is_empty_quote = |l: &str| is_quote(l) && l.trim().chars().all(|c| c == '>' || c == ' ');
    let lines: Vec<&str> = md.split('\n').collect();
    let mut out: Vec<&str> = Vec::with_capacity(lines.len());
    let mut in_fence = false;
    for (i, &line) in lines.iter().enumerate() {
        let t = line.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") {
            in_fence = !in_fence;
        }
        if !in_fence && is_empty_quote(line) {
            let prev_content = out
                .last()
                .is_some_and(|p| is_quote(p) && !is_empty_quote(p));
            let next_content = lines[i + 1..]
                .iter()
                .take_while(|n| is_quote(n))
                .any(|n| !is_empty_quote(n));
            if !(prev_content && next_content) {
                continue;
            }
        }
        out.push(line);
    }
    out.join("\n")
}

/// Make the converted markdown inert outside code (fenced blocks and inline code spans):
/// - `<` becomes `&lt;` (the conversion writes `\<` for a text `<`, already inert, kept as is);
/// - `{:` becomes `\{:`, so text cannot become a kramdown attribute list (`{: onclick=...}`) or
///   extension (`{::nomarkdown}`);
/// - a link target that is not `http(s)`, `mailto` or a fragment (sanitized links are always
///   one of those, so this only hits text like `[x](javascript:...)`) gets its `(` escaped;
/// - a line that would be a link reference definition (`[x]: javascript:...`) gets its `[`
///   escaped.
fn neutralize(md: &str) -> String {
    let mut out = String::with_capacity(md.len() + 16);
    let mut in_fence = false;
    for line in md.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
            out.push_str(line);
            continue;
        }
        if in_fence || !line.contains(['<', '{', '[', ']']) {
            out.push_str(line);
            continue;
        }
        let indent = line.len() - trimmed.len();
        if indent <= 3 && trimmed.starts_with('[') && looks_like_definition(trimmed) {
            out.push_str(&line[..indent]);
            out.push('\\');
            out.push_str(&neutralize_line(trimmed));
        } else {
            out.push_str(&neutralize_line(line));
        }
    }
    out
}

fn looks_like_definition(s: &str) -> bool {
    s.find("]:").is_some_and(|i| !s[..i].contains("]("))
}

fn neutralize_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut in_code = false;
    let mut prev = '\0';
    for (i, c) in line.char_indices() {
        match c {
            '`' => in_code = !in_code,
            '<' if !in_code && prev != '\\' => {
                out.push_str("&lt;");
                prev = c;
                continue;
            }
            '{' if !in_code && prev != '\\' && line[i..].starts_with("{:") => out.push('\\'),
            '(' if !in_code && prev == ']' && !safe_target(&line[i + 1..]) => out.push('\\'),
            _ => {}
        }
        out.push(c);
        prev = c;
    }
    out
}

fn safe_target(rest: &str) -> bool {
    let r = rest.trim_start().trim_start_matches('<');
    let lower: String = r.chars().take(8).collect::<String>().to_ascii_lowercase();
    ["http://", "https://", "mailto:", "#"]
        .iter()
        .any(|p| lower.starts_with(p))
}

/// Trim trailing spaces on lines, collapse runs of blank lines, trim the ends.
fn tidy(md: &str) -> String {
    let mut out = String::with_capacity(md.len());
    let mut blank = 0;
    let mut in_fence = false;
    for line in md.lines() {
        let l = line.trim_end();
        if l.trim_start().starts_with("```") {
            in_fence = !in_fence;
        }
        if l.is_empty() && !in_fence {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(l);
        out.push('\n');
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_common_html() {
        let md = html_to_markdown("<p>Hello <strong>world</strong></p><ul><li>one</li><li>two</li></ul><p><a href=\"https://e.org/x\">link</a></p>");
        assert!(md.contains("Hello **world**"), "{md}");
        assert!(md.contains("one") && md.contains("two"), "{md}");
        assert!(md.contains("[link](https://e.org/x)"), "{md}");
    }

    #[test]
    fn text_cannot_become_html() {
        let md = html_to_markdown(
            "<p>&lt;script&gt;alert(1)&lt;/script&gt; and <code>&lt;b&gt;</code></p>",
        );
        assert!(!md.contains("<script>"), "{md}");
        assert!(md.contains("\\<script"), "{md}");
        assert_eq!(
            neutralize("raw <b>html</b> and `<code>`"),
            "raw &lt;b>html&lt;/b> and `<code>`"
        );
    }

    #[test]
    fn markdown_syntax_in_text_is_inert() {
        let md = html_to_markdown(
            "<p>[click](javascript:alert(1)) [d](data:text/html,x) {: onclick=\"x\"} {::nomarkdown}</p><p>[ref]: javascript:alert(1)</p><p><a href=\"https://e.org/x\">ok</a> <a href=\"mailto:a@b.c\">m</a></p><pre><code>{: keep } [a](b)</code></pre>",
        );
        assert!(md.contains("[click]\\(javascript"), "{md}");
        assert!(md.contains("[d]\\(data"), "{md}");
        assert!(
            md.contains("\\{: onclick") && md.contains("\\{::nomarkdown"),
            "{md}"
        );
        assert!(md.contains("\\[ref]: javascript"), "{md}");
        assert!(
            md.contains("[ok](https://e.org/x)") && md.contains("[m](mailto:a@b.c)"),
            "{md}"
        );
        assert!(md.contains("{: keep } [a](b)"), "code is untouched: {md}");
    }

    /// post-format.md 7.3: the WordPress/Blogger/TechCrunch forms of a sized image (corpus
    /// posts showed them as escaped `&lt;img ...>` text after `jekyll build`).
    #[test]
    fn sized_images_are_markdown_images() {
        for html in [
            r#"<p><img src="https://e.org/a.png" alt="A chart" width="640" height="480"></p>"#,
            r#"<p><img class="alignnone size-full" src="https://e.org/a.png" alt="A chart" width="640"></p>"#,
            r#"<div><img align="left" src="https://e.org/a.png" alt="A chart" style="border:0"></div>"#,
            r#"<a href="https://e.org/big.png"><img src="https://e.org/a.png" alt="A chart" height="1"></a>"#,
        ] {
            let safe = crate::normalize::sanitize(html, Some("https://e.org/post"));
            let md = html_to_markdown(&safe);
            assert!(
                md.contains("![A chart](https://e.org/a.png)"),
                "{html}\n{md}"
            );
            assert!(!md.contains("<img") && !md.contains("&lt;img"), "{md}");
        }
        let md = html_to_markdown(
            r#"<p><img src="https://e.org/a.png" alt="x" title="T" width="9"></p>"#,
        );
        assert_eq!(md, r#"![x](https://e.org/a.png "T")"#);
        // Text that was literally `<img ...>` in the source stays visible text.
        let md = html_to_markdown("<p>write &lt;img src=x width=1&gt; in HTML</p>");
        assert!(md.contains("\\<img src=x width=1"), "{md}");
    }

    /// The linter's flaws on html2md's output (corpus: TechCrunch share buttons and glued
    /// links, podcast contributor tables, quotes), fixed.
    #[test]
    fn converter_flaws_are_fixed() {
        let md = html_to_markdown(
            r#"<p>Via the<a href="https://e.org/b"> blog post</a>, and <a href="https://e.org/s"> </a><a href="https://e.org/t"></a>end.</p>"#,
        );
        assert_eq!(md, "Via the [blog post](https://e.org/b), and end.");
        let md = html_to_markdown(
            r#"<table><tr><td><img src="https://e.org/a.jpg" alt="avatar"></td><td>Tim<br>Host</td></tr></table>"#,
        );
        assert_eq!(md, "![avatar](https://e.org/a.jpg)\n\nTim\nHost");
        let md = html_to_markdown(
            "<table><tr><th>A</th></tr><tr><td><p>one</p><p>two</p></td></tr></table>",
        );
        assert!(md.contains("|one two|") && !md.contains("br"), "{md}");
        let md = html_to_markdown(
            "<p>returns:\n- allowing more\n# not a heading</p><p>The post <a href=\"https://e.org/p\">P</a> appeared first on <a href=\"https://e.org\">E</a>.</p>",
        );
        assert_eq!(md, "returns: - allowing more # not a heading");
        let md = html_to_markdown(
            "<p>Text.</p><div class=\"sharedaddy\"><h3>Share this:</h3><ul><li><a href=\"https://e.org/t\">Twitter</a></li></ul></div><p>Like this:</p><p>More.</p>",
        );
        assert!(
            !md.contains("Share this") && !md.contains("Like this"),
            "{md}"
        );
        assert!(md.starts_with("Text.") && md.ends_with("More."), "{md}");
        let md = html_to_markdown("<blockquote><p>a</p><p>b</p></blockquote><p>c</p>");
        assert_eq!(md, "> a\n>\n> b\n\nc");
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let html = format!(
            "{}deep text{}",
            "<div>".repeat(20_000),
            "</div>".repeat(20_000)
        );
        let md = html_to_markdown(&html);
        assert_eq!(md, "deep text");
    }
}
