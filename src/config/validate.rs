//! Turning the raw tree into [`Settings`]: one function per section, each returning the section's
//! typed settings or the [`SettingError`] that names the key. Nothing here reads the file or the
//! environment's `FEEDSMITH__` variables (mod.rs layers them); it does read the variables that
//! settings name (`token_env`, `api_key_env`, `secret_env`) and taxonomy files, so a missing one
//! is an error at load, not at the first request.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::article::{ArticleSettings, FullContent};
use crate::domain::FeedConfig;
use crate::enrich::{llm, Enrichment, ModelSettings, Taxonomy};
use crate::normalize::VideoEmbed;

use super::raw::{
    RawArticles, RawDatabase, RawEnrich, RawEvents, RawFeed, RawHealth, RawHost, RawHttp,
    RawPublish, RawSchedule, RawServer, RawSettings, RawWebhook,
};
use super::units::{duration_setting, parse_duration, positive_duration, size_setting};
use super::{
    ApiToken, DatabaseSettings, EnrichSettings, EventsSettings, HealthSettings, HttpSettings,
    PublishSettings, ScheduleSettings, ServerSettings, SettingError, Settings, Source,
    WebhookSettings,
};

type Result<T, E = SettingError> = std::result::Result<T, E>;

/// The whole configuration, section by section, in the order the messages have always come:
/// events and webhooks first (so a webhook naming a feed is checked against the raw feeds),
/// then articles, rules, hosts, database, http, schedule, server, publish, enrich and feeds.
pub(super) fn validate(raw: RawSettings, source: Source) -> Result<Settings> {
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
        .map(|(i, r)| compile_rule(r, format!("rules[{i}]")))
        .collect::<Result<Vec<_>>>()?;
    let hosts = validate_hosts(&hosts)?;
    let database = validate_database(database)?;
    let http = validate_http(http, hosts)?;
    // Before anything is printed: the keys redacted in every URL shown (src/redact.rs).
    crate::redact::set_extra_secret_keys(&http.secret_query_keys);
    let schedule = validate_schedule(schedule)?;
    let server = validate_server(server)?;
    let publish = validate_publish(publish)?;

    if !(1..=100).contains(&enrich.max_tags) {
        return Err(SettingError::new(
            "[enrich].max_tags",
            format!(
                "[enrich].max_tags = {}: expected 1 to 100 (to turn keyword tags off, set keyword_tags = false)",
                enrich.max_tags
            ),
        ));
    }
    let model = validate_model(&enrich)?;
    let base_dir = match &source {
        Source::File(p) => p.parent().map(Path::to_path_buf).unwrap_or_default(),
        Source::Defaults => PathBuf::new(),
    };
    let mut taxonomies = TaxonomyCache::new(base_dir);
    let global_taxonomy = match enrich.taxonomy.as_deref().filter(|t| !t.trim().is_empty()) {
        Some(path) => Some(taxonomies.load(path, "[enrich].taxonomy", "[enrich].taxonomy")?),
        None => None,
    };
    let feeds = validate_feeds(feeds, &global_rules, &mut taxonomies)?;

    let (taxonomy_file, taxonomy) = match global_taxonomy {
        Some((file, t)) => (Some(file), t),
        None => (
            None,
            Taxonomy::builtin()
                .map_err(|e| SettingError::new("[enrich].taxonomy", e.to_string()))?,
        ),
    };
    let enrich = EnrichSettings {
        keyword_tags: enrich.keyword_tags,
        max_tags: enrich.max_tags as usize,
        taxonomy: taxonomy_file,
        feed_taxonomies: feeds.taxonomy_files,
        enrichment: Arc::new(Enrichment::new(
            enrich.keyword_tags,
            enrich.max_tags as usize,
            taxonomy,
            feeds.taxonomies,
        )),
        model,
    };

    Ok(Settings {
        source,
        database,
        http,
        schedule,
        server,
        publish,
        enrich,
        articles,
        feeds: feeds.configs,
        events,
        health,
        webhooks,
        global_rules: crate::rules::FeedRules::new(global_rules, false),
    })
}

/// One `[[rules]]` table (src/rules words the mistake; `position` is its key path).
fn compile_rule(value: &toml::Value, position: String) -> Result<crate::rules::Rule> {
    crate::rules::compile_rule(value, &position)
        .map_err(|e| SettingError::new(position, e.to_string()))
}

