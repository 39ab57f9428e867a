//! The command-line contract: configuration errors, `config check`, `migrate`, exit codes.

use crate::support::{feed_toml, Workspace};

#[tokio::test]
async fn config_check_prints_effective_settings() {
    let ws = Workspace::new(
        "[http]\nconcurrency = 3\n",
        &feed_toml("A", "https://example.org/a.xml", "blogs", ""),
    );
    let out = ws.run(&["config", "check"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("concurrency = 3"), "{}", out.stdout);
    assert!(
        out.stdout.contains("https://example.org/a.xml"),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("configuration OK"), "{}", out.stderr);
}

#[tokio::test]
async fn config_errors_exit_2_naming_file_and_key() {
    let ws = Workspace::new("[http]\ntimeot = \"5s\"\n", "");
    let out = ws.run(&["config", "check"]).await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("feedsmith.toml") && out.stderr.contains("http.timeot"),
        "{}",
        out.stderr
    );

    let ws = Workspace::new(
        "",
        &feed_toml(
            "A",
            "https://example.org/a.xml",
            "blogs",
            "schedule = \"sometimes\"",
        ),
    );
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("schedule") && out.stderr.contains("sometimes"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn missing_explicit_config_is_a_usage_error() {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedsmith"))
        .args(["--config", "/nonexistent/feedsmith.toml", "config", "check"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/feedsmith.toml"));
}

#[tokio::test]
async fn env_overrides_and_database_url_flag() {
    let ws = Workspace::new(
        "",
        &feed_toml("A", "https://example.org/a.xml", "blogs", ""),
    );
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedsmith"))
        .arg("--config")
        .arg(ws.config_path())
        .args(["--database-url", "sqlite://flag.db", "config", "check"])
        .env("FEEDSMITH__HTTP__USER_AGENT", "test-agent/1.0")
        .env("FEEDSMITH__DATABASE__URL", "sqlite://env.db")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("user_agent = \"test-agent/1.0\""),
        "{stdout}"
    );
    assert!(stdout.contains("url = \"sqlite://flag.db\""), "{stdout}");

    let bad = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedsmith"))
        .arg("--config")
        .arg(ws.config_path())
        .args(["config", "check"])
        .env("FEEDSMITH__HTTP__CONCURRENCY", "lots")
        .output()
        .await
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("FEEDSMITH__HTTP__CONCURRENCY"));
}

#[tokio::test]
async fn migrate_creates_the_database_and_unwritable_paths_fail_clearly() {
    let ws = Workspace::new("", "");
    let out = ws.run(&["migrate"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(ws.db_path().is_file());
    let shipped = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .count();
    assert!(
        out.stderr
            .contains(&format!(": applied {shipped} migrations; it is up to date")),
        "migrate says how many it applied: {}",
        out.stderr
    );
    let again = ws.run(&["migrate"]).await;
    assert_eq!(again.code, 0, "migrations are idempotent: {}", again.stderr);
    assert!(
        again
            .stderr
            .contains("is up to date (no migration to apply)"),
        "{}",
        again.stderr
    );

    let bad = ws
        .run(&[
            "--database-url",
            "sqlite:///nonexistent-dir/x/feedsmith.db",
            "migrate",
        ])
        .await;
    assert_eq!(bad.code, 1, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("cannot open the database"),
        "{}",
        bad.stderr
    );
    let scheme = ws.run(&["--database-url", "mysql://x/y", "migrate"]).await;
    assert_eq!(scheme.code, 2, "{}", scheme.stderr);
}

#[tokio::test]
async fn fetch_without_feeds_is_a_usage_error() {
    let ws = Workspace::new("", "");
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("no enabled feeds"), "{}", out.stderr);
}

#[tokio::test]
async fn environment_only_configuration_for_containers() {
    // No file anywhere: the container case, configured by FEEDSMITH__ variables alone.
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedsmith"))
        .args(["config", "check"])
        .current_dir(dir.path())
        .env_remove("FEEDSMITH_CONFIG")
        .env(
            "FEEDSMITH__DATABASE__URL",
            "postgres://feedsmith@db:5432/feedsmith",
        )
        .env("FEEDSMITH__SERVER__LISTEN", "0.0.0.0:8080")
        .env("FEEDSMITH__SCHEDULE__LEASE", "90s")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if std::path::Path::new("/etc/feedsmith/feedsmith.toml").exists() {
        eprintln!(
            "skipping the no-file assertion: /etc/feedsmith/feedsmith.toml exists on this machine"
        );
        return;
    }
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("url = \"postgres://feedsmith@db:5432/feedsmith\""),
        "{stdout}"
    );
    assert!(stdout.contains("listen = \"0.0.0.0:8080\""), "{stdout}");
    assert!(stdout.contains("lease = \"90s\""), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("built-in defaults"));
}

#[tokio::test]
async fn healthcheck_fails_when_nothing_listens() {
    let ws = Workspace::new("", "");
    let port = crate::support::free_port();
    let out = ws
        .run(&["healthcheck", "--url", &format!("http://127.0.0.1:{port}")])
        .await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "unhealthy: no feedsmith answering at http://127.0.0.1:{port} (connection refused)"
        )),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn feeds_add_and_remove_edit_the_file_and_keep_comments() {
    let ws = Workspace::new(
        "# my own comment\n",
        &feed_toml("Keep", "https://example.org/keep.xml", "blogs", ""),
    );
    let add = ws
        .run(&[
            "feeds",
            "add",
            "https://example.org/new.xml",
            "--no-check",
            "--name",
            "New \"one\"",
            "--collection",
            "news",
            "--category",
            "Coding",
        ])
        .await;
    assert_eq!(add.code, 0, "{}", add.stderr);
    let text = std::fs::read_to_string(ws.config_path()).unwrap();
    assert!(text.contains("# my own comment"), "{text}");
    let check = ws.run(&["config", "check"]).await;
    assert!(
        check.stdout.contains("https://example.org/new.xml")
            && check.stdout.contains("New \"one\""),
        "{}",
        check.stdout
    );

    let dup = ws
        .run(&["feeds", "add", "https://example.org/new.xml", "--no-check"])
        .await;
    assert_eq!(dup.code, 2, "{}", dup.stderr);
    let bad = ws.run(&["feeds", "add", "not a url"]).await;
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert_eq!(
        std::fs::read_to_string(ws.config_path()).unwrap(),
        text,
        "an invalid change writes nothing"
    );

    let remove = ws.run(&["feeds", "remove", "New \"one\""]).await;
    assert_eq!(remove.code, 0, "{}", remove.stderr);
    let after = ws.run(&["config", "check"]).await;
    assert!(
        !after.stdout.contains("new.xml") && after.stdout.contains("keep.xml"),
        "{}",
        after.stdout
    );
    assert!(std::fs::read_to_string(ws.config_path())
        .unwrap()
        .contains("# my own comment"));
    assert_eq!(ws.run(&["feeds", "remove", "nope"]).await.code, 2);
}

/// `feedsmith inspect big.xml | head -1`: the reader closes the pipe after one line. The
/// command must stop quietly with exit 0, not panic in `println!` (which it did).
#[tokio::test]
async fn a_closed_stdout_pipe_exits_0_without_a_panic() {
    use tokio::io::AsyncBufReadExt;
    let ws = Workspace::new("", "");
    let body = "word ".repeat(80);
    let items: Vec<(String, String)> = (0..400)
        .map(|i| (format!("g{i}"), format!("Post number {i}")))
        .collect();
    let refs: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|(g, t)| (g.as_str(), t.as_str(), body.as_str()))
        .collect();
    let file = ws.dir.path().join("big.xml");
    std::fs::write(&file, crate::support::rss("Big", &refs)).unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedsmith"))
        .arg("--config")
        .arg(ws.config_path())
        .arg("inspect")
        .arg(&file)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut first = String::new();
    tokio::io::BufReader::new(stdout)
        .read_line(&mut first)
        .await
        .unwrap();
    assert!(first.starts_with("==> "), "{first}");
    // The read end is dropped here: every later write gets EPIPE. The output (400 posts,
    // ~250 KB) is far more than a pipe buffer, so the process must meet the closed pipe.
    let out = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

/// `posts show` takes what `posts list` prints (the path) as well as the id and the URL; an
/// unknown post is a runtime failure (exit 1) naming what was asked, not a usage error.
#[tokio::test]
async fn posts_show_accepts_id_url_and_path_and_an_unknown_post_exits_1() {
    use crate::support::{rss, Reply, TestServer};
    let server = TestServer::start().await;
    let body = "word ".repeat(80);
    server.route(
        "/f.xml",
        Reply::feed(rss("F", &[("g1", "Hello paths", body.as_str())])),
    );
    let ws = Workspace::new("", &feed_toml("F", &server.url("/f.xml"), "blogs", ""));
    assert_eq!(ws.run(&["fetch"]).await.code, 0);
    let list = ws.run(&["posts", "list"]).await;
    let line = list.stdout.lines().next().unwrap_or_default().to_string();
    let path = line
        .split_whitespace()
        .last()
        .unwrap_or_default()
        .to_string();
    assert!(path.ends_with("-Hello-paths.md"), "{line}");
    let id = line
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    let by_id = ws.run(&["posts", "show", &id]).await;
    assert_eq!(by_id.code, 0, "{}", by_id.stderr);
    assert!(
        by_id.stdout.contains("title: \"Hello paths\""),
        "{}",
        by_id.stdout
    );
    for key in [path.as_str(), "http://example.org/g1"] {
        let out = ws.run(&["posts", "show", key]).await;
        assert_eq!(out.code, 0, "{key}: {}", out.stderr);
        assert_eq!(out.stdout, by_id.stdout, "{key}");
    }
    let json = ws.run(&["posts", "list", "--json"]).await;
    let posts: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(posts[0]["date"], "2025-08-03 22:48:15 +00:00");
    assert_eq!(posts[0]["date_rfc3339"], "2025-08-03T22:48:15Z");
    let missing = ws.run(&["posts", "show", "_blogs/nope.md"]).await;
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    assert!(
        missing
            .stderr
            .contains("error: no post with id or URL \"_blogs/nope.md\"; `feedsmith posts list` shows the stored posts"),
        "{}",
        missing.stderr
    );
}

/// Completions and the man page come from the same definitions as `--help`: every subcommand
/// is in them.
#[tokio::test]
async fn completions_and_man_page_list_every_command() {
    let ws = Workspace::new("", "");
    let commands = [
        "fetch",
        "run",
        "inspect",
        "export",
        "feeds",
        "posts",
        "config",
        "healthcheck",
        "migrate",
        "completions",
        "man",
    ];
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = ws.run(&["completions", shell]).await;
        assert_eq!(out.code, 0, "{shell}: {}", out.stderr);
        for c in commands {
            assert!(out.stdout.contains(c), "{shell} completion lacks {c}");
        }
    }
    let bad = ws.run(&["completions", "tcsh"]).await;
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    let man = ws.run(&["man"]).await;
    assert_eq!(man.code, 0, "{}", man.stderr);
    assert!(
        man.stdout.starts_with(".ie") || man.stdout.contains(".TH feedsmith 1"),
        "{}",
        man.stdout
    );
    for c in commands {
        assert!(
            man.stdout
                .contains(&format!(".SH \"FEEDSMITH {}\"", c.to_uppercase())),
            "man page lacks {c}"
        );
    }
}

