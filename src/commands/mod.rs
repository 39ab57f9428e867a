//! One file per subcommand. Each returns an exit code or a [`CommandError`]; `dispatch` prints
//! the error once, on stderr, and maps it to its exit code.

use chrono::{DateTime, NaiveDate, Utc};

use crate::cli::{Cli, Command, ConfigCommand, FeedsCommand, PostsCommand};
use crate::config::{self, Settings};
use crate::error::{exit, CommandError};

pub mod config_check;
pub mod export;
pub mod feeds;
pub mod fetch;
pub mod generate;
pub mod healthcheck;
pub mod inspect;
pub mod migrate;
pub mod out;
pub mod posts;
pub mod run;

/// Run the command line's command; returns the process exit code.
pub async fn dispatch(cli: Cli) -> u8 {
    match run(cli).await {
        Ok(code) => code,
        Err(CommandError::BrokenPipe) => exit::OK,
        Err(e) => {
            eprintln!("error: {}", crate::redact::redact_text(&e.to_string()));
            e.exit_code()
        }
    }
}

async fn run(cli: Cli) -> Result<u8, CommandError> {
    let settings = || load_settings(&cli);
    match &cli.command {
        Command::Fetch(args) => fetch::run(settings()?, args).await,
        Command::Run => {
            let source = crate::scheduler::ConfigSource {
                path: cli.config.clone(),
                database_url: cli.database_url.clone(),
            };
            run::run(settings()?, source).await
        }
        Command::Inspect(args) => inspect::run(settings()?, args).await,
        Command::Posts(PostsCommand::List(args)) => posts::list(settings()?, args).await,
        Command::Posts(PostsCommand::Show { id }) => posts::show(settings()?, id).await,
        Command::Config(ConfigCommand::Check) => config_check::run(settings()?),
        Command::Export(args) => export::run(settings()?, args).await,
        Command::Feeds(FeedsCommand::List { json }) => feeds::list(settings()?, *json).await,
        Command::Feeds(FeedsCommand::Import {
            file,
            write,
            collection,
        }) => feeds::import(settings()?, file, *write, collection),
        Command::Feeds(FeedsCommand::Export { include_secrets }) => {
            feeds::export(settings()?, *include_secrets)
        }
        Command::Feeds(FeedsCommand::Add {
            url,
            name,
            collection,
            categories,
            no_check,
        }) => {
            feeds::add(
                settings()?,
                url,
                name.as_deref(),
                collection,
                categories,
                *no_check,
            )
            .await
        }
        Command::Feeds(FeedsCommand::Remove { feed }) => feeds::remove(settings()?, feed),
        Command::Healthcheck(args) => healthcheck::run(settings()?, args).await,
        Command::Migrate => migrate::run(settings()?).await,
        Command::Completions { shell } => generate::completions(*shell),
        Command::Man => generate::man(),
    }
}

/// For the commands that only read (`posts`, `feeds list`, `export`): a SQLite database that
/// does not exist yet is an error, not a new empty file. Opening would create it and answer
/// "0 posts", which hides a wrong directory or `--database-url`.
pub fn require_existing_database(settings: &Settings) -> Result<(), CommandError> {
    use std::str::FromStr;
    let url = settings.database.url.as_str();
    if !url.starts_with("sqlite:") {
        return Ok(());
    }
    let Ok(options) = sqlx::sqlite::SqliteConnectOptions::from_str(url) else {
        return Ok(()); // opening reports the bad URL with its own message
    };
    let path = options.get_filename();
    let name = path.to_string_lossy();
    if name.is_empty() || name == ":memory:" || path.exists() {
        return Ok(());
    }
    Err(CommandError::Runtime(format!(
        "no database at {}; run `feedsmith fetch` first, or point --database-url / [database].url at the existing one",
        path.display()
    )))
}

/// Settings from the located file, the environment and `--database-url`.
pub fn load_settings(cli: &Cli) -> Result<Settings, CommandError> {
    let path = config::locate(cli.config.as_deref())?;
    if path.is_none() {
        tracing::debug!(
            "no configuration file found; using built-in defaults and FEEDSMITH__ variables"
        );
    }
    Ok(config::load(path.as_deref(), cli.database_url.as_deref())?)
}

/// `--since` accepts a day (`2025-08-01`, midnight UTC) or an RFC 3339 time.
pub fn parse_since(s: &str) -> Result<DateTime<Utc>, CommandError> {
    if let Ok(d) = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc());
        }
    }
    DateTime::parse_from_rfc3339(s.trim())
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| {
            CommandError::Usage(format!(
                "--since {s:?}: expected a date like 2025-08-01 or 2025-08-01T12:00:00Z"
            ))
        })
}
