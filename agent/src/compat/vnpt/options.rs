//! The plugin's `PdfSigner` and `XmlSigner` option objects mapped onto kyso's
//! [`PdfSignOptions`] and [`XmlSignOptions`].
//!
//! Clients differ in how they write values (`true`, `"true"`, `1`, `"1"`; numbers as strings)
//! and in the case of key names, so keys are matched case-insensitively and values leniently.
//! An option kyso cannot honour without changing *what* is signed is refused (code 1); one
//! that only changes presentation, or needs what kyso does not have yet (timestamps), is
//! ignored and named in [`Mapped::notes`], which the caller logs.

use std::collections::HashMap;

use base64::Engine;
use serde_json::Value;

use crate::{
    broker::ApiError,
    error::ErrorCode,
    formats::{
        pdf::{Layout, PageSelector, PdfSignOptions, VisibleOptions},
        xml::{Digest, XmlSignOptions},
    },
};

/// Options mapped from the plugin's JSON.
#[derive(Debug, Clone)]
pub struct Mapped<T> {
    /// kyso's options.
    pub options: T,
    /// `CertificateSerial`, when the page named the certificate.
    pub serial: Option<String>,
    /// Options accepted but not applied, for the log.
    pub notes: Vec<String>,
}

fn bad(detail: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::BadRequest, detail)
}

/// The option object, keys lower-cased. An empty argument is an empty object.
struct Fields(HashMap<String, Value>);

impl Fields {
    fn parse(json: &str, what: &str) -> Result<Self, ApiError> {
        if json.trim().is_empty() {
            return Ok(Self(HashMap::new()));
        }
        let value: Value = serde_json::from_str(json)
            .map_err(|e| bad(format!("{what} options are not JSON: {e}")))?;
        let Value::Object(map) = value else {
            return Err(bad(format!("{what} options are not a JSON object")));
        };
        Ok(Self(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
        ))
    }

