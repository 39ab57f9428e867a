//! The keyword taxonomy: canonical tags and the rules that produce them, loaded from TOML,
//! validated once, compiled into a table of the terms' first words (see `Matcher`) and scored
//! per post.
//!
//! # File format
//! ```toml
//! # Optional, for user files: start from the built-in taxonomy; tags of this file replace
//! # built-in tags of the same name, other built-in tags stay.
//! include_default = false
//!
//! [tags."CI/CD"]                      # the canonical tag, exactly as it is published
//! terms = ["ci/cd", "continuous integration", "github actions"]  # case-insensitive
//! exact = ["CD"]                       # case-sensitive (acronyms that are words in lower case)
//! ```
//! A term is a word or a phrase. It matches only as whole words: the characters around a match
//! must not be letters, digits or `_` (`helm` does not match `overwhelm`, `go` does not match
//! `good`); a term that ends in a letter other than `s` also matches with a plural `s`
//! (`container` matches `containers`). Only the sides where the term begins or ends with a letter
//! or digit are checked, so `.net` matches in `asp.net` and `c++` in `c++20`. `terms` ignore
//! ASCII case; `exact` terms must match byte for byte. Several tags may share a term (`github
//! actions` can count for both `CI/CD` and `GitHub Actions`), and matches may overlap (`github
//! actions` also counts for a tag with the term `github`).
//!
//! Validation (each message names the file, the tag and the key): unknown keys, tags without
//! rules, empty or symbol-only terms, terms listed twice in one tag, and tag names that the tag
//! rules (post-format.md section 5) would publish differently: `Infrastructure as Code` would be
//! published as `Infrastructure As Code`, so the file must say so.
//!
//! # Scoring
//! For each canonical tag:
//! - a match in the **title** tags the post (a title states what the post is about);
//! - in the **body**, each distinct term that matched `k` times adds `1 + ln k`: repeats count,
//!   with diminishing returns, and several different terms of a tag add up;
//! - the body score must reach `1 + ln(1 + max(0, words - 150) / 350)`, where `words` counts the
//!   body's words: one mention is enough in a short post (150 words or fewer, threshold 1); a
//!   500-word post (1.69) needs two; a 1,200-word post (2.39) four mentions of one term or three
//!   spread over two terms; a 5,000-word article (3.70) fifteen mentions of one term or four
//!   different terms. A passing mention in a long text does not tag it.
//!
//! The score of a tag is its body score plus [`TITLE_WEIGHT`] when the title matched. Tags are
//! ranked by score (then by name, so the order is deterministic) and the first `max_tags` kept.
//!
//! The file format is read in `taxonomy/rules.rs` (with its messages) and compiled and matched in
//! `taxonomy/matcher.rs` (the first-word table and the whole-word checks); this file holds the
//! compiled taxonomy and the scoring.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

mod matcher;
mod rules;

use matcher::{compile, Matcher};
use rules::parse_rules;

/// The taxonomy shipped with feedsmith (`config/taxonomy.toml`), embedded so that the binary
/// tags posts with no extra file.
pub const DEFAULT_TAXONOMY: &str = include_str!("../../config/taxonomy.toml");

/// What a title match adds to a tag's score (and a title match always tags).
pub const TITLE_WEIGHT: f64 = 3.0;

/// Bumped when the scoring changes, so that stored posts are tagged again (it is part of the
/// fingerprint that `entry_hash` covers).
const SCORING_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("taxonomy {source_name}: {message}")]
pub struct TaxonomyError {
    /// The file (or "the built-in taxonomy").
    pub source_name: String,
    pub message: String,
}

/// One rule (a tag's term) a pattern can satisfy.
#[derive(Debug, Clone)]
struct Target {
    /// Index into [`Taxonomy::rules`].
    rule: usize,
    exact: bool,
}

/// One term of one tag.
#[derive(Debug, Clone)]
struct Rule {
    tag: usize,
    /// The term as written in the file (matched byte for byte when `exact`; shown by
    /// `inspect --explain`).
    term: String,
}

