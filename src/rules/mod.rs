//! Entry rules: keep, drop, tag, categorize and route entries (`[[rules]]`, `[[feeds.rules]]`;
//! README "Rules", docs/rules.md).
//!
//! This stage owns the rule settings (compiled from the configuration's tables by
//! [`compile_rule`], which `config.rs` calls once per load, so a bad regex is an error at startup
//! and never in a poll) and their evaluation on a [`Subject`], the plain facts of one entry.
//! It reads nothing else of the program: normalization builds the subject, calls [`evaluate`]
//! and applies the [`Decision`] (src/normalize/ruled.rs), which is how every path that makes a
//! post (poll, article arrival, model step, reprocess, `inspect`) gets the same result.
//!
//! Regexes are the `regex` crate's: linear time whatever the pattern and the input (a feed's
//! text cannot make a rule slow), Unicode-aware `\b` and `(?i)`, which the examples use.

mod lang;

use std::fmt::Write as _;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

pub use lang::{detect as detect_lang, CONFIDENCE_FLOOR};

/// Compiled regexes are capped (the `regex` crate's default is 10 MiB); a rule that needs more
/// is a mistake, said at load.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The text fields a regex condition can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Title,
    /// The entry's plain text (what the post's body says, without markup).
    Content,
    Author,
    /// The canonical URL.
    Url,
    /// Any of the entry's categories (and the feed's configured ones).
    Categories,
    /// The feed's name.
    Feed,
    /// The collection, as routed by the rules before this one.
    Collection,
}

impl Field {
    fn key(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Content => "content",
            Field::Author => "author",
            Field::Url => "url",
            Field::Categories => "categories",
            Field::Feed => "feed",
            Field::Collection => "collection",
        }
    }

    fn of(key: &str) -> Option<Field> {
        Some(match key {
            "title" => Field::Title,
            "content" => Field::Content,
            "author" => Field::Author,
            "url" => Field::Url,
            "categories" => Field::Categories,
            "feed" => Field::Feed,
            "collection" => Field::Collection,
            _ => return None,
        })
    }
}

/// A rule's `when`, compiled.
#[derive(Debug, Clone)]
pub enum Condition {
    Matches(Field, regex::Regex),
    WordsLt(usize),
    WordsGt(usize),
    /// ISO 639-1 code; `negate` for `"!en"`.
    Lang {
        code: String,
        negate: bool,
    },
    /// The post's date is more than this many seconds before now.
    OlderThan(i64),
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
}

impl Condition {
    /// A stable text form: the fingerprint's input and what `inspect --explain` prints.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        s
    }

    fn write(&self, s: &mut String) {
        let list = |s: &mut String, name: &str, items: &[Condition]| {
            let _ = write!(s, "{name} = [");
            for (i, c) in items.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                s.push('{');
                c.write(s);
                s.push('}');
            }
            s.push(']');
        };
        match self {
            Condition::Matches(f, re) => {
                let _ = write!(s, "{} = {:?}", f.key(), re.as_str());
            }
            Condition::WordsLt(n) => {
                let _ = write!(s, "words_lt = {n}");
            }
            Condition::WordsGt(n) => {
                let _ = write!(s, "words_gt = {n}");
            }
            Condition::Lang { code, negate } => {
                let _ = write!(s, "lang = \"{}{code}\"", if *negate { "!" } else { "" });
            }
            Condition::OlderThan(secs) => {
                let _ = write!(s, "older_than = \"{secs}s\"");
            }
            Condition::All(items) => list(s, "all", items),
            Condition::Any(items) => list(s, "any", items),
            Condition::Not(c) => {
                s.push_str("not = {");
                c.write(s);
                s.push('}');
            }
        }
    }
}

/// What a rule does when its condition matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Not published; remembered as skipped with the rule's name as the reason. Stops.
    Drop,
    /// Published (and, under `keep_only`, allowed). Stops.
    Keep,
    /// Tags added (through the usual tag rules, post-format.md 5).
    Tag(Vec<String>),
    /// Front-matter categories added.
    Category(Vec<String>),
    /// Another collection: the post's folder and permalink prefix.
    Route(String),
    /// Another minimum of plain-text characters than the feed's `min_content_chars`.
    MinChars(usize),
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Drop => "drop",
            Action::Keep => "keep",
            Action::Tag(_) => "tag",
            Action::Category(_) => "category",
            Action::Route(_) => "route",
            Action::MinChars(_) => "min_chars",
        }
    }

    /// `tag ["a", "b"]`, `route "copilot"`: for explanations.
    pub fn describe(&self) -> String {
        match self {
            Action::Drop | Action::Keep => self.name().to_string(),
            Action::Tag(t) | Action::Category(t) => format!("{} {t:?}", self.name()),
            Action::Route(c) => format!("route {c:?}"),
            Action::MinChars(n) => format!("min_chars {n}"),
        }
    }
}

