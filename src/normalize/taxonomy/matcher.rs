//! How a compiled taxonomy finds its terms in a text: the rules compiled ([`compile`]) into a
//! hash table of the terms' first words (see [`Matcher`]) plus an Aho-Corasick scan for the few
//! terms that begin with a symbol, and the whole-word checks every match must pass.
//!
//! Apart from the scoring because this is the hot part of keyword tagging (it reads every word
//! of every post) and the one with its own reference test: whatever is changed here must still
//! count exactly what one overlapping scan of all terms counted.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use sha2::{Digest, Sha256};

use super::rules::{RuleError, Rules};
use super::{takes_plural, Rule, Target, Taxonomy, SCORING_VERSION};

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
pub(super) struct Matcher {
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

impl Taxonomy {
    /// Count every whole-word match in `text` per rule (see [`Matcher`]).
    pub(super) fn count_matches(&self, text: &str, counts: &mut [u32]) {
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

/// Compile validated rules: patterns shared by terms equal up to ASCII case, the matcher, and
/// the fingerprint that changes whenever the rules or the scoring do.
pub(super) fn compile(rules: Rules) -> Result<Taxonomy, RuleError> {
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
            .map_err(|e| RuleError::Compile(e.to_string()))?;
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
}
