//! Repairs for broken real-world XML, applied only after the strict parse failed. Each function
//! fixes one kind of breakage seen in the corpus of real feeds (`../shared/corpus`), and each is
//! linear in the document size.

/// XML's five predefined entities; everything else named must be converted or escaped.
const XML_ENTITIES: &[&str] = &["amp", "lt", "gt", "quot", "apos"];

/// Apply every repair in order.
pub fn repair(text: &str) -> String {
    let s = strip_leading_junk(text);
    let s = strip_doctype(&s);
    let s = unwrap_atom_from_page(&s);
    let s = fix_cdata(&s);
    let s = fix_entities(&s);
    let s = fix_rss_version(&s);
    let s = modernize_namespaces(&s);
    let s = declare_common_prefixes(&s);
    let s = balance_tags(&s);
    add_missing_channel(&s)
}

/// RSS 1.0 items identified only by `rdf:about` get it as their `<link>`: feed-rs drops an RDF
/// item without a link, and the `rdf:about` URI is the item's address (feedparser uses it too).
/// Applied before the strict parse (an RDF feed can be well-formed and still lose such items);
/// documents without `rdf:about` pass through untouched, and only http(s) values are used.
pub fn rdf_item_links(text: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    if !text.contains("rdf:about") {
        return Cow::Borrowed(text);
    }
    let mut out = String::new();
    let mut copied = 0;
    let mut from = 0;
    while let Some(i) = text[from..].find("<item").map(|i| from + i) {
        from = i + "<item".len();
        let rest = &text[from..];
        if !rest.starts_with(|c: char| c.is_ascii_whitespace()) {
            continue;
        }
        let Some(open_end) = rest.find('>') else {
            break;
        };
        let start_tag = &rest[..open_end];
        if start_tag.ends_with('/') {
            continue;
        }
        let body_start = from + open_end + 1;
        let body_end = text[body_start..]
            .find("</item>")
            .map_or(text.len(), |e| body_start + e);
        if text[body_start..body_end].contains("<link") {
            continue;
        }
        let about = start_tag.find("rdf:about=").and_then(|a| {
            let value = &start_tag[a + "rdf:about=".len()..];
            let quote = value.chars().next().filter(|q| *q == '"' || *q == '\'')?;
            let value = &value[1..];
            value.find(quote).map(|e| value[..e].trim())
        });
        let Some(about) = about.filter(|a| {
            let lower = a.get(..8).unwrap_or(a).to_ascii_lowercase();
            (lower.starts_with("http://") || lower.starts_with("https://")) && !a.contains('<')
        }) else {
            continue;
        };
        out.push_str(&text[copied..body_start]);
        out.push_str("<link>");
        out.push_str(about);
        out.push_str("</link>");
        copied = body_start;
        from = body_start;
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// Whitespace or garbage before `<?xml` / the root element (a leading newline before the prolog
/// is a fatal error for XML parsers).
pub fn strip_leading_junk(text: &str) -> String {
    match text.find('<') {
        Some(i) if i > 0 => text[i..].to_string(),
        _ => text.to_string(),
    }
}

/// Remove `<!DOCTYPE ...>` including an internal subset: feeds never need it, and it is where
/// entity-expansion bombs (billion laughs) live.
pub fn strip_doctype(text: &str) -> String {
    let Some(start) = text.find("<!DOCTYPE").or_else(|| text.find("<!doctype")) else {
        return text.to_string();
    };
    let rest = &text[start..];
    let mut depth = 0usize;
    let mut end = None;
    for (i, c) in rest.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            '>' if depth == 0 => {
                end = Some(i + 1);
                break;
            }
            _ => {}
        }
    }
    match end {
        Some(e) => format!("{}{}", &text[..start], &rest[e..]),
        None => text[..start].to_string(),
    }
}