/// A compiled, validated taxonomy. Immutable, `Send + Sync`; compile it once and share it.
#[derive(Debug)]
pub struct Taxonomy {
    tags: Vec<String>,
    rules: Vec<Rule>,
    /// One entry per pattern (terms equal up to ASCII case share a pattern).
    patterns: Vec<Vec<Target>>,
    matcher: Matcher,
    fingerprint: String,
}

/// How one tag scored on one post.
#[derive(Debug, Clone, PartialEq)]
pub struct TagScore {
    pub tag: String,
    pub score: f64,
    /// Terms that matched in the title.
    pub title_terms: Vec<String>,
    /// Terms that matched in the body, with their counts, most frequent first.
    pub body_terms: Vec<(String, usize)>,
}

/// Why a candidate tag was not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Only in the body, and below the threshold for the text's length.
    BelowThreshold,
    /// Good enough, but `max_tags` better tags came first.
    OverCap,
}

/// The outcome of tagging one post: kept tags (best first) and the candidates left out, with
/// the numbers behind the decision, for `inspect --explain`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tagging {
    pub words: usize,
    pub threshold: f64,
    pub kept: Vec<TagScore>,
    pub rejected: Vec<(TagScore, Rejection)>,
}

impl Tagging {
    /// The kept tag names, best first.
    pub fn tags(&self) -> Vec<String> {
        self.kept.iter().map(|t| t.tag.clone()).collect()
    }
}

/// The body score a tag needs in a text of `words` words (see the module documentation).
pub fn threshold(words: usize) -> f64 {
    1.0 + (1.0 + (words.saturating_sub(150) as f64) / 350.0).ln()
}

impl Taxonomy {
    /// Parse, validate and compile a taxonomy file. `source_name` names it in messages. A file
    /// with `include_default = true` starts from the built-in taxonomy.
    pub fn from_toml(text: &str, source_name: &str) -> Result<Taxonomy, TaxonomyError> {
        let err = |message: String| TaxonomyError {
            source_name: source_name.to_string(),
            message,
        };
        let (include_default, own) = parse_rules(text).map_err(|e| err(e.to_string()))?;
        let mut rules = if include_default {
            let builtin = DEFAULT_TAXONOMY;
            let (_, base) = parse_rules(builtin)
                .map_err(|m| err(format!("the built-in taxonomy it includes is invalid: {m}")))?;
            base
        } else {
            BTreeMap::new()
        };
        rules.extend(own);
        if rules.is_empty() {
            return Err(err(
                "no tags; add tables such as [tags.Kubernetes] with terms = [\"k8s\", \"kubectl\"] (or set [enrich] keyword_tags = false)".into(),
            ));
        }
        compile(rules).map_err(|e| err(e.to_string()))
    }

    /// The built-in taxonomy, compiled once per process.
    pub fn builtin() -> Result<Arc<Taxonomy>, TaxonomyError> {
        static BUILTIN: OnceLock<Result<Arc<Taxonomy>, TaxonomyError>> = OnceLock::new();
        BUILTIN
            .get_or_init(|| {
                Taxonomy::from_toml(
                    DEFAULT_TAXONOMY,
                    "the built-in taxonomy (config/taxonomy.toml)",
                )
                .map(Arc::new)
            })
            .clone()
    }

    /// Number of canonical tags.
    pub fn len(&self) -> usize {
        self.tags.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }

    /// The canonical tags, sorted.
    pub fn tag_names(&self) -> &[String] {
        &self.tags
    }

