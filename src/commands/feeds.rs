//! `feedsmith feeds list|import|export`: the configured feeds, their status, and OPML.
//! The configuration file stays the source of truth for which feeds exist: import prints (or
//! appends) `[[feeds]]` tables, it never stores feeds elsewhere.

use std::path::Path;

use quick_xml::events::Event;
use serde::Serialize;
use serde_json::json;

use crate::app::App;
use crate::config::{self, Settings, Source};
use crate::error::{exit, CommandError};
use crate::publish::formats::xml_escape;
use crate::redact::{redact_text, redact_url};
use crate::scheduler::policy;

pub async fn list(settings: Settings, as_json: bool) -> Result<u8, CommandError> {
    let feeds = settings.feeds.clone();
    let app = App::build(settings).await?;
    let records = app.store.list_feeds().await?;
    let now = chrono::Utc::now();
    let mut items = Vec::with_capacity(feeds.len());
    for f in &feeds {
        let r = records.iter().find(|r| r.url == f.url);
        items.push(json!({
            "name": f.name,
            "url": redact_url(&f.url),
            "collection": f.collection,
            "enabled": f.enabled,
            "last_polled_at": r.and_then(|r| r.last_polled_at),
            "last_outcome": r.and_then(|r| r.last_outcome.clone()),
            "last_status": r.and_then(|r| r.last_status),
            // Errors stored before redaction existed may hold a secret: redacted on the way out.
            "last_error": r.and_then(|r| r.last_error.as_deref().map(redact_text)),
            "consecutive_failures": r.map(|r| r.consecutive_failures).unwrap_or(0),
            "gone": r.map(|r| r.gone).unwrap_or(false),
            "posts": r.map(|r| r.post_count).unwrap_or(0),
            "next_due_at": r.and_then(|r| r.next_due_at),
            "due_now": f.enabled && r.is_none_or(|r| policy::is_due(r.next_due_at, r.gone, now)),
        }));
    }
    if as_json {
        let text = serde_json::to_string_pretty(&items)
            .map_err(|e| CommandError::Runtime(e.to_string()))?;
        println!("{text}");
    } else {
        for (f, item) in feeds.iter().zip(&items) {
            let outcome = item["last_outcome"].as_str().unwrap_or("never polled");
            let polled = item["last_polled_at"].as_str().unwrap_or("-");
            let error = item["last_error"]
                .as_str()
                .map(|e| format!("  error: {e}"))
                .unwrap_or_default();
            println!(
                "{:<30} {:>6} posts  {:<12} {}  {}{}",
                f.name,
                item["posts"],
                outcome,
                polled,
                redact_url(&f.url),
                error
            );
        }
        eprintln!("{} feeds", feeds.len());
    }
    Ok(exit::OK)
}

/// One outline of an OPML file that points at a feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outline {
    pub title: String,
    pub xml_url: String,
}

/// The feed outlines (`<outline xmlUrl=...>`, at any depth) of an OPML document.
pub fn parse_opml(text: &str) -> Result<Vec<Outline>, String> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut out = Vec::new();
    let mut saw_opml = false;
    loop {
        match reader.read_event() {
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
                if let Some(xml_url) = url.filter(|u| !u.is_empty()) {
                    let title = title
                        .filter(|t| !t.is_empty())
                        .or(text_attr.filter(|t| !t.is_empty()))
                        .unwrap_or_else(|| xml_url.clone());
                    out.push(Outline { title, xml_url });
                }
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => {
                return Err(format!(
                    "not well-formed XML at byte {}: {e}",
                    reader.buffer_position()
                ))
            }
        }
    }
    if !saw_opml {
        return Err("not an OPML document (no <opml> element)".into());
    }
    Ok(out)
}

#[derive(Serialize)]
struct FeedTable<'a> {
    name: &'a str,
    url: &'a str,
    collection: &'a str,
}

/// `[[feeds]]` tables for outlines whose URL is not configured yet.
pub fn feeds_toml(outlines: &[Outline], settings: &Settings, collection: &str) -> (String, usize) {
    let mut text = String::new();
    let mut n = 0;
    let mut seen: Vec<&str> = settings.feeds.iter().map(|f| f.url.as_str()).collect();
    for o in outlines {
        if seen.contains(&o.xml_url.as_str()) {
            continue;
        }
        seen.push(&o.xml_url);
        let table = FeedTable {
            name: &o.title,
            url: &o.xml_url,
            collection,
        };
        if let Ok(body) = toml::to_string(&table) {
            text.push_str("\n[[feeds]]\n");
            text.push_str(&body);
            n += 1;
        }
    }
    (text, n)
}

pub fn import(
    settings: Settings,
    file: &Path,
    write: bool,
    collection: &str,
) -> Result<u8, CommandError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| CommandError::Usage(format!("cannot read {}: {e}", file.display())))?;
    let outlines =
        parse_opml(&text).map_err(|e| CommandError::Usage(format!("{}: {e}", file.display())))?;
    let (tables, n) = feeds_toml(&outlines, &settings, collection);
    if !write {
        print!("{tables}");
        eprintln!(
            "{n} new feeds of {} outlines in {}",
            outlines.len(),
            file.display()
        );
        return Ok(exit::OK);
    }
    let Source::File(path) = &settings.source else {
        return Err(CommandError::Usage(
            "--write needs a configuration file (--config PATH); none was found".into(),
        ));
    };
    let original = std::fs::read_to_string(path)
        .map_err(|e| CommandError::Runtime(format!("cannot read {}: {e}", path.display())))?;
    let mut updated = original;
    if !updated.ends_with('\n') {
        updated.push('\n');
    }
    updated.push_str(&tables);
    write_validated(path, &updated)?;
    eprintln!("added {n} feeds to {}", path.display());
    Ok(exit::OK)
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

pub fn export(settings: Settings, include_secrets: bool) -> Result<u8, CommandError> {
    if include_secrets {
        eprintln!("feeds export --include-secrets: the output holds the feeds' credentials and tokens; keep it private");
        print!("{}", opml_with_secrets(&settings));
    } else {
        print!("{}", opml(&settings));
    }
    Ok(exit::OK)
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

pub fn add(
    settings: Settings,
    url: &str,
    name: Option<&str>,
    collection: &str,
    categories: &[String],
) -> Result<u8, CommandError> {
    let path = config_file(&settings)?;
    if settings.feeds.iter().any(|f| f.url == url) {
        return Err(CommandError::Usage(format!(
            "{url} is already configured; the URL identifies a feed"
        )));
    }
    let name = match name {
        Some(n) => n.to_string(),
        None => url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
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
    write_validated(&path, &doc.to_string())?;
    eprintln!("added {name:?} ({url}) to {}", path.display());
    Ok(exit::OK)
}

pub fn remove(settings: Settings, selector: &str) -> Result<u8, CommandError> {
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
        "removed {url} from {} (its stored posts are kept)",
        path.display()
    );
    Ok(exit::OK)
}
