//! The visible signature: a form XObject with text lines in an embedded, subsetted Unicode font
//! (so Vietnamese renders everywhere and can be searched and copied), an optional PNG/JPEG
//! image, and a thin border.

use std::{collections::BTreeMap, io::Write};

use super::{
    error::PdfError,
    object::{format_real, Dict, ObjRef, Object},
    writer::Increment,
};

/// DejaVu Sans 2.37 (Bitstream Vera licence, see `assets/fonts/LICENSE-DejaVu.txt`): open,
/// and it covers every Vietnamese letter with its precomposed forms.
static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
const FONT_NAME: &str = "DejaVuSans";

/// Space between the border and the content, in points.
const PADDING: f64 = 3.0;
/// Smallest font size the text shrinks to before it is clipped.
const MIN_FONT_SIZE: f64 = 4.0;

/// How the rectangle is filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// Text lines only.
    #[default]
    Text,
    /// The image only, scaled to fit.
    Image,
    /// The image on the left third, text on the right.
    ImageText,
}

/// A decoded image ready to become an image XObject.
#[derive(Debug, Clone)]
pub struct Image {
    width: u32,
    height: u32,
    /// `DeviceGray` / `DeviceRGB` / `DeviceCMYK`.
    color_space: &'static str,
    /// Stream data and its filter.
    data: Vec<u8>,
    filter: &'static str,
    /// Flate-compressed 8-bit alpha channel, for PNGs with transparency.
    alpha: Option<Vec<u8>>,
}

impl Image {
    /// Reads a PNG or JPEG file's bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PdfError> {
        if bytes.starts_with(&[0xff, 0xd8]) {
            Self::jpeg(bytes)
        } else if bytes.starts_with(b"\x89PNG") {
            Self::png(bytes)
        } else {
            Err(PdfError::Image(
                "only PNG and JPEG images are supported".into(),
            ))
        }
    }

    /// A JPEG goes in unchanged (`DCTDecode`); only its size and components are read from the
    /// start-of-frame marker.
    fn jpeg(bytes: &[u8]) -> Result<Self, PdfError> {
        let mut at = 2;
        while at + 9 < bytes.len() {
            if bytes[at] != 0xff {
                return Err(PdfError::Image("malformed JPEG".into()));
            }
            let marker = bytes[at + 1];
            let len = usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
            // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
            if (0xc0..=0xcf).contains(&marker) && !matches!(marker, 0xc4 | 0xc8 | 0xcc) {
                let height = u32::from(u16::from_be_bytes([bytes[at + 5], bytes[at + 6]]));
                let width = u32::from(u16::from_be_bytes([bytes[at + 7], bytes[at + 8]]));
                let color_space = match bytes[at + 9] {
                    1 => "DeviceGray",
                    3 => "DeviceRGB",
                    4 => "DeviceCMYK",
                    _ => return Err(PdfError::Image("unsupported JPEG components".into())),
                };
                return Ok(Self {
                    width,
                    height,
                    color_space,
                    data: bytes.to_vec(),
                    filter: "DCTDecode",
                    alpha: None,
                });
            }
            at += 2 + len;
        }
        Err(PdfError::Image("JPEG without a frame header".into()))
    }

    /// A PNG is decoded to 8-bit gray or RGB plus an optional soft mask, and deflated.
    fn png(bytes: &[u8]) -> Result<Self, PdfError> {
        let image_error = |e: png::DecodingError| PdfError::Image(format!("PNG: {e}"));
        let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        decoder.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = decoder.read_info().map_err(image_error)?;
        let size = reader
            .output_buffer_size()
            .ok_or_else(|| PdfError::Image("PNG too large".into()))?;
        let mut pixels = vec![0; size];
        let info = reader.next_frame(&mut pixels).map_err(image_error)?;
        pixels.truncate(info.buffer_size());
        let (channels, color_space, has_alpha) = match info.color_type {
            png::ColorType::Grayscale => (1, "DeviceGray", false),
            png::ColorType::GrayscaleAlpha => (2, "DeviceGray", true),
            png::ColorType::Rgb => (3, "DeviceRGB", false),
            png::ColorType::Rgba => (4, "DeviceRGB", true),
            png::ColorType::Indexed => {
                return Err(PdfError::Image("indexed PNG was not expanded".into()))
            }
        };
        let (color, alpha) = if has_alpha {
            let mut color = Vec::with_capacity(pixels.len());
            let mut alpha = Vec::with_capacity(pixels.len() / channels);
            for px in pixels.chunks_exact(channels) {
                color.extend_from_slice(&px[..channels - 1]);
                alpha.push(px[channels - 1]);
            }
            (color, Some(deflate(&alpha)?))
        } else {
            (pixels, None)
        };
        Ok(Self {
            width: info.width,
            height: info.height,
            color_space,
            data: deflate(&color)?,
            filter: "FlateDecode",
            alpha,
        })
    }

    fn write(&self, update: &mut Increment, mut next_id: impl FnMut() -> ObjRef) -> ObjRef {
        let mut dict = Dict::new()
            .with("Type", Object::name("XObject"))
            .with("Subtype", Object::name("Image"))
            .with("Width", Object::Int(i64::from(self.width)))
            .with("Height", Object::Int(i64::from(self.height)))
            .with("ColorSpace", Object::name(self.color_space))
            .with("BitsPerComponent", Object::Int(8))
            .with("Filter", Object::name(self.filter));
        if let Some(alpha) = &self.alpha {
            let mask = next_id();
            update.stream(
                mask,
                Dict::new()
                    .with("Type", Object::name("XObject"))
                    .with("Subtype", Object::name("Image"))
                    .with("Width", Object::Int(i64::from(self.width)))
                    .with("Height", Object::Int(i64::from(self.height)))
                    .with("ColorSpace", Object::name("DeviceGray"))
                    .with("BitsPerComponent", Object::Int(8))
                    .with("Filter", Object::name("FlateDecode")),
                alpha,
            );
            dict.set("SMask", Object::Ref(mask));
        }
        let id = next_id();
        update.stream(id, dict, &self.data);
        id
    }
}

