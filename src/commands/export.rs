//! `feedsmith export --out DIR`: the Jekyll files of the stored posts.

use crate::app::App;
use crate::cli::ExportArgs;
use crate::config::Settings;
use crate::error::{exit, CommandError};
use crate::publish::{self, ExportOptions};
use crate::store::PostFilter;

pub async fn run(settings: Settings, args: &ExportArgs) -> Result<u8, CommandError> {
    let since = args.since.as_deref().map(super::parse_since).transpose()?;
    if args.prune && (since.is_some() || args.collection.is_some()) {
        return Err(CommandError::Usage(
            "--prune needs the whole set of posts; do not combine it with --since or --collection"
                .into(),
        ));
    }
    // The directory: --out, else [publish].dir (the site continuous publishing writes to).
    let out = match (&args.out, &settings.publish.dir) {
        (Some(out), _) => out.clone(),
        (None, Some(dir)) => dir.clone(),
        (None, None) => return Err(CommandError::Usage(
            "export needs a directory: pass --out DIR, or set [publish].dir in the configuration"
                .into(),
        )),
    };
    if out.exists() && !out.is_dir() {
        return Err(CommandError::Usage(format!(
            "{} is a file; export writes a Jekyll site: pass its directory with --out DIR (created if missing)",
            out.display()
        )));
    }
    super::require_existing_database(&settings)?;
    let app = App::build(settings).await?;
    let filter = PostFilter {
        since,
        collection: args.collection.clone(),
        ..PostFilter::default()
    };
    // A damaged file: export what can still be read, never prune on that partial set (it would
    // delete the files of the posts that could not be read), then fail with the error (exit 1).
    let (posts, damaged) = super::posts_or_salvage(app.store.as_ref(), &filter).await?;
    let options = ExportOptions {
        force: args.force,
        prune: args.prune && damaged.is_none(),
    };
    let render = app.render.clone();
    let report =
        tokio::task::spawn_blocking(move || publish::export(&out, &posts, &render, options))
            .await
            .map_err(|e| CommandError::Runtime(e.to_string()))?
            .map_err(|e| CommandError::Runtime(e.to_string()))?;
    eprintln!("{report}");
    if let Some((message, lost)) = damaged {
        return Err(CommandError::Runtime(format!(
            "{message}\n  (the database is damaged: the posts that could be read were exported, {lost} could not be{})",
            if args.prune { "; nothing was pruned" } else { "" }
        )));
    }
    Ok(exit::OK)
}