/// `-q` shows errors only, `-v` feedsmith's DEBUG events; dependencies stay at WARN by default
/// (the default filter, without RUST_LOG); NO_COLOR and a pipe give no escape codes.
#[tokio::test]
async fn verbosity_flags_and_no_color() {
    use crate::support::{rss, Reply, TestServer};
    let server = TestServer::start().await;
    let body = "word ".repeat(80);
    server.route(
        "/f.xml",
        Reply::feed(rss("F", &[("g1", "Hello", body.as_str())])),
    );
    let ws = Workspace::new("", &feed_toml("F", &server.url("/f.xml"), "blogs", ""));
    let run = |args: &'static [&'static str]| {
        let ws = &ws;
        async move {
            let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedsmith"))
                .arg("--config")
                .arg(ws.config_path())
                .args(args)
                .env_remove("RUST_LOG")
                .env("NO_COLOR", "1")
                .output()
                .await
                .unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        }
    };
    let (code, normal) = run(&["fetch"]).await;
    assert_eq!(code, Some(0), "{normal}");
    assert!(normal.contains(" INFO "), "{normal}");
    assert!(!normal.contains("DEBUG"), "{normal}");
    assert!(
        !normal.contains("sqlx"),
        "dependencies stay at WARN: {normal}"
    );
    assert!(
        !normal.contains('\u{1b}'),
        "no colour with NO_COLOR: {normal:?}"
    );
    let (code, quiet) = run(&["-q", "fetch"]).await;
    assert_eq!(code, Some(0), "{quiet}");
    assert!(
        !quiet.contains(" INFO ") && !quiet.contains(" WARN "),
        "{quiet}"
    );
    let (code, verbose) = run(&["-v", "fetch"]).await;
    assert_eq!(code, Some(0), "{verbose}");
    assert!(verbose.contains("DEBUG"), "{verbose}");
    for line in [
        "request",
        "if_none_match=",
        "response headers",
        "status=304",
        "next poll",
    ] {
        assert!(verbose.contains(line), "-v lacks {line:?}: {verbose}");
    }
    assert!(!verbose.contains("html5ever"), "{verbose}");
}

