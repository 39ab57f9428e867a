//! The file format: the serde structs a configuration deserializes into, and the built-in
//! defaults, which are also the tree unknown keys are checked against. `deny_unknown_fields`
//! everywhere: a typo must not pass silently. Values stay as written (strings for durations and
//! sizes, `i64` for counts) so that validation, not serde, words the error.

use serde::{Deserialize, Serialize};

use crate::enrich::{llm, DEFAULT_MAX_TAGS};

use super::default_user_agent;

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSettings {
    pub(super) database: RawDatabase,
    pub(super) http: RawHttp,
    pub(super) schedule: RawSchedule,
    pub(super) server: RawServer,
    pub(super) publish: RawPublish,
    pub(super) enrich: RawEnrich,
    pub(super) articles: RawArticles,
    #[serde(default)]
    pub(super) feeds: Vec<RawFeed>,
    #[serde(default)]
    pub(super) hosts: Vec<RawHost>,
    pub(super) events: RawEvents,
    pub(super) health: RawHealth,
    #[serde(default)]
    pub(super) webhooks: Vec<RawWebhook>,
    /// `[[rules]]`: compiled by src/rules, which names the rule and key of a mistake.
    #[serde(default)]
    pub(super) rules: Vec<toml::Value>,
}

/// `[events]`: outbox retention and delivery timing (src/events).
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEvents {
    pub(super) keep: String,
    pub(super) deliver_deadline: String,
    pub(super) retry_initial: String,
    pub(super) retry_max: String,
    pub(super) poll_interval: String,
}

/// `[health]`: when a feed is failing or stale.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHealth {
    pub(super) failing_after: i64,
    pub(super) failing_for: String,
    pub(super) stale_after: String,
}

/// `[[webhooks]]`: one receiver of events.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebhook {
    #[serde(default)]
    pub(super) name: Option<String>,
    pub(super) url: String,
    pub(super) events: Vec<String>,
    #[serde(default)]
    pub(super) feeds: Vec<String>,
    #[serde(default)]
    pub(super) collections: Vec<String>,
    #[serde(default)]
    pub(super) secret_env: Option<String>,
    #[serde(default = "default_webhook_timeout")]
    pub(super) timeout: String,
    #[serde(default = "default_webhook_attempts")]
    pub(super) max_attempts: i64,
}

fn default_webhook_timeout() -> String {
    "10s".into()
}

fn default_webhook_attempts() -> i64 {
    12
}

/// `[[hosts]]`: politeness per host (README "Hosts, not feeds").
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHost {
    #[serde(rename = "match")]
    pub(super) pattern: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) interval: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) burst: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) concurrency: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub(super) headers: std::collections::BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) proxy: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEnrich {
    pub(super) keyword_tags: bool,
    pub(super) max_tags: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) taxonomy: Option<String>,
    /// The language-model step (src/enrich/llm.rs): on when `endpoint` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) api_key_env: Option<String>,
    pub(super) model_concurrency: i64,
    pub(super) model_timeout: String,
    pub(super) daily_budget: i64,
    pub(super) max_input_chars: i64,
}

/// Keys that have no default value, so they are missing from the defaults tree that unknown keys
/// are checked against: `(section, key)`.
pub(super) const OPTIONAL_KEYS: &[(&str, &str)] = &[
    ("publish", "dir"),
    ("publish", "git_push"),
    ("enrich", "taxonomy"),
    ("enrich", "endpoint"),
    ("enrich", "model"),
    ("enrich", "api_key_env"),
    ("server", "public_url"),
    ("server", "token_env"),
    ("http", "proxy"),
];

pub(super) fn is_optional_key(section: &str, key: &str) -> bool {
    OPTIONAL_KEYS.contains(&(section, key))
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDatabase {
    pub(super) url: String,
    pub(super) max_connections: u32,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttp {
    pub(super) user_agent: String,
    pub(super) timeout: String,
    pub(super) connect_timeout: String,
    pub(super) max_body: String,
    pub(super) concurrency: i64,
    pub(super) per_host_concurrency: i64,
    pub(super) max_redirects: i64,
    pub(super) allow_hosts: Vec<String>,
    pub(super) allow_private_networks: bool,
    pub(super) secret_query_keys: Vec<String>,
    pub(super) max_host_wait: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) proxy: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSchedule {
    pub(super) default: String,
    pub(super) max_backoff: String,
    pub(super) shutdown_grace: String,
    pub(super) lease: String,
    pub(super) max_jitter: String,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    pub(super) listen: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) public_url: Option<String>,
    pub(super) max_connections: i64,
    pub(super) header_timeout: String,
    pub(super) idle_timeout: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) token_env: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPublish {
    pub(super) permalink: String,
    pub(super) video_embed: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) dir: Option<String>,
    #[serde(default)]
    pub(super) git: bool,
    #[serde(default = "default_git_author")]
    pub(super) git_author: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) git_push: Option<String>,
}

