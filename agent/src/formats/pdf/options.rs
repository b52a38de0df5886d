//! What a PDF signature request asks for, shaped like the JSON the API takes, and the
//! visible-signature text built from the certificate.

use std::time::SystemTime;

use base64::Engine;
use serde::Deserialize;
use time::{OffsetDateTime, UtcOffset};

use super::{appearance::Layout, document::PageSelector, error::PdfError};

/// Vietnam's time zone (UTC+7, no daylight saving): the default for `/M` and visible text.
pub const VIETNAM_OFFSET_MINUTES: i16 = 7 * 60;

/// The visible text when no template is given. A line whose placeholders are all empty is
/// left out (no "Lý do:" without a reason).
pub const DEFAULT_TEMPLATE: &str = "Ký bởi: {name}\n{organization}\n{identifiers}\n\
                                    Thời gian: {time}\nLý do: {reason}\nNơi ký: {location}";

/// Certification (DocMDP, §12.8.2.2): what may change after this signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Certify {
    /// P=1: nothing.
    NoChanges,
    /// P=2: filling forms and signing.
    FormFill,
    /// P=3: also annotations.
    Annotate,
}

impl Certify {
    /// The DocMDP `/P` value.
    pub fn permission(self) -> i64 {
        match self {
            Self::NoChanges => 1,
            Self::FormFill => 2,
            Self::Annotate => 3,
        }
    }
}

impl std::str::FromStr for Certify {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "no-changes" => Ok(Self::NoChanges),
            "form-fill" => Ok(Self::FormFill),
            "annotate" => Ok(Self::Annotate),
            _ => Err(format!(
                "expected no-changes, form-fill or annotate, not {s:?}"
            )),
        }
    }
}

/// Options of a PDF signature. The JSON the API takes deserializes into this; `Default` is an
/// invisible PAdES B-B signature, SHA-256, in a new field.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PdfSignOptions {
    /// Sign this existing empty signature field (fully qualified name) instead of a new one.
    pub field: Option<String>,
    /// `/Reason`.
    pub reason: Option<String>,
    /// `/Location`.
    pub location: Option<String>,
    /// `/ContactInfo`.
    pub contact_info: Option<String>,
    /// Show the signature on a page.
    pub visible: Option<VisibleOptions>,
    /// Make this a certification signature.
    pub certify: Option<Certify>,
    /// Write `adbe.pkcs7.detached` instead of `ETSI.CAdES.detached`.
    pub legacy_subfilter: bool,
    /// `sha256` (default), `sha384` or `sha512`.
    pub hash: Option<String>,
    /// RSA-PSS instead of PKCS#1 v1.5.
    pub pss: bool,
    /// Minutes east of UTC for `/M` and the visible time; default Vietnam (420).
    pub utc_offset_minutes: Option<i16>,
    /// The signing time; `None` is now. Not taken from JSON: the agent's clock decides.
    #[serde(skip)]
    pub signing_time: Option<SystemTime>,
}

/// Where and how the visible signature is drawn.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VisibleOptions {
    /// 1-based page, negative from the end, or `"all"`.
    pub page: PageSelector,
    /// `[x1, y1, x2, y2]` in points from the page's bottom-left corner. For an existing field,
    /// its own rectangle is used and this is ignored.
    pub rect: [f64; 4],
    /// Text template with `{name}`, `{organization}`, `{identifiers}`, `{time}`, `{reason}`,
    /// `{location}`; lines separated by `\n`. Default [`DEFAULT_TEMPLATE`].
    pub text: Option<String>,
    /// PNG or JPEG bytes, base64 in JSON.
    #[serde(deserialize_with = "base64_bytes")]
    pub image: Option<Vec<u8>>,
    /// `text`, `image` or `image_text`.
    pub layout: Option<Layout>,
    /// Largest font size in points (the text shrinks to fit the rectangle).
    pub font_size: f64,
    /// Text and border colour, RGB components in 0..=1.
    pub color: [f64; 3],
}

impl Default for VisibleOptions {
    fn default() -> Self {
        Self {
            page: PageSelector::Number(1),
            rect: [36.0, 36.0, 236.0, 106.0],
            text: None,
            image: None,
            layout: None,
            font_size: 9.0,
            color: [0.0, 0.0, 0.55],
        }
    }
}

fn base64_bytes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
    let text: Option<String> = Option::deserialize(d)?;
    text.map(|t| {
        base64::engine::general_purpose::STANDARD
            .decode(t.trim())
            .map_err(serde::de::Error::custom)
    })
    .transpose()
}

impl VisibleOptions {
    /// The layout, defaulting to image+text when an image is given.
    pub fn layout(&self) -> Layout {
        self.layout.unwrap_or(if self.image.is_some() {
            Layout::ImageText
        } else {
            Layout::Text
        })
    }

