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
    close_root(&s)
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
        s = s
            .replace("mode=\"escaped\"", "type=\"html\"")
            .replace("mode=\"xml\"", "type=\"xhtml\"");
    }
    s
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
    if !root.starts_with(|c: char| c == '<') {
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

/// A document cut off before its root element closed: close what the format needs.
pub fn close_root(text: &str) -> String {
    let t = text.trim_end();
    let mut s = t.to_string();
    if t.contains("<rss") && !t.contains("</rss>") {
        if t.contains("<channel") && !t.contains("</channel>") {
            if let Some(last_item_end) = s.rfind("</item>") {
                s.truncate(last_item_end + "</item>".len());
            }
            s.push_str("</channel>");
        }
        s.push_str("</rss>");
    } else if t.contains("<feed") && !t.contains("</feed>") {
        if let Some(last) = s.rfind("</entry>") {
            s.truncate(last + "</entry>".len());
        }
        s.push_str("</feed>");
    } else if t.contains("<rdf:RDF") && !t.contains("</rdf:RDF>") {
        if let Some(last) = s.rfind("</item>") {
            s.truncate(last + "</item>".len());
        }
        s.push_str("</rdf:RDF>");
    }
    s
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
            close_root("<rss><channel><item>a</item><item>b"),
            "<rss><channel><item>a</item></channel></rss>"
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
