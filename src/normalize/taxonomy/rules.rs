//! The taxonomy file read into rules: TOML parsed, each tag's `terms` and `exact` checked, with
//! a [`RuleError`] that names the tag and the key (the module documentation lists the checks).
//!
//! Apart from the matcher because it is the only part that reads what a user wrote: its
//! messages are the interface of the file format, while the matcher only sees valid rules.

use std::collections::BTreeMap;

use super::takes_plural;
use crate::domain::FeedConfig;
use crate::normalize::build_tags;

/// Longest accepted term: rules are words and short phrases, not sentences.
const MAX_TERM_CHARS: usize = 80;

/// Parsed but not compiled: tag name -> (terms, exact terms).
pub(super) type Rules = BTreeMap<String, (Vec<String>, Vec<String>)>;

/// Why a taxonomy file's rules were refused (or, for [`RuleError::Compile`], could not be
/// compiled). [`super::TaxonomyError`] carries the message with the file's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum RuleError {
    /// The TOML error, its continuation lines indented.
    #[error("not valid TOML: {0}")]
    Toml(String),
    /// `include_default` with the value written.
    #[error("include_default = {0}: expected true or false")]
    IncludeDefault(String),
    #[error("`tags` must be tables, one per tag: [tags.Kubernetes] terms = [\"k8s\"]")]
    TagsNotTables,
    #[error("unknown key `{0}`; expected include_default or [tags.<Tag>] tables")]
    UnknownKey(String),
    /// One tag's table is wrong: the tag as written, and how.
    #[error("tag `{tag}`{problem}")]
    Tag { tag: String, problem: TagProblem },
    /// The matcher could not be built (Aho-Corasick's message).
    #[error("cannot compile the rules: {0}")]
    Compile(String),
}

/// What is wrong with one tag's table; each message follows the tag's name. `key` is `terms`
/// or `exact`, `term` a term as written (trimmed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum TagProblem {
    #[error(": expected a table with terms = [...] and/or exact = [...]")]
    NotATable,
    #[error(": unknown key `{0}`; expected terms or exact")]
    UnknownKey(String),
    #[error(": `{0}` must be a list of strings")]
    NotAList(String),
    /// The key, and the value written that is not a string.
    #[error(": `{0}` contains {1}, expected a string")]
    NotAString(String, String),
    #[error(": `{0}` term {1:?} has no letter or digit")]
    NoLetterOrDigit(String, String),
    #[error(": `{0}` term {1:?} is longer than {max} characters", max = MAX_TERM_CHARS)]
    TooLong(String, String),
    #[error(
        " has no rules; give terms = [\"...\"] (any case) or exact = [\"...\"] (case-sensitive)"
    )]
    NoRules,
    #[error(": term {0:?} is listed twice")]
    ListedTwice(String),
    /// The plural term, and the singular that already matches it.
    #[error(": term {0:?} is redundant: {1:?} already matches its plural")]
    Redundant(String, String),
    /// How the tag rules would publish the tag (one tag, spelled otherwise).
    #[error(" would be published as `{0}` by the tag rules (post-format.md section 5); write it that way")]
    PublishedAs(String),
    /// What the tag rules would publish instead (no tag, or several).
    #[error(
        " is not a valid tag: the tag rules (post-format.md section 5) would publish it as {0:?}"
    )]
    NotATag(Vec<String>),
}

/// Read the TOML into rules, with messages naming the tag and the key.
pub(super) fn parse_rules(text: &str) -> Result<(bool, Rules), RuleError> {
    let doc: toml::Table = toml::from_str(text)
        .map_err(|e| RuleError::Toml(e.to_string().trim_end().replace('\n', "\n  ")))?;
    let mut include_default = false;
    let mut rules = Rules::new();
    for (key, value) in &doc {
        match key.as_str() {
            "include_default" => {
                include_default = value
                    .as_bool()
                    .ok_or_else(|| RuleError::IncludeDefault(value.to_string()))?;
            }
            "tags" => {
                let tags = value.as_table().ok_or(RuleError::TagsNotTables)?;
                for (name, rule) in tags {
                    rules.insert(name.clone(), parse_tag(name, rule)?);
                }
            }
            other => return Err(RuleError::UnknownKey(other.to_string())),
        }
    }
    Ok((include_default, rules))
}