    /// Checks the rectangle, returning it normalized (x1 < x2, y1 < y2).
    pub fn checked_rect(&self) -> Result<[f64; 4], PdfError> {
        let [a, b, c, d] = self.rect;
        let rect = [a.min(c), b.min(d), a.max(c), b.max(d)];
        if rect.iter().any(|v| !v.is_finite()) || rect[2] - rect[0] < 1.0 || rect[3] - rect[1] < 1.0
        {
            return Err(PdfError::Options(format!(
                "the rectangle {:?} is empty",
                self.rect
            )));
        }
        if !(1.0..=72.0).contains(&self.font_size) {
            return Err(PdfError::Options("font size must be 1 to 72 points".into()));
        }
        Ok(rect)
    }
}

/// The values a text template can use.
#[derive(Debug, Clone, Default)]
pub struct TemplateValues {
    /// Signer's common name.
    pub name: String,
    /// Organisation, when it differs from the name.
    pub organization: String,
    /// `MST: …`, `CCCD: …`.
    pub identifiers: String,
    /// `HH:mm:ss dd/MM/yyyy`.
    pub time: String,
    /// The reason.
    pub reason: String,
    /// The location.
    pub location: String,
}

impl TemplateValues {
    /// Fills `template`: a line is dropped when it has placeholders and all are empty.
    pub fn render(&self, template: &str) -> Vec<String> {
        let values = [
            ("{name}", &self.name),
            ("{organization}", &self.organization),
            ("{identifiers}", &self.identifiers),
            ("{time}", &self.time),
            ("{reason}", &self.reason),
            ("{location}", &self.location),
        ];
        let mut lines = Vec::new();
        for line in template.lines() {
            let mut out = line.to_owned();
            let mut used = 0;
            let mut filled = 0;
            for (key, value) in values {
                if out.contains(key) {
                    used += 1;
                    if !value.is_empty() {
                        filled += 1;
                    }
                    out = out.replace(key, value);
                }
            }
            if used == 0 || filled > 0 {
                lines.push(out);
            }
        }
        lines
    }
}

/// The time as Vietnamese documents write it: `HH:mm:ss dd/MM/yyyy`.
pub fn display_time(time: OffsetDateTime) -> String {
    format!(
        "{:02}:{:02}:{:02} {:02}/{:02}/{:04}",
        time.hour(),
        time.minute(),
        time.second(),
        time.day(),
        u8::from(time.month()),
        time.year()
    )
}

/// A PDF date (§7.9.4): `D:YYYYMMDDHHmmSS+07'00'`.
pub fn pdf_date(time: OffsetDateTime) -> String {
    let offset = time.offset();
    let (h, m, _) = offset.as_hms();
    let sign = if offset.is_negative() { '-' } else { '+' };
    format!(
        "D:{:04}{:02}{:02}{:02}{:02}{:02}{sign}{:02}'{:02}'",
        time.year(),
        u8::from(time.month()),
        time.day(),
        time.hour(),
        time.minute(),
        time.second(),
        h.unsigned_abs(),
        m.unsigned_abs()
    )
}

/// The signing time in the requested offset.
pub fn local_time(time: SystemTime, offset_minutes: i16) -> Result<OffsetDateTime, PdfError> {
    let offset = UtcOffset::from_whole_seconds(i32::from(offset_minutes) * 60)
        .map_err(|e| PdfError::Options(format!("UTC offset: {e}")))?;
    Ok(OffsetDateTime::from(time).to_offset(offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_lines_without_values_are_dropped() {
        let values = TemplateValues {
            name: "NGUYỄN VĂN A".into(),
            time: "09:05:01 23/11/2026".into(),
            ..TemplateValues::default()
        };
        let lines = values.render(DEFAULT_TEMPLATE);
        assert_eq!(
            lines,
            vec!["Ký bởi: NGUYỄN VĂN A", "Thời gian: 09:05:01 23/11/2026"]
        );
    }

    #[test]
    fn times_are_written_the_vietnamese_way_and_as_pdf_dates() {
        let utc = time::macros::datetime!(2026-11-23 02:05:01 UTC);
        let local = local_time(utc.into(), VIETNAM_OFFSET_MINUTES).unwrap_or(utc);
        assert_eq!(display_time(local), "09:05:01 23/11/2026");
        assert_eq!(pdf_date(local), "D:20261123090501+07'00'");
    }

    #[test]
    fn api_json_deserializes_into_options() {
        let json = r#"{"reason":"Phê duyệt","visible":{"page":"all","rect":[10,10,210,80]},
                       "certify":"form-fill"}"#;
        let options: PdfSignOptions = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(options.certify, Some(Certify::FormFill));
        assert_eq!(options.visible.map(|v| v.page), Some(PageSelector::All));
    }
}
