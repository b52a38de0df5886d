//! Reads only what signing needs from a PDF: the trailer, the cross-reference sections (tables
//! and streams, following `/Prev`), and single objects at their offsets or inside object
//! streams. Memory grows with the number of objects, never with the file size.

use std::{
    collections::{HashMap, HashSet},
    io::{Read, Seek, SeekFrom},
};

use super::{
    error::{PdfError, SyntaxError},
    object::{parse_indirect, Dict, Lexer, ObjRef, Object},
};

/// The first read window when parsing an object; doubled while the object does not fit.
const FIRST_WINDOW: usize = 4096;
/// No object kyso needs (catalog, page, xref section) is larger than this.
const MAX_WINDOW: usize = 64 << 20;
/// A decoded stream larger than this is refused (deflate bombs).
const MAX_DECODED: u64 = 64 << 20;

/// Where an object lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XrefEntry {
    /// Deleted.
    Free,
    /// At a byte offset in the file.
    InFile {
        /// Byte offset of `num gen obj`.
        offset: u64,
        /// Generation.
        gen: u16,
    },
    /// Inside an object stream.
    InStream {
        /// The object stream's number.
        stream: u32,
        /// Index inside it.
        index: u32,
    },
}

/// A decoded object stream: its data and where each object starts.
#[derive(Debug)]
struct ObjectStream {
    data: Vec<u8>,
    offsets: HashMap<u32, usize>,
}

/// A PDF opened for signing.
#[derive(Debug)]
pub struct PdfReader<R> {
    input: R,
    len: u64,
    xref: HashMap<u32, XrefEntry>,
    trailer: Dict,
    startxref: u64,
    xref_is_stream: bool,
    streams: HashMap<u32, ObjectStream>,
}

impl<R: Read + Seek> PdfReader<R> {
    /// Reads the header, trailer and every cross-reference section.
    pub fn open(mut input: R) -> Result<Self, PdfError> {
        let len = input.seek(SeekFrom::End(0))?;
        let mut reader = Self {
            input,
            len,
            xref: HashMap::new(),
            trailer: Dict::new(),
            startxref: 0,
            xref_is_stream: false,
            streams: HashMap::new(),
        };
        reader.check_header()?;
        reader.startxref = reader.find_startxref()?;
        reader.load_xref_chain()?;
        Ok(reader)
    }

    /// Length of the input in bytes.
    pub fn file_len(&self) -> u64 {
        self.len
    }

    /// The newest trailer dictionary.
    pub fn trailer(&self) -> &Dict {
        &self.trailer
    }

    /// Offset of the newest cross-reference section.
    pub fn startxref(&self) -> u64 {
        self.startxref
    }

    /// Whether the newest cross-reference section is a stream (then the update writes one too).
    pub fn xref_is_stream(&self) -> bool {
        self.xref_is_stream
    }

    /// One past the highest object number in use.
    pub fn size(&self) -> u32 {
        let from_trailer = self
            .trailer
            .get("Size")
            .and_then(Object::as_int)
            .and_then(|s| u32::try_from(s).ok())
            .unwrap_or(0);
        let from_xref = self.xref.keys().max().map_or(0, |m| m + 1);
        from_trailer.max(from_xref)
    }

    /// The underlying input, to stream it again.
    pub fn input(&mut self) -> &mut R {
        &mut self.input
    }

    fn read_at(&mut self, offset: u64, max: usize) -> Result<Vec<u8>, PdfError> {
        let available = self.len.saturating_sub(offset);
        let size = usize::try_from(available).map_or(max, |a| a.min(max));
        let mut buf = vec![0; size];
        self.input.seek(SeekFrom::Start(offset))?;
        self.input.read_exact(&mut buf)?;
        Ok(buf)
    }

