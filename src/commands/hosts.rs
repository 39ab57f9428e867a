//! `feedsmith hosts list`: every host the feeds live on, with its limits, its pause and its
//! feeds' states. Hosts, not feeds, are the unit of politeness: this is where a 429 or a block
//! shows as what it is, a host asking to be left alone.

use crate::app::{hosts_view, App};
use crate::config::Settings;
use crate::error::{CommandError, Exit};

pub async fn list(settings: Settings, as_json: bool) -> Result<Exit, CommandError> {
    super::require_existing_database(&settings)?;
    let app = App::build(settings).await?;
    let hosts = hosts_view(&app).await?;
    if as_json {
        let text = serde_json::to_string_pretty(&hosts)
            .map_err(|e| CommandError::Runtime(e.to_string()))?;
        crate::outln!("{text}")?;
        return Ok(Exit::Ok);
    }
    for h in &hosts {
        let pace = if h.interval.is_zero() {
            "no interval".to_string()
        } else {
            format!(
                "1 per {} (burst {})",
                crate::units::format_duration(h.interval),
                h.burst
            )
        };
        let mut state = String::new();
        if let Some(until) = h.paused_until {
            state.push_str(&format!(
                "  PAUSED until {} ({})",
                until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                h.pause_reason.as_deref().unwrap_or("asked to wait")
            ));
        }
        if let Some(at) = h.last_throttled_at {
            state.push_str(&format!(
                "  last 429 {}",
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ));
        }
        crate::outln!(
            "{:<32} {:>4} feeds  {:>3} deferred  {:>3} failing  {}, {} at once{}",
            h.host,
            h.feeds,
            h.deferred,
            h.failing,
            pace,
            h.concurrency,
            state
        )?;
    }
    eprintln!("{} hosts", hosts.len());
    Ok(Exit::Ok)
}
