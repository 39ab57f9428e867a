//! The optional language-model step (`[enrich] endpoint = "...", model = "..."`, off by
//! default): one OpenAI-compatible chat-completions call per new post, asking for a title,
//! description, excerpt, tags and a rewritten body as a JSON object.
//!
//! The model is never trusted: its answer is validated against a fixed schema
//! ([`validate_answer`]) and then cleaned by the same rules as a deterministic post ([`apply`]:
//! `clean_title` / `clean_scalar` for the front-matter values, section 5's tag rules via
//! `build_tags_with` for the tags, no active HTML in the body), so it cannot break the front
//! matter. Anything that goes wrong (no budget, a pause asked by `Retry-After`, a timeout, an
//! HTTP error, an invalid answer) leaves the post with its deterministic result and logs a
//! warning: a post is never lost or delayed because of the model.
//!
//! Accepted answers are cached by the post's content hash and the model name (table
//! `enrichments`), so a post is enriched once. A post that fell back for a *transient* reason
//! (budget, pause, timeout, HTTP or connection error) is stored with a marked content hash
//! ([`PENDING_SUFFIX`]): the next poll then sees it as changed, normalizes it again and retries
//! the model, while a post whose answer was invalid keeps its deterministic result for good.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tracing::{debug, info, warn};

use crate::domain::{FeedConfig, Post};
use crate::normalize::{build_tags_with, clean_scalar, clean_title};
use crate::store::Store;

/// Default of `[enrich] model_concurrency`.
pub const DEFAULT_CONCURRENCY: usize = 2;
/// Default of `[enrich] model_timeout`.
pub const DEFAULT_TIMEOUT: &str = "60s";
/// Default of `[enrich] daily_budget` (requests per UTC day and process).
pub const DEFAULT_DAILY_BUDGET: u32 = 500;
/// Default of `[enrich] max_input_chars`.
pub const DEFAULT_MAX_INPUT_CHARS: usize = 12_000;

/// Appended to the content hash of a post that fell back for a transient reason, so the next
/// poll normalizes it again and retries the model.
pub const PENDING_SUFFIX: &str = "+model-pending";

/// Limits of an accepted answer.
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 300;
pub const MAX_EXCERPT_CHARS: usize = 500;
pub const MAX_TAGS: usize = 15;
pub const MAX_TAG_CHARS: usize = 40;
/// A rewritten body shorter than this share of the input body is taken for a truncated answer.
pub const MIN_BODY_RATIO: f64 = 0.3;
/// Largest response body read from the endpoint.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
/// Pause after a 429/503 without a usable `Retry-After`.
const DEFAULT_PAUSE: Duration = Duration::from_secs(60);

/// An API key read from the environment at load time; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(pub String);

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// The model step's settings (`[enrich] endpoint`, `model`, `api_key_env`, `model_concurrency`,
/// `model_timeout`, `daily_budget`, `max_input_chars`), present only when `endpoint` is set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSettings {
    /// Base URL of the API, e.g. `http://127.0.0.1:8000/v1`; requests go to
    /// `{endpoint}/chat/completions`.
    pub endpoint: String,
    pub model: String,
    /// Name of the environment variable holding the API key (no `Authorization` header without).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    #[serde(skip)]
    pub api_key: Option<ApiKey>,
    /// Written under the names of the configuration file (`config check`).
    #[serde(rename = "model_concurrency")]
    pub concurrency: usize,
    #[serde(
        rename = "model_timeout",
        serialize_with = "crate::units::ser_duration"
    )]
    pub timeout: Duration,
    pub daily_budget: u32,
    pub max_input_chars: usize,
}

/// An accepted answer: the schema the model is asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelAnswer {
    pub title: String,
    pub description: String,
    pub excerpt: String,
    pub tags: Vec<String>,
    pub body: String,
}

/// Why a post kept its deterministic result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    #[error("the daily request budget ({0}) is used up")]
    Budget(u32),
    #[error("paused until {0} (the endpoint asked to retry later)")]
    Paused(DateTime<Utc>),
    #[error("HTTP {status} from the endpoint{hint}")]
    Status { status: u16, hint: String },
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("request failed: {0}")]
    Transport(String),
    #[error("invalid answer: {0}")]
    Invalid(String),
}

