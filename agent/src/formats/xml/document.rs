//! Loading a document and finding things in it by byte offset, without re-serialising.
//!
//! The tree (roxmltree) keeps the byte range of every node in the original text, so signing
//! inserts the `<Signature>` text at an offset and every other byte stays as it was.

use roxmltree::{Document, Node, ParsingOptions};

use super::error::XmlError;

/// The UTF-8 byte order mark, kept in the output when the input had it.
const BOM: &str = "\u{feff}";

/// The attribute names accepted as an element's Id (what HTKK, BHXH and e-invoice files use).
pub const ID_ATTRIBUTES: [&str; 3] = ["Id", "id", "ID"];

/// A UTF-8 document split into its optional BOM and the text the tree was parsed from.
#[derive(Debug)]
pub struct Source<'a> {
    /// The BOM, or "".
    pub bom: &'a str,
    /// The text after the BOM; node ranges are offsets into it.
    pub text: &'a str,
}

impl<'a> Source<'a> {
    /// Checks the bytes are UTF-8 and splits off a BOM.
    pub fn new(input: &'a [u8]) -> Result<Self, XmlError> {
        let all = std::str::from_utf8(input).map_err(XmlError::NotUtf8)?;
        Ok(match all.strip_prefix(BOM) {
            Some(text) => Self { bom: BOM, text },
            None => Self { bom: "", text: all },
        })
    }
}

/// Parses `text`, refusing any DTD (even an empty `<!DOCTYPE x>`, which the parser would
/// otherwise accept): no external entity is ever fetched and no entity is ever expanded, so an
/// entity bomb fails in microseconds.
pub fn parse(text: &str) -> Result<Document<'_>, XmlError> {
    let options = ParsingOptions {
        allow_dtd: false,
        ..ParsingOptions::default()
    };
    let document = Document::parse_with_options(text, options).map_err(|e| match e {
        roxmltree::Error::DtdDetected => XmlError::Dtd,
        other => XmlError::Malformed(other),
    })?;
    let prolog = &text[..document.root_element().range().start];
    if prolog.contains("<!DOCTYPE") {
        return Err(XmlError::Dtd);
    }
    Ok(document)
}

/// The qualified name of an element as written (`ds:Signature`), read from the source text:
/// the tree only keeps the resolved namespace, and canonical XML keeps the prefix.
pub fn qname<'i>(node: Node<'_, 'i>) -> &'i str {
    let text = node.document().input_text();
    let after_lt = &text[node.range().start + 1..];
    // Bytes, not chars: every delimiter is ASCII, so the position is a char boundary.
    let end = after_lt
        .bytes()
        .position(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'>' | b'/'))
        .unwrap_or(after_lt.len());
    &after_lt[..end]
}

/// The prefix of a qualified name (`None` for an unprefixed name).
pub fn prefix_of(qname: &str) -> Option<&str> {
    qname.split_once(':').map(|(prefix, _)| prefix)
}

/// The element whose `Id`, `id` or `ID` attribute is `id`; an Id used twice is an error.
pub fn element_by_id<'a, 'i>(
    document: &'a Document<'i>,
    id: &str,
) -> Result<Node<'a, 'i>, XmlError> {
    let mut found = document.descendants().filter(|node| {
        node.is_element()
            && node.attributes().any(|a| {
                a.namespace().is_none() && ID_ATTRIBUTES.contains(&a.name()) && a.value() == id
            })
    });
    let first = found
        .next()
        .ok_or_else(|| XmlError::IdNotFound(id.to_owned()))?;
    let more = found.count();
    if more > 0 {
        return Err(XmlError::DuplicateId {
            id: id.to_owned(),
            count: more + 1,
        });
    }
    Ok(first)
}

/// The first element (document order) with this local name, in any namespace.
pub fn element_by_name<'a, 'i>(document: &'a Document<'i>, name: &str) -> Option<Node<'a, 'i>> {
    document
        .descendants()
        .find(|node| node.is_element() && node.tag_name().name() == name)
}

/// Where new children of `element` go: the offset of its end tag, or, for an empty-element
/// tag `<X/>`, the offset of its `/>` (the caller then rewrites that into `>…</X>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insertion {
    /// Insert at this offset (just before `</X>`).
    BeforeEndTag(usize),
    /// The element is written `<X …/>`; the `/>` starts at this offset.
    SelfClosing(usize),
}

impl Insertion {
    /// The same place in a text that has `by` more bytes in front (a BOM kept aside).
    pub fn shifted(self, by: usize) -> Insertion {
        match self {
            Insertion::BeforeEndTag(at) => Insertion::BeforeEndTag(at + by),
            Insertion::SelfClosing(at) => Insertion::SelfClosing(at + by),
        }
    }

    /// `text` with `content` inserted here, as pieces to write in order (nothing is copied):
    /// a `<X …/>` element named `qname` is rewritten `<X …>content</X>`.
    pub fn pieces<'s>(self, text: &'s [u8], qname: &'s str, content: &'s [u8]) -> [&'s [u8]; 6] {
        match self {
            Insertion::BeforeEndTag(at) => [&text[..at], content, &text[at..], b"", b"", b""],
            Insertion::SelfClosing(at) => [
                &text[..at],
                b">",
                content,
                b"</",
                qname.as_bytes(),
                // `>` and the rest, after the `/` that was dropped.
                &text[at + 1..],
            ],
        }
    }
}

/// Finds where content can be appended to `element`.
pub fn insertion_point(element: Node<'_, '_>) -> Insertion {
    let text = element.document().input_text();
    let range = element.range();
    let source = &text[range.clone()];
    if element.has_children() || !source.ends_with("/>") {
        // Non-empty, or written `<X></X>`: the end tag is the last "</" of the element.
        let end_tag = source.rfind("</").unwrap_or(source.len());
        Insertion::BeforeEndTag(range.start + end_tag)
    } else {
        Insertion::SelfClosing(range.end - 2)
    }
}

/// Inserts `content` as the last child of `element` in `text`, leaving every other byte alone.
pub fn append_child(text: &str, element: Node<'_, '_>, content: &str) -> String {
    let pieces =
        insertion_point(element).pieces(text.as_bytes(), qname(element), content.as_bytes());
    // Only whole UTF-8 strings and char boundaries (tag offsets) were joined.
    String::from_utf8(pieces.concat())
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}