/// The first `max` bytes of `text`, shortened to a character boundary (slicing at a raw byte
/// offset would panic inside a multi-byte character).
fn head(text: &str, max: usize) -> &str {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// An Atom `<feed>` embedded in an XHTML page (feedjira's DuplicateContentAtomFeed: a blog served
/// its feed inside an HTML template): keep just the feed element.
pub fn unwrap_atom_from_page(text: &str) -> String {
    let head = head(text, 2000).to_ascii_lowercase();
    if !(head.contains("<html") || head.contains("<!doctype html")) {
        return text.to_string();
    }
    match (text.find("<feed"), text.rfind("</feed>")) {
        (Some(s), Some(e)) if e > s => text[s..e + "</feed>".len()].to_string(),
        _ => text.to_string(),
    }
}

/// `<<![CDATA[` (Medium's feeds, jekyll-import's mock) and CDATA sections that never close
/// (feedparser's incomplete-cdata test): the stray `<` is dropped and an unclosed section is
/// closed before its element's end tag. Linear: each search resumes where the last one ended.
pub fn fix_cdata(text: &str) -> String {
    const OPEN: &str = "<![CDATA[";
    const CLOSE: &str = "]]>";
    let s = text.replace("<<![CDATA[", OPEN);
    if !s.contains(OPEN) {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 64);
    let mut pos = 0;
    // Absolute positions of the next `]]>` and `<![CDATA[` at or after `pos`, cached so a
    // document full of unclosed sections is not rescanned to its end for every one of them.
    let mut next_close = s.find(CLOSE);
    while let Some(i) = s[pos..].find(OPEN) {
        let body = pos + i + OPEN.len();
        out.push_str(&s[pos..body]);
        if next_close.is_some_and(|c| c < body) {
            next_close = s[body..].find(CLOSE).map(|c| body + c);
        }
        let next_open = s[body..].find(OPEN).map(|o| body + o);
        match next_close {
            Some(c) if next_open.is_none_or(|n| c < n) => {
                out.push_str(&s[body..c + CLOSE.len()]);
                pos = c + CLOSE.len();
            }
            _ => {
                // Unclosed: close it before the enclosing element's end tag.
                let limit = next_open.unwrap_or(s.len());
                let cut = s[body..limit].find("</").map_or(limit, |e| body + e);
                out.push_str(&s[body..cut]);
                out.push_str(CLOSE);
                pos = cut;
            }
        }
    }
    out.push_str(&s[pos..]);
    out
}

/// Bare `&` becomes `&amp;` (Daily SCI-Tech News, feedparser's corrupted-ampersands link); HTML
/// named entities XML does not know (`&nbsp;`, `&eacute;` ...: db-engines, feedparser's nbsp test)
/// become numeric references; unknown names are escaped as text. Inside CDATA nothing changes.
/// Entities are translated one by one, never expanded recursively, so the output is at most a
/// few times the input whatever it contains. Linear: the next CDATA position is cached.
pub fn fix_entities(text: &str) -> String {
    const OPEN: &str = "<![CDATA[";
    let mut out = String::with_capacity(text.len() + 64);
    let mut pos = 0;
    let mut next_cdata = text.find(OPEN);
    while let Some(a) = text[pos..].find('&').map(|a| pos + a) {
        if let Some(c) = next_cdata.filter(|&c| c < a) {
            // Copy the CDATA section verbatim (an unclosed one runs to the end).
            let end = text[c..].find("]]>").map_or(text.len(), |e| c + e + 3);
            out.push_str(&text[pos..end]);
            pos = end;
            next_cdata = text[pos..].find(OPEN).map(|n| pos + n);
            continue;
        }
        out.push_str(&text[pos..a]);
        let after = &text[a + 1..];
        // Entity names are short: look for the `;` in the next 33 bytes only (searching the
        // whole rest for every `&` would be quadratic on a document of bare ampersands).
        let name = after
            .as_bytes()
            .iter()
            .take(33)
            .position(|&b| b == b';')
            .map(|n| &after[..n]);
        match name {
            Some(n) if (n.starts_with('#') && is_char_ref(n)) || XML_ENTITIES.contains(&n) => {
                out.push('&');
                out.push_str(n);
                out.push(';');
                pos = a + 1 + n.len() + 1;
            }
            Some(n) if !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric()) => {
                let entity = format!("&{n};");
                let decoded = html_escape::decode_html_entities(&entity);
                if decoded != entity {
                    for ch in decoded.chars() {
                        out.push_str(&format!("&#{};", ch as u32));
                    }
                } else {
                    out.push_str("&amp;");
                    out.push_str(n);
                    out.push(';');
                }
                pos = a + 1 + n.len() + 1;
            }
            _ => {
                out.push_str("&amp;");
                pos = a + 1;
            }
        }
    }
    out.push_str(&text[pos..]);
    out
}

