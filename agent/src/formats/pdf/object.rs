//! PDF objects (ISO 32000-2 §7.3): the in-memory model, a parser over byte slices and the
//! serializer used for the incremental update.
//!
//! Written here rather than taken from `lopdf` because lopdf's parser is private: its only entry
//! points load the whole document (about three times the file size in memory), while signing
//! needs a handful of objects read at known offsets.

use std::fmt::Write as _;

use super::error::SyntaxError;

/// A reference to an indirect object: `12 0 R`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjRef {
    /// Object number.
    pub num: u32,
    /// Generation number.
    pub gen: u16,
}

impl ObjRef {
    /// A generation-0 reference, the only kind kyso creates.
    pub fn new(num: u32) -> Self {
        Self { num, gen: 0 }
    }
}

/// A PDF object. Strings keep their bytes undecoded; names are stored without the slash and
/// with `#xx` escapes resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A real number.
    Real(f64),
    /// A name, without its slash.
    Name(Vec<u8>),
    /// A literal `( )` string.
    String(Vec<u8>),
    /// A hexadecimal `< >` string.
    HexString(Vec<u8>),
    /// An array.
    Array(Vec<Object>),
    /// A dictionary.
    Dict(Dict),
    /// An indirect reference.
    Ref(ObjRef),
    /// Bytes written verbatim (placeholders of the signature dictionary); never parsed.
    Raw(Vec<u8>),
}

impl Object {
    /// A name object from text.
    pub fn name(name: &str) -> Self {
        Self::Name(name.as_bytes().to_vec())
    }

    /// The dictionary, if this is one.
    pub fn as_dict(&self) -> Option<&Dict> {
        match self {
            Self::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Self::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The number (integer or real), if this is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Int(i) => Some(*i as f64),
            Self::Real(r) => Some(*r),
            _ => None,
        }
    }

    /// The name's bytes, if this is a name.
    pub fn as_name(&self) -> Option<&[u8]> {
        match self {
            Self::Name(n) => Some(n),
            _ => None,
        }
    }

    /// The string's bytes, literal or hex.
    pub fn as_string(&self) -> Option<&[u8]> {
        match self {
            Self::String(s) | Self::HexString(s) => Some(s),
            _ => None,
        }
    }

    /// The reference, if this is one.
    pub fn as_ref(&self) -> Option<ObjRef> {
        match self {
            Self::Ref(r) => Some(*r),
            _ => None,
        }
    }

    /// The array, if this is one.
    pub fn as_array(&self) -> Option<&Vec<Object>> {
        match self {
            Self::Array(a) => Some(a),
            _ => None,
        }
    }

    /// Appends the PDF syntax of this object to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            Self::Null => out.extend_from_slice(b"null"),
            Self::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Self::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
            Self::Real(r) => out.extend_from_slice(format_real(*r).as_bytes()),
            Self::Name(n) => write_name(n, out),
            Self::String(s) => write_literal_string(s, out),
            Self::HexString(s) => {
                out.push(b'<');
                out.extend_from_slice(hex::encode_upper(s).as_bytes());
                out.push(b'>');
            }
            Self::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    item.write_to(out);
                }
                out.push(b']');
            }
            Self::Dict(d) => d.write_to(out),
            Self::Ref(r) => out.extend_from_slice(format!("{} {} R", r.num, r.gen).as_bytes()),
            Self::Raw(bytes) => out.extend_from_slice(bytes),
        }
    }
}

/// A number as PDF writes reals: no exponent, at most four decimals, no trailing zeros.
pub fn format_real(value: f64) -> String {
    let mut text = format!("{value:.4}");
    while text.contains('.') && (text.ends_with('0') || text.ends_with('.')) {
        text.pop();
    }
    if text == "-0" {
        text = "0".into();
    }
    text
}

fn write_name(name: &[u8], out: &mut Vec<u8>) {
    out.push(b'/');
    for &b in name {
        if b.is_ascii_graphic() && !is_delimiter(b) && b != b'#' {
            out.push(b);
        } else {
            let _ = write!(HexSink(out), "#{b:02X}");
        }
    }
}

/// Lets `write!` append to a byte vector.
struct HexSink<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for HexSink<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

