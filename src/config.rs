//! Layered, validated settings: built-in defaults, then the TOML file, then `FEEDSMITH__SECTION__KEY`
//! environment variables, then `--database-url`. Everything is checked once, here, so the rest of
//! the program works with typed values and never meets a malformed setting at 3 a.m.
//!
//! Layering is done on `toml::Value` trees before deserializing: that way an environment variable
//! is type-checked exactly like the file (and an unknown one is an error, not silently ignored).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::article::{ArticleSettings, FullContent};
use crate::domain::FeedConfig;
use crate::enrich::{llm, Enrichment, ModelSettings, Taxonomy, DEFAULT_MAX_TAGS};
use crate::normalize::VideoEmbed;

/// Prefix of environment overrides: `FEEDSMITH__HTTP__TIMEOUT=30s` sets `[http] timeout`.
pub const ENV_PREFIX: &str = "FEEDSMITH__";

/// Where the configuration came from, for messages ("in /etc/feedsmith/feedsmith.toml: ...").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    /// No file was found: built-in defaults plus environment variables only (containers).
    Defaults,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::File(p) => write!(f, "{}", p.display()),
            Source::Defaults => write!(f, "the built-in defaults"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}\n  fix: check the path given by --config / FEEDSMITH_CONFIG and its permissions")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration file {path} was given but does not exist\n  fix: create it (config/feedsmith.toml in the repository is a complete example) or correct the path")]
    Missing { path: PathBuf },
    #[error("in {source_name}: {message}")]
    Invalid {
        source_name: String,
        message: String,
    },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    /// A value given on the command line (`--database-url`) that validation refused.
    #[error("{flag}: {message}")]
    Flag { flag: String, message: String },
}

/// The validated settings every command runs with.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    #[serde(skip)]
    pub source: Source,
    pub database: DatabaseSettings,
    pub http: HttpSettings,
    pub schedule: ScheduleSettings,
    pub server: ServerSettings,
    pub publish: PublishSettings,
    pub enrich: EnrichSettings,
    pub articles: ArticleSettings,
    pub feeds: Vec<FeedConfig>,
    /// `[events]`, `[health]` and `[[webhooks]]` (src/events, docs/events.md).
    pub events: EventsSettings,
    pub health: HealthSettings,
    pub webhooks: Vec<WebhookSettings>,
    /// The global `[[rules]]` (each feed's `rules` has them after its own): for `inspect` of a
    /// feed that is not configured.
    #[serde(skip)]
    pub global_rules: crate::rules::FeedRules,
}

/// `[enrich]`: keyword tags from a taxonomy (README "Keyword tags"). The taxonomy files are read
/// and compiled here, once per load, so a bad rule is a configuration error at startup (or on
/// reload), never a failure in the middle of a poll.
#[derive(Debug, Clone, Serialize)]
pub struct EnrichSettings {
    pub keyword_tags: bool,
    pub max_tags: usize,
    /// Replaces the built-in taxonomy (`None`: the built-in one, `config/taxonomy.toml`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taxonomy: Option<PathBuf>,
    /// Feeds with a `taxonomy` of their own: feed URL -> file. `config check` shows each under
    /// its `[[feeds]]` table, where the file sets it.
    #[serde(skip)]
    pub feed_taxonomies: BTreeMap<String, PathBuf>,
    /// The compiled form the pipeline uses.
    #[serde(skip)]
    pub enrichment: Arc<Enrichment>,
    /// The optional language-model step (`endpoint`, `model`, ...): `None` when off.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelSettings>,
}

// Each stage owns its settings type; the configuration reads the file into them.
pub use crate::events::{EventsSettings, HealthSettings, WebhookSettings};
pub use crate::fetch::HttpSettings;
pub use crate::store::DatabaseSettings;

#[derive(Debug, Clone, Serialize)]
pub struct ScheduleSettings {
    pub default: String,
    #[serde(serialize_with = "ser_duration")]
    pub max_backoff: Duration,
    /// How long in-flight polls may finish after SIGTERM before they are cancelled.
    #[serde(serialize_with = "ser_duration")]
    pub shutdown_grace: Duration,
    /// How long a replica's claim on a feed holds without renewal (a dead replica's feeds are
    /// taken over after this).
    #[serde(serialize_with = "ser_duration")]
    pub lease: Duration,
    /// Upper bound of the per-feed jitter (half the schedule's period, at most this); `0s` turns
    /// jitter off (benchmarks, tests).
    #[serde(serialize_with = "ser_duration")]
    pub max_jitter: Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerSettings {
    pub listen: String,
    /// Where clients reach the daemon (`https://feeds.example.org`): the `/feed.xml` id and
    /// self link. Never taken from the request's `Host` header, which the client chooses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// Concurrent connections served; more are accepted and closed at once (503).
    pub max_connections: usize,
    /// A request's header must arrive within this (slowloris).
    #[serde(serialize_with = "ser_duration")]
    pub header_timeout: Duration,
    /// A connection with no traffic for this long is closed (idle keep-alive, stalled bodies).
    #[serde(serialize_with = "ser_duration")]
    pub idle_timeout: Duration,
    /// The environment variable holding the bearer token required on `/api/*` and `/feed.xml`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    /// The token itself, read at load; never printed.
    #[serde(skip)]
    pub token: Option<ApiToken>,
}

/// The API's bearer token (`[server] token_env`); `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(pub String);

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiToken(***)")
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PublishSettings {
    /// Permalink pattern with `{collection}`, `{date}`, `{slug}`.
    pub permalink: String,
    pub video_embed: VideoEmbed,
    /// Continuous publishing target (a Jekyll site's source directory).
    pub dir: Option<PathBuf>,
    /// `git = true`: commit (and push) what each export into `dir` changed (src/publish/git.rs).
    pub git: Option<crate::publish::git::GitSettings>,
}

// Where the settings types of the stages (article, enrich) name them: in a leaf module, so a
// stage never imports the configuration that imports it.
pub use crate::units::format_duration;
pub(crate) use crate::units::ser_duration;

/// The default User-Agent: descriptive, versioned and with a contact URL, which is what Reddit's
/// API rules ask for (generic agents such as `reqwest/x` are throttled or blocked there).
pub fn default_user_agent() -> String {
    format!(
        "feedsmith/{} (feed aggregator; +https://github.com/feedsmith/feedsmith)",
        env!("CARGO_PKG_VERSION")
    )
}

// ---------------------------------------------------------------------------------------------
// The file format. `deny_unknown_fields` everywhere: a typo must not pass silently.

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    database: RawDatabase,
    http: RawHttp,
    schedule: RawSchedule,
    server: RawServer,
    publish: RawPublish,
    enrich: RawEnrich,
    articles: RawArticles,
    #[serde(default)]
    feeds: Vec<RawFeed>,
    #[serde(default)]
    hosts: Vec<RawHost>,
    events: RawEvents,
    health: RawHealth,
    #[serde(default)]
    webhooks: Vec<RawWebhook>,
    /// `[[rules]]`: compiled by src/rules, which names the rule and key of a mistake.
    #[serde(default)]
    rules: Vec<toml::Value>,
}

/// `[events]`: outbox retention and delivery timing (src/events).
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawEvents {
    keep: String,
    deliver_deadline: String,
    retry_initial: String,
    retry_max: String,
    poll_interval: String,
}

/// `[health]`: when a feed is failing or stale.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawHealth {
    failing_after: i64,
    failing_for: String,
    stale_after: String,
}

/// `[[webhooks]]`: one receiver of events.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    #[serde(default)]
    name: Option<String>,
    url: String,
    events: Vec<String>,
    #[serde(default)]
    feeds: Vec<String>,
    #[serde(default)]
    collections: Vec<String>,
    #[serde(default)]
    secret_env: Option<String>,
    #[serde(default = "default_webhook_timeout")]
    timeout: String,
    #[serde(default = "default_webhook_attempts")]
    max_attempts: i64,
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
struct RawHost {
    #[serde(rename = "match")]
    pattern: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    interval: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    burst: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    concurrency: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    headers: std::collections::BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    proxy: Option<String>,
}

