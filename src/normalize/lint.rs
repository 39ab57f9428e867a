//! The post linter: flaws a reader sees in a published post that no unit rule catches on its
//! own, found by reading the rendered file the way `jekyll build` will. It runs in the test
//! suite over every corpus file, the generated farm and the hostile fixtures (zero findings
//! expected), and is public so a maintainer can run it on any export.
//!
//! Each check is about the body (the markdown after the front matter), outside fenced code
//! and inline code spans, where the text is the author's and anything goes.

use std::fmt;

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Flaw {
    /// `&lt;img ...`, `&lt;br/>`, `&lt;p>`, `&lt;table`: source markup that became visible text.
    EscapedMarkup,
    /// A markdown table made from a layout table: an image or a line break in a cell.
    LayoutTable,
    /// `[](url)`: a link with nothing to click.
    EmptyLink,
    /// `word[ text](url)`: a link whose text starts with a space, glued to the word before.
    GluedLink,
    /// Both `* ` and `- ` as list markers in one post.
    MixedListMarkers,
    /// A `>` line with nothing quoted at the start or end of a quote, or twice in a row.
    EmptyQuoteLine,
    /// Our footer twice, or a feed's own "appeared first on" footer kept.
    DuplicatedFooter,
    /// Share buttons and similar widget text.
    Boilerplate,
}

impl fmt::Display for Flaw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flaw::EscapedMarkup => "markup escaped into text",
            Flaw::LayoutTable => "table built from a layout table",
            Flaw::EmptyLink => "empty link",
            Flaw::GluedLink => "link glued to the word before it",
            Flaw::MixedListMarkers => "mixed list markers",
            Flaw::EmptyQuoteLine => "empty quote line",
            Flaw::DuplicatedFooter => "duplicated footer",
            Flaw::Boilerplate => "known boilerplate",
        })
    }
}

/// One flaw, with the line it was found on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub flaw: Flaw,
    pub line: String,
}

/// Tag names whose escaped form in text means markup was lost.
const TAGS: &[&str] = &[
    "img",
    "br",
    "p>",
    "p ",
    "table",
    "tr",
    "td",
    "div",
    "span",
    "a ",
    "sub",
    "sup",
    "details",
    "summary",
    "iframe",
    "figure",
    "ul",
    "ol",
    "li>",
    "em>",
    "strong",
    "b>",
    "i>",
    "h1",
    "h2",
    "h3",
    "blockquote",
    "pre",
    "code",
];

/// Widget text of share buttons and the like (lower case, matched at a paragraph's start).
const BOILERPLATE: &[&str] = &[
    "share this:",
    "click to share on",
    "like this:",
    "like loading...",
    "share on facebook",
    "share on twitter",
    "tweet this",
];

/// The body of a rendered post file (after the front matter), or the whole text when it has
/// none.
fn body(file: &str) -> &str {
    file.strip_prefix("---\n")
        .and_then(|rest| rest.split_once("\n---\n"))
        .map_or(file, |(_, body)| body)
}

/// `line` with inline code spans and image alt texts blanked out (their text is the
/// author's, literally: `![the &lt;tr> element](...)` is an alt text about HTML).
fn without_code(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_code = false;
    let mut in_alt = false;
    let mut prev = '\0';
    for c in line.chars() {
        if c == '`' && !in_alt {
            in_code = !in_code;
            out.push(c);
        } else if c == '[' && prev == '!' && !in_code {
            in_alt = true;
            out.push(c);
        } else if c == ']' && in_alt {
            in_alt = false;
            out.push(c);
        } else if in_code || in_alt {
            out.push(' ');
        } else {
            out.push(c);
        }
        prev = c;
    }
    out
}