fn deflate(data: &[u8]) -> Result<Vec<u8>, PdfError> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data)?;
    Ok(encoder.finish()?)
}

/// What the visible signature shows.
#[derive(Debug, Clone)]
pub struct AppearanceSpec<'a> {
    /// Width and height of the widget rectangle, in points.
    pub size: (f64, f64),
    /// Text lines, top to bottom.
    pub lines: &'a [String],
    /// Largest font size; smaller when the text would not fit.
    pub font_size: f64,
    /// Text and border colour, RGB in 0..=1.
    pub color: [f64; 3],
    /// The image, if any.
    pub image: Option<&'a Image>,
    /// How text and image share the rectangle.
    pub layout: Layout,
}

/// The glyphs of the text, with the metrics PDF needs.
struct ShapedText {
    /// Per line: new glyph ids after subsetting.
    lines: Vec<Vec<u16>>,
    /// Per line: advance width in font units per 1000 em.
    widths: Vec<f64>,
    /// New glyph id → (advance /1000 em, the character it shows).
    glyphs: BTreeMap<u16, (f64, char)>,
    subset: Vec<u8>,
    ascent: f64,
    descent: f64,
    cap_height: f64,
    bbox: [f64; 4],
}

fn shape(lines: &[String]) -> Result<ShapedText, PdfError> {
    let face =
        ttf_parser::Face::parse(FONT, 0).map_err(|e| PdfError::Font(format!("DejaVu: {e}")))?;
    let scale = 1000.0 / f64::from(face.units_per_em());
    let mut remapper = subsetter::GlyphRemapper::new();
    let mut glyphs = BTreeMap::new();
    let mut shaped = Vec::new();
    let mut widths = Vec::new();
    for line in lines {
        let mut ids = Vec::new();
        let mut width = 0.0;
        for c in line.chars() {
            // Unmapped characters show as .notdef rather than failing the signature.
            let gid = face.glyph_index(c).unwrap_or(ttf_parser::GlyphId(0));
            let advance = f64::from(face.glyph_hor_advance(gid).unwrap_or(0)) * scale;
            let new = remapper.remap(gid.0);
            glyphs.entry(new).or_insert((advance, c));
            ids.push(new);
            width += advance;
        }
        shaped.push(ids);
        widths.push(width);
    }
    let subset = subsetter::subset(FONT, 0, &remapper)
        .map_err(|e| PdfError::Font(format!("subsetting: {e:?}")))?;
    let bbox = face.global_bounding_box();
    Ok(ShapedText {
        lines: shaped,
        widths,
        glyphs,
        subset,
        ascent: f64::from(face.ascender()) * scale,
        descent: f64::from(face.descender()) * scale,
        cap_height: f64::from(face.capital_height().unwrap_or(face.ascender())) * scale,
        bbox: [
            f64::from(bbox.x_min) * scale,
            f64::from(bbox.y_min) * scale,
            f64::from(bbox.x_max) * scale,
            f64::from(bbox.y_max) * scale,
        ],
    })
}