/// A proxy URL as reqwest takes it: `http://` or `https://`, with a host (this build of reqwest
/// has no SOCKS support). Credentials in it are redacted wherever it is shown.
fn check_proxy(key: &str, value: &str) -> Result<String, String> {
    let v = value.trim();
    let url = url::Url::parse(v).map_err(|e| {
        format!(
            "{key} = {:?}: not a URL ({e}); expected e.g. \"http://proxy.internal:3128\"",
            crate::redact::redact_url(v)
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "{key} = {:?}: expected an http:// or https:// proxy URL with a host, e.g. \"http://proxy.internal:3128\"",
            crate::redact::redact_url(v)
        ));
    }
    Ok(v.to_string())
}

/// The `[[hosts]]` rules, checked, with the Reddit preset added unless a rule matches
/// `reddit.com` itself.
fn validate_hosts(raw: &[RawHost]) -> Result<Vec<crate::fetch::HostRule>, String> {
    let mut rules = Vec::with_capacity(raw.len() + 1);
    for (i, h) in raw.iter().enumerate() {
        let at = format!("hosts[{i}] (match = {:?})", h.pattern);
        let pattern = h
            .pattern
            .trim()
            .trim_start_matches("*.")
            .to_ascii_lowercase();
        if pattern.is_empty() || pattern.contains(['/', ':', ' ']) {
            return Err(format!(
                "{at}: expected a host name such as \"reddit.com\" (no scheme, port or path)"
            ));
        }
        let interval = match &h.interval {
            Some(v) => parse_duration(v).ok_or_else(|| {
                format!("{at}.interval = {v:?}: expected a duration such as \"500ms\", \"6s\" or \"1m\"")
            })?,
            None => Duration::ZERO,
        };
        let burst = match h.burst {
            Some(b) if (1..=1000).contains(&b) => b as u32,
            Some(b) => return Err(format!("{at}.burst = {b}: expected 1 to 1000")),
            None => 1,
        };
        let concurrency = match h.concurrency {
            Some(c) if (1..=256).contains(&c) => Some(c as usize),
            Some(c) => return Err(format!("{at}.concurrency = {c}: expected 1 to 256")),
            None => None,
        };
        if let Some(ua) = &h.user_agent {
            if ua.trim().is_empty() || reqwest::header::HeaderValue::from_str(ua).is_err() {
                return Err(format!(
                    "{at}.user_agent = {ua:?}: expected a non-empty agent of printable ASCII, such as \"feedsmith/0.1 (+https://example.org/contact)\""
                ));
            }
        }
        for (name, value) in &h.headers {
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(format!(
                    "{at}.headers: {name:?} is not a valid HTTP header name (letters, digits and '-')"
                ));
            }
            if reqwest::header::HeaderValue::from_str(value).is_err() {
                return Err(format!(
                    "{at}.headers.{name}: the value contains characters not allowed in an HTTP header"
                ));
            }
        }
        let proxy = match &h.proxy {
            Some(p) => Some(check_proxy(&format!("{at}.proxy"), p)?),
            None => None,
        };
        rules.push(crate::fetch::HostRule {
            pattern,
            interval,
            burst,
            concurrency,
            user_agent: h.user_agent.clone(),
            headers: h.headers.clone(),
            proxy,
        });
    }
    if !rules.iter().any(|r| r.pattern == "reddit.com") {
        rules.push(crate::fetch::HostRule::reddit_preset());
    }
    Ok(rules)
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawEnrich {
    keyword_tags: bool,
    max_tags: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    taxonomy: Option<String>,
    /// The language-model step (src/enrich/llm.rs): on when `endpoint` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    api_key_env: Option<String>,
    model_concurrency: i64,
    model_timeout: String,
    daily_budget: i64,
    max_input_chars: i64,
}

/// Keys that have no default value, so they are missing from the defaults tree that unknown keys
/// are checked against: `(section, key)`.
const OPTIONAL_KEYS: &[(&str, &str)] = &[
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

fn is_optional_key(section: &str, key: &str) -> bool {
    OPTIONAL_KEYS.contains(&(section, key))
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    url: String,
    max_connections: u32,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    user_agent: String,
    timeout: String,
    connect_timeout: String,
    max_body: String,
    concurrency: i64,
    per_host_concurrency: i64,
    max_redirects: i64,
    allow_hosts: Vec<String>,
    allow_private_networks: bool,
    secret_query_keys: Vec<String>,
    max_host_wait: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    proxy: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    default: String,
    max_backoff: String,
    shutdown_grace: String,
    lease: String,
    max_jitter: String,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    public_url: Option<String>,
    max_connections: i64,
    header_timeout: String,
    idle_timeout: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token_env: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawPublish {
    permalink: String,
    video_embed: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dir: Option<String>,
    #[serde(default)]
    git: bool,
    #[serde(default = "default_git_author")]
    git_author: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    git_push: Option<String>,
}

fn default_git_author() -> String {
    crate::publish::git::DEFAULT_AUTHOR.to_string()
}

/// `[publish] git`, `git_author`, `git_push`: the settings of src/publish/git.rs, and `dir` inside
/// a git work tree when `git = true`.
fn validate_git(
    git: bool,
    author: &str,
    push: Option<&str>,
    dir: Option<&Path>,
) -> Result<Option<crate::publish::git::GitSettings>, String> {
    let settings = crate::publish::git::GitSettings::new(author, push)?;
    if !git {
        if settings.push.is_some() {
            return Err("[publish].git_push is set but git = false: set [publish].git = true to commit and push, or remove git_push".into());
        }
        return Ok(None);
    }
    let Some(dir) = dir else {
        return Err("[publish].git = true needs [publish].dir: the directory inside the site's git work tree that feedsmith exports to".into());
    };
    crate::publish::git::check_work_tree(dir)?;
    Ok(Some(settings))
}

/// `[articles]`: the full-content step (src/article).
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawArticles {
    full_content: String,
    concurrency: i64,
    per_host_interval: String,
    max_body: String,
    max_attempts: i64,
    retry_backoff: String,
    fetch_deadline: String,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawFeed {
    name: String,
    url: String,
    collection: String,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    schedule: Option<String>,
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default)]
    max_items: Option<i64>,
    #[serde(default)]
    min_content_chars: Option<i64>,
    #[serde(default)]
    taxonomy: Option<String>,
    #[serde(default)]
    full_content: Option<String>,
    #[serde(default)]
    content_selector: Option<String>,
    #[serde(default)]
    public_url: Option<String>,
    /// `[[feeds.rules]]` (or `rules = [{ ... }]`), before the global ones.
    #[serde(default)]
    rules: Vec<toml::Value>,
    /// Publish only the entries a `keep` rule matched.
    #[serde(default)]
    keep_only: bool,
}

fn yes() -> bool {
    true
}

fn defaults() -> RawSettings {
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

/// Which configuration file to read: `--config` / `$FEEDSMITH_CONFIG` (given explicitly, so it
/// must exist), else `./config/feedsmith.toml`, else `/etc/feedsmith/feedsmith.toml`, else none.
pub fn locate(explicit: Option<&Path>) -> Result<Option<PathBuf>, ConfigError> {
    if let Some(p) = explicit {
        if !p.exists() {
            return Err(ConfigError::Missing {
                path: p.to_path_buf(),
            });
        }
        return Ok(Some(p.to_path_buf()));
    }
    for candidate in ["config/feedsmith.toml", "/etc/feedsmith/feedsmith.toml"] {
        let p = PathBuf::from(candidate);
        if p.is_file() {
            return Ok(Some(p));
        }
    }
    Ok(None)
}

/// Load settings: defaults, the file (if any), the process environment, then `database_url`.
pub fn load(path: Option<&Path>, database_url: Option<&str>) -> Result<Settings, ConfigError> {
    // Validation needs the built-in keyword taxonomy unless the file names another, and compiling
    // it takes about as long as parsing a file of 2000 feeds: start it on another core now.
    // (`Taxonomy::builtin` compiles once per process; `validate` waits for this compilation.)
    std::thread::spawn(|| {
        let _ = Taxonomy::builtin();
    });
    let env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX))
        .collect();
    match path {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                path: p.to_path_buf(),
                source,
            })?;
            from_parts(
                Some(&text),
                Source::File(p.to_path_buf()),
                &env,
                database_url,
            )
        }
        None => from_parts(None, Source::Defaults, &env, database_url),
    }
}