fn write_literal_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'(');
    for &b in s {
        match b {
            b'(' | b')' | b'\\' => {
                out.push(b'\\');
                out.push(b);
            }
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
    out.push(b')');
}

/// A dictionary that keeps its keys in their original order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dict(Vec<(Vec<u8>, Object)>);

impl Dict {
    /// An empty dictionary.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&Object> {
        self.0
            .iter()
            .find(|(k, _)| k == key.as_bytes())
            .map(|(_, v)| v)
    }

    /// Sets `key`, replacing an existing value in place.
    pub fn set(&mut self, key: &str, value: Object) {
        match self.0.iter_mut().find(|(k, _)| k == key.as_bytes()) {
            Some(entry) => entry.1 = value,
            None => self.0.push((key.as_bytes().to_vec(), value)),
        }
    }

    /// Builder form of [`Dict::set`].
    pub fn with(mut self, key: &str, value: Object) -> Self {
        self.set(key, value);
        self
    }

    /// Sets every entry of `other`, replacing values of keys present in both.
    pub fn merge(&mut self, other: Dict) {
        for (key, value) in other.0 {
            match self.0.iter_mut().find(|(k, _)| *k == key) {
                Some(entry) => entry.1 = value,
                None => self.0.push((key, value)),
            }
        }
    }

    /// Whether `/Type` is `name`.
    pub fn has_type(&self, name: &str) -> bool {
        self.get("Type").and_then(Object::as_name) == Some(name.as_bytes())
    }

    /// Appends the PDF syntax to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"<<");
        for (key, value) in &self.0 {
            write_name(key, out);
            out.push(b' ');
            value.write_to(out);
        }
        out.extend_from_slice(b">>");
    }
}

/// PDF white-space characters (§7.2.3).
pub fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t' | b'\x0c' | b'\0')
}

/// PDF delimiters (§7.2.3).
pub fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

/// Nesting deeper than this is refused: a crafted file must not overflow the stack.
const MAX_DEPTH: usize = 64;

/// A cursor over PDF bytes.
#[derive(Debug)]
pub struct Lexer<'a> {
    data: &'a [u8],
    /// Current position in `data`.
    pub pos: usize,
}

type Parsed<T> = Result<T, SyntaxError>;

