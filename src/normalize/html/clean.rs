//! The sanitizing policy of post-format.md 7.3, applied to html5ever's tree as ammonia 4.2
//! applies it (`Builder::clean_dom`, `clean_child`, `adjust_node_attributes`,
//! `check_expected_namespace`), with the settings feedsmith gave ammonia's `Builder`:
//! - ammonia's default element and attribute allow-lists ([`allowed_tag`], [`allowed_attr`]);
//! - [`DROP_WITH_CONTENT`] as its `clean_content_tags` (removed with everything inside);
//! - `rm_tags(input, label, fieldset, legend, option, optgroup)` (none is in the default list,
//!   so they are unwrapped like any unknown element);
//! - URL schemes `http`, `https` and `mailto` only;
//! - `rel="noopener noreferrer nofollow"` added to every link;
//! - comments stripped;
//! - relative URLs rewritten against the base, or removed without one.
//!
//! Every other element is unwrapped: it goes, its content stays. The walk keeps no recursion
//! (a hostile document may nest a hundred thousand levels) and builds the converter's tree
//! ([`Dom`]) as it goes, so the sanitized HTML never exists as a string.

use std::borrow::Cow;

use html5ever::tendril::StrTendril;
use html5ever::{local_name, ns, Attribute, Namespace, QualName};

use super::names::{is_html_tag, is_mathml_tag, is_svg_tag};
use super::sink::{self, Data, NONE};
use crate::normalize::markdown::dom::{Dom, Kind, Source, Tag};

/// Elements removed together with their content (their text is not meant to be read).
pub const DROP_WITH_CONTENT: &[&str] = &[
    "script", "style", "iframe", "object", "embed", "form", "noscript", "template", "svg", "math",
    "textarea", "select", "button", "applet", "frameset", "frame", "title", "head",
];

/// `rel` of every link: no `window.opener` for the target, no referrer, no endorsement.
const LINK_REL: &str = "noopener noreferrer nofollow";

/// ammonia's default `tags`.
pub fn allowed_tag(name: &str) -> bool {
    matches!(
        name,
        "a" | "abbr"
            | "acronym"
            | "area"
            | "article"
            | "aside"
            | "b"
            | "bdi"
            | "bdo"
            | "blockquote"
            | "br"
            | "caption"
            | "center"
            | "cite"
            | "code"
            | "col"
            | "colgroup"
            | "data"
            | "dd"
            | "del"
            | "details"
            | "dfn"
            | "div"
            | "dl"
            | "dt"
            | "em"
            | "figcaption"
            | "figure"
            | "footer"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "header"
            | "hgroup"
            | "hr"
            | "i"
            | "img"
            | "ins"
            | "kbd"
            | "li"
            | "map"
            | "mark"
            | "nav"
            | "ol"
            | "p"
            | "pre"
            | "q"
            | "rp"
            | "rt"
            | "rtc"
            | "ruby"
            | "s"
            | "samp"
            | "small"
            | "span"
            | "strike"
            | "strong"
            | "sub"
            | "summary"
            | "sup"
            | "table"
            | "tbody"
            | "td"
            | "th"
            | "thead"
            | "time"
            | "tr"
            | "tt"
            | "u"
            | "ul"
            | "var"
            | "wbr"
    )
}

/// ammonia's default `generic_attributes` and `tag_attributes`.
pub fn allowed_attr(tag: &str, attr: &str) -> bool {
    if matches!(attr, "lang" | "title") {
        return true;
    }
    match tag {
        "a" => matches!(attr, "href" | "hreflang"),
        "bdo" => attr == "dir",
        "blockquote" | "q" => attr == "cite",
        "col" | "colgroup" => matches!(attr, "align" | "char" | "charoff" | "span"),
        "del" | "ins" => matches!(attr, "cite" | "datetime"),
        "hr" => matches!(attr, "align" | "size" | "width"),
        "img" => matches!(attr, "align" | "alt" | "height" | "src" | "width"),
        "ol" => attr == "start",
        "table" => matches!(attr, "align" | "char" | "charoff" | "summary"),
        "tbody" | "tfoot" | "thead" | "tr" => matches!(attr, "align" | "char" | "charoff"),
        "td" => matches!(
            attr,
            "align" | "char" | "charoff" | "colspan" | "headers" | "rowspan"
        ),
        "th" => matches!(
            attr,
            "align" | "char" | "charoff" | "colspan" | "headers" | "rowspan" | "scope"
        ),
        _ => false,
    }
}

