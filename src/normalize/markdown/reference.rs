//! The converter against its reference, the `html2md` crate, byte for byte: on every entry of
//! the real-world corpus and of a generated farm (both skipped with a message when
//! `../shared` is absent), and on generated tag soup. Inputs go through the same sanitizing as
//! in normalization, since that is the only HTML the converter is given.

use proptest::prelude::*;

use super::{convert, dom};
use crate::domain::FeedConfig;

/// The sanitized HTML as html2md must see it to be the reference. html2md kept some elements
/// as raw HTML, which feedsmith writes as markdown (post-format.md 7.3), so html2md is given
/// their plain equivalent: `<img>` without `width`, `height` and `align`; `<details>` and
/// `<summary>` as `<section>` (parsed alike: block elements of the same special kind); `<sub>`
/// and `<sup>` as `<span>` (html2md, like feedsmith now, writes a span's content). Sanitized
/// HTML is html5ever's serialization, so every attribute reads ` name="value"` with no `"`
/// inside the value.
fn plain_equivalent(safe: &str) -> String {
    let safe = safe
        .replace("<details", "<section")
        .replace("</details>", "</section>")
        .replace("<summary", "<section")
        .replace("</summary>", "</section>")
        .replace("<sub", "<span")
        .replace("</sub>", "</span>")
        .replace("<sup", "<span")
        .replace("</sup>", "</span>");
    let mut out = String::with_capacity(safe.len());
    let mut rest = safe.as_str();
    while let Some(i) = rest.find("<img ") {
        out.push_str(&rest[..i]);
        let tag_end = rest[i..].find('>').map_or(rest.len(), |e| i + e + 1);
        let mut tag = rest[i..tag_end].to_string();
        for name in ["width", "height", "align"] {
            let needle = format!(" {name}=\"");
            if let Some(a) = tag.find(&needle) {
                let value_end = tag[a + needle.len()..]
                    .find('"')
                    .map_or(tag.len(), |e| a + needle.len() + e + 1);
                tag.replace_range(a..value_end, "");
            }
        }
        out.push_str(&tag);
        rest = &rest[tag_end..];
    }
    out.push_str(rest);
    out
}

fn ours(safe: &str) -> String {
    match dom::Dom::parse(safe, super::MAX_DEPTH) {
        Some(d) => convert::clean_markdown(&convert::convert(&d)),
        None => String::from("<too deep>"),
    }
}

