//! html5ever's tree builder writing into a flat arena (one `Vec` of nodes linked by index),
//! instead of ammonia's reference-counted DOM (one `Rc` per node, a `Vec` of children per
//! element, a `RefCell` around everything).
//!
//! The tree it builds is the tree `ammonia::rcdom::RcDom` builds for the same input, operation
//! for operation: text appended next to text joins it (in `append` and in
//! `append_before_sibling`), `reparent_children` moves children without joining text, and
//! `add_attrs_if_missing` keeps the first value of a name. The sanitizer ([`super::clean`]) then
//! walks it exactly as ammonia walks its DOM, and the differential tests compare the result
//! with ammonia's byte for byte.

use std::borrow::Cow;
use std::cell::RefCell;

use html5ever::interface::tree_builder::{ElementFlags, NodeOrText, QuirksMode, TreeSink};
use html5ever::tendril::{StrTendril, TendrilSink};
use html5ever::{local_name, ns, Attribute, ExpandedName, LocalName, Namespace, QualName};

/// No node (the end of a sibling list, no parent).
pub const NONE: u32 = u32::MAX;

#[derive(Debug)]
pub enum Data {
    Document,
    Element {
        name: QualName,
        attrs: Vec<Attribute>,
        mathml_annotation_xml_integration_point: bool,
    },
    Text(StrTendril),
    Comment,
    /// Doctype and processing instructions: dropped by the sanitizer like comments.
    Other,
}

#[derive(Debug)]
pub struct Node {
    pub data: Data,
    pub parent: u32,
    pub prev: u32,
    pub next: u32,
    pub first: u32,
    pub last: u32,
    /// A `<template>`'s contents (a document node of their own), as html5ever requires.
    template: u32,
}

/// A node, carrying its element name so that [`TreeSink::elem_name`] (called for every scope
/// check of the tree builder) borrows it from the handle instead of from the arena.
#[derive(Clone, Debug)]
pub struct Handle {
    id: u32,
    ns: Namespace,
    local: LocalName,
}

/// The parsed fragment. Node 0 is the document, its first child the `html` element whose
/// children are the fragment (html5ever's fragment parsing, as in ammonia).
pub struct Arena {
    nodes: RefCell<Vec<Node>>,
}

/// Parse `html` as the content of a `<div>`, exactly as ammonia does (`Builder::clean`).
pub fn parse_fragment(html: &str) -> Vec<Node> {
    let sink = Arena {
        nodes: RefCell::new(Vec::with_capacity(html.len() / 16 + 8)),
    };
    sink.push(Data::Document);
    let parser = html5ever::driver::parse_fragment(
        sink,
        html5ever::ParseOpts::default(),
        QualName::new(None, ns!(html), local_name!("div")),
        Vec::new(),
        false,
    );
    parser.one(html).nodes.into_inner()
}

impl Arena {
    fn push(&self, data: Data) -> u32 {
        let mut nodes = self.nodes.borrow_mut();
        let id = nodes.len() as u32;
        nodes.push(Node {
            data,
            parent: NONE,
            prev: NONE,
            next: NONE,
            first: NONE,
            last: NONE,
            template: NONE,
        });
        id
    }

    fn handle(id: u32) -> Handle {
        Handle {
            id,
            ns: ns!(),
            local: local_name!(""),
        }
    }
}

/// Unlink `id` from its parent (nothing when it has none).
fn detach(nodes: &mut [Node], id: u32) {
    let (parent, prev, next) = {
        let n = &nodes[id as usize];
        (n.parent, n.prev, n.next)
    };
    if parent == NONE {
        return;
    }
    if prev == NONE {
        nodes[parent as usize].first = next;
    } else {
        nodes[prev as usize].next = next;
    }
    if next == NONE {
        nodes[parent as usize].last = prev;
    } else {
        nodes[next as usize].prev = prev;
    }
    let n = &mut nodes[id as usize];
    n.parent = NONE;
    n.prev = NONE;
    n.next = NONE;
}

/// Append `id` (detached first) as the last child of `parent`.
fn append_child(nodes: &mut [Node], parent: u32, id: u32) {
    detach(nodes, id);
    let last = nodes[parent as usize].last;
    {
        let n = &mut nodes[id as usize];
        n.parent = parent;
        n.prev = last;
    }
    if last == NONE {
        nodes[parent as usize].first = id;
    } else {
        nodes[last as usize].next = id;
    }
    nodes[parent as usize].last = id;
}

/// Insert `id` (detached first) before `sibling`, which has a parent.
fn insert_before(nodes: &mut [Node], sibling: u32, id: u32) {
    detach(nodes, id);
    let (parent, prev) = {
        let s = &nodes[sibling as usize];
        (s.parent, s.prev)
    };
    {
        let n = &mut nodes[id as usize];
        n.parent = parent;
        n.prev = prev;
        n.next = sibling;
    }
    nodes[sibling as usize].prev = id;
    if prev == NONE {
        nodes[parent as usize].first = id;
    } else {
        nodes[prev as usize].next = id;
    }
}

