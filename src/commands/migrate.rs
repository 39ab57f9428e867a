//! `feedsmith migrate`: apply the embedded migrations and exit.

use crate::config::Settings;
use crate::error::{CommandError, Exit};

pub async fn run(settings: Settings) -> Result<Exit, CommandError> {
    let url = crate::redact::RedactedUrl::new(&settings.database.url);
    let (store, applied) = crate::store::connect_migrating(&settings.database).await?;
    store.close().await;
    match applied {
        0 => eprintln!("database {url} is up to date (no migration to apply)"),
        1 => eprintln!("database {url}: applied 1 migration; it is up to date"),
        n => eprintln!("database {url}: applied {n} migrations; it is up to date"),
    }
    Ok(Exit::Ok)
}
