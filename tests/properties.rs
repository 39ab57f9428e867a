//! Property tests of the invariants that keep output safe whatever the input: slug charset and
//! length, export path containment, front matter that round-trips through a YAML 1.2 parser to
//! the intended values, and idempotent `tags_normalized`.

use chrono::{TimeZone, Utc};
use feedsmith::domain::{FeedConfig, ParsedEntry, ParsedFeed};
use feedsmith::normalize::{
    clean_scalar, normalize_entry, normalize_tag, post_path, render_post, slugify, Normalized,
    RenderOptions,
};
use feedsmith::publish::contained_path;
use proptest::prelude::*;
use yaml_rust2::{Yaml, YamlLoader};

/// Strings heavy in what breaks things: quotes, YAML indicators, newlines, markup, unicode.
fn nasty() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "---", ": ", "#", "&a", "*a", "!tag", "|", ">", "'", "\"", "\\", "\n", "\r\n", "\t", "<b>",
        "</b>", "<script>", "{{", "{%", "..", "/", "é", "ß", "日本", "🦀", "\u{202E}", "\u{0}",
        "\u{7}", "\u{85}", "\u{2028}", "%", "@", "`", " ", "word", "C#", "CI/CD",
    ]);
    prop_oneof![
        prop::collection::vec(pieces, 0..12).prop_map(|v| v.concat()),
        "\\PC{0,60}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn slugs_are_safe(title in nasty()) {
        let s = slugify(&title);
        prop_assert!(!s.is_empty());
        prop_assert!(s.chars().count() <= 200);
        prop_assert!(s.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_'), "{s:?}");
        prop_assert!(!s.starts_with('-') && !s.ends_with('-'));
    }

    #[test]
    fn tags_normalized_is_idempotent(tag in nasty()) {
        let once = normalize_tag(&tag);
        prop_assert_eq!(normalize_tag(&once), once.clone());
        prop_assert!(once.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == ' '));
    }

    #[test]
    fn front_matter_round_trips_and_paths_stay_inside(
        title in nasty(), author in nasty(), category in nasty(), name in nasty(), collection in "[a-z][a-z0-9_-]{0,12}"
    ) {
        let mut feed = FeedConfig::new(name.clone(), "https://example.org/feed.xml", collection);
        feed.categories = vec![category.clone()];
        feed.min_content_chars = Some(0);
        let entry = ParsedEntry {
            id: Some("id-1".into()),
            link: Some("https://example.org/post?a=1&b=\"2\"".into()),
            title: Some(title),
            authors: vec![author],
            categories: vec![category],
            published: Some(Utc.with_ymd_and_hms(2025, 8, 3, 22, 48, 15).unwrap()),
            content_html: Some("<p>Body.</p>".into()),
            ..ParsedEntry::default()
        };
        let Normalized::Post(post) = normalize_entry(&feed, &ParsedFeed::default(), &entry, Utc::now()).unwrap() else {
            return Err(TestCaseError::fail("a post was expected"));
        };
        let file = render_post(&post, &RenderOptions::default());
        let fm = file.strip_prefix("---\n").and_then(|r| r.split_once("\n---\n")).map(|(fm, _)| fm).expect("front matter");
        let docs = YamlLoader::load_from_str(fm).map_err(|e| TestCaseError::fail(format!("YAML error {e} in\n{fm}")))?;
        prop_assert_eq!(docs.len(), 1);
        let doc = &docs[0];
        let keys: Vec<&str> = doc.as_hash().unwrap().keys().map(|k| k.as_str().unwrap()).collect();
        prop_assert_eq!(keys, vec!["layout", "title", "description", "author", "excerpt_separator", "canonical_url", "viewing_mode",
            "feed_name", "feed_url", "date", "permalink", "categories", "tags", "tags_normalized"]);
        let s = |k: &str| doc[k].as_str().map(str::to_string);
        prop_assert_eq!(s("title"), Some(clean_scalar(&post.title)));
        prop_assert_eq!(s("author"), Some(clean_scalar(&post.author)));
        prop_assert_eq!(s("feed_name"), Some(clean_scalar(&post.feed_name)));
        prop_assert_eq!(s("canonical_url"), Some(post.canonical_url.clone()));
        prop_assert_eq!(s("excerpt_separator"), Some("<!--excerpt_end-->".to_string()));
        let list = |k: &str| doc[k].as_vec().map(|v| v.iter().map(|x| x.as_str().unwrap_or("<not a string>").to_string()).collect::<Vec<_>>());
        prop_assert_eq!(list("tags"), Some(post.tags.iter().map(|t| clean_scalar(t)).collect()));
        prop_assert_eq!(list("tags_normalized"), Some(post.tags_normalized.clone()));
        prop_assert_eq!(list("categories"), Some(post.categories.iter().map(|t| clean_scalar(t)).collect()));
        prop_assert!(matches!(doc["date"], Yaml::String(_)), "the date stays a plain scalar");

        let path = post_path(&post);
        let safe = contained_path(&path);
        prop_assert!(safe.is_some(), "{path:?} must be a contained path");
        // `Path::starts_with` after a join always holds, so check the shape instead: exactly the
        // collection's directory and one file name, unchanged from the stored path.
        let safe = safe.unwrap();
        let parts: Vec<String> = safe
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        prop_assert_eq!(safe.to_str(), Some(path.as_str()));
        prop_assert_eq!(parts.len(), 2, "{:?}", parts);
        prop_assert_eq!(&parts[0], &format!("_{}", post.collection));
        prop_assert!(parts[1].ends_with(".md") && !parts[1].starts_with('.'), "{:?}", parts);
    }
}