    /// Runs `parse` on a window at `offset`, growing the window while it runs out of data.
    fn parse_at<T>(
        &mut self,
        offset: u64,
        context: &str,
        parse: impl Fn(&[u8]) -> Result<T, SyntaxError>,
    ) -> Result<T, PdfError> {
        let mut window = FIRST_WINDOW;
        loop {
            let data = self.read_at(offset, window)?;
            match parse(&data) {
                Ok(value) => return Ok(value),
                Err(SyntaxError::Eof) if data.len() == window && window < MAX_WINDOW => {
                    window *= 4;
                }
                Err(e) => {
                    return Err(PdfError::invalid(
                        format!("{context} at byte {offset}"),
                        Some(e),
                    ))
                }
            }
        }
    }

    /// Any version is accepted (1.0 to 2.0 share the structures signing touches); only the
    /// marker is required, within the first KB as readers tolerate leading junk.
    fn check_header(&mut self) -> Result<(), PdfError> {
        let head = self.read_at(0, 1024)?;
        if !head.windows(5).any(|w| w == b"%PDF-") {
            return Err(PdfError::invalid("no %PDF- header", None));
        }
        Ok(())
    }

    fn find_startxref(&mut self) -> Result<u64, PdfError> {
        let tail_len = self.len.min(4096);
        let tail = self.read_at(self.len - tail_len, 4096)?;
        let at = tail
            .windows(9)
            .rposition(|w| w == b"startxref")
            .ok_or_else(|| PdfError::invalid("no startxref (truncated file?)", None))?;
        let mut lexer = Lexer::new(&tail[at + 9..]);
        let offset = lexer
            .unsigned()
            .map_err(|e| PdfError::invalid("bad startxref", Some(e)))?;
        if offset >= self.len {
            return Err(PdfError::invalid("startxref points past the end", None));
        }
        Ok(offset)
    }

    fn load_xref_chain(&mut self) -> Result<(), PdfError> {
        let mut next = Some(self.startxref);
        let mut seen = HashSet::new();
        let mut first = true;
        while let Some(offset) = next {
            if !seen.insert(offset) || offset >= self.len {
                return Err(PdfError::invalid("cross-reference chain loops", None));
            }
            let head = self.read_at(offset, 4)?;
            let (trailer, is_stream) = if head.starts_with(b"xref") {
                (self.classic_section(offset)?, false)
            } else {
                (self.stream_section(offset)?, true)
            };
            if first {
                self.trailer = trailer.clone();
                self.xref_is_stream = is_stream;
                first = false;
            }
            next = trailer
                .get("Prev")
                .and_then(Object::as_int)
                .and_then(|p| u64::try_from(p).ok());
        }
        Ok(())
    }

    /// Inserts an entry unless a newer section already named the object.
    fn add_entry(&mut self, num: u32, entry: XrefEntry) {
        self.xref.entry(num).or_insert(entry);
    }

    fn classic_section(&mut self, offset: u64) -> Result<Dict, PdfError> {
        let (entries, trailer) = self.parse_at(offset, "cross-reference table", |data| {
            let mut lexer = Lexer::new(data);
            lexer.keyword(b"xref")?;
            let mut entries = Vec::new();
            loop {
                let token = lexer.token()?;
                if token == b"trailer" {
                    break;
                }
                let start = std::str::from_utf8(token)
                    .ok()
                    .and_then(|t| t.parse::<u32>().ok())
                    .ok_or(SyntaxError::Invalid {
                        what: "bad xref subsection",
                        at: lexer.pos,
                    })?;
                let count = lexer.unsigned()?;
                for i in 0..count {
                    let entry_offset = lexer.unsigned()?;
                    let gen = lexer.unsigned()?;
                    let kind = lexer.token()?;
                    let num = start.saturating_add(u32::try_from(i).unwrap_or(u32::MAX));
                    let entry = match kind {
                        b"n" => XrefEntry::InFile {
                            offset: entry_offset,
                            gen: u16::try_from(gen).unwrap_or(u16::MAX),
                        },
                        b"f" => XrefEntry::Free,
                        _ => {
                            return Err(SyntaxError::Invalid {
                                what: "bad xref entry",
                                at: lexer.pos,
                            })
                        }
                    };
                    entries.push((num, entry));
                }
            }
            let trailer = match lexer.object()? {
                Object::Dict(d) => d,
                _ => {
                    return Err(SyntaxError::Invalid {
                        what: "trailer is not a dictionary",
                        at: lexer.pos,
                    })
                }
            };
            Ok((entries, trailer))
        })?;
        // A hybrid file's stream section holds the objects the table does not list.
        if let Some(stm) = trailer
            .get("XRefStm")
            .and_then(Object::as_int)
            .and_then(|o| u64::try_from(o).ok())
        {
            self.stream_section(stm)?;
        }
        for (num, entry) in entries {
            // The table's entry 0 and free entries must not hide an object in use.
            if entry != XrefEntry::Free || !self.xref.contains_key(&num) {
                self.add_entry(num, entry);
            }
        }
        Ok(trailer)
    }

