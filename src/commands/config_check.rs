//! `feedsmith config check`: load and validate, print the effective settings.

use crate::config::Settings;
use crate::error::{exit, CommandError};

pub fn run(settings: Settings) -> Result<u8, CommandError> {
    crate::out!("{}", settings.to_toml())?;
    let enabled = settings.feeds.iter().filter(|f| f.enabled).count();
    eprintln!(
        "configuration OK ({}): {} feeds, {} enabled",
        settings.source,
        settings.feeds.len(),
        enabled
    );
    Ok(exit::OK)
}
