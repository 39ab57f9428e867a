use super::*;

fn rules(toml_text: &str) -> Vec<Rule> {
    #[derive(serde::Deserialize)]
    struct File {
        rules: Vec<toml::Value>,
    }
    let file: File = toml::from_str(toml_text).unwrap();
    file.rules
        .iter()
        .enumerate()
        .map(|(i, r)| compile_rule(r, &format!("rules[{i}]")).unwrap())
        .collect()
}

fn error(toml_text: &str) -> String {
    let v: toml::Value = toml::from_str(toml_text).unwrap();
    compile_rule(&v, "rules[0]").unwrap_err().to_string()
}

const ENGLISH: &str = "The quick brown fox jumps over the lazy dog while the farmer watches \
    from the porch and wonders whether the weather will hold until the harvest is in.";
const GERMAN: &str = "Der schnelle braune Fuchs springt über den faulen Hund, während der \
    Bauer von der Veranda aus zusieht und sich fragt, ob das Wetter bis zur Ernte hält.";

struct S {
    title: String,
    content: String,
    author: String,
    url: String,
    categories: Vec<String>,
    feed: String,
    collection: String,
    date: DateTime<Utc>,
}

fn subject() -> S {
    S {
        title: "We're hiring a platform engineer".into(),
        content: ENGLISH.into(),
        author: "Ann".into(),
        url: "https://example.org/jobs/1".into(),
        categories: vec!["Careers".into(), "copilot".into()],
        feed: "Example Blog".into(),
        collection: "blogs".into(),
        date: Utc::now() - chrono::Duration::days(10),
    }
}

fn eval(rules_toml: &str, keep_only: bool, s: &S) -> Decision {
    let set = FeedRules::new(rules(rules_toml), keep_only);
    evaluate(
        &set,
        &Subject {
            title: &s.title,
            content: &s.content,
            author: &s.author,
            url: &s.url,
            categories: &s.categories,
            feed: &s.feed,
            collection: &s.collection,
            date: s.date,
            now: Utc::now(),
        },
    )
}

fn matches(when: &str, s: &S) -> bool {
    let d = eval(
        &format!("[[rules]]\nname = \"r\"\nwhen = {when}\naction = \"drop\"\n"),
        false,
        s,
    );
    d.dropped.is_some()
}