fn drop_with_content(name: &str) -> bool {
    DROP_WITH_CONTENT.contains(&name)
}

fn is_svg_animation_tag_name(element: &str) -> bool {
    matches!(
        element,
        "animate" | "animateMotion" | "animateTransform" | "set" | "animateColor"
    )
}

/// ammonia's `is_url_attr`.
fn is_url_attr(element: &str, attr: &str) -> bool {
    (!is_svg_animation_tag_name(element) && attr == "href")
        || (!is_svg_animation_tag_name(element) && attr == "xlink:href")
        || attr == "src"
        || (element == "form" && attr == "action")
        || (element == "object" && attr == "data")
        || ((element == "button" || element == "input") && attr == "formaction")
        || (element == "a" && attr == "ping")
        || (element == "video" && attr == "poster")
}

/// What ammonia's attribute filter for an allowed element says of one attribute.
#[derive(PartialEq)]
enum Verdict {
    Drop,
    Keep,
    /// Kept, and a relative URL (resolved against the base afterwards).
    Relative,
}

/// ammonia's attribute filter for an allowed element: allow-listed, and a URL attribute only
/// with an allowed scheme, or relative when relative URLs are not denied. The URL is parsed
/// once here; ammonia parsed it again to find the relative ones.
fn keep_attr(tag: &str, attr: &str, value: &str, base: Option<&url::Url>) -> Verdict {
    if !allowed_attr(tag, attr) {
        return Verdict::Drop;
    }
    if !is_url_attr(tag, attr) {
        return Verdict::Keep;
    }
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https" | "mailto") => Verdict::Keep,
        Err(url::ParseError::RelativeUrlWithoutBase) if base.is_some() => Verdict::Relative,
        _ => Verdict::Drop,
    }
}

/// ammonia's `check_expected_namespace`: whether `child` (an element) may sit in `parent`.
fn expected_namespace(
    parent_ns: &Namespace,
    parent_local: &str,
    parent_attrs: &[Attribute],
    child: &QualName,
) -> bool {
    let local = &*child.local;
    if *parent_ns == ns!(html) && child.ns == ns!(svg) {
        local == "svg"
    } else if *parent_ns == ns!(html) && child.ns == ns!(mathml) {
        local == "math"
    } else if *parent_ns == ns!(mathml) && child.ns != ns!(mathml) {
        if parent_local == "annotation-xml" {
            let encodings = || {
                parent_attrs
                    .iter()
                    .filter(|a| a.name.local == local_name!("encoding"))
            };
            if child.ns == ns!(html)
                && encodings()
                    .all(|a| &*a.value == "text/html" || &*a.value == "application/xhtml+xml")
            {
                is_html_tag(local) && encodings().count() == 1
            } else {
                local == "svg" && child.ns == ns!(svg)
            }
        } else {
            matches!(parent_local, "mi" | "mo" | "mn" | "ms" | "mtext")
                && match child.ns {
                    ns!(html) => is_html_tag(local),
                    ns!(svg) => local == "svg",
                    _ => false,
                }
        }
    } else if *parent_ns == ns!(svg) && child.ns != ns!(svg) {
        parent_local == "foreignObject"
            && match child.ns {
                ns!(html) => is_html_tag(local),
                ns!(mathml) => local == "math",
                _ => false,
            }
    } else if child.ns == ns!(svg) {
        is_svg_tag(local)
    } else if child.ns == ns!(mathml) {
        is_mathml_tag(local)
    } else if child.ns == ns!(html) {
        is_html_tag(local)
    } else {
        *parent_ns == child.ns
    }
}

