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
mod reader;
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

use self::{
    appearance::{AppearanceSpec, Image},
    document::{text_string, Field},
    object::{Dict, ObjRef, Object},
    options::TemplateValues,
    reader::PdfReader,
    writer::Increment,
};
use crate::signer::{HashAlgorithm, SignatureScheme, Signer};

/// Streaming buffer: memory stays flat whatever the file size.
const CHUNK: usize = 256 * 1024;
/// Widget flags: Print (3) and Locked (8).
const WIDGET_FLAGS: i64 = 4 | 128;
/// Width of each ByteRange number in the placeholder (files up to 9.3 GB).
const BYTE_RANGE_DIGITS: usize = 10;

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
    let base = reader.len();
    let last_byte = {
        let input = reader.input();
        input.seek(SeekFrom::Start(base - 1))?;
        let mut b = [0u8];
        input.read_exact(&mut b)?;
        b[0]
    };
    let plan = Plan::build(&mut reader, signer, options, local)?;

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
            plan.certify,
        )),
    );
    let field_name = plan.field_name.clone();
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

fn signature_dict(
    subfilter: SubFilter,
    reserved: usize,
    date: &str,
    options: &PdfSignOptions,
    certify: Option<Certify>,
) -> Dict {
    let mut contents = Vec::with_capacity(2 * reserved + 2);
    contents.push(b'<');
    contents.resize(2 * reserved + 1, b'0');
    contents.push(b'>');
    let range = format!(
        "[0 {:<w$} {:<w$} {:<w$}]",
        0,
        0,
        0,
        w = BYTE_RANGE_DIGITS
    );
    // /ByteRange and /Contents come before any caller text, so the first match is theirs.
    let mut dict = Dict::new()
        .with("Type", Object::name("Sig"))
        .with("Filter", Object::name("Adobe.PPKLite"))
        .with("SubFilter", Object::name(subfilter.name()))
        .with("ByteRange", Object::Raw(range.into_bytes()))
        .with("Contents", Object::Raw(contents))
        .with("M", Object::String(date.as_bytes().to_vec()));
    for (key, value) in [
        ("Reason", &options.reason),
        ("Location", &options.location),
        ("ContactInfo", &options.contact_info),
    ] {
        if let Some(value) = value {
            dict.set(key, text_string(value));
        }
    }
    if let Some(certify) = certify {
        dict.set(
            "Reference",
            Object::Array(vec![Object::Dict(
                Dict::new()
                    .with("Type", Object::name("SigRef"))
                    .with("TransformMethod", Object::name("DocMDP"))
                    .with(
                        "TransformParams",
                        Object::Dict(
                            Dict::new()
                                .with("Type", Object::name("TransformParams"))
                                .with("P", Object::Int(certify.permission()))
                                .with("V", Object::name("1.2")),
                        ),
                    ),
            )]),
        );
    }
    dict
}

/// The update's trailer: the newest trailer's document entries, `/Prev` to it.
fn trailer(previous: &Dict, startxref: u64) -> Dict {
    let mut dict = Dict::new();
    for key in ["Root", "Info", "ID"] {
        if let Some(value) = previous.get(key) {
            dict.set(key, value.clone());
        }
    }
    dict.set("Prev", Object::Int(startxref as i64));
    dict
}

/// Where the signature goes and what it changes, decided before anything is written.
struct Plan {
    catalog: (ObjRef, Dict),
    catalog_changed: bool,
    acroform: (Option<ObjRef>, Dict),
    /// `/Fields`: its own object when the form refers to it indirectly.
    fields: (Option<ObjRef>, Vec<Object>),
    target: Target,
    field_name: String,
    certify: Option<Certify>,
    appearance: Option<AppearanceInput>,
}

struct AppearanceInput {
    size: (f64, f64),
    lines: Vec<String>,
    image: Option<Image>,
    options: VisibleOptions,
}

enum Target {
    /// Fill an existing empty field.
    Existing(Field),
    /// A new field with one widget per page (`/Annots` of each page, and the rectangle).
    New {
        pages: Vec<(ObjRef, Dict, Option<(ObjRef, Vec<Object>)>)>,
        rect: [f64; 4],
    },
}

