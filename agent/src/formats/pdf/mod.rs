//! PAdES signatures (ETSI EN 319 142-1 baseline B-B) added to PDFs by incremental update, in
//! constant memory.
//!
//! [`sign_pdf`] reads the trailer and cross-reference sections, parses only the catalog, the
//! form and the target pages, builds the update (signature dictionary with a placeholder sized
//! by a dry run, field, widget, appearance), hashes the ByteRange by streaming the input, asks
//! the signer, then streams the input unchanged followed by the update. Nothing is written to
//! the output before the signature exists, so a refused PIN leaves no half-signed file.

mod appearance;
mod document;
mod error;
mod object;
mod options;
mod pades;
mod plan;
mod reader;
mod verify;
mod writer;

use std::{
    io::{Read, Seek, SeekFrom, Write},
    time::SystemTime,
};

pub use appearance::Layout;
pub use document::PageSelector;
pub use error::{PdfError, SyntaxError};
pub use options::{Certify, PdfSignOptions, VisibleOptions, DEFAULT_TEMPLATE};
pub use pades::{SubFilter, TIMESTAMP_RESERVE};
pub use verify::{all_good, verify_pdf, PdfSignatureReport};

use self::{
    object::{ObjRef, Object},
    plan::{signature_dict, trailer, Plan, BYTE_RANGE_DIGITS},
    reader::PdfReader,
    writer::Increment,
};
use crate::signer::{HashAlgorithm, SignatureScheme, Signer};

/// Streaming buffer: memory stays flat whatever the file size.
const CHUNK: usize = 256 * 1024;

/// What [`sign_pdf`] reports while it works, for progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Hashing the document: bytes done of total.
    Hashing(u64, u64),
    /// Writing the signed document: bytes done of total.
    Writing(u64, u64),
}

/// The result of a PDF signature.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PdfSignOutcome {
    /// Size of the signed PDF.
    pub bytes_written: u64,
    /// The signature field's fully qualified name.
    pub field: String,
    /// `/SubFilter` written.
    pub subfilter: &'static str,
    /// `/ByteRange`.
    pub byte_range: [u64; 4],
    /// Bytes reserved in `/Contents`.
    pub reserved: usize,
    /// Bytes of the CMS container.
    pub signature_len: usize,
    /// The signing time as written in `/M`.
    pub signing_time: String,
}

/// Signs the PDF read from `input`, writing the signed PDF to `output`.
///
/// `input` is read twice (hash, then copy) and never modified; `output` receives the original
/// bytes followed by the incremental update, and nothing at all if signing fails.
pub fn sign_pdf<R: Read + Seek, W: Write>(
    input: R,
    output: W,
    signer: &dyn Signer,
    options: &PdfSignOptions,
) -> Result<PdfSignOutcome, PdfError> {
    sign_pdf_with_progress(input, output, signer, options, &mut |_| {})
}

/// Checks, without a key, that [`sign_pdf`] can sign `input` with these options: the PDF is
/// readable, not encrypted, its certification allows another signature, the named field or
/// page exists. Callers run it before asking for the PIN, so a bad file never costs a login.
pub fn preflight<R: Read + Seek>(input: R, options: &PdfSignOptions) -> Result<(), PdfError> {
    let mut reader = PdfReader::open(input)?;
    Plan::locate(&mut reader, options).map(drop)
}