    /// A hash of the compiled rules and the scoring version: posts are tagged again when it
    /// changes.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Score every tag whose rules match `title` or `body`, keep those that pass (title match,
    /// or body score over the length threshold), best first, at most `max_tags`.
    pub fn tag(&self, title: &str, body: &str, max_tags: usize) -> Tagging {
        // Counts per rule: a flat array, so a match costs an increment.
        let mut title_counts = vec![0u32; self.rules.len()];
        let mut body_counts = vec![0u32; self.rules.len()];
        self.count_matches(title, &mut title_counts);
        self.count_matches(body, &mut body_counts);
        // (tag, rule) of every rule that matched, grouped by tag with the rules kept in file
        // order (a stable sort): no map, and nothing cloned for rules that did not match.
        let mut hits: Vec<(usize, usize)> = title_counts
            .iter()
            .zip(&body_counts)
            .enumerate()
            .filter(|(_, (&t, &b))| t > 0 || b > 0)
            .filter_map(|(rule, _)| self.rules.get(rule).map(|r| (r.tag, rule)))
            .collect();
        hits.sort_by_key(|&(tag, _)| tag);

        let words = count_words(body);
        let threshold = threshold(words);
        let mut candidates: Vec<(TagScore, bool)> = Vec::new();
        for group in hits.chunk_by(|a, b| a.0 == b.0) {
            let id = group[0].0;
            let mut title_terms = Vec::new();
            let mut body_terms = Vec::new();
            for &(_, rule) in group {
                let term = &self.rules[rule].term;
                if title_counts[rule] > 0 {
                    title_terms.push(term.clone());
                }
                if body_counts[rule] > 0 {
                    body_terms.push((term.clone(), body_counts[rule] as usize));
                }
            }
            body_terms.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let body_score: f64 = body_terms.iter().map(|(_, k)| 1.0 + (*k as f64).ln()).sum();
            let in_title = !title_terms.is_empty();
            let passes = in_title || body_score >= threshold;
            let score = body_score + if in_title { TITLE_WEIGHT } else { 0.0 };
            let Some(tag) = self.tags.get(id) else {
                continue;
            };
            candidates.push((
                TagScore {
                    tag: tag.clone(),
                    score,
                    title_terms,
                    body_terms,
                },
                passes,
            ));
        }
        candidates.sort_by(|a, b| {
            b.0.score
                .total_cmp(&a.0.score)
                .then_with(|| a.0.tag.cmp(&b.0.tag))
        });
        let mut kept = Vec::new();
        let mut rejected = Vec::new();
        for (score, passes) in candidates {
            if !passes {
                rejected.push((score, Rejection::BelowThreshold));
            } else if kept.len() >= max_tags {
                rejected.push((score, Rejection::OverCap));
            } else {
                kept.push(score);
            }
        }
        Tagging {
            words,
            threshold,
            kept,
            rejected,
        }
    }
}

/// `text.split_whitespace().count()`, without decoding the ASCII majority of the text.
fn count_words(text: &str) -> usize {
    if !text.is_ascii() {
        return crate::normalize::words(text).count();
    }
    // ASCII: a word starts at each non-space byte after a space (or at the start). One
    // branch-free pass, about 3x faster than `split_whitespace().count()`.
    let (mut words, mut after_space) = (0, true);
    for &b in text.as_bytes() {
        let space = crate::normalize::is_ascii_space(b);
        words += usize::from(after_space & !space);
        after_space = space;
    }
    words
}

/// Terms of three or more characters ending in a letter other than `s` also match with an `s`.
fn takes_plural(term: &str) -> bool {
    term.len() >= 3
        && term
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphabetic() && c != 's' && c != 'S')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_words_is_split_whitespace() {
        for text in [
            "",
            "  ",
            "one",
            " two  words ",
            "tabs\tand\nlines\r\n",
            "nbsp\u{a0}splits\u{2003}em space",
            "caf\u{e9} na\u{ef}ve \u{65e5}\u{672c}",
            "\u{85}next line\u{3000}ideographic",
            "vt\u{0b}ff\u{0c}cr\r\u{1c}fs is not a space\u{1f}",
            "\u{0b}leading and trailing\u{0c}",
            "\tascii\x0b only,\x0c with  every\r\nspace ",
        ] {
            assert_eq!(
                count_words(text),
                text.split_whitespace().count(),
                "{text:?}"
            );
        }
    }

    fn tax(text: &str) -> Taxonomy {
        Taxonomy::from_toml(text, "test.toml").unwrap()
    }

    fn err(text: &str) -> String {
        Taxonomy::from_toml(text, "test.toml")
            .unwrap_err()
            .to_string()
    }

    const SMALL: &str = r#"