impl Plan {
    fn build<R: Read + Seek>(
        reader: &mut PdfReader<R>,
        signer: &dyn Signer,
        options: &PdfSignOptions,
        local: time::OffsetDateTime,
    ) -> Result<Self, PdfError> {
        if reader.trailer().get("Encrypt").is_some() {
            return Err(PdfError::Encrypted);
        }
        let (root, catalog) = reader.catalog()?;
        match document::docmdp_permission(reader, &catalog)? {
            Some(1) => {
                return Err(PdfError::ChangesNotAllowed(
                    "the document is certified with no changes allowed",
                ))
            }
            Some(_) if options.certify.is_some() => {
                return Err(PdfError::ChangesNotAllowed(
                    "the document is already certified",
                ))
            }
            _ => {}
        }
        let acroform = match catalog.get("AcroForm") {
            Some(Object::Ref(r)) => (Some(*r), reader.dict(*r, "the form")?),
            Some(Object::Dict(d)) => (None, d.clone()),
            _ => (None, Dict::new()),
        };
        let fields = match acroform.1.get("Fields") {
            Some(Object::Ref(r)) => (Some(*r), reader.object(*r)?.as_array().cloned().unwrap_or_default()),
            Some(Object::Array(a)) => (None, a.clone()),
            _ => (None, Vec::new()),
        };
        let all_fields = document::fields(reader, &fields.1)?;
        let signed = all_fields
            .iter()
            .any(|f| document::is_signature_field(f) && f.dict.get("V").is_some());
        if signed && options.certify.is_some() {
            return Err(PdfError::ChangesNotAllowed(
                "a certification signature must be the document's first signature",
            ));
        }

        let (target, field_name, rect) = match &options.field {
            Some(name) => {
                let field = all_fields
                    .into_iter()
                    .find(|f| &f.name == name)
                    .filter(|f| document::is_signature_field(f) && f.dict.get("V").is_none())
                    .ok_or_else(|| PdfError::FieldNotFound(name.clone()))?;
                let rect = field
                    .dict
                    .get("Rect")
                    .and_then(Object::as_array)
                    .map(|r| r.iter().filter_map(Object::as_f64).collect::<Vec<_>>())
                    .filter(|r| r.len() == 4)
                    .map(|r| [r[0].min(r[2]), r[1].min(r[3]), r[0].max(r[2]), r[1].max(r[3])]);
                let name = field.name.clone();
                (Target::Existing(field), name, rect)
            }
            None => {
                let taken: std::collections::HashSet<String> =
                    all_fields.iter().map(|f| f.name.clone()).collect();
                let name = (1..)
                    .map(|n| format!("Signature{n}"))
                    .find(|n| !taken.contains(n))
                    .unwrap_or_else(|| "Signature".into());
                let (selector, rect) = match &options.visible {
                    Some(v) => (v.page, v.checked_rect()?),
                    None => (PageSelector::Number(1), [0.0; 4]),
                };
                let mut pages = Vec::new();
                for page in document::select_pages(reader, &catalog, selector)? {
                    let dict = reader.dict(page, "a page")?;
                    let annots = match dict.get("Annots") {
                        Some(Object::Ref(r)) => Some((
                            *r,
                            reader.object(*r)?.as_array().cloned().unwrap_or_default(),
                        )),
                        _ => None,
                    };
                    pages.push((page, dict, annots));
                }
                let rect = options.visible.as_ref().map(|_| rect);
                (Target::New { pages, rect: rect.unwrap_or([0.0; 4]) }, name, rect)
            }
        };

        let appearance = match (&options.visible, rect) {
            (Some(visible), Some(rect)) if rect[2] - rect[0] >= 1.0 && rect[3] - rect[1] >= 1.0 => {
                let summary = kyso_certs::summarize(signer.certificate(), local)
                    .map_err(|e| PdfError::Options(format!("signer certificate: {e}")))?;
                let name = summary
                    .common_name
                    .clone()
                    .unwrap_or_else(|| summary.subject.clone());
                let organization = summary
                    .organization
                    .clone()
                    .filter(|o| *o != name)
                    .unwrap_or_default();
                let values = TemplateValues {
                    name,
                    organization,
                    identifiers: summary
                        .identifiers
                        .iter()
                        .map(|(k, v)| format!("{k}: {v}"))
                        .collect::<Vec<_>>()
                        .join("; "),
                    time: options::display_time(local),
                    reason: options.reason.clone().unwrap_or_default(),
                    location: options.location.clone().unwrap_or_default(),
                };
                let template = visible.text.as_deref().unwrap_or(DEFAULT_TEMPLATE);
                let image = visible
                    .image
                    .as_deref()
                    .map(Image::from_bytes)
                    .transpose()?;
                Some(AppearanceInput {
                    size: (rect[2] - rect[0], rect[3] - rect[1]),
                    lines: values.render(template),
                    image,
                    options: visible.clone(),
                })
            }
            _ => None,
        };
        Ok(Self {
            catalog: (root, catalog),
            catalog_changed: false,
            acroform,
            fields,
            target,
            field_name,
            certify: options.certify,
            appearance,
        })
    }

