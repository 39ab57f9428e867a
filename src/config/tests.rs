//! Loading and validation, through [`from_parts`] as `load` runs it.

use super::*;

fn load_str(text: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    from_parts(Some(text), Source::File("test.toml".into()), &env, None)
}

const FEED: &str =
    "[[feeds]]\nname = \"A\"\nurl = \"https://example.org/feed.xml\"\ncollection = \"blogs\"\n";

#[test]
fn defaults_apply_when_file_is_minimal() {
    let s = load_str(FEED, &[]).unwrap();
    assert_eq!(s.database.url, "sqlite://feedsmith.db");
    assert_eq!(s.http.timeout, Duration::from_secs(20));
    assert_eq!(s.http.max_body, 15 * 1024 * 1024);
    assert_eq!(s.http.concurrency, 16);
    assert_eq!(s.schedule.default, "0 */30 * * * *");
    assert_eq!(s.feeds.len(), 1);
    assert!(s.feeds[0].enabled);
}

#[test]
fn env_overrides_file_and_keeps_types() {
    let text = format!("[http]\nconcurrency = 4\n{FEED}");
    let s = load_str(
        &text,
        &[
            ("FEEDSMITH__HTTP__CONCURRENCY", "32"),
            ("FEEDSMITH__DATABASE__URL", "sqlite:///tmp/x.db"),
        ],
    )
    .unwrap();
    assert_eq!(s.http.concurrency, 32);
    assert_eq!(s.database.url, "sqlite:///tmp/x.db");
}

#[test]
fn guard_and_redaction_settings_from_file_and_env() {
    let s = load_str(
        &format!("[http]\nallow_hosts = [\"wiki.intranet\", \" \"]\nsecret_query_keys = [\"channel_id\"]\n{FEED}"),
        &[],
    )
    .unwrap();
    assert_eq!(s.http.allow_hosts, ["wiki.intranet"]);
    assert!(!s.http.allow_private_networks);
    assert_eq!(s.http.secret_query_keys, ["channel_id"]);
    let s = load_str(
        FEED,
        &[
            ("FEEDSMITH__HTTP__ALLOW_HOSTS", "10.0.0.5, wiki.intranet"),
            ("FEEDSMITH__HTTP__ALLOW_PRIVATE_NETWORKS", "true"),
        ],
    )
    .unwrap();
    assert_eq!(s.http.allow_hosts, ["10.0.0.5", "wiki.intranet"]);
    assert!(s.http.allow_private_networks);
}

#[test]
fn server_hardening_settings_are_validated() {
    let s = load_str(FEED, &[]).unwrap();
    assert_eq!(s.server.max_connections, 512);
    assert_eq!(s.server.header_timeout, Duration::from_secs(10));
    assert_eq!(s.server.idle_timeout, Duration::from_secs(60));
    assert!(s.server.token.is_none() && s.server.public_url.is_none());
    for (bad, key) in [
        ("max_connections = 0", "max_connections"),
        ("header_timeout = \"0s\"", "header_timeout"),
        ("public_url = \"feeds.example.org\"", "public_url"),
        (
            "token_env = \"FEEDSMITH_TEST_TOKEN_SURELY_UNSET\"",
            "FEEDSMITH_TEST_TOKEN_SURELY_UNSET",
        ),
    ] {
        let e = load_str(&format!("[server]\n{bad}\n{FEED}"), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains(key) && e.contains("test.toml"), "{bad}: {e}");
    }
    let e = load_str(
        "[[feeds]]\nname = \"A\"\nurl = \"https://e/f\"\ncollection = \"blogs\"\npublic_url = \"https://u:p@e/\"\n",
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("public_url") && e.contains("without credentials"),
        "{e}"
    );
}

#[test]
fn database_settings_never_print_the_password() {
    let d = DatabaseSettings {
        url: "postgres://feedsmith:S3CRET@db:5432/feedsmith?sslpassword=P2".into(),
        max_connections: 4,
    };
    let shown = format!("{d:?} {}", serde_json::to_string(&d).unwrap());
    assert!(
        !shown.contains("S3CRET") && !shown.contains("P2"),
        "{shown}"
    );
    assert!(
        shown.contains("postgres://feedsmith:***@db:5432/feedsmith"),
        "{shown}"
    );
}

#[test]
fn database_url_flag_beats_env() {
    let env = vec![(
        "FEEDSMITH__DATABASE__URL".to_string(),
        "sqlite://env.db".to_string(),
    )];
    let s = from_parts(Some(FEED), Source::Defaults, &env, Some("sqlite://flag.db")).unwrap();
    assert_eq!(s.database.url, "sqlite://flag.db");
}

#[test]
fn unknown_keys_are_errors_naming_file_and_key() {
    let e = load_str("[http]\ntimeot = \"5s\"\n", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("test.toml") && e.contains("http.timeot"), "{e}");
    let e = load_str("[htp]\n", &[]).unwrap_err().to_string();
    assert!(e.contains("`htp`"), "{e}");
    let e = load_str(&format!("{FEED}colection = \"x\"\n"), &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("colection"), "{e}");
    let e = load_str(FEED, &[("FEEDSMITH__HTTP__TIMEOT", "5s")])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("FEEDSMITH__HTTP__TIMEOT") && e.contains("timeot"),
        "{e}"
    );
}