/// Read-only commands in the wrong directory say so instead of creating an empty database and
/// reporting "0 posts"; `export` without `--out` writes to `[publish].dir`, and without either
/// names both.
#[tokio::test]
async fn read_commands_never_create_a_database_and_export_defaults_to_publish_dir() {
    let ws = Workspace::new("", "");
    for args in [
        &["posts", "list"][..],
        &["posts", "show", "1"],
        &["feeds", "list"],
        &["export", "--out", "site"],
    ] {
        let out = ws.run(args).await;
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains(&format!(
                "error: no database at {}; run `feedsmith fetch` first",
                ws.db_path().display()
            )),
            "{args:?}: {}",
            out.stderr
        );
        assert!(!ws.db_path().exists(), "{args:?} created the database");
    }
    std::fs::write(ws.dir.path().join("a-file"), "x").unwrap();
    let file = ws.run(&["export", "--out", "a-file"]).await;
    assert_eq!(file.code, 2, "{}", file.stderr);
    assert!(
        file.stderr.contains(
            "a-file is a file; export writes a Jekyll site: pass its directory with --out DIR"
        ),
        "{}",
        file.stderr
    );
    let no_dir = ws.run(&["export"]).await;
    assert_eq!(no_dir.code, 2, "{}", no_dir.stderr);
    assert!(
        no_dir
            .stderr
            .contains("export needs a directory: pass --out DIR, or set [publish].dir"),
        "{}",
        no_dir.stderr
    );

    use crate::support::{rss, Reply, TestServer};
    let server = TestServer::start().await;
    let body = "word ".repeat(80);
    server.route(
        "/f.xml",
        Reply::feed(rss("F", &[("g1", "Default dir", body.as_str())])),
    );
    let site = tempfile::tempdir().unwrap();
    let ws = Workspace::new("", &feed_toml("F", &server.url("/f.xml"), "blogs", ""));
    assert_eq!(ws.run(&["fetch"]).await.code, 0);
    let config = std::fs::read_to_string(ws.config_path()).unwrap();
    std::fs::write(
        ws.config_path(),
        format!("[publish]\ndir = \"{}\"\n{config}", site.path().display()),
    )
    .unwrap();
    let export = ws.run(&["export"]).await;
    assert_eq!(export.code, 0, "{}", export.stderr);
    let written: Vec<_> = std::fs::read_dir(site.path().join("_blogs"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        written.iter().any(|n| n.ends_with("-Default-dir.md")),
        "{written:?}"
    );
}

