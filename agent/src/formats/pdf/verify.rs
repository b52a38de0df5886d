//! Checking the signatures a PDF already holds: for each signed field, whether the bytes its
//! `/ByteRange` covers still match the CMS signature, who signed, whether the signer chains to
//! a trusted root, and whether the signature covers the whole file or later revisions were
//! appended. Same constant-memory reading as signing: only the catalog, the form and the
//! signature dictionaries are parsed, and the byte ranges are hashed by streaming the input.

use std::io::{Read, Seek, SeekFrom};

use kyso_certs::CertificateSummary;
use serde::Serialize;

use super::{
    document::{self, decode_text_string},
    object::{Dict, Object},
    reader::PdfReader,
    PdfError, CHUNK,
};
use crate::formats::cms_verify::{Detached, VerifyError};

/// What was found about one signature field.
#[derive(Debug, Clone, Serialize)]
pub struct PdfSignatureReport {
    /// The field's fully qualified name.
    pub field: String,
    /// The signer's certificate, when the CMS container could be read.
    pub signer: Option<CertificateSummary>,
    /// The signer's certificate (DER), for callers that check it further.
    #[serde(skip)]
    pub signer_der: Option<Vec<u8>>,
    /// `/SubFilter` (`ETSI.CAdES.detached`, `adbe.pkcs7.detached`, ...).
    pub subfilter: String,
    /// The covered bytes match the signed digest and the signature value is correct.
    pub intact: bool,
    /// The signer chains to one of the trusted roots at the time of checking.
    pub trusted: bool,
    /// The signature covers the file up to its end: nothing was appended after it. An earlier
    /// signature of a document signed several times does not, and that is normal.
    pub covers_whole_document: bool,
    /// Where the signed revision ends (bytes from the start of the file).
    pub signed_through: u64,
    /// `/M`, the signing time the signer's software wrote (not a trusted time).
    pub signing_time: Option<String>,
    /// `/Reason`.
    pub reason: Option<String>,
    /// `/Location`.
    pub location: Option<String>,
    /// What is wrong, in words, for a person or a log.
    pub problems: Vec<String>,
}