/// The sanitized tree and what the text walks need to know about it.
pub struct Cleaned {
    pub dom: Dom<'static>,
    /// Elements nest deeper than the converter's limit.
    pub too_deep: bool,
    /// A `<figcaption>` survived.
    pub captions: bool,
    /// The `<pre>` elements.
    pres: Vec<u32>,
}

/// One node to visit: the parsed node, the kept element it goes into (in the output), that
/// element's depth, namespace and name.
struct Visit {
    node: u32,
    parent: u32,
    depth: usize,
    parent_ns: Namespace,
    parent_local: html5ever::LocalName,
}

/// Sanitize the parsed fragment `nodes` into the converter's tree. `base`: the absolute URL
/// relative URLs are resolved against (`None`: they are removed). `max_depth`: see
/// [`Cleaned::too_deep`].
pub fn clean(mut nodes: Vec<sink::Node>, base: Option<&url::Url>, max_depth: usize) -> Cleaned {
    let mut dom = Dom::with_root("", nodes.len() / 2 + 4);
    let mut too_deep = false;
    let mut captions = false;
    let mut pres: Vec<u32> = Vec::new();
    let mut size = 0usize;
    // Node 0 is the document; its first child the `html` element around the fragment.
    let html = nodes.first().map_or(NONE, |d| d.first);
    if html == NONE {
        return Cleaned {
            dom,
            too_deep,
            captions,
            pres,
        };
    }
    let mut stack: Vec<Visit> = Vec::with_capacity(32);
    push_children(
        &nodes,
        html,
        0,
        0,
        &ns!(html),
        &local_name!("html"),
        &mut stack,
    );
    while let Some(v) = stack.pop() {
        let node = &mut nodes[v.node as usize];
        match &mut node.data {
            Data::Text(t) => {
                size += t.len();
                let last = dom.last_child(v.parent);
                if last != NONE {
                    if let Kind::Text(prev) = &mut dom.nodes[last as usize].kind {
                        prev.to_mut().push_str(t);
                        continue;
                    }
                }
                dom.push(v.parent, Kind::Text(Cow::Owned(t.to_string())));
            }
            // Comments (stripped), doctypes, processing instructions; they have no children.
            Data::Comment | Data::Other | Data::Document => {}
            Data::Element { name, attrs, .. } => {
                let local: &str = &name.local;
                let allowed = allowed_tag(local);
                if allowed {
                    // Indexes (after the filter) of the relative URLs.
                    let mut relative: Vec<usize> = Vec::new();
                    let mut kept = 0;
                    attrs.retain(|a| match keep_attr(local, &a.name.local, &a.value, base) {
                        Verdict::Drop => false,
                        v => {
                            if v == Verdict::Relative {
                                relative.push(kept);
                            }
                            kept += 1;
                            true
                        }
                    });
                    if local == "a" {
                        attrs.push(Attribute {
                            name: QualName::new(None, ns!(), local_name!("rel")),
                            value: StrTendril::from_slice(LINK_REL),
                        });
                    }
                    if let Some(base) = base.filter(|_| !relative.is_empty()) {
                        resolve_relative(attrs, &relative, base);
                    }
                }
                let parent_attrs: &[Attribute] = match &dom.nodes[v.parent as usize].kind {
                    Kind::Element {
                        src: Source::Tree { attrs, .. },
                        ..
                    } => attrs,
                    _ => &[],
                };
                if drop_with_content(local)
                    || !expected_namespace(&v.parent_ns, &v.parent_local, parent_attrs, name)
                {
                    continue;
                }
                let (parent, depth, parent_ns, parent_local) = if allowed {
                    let tag = Tag::of(local);
                    let void = super::is_void(local);
                    let depth = if void { v.depth } else { v.depth + 1 };
                    too_deep |= depth > max_depth;
                    captions |= local == "figcaption";
                    let ns = name.ns.clone();
                    let local_name = name.local.clone();
                    let id = dom.push(
                        v.parent,
                        Kind::Element {
                            tag,
                            src: Source::Tree {
                                name: local_name.clone(),
                                attrs: std::mem::take(attrs),
                            },
                        },
                    );
                    if tag == Tag::Pre {
                        pres.push(id);
                    }
                    (id, depth, ns, local_name)
                } else {
                    (v.parent, v.depth, v.parent_ns, v.parent_local)
                };
                let node = v.node;
                push_children(
                    &nodes,
                    node,
                    parent,
                    depth,
                    &parent_ns,
                    &parent_local,
                    &mut stack,
                );
            }
        }
    }
    dom.size_hint = size;
    Cleaned {
        dom,
        too_deep,
        captions,
        pres,
    }
}

