//! The parse stage on hand-made documents and on the whole real-world corpus.
use super::*;

fn corpus_file(name: &str) -> Option<Vec<u8>> {
    Some(std::fs::read(crate::shared_dir()?.join("corpus/feeds").join(name)).expect("corpus file"))
}

/// Corpus files allowed to miss their MANIFEST expectation, with the reason. None at present:
/// every `ok` file yields entries (or is tagged `no-entries`) and every `reject` file errors.
const EXCEPTIONS: &[(&str, &str)] = &[];

#[test]
fn every_corpus_file_parses_or_is_rejected_clearly() {
    let Some(dir) = crate::shared_dir() else {
        return;
    };
    let manifest = std::fs::read_to_string(dir.join("corpus/MANIFEST.tsv")).unwrap();
    let mut failures = Vec::new();
    let started = std::time::Instant::now();
    let mut ok = 0;
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, quirks, expect) = (cols[0], cols[5], cols[6]);
        if EXCEPTIONS.iter().any(|(name, _)| *name == file) {
            continue;
        }
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

    assert_eq!(
        f.entries[0].title.as_deref(),
        Some("Как пережить новогоднюю ночь")
    );

    let sjis = corpus_file("feedparser__chardet-shiftjis.xml").unwrap();
    let f = parse_feed(&sjis, None, None).unwrap();
    assert!(f.entries[0]
        .title
        .as_deref()
        .unwrap()
        .starts_with("DrecomRSSに記事投稿"));

    // Declared windows-1252, really UTF-8: the euro sign survives.
    let euro = corpus_file("miniflux__windows-1252-bad-prolog.xml").unwrap();
    let f = parse_feed(&euro, None, None).unwrap();
    assert_eq!(f.title.as_deref(), Some("Euro €"));

    // Undeclared windows-1252 curly quotes (synthetic: no corpus file has them undeclared).
    let cp1252 = b"<rss version=\"2.0\"><channel><title>t</title><item><title>\x93Quoted\x94 and it\x92s fine</title></item></channel></rss>";
    let f = parse_feed(cp1252, None, None).unwrap();
    assert_eq!(
        f.entries[0].title.as_deref(),
        Some("\u{201C}Quoted\u{201D} and it\u{2019}s fine")
    );

    let json = corpus_file("rssfunnel__json-news.json").unwrap();
    let f = parse_feed(&json, None, None).unwrap();
    assert_eq!(
        f.entries[0].id.as_deref(),
        Some("101"),
        "integer ids become strings"
    );
    assert_eq!(f.entries[1].id.as_deref(), Some("102"));
    assert_eq!(
        f.entries[0].content_html.as_deref(),
        Some("<p>Full <b>HTML</b> content</p>")
    );

    let elastic = corpus_file("feedrs__jsonfeed-elastic-1.1.json").unwrap();
    let f = parse_feed(&elastic, None, None).unwrap();
    assert!(f.entries[0]
        .content_text
        .as_deref()
        .unwrap()
        .starts_with("This blog post has been updated"));

    for name in [
        "rssbot__atom03.xml",
        "feedparser__sanitize-script-cdata.xml",
    ] {
        let atom03 = corpus_file(name).unwrap();
        let f = parse_feed(&atom03, None, Some("https://example.org/")).unwrap();
        assert_eq!(f.format, "atom");
        assert!(!f.entries.is_empty(), "{name}");
        if name == "rssbot__atom03.xml" {
            assert!(f
                .entries
                .iter()
                .all(|e| e.published.is_some() && e.updated.is_some()));
        }
    }

    // Relative links resolve against the document URL.
    let samruby = corpus_file("feedjira__samruby.xml").unwrap();
    let f = parse_feed(
        &samruby,
        None,
        Some("http://intertwingly.net/blog/index.atom"),
    )
    .unwrap();
    assert_eq!(
        f.entries[0].link.as_deref(),
        Some("http://intertwingly.net/blog/2013/01/30/Plex")
    );

    // RSS <author> keeps its raw `email (Name)` text; normalize splits it.
    let relurl = corpus_file("feedrs__rss2-relurl-1.xml").unwrap();
    let f = parse_feed(&relurl, None, None).unwrap();
    assert_eq!(
        f.entries[0].authors,
        ["jonas@insanity.industries (Jonas Große Sundrup)"]
    );

    let yt = corpus_file("rssfunnel__youtube.xml").unwrap();
    let f = parse_feed(&yt, None, None).unwrap();
    assert_eq!(f.entries[0].youtube_id.as_deref(), Some("19N79Z4Htl4"));
    assert!(f.entries.iter().all(|e| e.youtube_id.is_some()));

    let urdu = corpus_file("miniflux__urdu-utf8.xml").unwrap();
    assert_eq!(parse_feed(&urdu, None, None).unwrap().ttl_minutes, Some(15));

    // Entries without an id get None, never a generated one.
    let hn = corpus_file("newsyacht__hn.xml").unwrap();
    let f = parse_feed(&hn, None, None).unwrap();
    assert!(f.entries.iter().all(|e| e.id.is_none()));

    let html = corpus_file("miniflux__github-html.html").unwrap();
    let err = parse_feed(&html, Some("text/html"), Some("https://github.com/")).unwrap_err();
    assert!(matches!(err, ParseError::NotAFeed { .. }), "{err}");
    assert!(err.to_string().contains("HTML page"), "{err}");
    let opml = corpus_file("freshrss__opml-default.xml").unwrap();
    let err = parse_feed(&opml, None, None).unwrap_err();
    assert!(err.to_string().contains("OPML"), "{err}");
}

