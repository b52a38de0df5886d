//! Canonical XML: inclusive C14N 1.0 (with or without comments) and exclusive C14N 1.0,
//! over a whole document or one element's subtree, optionally leaving out one element (the
//! enveloped signature).
//!
//! Written here rather than taken from a crate: the C14N crates on crates.io either build their
//! own tree (so they cannot exclude a node of *our* tree nor stream a 6 MB document into a
//! hasher) or implement only one variant. The rules are those of
//! <https://www.w3.org/TR/xml-c14n> §2 and <https://www.w3.org/TR/xml-exc-c14n> §3, for the
//! node-sets XMLDSig actually produces (`URI=""` and `URI="#id"`: whole subtrees).
//! The traversal is iterative, so a deeply nested document cannot overflow the stack.

use roxmltree::{Node, NodeType};

use super::document::{prefix_of, qname};
use crate::signer::Hasher;

/// The C14N algorithm URIs.
pub const INCLUSIVE: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
/// Inclusive C14N 1.0 keeping comments.
pub const INCLUSIVE_COMMENTS: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments";
/// Exclusive C14N 1.0.
pub const EXCLUSIVE: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
/// Exclusive C14N 1.0 keeping comments.
pub const EXCLUSIVE_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";

const XML_NAMESPACE: &str = "http://www.w3.org/XML/1998/namespace";

/// One canonicalization algorithm with its parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Method {
    /// Exclusive (namespaces rendered only where visibly used) instead of inclusive.
    pub exclusive: bool,
    /// Keep comments.
    pub comments: bool,
    /// Exclusive C14N's `InclusiveNamespaces PrefixList` (`#default` for the default one).
    pub inclusive_prefixes: Vec<String>,
}

impl Method {
    /// The method an algorithm URI names, if kyso implements it.
    pub fn from_uri(uri: &str) -> Option<Self> {
        let (exclusive, comments) = match uri {
            INCLUSIVE => (false, false),
            INCLUSIVE_COMMENTS => (false, true),
            EXCLUSIVE => (true, false),
            EXCLUSIVE_COMMENTS => (true, true),
            _ => return None,
        };
        Some(Self {
            exclusive,
            comments,
            inclusive_prefixes: Vec::new(),
        })
    }

    /// The algorithm URI.
    pub fn uri(&self) -> &'static str {
        match (self.exclusive, self.comments) {
            (false, false) => INCLUSIVE,
            (false, true) => INCLUSIVE_COMMENTS,
            (true, false) => EXCLUSIVE,
            (true, true) => EXCLUSIVE_COMMENTS,
        }
    }
}

/// Where canonical bytes go: a buffer, or a hasher fed in large chunks.
pub trait Sink {
    /// Appends text.
    fn put(&mut self, text: &str);
}

impl Sink for Vec<u8> {
    fn put(&mut self, text: &str) {
        self.extend_from_slice(text.as_bytes());
    }
}

/// Hashes canonical output without holding it: a 6 MB document never exists twice in memory.
#[derive(Debug)]
pub struct DigestSink {
    hasher: Hasher,
    buffer: Vec<u8>,
}

impl DigestSink {
    const CHUNK: usize = 64 * 1024;

    /// A sink feeding `hasher`.
    pub fn new(hasher: Hasher) -> Self {
        Self {
            hasher,
            buffer: Vec::with_capacity(Self::CHUNK),
        }
    }

    /// The digest of everything put in.
    pub fn finish(mut self) -> Vec<u8> {
        self.hasher.update(&self.buffer);
        self.hasher.finish()
    }
}

impl Sink for DigestSink {
    fn put(&mut self, text: &str) {
        // Tiny writes dominate (tag names, quotes): buffering them is what makes hashing fast.
        if self.buffer.len() + text.len() > Self::CHUNK {
            self.hasher.update(&self.buffer);
            self.buffer.clear();
        }
        if text.len() > Self::CHUNK {
            self.hasher.update(text.as_bytes());
        } else {
            self.buffer.extend_from_slice(text.as_bytes());
        }
    }
}

/// Writes `text` escaped for a text node (§2.3: `&`, `<`, `>`, CR).
fn put_text(out: &mut impl Sink, text: &str) {
    put_escaped(out, text, |b| match b {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'>' => Some("&gt;"),
        b'\r' => Some("&#xD;"),
        _ => None,
    });
}

