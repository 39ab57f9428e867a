//! `feedsmith config check`: load and validate, print the effective settings.

use crate::config::Settings;
use crate::error::{CommandError, Exit};

pub fn run(settings: Settings) -> Result<Exit, CommandError> {
    // Feed URLs and the database URL without credentials or tokens (src/redact.rs).
    crate::out!("{}", crate::redact::redact_text(&settings.to_toml()))?;
    let enabled = settings.feeds.iter().filter(|f| f.enabled).count();
    eprintln!(
        "configuration OK ({}): {} feeds, {} enabled",
        settings.source,
        settings.feeds.len(),
        enabled
    );
    Ok(Exit::Ok)
}
