//! The one-tree path against the path it replaced, which is the reference:
//! - the sanitizer against ammonia with the same policy, byte for byte on the serialized HTML
//!   (so the same elements, attributes, values and text survive, in the same order): on
//!   ammonia's own test inputs, classic XSS vectors, and random tag soup;
//! - the markdown and the plain-text paragraphs (with and without captions) read off the tree
//!   against the string path (ammonia's output, read again by `markdown::html_to_markdown`,
//!   `text::html_paragraphs` and `text::without_captions`): on every entry of the corpus and of
//!   a generated farm (skipped with a message when `../shared` is absent), and on random soup.

use proptest::prelude::*;

use super::ammonia_vectors::AMMONIA_VECTORS;
use super::Tree;
use crate::domain::FeedConfig;
use crate::normalize::markdown::{html_to_markdown, tree_to_markdown};
use crate::normalize::sanitize::{ammonia_sanitize, base_url, sanitize};
use crate::normalize::text::{html_paragraphs, without_captions};

const BASE: &str = "https://example.org/blog/post";

/// What the string path made of ammonia's output `safe`: markdown, paragraphs, paragraphs
/// without captions.
fn string_path(safe: &str) -> (String, Vec<String>, Vec<String>) {
    (
        html_to_markdown(safe),
        html_paragraphs(safe),
        html_paragraphs(&without_captions(safe)),
    )
}

/// The same from the one tree.
fn tree_path(html: &str, base: Option<&str>) -> (String, Vec<String>, Vec<String>) {
    let tree = Tree::sanitized(html, base_url(base).as_ref());
    let paragraphs = tree.paragraphs(false);
    let md = tree_to_markdown(&tree, &paragraphs);
    let without = tree.paragraphs(true);
    // Without a caption the two are the same walk; the pipeline reuses the first.
    if !tree.has_captions() {
        assert_eq!(without, paragraphs);
    }
    (md, paragraphs, without)
}

/// `None` when the two paths agree on `html`, else what differs.
fn differs(html: &str, base: Option<&str>) -> Option<String> {
    let ammonia = ammonia_sanitize(html, base);
    let ours = sanitize(html, base);
    if ours != ammonia {
        return Some(format!(
            "sanitized HTML differs\n--- html\n{html:?}\n--- ammonia\n{ammonia:?}\n--- ours\n{ours:?}"
        ));
    }
    let old = string_path(&ammonia);
    let new = tree_path(html, base);
    (old != new).then(|| {
        format!("derived text differs\n--- html\n{html:?}\n--- string path\n{old:#?}\n--- tree\n{new:#?}")
    })
}

#[test]
fn ammonia_test_inputs_are_sanitized_as_ammonia_does() {
    for html in AMMONIA_VECTORS {
        for base in [Some(BASE), None] {
            if let Some(d) = differs(html, base) {
                panic!("{d}");
            }
        }
    }
}

