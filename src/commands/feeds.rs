//! `feedsmith feeds list|import|export`: the configured feeds, their status, and OPML.
//! The configuration file stays the source of truth for which feeds exist: import prints (or
//! appends) `[[feeds]]` tables, it never stores feeds elsewhere.

use std::path::Path;

use quick_xml::events::Event;
use serde::Serialize;
use serde_json::json;

use crate::app::App;
use crate::config::{self, Settings, Source};
use crate::error::{CommandError, Exit};
use crate::policy;
use crate::publish::formats::xml_escape;
use crate::redact::{redact_text, redact_url};
use crate::store::outbox::HealthState;

pub async fn list(
    settings: Settings,
    as_json: bool,
    unhealthy: bool,
) -> Result<Exit, CommandError> {
    let feeds = settings.feeds.clone();
    super::require_existing_database(&settings)?;
    let app = App::build(settings).await?;
    let records = app.store.list_feeds().await?;
    let paused = crate::app::host_pauses(&app).await;
    let health = app.store.outbox().feed_health().await?;
    let now = chrono::Utc::now();
    let mut items = Vec::with_capacity(feeds.len());
    let mut shown = Vec::with_capacity(feeds.len());
    for f in &feeds {
        let r = records.iter().find(|r| r.url == f.url);
        let host = crate::app::feed_host(r.map_or(f.url.as_str(), |r| r.effective_url()));
        let h = r.and_then(|r| health.iter().find(|h| h.feed_id == r.id));
        let state = h.map(|h| h.state).unwrap_or(HealthState::Ok);
        if unhealthy && state == HealthState::Ok {
            continue;
        }
        shown.push(f);
        items.push(json!({
            "health": state,
            "health_since": h.filter(|h| h.state != HealthState::Ok).map(|h| h.changed_at),
            "name": f.name,
            "url": redact_url(&f.url),
            "collection": f.collection,
            "enabled": f.enabled,
            "last_polled_at": r.and_then(|r| r.last_polled_at),
            "last_outcome": r.and_then(|r| r.last_outcome),
            "last_status": r.and_then(|r| r.last_status),
            // Errors stored before redaction existed may hold a secret: redacted on the way out.
            "last_error": r.and_then(|r| r.last_error.as_deref().map(redact_text)),
            "consecutive_failures": r.map(|r| r.consecutive_failures).unwrap_or(0),
            "gone": r.map(|r| r.gone).unwrap_or(false),
            "posts": r.map(|r| r.post_count).unwrap_or(0),
            "next_due_at": r.and_then(|r| r.next_due_at),
            "due_now": f.enabled && r.is_none_or(|r| policy::is_due(r.next_due_at, r.gone, now)),
            "host": host,
            "host_paused_until": host.as_ref().and_then(|h| paused.get(h)),
        }));
    }
    if as_json {
        let text = serde_json::to_string_pretty(&items)
            .map_err(|e| CommandError::Runtime(e.to_string()))?;
        crate::outln!("{text}")?;
    } else {
        for (f, item) in shown.iter().zip(&items) {
            let outcome = item["last_outcome"].as_str().unwrap_or("never polled");
            let polled = item["last_polled_at"].as_str().unwrap_or("-");
            let mut error = item["last_error"]
                .as_str()
                .map(|e| format!("  error: {e}"))
                .unwrap_or_default();
            if let Some(until) = item["host_paused_until"].as_str() {
                error.push_str(&format!(
                    "  host {} paused until {until}",
                    item["host"].as_str().unwrap_or("?")
                ));
            } else if let Some(due) = item["next_due_at"].as_str() {
                error.push_str(&format!("  next due {due}"));
            }
            crate::outln!(
                "{:<30} {:>6} posts  {:<8} {:<12} {}  {}{}",
                f.name,
                item["posts"],
                item["health"].as_str().unwrap_or("ok"),
                outcome,
                polled,
                redact_url(&f.url),
                error
            )?;
        }
        eprintln!("{} feeds", shown.len());
    }
    Ok(Exit::Ok)
}

/// One outline of an OPML file that points at a feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outline {
    pub title: String,
    pub xml_url: String,
    /// The folders (outlines without a feed URL) it sits in, outermost first: readers export
    /// their folders this way, and they become the feed's `categories`.
    pub folders: Vec<String>,
}