/// A subset tag (§9.9.2): six capitals derived from the glyphs, so different subsets differ.
fn subset_tag(shaped: &ShapedText) -> String {
    let mut hash: u32 = 2_166_136_261;
    for gid in shaped.glyphs.values().map(|(_, c)| *c as u32) {
        hash = (hash ^ gid).wrapping_mul(16_777_619);
    }
    (0..6)
        .map(|i| char::from(b'A' + ((hash >> (i * 5)) % 26) as u8))
        .collect()
}

fn to_unicode(shaped: &ShapedText) -> Vec<u8> {
    let mut cmap = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo <</Registry (Adobe) /Ordering (UCS) /Supplement 0>> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    let entries: Vec<_> = shaped.glyphs.iter().collect();
    for chunk in entries.chunks(100) {
        cmap.push_str(&format!("{} beginbfchar\n", chunk.len()));
        for (gid, (_, c)) in chunk {
            let mut utf16 = [0u16; 2];
            let units = c.encode_utf16(&mut utf16);
            let hex: String = units.iter().map(|u| format!("{u:04X}")).collect();
            cmap.push_str(&format!("<{gid:04X}> <{hex}>\n"));
        }
        cmap.push_str("endbfchar\n");
    }
    cmap.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    cmap.into_bytes()
}

/// Writes the Type0 font (CIDFontType2, Identity-H, ToUnicode) and returns its reference.
fn write_font(
    update: &mut Increment,
    shaped: &ShapedText,
    mut next_id: impl FnMut() -> ObjRef,
) -> Result<ObjRef, PdfError> {
    let base_font = format!("{}+{FONT_NAME}", subset_tag(shaped));
    let file = next_id();
    update.stream(
        file,
        Dict::new()
            .with("Filter", Object::name("FlateDecode"))
            .with("Length1", Object::Int(shaped.subset.len() as i64)),
        &deflate(&shaped.subset)?,
    );
    let descriptor = next_id();
    update.object(
        descriptor,
        &Object::Dict(
            Dict::new()
                .with("Type", Object::name("FontDescriptor"))
                .with("FontName", Object::name(&base_font))
                // Nonsymbolic (bit 6): the glyphs are standard Latin text.
                .with("Flags", Object::Int(32))
                .with(
                    "FontBBox",
                    Object::Array(shaped.bbox.iter().map(|v| Object::Real(*v)).collect()),
                )
                .with("ItalicAngle", Object::Int(0))
                .with("Ascent", Object::Real(shaped.ascent))
                .with("Descent", Object::Real(shaped.descent))
                .with("CapHeight", Object::Real(shaped.cap_height))
                .with("StemV", Object::Int(80))
                .with("FontFile2", Object::Ref(file)),
        ),
    );
    let mut widths = Vec::new();
    for (gid, (advance, _)) in &shaped.glyphs {
        widths.push(Object::Int(i64::from(*gid)));
        widths.push(Object::Array(vec![Object::Real(*advance)]));
    }
    let cid_font = next_id();
    update.object(
        cid_font,
        &Object::Dict(
            Dict::new()
                .with("Type", Object::name("Font"))
                .with("Subtype", Object::name("CIDFontType2"))
                .with("BaseFont", Object::name(&base_font))
                .with(
                    "CIDSystemInfo",
                    Object::Dict(
                        Dict::new()
                            .with("Registry", Object::String(b"Adobe".to_vec()))
                            .with("Ordering", Object::String(b"Identity".to_vec()))
                            .with("Supplement", Object::Int(0)),
                    ),
                )
                .with("FontDescriptor", Object::Ref(descriptor))
                .with("W", Object::Array(widths))
                // The subsetter renumbers glyphs; the new glyph id is the CID.
                .with("CIDToGIDMap", Object::name("Identity")),
        ),
    );
    let unicode = next_id();
    let cmap = to_unicode(shaped);
    update.stream(
        unicode,
        Dict::new().with("Filter", Object::name("FlateDecode")),
        &deflate(&cmap)?,
    );
    let font = next_id();
    update.object(
        font,
        &Object::Dict(
            Dict::new()
                .with("Type", Object::name("Font"))
                .with("Subtype", Object::name("Type0"))
                .with("BaseFont", Object::name(&base_font))
                .with("Encoding", Object::name("Identity-H"))
                .with(
                    "DescendantFonts",
                    Object::Array(vec![Object::Ref(cid_font)]),
                )
                .with("ToUnicode", Object::Ref(unicode)),
        ),
    );
    Ok(font)
}

fn num(v: f64) -> String {
    format_real(v)
}

