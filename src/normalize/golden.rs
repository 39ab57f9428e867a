//! The golden cases of `../shared/spec/cases/*.json`, every one of them, plus the spec's worked
//! example rendered end to end.

use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use serde_json::Value;

use super::*;
use crate::domain::{FeedConfig, ParsedEntry, ParsedFeed, Post};

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

/// The content of a real r/LocalLLaMA entry (corpus `redditproxy__localllama.xml`, entry
/// `t3_1r7l7q5`), as the parser hands it over: Reddit's markers, `&#32;` spacers, entities and
/// the "submitted by ... [link] [comments]" trailer, with a body well over 1000 characters.
const REAL_REDDIT_HTML: &str = r##"<!-- SC_OFF --><div class="md"><p>I had my Strix halo for a while now, I though I can download and use everything out of the box, but faced some Python issues that I was able to resolve, but still performance (for CUDA) stuff was a bit underwhelming, now it feels like a superpower, I have exactly what I wanted, voice based intelligent LLM with coding and web search access, and I am sitting up still nanobot or Clawdbot and expanding, and also going to use to smartly control hue Philips and Spotify, generate images and edit them locally (ComfyUI is much better than online services since the control you get on local models is much more powerful (on the diffusion process itself!) so here is a starters guide:</p> <ol> <li>Lemonade Server</li> </ol> <p>This is the most straightforward thing for the Halo </p> <p>Currently I have, </p> <p>a. Whisper running on NPU backend, non-streaming however base is instantaneous for almost everything I say</p> <p>b. Kokors (this is not lemonade but their marinated version though, hopefully it becomes part of the next release!) which is also blazingly fast and have multiple options </p> <p>c. Qwen3-Coder-Next (I used to have GLM-4.7-Flash, but whenever I enable search and code execution it gets dizzy and gets stuck quickly, qwen3-coder-next is basically a super power in that setup!)</p> <p>I am planning to add much more MCPs though </p> <p>And maybe an OpenWakeWord and SileroVAD setup with barge-in support (not an Omni model though or full duplex streaming like Personaplex (which I want to get running, but no triton or ONNX unfortunately!)</p> <ol> <li>Using some supported frameworks (usually lemonade’s maintained pre-builds!) </li> </ol> <p>llama.cpp (or the optimized version for ROCm or AMD Chat!)</p> <p>Whisper.cpp (can also run VAD but needs the lemonade maintained NPU version or building AMD’s version from scratch!) </p> <p>Stablediffusion.cpp (Flux Stable diffusion wan everything runs here!) </p> <p>Kokoros (awesome TTS engine with OAI compaitable endpoints!) </p> <ol> <li>Using custom maintained versions or llama.cpp (this might include building from sources)</li> </ol> <p>You need a Linux setup ideally!</p> <p>4.</p> <p>PyTorch based stuff (get the PyTorch version for Python 3.12 from AMD website (if on windows), if in Linux you have much more libraries and options (and I believe Moshi or Personaplex can be setup here with some tinkering!?) </p> <p>All in all, it is a very capable machine </p> <p>I even have managed to run Minimax M2.5 Q3_K_XL (which is a very capable mode indeed, when paired with Claude code it can automated huge parts of my job, but still I am having issues with the kv cache in llama.cpp which means it can’t work directly for now!) </p> <p>All in all it is a very capable machine, being x86 based rather than arm (like the DGX Spark) for me at least means you can do more on the AI-powered applications side (on the same box), as opposed to the Spark (which is also a very nice machine ofc!) </p> <p>Anyways, that was it I hope this helps </p> <p>Cheers!</p> </div><!-- SC_ON --> &#32; submitted by &#32; <a href="https://old.reddit.com/user/Potential_Block4598"> /u/Potential_Block4598 </a> <br /> <span><a href="https://old.reddit.com/r/LocalLLaMA/comments/1r7l7q5/the_strix_halo_feels_like_an_amazing_super_power/">[link]</a></span> &#32; <span><a href="https://old.reddit.com/r/LocalLLaMA/comments/1r7l7q5/the_strix_halo_feels_like_an_amazing_super_power/">[comments]</a></span>"##;

