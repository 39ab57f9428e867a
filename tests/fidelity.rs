//! Fidelity on real feed shapes (issue 21), end to end: the real binary polls feeds served from
//! loopback and the stored or inspected posts are checked.

use std::collections::HashSet;

use crate::support::{feed_toml, jekyll, jekyll_build, jekyll_site, Reply, TestServer, Workspace};

/// Enough text for any collection's `min_content_chars`.
fn long(topic: &str) -> String {
    (0..4)
        .map(|i| format!("Part {i} of the notes on {topic}, written out in full sentences."))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A podcast: items with only an enclosure (no link, no guid), plus one whose link is
/// `javascript:` (hostile: it must never become the canonical URL).
fn podcast() -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Cast</title><link>https://cast.example.org/</link><description>d</description>\n",
    );
    for n in 1..=3 {
        s.push_str(&format!(
            "<item><title>Episode {n}</title><pubDate>Sun, 0{n} Aug 2025 10:00:00 GMT</pubDate><description>{}</description><enclosure url=\"https://cdn.example.org/ep{n}.mp3\" length=\"1\" type=\"audio/mpeg\"/></item>\n",
            long(&format!("episode {n}"))
        ));
    }
    s.push_str(&format!(
        "<item><title>Episode 4</title><link>javascript:alert(1)</link><pubDate>Mon, 04 Aug 2025 10:00:00 GMT</pubDate><description>{}</description></item>\n",
        long("episode 4")
    ));
    s.push_str("</channel></rss>\n");
    s
}

/// Announcements: a title, a date and text, nothing else (no link, no guid, no enclosure).
fn announcements() -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>News</title><link>https://news.example.org/announce/</link><description>d</description>\n",
    );
    for n in 1..=2 {
        s.push_str(&format!(
            "<item><title>Announcement {n}</title><pubDate>Tue, 0{n} Jul 2025 08:00:00 GMT</pubDate><description>{}</description></item>\n",
            long(&format!("announcement {n}"))
        ));
    }
    s.push_str("</channel></rss>\n");
    s
}

