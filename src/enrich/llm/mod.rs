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

//!
//! The step is three files, so that each can be read alone: `client.rs` (the HTTP I/O: the
//! request, the budget, the pauses, the host book), `answer.rs` (pure: reading, validating and
//! applying what the model returned, tested without a network) and `step.rs` (what the pipeline
//! calls: the cache, the calls of one poll, the fallbacks). This file holds what they share:
//! the settings and [`ModelError`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

mod answer;
mod client;
mod step;

pub use answer::{
    apply, truncate_chars, validate_answer, ModelAnswer, MAX_DESCRIPTION_CHARS, MAX_EXCERPT_CHARS,
    MAX_TAGS, MAX_TAG_CHARS, MAX_TITLE_CHARS, MIN_BODY_RATIO,
};
pub use client::{request_body, ModelClient};
pub use step::{enrich_posts, PENDING_SUFFIX};

/// Default of `[enrich] model_concurrency`.
pub const DEFAULT_CONCURRENCY: usize = 2;
/// Default of `[enrich] model_timeout`.
pub const DEFAULT_TIMEOUT: &str = "60s";
/// Default of `[enrich] daily_budget` (requests per UTC day and process).
pub const DEFAULT_DAILY_BUDGET: u32 = 500;
/// Default of `[enrich] max_input_chars`.
pub const DEFAULT_MAX_INPUT_CHARS: usize = 12_000;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