/// One compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Its `name`, else its position (`rules[2]`, `feeds[4].rules[0]`).
    pub name: String,
    pub when: Condition,
    pub action: Action,
}

impl Rule {
    fn fingerprint_text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.name,
            self.when.describe(),
            self.action.describe()
        )
    }
}

/// The rules that apply to one feed, in evaluation order (its own, then the global ones), and
/// its `keep_only`. Cheap to clone (shared). Two sets are equal when their fingerprints are.
#[derive(Clone, Default)]
pub struct FeedRules {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    rules: Vec<Rule>,
    keep_only: bool,
    fingerprint: String,
}

impl FeedRules {
    pub fn new(rules: Vec<Rule>, keep_only: bool) -> FeedRules {
        let mut h = Sha256::new();
        h.update(if keep_only {
            "keep_only\n"
        } else {
            "keep_all\n"
        });
        for r in &rules {
            h.update(r.fingerprint_text().as_bytes());
        }
        let fingerprint = if rules.is_empty() && !keep_only {
            String::new()
        } else {
            hex::encode(h.finalize())
        };
        FeedRules {
            inner: Arc::new(Inner {
                rules,
                keep_only,
                fingerprint,
            }),
        }
    }

    /// No rule and no `keep_only`: normalization is exactly what it was without rules.
    pub fn is_empty(&self) -> bool {
        self.inner.rules.is_empty() && !self.inner.keep_only
    }

    pub fn rules(&self) -> &[Rule] {
        &self.inner.rules
    }

    pub fn keep_only(&self) -> bool {
        self.inner.keep_only
    }

    /// Hex sha256 of the rules as compiled (empty for no rules): part of the entry hash, so a
    /// changed rule is noticed by the next poll and by `reprocess`.
    pub fn fingerprint(&self) -> &str {
        &self.inner.fingerprint
    }
}

impl PartialEq for FeedRules {
    fn eq(&self, other: &Self) -> bool {
        self.inner.fingerprint == other.inner.fingerprint
    }
}

impl Eq for FeedRules {}

impl std::fmt::Debug for FeedRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedRules")
            .field("rules", &self.inner.rules.len())
            .field("keep_only", &self.inner.keep_only)
            .finish()
    }
}

/// The facts of one entry that rules test.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub title: &'a str,
    /// Plain text of the content.
    pub content: &'a str,
    pub author: &'a str,
    pub url: &'a str,
    pub categories: &'a [String],
    pub feed: &'a str,
    pub collection: &'a str,
    pub date: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

/// One rule that matched, and what it did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Applied {
    pub rule: String,
    pub action: String,
}

/// What the rules decided for one entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// Every rule that matched, in order.
    pub applied: Vec<Applied>,
    /// The reason it is not published: `rule "NAME"`, or the keep-list's.
    pub dropped: Option<String>,
    /// The `drop` rule's name (not set for the keep-list).
    pub dropped_by: Option<String>,
    pub tags: Vec<String>,
    pub categories: Vec<String>,
    pub collection: Option<String>,
    pub min_chars: Option<usize>,
}

/// The reason of an entry a `keep_only` feed does not publish.
pub const KEEP_ONLY_REASON: &str = "keep_only: no keep rule matched";

/// The skip reason of an entry a rule dropped.
pub fn drop_reason(rule: &str) -> String {
    format!("rule {rule:?}")
}

