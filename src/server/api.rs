//! The read API over stored posts: `/api/posts` (filters, keyset pagination), `/api/posts/{id}`
//! and `/feed.xml`, an Atom feed of the newest posts across all feeds. Read-only.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use crate::normalize::{render_post, safe_link};
use crate::publish::formats::{post_json, xml_escape};
use crate::scheduler::Daemon;
use crate::store::{PostFilter, StoredPost};

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 500;

#[derive(Debug, Deserialize)]
pub struct PostsQuery {
    feed: Option<String>,
    collection: Option<String>,
    since: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}

fn unavailable(e: impl std::fmt::Display) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "error": e.to_string() })),
    )
        .into_response()
}

/// Cursor: `<unix seconds>.<id>` of the last item of the previous page.
fn encode_cursor(p: &StoredPost) -> String {
    format!("{}.{}", p.post.date.timestamp(), p.id)
}

fn decode_cursor(s: &str) -> Option<(DateTime<Utc>, i64)> {
    let (ts, id) = s.split_once('.')?;
    Some((
        DateTime::from_timestamp(ts.parse().ok()?, 0)?,
        id.parse().ok()?,
    ))
}

/// `GET /api/posts?feed=&collection=&since=&limit=&cursor=`, newest first:
/// `{"items": [...], "next_cursor": "..." | null}`.
pub async fn posts(State(d): State<Arc<Daemon>>, Query(q): Query<PostsQuery>) -> Response {
    let since = match q
        .since
        .as_deref()
        .map(crate::commands::parse_since)
        .transpose()
    {
        Ok(s) => s,
        Err(e) => return bad_request(e.to_string()),
    };
    let before = match q
        .cursor
        .as_deref()
        .map(|c| decode_cursor(c).ok_or(c))
        .transpose()
    {
        Ok(b) => b,
        Err(c) => {
            return bad_request(format!(
                "invalid cursor {c:?}; pass the next_cursor of the previous page"
            ))
        }
    };
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return bad_request(format!("limit must be from 1 to {MAX_LIMIT}"));
    }
    let app = d.app();
    let filter = PostFilter {
        feed: q.feed,
        collection: q.collection,
        since,
        limit: Some(limit),
        before,
    };
    match app.store.list_posts(&filter).await {
        Ok(list) => {
            let next = (list.len() as i64 == limit)
                .then(|| list.last().map(encode_cursor))
                .flatten();
            let items: Vec<serde_json::Value> = list
                .iter()
                .map(|p| post_json(p, &app.render.permalink))
                .collect();
            Json(json!({ "items": items, "next_cursor": next })).into_response()
        }
        Err(e) => unavailable(e),
    }
}

/// `GET /api/posts/{id}`: the fields, the markdown content and the rendered file.
pub async fn post(State(d): State<Arc<Daemon>>, Path(id): Path<String>) -> Response {
    let Ok(numeric) = id.parse::<i64>() else {
        return bad_request(format!("post id {id:?} is not a number"));
    };
    let app = d.app();
    match app.store.find_post(&numeric.to_string()).await {
        Ok(Some(p)) => {
            let mut body = post_json(&p, &app.render.permalink);
            body["excerpt"] = json!(p.post.excerpt);
            body["markdown"] = json!(p.post.content_markdown);
            body["file"] = json!(render_post(&p.post, &app.render));
            Json(body).into_response()
        }
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("no post {numeric}") })),
        )
            .into_response(),
        Err(e) => unavailable(e),
    }
}

/// Render an Atom 1.0 document of `posts`; `self_url` is where it is served.
pub fn atom(posts: &[StoredPost], self_url: &str) -> String {
    let updated = posts
        .iter()
        .map(|p| p.updated_at)
        .max()
        .unwrap_or_else(Utc::now);
    let mut s = String::with_capacity(1024 + posts.len() * 1024);
    s.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    s.push_str("  <title>feedsmith: newest posts</title>\n");
    s.push_str(&format!("  <id>{}</id>\n", xml_escape(self_url)));
    s.push_str(&format!(
        "  <link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>\n",
        xml_escape(self_url)
    ));
    s.push_str(&format!("  <updated>{}</updated>\n", updated.to_rfc3339()));
    s.push_str("  <generator>feedsmith</generator>\n");
    for p in posts {
        let post = &p.post;
        s.push_str("  <entry>\n");
        // Only an absolute http(s) link is published (src/normalize/render.rs); a post stored
        // with another gets a stable tag URI as its id and no link.
        let link = safe_link(&post.canonical_url);
        let id = link
            .clone()
            .unwrap_or_else(|| format!("tag:feedsmith,2025:post-{}", p.id));
        s.push_str(&format!("    <id>{}</id>\n", xml_escape(&id)));
        s.push_str(&format!("    <title>{}</title>\n", xml_escape(&post.title)));
        if let Some(link) = &link {
            s.push_str(&format!(
                "    <link rel=\"alternate\" href=\"{}\"/>\n",
                xml_escape(link)
            ));
        }
        s.push_str(&format!(
            "    <published>{}</published>\n",
            post.date.to_rfc3339()
        ));
        s.push_str(&format!(
            "    <updated>{}</updated>\n",
            p.updated_at.to_rfc3339()
        ));
        s.push_str(&format!(
            "    <author><name>{}</name></author>\n",
            xml_escape(&post.author)
        ));
        s.push_str(&format!(
            "    <source><title>{}</title></source>\n",
            xml_escape(&post.feed_name)
        ));
        for tag in &post.tags {
            s.push_str(&format!("    <category term=\"{}\"/>\n", xml_escape(tag)));
        }
        s.push_str(&format!(
            "    <summary>{}</summary>\n",
            xml_escape(&post.description)
        ));
        s.push_str(&format!(
            "    <content type=\"html\">{}</content>\n",
            xml_escape(&crate::publish::formats::content_html(
                &post.content_markdown
            ))
        ));
        s.push_str("  </entry>\n");
    }
    s.push_str("</feed>\n");
    s
}

/// `GET /feed.xml`: the newest 50 posts across all feeds, as Atom. Its id and self link come
/// from `[server] public_url`, never from the request's `Host` header (which the client
/// chooses: a reflected host poisons caches and feed readers).
pub async fn atom_feed(State(d): State<Arc<Daemon>>) -> Response {
    let app = d.app();
    let filter = PostFilter {
        limit: Some(DEFAULT_LIMIT),
        ..PostFilter::default()
    };
    let self_url = match &app.settings.server.public_url {
        Some(base) => format!("{base}/feed.xml"),
        None => format!("http://{}/feed.xml", app.settings.server.listen),
    };
    match app.store.list_posts(&filter).await {
        Ok(list) => (
            [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
            atom(&list, &self_url),
        )
            .into_response(),
        Err(e) => unavailable(e),
    }
}