/// Checks every signed signature field of the PDF read from `input`, in form order.
///
/// A file that cannot be read as PDF is an error; a broken signature is not: it is reported
/// with `intact: false` and its problems. `trusted_roots` are DER certificates.
pub fn verify_pdf<R: Read + Seek>(
    input: R,
    trusted_roots: &[Vec<u8>],
    now: std::time::SystemTime,
) -> Result<Vec<PdfSignatureReport>, PdfError> {
    let mut reader = PdfReader::open(input)?;
    let (_, catalog) = reader.catalog()?;
    let form = match catalog.get("AcroForm") {
        Some(object) => reader.resolve(object)?,
        None => return Ok(Vec::new()),
    };
    let roots = match form.as_dict().and_then(|f| f.get("Fields")) {
        Some(fields) => reader
            .resolve(fields)?
            .as_array()
            .cloned()
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let file_len = reader.file_len();
    let mut reports = Vec::new();
    for field in document::fields(&mut reader, &roots)? {
        if !document::is_signature_field(&field) {
            continue;
        }
        let Some(value) = field.dict.get("V") else {
            continue;
        };
        let Object::Dict(signature) = reader.resolve(value)? else {
            continue;
        };
        reports.push(check(
            &mut reader,
            field.name,
            &signature,
            file_len,
            trusted_roots,
            now,
        ));
    }
    // Bytes after the last signature are changes nobody signed (a later signature's own
    // revision is what makes earlier ones stop short, and that is fine).
    if let Some(last) = reports.iter_mut().max_by_key(|r| r.signed_through) {
        if !last.covers_whole_document && last.signed_through > 0 {
            last.problems.push(format!(
                "{} bytes were added after the last signature without being signed",
                file_len - last.signed_through
            ));
        }
    }
    Ok(reports)
}

/// Whether the document as a whole checks out: signatures exist, each is intact and trusted,
/// and nothing unsigned follows the last one.
pub fn all_good(reports: &[PdfSignatureReport]) -> bool {
    !reports.is_empty()
        && reports.iter().all(|r| r.intact && r.trusted)
        && reports.iter().any(|r| r.covers_whole_document)
}

fn text(dict: &Dict, key: &str) -> Option<String> {
    dict.get(key)
        .and_then(Object::as_string)
        .map(decode_text_string)
}

fn check<R: Read + Seek>(
    reader: &mut PdfReader<R>,
    field: String,
    signature: &Dict,
    file_len: u64,
    roots: &[Vec<u8>],
    now: std::time::SystemTime,
) -> PdfSignatureReport {
    let mut report = PdfSignatureReport {
        field,
        signer: None,
        signer_der: None,
        subfilter: signature
            .get("SubFilter")
            .and_then(Object::as_name)
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default(),
        intact: false,
        trusted: false,
        covers_whole_document: false,
        signed_through: 0,
        signing_time: text(signature, "M"),
        reason: text(signature, "Reason"),
        location: text(signature, "Location"),
        problems: Vec::new(),
    };
    let ranges = match byte_range(signature, file_len) {
        Ok(ranges) => ranges,
        Err(problem) => {
            report.problems.push(problem);
            return report;
        }
    };
    report.signed_through = ranges.last().map_or(0, |(at, len)| at + len);
    report.covers_whole_document = report.signed_through == file_len;
    let Some(contents) = signature.get("Contents").and_then(Object::as_string) else {
        report.problems.push("no /Contents".into());
        return report;
    };
    // The placeholder is zero-padded after the DER container; DER says how long it is.
    let cms = der_prefix(contents);
    let detached = match Detached::parse(cms) {
        Ok(detached) => detached,
        Err(e) => {
            report.problems.push(format!(
                "the signature container cannot be read ({}): {e}",
                report.subfilter
            ));
            return report;
        }
    };
    if let Ok(der) = detached.signer_der() {
        report.signer = kyso_certs::summarize(&der, time::OffsetDateTime::now_utc()).ok();
        report.signer_der = Some(der);
    }
    let digest = match hash_ranges(reader.input(), &ranges, detached.hash()) {
        Ok(digest) => digest,
        Err(e) => {
            report
                .problems
                .push(format!("reading the signed bytes failed: {e}"));
            return report;
        }
    };
    match detached.verify_digest(&digest, roots, now) {
        Ok(()) => {
            report.intact = true;
            report.trusted = true;
        }
        Err(VerifyError::Untrusted(why)) => {
            report.intact = true;
            report.problems.push(format!("signer not trusted: {why}"));
        }
        Err(VerifyError::DigestMismatch) => report
            .problems
            .push("the document was changed after it was signed".into()),
        Err(e) => report.problems.push(e.to_string()),
    }
    report
}

/// `/ByteRange [a la b lb ...]` as (offset, length) pairs, checked against the file: in
/// order, not overlapping, inside the file, starting at 0.
fn byte_range(signature: &Dict, file_len: u64) -> Result<Vec<(u64, u64)>, String> {
    let numbers: Vec<u64> = signature
        .get("ByteRange")
        .and_then(Object::as_array)
        .ok_or("no /ByteRange")?
        .iter()
        .map(|n| n.as_int().and_then(|n| u64::try_from(n).ok()))
        .collect::<Option<_>>()
        .ok_or("/ByteRange holds something that is not a byte count")?;
    if numbers.len() < 2 || !numbers.len().is_multiple_of(2) || numbers[0] != 0 {
        return Err(format!("unusual /ByteRange {numbers:?}"));
    }
    let ranges: Vec<(u64, u64)> = numbers.chunks(2).map(|p| (p[0], p[1])).collect();
    let mut end = 0;
    for (at, len) in &ranges {
        let stop = at.checked_add(*len).filter(|s| *s <= file_len);
        match stop {
            Some(stop) if *at >= end => end = stop,
            _ => return Err(format!("/ByteRange {numbers:?} does not fit the file")),
        }
    }
    Ok(ranges)
}

/// The DER element at the start of `bytes` (the rest is placeholder padding).
fn der_prefix(bytes: &[u8]) -> &[u8] {
    let len = match bytes {
        [_, n, ..] if *n < 0x80 => Some(2 + usize::from(*n)),
        [_, n, rest @ ..] if (0x81..=0x84).contains(n) => {
            let count = usize::from(n - 0x80);
            rest.get(..count).map(|len| {
                2 + count
                    + len
                        .iter()
                        .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
            })
        }
        _ => None,
    };
    len.and_then(|len| bytes.get(..len)).unwrap_or(bytes)
}

fn hash_ranges<R: Read + Seek>(
    input: &mut R,
    ranges: &[(u64, u64)],
    hash: crate::signer::HashAlgorithm,
) -> std::io::Result<Vec<u8>> {
    let mut hasher = hash.hasher();
    let mut buf = vec![0u8; CHUNK];
    for (at, len) in ranges {
        input.seek(SeekFrom::Start(*at))?;
        let mut left = *len;
        while left > 0 {
            let want = usize::try_from(left).map_or(CHUNK, |l| l.min(CHUNK));
            input.read_exact(&mut buf[..want])?;
            hasher.update(&buf[..want]);
            left -= want as u64;
        }
    }
    Ok(hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_der_container_is_cut_from_its_zero_padding() {
        assert_eq!(der_prefix(&[0x30, 0x02, 1, 2, 0, 0]), [0x30, 0x02, 1, 2]);
        assert_eq!(
            der_prefix(&[0x30, 0x81, 0x01, 9, 0, 0, 0]),
            [0x30, 0x81, 0x01, 9]
        );
        // Nonsense is handed on whole, for the CMS parser to refuse.
        assert_eq!(der_prefix(&[0x30, 0x85]), [0x30, 0x85]);
    }

    #[test]
    fn a_byte_range_must_start_at_zero_and_fit_the_file_in_order() {
        let dict = |numbers: &[i64]| {
            let mut d = Dict::new();
            d.set(
                "ByteRange",
                Object::Array(numbers.iter().map(|n| Object::Int(*n)).collect()),
            );
            d
        };
        assert_eq!(
            byte_range(&dict(&[0, 10, 20, 5]), 25),
            Ok(vec![(0, 10), (20, 5)])
        );
        assert!(byte_range(&dict(&[0, 10, 20, 6]), 25).is_err());
        assert!(byte_range(&dict(&[0, 10, 5, 5]), 25).is_err());
        assert!(byte_range(&dict(&[1, 10, 20, 5]), 25).is_err());
        assert!(byte_range(&dict(&[0, 10, 20]), 25).is_err());
        assert!(byte_range(&dict(&[0, -1, 20, 5]), 25).is_err());
    }
}