/// The pure core of [`load`]: file text, its name for messages, environment pairs, override.
pub fn from_parts(
    file_text: Option<&str>,
    source: Source,
    env: &[(String, String)],
    database_url: Option<&str>,
) -> Result<Settings, ConfigError> {
    let source_name = source.to_string();
    let invalid = |message: String| ConfigError::Invalid {
        source_name: source_name.clone(),
        message,
    };
    let mut tree = toml::Value::try_from(defaults())
        .map_err(|e| invalid(format!("internal error building defaults: {e}")))?;

    if let Some(text) = file_text {
        let file: toml::Value = toml::from_str(text).map_err(|e| invalid(toml_message(&e)))?;
        check_known_keys(&tree, &file, "").map_err(invalid)?;
        merge(&mut tree, file);
    }

    // Which keys the environment and the command line set, so an error about one of them names
    // the variable or the flag instead of the file.
    // (key, Some(variable)) for the environment, (key, None) for `--database-url`.
    let mut overrides: Vec<(String, Option<String>)> = Vec::new();
    let mut env_sorted: Vec<&(String, String)> = env.iter().collect();
    env_sorted.sort();
    for (var, value) in env_sorted {
        apply_env(&mut tree, var, value)?;
        if let Some(key) = env_key(var) {
            overrides.push((key, Some(var.clone())));
        }
    }
    if let Some(url) = database_url {
        if let Some(db) = tree.get_mut("database").and_then(|v| v.as_table_mut()) {
            db.insert("url".into(), toml::Value::String(url.to_string()));
        }
        overrides.push(("[database].url".into(), None));
    }

    let feeds_tree = tree.get("feeds").cloned();
    let raw: RawSettings = tree.try_into().map_err(|e: toml::de::Error| {
        // A bad `[[feeds]]` table: name it by index, name and line, which the merged tree lost.
        if let Some(located) = locate_feed_error(feeds_tree.as_ref(), file_text) {
            return invalid(located);
        }
        invalid(toml_message(&e))
    })?;
    validate(raw, source).map_err(|message| {
        let message = with_feed_lines(&message, file_text);
        match overrides
            .iter()
            .rev()
            .find(|(key, _)| message.contains(key.as_str()))
        {
            Some((_, Some(var))) => ConfigError::Env {
                var: var.clone(),
                message,
            },
            Some((_, None)) => ConfigError::Flag {
                flag: "--database-url".into(),
                message,
            },
            None => invalid(message),
        }
    })
}

/// `FEEDSMITH__DATABASE__URL` -> `[database].url`, the form validation messages use.
fn env_key(var: &str) -> Option<String> {
    let rest = var.strip_prefix(ENV_PREFIX)?;
    let (section, key) = rest.split_once("__")?;
    Some(format!(
        "[{}].{}",
        section.to_ascii_lowercase(),
        key.to_ascii_lowercase()
    ))
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.len(), |i| before.len() - i - 1)
        + 1;
    (line, col)
}

/// Byte spans of the file's `[[feeds]]` tables, in order (empty when it has none or does not
/// parse).
fn feed_spans(file_text: Option<&str>) -> Vec<std::ops::Range<usize>> {
    let Some(text) = file_text else {
        return Vec::new();
    };
    let Ok(doc) = toml_edit::ImDocument::parse(text) else {
        return Vec::new();
    };
    doc.get("feeds")
        .and_then(|f| f.as_array_of_tables())
        .map(|a| a.iter().filter_map(|t| t.span()).collect())
        .unwrap_or_default()
}

/// The first `[[feeds]]` table that does not deserialize, as "feeds[I] (NAME) at line L,
/// column C: MESSAGE". `None` when every table is fine on its own (the error is elsewhere).
fn locate_feed_error(feeds: Option<&toml::Value>, file_text: Option<&str>) -> Option<String> {
    let feeds = feeds?.as_array()?;
    let spans = feed_spans(file_text);
    feeds.iter().enumerate().find_map(|(i, feed)| {
        let err = RawFeed::deserialize(feed.clone()).err()?;
        let name = feed
            .get("name")
            .and_then(|n| n.as_str())
            .map(|n| format!(" ({n:?})"))
            .unwrap_or_default();
        let message = plain_types(err.message());
        // The offending key: named in the message (`unknown field `x``), else the key whose
        // removal changes the error (serde's "invalid type" does not say which field).
        let named = message
            .split('`')
            .nth(1)
            .filter(|k| !k.is_empty() && !message.starts_with("missing"))
            .map(str::to_string);
        let key = named.clone().or_else(|| {
            let table = feed.as_table()?;
            table
                .keys()
                .find(|k| {
                    let mut without = table.clone();
                    without.remove(k.as_str());
                    RawFeed::deserialize(toml::Value::Table(without))
                        .map_or_else(|e| e.message() != err.message(), |_| true)
                })
                .cloned()
        });
        let message = match (&named, &key) {
            (None, Some(k)) => format!("{k}: {message}"),
            _ => message,
        };
        let at = spans.get(i).and_then(|span| {
            let text = file_text?;
            let key = key.as_deref();
            let table = text.get(span.clone())?;
            let offset = key
                .and_then(|k| {
                    table
                        .lines()
                        .scan(0, |pos, l| {
                            let here = *pos;
                            *pos += l.len() + 1;
                            Some((here, l))
                        })
                        .find(|(_, l)| l.trim_start().starts_with(k))
                        .map(|(here, l)| here + (l.len() - l.trim_start().len()))
                })
                .unwrap_or(0);
            let (line, col) = line_col(text, span.start + offset);
            Some(format!(" at line {line}, column {col}"))
        });
        Some(format!(
            "feeds[{i}]{name}{}: {message}",
            at.unwrap_or_default()
        ))
    })
}

/// Validation names a feed as `[[feeds]] #N (name)`; add the table's line in the file.
fn with_feed_lines(message: &str, file_text: Option<&str>) -> String {
    let Some(rest) = message.split("[[feeds]] #").nth(1) else {
        return message.to_string();
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let (Ok(n), Some(text)) = (digits.parse::<usize>(), file_text) else {
        return message.to_string();
    };
    let Some(span) = feed_spans(Some(text)).get(n.wrapping_sub(1)).cloned() else {
        return message.to_string();
    };
    let (line, _) = line_col(text, span.start);
    let tag = format!("[[feeds]] #{n}");
    message.replacen(&tag, &format!("{tag} (line {line})"), 1)
}

/// serde's type names in words: "expected i64" means nothing to someone editing a TOML file.
fn plain_types(message: &str) -> String {
    [
        ("expected i64", "expected a whole number"),
        ("expected u64", "expected a whole number of 0 or more"),
        ("expected u32", "expected a whole number of 0 or more"),
        ("expected usize", "expected a whole number of 0 or more"),
        ("expected f64", "expected a number"),
        ("expected a boolean", "expected true or false"),
        ("expected a string", "expected a quoted string"),
        (
            "expected a sequence",
            "expected a list such as [\"a\", \"b\"]",
        ),
    ]
    .iter()
    .fold(message.to_string(), |m, (from, to)| m.replace(from, to))
}

/// toml's messages carry a source excerpt spanning several lines; keep them but indent them so
/// the first line stays a readable summary.
fn toml_message(e: &toml::de::Error) -> String {
    let msg = plain_types(&e.to_string());
    msg.trim_end().replace('\n', "\n  ")
}

/// Reject keys the defaults don't know, naming the full key path and the known keys. `feeds` is
/// an array of tables whose keys are checked by serde (`deny_unknown_fields`).
fn check_known_keys(known: &toml::Value, given: &toml::Value, prefix: &str) -> Result<(), String> {
    let (Some(known), Some(given)) = (known.as_table(), given.as_table()) else {
        return Ok(());
    };
    for (key, value) in given {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        if prefix.is_empty()
            && (key == "feeds" || key == "hosts" || key == "webhooks" || key == "rules")
        {
            continue;
        }
        match known.get(key) {
            None if is_optional_key(prefix, key) => {}
            None => {
                let mut names: Vec<&str> = known.keys().map(String::as_str).collect();
                names.extend(
                    OPTIONAL_KEYS
                        .iter()
                        .filter(|(section, _)| *section == prefix)
                        .map(|(_, k)| *k),
                );
                if prefix.is_empty() {
                    names.push("feeds");
                }
                return Err(format!(
                    "unknown key `{path}`; expected one of: {}",
                    names.join(", ")
                ));
            }
            Some(k) if k.is_table() => check_known_keys(k, value, &path)?,
            Some(_) => {}
        }
    }
    Ok(())
}

fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) if existing.is_table() && v.is_table() => merge(existing, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Apply one `FEEDSMITH__SECTION__KEY=value`. The value takes the type of the setting it
/// replaces (a number stays a number), so `FEEDSMITH__HTTP__CONCURRENCY=32` works and
/// `FEEDSMITH__HTTP__CONCURENCY=32` is an error naming the variable.
fn apply_env(tree: &mut toml::Value, var: &str, value: &str) -> Result<(), ConfigError> {
    let err = |message: String| ConfigError::Env {
        var: var.to_string(),
        message,
    };
    let path: Vec<String> = var[ENV_PREFIX.len()..]
        .split("__")
        .map(|s| s.to_ascii_lowercase())
        .collect();
    if path.len() != 2 || path.iter().any(|p| p.is_empty()) {
        return Err(err(
            "expected FEEDSMITH__<SECTION>__<KEY>, e.g. FEEDSMITH__DATABASE__URL (feeds cannot be set from the environment)".into(),
        ));
    }
    let (section, key) = (&path[0], &path[1]);
    let table = tree
        .get_mut(section.as_str())
        .and_then(|v| v.as_table_mut())
        .ok_or_else(|| {
            err(format!(
                "unknown section [{section}]; expected one of: database, http, schedule, server, publish, enrich, articles"
            ))
        })?;
    let new_value = match table.get(key.as_str()) {
        Some(toml::Value::Integer(_)) => {
            toml::Value::Integer(value.trim().parse().map_err(|_| {
                err(format!(
                    "[{section}].{key} expects a whole number, got {value:?}"
                ))
            })?)
        }
        Some(toml::Value::Boolean(_)) => {
            toml::Value::Boolean(value.trim().parse().map_err(|_| {
                err(format!(
                    "[{section}].{key} expects true or false, got {value:?}"
                ))
            })?)
        }
        // A list (`[http] allow_hosts`): comma-separated.
        Some(toml::Value::Array(_)) => toml::Value::Array(
            value
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| toml::Value::String(v.to_string()))
                .collect(),
        ),
        Some(_) => toml::Value::String(value.to_string()),
        None if is_optional_key(section, key) => toml::Value::String(value.to_string()),
        None => {
            let names: Vec<&str> = table.keys().map(String::as_str).collect();
            return Err(err(format!(
                "unknown key `{section}.{key}`; expected one of: {}",
                names.join(", ")
            )));
        }
    };
    table.insert(key.clone(), new_value);
    Ok(())
}

