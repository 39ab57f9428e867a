//! What the model returned, read and checked: `choices[0].message.content` out of the
//! chat-completions response ([`completion_content`]), the answer validated against a fixed
//! schema ([`validate_answer`]) and applied to the post by the spec's cleaning rules
//! ([`apply`]).
//!
//! Apart from the client so that it stays pure: the model is never trusted, and every rule
//! that keeps its answer from breaking a post is here, tested on plain strings without a
//! network or a store.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ModelError;
use crate::domain::{FeedConfig, Post};
use crate::normalize::{build_tags_with, clean_scalar, clean_title};

/// Limits of an accepted answer.
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 300;
pub const MAX_EXCERPT_CHARS: usize = 500;
pub const MAX_TAGS: usize = 15;
pub const MAX_TAG_CHARS: usize = 40;
/// A rewritten body shorter than this share of the input body is taken for a truncated answer.
pub const MIN_BODY_RATIO: f64 = 0.3;

/// An accepted answer: the schema the model is asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelAnswer {
    pub title: String,
    pub description: String,
    pub excerpt: String,
    pub tags: Vec<String>,
    pub body: String,
}

/// `s` cut to at most `max` characters (at a character boundary), and whether it was cut.
pub fn truncate_chars(s: &str, max: usize) -> (&str, bool) {
    match s.char_indices().nth(max) {
        Some((i, _)) => (&s[..i], true),
        None => (s, false),
    }
}

/// `choices[0].message.content` of a chat-completions response.
pub(super) fn completion_content(bytes: &[u8]) -> Result<String, ModelError> {
    let invalid = |m: &str| ModelError::Invalid(m.to_string());
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| ModelError::Invalid(format!("the response is not JSON: {e}")))?;
    let choice = v
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .ok_or_else(|| invalid("the response has no choices[0]"))?;
    if choice.get("finish_reason").and_then(Value::as_str) == Some("length") {
        return Err(invalid(
            "the answer was cut off (finish_reason \"length\"); the post may be too long for the model (see [enrich].max_input_chars)",
        ));
    }
    choice
        .get("message")
        .and_then(|m| m.get("content"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| invalid("choices[0].message.content is missing or not a string"))
}

/// Patterns a rewritten body may not contain: active content the sanitizer would have removed
/// from feed HTML (markdown passes raw HTML through to the site).
const FORBIDDEN_IN_BODY: &[&str] = &[
    "<script",
    "<iframe",
    "<style",
    "<object",
    "<embed",
    "<form",
    "javascript:",
    "vbscript:",
];

