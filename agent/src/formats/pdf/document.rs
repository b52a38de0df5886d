//! The few document structures signing looks at: the page tree (only the branches leading to
//! the target pages), the interactive form's fields, and DocMDP permissions.

use std::io::{Read, Seek};

use super::{
    error::PdfError,
    object::{Dict, ObjRef, Object},
    reader::PdfReader,
};

/// Page trees deeper than this are malformed (or loops).
const MAX_TREE_DEPTH: usize = 64;

/// Which pages carry the visible signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageSelector {
    /// One page, 1-based; negative counts from the end (-1 is the last page).
    Number(i64),
    /// Several pages, each as in `Number` (one widget per page, all of the same field).
    List(Vec<i64>),
    /// Every page (one widget per page, all of the same field).
    All,
}

impl<'de> serde::Deserialize<'de> for PageSelector {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(i64),
            List(Vec<i64>),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(n) => Ok(Self::Number(n)),
            Raw::List(pages) => Self::list(pages).map_err(serde::de::Error::custom),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl std::str::FromStr for PageSelector {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("all") {
            return Ok(Self::All);
        }
        let numbers = s
            .split(',')
            .map(|n| n.trim().parse::<i64>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| {
                format!(
                    "page must be a number (negative from the end), a list like \"1,3\", \
                     or \"all\", not {s:?}"
                )
            })?;
        Self::list(numbers)
    }
}

impl PageSelector {
    /// A list of pages; one page is [`Self::Number`].
    pub fn list(pages: Vec<i64>) -> Result<Self, String> {
        match pages.as_slice() {
            [] => Err("the page list is empty".into()),
            [one] => Ok(Self::Number(*one)),
            _ => Ok(Self::List(pages)),
        }
    }
}

fn kids(dict: &Dict) -> Vec<ObjRef> {
    dict.get("Kids")
        .and_then(Object::as_array)
        .map(|k| k.iter().filter_map(Object::as_ref).collect())
        .unwrap_or_default()
}

fn is_leaf(dict: &Dict) -> bool {
    dict.has_type("Page") || (!dict.has_type("Pages") && dict.get("Kids").is_none())
}

/// The root of the page tree.
pub fn pages_root<R: Read + Seek>(
    reader: &mut PdfReader<R>,
    catalog: &Dict,
) -> Result<(ObjRef, Dict), PdfError> {
    let root = catalog
        .get("Pages")
        .and_then(Object::as_ref)
        .ok_or_else(|| PdfError::invalid("the catalog has no /Pages", None))?;
    Ok((root, reader.dict(root, "the page tree")?))
}

/// The pages `selector` names, as references, in document order.
pub fn select_pages<R: Read + Seek>(
    reader: &mut PdfReader<R>,
    catalog: &Dict,
    selector: PageSelector,
) -> Result<Vec<ObjRef>, PdfError> {
    let (root, root_dict) = pages_root(reader, catalog)?;
    let count = root_dict
        .get("Count")
        .and_then(Object::as_int)
        .and_then(|c| usize::try_from(c).ok())
        .unwrap_or(0);
    match selector {
        PageSelector::All => {
            let mut pages = Vec::new();
            collect_all(reader, root, root_dict, 0, &mut pages)?;
            Ok(pages)
        }
        PageSelector::Number(n) => {
            let index = page_index(n, count)?;
            Ok(vec![page_at(reader, root, root_dict, index)?])
        }
        PageSelector::List(numbers) => {
            let mut indexes = numbers
                .iter()
                .map(|n| page_index(*n, count))
                .collect::<Result<Vec<_>, _>>()?;
            // "1,-1" on a one-page file names one page twice: one widget is enough.
            indexes.sort_unstable();
            indexes.dedup();
            indexes
                .into_iter()
                .map(|index| page_at(reader, root, root_dict.clone(), index))
                .collect()
        }
    }
}

/// The 0-based index of page `n` (1-based; negative from the end) of `count` pages.
fn page_index(n: i64, count: usize) -> Result<usize, PdfError> {
    let index = if n > 0 {
        usize::try_from(n - 1).ok()
    } else if n < 0 {
        count.checked_sub(usize::try_from(n.unsigned_abs()).unwrap_or(usize::MAX))
    } else {
        None
    };
    index.filter(|i| *i < count).ok_or(PdfError::PageNotFound {
        requested: n,
        count,
    })
}

/// Descends the tree using each node's `/Count`, reading only the nodes on the way.
fn page_at<R: Read + Seek>(
    reader: &mut PdfReader<R>,
    mut node: ObjRef,
    mut dict: Dict,
    mut index: usize,
) -> Result<ObjRef, PdfError> {
    for _ in 0..MAX_TREE_DEPTH {
        if is_leaf(&dict) {
            return Ok(node);
        }
        let mut descended = false;
        for kid in kids(&dict) {
            let kid_dict = reader.dict(kid, "a page tree node")?;
            let count = if is_leaf(&kid_dict) {
                1
            } else {
                kid_dict
                    .get("Count")
                    .and_then(Object::as_int)
                    .and_then(|c| usize::try_from(c).ok())
                    .unwrap_or(0)
            };
            if index < count {
                node = kid;
                dict = kid_dict;
                descended = true;
                break;
            }
            index -= count;
        }
        if !descended {
            return Err(PdfError::invalid("the page tree's /Count is wrong", None));
        }
    }
    Err(PdfError::invalid("the page tree is too deep", None))
}