    fn stream_section(&mut self, offset: u64) -> Result<Dict, PdfError> {
        let (dict, data) = self.stream_at(offset)?;
        if !dict.has_type("XRef") {
            return Err(PdfError::invalid(
                format!("no cross-reference section at byte {offset}"),
                None,
            ));
        }
        let widths: Vec<usize> = dict
            .get("W")
            .and_then(Object::as_array)
            .map(|w| {
                w.iter()
                    .filter_map(|x| x.as_int().and_then(|x| usize::try_from(x).ok()))
                    .collect()
            })
            .unwrap_or_default();
        if widths.len() != 3 || widths.iter().any(|w| *w > 8) {
            return Err(PdfError::invalid("bad /W in cross-reference stream", None));
        }
        let size = dict.get("Size").and_then(Object::as_int).unwrap_or(0);
        let index: Vec<i64> = match dict.get("Index").and_then(Object::as_array) {
            Some(items) => items.iter().filter_map(Object::as_int).collect(),
            None => vec![0, size],
        };
        let row = widths.iter().sum::<usize>();
        if row == 0 {
            return Err(PdfError::invalid("empty cross-reference rows", None));
        }
        let mut rows = data.chunks_exact(row);
        for pair in index.chunks_exact(2) {
            let (start, count) = (pair[0], pair[1]);
            for i in 0..count {
                let Some(bytes) = rows.next() else {
                    return Err(PdfError::invalid("cross-reference stream too short", None));
                };
                let field = |n: usize| {
                    let from = widths[..n].iter().sum::<usize>();
                    bytes[from..from + widths[n]]
                        .iter()
                        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
                };
                // A zero-width type field means type 1 (§7.5.8.2, Table 17).
                let kind = if widths[0] == 0 { 1 } else { field(0) };
                let Ok(num) = u32::try_from(start + i) else {
                    continue;
                };
                let entry = match kind {
                    0 => XrefEntry::Free,
                    1 => XrefEntry::InFile {
                        offset: field(1),
                        gen: u16::try_from(field(2)).unwrap_or(0),
                    },
                    2 => XrefEntry::InStream {
                        stream: u32::try_from(field(1)).unwrap_or(u32::MAX),
                        index: u32::try_from(field(2)).unwrap_or(u32::MAX),
                    },
                    // Unknown types are references to the null object (§7.5.8.3).
                    _ => XrefEntry::Free,
                };
                self.add_entry(num, entry);
            }
        }
        Ok(dict)
    }

    /// Reads a stream object at `offset`: its dictionary and its decoded data.
    fn stream_at(&mut self, offset: u64) -> Result<(Dict, Vec<u8>), PdfError> {
        let header = self.parse_at(offset, "object", parse_indirect)?;
        let (Object::Dict(dict), Some(start)) = (header.object, header.stream_start) else {
            return Err(PdfError::invalid(
                format!("expected a stream at byte {offset}"),
                None,
            ));
        };
        let length = match dict.get("Length") {
            Some(Object::Int(n)) => *n,
            Some(Object::Ref(r)) => {
                let r = *r;
                self.object(r)?.as_int().unwrap_or(-1)
            }
            _ => -1,
        };
        let length = usize::try_from(length)
            .ok()
            .filter(|l| (*l as u64) <= self.len)
            .ok_or_else(|| PdfError::invalid("bad stream /Length", None))?;
        let raw = self.read_at(offset + start as u64, length)?;
        if raw.len() != length {
            return Err(PdfError::invalid("stream runs past the end of file", None));
        }
        let data = decode_stream(&dict, raw)?;
        Ok((dict, data))
    }

