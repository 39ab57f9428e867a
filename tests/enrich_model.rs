//! The optional language-model step (`[enrich] endpoint`, src/enrich/llm.rs), end to end: the
//! real binary, a loopback feed server and a loopback "model" that speaks the OpenAI
//! chat-completions protocol (valid answers, malformed JSON, schema-invalid answers, 429 with
//! Retry-After, 500, a hang). Whatever the model does, the post is stored; a good answer is
//! applied with the spec's cleaning and cached, so a post is enriched once.

use crate::support::{feed_toml, rss, Reply, TestServer, Workspace};
use serde_json::{json, Value};

const KEY_VAR: &str = "FEEDSMITH_TEST_MODEL_KEY";
const KEY: &str = "sk-test-123";
const MODEL_PATH: &str = "/v1/chat/completions";

fn body_text(topic: &str) -> String {
    format!(
        "Upgrading {topic} clusters safely takes a plan. First drain the nodes one at a time, \
         then upgrade the control plane, and keep an eye on the workloads while you roll forward. \
         Test the rollback before you need it."
    )
}

/// A chat-completions response whose message content is `content`.
fn completion(content: &str) -> Reply {
    let v = json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "test-model",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "finish_reason": "stop",
        }],
    });
    Reply::status(200, &v.to_string()).with_content_type("application/json")
}

fn good_answer() -> Value {
    json!({
        "title": "  \"Kubernetes <b>upgrade</b>\n guide\" ",
        "description": "How to upgrade a cluster\nwithout downtime.",
        "excerpt": "Drain, upgrade, watch <!--excerpt_end--> and roll back if needed.",
        "tags": ["kubernetes", "the", "ci-cd", "Kubernetes", "2025"],
        "body": "A rewritten body: drain the nodes one by one, upgrade the control plane, watch the workloads and test the rollback.",
    })
}

struct Setup {
    feeds: TestServer,
    model: TestServer,
    ws: Workspace,
}

/// A feed with `items` (guid, title) and a model endpoint; `enrich` adds keys to `[enrich]`.
async fn setup(items: &[(&str, &str)], enrich: &str, model_reply: Reply) -> Setup {
    let feeds = TestServer::start().await;
    let bodies: Vec<String> = items.iter().map(|(_, t)| body_text(t)).collect();
    let entries: Vec<(&str, &str, &str)> = items
        .iter()
        .zip(&bodies)
        .map(|((g, t), b)| (*g, *t, b.as_str()))
        .collect();
    feeds.route("/feed.xml", Reply::feed(rss("Ops blog", &entries)));
    let model = TestServer::start().await;
    model.route(MODEL_PATH, model_reply);
    let extra = format!(
        "[enrich]\nendpoint = \"{}\"\nmodel = \"test-model\"\napi_key_env = \"{KEY_VAR}\"\nkeyword_tags = false\n{enrich}\n",
        model.url("/v1")
    );
    let ws = Workspace::new(
        &extra,
        &feed_toml(
            "Ops blog",
            &feeds.url("/feed.xml"),
            "blogs",
            "categories = [\"DevOps\"]",
        ),
    );
    Setup { feeds, model, ws }
}

async fn fetch(ws: &Workspace) -> crate::support::Output {
    let out = ws.run_with_env(&["fetch"], &[(KEY_VAR, KEY)]).await;
    assert_eq!(out.code, 0, "fetch failed: {}", out.stderr);
    out
}

#[derive(Debug)]
struct Row {
    title: String,
    description: String,
    excerpt: String,
    tags: Vec<String>,
    tags_normalized: Vec<String>,
    body: String,
    slug: String,
    hash: String,
}