fn collect_all<R: Read + Seek>(
    reader: &mut PdfReader<R>,
    node: ObjRef,
    dict: Dict,
    depth: usize,
    out: &mut Vec<ObjRef>,
) -> Result<(), PdfError> {
    if depth > MAX_TREE_DEPTH {
        return Err(PdfError::invalid("the page tree is too deep", None));
    }
    if is_leaf(&dict) {
        out.push(node);
        return Ok(());
    }
    for kid in kids(&dict) {
        let kid_dict = reader.dict(kid, "a page tree node")?;
        collect_all(reader, kid, kid_dict, depth + 1, out)?;
    }
    Ok(())
}

/// A terminal field of the form, with its reference.
#[derive(Debug)]
pub struct Field {
    /// The field dictionary's reference.
    pub id: ObjRef,
    /// The field dictionary.
    pub dict: Dict,
    /// Its fully qualified name (`parent.child`).
    pub name: String,
}

/// Every terminal field reachable from the form's `/Fields` (kids that are only widgets stay
/// part of their parent).
pub fn fields<R: Read + Seek>(
    reader: &mut PdfReader<R>,
    roots: &[Object],
) -> Result<Vec<Field>, PdfError> {
    let mut out = Vec::new();
    let mut stack: Vec<(ObjRef, String, usize)> = roots
        .iter()
        .rev()
        .filter_map(Object::as_ref)
        .map(|r| (r, String::new(), 0))
        .collect();
    while let Some((id, prefix, depth)) = stack.pop() {
        if depth > MAX_TREE_DEPTH {
            return Err(PdfError::invalid("form fields nest too deeply", None));
        }
        let Object::Dict(dict) = reader.object(id)? else {
            continue;
        };
        let partial = dict
            .get("T")
            .and_then(Object::as_string)
            .map(decode_text_string);
        let name = match (&partial, prefix.is_empty()) {
            (Some(p), true) => p.clone(),
            (Some(p), false) => format!("{prefix}.{p}"),
            (None, _) => prefix.clone(),
        };
        let field_kids: Vec<ObjRef> = kids(&dict);
        // Kids with their own /T are fields; kids without are this field's widgets.
        let mut child_fields = Vec::new();
        for kid in &field_kids {
            if let Object::Dict(k) = reader.object(*kid)? {
                if k.get("T").is_some() {
                    child_fields.push(*kid);
                }
            }
        }
        if child_fields.is_empty() {
            out.push(Field { id, dict, name });
        } else {
            for kid in child_fields.into_iter().rev() {
                stack.push((kid, name.clone(), depth + 1));
            }
        }
    }
    Ok(out)
}

/// Whether a field is a signature field (the type may be inherited from its parent).
pub fn is_signature_field(field: &Field) -> bool {
    field.dict.get("FT").and_then(Object::as_name) == Some(b"Sig")
}

/// The DocMDP permission of a certified document (§12.8.2.2): 1 no changes, 2 form filling
/// and signing, 3 also annotations. `None` when the document is not certified.
pub fn docmdp_permission<R: Read + Seek>(
    reader: &mut PdfReader<R>,
    catalog: &Dict,
) -> Result<Option<i64>, PdfError> {
    let Some(perms) = catalog.get("Perms") else {
        return Ok(None);
    };
    let Object::Dict(perms) = reader.resolve(perms)? else {
        return Ok(None);
    };
    let Some(sig) = perms.get("DocMDP") else {
        return Ok(None);
    };
    let Object::Dict(sig) = reader.resolve(sig)? else {
        return Ok(None);
    };
    let references = match sig.get("Reference") {
        Some(r) => reader.resolve(r)?,
        None => return Ok(Some(2)),
    };
    for reference in references.as_array().cloned().unwrap_or_default() {
        let Object::Dict(reference) = reader.resolve(&reference)? else {
            continue;
        };
        if reference.get("TransformMethod").and_then(Object::as_name) != Some(b"DocMDP") {
            continue;
        }
        let params = match reference.get("TransformParams") {
            Some(p) => reader.resolve(p)?,
            None => Object::Null,
        };
        let p = params
            .as_dict()
            .and_then(|d| d.get("P"))
            .and_then(Object::as_int)
            .unwrap_or(2);
        return Ok(Some(p));
    }
    Ok(Some(2))
}

/// Decodes a PDF text string (UTF-16BE with BOM, UTF-8 with BOM, or PDFDocEncoding, read as
/// Latin-1 which agrees with it for printable characters).
pub fn decode_text_string(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xfe, 0xff]) {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else if let Some(rest) = bytes.strip_prefix(&[0xef, 0xbb, 0xbf]) {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        bytes.iter().map(|&b| char::from(b)).collect()
    }
}

/// Encodes a text string: ASCII as is, anything else as UTF-16BE with a BOM (§7.9.2.2).
pub fn text_string(text: &str) -> Object {
    if text.is_ascii() {
        Object::String(text.as_bytes().to_vec())
    } else {
        let mut bytes = vec![0xfe, 0xff];
        for unit in text.encode_utf16() {
            bytes.extend_from_slice(&unit.to_be_bytes());
        }
        Object::HexString(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_text_strings_round_trip_through_utf16() {
        let text = "Hà Nội";
        let encoded = text_string(text);
        assert_eq!(
            encoded.as_string().map(decode_text_string).as_deref(),
            Some(text)
        );
        assert_eq!(text_string("Hanoi"), Object::String(b"Hanoi".to_vec()));
    }

    #[test]
    fn page_selectors_parse_numbers_and_all() {
        assert_eq!("-1".parse(), Ok(PageSelector::Number(-1)));
        assert_eq!("ALL".parse(), Ok(PageSelector::All));
        assert!("first".parse::<PageSelector>().is_err());
        assert_eq!("1, 3,-1".parse(), Ok(PageSelector::List(vec![1, 3, -1])));
        assert_eq!("2,".parse::<PageSelector>().ok(), None);
        assert_eq!(PageSelector::list(vec![4]), Ok(PageSelector::Number(4)));
    }
}
