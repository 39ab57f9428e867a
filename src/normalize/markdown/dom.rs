//! A small DOM of *sanitized* HTML, for the markdown converter. It is built two ways:
//! - in normalization, by the sanitizer itself ([`crate::normalize::html`]), from html5ever's
//!   one parse of the entry (elements of [`Source::Tree`]);
//! - from a string of sanitized HTML by [`Dom::parse`] (elements of [`Source::Raw`]), for
//!   `html_to_markdown` on a string (tests, fuzzing, callers with HTML in hand).
//!
//! Why the string reader is not html5ever: its input is html5ever's own serialization of a tree
//! already built (lower-case names, quoted attributes, every element closed, only `&amp;`,
//! `&lt;`, `&gt;`, `&nbsp;` and `&quot;` escaped). Building a full HTML5 tree from that again
//! (what `html2md` did) cost more than the conversion itself; reading the tree back off the
//! serialization is one linear pass with a few allocations.
//!
//! It must still be total on any string (the converter is a public path and fuzzed): a stray
//! `<`, an unclosed or unmatched tag, raw-text elements and comments are all handled without
//! panicking, and nesting deeper than the caller's limit is reported, not recursed into.

use std::borrow::Cow;
use std::ops::Range;

use super::super::text::decode_entities;

/// The element names the converter treats specially; everything else is [`Tag::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    Div,
    Section,
    Header,
    Footer,
    P,
    Br,
    Hr,
    Q,
    Cite,
    Blockquote,
    Details,
    Summary,
    B,
    I,
    S,
    Strong,
    Em,
    Del,
    H(u8),
    Pre,
    Code,
    Img,
    A,
    Ol,
    Ul,
    Menu,
    Li,
    Sub,
    Sup,
    Table,
    Tr,
    Td,
    Th,
    Other,
}

impl Tag {
    pub fn of(name: &str) -> Tag {
        // Sanitized names are lower case already; anything else is lower-cased first.
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            return Tag::of(&name.to_ascii_lowercase());
        }
        match name {
            "p" => Tag::P,
            "a" => Tag::A,
            "br" => Tag::Br,
            "li" => Tag::Li,
            "div" => Tag::Div,
            "em" => Tag::Em,
            "strong" => Tag::Strong,
            "b" => Tag::B,
            "i" => Tag::I,
            "ul" => Tag::Ul,
            "ol" => Tag::Ol,
            "img" => Tag::Img,
            "code" => Tag::Code,
            "pre" => Tag::Pre,
            "h1" => Tag::H(1),
            "h2" => Tag::H(2),
            "h3" => Tag::H(3),
            "h4" => Tag::H(4),
            "h5" => Tag::H(5),
            "h6" => Tag::H(6),
            "blockquote" => Tag::Blockquote,
            "hr" => Tag::Hr,
            "table" => Tag::Table,
            "tr" => Tag::Tr,
            "td" => Tag::Td,
            "th" => Tag::Th,
            "section" => Tag::Section,
            "header" => Tag::Header,
            "footer" => Tag::Footer,
            "q" => Tag::Q,
            "cite" => Tag::Cite,
            "details" => Tag::Details,
            "summary" => Tag::Summary,
            "s" => Tag::S,
            "del" => Tag::Del,
            "menu" => Tag::Menu,
            "sub" => Tag::Sub,
            "sup" => Tag::Sup,
            _ => Tag::Other,
        }
    }
}

/// Elements without content or end tag.
fn is_void(name: &str) -> bool {
    const VOID: &[&str] = &[
        "br", "img", "hr", "wbr", "area", "base", "basefont", "bgsound", "col", "embed", "frame",
        "input", "keygen", "link", "meta", "param", "source", "track",
    ];
    VOID.iter().any(|v| v.eq_ignore_ascii_case(name))
}

