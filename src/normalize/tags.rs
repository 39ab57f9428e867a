//! Tags and `tags_normalized` (post-format.md section 5).

use super::slug::transliterate;
use super::text::{collapse_ws, decode_entities, is_removed_control, remove_controls};
use crate::domain::FeedConfig;

/// Canonical spellings of well-known terms, looked up by the lower-cased tag (or word).
const KNOWN_TERMS: &[(&str, &str)] = &[
    ("ai", "AI"),
    ("ml", "ML"),
    ("llm", "LLM"),
    ("llms", "LLMs"),
    ("genai", "GenAI"),
    ("openai", "OpenAI"),
    ("chatgpt", "ChatGPT"),
    ("github", "GitHub"),
    ("gitlab", "GitLab"),
    ("github copilot", "GitHub Copilot"),
    ("github actions", "GitHub Actions"),
    ("dotnet", ".NET"),
    (".net", ".NET"),
    ("asp.net", "ASP.NET"),
    ("asp.net core", "ASP.NET Core"),
    ("csharp", "C#"),
    ("c#", "C#"),
    ("fsharp", "F#"),
    ("f#", "F#"),
    ("cpp", "C++"),
    ("c++", "C++"),
    ("k8s", "Kubernetes"),
    ("kubernetes", "Kubernetes"),
    ("vscode", "VS Code"),
    ("vs code", "VS Code"),
    ("visual studio code", "VS Code"),
    ("ci", "CI"),
    ("cd", "CD"),
    ("ci/cd", "CI/CD"),
    ("cicd", "CI/CD"),
    ("api", "API"),
    ("apis", "APIs"),
    ("devops", "DevOps"),
    ("devsecops", "DevSecOps"),
    ("mlops", "MLOps"),
    ("gitops", "GitOps"),
    ("sre", "SRE"),
    ("aws", "AWS"),
    ("gcp", "GCP"),
    ("iac", "IaC"),
    ("sql", "SQL"),
    ("nosql", "NoSQL"),
    ("postgresql", "PostgreSQL"),
    ("postgres", "PostgreSQL"),
    ("mysql", "MySQL"),
    ("mongodb", "MongoDB"),
    ("javascript", "JavaScript"),
    ("typescript", "TypeScript"),
    ("nodejs", "Node.js"),
    ("node.js", "Node.js"),
    ("js", "JavaScript"),
    ("ts", "TypeScript"),
    ("golang", "Go"),
    ("rust", "Rust"),
    ("npm", "npm"),
    ("gpu", "GPU"),
    ("gpus", "GPUs"),
    ("cpu", "CPU"),
    ("rag", "RAG"),
    ("mcp", "MCP"),
    ("gpt", "GPT"),
    ("nlp", "NLP"),
    ("etl", "ETL"),
    ("jwt", "JWT"),
    ("oauth", "OAuth"),
    ("sso", "SSO"),
    ("rbac", "RBAC"),
    ("ddos", "DDoS"),
    ("cve", "CVE"),
    ("ebpf", "eBPF"),
    ("wsl", "WSL"),
    ("cdn", "CDN"),
    ("vpn", "VPN"),
    ("aks", "AKS"),
    ("eks", "EKS"),
    ("gke", "GKE"),
    ("ec2", "EC2"),
    ("s3", "S3"),
    ("iis", "IIS"),
    ("wpf", "WPF"),
    ("maui", ".NET MAUI"),
    ("ef core", "EF Core"),
    ("efcore", "EF Core"),
    ("grpc", "gRPC"),
    ("rest", "REST"),
    ("pwa", "PWA"),
    ("webgpu", "WebGPU"),
    ("sqlite", "SQLite"),
    ("openshift", "OpenShift"),
    ("ipados", "iPadOS"),
    ("azure ai", "Azure AI"),
    ("azure openai", "Azure OpenAI"),
    ("visual studio", "Visual Studio"),
    ("github codespaces", "GitHub Codespaces"),
    ("ai/ml", "AI/ML"),
    ("llmops", "LLMOps"),
    ("devex", "DevEx"),
    ("dx", "DX"),
    ("graphql", "GraphQL"),
    ("html", "HTML"),
    ("css", "CSS"),
    ("json", "JSON"),
    ("yaml", "YAML"),
    ("xml", "XML"),
    ("rss", "RSS"),
    ("http", "HTTP"),
    ("https", "HTTPS"),
    ("tls", "TLS"),
    ("ssl", "SSL"),
    ("dns", "DNS"),
    ("ssh", "SSH"),
    ("vm", "VM"),
    ("vms", "VMs"),
    ("ui", "UI"),
    ("ux", "UX"),
    ("ios", "iOS"),
    ("macos", "macOS"),
    ("iot", "IoT"),
    ("saas", "SaaS"),
    ("paas", "PaaS"),
    ("iaas", "IaaS"),
    ("finops", "FinOps"),
    ("aiops", "AIOps"),
    ("powershell", "PowerShell"),
    ("azure devops", "Azure DevOps"),
    ("youtube", "YouTube"),
    ("linkedin", "LinkedIn"),
    ("wordpress", "WordPress"),
    ("php", "PHP"),
    ("jvm", "JVM"),
    ("wasm", "WebAssembly"),
    ("webassembly", "WebAssembly"),
    ("cli", "CLI"),
    ("sdk", "SDK"),
    ("ide", "IDE"),
    ("oss", "Open Source"),
    ("q&a", "Q&A"),
];

