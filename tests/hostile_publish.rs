//! Hostile feeds through `fetch`, `export` and a real `jekyll build` (issue 18): Liquid output
//! and tags, `{%raw%}`, `{% endraw %}`, `javascript:`, `file:` and `data:` in links, titles,
//! authors, categories, enclosure URLs and bodies. The build must succeed and the built site
//! must hold none of what the injections would produce: the site's secret, a dump of the site
//! object, an active link.

use std::path::{Path, PathBuf};

use crate::support::{feed_toml, jekyll, jekyll_build, jekyll_site, Reply, TestServer, Workspace};

/// The site's secret: in `_config.yml`, so `{{ site.secret_api_key }}` would print it.
const SITE_SECRET: &str = "SITESECRET-0d15ea5e";

/// Liquid payloads, each tried in every field.
const LIQUID: &[&str] = &[
    "{{site.secret_api_key}}",
    "{{ site | jsonify }}",
    "{%raw%}",
    "{% endraw %}{{ site.secret_api_key }}",
    "{%- endraw -%}{% include ../../etc/passwd %}",
    "{% assign s = site.secret_api_key %}{{ s }}",
    "}} %} {{",
];

/// Links no published page may carry.
const BAD_LINKS: &[&str] = &[
    "javascript:alert(1)",
    "file:///etc/passwd",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
];

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn hostile_feed() -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><title>Hostile</title><link>http://example.org/</link><description>d</description>\n",
    );
    let mut n = 0;
    let mut item = |link: String, payload: &str, s: &mut String| {
        n += 1;
        let body = format!(
            "<p>Body {n} with {payload} inside a paragraph, long enough to be a real post.</p>\
             <p><a href=\"javascript:alert({n})\">a script link</a> <a href=\"file:///etc/passwd\">a file link</a> \
             <img src=\"data:image/png;base64,AAAA{n}\" alt=\"x\"> <img src=\"http://example.org/i.png?q={payload}\" alt=\"y\"></p>\
             <p>[md link](javascript:alert({n})) ![md image](data:image/png;base64,BBBB)</p>"
        );
        s.push_str(&format!(
            "<item><guid isPermaLink=\"false\">hostile-{n}</guid><title>{t}</title><link>{l}</link>\
             <dc:creator>{a}</dc:creator><category>{c}</category>\
             <enclosure url=\"{e}\" length=\"1\" type=\"audio/mpeg\"/>\
             <pubDate>Sun, 03 Aug 2025 22:48:15 GMT</pubDate><description>{b}</description></item>\n",
            t = xml(&format!("Title {n} {payload}")),
            l = xml(&link),
            a = xml(&format!("Author {payload}")),
            c = xml(&format!("Cat {payload}")),
            e = xml(&format!("http://example.org/e.mp3?x={payload}")),
            b = xml(&body),
        ));
    };
    for (i, payload) in LIQUID.iter().enumerate() {
        item(
            format!("http://example.org/q-{i}?k={payload}"),
            payload,
            &mut s,
        );
        item(
            format!("http://example.org/f-{i}#{payload}"),
            payload,
            &mut s,
        );
    }
    for bad in BAD_LINKS {
        item(bad.to_string(), "{{site.secret_api_key}}", &mut s);
        item(bad.to_string(), "{{site.secret_api_key}}", &mut s);
    }
    s.push_str("</channel></rss>\n");
    s
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_feeds_build_into_a_site_without_their_payloads() {
    let Some(jekyll) = jekyll() else {
        return;
    };
    let server = TestServer::start().await;
    server.route("/hostile.xml", Reply::feed(hostile_feed()));
    let ws = Workspace::new(
        "",
        &format!(
            "{}{}",
            feed_toml("Hostile", &server.url("/hostile.xml"), "blogs", ""),
            feed_toml(
                "Hostile videos",
                &server.url("/hostile.xml?videos"),
                "videos",
                ""
            )
        ),
    );
    server.route("/hostile.xml?videos", Reply::feed(hostile_feed()));
    let out = ws.run(&["fetch"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let posts = ws.posts().await;
    assert!(posts.len() >= LIQUID.len() * 2, "{} posts", posts.len());

    let site = ws.dir.path().join("site");
    // A layout that prints every front-matter field a theme typically uses.
    jekyll_site(
        &site,
        &format!("title: hostile test\nsecret_api_key: {SITE_SECRET}\ncollections:\n  blogs:\n    output: true\n  videos:\n    output: true\n"),
        "<html><head><link rel=\"canonical\" href=\"{{ page.canonical_url }}\"><title>{{ page.title }}</title>\
         <meta name=\"description\" content=\"{{ page.description }}\"></head><body>\
         <h1>{{ page.title }}</h1><p>{{ page.author }}</p><p>{{ page.feed_name }} {{ page.feed_url }}</p>\
         <p>{{ page.tags | join: \", \" }} {{ page.categories | join: \", \" }}</p>\
         {{ content }}<footer>{{ page.excerpt }}</footer></body></html>\n",
    );
    let out = ws.run(&["export", "--out", site.to_str().unwrap()]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);

    let dest = ws.dir.path().join("_site");
    let (stdout, stderr) = jekyll_build(jekyll, &site, &dest);
    assert!(
        !stdout.contains("Liquid") && !stderr.contains("Liquid"),
        "Liquid complained:\n{stdout}\n{stderr}"
    );

    let pages: Vec<PathBuf> = walk(&dest)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "html"))
        .collect();
    assert!(
        pages.len() >= posts.len(),
        "{} pages for {} posts",
        pages.len(),
        posts.len()
    );
    for page in &pages {
        let html = std::fs::read_to_string(page).unwrap();
        let lower = html.to_ascii_lowercase();
        let name = page.display();
        assert!(
            !html.contains(SITE_SECRET),
            "{name}: the site secret leaked:\n{html}"
        );
        // `{{ site | jsonify }}` would print the site's configuration keys.
        assert!(
            !html.contains("\"collections_dir\"") && !html.contains("\"secret_api_key\""),
            "{name}: the site object was dumped:\n{html}"
        );
        for bad in ["javascript:", "file:", "data:", "vbscript:"] {
            for attr in ["href=\"", "src=\"", "href='", "src='"] {
                assert!(
                    !lower.contains(&format!("{attr}{bad}")),
                    "{name}: an active {bad} link:\n{html}"
                );
            }
        }
        assert!(!lower.contains("<script"), "{name}: a script:\n{html}");
    }
    // Every exported file passes the same rule as the property test: no Liquid delimiter
    // outside our own raw blocks.
    for file in walk(&site)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
    {
        let text = std::fs::read_to_string(&file).unwrap();
        let (front, _) = text[4..].split_once("\n---\n").expect("front matter");
        for delim in ["{{", "{%", "%}", "}}"] {
            assert!(
                !front.contains(delim),
                "{}: {delim} in front matter:\n{front}",
                file.display()
            );
        }
    }
}