fn validate_articles(a: RawArticles) -> Result<ArticleSettings, String> {
    let full_content = FullContent::parse(a.full_content.trim()).ok_or_else(|| {
        format!(
            "[articles].full_content = {:?}: expected \"never\", \"when_short\" or \"always\"",
            a.full_content
        )
    })?;
    let positive = |key: &str, v: i64, max: i64| -> Result<i64, String> {
        if (1..=max).contains(&v) {
            Ok(v)
        } else {
            Err(format!("[articles].{key} = {v}: expected 1 to {max}"))
        }
    };
    let duration = |key: &str, v: &str| -> Result<Duration, String> {
        parse_duration(v).ok_or_else(|| {
            format!("[articles].{key} = {v:?}: expected a duration such as \"500ms\", \"1s\" or \"10m\"")
        })
    };
    let max_body = parse_size(&a.max_body).ok_or_else(|| {
        format!(
            "[articles].max_body = {:?}: expected a size such as \"5MiB\" or \"500KB\"",
            a.max_body
        )
    })?;
    Ok(ArticleSettings {
        full_content,
        concurrency: positive("concurrency", a.concurrency, 256)? as usize,
        per_host_interval: duration("per_host_interval", &a.per_host_interval)?,
        max_body,
        max_attempts: positive("max_attempts", a.max_attempts, 100)? as u32,
        retry_backoff: duration("retry_backoff", &a.retry_backoff)?,
        fetch_deadline: duration("fetch_deadline", &a.fetch_deadline)?,
    })
}

/// `[enrich]`'s model keys: `None` unless `endpoint` is set; `endpoint` and `model` go together,
/// and the API key's environment variable must be set now, not at the first request.
fn validate_model(e: &RawEnrich) -> Result<Option<ModelSettings>, String> {
    fn given(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|v| !v.is_empty())
    }
    let range = |key: &str, v: i64, min: i64, max: i64| -> Result<i64, String> {
        if (min..=max).contains(&v) {
            Ok(v)
        } else {
            Err(format!("[enrich].{key} = {v}: expected {min} to {max}"))
        }
    };
    let timeout = duration_setting("enrich", "model_timeout", &e.model_timeout)?;
    if timeout.is_zero() {
        return Err(format!(
            "[enrich].model_timeout = {:?}: expected more than 0s, e.g. \"60s\"",
            e.model_timeout
        ));
    }
    let concurrency = range("model_concurrency", e.model_concurrency, 1, 64)? as usize;
    let daily_budget = range("daily_budget", e.daily_budget, 0, 10_000_000)? as u32;
    let max_input_chars = range("max_input_chars", e.max_input_chars, 100, 10_000_000)? as usize;
    let (endpoint, model) = match (given(&e.endpoint), given(&e.model)) {
        (None, None) => return Ok(None),
        (Some(_), None) => {
            return Err("[enrich].endpoint is set but [enrich].model is not; set both (e.g. model = \"gpt-4o-mini\") or neither".into())
        }
        (None, Some(_)) => {
            return Err("[enrich].model is set but [enrich].endpoint is not; set both (e.g. endpoint = \"https://api.openai.com/v1\") or neither".into())
        }
        (Some(endpoint), Some(model)) => (endpoint, model),
    };
    match url::Url::parse(endpoint) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
        _ => {
            return Err(format!(
                "[enrich].endpoint = {endpoint:?}: expected the API's base URL, e.g. \"https://api.openai.com/v1\" or \"http://127.0.0.1:8000/v1\" (requests go to <endpoint>/chat/completions)"
            ))
        }
    }
    let api_key_env = given(&e.api_key_env).map(str::to_string);
    let api_key = match &api_key_env {
        None => None,
        Some(var) => match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Some(llm::ApiKey(v.trim().to_string())),
            _ => {
                return Err(format!(
                    "[enrich].api_key_env = {var:?}: the environment variable {var} is not set or empty; export the API key in it (or remove api_key_env for an endpoint without a key)"
                ))
            }
        },
    };
    Ok(Some(ModelSettings {
        endpoint: endpoint.to_string(),
        model: model.to_string(),
        api_key_env,
        api_key,
        concurrency,
        timeout,
        daily_budget,
        max_input_chars,
    }))
}