/// Stored posts by canonical URL.
async fn rows(ws: &Workspace) -> std::collections::BTreeMap<String, Row> {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", ws.db_path().display()))
        .await
        .unwrap();
    #[allow(clippy::type_complexity)]
    let rows: Vec<(
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
    )> = sqlx::query_as(
        "SELECT canonical_url, title, description, excerpt, tags, tags_normalized, \
             content_markdown, slug, content_hash FROM posts",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    rows.into_iter()
        .map(
            |(url, title, description, excerpt, tags, norm, body, slug, hash)| {
                (
                    url,
                    Row {
                        title,
                        description,
                        excerpt,
                        tags: serde_json::from_str(&tags).unwrap(),
                        tags_normalized: serde_json::from_str(&norm).unwrap(),
                        body,
                        slug,
                        hash,
                    },
                )
            },
        )
        .collect()
}

async fn sql(ws: &Workspace, statement: &str) -> i64 {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", ws.db_path().display()))
        .await
        .unwrap();
    let n = if statement.starts_with("SELECT") {
        sqlx::query_scalar(statement)
            .fetch_one(&pool)
            .await
            .unwrap()
    } else {
        sqlx::query(statement)
            .execute(&pool)
            .await
            .unwrap()
            .rows_affected() as i64
    };
    pool.close().await;
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_answer_is_applied_with_the_spec_cleaning_and_cached() {
    let s = setup(
        &[("a1", "Cluster upgrades")],
        "",
        completion(&good_answer().to_string()),
    )
    .await;
    let out = fetch(&s.ws).await;
    let posts = rows(&s.ws).await;
    let p = &posts["http://example.org/a1"];
    assert_eq!(p.title, "Kubernetes upgrade guide", "{}", out.stderr);
    assert_eq!(p.description, "How to upgrade a cluster without downtime.");
    assert_eq!(p.excerpt, "Drain, upgrade, watch and roll back if needed.");
    // Section 5: the post's own tags first, the model's through the same rules (case
    // duplicates, stop words, years dropped; `-` to a space), sorted.
    assert_eq!(p.tags, ["Blogs", "CI CD", "DevOps", "Kubernetes"]);
    assert_eq!(
        p.tags_normalized,
        ["blogs", "ci cd", "devops", "kubernetes"]
    );
    assert!(
        p.body.starts_with("A rewritten body: drain the nodes"),
        "{}",
        p.body
    );
    // The slug and the hash identify the source entry: they do not follow the model.
    assert_eq!(p.slug, "Cluster-upgrades");
    assert!(!p.hash.contains("pending"));

    // The request: bearer key from the variable, the model, JSON mode, the post's text.
    let reqs = s.model.requests(MODEL_PATH);
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(
        reqs[0].headers.get("authorization").map(String::as_str),
        Some("Bearer sk-test-123")
    );
    let sent: Value = serde_json::from_slice(&reqs[0].body).unwrap();
    assert_eq!(sent["model"], "test-model");
    assert_eq!(sent["response_format"]["type"], "json_object");
    assert_eq!(sent["temperature"], 0);
    let user = sent["messages"][1]["content"].as_str().unwrap();
    assert!(
        user.contains("Cluster upgrades") && user.contains("drain the nodes one at a time"),
        "{user}"
    );
    assert_eq!(
        sql(
            &s.ws,
            "SELECT COUNT(*) FROM enrichments WHERE model = 'test-model'"
        )
        .await,
        1
    );

    // Unchanged feed: no new model request.
    fetch(&s.ws).await;
    assert_eq!(s.model.requests(MODEL_PATH).len(), 1);

    // The post normalized again (here: deleted and the document served again with a new
    // ETag) with the same content hash: the cached answer is used, the model is not asked.
    assert_eq!(sql(&s.ws, "DELETE FROM posts").await, 1);
    let items = [("a1", "Cluster upgrades", body_text("Cluster upgrades"))];
    let entries: Vec<(&str, &str, &str)> =
        items.iter().map(|(g, t, b)| (*g, *t, b.as_str())).collect();
    s.feeds.route(
        "/feed.xml",
        Reply::RotatingEtag(rss("Ops blog", &entries).into()),
    );
    fetch(&s.ws).await;
    assert_eq!(s.model.requests(MODEL_PATH).len(), 1);
    let again = rows(&s.ws).await;
    assert_eq!(
        again["http://example.org/a1"].title,
        "Kubernetes upgrade guide"
    );
}

/// Each broken model answer: the post is stored with its deterministic result, the run
/// succeeds, a warning names the reason, and only transient failures are marked for a retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_model_failure_falls_back_to_the_deterministic_post() {
    let mut schema_invalid = good_answer();
    schema_invalid["tags"] = json!([]);
    let mut truncated = good_answer();
    truncated["body"] = json!("Too short.");
    let cases: Vec<(&str, Reply, &str, bool)> = vec![
        (
            "malformed JSON",
            completion("{\"title\": \"Kubernetes"),
            "not a JSON object",
            false,
        ),
        (
            "schema-invalid",
            completion(&schema_invalid.to_string()),
            "expected 1 to 15",
            false,
        ),
        (
            "truncated rewrite",
            completion(&truncated.to_string()),
            "truncated rewrite",
            false,
        ),
        (
            "not a completion",
            Reply::status(200, "<html>proxy error</html>"),
            "not JSON",
            false,
        ),
        ("500", Reply::status(500, "boom"), "HTTP 500", true),
        ("timeout", Reply::Hang, "no answer within", true),
    ];
    for (name, reply, reason, transient) in cases {
        let s = setup(
            &[("b1", "Cluster upgrades")],
            "model_timeout = \"1s\"",
            reply,
        )
        .await;
        let out = fetch(&s.ws).await;
        let posts = rows(&s.ws).await;
        let p = &posts["http://example.org/b1"];
        assert_eq!(p.title, "Cluster upgrades", "{name}");
        assert_eq!(p.body, body_text("Cluster upgrades"), "{name}");
        assert_eq!(p.tags, ["Blogs", "DevOps"], "{name}");
        assert!(
            out.stderr.contains("model step failed") && out.stderr.contains(reason),
            "{name}: {}",
            out.stderr
        );
        assert_eq!(p.hash.ends_with("+model-pending"), transient, "{name}");
        assert_eq!(s.model.requests(MODEL_PATH).len(), 1, "{name}");
        assert_eq!(sql(&s.ws, "SELECT COUNT(*) FROM enrichments").await, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_pauses_the_model_and_the_posts_are_retried_on_a_later_poll() {
    let s = setup(
        &[("c1", "Cluster upgrades"), ("c2", "Node pools")],
        "model_concurrency = 1",
        Reply::status(429, "slow down").with_header("Retry-After", "1"),
    )
    .await;
    let out = fetch(&s.ws).await;
    // The first answer is 429: the second post is not sent while paused.
    assert_eq!(s.model.requests(MODEL_PATH).len(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("HTTP 429"), "{}", out.stderr);
    let posts = rows(&s.ws).await;
    assert_eq!(posts.len(), 2);
    for p in posts.values() {
        assert!(p.hash.ends_with("+model-pending"), "{p:?}");
        assert_eq!(p.tags, ["Blogs", "DevOps"]);
    }
    // The endpoint is a host like any other: its 429 is in the host book, stored.
    let hosts =
        s.ws.run_with_env(&["hosts", "list", "--json"], &[(KEY_VAR, KEY)])
            .await;
    let hosts: Vec<serde_json::Value> = serde_json::from_str(&hosts.stdout).unwrap();
    assert!(
        hosts
            .iter()
            .any(|h| h["host"] == "127.0.0.1" && h["last_throttled_at"].is_string()),
        "{hosts:?}"
    );

    // Later: the model answers and the document is served again (new ETag): both posts are
    // enriched and the marks are gone; the poll after that asks nothing.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    s.model
        .route(MODEL_PATH, completion(&good_answer().to_string()));
    let items = [
        ("c1", "Cluster upgrades", body_text("Cluster upgrades")),
        ("c2", "Node pools", body_text("Node pools")),
    ];
    let entries: Vec<(&str, &str, &str)> =
        items.iter().map(|(g, t, b)| (*g, *t, b.as_str())).collect();
    s.feeds.route(
        "/feed.xml",
        Reply::RotatingEtag(rss("Ops blog", &entries).into()),
    );
    let out = fetch(&s.ws).await;
    assert_eq!(s.model.requests(MODEL_PATH).len(), 3, "{}", out.stderr);
    for p in rows(&s.ws).await.values() {
        assert_eq!(p.title, "Kubernetes upgrade guide");
        assert!(!p.hash.contains("pending"));
    }
    fetch(&s.ws).await;
    assert_eq!(s.model.requests(MODEL_PATH).len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_budget_bounds_the_requests() {
    let s = setup(
        &[("d1", "Cluster upgrades"), ("d2", "Node pools")],
        "daily_budget = 1",
        completion(&good_answer().to_string()),
    )
    .await;
    let out = fetch(&s.ws).await;
    assert_eq!(s.model.requests(MODEL_PATH).len(), 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("daily request budget"),
        "{}",
        out.stderr
    );
    let posts = rows(&s.ws).await;
    let titles: Vec<&str> = posts.values().map(|p| p.title.as_str()).collect();
    assert_eq!(posts.len(), 2);
    assert!(titles.contains(&"Kubernetes upgrade guide"), "{titles:?}");
    assert!(
        titles.contains(&"Cluster upgrades") || titles.contains(&"Node pools"),
        "{titles:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_by_default_on_from_the_environment_and_a_missing_key_is_a_config_error() {
    let model = TestServer::start().await;
    model.route(MODEL_PATH, completion(&good_answer().to_string()));
    let feeds = TestServer::start().await;
    let body = body_text("x");
    feeds.route(
        "/feed.xml",
        Reply::feed(rss(
            "Ops blog",
            &[("e1", "Cluster upgrades", body.as_str())],
        )),
    );
    let feed = feed_toml("Ops blog", &feeds.url("/feed.xml"), "blogs", "");

    // No [enrich] endpoint: no request.
    let off = Workspace::new("", &feed);
    assert_eq!(off.run(&["fetch"]).await.code, 0);
    assert!(model.requests(MODEL_PATH).is_empty());

    // FEEDSMITH__ENRICH__ENDPOINT / __MODEL turn it on; no api_key_env: no Authorization.
    let on = Workspace::new("", &feed);
    let endpoint = model.url("/v1");
    let out = on
        .run_with_env(
            &["fetch"],
            &[
                ("FEEDSMITH__ENRICH__ENDPOINT", endpoint.as_str()),
                ("FEEDSMITH__ENRICH__MODEL", "env-model"),
            ],
        )
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let reqs = model.requests(MODEL_PATH);
    assert_eq!(reqs.len(), 1);
    assert!(!reqs[0].headers.contains_key("authorization"));
    let sent: Value = serde_json::from_slice(&reqs[0].body).unwrap();
    assert_eq!(sent["model"], "env-model");
    assert_eq!(
        rows(&on).await["http://example.org/e1"].title,
        "Kubernetes upgrade guide"
    );

    // api_key_env naming an unset variable: refused at load time, naming the variable.
    let extra = format!(
        "[enrich]\nendpoint = \"{endpoint}\"\nmodel = \"m\"\napi_key_env = \"FEEDSMITH_TEST_UNSET_KEY\"\n"
    );
    let bad = Workspace::new(&extra, &feed);
    let out = bad.run(&["fetch"]).await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("FEEDSMITH_TEST_UNSET_KEY") && out.stderr.contains("api_key_env"),
        "{}",
        out.stderr
    );
    let out = bad
        .run_with_env(
            &["config", "check"],
            &[("FEEDSMITH_TEST_UNSET_KEY", "sk-secret-value")],
        )
        .await;
    assert!(!out.stdout.contains("sk-secret-value") && !out.stderr.contains("sk-secret-value"));
    assert_eq!(model.requests(MODEL_PATH).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_concurrency_bounds_the_requests_in_flight() {
    let slow = |ms| {
        Reply::Slow(
            std::time::Duration::from_millis(ms),
            Box::new(completion(&good_answer().to_string())),
        )
    };
    let items = [("f1", "One"), ("f2", "Two"), ("f3", "Three")];
    // One at a time: each request arrives after the previous answer.
    let s = setup(&items, "model_concurrency = 1", slow(300)).await;
    fetch(&s.ws).await;
    let times = s.model.times(MODEL_PATH);
    assert_eq!(times.len(), 3);
    for w in times.windows(2) {
        assert!(
            w[1] - w[0] >= std::time::Duration::from_millis(290),
            "{times:?}"
        );
    }
    // Three at a time: all of a poll's calls go out together.
    let s = setup(&items, "model_concurrency = 3", slow(500)).await;
    fetch(&s.ws).await;
    let times = s.model.times(MODEL_PATH);
    assert_eq!(times.len(), 3);
    assert!(
        times[2] - times[0] < std::time::Duration::from_millis(400),
        "{times:?}"
    );
    assert_eq!(rows(&s.ws).await.len(), 3);
}