/// [`sign_pdf`], reporting [`Progress`] every 256 KB.
pub fn sign_pdf_with_progress<R: Read + Seek, W: Write>(
    input: R,
    mut output: W,
    signer: &dyn Signer,
    options: &PdfSignOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<PdfSignOutcome, PdfError> {
    let hash = match options.hash.as_deref() {
        None => HashAlgorithm::Sha256,
        Some(name) => HashAlgorithm::parse(name)
            .filter(|h| *h != HashAlgorithm::Sha1)
            .ok_or_else(|| PdfError::Options(format!("unsupported hash {name}")))?,
    };
    let scheme = options.pss.then_some(SignatureScheme::RsaPss);
    let subfilter = if options.legacy_subfilter {
        SubFilter::Pkcs7Detached
    } else {
        SubFilter::CadesDetached
    };
    let now = options.signing_time.unwrap_or_else(SystemTime::now);
    let local = options::local_time(
        now,
        options
            .utc_offset_minutes
            .unwrap_or(options::VIETNAM_OFFSET_MINUTES),
    )?;
    let request = pades::request(subfilter, hash, scheme, now);
    let reserved = pades::placeholder_len(signer, &request)?;

    let mut reader = PdfReader::open(input)?;
    let base = reader.file_len();
    let last_byte = {
        let input = reader.input();
        input.seek(SeekFrom::Start(base - 1))?;
        let mut b = [0u8];
        input.read_exact(&mut b)?;
        b[0]
    };
    let plan = Plan::locate(&mut reader, options)?.with_appearance(signer, options, local)?;

    let mut update = Increment::new(base, Some(last_byte));
    let mut next = reader.size();
    let mut next_id = || {
        let id = ObjRef::new(next);
        next += 1;
        id
    };
    let sig_id = next_id();
    let sig_start = update.object(
        sig_id,
        &Object::Dict(signature_dict(
            subfilter,
            reserved,
            &options::pdf_date(local),
            options,
            plan.certify(),
        )),
    );
    let field_name = plan.field_name().to_owned();
    plan.write(&mut update, sig_id, &mut next_id)?;
    let xref_stream = reader.xref_is_stream().then(&mut next_id);
    let size = next;
    let mut update = update.finish(
        trailer(reader.trailer(), reader.startxref()),
        xref_stream,
        size,
    );

    // Locate and fill the ByteRange; /Contents stays zeros until the signature exists.
    let find = |needle: &[u8]| {
        update[sig_start..]
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| sig_start + p + needle.len())
    };
    let (Some(range_at), Some(contents_at)) = (find(b"/ByteRange "), find(b"/Contents ")) else {
        return Err(PdfError::invalid("signature placeholder lost", None));
    };
    let total = base + update.len() as u64;
    let contents_start = base + contents_at as u64;
    let contents_end = contents_start + 2 * reserved as u64 + 2;
    let byte_range = [0, contents_start, contents_end, total - contents_end];
    let range_text = format!(
        "[0 {:<w$} {:<w$} {:<w$}]",
        byte_range[1],
        byte_range[2],
        byte_range[3],
        w = BYTE_RANGE_DIGITS
    );
    update[range_at..range_at + range_text.len()].copy_from_slice(range_text.as_bytes());

    let mut hasher = hash.hasher();
    let input = reader.input();
    copy_range(input, base, &mut |chunk, done| {
        hasher.update(chunk);
        progress(Progress::Hashing(done, total));
        Ok(())
    })?;
    hasher.update(&update[..contents_at]);
    hasher.update(&update[contents_at + 2 * reserved + 2..]);
    progress(Progress::Hashing(total, total));
    let cms = pades::sign_digest(signer, &request, &hasher.finish())?;
    if cms.len() > reserved {
        return Err(PdfError::PlaceholderTooSmall {
            reserved,
            actual: cms.len(),
        });
    }
    let hex = hex::encode_upper(&cms);
    update[contents_at + 1..contents_at + 1 + hex.len()].copy_from_slice(hex.as_bytes());

    copy_range(input, base, &mut |chunk, done| {
        output.write_all(chunk)?;
        progress(Progress::Writing(done, total));
        Ok(())
    })?;
    output.write_all(&update)?;
    output.flush()?;
    progress(Progress::Writing(total, total));
    Ok(PdfSignOutcome {
        bytes_written: total,
        field: field_name,
        subfilter: subfilter.name(),
        byte_range,
        reserved,
        signature_len: cms.len(),
        signing_time: options::pdf_date(local),
    })
}

/// Streams the first `len` bytes of `input` through `f` in fixed chunks.
fn copy_range<R: Read + Seek>(
    input: &mut R,
    len: u64,
    f: &mut dyn FnMut(&[u8], u64) -> std::io::Result<()>,
) -> Result<(), PdfError> {
    input.seek(SeekFrom::Start(0))?;
    let mut buf = vec![0u8; CHUNK];
    let mut done = 0u64;
    while done < len {
        let want = usize::try_from(len - done).map_or(CHUNK, |l| l.min(CHUNK));
        input.read_exact(&mut buf[..want])?;
        done += want as u64;
        f(&buf[..want], done)?;
    }
    Ok(())
}