/// `no job posts 2, keep_only 1`: drops by rule, for the poll's log line and summaries (empty
/// when nothing was dropped).
pub fn drops_summary(drops: &std::collections::BTreeMap<String, usize>) -> String {
    drops
        .iter()
        .map(|(rule, n)| format!("{rule} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Lazily computed facts: the word count and the language are only worked out when a rule asks.
struct Facts<'a> {
    subject: Subject<'a>,
    collection: String,
    words: Option<usize>,
    lang: Option<Option<&'static str>>,
}

impl Facts<'_> {
    fn words(&mut self) -> usize {
        *self
            .words
            .get_or_insert_with(|| self.subject.content.split_whitespace().count())
    }

    fn lang(&mut self) -> Option<&'static str> {
        *self
            .lang
            .get_or_insert_with(|| lang::detect(self.subject.content))
    }

    fn test(&mut self, c: &Condition) -> bool {
        match c {
            Condition::Matches(field, re) => match field {
                Field::Title => re.is_match(self.subject.title),
                Field::Content => re.is_match(self.subject.content),
                Field::Author => re.is_match(self.subject.author),
                Field::Url => re.is_match(self.subject.url),
                Field::Feed => re.is_match(self.subject.feed),
                Field::Collection => re.is_match(&self.collection),
                Field::Categories => self.subject.categories.iter().any(|c| re.is_match(c)),
            },
            Condition::WordsLt(n) => self.words() < *n,
            Condition::WordsGt(n) => self.words() > *n,
            Condition::Lang { code, negate } => match self.lang() {
                None => false,
                Some(found) => (found == code) != *negate,
            },
            Condition::OlderThan(secs) => {
                (self.subject.now - self.subject.date).num_seconds() > *secs
            }
            Condition::All(items) => items.iter().all(|c| self.test(c)),
            Condition::Any(items) => items.iter().any(|c| self.test(c)),
            Condition::Not(c) => !self.test(c),
        }
    }
}

/// Evaluate `rules` on `subject`, in order: `drop` and `keep` stop, the other actions add up.
/// Under `keep_only`, an entry no `keep` rule matched is dropped.
pub fn evaluate(rules: &FeedRules, subject: &Subject) -> Decision {
    let mut facts = Facts {
        subject: *subject,
        collection: subject.collection.to_string(),
        words: None,
        lang: None,
    };
    let mut d = Decision::default();
    let mut kept = false;
    for rule in rules.rules() {
        if !facts.test(&rule.when) {
            continue;
        }
        d.applied.push(Applied {
            rule: rule.name.clone(),
            action: rule.action.describe(),
        });
        match &rule.action {
            Action::Drop => {
                d.dropped = Some(drop_reason(&rule.name));
                d.dropped_by = Some(rule.name.clone());
                return d;
            }
            Action::Keep => {
                kept = true;
                break;
            }
            Action::Tag(tags) => extend_unique(&mut d.tags, tags),
            Action::Category(cats) => extend_unique(&mut d.categories, cats),
            Action::Route(c) => {
                facts.collection = c.clone();
                d.collection = Some(c.clone());
            }
            Action::MinChars(n) => d.min_chars = Some(*n),
        }
    }
    if rules.keep_only() && !kept {
        d.dropped = Some(KEEP_ONLY_REASON.to_string());
    }
    d
}

fn extend_unique(into: &mut Vec<String>, items: &[String]) {
    for i in items {
        if !into.contains(i) {
            into.push(i.clone());
        }
    }
}

/// A rule table the configuration cannot use: names the rule, the key and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{rule}: `{key}`: {message}\n  fix: {fix}")]
pub struct RuleError {
    /// `rule "no job posts" (rules[0])` or `rules[3]`.
    pub rule: String,
    pub key: String,
    pub message: String,
    pub fix: String,
}

const WHEN_KEYS: &str = "title, content, author, url, categories, feed, collection, words_lt, words_gt, lang, older_than, all, any, not";
const RULE_KEYS: &str = "name, when, action, tags, category, collection, min_chars";
const ACTIONS: &str = "\"drop\", \"keep\", \"tag\", \"category\", \"route\", \"min_chars\"";