fn validate_database(database: RawDatabase) -> Result<DatabaseSettings> {
    let url = database.url.trim().to_string();
    if !(url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://"))
    {
        return Err(SettingError::new(
            "[database].url",
            format!(
                "[database].url = {url:?}: unsupported database URL; expected sqlite://PATH (e.g. sqlite://feedsmith.db) or postgres://USER@HOST/DB"
            ),
        ));
    }
    if database.max_connections == 0 {
        return Err(SettingError::new(
            "[database].max_connections",
            "[database].max_connections must be at least 1",
        ));
    }
    Ok(DatabaseSettings {
        url,
        max_connections: database.max_connections,
    })
}

fn validate_http(http: RawHttp, hosts: Vec<crate::fetch::HostRule>) -> Result<HttpSettings> {
    let positive = |key: &str, v: i64, max: i64| -> Result<usize> {
        if v < 1 || v > max {
            Err(SettingError::new(
                format!("[http].{key}"),
                format!("[http].{key} = {v}: expected a whole number from 1 to {max}"),
            ))
        } else {
            Ok(v as usize)
        }
    };
    if http.user_agent.trim().is_empty() {
        return Err(SettingError::new("[http].user_agent", "[http].user_agent is empty; expected a descriptive agent such as \"feedsmith/0.1 (+https://example.org/contact)\""));
    }
    if reqwest::header::HeaderValue::from_str(&http.user_agent).is_err() {
        return Err(SettingError::new(
            "[http].user_agent",
            "[http].user_agent contains characters not allowed in an HTTP header",
        ));
    }
    let max_redirects = http.max_redirects;
    if !(0..=20).contains(&max_redirects) {
        return Err(SettingError::new(
            "[http].max_redirects",
            format!("[http].max_redirects = {max_redirects}: expected 0 to 20"),
        ));
    }
    Ok(HttpSettings {
        timeout: duration_setting("http", "timeout", &http.timeout)?,
        connect_timeout: duration_setting("http", "connect_timeout", &http.connect_timeout)?,
        max_body: size_setting(
            "http",
            "max_body",
            &http.max_body,
            "\"15MiB\", \"500KB\" or a number of bytes",
        )?,
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
        user_agent: http.user_agent,
    })
}

/// A proxy URL as reqwest takes it: `http://` or `https://`, with a host (this build of reqwest
/// has no SOCKS support). Credentials in it are redacted wherever it is shown.
fn check_proxy(key: &str, value: &str) -> Result<String> {
    let v = value.trim();
    let url = url::Url::parse(v).map_err(|e| {
        SettingError::new(
            key,
            format!(
                "{key} = {:?}: not a URL ({e}); expected e.g. \"http://proxy.internal:3128\"",
                crate::redact::redact_url(v)
            ),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(SettingError::new(
            key,
            format!(
                "{key} = {:?}: expected an http:// or https:// proxy URL with a host, e.g. \"http://proxy.internal:3128\"",
                crate::redact::redact_url(v)
            ),
        ));
    }
    Ok(v.to_string())
}

/// The `[[hosts]]` rules, checked, with the Reddit preset added unless a rule matches
/// `reddit.com` itself.
fn validate_hosts(raw: &[RawHost]) -> Result<Vec<crate::fetch::HostRule>> {
    let mut rules = Vec::with_capacity(raw.len() + 1);
    for (i, h) in raw.iter().enumerate() {
        let at = format!("hosts[{i}] (match = {:?})", h.pattern);
        let err = |key: &str, message: String| {
            SettingError::new(format!("hosts[{i}].{key}"), format!("{at}{message}"))
        };
        let pattern = h
            .pattern
            .trim()
            .trim_start_matches("*.")
            .to_ascii_lowercase();
        if pattern.is_empty() || pattern.contains(['/', ':', ' ']) {
            return Err(err(
                "match",
                ": expected a host name such as \"reddit.com\" (no scheme, port or path)".into(),
            ));
        }
        let interval = match &h.interval {
            Some(v) => parse_duration(v).ok_or_else(|| {
                err(
                    "interval",
                    format!(".interval = {v:?}: expected a duration such as \"500ms\", \"6s\" or \"1m\""),
                )
            })?,
            None => Duration::ZERO,
        };
        let burst = match h.burst {
            Some(b) if (1..=1000).contains(&b) => b as u32,
            Some(b) => return Err(err("burst", format!(".burst = {b}: expected 1 to 1000"))),
            None => 1,
        };
        let concurrency = match h.concurrency {
            Some(c) if (1..=256).contains(&c) => Some(c as usize),
            Some(c) => {
                return Err(err(
                    "concurrency",
                    format!(".concurrency = {c}: expected 1 to 256"),
                ))
            }
            None => None,
        };
        if let Some(ua) = &h.user_agent {
            if ua.trim().is_empty() || reqwest::header::HeaderValue::from_str(ua).is_err() {
                return Err(err(
                    "user_agent",
                    format!(".user_agent = {ua:?}: expected a non-empty agent of printable ASCII, such as \"feedsmith/0.1 (+https://example.org/contact)\""),
                ));
            }
        }
        for (name, value) in &h.headers {
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(err(
                    "headers",
                    format!(".headers: {name:?} is not a valid HTTP header name (letters, digits and '-')"),
                ));
            }
            if reqwest::header::HeaderValue::from_str(value).is_err() {
                return Err(err(
                    &format!("headers.{name}"),
                    format!(".headers.{name}: the value contains characters not allowed in an HTTP header"),
                ));
            }
        }
        let proxy = match &h.proxy {
            Some(p) => Some(
                check_proxy(&format!("{at}.proxy"), p)
                    .map_err(|e| e.at_key(format!("hosts[{i}].proxy")))?,
            ),
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

fn validate_schedule(schedule: RawSchedule) -> Result<ScheduleSettings> {
    check_cron("[schedule].default", &schedule.default)?;
    Ok(ScheduleSettings {
        max_backoff: duration_setting("schedule", "max_backoff", &schedule.max_backoff)?,
        shutdown_grace: duration_setting("schedule", "shutdown_grace", &schedule.shutdown_grace)?,
        lease: duration_setting("schedule", "lease", &schedule.lease)?,
        max_jitter: duration_setting("schedule", "max_jitter", &schedule.max_jitter)?,
        default: schedule.default,
    })
}

/// Validate a cron expression with seconds (`sec min hour day month weekday`), as
/// tokio-cron-scheduler reads it. `what` is the key path the message starts with.
pub fn check_cron(what: &str, expr: &str) -> Result<()> {
    let fields = expr.split_whitespace().count();
    if fields != 6 {
        return Err(SettingError::new(
            what,
            format!(
                "{what} = {expr:?}: expected a cron expression with 6 fields including seconds, e.g. \"0 */30 * * * *\" (every 30 minutes)"
            ),
        ));
    }
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .build()
        .parse(expr)
        .map(|_| ())
        .map_err(|e| {
            SettingError::new(
                what,
                format!("{what} = {expr:?}: invalid cron expression ({e}); expected e.g. \"0 */30 * * * *\""),
            )
        })
}

/// `[server]`. The hardening keys (docs/security.md): the token must be set in its variable
/// now, not discovered missing at the first request.
fn validate_server(server: RawServer) -> Result<ServerSettings> {
    if server.listen.parse::<std::net::SocketAddr>().is_err() {
        return Err(SettingError::new(
            "[server].listen",
            format!(
                "[server].listen = {:?}: expected an address and port such as \"127.0.0.1:8080\" or \"0.0.0.0:8080\"",
                server.listen
            ),
        ));
    }
    let public_url = match server.public_url.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(p) => match url::Url::parse(p) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                Some(p.trim_end_matches('/').to_string())
            }
            _ => {
                return Err(SettingError::new(
                    "[server].public_url",
                    format!(
                        "[server].public_url = {p:?}: expected the absolute http(s) URL clients use, e.g. \"https://feeds.example.org\""
                    ),
                ))
            }
        },
    };
    if !(1..=1_000_000).contains(&server.max_connections) {
        return Err(SettingError::new(
            "[server].max_connections",
            format!(
                "[server].max_connections = {}: expected 1 to 1000000 (keep it below the process's open-file limit)",
                server.max_connections
            ),
        ));
    }
    // Both parse before either is checked for zero (the order the messages have always had).
    duration_setting("server", "header_timeout", &server.header_timeout)?;
    duration_setting("server", "idle_timeout", &server.idle_timeout)?;
    let header_timeout =
        positive_duration("server", "header_timeout", &server.header_timeout, "10s")?;
    let idle_timeout = positive_duration("server", "idle_timeout", &server.idle_timeout, "10s")?;
    let token = match server.token_env.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(var) => match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Some(ApiToken(v.trim().to_string())),
            _ => {
                return Err(SettingError::new(
                    "[server].token_env",
                    format!(
                        "[server].token_env = {var:?}: the environment variable {var} is not set or empty; export the API token in it (or remove token_env to serve the API without one)"
                    ),
                ))
            }
        },
    };
    Ok(ServerSettings {
        listen: server.listen,
        public_url,
        max_connections: server.max_connections as usize,
        header_timeout,
        idle_timeout,
        token_env: server.token_env.filter(|v| !v.trim().is_empty()),
        token,
    })
}

