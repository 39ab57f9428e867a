//! Command-line definitions (clap). The contract is `../shared/spec/interface.md`: keep the
//! names, flags and output streams stable; scripts and the systemd unit rely on them.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

use crate::telemetry::LogFormat;

const AFTER_HELP: &str = "\
Configuration: --config, else $FEEDSMITH_CONFIG, else ./config/feedsmith.toml, else
/etc/feedsmith/feedsmith.toml. Any setting can be overridden with FEEDSMITH__SECTION__KEY
(e.g. FEEDSMITH__DATABASE__URL=sqlite:///var/lib/feedsmith/feedsmith.db); --database-url beats both.

Exit codes: 0 success, 1 fatal runtime error (database, I/O), 2 usage or configuration error,
3 `fetch` finished but some feeds failed (everything else was stored), 4 `fetch` finished and
every feed failed, 130 / 143 `fetch` stopped by SIGINT / SIGTERM (the polls in flight finished
within [schedule].shutdown_grace and were stored).

Logs and progress go to stderr; machine output (--json, `posts show`) goes to stdout.
Logging: feedsmith's own events at INFO and its libraries' at WARN; -v adds feedsmith's DEBUG
(requests, validators, redirects, timings), -vv TRACE, -q errors only; RUST_LOG overrides all.
NO_COLOR (or output that is not a terminal) turns colour off.";

/// feedsmith polls RSS, Atom and JSON feeds and stores every entry as a Jekyll post
/// (YAML front matter + markdown) in SQLite or PostgreSQL, for downstream publishing.
#[derive(Debug, Parser)]
#[command(
    name = "feedsmith",
    version,
    about,
    long_about = None,
    after_help = AFTER_HELP,
    next_help_heading = "Global options"
)]
pub struct Cli {
    /// Configuration file (TOML).
    #[arg(long, global = true, env = "FEEDSMITH_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB. Beats the file and the environment.
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,

    /// Log format: `pretty` for terminals, `json` for services and log collectors.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,

    /// More log detail: -v shows feedsmith's DEBUG events, -vv its TRACE events.
    #[arg(short, long, global = true, action = ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Errors only: no INFO or WARN log lines.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Poll every configured feed (or the named ones) once, store the posts, exit.
    ///
    /// Prints a progress bar on a terminal (feeds done, in flight, the host they wait on, ETA),
    /// then the failures, each once, and a one-line summary. Exit code 3 when some feeds failed
    /// (the others are stored regardless), 4 when every feed failed.
    Fetch(FetchArgs),
    /// The daemon: poll every feed on its cron schedule and serve the HTTP endpoints on
    /// [server].listen, until SIGTERM/SIGINT. SIGHUP reloads the configuration.
    ///
    /// Endpoints: /healthz (alive), /readyz (database and scheduler ready), /metrics
    /// (Prometheus), /api/feeds (each feed's status), /api/posts and /api/posts/{id} (stored
    /// posts as JSON), /feed.xml (an Atom feed of the newest posts).
    ///
    /// Speaks systemd's notify protocol (READY, WATCHDOG, RELOADING, STOPPING) when started by
    /// systemd; use --log-format json under a service manager.
    Run,
    /// Fetch or read one feed and print the posts it would produce. Stores nothing.
    ///
    /// Useful to try a feed before adding it, or to see why one fails.
    Inspect(InspectArgs),
    /// Write the stored posts as Jekyll files (`_<collection>/<date>-<slug>.md`) into a directory.
    ///
    /// Incremental and safe: unchanged files are not rewritten, files feedsmith did not write (or
    /// that were edited since) are skipped unless --force, nothing is deleted unless --prune.
    Export(ExportArgs),
    /// The configured feeds: status, OPML import and export.
    #[command(subcommand)]
    Feeds(FeedsCommand),
    /// List or show stored posts.
    #[command(subcommand)]
    Posts(PostsCommand),
    /// The hosts the feeds live on: limits, pauses (429, Retry-After, block pages), deferred
    /// and failing feeds.
    #[command(subcommand)]
    Hosts(HostsCommand),
    /// Configuration helpers.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Ask a running daemon whether it is healthy (for Docker's HEALTHCHECK: no curl needed).
    ///
    /// GETs /readyz (or /healthz with --live) on [server].listen; exit 0 when it answers 200,
    /// 1 otherwise.
    Healthcheck(HealthcheckArgs),
    /// Apply database migrations and exit (`fetch` and `run` also migrate on start).
    Migrate,
    /// The configured webhooks and their deliveries (docs/events.md).
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
    /// The stored events (the outbox), oldest first: post.created, post.updated,
    /// post.withdrawn, feed.failing, feed.recovered, feed.blocked, feed.gone, feed.stale.
    ///
    /// Page with --after (the id of the last event seen), like /api/events?after=ID.
    Events {
        /// Only events with an id above this.
        #[arg(long, value_name = "ID", default_value_t = 0)]
        after: i64,
        /// At most this many.
        #[arg(long, value_name = "N", default_value_t = 100)]
        limit: i64,
        /// One JSON array on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Normalize the stored entries again with the current configuration (rules, taxonomy,
    /// max_tags, collections, normalization code), posts and skipped entries alike.
    ///
    /// Posts are updated in place (their paths kept unless a rule routes them to another
    /// collection), posts now dropped are withdrawn with the reason, entries skipped before and
    /// allowed now are published. With [publish].dir set the changes are exported. A second run
    /// with nothing changed writes nothing. In a cluster it takes each feed's lease, so it never
    /// races a poll.
    Reprocess(ReprocessArgs),
    /// Entry rules ([[rules]], [[feeds.rules]]): try them on what is stored.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Print a shell completion script on stdout.
    ///
    /// bash: `feedsmith completions bash > /etc/bash_completion.d/feedsmith`;
    /// zsh: `feedsmith completions zsh > "${fpath[1]}/_feedsmith"`;
    /// fish: `feedsmith completions fish > ~/.config/fish/completions/feedsmith.fish`.
    Completions {
        /// The shell to generate for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout: `feedsmith man | man -l -`, or install it with
    /// `feedsmith man > /usr/local/share/man/man1/feedsmith.1`.
    Man,
}

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Each webhook with its deliveries pending, delivered and dead (after max_attempts).
    List {
        /// The dead-lettered deliveries themselves: event, attempts, last error.
        #[arg(long)]
        dead: bool,
        /// One JSON array on stdout.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Only this feed (its configured name or URL); repeat for several.
    #[arg(long = "feed", value_name = "NAME_OR_URL")]
    pub feeds: Vec<String>,
    /// Print each feed's report as one JSON array on stdout.
    #[arg(long)]
    pub json: bool,
    /// Wait at most this long for linked pages (full content) after the polls, e.g. `3s`,
    /// `2m`; `0` does not wait. What is left stays queued for the next run. Default:
    /// [articles].fetch_deadline (30s).
    #[arg(long, value_name = "DURATION", value_parser = parse_wait)]
    pub articles_wait: Option<std::time::Duration>,
}

/// `--articles-wait` that is not a duration (clap prints it after the flag's name).
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not a duration; expected e.g. \"3s\", \"2m\" or \"0\"")]
pub struct NotADuration(String);

