//! Layered, validated settings: built-in defaults, then the TOML file, then `FEEDSMITH__SECTION__KEY`
//! environment variables, then `--database-url`. Everything is checked once, here, so the rest of
//! the program works with typed values and never meets a malformed setting at 3 a.m.
//!
//! Layering is done on `toml::Value` trees before deserializing: that way an environment variable
//! is type-checked exactly like the file (and an unknown one is an error, not silently ignored).
//!
//! The parts, in the order a load runs them: this file locates, reads and layers the trees and
//! places an error (which variable, flag or file line it came from); [`raw`] is the file format
//! (serde structs and the built-in defaults); [`validate`] turns the raw tree into [`Settings`],
//! one function per section; [`units`] reads durations and sizes as settings. The settings types
//! of the stages (`fetch::HttpSettings`, `store::DatabaseSettings`, `article::ArticleSettings`,
//! ...) live with their stages: `config` imports them, never the reverse.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::article::ArticleSettings;
use crate::domain::FeedConfig;
use crate::enrich::{Enrichment, ModelSettings, Taxonomy};
use crate::normalize::VideoEmbed;

mod raw;
#[cfg(test)]
mod tests;
pub mod units;
mod validate;

use raw::{defaults, is_optional_key, RawFeed, RawSettings, OPTIONAL_KEYS};
pub use units::{parse_duration, parse_size};
pub use validate::check_cron;

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

/// Why a configuration could not be loaded. A refused setting is a [`SettingError`], attributed
/// to where its value came from: the file, an environment variable or `--database-url`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}\n  fix: check the path given by --config / FEEDSMITH_CONFIG and its permissions")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration file {path} was given but does not exist\n  fix: create it (config/feedsmith.toml in the repository is a complete example) or correct the path")]
    Missing { path: PathBuf },
    /// The file is not TOML, or a value has the wrong type (toml's message, with its excerpt;
    /// `line` is where it points, when it says).
    #[error("in {source_name}: {message}")]
    Format {
        source_name: String,
        message: String,
        line: Option<usize>,
    },
    /// A setting of the file (or the defaults) that validation refused.
    #[error("in {source_name}: {problem}")]
    Invalid {
        source_name: String,
        problem: Box<SettingError>,
    },
    /// A `FEEDSMITH__SECTION__KEY` variable that is malformed, or whose value was refused.
    #[error("environment variable {var}: {problem}")]
    Env {
        var: String,
        problem: Box<SettingError>,
    },
    /// A value given on the command line (`--database-url`) that validation refused.
    #[error("{flag}: {problem}")]
    Flag {
        flag: String,
        problem: Box<SettingError>,
    },
}

impl ConfigError {
    /// The refused setting, when the error is about one (not an unreadable or non-TOML file).
    pub fn setting(&self) -> Option<&SettingError> {
        match self {
            ConfigError::Invalid { problem, .. }
            | ConfigError::Env { problem, .. }
            | ConfigError::Flag { problem, .. } => Some(problem),
            ConfigError::Read { .. } | ConfigError::Missing { .. } | ConfigError::Format { .. } => {
                None
            }
        }
    }
}

/// One setting that validation refused: where it is (key path, feed, file line) as data, and the
/// message users read. The message's wording is the contract (tests/bad_config.rs); the fields are
/// for code that must tell errors apart (which override set the key, which line to point at)
/// without searching the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct SettingError {
    /// Where the value sits: `[http].timeout`, `feeds[3].collection`, `hosts[0].burst`,
    /// `webhooks[1].url`, `rules[2]` (indexes from 0, as toml_edit and the rules name them).
    pub key: String,
    /// The `name` of the `[[feeds]]` table the key is in.
    pub feed: Option<String>,
    /// 1-based line in the file (of the key, or of its table), when known.
    pub line: Option<usize>,
    /// 1-based column of the key, when known.
    pub column: Option<usize>,
    text: Text,
}

