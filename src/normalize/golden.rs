//! The golden cases of `../shared/spec/cases/*.json`, every one of them, plus the spec's worked
//! example rendered end to end.

use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use serde_json::Value;

use super::*;

fn cases(name: &str) -> Option<Vec<Value>> {
    let dir = std::env::var_os("FEEDSMITH_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared")));
    let path = dir.join("spec/cases").join(name);
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!(
            "skipping: {} not found (../shared is absent)",
            path.display()
        );
        return None;
    };
    let v: Value = serde_json::from_str(&text).expect("valid case file");
    Some(v["cases"].as_array().expect("cases array").clone())
}

#[test]
fn slug_path_and_permalink_cases() {
    let Some(cases) = cases("slug.json") else {
        return;
    };
    assert!(cases.len() >= 20);
    for c in cases {
        let title = c["title"].as_str().unwrap();
        let slug = slugify(title);
        assert_eq!(slug, c["slug"].as_str().unwrap(), "slug of {title:?}");
        let date = parse_date(c["date"].as_str().unwrap()).unwrap();
        let post = Post {
            entry_key: String::new(),
            title: title.into(),
            description: String::new(),
            author: String::new(),
            canonical_url: String::new(),
            viewing_mode: String::new(),
            feed_name: String::new(),
            feed_url: String::new(),
            collection: c["collection"].as_str().unwrap().into(),
            date,
            slug,
            categories: vec![],
            tags: vec![],
            tags_normalized: vec![],
            excerpt: String::new(),
            content_markdown: String::new(),
            youtube_id: None,
            reddit_segment: None,
            content_hash: String::new(),
        };
        assert_eq!(
            post_path(&post),
            c["path"].as_str().unwrap(),
            "path of {title:?}"
        );
        assert_eq!(
            permalink(&post, &RenderOptions::default().permalink),
            c["permalink"].as_str().unwrap()
        );
    }
}

#[test]
fn date_cases() {
    let Some(cases) = cases("date.json") else {
        return;
    };
    for c in cases {
        let input = c["input"].as_str().unwrap();
        let d = parse_date(input).unwrap_or_else(|| panic!("cannot parse {input:?}"));
        assert_eq!(format_date(&d), c["date"].as_str().unwrap(), "{input}");
    }
}

#[test]
fn author_cases() {
    let Some(cases) = cases("author.json") else {
        return;
    };
    for c in cases {
        let names: Vec<String> = c["entry_authors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        let got = author(
            &names,
            c["feed_author"].as_str(),
            c["feed_name"].as_str().unwrap(),
        );
        assert_eq!(got, c["author"].as_str().unwrap(), "{c}");
    }
}

#[test]
fn tags_normalized_cases() {
    let Some(cases) = cases("tags_normalized.json") else {
        return;
    };
    for c in cases {
        assert_eq!(
            normalize_tag(c["tag"].as_str().unwrap()),
            c["normalized"].as_str().unwrap(),
            "{c}"
        );
    }
}

fn seed_entry() -> (FeedConfig, ParsedFeed, ParsedEntry) {
    let mut feed = FeedConfig::new(
        "Reddit DevOps",
        "https://www.reddit.com/r/devops/.rss",
        "community",
    );
    feed.categories = vec!["DevOps".into()];
    let link = "https://www.reddit.com/r/devops/comments/1mgx0a4/transitioning_from_backend_developer_to_devops/";
    let body =
        "I have been a backend developer for five years, mostly writing APIs in Java and Node.js. \
                Lately I have been doing more deployment work and I enjoy it. "
            .repeat(8);
    let html = format!(
        "<!-- SC_OFF --><div class=\"md\"><p>{body}</p><p>What should I learn first?</p></div><!-- SC_ON --> &#32; submitted by &#32; \
         <a href=\"https://www.reddit.com/user/DemiladeDee\"> /u/DemiladeDee </a> <br/> <span><a href=\"{link}\">[link]</a></span> &#32; \
         <span><a href=\"{link}\">[comments]</a></span>"
    );
    let entry = ParsedEntry {
        id: Some("t3_1mgx0a4".into()),
        link: Some(link.into()),
        title: Some("Transitioning from Backend Developer to DevOps".into()),
        authors: vec!["/u/DemiladeDee".into()],
        published: Some(Utc.with_ymd_and_hms(2025, 8, 3, 22, 48, 15).unwrap()),
        categories: vec!["devops".into()],
        content_html: Some(html),
        ..ParsedEntry::default()
    };
    (feed, ParsedFeed::default(), entry)
}