impl ModelError {
    /// Worth trying again on a later poll (everything except an invalid answer).
    pub fn is_transient(&self) -> bool {
        !matches!(self, ModelError::Invalid(_))
    }
}

#[derive(Debug)]
struct Counters {
    day: NaiveDate,
    used: u32,
    budget_warned: bool,
    paused_until: Option<DateTime<Utc>>,
}

/// The client of the model endpoint: its own HTTP client, a bound on concurrent requests, the
/// daily budget and the pause asked by `Retry-After`. Shared by every poll (one per process).
pub struct ModelClient {
    settings: ModelSettings,
    http: reqwest::Client,
    permits: Semaphore,
    counters: Mutex<Counters>,
    /// The feed fetcher's host book ([`crate::fetch::HostGate`]): the endpoint is a host like
    /// any other, so its slots, pace (`[[hosts]]`) and pauses are shared.
    hosts: Mutex<Option<crate::fetch::HostGate>>,
}

impl std::fmt::Debug for ModelClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelClient")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl ModelClient {
    pub fn new(settings: &ModelSettings, user_agent: &str) -> Result<ModelClient, reqwest::Error> {
        let http = reqwest::Client::builder()
            .user_agent(user_agent)
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .build()?;
        Ok(ModelClient {
            settings: settings.clone(),
            http,
            permits: Semaphore::new(settings.concurrency.max(1)),
            counters: Mutex::new(Counters {
                day: Utc::now().date_naive(),
                used: 0,
                budget_warned: false,
                paused_until: None,
            }),
            hosts: Mutex::new(None),
        })
    }

    /// The client for `settings` after a reload: the old one when nothing changed (its budget
    /// and pause carry over), a new one otherwise, none when the step is off.
    pub fn reuse_or_build(
        old: Option<&Arc<ModelClient>>,
        settings: Option<&ModelSettings>,
        user_agent: &str,
    ) -> Result<Option<Arc<ModelClient>>, reqwest::Error> {
        match (old, settings) {
            (_, None) => Ok(None),
            (Some(old), Some(s)) if old.settings == *s => Ok(Some(Arc::clone(old))),
            (_, Some(s)) => Ok(Some(Arc::new(ModelClient::new(s, user_agent)?))),
        }
    }

    pub fn settings(&self) -> &ModelSettings {
        &self.settings
    }

    /// Send the requests through this host book (set by `app`, again after a reload).
    pub fn set_hosts(&self, gate: crate::fetch::HostGate) {
        if let Ok(mut hosts) = self.hosts.lock() {
            *hosts = Some(gate);
        }
    }

    /// Take one request from today's budget, unless paused or used up.
    fn admit(&self) -> Result<(), ModelError> {
        let now = Utc::now();
        let mut c = match self.counters.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if c.day != now.date_naive() {
            c.day = now.date_naive();
            c.used = 0;
            c.budget_warned = false;
        }
        if let Some(until) = c.paused_until {
            if until > now {
                return Err(ModelError::Paused(until));
            }
            c.paused_until = None;
        }
        if c.used >= self.settings.daily_budget {
            if !c.budget_warned {
                c.budget_warned = true;
                warn!(
                    budget = self.settings.daily_budget,
                    "model step: the daily request budget ([enrich].daily_budget) is used up; posts keep their deterministic result until UTC midnight"
                );
            }
            return Err(ModelError::Budget(self.settings.daily_budget));
        }
        c.used += 1;
        Ok(())
    }

    fn pause_until(&self, until: DateTime<Utc>) {
        let mut c = match self.counters.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if c.paused_until.is_none_or(|p| p < until) {
            c.paused_until = Some(until);
        }
    }

    /// Ask the model about one post and validate its answer.
    pub async fn enrich(&self, post: &Post) -> Result<ModelAnswer, ModelError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| ModelError::Transport(e.to_string()))?;
        self.admit()?;
        let (input_body, _) = truncate_chars(&post.content_markdown, self.settings.max_input_chars);
        let body = request_body(&self.settings.model, post, input_body);
        let url = format!(
            "{}/chat/completions",
            self.settings.endpoint.trim_end_matches('/')
        );
        let mut req = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        if let Some(key) = &self.settings.api_key {
            req = req.bearer_auth(&key.0);
        }
        let timeout = self.settings.timeout;
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                ModelError::Timeout(timeout)
            } else {
                ModelError::Transport(without_url(&e))
            }
        };
        let gate = self.hosts.lock().ok().and_then(|g| g.clone());
        let pass = match &gate {
            // `model_concurrency` is this endpoint's concurrency; the host's pace and pauses
            // (a `[[hosts]]` rule, a 429 with Retry-After) still apply.
            Some(gate) => Some(gate.enter(&url, false).await.map_err(|e| match e {
                crate::fetch::FetchError::HostPaused { until, .. } => ModelError::Paused(until),
                other => ModelError::Transport(other.to_string()),
            })?),
            None => None,
        };
        let sent = req.send().await;
        if let (Some(gate), Some(pass)) = (&gate, &pass) {
            let (status, retry_after) = match &sent {
                Ok(r) => (
                    Some(r.status().as_u16()),
                    r.headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| crate::fetch::parse_retry_after(v, Utc::now())),
                ),
                Err(_) => (None, None),
            };
            gate.answered(pass, status, retry_after).await;
        }
        let mut resp = sent.map_err(transport)?;
        let status = resp.status().as_u16();
        if status == 429 || status == 503 {
            let now = Utc::now();
            let until = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| crate::fetch::parse_retry_after(v, now))
                .filter(|t| *t > now)
                .unwrap_or_else(|| {
                    now + chrono::Duration::from_std(DEFAULT_PAUSE).unwrap_or_default()
                });
            self.pause_until(until);
            return Err(ModelError::Status {
                status,
                hint: format!(
                    "; no model requests until {}",
                    until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
            });
        }
        if !(200..300).contains(&status) {
            let hint = match status {
                401 | 403 => "; check the API key ([enrich].api_key_env)".to_string(),
                404 => "; check [enrich].endpoint (requests go to {endpoint}/chat/completions) and [enrich].model".to_string(),
                _ => String::new(),
            };
            return Err(ModelError::Status { status, hint });
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > MAX_RESPONSE_BYTES {
                return Err(ModelError::Invalid(format!(
                    "response larger than {MAX_RESPONSE_BYTES} bytes"
                )));
            }
        }
        let content = completion_content(&bytes)?;
        validate_answer(&content, input_body)
    }
}