fn is_char_ref(n: &str) -> bool {
    let body = &n[1..];
    let value = if let Some(hex) = body.strip_prefix(['x', 'X']) {
        u32::from_str_radix(hex, 16).ok()
    } else {
        body.parse::<u32>().ok()
    };
    value
        .and_then(char::from_u32)
        .is_some_and(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
}

/// `<rss>` without a version, or with a 0.9x version feed-rs refuses: read it as RSS 2.0
/// (a superset of those formats).
pub fn fix_rss_version(text: &str) -> String {
    let Some(start) = text.find("<rss") else {
        return text.to_string();
    };
    let after = &text[start + 4..];
    if !after.starts_with(|c: char| c.is_whitespace() || c == '>') {
        return text.to_string();
    }
    let Some(end) = after.find('>') else {
        return text.to_string();
    };
    let tag = &after[..end];
    let new_tag = match tag.find("version") {
        Some(v) => {
            let rest = &tag[v..];
            let q1 = rest.find(['"', '\'']);
            let q2 = q1.and_then(|q| rest[q + 1..].find(['"', '\'']).map(|e| q + 1 + e));
            match (q1, q2) {
                (Some(a), Some(b)) if !rest[a + 1..b].starts_with('2') => {
                    format!("{}version=\"2.0\"{}", &tag[..v], &rest[b + 1..])
                }
                _ => tag.to_string(),
            }
        }
        None => format!(" version=\"2.0\"{tag}"),
    };
    format!("{}<rss{}{}", &text[..start], new_tag, &after[end..])
}

/// Old namespaces feed-rs does not read: RSS 0.90 (read as RSS 1.0) and Atom 0.3 (read as
/// Atom 1.0, with its `issued`/`modified`/`created` dates renamed).
pub fn modernize_namespaces(text: &str) -> String {
    let mut s = text.replace(
        "http://my.netscape.com/rdf/simple/0.9/",
        "http://purl.org/rss/1.0/",
    );
    if s.contains("http://purl.org/atom/ns#") {
        s = s.replace("http://purl.org/atom/ns#", "http://www.w3.org/2005/Atom");
        for (old, new) in [
            ("issued", "published"),
            ("modified", "updated"),
            ("created", "published"),
        ] {
            s = s
                .replace(&format!("<{old}>"), &format!("<{new}>"))
                .replace(&format!("</{old}>"), &format!("</{new}>"));
        }
        s = atom03_content_attributes(&s);
    }
    s
}

/// Atom 0.3 text constructs carry a MIME `type` and an escaping `mode`; Atom 1.0 has one `type`
/// (`text`, `html`, `xhtml`). Rewrite `<content type="text/html" mode="escaped">` as
/// `<content type="html">`.
fn atom03_content_attributes(text: &str) -> String {
    let re = regex_lite::Regex::new(
        r#"<(title|summary|content|tagline|info|copyright)(\s[^>]*?)?(/?)>"#,
    );
    let Ok(re) = re else { return text.to_string() };
    let type_re = regex_lite::Regex::new(r#"\s(type|mode)\s*=\s*("[^"]*"|'[^']*')"#);
    let Ok(type_re) = type_re else {
        return text.to_string();
    };
    re.replace_all(text, |caps: &regex_lite::Captures| {
        let name = &caps[1];
        let attrs = caps.get(2).map(|m| m.as_str()).unwrap_or("");
        let close = &caps[3];
        let mode = type_re
            .captures_iter(attrs)
            .find(|c| &c[1] == "mode")
            .map(|c| c[2].trim_matches(['"', '\'']).to_string());
        let mime = type_re
            .captures_iter(attrs)
            .find(|c| &c[1] == "type")
            .map(|c| c[2].trim_matches(['"', '\'']).to_ascii_lowercase());
        let kind = match (mode.as_deref(), mime.as_deref()) {
            (Some("escaped"), _) => "html",
            (_, Some(m)) if m.contains("html") => "html",
            _ => "text",
        };
        let rest = type_re.replace_all(attrs, "");
        format!("<{name}{rest} type=\"{kind}\"{close}>")
    })
    .into_owned()
}

/// Prefixes used without a declaration (`<dc:creator>` in a feed that forgot `xmlns:dc`):
/// declare the well-known ones on the root element.
pub fn declare_common_prefixes(text: &str) -> String {
    const KNOWN: &[(&str, &str)] = &[
        ("dc", "http://purl.org/dc/elements/1.1/"),
        ("content", "http://purl.org/rss/1.0/modules/content/"),
        ("media", "http://search.yahoo.com/mrss/"),
        ("atom", "http://www.w3.org/2005/Atom"),
        ("itunes", "http://www.itunes.com/dtds/podcast-1.0.dtd"),
        ("slash", "http://purl.org/rss/1.0/modules/slash/"),
        ("wfw", "http://wellformedweb.org/CommentAPI/"),
        ("sy", "http://purl.org/rss/1.0/modules/syndication/"),
        ("yt", "http://www.youtube.com/xml/schemas/2015"),
        ("feedburner", "http://rssnamespace.org/feedburner/ext/1.0"),
        ("georss", "http://www.georss.org/georss"),
        ("geo", "http://www.w3.org/2003/01/geo/wgs84_pos#"),
        ("rdf", "http://www.w3.org/1999/02/22-rdf-syntax-ns#"),
    ];
    // The root element: the first start tag that is not a prolog, comment or declaration.
    let mut pos = 0;
    let root_start = loop {
        let Some(i) = text[pos..].find('<') else {
            return text.to_string();
        };
        let at = pos + i;
        if text[at..].starts_with("<?") || text[at..].starts_with("<!") {
            pos = at + 2;
            continue;
        }
        break at;
    };
    let Some(root_len) = text[root_start..].find('>') else {
        return text.to_string();
    };
    let root = &text[root_start..root_start + root_len];
    if !root.starts_with('<') {
        return text.to_string();
    }
    let mut extra = String::new();
    for (prefix, uri) in KNOWN {
        let used = text.contains(&format!("<{prefix}:")) || text.contains(&format!(" {prefix}:"));
        if used && !text.contains(&format!("xmlns:{prefix}=")) {
            extra.push_str(&format!(" xmlns:{prefix}=\"{uri}\""));
        }
    }
    if extra.is_empty() {
        return text.to_string();
    }
    let insert_at = root_start + root.trim_end_matches('/').len();
    format!("{}{}{}", &text[..insert_at], extra, &text[insert_at..])
}

/// Tag soup to well-formed XML: a truncated document loses its trailing partial markup and gets
/// its open elements closed (feedjira's InvalidDateFormat has no `</rss>`); an element left
/// unclosed inside its parent (`<itunes:category>` without `</itunes:category>` in feedjira's
/// ITunesWithSingleQuotedAttributes) is closed where it was opened; a stray closing tag with no
/// open element is dropped; a `<` that starts no tag (`1 < 2` in a title) is escaped.
///
/// One pass with a stack of open element names. Closing tags found for elements that were never
/// closed are collected and merged into the output in a second linear pass, and a count of open
/// names spares searching the stack for a closing tag that matches nothing: no quadratic case.
pub fn balance_tags(text: &str) -> String {
    use std::collections::HashMap;
    let mut out = String::with_capacity(text.len() + 64);
    // Open elements: name and the output position right after their start tag.
    let mut stack: Vec<(&str, usize)> = Vec::new();
    let mut open_count: HashMap<&str, usize> = HashMap::new();
    // Close tags to insert at earlier output positions (elements left unclosed mid-document).
    let mut inserts: Vec<(usize, &str)> = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let skip_to = |end: &str| tail.find(end).map(|e| e + end.len());
        let second = tail[1..].chars().next();
        let is_markup =
            second.is_some_and(|c| c.is_alphabetic() || matches!(c, '_' | '/' | '!' | '?'));
        if !is_markup {
            out.push_str("&lt;");
            rest = &tail[1..];
            continue;
        }
        let consumed = if tail.starts_with("<!--") {
            skip_to("-->")
        } else if tail.starts_with("<![CDATA[") {
            skip_to("]]>")
        } else if tail.starts_with("<?") {
            skip_to("?>")
        } else if tail.starts_with("<!") {
            skip_to(">")
        } else {
            match tag_end(tail) {
                TagEnd::At(n) => Some(n),
                // `<b <i>`: this `<` starts no complete tag; keep it as text.
                TagEnd::Interrupted => {
                    out.push_str("&lt;");
                    rest = &tail[1..];
                    continue;
                }
                TagEnd::Truncated => None,
            }
        };
        let Some(len) = consumed else {
            // Truncated inside markup: drop the partial tag.
            rest = "";
            break;
        };
        let tag = &tail[..len];
        if let Some(name) = tag.strip_prefix("</") {
            let name = name.trim_end_matches('>').trim();
            let open = open_count.get(name).copied().unwrap_or(0);
            if open > 0 {
                if let Some(pos) = stack.iter().rposition(|(n, _)| *n == name) {
                    // Elements opened inside and never closed become empty where they were
                    // opened, so what followed them stays a sibling (an unclosed
                    // <itunes:category> must not swallow the items after it).
                    while stack.len() > pos + 1 {
                        if let Some((inner, at)) = stack.pop() {
                            inserts.push((at, inner));
                            if let Some(c) = open_count.get_mut(inner) {
                                *c = c.saturating_sub(1);
                            }
                        }
                    }
                    stack.pop();
                    if let Some(c) = open_count.get_mut(name) {
                        *c = c.saturating_sub(1);
                    }
                    out.push_str(tag);
                }
            }
            // else: a closing tag that closes nothing is dropped.
        } else if !tag.starts_with("<!") && !tag.starts_with("<?") {
            let name = tag[1..]
                .split(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .next()
                .unwrap_or_default();
            out.push_str(tag);
            if !tag.ends_with("/>") && !name.is_empty() {
                stack.push((name, out.len()));
                *open_count.entry(name).or_insert(0) += 1;
            }
        } else {
            out.push_str(tag);
        }
        rest = &tail[len..];
    }
    out.push_str(rest);
    // End of a truncated document: close what is open, innermost first.
    while let Some((open, _)) = stack.pop() {
        out.push_str("</");
        out.push_str(open);
        out.push('>');
    }
    if inserts.is_empty() {
        return out;
    }
    // Merge the inserts in one pass. Several at one position were pushed innermost first, which
    // is the order they must appear in (the stable sort keeps it).
    inserts.sort_by_key(|(at, _)| *at);
    let mut merged = String::with_capacity(out.len() + inserts.len() * 16);
    let mut from = 0;
    for (at, name) in inserts {
        merged.push_str(&out[from..at]);
        merged.push_str("</");
        merged.push_str(name);
        merged.push('>');
        from = at;
    }
    merged.push_str(&out[from..]);
    merged
}

/// How a start or end tag at the beginning of a text ends.
enum TagEnd {
    /// Its length, `>` included.
    At(usize),
    /// Another `<` came first (outside quotes): this was no tag.
    Interrupted,
    /// The document ended first.
    Truncated,
}

/// Find the end of the tag at the beginning of `tail`, honouring quoted attribute values.
fn tag_end(tail: &str) -> TagEnd {
    let mut quote: Option<char> = None;
    for (i, c) in tail.char_indices().skip(1) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            // A quote left open across a line break and a new tag is no quote: the value ended.
            (Some(_), '<') => return TagEnd::Interrupted,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return TagEnd::At(i + 1),
            (None, '<') => return TagEnd::Interrupted,
            _ => {}
        }
    }
    TagEnd::Truncated
}