fn parse_wait(s: &str) -> Result<std::time::Duration, NotADuration> {
    crate::units::parse_duration(s).ok_or_else(|| NotADuration(s.to_string()))
}

#[derive(Debug, Args)]
pub struct ReprocessArgs {
    /// Only this feed (its configured name or URL).
    #[arg(long, value_name = "NAME_OR_URL")]
    pub feed: Option<String>,
    /// Only entries dated on or after this date (YYYY-MM-DD or RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Print what would change (new / changed / withdrawn / moved) and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// When exporting to [publish].dir, delete the files of withdrawn posts and the old files
    /// of moved ones (export --prune over every stored post).
    #[arg(long)]
    pub prune: bool,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// A dry run of the current rules over everything stored, posts and skipped entries alike:
    /// per rule, its matches and how many posts would be published, dropped, retagged or
    /// moved, then up to 20 example titles per change. Writes nothing; `reprocess` would do
    /// exactly this.
    Test(RulesTestArgs),
}

#[derive(Debug, Args)]
pub struct RulesTestArgs {
    /// Only this feed (its configured name or URL).
    #[arg(long, value_name = "NAME_OR_URL")]
    pub feed: Option<String>,
    /// Only entries dated on or after this date (YYYY-MM-DD or RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// `{"rules": [{"name", "matches", "published", "dropped", "retagged", "moved"}],
    /// "examples": {...}, "summary": {...}}` on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The Jekyll site's source directory (created if missing). Defaults to [publish].dir.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Only posts dated on or after this date (YYYY-MM-DD or RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Only posts of this collection.
    #[arg(long, value_name = "NAME")]
    pub collection: Option<String>,
    /// Overwrite files feedsmith did not write or that were edited since.
    #[arg(long)]
    pub force: bool,
    /// Delete files feedsmith wrote earlier for posts that are no longer stored.
    #[arg(long)]
    pub prune: bool,
}