/// Make the sanitized tree the one the converter read back from ammonia's serialized output
/// (the string reader `markdown::dom::Dom::parse`): a `<pre>`'s leading newline goes (see
/// [`strip_pre_newline`]) and carriage returns become line feeds.
pub fn as_read_back(c: &mut Cleaned) {
    let dom = &mut c.dom;
    for &pre in &c.pres {
        strip_pre_newline(dom, pre);
    }
    // A carriage return can only come from a character reference (`&#13;`); the reader took
    // CR LF and CR as LF, as the HTML input stream has them.
    for n in &mut dom.nodes {
        if let Kind::Text(t) = &mut n.kind {
            if t.contains('\r') {
                *t = Cow::Owned(t.replace("\r\n", "\n").replace('\r', "\n"));
            }
        }
    }
}

fn push_children(
    nodes: &[sink::Node],
    of: u32,
    parent: u32,
    depth: usize,
    parent_ns: &Namespace,
    parent_local: &html5ever::LocalName,
    stack: &mut Vec<Visit>,
) {
    // Pushed last child first, so that the first is visited first.
    let mut child = nodes[of as usize].last;
    while child != NONE {
        stack.push(Visit {
            node: child,
            parent,
            depth,
            parent_ns: parent_ns.clone(),
            parent_local: parent_local.clone(),
        });
        child = nodes[child as usize].prev;
    }
}

/// ammonia's relative-URL pass (`adjust_node_attributes`) on the attributes at `relative`:
/// rewritten against the base, or removed when that fails. Removal is `swap_remove` in
/// reverse, after `rel` was added, as in ammonia, so the order of the attributes left is its
/// order too.
fn resolve_relative(attrs: &mut Vec<Attribute>, relative: &[usize], base: &url::Url) {
    let mut drop: Vec<usize> = Vec::new();
    for &i in relative {
        match base.join(&attrs[i].value) {
            Ok(u) => attrs[i].value = StrTendril::from_slice(u.as_str()),
            Err(_) => drop.push(i),
        }
    }
    for i in drop.into_iter().rev() {
        attrs.swap_remove(i);
    }
}

/// The HTML text of a `<pre>` does not start with the newline right after its start tag: the
/// serialized sanitized HTML that the converter used to read lost that newline when read back
/// (html5ever's serializer does not repeat it), and the tree must give the converter the same
/// text.
fn strip_pre_newline(dom: &mut Dom<'static>, pre: u32) {
    let first = dom.nodes[pre as usize].first_child;
    if first == NONE {
        return;
    }
    if let Kind::Text(t) = &mut dom.nodes[first as usize].kind {
        if t.starts_with('\n') {
            t.to_mut().remove(0);
            if t.is_empty() {
                dom.remove_first_child(pre);
            }
        }
    }
}