/// Writes `text` escaped for an attribute value (§2.3: `&`, `<`, `"`, TAB, LF, CR).
fn put_attribute(out: &mut impl Sink, text: &str) {
    put_escaped(out, text, |b| match b {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'"' => Some("&quot;"),
        b'\t' => Some("&#x9;"),
        b'\n' => Some("&#xA;"),
        b'\r' => Some("&#xD;"),
        _ => None,
    });
}

fn put_escaped(out: &mut impl Sink, text: &str, escape: impl Fn(u8) -> Option<&'static str>) {
    let bytes = text.as_bytes();
    let mut start = 0;
    // Runs of plain text are searched byte-wise and written whole; all escaped characters are
    // ASCII, so every position found is a char boundary.
    while let Some((i, replacement)) = bytes[start..]
        .iter()
        .enumerate()
        .find_map(|(k, &b)| escape(b).map(|r| (start + k, r)))
    {
        out.put(&text[start..i]);
        out.put(replacement);
        start = i + 1;
    }
    out.put(&text[start..]);
}

/// Namespace declarations rendered by output ancestors: a stack of (prefix, URI), "" being
/// the default namespace, with a mark per open element.
#[derive(Default)]
struct Rendered<'a> {
    declarations: Vec<(&'a str, &'a str)>,
    marks: Vec<usize>,
}

impl<'a> Rendered<'a> {
    fn lookup(&self, prefix: &str) -> Option<&'a str> {
        self.declarations
            .iter()
            .rev()
            .find(|(p, _)| same(p, prefix))
            .map(|(_, uri)| *uri)
    }
}

/// String equality that first checks whether both are the same slice: prefixes and URIs of
/// one namespace come from the same place in the tree for every element in its scope, so a
/// large document mostly compares pointers instead of calling `memcmp` several times per
/// element.
fn same(a: &str, b: &str) -> bool {
    (std::ptr::eq(a.as_ptr(), b.as_ptr()) && a.len() == b.len()) || a == b
}

/// An attribute to render: namespace URI, local name, qualified name as written, value.
type Attribute<'a> = (&'a str, &'a str, &'a str, &'a str);

struct Canonicalizer<'m, 'a, S> {
    method: &'m Method,
    out: S,
    rendered: Rendered<'a>,
    /// Scratch lists reused from element to element (a large document has hundreds of
    /// thousands): namespace declarations to render, attributes, prefixes visibly used.
    namespaces: Vec<(&'a str, &'a str)>,
    attributes: Vec<Attribute<'a>>,
    used: Vec<&'a str>,
}