/// `inspect FILE` writes the file as an absolute `file://` URL in `feed_url`, not the relative
/// path it was given; `--feed-url` sets it.
#[tokio::test]
async fn inspect_of_a_file_writes_an_absolute_feed_url() {
    let ws = Workspace::new("", "");
    let body = "word ".repeat(80);
    std::fs::write(
        ws.dir.path().join("local.xml"),
        crate::support::rss("Local", &[("g1", "From a file", body.as_str())]),
    )
    .unwrap();
    let abs = std::fs::canonicalize(ws.dir.path().join("local.xml")).unwrap();
    let feed_url_line = |stdout: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with("feed_url: "))
            .map(|l| {
                l.trim_start_matches("feed_url: ")
                    .trim_matches('"')
                    .to_string()
            })
    };
    let out = ws.run(&["inspect", "local.xml"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        feed_url_line(&out.stdout),
        Some(format!("file://{}", abs.display())),
        "{}",
        out.stdout
    );
    let out = ws
        .run(&[
            "inspect",
            "local.xml",
            "--feed-url",
            "https://example.org/feed.xml",
        ])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        feed_url_line(&out.stdout).as_deref(),
        Some("https://example.org/feed.xml")
    );
}

/// `feeds add` fetches the URL once: a 404 is refused (nothing written), an HTML page is
/// followed to its feed link, and the feed's title becomes the default name. The table written
/// is printed.
#[tokio::test]
async fn feeds_add_checks_the_url_follows_autodiscovery_and_names_the_feed() {
    use crate::support::{rss, Reply, TestServer};
    let server = TestServer::start().await;
    let body = "word ".repeat(80);
    server.route(
        "/real.xml",
        Reply::feed(rss("The Real Feed", &[("g1", "One", body.as_str())])),
    );
    server.route("/gone.xml", Reply::status(404, "not here"));
    server.route(
        "/page.html",
        Reply::feed(format!(
            "<!doctype html><html><head><title>A blog</title><link rel=\"alternate\" type=\"application/rss+xml\" href=\"{}\"></head><body>hi</body></html>",
            server.url("/real.xml")
        ))
        .with_content_type("text/html; charset=utf-8"),
    );
    let ws = Workspace::new("", "");
    std::fs::write(ws.config_path(), "# mine\n").unwrap();
    let before = std::fs::read_to_string(ws.config_path()).unwrap();

    let gone = ws.run(&["feeds", "add", &server.url("/gone.xml")]).await;
    assert_eq!(gone.code, 2, "{}", gone.stderr);
    assert!(
        gone.stderr
            .contains(&format!("{} is not a feed:", server.url("/gone.xml")))
            && gone.stderr.contains("404")
            && gone.stderr.contains("pass --no-check to add it anyway"),
        "{}",
        gone.stderr
    );
    assert_eq!(std::fs::read_to_string(ws.config_path()).unwrap(), before);

    let page = ws.run(&["feeds", "add", &server.url("/page.html")]).await;
    assert_eq!(page.code, 0, "{}", page.stderr);
    assert!(
        page.stderr
            .contains(&format!("its feed is {}", server.url("/real.xml"))),
        "{}",
        page.stderr
    );
    assert!(
        page.stdout.contains("[[feeds]]")
            && page.stdout.contains("name = \"The Real Feed\"")
            && page
                .stdout
                .contains(&format!("url = \"{}\"", server.url("/real.xml"))),
        "{}",
        page.stdout
    );
    let text = std::fs::read_to_string(ws.config_path()).unwrap();
    assert!(text.contains("# mine\n"), "{text}");
    assert!(!text.contains("page.html"), "{text}");

    // The same feed again, by its own URL: already configured.
    let again = ws.run(&["feeds", "add", &server.url("/real.xml")]).await;
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(
        again.stderr.contains("is already configured"),
        "{}",
        again.stderr
    );
}

