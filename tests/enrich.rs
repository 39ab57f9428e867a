//! Keyword tags end to end: the real binary's `inspect --explain` on a real Reddit feed of the
//! shared corpus (`../shared/corpus`), a taxonomy of one's own, tagging turned off, a broken
//! taxonomy as a configuration error, and `fetch` storing keyword tags and re-tagging stored posts
//! when the taxonomy changes. Nothing here leaves the loopback interface.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const LOCALLLAMA: &str = "corpus/feeds/redditproxy__localllama.xml";

/// Run `feedsmith --config <dir>/feedsmith.toml <args>` with `config` as the file's text.
fn feedsmith(dir: &Path, config: &str, args: &[&str]) -> Output {
    let file = dir.join("feedsmith.toml");
    std::fs::write(&file, config).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_feedsmith"));
    cmd.current_dir(dir).arg("--config").arg(&file).args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("FEEDSMITH") {
            cmd.env_remove(k);
        }
    }
    cmd.output().unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The post of `items` whose title starts with `prefix`.
fn post<'a>(items: &'a [Value], prefix: &str) -> &'a Value {
    items
        .iter()
        .find(|p| p["title"].as_str().unwrap_or_default().starts_with(prefix))
        .unwrap_or_else(|| panic!("no post titled {prefix:?}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn inspect_explain_tags_real_reddit_posts() {
    let Some(shared) = crate::support::shared_dir() else {
        return;
    };
    let feed = shared.join(LOCALLLAMA);
    let feed = feed.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();

    // Human-readable: one block per post, each tag with its sources and each keyword tag with
    // the terms that produced it.
    let text = stdout(&feedsmith(
        dir.path(),
        "",
        &["inspect", feed, "--collection", "community", "--explain"],
    ));
    assert!(
        text.contains("==> _community/2026-02-17-Solution-Found-Qwen3-Next-80B"),
        "{text}"
    );
    assert!(text.contains("keyword tags: "), "{text}");
    assert!(
        text.contains("  Community                <- collection"),
        "{text}"
    );
    assert!(
        text.contains("  LocalLLaMA               <- entry category"),
        "{text}"
    );
    assert!(text.contains(" <- keywords"), "{text}");
    assert!(text.contains("(below threshold)"), "{text}");
    assert!(
        !text.contains("excerpt_separator"),
        "--explain prints no files: {text}"
    );

    // JSON: the same, structured, beside the usual fields.
    let json = stdout(&feedsmith(
        dir.path(),
        "",
        &[
            "inspect",
            feed,
            "--collection",
            "community",
            "--explain",
            "--json",
        ],
    ));
    let items: Vec<Value> = serde_json::from_str(&json).unwrap();
    assert!(!items.is_empty());

    let qwen = post(&items, "[Solution Found] Qwen3-Next 80B MoE");
    let tags = strings(&qwen["tags"]);
    for t in [
        "Community",
        "LocalLLaMA",
        "GPU",
        "NVIDIA",
        "Qwen",
        "Llama.cpp",
    ] {
        assert!(tags.iter().any(|x| x == t), "{t} in {tags:?}");
    }
    let kept = qwen["explain"]["keyword_tags"]["kept"].as_array().unwrap();
    let gpu = kept.iter().find(|k| k["tag"] == "GPU").unwrap();
    assert!(
        strings(&gpu["title_terms"]).contains(&"vram".to_string()),
        "{gpu}"
    );
    assert!(gpu["score"].as_f64().unwrap() > 3.0, "{gpu}");
    // `llama.cpp` is a name, not a mention of C++.
    assert!(!tags.iter().any(|t| t == "C++"), "{tags:?}");

    let halo = post(&items, "The Strix Halo feels like an amazing super power");
    let tags = strings(&halo["tags"]);
    for t in ["AMD", "Local LLM", "Speech Recognition"] {
        assert!(tags.iter().any(|x| x == t), "{t} in {tags:?}");
    }
    let kt = &halo["explain"]["keyword_tags"];
    assert_eq!(
        kt["kept"].as_array().unwrap().len(),
        10,
        "capped at max_tags: {kt}"
    );
    assert!(kt["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["reason"] == "over max_tags"));

    // Most posts of a topical subreddit get at least three keyword tags, and every tag
    // went through the tag rules (one normalized form each, sorted).
    let rich = items
        .iter()
        .filter(|p| {
            p["explain"]["keyword_tags"]["kept"]
                .as_array()
                .unwrap()
                .len()
                >= 3
        })
        .count();
    assert!(rich * 2 >= items.len(), "{rich} of {} posts", items.len());
    for p in &items {
        let tags = strings(&p["tags"]);
        assert_eq!(tags.len(), strings(&p["tags_normalized"]).len());
        let mut sorted = tags.clone();
        sorted.sort_by_key(|t| t.to_lowercase());
        assert_eq!(tags, sorted);
    }
}

#[test]
fn own_taxonomy_and_tagging_off() {
    let Some(shared) = crate::support::shared_dir() else {
        return;
    };
    let feed = shared.join(LOCALLLAMA);
    let feed = feed.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("mine.toml"),
        "[tags.Qwen]\nterms = [\"qwen\", \"qwen3\", \"qwen3.5\"]\n",
    )
    .unwrap();

    let json = stdout(&feedsmith(
        dir.path(),
        "[enrich]\ntaxonomy = \"mine.toml\"\n",
        &["inspect", feed, "--explain", "--json"],
    ));
    let items: Vec<Value> = serde_json::from_str(&json).unwrap();
    let qwen = post(&items, "Where are Qwen 3.5 2B");
    assert_eq!(strings(&qwen["tags"]), ["Blogs", "LocalLLaMA", "Qwen"]);
    for p in &items {
        for t in strings(&p["tags"]) {
            assert!(["Blogs", "LocalLLaMA", "Qwen"].contains(&t.as_str()), "{t}");
        }
    }

    let text = stdout(&feedsmith(
        dir.path(),
        "[enrich]\nkeyword_tags = false\n",
        &["inspect", feed, "--explain"],
    ));
    assert!(text.contains("keyword tags: off"), "{text}");
    let json = stdout(&feedsmith(
        dir.path(),
        "[enrich]\nkeyword_tags = false\n",
        &["inspect", feed, "--json"],
    ));
    let items: Vec<Value> = serde_json::from_str(&json).unwrap();
    for p in &items {
        assert_eq!(strings(&p["tags"]), ["Blogs", "LocalLLaMA"]);
    }
}

#[test]
fn a_broken_taxonomy_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "[tags.\"Infrastructure as Code\"]\nterms = [\"iac\"]\n",
    )
    .unwrap();
    let out = feedsmith(
        dir.path(),
        "[enrich]\ntaxonomy = \"bad.toml\"\n",
        &["config", "check"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("feedsmith.toml")
            && err.contains("bad.toml")
            && err.contains("`Infrastructure as Code`")
            && err.contains("`Infrastructure As Code`"),
        "{err}"
    );
}

/// `fetch` stores keyword tags; with another taxonomy the next poll that reads the document tags
/// the stored post again (the taxonomy is part of the entry's hash).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_stores_keyword_tags_and_a_new_taxonomy_retags() {
    use crate::support::{feed_toml, rss, Reply, TestServer, Workspace};

    let server = TestServer::start().await;
    let body = "We moved our builds from Jenkins to GitHub Actions last month. ".repeat(3);
    server.route(
        "/feed.xml",
        // No validators: every poll reads the document.
        Reply::Body {
            status: 200,
            content_type: "application/rss+xml".into(),
            body: rss(
                "Blog",
                &[("g1", "Our CI/CD pipeline on Kubernetes", body.as_str())],
            )
            .into_bytes(),
            etag: false,
            headers: Vec::new(),
        },
    );
    let ws = Workspace::new(
        "",
        &feed_toml("Blog", &server.url("/feed.xml"), "blogs", ""),
    );
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let posts = ws.posts().await;
    let tags = strings(&posts[0]["tags"]);
    for t in ["Blogs", "CI/CD", "GitHub Actions", "Jenkins", "Kubernetes"] {
        assert!(tags.iter().any(|x| x == t), "{t} in {tags:?}");
    }

    // Unchanged taxonomy: the post is not touched.
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("posts: 0 new, 0 updated"),
        "{}",
        out.stderr
    );
    assert_eq!(strings(&ws.posts().await[0]["tags"]), tags);

    std::fs::write(
        ws.dir.path().join("mine.toml"),
        "[tags.Pipelines]\nterms = [\"pipeline\", \"github actions\"]\n",
    )
    .unwrap();
    let out = ws
        .run_with_env(&["fetch"], &[("FEEDSMITH__ENRICH__TAXONOMY", "mine.toml")])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("posts: 0 new, 1 updated"),
        "{}",
        out.stderr
    );
    let posts = ws.posts().await;
    assert_eq!(posts.len(), 1);
    assert_eq!(strings(&posts[0]["tags"]), ["Blogs", "Pipelines"]);
}
