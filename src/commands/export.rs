//! `feedsmith export --out DIR`: the Jekyll files of the stored posts.

use crate::app::App;
use crate::cli::ExportArgs;
use crate::config::Settings;
use crate::error::{CommandError, Exit};
use crate::publish::{self, ExportOptions};
use crate::store::PostFilter;

pub async fn run(settings: Settings, args: &ExportArgs) -> Result<Exit, CommandError> {
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
    // `[publish] git` commits exports into [publish].dir, the directory it was checked for.
    let into_site = app
        .settings
        .publish
        .dir
        .as_deref()
        .is_some_and(|d| same_dir(d, &out));
    let report =
        tokio::task::spawn_blocking(move || publish::export(&out, &posts, &render, options))
            .await
            .map_err(|e| CommandError::Runtime(e.to_string()))?
            .map_err(|e| CommandError::Runtime(e.to_string()))?;
    eprintln!("{report}");
    if into_site {
        app.git.mark(&report);
        if git_commit(&app).await {
            return Err(CommandError::Runtime(
                "the files were exported, but committing them into git failed (see above)".into(),
            ));
        }
    }
    if let Some((message, lost)) = damaged {
        return Err(CommandError::Runtime(format!(
            "{message}\n  (the database is damaged: the posts that could be read were exported, {lost} could not be{})",
            if args.prune { "; nothing was pruned" } else { "" }
        )));
    }
    Ok(Exit::Ok)
}

/// Whether two paths name the same directory (either may not exist yet).
fn same_dir(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// `[publish] git = true`: commit (and push) what the exports into `[publish].dir` wrote, under
/// the `publish` lease. True when it failed (logged here), for the exit code.
pub(crate) async fn git_commit(app: &App) -> bool {
    let (Some(git), Some(dir)) = (&app.settings.publish.git, &app.settings.publish.dir) else {
        return false;
    };
    match publish::git::commit_step(app.store.as_ref(), dir, git, &app.git).await {
        Ok(Some(report)) if report.commit.is_some() => {
            eprintln!(
                "git: {}{}",
                report.subject,
                if report.pushed { " (pushed)" } else { "" }
            );
            false
        }
        Ok(_) => false,
        Err(e) => {
            tracing::error!("git publishing failed: {e}");
            true
        }
    }
}