#[test]
fn each_regex_field() {
    let s = subject();
    assert!(matches(r#"{ title = "(?i)\\bhiring\\b" }"#, &s));
    assert!(!matches(r#"{ title = "(?i)\\bhire\\b" }"#, &s));
    assert!(matches(r#"{ content = "lazy dog" }"#, &s));
    assert!(matches(r#"{ author = "^Ann$" }"#, &s));
    assert!(matches(r#"{ url = "/jobs/" }"#, &s));
    assert!(matches(r#"{ categories = "(?i)^careers$" }"#, &s));
    assert!(!matches(r#"{ categories = "^Care$" }"#, &s));
    assert!(matches(r#"{ feed = "Example" }"#, &s));
    assert!(matches(r#"{ collection = "^blogs$" }"#, &s));
    assert!(!matches(r#"{ collection = "^community$" }"#, &s));
}

#[test]
fn unicode_word_boundaries_and_case() {
    let mut s = subject();
    s.title = "ÜBER die Straße".into();
    assert!(matches(r#"{ title = "(?i)\\büber\\b" }"#, &s));
    assert!(matches(r#"{ title = "(?i)strasse|straße" }"#, &s));
}

#[test]
fn word_counts() {
    let s = subject(); // 28 words
    assert!(matches("{ words_lt = 200 }", &s));
    assert!(!matches("{ words_lt = 28 }", &s));
    assert!(matches("{ words_lt = 29 }", &s));
    assert!(matches("{ words_gt = 27 }", &s));
    assert!(!matches("{ words_gt = 28 }", &s));
}

#[test]
fn language_and_its_negation() {
    let mut s = subject();
    assert!(matches(r#"{ lang = "en" }"#, &s));
    assert!(!matches(r#"{ lang = "!en" }"#, &s));
    s.content = GERMAN.into();
    assert!(matches(r#"{ lang = "!en" }"#, &s));
    assert!(matches(r#"{ lang = "de" }"#, &s));
    // Unknown (too little text): neither "en" nor "!en".
    s.content = "ok".into();
    assert!(!matches(r#"{ lang = "en" }"#, &s));
    assert!(!matches(r#"{ lang = "!en" }"#, &s));
}

#[test]
fn older_than() {
    let s = subject(); // ten days old
    assert!(matches(r#"{ older_than = "7d" }"#, &s));
    assert!(matches(r#"{ older_than = "1w" }"#, &s));
    assert!(!matches(r#"{ older_than = "30d" }"#, &s));
}

#[test]
fn all_any_not_nest() {
    let s = subject();
    assert!(matches(
        r#"{ any = [{ title = "nothing" }, { author = "Ann" }] }"#,
        &s
    ));
    assert!(!matches(
        r#"{ all = [{ title = "nothing" }, { author = "Ann" }] }"#,
        &s
    ));
    assert!(matches(r#"{ not = { title = "nothing" } }"#, &s));
    assert!(!matches(r#"{ not = { author = "Ann" } }"#, &s));
    assert!(matches(
        r#"{ all = [{ any = [{ title = "x" }, { not = { url = "y" } }] }, { words_lt = 100 }] }"#,
        &s
    ));
    // Several keys of one table: all of them.
    assert!(matches(r#"{ words_lt = 200, collection = "blogs" }"#, &s));
    assert!(!matches(
        r#"{ words_lt = 200, collection = "community" }"#,
        &s
    ));
}

#[test]
fn actions_add_up_until_drop_or_keep() {
    let s = subject();
    let d = eval(
        r#"
        [[rules]]
        name = "tag it"
        when = { content = "fox" }
        action = "tag"
        tags = ["animals", "fox"]

        [[rules]]
        when = { title = "hiring" }
        action = "category"
        category = "Jobs"

        [[rules]]
        name = "route"
        when = { categories = "copilot" }
        action = "route"
        collection = "copilot"

        [[rules]]
        name = "short ok"
        when = { collection = "^copilot$" }
        action = "min_chars"
        min_chars = 10

        [[rules]]
        name = "keep"
        when = { author = "Ann" }
        action = "keep"

        [[rules]]
        name = "never reached"
        when = { author = "Ann" }
        action = "drop"
        "#,
        false,
        &s,
    );
    assert_eq!(d.tags, ["animals", "fox"]);
    assert_eq!(d.categories, ["Jobs"]);
    // The route is seen by the later `collection` condition.
    assert_eq!(d.collection.as_deref(), Some("copilot"));
    assert_eq!(d.min_chars, Some(10));
    assert_eq!(d.dropped, None);
    let names: Vec<&str> = d.applied.iter().map(|a| a.rule.as_str()).collect();
    assert_eq!(names, ["tag it", "rules[1]", "route", "short ok", "keep"]);
    assert_eq!(d.applied[2].action, "route \"copilot\"");
}

#[test]
fn drop_stops_and_names_the_rule() {
    let s = subject();
    let d = eval(
        r#"
        [[rules]]
        name = "no job posts"
        when = { title = "(?i)\\b(hiring|job opening|we're hiring)\\b" }
        action = "drop"

        [[rules]]
        when = { author = "Ann" }
        action = "tag"
        tags = ["x"]
        "#,
        false,
        &s,
    );
    assert_eq!(d.dropped.as_deref(), Some("rule \"no job posts\""));
    assert_eq!(d.dropped_by.as_deref(), Some("no job posts"));
    assert!(d.tags.is_empty());
}

#[test]
fn keep_only_publishes_only_what_a_keep_rule_matched() {
    let s = subject();
    let keep = "[[rules]]\nwhen = { author = \"Ann\" }\naction = \"keep\"\n";
    let other = "[[rules]]\nwhen = { author = \"Bob\" }\naction = \"keep\"\n";
    assert_eq!(eval(keep, true, &s).dropped, None);
    assert_eq!(
        eval(other, true, &s).dropped.as_deref(),
        Some(KEEP_ONLY_REASON)
    );
    // Without keep_only, an entry no rule matched is published.
    assert_eq!(eval(other, false, &s).dropped, None);
    // A drop before the keep still drops.
    let both = "[[rules]]\nwhen = { url = \"jobs\" }\naction = \"drop\"\n[[rules]]\nwhen = { author = \"Ann\" }\naction = \"keep\"\n";
    assert_eq!(
        eval(both, true, &s).dropped.as_deref(),
        Some("rule \"rules[0]\"")
    );
}

#[test]
fn fingerprints_change_with_the_rules() {
    let a = FeedRules::new(
        rules("[[rules]]\nwhen = { title = \"a\" }\naction = \"drop\"\n"),
        false,
    );
    let a2 = FeedRules::new(
        rules("[[rules]]\nwhen = { title = \"a\" }\naction = \"drop\"\n"),
        false,
    );
    let b = FeedRules::new(
        rules("[[rules]]\nwhen = { title = \"b\" }\naction = \"drop\"\n"),
        false,
    );
    let a_keep_only = FeedRules::new(
        rules("[[rules]]\nwhen = { title = \"a\" }\naction = \"drop\"\n"),
        true,
    );
    assert_eq!(a, a2);
    assert_ne!(a.fingerprint(), b.fingerprint());
    assert_ne!(a.fingerprint(), a_keep_only.fingerprint());
    assert_eq!(FeedRules::default().fingerprint(), "");
    assert!(FeedRules::default().is_empty());
    assert!(!FeedRules::new(Vec::new(), true).is_empty());
}

/// The golden messages of bad rules: each names the rule, the key and the fix.
#[test]
fn bad_rules_name_the_rule_and_key() {
    let cases = [
        (
            "name = \"bad\"\nwhen = { title = \"(unclosed\" }\naction = \"drop\"",
            "rule \"bad\" (rules[0]): `when.title`: invalid regex \"(unclosed\": error: unclosed group\n  fix: correct the pattern (syntax: https://docs.rs/regex/#syntax); a literal ( [ . needs a backslash, written \\\\ in a TOML string",
        ),
        (
            "when = { titel = \"x\" }\naction = \"drop\"",
            "rules[0]: `when.titel`: unknown condition\n  fix: use one of: title, content, author, url, categories, feed, collection, words_lt, words_gt, lang, older_than, all, any, not",
        ),
        (
            "name = \"n\"\nwhen = { title = \"x\" }\naction = \"delete\"",
            "rule \"n\" (rules[0]): `action`: unknown action \"delete\"\n  fix: use one of \"drop\", \"keep\", \"tag\", \"category\", \"route\", \"min_chars\"",
        ),
        (
            "name = \"n\"\nwhen = { title = \"x\" }\naction = \"route\"",
            "rule \"n\" (rules[0]): `collection`: missing for action = \"route\"\n  fix: add the collection to route to, e.g. collection = \"copilot\"",
        ),
        (
            "when = { title = \"x\" }\naction = \"drop\"\ncolor = \"red\"",
            "rules[0]: `color`: unknown key\n  fix: use one of: name, when, action, tags, category, collection, min_chars",
        ),
        (
            "when = { lang = \"english\" }\naction = \"drop\"",
            "rules[0]: `when.lang`: \"english\" is not an ISO 639-1 language code the detector knows\n  fix: write a two-letter code, e.g. lang = \"en\", or lang = \"!en\" for any other language",
        ),
        (
            "when = { any = [{ title = \"a\" }, { words_lt = -1 }] }\naction = \"drop\"",
            "rules[0]: `when.any[1].words_lt`: expected a number of 0 or more, found -1\n  fix: write e.g. words_lt = 200",
        ),
        (
            "when = { older_than = \"soon\" }\naction = \"drop\"",
            "rules[0]: `when.older_than`: expected a duration, found \"soon\"\n  fix: write e.g. older_than = \"30d\" (units: s, m, h, d, w)",
        ),
        (
            "action = \"drop\"",
            "rules[0]: `when`: missing\n  fix: add the condition, e.g. when = { title = \"(?i)hiring\" }",
        ),
        (
            "when = { title = \"x\" }\naction = \"drop\"\ntags = [\"a\"]",
            "rules[0]: `tags`: not used by action = \"drop\"\n  fix: remove it, or use the action it belongs to (action = \"tag\")",
        ),
        (
            "when = { title = \"x\" }\naction = \"route\"\ncollection = \"a b\"",
            "rules[0]: `collection`: \"a b\" is not a folder name\n  fix: use letters, digits, '-' or '_' (e.g. \"copilot\")",
        ),
    ];
    for (toml_text, want) in cases {
        assert_eq!(error(toml_text), want, "{toml_text}");
    }
}

proptest::proptest! {
    /// Whatever the entry's strings, evaluating rules never panics.
    #[test]
    fn evaluating_never_panics(
        title in ".*",
        content in ".*",
        author in ".*",
        url in ".*",
        category in ".*",
        days in -100_000i64..100_000,
    ) {
        let set = FeedRules::new(
            rules(r#"
            [[rules]]
            when = { any = [{ title = "(?i)\\bjob\\b" }, { content = "^\\s*$" }, { lang = "!en" }] }
            action = "tag"
            tags = ["x"]

            [[rules]]
            when = { not = { all = [{ words_lt = 5 }, { categories = "." }, { older_than = "1d" }] } }
            action = "route"
            collection = "other"

            [[rules]]
            when = { author = ".", url = "^https", collection = "other", feed = "f", words_gt = 3 }
            action = "drop"
            "#),
            true,
        );
        let categories = vec![category];
        let _ = evaluate(&set, &Subject {
            title: &title,
            content: &content,
            author: &author,
            url: &url,
            categories: &categories,
            feed: "f",
            collection: "blogs",
            date: Utc::now() + chrono::Duration::days(days),
            now: Utc::now(),
        });
    }
}
