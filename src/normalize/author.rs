//! Author (post-format.md section 4): the first non-empty of the entry's names, the feed's
//! author, the feed's configured name, `Unknown`. Reddit's `/u/` prefix and RSS's
//! `email (Name)` form are reduced to the name a reader expects.

use super::text::{collapse_ws, decode_entities, remove_controls, strip_tags};

/// The `author` of a post. Several entry authors are joined with `, `.
pub fn author(entry_authors: &[String], feed_author: Option<&str>, feed_name: &str) -> String {
    let names: Vec<String> = entry_authors
        .iter()
        .map(|a| clean_author(a))
        .filter(|a| !a.is_empty())
        .collect();
    if !names.is_empty() {
        return names.join(", ");
    }
    [feed_author.map(clean_author), Some(clean_author(feed_name))]
        .into_iter()
        .flatten()
        .find(|a| !a.is_empty())
        .unwrap_or_else(|| "Unknown".to_string())
}

/// One name: entities decoded, tags and control characters removed, whitespace collapsed, then
/// `/u/x` or `u/x` -> `x`, `mail (Name)` -> `Name`, a bare address -> its local part.
fn clean_author(raw: &str) -> String {
    let a = collapse_ws(&remove_controls(&strip_tags(&decode_entities(raw))));
    let a = a
        .strip_prefix("/u/")
        .or_else(|| a.strip_prefix("u/"))
        .unwrap_or(&a)
        .trim()
        .to_string();
    if let (Some(open), true) = (a.find('('), a.ends_with(')')) {
        let name = a.get(open + 1..a.len() - 1).unwrap_or_default().trim();
        let before = a.get(..open).unwrap_or_default();
        if before.contains('@') && !name.is_empty() {
            return name.to_string();
        }
    }
    if !a.contains(' ') {
        if let Some((local, domain)) = a.split_once('@') {
            if !local.is_empty() && domain.contains('.') {
                return local.to_string();
            }
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn order_of_precedence() {
        assert_eq!(author(&v(&["Ann"]), Some("Owner"), "Feed"), "Ann");
        assert_eq!(author(&v(&[" "]), Some("Owner"), "Feed"), "Owner");
        assert_eq!(author(&[], Some("  "), "Feed"), "Feed");
        assert_eq!(author(&[], None, " "), "Unknown");
    }

    #[test]
    fn reddit_and_email_forms() {
        assert_eq!(author(&v(&["/u/DemiladeDee"]), None, "F"), "DemiladeDee");
        assert_eq!(author(&v(&["u/x"]), None, "F"), "x");
        assert_eq!(author(&v(&["a@b.org (Ann B)"]), None, "F"), "Ann B");
        assert_eq!(author(&v(&["noreply@blogger.com"]), None, "F"), "noreply");
        assert_eq!(author(&v(&["Ann (PM)"]), None, "F"), "Ann (PM)");
        assert_eq!(author(&v(&["@handle"]), None, "F"), "@handle");
    }

    #[test]
    fn names_are_cleaned() {
        assert_eq!(
            author(&v(&["<b>Ann</b> &amp; Bob\n", "Cy\u{0}"]), None, "F"),
            "Ann & Bob, Cy"
        );
    }
}