impl<'a> Lexer<'a> {
    /// A lexer at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    fn invalid<T>(&self, what: &'static str) -> Parsed<T> {
        Err(SyntaxError::Invalid { what, at: self.pos })
    }

    fn peek(&self) -> Parsed<u8> {
        self.data.get(self.pos).copied().ok_or(SyntaxError::Eof)
    }

    /// Skips white space and comments.
    pub fn skip_ws(&mut self) {
        while let Some(&b) = self.data.get(self.pos) {
            if is_whitespace(b) {
                self.pos += 1;
            } else if b == b'%' {
                while let Some(&c) = self.data.get(self.pos) {
                    if c == b'\n' || c == b'\r' {
                        break;
                    }
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    /// A bare keyword or number token (regular characters up to a delimiter or space).
    pub fn token(&mut self) -> Parsed<&'a [u8]> {
        self.skip_ws();
        let start = self.pos;
        while let Some(&b) = self.data.get(self.pos) {
            if is_whitespace(b) || is_delimiter(b) {
                break;
            }
            self.pos += 1;
        }
        if self.pos == self.data.len() {
            // The token may continue past the window.
            return Err(SyntaxError::Eof);
        }
        if start == self.pos {
            return self.invalid("expected a token");
        }
        Ok(&self.data[start..self.pos])
    }

    /// Expects the keyword `word`.
    pub fn keyword(&mut self, word: &[u8]) -> Parsed<()> {
        if self.token()? == word {
            Ok(())
        } else {
            self.invalid("unexpected keyword")
        }
    }

    /// An unsigned integer token.
    pub fn unsigned(&mut self) -> Parsed<u64> {
        let token = self.token()?;
        std::str::from_utf8(token)
            .ok()
            .and_then(|t| t.parse().ok())
            .map_or_else(|| self.invalid("expected an integer"), Ok)
    }

    /// The next object.
    pub fn object(&mut self) -> Parsed<Object> {
        self.object_at_depth(0)
    }

    fn object_at_depth(&mut self, depth: usize) -> Parsed<Object> {
        if depth > MAX_DEPTH {
            return self.invalid("objects nested too deeply");
        }
        self.skip_ws();
        match self.peek()? {
            b'/' => {
                self.pos += 1;
                self.name_body().map(Object::Name)
            }
            b'(' => self.literal_string().map(Object::String),
            b'<' => {
                if self.data.get(self.pos + 1) == Some(&b'<') {
                    self.pos += 2;
                    self.dict_body(depth).map(Object::Dict)
                } else {
                    self.hex_string().map(Object::HexString)
                }
            }
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_ws();
                    if self.peek()? == b']' {
                        self.pos += 1;
                        return Ok(Object::Array(items));
                    }
                    items.push(self.object_at_depth(depth + 1)?);
                }
            }
            b'0'..=b'9' | b'+' | b'-' | b'.' => self.number_or_ref(),
            _ => match self.token()? {
                b"true" => Ok(Object::Bool(true)),
                b"false" => Ok(Object::Bool(false)),
                b"null" => Ok(Object::Null),
                _ => self.invalid("unknown token"),
            },
        }
    }

    /// The rest of a dictionary after `<<`.
    fn dict_body(&mut self, depth: usize) -> Parsed<Dict> {
        let mut dict = Dict::new();
        loop {
            self.skip_ws();
            match self.peek()? {
                b'>' => {
                    if self
                        .data
                        .get(self.pos + 1)
                        .copied()
                        .ok_or(SyntaxError::Eof)?
                        != b'>'
                    {
                        return self.invalid("expected >>");
                    }
                    self.pos += 2;
                    return Ok(dict);
                }
                b'/' => {
                    self.pos += 1;
                    let key = self.name_body()?;
                    let value = self.object_at_depth(depth + 1)?;
                    // A later duplicate key is ignored, as most readers do.
                    if !dict.0.iter().any(|(k, _)| *k == key) {
                        dict.0.push((key, value));
                    }
                }
                _ => return self.invalid("expected a name key"),
            }
        }
    }

    fn name_body(&mut self) -> Parsed<Vec<u8>> {
        let mut name = Vec::new();
        loop {
            let b = self.peek()?;
            if is_whitespace(b) || is_delimiter(b) {
                return Ok(name);
            }
            self.pos += 1;
            if b == b'#' {
                let hex = self
                    .data
                    .get(self.pos..self.pos + 2)
                    .ok_or(SyntaxError::Eof)?;
                match std::str::from_utf8(hex)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(v) => {
                        name.push(v);
                        self.pos += 2;
                    }
                    None => name.push(b'#'),
                }
            } else {
                name.push(b);
            }
        }
    }

    fn literal_string(&mut self) -> Parsed<Vec<u8>> {
        self.pos += 1;
        let mut out = Vec::new();
        let mut depth = 1usize;
        loop {
            let b = self.peek()?;
            self.pos += 1;
            match b {
                b'(' => {
                    depth += 1;
                    out.push(b);
                }
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(out);
                    }
                    out.push(b);
                }
                b'\\' => {
                    let e = self.peek()?;
                    self.pos += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'\r' => {
                            if self.data.get(self.pos) == Some(&b'\n') {
                                self.pos += 1;
                            }
                        }
                        b'\n' => {}
                        b'0'..=b'7' => {
                            let mut value = u32::from(e - b'0');
                            for _ in 0..2 {
                                match self.data.get(self.pos) {
                                    Some(&d @ b'0'..=b'7') => {
                                        value = value * 8 + u32::from(d - b'0');
                                        self.pos += 1;
                                    }
                                    _ => break,
                                }
                            }
                            out.push((value & 0xff) as u8);
                        }
                        other => out.push(other),
                    }
                }
                _ => out.push(b),
            }
        }
    }

    fn hex_string(&mut self) -> Parsed<Vec<u8>> {
        self.pos += 1;
        let mut digits = Vec::new();
        loop {
            let b = self.peek()?;
            self.pos += 1;
            match b {
                b'>' => break,
                b if b.is_ascii_hexdigit() => digits.push(b),
                b if is_whitespace(b) => {}
                _ => return self.invalid("bad hex string"),
            }
        }
        if digits.len() % 2 == 1 {
            digits.push(b'0');
        }
        hex::decode(&digits).map_or_else(|_| self.invalid("bad hex string"), Ok)
    }

    fn number_or_ref(&mut self) -> Parsed<Object> {
        let token = self.token()?;
        let text = std::str::from_utf8(token).unwrap_or("");
        if let Ok(int) = text.parse::<i64>() {
            // `n g R` is a reference; anything else leaves the cursor after the first integer.
            let after = self.pos;
            if int >= 0 {
                if let Some(r) = self.try_ref_tail(int)? {
                    return Ok(Object::Ref(r));
                }
            }
            self.pos = after;
            return Ok(Object::Int(int));
        }
        match text.parse::<f64>() {
            Ok(real) if real.is_finite() => Ok(Object::Real(real)),
            // Producers write things like `--5` or `0.0.1`; readers treat them as zero.
            _ => Ok(Object::Real(0.0)),
        }
    }

    fn try_ref_tail(&mut self, num: i64) -> Parsed<Option<ObjRef>> {
        self.skip_ws();
        let start = self.pos;
        while let Some(b) = self.data.get(self.pos) {
            if !b.is_ascii_digit() {
                break;
            }
            self.pos += 1;
        }
        if self.pos == self.data.len() {
            return Err(SyntaxError::Eof);
        }
        if start == self.pos {
            return Ok(None);
        }
        let gen = std::str::from_utf8(&self.data[start..self.pos])
            .ok()
            .and_then(|g| g.parse::<u16>().ok());
        self.skip_ws();
        let r = self.data.get(self.pos).copied().ok_or(SyntaxError::Eof)?;
        let next = self.data.get(self.pos + 1).copied();
        let ends = next.is_none_or(|b| is_whitespace(b) || is_delimiter(b));
        match (gen, u32::try_from(num)) {
            (Some(gen), Ok(num)) if r == b'R' && ends => {
                self.pos += 1;
                Ok(Some(ObjRef { num, gen }))
            }
            _ => Ok(None),
        }
    }
}