/// Elements whose content is text up to their end tag (none survive sanitizing; handled so a
/// stray one cannot turn its text into markup).
fn is_raw_text(name: &str) -> bool {
    const RAW: &[&str] = &[
        "script", "style", "xmp", "iframe", "noembed", "noframes", "noscript", "textarea", "title",
    ];
    RAW.iter().any(|v| v.eq_ignore_ascii_case(name))
}

pub const NONE: u32 = u32::MAX;

#[derive(Debug)]
pub enum Kind<'a> {
    Root,
    Element { tag: Tag, src: Source<'a> },
    Text(Cow<'a, str>),
}

/// Where an element's name and attributes are: in the HTML string read by [`Dom::parse`], or
/// in the sanitized tree built from html5ever's parse ([`crate::normalize::html`]).
#[derive(Debug)]
pub enum Source<'a> {
    Raw {
        /// The start tag's attribute text (between the name and `>`).
        attrs: &'a str,
        /// From the start tag's `<` to the end tag's `>`: html5ever's serialization of the
        /// element, which `html2md` copied for `sub`, `sup` and sized images.
        outer: Range<usize>,
    },
    Tree {
        name: html5ever::LocalName,
        attrs: Vec<html5ever::Attribute>,
    },
}

#[derive(Debug)]
pub struct Node<'a> {
    pub kind: Kind<'a>,
    pub first_child: u32,
    pub next_sibling: u32,
    last_child: u32,
}

/// The tree; node 0 is the root.
#[derive(Debug)]
pub struct Dom<'a> {
    pub src: &'a str,
    pub nodes: Vec<Node<'a>>,
    /// About how long the HTML is (the converter's output buffer is sized from it).
    pub size_hint: usize,
}