    /// The object `id` (a stream's dictionary for a stream), `Null` when it does not exist.
    pub fn object(&mut self, id: ObjRef) -> Result<Object, PdfError> {
        match self.xref.get(&id.num).copied() {
            None | Some(XrefEntry::Free) => Ok(Object::Null),
            Some(XrefEntry::InFile { offset, .. }) => {
                if offset >= self.len {
                    return Err(PdfError::invalid(
                        format!("object {} points past the end", id.num),
                        None,
                    ));
                }
                let parsed = self.parse_at(offset, "object", parse_indirect)?;
                if parsed.id.num != id.num {
                    return Err(PdfError::invalid(
                        format!("object {} is not at its recorded offset", id.num),
                        None,
                    ));
                }
                Ok(parsed.object)
            }
            Some(XrefEntry::InStream { stream, .. }) => {
                if !self.streams.contains_key(&stream) {
                    let decoded = self.object_stream(stream)?;
                    self.streams.insert(stream, decoded);
                }
                let Some(objstm) = self.streams.get(&stream) else {
                    return Ok(Object::Null);
                };
                let Some(&start) = objstm.offsets.get(&id.num) else {
                    return Ok(Object::Null);
                };
                let mut data = objstm.data.get(start..).unwrap_or_default().to_vec();
                // A trailing space lets the last token end inside the buffer.
                data.push(b' ');
                Lexer::new(&data)
                    .object()
                    .map_err(|e| PdfError::invalid(format!("object {}", id.num), Some(e)))
            }
        }
    }

    /// Follows `object` if it is a reference.
    pub fn resolve(&mut self, object: &Object) -> Result<Object, PdfError> {
        match object {
            Object::Ref(r) => self.object(*r),
            other => Ok(other.clone()),
        }
    }

    /// The dictionary `id`, or an invalid-PDF error naming `what`.
    pub fn dict(&mut self, id: ObjRef, what: &str) -> Result<Dict, PdfError> {
        match self.object(id)? {
            Object::Dict(d) => Ok(d),
            _ => Err(PdfError::invalid(
                format!("{what} (object {}) is not a dictionary", id.num),
                None,
            )),
        }
    }

    fn object_stream(&mut self, num: u32) -> Result<ObjectStream, PdfError> {
        let Some(XrefEntry::InFile { offset, .. }) = self.xref.get(&num).copied() else {
            return Err(PdfError::invalid(
                format!("object stream {num} not found"),
                None,
            ));
        };
        let (dict, data) = self.stream_at(offset)?;
        let n = dict.get("N").and_then(Object::as_int).unwrap_or(0);
        let first = dict
            .get("First")
            .and_then(Object::as_int)
            .and_then(|f| usize::try_from(f).ok())
            .unwrap_or(0);
        let mut offsets = HashMap::new();
        let mut header = data.get(..first).unwrap_or_default().to_vec();
        header.push(b' ');
        let mut lexer = Lexer::new(&header);
        for _ in 0..n {
            let (Ok(obj), Ok(at)) = (lexer.unsigned(), lexer.unsigned()) else {
                return Err(PdfError::invalid(
                    format!("bad header in object stream {num}"),
                    None,
                ));
            };
            let (Ok(obj), Ok(at)) = (u32::try_from(obj), usize::try_from(at)) else {
                continue;
            };
            offsets.insert(obj, first + at);
        }
        Ok(ObjectStream { data, offsets })
    }

    /// The catalog (`/Root`) and its reference.
    pub fn catalog(&mut self) -> Result<(ObjRef, Dict), PdfError> {
        let root = self
            .trailer
            .get("Root")
            .and_then(Object::as_ref)
            .ok_or_else(|| PdfError::invalid("the trailer has no /Root", None))?;
        Ok((root, self.dict(root, "the catalog")?))
    }
}