#[test]
fn worked_example_renders_the_seed_layout() {
    let (feed, parsed, entry) = seed_entry();
    let Normalized::Post(post) = normalize_entry(&feed, &parsed, &entry, Utc::now()).unwrap()
    else {
        panic!("the seed entry is long enough to publish");
    };
    let file = render_post(&post, &RenderOptions::default());
    let expected_head = "---\nlayout: \"post\"\ntitle: \"Transitioning from Backend Developer to DevOps\"\ndescription: \"";
    assert!(file.starts_with(expected_head), "{file}");
    let fm: Vec<&str> = file.lines().skip(1).take_while(|l| *l != "---").collect();
    let keys: Vec<&str> = fm.iter().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "layout",
            "title",
            "description",
            "author",
            "excerpt_separator",
            "canonical_url",
            "viewing_mode",
            "feed_name",
            "feed_url",
            "date",
            "permalink",
            "categories",
            "tags",
            "tags_normalized"
        ]
    );
    for line in [
        "author: \"DemiladeDee\"",
        "excerpt_separator: <!--excerpt_end-->",
        "viewing_mode: \"external\"",
        "feed_url: https://www.reddit.com/r/devops/.rss",
        "date: 2025-08-03 22:48:15 +00:00",
        "permalink: \"/community/2025-08-03-Transitioning-from-Backend-Developer-to-DevOps.html\"",
        "categories: [\"DevOps\"]",
        "tags: [\"Community\", \"DevOps\"]",
        "tags_normalized: [\"community\", \"devops\"]",
    ] {
        assert!(fm.contains(&line), "missing {line:?} in\n{file}");
    }
    assert_eq!(
        post_path(&post),
        "_community/2025-08-03-Transitioning-from-Backend-Developer-to-DevOps.md"
    );
    let body = file.split_once("\n---\n\n").unwrap().1;
    let (excerpt, rest) = body.split_once("<!--excerpt_end-->\n\n").unwrap();
    assert!(
        excerpt.starts_with("I have been a backend developer") && excerpt.chars().count() <= 300,
        "{excerpt}"
    );
    assert!(
        rest.starts_with(
            "## Transitioning from Backend Developer to DevOps\n\n**Author:** DemiladeDee\n\n"
        ),
        "{rest}"
    );
    assert!(file.ends_with(
        "\n\nThis post appeared first on \"Reddit DevOps\". [Read the entire article here](https://www.reddit.com/r/devops/comments/1mgx0a4/transitioning_from_backend_developer_to_devops/)\n"
    ));
    assert!(
        !file.contains("submitted by") && !file.contains("SC_OFF") && !file.contains("[Link]"),
        "{file}"
    );
    assert!(
        post.description.chars().count() <= 200 && post.description.ends_with('.'),
        "{}",
        post.description
    );
    assert_eq!(
        post.reddit_segment.as_deref(),
        Some("transitioning_from_backend_developer_to_devops")
    );
}

#[test]
fn short_community_entries_are_skipped_and_hash_is_stable() {
    let (feed, parsed, mut entry) = seed_entry();
    entry.content_html = Some("<p>Too short.</p>".into());
    assert!(matches!(
        normalize_entry(&feed, &parsed, &entry, Utc::now()).unwrap(),
        Normalized::Skipped(_)
    ));
    assert_eq!(
        entry_hash(&feed, &parsed, &entry),
        entry_hash(&feed, &parsed, &entry)
    );
    let mut changed = entry.clone();
    changed.title = Some("Other".into());
    assert_ne!(
        entry_hash(&feed, &parsed, &entry),
        entry_hash(&feed, &parsed, &changed)
    );
}