    /// Writes every changed or new object except the signature dictionary.
    fn write(
        mut self,
        update: &mut Increment,
        sig: ObjRef,
        next_id: &mut dyn FnMut() -> ObjRef,
    ) -> Result<(), PdfError> {
        let appearance = match &self.appearance {
            Some(input) => {
                let spec = AppearanceSpec {
                    size: input.size,
                    lines: &input.lines,
                    font_size: input.options.font_size,
                    color: input.options.color,
                    image: input.image.as_ref(),
                    layout: input.options.layout(),
                };
                Some(appearance::write(update, &spec, &mut *next_id)?)
            }
            None => None,
        };
        let ap = |dict: &mut Dict| {
            if let Some(form) = appearance {
                dict.set(
                    "AP",
                    Object::Dict(Dict::new().with("N", Object::Ref(form))),
                );
            }
        };
        match std::mem::replace(&mut self.target, Target::New { pages: Vec::new(), rect: [0.0; 4] }) {
            Target::Existing(mut field) => {
                field.dict.set("V", Object::Ref(sig));
                if field.dict.get("Subtype").and_then(Object::as_name) == Some(b"Widget") {
                    ap(&mut field.dict);
                }
                update.object(field.id, &Object::Dict(field.dict));
            }
            Target::New { pages, rect } => {
                let field_id = next_id();
                let widget = |page: ObjRef| {
                    let mut w = Dict::new()
                        .with("Type", Object::name("Annot"))
                        .with("Subtype", Object::name("Widget"))
                        .with("Rect", Object::Array(rect.iter().map(|v| Object::Real(*v)).collect()))
                        .with("F", Object::Int(WIDGET_FLAGS))
                        .with("P", Object::Ref(page));
                    ap(&mut w);
                    w
                };
                let field = Dict::new()
                    .with("FT", Object::name("Sig"))
                    .with("T", text_string(&self.field_name))
                    .with("V", Object::Ref(sig));
                let mut widget_ids = Vec::new();
                if pages.len() == 1 {
                    // The usual merged field and widget.
                    let mut merged = field;
                    merged.merge(widget(pages[0].0));
                    update.object(field_id, &Object::Dict(merged));
                    widget_ids.push(field_id);
                } else {
                    let mut kids = Vec::new();
                    for (page, _, _) in &pages {
                        let id = next_id();
                        let w = widget(*page).with("Parent", Object::Ref(field_id));
                        update.object(id, &Object::Dict(w));
                        kids.push(Object::Ref(id));
                        widget_ids.push(id);
                    }
                    update.object(field_id, &Object::Dict(field.with("Kids", Object::Array(kids))));
                }
                for ((page, mut dict, annots), widget_id) in pages.into_iter().zip(widget_ids) {
                    match annots {
                        Some((annots_id, mut list)) => {
                            list.push(Object::Ref(widget_id));
                            update.object(annots_id, &Object::Array(list));
                        }
                        None => {
                            let mut list = dict
                                .get("Annots")
                                .and_then(Object::as_array)
                                .cloned()
                                .unwrap_or_default();
                            list.push(Object::Ref(widget_id));
                            dict.set("Annots", Object::Array(list));
                            update.object(page, &Object::Dict(dict));
                        }
                    }
                }
                self.fields.1.push(Object::Ref(field_id));
                match self.fields.0 {
                    Some(id) => {
                        update.object(id, &Object::Array(self.fields.1.clone()));
                    }
                    None => self
                        .acroform
                        .1
                        .set("Fields", Object::Array(self.fields.1.clone())),
                }
            }
        }
        // SignaturesExist | AppendOnly (§12.7.3).
        self.acroform.1.set("SigFlags", Object::Int(3));
        match self.acroform.0 {
            Some(id) => {
                update.object(id, &Object::Dict(self.acroform.1.clone()));
            }
            None => {
                let id = next_id();
                update.object(id, &Object::Dict(self.acroform.1.clone()));
                self.catalog.1.set("AcroForm", Object::Ref(id));
                self.catalog_changed = true;
            }
        }
        if self.certify.is_some() {
            self.catalog.1.set(
                "Perms",
                Object::Dict(Dict::new().with("DocMDP", Object::Ref(sig))),
            );
            self.catalog_changed = true;
        }
        if self.catalog_changed {
            update.object(self.catalog.0, &Object::Dict(self.catalog.1));
        }
        Ok(())
    }
}
