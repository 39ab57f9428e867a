//! Sanitized HTML -> markdown, rule for rule the conversion of the `html2md` crate 0.2 (which
//! feedsmith used before and whose output every stored post has), on the tree of [`dom`].
//!
//! Why a port and not the crate: `html2md` parsed the HTML into a full html5ever tree again,
//! allocated a boxed handler and a `String` per node, escaped text with regexes and re-scanned
//! its whole output for every list item. That was about a fifth of a cold fetch's CPU. The
//! output is the same byte for byte: a test converts every entry of the corpus and the farm, and
//! generated tag soup, both ways (the crate is a dev-dependency for that only). What the crate
//! did is kept even where it is odd (a `<li>` outside any list indents everything before it),
//! because changing it would change stored posts; the safety passes that follow in [`super`]
//! are unchanged. One rule differs on purpose (post-format.md 7.3): an `<img>` with `width`,
//! `height` or `align` is `![alt](src)` like any other, `<details>`/`<summary>` are paragraphs
//! and `<sub>`/`<sup>` their text, where html2md kept raw HTML that the safety pass then
//! escaped into visible text; the reference test gives html2md the equivalent plain HTML.
//!
//! `html2md` is GPL-3.0-or-later, as feedsmith is; this file follows its `walk` and tag handlers.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};

use super::dom::{Dom, Kind, Tag};

/// Characters percent-encoded in an image URL that contains a space (as `html2md` does).
const FRAGMENT: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'<').add(b'>').add(b'`');

/// Markdown of a parsed tree, before [`clean_markdown`], as html2md wrote it (the reference).
#[cfg(test)]
pub fn convert(dom: &Dom) -> String {
    convert_with(dom, false)
}

/// Markdown of a parsed tree, before [`clean_markdown`], with the fixes for flaws the post
/// linter ([`crate::normalize::lint`]) found in html2md's output on the corpus:
/// - an empty link (`<a>` around nothing visible, TechCrunch's share buttons) is dropped;
/// - a link's leading and trailing spaces stay outside it (`for[ x](u)` -> `for [x](u)`);
/// - a layout table (a cell holding an image: podcast contributor boxes) is unwrapped into
///   paragraphs, one per cell, instead of a markdown table;
/// - a table cell's line breaks become spaces (`<br/>` in a cell was escaped into text).
pub fn convert_clean(dom: &Dom) -> String {
    convert_with(dom, true)
}

fn convert_with(dom: &Dom, clean: bool) -> String {
    let mut p = Printer {
        dom,
        out: String::with_capacity(dom.size_hint),
        // html2md walked a whole document: the root, `html` and `body` are its ancestors.
        chain: vec![Tag::Other; 3],
        pre: 0,
        code: 0,
        clean,
    };
    for (n, child) in dom.children(0).enumerate() {
        match &dom.nodes[child as usize].kind {
            // Whitespace before anything else is not part of an HTML document's body.
            Kind::Text(t) if n == 0 => {
                p.text(t.trim_start_matches(['\t', '\n', '\x0C', '\r', ' ']))
            }
            _ => p.walk(child, 0),
        }
    }
    p.out
}

struct Printer<'d, 'a> {
    dom: &'d Dom<'a>,
    out: String,
    /// Tags of the open ancestors (html2md's `parent_chain`).
    chain: Vec<Tag>,
    /// How many `pre` and `code` ancestors are open.
    pre: usize,
    code: usize,
    /// The fixes of [`convert_clean`] are on.
    clean: bool,
}

