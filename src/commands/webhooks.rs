//! `feedsmith webhooks list` and `feedsmith events`: the outbox and its deliveries from the
//! command line (the same as `/api/events` and `/api/deliveries`), and the wiring of the
//! delivery worker into `fetch` and `run`.

use serde_json::json;

use crate::app::App;
use crate::config::Settings;
use crate::error::{CommandError, Exit};
use crate::events::deliver::WorkerConfig;
use crate::redact::redact_url;

/// What the delivery worker runs with, from the settings.
pub fn worker_config(settings: &Settings) -> WorkerConfig {
    WorkerConfig {
        webhooks: settings.webhooks.clone(),
        events: settings.events.clone(),
        render: crate::app::render_options(settings),
        allow_hosts: settings.http.allow_hosts.clone(),
        allow_private_networks: settings.http.allow_private_networks,
        user_agent: settings.http.user_agent.clone(),
    }
}

/// `webhooks list [--dead] [--json]`: each configured webhook with its deliveries pending,
/// delivered and dead; with `--dead`, the dead-lettered deliveries themselves.
pub async fn list(settings: Settings, dead: bool, as_json: bool) -> Result<Exit, CommandError> {
    super::require_existing_database(&settings)?;
    let webhooks = settings.webhooks.clone();
    let app = App::build(settings).await?;
    let outbox = app.store.outbox();
    if dead {
        let list = outbox.list_deliveries(Some("dead"), 1000).await?;
        if as_json {
            let text = serde_json::to_string_pretty(&list)
                .map_err(|e| CommandError::Runtime(e.to_string()))?;
            crate::outln!("{text}")?;
        } else {
            for d in &list {
                crate::outln!(
                    "#{:<6} {:<15} event {:<6} {} attempts  last: {}  {}  {}",
                    d.id,
                    d.event_type,
                    d.event_id,
                    d.attempts,
                    d.last_error.as_deref().unwrap_or("-"),
                    d.delivery_id,
                    redact_url(&d.webhook)
                )?;
            }
            eprintln!("{} dead deliveries", list.len());
        }
        return Ok(Exit::Ok);
    }
    let counts = outbox.delivery_counts().await?;
    let items: Vec<serde_json::Value> = webhooks
        .iter()
        .map(|w| {
            let c = counts.iter().find(|c| c.webhook == w.name);
            json!({
                "name": redact_url(&w.name),
                "url": redact_url(&w.url),
                "events": w.events.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
                "signed": w.secret.is_some(),
                "pending": c.map(|c| c.pending).unwrap_or(0),
                "delivered": c.map(|c| c.delivered).unwrap_or(0),
                "dead": c.map(|c| c.dead).unwrap_or(0),
            })
        })
        .collect();
    if as_json {
        let text = serde_json::to_string_pretty(&items)
            .map_err(|e| CommandError::Runtime(e.to_string()))?;
        crate::outln!("{text}")?;
    } else {
        for i in &items {
            crate::outln!(
                "{:<30} {:>6} pending {:>6} delivered {:>6} dead  {}",
                i["name"].as_str().unwrap_or(""),
                i["pending"],
                i["delivered"],
                i["dead"],
                i["url"].as_str().unwrap_or("")
            )?;
        }
        eprintln!("{} webhooks", items.len());
    }
    Ok(Exit::Ok)
}

/// `events [--after ID] [--limit N] [--json]`: the outbox, oldest first.
pub async fn events(
    settings: Settings,
    after: i64,
    limit: i64,
    as_json: bool,
) -> Result<Exit, CommandError> {
    super::require_existing_database(&settings)?;
    if !(1..=10_000).contains(&limit) {
        return Err(CommandError::Usage(format!(
            "--limit {limit}: expected 1 to 10000"
        )));
    }
    let app = App::build(settings).await?;
    let list = app.store.outbox().list_events(after, limit).await?;
    if as_json {
        let text = serde_json::to_string_pretty(&list)
            .map_err(|e| CommandError::Runtime(e.to_string()))?;
        crate::outln!("{text}")?;
    } else {
        for e in &list {
            let what = e
                .data
                .get("title")
                .or_else(|| e.data.get("error"))
                .and_then(|v| v.as_str())
                .unwrap_or("");
            crate::outln!(
                "{:<6} {}  {:<15} {:<30} {}",
                e.id,
                e.created_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                e.kind,
                e.feed_name.as_deref().unwrap_or("-"),
                what
            )?;
        }
        eprintln!("{} events", list.len());
    }
    Ok(Exit::Ok)
}