fn parse_tag(name: &str, rule: &toml::Value) -> Result<(Vec<String>, Vec<String>), RuleError> {
    use TagProblem::*;
    let fail = |problem: TagProblem| RuleError::Tag {
        tag: name.to_string(),
        problem,
    };
    let table = rule.as_table().ok_or_else(|| fail(NotATable))?;
    let mut terms = Vec::new();
    let mut exact = Vec::new();
    for (key, value) in table {
        let list = match key.as_str() {
            "terms" => &mut terms,
            "exact" => &mut exact,
            other => return Err(fail(UnknownKey(other.to_string()))),
        };
        let items = value
            .as_array()
            .ok_or_else(|| fail(NotAList(key.clone())))?;
        for item in items {
            let term = item
                .as_str()
                .ok_or_else(|| fail(NotAString(key.clone(), item.to_string())))?;
            let term = term.trim();
            if !term.chars().any(char::is_alphanumeric) {
                return Err(fail(NoLetterOrDigit(key.clone(), term.to_string())));
            }
            if term.chars().count() > MAX_TERM_CHARS {
                return Err(fail(TooLong(key.clone(), term.to_string())));
            }
            list.push(term.to_string());
        }
    }
    if terms.is_empty() && exact.is_empty() {
        return Err(fail(NoRules));
    }
    let mut seen: Vec<String> = Vec::new();
    for t in terms
        .iter()
        .map(|t| t.to_ascii_lowercase())
        .chain(exact.iter().cloned())
    {
        if seen.contains(&t) {
            return Err(fail(ListedTwice(t)));
        }
        seen.push(t);
    }
    for t in &terms {
        let lower = t.to_ascii_lowercase();
        if let Some(singular) = lower.strip_suffix('s') {
            if takes_plural(singular) && seen.iter().any(|s| s == singular) {
                return Err(fail(Redundant(t.clone(), singular.to_string())));
            }
        }
    }
    // The tag goes through the normal tag rules; it must come out as written.
    let probe = FeedConfig::new("", "", "");
    let (published, _) = build_tags(&[name.to_string()], &probe);
    match published.as_slice() {
        [one] if one == name => Ok((terms, exact)),
        [one] => Err(fail(PublishedAs(one.clone()))),
        _ => Err(fail(NotATag(published))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typed errors say what the `String` errors said, word for word.
    #[test]
    fn messages_are_the_ones_of_the_file_format() {
        let cases = [
            (
                "include_default = 1\n",
                RuleError::IncludeDefault("1".into()),
                "include_default = 1: expected true or false",
            ),
            (
                "tags = 3\n",
                RuleError::TagsNotTables,
                "`tags` must be tables, one per tag: [tags.Kubernetes] terms = [\"k8s\"]",
            ),
            (
                "[tags.Go]\nterms = [\"go\", 7]\n",
                RuleError::Tag {
                    tag: "Go".into(),
                    problem: TagProblem::NotAString("terms".into(), "7".into()),
                },
                "tag `Go`: `terms` contains 7, expected a string",
            ),
            (
                &format!("[tags.Go]\nterms = [\"{}\"]\n", "g".repeat(81)),
                RuleError::Tag {
                    tag: "Go".into(),
                    problem: TagProblem::TooLong("terms".into(), "g".repeat(81)),
                },
                &format!(
                    "tag `Go`: `terms` term \"{}\" is longer than 80 characters",
                    "g".repeat(81)
                ),
            ),
            (
                "[tags.\"a b\"]\nterms = [\"ab\"]\n",
                RuleError::Tag {
                    tag: "a b".into(),
                    problem: TagProblem::PublishedAs("A B".into()),
                },
                "tag `a b` would be published as `A B` by the tag rules (post-format.md section 5); write it that way",
            ),
        ];
        for (text, error, message) in cases {
            let got = parse_rules(text).unwrap_err();
            assert_eq!(got, error, "{text}");
            assert_eq!(got.to_string(), message, "{text}");
        }
        for (text, message) in [
            ("version = 2\n", "unknown key `version`; expected include_default or [tags.<Tag>] tables"),
            ("[tags]\nGo = 1\n", "tag `Go`: expected a table with terms = [...] and/or exact = [...]"),
            ("[tags.Go]\nterm = [\"go\"]\n", "tag `Go`: unknown key `term`; expected terms or exact"),
            ("[tags.Go]\nexact = \"Go\"\n", "tag `Go`: `exact` must be a list of strings"),
            ("[tags.Go]\nterms = [\" -- \"]\n", "tag `Go`: `terms` term \"--\" has no letter or digit"),
            ("[tags.Go]\nterms = []\n", "tag `Go` has no rules; give terms = [\"...\"] (any case) or exact = [\"...\"] (case-sensitive)"),
            ("[tags.Go]\nterms = [\"go\"]\nexact = [\"go\"]\n", "tag `Go`: term \"go\" is listed twice"),
            ("[tags.Go]\nterms = [\"gopher\", \"Gophers\"]\n", "tag `Go`: term \"Gophers\" is redundant: \"gopher\" already matches its plural"),
        ] {
            assert_eq!(parse_rules(text).unwrap_err().to_string(), message, "{text}");
        }
        let e = parse_rules("[tags.\"Go, Rust\"]\nterms = [\"go\"]\n").unwrap_err();
        assert!(
            matches!(&e, RuleError::Tag { problem: TagProblem::NotATag(p), .. } if p.len() == 2),
            "{e:?}"
        );
        assert!(e.to_string().starts_with("tag `Go, Rust` is not a valid tag: the tag rules (post-format.md section 5) would publish it as [\""), "{e}");
        let e = parse_rules("[tags.Go\n").unwrap_err().to_string();
        assert!(
            e.starts_with("not valid TOML: ") && !e.ends_with('\n'),
            "{e}"
        );
    }
}