/// Compile one rule table. `position` is how it is found in the file (`rules[0]`,
/// `feeds[4].rules[1]`); it is also its name when it has none.
pub fn compile_rule(value: &toml::Value, position: &str) -> Result<Rule, RuleError> {
    let name = value
        .get("name")
        .and_then(toml::Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    let label = match &name {
        Some(n) => format!("rule {n:?} ({position})"),
        None => position.to_string(),
    };
    let err = |key: &str, message: String, fix: &str| RuleError {
        rule: label.clone(),
        key: key.to_string(),
        message,
        fix: fix.to_string(),
    };
    let Some(table) = value.as_table() else {
        return Err(err(
            position,
            format!("expected a table, found {}", value.type_str()),
            "write it as [[rules]] with name, when and action keys, or as { when = {...}, action = \"drop\" }",
        ));
    };
    for (key, v) in table {
        match key.as_str() {
            "name" if !v.is_str() => {
                return Err(err(
                    "name",
                    format!("expected a string, found {}", v.type_str()),
                    "give the rule a name in quotes, e.g. name = \"no job posts\"",
                ))
            }
            "name" | "when" | "action" | "tags" | "category" | "collection" | "min_chars" => {}
            other => {
                return Err(err(
                    other,
                    "unknown key".to_string(),
                    &format!("use one of: {RULE_KEYS}"),
                ))
            }
        }
    }
    let when = match table.get("when") {
        None => {
            return Err(err(
                "when",
                "missing".to_string(),
                "add the condition, e.g. when = { title = \"(?i)hiring\" }",
            ))
        }
        Some(w) => condition(w, "when", &err)?,
    };
    let action_name = match table.get("action") {
        None => {
            return Err(err(
                "action",
                "missing".to_string(),
                &format!("add action = one of {ACTIONS}"),
            ))
        }
        Some(a) => a.as_str().ok_or_else(|| {
            err(
                "action",
                format!("expected a string, found {}", a.type_str()),
                &format!("use one of {ACTIONS}"),
            )
        })?,
    };
    let strings = |key: &str| -> Result<Option<Vec<String>>, RuleError> {
        let Some(v) = table.get(key) else {
            return Ok(None);
        };
        let list: Vec<String> = match v {
            toml::Value::String(s) => vec![s.trim().to_string()],
            toml::Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map(|s| s.trim().to_string()))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    err(
                        key,
                        "expected strings".to_string(),
                        &format!("write {key} = [\"a\", \"b\"]"),
                    )
                })?,
            other => {
                return Err(err(
                    key,
                    format!("expected a list of strings, found {}", other.type_str()),
                    &format!("write {key} = [\"a\", \"b\"]"),
                ))
            }
        };
        let list: Vec<String> = list.into_iter().filter(|s| !s.is_empty()).collect();
        if list.is_empty() {
            return Err(err(
                key,
                "is empty".to_string(),
                &format!("give at least one value, e.g. {key} = [\"copilot\"]"),
            ));
        }
        Ok(Some(list))
    };
    let used = |keys: &[&str]| -> Result<(), RuleError> {
        for key in ["tags", "category", "collection", "min_chars"] {
            if table.contains_key(key) && !keys.contains(&key) {
                return Err(err(
                    key,
                    format!("not used by action = {action_name:?}"),
                    &format!(
                        "remove it, or use the action it belongs to ({})",
                        match key {
                            "tags" => "action = \"tag\"",
                            "category" => "action = \"category\"",
                            "collection" => "action = \"route\"",
                            _ => "action = \"min_chars\"",
                        }
                    ),
                ));
            }
        }
        Ok(())
    };
    let action = match action_name {
        "drop" => {
            used(&[])?;
            Action::Drop
        }
        "keep" => {
            used(&[])?;
            Action::Keep
        }
        "tag" => {
            used(&["tags"])?;
            Action::Tag(strings("tags")?.ok_or_else(|| {
                err(
                    "tags",
                    "missing for action = \"tag\"".to_string(),
                    "add the tags to add, e.g. tags = [\"kubernetes\"]",
                )
            })?)
        }
        "category" => {
            used(&["category"])?;
            Action::Category(strings("category")?.ok_or_else(|| {
                err(
                    "category",
                    "missing for action = \"category\"".to_string(),
                    "add the category, e.g. category = \"Security\"",
                )
            })?)
        }
        "route" => {
            used(&["collection"])?;
            let c = table
                .get("collection")
                .map(|v| v.as_str().map(str::trim).unwrap_or_default())
                .ok_or_else(|| {
                    err(
                        "collection",
                        "missing for action = \"route\"".to_string(),
                        "add the collection to route to, e.g. collection = \"copilot\"",
                    )
                })?;
            if c.is_empty()
                || !c
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
            {
                return Err(err(
                    "collection",
                    format!("{c:?} is not a folder name"),
                    "use letters, digits, '-' or '_' (e.g. \"copilot\")",
                ));
            }
            Action::Route(c.to_string())
        }
        "min_chars" => {
            used(&["min_chars"])?;
            let n = table
                .get("min_chars")
                .and_then(toml::Value::as_integer)
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    err(
                        "min_chars",
                        "missing or not a number of 0 or more".to_string(),
                        "add the minimum, e.g. min_chars = 400",
                    )
                })?;
            Action::MinChars(usize::try_from(n).unwrap_or(usize::MAX))
        }
        other => {
            return Err(err(
                "action",
                format!("unknown action {other:?}"),
                &format!("use one of {ACTIONS}"),
            ))
        }
    };
    Ok(Rule {
        name: name.unwrap_or_else(|| position.to_string()),
        when,
        action,
    })
}

