//! Secrets in URLs: a feed URL may carry credentials (`https://alice:PASSWORD@host/f.xml`) or a
//! token in its query (Reddit's private feeds: `?feed=...&user=...`). [`RedactedUrl`] is the one
//! form of such a URL that leaves the process: in logs, error messages, metric labels, CLI
//! output, the API and published posts. Userinfo is removed and the values of sensitive-looking
//! query keys are shown as `***`.
//!
//! A leaf module (it depends on nothing of feedsmith), so every layer can use it without an
//! import cycle. The list of sensitive keys is process-wide: the configuration adds to it
//! (`[http] secret_query_keys`) once at load, before anything is printed.

use std::sync::RwLock;

/// Query keys whose values are secrets (compared case-insensitively, as whole keys or as words
/// of a key such as `api_key`, `X-Amz-Signature`, `access_token`).
pub const DEFAULT_SECRET_KEYS: &[&str] = &[
    "token",
    "key",
    "apikey",
    "feed",
    "user",
    "secret",
    "password",
    "passwd",
    "pass",
    "pwd",
    "sig",
    "signature",
    "auth",
    "authorization",
    "session",
    "sid",
    "credential",
    "credentials",
    "code",
];

/// What a redacted value is shown as.
pub const MASK: &str = "***";

static EXTRA_KEYS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Add the configured keys (`[http] secret_query_keys`) to the built-in list.
pub fn set_extra_secret_keys(keys: &[String]) {
    let mut k = match EXTRA_KEYS.write() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    *k = keys.iter().map(|s| s.trim().to_ascii_lowercase()).collect();
}

/// Whether the value of query key `key` is treated as a secret (the built-in keys and the
/// configured ones).
pub fn is_secret_key(key: &str) -> bool {
    let extra = match EXTRA_KEYS.read() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    is_secret_key_in(key, &extra)
}

/// [`is_secret_key`] with the extra keys given (lower-case).
fn is_secret_key_in(key: &str, extra: &[String]) -> bool {
    let key = percent_encoding::percent_decode_str(key)
        .decode_utf8_lossy()
        .to_ascii_lowercase();
    let listed = |w: &str| DEFAULT_SECRET_KEYS.contains(&w) || extra.iter().any(|e| e == w);
    if listed(&key) {
        return true;
    }
    // Words of the key: `api_key`, `access-token`, `X-Amz-Signature`, `authToken`.
    if key
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| !w.is_empty() && listed(w))
    {
        return true;
    }
    ["token", "secret", "password", "apikey", "signature"]
        .iter()
        .any(|w| key.contains(w))
}

/// A URL as it may be shown: userinfo removed, secret query values masked. Display, Debug and
/// Serialize all give the redacted text; the original is not kept.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RedactedUrl(String);

impl RedactedUrl {
    pub fn new(url: &str) -> RedactedUrl {
        RedactedUrl(redact_url(url))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Display for RedactedUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Debug for RedactedUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl serde::Serialize for RedactedUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// Serialize a `String` field holding a URL in its redacted form (`#[serde(serialize_with)]`).
pub fn ser_redacted<S: serde::Serializer>(url: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&redact_url(url))
}

/// [`ser_redacted`] for an optional URL.
pub fn ser_redacted_opt<S: serde::Serializer>(
    url: &Option<String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match url {
        Some(u) => s.serialize_some(&redact_url(u)),
        None => s.serialize_none(),
    }
}

/// The redacted text of `url`. Works on the text (not a parsed and re-serialized URL), so what
/// is not secret is shown exactly as configured.
pub fn redact_url(url: &str) -> String {
    let (authority_start, rest) = match url.find("://") {
        Some(i) => (i + 3, &url[i + 3..]),
        None => (0, url),
    };
    // The authority ends at the first `/`, `?` or `#`; userinfo is what precedes its last `@`.
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..auth_end];
    let host = match authority.rfind('@') {
        Some(at) if authority_start > 0 => &authority[at + 1..],
        _ => authority,
    };
    let mut out = String::with_capacity(url.len());
    out.push_str(&url[..authority_start]);
    // A database URL keeps its user name (it helps, and is no secret there); the password goes.
    // In an http(s) URL the "user" is often the token itself (`https://TOKEN@host/`).
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        if let Some(at) = authority.rfind('@') {
            let user = authority[..at].split(':').next().unwrap_or_default();
            out.push_str(user);
            if authority[..at].contains(':') {
                out.push(':');
                out.push_str(MASK);
            }
            out.push('@');
        }
    }
    out.push_str(host);
    let tail = &rest[auth_end..];
    let (before_fragment, fragment) = match tail.find('#') {
        Some(i) => (&tail[..i], &tail[i..]),
        None => (tail, ""),
    };
    match before_fragment.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            out.push_str(&redact_query(query));
        }
        None => out.push_str(before_fragment),
    }
    // A fragment can carry a token too (OAuth implicit flow: `#access_token=...`).
    if let Some(frag) = fragment.strip_prefix('#') {
        out.push('#');
        if frag.contains('=') {
            out.push_str(&redact_query(frag));
        } else {
            out.push_str(frag);
        }
    }
    out
}

