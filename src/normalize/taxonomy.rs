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

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use sha2::{Digest, Sha256};

use crate::domain::FeedConfig;
use crate::normalize::build_tags;

/// The taxonomy shipped with feedsmith (`config/taxonomy.toml`), embedded so that the binary
/// tags posts with no extra file.
pub const DEFAULT_TAXONOMY: &str = include_str!("../../config/taxonomy.toml");

/// What a title match adds to a tag's score (and a title match always tags).
pub const TITLE_WEIGHT: f64 = 3.0;

/// Bumped when the scoring changes, so that stored posts are tagged again (it is part of the
/// fingerprint that `entry_hash` covers).
const SCORING_VERSION: u32 = 1;

/// Longest accepted term: rules are words and short phrases, not sentences.
const MAX_TERM_CHARS: usize = 80;

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

/// The patterns compiled for [`Taxonomy::count_matches`], in two groups.
///
/// A match counts only as a whole word, so a pattern that begins with a word character can only
/// count where a word of the text begins, and the text's word there is the pattern's first word
/// (`ci` of `ci/cd`, `github` of `github actions`), or that word and a plural `s`. Those
/// patterns sit in a small hash table by their first word: each word of the text is hashed as
/// it is read, and only the patterns in its bucket (and, for a word ending in `s`, in the bucket
/// of the word without it) are compared with the text there. A collision only adds a candidate,
/// which the comparison and the whole-word check then reject. An Aho-Corasick scan of every byte
/// did the same work with a several-megabyte transition table whose every step missed the CPU
/// cache on term-dense text (15 % of normalization). The few patterns that begin otherwise
/// (`.net`) may start anywhere and keep an overlapping Aho-Corasick scan. Both find exactly the
/// matches that one overlapping scan of all patterns found (a test compares them).
#[derive(Debug)]
struct Matcher {
    /// `entries[starts[b]..starts[b + 1]]` are the patterns whose first word hashes to bucket
    /// `b`, each with the full hash of that word (a different word in the same bucket is passed
    /// over without reading its pattern) and its text's place in `text`: the lookup reads two
    /// small arrays, not a `String` per candidate.
    starts: Vec<u32>,
    entries: Vec<Candidate>,
    /// The ASCII-lower-cased text of the patterns of `entries`, one after the other.
    text: Vec<u8>,
    /// The longest first word, in bytes: longer words of the text (less a plural `s`) cannot
    /// match.
    max_first_word: usize,
    /// The patterns that begin with another character, if any (in the order of `other_ids`).
    other: Option<AhoCorasick>,
    other_ids: Vec<usize>,
}

/// One pattern in [`Matcher::entries`].
#[derive(Debug, Clone, Copy)]
struct Candidate {
    first_word_hash: u64,
    /// Id into `Taxonomy::patterns`.
    id: u32,
    /// Its text: `Matcher::text[at..at + len]`.
    at: u32,
    len: u32,
}

/// The hash of the empty word (FNV-1a's offset basis).
const WORD_HASH_SEED: u64 = 0xcbf2_9ce4_8422_2325;