/// Every finding in a rendered post file.
pub fn lint(file: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut push = |flaw: Flaw, line: &str| {
        findings.push(Finding {
            flaw,
            line: line.chars().take(200).collect(),
        })
    };
    let body = body(file);
    let mut in_fence = false;
    let mut star_items = None;
    let mut dash_items = None;
    let mut footers = 0;
    let mut prev_quote_empty = false;
    let mut prev: &str = "";
    let lines: Vec<&str> = body.lines().collect();
    for (n, &raw) in lines.iter().enumerate() {
        let trimmed = raw.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
            prev = raw;
            continue;
        }
        if in_fence {
            continue;
        }
        let line = without_code(raw);
        let lower = line.to_lowercase();
        // feedsmith's own lines (the excerpt, `## title`, `**Author:**`) write a text `<` as
        // `&lt;` (render.rs), so there it is text.
        let own = line.ends_with("<!--excerpt_end-->")
            || (line.starts_with("## ") || line.starts_with("**Author:** ")) && n < 6;
        for (i, _) in lower.match_indices("&lt;").filter(|_| !own) {
            let after = lower[i + 4..].trim_start_matches('/');
            if TAGS.iter().any(|t| after.starts_with(t)) {
                push(Flaw::EscapedMarkup, raw);
                break;
            }
        }
        if line.starts_with('|') && (line.contains("![") || lower.contains("<br")) {
            push(Flaw::LayoutTable, raw);
        }
        if line
            .match_indices("[](")
            .any(|(i, _)| !line[..i].ends_with('!'))
        {
            push(Flaw::EmptyLink, raw);
        }
        if glued_link(&line) {
            push(Flaw::GluedLink, raw);
        }
        let item = trimmed.trim_start_matches('>').trim_start();
        if item.starts_with("* ") {
            star_items.get_or_insert(raw);
        } else if item.starts_with("- ") {
            dash_items.get_or_insert(raw);
        }
        let quote_empty = trimmed.trim_end() == ">";
        if quote_empty {
            let next_quoted = lines
                .get(n + 1)
                .is_some_and(|l| l.trim_start().starts_with('>'));
            let prev_quoted = prev.trim_start().starts_with('>');
            if prev_quote_empty || !next_quoted || !prev_quoted {
                push(Flaw::EmptyQuoteLine, raw);
            }
        }
        prev_quote_empty = quote_empty;
        if line.starts_with("This post appeared first on \"") {
            footers += 1;
            if footers == 2 {
                push(Flaw::DuplicatedFooter, raw);
            }
        } else if is_feed_footer(&line) {
            push(Flaw::DuplicatedFooter, raw);
        }
        if is_boilerplate(&line) {
            push(Flaw::Boilerplate, raw);
        }
        prev = raw;
    }
    if let (Some(_), Some(dash)) = (star_items, dash_items) {
        push(Flaw::MixedListMarkers, dash);
    }
    findings
}

/// Share-button widget text ("Share this:", "Click to share on Twitter", "Like this:").
pub fn is_boilerplate(paragraph: &str) -> bool {
    let lower = paragraph.to_lowercase();
    let p = lower.trim_start_matches(['*', '_', '#', ' ']);
    BOILERPLATE.iter().any(|b| p.starts_with(b))
}

/// WordPress's (Yoast's) RSS footer: "The post <title> appeared first on <site>."
pub fn is_feed_footer(line: &str) -> bool {
    let l = line.trim_start_matches(['*', '_', ' ']);
    l.starts_with("The post ") && l.contains(" appeared first on ")
}