/// Dropped unless they are a configured category or the collection.
const STOP_WORDS: &[&str] = &[
    "a",
    "an",
    "and",
    "the",
    "of",
    "or",
    "to",
    "in",
    "on",
    "for",
    "with",
    "by",
    "at",
    "from",
    "is",
    "it",
    "this",
    "that",
    "blog",
    "blogs",
    "post",
    "posts",
    "update",
    "updates",
    "release",
    "releases",
    "announcement",
    "announcements",
    "article",
    "articles",
    "news",
    "misc",
    "other",
    "general",
    "uncategorized",
    "default",
    "none",
    "null",
    "untitled",
];

fn known(lower: &str) -> Option<&'static str> {
    // Looked up for every tag and every word of it: a map, not a scan of the list.
    static MAP: std::sync::LazyLock<std::collections::HashMap<&'static str, &'static str>> =
        std::sync::LazyLock::new(|| {
            let mut m = std::collections::HashMap::with_capacity(KNOWN_TERMS.len());
            for &(k, v) in KNOWN_TERMS {
                // The first spelling listed wins, as the scan did.
                m.entry(k).or_insert(v);
            }
            m
        });
    MAP.get(lower).copied()
}

fn is_year(word: &str) -> bool {
    word.len() == 4 && word.starts_with("20") && word.chars().all(|c| c.is_ascii_digit())
}

/// Capitalization of one cleaned tag (rule 2).
fn capitalize(tag: &str) -> String {
    if let Some(k) = known(&tag.to_lowercase()) {
        return k.to_string();
    }
    let words: Vec<String> = tag
        .split(' ')
        .filter(|w| !w.is_empty() && !is_year(w))
        .map(|w| {
            if let Some(k) = known(&w.to_lowercase()) {
                return k.to_string();
            }
            let mut chars = w.chars();
            match chars.next() {
                Some(first) if first.is_lowercase() => first
                    .to_uppercase()
                    .chain(chars.flat_map(char::to_lowercase))
                    .collect(),
                _ => w.to_string(),
            }
        })
        .collect();
    words.join(" ")
}

/// The collection as a tag: `community` -> `Community`, `ai` -> `AI` (3 letters or fewer: upper case).
fn collection_tag(collection: &str) -> String {
    let clean = clean_value(collection);
    if clean.chars().count() <= 3 {
        clean.to_uppercase()
    } else {
        let mut c = clean.chars();
        match c.next() {
            Some(f) => f.to_uppercase().chain(c).collect(),
            None => String::new(),
        }
    }
}