/// OPML folders become categories, `feed://` URLs are rewritten with a notice, duplicates are
/// listed; `--write` appends and keeps the file's comments.
#[tokio::test]
async fn feeds_import_maps_folders_rewrites_feed_urls_and_lists_duplicates() {
    let ws = Workspace::new(
        "# keep me\n",
        &feed_toml("Known", "https://example.org/known.xml", "blogs", ""),
    );
    let opml = r#"<?xml version="1.0"?>
<opml version="2.0"><head><title>subs</title></head><body>
  <outline text="Rust">
    <outline text="Rust Blog" type="rss" xmlUrl="https://blog.rust-lang.org/feed.xml"/>
    <outline text="Nested"><outline text="Deep" xmlUrl="https://deep.example.org/atom"/></outline>
  </outline>
  <outline text="Subscribe link" xmlUrl="feed://example.net/rss"/>
  <outline text="Known again" xmlUrl="https://example.org/known.xml"/>
  <outline text="Twice" xmlUrl="https://blog.rust-lang.org/feed.xml"/>
</body></opml>"#;
    let file = ws.dir.path().join("subs.opml");
    std::fs::write(&file, opml).unwrap();
    let out = ws.run(&["feeds", "import", file.to_str().unwrap()]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("name = \"Rust Blog\"")
            && out.stdout.contains("categories = [\"Rust\"]")
            && out.stdout.contains("categories = [\"Rust\", \"Nested\"]")
            && out.stdout.contains("url = \"https://example.net/rss\""),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("feed://"), "{}", out.stdout);
    assert!(
        out.stderr
            .contains("note: feed://example.net/rss is a feed:// link; importing it as https://example.net/rss"),
        "{}",
        out.stderr
    );
    for skipped in [
        "skipped (already configured or listed twice): Known again (https://example.org/known.xml)",
        "skipped (already configured or listed twice): Twice (https://blog.rust-lang.org/feed.xml)",
        "3 new feeds of 5 outlines",
    ] {
        assert!(out.stderr.contains(skipped), "{skipped}: {}", out.stderr);
    }
    let write = ws
        .run(&["feeds", "import", file.to_str().unwrap(), "--write"])
        .await;
    assert_eq!(write.code, 0, "{}", write.stderr);
    let text = std::fs::read_to_string(ws.config_path()).unwrap();
    assert!(
        text.contains("# keep me") && text.contains("https://deep.example.org/atom"),
        "{text}"
    );
    let check = ws.run(&["config", "check"]).await;
    assert_eq!(check.code, 0, "{}", check.stderr);
}

