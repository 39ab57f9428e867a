//! The one wiring function: settings -> store, HTTP client, render options. Used by every
//! command and by the integration tests, so what the tests run is what users run.

use std::sync::Arc;

use crate::article::ArticleService;
use crate::config::Settings;
use crate::fetch::Fetcher;
use crate::metrics::Metrics;
use crate::normalize::RenderOptions;
use crate::store::{self, Store, StoreError};

pub struct App {
    pub settings: Settings,
    pub store: Arc<dyn Store>,
    pub fetcher: Fetcher,
    pub render: RenderOptions,
    pub metrics: Arc<Metrics>,
    /// The article step (full content), with its own HTTP limits.
    pub articles: Arc<ArticleService>,
    /// The optional language-model step (`[enrich] endpoint`), with its own HTTP client, budget
    /// and concurrency; `None` when off.
    pub model: Option<Arc<crate::enrich::ModelClient>>,
    /// Exports waiting for their git commit (`[publish] git = true`, src/publish/git.rs).
    pub git: Arc<crate::publish::git::GitQueue>,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

impl App {
    /// Open (and migrate) the database and build the HTTP client.
    pub async fn build(settings: Settings) -> Result<App, AppError> {
        let store = store::connect(&settings.database).await?;
        let fetcher = Fetcher::new(&settings.http)?;
        let render = render_options(&settings);
        let articles = Arc::new(ArticleService::new(
            &settings.articles,
            &settings.http,
            Arc::clone(&store),
            false,
        )?);
        let model = crate::enrich::ModelClient::reuse_or_build(
            None,
            settings.enrich.model.as_ref(),
            &settings.http.user_agent,
        )?;
        articles.set_model(model.clone(), settings.enrich.max_tags);
        Ok(App {
            settings,
            store,
            fetcher,
            render,
            metrics: Arc::new(Metrics::default()),
            articles,
            model,
            git: crate::publish::git::GitQueue::new(),
        })
    }
}

pub fn render_options(settings: &Settings) -> RenderOptions {
    RenderOptions {
        permalink: settings.publish.permalink.clone(),
        video_embed: settings.publish.video_embed,
    }
}