/// Deterministic pseudo-random bytes (xorshift), so a failure can be replayed.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn random_garbage_and_mangled_feeds_never_panic() {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for len in [1usize, 2, 3, 7, 64, 500, 4096, 70_000] {
        for _ in 0..8 {
            let bytes: Vec<u8> = (0..len).map(|_| xorshift(&mut state) as u8).collect();
            assert!(parse_feed(&bytes, None, None).is_err());
            let mut xmlish = b"<?xml version=\"1.0\"?><rss><channel><item>".to_vec();
            xmlish.extend(bytes.iter().map(|b| b"<>&;/\"' a]!["[(*b % 12) as usize]));
            let _ = parse_feed(
                &xmlish,
                Some("text/xml; charset=utf-16"),
                Some("https://e.org/"),
            );
        }
    }
    // A real feed, truncated at arbitrary points and with bytes overwritten.
    let base = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>T &amp; t</title><item><title><![CDATA[a <b>]]></title><link>/a</link><guid>1</guid><description>caf\xC3\xA9 &nbsp;</description></item><item><title>b</title></item></channel></rss>".to_vec();
    for cut in 0..base.len() {
        let _ = parse_feed(&base[..cut], None, Some("https://e.org/feed"));
        let mut mangled = base.clone();
        mangled[cut] = xorshift(&mut state) as u8;
        let _ = parse_feed(&mangled, None, None);
    }
}

#[test]
fn hostile_documents_stay_linear() {
    // Shapes that would make a naive repair pass quadratic: many bare `&`, many unclosed
    // CDATA sections, many unclosed elements, many stray closing tags, deep nesting.
    let docs = [
        "&".repeat(400_000),
        "<![CDATA[x".repeat(60_000),
        "<br>".repeat(100_000),
        "</x>".repeat(100_000),
        "<a>".repeat(50_000) + &"</b>".repeat(50_000),
        "< ".repeat(200_000),
    ];
    for body in docs {
        let doc = format!(
            "<rss version=\"2.0\"><channel><item><title>{body}</title></item></channel></rss>"
        );
        let started = std::time::Instant::now();
        let _ = parse_feed(doc.as_bytes(), None, None);
        assert!(
            started.elapsed().as_secs() < 5,
            "took {:?} on {}...",
            started.elapsed(),
            &body[..10]
        );
    }
}

