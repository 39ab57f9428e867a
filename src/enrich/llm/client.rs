//! The client of the model endpoint (HTTP I/O): the chat-completions request for a post, its
//! own HTTP client, a bound on concurrent requests, the daily budget, the pause asked by
//! `Retry-After` and the feed fetcher's host book.
//!
//! Apart from the answer's validation (`answer.rs`) so that the part that talks to the
//! network, and can wait, time out or be refused, is in one place; what it reads back is handed
//! to the pure checks as bytes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tracing::warn;

use super::answer::{completion_content, truncate_chars, validate_answer, ModelAnswer};
use super::{ModelError, ModelSettings};
use crate::domain::Post;

/// Largest response body read from the endpoint.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
/// Pause after a 429/503 without a usable `Retry-After`.
const DEFAULT_PAUSE: Duration = Duration::from_secs(60);

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::llm::ApiKey;

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