/// The feed outlines (`<outline xmlUrl=...>`, at any depth) of an OPML document.
pub fn parse_opml(text: &str) -> Result<Vec<Outline>, OpmlError> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut out = Vec::new();
    let mut saw_opml = false;
    // One entry per open <outline>: its folder name when it has no feed URL, else None.
    let mut open: Vec<Option<String>> = Vec::new();
    loop {
        let event = reader.read_event();
        let is_start = matches!(event, Ok(Event::Start(_)));
        match event {
            Ok(Event::End(e)) => {
                if e.local_name().as_ref().eq_ignore_ascii_case(b"outline") {
                    open.pop();
                }
            }
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                let name = e.local_name();
                if name.as_ref().eq_ignore_ascii_case(b"opml") {
                    saw_opml = true;
                }
                if !name.as_ref().eq_ignore_ascii_case(b"outline") {
                    continue;
                }
                let mut url = None;
                let mut title = None;
                let mut text_attr = None;
                for attr in e.attributes().flatten() {
                    let value = attr
                        .decoded_and_normalized_value(
                            quick_xml::XmlVersion::Implicit1_0,
                            reader.decoder(),
                        )
                        .map(|v| v.trim().to_string())
                        .unwrap_or_default();
                    match attr.key.local_name().as_ref() {
                        k if k.eq_ignore_ascii_case(b"xmlurl") => url = Some(value),
                        b"title" => title = Some(value),
                        b"text" => text_attr = Some(value),
                        _ => {}
                    }
                }
                let label = title
                    .filter(|t| !t.is_empty())
                    .or(text_attr.filter(|t| !t.is_empty()));
                let folder = match url.filter(|u| !u.is_empty()) {
                    Some(xml_url) => {
                        out.push(Outline {
                            title: label.unwrap_or_else(|| xml_url.clone()),
                            xml_url,
                            folders: open.iter().flatten().cloned().collect(),
                        });
                        None
                    }
                    None => label,
                };
                if is_start {
                    open.push(folder);
                }
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => {
                return Err(OpmlError::Xml {
                    at: reader.buffer_position(),
                    detail: e.to_string(),
                })
            }
        }
    }
    if !saw_opml {
        return Err(OpmlError::NotOpml);
    }
    Ok(out)
}

/// Why an OPML file gave no feed list.
#[derive(Debug, thiserror::Error)]
pub enum OpmlError {
    #[error("not well-formed XML at byte {at}: {detail}")]
    Xml { at: u64, detail: String },
    #[error("not an OPML document (no <opml> element)")]
    NotOpml,
}

#[derive(Serialize)]
struct FeedTable<'a> {
    name: &'a str,
    url: &'a str,
    collection: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    categories: &'a [String],
}

/// What an OPML import would add, and what it left out and rewrote.
#[derive(Debug, Default)]
pub struct Import {
    /// `[[feeds]]` tables, ready to print or append.
    pub tables: String,
    pub added: usize,
    /// Outlines left out because their URL is configured or appeared earlier in the file.
    pub duplicates: Vec<Outline>,
    /// `(from, to)` for `feed://` URLs, which readers export but nothing can fetch.
    pub rewritten: Vec<(String, String)>,
}

/// `feed://host/x` and `feed:https://host/x` (the old "subscribe" scheme) as a fetchable URL.
fn fetchable_url(url: &str) -> Option<String> {
    let rest = url.strip_prefix("feed:")?;
    if let Some(inner) = rest
        .strip_prefix("https://")
        .or_else(|| rest.strip_prefix("http://"))
    {
        let scheme = if rest.starts_with("https") {
            "https"
        } else {
            "http"
        };
        return Some(format!("{scheme}://{inner}"));
    }
    Some(format!("https://{}", rest.trim_start_matches('/')))
}

/// `[[feeds]]` tables for outlines whose URL is not configured yet. Folders become categories.
pub fn feeds_toml(outlines: &[Outline], settings: &Settings, collection: &str) -> Import {
    let mut import = Import::default();
    let mut seen: Vec<String> = settings.feeds.iter().map(|f| f.url.clone()).collect();
    for o in outlines {
        let url = match fetchable_url(&o.xml_url) {
            Some(u) => {
                import.rewritten.push((o.xml_url.clone(), u.clone()));
                u
            }
            None => o.xml_url.clone(),
        };
        if seen.contains(&url) {
            import.duplicates.push(o.clone());
            continue;
        }
        seen.push(url.clone());
        let table = FeedTable {
            name: &o.title,
            url: &url,
            collection,
            categories: &o.folders,
        };
        if let Ok(body) = toml::to_string(&table) {
            import.tables.push_str("\n[[feeds]]\n");
            import.tables.push_str(&body);
            import.added += 1;
        }
    }
    import
}

