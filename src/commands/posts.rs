//! `feedsmith posts list|show`: read stored posts.

use crate::app::App;
use crate::cli::PostsListArgs;
use crate::config::Settings;
use crate::error::{CommandError, Exit};
use crate::normalize::{format_date, render_post};
use crate::publish::formats::post_json;
use crate::store::PostFilter;

pub async fn list(settings: Settings, args: &PostsListArgs) -> Result<Exit, CommandError> {
    let since = args.since.as_deref().map(super::parse_since).transpose()?;
    if args.limit.is_some_and(|l| l < 0) {
        return Err(CommandError::Usage("--limit must be 0 or more".into()));
    }
    super::require_existing_database(&settings)?;
    let app = App::build(settings).await?;
    let filter = PostFilter {
        feed: args.feed.clone(),
        collection: None,
        since,
        limit: args.limit,
        before: None,
    };
    // A damaged file: show what can still be read, then fail with SQLite's words, the path and
    // the way to recover (exit 1), rather than show nothing.
    let (posts, damaged) = super::posts_or_salvage(app.store.as_ref(), &filter).await?;
    if args.json {
        let items: Vec<serde_json::Value> = posts
            .iter()
            .map(|p| post_json(p, &app.render.permalink))
            .collect();
        let text = serde_json::to_string_pretty(&items)
            .map_err(|e| CommandError::Runtime(e.to_string()))?;
        crate::outln!("{text}")?;
    } else {
        for p in &posts {
            crate::outln!("{:>6}  {}  {}", p.id, format_date(&p.post.date), p.path)?;
        }
        eprintln!("{} posts", posts.len());
    }
    if let Some((message, lost)) = damaged {
        return Err(CommandError::Runtime(format!(
            "{message}\n  (the database is damaged: the {} posts above could be read, {lost} could not)",
            posts.len()
        )));
    }
    Ok(Exit::Ok)
}

pub async fn show(settings: Settings, id: &str) -> Result<Exit, CommandError> {
    super::require_existing_database(&settings)?;
    let app = App::build(settings).await?;
    match app.store.find_post(id).await? {
        Some(p) => {
            crate::out!("{}", render_post(&p.post, &app.render))?;
            Ok(Exit::Ok)
        }
        // Not a usage error (exit 2): the command line was fine, the post is not there (exit 1).
        None => Err(CommandError::Runtime(format!(
            "no post with id or URL {id:?}; `feedsmith posts list` shows the stored posts"
        ))),
    }
}