fn validate(raw: RawSettings, source: Source) -> Result<Settings, String> {
    let RawSettings {
        database,
        http,
        schedule,
        server,
        publish,
        enrich,
        articles,
        feeds,
        hosts,
        events,
        health,
        webhooks,
        rules,
    } = raw;
    let (events, health, webhooks) = validate_events(events, health, webhooks, &feeds)?;
    let articles = validate_articles(articles)?;
    let global_rules = rules
        .iter()
        .enumerate()
        .map(|(i, r)| crate::rules::compile_rule(r, &format!("rules[{i}]")))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let hosts = validate_hosts(&hosts)?;

    let db_url = database.url.trim().to_string();
    if !(db_url.starts_with("sqlite:")
        || db_url.starts_with("postgres://")
        || db_url.starts_with("postgresql://"))
    {
        return Err(format!(
            "[database].url = {db_url:?}: unsupported database URL; expected sqlite://PATH (e.g. sqlite://feedsmith.db) or postgres://USER@HOST/DB"
        ));
    }
    if database.max_connections == 0 {
        return Err("[database].max_connections must be at least 1".into());
    }

    let positive = |key: &str, v: i64, max: i64| -> Result<usize, String> {
        if v < 1 || v > max {
            Err(format!(
                "[http].{key} = {v}: expected a whole number from 1 to {max}"
            ))
        } else {
            Ok(v as usize)
        }
    };
    if http.user_agent.trim().is_empty() {
        return Err("[http].user_agent is empty; expected a descriptive agent such as \"feedsmith/0.1 (+https://example.org/contact)\"".into());
    }
    if reqwest::header::HeaderValue::from_str(&http.user_agent).is_err() {
        return Err("[http].user_agent contains characters not allowed in an HTTP header".into());
    }
    let max_redirects = http.max_redirects;
    if !(0..=20).contains(&max_redirects) {
        return Err(format!(
            "[http].max_redirects = {max_redirects}: expected 0 to 20"
        ));
    }
    let http = HttpSettings {
        user_agent: http.user_agent,
        timeout: duration_setting("http", "timeout", &http.timeout)?,
        connect_timeout: duration_setting("http", "connect_timeout", &http.connect_timeout)?,
        max_body: parse_size(&http.max_body).ok_or_else(|| {
            format!(
                "[http].max_body = {:?}: expected a size such as \"15MiB\", \"500KB\" or a number of bytes",
                http.max_body
            )
        })?,
        concurrency: positive("concurrency", http.concurrency, 4096)?,
        per_host_concurrency: positive("per_host_concurrency", http.per_host_concurrency, 256)?,
        max_redirects: max_redirects as usize,
        allow_hosts: http
            .allow_hosts
            .iter()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .collect(),
        allow_private_networks: http.allow_private_networks,
        secret_query_keys: http.secret_query_keys.clone(),
        hosts,
        max_host_wait: duration_setting("http", "max_host_wait", &http.max_host_wait)?,
        proxy: match http.proxy.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(p) => Some(check_proxy("[http].proxy", p)?),
        },
    };
    // Before anything is printed: the keys redacted in every URL shown (src/redact.rs).
    crate::redact::set_extra_secret_keys(&http.secret_query_keys);

    check_cron("[schedule].default", &schedule.default)?;
    let schedule = ScheduleSettings {
        max_backoff: duration_setting("schedule", "max_backoff", &schedule.max_backoff)?,
        shutdown_grace: duration_setting("schedule", "shutdown_grace", &schedule.shutdown_grace)?,
        lease: duration_setting("schedule", "lease", &schedule.lease)?,
        max_jitter: duration_setting("schedule", "max_jitter", &schedule.max_jitter)?,
        default: schedule.default,
    };

    if server.listen.parse::<std::net::SocketAddr>().is_err() {
        return Err(format!(
            "[server].listen = {:?}: expected an address and port such as \"127.0.0.1:8080\" or \"0.0.0.0:8080\"",
            server.listen
        ));
    }

    let (
        server_public_url,
        server_max_connections,
        server_header_timeout,
        server_idle_timeout,
        server_token,
    ) = validate_server_extras(&server)?;

    for placeholder_free in [&publish.permalink] {
        if !placeholder_free.contains("{slug}") {
            return Err(format!(
                "[publish].permalink = {placeholder_free:?}: the pattern must contain {{slug}} (placeholders: {{collection}}, {{date}}, {{slug}})"
            ));
        }
    }
    let video_embed = match publish.video_embed.as_str() {
        "liquid" => VideoEmbed::Liquid,
        "link" => VideoEmbed::Link,
        other => {
            return Err(format!(
                "[publish].video_embed = {other:?}: expected \"liquid\" or \"link\""
            ))
        }
    };
    let dir = publish
        .dir
        .filter(|d| !d.trim().is_empty())
        .map(PathBuf::from);
    let git = validate_git(
        publish.git,
        &publish.git_author,
        publish.git_push.as_deref(),
        dir.as_deref(),
    )?;
    let publish = PublishSettings {
        permalink: publish.permalink,
        video_embed,
        dir,
        git,
    };

    if !(1..=100).contains(&enrich.max_tags) {
        return Err(format!(
            "[enrich].max_tags = {}: expected 1 to 100 (to turn keyword tags off, set keyword_tags = false)",
            enrich.max_tags
        ));
    }
    let model = validate_model(&enrich)?;
    let base_dir = match &source {
        Source::File(p) => p.parent().map(Path::to_path_buf).unwrap_or_default(),
        Source::Defaults => PathBuf::new(),
    };
    let mut taxonomies = TaxonomyCache::new(base_dir);
    let global_taxonomy = match enrich.taxonomy.as_deref().filter(|t| !t.trim().is_empty()) {
        Some(path) => Some(taxonomies.load(path, "[enrich].taxonomy")?),
        None => None,
    };
    let mut per_feed_taxonomies = BTreeMap::new();
    let mut feed_taxonomies = BTreeMap::new();

    let mut seen_urls = HashSet::new();
    let mut feed_configs = Vec::with_capacity(feeds.len());
    for (i, f) in feeds.into_iter().enumerate() {
        let at = format!("[[feeds]] #{} ({:?})", i + 1, f.name);
        if f.name.trim().is_empty() {
            return Err(format!("{at}: `name` is empty"));
        }
        let url = f.url.trim().to_string();
        match url::Url::parse(&url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            _ => {
                return Err(format!(
                    "{at}: url = {url:?} is not an absolute http(s) URL; expected e.g. \"https://www.reddit.com/r/devops/.rss\""
                ))
            }
        }
        if !seen_urls.insert(url.clone()) {
            return Err(format!(
                "{at}: url = {url:?} is listed twice; the URL identifies a feed, remove one of the two tables"
            ));
        }
        let collection = f.collection.trim().to_string();
        if collection.is_empty()
            || !collection
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "{at}: collection = {:?}: expected a folder name of letters, digits, '-' or '_' (e.g. \"community\", \"blogs\")",
                f.collection
            ));
        }
        if let Some(s) = &f.schedule {
            check_cron(&format!("{at}: schedule"), s)?;
        }
        if let Some(path) = f.taxonomy.as_deref().filter(|t| !t.trim().is_empty()) {
            let (file, taxonomy) = taxonomies.load(path, &format!("{at}: taxonomy"))?;
            per_feed_taxonomies.insert(url.clone(), taxonomy);
            feed_taxonomies.insert(url.clone(), file);
        }
        let full_content = match f.full_content.as_deref() {
            None => None,
            Some(v) => Some(FullContent::parse(v).ok_or_else(|| {
                format!(
                    "{at}: full_content = {v:?}: expected \"never\", \"when_short\" or \"always\""
                )
            })?),
        };
        let content_selector = match f.content_selector.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(sel) => {
                crate::article::extract::check_selector(sel).map_err(|e| {
                    format!("{at}: content_selector = {sel:?}: {e}; expected e.g. \"article .post-body\"")
                })?;
                Some(sel.to_string())
            }
        };
        let public_url = match f.public_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(p) => match url::Url::parse(p) {
                Ok(u) if matches!(u.scheme(), "http" | "https")
                    && u.host().is_some()
                    && u.username().is_empty()
                    && u.password().is_none() =>
                {
                    Some(p.to_string())
                }
                _ => {
                    return Err(format!(
                        "{at}: public_url = {p:?}: expected an absolute http(s) URL without credentials, e.g. \"https://www.reddit.com/r/devops/\" (it is published as the posts' feed_url)"
                    ))
                }
            },
        };
        let non_negative = |key: &str, v: Option<i64>| -> Result<Option<usize>, String> {
            match v {
                Some(n) if n < 0 => Err(format!("{at}: {key} = {n}: expected 0 or more")),
                Some(n) => Ok(Some(n as usize)),
                None => Ok(None),
            }
        };
        let mut feed_rules = f
            .rules
            .iter()
            .enumerate()
            .map(|(j, r)| crate::rules::compile_rule(r, &format!("feeds[{i}].rules[{j}]")))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        feed_rules.extend(global_rules.iter().cloned());
        feed_configs.push(FeedConfig {
            name: f.name.trim().to_string(),
            url,
            collection,
            categories: f.categories,
            tags: f.tags,
            schedule: f.schedule,
            enabled: f.enabled,
            max_items: non_negative("max_items", f.max_items)?,
            min_content_chars: non_negative("min_content_chars", f.min_content_chars)?,
            full_content,
            content_selector,
            public_url,
            rules: crate::rules::FeedRules::new(feed_rules, f.keep_only),
        });
    }

    let (taxonomy_file, taxonomy) = match global_taxonomy {
        Some((file, t)) => (Some(file), t),
        None => (None, Taxonomy::builtin().map_err(|e| e.to_string())?),
    };
    let enrich = EnrichSettings {
        keyword_tags: enrich.keyword_tags,
        max_tags: enrich.max_tags as usize,
        taxonomy: taxonomy_file,
        feed_taxonomies,
        enrichment: Arc::new(Enrichment::new(
            enrich.keyword_tags,
            enrich.max_tags as usize,
            taxonomy,
            per_feed_taxonomies,
        )),
        model,
    };

    Ok(Settings {
        source,
        database: DatabaseSettings {
            url: db_url,
            max_connections: database.max_connections,
        },
        http,
        schedule,
        server: ServerSettings {
            listen: server.listen,
            public_url: server_public_url,
            max_connections: server_max_connections,
            header_timeout: server_header_timeout,
            idle_timeout: server_idle_timeout,
            token_env: server.token_env.clone().filter(|v| !v.trim().is_empty()),
            token: server_token,
        },
        publish,
        enrich,
        articles,
        feeds: feed_configs,
        events,
        health,
        webhooks,
        global_rules: crate::rules::FeedRules::new(global_rules, false),
    })
}

