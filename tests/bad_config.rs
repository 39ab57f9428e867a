//! Mistakes in configuration and environment, table-driven: each gives one clear message naming
//! what to fix, the right exit code, and writes nothing.

use crate::support::feed_toml;

struct Case {
    what: &'static str,
    config: String,
    env: Vec<(&'static str, &'static str)>,
    args: Vec<&'static str>,
    code: i32,
    message: &'static str,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_mistakes_are_named_with_their_fix() {
    let good_feed = feed_toml("A", "https://example.org/a.xml", "blogs", "");
    let cases = vec![
        Case {
            what: "unknown key",
            config: format!("[http]\ntimeot = \"5s\"\n{good_feed}"),
            env: vec![],
            args: vec!["fetch"],
            code: 2,
            message: "unknown key `http.timeot`",
        },
        Case {
            what: "unknown feed key",
            config: format!("{good_feed}colection = \"x\"\n"),
            env: vec![],
            args: vec!["fetch"],
            code: 2,
            message: "colection",
        },
        Case {
            what: "bad cron",
            config: feed_toml(
                "A",
                "https://example.org/a.xml",
                "blogs",
                "schedule = \"every hour\"",
            ),
            env: vec![],
            args: vec!["fetch"],
            code: 2,
            message: "cron expression",
        },
        Case {
            what: "bad URL",
            config: feed_toml("A", "example.org/feed", "blogs", ""),
            env: vec![],
            args: vec!["fetch"],
            code: 2,
            message: "is not an absolute http(s) URL",
        },
        Case {
            what: "duplicate URL",
            config: format!(
                "{good_feed}{}",
                feed_toml("B", "https://example.org/a.xml", "news", "")
            ),
            env: vec![],
            args: vec!["fetch"],
            code: 2,
            message: "listed twice",
        },
        Case {
            what: "TOML syntax",
            config: "[http\nconcurrency = 1\n".into(),
            env: vec![],
            args: vec!["fetch"],
            code: 2,
            message: "TOML parse error at line 3",
        },
        Case {
            what: "bad value type",
            config: format!("[http]\nconcurrency = \"lots\"\n{good_feed}"),
            env: vec![],
            args: vec!["fetch"],
            code: 2,
            message: "concurrency",
        },
        Case {
            what: "bad env value",
            config: good_feed.clone(),
            env: vec![("FEEDSMITH__HTTP__TIMEOUT", "soon")],
            args: vec!["fetch"],
            code: 2,
            message: "[http].timeout = \"soon\"",
        },
        Case {
            what: "unknown env key",
            config: good_feed.clone(),
            env: vec![("FEEDSMITH__HTTP__RETRIES", "3")],
            args: vec!["fetch"],
            code: 2,
            message: "FEEDSMITH__HTTP__RETRIES",
        },
        Case {
            what: "unknown database scheme",
            config: good_feed.clone(),
            env: vec![],
            args: vec!["--database-url", "mysql://root@localhost/feeds", "fetch"],
            code: 2,
            message: "unsupported database URL",
        },
        Case {
            what: "unwritable database directory",
            config: good_feed.clone(),
            env: vec![],
            args: vec![
                "--database-url",
                "sqlite:///etc/hostname/feedsmith.db",
                "fetch",
            ],
            code: 1,
            message: "cannot open the database",
        },
        Case {
            what: "PostgreSQL down",
            config: good_feed.clone(),
            env: vec![],
            args: vec![
                "--database-url",
                "postgres://postgres@127.0.0.1:1/feedsmith",
                "fetch",
            ],
            code: 1,
            message: "cannot reach PostgreSQL: connection refused at 127.0.0.1:1",
        },
        Case {
            what: "no feeds",
            config: String::new(),
            env: vec![],
            args: vec!["fetch"],
            code: 2,
            message: "no enabled feeds",
        },
    ];
    for case in cases {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("feedsmith.toml");
        let db = dir.path().join("feedsmith.db");
        std::fs::write(
            &config,
            format!(
                "[database]\nurl = \"sqlite://{}\"\n{}",
                db.display(),
                case.config
            ),
        )
        .unwrap();
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedsmith"));
        cmd.arg("--config")
            .arg(&config)
            .args(&case.args)
            .current_dir(dir.path())
            .env_remove("FEEDSMITH_CONFIG");
        for (k, v) in &case.env {
            cmd.env(k, v);
        }
        let out = cmd.output().await.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(case.code),
            "{}: {stderr}",
            case.what
        );
        assert!(
            stderr.contains(case.message),
            "{}: message should contain {:?}:\n{stderr}",
            case.what,
            case.message
        );
        assert_eq!(
            stderr.matches("error:").count(),
            1,
            "{}: one message:\n{stderr}",
            case.what
        );
        if case.code == 2 {
            assert!(
                stderr.contains("feedsmith.toml")
                    || case.what.contains("env")
                    || case.what.contains("scheme")
                    || case.what == "no feeds",
                "{}: names the file:\n{stderr}",
                case.what
            );
            assert!(
                !db.exists(),
                "{}: nothing is written on a configuration error",
                case.what
            );
        }
    }

    // An unreadable configuration (a directory where the file should be).
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedsmith"))
        .arg("--config")
        .arg(dir.path())
        .args(["config", "check"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the configuration file"));
}

/// Errors name the real source: a `[[feeds]]` table by index, name, line and column; serde's
/// type names in words; a value from the environment or `--database-url` as coming from there.
#[tokio::test]
async fn errors_name_the_feed_line_and_the_real_source() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let run = |path: std::path::PathBuf,
               args: &'static [&'static str],
               env: Vec<(&'static str, &'static str)>| async move {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedsmith"))
            .arg("--config")
            .arg(&path)
            .args(args)
            .args(["config", "check"])
            .envs(env)
            .output()
            .await
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let ok_feed =
        "[[feeds]]\nname = \"A\"\nurl = \"https://example.org/a.xml\"\ncollection = \"blogs\"\n";
    let typo = write(
        "typo.toml",
        &format!("{ok_feed}\n# second\n[[feeds]]\nname = \"Typo feed\"\nurl = \"https://example.org/b.xml\"\ncolection = \"blogs\"\n"),
    );
    let (code, err) = run(typo, &[], vec![]).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(
            "typo.toml: feeds[1] (\"Typo feed\") at line 10, column 1: unknown field `colection`"
        ),
        "{err}"
    );
    let wrong_type = write(
        "type.toml",
        &format!("{ok_feed}min_content_chars = \"lots\"\n"),
    );
    let (code, err) = run(wrong_type, &[], vec![]).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("feeds[0] (\"A\") at line 5, column 1: min_content_chars: invalid type: string \"lots\", expected a whole number"),
        "{err}"
    );
    let fine = write("fine.toml", ok_feed);
    let (code, err) = run(fine.clone(), &["--database-url", "mysql://x"], vec![]).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("error: --database-url: [database].url = \"mysql://x\""),
        "{err}"
    );
    assert!(!err.contains("fine.toml"), "{err}");
    let (code, err) = run(fine, &[], vec![("FEEDSMITH__DATABASE__URL", "mysql://y")]).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(
            "error: environment variable FEEDSMITH__DATABASE__URL: [database].url = \"mysql://y\""
        ),
        "{err}"
    );
}