/// `x[ text](`: a link opening right after a word character whose text begins with a space.
fn glued_link(line: &str) -> bool {
    line.match_indices("[ ").any(|(i, _)| {
        line[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric())
            && line[i..]
                .split_once("](")
                .is_some_and(|(text, _)| !text.contains(']'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flaws(body: &str) -> Vec<Flaw> {
        lint(&format!("---\nlayout: \"post\"\n---\n\n{body}\n"))
            .into_iter()
            .map(|f| f.flaw)
            .collect()
    }

    #[test]
    fn each_flaw_is_found() {
        assert_eq!(
            flaws("see &lt;img src=\"x\" width=\"1\">"),
            [Flaw::EscapedMarkup]
        );
        assert_eq!(flaws("a&lt;br/>b"), [Flaw::EscapedMarkup]);
        assert_eq!(flaws("| ![](x) |\n|---|"), [Flaw::LayoutTable]);
        assert_eq!(flaws("[](https://e.org)"), [Flaw::EmptyLink]);
        assert_eq!(flaws("for[ x](https://e.org)"), [Flaw::GluedLink]);
        assert_eq!(flaws("* a\n* b\n\n- c"), [Flaw::MixedListMarkers]);
        assert_eq!(flaws("> \n> a"), [Flaw::EmptyQuoteLine]);
        assert_eq!(
            flaws("The post X appeared first on Y."),
            [Flaw::DuplicatedFooter]
        );
        assert_eq!(flaws("Share this:"), [Flaw::Boilerplate]);
    }

    /// Every entry of every feed file in `dir`, normalized (as `blogs`, so none is skipped for
    /// length) and rendered, through the linter: (entries linted, findings by flaw, examples).
    fn lint_dir(
        dir: &std::path::Path,
    ) -> (usize, std::collections::BTreeMap<Flaw, usize>, Vec<String>) {
        use crate::domain::FeedConfig;
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .expect("readable feed directory")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        let (mut linted, mut counts, mut examples) =
            (0, std::collections::BTreeMap::new(), Vec::new());
        for path in files {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let feed = FeedConfig::new("Lint", format!("https://example.org/{name}"), "blogs");
            let bytes = std::fs::read(&path).expect("readable feed file");
            let Ok(parsed) = crate::parse::parse_feed(&bytes, None, Some(&feed.url)) else {
                continue;
            };
            for entry in &parsed.entries {
                let Ok(crate::normalize::Normalized::Post(post)) =
                    crate::normalize::normalize_entry(&feed, &parsed, entry, chrono::Utc::now())
                else {
                    continue;
                };
                linted += 1;
                let file = crate::normalize::render_post(&post, &Default::default());
                for f in lint(&file) {
                    *counts.entry(f.flaw).or_insert(0) += 1;
                    examples.push(format!("{name} / {:?}: {}: {}", post.title, f.flaw, f.line));
                }
            }
        }
        (linted, counts, examples)
    }

    /// Findings that are the feed's own text, not a conversion flaw, with the reason.
    const EXCEPTIONS: &[(&str, &str)] = &[(
        "gorss__remoteok.rss",
        "the feed's descriptions are markdown written as text, glued links included \
         (`Our[ company core values](https://work.doximity.com/)`)",
    )];

    fn report(
        what: &str,
        linted: usize,
        counts: &std::collections::BTreeMap<Flaw, usize>,
        examples: &[String],
    ) {
        let examples: Vec<&String> = examples
            .iter()
            .filter(|e| {
                !EXCEPTIONS
                    .iter()
                    .any(|(file, _)| e.starts_with(&format!("{file} / ")))
            })
            .collect();
        eprintln!("{what}: {linted} posts linted, findings: {counts:?}");
        for e in examples.iter().take(40) {
            eprintln!("  {e}");
        }
        assert!(examples.is_empty(), "{what}: {} findings", examples.len());
    }

    #[test]
    fn no_findings_on_the_corpus() {
        let Some(shared) = crate::shared_dir() else {
            return;
        };
        let (linted, counts, examples) = lint_dir(&shared.join("corpus/feeds"));
        assert!(linted > 1000, "{linted}");
        report("corpus", linted, &counts, &examples);
    }

    #[test]
    fn no_findings_on_a_generated_farm() {
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
        if !status.is_ok_and(|s| s.success()) {
            eprintln!("skipping: genfarm.py did not run");
            return;
        }
        let (linted, counts, examples) = lint_dir(&out.path().join("feeds"));
        assert_eq!(linted, 400);
        report("farm", linted, &counts, &examples);
    }

    /// `FEEDSMITH_LINT_DIR=<export> cargo test --lib lint_an_export -- --ignored --nocapture`
    /// lints every `.md` file below a directory (an `export`, or another build's posts) and
    /// prints the counts: how the before/after figures of issue 21 were measured.
    #[test]
    #[ignore]
    fn lint_an_export() {
        let Some(dir) = std::env::var_os("FEEDSMITH_LINT_DIR") else {
            return;
        };
        let mut stack = vec![std::path::PathBuf::from(dir)];
        let (mut files, mut counts) = (0, std::collections::BTreeMap::new());
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).expect("readable directory").flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "md") {
                    files += 1;
                    let text = std::fs::read_to_string(&p).expect("readable post");
                    for f in lint(&text) {
                        *counts.entry(f.flaw).or_insert(0usize) += 1;
                    }
                }
            }
        }
        eprintln!("{files} posts, findings: {counts:?}");
    }

    #[test]
    fn clean_posts_have_no_findings() {
        assert!(flaws(
            "text `&lt;img>` and \\<img> written as text\n\n![](https://e.org/i.png)\n\n> a\n>\n> b\n\n* a\n* b\n\n[x](https://e.org) for [x](https://e.org)\n\n```\n&lt;br>\n[](x)\n```"
        )
        .is_empty());
    }
}
