//! The taxonomy file read into rules: TOML parsed, each tag's `terms` and `exact` checked, with
//! messages that name the tag and the key (the module documentation lists the checks).
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

/// Read the TOML into rules, with messages naming the tag and the key.
pub(super) fn parse_rules(text: &str) -> Result<(bool, Rules), String> {
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