/// `<rss>` with no `<channel>` (a valid but empty document in the wild): give it an empty one.
pub fn add_missing_channel(text: &str) -> String {
    if text.contains("<rss") && !text.contains("<channel") {
        if let Some(i) = text.rfind("</rss>") {
            return format!(
                "{}<channel><title></title></channel>{}",
                &text[..i],
                &text[i..]
            );
        }
    }
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities() {
        assert_eq!(
            fix_entities("a & b &amp; c &nbsp; &#169; &bogus; &"),
            "a &amp; b &amp; c &#160; &#169; &amp;bogus; &amp;"
        );
        assert_eq!(
            fix_entities("<![CDATA[a & b]]> & c"),
            "<![CDATA[a & b]]> &amp; c"
        );
        assert_eq!(fix_entities("&#0;"), "&amp;#0;");
        assert_eq!(fix_entities("&eacute;&hellip;"), "&#233;&#8230;");
        assert_eq!(fix_entities("a=1&b=2;"), "a=1&amp;b=2;");
        assert_eq!(fix_entities("&amp"), "&amp;amp");
    }

    #[test]
    fn rss_versions() {
        assert_eq!(
            fix_rss_version("<rss><channel/></rss>"),
            "<rss version=\"2.0\"><channel/></rss>"
        );
        assert_eq!(
            fix_rss_version("<rss version=\"0.9\">"),
            "<rss version=\"2.0\">"
        );
        assert_eq!(
            fix_rss_version("<rss version=\"2.0\">"),
            "<rss version=\"2.0\">"
        );
        assert_eq!(fix_rss_version("<rssx>"), "<rssx>");
    }

    #[test]
    fn doctype_and_billion_laughs() {
        let bomb = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]><rss><t>&lol2;</t></rss>";
        let fixed = repair(bomb);
        assert!(
            !fixed.contains("DOCTYPE") && !fixed.contains("ENTITY"),
            "{fixed}"
        );
        assert!(fixed.contains("&amp;lol2;"), "{fixed}");
    }

    #[test]
    fn structure() {
        assert_eq!(strip_leading_junk("\n\n  <?xml?><a/>"), "<?xml?><a/>");
        assert_eq!(fix_cdata("<d><<![CDATA[x]]></d>"), "<d><![CDATA[x]]></d>");
        assert_eq!(
            fix_cdata("<d><![CDATA[x</d><e>y</e>"),
            "<d><![CDATA[x]]></d><e>y</e>"
        );
        assert_eq!(
            balance_tags("<rss><channel><item>a</item><item><title><![CD"),
            "<rss><channel><item>a</item><item><title></title></item></channel></rss>"
        );
        assert_eq!(
            balance_tags("<c><i:cat t='x'><i:cat t='y'/><item/></c>"),
            "<c><i:cat t='x'></i:cat><i:cat t='y'/><item/></c>"
        );
        assert_eq!(balance_tags("<a>x</b></a>"), "<a>x</a>");
        assert_eq!(balance_tags("<t>1 < 2</t>"), "<t>1 &lt; 2</t>");
        assert_eq!(balance_tags("<t><b <i>x</i></t>"), "<t>&lt;b <i>x</i></t>");
        assert_eq!(
            fix_cdata("<a><![CDATA[1</a><b><![CDATA[2]]></b><c><![CDATA[3"),
            "<a><![CDATA[1]]></a><b><![CDATA[2]]></b><c><![CDATA[3]]>"
        );
        assert_eq!(head("aé", 2), "a");
        assert_eq!(balance_tags("<a t=\"1>2\">x</a>"), "<a t=\"1>2\">x</a>");
        assert_eq!(
            add_missing_channel("<rss>\n</rss>"),
            "<rss>\n<channel><title></title></channel></rss>"
        );
        let page = "<!DOCTYPE html><html><body><feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title></feed></body></html>";
        assert!(unwrap_atom_from_page(page).starts_with("<feed"));
        let atom03 =
            "<feed xmlns=\"http://purl.org/atom/ns#\"><entry><issued>2004</issued></entry></feed>";
        assert!(modernize_namespaces(atom03).contains("<published>2004</published>"));
        assert!(modernize_namespaces(atom03).contains("http://www.w3.org/2005/Atom"));
        let rss090 = "<rdf:RDF xmlns=\"http://my.netscape.com/rdf/simple/0.9/\">";
        assert!(modernize_namespaces(rss090).contains("http://purl.org/rss/1.0/"));
        let content = "<feed xmlns=\"http://purl.org/atom/ns#\"><content type=\"text/html\" mode=\"escaped\">x</content></feed>";
        assert!(
            modernize_namespaces(content).contains("<content type=\"html\">"),
            "{}",
            modernize_namespaces(content)
        );
        let undeclared =
            "<rss version=\"2.0\"><channel><item><dc:creator>x</dc:creator></item></channel></rss>";
        assert!(declare_common_prefixes(undeclared)
            .starts_with("<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">"));
    }
}