/// What an element's handler does after its children (html2md's `after_handle`).
enum After {
    Nothing,
    Push(&'static str),
    Quote(usize),
    Style(usize, &'static str),
    Anchor(usize, String),
    Item(usize, usize),
}

impl Printer<'_, '_> {
    /// `order`: how many element siblings precede this node (an ordered list item's number - 1).
    fn walk(&mut self, id: u32, order: usize) {
        let tag = match &self.dom.nodes[id as usize].kind {
            Kind::Text(text) => {
                self.text(text);
                return;
            }
            Kind::Root => return,
            Kind::Element { tag, .. } => *tag,
        };
        // Inside `pre` every element is plain (html2md's DummyHandler).
        let handled = if self.pre > 0 { Tag::Other } else { tag };
        let (after, skip) = self.handle(handled, id, order);
        if !skip {
            self.chain.push(tag);
            self.pre += usize::from(tag == Tag::Pre);
            self.code += usize::from(tag == Tag::Code);
            let mut elements = 0;
            let mut next = self.dom.nodes[id as usize].first_child;
            while next != super::dom::NONE {
                self.walk(next, elements);
                if matches!(self.dom.nodes[next as usize].kind, Kind::Element { .. }) {
                    elements += 1;
                }
                next = self.dom.nodes[next as usize].next_sibling;
            }
            self.chain.pop();
            self.pre -= usize::from(tag == Tag::Pre);
            self.code -= usize::from(tag == Tag::Code);
        }
        self.after(after);
    }

    fn text(&mut self, text: &str) {
        if self.pre > 0 {
            self.out.push_str(text);
            return;
        }
        if text.trim().is_empty() && matches!(self.out.chars().next_back(), Some('\n' | ' ')) {
            return;
        }
        // One pass, straight into the output: html2md escaped (outside code), then replaced
        // runs of two or more whitespace characters by one space, then trimmed newlines off
        // both ends. After the collapse at most one `\n`/`\r` can sit at either end (two
        // would have been a run).
        let escape = self.code == 0;
        let mut line_start = escape && at_line_start(&self.out);
        let begin = self.out.len();
        // Bytes that need no decision are copied in runs.
        let bytes = text.as_bytes();
        let (mut i, mut plain) = (0, 0);
        while i < bytes.len() {
            let b = bytes[i];
            // A lone space before a plain ASCII byte stays as it is and leaves `line_start`
            // alone (as the whitespace branch below does): no decision, the run goes on.
            if b == b' '
                && bytes
                    .get(i + 1)
                    .is_some_and(|&n| n < 0x80 && !(n as char).is_whitespace())
            {
                i += 1;
                continue;
            }
            let interesting = b >= 0x80
                || (b as char).is_whitespace()
                || (escape
                    && (matches!(b, b'<' | b'>' | b'*' | b'\\' | b'_' | b'~')
                        || (line_start && matches!(b, b'=' | b'+' | b'-' | b'#'))));
            if !interesting {
                line_start = false;
                i += 1;
                continue;
            }
            self.out.push_str(&text[plain..i]);
            let Some(c) = text[i..].chars().next() else {
                break;
            };
            i += c.len_utf8();
            if c.is_whitespace() {
                let mut run = 1;
                while let Some(n) = text[i..].chars().next().filter(|n| n.is_whitespace()) {
                    i += n.len_utf8();
                    run += 1;
                }
                self.out.push(if run >= 2 { ' ' } else { c });
            } else {
                let always = matches!(c, '<' | '>' | '*' | '\\' | '_' | '~');
                if escape && (always || (line_start && matches!(c, '=' | '+' | '-' | '#'))) {
                    self.out.push('\\');
                }
                line_start = false;
                self.out.push(c);
            }
            plain = i;
        }
        self.out.push_str(&text[plain..]);
        if self.out[begin..].starts_with(['\n', '\r']) {
            self.out.remove(begin);
        }
        if self.out.len() > begin && self.out.ends_with(['\n', '\r']) {
            self.out.pop();
        }
        // A line break inside HTML text is a space; kept as a line break (html2md), text such
        // as `- item` or `# 1` after it would start a list or a heading.
        if self.clean && self.out[begin..].contains(['\n', '\r']) {
            let tail = self.out.split_off(begin);
            self.out.push_str(&tail.replace(['\n', '\r'], " "));
        }
    }

    fn handle(&mut self, tag: Tag, id: u32, order: usize) -> (After, bool) {
        let out = &mut self.out;
        match tag {
            Tag::Div | Tag::Section | Tag::Header | Tag::Footer => {
                out.push_str("\n\n");
                (After::Push("\n\n"), false)
            }
            Tag::P => {
                out.push_str("\n\n");
                (After::Push("\n\n"), false)
            }
            Tag::Br => (After::Push("  \n"), false),
            Tag::Hr => (After::Push("\n---\n"), false),
            Tag::Q | Tag::Cite | Tag::Blockquote => {
                let start = out.len();
                out.push('\n');
                (After::Quote(start), false)
            }
            // Markdown has no disclosure widget: the summary and the details are paragraphs.
            // html2md wrote the tags as raw HTML, which the safety pass escaped into text.
            Tag::Details | Tag::Summary => {
                out.push_str("\n\n");
                (After::Push("\n\n"), false)
            }
            Tag::B | Tag::Strong => (After::Style(out.len(), "**"), false),
            Tag::I | Tag::Em => (After::Style(out.len(), "*"), false),
            Tag::S | Tag::Del => (After::Style(out.len(), "~~"), false),
            Tag::H(level) => {
                out.push_str("\n\n");
                let (open, close) = match level {
                    1 => ("", "\n==========\n\n"),
                    2 => ("", "\n----------\n\n"),
                    3 => ("### ", " ###\n\n"),
                    4 => ("#### ", " ####\n\n"),
                    5 => ("##### ", " #####\n\n"),
                    _ => ("###### ", " ######\n\n"),
                };
                out.push_str(open);
                (After::Push(close), false)
            }
            Tag::Pre => {
                out.push_str("\n\n```");
                let lang = self
                    .dom
                    .children(id)
                    .find(|&c| self.dom.tag(c) == Some(Tag::Code))
                    .and_then(|c| self.dom.attr(c, "class"));
                if let Some(lang) = lang
                    .as_deref()
                    .and_then(|class| class.split(' ').find_map(|v| v.strip_prefix("language-")))
                {
                    self.out.push_str(lang);
                }
                self.out.push('\n');
                (After::Push("\n```\n\n"), false)
            }
            Tag::Code => {
                if self.chain.last() == Some(&Tag::Pre) {
                    (After::Nothing, false)
                } else {
                    out.push('`');
                    (After::Push("`"), false)
                }
            }
            Tag::Img => {
                let src = self.dom.attr(id, "src");
                let block = src.as_deref().is_some_and(|s| s.contains("display: block"));
                if block {
                    out.push_str("\n\n");
                }
                // Every image is markdown, whatever its attributes (post-format.md 7.3).
                // html2md kept an `<img>` with `width`, `height` or `align` as raw HTML, which
                // the markdown safety pass then escaped into visible `&lt;img ...` text.
                let mut url = src.unwrap_or_default().into_owned();
                if url.contains(' ') {
                    url = utf8_percent_encode(&url, FRAGMENT).to_string();
                }
                let out = &mut self.out;
                out.push_str("![");
                out.push_str(&self.dom.attr(id, "alt").unwrap_or_default());
                out.push_str("](");
                out.push_str(&url);
                if let Some(title) = self.dom.attr(id, "title") {
                    out.push_str(" \"");
                    out.push_str(&title);
                    out.push('"');
                }
                out.push(')');
                (After::Push(if block { "\n\n" } else { "" }), false)
            }
            Tag::A => {
                if self.dom.attr(id, "name").is_some() {
                    // Kept as HTML (markdown has no anchors), and its content again after it.
                    out.push_str(&self.dom.outer(id));
                    return (After::Nothing, false);
                }
                let url = match self.dom.attr(id, "href") {
                    Some(href) => {
                        let link = percent_decode_str(&href)
                            .decode_utf8()
                            .map(|c| c.into_owned())
                            .unwrap_or_default();
                        if link.contains(|c: char| c.is_ascii_whitespace()) {
                            format!("<{link}>")
                        } else {
                            link
                        }
                    }
                    None => String::new(),
                };
                (After::Anchor(self.out.len(), url), false)
            }
            Tag::Ol | Tag::Ul | Tag::Menu => {
                out.push('\n');
                if !self.chain.iter().any(|t| is_list(*t)) {
                    out.push('\n');
                }
                (After::Push("\n\n"), false)
            }
            Tag::Li => {
                let Some(list) = self.chain.iter().rev().find(|t| is_list(**t)).copied() else {
                    // No list around it: html2md indents everything written so far.
                    return (After::Item(0, 4), false);
                };
                if !out.ends_with('\n') {
                    out.push('\n');
                }
                let padding = match list {
                    Tag::Ul => {
                        out.push_str("* ");
                        2
                    }
                    Tag::Menu => {
                        out.push_str("* ");
                        4
                    }
                    _ => {
                        out.push_str(&(order + 1).to_string());
                        out.push_str(". ");
                        3
                    }
                };
                (After::Item(out.len(), padding), false)
            }
            // Their text, inline (kramdown has no sub/superscript): html2md wrote the raw
            // HTML, which the safety pass escaped into `&lt;sup>` text.
            Tag::Sub | Tag::Sup => (After::Nothing, false),
            Tag::Table => {
                self.table(id);
                (After::Nothing, true)
            }
            _ => (After::Nothing, false),
        }
    }

    fn after(&mut self, after: After) {
        let out = &mut self.out;
        // A position taken before the children may be past the end now: a `<li>` outside any
        // list removes leading newlines from everything written (html2md panicked there).
        let at = |out: &String, pos: usize| {
            let mut pos = pos.min(out.len());
            while !out.is_char_boundary(pos) {
                pos -= 1;
            }
            pos
        };
        match after {
            After::Nothing => {}
            After::Push(s) => out.push_str(s),
            After::Quote(start) => {
                // "> " after the newline written at `start` and after every later newline.
                let mut head = at(out, start + 1);
                while head < out.len() && !out.is_char_boundary(head) {
                    head += 1;
                }
                let quoted = out[head..].replace('\n', "\n> ");
                out.truncate(head);
                out.push_str("> ");
                out.push_str(&quoted);
                out.push_str("\n\n");
            }
            After::Style(start, mark) => {
                let start = at(out, start);
                let Some(first) = out[start..].find(|c: char| !c.is_whitespace()) else {
                    return;
                };
                let first = start + first;
                let last = out.trim_end().len();
                out.insert_str(last, mark);
                out.insert_str(first, mark);
            }
            After::Anchor(start, url) if self.clean => {
                let start = at(out, start);
                let text = &out[start..];
                if text.trim().is_empty() {
                    let had_space = !text.is_empty();
                    out.truncate(start);
                    if had_space && !out.ends_with([' ', '\n']) {
                        out.push(' ');
                    }
                    return;
                }
                let lead = text.len() - text.trim_start().len();
                let trail = text.len() - text.trim_end().len();
                let tail = out.split_off(out.len() - trail);
                out.insert(start + lead, '[');
                out.push_str("](");
                out.push_str(&url);
                out.push(')');
                out.push_str(&tail);
            }
            After::Anchor(start, url) => {
                let start = at(out, start);
                out.insert(start, '[');
                out.push_str("](");
                out.push_str(&url);
                out.push(')');
            }
            After::Item(start, padding) => {
                let start = at(out, start);
                let lead = out[start..]
                    .bytes()
                    .take_while(|&b| b == b'\n' || b == b' ')
                    .count();
                let tail = &out[start + lead..];
                let indented = if tail.contains('\n') {
                    let mut with = String::with_capacity(tail.len() + 16);
                    with.push('\n');
                    with.push_str(&" ".repeat(padding));
                    tail.replace('\n', &with)
                } else {
                    tail.to_string()
                };
                out.truncate(start);
                out.push_str(&indented);
            }
        }
    }

    /// A table as markdown, cells as their own text (html2md's TableHandler).
    fn table(&mut self, id: u32) {
        let dom = self.dom;
        let mut rows = Vec::new();
        find_rows(dom, id, &mut rows);
        if rows.is_empty() {
            return;
        }
        let cells: Vec<Vec<u32>> = rows
            .iter()
            .map(|&r| {
                dom.children(r)
                    .filter(|&c| matches!(dom.tag(c), Some(Tag::Td | Tag::Th)))
                    .collect()
            })
            .collect();
        if self.clean && cells.iter().flatten().any(|&c| has_image(dom, c)) {
            // A layout table: its cells as paragraphs.
            for &c in cells.iter().flatten() {
                let md = cell_markdown(dom, c, true);
                if !md.trim().is_empty() {
                    self.out.push_str("\n\n");
                    self.out.push_str(&md);
                    self.out.push_str("\n\n");
                }
            }
            return;
        }
        let texts: Vec<Vec<String>> = cells
            .iter()
            .map(|row| {
                row.iter()
                    .map(|&c| {
                        let md = cell_markdown(dom, c, self.clean);
                        if self.clean {
                            md.lines()
                                .filter(|l| !l.trim().is_empty())
                                .collect::<Vec<_>>()
                                .join(" ")
                        } else {
                            md.replace('\n', "<br/>")
                        }
                    })
                    .collect()
            })
            .collect();
        let columns = cells.iter().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![3usize; columns];
        for row in &texts {
            for (w, t) in widths.iter_mut().zip(row) {
                *w = (*w).max(t.chars().count());
            }
        }
        let mut md = String::new();
        for (r, row) in texts.iter().enumerate() {
            md.push('|');
            for (index, &width) in widths.iter().enumerate() {
                match row.get(index) {
                    Some(text) => {
                        let diff = width - text.chars().count();
                        if diff > 1 {
                            md.push_str(&" ".repeat(diff / 2));
                            md.push_str(text);
                            md.push_str(&" ".repeat(diff / 2 + diff % 2));
                        } else {
                            md.push_str(text);
                            if diff == 1 {
                                md.push(' ');
                            }
                        }
                    }
                    None => md.push_str(&" ".repeat(width)),
                }
                md.push('|');
            }
            md.push('\n');
            if r == 0 {
                md.push('|');
                for (index, &width) in widths.iter().enumerate() {
                    let align = cells[0]
                        .get(index)
                        .and_then(|&c| dom.attr(c, "align"))
                        .unwrap_or_default();
                    match align.as_ref() {
                        "left" => {
                            md.push(':');
                            md.push_str(&"-".repeat(width - 1));
                        }
                        "center" => {
                            md.push(':');
                            md.push_str(&"-".repeat(width - 2));
                            md.push(':');
                        }
                        "right" => {
                            md.push_str(&"-".repeat(width - 1));
                            md.push(':');
                        }
                        _ => md.push_str(&"-".repeat(width)),
                    }
                    md.push('|');
                }
                md.push('\n');
            }
        }
        self.out.push_str("\n\n");
        self.out.push_str(&md);
    }
}

fn is_list(t: Tag) -> bool {
    matches!(t, Tag::Ul | Tag::Ol | Tag::Menu)
}

/// Every `tr` below `id`, nested tables' rows included (as html2md did), in document order.
fn find_rows(dom: &Dom, id: u32, rows: &mut Vec<u32>) {
    for c in dom.children(id) {
        if dom.tag(c) == Some(Tag::Tr) {
            rows.push(c);
        }
        find_rows(dom, c, rows);
    }
}

/// A cell converted on its own (no ancestors), cleaned.
fn cell_markdown(dom: &Dom, cell: u32, clean: bool) -> String {
    let mut p = Printer {
        dom,
        out: String::new(),
        chain: Vec::new(),
        pre: 0,
        code: 0,
        clean,
    };
    p.walk(cell, 0);
    clean_markdown(&p.out)
}

/// Whether an `<img>` is at or below `id`.
fn has_image(dom: &Dom, id: u32) -> bool {
    dom.tag(id) == Some(Tag::Img) || dom.children(id).any(|c| has_image(dom, c))
}

/// Whether only spaces were written on the current line: html2md then also escaped a leading
/// `= > + - #` of the text (`>` is escaped anyway, as everywhere).
fn at_line_start(written: &str) -> bool {
    let trimmed = written.trim_end_matches(' ');
    trimmed.is_empty() || trimmed.ends_with('\n')
}

/// html2md's final clean-up, in its order: lines of spaces emptied, 3+ newlines to 2, one
/// trailing space after text dropped, leading newlines and trailing whitespace trimmed. One pass
/// over the lines (the rules are per line, or about the newlines between them).
pub fn clean_markdown(md: &str) -> String {
    let mut out = String::with_capacity(md.len());
    let mut newlines = 0usize;
    for (n, line) in md.split('\n').enumerate() {
        if n > 0 {
            newlines += 1;
        }
        let line = if line.bytes().all(|b| b == b' ') {
            ""
        } else {
            match line.strip_suffix(' ') {
                Some(rest) if rest.chars().next_back().is_some_and(|c| !c.is_whitespace()) => rest,
                _ => line,
            }
        };
        if line.is_empty() {
            continue;
        }
        // Leading newlines are dropped; a run of three or more is two.
        if !out.is_empty() {
            out.push_str(&"\n\n"[..newlines.min(2)]);
        }
        newlines = 0;
        out.push_str(line);
    }
    out.truncate(out.trim_end().len());
    out
}