/// A `when` table (several keys: all of them must match) or one item of `all`/`any`.
fn condition(
    v: &toml::Value,
    path: &str,
    err: &dyn Fn(&str, String, &str) -> RuleError,
) -> Result<Condition, RuleError> {
    let Some(table) = v.as_table() else {
        return Err(err(
            path,
            format!("expected a table, found {}", v.type_str()),
            "write the condition as a table, e.g. { title = \"(?i)hiring\" }",
        ));
    };
    if table.is_empty() {
        return Err(err(
            path,
            "is empty".to_string(),
            &format!("give at least one of: {WHEN_KEYS}"),
        ));
    }
    let mut all = Vec::with_capacity(table.len());
    for (key, value) in table {
        let at = format!("{path}.{key}");
        let count = |value: &toml::Value| -> Result<usize, RuleError> {
            value
                .as_integer()
                .filter(|n| *n >= 0)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| {
                    err(
                        &at,
                        format!("expected a number of 0 or more, found {value}"),
                        &format!("write e.g. {key} = 200"),
                    )
                })
        };
        let c = if let Some(field) = Field::of(key) {
            let pattern = value.as_str().ok_or_else(|| {
                err(
                    &at,
                    format!("expected a regex in a string, found {}", value.type_str()),
                    &format!("write e.g. {key} = \"(?i)kubernetes\" (in TOML, \\\\b for \\b)"),
                )
            })?;
            let re = regex::RegexBuilder::new(pattern)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| {
                    let detail = e.to_string();
                    let last = detail.lines().last().unwrap_or("").trim().to_string();
                    err(
                        &at,
                        format!("invalid regex {pattern:?}: {last}"),
                        "correct the pattern (syntax: https://docs.rs/regex/#syntax); a literal ( [ . needs a backslash, written \\\\ in a TOML string",
                    )
                })?;
            Condition::Matches(field, re)
        } else {
            match key.as_str() {
                "words_lt" => Condition::WordsLt(count(value)?),
                "words_gt" => Condition::WordsGt(count(value)?),
                "lang" => {
                    let s = value.as_str().unwrap_or_default().trim();
                    let (negate, code) = match s.strip_prefix('!') {
                        Some(rest) => (true, rest.trim()),
                        None => (false, s),
                    };
                    let code = code.to_ascii_lowercase();
                    if !lang::is_known(&code) {
                        return Err(err(
                            &at,
                            format!("{value} is not an ISO 639-1 language code the detector knows"),
                            "write a two-letter code, e.g. lang = \"en\", or lang = \"!en\" for any other language",
                        ));
                    }
                    Condition::Lang { code, negate }
                }
                "older_than" => {
                    let secs = value.as_str().and_then(parse_age).ok_or_else(|| {
                        err(
                            &at,
                            format!("expected a duration, found {value}"),
                            "write e.g. older_than = \"30d\" (units: s, m, h, d, w)",
                        )
                    })?;
                    Condition::OlderThan(secs)
                }
                "all" | "any" => {
                    let items = value.as_array().filter(|a| !a.is_empty()).ok_or_else(|| {
                        err(
                            &at,
                            "expected a non-empty list of conditions".to_string(),
                            &format!("write e.g. {key} = [{{ title = \"a\" }}, {{ categories = \"b\" }}]"),
                        )
                    })?;
                    let list = items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| condition(item, &format!("{at}[{i}]"), err))
                        .collect::<Result<Vec<_>, _>>()?;
                    if key == "all" {
                        Condition::All(list)
                    } else {
                        Condition::Any(list)
                    }
                }
                "not" => Condition::Not(Box::new(condition(value, &at, err)?)),
                _ => {
                    return Err(err(
                        &at,
                        "unknown condition".to_string(),
                        &format!("use one of: {WHEN_KEYS}"),
                    ))
                }
            }
        };
        all.push(c);
    }
    Ok(if all.len() == 1 {
        all.remove(0)
    } else {
        Condition::All(all)
    })
}

/// `30d`, `12h`, `2w`, `90m`, `45s` as seconds.
fn parse_age(s: &str) -> Option<i64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = s.split_at(split);
    let n: i64 = num.parse().ok()?;
    let mult = match unit.trim() {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    n.checked_mul(mult)
}

#[cfg(test)]
mod tests;