pub fn import(
    settings: Settings,
    file: &Path,
    write: bool,
    collection: &str,
) -> Result<Exit, CommandError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| CommandError::Usage(format!("cannot read {}: {e}", file.display())))?;
    let outlines =
        parse_opml(&text).map_err(|e| CommandError::Usage(format!("{}: {e}", file.display())))?;
    let import = feeds_toml(&outlines, &settings, collection);
    for (from, to) in &import.rewritten {
        eprintln!(
            "note: {} is a feed:// link; importing it as {}",
            redact_url(from),
            redact_url(to)
        );
    }
    for d in &import.duplicates {
        eprintln!(
            "skipped (already configured or listed twice): {} ({})",
            d.title,
            redact_url(&d.xml_url)
        );
    }
    let n = import.added;
    if !write {
        crate::out!("{}", import.tables)?;
        eprintln!(
            "{n} new feeds of {} outlines in {} ({} duplicates skipped)",
            outlines.len(),
            file.display(),
            import.duplicates.len()
        );
        return Ok(Exit::Ok);
    }
    let Source::File(path) = &settings.source else {
        return Err(CommandError::Usage(
            "--write needs a configuration file (--config PATH); none was found".into(),
        ));
    };
    let original = std::fs::read_to_string(path)
        .map_err(|e| CommandError::Runtime(format!("cannot read {}: {e}", path.display())))?;
    // Appending text keeps every comment and the layout of what is there.
    let mut updated = original;
    if !updated.ends_with('\n') {
        updated.push('\n');
    }
    updated.push_str(&import.tables);
    // Validate what is imported on its own first, so an error names the OPML outline rather
    // than a table number in a file that was never written.
    let alone = (n > 0)
        .then(|| {
            config::from_parts(
                Some(&import.tables),
                Source::File(file.to_path_buf()),
                &[],
                None,
            )
        })
        .transpose();
    if let Err(e) = alone {
        return Err(CommandError::Usage(format!(
            "{}: the imported feeds are not valid, nothing was written: {e}",
            file.display()
        )));
    }
    write_validated(path, &updated)?;
    eprintln!(
        "added {n} feeds to {} ({} duplicates skipped)",
        path.display(),
        import.duplicates.len()
    );
    Ok(Exit::Ok)
}

/// OPML 2.0 of the configured feeds, grouped by collection, with redacted URLs (for sharing a
/// list of subscriptions). [`opml_with_secrets`] keeps them as configured, for moving them.
pub fn opml(settings: &Settings) -> String {
    opml_with(settings, false)
}

/// [`opml`] with the URLs exactly as configured, credentials and tokens included
/// (`feeds export --include-secrets`).
pub fn opml_with_secrets(settings: &Settings) -> String {
    opml_with(settings, true)
}

fn opml_with(settings: &Settings, secrets: bool) -> String {
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n  <head><title>feedsmith feeds</title></head>\n  <body>\n");
    let mut collections: Vec<&str> = settings
        .feeds
        .iter()
        .map(|f| f.collection.as_str())
        .collect();
    collections.sort_unstable();
    collections.dedup();
    for c in collections {
        s.push_str(&format!(
            "    <outline text=\"{0}\" title=\"{0}\">\n",
            xml_escape(c)
        ));
        for f in settings.feeds.iter().filter(|f| f.collection == c) {
            s.push_str(&format!(
                "      <outline type=\"rss\" text=\"{0}\" title=\"{0}\" xmlUrl=\"{1}\"/>\n",
                xml_escape(&f.name),
                xml_escape(&if secrets {
                    f.url.clone()
                } else {
                    redact_url(&f.url)
                })
            ));
        }
        s.push_str("    </outline>\n");
    }
    s.push_str("  </body>\n</opml>\n");
    s
}