[tags.Kubernetes]
terms = ["kubernetes", "k8s", "kubectl", "helm"]
[tags.Go]
terms = ["golang", "go"]
[tags."CI/CD"]
terms = ["ci/cd", "continuous integration", "github actions"]
[tags."GitHub Actions"]
terms = ["github actions"]
[tags.GitHub]
terms = ["github"]
[tags.AWS]
exact = ["AWS"]
terms = ["amazon web services"]
[tags.Containers]
terms = ["container", "docker"]
[tags.".NET"]
terms = [".net", "dotnet"]
"#;

    /// `n` words of filler with no term in them.
    fn filler(n: usize) -> String {
        "lorem ipsum dolor sit amet ".repeat(n / 5)
    }

    #[test]
    fn a_title_mention_tags() {
        let t = tax(SMALL);
        let r = t.tag("Helm charts for beginners", &filler(2000), 10);
        assert_eq!(r.tags(), ["Kubernetes"]);
        assert_eq!(r.kept[0].title_terms, ["helm"]);
    }

    #[test]
    fn a_passing_mention_in_a_long_text_does_not_tag() {
        let t = tax(SMALL);
        let body = format!("{} we once used kubectl. {}", filler(500), filler(500));
        let r = t.tag("My week", &body, 10);
        assert!(r.kept.is_empty(), "{r:?}");
        assert_eq!(r.rejected[0].1, Rejection::BelowThreshold);
        // ...but in a short post it does.
        let r = t.tag("My week", "We once used kubectl to fix it.", 10);
        assert_eq!(r.tags(), ["Kubernetes"]);
        // And a long text that keeps returning to the topic is tagged.
        let body = format!(
            "{} kubectl and helm, k8s. {} kubernetes again, kubectl. {}",
            filler(300),
            filler(300),
            filler(300)
        );
        assert_eq!(t.tag("My week", &body, 10).tags(), ["Kubernetes"]);
    }

    #[test]
    fn aliases_and_shared_overlapping_terms() {
        let t = tax(SMALL);
        let r = t.tag("Moving our pipelines to GitHub Actions", "", 10);
        assert_eq!(r.tags(), ["CI/CD", "GitHub", "GitHub Actions"]);
        let r = t.tag("k8s or K8S?", "", 10);
        assert_eq!(r.tags(), ["Kubernetes"]);
        assert_eq!(r.kept[0].title_terms, ["k8s"]);
    }

    #[test]
    fn whole_words_only() {
        let t = tax(SMALL);
        for title in [
            "I feel overwhelmed",
            "A good day",
            "Gopher ergonomics",
            "ago",
            "helmet",
            "k8sx",
        ] {
            assert!(t.tag(title, "", 10).kept.is_empty(), "{title}");
        }
        assert_eq!(t.tag("Go is good", "", 10).tags(), ["Go"]);
        assert_eq!(t.tag("(helm)", "", 10).tags(), ["Kubernetes"]);
        assert_eq!(t.tag("helm's charts", "", 10).tags(), ["Kubernetes"]);
        // Plural `s`, and symbol-edged terms inside words.
        assert_eq!(
            t.tag("Containers everywhere", "", 10).tags(),
            ["Containers"]
        );
        assert_eq!(t.tag("ASP.NET tips", "", 10).tags(), [".NET"]);
        // A `.` after a word joins a term to it (an extension); after a term it does not.
        assert!(t
            .tag("values from chart.helm and my.docker", "", 10)
            .kept
            .is_empty());
        assert_eq!(t.tag("We use helm.", "", 10).tags(), ["Kubernetes"]);
        assert_eq!(t.tag("see helm.sh", "", 10).tags(), ["Kubernetes"]);
        // `exact` is case-sensitive; `terms` are not.
        assert!(t
            .tag("aws is a word in some languages", "", 10)
            .kept
            .is_empty());
        assert_eq!(t.tag("AWS costs", "", 10).tags(), ["AWS"]);
        assert_eq!(t.tag("AMAZON WEB SERVICES", "", 10).tags(), ["AWS"]);
    }

    #[test]
    fn ranked_and_capped() {
        let t = tax(SMALL);
        let r = t.tag(
            "Docker and GitHub Actions",
            "We run kubectl. kubectl again. Helm too. Some golang.",
            2,
        );
        // Title tags rank first (score + 3); the cap keeps the best two.
        assert_eq!(r.kept.len(), 2);
        assert!(r.kept.iter().all(|k| !k.title_terms.is_empty()), "{r:?}");
        assert!(r
            .rejected
            .iter()
            .any(|(s, why)| s.tag == "Kubernetes" && *why == Rejection::OverCap));
    }

    #[test]
    fn threshold_grows_with_length() {
        assert_eq!(threshold(0), 1.0);
        assert_eq!(threshold(150), 1.0);
        assert!(threshold(500) > 1.0 && threshold(500) <= 1.0 + 2f64.ln());
        assert!(threshold(5000) > 3.0);
    }

    #[test]
    fn validation_names_file_tag_and_key() {
        let e = err("[tags.Kubernetes]\nterm = [\"k8s\"]\n");
        assert!(
            e.contains("test.toml") && e.contains("`Kubernetes`") && e.contains("`term`"),
            "{e}"
        );
        let e = err("[tags.Kubernetes]\n");
        assert!(e.contains("`Kubernetes` has no rules"), "{e}");
        let e = err("[tags.Kubernetes]\nterms = [\"--\"]\n");
        assert!(e.contains("no letter or digit"), "{e}");
        let e = err("[tags.Kubernetes]\nterms = [\"k8s\", \"K8s\"]\n");
        assert!(e.contains("listed twice"), "{e}");
        let e = err("[tags.Kubernetes]\nterms = [\"pod\", \"pods\"]\n");
        assert!(e.contains("\"pods\" is redundant"), "{e}");
        let e = err("[tags.\"Infrastructure as Code\"]\nterms = [\"iac\"]\n");
        assert!(e.contains("`Infrastructure As Code`"), "{e}");
        let e = err("[tags.Kubernetes]\nterms = \"k8s\"\n");
        assert!(e.contains("`terms` must be a list"), "{e}");
        let e = err("version = 2\n");
        assert!(e.contains("unknown key `version`"), "{e}");
        let e = err("");
        assert!(e.contains("no tags"), "{e}");
        let e = err("[tags.Kubernetes\n");
        assert!(
            e.contains("not valid TOML") && e.contains("test.toml"),
            "{e}"
        );
    }

    #[test]
    fn include_default_extends_and_overrides() {
        let base = Taxonomy::builtin().unwrap();
        let t = tax("include_default = true\n[tags.Feedsmith]\nterms = [\"feedsmith\"]\n");
        assert_eq!(t.len(), base.len() + 1);
        assert_eq!(
            t.tag("feedsmith and k8s", "", 10).tags(),
            ["Feedsmith", "Kubernetes"]
        );
        assert_ne!(t.fingerprint(), base.fingerprint());
    }

    #[test]
    fn the_builtin_taxonomy_is_valid_and_large() {
        let t = Taxonomy::builtin().unwrap();
        assert!(t.len() >= 150, "{} tags", t.len());
        let fp = t.fingerprint().to_string();
        assert_eq!(Taxonomy::builtin().unwrap().fingerprint(), fp);
    }
}
