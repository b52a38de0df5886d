//! What the signature changes in the document, decided before anything is written: the
//! target field (an existing empty one, or a new field with a widget on each chosen page), the
//! form and catalog entries, the appearance, and the signature dictionary with its placeholders.

use std::io::{Read, Seek};

use super::{
    appearance::{self, AppearanceSpec, Image},
    document::{self, text_string, Field, PageSelector},
    error::PdfError,
    object::{Dict, ObjRef, Object},
    options::{self, Certify, PdfSignOptions, TemplateValues, VisibleOptions, DEFAULT_TEMPLATE},
    pades::SubFilter,
    reader::PdfReader,
    writer::Increment,
};
use crate::signer::Signer;

/// Widget flags: Print (3) and Locked (8).
const WIDGET_FLAGS: i64 = 4 | 128;
/// Width of each ByteRange number in the placeholder (files up to 9.3 GB).
pub const BYTE_RANGE_DIGITS: usize = 10;

/// The signature dictionary with zeroed `/ByteRange` and `/Contents` placeholders.
pub fn signature_dict(
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
    let range = format!("[0 {:<w$} {:<w$} {:<w$}]", 0, 0, 0, w = BYTE_RANGE_DIGITS);
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
pub fn trailer(previous: &Dict, startxref: u64) -> Dict {
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
pub struct Plan {
    catalog: (ObjRef, Dict),
    catalog_changed: bool,
    acroform: (Option<ObjRef>, Dict),
    /// `/Fields`: its own object when the form refers to it indirectly.
    fields: (Option<ObjRef>, Vec<Object>),
    target: Target,
    field_name: String,
    certify: Option<Certify>,
    /// The widget rectangle, normalized; `None` for an invisible signature.
    rect: Option<[f64; 4]>,
    appearance: Option<AppearanceInput>,
}

struct AppearanceInput {
    size: (f64, f64),
    lines: Vec<String>,
    image: Option<Image>,
    options: VisibleOptions,
}

/// A page that receives a widget: its dictionary, and its `/Annots` array when that is an
/// object of its own (then the array changes, not the page).
struct PageTarget {
    id: ObjRef,
    dict: Dict,
    annots: Option<(ObjRef, Vec<Object>)>,
}

enum Target {
    /// Fill an existing empty field.
    Existing(Field),
    /// A new field with one widget per page (`/Annots` of each page, and the rectangle).
    New {
        pages: Vec<PageTarget>,
        rect: [f64; 4],
    },
}

impl Plan {
    /// The certification asked for, if any.
    pub fn certify(&self) -> Option<Certify> {
        self.certify
    }

    /// The signature field's fully qualified name.
    pub fn field_name(&self) -> &str {
        &self.field_name
    }

    /// Finds where the signature goes; refuses encrypted and locked documents.
    pub fn locate<R: Read + Seek>(
        reader: &mut PdfReader<R>,
        options: &PdfSignOptions,
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
            Some(Object::Ref(r)) => (
                Some(*r),
                reader.object(*r)?.as_array().cloned().unwrap_or_default(),
            ),
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
                    .map(|r| {
                        [
                            r[0].min(r[2]),
                            r[1].min(r[3]),
                            r[0].max(r[2]),
                            r[1].max(r[3]),
                        ]
                    });
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
                    Some(v) => (v.page.clone(), v.checked_rect()?),
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
                    pages.push(PageTarget {
                        id: page,
                        dict,
                        annots,
                    });
                }
                let rect = options.visible.as_ref().map(|_| rect);
                (
                    Target::New {
                        pages,
                        rect: rect.unwrap_or([0.0; 4]),
                    },
                    name,
                    rect,
                )
            }
        };

        Ok(Self {
            catalog: (root, catalog),
            catalog_changed: false,
            acroform,
            fields,
            target,
            field_name,
            certify: options.certify,
            rect,
            appearance: None,
        })
    }

    /// The visible signature's text comes from the signer's certificate.
    pub fn with_appearance(
        mut self,
        signer: &dyn Signer,
        options: &PdfSignOptions,
        local: time::OffsetDateTime,
    ) -> Result<Self, PdfError> {
        self.appearance = match (&options.visible, self.rect) {
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
        Ok(self)
    }

    /// Writes every changed or new object except the signature dictionary.
    pub fn write(
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
                dict.set("AP", Object::Dict(Dict::new().with("N", Object::Ref(form))));
            }
        };
        match std::mem::replace(
            &mut self.target,
            Target::New {
                pages: Vec::new(),
                rect: [0.0; 4],
            },
        ) {
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
                        .with(
                            "Rect",
                            Object::Array(rect.iter().map(|v| Object::Real(*v)).collect()),
                        )
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
                    merged.merge(widget(pages[0].id));
                    update.object(field_id, &Object::Dict(merged));
                    widget_ids.push(field_id);
                } else {
                    let mut kids = Vec::new();
                    for page in &pages {
                        let id = next_id();
                        let w = widget(page.id).with("Parent", Object::Ref(field_id));
                        update.object(id, &Object::Dict(w));
                        kids.push(Object::Ref(id));
                        widget_ids.push(id);
                    }
                    update.object(
                        field_id,
                        &Object::Dict(field.with("Kids", Object::Array(kids))),
                    );
                }
                for (
                    PageTarget {
                        id: page,
                        mut dict,
                        annots,
                    },
                    widget_id,
                ) in pages.into_iter().zip(widget_ids)
                {
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