/// `[events]`, `[health]` and `[[webhooks]]`. A webhook's URL must be http(s), its events known,
/// its secret variable set (a webhook that signs nothing would be trusted by a receiver that
/// checks nothing).
fn validate_events(
    events: RawEvents,
    health: RawHealth,
    webhooks: Vec<RawWebhook>,
    feeds: &[RawFeed],
) -> Result<(EventsSettings, HealthSettings, Vec<WebhookSettings>), String> {
    let positive = |section: &str, key: &str, v: &str| -> Result<Duration, String> {
        let d = duration_setting(section, key, v)?;
        if d.is_zero() {
            return Err(format!(
                "[{section}].{key} = {v:?}: expected more than 0s, e.g. \"10s\""
            ));
        }
        Ok(d)
    };
    let events = EventsSettings {
        keep: positive("events", "keep", &events.keep)?,
        deliver_deadline: duration_setting("events", "deliver_deadline", &events.deliver_deadline)?,
        retry_initial: positive("events", "retry_initial", &events.retry_initial)?,
        retry_max: positive("events", "retry_max", &events.retry_max)?,
        poll_interval: positive("events", "poll_interval", &events.poll_interval)?,
    };
    if !(1..=1_000_000).contains(&health.failing_after) {
        return Err(format!(
            "[health].failing_after = {}: expected a number of consecutive failed polls from 1 to 1000000 (default 5)",
            health.failing_after
        ));
    }
    let health = HealthSettings {
        failing_after: health.failing_after as u32,
        failing_for: positive("health", "failing_for", &health.failing_for)?,
        stale_after: positive("health", "stale_after", &health.stale_after)?,
    };
    let mut out: Vec<WebhookSettings> = Vec::with_capacity(webhooks.len());
    for (i, w) in webhooks.into_iter().enumerate() {
        let at = format!("[[webhooks]] #{}", i + 1);
        let url = w.url.trim().to_string();
        match url::Url::parse(&url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            _ => {
                return Err(format!(
                    "{at}: url = {:?}: expected an absolute http:// or https:// URL of the receiver, e.g. \"https://hooks.example.org/feedsmith\"",
                    crate::redact::redact_url(&url)
                ))
            }
        }
        let name = w
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| url.clone());
        if out.iter().any(|o| o.name == name) {
            return Err(format!(
                "{at}: a webhook named {:?} is configured twice; give each [[webhooks]] table its own name (or URL)",
                crate::redact::redact_url(&name)
            ));
        }
        if w.events.is_empty() {
            return Err(format!(
                "{at}: events = []: name the events it takes, from: {}",
                crate::events::event_names()
            ));
        }
        let mut kinds = Vec::with_capacity(w.events.len());
        for e in &w.events {
            match crate::store::outbox::EventKind::parse(e.trim()) {
                Some(k) if !kinds.contains(&k) => kinds.push(k),
                Some(_) => {}
                None => {
                    return Err(format!(
                        "{at}: events: unknown event type {e:?}; expected one of: {}",
                        crate::events::event_names()
                    ))
                }
            }
        }
        for f in &w.feeds {
            if !feeds
                .iter()
                .any(|c| c.name.trim() == f.trim() || c.url.trim() == f.trim())
            {
                return Err(format!(
                    "{at}: feeds: {f:?} is not the name or URL of a configured [[feeds]] table"
                ));
            }
        }
        let secret = match w.secret_env.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(var) => match std::env::var(var) {
                Ok(v) if !v.is_empty() => Some(crate::events::WebhookSecret(v)),
                _ => {
                    return Err(format!(
                        "{at}: secret_env = {var:?}: the environment variable {var} is not set or empty; export the signing key in it (the receiver verifies X-Feedsmith-Signature with the same key), or remove secret_env to send unsigned"
                    ))
                }
            },
        };
        let timeout =
            positive("webhooks", "timeout", &w.timeout).map_err(|e| format!("{at}: {e}"))?;
        if !(1..=1000).contains(&w.max_attempts) {
            return Err(format!(
                "{at}: max_attempts = {}: expected 1 to 1000",
                w.max_attempts
            ));
        }
        out.push(WebhookSettings {
            name,
            url,
            events: kinds,
            feeds: w.feeds.iter().map(|f| f.trim().to_string()).collect(),
            collections: w.collections.iter().map(|c| c.trim().to_string()).collect(),
            secret_env: w.secret_env.filter(|v| !v.trim().is_empty()),
            secret,
            timeout,
            max_attempts: w.max_attempts as u32,
        });
    }
    Ok((events, health, out))
}

/// Taxonomy files read and compiled during one load, each once however many feeds use it.
/// Relative paths are resolved against the configuration file's directory.
struct TaxonomyCache {
    base_dir: PathBuf,
    loaded: HashMap<PathBuf, Arc<Taxonomy>>,
}

impl TaxonomyCache {
    fn new(base_dir: PathBuf) -> Self {
        TaxonomyCache {
            base_dir,
            loaded: HashMap::new(),
        }
    }

    fn load(&mut self, path: &str, key: &str) -> Result<(PathBuf, Arc<Taxonomy>), String> {
        let file = self.base_dir.join(path.trim());
        if let Some(t) = self.loaded.get(&file) {
            return Ok((file, t.clone()));
        }
        let text = std::fs::read_to_string(&file).map_err(|e| {
            format!(
                "{key} = {path:?}: cannot read {}: {e}\n  fix: give the path of a taxonomy file (relative paths start at the configuration file's directory; config/taxonomy.toml in the repository is the built-in one)",
                file.display()
            )
        })?;
        let taxonomy = Arc::new(
            Taxonomy::from_toml(&text, &file.display().to_string())
                .map_err(|e| format!("{key}: {e}"))?,
        );
        self.loaded.insert(file.clone(), taxonomy.clone());
        Ok((file, taxonomy))
    }
}

/// Validate a cron expression with seconds (`sec min hour day month weekday`), as
/// tokio-cron-scheduler reads it.
pub fn check_cron(what: &str, expr: &str) -> Result<(), String> {
    let fields = expr.split_whitespace().count();
    if fields != 6 {
        return Err(format!(
            "{what} = {expr:?}: expected a cron expression with 6 fields including seconds, e.g. \"0 */30 * * * *\" (every 30 minutes)"
        ));
    }
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .build()
        .parse(expr)
        .map(|_| ())
        .map_err(|e| format!("{what} = {expr:?}: invalid cron expression ({e}); expected e.g. \"0 */30 * * * *\""))
}

/// The type of [`validate_server_extras`]'s result: public_url, max_connections, header and
/// idle timeouts, token.
type ServerExtras = (Option<String>, usize, Duration, Duration, Option<ApiToken>);