impl<'a, S: Sink> Canonicalizer<'_, 'a, S> {
    fn open(&mut self, element: Node<'a, 'a>, is_apex: bool) {
        let name = qname(element);
        self.rendered.marks.push(self.rendered.declarations.len());
        let mut namespaces = std::mem::take(&mut self.namespaces);
        namespaces.clear();
        let in_scope = |prefix: &str| -> &'a str {
            element
                .namespaces()
                .find(|ns| ns.name().unwrap_or("") == prefix)
                .map(|ns| ns.uri())
                .unwrap_or("")
        };
        if self.method.exclusive {
            // §3: only the namespaces the element or its attributes visibly use, plus the
            // prefixes named in InclusiveNamespaces.
            let mut used = std::mem::take(&mut self.used);
            used.clear();
            used.push(prefix_of(name).unwrap_or(""));
            let text = element.document().input_text();
            for attribute in element.attributes() {
                if let Some(prefix) = prefix_of(&text[attribute.range_qname()]) {
                    if prefix != "xml" {
                        used.push(prefix);
                    }
                }
            }
            for prefix in &self.method.inclusive_prefixes {
                let prefix = if prefix == "#default" { "" } else { prefix };
                if let Some(ns) = element
                    .namespaces()
                    .find(|ns| ns.name().unwrap_or("") == prefix)
                {
                    used.push(ns.name().unwrap_or(""));
                }
            }
            for &prefix in &used {
                let uri = in_scope(prefix);
                let shown = self.rendered.lookup(prefix).unwrap_or("");
                if !same(uri, shown) && !namespaces.iter().any(|(p, _)| same(p, prefix)) {
                    namespaces.push((prefix, uri));
                }
            }
            self.used = used;
        } else {
            for ns in element.namespaces() {
                let prefix = ns.name().unwrap_or("");
                if prefix == "xml" || (prefix.is_empty() && ns.uri().is_empty()) {
                    // xmlns="" is handled below: it is output only to undo a rendered default.
                    continue;
                }
                if !self
                    .rendered
                    .lookup(prefix)
                    .is_some_and(|uri| same(uri, ns.uri()))
                {
                    namespaces.push((prefix, ns.uri()));
                }
            }
            // An element without a default namespace under one that rendered one: xmlns="".
            if element.default_namespace().is_none()
                && self.rendered.lookup("").is_some_and(|uri| !uri.is_empty())
            {
                namespaces.push(("", ""));
            }
        }
        namespaces.sort_unstable_by(|a, b| a.0.cmp(b.0));

        let text = element.document().input_text();
        let mut attributes = std::mem::take(&mut self.attributes);
        attributes.clear();
        attributes.extend(element.attributes().map(|a| {
            (
                a.namespace().unwrap_or(""),
                a.name(),
                &text[a.range_qname()],
                a.value(),
            )
        }));
        if is_apex && !self.method.exclusive {
            // §2.4: the apex of a document subset inherits xml:* attributes of its ancestors.
            for ancestor in element.ancestors().skip(1).filter(Node::is_element) {
                for a in ancestor.attributes() {
                    if a.namespace() == Some(XML_NAMESPACE)
                        && !attributes
                            .iter()
                            .any(|(ns, local, _, _)| *ns == XML_NAMESPACE && *local == a.name())
                    {
                        attributes.push((
                            XML_NAMESPACE,
                            a.name(),
                            &text[a.range_qname()],
                            a.value(),
                        ));
                    }
                }
            }
        }
        attributes.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));

        self.out.put("<");
        self.out.put(name);
        for &(prefix, uri) in &namespaces {
            if prefix.is_empty() {
                self.out.put(" xmlns=\"");
            } else {
                self.out.put(" xmlns:");
                self.out.put(prefix);
                self.out.put("=\"");
            }
            put_attribute(&mut self.out, uri);
            self.out.put("\"");
            self.rendered.declarations.push((prefix, uri));
        }
        for &(_, _, qname, value) in &attributes {
            self.out.put(" ");
            self.out.put(qname);
            self.out.put("=\"");
            put_attribute(&mut self.out, value);
            self.out.put("\"");
        }
        self.out.put(">");
        self.namespaces = namespaces;
        self.attributes = attributes;
    }

    fn close(&mut self, element: Node<'a, 'a>) {
        self.out.put("</");
        self.out.put(qname(element));
        self.out.put(">");
        let mark = self.rendered.marks.pop().unwrap_or(0);
        self.rendered.declarations.truncate(mark);
    }

    fn leaf(&mut self, node: Node<'a, 'a>) {
        match node.node_type() {
            NodeType::Text => put_text(&mut self.out, node.text().unwrap_or("")),
            NodeType::Comment if self.method.comments => {
                self.out.put("<!--");
                self.out.put(node.text().unwrap_or(""));
                self.out.put("-->");
            }
            NodeType::PI => {
                if let Some(pi) = node.pi() {
                    self.out.put("<?");
                    self.out.put(pi.target);
                    if let Some(value) = pi.value.filter(|v| !v.is_empty()) {
                        self.out.put(" ");
                        self.out.put(value);
                    }
                    self.out.put("?>");
                }
            }
            _ => {}
        }
    }

    /// Canonicalizes the subtree at `apex`, skipping the subtree at `excluded`.
    ///
    /// Walks the nodes in document order (roxmltree stores them so, and a subtree is a
    /// contiguous run of ids) with an explicit stack of open elements, so nesting depth costs
    /// heap, not call stack.
    fn subtree(&mut self, apex: Node<'a, 'a>, excluded: Option<Node<'a, 'a>>) {
        let skip = excluded.map(|node| {
            let first = node.id().get_usize();
            first..first + node.descendants().len()
        });
        let mut open: Vec<Node<'a, 'a>> = Vec::new();
        for node in apex.descendants() {
            if skip
                .as_ref()
                .is_some_and(|r| r.contains(&node.id().get_usize()))
            {
                continue;
            }
            while let Some(top) = open.last().copied() {
                if node.parent() == Some(top) {
                    break;
                }
                open.pop();
                self.close(top);
            }
            if node.is_element() {
                self.open(node, node == apex);
                open.push(node);
            } else {
                self.leaf(node);
            }
        }
        while let Some(top) = open.pop() {
            self.close(top);
        }
    }
}