/// The spec's worked example (section 9) with the real Reddit HTML above as its content.
fn seed_entry() -> (FeedConfig, ParsedFeed, ParsedEntry) {
    let mut feed = FeedConfig::new(
        "Reddit DevOps",
        "https://www.reddit.com/r/devops/.rss",
        "community",
    );
    feed.categories = vec!["DevOps".into()];
    let link = "https://www.reddit.com/r/devops/comments/1mgx0a4/transitioning_from_backend_developer_to_devops/";
    let entry = ParsedEntry {
        id: Some("t3_1mgx0a4".into()),
        link: Some(link.into()),
        title: Some("Transitioning from Backend Developer to DevOps".into()),
        authors: vec!["/u/DemiladeDee".into()],
        published: Some(Utc.with_ymd_and_hms(2025, 8, 3, 22, 48, 15).unwrap()),
        categories: vec!["devops".into()],
        content_html: Some(REAL_REDDIT_HTML.into()),
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
        "feed_url: \"https://www.reddit.com/r/devops/.rss\"",
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
        excerpt.starts_with("I had my Strix halo for a while now,")
            && excerpt.ends_with("...")
            && excerpt.chars().count() <= 300
            && !excerpt.contains('\n'),
        "{excerpt}"
    );
    assert!(
        !body.starts_with('\n') && file.contains("+00:00\npermalink"),
        "one blank line after the front matter"
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
        !file.contains("submitted by")
            && !file.contains("SC_OFF")
            && !file.contains("&#32;")
            && !file.contains("[Link]")
            && !file.contains("Potential_Block4598"),
        "{file}"
    );
    // The post's own text as markdown: the lists and paragraphs of the real HTML, entities
    // decoded, no blank-line runs, one trailing newline.
    assert!(rest.contains("Cheers!"), "{rest}");
    assert!(rest.contains("lemonade’s maintained pre-builds!"), "{rest}");
    assert!(
        !file.contains("\n\n\n") && !file.ends_with("\n\n"),
        "{file}"
    );
    let d = &post.description;
    assert!(d.chars().count() <= 200 && !d.is_empty(), "{d}");
    assert!(
        d.ends_with("...") || d.ends_with('.') || d.ends_with('!'),
        "{d}"
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
    assert!(k1.len() == 64 && k1.bytes().all(|b| b.is_ascii_hexdigit()));
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
            // tests/publish.rs's hostile content, and markup written as text.
            content_html: Some(
                "<p>Body with {{ template }} and {% tag %} and <script>alert(1)</script> &lt;b&gt; &lt;img src=x&gt;.</p><ul><li>one</li></ul><p><img src=\"https://e/i.png\" width=\"1\" onerror=\"x()\"><a href=\"javascript:alert(1)\"> </a></p>"
                    .into(),
            ),
            ..ParsedEntry::default()
        };
        let Normalized::Post(p) =
            normalize_entry(&feed, &ParsedFeed::default(), &e, Utc::now()).unwrap()
        else {
            panic!()
        };
        let file = render_post(&p, &RenderOptions::default());
        assert_eq!(lint::lint(&file), [], "{file}");
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

/// Keyword tags (issue 9) are one more input of section 5: the worked example keeps its two
/// spec tags and gains the taxonomy's, every one of them in its published form; the taxonomy in
/// effect is part of the hash.
#[test]
fn keyword_tags_extend_the_worked_example() {
    use crate::enrich::{Enrichment, Taxonomy};
    use std::collections::BTreeMap;
    use std::sync::Arc;

    let (feed, parsed, entry) = seed_entry();
    let enrich = Enrichment::builtin().unwrap();
    let Normalized::Post(post) =
        normalize_entry_with(&feed, &parsed, &entry, Utc::now(), Some(&enrich)).unwrap()
    else {
        panic!("the seed entry is long enough to publish");
    };
    for tag in [
        "Community",
        "DevOps",
        "Backend",
        "Career",
        "AMD",
        "Local LLM",
    ] {
        assert!(
            post.tags.iter().any(|t| t == tag),
            "{tag} in {:?}",
            post.tags
        );
    }
    assert!(post.tags.len() <= 2 + enrich.max_tags(), "{:?}", post.tags);
    // The tag rules ran: sorted case-insensitively, one normalized form per tag.
    let mut sorted = post.tags.clone();
    sorted.sort_by_key(|t| t.to_lowercase());
    assert_eq!(post.tags, sorted);
    assert_eq!(post.tags.len(), post.tags_normalized.len());
    assert!(post.tags_normalized.iter().any(|n| n == "local llm"));

    let plain = entry_hash(&feed, &parsed, &entry);
    let on = entry_hash_with(&feed, &parsed, &entry, Some(&enrich));
    let own =
        Arc::new(Taxonomy::from_toml("[tags.Backend]\nterms = [\"backend\"]\n", "t").unwrap());
    let other = Enrichment::new(true, 10, own, BTreeMap::new());
    let changed = entry_hash_with(&feed, &parsed, &entry, Some(&other));
    assert!(plain != on && on != changed && plain != changed);
    assert_eq!(post.content_hash, on);
    let Normalized::Post(post) =
        normalize_entry_with(&feed, &parsed, &entry, Utc::now(), Some(&other)).unwrap()
    else {
        panic!("published");
    };
    assert_eq!(post.tags, ["Backend", "Community", "DevOps"]);
}

/// One real post of the original pipeline (`../shared/spec/examples/`) and the entry it came
/// from, as far as the examples' README and the post's front matter tell.
struct Example {
    file: &'static str,
    feed_name: &'static str,
    feed_url: &'static str,
    collection: &'static str,
    categories: &'static [&'static str],
    /// The permalink pattern the original used when the file was written (the older posts have
    /// no `/<collection>` prefix; post-format.md section 2 makes the pattern configurable).
    permalink: &'static str,
    link: &'static str,
    title: &'static str,
    /// The entry's own author; `None` for a feed whose author is feed-level only.
    entry_author: Option<&'static str>,
    feed_author: Option<&'static str>,
    published: &'static str,
    youtube_id: Option<&'static str>,
    /// The video description's hashtags, where the examples' README names them.
    media_description: Option<&'static str>,
}