#[test]
fn bad_values_name_key_and_expectation() {
    let cases = [
        ("[http]\ntimeout = \"20x\"\n", "[http].timeout"),
        ("[http]\nmax_body = \"lots\"\n", "[http].max_body"),
        ("[http]\nconcurrency = 0\n", "[http].concurrency"),
        ("[schedule]\ndefault = \"every day\"\n", "[schedule].default"),
        ("[server]\nlisten = \"localhost\"\n", "[server].listen"),
        ("[database]\nurl = \"mysql://x\"\n", "[database].url"),
        ("[publish]\nvideo_embed = \"iframe\"\n", "[publish].video_embed"),
        ("[[feeds]]\nname = \"A\"\nurl = \"ftp://x/y\"\ncollection = \"blogs\"\n", "ftp://x/y"),
        ("[[feeds]]\nname = \"A\"\nurl = \"https://x/y\"\ncollection = \"../etc\"\n", "collection"),
        ("[[feeds]]\nname = \"A\"\nurl = \"https://x/y\"\ncollection = \"b\"\nschedule = \"* * *\"\n", "schedule"),
        ("[http]\nconcurrency = \"many\"\n", "concurrency"),
    ];
    for (text, needle) in cases {
        let e = load_str(text, &[]).unwrap_err().to_string();
        assert!(
            e.contains(needle) && e.contains("test.toml"),
            "{text:?} -> {e}"
        );
    }
}

#[test]
fn duplicate_urls_are_errors_but_names_may_repeat() {
    let dup = format!("{FEED}{FEED}");
    let e = load_str(&dup, &[]).unwrap_err().to_string();
    assert!(e.contains("listed twice"), "{e}");
    let same_name = format!("{FEED}[[feeds]]\nname = \"A\"\nurl = \"https://example.org/other.xml\"\ncollection = \"blogs\"\n");
    assert_eq!(load_str(&same_name, &[]).unwrap().feeds.len(), 2);
}

#[test]
fn durations_and_sizes() {
    assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
    assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
    assert_eq!(parse_duration("30"), Some(Duration::from_secs(30)));
    assert_eq!(parse_duration("x"), None);
    assert_eq!(parse_size("15MiB"), Some(15 * 1024 * 1024));
    assert_eq!(parse_size("10kb"), Some(10_000));
    assert_eq!(parse_size("0"), None);
    assert_eq!(format_duration(Duration::from_secs(86400)), "24h");
}

#[test]
fn select_feeds_by_name_or_url() {
    let text = format!("{FEED}[[feeds]]\nname = \"B\"\nurl = \"https://example.org/b.xml\"\ncollection = \"news\"\nenabled = false\n");
    let s = load_str(&text, &[]).unwrap();
    assert_eq!(
        s.select_feeds(&[]).unwrap().len(),
        1,
        "disabled feeds are skipped"
    );
    let b = s.select_feeds(&["b".into()]).unwrap();
    assert_eq!(s.feeds[b[0]].name, "B");
    assert!(s.select_feeds(&["nope".into()]).is_err());
}

#[test]
fn shipped_config_is_valid() {
    let text = include_str!("../../config/feedsmith.toml");
    let s = load_str(text, &[]).unwrap();
    assert!(s
        .feeds
        .iter()
        .any(|f| f.url == "https://www.reddit.com/r/devops/.rss"));
}

#[test]
fn enrich_defaults_and_env() {
    let s = load_str(FEED, &[]).unwrap();
    assert!(s.enrich.keyword_tags && s.enrich.enrichment.keyword_tags());
    assert_eq!(s.enrich.max_tags, 10);
    assert!(s.enrich.taxonomy.is_none());
    assert!(s.to_toml().contains("[enrich]"), "{}", s.to_toml());
    let s = load_str(
        FEED,
        &[
            ("FEEDSMITH__ENRICH__MAX_TAGS", "4"),
            ("FEEDSMITH__ENRICH__KEYWORD_TAGS", "false"),
        ],
    )
    .unwrap();
    assert_eq!(s.enrich.enrichment.max_tags(), 4);
    assert!(s.enrich.enrichment.taxonomy_for(&s.feeds[0].url).is_none());
    let e = load_str(&format!("[enrich]\nmax_tag = 3\n{FEED}"), &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("enrich.max_tag") && e.contains("taxonomy"),
        "{e}"
    );
    let e = load_str(&format!("[enrich]\nmax_tags = 0\n{FEED}"), &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("[enrich].max_tags = 0"), "{e}");
}