/// A query string (without `?`) with the values of secret keys masked.
pub fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !v.is_empty() && is_secret_key(k) => format!("{k}={MASK}"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// `url` without userinfo, for resolving relative links: a link resolved against
/// `https://alice:PASSWORD@host/` would carry the password into every reader's browser.
pub fn without_userinfo(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// Every http(s) URL inside free text (an error message from a library) redacted.
pub fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let next = ["http://", "https://", "postgres://", "postgresql://"]
            .iter()
            .filter_map(|p| rest.find(p))
            .min();
        let Some(i) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..i]);
        let url_part = &rest[i..];
        let end = url_part
            .find(|c: char| {
                c.is_whitespace()
                    || c.is_control()
                    || matches!(c, ')' | '"' | '\'' | '>' | '<' | ',')
            })
            .unwrap_or(url_part.len());
        out.push_str(&redact_url(&url_part[..end]));
        rest = &url_part[end..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_and_secret_values_are_removed() {
        assert_eq!(
            redact_url("http://alice:PASSWORD@host:8080/f.xml?token=SECRET&page=2#top"),
            "http://host:8080/f.xml?token=***&page=2#top"
        );
        assert_eq!(
            redact_url("https://www.reddit.com/r/x/.rss?feed=abc123&user=alice"),
            "https://www.reddit.com/r/x/.rss?feed=***&user=***"
        );
        assert_eq!(
            redact_url("https://e/x?api_key=K&X-Amz-Signature=S&authToken=T&sort=new"),
            "https://e/x?api_key=***&X-Amz-Signature=***&authToken=***&sort=new"
        );
        assert_eq!(
            redact_url("https://e/cb#access_token=T&state=1"),
            "https://e/cb#access_token=***&state=1"
        );
        assert_eq!(redact_url("https://e/a@b/c"), "https://e/a@b/c");
        assert_eq!(
            redact_url("https://example.org/feed.xml"),
            "https://example.org/feed.xml"
        );
        assert_eq!(redact_url("https://u@e/?key="), "https://e/?key=");
        assert_eq!(
            redact_url("postgres://feedsmith:PW@db:5432/feedsmith?sslmode=require"),
            "postgres://feedsmith:***@db:5432/feedsmith?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://feedsmith@db/feedsmith"),
            "postgres://feedsmith@db/feedsmith"
        );
    }

    #[test]
    fn free_text_and_other_forms() {
        assert_eq!(
            redact_text("error sending request for url (http://a:PW@h/x?token=S): refused"),
            "error sending request for url (http://h/x?token=***): refused"
        );
        assert_eq!(
            without_userinfo("https://alice:PW@host/blog/"),
            "https://host/blog/"
        );
        let r = RedactedUrl::new("http://a:PW@h/?secret=S");
        assert_eq!(
            format!("{r} {r:?}"),
            "http://h/?secret=*** \"http://h/?secret=***\""
        );
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            "\"http://h/?secret=***\""
        );
    }

    #[test]
    fn configured_keys_are_added() {
        // (The process-wide list is set by every configuration load, also in parallel tests:
        // the pure form is tested here.)
        assert!(!is_secret_key_in("channel_id", &[]));
        assert!(is_secret_key_in("Channel_ID", &["channel_id".into()]));
    }
}