fn default_git_author() -> String {
    crate::publish::git::DEFAULT_AUTHOR.to_string()
}

/// `[articles]`: the full-content step (src/article).
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawArticles {
    pub(super) full_content: String,
    pub(super) concurrency: i64,
    pub(super) per_host_interval: String,
    pub(super) max_body: String,
    pub(super) max_attempts: i64,
    pub(super) retry_backoff: String,
    pub(super) fetch_deadline: String,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFeed {
    pub(super) name: String,
    pub(super) url: String,
    pub(super) collection: String,
    #[serde(default)]
    pub(super) categories: Vec<String>,
    #[serde(default)]
    pub(super) tags: Vec<String>,
    #[serde(default)]
    pub(super) schedule: Option<String>,
    #[serde(default = "yes")]
    pub(super) enabled: bool,
    #[serde(default)]
    pub(super) max_items: Option<i64>,
    #[serde(default)]
    pub(super) min_content_chars: Option<i64>,
    #[serde(default)]
    pub(super) taxonomy: Option<String>,
    #[serde(default)]
    pub(super) full_content: Option<String>,
    #[serde(default)]
    pub(super) content_selector: Option<String>,
    #[serde(default)]
    pub(super) public_url: Option<String>,
    /// `[[feeds.rules]]` (or `rules = [{ ... }]`), before the global ones.
    #[serde(default)]
    pub(super) rules: Vec<toml::Value>,
    /// Publish only the entries a `keep` rule matched.
    #[serde(default)]
    pub(super) keep_only: bool,
}

fn yes() -> bool {
    true
}

pub(super) fn defaults() -> RawSettings {
    RawSettings {
        database: RawDatabase {
            url: "sqlite://feedsmith.db".into(),
            max_connections: 8,
        },
        http: RawHttp {
            user_agent: default_user_agent(),
            timeout: "20s".into(),
            connect_timeout: "10s".into(),
            max_body: "15MiB".into(),
            concurrency: 16,
            per_host_concurrency: 2,
            max_redirects: 5,
            allow_hosts: Vec::new(),
            allow_private_networks: false,
            secret_query_keys: Vec::new(),
            max_host_wait: "2m".into(),
            proxy: None,
        },
        schedule: RawSchedule {
            default: "0 */30 * * * *".into(),
            max_backoff: "24h".into(),
            shutdown_grace: "10s".into(),
            lease: "2m".into(),
            max_jitter: "10m".into(),
        },
        server: RawServer {
            listen: "127.0.0.1:8080".into(),
            public_url: None,
            max_connections: 512,
            header_timeout: "10s".into(),
            idle_timeout: "60s".into(),
            token_env: None,
        },
        publish: RawPublish {
            permalink: "/{collection}/{date}-{slug}.html".into(),
            video_embed: "liquid".into(),
            dir: None,
            git: false,
            git_author: default_git_author(),
            git_push: None,
        },
        enrich: RawEnrich {
            keyword_tags: true,
            max_tags: DEFAULT_MAX_TAGS as i64,
            taxonomy: None,
            endpoint: None,
            model: None,
            api_key_env: None,
            model_concurrency: llm::DEFAULT_CONCURRENCY as i64,
            model_timeout: llm::DEFAULT_TIMEOUT.into(),
            daily_budget: i64::from(llm::DEFAULT_DAILY_BUDGET),
            max_input_chars: llm::DEFAULT_MAX_INPUT_CHARS as i64,
        },
        articles: RawArticles {
            full_content: "when_short".into(),
            concurrency: 4,
            per_host_interval: "1s".into(),
            max_body: "5MiB".into(),
            max_attempts: 5,
            retry_backoff: "10m".into(),
            fetch_deadline: "30s".into(),
        },
        feeds: Vec::new(),
        hosts: Vec::new(),
        events: RawEvents {
            keep: "30d".into(),
            deliver_deadline: "30s".into(),
            retry_initial: "10s".into(),
            retry_max: "1h".into(),
            poll_interval: "1s".into(),
        },
        health: RawHealth {
            failing_after: 5,
            failing_for: "24h".into(),
            stale_after: "365d".into(),
        },
        webhooks: Vec::new(),
        rules: Vec::new(),
    }
}