#[test]
fn json_feed_oddities() {
    let doc = br#"{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[{"id":7,"url":"/p/7","title":"seven","content_text":"plain","content_html":"<p>html</p>","tags":"one","author":"Ann"},{"id":null,"title":"no id"}]}"#;
    let f = parse_feed(
        doc,
        Some("application/feed+json"),
        Some("https://e.org/feed.json"),
    )
    .unwrap();
    assert_eq!(f.format, "json");
    let e = &f.entries[0];
    assert_eq!(e.id.as_deref(), Some("7"));
    assert_eq!(e.link.as_deref(), Some("https://e.org/p/7"));
    assert_eq!(e.content_text.as_deref(), Some("plain"));
    assert_eq!(e.content_html.as_deref(), Some("<p>html</p>"));
    assert_eq!(e.summary_html, None);
    assert_eq!(e.categories, ["one"]);
    assert_eq!(f.entries[1].id, None);
    assert!(matches!(
        parse_feed(br#"{"hello":"world"}"#, None, None),
        Err(ParseError::NotAFeed { .. })
    ));
    assert!(matches!(
        parse_feed(b"{not json", None, None),
        Err(ParseError::Malformed { .. })
    ));
}

#[test]
fn feeds_without_entries_are_ok() {
    let doc = b"<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>quiet</title><ttl>60</ttl><skipHours><hour>3</hour></skipHours></channel></rss>";
    let f = parse_feed(doc, None, None).unwrap();
    assert!(f.entries.is_empty());
    assert_eq!(f.ttl_minutes, Some(60));
    assert_eq!(f.skip_hours, [3]);
    assert!(matches!(
        parse_feed(b"", None, None),
        Err(ParseError::Empty)
    ));
    assert!(matches!(
        parse_feed(b"\xEF\xBB\xBF  <!-- nothing -->", None, None),
        Err(ParseError::Empty)
    ));
    assert!(matches!(
        parse_feed(b"just some text", None, None),
        Err(ParseError::NotAFeed { .. })
    ));
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

/// RSS 1.0 items with only `rdf:about` (feed-rs drops an item without `<link>`): the about URI
/// becomes the link; a non-http(s) about is never used, an item with a link keeps it.
#[test]
fn rdf_items_identified_by_rdf_about() {
    let doc = r#"<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"><channel rdf:about="https://e.org/"><title>T</title><link>https://e.org/</link><description>d</description><items/></channel>
<item rdf:about="https://e.org/1?a=1&amp;b=2"><title>One</title><description>x</description></item>
<item rdf:about="https://e.org/2"><title>Two</title><link>https://e.org/two-link</link></item>
<item rdf:about="javascript:alert(1)"><title>Three</title><description>x</description></item>
</rdf:RDF>"#;
    let feed = parse_feed(doc.as_bytes(), None, None).unwrap();
    let links: Vec<Option<&str>> = feed.entries.iter().map(|e| e.link.as_deref()).collect();
    assert_eq!(
        links,
        [
            Some("https://e.org/1?a=1&b=2"),
            Some("https://e.org/two-link")
        ],
        "the javascript: item has no address and feed-rs drops it"
    );
    assert_eq!(feed.link.as_deref(), Some("https://e.org/"));
    // Untouched when there is nothing to do.
    let plain = "<rss><channel><item><link>https://e.org/</link></item></channel></rss>";
    assert!(matches!(
        repair::rdf_item_links(plain),
        std::borrow::Cow::Borrowed(_)
    ));
}

/// issue 21: an RDF feed cut after its last item (`</rdf:RDF` without `>`), or inside the
/// closing tags, keeps every complete item and reports the repair; a cut inside an item keeps
/// the items before it.
#[test]
fn truncated_documents_keep_their_complete_entries() {
    let mut doc = String::from(
        r#"<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"><channel rdf:about="https://e.org/"><title>T</title><link>https://e.org/</link><description>d</description></channel>"#,
    );
    for n in 1..=3 {
        doc.push_str(&format!(
            "\n<item rdf:about=\"https://e.org/{n}\"><title>Item {n}</title><link>https://e.org/{n}</link><description>Text {n}.</description></item>"
        ));
    }
    doc.push_str("\n</rdf:RDF>");
    let whole = parse_feed(doc.as_bytes(), None, None).unwrap();
    assert_eq!(whole.entries.len(), 3);
    assert!(whole.repairs.is_empty());
    // Cut to `...</rdf:RDF`, `...</rdf:`, `...\n</`, `...</item>`, `...</item`.
    for drop in [1, 5, 8, 11, 12] {
        let short = &doc[..doc.len() - drop];
        let cut = &doc[doc.len() - drop - 10..doc.len() - drop];
        let feed =
            parse_feed(short.as_bytes(), None, None).unwrap_or_else(|e| panic!("cut {cut:?}: {e}"));
        assert_eq!(feed.entries.len(), 3, "cut {cut:?}");
        assert_eq!(feed.repairs, ["truncated"], "cut {cut:?}");
    }
    let inside = &doc[..doc.rfind("<description>Text 3").unwrap() + 8];
    let feed = parse_feed(inside.as_bytes(), None, None).unwrap();
    assert!(feed.entries.len() >= 2, "{:?}", feed.entries);
    assert_eq!(feed.entries[1].title.as_deref(), Some("Item 2"));
}