fn validate_publish(publish: RawPublish) -> Result<PublishSettings> {
    if !publish.permalink.contains("{slug}") {
        return Err(SettingError::new(
            "[publish].permalink",
            format!(
                "[publish].permalink = {:?}: the pattern must contain {{slug}} (placeholders: {{collection}}, {{date}}, {{slug}})",
                publish.permalink
            ),
        ));
    }
    let video_embed = match publish.video_embed.as_str() {
        "liquid" => VideoEmbed::Liquid,
        "link" => VideoEmbed::Link,
        other => {
            return Err(SettingError::new(
                "[publish].video_embed",
                format!("[publish].video_embed = {other:?}: expected \"liquid\" or \"link\""),
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
    Ok(PublishSettings {
        permalink: publish.permalink,
        video_embed,
        dir,
        git,
    })
}

/// `[publish] git`, `git_author`, `git_push`: the settings of src/publish/git.rs, and `dir` inside
/// a git work tree when `git = true`.
fn validate_git(
    git: bool,
    author: &str,
    push: Option<&str>,
    dir: Option<&Path>,
) -> Result<Option<crate::publish::git::GitSettings>> {
    let setting =
        |e: crate::publish::git::GitConfigError| SettingError::new(e.key(), e.to_string());
    let settings = crate::publish::git::GitSettings::new(author, push).map_err(setting)?;
    if !git {
        if settings.push.is_some() {
            return Err(SettingError::new("[publish].git_push", "[publish].git_push is set but git = false: set [publish].git = true to commit and push, or remove git_push"));
        }
        return Ok(None);
    }
    let Some(dir) = dir else {
        return Err(SettingError::new("[publish].git", "[publish].git = true needs [publish].dir: the directory inside the site's git work tree that feedsmith exports to"));
    };
    crate::publish::git::check_work_tree(dir).map_err(setting)?;
    Ok(Some(settings))
}

fn validate_articles(a: RawArticles) -> Result<ArticleSettings> {
    let full_content = FullContent::parse(a.full_content.trim()).ok_or_else(|| {
        SettingError::new(
            "[articles].full_content",
            format!(
                "[articles].full_content = {:?}: expected \"never\", \"when_short\" or \"always\"",
                a.full_content
            ),
        )
    })?;
    let positive = |key: &str, v: i64, max: i64| -> Result<i64> {
        if (1..=max).contains(&v) {
            Ok(v)
        } else {
            Err(SettingError::new(
                format!("[articles].{key}"),
                format!("[articles].{key} = {v}: expected 1 to {max}"),
            ))
        }
    };
    let duration = |key: &str, v: &str| -> Result<Duration> {
        parse_duration(v).ok_or_else(|| {
            SettingError::new(
                format!("[articles].{key}"),
                format!("[articles].{key} = {v:?}: expected a duration such as \"500ms\", \"1s\" or \"10m\""),
            )
        })
    };
    let max_body = size_setting("articles", "max_body", &a.max_body, "\"5MiB\" or \"500KB\"")?;
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
fn validate_model(e: &RawEnrich) -> Result<Option<ModelSettings>> {
    fn given(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|v| !v.is_empty())
    }
    let range = |key: &str, v: i64, min: i64, max: i64| -> Result<i64> {
        if (min..=max).contains(&v) {
            Ok(v)
        } else {
            Err(SettingError::new(
                format!("[enrich].{key}"),
                format!("[enrich].{key} = {v}: expected {min} to {max}"),
            ))
        }
    };
    let timeout = positive_duration("enrich", "model_timeout", &e.model_timeout, "60s")?;
    let concurrency = range("model_concurrency", e.model_concurrency, 1, 64)? as usize;
    let daily_budget = range("daily_budget", e.daily_budget, 0, 10_000_000)? as u32;
    let max_input_chars = range("max_input_chars", e.max_input_chars, 100, 10_000_000)? as usize;
    let (endpoint, model) = match (given(&e.endpoint), given(&e.model)) {
        (None, None) => return Ok(None),
        (Some(_), None) => {
            return Err(SettingError::new("[enrich].endpoint", "[enrich].endpoint is set but [enrich].model is not; set both (e.g. model = \"gpt-4o-mini\") or neither"))
        }
        (None, Some(_)) => {
            return Err(SettingError::new("[enrich].model", "[enrich].model is set but [enrich].endpoint is not; set both (e.g. endpoint = \"https://api.openai.com/v1\") or neither"))
        }
        (Some(endpoint), Some(model)) => (endpoint, model),
    };
    match url::Url::parse(endpoint) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
        _ => {
            return Err(SettingError::new(
                "[enrich].endpoint",
                format!(
                    "[enrich].endpoint = {endpoint:?}: expected the API's base URL, e.g. \"https://api.openai.com/v1\" or \"http://127.0.0.1:8000/v1\" (requests go to <endpoint>/chat/completions)"
                ),
            ))
        }
    }
    let api_key_env = given(&e.api_key_env).map(str::to_string);
    let api_key = match &api_key_env {
        None => None,
        Some(var) => match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Some(llm::ApiKey(v.trim().to_string())),
            _ => {
                return Err(SettingError::new(
                    "[enrich].api_key_env",
                    format!(
                        "[enrich].api_key_env = {var:?}: the environment variable {var} is not set or empty; export the API key in it (or remove api_key_env for an endpoint without a key)"
                    ),
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

/// The `[[feeds]]` tables, checked, with what the keyword tagger needs of them.
struct Feeds {
    configs: Vec<FeedConfig>,
    /// Feed URL -> its own compiled taxonomy.
    taxonomies: BTreeMap<String, Arc<Taxonomy>>,
    /// Feed URL -> the file of that taxonomy (for `config check`).
    taxonomy_files: BTreeMap<String, PathBuf>,
}

fn validate_feeds(
    feeds: Vec<RawFeed>,
    global_rules: &[crate::rules::Rule],
    taxonomies: &mut TaxonomyCache,
) -> Result<Feeds> {
    let mut out = Feeds {
        configs: Vec::with_capacity(feeds.len()),
        taxonomies: BTreeMap::new(),
        taxonomy_files: BTreeMap::new(),
    };
    let mut seen_urls = HashSet::new();
    for (i, f) in feeds.into_iter().enumerate() {
        let config = validate_feed(i, f, global_rules, taxonomies, &mut seen_urls, &mut out)?;
        out.configs.push(config);
    }
    Ok(out)
}

/// The `[[feeds]]` table `i`; `seen_urls` are the URLs of the tables before it. Its taxonomy,
/// if it has its own, goes into `out`.
fn validate_feed(
    i: usize,
    f: RawFeed,
    global_rules: &[crate::rules::Rule],
    taxonomies: &mut TaxonomyCache,
    seen_urls: &mut HashSet<String>,
    out: &mut Feeds,
) -> Result<FeedConfig> {
    let name = f.name.as_str();
    let err = |key: &str, detail: String| SettingError::feed(i, name, key, detail);
    if f.name.trim().is_empty() {
        return Err(err("name", "`name` is empty".into()));
    }
    let url = f.url.trim().to_string();
    match url::Url::parse(&url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
        _ => {
            return Err(err(
                "url",
                format!("url = {url:?} is not an absolute http(s) URL; expected e.g. \"https://www.reddit.com/r/devops/.rss\""),
            ))
        }
    }
    if !seen_urls.insert(url.clone()) {
        return Err(err(
            "url",
            format!("url = {url:?} is listed twice; the URL identifies a feed, remove one of the two tables"),
        ));
    }
    let collection = f.collection.trim().to_string();
    if collection.is_empty()
        || !collection
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(err(
            "collection",
            format!(
                "collection = {:?}: expected a folder name of letters, digits, '-' or '_' (e.g. \"community\", \"blogs\")",
                f.collection
            ),
        ));
    }
    if let Some(s) = &f.schedule {
        check_cron("schedule", s).map_err(|e| err("schedule", e.to_string()))?;
    }
    if let Some(path) = f.taxonomy.as_deref().filter(|t| !t.trim().is_empty()) {
        let (file, taxonomy) = taxonomies
            .load(path, "taxonomy", &format!("feeds[{i}].taxonomy"))
            .map_err(|e| err("taxonomy", e.to_string()))?;
        out.taxonomies.insert(url.clone(), taxonomy);
        out.taxonomy_files.insert(url.clone(), file);
    }
    let full_content = match f.full_content.as_deref() {
        None => None,
        Some(v) => Some(FullContent::parse(v).ok_or_else(|| {
            err(
                "full_content",
                format!("full_content = {v:?}: expected \"never\", \"when_short\" or \"always\""),
            )
        })?),
    };
    let content_selector = match f.content_selector.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(sel) => {
            crate::article::extract::check_selector(sel).map_err(|e| {
                err(
                    "content_selector",
                    format!(
                        "content_selector = {sel:?}: {e}; expected e.g. \"article .post-body\""
                    ),
                )
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
                return Err(err(
                    "public_url",
                    format!("public_url = {p:?}: expected an absolute http(s) URL without credentials, e.g. \"https://www.reddit.com/r/devops/\" (it is published as the posts' feed_url)"),
                ))
            }
        },
    };
    let non_negative = |key: &str, v: Option<i64>| -> Result<Option<usize>> {
        match v {
            Some(n) if n < 0 => Err(err(key, format!("{key} = {n}: expected 0 or more"))),
            Some(n) => Ok(Some(n as usize)),
            None => Ok(None),
        }
    };
    let mut rules = f
        .rules
        .iter()
        .enumerate()
        .map(|(j, r)| compile_rule(r, format!("feeds[{i}].rules[{j}]")))
        .collect::<Result<Vec<_>>>()?;
    rules.extend(global_rules.iter().cloned());
    Ok(FeedConfig {
        name: f.name.trim().to_string(),
        url,
        collection,
        max_items: non_negative("max_items", f.max_items)?,
        min_content_chars: non_negative("min_content_chars", f.min_content_chars)?,
        categories: f.categories,
        tags: f.tags,
        schedule: f.schedule,
        enabled: f.enabled,
        full_content,
        content_selector,
        public_url,
        rules: crate::rules::FeedRules::new(rules, f.keep_only),
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
) -> Result<(EventsSettings, HealthSettings, Vec<WebhookSettings>)> {
    let positive = |section: &str, key: &str, v: &str| positive_duration(section, key, v, "10s");
    let events = EventsSettings {
        keep: positive("events", "keep", &events.keep)?,
        deliver_deadline: duration_setting("events", "deliver_deadline", &events.deliver_deadline)?,
        retry_initial: positive("events", "retry_initial", &events.retry_initial)?,
        retry_max: positive("events", "retry_max", &events.retry_max)?,
        poll_interval: positive("events", "poll_interval", &events.poll_interval)?,
    };
    if !(1..=1_000_000).contains(&health.failing_after) {
        return Err(SettingError::new(
            "[health].failing_after",
            format!(
                "[health].failing_after = {}: expected a number of consecutive failed polls from 1 to 1000000 (default 5)",
                health.failing_after
            ),
        ));
    }
    let health = HealthSettings {
        failing_after: health.failing_after as u32,
        failing_for: positive("health", "failing_for", &health.failing_for)?,
        stale_after: positive("health", "stale_after", &health.stale_after)?,
    };
    let mut out: Vec<WebhookSettings> = Vec::with_capacity(webhooks.len());
    for (i, w) in webhooks.into_iter().enumerate() {
        out.push(validate_webhook(i, w, &out, feeds)?);
    }
    Ok((events, health, out))
}

/// The `[[webhooks]]` table `i`; `before` are the tables already checked (names are unique).
fn validate_webhook(
    i: usize,
    w: RawWebhook,
    before: &[WebhookSettings],
    feeds: &[RawFeed],
) -> Result<WebhookSettings> {
    let at = format!("[[webhooks]] #{}", i + 1);
    let err = |key: &str, detail: String| {
        SettingError::new(format!("webhooks[{i}].{key}"), format!("{at}: {detail}"))
    };
    let url = w.url.trim().to_string();
    match url::Url::parse(&url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
        _ => {
            return Err(err(
                "url",
                format!(
                    "url = {:?}: expected an absolute http:// or https:// URL of the receiver, e.g. \"https://hooks.example.org/feedsmith\"",
                    crate::redact::redact_url(&url)
                ),
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
    if before.iter().any(|o| o.name == name) {
        return Err(err(
            "name",
            format!(
                "a webhook named {:?} is configured twice; give each [[webhooks]] table its own name (or URL)",
                crate::redact::redact_url(&name)
            ),
        ));
    }
    if w.events.is_empty() {
        return Err(err(
            "events",
            format!(
                "events = []: name the events it takes, from: {}",
                crate::events::event_names()
            ),
        ));
    }
    let mut kinds = Vec::with_capacity(w.events.len());
    for e in &w.events {
        match crate::store::outbox::EventKind::parse(e.trim()) {
            Some(k) if !kinds.contains(&k) => kinds.push(k),
            Some(_) => {}
            None => {
                return Err(err(
                    "events",
                    format!(
                        "events: unknown event type {e:?}; expected one of: {}",
                        crate::events::event_names()
                    ),
                ))
            }
        }
    }
    for f in &w.feeds {
        if !feeds
            .iter()
            .any(|c| c.name.trim() == f.trim() || c.url.trim() == f.trim())
        {
            return Err(err(
                "feeds",
                format!("feeds: {f:?} is not the name or URL of a configured [[feeds]] table"),
            ));
        }
    }
    let secret = match w.secret_env.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(var) => match std::env::var(var) {
            Ok(v) if !v.is_empty() => Some(crate::events::WebhookSecret(v)),
            _ => {
                return Err(err(
                    "secret_env",
                    format!(
                        "secret_env = {var:?}: the environment variable {var} is not set or empty; export the signing key in it (the receiver verifies X-Feedsmith-Signature with the same key), or remove secret_env to send unsigned"
                    ),
                ))
            }
        },
    };
    let timeout = positive_duration("webhooks", "timeout", &w.timeout, "10s").map_err(|e| {
        e.prefixed(&format!("{at}: "))
            .at_key(format!("webhooks[{i}].timeout"))
    })?;
    if !(1..=1000).contains(&w.max_attempts) {
        return Err(err(
            "max_attempts",
            format!("max_attempts = {}: expected 1 to 1000", w.max_attempts),
        ));
    }
    Ok(WebhookSettings {
        name,
        url,
        events: kinds,
        feeds: w.feeds.iter().map(|f| f.trim().to_string()).collect(),
        collections: w.collections.iter().map(|c| c.trim().to_string()).collect(),
        secret_env: w.secret_env.filter(|v| !v.trim().is_empty()),
        secret,
        timeout,
        max_attempts: w.max_attempts as u32,
    })
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

    /// `label` starts the message (`[enrich].taxonomy`, or `taxonomy` inside a feed's table);
    /// `key` is the key path.
    fn load(&mut self, path: &str, label: &str, key: &str) -> Result<(PathBuf, Arc<Taxonomy>)> {
        let file = self.base_dir.join(path.trim());
        if let Some(t) = self.loaded.get(&file) {
            return Ok((file, t.clone()));
        }
        let text = std::fs::read_to_string(&file).map_err(|e| {
            SettingError::new(
                key,
                format!(
                    "{label} = {path:?}: cannot read {}: {e}\n  fix: give the path of a taxonomy file (relative paths start at the configuration file's directory; config/taxonomy.toml in the repository is the built-in one)",
                    file.display()
                ),
            )
        })?;
        let taxonomy = Arc::new(
            Taxonomy::from_toml(&text, &file.display().to_string())
                .map_err(|e| SettingError::new(key, format!("{label}: {e}")))?,
        );
        self.loaded.insert(file.clone(), taxonomy.clone());
        Ok((file, taxonomy))
    }
}
