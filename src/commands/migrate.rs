//! `feedsmith migrate`: apply the embedded migrations and exit.

use crate::config::Settings;
use crate::error::{exit, CommandError};

pub async fn run(settings: Settings) -> Result<u8, CommandError> {
    let url = crate::redact::RedactedUrl::new(&settings.database.url);
    let (store, applied) = crate::store::connect_migrating(&settings.database).await?;
    store.close().await;
    match applied {
        0 => eprintln!("database {url} is up to date (no migration to apply)"),
        1 => eprintln!("database {url}: applied 1 migration; it is up to date"),
        n => eprintln!("database {url}: applied {n} migrations; it is up to date"),
    }
    Ok(exit::OK)
}