/// An RDF (RSS 1.0) feed whose items carry only `rdf:about`.
fn rdf() -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\"?><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://purl.org/rss/1.0/\"><channel rdf:about=\"https://rdf.example.org/\"><title>RDF</title><link>https://rdf.example.org/</link><description>d</description></channel>\n",
    );
    for n in 1..=2 {
        s.push_str(&format!(
            "<item rdf:about=\"https://rdf.example.org/items/{n}\"><title>Item {n}</title><description>{}</description></item>\n",
            long(&format!("item {n}"))
        ));
    }
    s.push_str("</rdf:RDF>\n");
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_less_entries_get_stable_unique_canonical_urls() {
    let server = TestServer::start().await;
    server.route("/cast.xml", Reply::feed(podcast()));
    server.route("/news.xml", Reply::feed(announcements()));
    server.route("/rdf.xml", Reply::feed(rdf()));
    let feeds = [
        feed_toml("Cast", &server.url("/cast.xml"), "blogs", ""),
        feed_toml("News", &server.url("/news.xml"), "news", ""),
        feed_toml("RDF", &server.url("/rdf.xml"), "blogs", ""),
    ]
    .concat();
    let ws = Workspace::new("[enrich]\nkeyword_tags = false\n", &feeds);
    let first = ws.run(&["fetch"]).await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    let posts = ws.posts().await;
    let urls: Vec<String> = posts
        .iter()
        .map(|p| p["canonical_url"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(urls.len(), 8, "every entry is a post: {urls:?}");
    assert_eq!(
        urls.iter().collect::<HashSet<_>>().len(),
        8,
        "unique: {urls:?}"
    );
    for n in 1..=3 {
        assert!(
            urls.contains(&format!("https://cdn.example.org/ep{n}.mp3")),
            "{urls:?}"
        );
    }
    for n in 1..=2 {
        assert!(
            urls.contains(&format!("https://rdf.example.org/items/{n}")),
            "{urls:?}"
        );
    }
    // No link, no enclosure: the site link with the key's digest; never the `javascript:` link.
    let site: Vec<&String> = urls
        .iter()
        .filter(|u| {
            u.starts_with("https://news.example.org/announce/#")
                || u.starts_with("https://cast.example.org/#")
        })
        .collect();
    assert_eq!(site.len(), 3, "{urls:?}");
    for u in &site {
        let digest = u.rsplit('#').next().unwrap();
        assert!(
            digest.len() == 12 && digest.bytes().all(|b| b.is_ascii_hexdigit()),
            "{u}"
        );
    }
    assert!(!urls.iter().any(|u| u.contains("javascript")), "{urls:?}");

    // A second poll (the server sends the documents again, ETags aside) finds the same posts.
    server.route("/cast.xml", Reply::feed(podcast() + " "));
    server.route("/news.xml", Reply::feed(announcements() + " "));
    server.route("/rdf.xml", Reply::feed(rdf() + " "));
    let second = ws.run(&["fetch"]).await;
    assert_eq!(second.code, 0, "{}", second.stderr);
    let again: HashSet<String> = ws
        .posts()
        .await
        .iter()
        .map(|p| p["canonical_url"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(again, urls.iter().cloned().collect::<HashSet<_>>());

    // Each footer points at the post's canonical URL.
    for u in &urls {
        let shown = ws.run(&["posts", "show", u]).await;
        assert_eq!(shown.code, 0, "{u}: {}", shown.stderr);
        assert!(
            shown
                .stdout
                .trim_end()
                .ends_with(&format!("[Read the entire article here]({u})")),
            "{}",
            shown.stdout
        );
    }
}

/// The corpus's YouTube channel feed (`techhub__dotnet-youtube.rss`, Atom with `media:group`):
/// the video's `media:description` is the content and its hashtags are tags.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn youtube_description_is_the_content_and_its_hashtags_are_tags() {
    let Some(shared) = crate::support::shared_dir() else {
        return;
    };
    let server = TestServer::start().await;
    let doc = std::fs::read(shared.join("corpus/feeds/techhub__dotnet-youtube.rss")).unwrap();
    server.route("/videos.xml", Reply::feed(doc));
    let ws = Workspace::new("[enrich]\nkeyword_tags = false\n", "");
    let out = ws
        .run(&[
            "inspect",
            "--json",
            "--collection",
            "videos",
            &server.url("/videos.xml"),
        ])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let posts: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(posts.len(), 1);
    let p = &posts[0];
    let file = p["file"].as_str().unwrap();
    let title = p["title"].as_str().unwrap();
    let description = p["description"].as_str().unwrap();
    assert_ne!(
        description, title,
        "the description is the video's, not its title"
    );
    assert!(
        description.starts_with("Everyone is talking about AI"),
        "{description}"
    );
    let after_embed = file
        .split_once("{% youtube yO_TH3R8KMw %}\n\n")
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    assert!(
        after_embed.starts_with("Everyone is talking about AI")
            && after_embed.contains("how will they change in the near future?"),
        "{file}"
    );
    let tags: Vec<&str> = p["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    // `#dotnet #dotnetdeveloper`: `.NET` by the known-term map, the other capitalized.
    assert!(
        tags.contains(&".NET") && tags.contains(&"Dotnetdeveloper"),
        "{tags:?}"
    );
}

/// `inspect --json` of a corpus file served from loopback, as `collection`.
async fn inspect_corpus(file: &str, collection: &str) -> Option<Vec<serde_json::Value>> {
    let shared = crate::support::shared_dir()?;
    let server = TestServer::start().await;
    let doc = std::fs::read(shared.join("corpus/feeds").join(file)).unwrap();
    server.route("/feed.xml", Reply::feed(doc));
    let ws = Workspace::new("[enrich]\nkeyword_tags = false\n", "");
    let out = ws
        .run(&[
            "inspect",
            "--json",
            "--collection",
            collection,
            &server.url("/feed.xml"),
        ])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    Some(serde_json::from_str(&out.stdout).unwrap())
}

/// post-format.md 7.2 on the corpus's Reddit link and image posts: the README's `--explain`
/// example (Qwen3-Next, a self-text post in a thumbnail table) is clean self text, and an image
/// post is its preview image with the shared link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reddit_thumbnail_tables_give_clean_posts() {
    let Some(posts) = inspect_corpus("redditproxy__localllama.xml", "community").await else {
        return;
    };
    let qwen = posts
        .iter()
        .find(|p| p["title"].as_str().unwrap().contains("Qwen3-Next 80B MoE"))
        .expect("the Qwen3-Next post");
    let file = qwen["file"].as_str().unwrap();
    let body = file.split_once("**Author:** ").unwrap().1;
    assert!(
        body.contains("\n\nHey fellow 50 series brothers in pain,\n\n"),
        "{body}"
    );
    for bad in ["&lt;br", "|---", "<table", "&lt;table", "submitted by"] {
        assert!(!body.contains(bad), "{bad} in {body}");
    }
    assert!(!body.lines().any(|l| l.starts_with('|')), "{body}");
    // No post of the feed (15 of its 25 entries are table-wrapped) keeps the thumbnail table:
    // its cell would hold the preview image and Reddit's trailer. (Tables the authors wrote in
    // their self text stay tables.)
    for p in &posts {
        let f = p["file"].as_str().unwrap();
        let in_tables = |needle: &str| f.lines().any(|l| l.starts_with('|') && l.contains(needle));
        assert!(
            !f.contains("&lt;br") && !in_tables("![") && !in_tables("submitted"),
            "{f}"
        );
    }

    let Some(posts) = inspect_corpus("newsyacht__reddit-pics.xml", "news").await else {
        return;
    };
    let aspen = posts
        .iter()
        .find(|p| p["title"].as_str().unwrap().contains("aspen trees"))
        .expect("the image post");
    let file = aspen["file"].as_str().unwrap();
    assert!(
        file.contains("![](https://preview.redd.it/sne0ns4j88ag1.jpeg?width=640&crop=smart&auto=webp&s=fabffda7e3d991c8baab4c4cb48dbf6a9d663b52)\n\n[Link](https://i.redd.it/sne0ns4j88ag1.jpeg)\n\n"),
        "{file}"
    );
    assert!(!file.contains('|'), "{file}");
}

/// How often `<tag` occurs in `text` written as escaped markup (`&lt;tag` followed by a space,
/// `>` or `/`), case-insensitively.
fn escaped_tags(text: &str, tag: &str) -> usize {
    let lower = text.to_ascii_lowercase();
    let needle = format!("&lt;{tag}");
    lower
        .match_indices(&needle)
        .filter(|(i, _)| {
            lower[i + needle.len()..]
                .chars()
                .next()
                .is_some_and(|c| c == ' ' || c == '>' || c == '/' || c == '&')
        })
        .count()
}

/// How often `<tag` occurs as text in a post's markdown, in the forms the converter writes
/// source text in: `\<tag` in the content, `<tag` in code, and `&lt;tag` only on feedsmith's own
/// escaped lines (the excerpt, the `## title`, the author). Escaped markup (`&lt;img` in the
/// content) does not count, so a page showing it fails.
fn text_tags(md: &str, tag: &str) -> usize {
    let body = md
        .split_once("\n---\n")
        .map_or(md, |(_, b)| b)
        .to_ascii_lowercase();
    let raw = format!("<{tag}");
    let escaped = format!("&lt;{tag}");
    body.lines()
        .map(|l| {
            let own = l.ends_with("<!--excerpt_end-->")
                || l.starts_with("## ")
                || l.starts_with("**author:**");
            l.matches(&raw).count() + if own { l.matches(&escaped).count() } else { 0 }
        })
        .sum()
}

/// The whole corpus, served from loopback, fetched, exported and built by the real `jekyll`:
/// no page shows `&lt;img`, `&lt;br`, `&lt;p` or `&lt;table` text beyond what its post's
/// source had as text (which the post's markdown holds as `\<img`, or in code), and every post
/// passes the linter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jekyll_build_of_the_corpus_shows_no_escaped_markup() {
    let Some(jekyll) = jekyll() else {
        return;
    };
    let Some(shared) = crate::support::shared_dir() else {
        return;
    };
    let manifest = std::fs::read_to_string(shared.join("corpus/MANIFEST.tsv")).unwrap();
    let server = TestServer::start().await;
    let mut feeds = String::new();
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols[6] != "ok" {
            continue;
        }
        let route = format!("/{}", cols[0]);
        server.route(
            &route,
            Reply::feed(std::fs::read(shared.join("corpus/feeds").join(cols[0])).unwrap()),
        );
        feeds.push_str(&feed_toml(cols[0], &server.url(&route), "blogs", ""));
    }
    let ws = Workspace::new("[enrich]\nkeyword_tags = false\n", &feeds);
    let out = ws.run(&["fetch"]).await;
    assert!(out.code == 0, "{}", out.stderr);
    let site = ws.dir.path().join("site");
    jekyll_site(
        &site,
        "title: corpus\ncollections:\n  blogs:\n    output: true\n",
        "<html><body>{{ content }}</body></html>\n",
    );
    let out = ws.run(&["export", "--out", site.to_str().unwrap()]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let dest = ws.dir.path().join("_site");
    jekyll_build(jekyll, &site, &dest);
    let posts = ws.posts().await;
    assert!(posts.len() > 1500, "{} posts", posts.len());
    let mut problems = Vec::new();
    for p in &posts {
        let md = std::fs::read_to_string(site.join(p["path"].as_str().unwrap())).unwrap();
        let page = dest.join(p["permalink"].as_str().unwrap().trim_start_matches('/'));
        let html =
            std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
        for tag in ["img", "br", "p", "table"] {
            let shown = escaped_tags(&html, tag);
            if shown > text_tags(&md, tag) {
                problems.push(format!(
                    "{}: {shown} &lt;{tag} in {}",
                    p["path"],
                    page.display()
                ));
            }
        }
        for f in feedsmith::normalize::lint::lint(&md) {
            if p["feed"] != "gorss__remoteok.rss" {
                problems.push(format!("{}: {}: {}", p["path"], f.flaw, f.line));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems[..problems.len().min(20)].join("\n")
    );
}