/// `[server]`'s hardening keys (docs/security.md): the token must be set in its variable now,
/// not discovered missing at the first request.
fn validate_server_extras(server: &RawServer) -> Result<ServerExtras, String> {
    let public_url = match server.public_url.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(p) => match url::Url::parse(p) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                Some(p.trim_end_matches('/').to_string())
            }
            _ => {
                return Err(format!(
                    "[server].public_url = {p:?}: expected the absolute http(s) URL clients use, e.g. \"https://feeds.example.org\""
                ))
            }
        },
    };
    if !(1..=1_000_000).contains(&server.max_connections) {
        return Err(format!(
            "[server].max_connections = {}: expected 1 to 1000000 (keep it below the process's open-file limit)",
            server.max_connections
        ));
    }
    let header_timeout = duration_setting("server", "header_timeout", &server.header_timeout)?;
    let idle_timeout = duration_setting("server", "idle_timeout", &server.idle_timeout)?;
    for (key, d, v) in [
        ("header_timeout", header_timeout, &server.header_timeout),
        ("idle_timeout", idle_timeout, &server.idle_timeout),
    ] {
        if d.is_zero() {
            return Err(format!(
                "[server].{key} = {v:?}: expected more than 0s, e.g. \"10s\""
            ));
        }
    }
    let token = match server.token_env.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(var) => match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Some(ApiToken(v.trim().to_string())),
            _ => {
                return Err(format!(
                    "[server].token_env = {var:?}: the environment variable {var} is not set or empty; export the API token in it (or remove token_env to serve the API without one)"
                ))
            }
        },
    };
    Ok((
        public_url,
        server.max_connections as usize,
        header_timeout,
        idle_timeout,
        token,
    ))
}

fn duration_setting(section: &str, key: &str, value: &str) -> Result<Duration, String> {
    parse_duration(value).ok_or_else(|| {
        format!("[{section}].{key} = {value:?}: expected a duration such as \"500ms\", \"20s\", \"5m\", \"2h\" or \"1d\"")
    })
}

/// `500ms`, `20s`, `5m`, `2h`, `1d`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    let secs = match unit.trim() {
        "" | "s" | "sec" | "secs" => n,
        "ms" => n / 1000.0,
        "m" | "min" | "mins" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        _ => return None,
    };
    if secs > 365.0 * 86400.0 {
        return None;
    }
    Some(Duration::from_secs_f64(secs))
}

/// `15MiB`, `500KB`, `1GiB`, or a bare number of bytes.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "kib" | "k" => 1024,
        "mb" => 1000 * 1000,
        "mib" | "m" => 1024 * 1024,
        "gb" => 1000 * 1000 * 1000,
        "gib" | "g" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(mult).filter(|&v| v > 0)
}

impl Settings {
    /// The effective settings as TOML, for `config check`.
    pub fn to_toml(&self) -> String {
        let rendered = toml::Value::try_from(self).and_then(|mut tree| {
            self.show_feed_taxonomies(&mut tree);
            // `[[hosts]]` in effect, the built-in Reddit preset included, as the file writes
            // them: top-level tables, though the fetcher keeps them in `[http]`'s settings.
            if let (Some(table), Ok(hosts)) =
                (tree.as_table_mut(), toml::Value::try_from(&self.http.hosts))
            {
                table.insert("hosts".into(), hosts);
            }
            toml::to_string_pretty(&tree)
        });
        let mut out = rendered.unwrap_or_else(|e| format!("# cannot render: {e}\n"));
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out
    }

    /// A feed's own `taxonomy` file, in its `[[feeds]]` table of the rendered settings.
    fn show_feed_taxonomies(&self, tree: &mut toml::Value) {
        let Some(feeds) = tree.get_mut("feeds").and_then(|f| f.as_array_mut()) else {
            return;
        };
        for feed in feeds.iter_mut().filter_map(|f| f.as_table_mut()) {
            let file = feed
                .get("url")
                .and_then(|u| u.as_str())
                .and_then(|u| self.enrich.feed_taxonomies.get(u));
            if let Some(file) = file {
                let file = toml::Value::String(file.display().to_string());
                feed.insert("taxonomy".into(), file);
            }
        }
    }