/// Writes the appearance (form XObject and its font and image) and returns the form's
/// reference, for the widget's `/AP /N`.
pub fn write(
    update: &mut Increment,
    spec: &AppearanceSpec<'_>,
    mut next_id: impl FnMut() -> ObjRef,
) -> Result<ObjRef, PdfError> {
    let (w, h) = spec.size;
    let [r, g, b] = spec.color;
    let mut content = format!(
        "q {} {} {} RG 0.6 w 0.3 0.3 {} {} re S Q\n",
        num(r),
        num(g),
        num(b),
        num(w - 0.6),
        num(h - 0.6)
    );
    let mut resources = Dict::new();
    let (text_x, image_box) = match (spec.layout, spec.image) {
        (Layout::Text, _) | (_, None) => (PADDING, None),
        (Layout::Image, Some(_)) => (w, Some((PADDING, w - 2.0 * PADDING))),
        (Layout::ImageText, Some(_)) => {
            (w / 3.0 + PADDING, Some((PADDING, w / 3.0 - 2.0 * PADDING)))
        }
    };
    if let (Some(image), Some((x, max_w))) = (spec.image, image_box) {
        let id = image.write(update, &mut next_id);
        resources.set(
            "XObject",
            Object::Dict(Dict::new().with("Im1", Object::Ref(id))),
        );
        let max_h = h - 2.0 * PADDING;
        let scale = (max_w / f64::from(image.width)).min(max_h / f64::from(image.height));
        let (iw, ih) = (
            f64::from(image.width) * scale,
            f64::from(image.height) * scale,
        );
        let y = (h - ih) / 2.0;
        content.push_str(&format!(
            "q {} 0 0 {} {} {} cm /Im1 Do Q\n",
            num(iw),
            num(ih),
            num(x + (max_w - iw) / 2.0),
            num(y)
        ));
    }
    let text_width = w - text_x - PADDING;
    if text_width > 0.0 && !spec.lines.is_empty() {
        let shaped = shape(spec.lines)?;
        let font = write_font(update, &shaped, &mut next_id)?;
        resources.set(
            "Font",
            Object::Dict(Dict::new().with("F1", Object::Ref(font))),
        );
        // Shrink to fit the widest line and the line count, never below MIN_FONT_SIZE.
        let widest = shaped.widths.iter().copied().fold(0.0, f64::max);
        let mut size = spec.font_size;
        if widest > 0.0 {
            size = size.min(text_width * 1000.0 / widest);
        }
        let count = shaped.lines.len() as f64;
        size = size
            .min((h - 2.0 * PADDING) / (count * 1.2))
            .max(MIN_FONT_SIZE);
        let leading = size * 1.2;
        let top = h - PADDING - size * shaped.ascent / 1000.0;
        content.push_str(&format!(
            "q {} {} {} {} re W n\nBT {} {} {} rg /F1 {} Tf {} TL {} {} Td\n",
            num(PADDING),
            num(PADDING),
            num(w - 2.0 * PADDING),
            num(h - 2.0 * PADDING),
            num(r),
            num(g),
            num(b),
            num(size),
            num(leading),
            num(text_x),
            num(top)
        ));
        for (i, line) in shaped.lines.iter().enumerate() {
            if i > 0 {
                content.push_str("T* ");
            }
            let hex: String = line.iter().map(|gid| format!("{gid:04X}")).collect();
            content.push_str(&format!("<{hex}> Tj\n"));
        }
        content.push_str("ET Q\n");
    }
    let form = next_id();
    update.stream(
        form,
        Dict::new()
            .with("Type", Object::name("XObject"))
            .with("Subtype", Object::name("Form"))
            .with(
                "BBox",
                Object::Array(vec![
                    Object::Int(0),
                    Object::Int(0),
                    Object::Real(w),
                    Object::Real(h),
                ]),
            )
            .with("Resources", Object::Dict(resources)),
        content.as_bytes(),
    );
    Ok(form)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_text_maps_to_real_glyphs_and_back_to_unicode() {
        let lines = vec!["Ký bởi: CÔNG TY TNHH KÝ SỐ VIỆT NAM".to_owned()];
        let shaped = shape(&lines).unwrap_or_else(|e| panic!("{e}"));
        assert!(shaped.glyphs.values().all(|(w, _)| *w > 0.0));
        let cmap = String::from_utf8(to_unicode(&shaped)).unwrap_or_default();
        // ở (U+1EDF) and Ệ (U+1EC6) survive for copy and search.
        assert!(cmap.contains("<1EDF>") && cmap.contains("<1EC6>"));
        assert!(shaped.subset.len() < FONT.len() / 10);
    }

    #[test]
    fn unknown_image_bytes_are_a_bad_request() {
        let err = Image::from_bytes(b"GIF89a").err();
        assert!(matches!(err, Some(PdfError::Image(_))));
    }
}