/// Parse and check the model's JSON answer. `input_body` is the body the model was given.
pub fn validate_answer(content: &str, input_body: &str) -> Result<ModelAnswer, ModelError> {
    let invalid = |m: String| ModelError::Invalid(m);
    let text = strip_code_fence(content.trim());
    let v: Value = serde_json::from_str(text)
        .map_err(|e| invalid(format!("the content is not a JSON object: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| invalid("the content is JSON but not an object".into()))?;
    let string = |key: &str| -> Result<String, ModelError> {
        match obj.get(key) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(invalid(format!("\"{key}\" is not a string"))),
            None => Err(invalid(format!("\"{key}\" is missing"))),
        }
    };
    let title = string("title")?;
    let description = string("description")?;
    let excerpt = string("excerpt")?;
    let body = string("body")?;
    let tags: Vec<String> = match obj.get("tags") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|t| {
                t.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| invalid("\"tags\" holds a value that is not a string".into()))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(invalid("\"tags\" is not an array of strings".into())),
        None => return Err(invalid("\"tags\" is missing".into())),
    };

    let chars = |s: &str| s.chars().count();
    let bounded = |key: &str, s: &str, max: usize| -> Result<(), ModelError> {
        if clean_scalar(s).is_empty() {
            Err(invalid(format!("\"{key}\" is empty")))
        } else if chars(s) > max {
            Err(invalid(format!(
                "\"{key}\" has {} characters, more than {max}",
                chars(s)
            )))
        } else {
            Ok(())
        }
    };
    bounded("title", &title, MAX_TITLE_CHARS)?;
    bounded("description", &description, MAX_DESCRIPTION_CHARS)?;
    bounded("excerpt", &excerpt, MAX_EXCERPT_CHARS)?;
    if tags.is_empty() || tags.len() > MAX_TAGS {
        return Err(invalid(format!(
            "\"tags\" has {} values; expected 1 to {MAX_TAGS}",
            tags.len()
        )));
    }
    for t in &tags {
        if t.trim().is_empty() || chars(t) > MAX_TAG_CHARS {
            return Err(invalid(format!(
                "tag {t:?} is empty or longer than {MAX_TAG_CHARS} characters"
            )));
        }
    }
    if body.trim().is_empty() {
        return Err(invalid("\"body\" is empty".into()));
    }
    let min_body = (chars(input_body) as f64 * MIN_BODY_RATIO) as usize;
    if chars(&body) < min_body {
        return Err(invalid(format!(
            "\"body\" has {} characters, less than {}% of the {} given: taken for a truncated rewrite",
            chars(&body),
            (MIN_BODY_RATIO * 100.0) as u32,
            chars(input_body)
        )));
    }
    let lower = body.to_ascii_lowercase();
    if let Some(bad) = FORBIDDEN_IN_BODY.iter().find(|p| lower.contains(*p)) {
        return Err(invalid(format!("\"body\" contains {bad:?}")));
    }
    if has_event_handler(&lower) {
        return Err(invalid(
            "\"body\" contains an HTML event-handler attribute".into(),
        ));
    }
    Ok(ModelAnswer {
        title,
        description,
        excerpt,
        tags,
        body,
    })
}

/// ```` ```json ... ``` ```` around the object, which some models add even in JSON mode.
fn strip_code_fence(s: &str) -> &str {
    let Some(rest) = s.strip_prefix("```") else {
        return s;
    };
    let rest = rest.strip_prefix("json").unwrap_or(rest);
    rest.strip_suffix("```").unwrap_or(rest).trim()
}

/// An `on...=` attribute inside a tag (`<img src=x onerror=...>`).
fn has_event_handler(lower: &str) -> bool {
    let mut rest = lower;
    while let Some(i) = rest.find('<') {
        let after = &rest[i + 1..];
        let end = after.find('>').unwrap_or(after.len());
        let tag = &after[..end];
        if tag.starts_with(|c: char| c.is_ascii_alphabetic()) {
            for (j, c) in tag.char_indices() {
                if !(c.is_whitespace() || c == '/') {
                    continue;
                }
                let attr = &tag[j + c.len_utf8()..];
                let name_len = attr
                    .find(|c: char| !c.is_ascii_alphanumeric())
                    .unwrap_or(attr.len());
                let name = &attr[..name_len];
                if name.len() > 2
                    && name.starts_with("on")
                    && attr[name_len..].trim_start().starts_with('=')
                {
                    return true;
                }
            }
        }
        rest = &after[end..];
    }
    false
}

/// The post with an accepted answer applied, cleaned by the spec's rules: title, description
/// and excerpt as front-matter scalars (`Untitled`/empty values keep the deterministic ones),
/// tags through section 5 (the post's own tags first, then at most `max_tags` of the model's),
/// and the rewritten body, unless the model was given a truncated body (then the deterministic
/// body stays, so nothing of the source is lost). Slug, date, URL and content hash stay: they
/// identify the post.
pub fn apply(
    post: &Post,
    feed: &FeedConfig,
    answer: &ModelAnswer,
    max_tags: usize,
    max_input_chars: usize,
) -> Post {
    let mut out = post.clone();
    let title = clean_scalar(&clean_title(&answer.title, false));
    if !title.is_empty() && title != "Untitled" {
        out.title = title;
    }
    let description = clean_scalar(&answer.description);
    if !description.is_empty() {
        out.description = description;
    }
    let excerpt = clean_scalar(&answer.excerpt);
    if !excerpt.is_empty() {
        out.excerpt = excerpt;
    }
    let model_tags: Vec<String> = answer
        .tags
        .iter()
        .map(|t| clean_scalar(t))
        .filter(|t| !t.is_empty())
        .take(max_tags)
        .collect();
    let (tags, tags_normalized) = build_tags_with(&post.tags, feed, &model_tags);
    out.tags = tags;
    out.tags_normalized = tags_normalized;
    let (_, truncated) = truncate_chars(&post.content_markdown, max_input_chars);
    let body = answer
        .body
        .replace("<!--excerpt_end-->", "")
        .trim()
        .to_string();
    if !truncated && !body.is_empty() {
        out.content_markdown = with_shared_link(&post.content_markdown, body);
    }
    out
}

/// Reddit's shared external link (`[Link](url)`, the last line of the deterministic body) is
/// kept when the rewrite dropped it.
fn with_shared_link(original: &str, mut body: String) -> String {
    if let Some(last) = original.lines().last().filter(|l| l.starts_with("[Link](")) {
        let url = last.trim_start_matches("[Link](").trim_end_matches(')');
        if !body.contains(url) {
            body.push_str("\n\n");
            body.push_str(last);
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use serde_json::json;

    fn answer_json(body: &str) -> String {
        json!({
            "title": "A better title",
            "description": "What it is about.",
            "excerpt": "The teaser.",
            "tags": ["kubernetes", "ci-cd"],
            "body": body,
        })
        .to_string()
    }

    fn post() -> Post {
        Post {
            entry_key: "k".into(),
            title: "Original".into(),
            description: "d".into(),
            author: "a".into(),
            canonical_url: "https://e.org/1".into(),
            viewing_mode: "external".into(),
            feed_name: "F".into(),
            feed_url: "https://e.org/feed".into(),
            collection: "blogs".into(),
            date: Utc::now(),
            slug: "Original".into(),
            categories: vec!["DevOps".into()],
            tags: vec!["Blogs".into(), "DevOps".into()],
            tags_normalized: vec!["blogs".into(), "devops".into()],
            excerpt: "e".into(),
            content_markdown: "Some body text that is long enough.".into(),
            youtube_id: None,
            reddit_segment: None,
            content_hash: "h".into(),
        }
    }

    #[test]
    fn valid_answers_are_accepted() {
        let a = validate_answer(&answer_json("A rewritten body."), "Input body.").unwrap();
        assert_eq!(a.title, "A better title");
        assert_eq!(a.tags, ["kubernetes", "ci-cd"]);
        let fenced = format!("```json\n{}\n```", answer_json("A rewritten body."));
        assert_eq!(validate_answer(&fenced, "Input body.").unwrap(), a);
    }

    #[test]
    fn invalid_answers_are_rejected_with_the_reason() {
        let base: Value = serde_json::from_str(&answer_json("A rewritten body.")).unwrap();
        let with = |key: &str, v: Value| {
            let mut o = base.clone();
            o[key] = v;
            o.to_string()
        };
        let without = |key: &str| {
            let mut o = base.clone();
            o.as_object_mut().unwrap().remove(key);
            o.to_string()
        };
        let cases: Vec<(String, &str)> = vec![
            ("{not json".into(), "not a JSON object"),
            ("[1, 2]".into(), "not an object"),
            (without("title"), "\"title\" is missing"),
            (with("title", json!(3)), "\"title\" is not a string"),
            (with("title", json!("  ")), "\"title\" is empty"),
            (with("title", json!("<b></b>")), "\"title\" is empty"),
            (with("description", json!("x".repeat(301))), "more than 300"),
            (with("excerpt", json!("x".repeat(501))), "more than 500"),
            (with("tags", json!([])), "expected 1 to 15"),
            (with("tags", json!(vec!["t"; 16])), "expected 1 to 15"),
            (with("tags", json!("a, b")), "not an array"),
            (with("tags", json!(["ok", 1])), "not a string"),
            (with("tags", json!(["x".repeat(41)])), "longer than 40"),
            (with("body", json!("")), "\"body\" is empty"),
            (
                with("body", json!("<script>alert(1)</script> text")),
                "<script",
            ),
            (
                with("body", json!("<img src=x onerror=alert(1)> text")),
                "event-handler",
            ),
            (
                with("body", json!("[x](javascript:alert(1)) text")),
                "javascript:",
            ),
        ];
        for (content, reason) in cases {
            let e = validate_answer(&content, "Input body.").unwrap_err();
            assert!(!e.is_transient());
            assert!(e.to_string().contains(reason), "{content}: {e}");
        }
        let e = validate_answer(&answer_json("short"), &"long input ".repeat(10)).unwrap_err();
        assert!(e.to_string().contains("truncated rewrite"), "{e}");
        assert!(!has_event_handler(
            "<a href=\"x\">one=two</a> and onload = x"
        ));
    }

    #[test]
    fn completion_content_reads_choices_and_rejects_cut_answers() {
        let ok = json!({"choices": [{"message": {"content": "{}"}, "finish_reason": "stop"}]});
        assert_eq!(completion_content(ok.to_string().as_bytes()).unwrap(), "{}");
        let cut = json!({"choices": [{"message": {"content": "{"}, "finish_reason": "length"}]});
        assert!(completion_content(cut.to_string().as_bytes()).is_err());
        assert!(completion_content(b"{\"choices\": []}").is_err());
        assert!(completion_content(b"<html>").is_err());
    }

    #[test]
    fn applied_answers_follow_the_spec_cleaning() {
        let feed = {
            let mut f = FeedConfig::new("F", "https://e.org/feed", "blogs");
            f.categories = vec!["DevOps".into()];
            f
        };
        let answer = ModelAnswer {
            title: "  \"A <b>new</b>\ntitle\" ".into(),
            description: "Line one\nline two <!--excerpt_end-->".into(),
            excerpt: "Teaser\u{7} here".into(),
            tags: vec![
                "kubernetes".into(),
                "the".into(),
                "devops".into(),
                "CI-CD".into(),
                "2025".into(),
            ],
            body: "New body.\n\n<!--excerpt_end-->More.".into(),
        };
        let p = apply(&post(), &feed, &answer, 10, 12_000);
        assert_eq!(p.title, "A new title");
        assert_eq!(p.description, "Line one line two");
        assert_eq!(p.excerpt, "Teaser here");
        assert_eq!(p.tags, ["Blogs", "CI CD", "DevOps", "Kubernetes"]);
        assert_eq!(
            p.tags_normalized,
            ["blogs", "ci cd", "devops", "kubernetes"]
        );
        assert_eq!(p.content_markdown, "New body.\n\nMore.");
        assert_eq!(
            (p.slug.as_str(), p.content_hash.as_str()),
            ("Original", "h")
        );
        // max_tags caps the model's tags; a truncated input keeps the deterministic body.
        let p = apply(&post(), &feed, &answer, 1, 5);
        assert_eq!(p.tags, ["Blogs", "DevOps", "Kubernetes"]);
        assert_eq!(p.content_markdown, post().content_markdown);
    }

    #[test]
    fn reddit_shared_link_is_kept_and_truncation_is_at_a_char_boundary() {
        let body = with_shared_link("Text.\n\n[Link](https://x.org/a)", "Rewritten.".into());
        assert_eq!(body, "Rewritten.\n\n[Link](https://x.org/a)");
        let body = with_shared_link(
            "Text.\n\n[Link](https://x.org/a)",
            "See https://x.org/a".into(),
        );
        assert_eq!(body, "See https://x.org/a");
        assert_eq!(truncate_chars("héllo", 2), ("hé", true));
        assert_eq!(truncate_chars("héllo", 5), ("héllo", false));
    }
}