impl<'a> Dom<'a> {
    /// Build the tree of `src`; `None` when elements nest deeper than `max_depth`.
    pub fn parse(src: &'a str, max_depth: usize) -> Option<Dom<'a>> {
        let mut dom = Dom::with_root(src, src.len() / 24 + 4);
        // Open elements: (node, name).
        let mut stack: Vec<(u32, &'a str)> = Vec::with_capacity(16);
        let bytes = src.as_bytes();
        let mut text_start = 0;
        let mut i = 0;
        // Text pieces are merged (a comment between two texts does not split them, as in
        // html5ever's tree).
        let mut pending: Option<Cow<'a, str>> = None;
        // After `<pre>`: one leading newline is not content (the serializer adds it back).
        let mut skip_newline = false;
        while i < bytes.len() {
            if bytes[i] != b'<' {
                i = memchr_lt(bytes, i);
                continue;
            }
            let next = bytes.get(i + 1).copied().unwrap_or(0);
            let kind = if next.is_ascii_alphabetic() {
                1
            } else if next == b'/' && bytes.get(i + 2).is_some_and(u8::is_ascii_alphabetic) {
                2
            } else if next == b'!' || next == b'?' || next == b'/' {
                3
            } else {
                0
            };
            if kind == 0 {
                // A `<` that opens nothing is text.
                i += 1;
                continue;
            }
            append_text(&mut pending, &src[text_start..i], &mut skip_newline);
            match kind {
                1 => {
                    let name_end = name_end(bytes, i + 1);
                    let name = &src[i + 1..name_end];
                    let Some(gt) = tag_end(bytes, name_end) else {
                        // An unterminated tag swallows the rest (as the tokenizer does at EOF).
                        text_start = bytes.len();
                        break;
                    };
                    let attrs = &src[name_end..gt];
                    let attrs = attrs.strip_suffix('/').unwrap_or(attrs);
                    dom.flush(&mut pending, &stack);
                    let parent = stack.last().map_or(0, |s| s.0);
                    let id = dom.push(
                        parent,
                        Kind::Element {
                            tag: Tag::of(name),
                            src: Source::Raw {
                                attrs,
                                outer: i..gt + 1,
                            },
                        },
                    );
                    i = gt + 1;
                    text_start = i;
                    if is_void(name) {
                        continue;
                    }
                    if is_raw_text(name) {
                        // Content up to `</name`, as text.
                        let end = find_end_tag(src, i, name).unwrap_or(src.len());
                        let text = decode_entities(&src[i..end]);
                        if !text.is_empty() {
                            dom.push(id, Kind::Text(text));
                        }
                        let close = src[end..].find('>').map_or(src.len(), |j| end + j + 1);
                        dom.set_outer_end(id, close);
                        i = close;
                        text_start = i;
                        continue;
                    }
                    stack.push((id, name));
                    if stack.len() > max_depth {
                        return None;
                    }
                    skip_newline = ["pre", "listing", "textarea"]
                        .iter()
                        .any(|p| p.eq_ignore_ascii_case(name));
                }
                2 => {
                    let name_end = name_end(bytes, i + 2);
                    let name = &src[i + 2..name_end];
                    let gt = tag_end(bytes, name_end).unwrap_or(bytes.len() - 1);
                    // An end tag without an open element is ignored: the text around it is one.
                    if let Some(pos) = stack
                        .iter()
                        .rposition(|(_, n)| n.eq_ignore_ascii_case(name))
                    {
                        dom.flush(&mut pending, &stack);
                        for &(open, _) in &stack[pos + 1..] {
                            dom.set_outer_end(open, i);
                        }
                        dom.set_outer_end(stack[pos].0, gt + 1);
                        stack.truncate(pos);
                    }
                    i = gt + 1;
                    text_start = i;
                }
                _ => {
                    // Comment, doctype, processing instruction: dropped.
                    let end = if src[i..].starts_with("<!--") {
                        src[i + 4..]
                            .find("-->")
                            .map_or(src.len(), |j| i + 4 + j + 3)
                    } else {
                        src[i..].find('>').map_or(src.len(), |j| i + j + 1)
                    };
                    i = end;
                    text_start = i;
                }
            }
        }
        append_text(
            &mut pending,
            &src[text_start.min(src.len())..],
            &mut skip_newline,
        );
        dom.flush(&mut pending, &stack);
        for &(open, _) in &stack {
            dom.set_outer_end(open, src.len());
        }
        Some(dom)
    }

    /// A tree of only the root; `nodes` is the capacity to reserve.
    pub fn with_root(src: &'a str, nodes: usize) -> Dom<'a> {
        let mut dom = Dom {
            src,
            nodes: Vec::with_capacity(nodes),
            size_hint: src.len(),
        };
        dom.nodes.push(Node {
            kind: Kind::Root,
            first_child: NONE,
            next_sibling: NONE,
            last_child: NONE,
        });
        dom
    }

    /// The last child of `id` (`NONE` when it has none).
    pub fn last_child(&self, id: u32) -> u32 {
        self.nodes[id as usize].last_child
    }

    /// Remove the first child of `id` (it stays in `nodes`, unreachable).
    pub fn remove_first_child(&mut self, id: u32) {
        let first = self.nodes[id as usize].first_child;
        if first == NONE {
            return;
        }
        let next = self.nodes[first as usize].next_sibling;
        let p = &mut self.nodes[id as usize];
        p.first_child = next;
        if next == NONE {
            p.last_child = NONE;
        }
    }

    /// Append a node as the last child of `parent`.
    pub fn push(&mut self, parent: u32, kind: Kind<'a>) -> u32 {
        let id = self.nodes.len() as u32;
        self.nodes.push(Node {
            kind,
            first_child: NONE,
            next_sibling: NONE,
            last_child: NONE,
        });
        let p = &mut self.nodes[parent as usize];
        let last = p.last_child;
        p.last_child = id;
        if last == NONE {
            p.first_child = id;
        } else {
            self.nodes[last as usize].next_sibling = id;
        }
        id
    }

    fn flush(&mut self, pending: &mut Option<Cow<'a, str>>, stack: &[(u32, &str)]) {
        if let Some(text) = pending.take() {
            if !text.is_empty() {
                let parent = stack.last().map_or(0, |s| s.0);
                self.push(parent, Kind::Text(text));
            }
        }
    }

    fn set_outer_end(&mut self, id: u32, end: usize) {
        if let Kind::Element {
            src: Source::Raw { outer, .. },
            ..
        } = &mut self.nodes[id as usize].kind
        {
            outer.end = end.max(outer.start);
        }
    }

    pub fn children(&self, id: u32) -> Children<'_, 'a> {
        Children {
            dom: self,
            next: self.nodes[id as usize].first_child,
        }
    }

    pub fn tag(&self, id: u32) -> Option<Tag> {
        match self.nodes[id as usize].kind {
            Kind::Element { tag, .. } => Some(tag),
            _ => None,
        }
    }

    /// The decoded value of attribute `name` of element `id`.
    pub fn attr(&self, id: u32, name: &str) -> Option<Cow<'_, str>> {
        match &self.nodes[id as usize].kind {
            Kind::Element {
                src: Source::Raw { attrs, .. },
                ..
            } => attributes(attrs)
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| decode_entities(v)),
            Kind::Element {
                src: Source::Tree { attrs, .. },
                ..
            } => attrs
                .iter()
                .find(|a| (*a.name.local).eq_ignore_ascii_case(name))
                .map(|a| Cow::Borrowed(&*a.value)),
            _ => None,
        }
    }

    /// The element's HTML from its start tag to its end tag (its source text, or for a tree
    /// its serialization, which is the same text ammonia's output had).
    pub fn outer(&self, id: u32) -> Cow<'_, str> {
        match &self.nodes[id as usize].kind {
            Kind::Element {
                src: Source::Raw { outer, .. },
                ..
            } => Cow::Borrowed(self.src.get(outer.clone()).unwrap_or_default()),
            Kind::Element {
                src: Source::Tree { .. },
                ..
            } => Cow::Owned(crate::normalize::html::serialize_node(self, id)),
            _ => Cow::Borrowed(""),
        }
    }
}