/// How a [`SettingError`] reads. Two forms name a feed, for historical reasons users now rely on:
/// validation's `[[feeds]] #N (line L) ("name"): ...` (1-based, the table as the file shows it)
/// and deserialization's `feeds[I] ("name") at line L, column C: ...` (0-based, as the key path).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Text {
    /// The whole message; it names its key itself (`[http].timeout = "x": expected ...`).
    Whole(String),
    /// A value validation refused in the `[[feeds]]` table number `index + 1`.
    Feed { index: usize, detail: String },
    /// A `[[feeds]]` table that does not deserialize (unknown key, wrong type).
    Table { index: usize, detail: String },
}

impl SettingError {
    /// A refused value whose message names `key` itself.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> SettingError {
        SettingError {
            key: key.into(),
            feed: None,
            line: None,
            column: None,
            text: Text::Whole(message.into()),
        }
    }

    /// A refused `key` of the `[[feeds]]` table `index` (0-based) named `name`; `detail` starts
    /// with the key as the table writes it (`collection = "a b": expected ...`).
    pub fn feed(index: usize, name: &str, key: &str, detail: impl Into<String>) -> SettingError {
        SettingError {
            key: format!("feeds[{index}].{key}"),
            feed: Some(name.to_string()),
            line: None,
            column: None,
            text: Text::Feed {
                index,
                detail: detail.into(),
            },
        }
    }

    /// The `[[feeds]]` table `index` that does not deserialize; `key` is the offending key when
    /// it could be found.
    fn table(index: usize, name: Option<&str>, key: Option<&str>, detail: String) -> SettingError {
        SettingError {
            key: match key {
                Some(k) => format!("feeds[{index}].{k}"),
                None => format!("feeds[{index}]"),
            },
            feed: name.map(str::to_string),
            line: None,
            column: None,
            text: Text::Table { index, detail },
        }
    }

    /// The same error, its message prefixed (`[[webhooks]] #2: ` before a duration's message).
    pub fn prefixed(mut self, prefix: &str) -> SettingError {
        self.text = match self.text {
            Text::Whole(m) => Text::Whole(format!("{prefix}{m}")),
            other => other,
        };
        self
    }

    /// The same error under another key path (a helper's message, placed where it was used).
    pub fn at_key(mut self, key: impl Into<String>) -> SettingError {
        self.key = key.into();
        self
    }

    fn render(&self) -> String {
        let name = |n: &Option<String>| n.as_ref().map(|n| format!(" ({n:?})"));
        match &self.text {
            Text::Whole(m) => m.clone(),
            Text::Feed { index, detail } => {
                let line = self
                    .line
                    .map(|l| format!(" (line {l})"))
                    .unwrap_or_default();
                let name = name(&self.feed).unwrap_or_default();
                format!("[[feeds]] #{}{line}{name}: {detail}", index + 1)
            }
            Text::Table { index, detail } => {
                let at = match (self.line, self.column) {
                    (Some(l), Some(c)) => format!(" at line {l}, column {c}"),
                    _ => String::new(),
                };
                let name = name(&self.feed).unwrap_or_default();
                format!("feeds[{index}]{name}{at}: {detail}")
            }
        }
    }
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
    let format = |message: String, line: Option<usize>| ConfigError::Format {
        source_name: source_name.clone(),
        message,
        line,
    };
    let invalid = |problem: SettingError| ConfigError::Invalid {
        source_name: source_name.clone(),
        problem: Box::new(problem),
    };
    let mut tree = toml::Value::try_from(defaults())
        .map_err(|e| format(format!("internal error building defaults: {e}"), None))?;

    if let Some(text) = file_text {
        let file: toml::Value = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_col(text, s.start).0);
            format(toml_message(&e), line)
        })?;
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

    let raw: RawSettings = tree.try_into().map_err(|e: toml::de::Error| {
        // A bad `[[feeds]]` table: name it by index, name and line, which the merged tree lost.
        // The feeds come from the file only, and are read again from it on this path alone:
        // a copy of them kept for it was 14 MB with 20 000 feeds, the daemon's start-up peak.
        let feeds_tree = file_text
            .and_then(|text| toml::from_str::<toml::Value>(text).ok())
            .and_then(|file| file.get("feeds").cloned());
        match locate_feed_error(feeds_tree.as_ref(), file_text) {
            Some(located) => invalid(located),
            None => format(toml_message(&e), None),
        }
    })?;
    validate::validate(raw, source).map_err(|problem| {
        let problem = with_feed_line(problem, file_text);
        // The last override of the refused key set the value that was refused.
        match overrides.iter().rev().find(|(key, _)| *key == problem.key) {
            Some((_, Some(var))) => ConfigError::Env {
                var: var.clone(),
                problem: Box::new(problem),
            },
            Some((_, None)) => ConfigError::Flag {
                flag: "--database-url".into(),
                problem: Box::new(problem),
            },
            None => invalid(problem),
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
fn locate_feed_error(feeds: Option<&toml::Value>, file_text: Option<&str>) -> Option<SettingError> {
    let feeds = feeds?.as_array()?;
    let spans = feed_spans(file_text);
    feeds.iter().enumerate().find_map(|(i, feed)| {
        let err = RawFeed::deserialize(feed.clone()).err()?;
        let name = feed.get("name").and_then(|n| n.as_str());
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
            Some(line_col(text, span.start + offset))
        });
        let mut problem = SettingError::table(i, name, key.as_deref(), message);
        if let Some((line, column)) = at {
            problem.line = Some(line);
            problem.column = Some(column);
        }
        Some(problem)
    })
}

/// A refused value inside a `[[feeds]]` table gets the table's line in the file (validation
/// works on the merged tree, which has no positions).
fn with_feed_line(mut problem: SettingError, file_text: Option<&str>) -> SettingError {
    let (Text::Feed { index, .. }, Some(text)) = (&problem.text, file_text) else {
        return problem;
    };
    if let Some(span) = feed_spans(Some(text)).get(*index) {
        problem.line = Some(line_col(text, span.start).0);
    }
    problem
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
fn check_known_keys(
    known: &toml::Value,
    given: &toml::Value,
    prefix: &str,
) -> Result<(), SettingError> {
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
                // The key path in validation's form: `[enrich].endpont`.
                let key = match path.split_once('.') {
                    Some((section, rest)) => format!("[{section}].{rest}"),
                    None => path.clone(),
                };
                return Err(SettingError::new(
                    key,
                    format!(
                        "unknown key `{path}`; expected one of: {}",
                        names.join(", ")
                    ),
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
    // The key path as validation names it (`[http].timeout`), or the variable when it names none.
    let key = env_key(var).unwrap_or_else(|| var.to_string());
    let err = |message: String| ConfigError::Env {
        var: var.to_string(),
        problem: Box::new(SettingError::new(key.clone(), message)),
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

    /// Feeds selected by `--feed NAME_OR_URL` (all enabled feeds when `selectors` is empty), as
    /// places in `feeds`: `fetch` polls the configuration itself rather than a copy of it (7 MB
    /// at 20 000 feeds).
    pub fn select_feeds(&self, selectors: &[String]) -> Result<Vec<usize>, NoSuchFeed> {
        if selectors.is_empty() {
            return Ok((0..self.feeds.len())
                .filter(|&i| self.feeds[i].enabled)
                .collect());
        }
        let mut out: Vec<usize> = Vec::new();
        for sel in selectors {
            let matched: Vec<usize> = (0..self.feeds.len())
                .filter(|&i| {
                    self.feeds[i].url == *sel || self.feeds[i].name.eq_ignore_ascii_case(sel)
                })
                .collect();
            if matched.is_empty() {
                return Err(NoSuchFeed(sel.clone()));
            }
            for i in matched {
                if !out.iter().any(|&o| self.feeds[o].url == self.feeds[i].url) {
                    out.push(i);
                }
            }
        }
        Ok(out)
    }
}

/// A `--feed` selector that names no configured feed.
#[derive(Debug, thiserror::Error)]
#[error(
    "--feed {0:?} matches no configured feed (by name or URL); `feedsmith feeds list` shows them"
)]
pub struct NoSuchFeed(pub String);