#[derive(Debug, Subcommand)]
pub enum HostsCommand {
    /// Each host: its [[hosts]] rule (interval, burst, concurrency), its feeds and how many
    /// were deferred or failed, and its pause (until when, why) as stored in the database, so
    /// every process and replica sees the same.
    List {
        /// One JSON array on stdout.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum FeedsCommand {
    /// Each configured feed's status: last poll, outcome, error, posts, next due time, health
    /// (ok, failing, blocked, gone, stale).
    List {
        /// One JSON array on stdout.
        #[arg(long)]
        json: bool,
        /// Only the feeds whose health is not ok (failing, blocked, gone or stale).
        #[arg(long)]
        unhealthy: bool,
    },
    /// Print `[[feeds]]` TOML tables for the outlines of an OPML file (or append them to the
    /// configuration file with --write). The configuration file stays the source of truth.
    Import {
        /// The OPML file (a subscription list exported by another reader).
        #[arg(value_name = "FILE.opml")]
        file: PathBuf,
        /// Append the new feeds to the configuration file instead of printing them.
        #[arg(long)]
        write: bool,
        /// Collection for the imported feeds.
        #[arg(long, default_value = "blogs")]
        collection: String,
    },
    /// Print the configured feeds as OPML.
    Export {
        /// Keep credentials and tokens in the URLs (to move subscriptions to another
        /// installation); by default they are redacted.
        #[arg(long)]
        include_secrets: bool,
    },
    /// Add a `[[feeds]]` table to the configuration file (comments and layout are kept).
    ///
    /// Fetches the URL once first and refuses what is not a feed; an HTML page is followed to
    /// its feed link (autodiscovery). Prints the table it wrote.
    Add {
        /// The feed's URL (http or https), or a page that links to its feed.
        url: String,
        /// Name shown in `feed_name` and the footer; defaults to the feed's title (else the
        /// URL's host).
        #[arg(long)]
        name: Option<String>,
        /// Do not fetch the URL first (for a feed that is down now, or a machine offline).
        #[arg(long)]
        no_check: bool,
        /// Collection (output folder `_<collection>`).
        #[arg(long, default_value = "blogs")]
        collection: String,
        /// A front-matter category; repeat for several.
        #[arg(long = "category")]
        categories: Vec<String>,
    },
    /// Remove a feed's `[[feeds]]` table from the configuration file (its stored posts stay).
    Remove {
        /// The feed's URL, or its name when only one feed has it.
        #[arg(value_name = "NAME_OR_URL")]
        feed: String,
    },
}

#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// Check liveness (/healthz) instead of readiness (/readyz).
    #[arg(long)]
    pub live: bool,
    /// Base URL of the daemon; defaults to [server].listen (0.0.0.0 becomes 127.0.0.1).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A feed URL (http/https) or a local file.
    #[arg(value_name = "URL_OR_FILE")]
    pub source: String,
    /// Print the posts as one JSON array (fields, path, permalink and the rendered file).
    #[arg(long)]
    pub json: bool,
    /// Collection to normalize for (as a `[[feeds]]` table's `collection`). Defaults to the
    /// configured feed with this URL, else `blogs`.
    #[arg(long)]
    pub collection: Option<String>,
    /// The feed URL to write as `feed_url` (and to match a configured feed by). Defaults to the
    /// URL inspected, or `file://` and the absolute path of a local file.
    #[arg(long, value_name = "URL")]
    pub feed_url: Option<String>,
    /// Feed name to use in `feed_name` and the footer. Defaults to the configured feed's name,
    /// else the feed's own title.
    #[arg(long)]
    pub name: Option<String>,
    /// Instead of the files, show per post where each tag came from: the taxonomy rules (terms)
    /// that matched, in the title or how often in the body, each tag's score against the length
    /// threshold, and the candidates left out (with --json: an `explain` object per post).
    #[arg(long)]
    pub explain: bool,
    /// Fetch each entry's linked page and use its main content (readability, the feed's
    /// `content_selector`, or Reddit's JSON form), as `fetch` does for teaser entries; prints the
    /// plain-text length before and after per entry on stderr. Nothing is cached or stored.
    #[arg(long)]
    pub full_content: bool,
}

#[derive(Debug, Subcommand)]
pub enum PostsCommand {
    /// List stored posts, newest first.
    List(PostsListArgs),
    /// Print one post exactly as its published file will contain it.
    Show {
        /// The post's numeric id, its canonical URL, or its path as `posts list` prints it
        /// (`_<collection>/<date>-<slug>.md`).
        #[arg(value_name = "ID_URL_OR_PATH")]
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct PostsListArgs {
    /// Only posts of this feed (configured name or URL).
    #[arg(long)]
    pub feed: Option<String>,
    /// Only posts dated on or after this date (YYYY-MM-DD or RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// At most N posts.
    #[arg(long, value_name = "N")]
    pub limit: Option<i64>,
    /// One JSON array on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Load and validate the configuration, print the effective settings (TOML) on stdout.
    Check,
}