const WITH_COLLECTION: &str = "/{collection}/{date}-{slug}.html";
const WITHOUT_COLLECTION: &str = "/{date}-{slug}.html";

const EXAMPLES: &[Example] = &[
    Example {
        file: "seed-reddit-devops.md",
        feed_name: "Reddit DevOps",
        feed_url: "https://www.reddit.com/r/devops/.rss",
        collection: "community",
        categories: &["DevOps"],
        permalink: WITH_COLLECTION,
        link: "https://www.reddit.com/r/devops/comments/1mgx0a4/transitioning_from_backend_developer_to_devops/",
        title: "Transitioning from Backend Developer to DevOps",
        entry_author: Some("/u/DemiladeDee"),
        feed_author: None,
        published: "2025-08-03T22:48:15+00:00",
        youtube_id: None,
        media_description: None,
    },
    Example {
        file: "community-reddit-azure.md",
        feed_name: "Reddit Azure",
        feed_url: "https://www.reddit.com/r/azure/.rss",
        collection: "community",
        categories: &["Azure", "Coding", "DevOps"],
        permalink: WITHOUT_COLLECTION,
        link: "https://www.reddit.com/r/AZURE/comments/1mbp183/what_exactly_does_azure_cloud_engineers_do/",
        title: "What exactly does Azure cloud engineers do?",
        entry_author: Some("/u/curious_monk77"),
        feed_author: None,
        published: "2025-07-28T18:59:43+00:00",
        youtube_id: None,
        media_description: None,
    },
    Example {
        file: "community-reddit-githubcopilot.md",
        feed_name: "Reddit Github Copilot",
        feed_url: "https://www.reddit.com/r/GithubCopilot.rss",
        collection: "community",
        categories: &["AI", "GitHub Copilot"],
        permalink: WITH_COLLECTION,
        link: "https://www.reddit.com/r/GithubCopilot/comments/1mg5oty/oopsie_doopsie_copilot_made_a_little_hallucination/",
        title: "Oopsie doopsie copilot made a little hallucination 🤣",
        entry_author: Some("/u/alexanderriccio"),
        feed_author: None,
        published: "2025-08-03T00:29:28+00:00",
        youtube_id: None,
        media_description: None,
    },
    Example {
        file: "news-dotnet-blog.md",
        feed_name: "Microsoft .NET Blog",
        feed_url: "https://devblogs.microsoft.com/dotnet/feed/",
        collection: "news",
        categories: &["AI", "GitHub Copilot", "Coding", "Security"],
        permalink: WITH_COLLECTION,
        link: "https://devblogs.microsoft.com/dotnet/5-copilot-chat-prompts-dotnet-devs-should-steal-today/",
        title: "5 Copilot Chat Prompts .NET Developers Should Use Now",
        entry_author: Some("Wendy Breiding (SHE/HER)"),
        feed_author: None,
        published: "Wed, 06 Aug 2025 17:05:00 +0000",
        youtube_id: None,
        media_description: None,
    },
    Example {
        file: "news-typescript.md",
        feed_name: "Microsoft TypeScript Blog",
        feed_url: "https://devblogs.microsoft.com/typescript/feed/",
        collection: "news",
        categories: &["Coding"],
        permalink: WITHOUT_COLLECTION,
        link: "https://devblogs.microsoft.com/typescript/announcing-typescript-5-9/",
        title: "Announcing TypeScript 5.9: New Features, Improvements, and What’s Next",
        entry_author: Some("Daniel Rosenwasser"),
        feed_author: None,
        published: "Fri, 01 Aug 2025 16:19:25 +0000",
        youtube_id: None,
        media_description: None,
    },
    Example {
        file: "blogs-randy-pagels.md",
        feed_name: "Randy Pagels's Blog",
        feed_url: "https://cooknwithcopilot.com/rss.xml",
        // The `posts` collection of the time (later renamed `blogs`).
        collection: "posts",
        categories: &["AI", "Coding", "GitHub Copilot"],
        permalink: WITH_COLLECTION,
        link: "https://cooknwithcopilot.com/blog/avoid-these-common-prompts.html",
        title: "Avoid These Common Copilot Prompts: How to Get Better Results with Specific Guidance",
        entry_author: None,
        feed_author: Some("randy.pagels@xebia.com (Randy Pagels)"),
        // An RSS date without a time.
        published: "Fri, 04 Jul 2025 00:00:00 GMT",
        youtube_id: None,
        media_description: None,
    },
    Example {
        file: "videos-aspnet-standup.md",
        feed_name: "DotNet YouTube",
        feed_url: "https://www.youtube.com/feeds/videos.xml?channel_id=UCvtT19MZW8dq5Wwfu6B0oxw",
        collection: "videos",
        categories: &["Coding"],
        permalink: WITHOUT_COLLECTION,
        link: "https://www.youtube.com/watch?v=H_gOSliozjM",
        title: "ASP.NET Community Standup: Building a Better PerfView Diagnostics Tool with Blazor",
        entry_author: Some("dotnet"),
        feed_author: None,
        published: "2025-08-01T21:55:53+00:00",
        youtube_id: Some("H_gOSliozjM"),
        // "`Aspdotnet` (a hashtag of the video's description)" (examples/README.md).
        media_description: Some("#aspdotnet"),
    },
    Example {
        file: "videos-dotnet-youtube.md",
        feed_name: "DotNet YouTube",
        feed_url: "https://www.youtube.com/feeds/videos.xml?channel_id=UCvtT19MZW8dq5Wwfu6B0oxw",
        collection: "videos",
        categories: &["Coding"],
        permalink: WITH_COLLECTION,
        link: "https://www.youtube.com/watch?v=H_gOSliozjM",
        title: "ASP.NET Community Standup: Building a Better PerfView Diagnostics Tool with Blazor",
        entry_author: Some("dotnet"),
        feed_author: None,
        published: "2025-08-01T21:55:53+00:00",
        youtube_id: Some("H_gOSliozjM"),
        // "`Aspdotnet` (a hashtag of the video's description)" (examples/README.md).
        media_description: Some("#aspdotnet"),
    },
];