pub fn export(settings: Settings, include_secrets: bool) -> Result<Exit, CommandError> {
    if include_secrets {
        eprintln!("feeds export --include-secrets: the output holds the feeds' credentials and tokens; keep it private");
        crate::out!("{}", opml_with_secrets(&settings))?;
    } else {
        crate::out!("{}", opml(&settings))?;
    }
    Ok(Exit::Ok)
}

/// The configuration file of `settings`, or a usage error for env-only setups.
fn config_file(settings: &Settings) -> Result<std::path::PathBuf, CommandError> {
    match &settings.source {
        Source::File(path) => Ok(path.clone()),
        Source::Defaults => Err(CommandError::Usage(
            "no configuration file was found to edit; pass --config PATH (config/feedsmith.toml is an example)".into(),
        )),
    }
}

/// Validate the edited text as a whole configuration, then replace the file atomically: a
/// change that would make the configuration invalid is never written.
fn write_validated(path: &Path, text: &str) -> Result<(), CommandError> {
    config::from_parts(Some(text), Source::File(path.to_path_buf()), &[], None).map_err(|e| {
        CommandError::Usage(format!(
            "the change would make the configuration invalid: {e}"
        ))
    })?;
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| CommandError::Runtime(format!("cannot write {}: {e}", path.display())))
}

fn load_document(path: &Path) -> Result<toml_edit::DocumentMut, CommandError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CommandError::Runtime(format!("cannot read {}: {e}", path.display())))?;
    text.parse::<toml_edit::DocumentMut>()
        .map_err(|e| CommandError::Usage(format!("{}: {e}", path.display())))
}

/// What `feeds add` learned by fetching the URL once: the feed's own URL (an HTML page's
/// autodiscovered feed link replaces the page) and its title.
struct Checked {
    url: String,
    title: Option<String>,
    entries: usize,
}

/// Fetch `url` once and parse it as `fetch` would; an HTML page is followed to its feed link
/// (autodiscovery, as `inspect` does). Anything that is not a feed is an error naming the URL,
/// the reason and the way out.
async fn check_feed(settings: &Settings, url: &str) -> Result<Checked, CommandError> {
    let not_a_feed = |what: &str, why: String| {
        CommandError::Usage(format!(
            "{what} is not a feed: {why}; check the URL, or pass --no-check to add it anyway"
        ))
    };
    let fetcher = crate::fetch::Fetcher::new(&settings.http)
        .map_err(|e| CommandError::Runtime(e.to_string()))?;
    let trust = &crate::fetch::Trust::origin_of(url);
    // The operator named this URL, so its origin is trusted; an autodiscovered link elsewhere
    // goes through the network guard, as in `inspect` and a poll.
    let doc = match fetcher
        .fetch(url, &crate::fetch::Validators::default(), trust)
        .await
    {
        Ok(crate::fetch::FetchResponse::Modified(doc)) => doc,
        Ok(crate::fetch::FetchResponse::NotModified { .. }) => {
            return Err(not_a_feed(
                url,
                "it answered 304 to an unconditional request".into(),
            ))
        }
        Err(e) => return Err(not_a_feed(url, e.to_string())),
    };
    // The poll's own document stage (src/pipeline/document.rs): the same parser and the same
    // autodiscovery, so a URL that passes here is polled the same way.
    let doc = crate::pipeline::document::read(&fetcher, doc, trust)
        .await
        .map_err(|e| not_a_feed(url, e.to_string()))?;
    if let Some(link) = &doc.discovered {
        eprintln!(
            "{} is an HTML page; its feed is {}",
            redact_url(url),
            redact_url(link)
        );
    }
    Ok(Checked {
        url: doc.discovered.unwrap_or_else(|| url.to_string()),
        title: doc.parsed.title,
        entries: doc.parsed.entries.len(),
    })
}