/// Decodes a stream's data: FlateDecode with optional PNG/TIFF predictors, the only filter
/// cross-reference and object streams use in practice.
fn decode_stream(dict: &Dict, raw: Vec<u8>) -> Result<Vec<u8>, PdfError> {
    let filters: Vec<Vec<u8>> = match dict.get("Filter") {
        None => Vec::new(),
        Some(Object::Name(n)) => vec![n.clone()],
        Some(Object::Array(items)) => items
            .iter()
            .filter_map(|f| f.as_name().map(<[u8]>::to_vec))
            .collect(),
        Some(_) => return Err(PdfError::invalid("bad /Filter", None)),
    };
    let params = match dict.get("DecodeParms") {
        Some(Object::Array(items)) => items.first().and_then(Object::as_dict).cloned(),
        Some(Object::Dict(d)) => Some(d.clone()),
        _ => None,
    };
    let mut data = raw;
    for filter in &filters {
        if filter != b"FlateDecode" {
            return Err(PdfError::invalid(
                format!(
                    "unsupported filter /{} on a structural stream",
                    String::from_utf8_lossy(filter)
                ),
                None,
            ));
        }
        let mut decoded = Vec::new();
        let result = flate2::read::ZlibDecoder::new(&data[..])
            .take(MAX_DECODED)
            .read_to_end(&mut decoded);
        // Many producers write a truncated or checksum-less zlib tail; keep what inflated.
        if let Err(e) = result {
            if decoded.is_empty() {
                return Err(PdfError::invalid(
                    format!("cannot inflate stream: {e}"),
                    None,
                ));
            }
        }
        data = decoded;
    }
    if let Some(params) = params {
        let predictor = params
            .get("Predictor")
            .and_then(Object::as_int)
            .unwrap_or(1);
        if predictor >= 10 {
            let columns = params
                .get("Columns")
                .and_then(Object::as_int)
                .and_then(|c| usize::try_from(c).ok())
                .unwrap_or(1);
            data = png_unpredict(&data, columns)?;
        } else if predictor == 2 {
            return Err(PdfError::invalid("TIFF predictor is not supported", None));
        }
    }
    Ok(data)
}

/// Undoes PNG row predictors (RFC 2083 §6) for one byte per pixel, as xref streams use.
fn png_unpredict(data: &[u8], columns: usize) -> Result<Vec<u8>, PdfError> {
    if columns == 0 {
        return Err(PdfError::invalid("/Columns 0", None));
    }
    let mut out = Vec::with_capacity(data.len());
    let mut previous = vec![0u8; columns];
    for row in data.chunks(columns + 1) {
        let (kind, row) = (row[0], &row[1..]);
        let mut current = vec![0u8; columns];
        for i in 0..row.len() {
            let left = if i > 0 { current[i - 1] } else { 0 };
            let up = previous[i];
            let up_left = if i > 0 { previous[i - 1] } else { 0 };
            current[i] = match kind {
                0 => row[i],
                1 => row[i].wrapping_add(left),
                2 => row[i].wrapping_add(up),
                3 => row[i].wrapping_add(((u16::from(left) + u16::from(up)) / 2) as u8),
                4 => row[i].wrapping_add(paeth(left, up, up_left)),
                _ => return Err(PdfError::invalid("bad PNG predictor", None)),
            };
        }
        out.extend_from_slice(&current[..row.len()]);
        previous = current;
    }
    Ok(out)
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let (pa, pb, pc) = (
        (p - i16::from(a)).abs(),
        (p - i16::from(b)).abs(),
        (p - i16::from(c)).abs(),
    );
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_up_predictor_adds_the_row_above() {
        let data = [2, 1, 2, 2, 1, 1];
        assert_eq!(png_unpredict(&data, 2).ok(), Some(vec![1, 2, 2, 3]));
    }

    #[test]
    fn garbage_is_an_invalid_pdf() {
        let err = PdfReader::open(std::io::Cursor::new(b"hello world".to_vec())).err();
        assert!(matches!(err, Some(PdfError::Invalid { .. })));
    }
}