/// Classic XSS and mutation-XSS vectors (OWASP's filter evasion cheat sheet and html5sec.org
/// shapes): the same output as ammonia, and none of them active.
#[test]
fn xss_vectors_are_inert() {
    let vectors = [
        r#"<img src=x onerror=alert(1)>"#,
        r#"<IMG SRC="javascript:alert('XSS');">"#,
        r#"<IMG SRC=JaVaScRiPt:alert('XSS')>"#,
        r#"<IMG SRC=`javascript:alert("RSnake says, 'XSS'")`>"#,
        r#"<a href="jav&#x09;ascript:alert(1)">x</a>"#,
        r#"<a href="jav&#x0A;ascript:alert(1)">x</a>"#,
        r#"<a href=" &#14;  javascript:alert(1)">x</a>"#,
        r#"<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>"#,
        r#"<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>"#,
        r#"<a href="vbscript:msgbox(1)">x</a>"#,
        r#"<a href="  JAVASCRIPT:alert(1)">x</a>"#,
        r#"<svg/onload=alert(1)>"#,
        r#"<svg><script>alert(1)</script></svg>"#,
        r#"<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>"#,
        r#"<noscript><p title="</noscript><img src=x onerror=alert(1)>">"#,
        r#"<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert(1)>"#,
        r#"<iframe src="javascript:alert(1)"></iframe>"#,
        r#"<object data="javascript:alert(1)"></object>"#,
        r#"<embed src="javascript:alert(1)">"#,
        r#"<body onload=alert(1)>"#,
        r#"<div style="background:url(javascript:alert(1))">x</div>"#,
        r#"<style>@import 'http://evil/xss.css';</style>"#,
        r#"<meta http-equiv="refresh" content="0;url=javascript:alert(1)">"#,
        r#"<base href="javascript:alert(1)//">"#,
        r#"<link rel="stylesheet" href="javascript:alert(1)">"#,
        r#"<table background="javascript:alert(1)"><td>x</td></table>"#,
        r##"<a href="#" onmouseover="alert(1)">x</a>"##,
        r#"<<script>alert(1);//<</script>"#,
        r#"<scr<script>ipt>alert(1)</scr</script>ipt>"#,
        r#"<img """><script>alert("XSS")</script>">"#,
        r#"<!--[if gte IE 4]><script>alert(1)</script><![endif]-->"#,
        r#"<xmp><img src=x onerror=alert(1)></xmp>"#,
        r#"<textarea><img src=x onerror=alert(1)></textarea>"#,
        r#"<title><img src=x onerror=alert(1)></title>"#,
        r#"<template><img src=x onerror=alert(1)></template>"#,
        r#"<select><option><img src=x onerror=alert(1)></option></select>"#,
        r#"<button formaction="javascript:alert(1)">x</button>"#,
        r#"<input onfocus=alert(1) autofocus>"#,
        r#"<details open ontoggle=alert(1)>"#,
        r#"<a href="/rel" ping="https://evil/">x</a>"#,
        r#"<a href="https://ok.example/">ok</a><a href="//cdn.example/x">p</a>"#,
        r#"<img src="data:image/svg+xml;base64,PHN2Zz4=">"#,
        r#"<a href="mailto:a@b.c?subject=x">m</a>"#,
        r#"<a href="http://[::1">bad host</a><img src="http://%zz">"#,
    ];
    for html in vectors {
        for base in [Some(BASE), None] {
            if let Some(d) = differs(html, base) {
                panic!("{d}");
            }
            // The tags of the output (text is escaped, so every `<` starts one).
            let out: String = sanitize(html, base)
                .to_ascii_lowercase()
                .split('<')
                .skip(1)
                .map(|t| format!("<{}>", t.split('>').next().unwrap_or_default()))
                .collect();
            for bad in [
                "<script",
                // As a value's scheme (a relative `javascript:x` resolved against the base
                // is a harmless https path).
                "=\"javascript:",
                "=\"vbscript:",
                "=\"data:",
                " on",
                "style=",
                "<iframe",
                "<svg",
                "<math",
                "<object",
                "<embed",
                "<form",
                "<meta",
                "<base",
                "<link",
                "ping=",
                "formaction",
            ] {
                assert!(!out.contains(bad), "{bad} in {out} (from {html})");
            }
        }
    }
}