/// PostgreSQL down: the error comes at once and names the address, not "pool timed out" after
/// ten seconds with a hint about writable directories.
#[tokio::test]
async fn postgres_down_is_named_at_once() {
    let ws = Workspace::new("", "");
    let port = crate::support::free_port();
    let started = std::time::Instant::now();
    let out = ws
        .run(&[
            "--database-url",
            &format!("postgres://postgres@127.0.0.1:{port}/feedsmith"),
            "migrate",
        ])
        .await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "error: cannot reach PostgreSQL: connection refused at 127.0.0.1:{port}"
        )),
        "{}",
        out.stderr
    );
    // Generous: the point is "not the pool's 10 s acquire timeout".
    assert!(started.elapsed() < std::time::Duration::from_secs(8));
}

/// With `--log-format json` every line on stderr is a JSON object, the failure list and the
/// summary included; stdout stays empty (no machine output was asked for).
#[tokio::test]
async fn json_logs_put_only_json_on_stderr() {
    use crate::support::{rss, Reply, TestServer};
    let server = TestServer::start().await;
    let body = "word ".repeat(80);
    server.route(
        "/ok.xml",
        Reply::feed(rss("F", &[("g1", "Hello", body.as_str())])),
    );
    server.route("/bad.xml", Reply::status(500, "boom"));
    let feeds = format!(
        "{}{}",
        feed_toml("Good", &server.url("/ok.xml"), "blogs", ""),
        feed_toml("Bad", &server.url("/bad.xml"), "blogs", "")
    );
    let ws = Workspace::new("", &feeds);
    let out = ws.run(&["--log-format", "json", "fetch"]).await;
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    let events: Vec<serde_json::Value> = out
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let failed: Vec<&serde_json::Value> =
        events.iter().filter(|e| e["message"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{}", out.stderr);
    assert_eq!(failed[0]["feed"], "Bad");
    let summary = events
        .iter()
        .find(|e| e["ok"] == 1 && e["failed"] == 1)
        .unwrap_or_else(|| panic!("no summary event: {}", out.stderr));
    assert_eq!(summary["posts_new"], 1);
    assert!(
        summary["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("feeds: 1 ok, 0 not modified, 1 failed")),
        "{summary}"
    );
}

/// A feed cut off after its last complete entry is read (tolerant repair), and
/// `inspect --explain` says it was repaired, in text and in JSON.
#[tokio::test]
async fn inspect_explain_reports_a_truncated_document() {
    let ws = Workspace::new("", "");
    let body = "word ".repeat(80);
    let whole = crate::support::rss(
        "Cut",
        &[
            ("g1", "First", body.as_str()),
            ("g2", "Second", body.as_str()),
        ],
    );
    let cut = whole
        .strip_suffix("</channel></rss>\n")
        .expect("rss() ends with the closing tags");
    std::fs::write(ws.dir.path().join("cut.xml"), cut).unwrap();
    let text = ws.run(&["inspect", "cut.xml", "--explain"]).await;
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout.starts_with("repaired: truncated\n"),
        "{}",
        text.stdout
    );
    assert_eq!(text.stdout.matches("==> ").count(), 2, "{}", text.stdout);
    let json = ws.run(&["inspect", "cut.xml", "--explain", "--json"]).await;
    assert_eq!(json.code, 0, "{}", json.stderr);
    let posts: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        posts[0]["explain"]["repaired"],
        serde_json::json!(["truncated"])
    );
    let whole_file = ws.dir.path().join("whole.xml");
    std::fs::write(&whole_file, &whole).unwrap();
    let fine = ws.run(&["inspect", "whole.xml", "--explain"]).await;
    assert!(!fine.stdout.contains("repaired:"), "{}", fine.stdout);
}