    /// Feeds selected by `--feed NAME_OR_URL` (all enabled feeds when `selectors` is empty).
    pub fn select_feeds(&self, selectors: &[String]) -> Result<Vec<FeedConfig>, String> {
        if selectors.is_empty() {
            return Ok(self.feeds.iter().filter(|f| f.enabled).cloned().collect());
        }
        let mut out: Vec<FeedConfig> = Vec::new();
        for sel in selectors {
            let matched: Vec<&FeedConfig> = self
                .feeds
                .iter()
                .filter(|f| f.url == *sel || f.name.eq_ignore_ascii_case(sel))
                .collect();
            if matched.is_empty() {
                return Err(format!(
                    "--feed {sel:?} matches no configured feed (by name or URL); `feedsmith feeds list` shows them"
                ));
            }
            for f in matched {
                if !out.iter().any(|o| o.url == f.url) {
                    out.push(f.clone());
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(text: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        from_parts(Some(text), Source::File("test.toml".into()), &env, None)
    }

    const FEED: &str =
        "[[feeds]]\nname = \"A\"\nurl = \"https://example.org/feed.xml\"\ncollection = \"blogs\"\n";

    #[test]
    fn defaults_apply_when_file_is_minimal() {
        let s = load_str(FEED, &[]).unwrap();
        assert_eq!(s.database.url, "sqlite://feedsmith.db");
        assert_eq!(s.http.timeout, Duration::from_secs(20));
        assert_eq!(s.http.max_body, 15 * 1024 * 1024);
        assert_eq!(s.http.concurrency, 16);
        assert_eq!(s.schedule.default, "0 */30 * * * *");
        assert_eq!(s.feeds.len(), 1);
        assert!(s.feeds[0].enabled);
    }

    #[test]
    fn env_overrides_file_and_keeps_types() {
        let text = format!("[http]\nconcurrency = 4\n{FEED}");
        let s = load_str(
            &text,
            &[
                ("FEEDSMITH__HTTP__CONCURRENCY", "32"),
                ("FEEDSMITH__DATABASE__URL", "sqlite:///tmp/x.db"),
            ],
        )
        .unwrap();
        assert_eq!(s.http.concurrency, 32);
        assert_eq!(s.database.url, "sqlite:///tmp/x.db");
    }

    #[test]
    fn guard_and_redaction_settings_from_file_and_env() {
        let s = load_str(
            &format!("[http]\nallow_hosts = [\"wiki.intranet\", \" \"]\nsecret_query_keys = [\"channel_id\"]\n{FEED}"),
            &[],
        )
        .unwrap();
        assert_eq!(s.http.allow_hosts, ["wiki.intranet"]);
        assert!(!s.http.allow_private_networks);
        assert_eq!(s.http.secret_query_keys, ["channel_id"]);
        let s = load_str(
            FEED,
            &[
                ("FEEDSMITH__HTTP__ALLOW_HOSTS", "10.0.0.5, wiki.intranet"),
                ("FEEDSMITH__HTTP__ALLOW_PRIVATE_NETWORKS", "true"),
            ],
        )
        .unwrap();
        assert_eq!(s.http.allow_hosts, ["10.0.0.5", "wiki.intranet"]);
        assert!(s.http.allow_private_networks);
    }

    #[test]
    fn server_hardening_settings_are_validated() {
        let s = load_str(FEED, &[]).unwrap();
        assert_eq!(s.server.max_connections, 512);
        assert_eq!(s.server.header_timeout, Duration::from_secs(10));
        assert_eq!(s.server.idle_timeout, Duration::from_secs(60));
        assert!(s.server.token.is_none() && s.server.public_url.is_none());
        for (bad, key) in [
            ("max_connections = 0", "max_connections"),
            ("header_timeout = \"0s\"", "header_timeout"),
            ("public_url = \"feeds.example.org\"", "public_url"),
            (
                "token_env = \"FEEDSMITH_TEST_TOKEN_SURELY_UNSET\"",
                "FEEDSMITH_TEST_TOKEN_SURELY_UNSET",
            ),
        ] {
            let e = load_str(&format!("[server]\n{bad}\n{FEED}"), &[])
                .unwrap_err()
                .to_string();
            assert!(e.contains(key) && e.contains("test.toml"), "{bad}: {e}");
        }
        let e = load_str(
            "[[feeds]]\nname = \"A\"\nurl = \"https://e/f\"\ncollection = \"blogs\"\npublic_url = \"https://u:p@e/\"\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("public_url") && e.contains("without credentials"),
            "{e}"
        );
    }

    #[test]
    fn database_settings_never_print_the_password() {
        let d = DatabaseSettings {
            url: "postgres://feedsmith:S3CRET@db:5432/feedsmith?sslpassword=P2".into(),
            max_connections: 4,
        };
        let shown = format!("{d:?} {}", serde_json::to_string(&d).unwrap());
        assert!(
            !shown.contains("S3CRET") && !shown.contains("P2"),
            "{shown}"
        );
        assert!(
            shown.contains("postgres://feedsmith:***@db:5432/feedsmith"),
            "{shown}"
        );
    }

    #[test]
    fn database_url_flag_beats_env() {
        let env = vec![(
            "FEEDSMITH__DATABASE__URL".to_string(),
            "sqlite://env.db".to_string(),
        )];
        let s = from_parts(Some(FEED), Source::Defaults, &env, Some("sqlite://flag.db")).unwrap();
        assert_eq!(s.database.url, "sqlite://flag.db");
    }

    #[test]
    fn unknown_keys_are_errors_naming_file_and_key() {
        let e = load_str("[http]\ntimeot = \"5s\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("test.toml") && e.contains("http.timeot"), "{e}");
        let e = load_str("[htp]\n", &[]).unwrap_err().to_string();
        assert!(e.contains("`htp`"), "{e}");
        let e = load_str(&format!("{FEED}colection = \"x\"\n"), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("colection"), "{e}");
        let e = load_str(FEED, &[("FEEDSMITH__HTTP__TIMEOT", "5s")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("FEEDSMITH__HTTP__TIMEOT") && e.contains("timeot"),
            "{e}"
        );
    }

    #[test]
    fn bad_values_name_key_and_expectation() {
        let cases = [
            ("[http]\ntimeout = \"20x\"\n", "[http].timeout"),
            ("[http]\nmax_body = \"lots\"\n", "[http].max_body"),
            ("[http]\nconcurrency = 0\n", "[http].concurrency"),
            ("[schedule]\ndefault = \"every day\"\n", "[schedule].default"),
            ("[server]\nlisten = \"localhost\"\n", "[server].listen"),
            ("[database]\nurl = \"mysql://x\"\n", "[database].url"),
            ("[publish]\nvideo_embed = \"iframe\"\n", "[publish].video_embed"),
            ("[[feeds]]\nname = \"A\"\nurl = \"ftp://x/y\"\ncollection = \"blogs\"\n", "ftp://x/y"),
            ("[[feeds]]\nname = \"A\"\nurl = \"https://x/y\"\ncollection = \"../etc\"\n", "collection"),
            ("[[feeds]]\nname = \"A\"\nurl = \"https://x/y\"\ncollection = \"b\"\nschedule = \"* * *\"\n", "schedule"),
            ("[http]\nconcurrency = \"many\"\n", "concurrency"),
        ];
        for (text, needle) in cases {
            let e = load_str(text, &[]).unwrap_err().to_string();
            assert!(
                e.contains(needle) && e.contains("test.toml"),
                "{text:?} -> {e}"
            );
        }
    }

    #[test]
    fn duplicate_urls_are_errors_but_names_may_repeat() {
        let dup = format!("{FEED}{FEED}");
        let e = load_str(&dup, &[]).unwrap_err().to_string();
        assert!(e.contains("listed twice"), "{e}");
        let same_name = format!("{FEED}[[feeds]]\nname = \"A\"\nurl = \"https://example.org/other.xml\"\ncollection = \"blogs\"\n");
        assert_eq!(load_str(&same_name, &[]).unwrap().feeds.len(), 2);
    }

    #[test]
    fn durations_and_sizes() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_duration("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("x"), None);
        assert_eq!(parse_size("15MiB"), Some(15 * 1024 * 1024));
        assert_eq!(parse_size("10kb"), Some(10_000));
        assert_eq!(parse_size("0"), None);
        assert_eq!(format_duration(Duration::from_secs(86400)), "24h");
    }

    #[test]
    fn select_feeds_by_name_or_url() {
        let text = format!("{FEED}[[feeds]]\nname = \"B\"\nurl = \"https://example.org/b.xml\"\ncollection = \"news\"\nenabled = false\n");
        let s = load_str(&text, &[]).unwrap();
        assert_eq!(
            s.select_feeds(&[]).unwrap().len(),
            1,
            "disabled feeds are skipped"
        );
        assert_eq!(s.select_feeds(&["b".into()]).unwrap()[0].name, "B");
        assert!(s.select_feeds(&["nope".into()]).is_err());
    }

    #[test]
    fn shipped_config_is_valid() {
        let text = include_str!("../config/feedsmith.toml");
        let s = load_str(text, &[]).unwrap();
        assert!(s
            .feeds
            .iter()
            .any(|f| f.url == "https://www.reddit.com/r/devops/.rss"));
    }

    #[test]
    fn enrich_defaults_and_env() {
        let s = load_str(FEED, &[]).unwrap();
        assert!(s.enrich.keyword_tags && s.enrich.enrichment.keyword_tags());
        assert_eq!(s.enrich.max_tags, 10);
        assert!(s.enrich.taxonomy.is_none());
        assert!(s.to_toml().contains("[enrich]"), "{}", s.to_toml());
        let s = load_str(
            FEED,
            &[
                ("FEEDSMITH__ENRICH__MAX_TAGS", "4"),
                ("FEEDSMITH__ENRICH__KEYWORD_TAGS", "false"),
            ],
        )
        .unwrap();
        assert_eq!(s.enrich.enrichment.max_tags(), 4);
        assert!(s.enrich.enrichment.taxonomy_for(&s.feeds[0].url).is_none());
        let e = load_str(&format!("[enrich]\nmax_tag = 3\n{FEED}"), &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("enrich.max_tag") && e.contains("taxonomy"),
            "{e}"
        );
        let e = load_str(&format!("[enrich]\nmax_tags = 0\n{FEED}"), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("[enrich].max_tags = 0"), "{e}");
    }

    #[test]
    fn taxonomy_files_global_and_per_feed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("mine.toml"),
            "[tags.Feedsmith]\nterms = [\"feedsmith\"]\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("bad.toml"),
            "[tags.Feedsmith]\nterm = [\"feedsmith\"]\n",
        )
        .unwrap();
        let config = dir.path().join("feedsmith.toml");
        let load = |text: &str| {
            from_parts(Some(text), Source::File(config.clone()), &[], None)
                .map_err(|e| e.to_string())
        };
        // Relative paths start at the configuration file's directory.
        let s = load(&format!("[enrich]\ntaxonomy = \"mine.toml\"\n{FEED}")).unwrap();
        let t = s
            .enrich
            .enrichment
            .tag(&s.feeds[0].url, "feedsmith", "")
            .unwrap();
        assert_eq!(t.tags(), ["Feedsmith"]);
        assert_eq!(s.enrich.taxonomy, Some(dir.path().join("mine.toml")));
        // Per feed: only that feed.
        let text = format!("{FEED}taxonomy = \"mine.toml\"\n[[feeds]]\nname = \"B\"\nurl = \"https://example.org/b.xml\"\ncollection = \"news\"\n");
        let s = load(&text).unwrap();
        let e = &s.enrich.enrichment;
        assert_eq!(
            e.tag("https://example.org/feed.xml", "feedsmith k8s", "")
                .unwrap()
                .tags(),
            ["Feedsmith"]
        );
        assert_eq!(
            e.tag("https://example.org/b.xml", "feedsmith k8s", "")
                .unwrap()
                .tags(),
            ["Kubernetes"]
        );
        assert_eq!(s.enrich.feed_taxonomies.len(), 1);
        let shown = s.to_toml();
        assert!(
            shown.contains(&format!(
                "taxonomy = {:?}",
                dir.path().join("mine.toml").display().to_string()
            )),
            "{shown}"
        );
        // Errors name the configuration file, the key, the taxonomy file, the tag and its key.
        let e = load(&format!("[enrich]\ntaxonomy = \"bad.toml\"\n{FEED}")).unwrap_err();
        assert!(
            e.contains("feedsmith.toml")
                && e.contains("[enrich].taxonomy")
                && e.contains("bad.toml")
                && e.contains("`Feedsmith`")
                && e.contains("`term`"),
            "{e}"
        );
        let e = load(&format!("{FEED}taxonomy = \"missing.toml\"\n")).unwrap_err();
        assert!(
            e.contains("[[feeds]] #1") && e.contains("missing.toml") && e.contains("cannot read"),
            "{e}"
        );
    }
}
