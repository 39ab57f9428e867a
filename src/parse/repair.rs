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

/// An Atom `<feed>` embedded in an XHTML page: keep just the feed element.
pub fn unwrap_atom_from_page(text: &str) -> String {
    let head = &text[..text.len().min(2000)].to_ascii_lowercase();
    if !(head.contains("<html") || head.contains("<!doctype html")) {
        return text.to_string();
    }
    match (text.find("<feed"), text.rfind("</feed>")) {
        (Some(s), Some(e)) if e > s => text[s..e + "</feed>".len()].to_string(),
        _ => text.to_string(),
    }
}

/// `<<![CDATA[` and CDATA sections that never close before their element ends.
pub fn fix_cdata(text: &str) -> String {
    let s = text.replace("<<![CDATA[", "<![CDATA[");
    if !s.contains("<![CDATA[") {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 64);
    let mut rest = s.as_str();
    while let Some(i) = rest.find("<![CDATA[") {
        out.push_str(&rest[..i + 9]);
        rest = &rest[i + 9..];
        let close = rest.find("]]>");
        let next_open = rest.find("<![CDATA[");
        // The end of the enclosing element: the first closing tag.
        let elem_end = rest.find("</");
        match close {
            Some(c) if next_open.is_none_or(|n| c < n) => {
                out.push_str(&rest[..c + 3]);
                rest = &rest[c + 3..];
            }
            _ => {
                // Unclosed: close it before the enclosing element's end tag.
                let cut = elem_end.unwrap_or(rest.len());
                out.push_str(&rest[..cut]);
                out.push_str("]]>");
                rest = &rest[cut..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Bare `&` becomes `&amp;`; HTML named entities XML does not know (`&nbsp;`, `&eacute;` ...)
/// become numeric references; unknown names are escaped as text. Inside CDATA nothing changes.
pub fn fix_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    loop {
        let cdata = rest.find("<![CDATA[");
        let amp = rest.find('&');
        match (amp, cdata) {
            (None, _) => {
                out.push_str(rest);
                return out;
            }
            (Some(a), Some(c)) if c < a => {
                let end = rest[c..]
                    .find("]]>")
                    .map(|e| c + e + 3)
                    .unwrap_or(rest.len());
                out.push_str(&rest[..end]);
                rest = &rest[end..];
            }
            (Some(a), _) => {
                out.push_str(&rest[..a]);
                let after = &rest[a + 1..];
                let semi = after.find(';').filter(|&n| n <= 32);
                let name = semi.map(|n| &after[..n]);
                match name {
                    Some(n) if n.starts_with('#') && is_char_ref(n) => {
                        out.push('&');
                        out.push_str(n);
                        out.push(';');
                        rest = &after[n.len() + 1..];
                    }
                    Some(n) if XML_ENTITIES.contains(&n) => {
                        out.push('&');
                        out.push_str(n);
                        out.push(';');
                        rest = &after[n.len() + 1..];
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
                        rest = &after[n.len() + 1..];
                    }
                    _ => {
                        out.push_str("&amp;");
                        rest = after;
                    }
                }
            }
        }
    }
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
/// its open elements closed; an element left unclosed inside its parent (`<itunes:category>`
/// without `</itunes:category>`) is closed where the parent closes; a stray closing tag with no
/// open element is dropped. One pass, a stack of open element names.
pub fn balance_tags(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    // Open elements: name and the output position right after their start tag.
    let mut stack: Vec<(String, usize)> = Vec::new();
    // Close tags to insert at earlier output positions (elements left unclosed mid-document).
    let mut inserts: Vec<(usize, String)> = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let skip_to = |end: &str| tail.find(end).map(|e| e + end.len());
        let consumed = if tail.starts_with("<!--") {
            skip_to("-->")
        } else if tail.starts_with("<![CDATA[") {
            skip_to("]]>")
        } else if tail.starts_with("<?") {
            skip_to("?>")
        } else if tail.starts_with("<!") {
            skip_to(">")
        } else {
            tag_end(tail)
        };
        let Some(len) = consumed else {
            // Truncated inside markup: drop the partial tag.
            rest = "";
            break;
        };
        let tag = &tail[..len];
        if let Some(name) = tag.strip_prefix("</") {
            let name = name.trim_end_matches('>').trim();
            if let Some(pos) = stack.iter().rposition(|(n, _)| n == name) {
                // Elements opened inside and never closed become empty where they were opened,
                // so what followed them stays a sibling (an unclosed <itunes:category> must not
                // swallow the items after it).
                while stack.len() > pos + 1 {
                    if let Some((open, at)) = stack.pop() {
                        inserts.push((at, format!("</{open}>")));
                    }
                }
                stack.pop();
                out.push_str(tag);
            }
            // else: a closing tag that closes nothing is dropped.
        } else if tag.starts_with('<') && !tag.starts_with("<!") && !tag.starts_with("<?") {
            let name: String = tag[1..]
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
                .collect();
            out.push_str(tag);
            if !tag.ends_with("/>") && !name.is_empty() {
                stack.push((name, out.len()));
            }
        } else {
            out.push_str(tag);
        }
        rest = &tail[len..];
    }
    out.push_str(rest);
    // End of a truncated document: close what is open, innermost first.
    while let Some((open, _)) = stack.pop() {
        out.push_str(&format!("</{open}>"));
    }
    inserts.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    for (at, close) in inserts {
        out.insert_str(at, &close);
    }
    out
}

/// The length of a start or end tag at the beginning of `tail`, honouring quoted attribute values.
fn tag_end(tail: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in tail.char_indices().skip(1) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Some(i + 1),
            (None, '<') => return None,
            _ => {}
        }
    }
    None
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
        let undeclared =
            "<rss version=\"2.0\"><channel><item><dc:creator>x</dc:creator></item></channel></rss>";
        assert!(declare_common_prefixes(undeclared)
            .starts_with("<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">"));
    }
}