#[test]
fn taxonomy_files_global_and_per_feed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("mine.toml"),
        "[tags.Feedsmith]\nterms = [\"feedsmith\"]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "[tags.Feedsmith]\nterm = [\"feedsmith\"]\n",
    )
    .unwrap();
    let config = dir.path().join("feedsmith.toml");
    let load = |text: &str| {
        from_parts(Some(text), Source::File(config.clone()), &[], None).map_err(|e| e.to_string())
    };
    // Relative paths start at the configuration file's directory.
    let s = load(&format!("[enrich]\ntaxonomy = \"mine.toml\"\n{FEED}")).unwrap();
    let t = s
        .enrich
        .enrichment
        .tag(&s.feeds[0].url, "feedsmith", "")
        .unwrap();
    assert_eq!(t.tags(), ["Feedsmith"]);
    assert_eq!(s.enrich.taxonomy, Some(dir.path().join("mine.toml")));
    // Per feed: only that feed.
    let text = format!("{FEED}taxonomy = \"mine.toml\"\n[[feeds]]\nname = \"B\"\nurl = \"https://example.org/b.xml\"\ncollection = \"news\"\n");
    let s = load(&text).unwrap();
    let e = &s.enrich.enrichment;
    assert_eq!(
        e.tag("https://example.org/feed.xml", "feedsmith k8s", "")
            .unwrap()
            .tags(),
        ["Feedsmith"]
    );
    assert_eq!(
        e.tag("https://example.org/b.xml", "feedsmith k8s", "")
            .unwrap()
            .tags(),
        ["Kubernetes"]
    );
    assert_eq!(s.enrich.feed_taxonomies.len(), 1);
    let shown = s.to_toml();
    assert!(
        shown.contains(&format!(
            "taxonomy = {:?}",
            dir.path().join("mine.toml").display().to_string()
        )),
        "{shown}"
    );
    // Errors name the configuration file, the key, the taxonomy file, the tag and its key.
    let e = load(&format!("[enrich]\ntaxonomy = \"bad.toml\"\n{FEED}")).unwrap_err();
    assert!(
        e.contains("feedsmith.toml")
            && e.contains("[enrich].taxonomy")
            && e.contains("bad.toml")
            && e.contains("`Feedsmith`")
            && e.contains("`term`"),
        "{e}"
    );
    let e = load(&format!("{FEED}taxonomy = \"missing.toml\"\n")).unwrap_err();
    assert!(
        e.contains("[[feeds]] #1") && e.contains("missing.toml") && e.contains("cannot read"),
        "{e}"
    );
}

#[test]
fn a_refused_feed_value_carries_its_key_path_feed_name_and_line() {
    let text = format!(
        "{FEED}\n[[feeds]]\nname = \"B\"\nurl = \"https://example.org/b.xml\"\ncollection = \"no spaces\"\n"
    );
    let err = load_str(&text, &[]).unwrap_err();
    let problem = err.setting().expect("a setting error");
    assert_eq!(problem.key, "feeds[1].collection");
    assert_eq!(problem.feed.as_deref(), Some("B"));
    assert_eq!(problem.line, Some(6));
    // The message users read is unchanged.
    assert!(
        err.to_string()
            .starts_with("in test.toml: [[feeds]] #2 (line 6) (\"B\"): collection = \"no spaces\""),
        "{err}"
    );
}

#[test]
fn a_table_that_does_not_deserialize_carries_key_line_and_column() {
    let text = format!("{FEED}\n[[feeds]]\nname = \"B\"\nurl = \"https://example.org/b.xml\"\ncollection = \"b\"\n  colour = 1\n");
    let err = load_str(&text, &[]).unwrap_err();
    let problem = err.setting().expect("a setting error");
    assert_eq!(problem.key, "feeds[1].colour");
    assert_eq!(problem.feed.as_deref(), Some("B"));
    assert_eq!((problem.line, problem.column), (Some(10), Some(3)));
    assert!(
        err.to_string().starts_with(
            "in test.toml: feeds[1] (\"B\") at line 10, column 3: unknown field `colour`"
        ),
        "{err}"
    );
}

#[test]
fn an_override_is_named_by_the_key_it_set_not_by_the_text() {
    // The variable sets [http].timeout; the refused key is [http].max_redirects from the file:
    // the file is named, not the variable.
    let text = format!("[http]\nmax_redirects = 99\n{FEED}");
    let err = load_str(&text, &[("FEEDSMITH__HTTP__TIMEOUT", "5s")]).unwrap_err();
    assert!(matches!(err, ConfigError::Invalid { .. }), "{err}");
    let err = load_str(FEED, &[("FEEDSMITH__HTTP__MAX_REDIRECTS", "99")]).unwrap_err();
    match &err {
        ConfigError::Env { var, problem } => {
            assert_eq!(var, "FEEDSMITH__HTTP__MAX_REDIRECTS");
            assert_eq!(problem.key, "[http].max_redirects");
        }
        other => panic!("not attributed to the variable: {other}"),
    }
}

#[test]
fn text_that_is_not_toml_names_its_line() {
    let err = load_str("[http]\ntimeout = \n", &[]).unwrap_err();
    match err {
        ConfigError::Format { line, .. } => assert_eq!(line, Some(2)),
        other => panic!("{other}"),
    }
}