/// Front-matter lines feedsmith derives deterministically, compared byte for byte.
const DETERMINISTIC_KEYS: &[&str] = &[
    "layout",
    "title",
    "author",
    "excerpt_separator",
    "canonical_url",
    "viewing_mode",
    "feed_name",
    "feed_url",
    "date",
    "permalink",
    "categories",
];

/// Lines the original's language model wrote, exempt from the comparison: `description`,
/// `tags` and `tags_normalized` beyond section 5's own tags (those must be among the
/// example's), the excerpt and the body.
const MODEL_WRITTEN: &[&str] = &["description", "tags", "tags_normalized"];

/// Deterministic lines of an example that feedsmith writes differently on purpose, with the
/// rule that makes it so.
const KNOWN_DEVIATIONS: &[(&str, &str, &str)] = &[(
    "blogs-randy-pagels.md",
    "author",
    "post-format.md 4 (ours): an RSS `email (Name)` author gives `Name`; the original kept the \
     feed-level string verbatim",
)];

fn front_matter_lines(file: &str) -> Vec<(String, String)> {
    file.lines()
        .skip(1)
        .take_while(|l| *l != "---")
        .map(|l| {
            let (k, _) = l.split_once(": ").unwrap_or((l, ""));
            (k.to_string(), l.to_string())
        })
        .collect()
}

