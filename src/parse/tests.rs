//! The parse stage on hand-made documents and on the whole real-world corpus.

use std::path::PathBuf;

use super::*;

fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("FEEDSMITH_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared")));
    if dir.join("corpus/MANIFEST.tsv").is_file() {
        Some(dir)
    } else {
        eprintln!("skipping: ../shared/corpus not found");
        None
    }
}

fn corpus_file(name: &str) -> Option<Vec<u8>> {
    Some(std::fs::read(shared()?.join("corpus/feeds").join(name)).expect("corpus file"))
}

#[test]
fn every_corpus_file_parses_or_is_rejected_clearly() {
    let Some(dir) = shared() else { return };
    let manifest = std::fs::read_to_string(dir.join("corpus/MANIFEST.tsv")).unwrap();
    let mut failures = Vec::new();
    let started = std::time::Instant::now();
    let mut ok = 0;
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, quirks, expect) = (cols[0], cols[5], cols[6]);
        let bytes = std::fs::read(dir.join("corpus/feeds").join(file)).unwrap();
        let result = parse_feed(&bytes, None, Some("https://example.org/feed"));
        match (expect, result) {
            ("ok", Ok(feed)) => {
                ok += 1;
                if feed.entries.is_empty() && !quirks.contains("no-entries") {
                    failures.push(format!("{file}: no entries"));
                }
            }
            ("ok", Err(e)) => failures.push(format!("{file}: {e}")),
            (_, Ok(feed)) => failures.push(format!(
                "{file}: a reject file parsed ({} entries)",
                feed.entries.len()
            )),
            (_, Err(ParseError::Panicked { detail })) => {
                failures.push(format!("{file}: panicked: {detail}"))
            }
            (_, Err(_)) => {}
        }
    }
    eprintln!("corpus: {ok} ok files parsed in {:?}", started.elapsed());
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn concrete_values_from_real_feeds() {
    let Some(reddit) = corpus_file("newsyacht__reddit-pics.xml") else {
        return;
    };
    let f = parse_feed(&reddit, None, Some("https://www.reddit.com/r/pics/.rss")).unwrap();
    let e = &f.entries[0];
    assert_eq!(e.id.as_deref(), Some("t3_1pz1lp2"));
    assert_eq!(e.authors, ["/u/NaturePerson88"]);
    assert!(e
        .link
        .as_deref()
        .unwrap()
        .starts_with("https://www.reddit.com/r/pics/comments/1pz1lp2/"));
    assert!(e.content_html.as_deref().unwrap().contains("submitted by"));

    let koi8 = corpus_file("feedparser__chardet-koi8r.xml").unwrap();
    let f = parse_feed(&koi8, None, None).unwrap();
    let title =
        f.entries[0].title.clone().unwrap_or_default() + &f.title.clone().unwrap_or_default();
    assert!(
        title
            .chars()
            .any(|c| ('\u{0400}'..='\u{04FF}').contains(&c)),
        "Cyrillic expected: {title}"
    );

    let json = corpus_file("rssfunnel__json-news.json").unwrap();
    let f = parse_feed(&json, None, None).unwrap();
    assert!(
        f.entries
            .iter()
            .all(|e| e.id.as_deref().is_some_and(|i| !i.is_empty())),
        "integer ids become strings"
    );
}

#[test]
fn garbage_and_bombs_are_errors_not_panics() {
    for doc in [
        &b""[..],
        b"   \n ",
        b"\x00\x01\x02\xff\xfe garbage",
        b"<html><body>hello</body></html>",
        b"<?xml version=\"1.0\"?><!-- nothing -->",
        b"{\"not\": \"a feed\"}",
        b"<rss version=\"2.0\"><channel><item><title>cut",
    ] {
        let _ = parse_feed(doc, None, None);
    }
    let bomb = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">{}]><rss version=\"2.0\"><channel><title>&lol9;</title><item><title>&lol9;</title><link>http://e/1</link></item></channel></rss>",
        (1..10).map(|i| format!("<!ENTITY lol{i} \"{}\">", format!("&lol{};", i - 1).repeat(10))).collect::<String>()
    );
    let started = std::time::Instant::now();
    let r = parse_feed(bomb.as_bytes(), None, None);
    assert!(started.elapsed().as_secs() < 2);
    if let Ok(f) = r {
        let t = f.entries[0].title.clone().unwrap_or_default();
        assert!(
            t.len() < 1000,
            "entities were not expanded: {} bytes",
            t.len()
        );
    }
}

#[test]
fn relative_links_become_absolute_and_ids_are_never_invented() {
    let doc = b"<rss version=\"2.0\"><channel><title>t</title><item><title>a</title><link>/posts/1</link></item></channel></rss>";
    let f = parse_feed(doc, None, Some("https://example.org/blog/feed.xml")).unwrap();
    assert_eq!(
        f.entries[0].link.as_deref(),
        Some("https://example.org/posts/1")
    );
    assert_eq!(f.entries[0].id, None);
}