/// Converts the sanitized content of every entry of every feed file in `dir` both ways and
/// returns (entries compared, descriptions of the differences).
fn compare_dir(dir: &std::path::Path) -> (usize, Vec<String>) {
    let feed = FeedConfig::new("reference", "https://example.org/feed.xml", "blogs");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("readable feed directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let mut compared = 0;
    let mut diffs = Vec::new();
    for path in files {
        let bytes = std::fs::read(&path).expect("readable feed file");
        let Ok(parsed) = crate::parse::parse_feed(&bytes, None, None) else {
            continue;
        };
        for entry in &parsed.entries {
            let Ok(prepared) = crate::normalize::prepare(
                &feed,
                &parsed,
                entry,
                &crate::normalize::entry_key(&feed, entry),
            ) else {
                continue;
            };
            let (html, base) = &prepared.source;
            let safe = &crate::normalize::sanitize::sanitize(html, Some(base));
            compared += 1;
            let expected = html2md::parse_html(&plain_equivalent(safe));
            let got = ours(safe);
            if got != expected {
                diffs.push(format!(
                    "{} / {:?}:\n--- html\n{safe}\n--- html2md\n{expected}\n--- ours\n{got}",
                    path.display(),
                    entry.title
                ));
            }
        }
    }
    (compared, diffs)
}

fn report(what: &str, compared: usize, diffs: &[String]) {
    eprintln!(
        "{what}: {compared} entries compared, {} differ",
        diffs.len()
    );
    assert!(
        diffs.is_empty(),
        "{what}: {} of {compared} entries differ; first:\n{}",
        diffs.len(),
        diffs[..diffs.len().min(3)].join("\n\n")
    );
}

#[test]
fn same_as_html2md_on_the_corpus() {
    let Some(shared) = crate::shared_dir() else {
        return;
    };
    let (compared, diffs) = compare_dir(&shared.join("corpus/feeds"));
    assert!(compared > 1000, "only {compared} corpus entries");
    report("corpus", compared, &diffs);
}

#[test]
fn same_as_html2md_on_a_generated_farm() {
    let Some(shared) = crate::shared_dir() else {
        return;
    };
    let out = tempfile::tempdir().expect("temp dir");
    let status = std::process::Command::new("python3")
        .arg(shared.join("bench/genfarm.py"))
        .arg(out.path())
        .args(["--feeds", "16", "--items", "25", "--seed", "7"])
        .stdout(std::process::Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() => {}
        other => {
            eprintln!("skipping: genfarm.py did not run ({other:?})");
            return;
        }
    }
    let (compared, diffs) = compare_dir(&out.path().join("feeds"));
    assert_eq!(compared, 400, "16 feeds x 25 items");
    report("farm", compared, &diffs);
}

/// Tag soup from the elements the converter treats specially, and text with the characters it
/// escapes, whitespace runs and entities.
fn soup() -> impl Strategy<Value = String> {
    let tag = prop::sample::select(vec![
        "p",
        "div",
        "section",
        "header",
        "footer",
        "br",
        "hr",
        "q",
        "cite",
        "blockquote",
        "details",
        "summary",
        "b",
        "i",
        "s",
        "strong",
        "em",
        "del",
        "u",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "pre",
        "code",
        "img",
        "a",
        "ol",
        "ul",
        "menu",
        "li",
        "sub",
        "sup",
        "table",
        "thead",
        "tbody",
        "tr",
        "td",
        "th",
        "span",
        "dl",
        "dt",
        "dd",
        "figure",
        "figcaption",
        "article",
    ]);
    let attrs = prop::sample::select(vec![
        "",
        " href=\"https://e.org/a%20b?x=1&amp;y=2\"",
        " href=\"/rel\"",
        " href=\"https://e.org/p\" title=\"t\"",
        " src=\"https://e.org/i.png\" alt=\"an &quot;image&quot;\"",
        " src=\"https://e.org/i m.png\" width=\"10\"",
        " src=\"https://e.org/x.png\" title=\"T\"",
        " align=\"center\"",
        " align=\"left\"",
        " class=\"language-rust\"",
        " lang=\"en\" title=\"x&amp;y\"",
    ]);
    let text = prop::sample::select(vec![
        "hello",
        " ",
        "  ",
        "\n",
        "\n\n  ",
        "a * b",
        "_x_",
        "~y~",
        "- item",
        "# h",
        "+1",
        "=",
        "> q",
        "1 &lt; 2 &gt; 0",
        "&amp;",
        "&nbsp;",
        "\u{a0}\u{a0}",
        "tab\there",
        "back\\slash",
        "é",
        "[l](javascript:x)",
        "`c`",
        " x ",
        "{: y}",
    ]);
    let piece = prop_oneof![
        (tag.clone(), attrs).prop_map(|(t, a)| format!("<{t}{a}>")),
        tag.prop_map(|t| format!("</{t}>")),
        text.prop_map(str::to_string),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]
    #[test]
    fn same_as_html2md_on_tag_soup(html in soup()) {
        let safe = crate::normalize::sanitize::sanitize(&html, Some("https://example.org/post"));
        let ours = ours(&safe);
        // html2md parsed the HTML again; where removing elements left a nesting that HTML
        // parsing rebuilds differently (`<h1><h1>` once a `<menu>` between them is gone), its
        // tree is not the sanitized one and it is no reference. Those soups only check that
        // ours does not panic; fixed points of sanitizing are compared.
        if super::super::sanitize::sanitize(&safe, Some("https://example.org/post")) != safe {
            return Ok(());
        }
        // html2md panics on some soups (a list item outside any list inside a quote); there
        // is no reference then, and ours must simply not panic (it did not, to get here).
        if let Ok(expected) = std::panic::catch_unwind(|| html2md::parse_html(&plain_equivalent(&safe))) {
            prop_assert_eq!(ours, expected, "html: {:?} safe: {:?}", html, safe);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]
    /// The post linter's conversion flaws never appear in what feedsmith writes from tag soup:
    /// no markup escaped into text, no empty link, no empty quote line at a quote's edge.
    #[test]
    fn tag_soup_converts_without_linter_findings(html in soup()) {
        let safe = crate::normalize::sanitize::sanitize(&html, Some("https://example.org/post"));
        // A `<li>` outside any list indents everything written before it (html2md's rule, kept
        // in convert.rs), which can split `![`, `[` and `>` markers: no feed writes that.
        let lists = ["<ul", "<ol", "<menu"].iter().map(|t| safe.matches(t).count()).sum::<usize>();
        if safe.contains("<li") && lists == 0 {
            return Ok(());
        }
        let md = super::html_to_markdown(&safe);
        let file = format!("---\nlayout: \"post\"\n---\n\nexcerpt<!--excerpt_end-->\n\n{md}\n");
        let findings: Vec<_> = crate::normalize::lint::lint(&file)
            .into_iter()
            .filter(|f| {
                use crate::normalize::lint::Flaw;
                // Text of the soup may itself read `- item` after `* x`, or `[x](` glued: those
                // are the soup's words, not conversion flaws.
                matches!(f.flaw, Flaw::EscapedMarkup | Flaw::EmptyLink | Flaw::EmptyQuoteLine | Flaw::LayoutTable)
            })
            .collect();
        prop_assert!(findings.is_empty(), "html: {:?}\nsafe: {:?}\nmd:\n{}\n{:?}", html, safe, md, findings);
    }
}