pub struct Children<'d, 'a> {
    dom: &'d Dom<'a>,
    next: u32,
}

impl Iterator for Children<'_, '_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        if self.next == NONE {
            return None;
        }
        let id = self.next;
        self.next = self.dom.nodes[id as usize].next_sibling;
        Some(id)
    }
}

/// Index of the next `<` at or after `from` (or the end).
fn memchr_lt(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| b == b'<')
        .map_or(bytes.len(), |j| from + j)
}

fn append_text<'a>(pending: &mut Option<Cow<'a, str>>, raw: &'a str, skip_newline: &mut bool) {
    // Only the token right after `<pre>` may lose its newline: reset whatever comes next.
    let mut raw = raw;
    if std::mem::take(skip_newline) {
        raw = raw.strip_prefix('\n').unwrap_or(raw);
    }
    if raw.is_empty() {
        return;
    }
    let text = decode_entities(raw);
    // The HTML input stream has no carriage returns (CR LF and CR become LF).
    let text = if text.contains('\r') {
        Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        text
    };
    *pending = Some(match pending.take() {
        None => text,
        Some(prev) => Cow::Owned(prev.into_owned() + &text),
    });
}

fn name_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| b.is_ascii_whitespace() || b == b'/' || b == b'>')
        .map_or(bytes.len(), |j| from + j)
}

/// The `>` that ends a tag whose attributes start at `from`, skipping quoted values.
fn tag_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut quote = 0u8;
    for (j, &b) in bytes[from..].iter().enumerate() {
        match b {
            b'"' | b'\'' if quote == 0 => {
                // Only a quote right after `=` (optionally spaced) starts a quoted value.
                let before = bytes[from..from + j]
                    .iter()
                    .rev()
                    .find(|c| !c.is_ascii_whitespace());
                if before == Some(&b'=') {
                    quote = b;
                }
            }
            q if q == quote => quote = 0,
            b'>' if quote == 0 => return Some(from + j),
            _ => {}
        }
    }
    None
}