#[test]
fn entry_keys_never_random() {
    let feed = FeedConfig::new("F", "https://e/f", "blogs");
    let mut e = ParsedEntry {
        title: Some("T".into()),
        ..ParsedEntry::default()
    };
    let k1 = entry_key(&feed, &e);
    assert_eq!(k1, entry_key(&feed, &e));
    assert!(k1.starts_with("sha256:"));
    e.link = Some("https://e/1".into());
    assert_eq!(entry_key(&feed, &e), "https://e/1");
    e.id = Some("guid-1".into());
    assert_eq!(entry_key(&feed, &e), "guid-1");
}

#[test]
fn hostile_titles_render_safe_front_matter() {
    let feed = FeedConfig::new("Feed \"X\"", "https://e/f", "blogs");
    for title in [
        "---",
        "a: b",
        "\"quoted\" title",
        "&anchor *alias !tag",
        "line\nbreak",
        "emoji 🦀 RTL \u{202E}txet",
        "#comment",
        "back\\slash\"",
    ] {
        let e = ParsedEntry {
            id: Some("1".into()),
            link: Some("https://e/1".into()),
            title: Some(title.into()),
            authors: vec![title.into()],
            categories: vec![title.into()],
            content_html: Some("<p>Body.</p>".into()),
            ..ParsedEntry::default()
        };
        let Normalized::Post(p) =
            normalize_entry(&feed, &ParsedFeed::default(), &e, Utc::now()).unwrap()
        else {
            panic!()
        };
        let file = render_post(&p, &RenderOptions::default());
        let fm: Vec<&str> = file.lines().skip(1).take_while(|l| *l != "---").collect();
        assert_eq!(fm.len(), 14, "one line per field for {title:?}:\n{file}");
        assert_eq!(file.matches("\n---\n").count(), 1, "{file}");
        for line in &fm[1..4] {
            let value = line.split_once(": ").unwrap().1;
            assert!(value.starts_with('"') && value.ends_with('"'), "{line}");
            let inner = &value[1..value.len() - 1];
            let mut escaped = false;
            for c in inner.chars() {
                assert!(escaped || c != '"', "unescaped quote in {line}");
                escaped = !escaped && c == '\\';
            }
        }
    }
}

#[test]
fn videos_layout() {
    let mut feed = FeedConfig::new(
        "DotNet YouTube",
        "https://www.youtube.com/feeds/videos.xml?channel_id=X",
        "videos",
    );
    feed.categories = vec!["Coding".into()];
    let e = ParsedEntry {
        id: Some("yt:video:H_gOSliozjM".into()),
        link: Some("https://www.youtube.com/watch?v=H_gOSliozjM".into()),
        title: Some("ASP.NET Community Standup".into()),
        authors: vec!["dotnet".into()],
        summary_html: Some("A deep dive.".into()),
        ..ParsedEntry::default()
    };
    let Normalized::Post(p) =
        normalize_entry(&feed, &ParsedFeed::default(), &e, Utc::now()).unwrap()
    else {
        panic!()
    };
    let file = render_post(&p, &RenderOptions::default());
    assert!(file.contains("viewing_mode: \"internal\""));
    assert!(
        file.contains(
            "A deep dive.<!--excerpt_end-->\n\n{% youtube H_gOSliozjM %}\n\nA deep dive.\n"
        ),
        "{file}"
    );
    assert!(
        !file.contains("**Author:**") && !file.contains("appeared first"),
        "{file}"
    );
    let link = render_post(
        &p,
        &RenderOptions {
            video_embed: VideoEmbed::Link,
            ..RenderOptions::default()
        },
    );
    assert!(
        link.contains("[Watch on YouTube](https://www.youtube.com/watch?v=H_gOSliozjM)"),
        "{link}"
    );
}