impl TreeSink for Arena {
    type Handle = Handle;
    type Output = Self;
    type ElemName<'a>
        = ExpandedName<'a>
    where
        Self: 'a;

    fn finish(self) -> Self {
        self
    }

    fn parse_error(&self, _msg: Cow<'static, str>) {}

    fn get_document(&self) -> Handle {
        Arena::handle(0)
    }

    fn elem_name<'a>(&'a self, target: &'a Handle) -> ExpandedName<'a> {
        ExpandedName {
            ns: &target.ns,
            local: &target.local,
        }
    }

    fn create_element(&self, name: QualName, attrs: Vec<Attribute>, flags: ElementFlags) -> Handle {
        let handle_ns = name.ns.clone();
        let handle_local = name.local.clone();
        let id = self.push(Data::Element {
            name,
            attrs,
            mathml_annotation_xml_integration_point: flags.mathml_annotation_xml_integration_point,
        });
        if flags.template {
            let contents = self.push(Data::Document);
            self.nodes.borrow_mut()[id as usize].template = contents;
        }
        Handle {
            id,
            ns: handle_ns,
            local: handle_local,
        }
    }

    fn create_comment(&self, _text: StrTendril) -> Handle {
        Arena::handle(self.push(Data::Comment))
    }

    fn create_pi(&self, _target: StrTendril, _data: StrTendril) -> Handle {
        Arena::handle(self.push(Data::Other))
    }

    fn append(&self, parent: &Handle, child: NodeOrText<Handle>) {
        match child {
            NodeOrText::AppendText(text) => {
                let last = self.nodes.borrow()[parent.id as usize].last;
                if last != NONE {
                    if let Data::Text(t) = &mut self.nodes.borrow_mut()[last as usize].data {
                        t.push_tendril(&text);
                        return;
                    }
                }
                let id = self.push(Data::Text(text));
                append_child(&mut self.nodes.borrow_mut(), parent.id, id);
            }
            NodeOrText::AppendNode(node) => {
                append_child(&mut self.nodes.borrow_mut(), parent.id, node.id);
            }
        }
    }

    fn append_before_sibling(&self, sibling: &Handle, child: NodeOrText<Handle>) {
        if self.nodes.borrow()[sibling.id as usize].parent == NONE {
            // html5ever only calls this for a sibling with a parent; RcDom would panic.
            return;
        }
        let id = match child {
            NodeOrText::AppendText(text) => {
                let prev = self.nodes.borrow()[sibling.id as usize].prev;
                if prev != NONE {
                    if let Data::Text(t) = &mut self.nodes.borrow_mut()[prev as usize].data {
                        t.push_tendril(&text);
                        return;
                    }
                }
                self.push(Data::Text(text))
            }
            NodeOrText::AppendNode(node) => node.id,
        };
        insert_before(&mut self.nodes.borrow_mut(), sibling.id, id);
    }

    fn append_based_on_parent_node(
        &self,
        element: &Handle,
        prev_element: &Handle,
        child: NodeOrText<Handle>,
    ) {
        if self.nodes.borrow()[element.id as usize].parent != NONE {
            self.append_before_sibling(element, child);
        } else {
            self.append(prev_element, child);
        }
    }

    fn append_doctype_to_document(
        &self,
        _name: StrTendril,
        _public_id: StrTendril,
        _system_id: StrTendril,
    ) {
        let id = self.push(Data::Other);
        append_child(&mut self.nodes.borrow_mut(), 0, id);
    }

    fn get_template_contents(&self, target: &Handle) -> Handle {
        let contents = self.nodes.borrow()[target.id as usize].template;
        if contents == NONE {
            // Only asked of template elements; RcDom would panic. The node itself is a
            // harmless answer.
            target.clone()
        } else {
            Arena::handle(contents)
        }
    }

    fn same_node(&self, x: &Handle, y: &Handle) -> bool {
        x.id == y.id
    }

    fn set_quirks_mode(&self, _mode: QuirksMode) {}

    fn add_attrs_if_missing(&self, target: &Handle, attrs: Vec<Attribute>) {
        if let Data::Element {
            attrs: existing, ..
        } = &mut self.nodes.borrow_mut()[target.id as usize].data
        {
            let had = existing.len();
            for attr in attrs {
                if !existing[..had].iter().any(|e| e.name == attr.name) {
                    existing.push(attr);
                }
            }
        }
    }

    fn remove_from_parent(&self, target: &Handle) {
        detach(&mut self.nodes.borrow_mut(), target.id);
    }

    fn reparent_children(&self, node: &Handle, new_parent: &Handle) {
        let mut nodes = self.nodes.borrow_mut();
        let mut child = nodes[node.id as usize].first;
        while child != NONE {
            let next = nodes[child as usize].next;
            append_child(&mut nodes, new_parent.id, child);
            child = next;
        }
    }

    fn is_mathml_annotation_xml_integration_point(&self, target: &Handle) -> bool {
        matches!(
            self.nodes.borrow()[target.id as usize].data,
            Data::Element {
                mathml_annotation_xml_integration_point: true,
                ..
            }
        )
    }
}
