//! One HTML tree per entry (issue 25). The entry's HTML is parsed once, by html5ever, into a
//! flat arena ([`sink`]); the sanitizer ([`clean`]) walks that arena with ammonia's policy and
//! builds the tree the markdown converter reads ([`crate::normalize::markdown`]); the plain
//! text (paragraphs for the skip threshold, description, excerpt, rules and keyword tags) is
//! read off the same tree ([`Tree::paragraphs`]).
//!
//! Before, ammonia parsed the HTML into its own DOM, serialized the sanitized DOM to a string,
//! the converter parsed that string again, and the plain text was cut out of the string twice
//! more (paragraphs, and paragraphs without captions). Every result is the same byte for byte:
//! the tree is the one the converter used to read back from ammonia's output (down to the
//! newline a `<pre>` loses and the carriage returns the reader turned into newlines), and the
//! text walks see the tags and text the string scans saw. The differential tests
//! ([`identity`]) check this against the old path (ammonia and the string readers) on the
//! corpus, a generated farm and random tag soup.

#[cfg(test)]
mod ammonia_vectors;
mod clean;
#[cfg(test)]
mod identity;
mod names;
mod sink;

use super::markdown::dom::{Dom, Kind, Source};
use super::text::Paragraphs;

#[cfg(test)]
pub use clean::DROP_WITH_CONTENT;

/// Deeper than this, the converter is not given the tree (see [`super::markdown`]).
pub const MAX_DEPTH: usize = 64;

/// An entry's sanitized HTML, as a tree.
pub struct Tree {
    pub dom: Dom<'static>,
    /// Elements nest deeper than [`MAX_DEPTH`]: the markdown is the paragraphs' text.
    pub too_deep: bool,
    /// Whether a `<figcaption>` is in it (the summary text leaves captions out).
    captions: bool,
}

impl Tree {
    /// Parse `html` (untrusted) and sanitize it; relative URLs are resolved against `base`,
    /// or removed when there is none.
    pub fn sanitized(html: &str, base: Option<&url::Url>) -> Tree {
        let nodes = sink::parse_fragment(html);
        let mut c = clean::clean(nodes, base, MAX_DEPTH);
        clean::as_read_back(&mut c);
        Tree {
            dom: c.dom,
            too_deep: c.too_deep,
            captions: c.captions,
        }
    }

    /// Whether [`Tree::paragraphs`] without captions can differ from with them.
    pub fn has_captions(&self) -> bool {
        self.captions
    }

    /// The plain-text paragraphs (what `text::html_paragraphs` read from the sanitized HTML);
    /// `without_captions`: leaving `<figcaption>` elements out as `text::without_captions`
    /// cut them (from a caption's start to the first caption end after it).
    pub fn paragraphs(&self, without_captions: bool) -> Vec<String> {
        let dom = &self.dom;
        let mut p = Paragraphs::default();
        // (node, entered): an element is visited twice, for its start and its end tag.
        let mut stack: Vec<(u32, bool)> = Vec::with_capacity(32);
        push_children(dom, 0, &mut stack);
        let mut skipping = false;
        while let Some((id, entered)) = stack.pop() {
            match &dom.nodes[id as usize].kind {
                Kind::Text(t) if !skipping => p.text(t),
                Kind::Element {
                    src: Source::Tree { name, .. },
                    ..
                } => {
                    let name: &str = name;
                    let caption = without_captions && name == "figcaption";
                    if entered {
                        // The end tag (void elements have none).
                        if skipping {
                            skipping = !caption;
                        } else {
                            p.tag(name);
                        }
                        continue;
                    }
                    if caption && !skipping {
                        skipping = true;
                    } else if !skipping {
                        p.tag(name);
                    }
                    if !is_void(name) {
                        stack.push((id, true));
                        push_children(dom, id, &mut stack);
                    }
                }
                _ => {}
            }
        }
        p.finish()
    }
}

/// The sanitized HTML of `html` as a string, what ammonia's `clean` returned with the policy
/// of [`clean`].
pub fn sanitize_to_string(html: &str, base: Option<&url::Url>) -> String {
    let c = clean::clean(sink::parse_fragment(html), base, usize::MAX);
    serialize(&c.dom)
}

fn push_children(dom: &Dom, id: u32, stack: &mut Vec<(u32, bool)>) {
    let start = stack.len();
    for c in dom.children(id) {
        stack.push((c, false));
    }
    stack[start..].reverse();
}

/// The elements html5ever's serializer writes without content or end tag.
pub fn is_void(name: &str) -> bool {
    matches!(
        name,
        "area"
            | "base"
            | "basefont"
            | "bgsound"
            | "br"
            | "col"
            | "embed"
            | "frame"
            | "hr"
            | "img"
            | "input"
            | "keygen"
            | "link"
            | "meta"
            | "param"
            | "source"
            | "track"
            | "wbr"
    )
}

/// The sanitized tree as HTML, byte for byte what ammonia's `Document::to_string` wrote for
/// it (html5ever's serializer): for the `sanitize` function's callers and the tests, not for
/// normalization.
pub fn serialize(dom: &Dom) -> String {
    let mut out = String::with_capacity(dom.size_hint + dom.size_hint / 2 + 16);
    for c in dom.children(0) {
        write_node(dom, c, &mut out);
    }
    out
}

/// One element of the tree and its content as HTML (see [`serialize`]).
pub fn serialize_node(dom: &Dom, id: u32) -> String {
    let mut out = String::new();
    write_node(dom, id, &mut out);
    out
}

fn write_node(dom: &Dom, id: u32, out: &mut String) {
    // (node, entered), as in `Tree::paragraphs`: no recursion whatever the depth.
    let mut stack: Vec<(u32, bool)> = vec![(id, false)];
    while let Some((id, entered)) = stack.pop() {
        match &dom.nodes[id as usize].kind {
            Kind::Text(t) => escape(t, false, out),
            Kind::Element {
                src: Source::Tree { name, attrs },
                ..
            } => {
                if entered {
                    out.push_str("</");
                    out.push_str(name);
                    out.push('>');
                    continue;
                }
                out.push('<');
                out.push_str(name);
                for a in attrs {
                    out.push(' ');
                    match a.name.ns {
                        html5ever::ns!(xml) => out.push_str("xml:"),
                        html5ever::ns!(xmlns) if &*a.name.local != "xmlns" => {
                            out.push_str("xmlns:")
                        }
                        html5ever::ns!(xlink) => out.push_str("xlink:"),
                        _ => {}
                    }
                    out.push_str(&a.name.local);
                    out.push_str("=\"");
                    escape(&a.value, true, out);
                    out.push('"');
                }
                out.push('>');
                if !is_void(name) {
                    stack.push((id, true));
                    push_children(dom, id, &mut stack);
                }
            }
            // The string reader's elements are not serialized (nothing asks for it).
            _ => {}
        }
    }
}

/// html5ever's escaping: `&`, no-break space, `<` and `>`, and in attribute values `"`. (Text
/// in `script`, `style` and the other raw-text elements is written raw by html5ever; none of
/// them survives sanitizing.)
fn escape(s: &str, attr: bool, out: &mut String) {
    let mut plain = 0;
    for (i, c) in s.char_indices() {
        let rep = match c {
            '&' => "&amp;",
            '\u{a0}' => "&nbsp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '"' if attr => "&quot;",
            _ => continue,
        };
        out.push_str(&s[plain..i]);
        out.push_str(rep);
        plain = i + c.len_utf8();
    }
    out.push_str(&s[plain..]);
}