#[test]
fn links_get_rel_and_urls_resolve() {
    assert_eq!(
        sanitize(
            r#"<a href="/rel" title="t">r</a><img src="img.png" alt="a">"#,
            Some(BASE)
        ),
        r#"<a href="https://example.org/rel" title="t" rel="noopener noreferrer nofollow">r</a><img src="https://example.org/blog/img.png" alt="a">"#
    );
    // Without a base, a relative URL is removed, and the attribute order is ammonia's.
    assert_eq!(
        sanitize(r#"<a href="/rel" title="t">r</a>"#, None),
        r#"<a title="t" rel="noopener noreferrer nofollow">r</a>"#
    );
}

/// The tree the converter reads is the one it read back from ammonia's string: a `<pre>`
/// loses its leading newline, carriage returns from references become line feeds, and a
/// caption inside a caption ends the cut at the first end tag.
#[test]
fn read_back_details() {
    for html in [
        "<pre>\n\nx</pre>",
        "<pre><x-y>\n</x-y>\ny</pre>",
        "<pre>\n</pre>",
        "<pre><code>\nx</code></pre>",
        "a&#13;b&#13;&#10;c<pre>&#13;&#10;d</pre>",
        "<figure><figcaption>a<figcaption>b</figcaption>c</figcaption>d</figure>",
        "<p>x<figcaption>cap</figcaption>y</p>",
        "<p>x</p><FIGCAPTION>open",
    ] {
        for base in [Some(BASE), None] {
            if let Some(d) = differs(html, base) {
                panic!("{d}");
            }
        }
    }
}

#[test]
fn deep_trees_are_flattened_as_before() {
    for html in [
        format!("{}deep text{}", "<div>".repeat(70), "</div>".repeat(70)),
        format!("{}x<p>y</p>", "<b>".repeat(63)),
        format!("{}x<p>y</p>", "<b>".repeat(64)),
        format!("{}x<br>y", "<span>".repeat(64)),
        format!("{}x", "<b-b><i>".repeat(2000)),
        "<div>".repeat(20_000),
    ] {
        if let Some(d) = differs(&html, Some(BASE)) {
            panic!("{}", &d[..d.len().min(4000)]);
        }
    }
}

/// Compare every entry of the feed files in `dir`; returns (entries, differences).
fn compare_dir(dir: &std::path::Path) -> (usize, Vec<String>) {
    let feed = FeedConfig::new("identity", "https://example.org/feed.xml", "blogs");
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
            let key = crate::normalize::entry_key(&feed, entry);
            let Ok(p) = crate::normalize::prepare(&feed, &parsed, entry, &key) else {
                continue;
            };
            compared += 1;
            let (html, base) = &p.source;
            if let Some(d) = differs(html, Some(base)) {
                diffs.push(format!("{} / {:?}: {d}", path.display(), entry.title));
            }
            // And the pipeline's own values are the tree path's.
            let new = tree_path(html, Some(base));
            assert_eq!(p.paragraphs, new.1);
            assert_eq!(tree_to_markdown(&p.tree, &p.paragraphs), new.0);
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
fn same_as_the_string_path_on_the_corpus() {
    let Some(shared) = crate::shared_dir() else {
        return;
    };
    let (compared, diffs) = compare_dir(&shared.join("corpus/feeds"));
    assert!(compared > 1000, "only {compared} corpus entries");
    report("corpus", compared, &diffs);
}

#[test]
fn same_as_the_string_path_on_a_generated_farm() {
    let Some(shared) = crate::shared_dir() else {
        return;
    };
    let out = tempfile::tempdir().expect("temp dir");
    let status = std::process::Command::new("python3")
        .arg(shared.join("bench/genfarm.py"))
        .arg(out.path())
        .args(["--feeds", "16", "--items", "25", "--seed", "11"])
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

/// Tag soup for the sanitizer: allowed and removed elements, elements removed with their
/// content, foreign content (SVG, MathML and their integration points), HTML elements with SVG
/// or MathML names (which ammonia removes with their content), table foster-parenting,
/// hostile and relative URLs, event handlers, comments, doctypes, character references,
/// carriage returns and no-break spaces.
fn soup() -> impl Strategy<Value = String> {
    let tag = prop::sample::select(vec![
        "p",
        "div",
        "span",
        "b",
        "i",
        "em",
        "strong",
        "a",
        "img",
        "br",
        "hr",
        "wbr",
        "pre",
        "code",
        "ul",
        "ol",
        "li",
        "menu",
        "h1",
        "h3",
        "blockquote",
        "q",
        "cite",
        "table",
        "tr",
        "td",
        "th",
        "tbody",
        "thead",
        "caption",
        "col",
        "colgroup",
        "figure",
        "figcaption",
        "details",
        "summary",
        "sub",
        "sup",
        "dl",
        "dt",
        "dd",
        "section",
        "article",
        "nav",
        "center",
        "font",
        "ruby",
        "rt",
        "area",
        "map",
        "script",
        "style",
        "iframe",
        "object",
        "embed",
        "form",
        "input",
        "button",
        "select",
        "option",
        "textarea",
        "noscript",
        "xmp",
        "template",
        "title",
        "head",
        "body",
        "html",
        "frameset",
        "frame",
        "svg",
        "math",
        "mi",
        "mtext",
        "mglyph",
        "annotation-xml",
        "foreignObject",
        "desc",
        "text",
        "circle",
        "image",
        "cos",
        "set",
        "label",
        "fieldset",
        "legend",
        "my-elem",
        "noembed",
        "listing",
        "plaintext",
    ]);
    let attrs = prop::sample::select(vec![
        "",
        " href=\"https://e.org/a%20b?x=1&amp;y=2\"",
        " href=\"/rel\"",
        " href=\"rel/x y\"",
        " href=\"//cdn.e.org/x\"",
        " href=\"javascript:alert(1)\"",
        " href=\" JaVaScRiPt:x\"",
        " href=\"mailto:a@b.c\"",
        " href=\"ftp://e.org/\"",
        " href=\"http://[::1\"",
        " href=\"#frag\"",
        " src=\"https://e.org/i.png\" alt=\"an &quot;image&quot; <x> &amp;\"",
        " src=\"i m.png\" width=\"10\" height=1 align=left",
        " src=\"data:image/png;base64,xx\"",
        " title=\"T &nbsp; \u{a0} > <\" lang=en",
        " onclick=\"x()\" style=\"color:red\" class=\"c\" id=\"i\"",
        " name=\"anchor\" rel=\"me\" hreflang=\"en\"",
        " encoding=\"text/html\"",
        " encoding='image/svg+xml'",
        " xlink:href=\"javascript:x\"",
        " cite=\"javascript:x\" datetime=\"2020\"",
        " colspan=2 scope=row summary=s",
        " start=3 dir=rtl",
        " href=\"/a\" href=\"/b\"",
    ]);
    let text = prop::sample::select(vec![
        "hello",
        " ",
        "\n",
        "\n\n",
        "\r\n",
        "&#13;",
        "&#13;&#10;",
        "a * b",
        "1 < 2 > 0",
        "&lt;b&gt;",
        "&amp;",
        "&amp;amp;",
        "&nbsp;",
        "\u{a0}",
        "&quot;q&quot;",
        "&notanentity;",
        "&copy",
        "é",
        "<!-- c -->",
        "<!--",
        "-->",
        "<!DOCTYPE html>",
        "<?pi x?>",
        "</",
        "<",
        "[l](javascript:x)",
        "{: y}",
        "Image: credit",
        "Photo by X on Unsplash",
    ]);
    let piece = prop_oneof![
        3 => (tag.clone(), attrs).prop_map(|(t, a)| format!("<{t}{a}>")),
        2 => tag.prop_map(|t| format!("</{t}>")),
        3 => text.prop_map(str::to_string),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

proptest! {
    // 10 000 cases: about Ns in a debug build (see docs/performance.md).
    #![proptest_config(ProptestConfig::with_cases(10_000))]
    #[test]
    fn same_as_ammonia_and_the_string_path_on_tag_soup(html in soup()) {
        for base in [Some(BASE), None] {
            let d = differs(&html, base);
            prop_assert!(d.is_none(), "{}", d.unwrap_or_default());
        }
    }
}
