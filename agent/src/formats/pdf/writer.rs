//! The incremental update (ISO 32000-2 §7.5.6): new and changed objects appended after the
//! original bytes, then a cross-reference section of the same kind as the input's newest one
//! (table or stream) whose `/Prev` points at it.

use super::object::{Dict, ObjRef, Object};

/// An incremental update being built in memory. It holds only the new objects (a few KB, plus
/// the appearance font and image), never the original document.
#[derive(Debug)]
pub struct Increment {
    /// Length of the original document: offsets in the update start here.
    base: u64,
    buf: Vec<u8>,
    offsets: Vec<(u32, u64)>,
}

impl Increment {
    /// An update appended to a document of `base` bytes whose last byte is `last_byte`.
    pub fn new(base: u64, last_byte: Option<u8>) -> Self {
        let mut buf = Vec::with_capacity(16 * 1024);
        // Objects must start on a new line; the original bytes are never touched.
        if !matches!(last_byte, Some(b'\n' | b'\r') | None) {
            buf.push(b'\n');
        }
        Self {
            base,
            buf,
            offsets: Vec::new(),
        }
    }

    fn position(&self) -> u64 {
        self.base + self.buf.len() as u64
    }

    /// Writes `object` as indirect object `id`; returns where it starts in the update buffer.
    pub fn object(&mut self, id: ObjRef, object: &Object) -> usize {
        let start = self.buf.len();
        self.offsets.push((id.num, self.position()));
        self.buf
            .extend_from_slice(format!("{} {} obj\n", id.num, id.gen).as_bytes());
        object.write_to(&mut self.buf);
        self.buf.extend_from_slice(b"\nendobj\n");
        start
    }

    /// Writes a stream object; `/Length` is set from `data`.
    pub fn stream(&mut self, id: ObjRef, mut dict: Dict, data: &[u8]) {
        dict.set("Length", Object::Int(data.len() as i64));
        self.offsets.push((id.num, self.position()));
        self.buf
            .extend_from_slice(format!("{} {} obj\n", id.num, id.gen).as_bytes());
        dict.write_to(&mut self.buf);
        self.buf.extend_from_slice(b"\nstream\n");
        self.buf.extend_from_slice(data);
        self.buf.extend_from_slice(b"\nendstream\nendobj\n");
    }

    /// Ends the update with a cross-reference table and trailer, or a cross-reference stream
    /// numbered `xref_stream` when the input used streams. `trailer` carries `/Root`, `/Info`,
    /// `/ID` and `/Prev`; `/Size` is set here.
    pub fn finish(mut self, mut trailer: Dict, xref_stream: Option<ObjRef>, size: u32) -> Vec<u8> {
        let xref_at = self.position();
        match xref_stream {
            None => {
                let mut offsets = self.offsets.clone();
                offsets.sort_unstable();
                self.buf.extend_from_slice(b"xref\n");
                for run in runs(&offsets) {
                    self.buf
                        .extend_from_slice(format!("{} {}\n", run[0].0, run.len()).as_bytes());
                    for (_, offset) in run {
                        // Each entry is exactly 20 bytes (§7.5.4).
                        self.buf
                            .extend_from_slice(format!("{offset:010} 00000 n\r\n").as_bytes());
                    }
                }
                trailer.set("Size", Object::Int(i64::from(size)));
                self.buf.extend_from_slice(b"trailer\n");
                trailer.write_to(&mut self.buf);
                self.buf.push(b'\n');
            }
            Some(id) => {
                let mut offsets = self.offsets.clone();
                offsets.push((id.num, xref_at));
                offsets.sort_unstable();
                let width = offset_width(xref_at);
                let mut data = Vec::new();
                let mut index = Vec::new();
                for run in runs(&offsets) {
                    index.push(Object::Int(i64::from(run[0].0)));
                    index.push(Object::Int(run.len() as i64));
                    for (_, offset) in run {
                        data.push(1);
                        data.extend_from_slice(&offset.to_be_bytes()[8 - width..]);
                        data.extend_from_slice(&[0, 0]);
                    }
                }
                trailer.set("Type", Object::name("XRef"));
                trailer.set("Size", Object::Int(i64::from(size.max(id.num + 1))));
                trailer.set("Index", Object::Array(index));
                trailer.set(
                    "W",
                    Object::Array(vec![
                        Object::Int(1),
                        Object::Int(width as i64),
                        Object::Int(2),
                    ]),
                );
                self.stream(id, trailer, &data);
            }
        }
        self.buf
            .extend_from_slice(format!("startxref\n{xref_at}\n%%EOF\n").as_bytes());
        self.buf
    }
}

/// Bytes needed to write `max` big-endian.
fn offset_width(max: u64) -> usize {
    (8 - (max.leading_zeros() / 8) as usize).max(1)
}

/// Splits sorted `(number, offset)` pairs into runs of consecutive numbers.
fn runs(sorted: &[(u32, u64)]) -> Vec<&[(u32, u64)]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=sorted.len() {
        if i == sorted.len() || sorted[i].0 != sorted[i - 1].0 + 1 {
            out.push(&sorted[start..i]);
            start = i;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_xref_lists_each_new_object_at_its_offset() {
        let mut update = Increment::new(100, Some(b'F'));
        update.object(ObjRef::new(7), &Object::Int(1));
        update.object(ObjRef::new(8), &Object::Int(2));
        update.object(ObjRef::new(3), &Object::Null);
        let bytes = update.finish(Dict::new(), None, 9);
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.starts_with("\n7 0 obj"));
        assert!(text.contains("xref\n3 1\n"));
        assert!(text.contains("7 2\n0000000101 00000 n\r\n"));
        assert!(text.ends_with("%%EOF\n"));
    }

    #[test]
    fn offsets_use_as_few_bytes_as_they_need() {
        assert_eq!(offset_width(200), 1);
        assert_eq!(offset_width(70_000), 3);
        assert_eq!(offset_width(300_000_000), 4);
    }
}