/// The example's body as plain paragraphs of HTML: long enough for every collection's
/// `min_content_chars`, and its text is the entry's content.
fn example_content(body: &str) -> String {
    body.split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|p| format!("<p>{}</p>", html_escape::encode_text(p.trim())))
        .collect()
}

#[test]
fn examples_deterministic_lines_are_byte_identical() {
    let Some(shared) = crate::shared_dir() else {
        eprintln!("skipping: ../shared is absent");
        return;
    };
    let dir = shared.join("spec/examples");
    let mut checked = 0;
    for ex in EXAMPLES {
        let path = dir.join(ex.file);
        let original =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let body = original
            .split_once("<!--excerpt_end-->\n\n")
            .map(|(_, b)| b)
            .unwrap_or_default();
        let mut feed = FeedConfig::new(ex.feed_name, ex.feed_url, ex.collection);
        feed.categories = ex.categories.iter().map(|c| c.to_string()).collect();
        let parsed = ParsedFeed {
            author: ex.feed_author.map(str::to_string),
            ..ParsedFeed::default()
        };
        let entry = ParsedEntry {
            id: Some(ex.link.into()),
            link: Some(ex.link.into()),
            title: Some(ex.title.into()),
            authors: ex.entry_author.map(str::to_string).into_iter().collect(),
            published: parse_date(ex.published),
            content_html: Some(example_content(body)),
            youtube_id: ex.youtube_id.map(str::to_string),
            media_description: ex.media_description.map(str::to_string),
            ..ParsedEntry::default()
        };
        let Normalized::Post(post) = normalize_entry(&feed, &parsed, &entry, Utc::now()).unwrap()
        else {
            panic!("{}: the example's entry is long enough to publish", ex.file);
        };
        if ex.media_description.is_some() {
            assert!(
                post.tags.iter().any(|t| t == "Aspdotnet"),
                "{:?}",
                post.tags
            );
        }
        let opts = RenderOptions {
            permalink: ex.permalink.into(),
            ..RenderOptions::default()
        };
        let ours = render_post(&post, &opts);
        let theirs_fm = front_matter_lines(&original);
        let ours_fm = front_matter_lines(&ours);
        // Same fields in the same order.
        let keys = |fm: &[(String, String)]| fm.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
        assert_eq!(keys(&ours_fm), keys(&theirs_fm), "{}", ex.file);
        for ((key, mine), (_, theirs)) in ours_fm.iter().zip(&theirs_fm) {
            if MODEL_WRITTEN.contains(&key.as_str()) {
                continue;
            }
            assert!(DETERMINISTIC_KEYS.contains(&key.as_str()), "{key}");
            if let Some((_, _, why)) = KNOWN_DEVIATIONS
                .iter()
                .find(|(f, k, _)| *f == ex.file && k == key)
            {
                assert_ne!(
                    mine, theirs,
                    "{}: {key} is no longer a deviation ({why})",
                    ex.file
                );
                continue;
            }
            assert_eq!(mine, theirs, "{}: {key}", ex.file);
        }
        // Section 5's own tags (entry categories, configuration, collection) are among the
        // example's tags, each with the example's normalized form.
        let their_tags = theirs_fm
            .iter()
            .find(|(k, _)| k == "tags")
            .unwrap()
            .1
            .clone();
        let their_norm = theirs_fm
            .iter()
            .find(|(k, _)| k == "tags_normalized")
            .unwrap()
            .1
            .clone();
        for (tag, norm) in post.tags.iter().zip(&post.tags_normalized) {
            assert!(
                their_tags.contains(&format!("\"{tag}\"")),
                "{}: {tag}",
                ex.file
            );
            assert!(
                their_norm.contains(&format!("\"{norm}\"")),
                "{}: {norm}",
                ex.file
            );
        }
        // The path: `_<collection>/<date>-<slug>.md`, the slug being the permalink's.
        let permalink_line = &theirs_fm.iter().find(|(k, _)| k == "permalink").unwrap().1;
        let file_name = permalink_line
            .trim_end_matches(".html\"")
            .rsplit('/')
            .next()
            .unwrap();
        assert_eq!(
            post_path(&post),
            format!("_{}/{file_name}.md", ex.collection),
            "{}",
            ex.file
        );
        // The body's fixed lines: the footer, or the `{% youtube %}` line of a video.
        let their_last = original.trim_end().lines().last().unwrap();
        if let Some(id) = ex.youtube_id {
            let line = format!("<!--excerpt_end-->\n\n{{% youtube {id} %}}\n\n");
            assert!(
                original.contains(&line) && ours.contains(&line),
                "{}",
                ex.file
            );
            assert!(!ours.contains("appeared first on"), "{}", ex.file);
        } else {
            let our_last = ours.trim_end().lines().last().unwrap();
            assert!(their_last.starts_with("This post appeared first on"));
            assert_eq!(our_last, their_last, "{}: footer", ex.file);
            // The seed's body keeps the `## title` / `**Author:**` block (the others' bodies
            // were rewritten by the model).
            if ex.file.starts_with("seed") {
                let block = format!("\n\n## {}\n\n**Author:** DemiladeDee\n\n", ex.title);
                assert!(original.contains(&block) && ours.contains(&block));
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 8);
}

/// post-format.md 2: the canonical URL's fallback chain, and links that are never used.
#[test]
fn canonical_url_fallback_chain() {
    let feed = FeedConfig::new("F", "https://e.org/feed.xml", "blogs");
    let site = ParsedFeed {
        link: Some("https://e.org/#top".into()),
        ..ParsedFeed::default()
    };
    let base = ParsedEntry {
        title: Some("T".into()),
        content_html: Some("<p>Body.</p>".into()),
        ..ParsedEntry::default()
    };
    let url_of = |parsed: &ParsedFeed, e: &ParsedEntry| match normalize_entry(
        &feed,
        parsed,
        e,
        Utc::now(),
    ) {
        Ok(Normalized::Post(p)) => p.canonical_url,
        other => panic!("{other:?}"),
    };
    let with = |f: &dyn Fn(&mut ParsedEntry)| {
        let mut e = base.clone();
        f(&mut e);
        e
    };
    // The link, unchanged; a non-http(s) link is passed over.
    let e = with(&|e| e.link = Some("https://e.org/a?b=1".into()));
    assert_eq!(url_of(&site, &e), "https://e.org/a?b=1");
    for bad in [
        "javascript:alert(1)",
        "file:///etc/passwd",
        "data:text/html,x",
        "https://u:p@e.org/x",
    ] {
        let e = with(&|e| {
            e.link = Some(bad.into());
            e.id = Some("https://e.org/id".into());
        });
        assert_eq!(url_of(&site, &e), "https://e.org/id", "{bad}");
    }
    // The id when it is an http(s) URL, else the first enclosure.
    let e = with(&|e| {
        e.id = Some("urn:uuid:1".into());
        e.enclosure = Some("https://cdn.e.org/1.mp3".into());
    });
    assert_eq!(url_of(&site, &e), "https://cdn.e.org/1.mp3");
    // Else the site link (its own fragment replaced), else the feed URL, + `#` + 12 hex digits
    // of the key: stable, and different for different entries.
    let e = with(&|e| e.id = Some("urn:uuid:1".into()));
    let digest = &hex::encode(sha2::Sha256::digest(b"urn:uuid:1"))[..12];
    assert_eq!(url_of(&site, &e), format!("https://e.org/#{digest}"));
    assert_eq!(url_of(&site, &e), url_of(&site, &e));
    let other = with(&|e| e.id = Some("urn:uuid:2".into()));
    assert_ne!(url_of(&site, &e), url_of(&site, &other));
    let no_site = ParsedFeed::default();
    assert_eq!(
        url_of(&no_site, &e),
        format!("https://e.org/feed.xml#{digest}")
    );
    // A secret in the feed URL's query never becomes a post's address.
    let secret = FeedConfig::new("F", "https://e.org/feed.xml?token=s3cr3t", "blogs");
    match normalize_entry(&secret, &no_site, &e, Utc::now()) {
        Ok(Normalized::Post(p)) => {
            assert!(!p.canonical_url.contains("s3cr3t"), "{}", p.canonical_url);
            assert!(p.canonical_url.starts_with("https://e.org/feed.xml?token="));
        }
        other => panic!("{other:?}"),
    }
    // A key that is already a digest (no id, no link) gives its own first 12 digits.
    let key = entry_key(&feed, &base);
    assert_eq!(
        url_of(&no_site, &base),
        format!("https://e.org/feed.xml#{}", &key[..12])
    );
    // Untitled, undated items with only text (RSS 0.92) get distinct keys.
    let a = ParsedEntry {
        summary_html: Some("one".into()),
        ..ParsedEntry::default()
    };
    let b = ParsedEntry {
        summary_html: Some("two".into()),
        ..ParsedEntry::default()
    };
    assert_ne!(entry_key(&feed, &a), entry_key(&feed, &b));
    // Nothing http(s) at all (a feed read from a file): an error naming the way out.
    let file_feed = FeedConfig::new("F", "./feed.xml", "blogs");
    let err = normalize_entry(&file_feed, &no_site, &base, Utc::now()).unwrap_err();
    assert!(
        err.to_string().contains("serve the file over HTTP"),
        "{err}"
    );
}

/// post-format.md 7.1: YouTube's `media:description` is the content (plain text, line breaks
/// kept, never markup) and its hashtags are tags.
#[test]
fn media_description_is_content_with_hashtags() {
    let feed = FeedConfig::new(
        "YT",
        "https://www.youtube.com/feeds/videos.xml?channel_id=X",
        "videos",
    );
    let e = ParsedEntry {
        id: Some("yt:video:H_gOSliozjM".into()),
        link: Some("https://www.youtube.com/watch?v=H_gOSliozjM".into()),
        title: Some("Standup".into()),
        youtube_id: Some("H_gOSliozjM".into()),
        media_description: Some(
            "A deep dive into diagnostics.\nSecond line <img src=x onerror=alert(1)>.\n\n#aspdotnet #dotnet #1 a#b #aspdotnet"
                .into(),
        ),
        ..ParsedEntry::default()
    };
    let Normalized::Post(p) =
        normalize_entry(&feed, &ParsedFeed::default(), &e, Utc::now()).unwrap()
    else {
        panic!()
    };
    assert!(
        p.description
            .starts_with("A deep dive into diagnostics. Second line"),
        "{}",
        p.description
    );
    assert!(
        p.content_markdown.starts_with(
            "A deep dive into diagnostics.\n\nSecond line \\<img src=x onerror=alert(1)\\>."
        ),
        "{}",
        p.content_markdown
    );
    assert_eq!(p.tags, [".NET", "Aspdotnet", "Videos"]);
    let file = render_post(&p, &RenderOptions::default());
    assert!(
        file.contains("<!--excerpt_end-->\n\n{% youtube H_gOSliozjM %}\n\nA deep dive"),
        "{file}"
    );
    // The description wins only where nothing better exists.
    let with_summary = ParsedEntry {
        summary_html: Some("<p>Summary.</p>".into()),
        ..e
    };
    let Normalized::Post(p) =
        normalize_entry(&feed, &ParsedFeed::default(), &with_summary, Utc::now()).unwrap()
    else {
        panic!()
    };
    assert_eq!(p.content_markdown, "Summary.");
}

/// post-format.md 7.2: a Reddit link post (external article, thumbnail), an image post and a
/// gallery post, in the corpus's Atom form, give clean content and the shared link.
#[test]
fn reddit_link_image_and_gallery_posts() {
    let feed = FeedConfig::new("Reddit", "https://www.reddit.com/r/selfhosted/.rss", "news");
    let comments = "https://www.reddit.com/r/selfhosted/comments/1q2w3e/title/";
    let post = |first_cell: &str, self_text: &str, link: &str| {
        let html = format!(
            "<table> <tr><td> <a href=\"{comments}\"> {first_cell} </a> </td><td> {self_text} &#32; submitted by &#32; <a href=\"https://www.reddit.com/user/someone\"> /u/someone </a> <br/> <span><a href=\"{link}\">[link]</a></span> &#32; <span><a href=\"{comments}\">[comments]</a></span> </td></tr></table>"
        );
        let e = ParsedEntry {
            id: Some("t3_1q2w3e".into()),
            link: Some(comments.into()),
            title: Some("Title".into()),
            authors: vec!["/u/someone".into()],
            content_html: Some(html),
            ..ParsedEntry::default()
        };
        match normalize_entry(&feed, &ParsedFeed::default(), &e, Utc::now()).unwrap() {
            Normalized::Post(p) => p.content_markdown,
            other => panic!("{other:?}"),
        }
    };
    let thumb =
        r#"<img src="https://b.thumbs.redditmedia.com/abc.jpg" alt="Title" title="Title" />"#;
    // Link post: the shared article as [Link](url), the thumbnail as the image.
    let md = post(thumb, "", "https://github.com/someone/project");
    assert_eq!(
        md,
        "![](https://b.thumbs.redditmedia.com/abc.jpg)\n\n[Link](https://github.com/someone/project)"
    );
    // Link post with self text: the text, then the link; no table, no image.
    let md = post(
        thumb,
        r#"<!-- SC_OFF --><div class="md"><p>I built this.</p> <p>Feedback welcome.</p> </div><!-- SC_ON -->"#,
        "https://github.com/someone/project",
    );
    assert_eq!(
        md,
        "I built this.\n\nFeedback welcome.\n\n[Link](https://github.com/someone/project)"
    );
    // Image post.
    let md = post(
        r#"<img src="https://preview.redd.it/p.jpeg?width=640&amp;crop=smart" alt="Title" title="Title" />"#,
        "",
        "https://i.redd.it/p.jpeg",
    );
    assert_eq!(
        md,
        "![](https://preview.redd.it/p.jpeg?width=640&crop=smart)\n\n[Link](https://i.redd.it/p.jpeg)"
    );
    // Gallery post.
    let md = post(thumb, "", "https://www.reddit.com/gallery/1q2w3e");
    assert!(
        md.ends_with("[Link](https://www.reddit.com/gallery/1q2w3e)"),
        "{md}"
    );
    assert!(!md.contains('|') && !md.contains("&lt;"), "{md}");
}