/// Canonicalizes `apex` (the document root for `URI=""`, or an element) into `out`, leaving
/// out the subtree at `excluded` (the enveloped-signature transform). Comments follow
/// `method`; callers that dereference a same-document URI pass a method without comments,
/// as XMLDSig §4.4.3.3 requires.
pub fn canonicalize<'a, S: Sink>(
    apex: Node<'a, 'a>,
    excluded: Option<Node<'a, 'a>>,
    method: &Method,
    out: S,
) -> S {
    let mut c14n = Canonicalizer {
        method,
        out,
        rendered: Rendered::default(),
        namespaces: Vec::new(),
        attributes: Vec::new(),
        used: Vec::new(),
    };
    if apex.node_type() == NodeType::Root {
        // §2.1: nodes around the document element are separated from it by a line feed.
        let mut seen_element = false;
        for child in apex.children() {
            if Some(child) == excluded {
                continue;
            }
            match child.node_type() {
                NodeType::Element => {
                    c14n.subtree(child, excluded);
                    seen_element = true;
                }
                NodeType::PI | NodeType::Comment => {
                    if child.is_comment() && !method.comments {
                        continue;
                    }
                    if seen_element {
                        c14n.out.put("\n");
                    }
                    c14n.leaf(child);
                    if !seen_element {
                        c14n.out.put("\n");
                    }
                }
                _ => {}
            }
        }
    } else {
        c14n.subtree(apex, excluded);
    }
    c14n.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::xml::document::parse;

    fn c14n(xml: &str, method: &Method) -> String {
        let document = parse(xml).unwrap_or_else(|e| panic!("{e}"));
        let bytes = canonicalize(document.root(), None, method, Vec::new());
        String::from_utf8(bytes).unwrap_or_default()
    }

    #[test]
    fn inclusive_c14n_sorts_attributes_drops_redundant_namespaces_and_expands_empty_tags() {
        let xml = "<?xml version=\"1.0\"?>\r\n<?pi  data?>\n<!--c--><a xmlns=\"urn:a\" b='2' a='1&amp;&#x9;'>\r\n<b xmlns=\"urn:a\" xmlns:x=\"urn:x\" x:z='&lt;' /><![CDATA[<&>]]></a>";
        assert_eq!(
            c14n(xml, &Method::default()),
            "<?pi data?>\n<a xmlns=\"urn:a\" a=\"1&amp;&#x9;\" b=\"2\">\n<b xmlns:x=\"urn:x\" x:z=\"&lt;\"></b>&lt;&amp;&gt;</a>"
        );
        let with_comments = Method::from_uri(INCLUSIVE_COMMENTS).unwrap_or_default();
        assert!(c14n(xml, &with_comments).contains("<!--c-->\n<a"));
    }

    #[test]
    fn exclusive_c14n_renders_only_visibly_used_namespaces() {
        let xml = "<r xmlns:u='urn:unused' xmlns:p='urn:p'><p:e a='1'><f xmlns=''/></p:e></r>";
        let document = parse(xml).unwrap_or_else(|e| panic!("{e}"));
        let element = document
            .descendants()
            .find(|n| n.tag_name().name() == "e")
            .unwrap_or_else(|| panic!("no e"));
        let exclusive = Method::from_uri(EXCLUSIVE).unwrap_or_default();
        let bytes = canonicalize(element, None, &exclusive, Vec::new());
        assert_eq!(
            String::from_utf8(bytes).unwrap_or_default(),
            "<p:e xmlns:p=\"urn:p\" a=\"1\"><f></f></p:e>"
        );
        let bytes = canonicalize(element, None, &Method::default(), Vec::new());
        assert_eq!(
            String::from_utf8(bytes).unwrap_or_default(),
            "<p:e xmlns:p=\"urn:p\" xmlns:u=\"urn:unused\" a=\"1\"><f></f></p:e>"
        );
    }
}
