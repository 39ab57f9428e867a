//! One file per subcommand. Each returns an [`Exit`] or a [`CommandError`]; `dispatch` prints
//! the error once, on stderr, and maps it to its [`Exit`].

use chrono::{DateTime, Utc};

use crate::cli::{
    Cli, Command, ConfigCommand, FeedsCommand, HostsCommand, PostsCommand, RulesCommand,
    WebhooksCommand,
};
use crate::config::{self, Settings};
use crate::error::{CommandError, Exit};

pub mod config_check;
pub mod export;
pub mod feeds;
pub mod fetch;
pub mod generate;
pub mod healthcheck;
pub mod hosts;
pub mod inspect;
pub mod migrate;
pub mod out;
pub mod posts;
pub mod reprocess;
pub mod rules;
pub mod run;
pub mod webhooks;

/// Run the command line's command; returns how the process ends.
pub async fn dispatch(cli: Cli) -> Exit {
    match run(cli).await {
        Ok(exit) => exit,
        Err(CommandError::BrokenPipe) => Exit::Ok,
        Err(e) => {
            eprintln!("error: {}", crate::redact::redact_text(&e.to_string()));
            e.exit()
        }
    }
}

async fn run(cli: Cli) -> Result<Exit, CommandError> {
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
        Command::Feeds(FeedsCommand::List { json, unhealthy }) => {
            feeds::list(settings()?, *json, *unhealthy).await
        }
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
        Command::Hosts(HostsCommand::List { json }) => hosts::list(settings()?, *json).await,
        Command::Healthcheck(args) => healthcheck::run(settings()?, args).await,
        Command::Migrate => migrate::run(settings()?).await,
        Command::Webhooks(WebhooksCommand::List { dead, json }) => {
            webhooks::list(settings()?, *dead, *json).await
        }
        Command::Events { after, limit, json } => {
            webhooks::events(settings()?, *after, *limit, *json).await
        }
        Command::Reprocess(args) => reprocess::run(settings()?, args).await,
        Command::Rules(RulesCommand::Test(args)) => rules::test(settings()?, args).await,
        Command::Completions { shell } => generate::completions(*shell),
        Command::Man => generate::man(),
    }
}

/// For the commands that only read (`posts`, `feeds list`, `export`): a SQLite database that
/// does not exist yet is an error, not a new empty file. Opening would create it and answer
/// "0 posts", which hides a wrong directory or `--database-url`.
pub fn require_existing_database(settings: &Settings) -> Result<(), CommandError> {
    let Some(path) = crate::store::sqlite_path(&settings.database.url) else {
        return Ok(());
    };
    let name = path.to_string_lossy();
    if name.is_empty() || name == ":memory:" || path.exists() {
        return Ok(());
    }
    Err(CommandError::Runtime(format!(
        "no database at {}; run `feedsmith fetch` first, or point --database-url / [database].url at the existing one",
        path.display()
    )))
}

/// The stored posts of `filter`, for the read commands. On a damaged file (SQLite's CORRUPT or
/// NOTADB) they are what can still be read, with the error's message and how many rows were
/// lost, so the command can show them first and fail after.
pub async fn posts_or_salvage(
    store: &dyn crate::store::Store,
    filter: &crate::store::PostFilter,
) -> Result<(Vec<crate::store::StoredPost>, Option<(String, usize)>), CommandError> {
    match store.list_posts(filter).await {
        Ok(posts) => Ok((posts, None)),
        Err(e) if e.is_damaged() => {
            let message = e.to_string();
            let (posts, lost) = store.salvage_posts(filter, e).await?;
            Ok((posts, Some((message, lost))))
        }
        Err(e) => Err(e.into()),
    }
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

/// `--since` for the commands: [`crate::server::parse_since`], a usage error when it fails.
pub fn parse_since(s: &str) -> Result<DateTime<Utc>, CommandError> {
    crate::server::parse_since(s).map_err(|e| CommandError::Usage(format!("--since {e}")))
}
