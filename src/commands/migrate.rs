//! `feedsmith migrate`: apply the embedded migrations and exit.

use crate::app::App;
use crate::config::Settings;
use crate::error::{exit, CommandError};

pub async fn run(settings: Settings) -> Result<u8, CommandError> {
    let url = crate::redact::RedactedUrl::new(&settings.database.url);
    App::build(settings).await?; // connecting migrates
    eprintln!("database {url} is up to date");
    Ok(exit::OK)
}