fn find_end_tag(src: &str, from: usize, name: &str) -> Option<usize> {
    let bytes = src.as_bytes();
    let mut at = from;
    while let Some(j) = src[at..].find("</") {
        let start = at + j;
        let n = start + 2;
        let end = n + name.len();
        if end <= bytes.len()
            && src.is_char_boundary(end)
            && src[n..end].eq_ignore_ascii_case(name)
            && bytes
                .get(end)
                .is_none_or(|b| b.is_ascii_whitespace() || *b == b'>' || *b == b'/')
        {
            return Some(start);
        }
        at = start + 2;
    }
    None
}

/// `(name, raw value)` pairs of a start tag's attribute text.
fn attributes(s: &str) -> impl Iterator<Item = (&str, &str)> {
    let bytes = s.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        if i >= bytes.len() {
            return None;
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'=' {
            i += 1;
        }
        let name = &s[start..i];
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() || bytes[i] != b'=' {
            return Some((name, ""));
        }
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let value = match bytes.get(i) {
            Some(&q @ (b'"' | b'\'')) => {
                let v0 = i + 1;
                let v1 = bytes[v0..]
                    .iter()
                    .position(|&b| b == q)
                    .map_or(bytes.len(), |j| v0 + j);
                i = (v1 + 1).min(bytes.len());
                &s[v0..v1]
            }
            _ => {
                let v0 = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                &s[v0..i]
            }
        };
        Some((name, value))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(dom: &Dom, id: u32, out: &mut String) {
        match &dom.nodes[id as usize].kind {
            Kind::Root => {}
            Kind::Element { tag, .. } => out.push_str(&format!("<{tag:?}>")),
            Kind::Text(t) => out.push_str(&format!("[{t}]")),
        }
        for c in dom.children(id) {
            shape(dom, c, out);
        }
        if let Kind::Element { .. } = dom.nodes[id as usize].kind {
            out.push_str("</>");
        }
    }

    fn tree(src: &str) -> String {
        let dom = Dom::parse(src, 64).unwrap();
        let mut s = String::new();
        shape(&dom, 0, &mut s);
        s
    }

    #[test]
    fn reads_serialized_html() {
        assert_eq!(
            tree("<p>a &amp; <b>b</b><br>c</p><pre>\n\nx</pre>"),
            "<P>[a & ]<B>[b]</><Br></>[c]</><Pre>[\nx]</>"
        );
        let dom = Dom::parse(r#"<img src="a&amp;b" alt='x > y' width=3>"#, 64).unwrap();
        assert_eq!(dom.attr(1, "src").as_deref(), Some("a&b"));
        assert_eq!(dom.attr(1, "alt").as_deref(), Some("x > y"));
        assert_eq!(dom.attr(1, "width").as_deref(), Some("3"));
        assert_eq!(dom.attr(1, "title"), None);
    }

    #[test]
    fn outer_spans_cover_the_element() {
        let src = "x<sub>1 <i>2</i></sub>y";
        let dom = Dom::parse(src, 64).unwrap();
        assert_eq!(dom.outer(2), "<sub>1 <i>2</i></sub>");
    }

    #[test]
    fn malformed_input_is_total() {
        for s in [
            "<",
            "<<",
            "</",
            "<a",
            "<a href=\"",
            "</p>",
            "<p>x",
            "a<1b",
            "<!--",
            "<!-- x",
            "<script>x",
            "<script>a</scr",
            "<p \u{e9}=\"\u{e9}\">\u{e9}",
            "<img/",
            "</a b",
        ] {
            let _ = tree(s);
        }
        assert_eq!(tree("a<1b"), "[a<1b]");
        assert_eq!(tree("<p>x</div>y"), "<P>[xy]</>");
        assert_eq!(tree("a<!-- c -->b"), "[ab]");
        assert_eq!(tree("<script>1 < 2</script>"), "<Other>[1 < 2]</>");
    }

    #[test]
    fn depth_is_bounded() {
        let deep = "<div>".repeat(100);
        assert!(Dom::parse(&deep, 64).is_none());
        assert!(Dom::parse(&"<br>".repeat(1000), 64).is_some());
    }
}