pub async fn add(
    settings: Settings,
    url: &str,
    name: Option<&str>,
    collection: &str,
    categories: &[String],
    no_check: bool,
) -> Result<Exit, CommandError> {
    let path = config_file(&settings)?;
    let configured = |url: &str| -> Result<(), CommandError> {
        if settings.feeds.iter().any(|f| f.url == url) {
            return Err(CommandError::Usage(format!(
                "{url} is already configured; the URL identifies a feed"
            )));
        }
        Ok(())
    };
    configured(url)?;
    let (url, title) = if no_check {
        (url.to_string(), None)
    } else {
        let checked = check_feed(&settings, url).await?;
        eprintln!(
            "{}: a feed with {} entries{}",
            redact_url(&checked.url),
            checked.entries,
            checked
                .title
                .as_deref()
                .map(|t| format!(", titled {t:?}"))
                .unwrap_or_default()
        );
        (checked.url, checked.title)
    };
    let url = url.as_str();
    configured(url)?;
    // The name: --name, else the feed's own title, else the URL's host.
    let name = match name {
        Some(n) => n.to_string(),
        None => title
            .map(|t| crate::normalize::clean_title(&t, false))
            .filter(|t| !t.is_empty())
            .or_else(|| {
                url::Url::parse(url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_string))
            })
            .unwrap_or_else(|| url.to_string()),
    };
    let mut doc = load_document(&path)?;
    let mut table = toml_edit::Table::new();
    table.insert("name", toml_edit::value(name.as_str()));
    table.insert("url", toml_edit::value(url));
    table.insert("collection", toml_edit::value(collection));
    if !categories.is_empty() {
        let mut arr = toml_edit::Array::new();
        for c in categories {
            arr.push(c.as_str());
        }
        table.insert("categories", toml_edit::value(arr));
    }
    match doc.get_mut("feeds") {
        Some(item) => match item.as_array_of_tables_mut() {
            Some(feeds) => feeds.push(table),
            None => {
                return Err(CommandError::Usage(format!(
                    "{}: `feeds` must be [[feeds]] tables",
                    path.display()
                )))
            }
        },
        None => {
            let mut feeds = toml_edit::ArrayOfTables::new();
            feeds.push(table);
            doc.insert("feeds", toml_edit::Item::ArrayOfTables(feeds));
        }
    }
    let written = feed_table_text(&doc);
    write_validated(&path, &doc.to_string())?;
    crate::out!("{written}")?;
    eprintln!("added {name:?} ({}) to {}", redact_url(url), path.display());
    Ok(Exit::Ok)
}

/// The last `[[feeds]]` table of `doc` as TOML text (the one `add` appended), for printing.
fn feed_table_text(doc: &toml_edit::DocumentMut) -> String {
    let mut one = toml_edit::DocumentMut::new();
    if let Some(last) = doc
        .get("feeds")
        .and_then(|i| i.as_array_of_tables())
        .and_then(|a| a.iter().last())
    {
        let mut feeds = toml_edit::ArrayOfTables::new();
        let mut table = last.clone();
        table.decor_mut().clear();
        feeds.push(table);
        one.insert("feeds", toml_edit::Item::ArrayOfTables(feeds));
    }
    one.to_string()
}

pub fn remove(settings: Settings, selector: &str) -> Result<Exit, CommandError> {
    let path = config_file(&settings)?;
    let matches: Vec<&crate::domain::FeedConfig> = settings
        .feeds
        .iter()
        .filter(|f| f.url == selector || f.name.eq_ignore_ascii_case(selector))
        .collect();
    let url = match matches.as_slice() {
        [] => {
            return Err(CommandError::Usage(format!(
                "{selector:?} matches no configured feed; `feedsmith feeds list` shows them"
            )))
        }
        [one] => one.url.clone(),
        many => {
            let urls: Vec<&str> = many.iter().map(|f| f.url.as_str()).collect();
            return Err(CommandError::Usage(format!(
                "{selector:?} names {} feeds; remove one by URL: {}",
                many.len(),
                urls.join(", ")
            )));
        }
    };
    let mut doc = load_document(&path)?;
    let Some(feeds) = doc
        .get_mut("feeds")
        .and_then(|i| i.as_array_of_tables_mut())
    else {
        return Err(CommandError::Usage(format!(
            "{}: no [[feeds]] tables",
            path.display()
        )));
    };
    let before = feeds.len();
    feeds.retain(|t| t.get("url").and_then(|v| v.as_str()).map(str::trim) != Some(url.as_str()));
    if feeds.len() == before {
        return Err(CommandError::Usage(format!(
            "{url} is not in {}",
            path.display()
        )));
    }
    write_validated(&path, &doc.to_string())?;
    eprintln!(
        "removed {} from {} (its stored posts are kept)",
        redact_url(&url),
        path.display()
    );
    Ok(Exit::Ok)
}