/// Rule 1 for one value: `-`/`_` to spaces, collapsed, trimmed.
fn clean_value(v: &str) -> String {
    // Most values (and every keyword tag) are clean already: no entity, control character,
    // `-`/`_` or stray whitespace. Those are returned as they are.
    let plain = !v.is_empty()
        && !v.starts_with(' ')
        && !v.ends_with(' ')
        && !v.contains("  ")
        && v.chars().all(|c| {
            c == ' '
                || !(c.is_whitespace() || is_removed_control(c) || matches!(c, '&' | '-' | '_'))
        });
    if plain {
        return v.to_string();
    }
    remove_controls(&decode_entities(v))
        .replace(['-', '_'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `(tags, tags_normalized)` of an entry: its categories, the feed's tags and categories and the
/// collection, per post-format.md section 5.
pub fn build_tags(entry_categories: &[String], feed: &FeedConfig) -> (Vec<String>, Vec<String>) {
    build_tags_with(entry_categories, feed, &[])
}

/// [`build_tags`] with keyword tags (from the taxonomy, [`super::taxonomy`]) as one more input,
/// after the collection: they go through the same rules, and on a case-insensitive duplicate the
/// entry's and the configuration's spelling wins. They are never protected from the stop-word
/// rule (a valid taxonomy has no stop words as tags anyway).
pub fn build_tags_with(
    entry_categories: &[String],
    feed: &FeedConfig,
    keyword_tags: &[String],
) -> (Vec<String>, Vec<String>) {
    // (value, protected): configured categories and the collection are never dropped as stop words.
    let mut raw: Vec<(String, bool)> = Vec::new();
    let push_split = |v: &str, protected: bool, raw: &mut Vec<(String, bool)>| {
        for part in v.split([',', ';']) {
            let c = clean_value(part);
            if c.chars().any(|ch| ch.is_ascii_alphanumeric()) {
                raw.push((capitalize(&c), protected));
            }
        }
    };
    for c in entry_categories {
        push_split(c, false, &mut raw);
    }
    for t in &feed.tags {
        push_split(t, false, &mut raw);
    }
    for c in &feed.categories {
        push_split(c, true, &mut raw);
    }
    let coll = collection_tag(&feed.collection);
    if !coll.is_empty() {
        raw.push((coll, true));
    }
    for k in keyword_tags {
        push_split(k, false, &mut raw);
    }

    // (lower-cased, as published): the lower-cased form is computed once per tag, not in every
    // comparison of the duplicate check and the sort.
    let mut tags: Vec<(String, String)> = Vec::new();
    for (tag, protected) in raw {
        let tag = tag.trim();
        if tag.is_empty() {
            continue;
        }
        let lower = tag.to_lowercase();
        if tags.iter().any(|(l, _)| *l == lower) {
            continue;
        }
        if !protected {
            let numeric = tag
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == ' ');
            if numeric || tag.chars().count() < 2 || STOP_WORDS.contains(&lower.as_str()) {
                continue;
            }
        }
        tags.push((lower, tag.to_string()));
    }
    // Stable, by the lower-cased form (as `sort_by_key(to_lowercase)` was).
    tags.sort_by(|a, b| a.0.cmp(&b.0));
    let tags: Vec<String> = tags.into_iter().map(|(_, t)| t).collect();

    let mut out_tags = Vec::with_capacity(tags.len());
    let mut out_norm = Vec::with_capacity(tags.len());
    for t in tags {
        let n = normalize_tag(&t);
        if !n.is_empty() {
            out_tags.push(t);
            out_norm.push(n);
        }
    }
    (out_tags, out_norm)
}

/// One `tags_normalized` entry: `CI/CD` -> `cislashcd`, `.NET` -> `dotnet`, `C#` -> `csharp`.
pub fn normalize_tag(tag: &str) -> String {
    let mut s = String::with_capacity(tag.len() + 8);
    for c in transliterate(tag).chars() {
        match c {
            '#' => s.push_str("sharp"),
            '+' => s.push_str("plus"),
            '.' => s.push_str("dot"),
            '&' => s.push_str("and"),
            '@' => s.push_str("at"),
            '*' => s.push_str("star"),
            '!' => s.push_str("bang"),
            '|' => s.push_str("pipe"),
            '\\' => s.push_str("backslash"),
            '/' => s.push_str("slash"),
            '-' => s.push_str("min"),
            c if c.is_ascii_alphanumeric() => s.push(c.to_ascii_lowercase()),
            c if c.is_whitespace() => s.push(' '),
            _ => {}
        }
    }
    collapse_ws(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_value_fast_path_is_the_full_rule() {
        let full = |v: &str| {
            remove_controls(&decode_entities(v))
                .replace(['-', '_'], " ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        for v in [
            "",
            " ",
            "DevOps",
            "Machine Learning",
            " lead",
            "trail ",
            "two  spaces",
            "a\tb",
            "x\u{a0}y",
            "C#",
            "ci-cd",
            "snake_case",
            "R&amp;D",
            "ctl\u{7}",
            "zw\u{200B}sp",
            "caf\u{e9}",
            "\u{65e5}\u{672c}",
        ] {
            assert_eq!(clean_value(v), full(v), "{v:?}");
        }
        assert_eq!(known("github"), Some("GitHub"));
        assert_eq!(known("nothing-known"), None);
    }

    fn feed(categories: &[&str], tags: &[&str], collection: &str) -> FeedConfig {
        let mut f = FeedConfig::new("F", "https://e/f", collection);
        f.categories = categories.iter().map(|s| s.to_string()).collect();
        f.tags = tags.iter().map(|s| s.to_string()).collect();
        f
    }

    #[test]
    fn seed_tags() {
        let (t, n) = build_tags(&["devops".into()], &feed(&["DevOps"], &[], "community"));
        assert_eq!(t, ["Community", "DevOps"]);
        assert_eq!(n, ["community", "devops"]);
    }

    #[test]
    fn split_clean_capitalize_dedupe_drop_sort() {
        let cats: Vec<String> = [
            "dotnet; csharp",
            "azure-functions",
            "2025",
            "x",
            "news",
            "Release",
            "k8s",
            "cloud_native 2024",
            "AI, ai",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (t, n) = build_tags(&cats, &feed(&["Coding"], &["vscode"], "news"));
        assert_eq!(
            t,
            [
                ".NET",
                "AI",
                "Azure Functions",
                "C#",
                "Cloud Native",
                "Coding",
                "Kubernetes",
                "News",
                "VS Code"
            ]
        );
        assert_eq!(
            n,
            [
                "dotnet",
                "ai",
                "azure functions",
                "csharp",
                "cloud native",
                "coding",
                "kubernetes",
                "news",
                "vs code"
            ]
        );
    }

    #[test]
    fn short_collections_are_upper_case() {
        let (t, _) = build_tags(&[], &feed(&[], &[], "ai"));
        assert_eq!(t, ["AI"]);
        let (t, _) = build_tags(&[], &feed(&[], &[], "events"));
        assert_eq!(t, ["Events"]);
    }

    #[test]
    fn upper_case_words_are_kept() {
        let (t, _) = build_tags(
            &[
                "iPhone tips".into(),
                "Backend development".into(),
                "3D printing".into(),
            ],
            &feed(&[], &[], "blogs"),
        );
        assert_eq!(
            t,
            ["3D Printing", "Backend Development", "Blogs", "Iphone Tips"]
        );
    }

    #[test]
    fn normalized_forms() {
        assert_eq!(normalize_tag("CI/CD"), "cislashcd");
        assert_eq!(normalize_tag("C++"), "cplusplus");
        assert_eq!(normalize_tag("Node.js"), "nodedotjs");
        assert_eq!(normalize_tag("  Many   Spaces  "), "many spaces");
        assert_eq!(normalize_tag("日本"), "");
    }
}