/// One step of FNV-1a over the ASCII-lower-cased bytes of a word: the pattern's first word at
/// compile time, the text's words as they are read, so both hash alike whatever the ASCII case.
#[inline]
fn word_hash(h: u64, b: u8) -> u64 {
    (h ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(0x0000_0100_0000_01b3)
}

impl Matcher {
    /// The bucket of a word hash.
    #[inline]
    fn bucket(&self, hash: u64) -> usize {
        (hash as usize) & (self.starts.len().saturating_sub(2))
    }

    /// The candidate patterns of bucket `b`.
    #[inline]
    fn candidates(&self, b: usize) -> &[Candidate] {
        match (self.starts.get(b), self.starts.get(b + 1)) {
            (Some(&from), Some(&to)) => self.entries.get(from as usize..to as usize).unwrap_or(&[]),
            _ => &[],
        }
    }
}

/// Whether the character at byte `i` of `text` (a char boundary) is a word character, and its
/// length; `None` past the end.
#[inline]
fn word_char_at(text: &str, i: usize) -> Option<(bool, usize)> {
    match *text.as_bytes().get(i)? {
        b if b < 0x80 => Some((is_ascii_word_byte(b), 1)),
        _ => text
            .get(i..)?
            .chars()
            .next()
            .map(|c| (is_word_char(c), c.len_utf8())),
    }
}

/// [`is_word_char`] for an ASCII byte.
#[inline]
fn is_ascii_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The byte length of the first word of `s` (its leading run of word characters).
fn first_word_len(s: &str) -> usize {
    let mut end = 0;
    while let Some((true, len)) = word_char_at(s, end) {
        end += len;
    }
    end
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
        let (include_default, own) = parse_rules(text).map_err(err)?;
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
        compile(rules).map_err(err)
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

    /// Count every whole-word match in `text` per rule (see [`Matcher`]).
    fn count_matches(&self, text: &str, counts: &mut [u32]) {
        if text.is_ascii() {
            // Every byte is a character: classify bytes directly (most feed text is ASCII).
            let bytes = text.as_bytes();
            let ascii = |i: usize| bytes.get(i).map(|&b| (is_ascii_word_byte(b), 1));
            self.count_word_starts(text, ascii, counts);
        } else {
            self.count_word_starts(text, |i| word_char_at(text, i), counts);
        }
        let m = &self.matcher;
        if let Some(other) = &m.other {
            for found in other.find_overlapping_iter(text) {
                if let Some(&id) = m.other_ids.get(found.pattern().as_usize()) {
                    self.count_match(text, found.start(), found.end(), id, counts);
                }
            }
        }
    }

    /// Walk the words of `text`, hashing each as it is read, and count the patterns that begin
    /// there. `char_at(i)` is [`word_char_at`], or its byte-wise equal for ASCII text.
    #[inline(always)]
    fn count_word_starts(
        &self,
        text: &str,
        char_at: impl Fn(usize) -> Option<(bool, usize)>,
        counts: &mut [u32],
    ) {
        let bytes = text.as_bytes();
        let mut i = 0;
        while let Some((word, len)) = char_at(i) {
            if !word {
                i += len;
                continue;
            }
            // A word starts at `i` (the previous one was read to its end): hash it, and keep the
            // hash without its last character for a plural `s`.
            let start = i;
            let (mut hash, mut before_last) = (WORD_HASH_SEED, WORD_HASH_SEED);
            while let Some((true, len)) = char_at(i) {
                before_last = hash;
                for &b in bytes.get(i..i + len).unwrap_or_default() {
                    hash = word_hash(hash, b);
                }
                i += len;
            }
            self.count_word(text, start..i, hash, before_last, counts);
        }
    }

    /// Count the patterns that begin with the word `text[word]` (whose hash is `hash`, and
    /// `before_last` without its last character): those whose first word it is, and, when it
    /// ends in `s`, those whose first word it is without the `s`.
    fn count_word(
        &self,
        text: &str,
        word: std::ops::Range<usize>,
        hash: u64,
        before_last: u64,
        counts: &mut [u32],
    ) {
        if word.len() > self.matcher.max_first_word + 1 {
            return;
        }
        self.count_candidates(text, word.start, hash, counts);
        // With equal hashes the first call already compared every candidate of the second
        // (candidates are compared with the text, not the word), which must not count twice.
        let plural = matches!(
            text.as_bytes().get(word.end.wrapping_sub(1)),
            Some(b's' | b'S')
        );
        if plural && before_last != hash {
            self.count_candidates(text, word.start, before_last, counts);
        }
    }

    /// Count the patterns whose first word hashes to `hash` that occur at `start`.
    fn count_candidates(&self, text: &str, start: usize, hash: u64, counts: &mut [u32]) {
        let m = &self.matcher;
        for c in m.candidates(m.bucket(hash)) {
            if c.first_word_hash != hash {
                continue;
            }
            let (at, len) = (c.at as usize, c.len as usize);
            let (Some(found), Some(pattern)) = (
                text.as_bytes().get(start..start + len),
                m.text.get(at..at + len),
            ) else {
                continue;
            };
            if found.eq_ignore_ascii_case(pattern) {
                self.count_match(text, start, start + len, c.id as usize, counts);
            }
        }
    }

    /// Count pattern `id` found at `text[start..end]` for each of its rules, if it is a whole word
    /// (and, for an exact rule, written exactly so).
    fn count_match(&self, text: &str, start: usize, end: usize, id: usize, counts: &mut [u32]) {
        let Some(targets) = self.patterns.get(id) else {
            return;
        };
        if !is_whole_word(text, start, end) {
            return;
        }
        let matched = text.get(start..end).unwrap_or_default();
        for t in targets {
            let exact_ok = !t.exact || self.rules.get(t.rule).is_some_and(|r| r.term == matched);
            if let (true, Some(n)) = (exact_ok, counts.get_mut(t.rule)) {
                *n += 1;
            }
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

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether the text before a match ends in a word character, or in a `.` right after one: `cpp`
/// in `llama.cpp` and `js` in `chart.js` are parts of a name, not words of their own.
fn joined_before(before: &str) -> bool {
    let mut rev = before.chars().rev();
    match rev.next() {
        Some('.') => rev.next().is_some_and(is_word_char),
        Some(c) => is_word_char(c),
        None => false,
    }
}

/// Whether `text[start..end]` is a whole-word match (a plural `s` may follow). Boundaries are
/// checked only where the match itself begins or ends with a word character. A `.` right after
/// a word character joins the match to the word before it: `cpp` in `llama.cpp` is an extension,
/// not a mention of C++. After a match a `.` ends it as usual (`helm.sh` and `llama-server.exe`
/// name the tool).
fn is_whole_word(text: &str, start: usize, end: usize) -> bool {
    let (Some(before), Some(matched), Some(rest)) =
        (text.get(..start), text.get(start..end), text.get(end..))
    else {
        return false;
    };
    let (Some(first), Some(last)) = (matched.chars().next(), matched.chars().next_back()) else {
        return false;
    };
    if is_word_char(first) && joined_before(before) {
        return false;
    }
    if !is_word_char(last) {
        return true;
    }
    let mut after = rest.chars();
    match after.next() {
        None => true,
        Some(c) if !is_word_char(c) => true,
        Some('s') => takes_plural(matched) && after.next().is_none_or(|c| !is_word_char(c)),
        Some(_) => false,
    }
}

/// Parsed but not compiled: tag name -> (terms, exact terms).
type Rules = BTreeMap<String, (Vec<String>, Vec<String>)>;

/// Read the TOML into rules, with messages naming the tag and the key.
fn parse_rules(text: &str) -> Result<(bool, Rules), String> {
    let doc: toml::Table = toml::from_str(text).map_err(|e| {
        format!(
            "not valid TOML: {}",
            e.to_string().trim_end().replace('\n', "\n  ")
        )
    })?;
    let mut include_default = false;
    let mut rules = Rules::new();
    for (key, value) in &doc {
        match key.as_str() {
            "include_default" => {
                include_default = value
                    .as_bool()
                    .ok_or_else(|| format!("include_default = {value}: expected true or false"))?;
            }
            "tags" => {
                let tags = value.as_table().ok_or_else(|| {
                    "`tags` must be tables, one per tag: [tags.Kubernetes] terms = [\"k8s\"]"
                        .to_string()
                })?;
                for (name, rule) in tags {
                    rules.insert(name.clone(), parse_tag(name, rule)?);
                }
            }
            other => {
                return Err(format!(
                    "unknown key `{other}`; expected include_default or [tags.<Tag>] tables"
                ))
            }
        }
    }
    Ok((include_default, rules))
}

fn parse_tag(name: &str, rule: &toml::Value) -> Result<(Vec<String>, Vec<String>), String> {
    let at = format!("tag `{name}`");
    let table = rule
        .as_table()
        .ok_or_else(|| format!("{at}: expected a table with terms = [...] and/or exact = [...]"))?;
    let mut terms = Vec::new();
    let mut exact = Vec::new();
    for (key, value) in table {
        let list = match key.as_str() {
            "terms" => &mut terms,
            "exact" => &mut exact,
            other => {
                return Err(format!(
                    "{at}: unknown key `{other}`; expected terms or exact"
                ))
            }
        };
        let items = value
            .as_array()
            .ok_or_else(|| format!("{at}: `{key}` must be a list of strings"))?;
        for item in items {
            let term = item
                .as_str()
                .ok_or_else(|| format!("{at}: `{key}` contains {item}, expected a string"))?;
            let term = term.trim();
            if !term.chars().any(char::is_alphanumeric) {
                return Err(format!(
                    "{at}: `{key}` term {term:?} has no letter or digit"
                ));
            }
            if term.chars().count() > MAX_TERM_CHARS {
                return Err(format!(
                    "{at}: `{key}` term {term:?} is longer than {MAX_TERM_CHARS} characters"
                ));
            }
            list.push(term.to_string());
        }
    }
    if terms.is_empty() && exact.is_empty() {
        return Err(format!(
            "{at} has no rules; give terms = [\"...\"] (any case) or exact = [\"...\"] (case-sensitive)"
        ));
    }
    let mut seen: Vec<String> = Vec::new();
    for t in terms
        .iter()
        .map(|t| t.to_ascii_lowercase())
        .chain(exact.iter().cloned())
    {
        if seen.contains(&t) {
            return Err(format!("{at}: term {t:?} is listed twice"));
        }
        seen.push(t);
    }
    for t in &terms {
        let lower = t.to_ascii_lowercase();
        if let Some(singular) = lower.strip_suffix('s') {
            if takes_plural(singular) && seen.iter().any(|s| s == singular) {
                return Err(format!(
                    "{at}: term {t:?} is redundant: {singular:?} already matches its plural"
                ));
            }
        }
    }
    // The tag goes through the normal tag rules; it must come out as written.
    let probe = FeedConfig::new("", "", "");
    let (published, _) = build_tags(&[name.to_string()], &probe);
    match published.as_slice() {
        [one] if one == name => Ok((terms, exact)),
        [one] => Err(format!(
            "{at} would be published as `{one}` by the tag rules (post-format.md section 5); write it that way"
        )),
        _ => Err(format!(
            "{at} is not a valid tag: the tag rules (post-format.md section 5) would publish it as {published:?}"
        )),
    }
}

fn compile(rules: Rules) -> Result<Taxonomy, String> {
    let mut tags = Vec::with_capacity(rules.len());
    let mut all_rules: Vec<Rule> = Vec::new();
    let mut pattern_ids: HashMap<String, usize> = HashMap::new();
    let mut pattern_text: Vec<String> = Vec::new();
    let mut patterns: Vec<Vec<Target>> = Vec::new();
    let mut hasher = Sha256::new();
    hasher.update(format!("scoring {SCORING_VERSION}\n"));
    for (tag_id, (name, (terms, exact))) in rules.into_iter().enumerate() {
        hasher.update(format!("tag {}:{name}\n", name.len()));
        let all = terms
            .into_iter()
            .map(|t| (t, false))
            .chain(exact.into_iter().map(|t| (t, true)));
        for (term, is_exact) in all {
            hasher.update(format!("{} {}:{term}\n", u8::from(is_exact), term.len()));
            let key = term.to_ascii_lowercase();
            let id = *pattern_ids.entry(key.clone()).or_insert_with(|| {
                pattern_text.push(key);
                patterns.push(Vec::new());
                patterns.len() - 1
            });
            if let Some(targets) = patterns.get_mut(id) {
                targets.push(Target {
                    rule: all_rules.len(),
                    exact: is_exact,
                });
            }
            all_rules.push(Rule { tag: tag_id, term });
        }
        tags.push(name);
    }
    // Patterns by the hash of their first word, in buckets of a table twice the number of
    // patterns (a power of two), stored as one list of ids with the start of each bucket.
    let (mut first_words, mut other, mut other_ids) = (vec![], vec![], vec![]);
    let mut max_first_word = 0;
    for (id, text) in pattern_text.iter().enumerate() {
        match first_word_len(text) {
            0 => {
                other.push(text);
                other_ids.push(id);
            }
            n => {
                let hash = text.as_bytes()[..n]
                    .iter()
                    .fold(WORD_HASH_SEED, |h, &b| word_hash(h, b));
                first_words.push((hash, id));
                max_first_word = max_first_word.max(n);
            }
        }
    }
    let buckets = (first_words.len() * 2).next_power_of_two().max(2);
    let mut matcher = Matcher {
        starts: vec![0; buckets + 1],
        entries: Vec::with_capacity(first_words.len()),
        text: Vec::new(),
        max_first_word,
        other: None,
        other_ids,
    };
    first_words.sort_by_key(|&(hash, id)| (matcher.bucket(hash), id));
    let mut next = first_words.iter().peekable();
    for b in 0..buckets {
        matcher.starts[b] = matcher.entries.len() as u32;
        while let Some(&(hash, id)) = next.next_if(|(hash, _)| matcher.bucket(*hash) == b) {
            let pattern = pattern_text[id].as_bytes();
            matcher.entries.push(Candidate {
                first_word_hash: hash,
                id: id as u32,
                at: matcher.text.len() as u32,
                len: pattern.len() as u32,
            });
            matcher.text.extend_from_slice(pattern);
        }
    }
    matcher.starts[buckets] = matcher.entries.len() as u32;
    if !other.is_empty() {
        let built = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&other)
            .map_err(|e| format!("cannot compile the rules: {e}"))?;
        matcher.other = Some(built);
    }
    Ok(Taxonomy {
        tags,
        rules: all_rules,
        patterns,
        matcher,
        fingerprint: hex::encode(hasher.finalize()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The matching as first written: one overlapping Aho-Corasick scan of every pattern, each
    /// match kept if it is a whole word. [`Taxonomy::count_matches`] must count the same.
    fn reference_counts(t: &Taxonomy, text: &str) -> Vec<u32> {
        let all = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(lower_patterns(t))
            .unwrap();
        let mut counts = vec![0u32; t.rules.len()];
        for m in all.find_overlapping_iter(text) {
            t.count_match(
                text,
                m.start(),
                m.end(),
                m.pattern().as_usize(),
                &mut counts,
            );
        }
        counts
    }

    /// Every pattern's text, by id.
    fn lower_patterns(t: &Taxonomy) -> Vec<String> {
        t.patterns
            .iter()
            .map(|targets| t.rules[targets[0].rule].term.to_ascii_lowercase())
            .collect()
    }

    fn fast_counts(t: &Taxonomy, text: &str) -> Vec<u32> {
        let mut counts = vec![0u32; t.rules.len()];
        t.count_matches(text, &mut counts);
        counts
    }

    /// Pieces of text around the taxonomy's terms: separators that do and do not end a word,
    /// case changes, plurals, joins, non-ASCII letters and whitespace.
    const PIECES: &[&str] = &[
        " ", "  ", "\n", ".", ". ", ",", "-", "/", "_", "s", "S", "es", "'s", "(", ")", "\u{e9}",
        "\u{a0}", "\u{65e5}", "x", "9", "asp", "my", "llama.", "chart.", "#", "+", "++",
    ];

    proptest::proptest! {
        #[test]
        fn word_table_finds_what_the_overlapping_scan_found(
            picks in proptest::collection::vec((0usize..4000, 0usize..PIECES.len(), 0u8..4), 0..40)
        ) {
            let t = Taxonomy::builtin().unwrap();
            let patterns = lower_patterns(&t);
            let mut text = String::new();
            for (term, piece, case) in picks {
                let lower = &patterns[term % patterns.len()];
                match case {
                    0 => text.push_str(lower),
                    1 => text.push_str(&lower.to_ascii_uppercase()),
                    2 => text.push_str(&t.rules[term % t.rules.len()].term),
                    _ => text.push_str(&lower[..lower.len() / 2]),
                }
                text.push_str(PIECES[piece]);
            }
            proptest::prop_assert_eq!(fast_counts(&t, &text), reference_counts(&t, &text), "{:?}", text);
        }
    }

    #[test]
    fn word_table_finds_what_the_overlapping_scan_found_in_the_corpus() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/feeds");
        let Ok(files) = std::fs::read_dir(&dir) else {
            eprintln!("skipped: {} is absent (the shared corpus)", dir.display());
            return;
        };
        let t = Taxonomy::builtin().unwrap();
        let mut texts = 0;
        for file in files.flatten() {
            let bytes = std::fs::read(file.path()).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            assert_eq!(
                fast_counts(&t, &text),
                reference_counts(&t, &text),
                "{:?}",
                file.path()
            );
            texts += 1;
        }
        assert!(texts >= 100, "{texts} corpus files");
    }

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