/// An indirect object parsed from the start of a slice: `num gen obj … endobj`.
#[derive(Debug)]
pub struct IndirectObject {
    /// Its reference.
    pub id: ObjRef,
    /// The object (the dictionary, for a stream).
    pub object: Object,
    /// For a stream, where its data starts in the slice.
    pub stream_start: Option<usize>,
}

/// Parses `num gen obj <object> [stream]` at the start of `data`.
pub fn parse_indirect(data: &[u8]) -> Result<IndirectObject, SyntaxError> {
    let mut lexer = Lexer::new(data);
    let num = u32::try_from(lexer.unsigned()?).map_err(|_| SyntaxError::Invalid {
        what: "object number out of range",
        at: 0,
    })?;
    let gen = u16::try_from(lexer.unsigned()?).map_err(|_| SyntaxError::Invalid {
        what: "generation out of range",
        at: 0,
    })?;
    lexer.keyword(b"obj")?;
    let object = lexer.object()?;
    lexer.skip_ws();
    let mut stream_start = None;
    if data[lexer.pos..].starts_with(b"stream") {
        let mut pos = lexer.pos + b"stream".len();
        // The keyword is followed by CRLF or LF (a lone CR is tolerated).
        match data.get(pos) {
            Some(b'\r') => {
                pos += 1;
                if data.get(pos) == Some(&b'\n') {
                    pos += 1;
                }
            }
            Some(b'\n') => pos += 1,
            Some(_) => {}
            None => return Err(SyntaxError::Eof),
        }
        stream_start = Some(pos);
    } else if data.len() - lexer.pos < 6 {
        // `endobj` or `stream` may be just past the window.
        return Err(SyntaxError::Eof);
    }
    Ok(IndirectObject {
        id: ObjRef { num, gen },
        object,
        stream_start,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Object {
        let padded = format!("{text} ");
        Lexer::new(padded.as_bytes())
            .object()
            .unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn references_and_numbers_are_told_apart() {
        assert_eq!(
            parse("[1 0 R 2 3 4.5 -1]"),
            Object::Array(vec![
                Object::Ref(ObjRef::new(1)),
                Object::Int(2),
                Object::Int(3),
                Object::Real(4.5),
                Object::Int(-1)
            ])
        );
    }

    #[test]
    fn strings_names_and_nested_dictionaries_round_trip() {
        let source = "<</Type/Sig/T(a\\(b\\) \\101)/H<48 69>/N/A#20B/D<</X true/Y null>>>>";
        let object = parse(source);
        let dict = object.as_dict().unwrap_or_else(|| panic!("not a dict"));
        assert_eq!(
            dict.get("T").and_then(Object::as_string),
            Some(&b"a(b) A"[..])
        );
        assert_eq!(dict.get("H").and_then(Object::as_string), Some(&b"Hi"[..]));
        assert_eq!(dict.get("N").and_then(Object::as_name), Some(&b"A B"[..]));
        let mut out = Vec::new();
        object.write_to(&mut out);
        assert_eq!(parse(std::str::from_utf8(&out).unwrap_or("")), object);
    }

    #[test]
    fn truncated_input_asks_for_more_data() {
        assert_eq!(Lexer::new(b"<</Type /Pa").object(), Err(SyntaxError::Eof));
        assert!(parse_indirect(b"4 0 obj\n<</Length 3>>\nstream\nabc").is_ok());
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing() {
        let text = "[".repeat(10_000);
        assert!(matches!(
            Lexer::new(text.as_bytes()).object(),
            Err(SyntaxError::Invalid { .. })
        ));
    }

    #[test]
    fn reals_are_written_without_exponent_or_trailing_zeros() {
        assert_eq!(format_real(12.5), "12.5");
        assert_eq!(format_real(3.0), "3");
        assert_eq!(format_real(1e-7), "0");
    }
}