/// `s` cut to at most `max` characters (at a character boundary), and whether it was cut.
pub fn truncate_chars(s: &str, max: usize) -> (&str, bool) {
    match s.char_indices().nth(max) {
        Some((i, _)) => (&s[..i], true),
        None => (s, false),
    }
}

/// reqwest's message without the URL (which may be long and is already in the context).
fn without_url(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    if let Some(url) = e.url() {
        msg = msg.replace(&format!(" ({url})"), "");
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    msg
}

const SYSTEM_PROMPT: &str = "You edit posts for a technical news site. Given a post's title, \
feed, tags and markdown body, answer with one JSON object and nothing else, with exactly these \
keys: \"title\" (a clear, factual title, at most 200 characters, plain text), \"description\" \
(a plain-text summary of one or two sentences, at most 300 characters), \"excerpt\" (a \
plain-text teaser, at most 500 characters), \"tags\" (1 to 15 short topic tags, each at most 40 \
characters, e.g. \"Kubernetes\", \"CI/CD\", \"Security\") and \"body\" (the body rewritten as \
clean markdown: keep every fact, link and code block, no raw HTML, no front matter, no title \
heading). Do not invent facts.";

/// The chat-completions request for one post.
pub fn request_body(model: &str, post: &Post, input_body: &str) -> Value {
    let truncated = input_body.len() < post.content_markdown.len();
    let user = format!(
        "Title: {}\nFeed: {}\nTags: {}\n\nBody (markdown{}):\n{}",
        post.title,
        post.feed_name,
        post.tags.join(", "),
        if truncated { ", truncated" } else { "" },
        input_body
    );
    json!({
        "model": model,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": user},
        ],
        "response_format": {"type": "json_object"},
        "temperature": 0,
    })
}