    fn text(&self, key: &str) -> Option<String> {
        match self.0.get(&key.to_ascii_lowercase())? {
            Value::String(s) if s.trim().is_empty() => None,
            Value::String(s) => Some(s.trim().to_owned()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    fn number(&self, key: &str) -> Result<Option<f64>, ApiError> {
        self.text(key)
            .map(|t| {
                t.parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite())
                    .ok_or_else(|| bad(format!("{key}: {t:?} is not a number")))
            })
            .transpose()
    }

    fn flag(&self, key: &str) -> Option<bool> {
        self.text(key)
            .map(|t| matches!(t.to_ascii_lowercase().as_str(), "true" | "1" | "yes"))
    }

    fn has(&self, key: &str) -> bool {
        self.text(key).is_some()
    }
}

/// `PdfSigner` → [`PdfSignOptions`]. Without options the signature is invisible.
///
/// `SigningTime` is not shown as given: the visible time is the agent's clock, the same time
/// the signature carries, so a page cannot make a signature display a different time.
pub fn pdf(json: &str) -> Result<Mapped<PdfSignOptions>, ApiError> {
    let f = Fields::parse(json, "PdfSigner")?;
    let mut notes = Vec::new();
    let mut options = PdfSignOptions {
        reason: f.text("Reason"),
        location: f.text("Location"),
        ..PdfSignOptions::default()
    };
    options.hash = match f.text("DigestAlgorithm").map(|d| d.to_ascii_lowercase()) {
        None => None,
        Some(d) if d == "sha1" || d == "sha-1" => {
            notes.push("DigestAlgorithm SHA1 asked; SHA-256 used".to_owned());
            None
        }
        Some(d) => Some(match d.replace('-', "").as_str() {
            "sha256" => "sha256".to_owned(),
            "sha384" => "sha384".to_owned(),
            "sha512" => "sha512".to_owned(),
            _ => return Err(bad(format!("DigestAlgorithm {d} is not supported"))),
        }),
    };
    for tsa in ["TsaUrl", "TsaUsername", "TsaPassword"] {
        if f.has(tsa) {
            notes.push(format!("{tsa} ignored: kyso does not add timestamps yet"));
        }
    }
    for ignored in ["SetImageBackground", "SigEmailVisible", "SigningTime"] {
        if f.has(ignored) {
            notes.push(format!("{ignored} ignored"));
        }
    }
    let visible = !f.0.is_empty() && f.flag("SigVisible") != Some(false);
    if visible {
        options.visible = Some(visible_options(&f)?);
    }
    Ok(Mapped {
        options,
        serial: f.text("CertificateSerial"),
        notes,
    })
}

fn visible_options(f: &Fields) -> Result<VisibleOptions, ApiError> {
    let mut visible = VisibleOptions {
        page: page_selector(f)?,
        ..VisibleOptions::default()
    };
    let corners = ["llx", "lly", "urx", "ury"]
        .map(|k| f.number(k))
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    if corners.iter().any(Option::is_some) {
        let [Some(llx), Some(lly), Some(urx), Some(ury)] = corners[..] else {
            return Err(bad("llx, lly, urx and ury go together"));
        };
        visible.rect = [llx, lly, urx, ury];
    }
    if let Some(size) = f.number("SigTextSize")? {
        visible.font_size = size;
    }
    if let Some(color) = f.text("SigColorRGB") {
        visible.color = parse_color(&color)?;
    }
    if let Some(image) = f.text("ImageBase64") {
        let image = strip_data_url(&image);
        visible.image = Some(
            base64::engine::general_purpose::STANDARD
                .decode(image)
                .map_err(|e| bad(format!("ImageBase64 is not base64: {e}")))?,
        );
    }
    visible.layout = match f.text("SigType").as_deref() {
        None => None,
        Some("0") => Some(Layout::Text),
        Some("1") => Some(Layout::ImageText),
        Some("2") => Some(Layout::Image),
        Some(other) => return Err(bad(format!("SigType {other} is not 0, 1 or 2"))),
    };
    if visible.layout.is_some_and(|l| l != Layout::Text) && visible.image.is_none() {
        return Err(bad("SigType asks for an image but ImageBase64 is empty"));
    }
    visible.text = Some(text_template(f));
    Ok(visible)
}

/// The visible text: the signer (`Signer`, or the certificate's name), position, time and
/// description lines, each shown unless its `Sig…Visible` flag is false.
fn text_template(f: &Fields) -> String {
    let shown = |flag: &str| f.flag(flag) != Some(false);
    let mut lines = Vec::new();
    if shown("SigSignerVisible") {
        // `{`/`}` in page text must not act as placeholders.
        let signer = f
            .text("Signer")
            .map(|s| s.replace(['{', '}'], ""))
            .unwrap_or_else(|| "{name}".to_owned());
        lines.push(format!("Ký bởi: {signer}"));
        lines.push("{organization}".to_owned());
        lines.push("{identifiers}".to_owned());
    }
    if shown("SigPositionVisible") {
        if let Some(position) = f.text("SignerPosition") {
            lines.push(format!("Chức vụ: {}", position.replace(['{', '}'], "")));
        }
    }
    if shown("SigSigningTimeVisible") {
        lines.push("Thời gian ký: {time}".to_owned());
    }
    if let Some(description) = f.text("Description") {
        lines.extend(
            description
                .replace(['{', '}'], "")
                .lines()
                .map(str::to_owned),
        );
    }
    lines.push("{reason}".to_owned());
    lines.push("{location}".to_owned());
    lines.join("\n")
}

/// `sigAllPages` → every page; `PagesArray` → those pages (one signature, a widget on each);
/// `page` otherwise.
fn page_selector(f: &Fields) -> Result<PageSelector, ApiError> {
    if f.flag("sigAllPages") == Some(true) {
        return Ok(PageSelector::All);
    }
    let listed = match f.0.get("pagesarray") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::Number(n) => n.as_i64().map(|n| n.to_string()),
                Value::String(s) => Some(s.trim().to_owned()),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("PagesArray holds something that is not a page number"))?,
        Some(Value::String(s)) => s
            .split([',', ';', ' '])
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    let page = match listed.as_slice() {
        [] => f.text("page"),
        _ => Some(listed.join(",")),
    };
    let page = page.ok_or_else(|| {
        ApiError::new(
            ErrorCode::BadRequest,
            "a visible signature needs `page` (PDF_PAGE_MISSING)",
        )
    })?;
    page.parse::<PageSelector>()
        .map_err(|e| bad(format!("page {page:?}: {e}")))
}

/// Whether an error from [`pdf`] is the plugin's "page parameter missing" (code 6).
pub fn is_missing_page(error: &ApiError) -> bool {
    error.detail.ends_with("(PDF_PAGE_MISSING)")
}

/// `"r,g,b"` (0–255), `"#RRGGBB"` or `"RRGGBB"` → components in 0..=1.
fn parse_color(text: &str) -> Result<[f64; 3], ApiError> {
    let invalid = || bad(format!("SigColorRGB {text:?} is not r,g,b or #RRGGBB"));
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let bytes: Vec<u8> = if parts.len() == 3 {
        parts
            .iter()
            .map(|p| p.parse::<u8>().map_err(|_| invalid()))
            .collect::<Result<_, _>>()?
    } else {
        let hex_text = text.trim().trim_start_matches('#');
        hex::decode(hex_text).map_err(|_| invalid())?
    };
    match bytes[..] {
        [r, g, b] => Ok([r, g, b].map(|c| f64::from(c) / 255.0)),
        _ => Err(invalid()),
    }
}

fn strip_data_url(text: &str) -> &str {
    match text.split_once(";base64,") {
        Some((prefix, data)) if prefix.starts_with("data:") => data,
        _ => text,
    }
}

/// `XmlSigner` → [`XmlSignOptions`]. `document` is needed for `TagSigning`: the element named
/// there is signed by its `Id`, so it must have one.
pub fn xml(json: &str, document: &[u8]) -> Result<Mapped<XmlSignOptions>, ApiError> {
    let f = Fields::parse(json, "XmlSigner")?;
    let mut notes = Vec::new();
    let mut options = XmlSignOptions {
        into: f.text("TagSaveResult"),
        into_parent: f.text("ParrentTagSigning").or(f.text("ParentTagSigning")),
        ..XmlSignOptions::default()
    };
    if let Some(kind) = f.text("SigningType") {
        if !kind.eq_ignore_ascii_case("enveloped") {
            return Err(bad(format!(
                "SigningType {kind}: kyso makes enveloped signatures"
            )));
        }
    }
    if f.has("NameXPathFilter") {
        // Ignoring a filter would sign something other than what the portal expects.
        return Err(bad("NameXPathFilter (XPath transforms) is not supported"));
    }
    options.node_id = match (f.text("NodeToSign"), f.text("TagSigning")) {
        (Some(id), _) => Some(id.trim_start_matches('#').to_owned()),
        (None, Some(tag)) => Some(id_of_element(document, &tag)?),
        (None, None) => None,
    };
    if f.flag("DsSignature") == Some(true) {
        options.prefix = Some("ds".to_owned());
    }
    if f.has("NameIDTimeSignature") || f.flag("SigningTime") == Some(true) {
        options.signing_time = true;
        if f.has("NameIDTimeSignature") {
            notes.push("NameIDTimeSignature: kyso names the SigningTime object itself".into());
        }
    }
    if let Some(digest) = f.text("DigestMethod") {
        options.digest = parse_digest(&digest)?;
    }
    if let Some(method) = f.text("SignatureMethod") {
        // "RSAwithSHA1", "RSAwithSHA256", "ECDSAwithSHA256", ...
        let hash = method
            .to_ascii_lowercase()
            .rsplit("with")
            .next()
            .unwrap_or_default()
            .to_owned();
        options.signature_hash = Some(parse_digest(&hash)?);
    }
    if f.has("ValidateBefore") {
        notes.push("ValidateBefore ignored".into());
    }
    Ok(Mapped {
        options,
        serial: f.text("CertificateSerial"),
        notes,
    })
}

fn parse_digest(text: &str) -> Result<Digest, ApiError> {
    match text.to_ascii_lowercase().replace('-', "").trim() {
        "sha1" => Ok(Digest::Sha1),
        "sha256" => Ok(Digest::Sha256),
        "sha384" => Ok(Digest::Sha384),
        "sha512" => Ok(Digest::Sha512),
        other => Err(bad(format!("digest {other} is not supported"))),
    }
}

/// The `Id`/`id`/`ID` of the first element named `tag` (local name).
fn id_of_element(document: &[u8], tag: &str) -> Result<String, ApiError> {
    let text = std::str::from_utf8(document)
        .map_err(|e| ApiError::new(ErrorCode::XmlInvalid, format!("not UTF-8: {e}")))?;
    let text = text.trim_start_matches('\u{feff}');
    let parsed = roxmltree::Document::parse(text)
        .map_err(|e| ApiError::new(ErrorCode::XmlInvalid, e.to_string()))?;
    let element = parsed
        .descendants()
        .find(|n| n.is_element() && n.tag_name().name() == tag)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::XmlTargetNotFound,
                format!("no element <{tag}> (TagSigning)"),
            )
        })?;
    ["Id", "id", "ID"]
        .iter()
        .find_map(|name| element.attribute(*name))
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::XmlTargetNotFound,
                format!("<{tag}> (TagSigning) has no Id to reference"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pdf_ok(json: &str) -> Mapped<PdfSignOptions> {
        pdf(json).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_pdf_signer_becomes_a_visible_signature_on_its_page_and_rectangle() {
        let mapped = pdf_ok(
            r#"{"page":2,"llx":"36","lly":36,"urx":236,"ury":106,"SigTextSize":"10",
                "Signer":"Nguyễn Văn A","SignerPosition":"Giám đốc","SigColorRGB":"255,0,0",
                "SigType":0,"TsaUrl":"http://tsa.example","CertificateSerial":"0A1B",
                "DigestAlgorithm":"SHA1","SigEmailVisible":true}"#,
        );
        let visible = mapped
            .options
            .visible
            .clone()
            .unwrap_or_else(|| panic!("visible"));
        assert_eq!(visible.page, PageSelector::Number(2));
        assert_eq!(visible.rect, [36.0, 36.0, 236.0, 106.0]);
        assert_eq!(visible.font_size, 10.0);
        assert_eq!(visible.color, [1.0, 0.0, 0.0]);
        let text = visible.text.unwrap_or_default();
        assert!(text.contains("Ký bởi: Nguyễn Văn A"), "{text}");
        assert!(text.contains("Chức vụ: Giám đốc"), "{text}");
        assert_eq!(mapped.serial.as_deref(), Some("0A1B"));
        assert_eq!(mapped.options.hash, None, "SHA-1 is not used for PDFs");
        assert!(mapped.notes.iter().any(|n| n.contains("TsaUrl")));
    }

    #[test]
    fn visibility_flags_drop_their_lines_and_sig_visible_false_is_invisible() {
        let mapped = pdf_ok(
            r#"{"page":1,"SigSignerVisible":"false","SigSigningTimeVisible":0,"Description":"Đã duyệt"}"#,
        );
        let text = mapped
            .options
            .visible
            .and_then(|v| v.text)
            .unwrap_or_default();
        assert!(!text.contains("Ký bởi"), "{text}");
        assert!(!text.contains("{time}"), "{text}");
        assert!(text.contains("Đã duyệt"), "{text}");
        assert!(pdf_ok(r#"{"page":1,"SigVisible":false}"#)
            .options
            .visible
            .is_none());
        assert!(pdf_ok("").options.visible.is_none());
    }

    #[test]
    fn pages_all_one_or_several() {
        let page = |json: &str| pdf(json).map(|m| m.options.visible.map(|v| v.page));
        assert!(matches!(
            page(r#"{"sigAllPages":true}"#),
            Ok(Some(PageSelector::All))
        ));
        assert!(matches!(
            page(r#"{"PagesArray":[3]}"#),
            Ok(Some(PageSelector::Number(3)))
        ));
        assert!(matches!(
            page(r#"{"PagesArray":"1,3"}"#),
            Ok(Some(PageSelector::List(pages))) if pages == [1, 3]
        ));
        assert!(matches!(
            page(r#"{"PagesArray":[2,"-1"]}"#),
            Ok(Some(PageSelector::List(pages))) if pages == [2, -1]
        ));
        assert!(matches!(
            page(r#"{"PagesArray":"1,x"}"#),
            Err(e) if e.code == ErrorCode::BadRequest
        ));
        assert!(matches!(page(r#"{"llx":1}"#), Err(e) if is_missing_page(&e)));
    }

    #[test]
    fn an_image_signature_needs_an_image() {
        assert!(pdf(r#"{"page":1,"SigType":2}"#).is_err());
        let png = base64::engine::general_purpose::STANDARD.encode(b"\x89PNG");
        let mapped = pdf_ok(&format!(
            r#"{{"page":1,"SigType":1,"ImageBase64":"data:image/png;base64,{png}"}}"#
        ));
        let visible = mapped.options.visible.unwrap_or_default();
        assert_eq!(visible.layout, Some(Layout::ImageText));
        assert_eq!(visible.image.as_deref(), Some(&b"\x89PNG"[..]));
    }

    const HTKK: &[u8] = br#"<HSoThueDTu xmlns="http://kekhaithue.gdt.gov.vn/TKhaiThue"><HSoKhaiThue id="_NODE_TO_SIGN"><a/></HSoKhaiThue><CKyDTu/></HSoThueDTu>"#;

    #[test]
    fn an_htkk_xml_signer_maps_to_node_id_into_and_prefix() {
        let mapped = xml(
            r#"{"TagSigning":"HSoKhaiThue","TagSaveResult":"CKyDTu","DsSignature":true,
                "DigestMethod":"SHA1","SignatureMethod":"RSAwithSHA1","SigningType":"Enveloped"}"#,
            HTKK,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let o = mapped.options;
        assert_eq!(o.node_id.as_deref(), Some("_NODE_TO_SIGN"));
        assert_eq!(o.into.as_deref(), Some("CKyDTu"));
        assert_eq!(o.prefix.as_deref(), Some("ds"));
        assert_eq!(o.digest, Digest::Sha1);
        assert_eq!(o.signature_hash, Some(Digest::Sha1));
    }

    #[test]
    fn xml_options_that_would_change_what_is_signed_are_refused() {
        let code = |json: &str| xml(json, HTKK).err().map(|e| e.code);
        assert_eq!(
            code(r#"{"TagSigning":"Nope"}"#),
            Some(ErrorCode::XmlTargetNotFound)
        );
        assert_eq!(
            code(r#"{"TagSigning":"CKyDTu"}"#),
            Some(ErrorCode::XmlTargetNotFound)
        );
        assert_eq!(
            code(r#"{"SigningType":"Detached"}"#),
            Some(ErrorCode::BadRequest)
        );
        assert_eq!(
            code(r#"{"NameXPathFilter":"x"}"#),
            Some(ErrorCode::BadRequest)
        );
        assert_eq!(code("[1]"), Some(ErrorCode::BadRequest));
    }
}