/// `choices[0].message.content` of a chat-completions response.
fn completion_content(bytes: &[u8]) -> Result<String, ModelError> {
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

/// The model step of one poll: cached answers for the batch's posts (one query), model calls
/// for the others (bounded by the client's concurrency, awaited together), successes cached,
/// every answer applied. Posts that fall back keep their deterministic result; see the module
/// doc for the retry of transient failures. Never fails: a store error is logged and the posts
/// go on with what could be done.
pub async fn enrich_posts(
    store: &dyn Store,
    client: &ModelClient,
    feed: &FeedConfig,
    posts: &mut [Post],
    max_tags: usize,
) {
    if posts.is_empty() {
        return;
    }
    let s = client.settings();
    let hashes: Vec<String> = posts.iter().map(|p| p.content_hash.clone()).collect();
    let cached = match store.get_enrichments(&s.model, &hashes).await {
        Ok(c) => c,
        Err(e) => {
            warn!("model step: cannot read the cache: {e}");
            HashMap::new()
        }
    };
    let mut answers: Vec<Option<ModelAnswer>> = Vec::with_capacity(posts.len());
    let mut to_ask = Vec::new();
    for (i, post) in posts.iter().enumerate() {
        let hit = cached.get(&post.content_hash).and_then(|json| {
            serde_json::from_str::<ModelAnswer>(json)
                .map_err(|e| warn!(entry = %post.entry_key, "model step: ignoring a corrupt cached answer: {e}"))
                .ok()
        });
        if hit.is_none() {
            to_ask.push(i);
        }
        answers.push(hit);
    }
    let cached_n = posts.len() - to_ask.len();
    let calls = to_ask.iter().map(|&i| {
        let post = &posts[i];
        async move { (i, client.enrich(post).await) }
    });
    let results = futures_util::future::join_all(calls).await;
    let (mut asked, mut accepted) = (0usize, 0usize);
    let mut pending = Vec::new();
    for (i, result) in results {
        let post = &posts[i];
        match result {
            Ok(answer) => {
                asked += 1;
                accepted += 1;
                match serde_json::to_string(&answer) {
                    Ok(json) => {
                        if let Err(e) = store
                            .put_enrichment(&post.content_hash, &s.model, &json)
                            .await
                        {
                            warn!(entry = %post.entry_key, "model step: cannot cache the answer: {e}");
                        }
                    }
                    Err(e) => warn!("model step: cannot serialize the answer: {e}"),
                }
                answers[i] = Some(answer);
            }
            Err(e) => {
                if !matches!(e, ModelError::Budget(_) | ModelError::Paused(_)) {
                    asked += 1;
                }
                match &e {
                    // Logged once: the budget once a day by the client, the pause with the 429/503
                    // that started it; one line per post would be noise.
                    ModelError::Budget(_) | ModelError::Paused(_) => {
                        debug!(entry = %post.entry_key, "model step skipped: {e}")
                    }
                    _ => warn!(
                        entry = %post.entry_key,
                        url = %post.canonical_url,
                        "model step failed, keeping the deterministic result: {e}{}",
                        if e.is_transient() { " (retried on a later poll)" } else { "" }
                    ),
                }
                if e.is_transient() {
                    pending.push(i);
                }
            }
        }
    }
    for (post, answer) in posts.iter_mut().zip(&answers) {
        if let Some(answer) = answer {
            *post = apply(post, feed, answer, max_tags, s.max_input_chars);
        }
    }
    for i in pending {
        posts[i].content_hash.push_str(PENDING_SUFFIX);
    }
    if cached_n + asked > 0 {
        info!(
            posts = posts.len(),
            cached = cached_n,
            asked,
            accepted,
            "model step"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn load(
        file: &str,
        env: &[(&str, &str)],
    ) -> Result<crate::config::Settings, crate::config::ConfigError> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        crate::config::from_parts(
            Some(file),
            crate::config::Source::Defaults,
            &env,
            Some("sqlite::memory:"),
        )
    }

    #[test]
    fn settings_keys_defaults_env_and_errors() {
        assert!(load("", &[]).unwrap().enrich.model.is_none());
        let s = load(
            "",
            &[
                ("FEEDSMITH__ENRICH__ENDPOINT", "http://127.0.0.1:1/v1"),
                ("FEEDSMITH__ENRICH__MODEL", "m1"),
                ("FEEDSMITH__ENRICH__DAILY_BUDGET", "7"),
            ],
        )
        .unwrap();
        let m = s.enrich.model.clone().unwrap();
        assert_eq!(
            (m.endpoint.as_str(), m.model.as_str()),
            ("http://127.0.0.1:1/v1", "m1")
        );
        assert_eq!((m.daily_budget, m.concurrency), (7, DEFAULT_CONCURRENCY));
        assert_eq!(m.timeout, Duration::from_secs(60));
        assert_eq!(m.max_input_chars, DEFAULT_MAX_INPUT_CHARS);
        let toml = s.to_toml();
        for line in [
            "endpoint = \"http://127.0.0.1:1/v1\"",
            "model = \"m1\"",
            "model_concurrency = 2",
            "model_timeout = \"1m\"",
            "daily_budget = 7",
            "max_input_chars = 12000",
        ] {
            assert!(toml.lines().any(|l| l == line), "{line} in {toml}");
        }
        // The [enrich] table `config check` prints loads again.
        let printed: toml::Value = toml::from_str(&toml).unwrap();
        let mut only_enrich = toml::map::Map::new();
        only_enrich.insert("enrich".into(), printed["enrich"].clone());
        let again = load(&toml::to_string(&only_enrich).unwrap(), &[]).unwrap();
        assert_eq!(again.enrich.model, s.enrich.model);

        // The key is read at load time from the named variable (PATH is always set) and never
        // printed.
        let s = load(
            "[enrich]\nendpoint = \"https://api.example.org/v1\"\nmodel = \"m\"\napi_key_env = \"PATH\"\nmodel_timeout = \"5s\"\nmodel_concurrency = 4\n",
            &[],
        )
        .unwrap();
        let m = s.enrich.model.clone().unwrap();
        assert!(m.api_key.is_some());
        assert_eq!((m.timeout, m.concurrency), (Duration::from_secs(5), 4));
        let path = std::env::var("PATH").unwrap();
        assert!(!s.to_toml().contains(&path) && !format!("{s:?}").contains(&path));

        for (file, expected) in [
            ("[enrich]\nendpoint = \"http://x.org/v1\"\n", "[enrich].model is not"),
            ("[enrich]\nmodel = \"m\"\n", "[enrich].endpoint is not"),
            ("[enrich]\nendpoint = \"x.org\"\nmodel = \"m\"\n", "[enrich].endpoint = \"x.org\""),
            (
                "[enrich]\nendpoint = \"http://x.org/v1\"\nmodel = \"m\"\napi_key_env = \"FEEDSMITH_TEST_NO_SUCH_KEY\"\n",
                "environment variable FEEDSMITH_TEST_NO_SUCH_KEY is not set",
            ),
            (
                "[enrich]\nendpoint = \"http://x.org/v1\"\nmodel = \"m\"\nmodel_concurrency = 0\n",
                "[enrich].model_concurrency = 0",
            ),
            ("[enrich]\nmodel_timeout = \"soon\"\n", "[enrich].model_timeout"),
            ("[enrich]\nendpont = \"http://x.org\"\n", "endpoint"),
        ] {
            match load(file, &[]) {
                Ok(_) => panic!("{file}: accepted"),
                Err(e) => {
                    assert!(e.to_string().contains(expected), "{file}: {e}");
                    let key = e.setting().map(|s| s.key.as_str()).unwrap_or_default();
                    assert!(key.starts_with("[enrich]."), "{file}: key {key:?} of {e}");
                }
            }
        }
    }

    #[test]
    fn budget_and_pause() {
        let s = ModelSettings {
            endpoint: "http://127.0.0.1:9/v1".into(),
            model: "m".into(),
            api_key_env: None,
            api_key: None,
            concurrency: 1,
            timeout: Duration::from_secs(1),
            daily_budget: 2,
            max_input_chars: 100,
        };
        let c = ModelClient::new(&s, "t").unwrap();
        assert!(c.admit().is_ok() && c.admit().is_ok());
        assert_eq!(c.admit(), Err(ModelError::Budget(2)));
        let c = ModelClient::new(&s, "t").unwrap();
        let until = Utc::now() + chrono::Duration::seconds(30);
        c.pause_until(until);
        assert_eq!(c.admit(), Err(ModelError::Paused(until)));
        assert!(ModelError::Paused(until).is_transient());
        assert!(format!("{:?}", ApiKey("secret".into())).contains("***"));
    }
}
