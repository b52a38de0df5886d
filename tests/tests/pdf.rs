//! `kyso sign pdf` against an isolated SoftHSM token. Every signed file is checked by tools
//! nobody here wrote: poppler's `pdfsig`, `qpdf --check` and pyHanko's validator (with the
//! test root as the only trust anchor). Input PDFs are generated with lopdf and turned into
//! the variants real producers write with qpdf.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use kyso_tests::{pki, run, thumbprint, write_file, SoftHsm, USER_PIN};
use lopdf::{dictionary, Document, Object, Stream};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A validator on PATH or in the workspace's `.venv/bin`; missing is a failure, not a skip.
fn validator(name: &str) -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.venv/bin")
        .join(name);
    if venv.is_file() {
        return venv;
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("{name} is not installed: run scripts/setup.sh test (it installs the validators)")
    })
}

/// A PDF of `pages` pages with a line of text each, written by lopdf (classic xref table).
fn make_pdf(pages: usize, version: &str) -> Vec<u8> {
    let mut doc = Document::with_version(version);
    let pages_id = doc.new_object_id();
    let font = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
    });
    let mut kids = Vec::new();
    for n in 1..=pages {
        let content = format!("BT /F1 24 Tf 72 720 Td (Trang {n} - kyso test) Tj ET");
        let content = doc.add_object(Stream::new(dictionary! {}, content.into_bytes()));
        let page = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
            "Contents" => content,
            "Resources" => dictionary! { "Font" => dictionary! { "F1" => font } },
        });
        kids.push(Object::Reference(page));
    }
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => kids, "Count" => pages as i64,
        }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out)
        .unwrap_or_else(|e| panic!("lopdf save: {e}"));
    out
}

/// A one-page form with an empty signature field `name` (merged field and widget).
fn make_form_with_empty_field(name: &str) -> Vec<u8> {
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let page_id = doc.new_object_id();
    let field = doc.add_object(dictionary! {
        "FT" => "Sig",
        "T" => Object::string_literal(name),
        "Type" => "Annot",
        "Subtype" => "Widget",
        "Rect" => vec![300.into(), 100.into(), 520.into(), 180.into()],
        "F" => 4,
        "P" => page_id,
    });
    let content = doc.add_object(Stream::new(
        dictionary! {},
        b"0 0 1 RG 300 100 220 80 re S".to_vec(),
    ));
    doc.objects.insert(
        page_id,
        Object::Dictionary(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
            "Contents" => content,
            "Annots" => vec![Object::Reference(field)],
        }),
    );
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => vec![Object::Reference(page_id)], "Count" => 1,
        }),
    );
    let acroform = doc.add_object(dictionary! { "Fields" => vec![Object::Reference(field)] });
    let catalog = doc.add_object(dictionary! {
        "Type" => "Catalog", "Pages" => pages_id, "AcroForm" => acroform,
    });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out)
        .unwrap_or_else(|e| panic!("lopdf save: {e}"));
    out
}

/// Rewrites `input` with qpdf `args` (object streams, linearization, encryption...).
fn qpdf_variant(dir: &Path, input: &[u8], name: &str, args: &[&str]) -> PathBuf {
    let source = write_file(dir, &format!("{name}-source.pdf"), input);
    let out = dir.join(format!("{name}.pdf"));
    let output = run(Command::new(validator("qpdf"))
        .args(args)
        .arg(&source)
        .arg(&out));
    assert!(
        output.status.success() || output.status.code() == Some(3),
        "qpdf {args:?}: {}",
        text(&output.stderr)
    );
    out
}

/// Runs `kyso sign pdf input -o output` with the company RSA key and `extra` options.
fn sign(hsm: &SoftHsm, input: &Path, output: &Path, extra: &[&str]) -> Output {
    sign_as(hsm, "company-rsa2048", input, output, extra)
}

fn sign_as(hsm: &SoftHsm, user: &str, input: &Path, output: &Path, extra: &[&str]) -> Output {
    let pin = hsm.pin_file(USER_PIN);
    run(hsm
        .kyso()
        .args(["sign", "pdf"])
        .arg(input)
        .arg("-o")
        .arg(output)
        .arg("--cert")
        .arg(thumbprint(user))
        .arg("--pin-file")
        .arg(&pin)
        .args(extra))
}

fn sign_ok(hsm: &SoftHsm, input: &Path, output: &Path, extra: &[&str]) {
    let result = sign(hsm, input, output, extra);
    assert!(result.status.success(), "kyso: {}", text(&result.stderr));
}

/// pdfsig's verdict: every signature valid, the last one covering the whole document.
fn assert_pdfsig_valid(path: &Path, signatures: usize) {
    let output = run(Command::new(validator("pdfsig")).arg(path));
    let report = text(&output.stdout);
    let count = report
        .matches("Signature Validation: Signature is Valid.")
        .count();
    assert_eq!(
        count,
        signatures,
        "pdfsig:\n{report}{}",
        text(&output.stderr)
    );
    let last = report.rsplit("Signature #").next().unwrap_or_default();
    assert!(
        last.contains("Total document signed"),
        "the last signature must cover the whole file:\n{report}"
    );
}

fn assert_qpdf_check(path: &Path) {
    let output = run(Command::new(validator("qpdf")).arg("--check").arg(path));
    assert!(
        output.status.success(),
        "qpdf --check {}:\n{}{}",
        path.display(),
        text(&output.stdout),
        text(&output.stderr)
    );
}

/// pyHanko's validator with the test root as the only trust anchor. Returns its report.
fn assert_pyhanko_valid(path: &Path) -> String {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let root = write_file(dir, "root.pem", pki().root_pem());
    let output = run(Command::new(validator("pyhanko"))
        .args(["sign", "validate", "--no-revocation-check", "--trust"])
        .arg(&root)
        .arg("--trust-replace")
        .arg("--pretty-print")
        .arg(path));
    let report = text(&output.stdout);
    assert!(
        output.status.success(),
        "pyhanko validate {}:\n{report}{}",
        path.display(),
        text(&output.stderr)
    );
    let fields = report.matches("Field ").count();
    for verdict in [
        "The signature is judged VALID.",
        "The signature is cryptographically sound.",
        "The signer's certificate is trusted.",
    ] {
        assert_eq!(
            report.matches(verdict).count(),
            fields,
            "pyHanko: not every signature says {verdict:?}:\n{report}"
        );
    }
    report
}

/// All three validators, and the original bytes kept as the output's prefix.
fn assert_signed(original: &[u8], signed_path: &Path, signatures: usize) {
    let signed = std::fs::read(signed_path).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        signed.starts_with(original),
        "the incremental update must keep the original bytes"
    );
    assert_pdfsig_valid(signed_path, signatures);
    assert_qpdf_check(signed_path);
    assert_pyhanko_valid(signed_path);
}

#[test]
fn invisible_signature_on_a_classic_xref_pdf_is_valid_and_keeps_the_input() {
    let hsm = SoftHsm::new();
    let dir = hsm.scratch();
    // PDF 1.3: the oldest version the issue names.
    let original = make_pdf(2, "1.3");
    let input = write_file(dir, "hợp đồng.pdf", &original);
    let output = dir.join("hợp đồng-signed.pdf");
    sign_ok(
        &hsm,
        &input,
        &output,
        &["--reason", "Phê duyệt", "--location", "Hà Nội"],
    );
    assert_signed(&original, &output, 1);
    assert_eq!(std::fs::read(&input).unwrap_or_default(), original);
    let report = text(&run(Command::new(validator("pdfsig")).arg(&output)).stdout);
    assert!(report.contains("ETSI.CAdES.detached"), "{report}");
}

#[test]
fn object_stream_and_xref_stream_inputs_get_an_xref_stream_update() {
    let hsm = SoftHsm::new();
    let dir = hsm.scratch();
    let input = qpdf_variant(
        dir,
        &make_pdf(3, "1.5"),
        "objstm",
        &["--object-streams=generate"],
    );
    let original = std::fs::read(&input).unwrap_or_default();
    let output = dir.join("objstm-signed.pdf");
    sign_ok(&hsm, &input, &output, &["--visible", "--page", "2"]);
    assert_signed(&original, &output, 1);
    let signed = std::fs::read(&output).unwrap_or_default();
    let update = text(&signed[original.len()..]);
    assert!(update.contains("/Type/XRef") || update.contains("/Type /XRef"));
}

#[test]
fn linearized_and_pdf_2_0_inputs_are_signed() {
    let hsm = SoftHsm::new();
    let dir = hsm.scratch();
    let variants = [
        ("linearized", vec!["--linearize"]),
        (
            "pdf20",
            vec!["--force-version=2.0", "--object-streams=generate"],
        ),
    ];
    for (name, args) in variants {
        let input = qpdf_variant(dir, &make_pdf(4, "1.6"), name, &args);
        let original = std::fs::read(&input).unwrap_or_default();
        let output = dir.join(format!("{name}-signed.pdf"));
        sign_ok(&hsm, &input, &output, &["--visible", "--page", "-1"]);
        assert_signed(&original, &output, 1);
    }
}

#[test]
fn signing_a_signed_pdf_keeps_the_first_signature_valid() {
    let hsm = SoftHsm::new();
    let dir = hsm.scratch();
    let original = make_pdf(1, "1.7");
    let input = write_file(dir, "in.pdf", &original);
    let once = dir.join("once.pdf");
    sign_ok(&hsm, &input, &once, &["--visible"]);
    let once_bytes = std::fs::read(&once).unwrap_or_default();
    let twice = dir.join("twice.pdf");
    let result = sign_as(
        &hsm,
        "person-p256",
        &once,
        &twice,
        &["--visible", "--rect", "300,36,500,106"],
    );
    assert!(result.status.success(), "{}", text(&result.stderr));
    assert_signed(&once_bytes, &twice, 2);
}

#[test]
fn an_empty_signature_field_is_filled_by_name() {
    let hsm = SoftHsm::new();
    let dir = hsm.scratch();
    let original = make_form_with_empty_field("ChuKyGiamDoc");
    let input = write_file(dir, "form.pdf", &original);
    let output = dir.join("form-signed.pdf");
    sign_ok(
        &hsm,
        &input,
        &output,
        &["--field", "ChuKyGiamDoc", "--visible"],
    );
    assert_signed(&original, &output, 1);
    let report = text(&run(Command::new(validator("pdfsig")).arg(&output)).stdout);
    assert!(report.contains("ChuKyGiamDoc"), "{report}");

    let missing = sign(&hsm, &input, &dir.join("x.pdf"), &["--field", "KhongCo"]);
    assert!(text(&missing.stderr).contains("PDF_FIELD_NOT_FOUND"));
}

#[test]
fn legacy_subfilter_validates_for_old_style_validators() {
    let hsm = SoftHsm::new();
    let dir = hsm.scratch();
    let original = make_pdf(1, "1.4");
    let input = write_file(dir, "in.pdf", &original);
    let output = dir.join("legacy.pdf");
    sign_ok(&hsm, &input, &output, &["--legacy-subfilter", "--visible"]);
    assert_signed(&original, &output, 1);
    let report = text(&run(Command::new(validator("pdfsig")).arg(&output)).stdout);
    assert!(report.contains("adbe.pkcs7.detached"), "{report}");
}

/// One field with a widget on each page (ISO 32000 §12.7.4: a field may have several widgets).
/// Checked with pyHanko and qpdf: poppler's `pdfsig` lists each widget as its own field and,
/// not inheriting the parent's `/V`, calls them unsigned, so it cannot judge this layout.
#[test]
fn widgets_on_every_page_or_on_a_page_list_belong_to_one_valid_signature() {
    let hsm = SoftHsm::new();
    let dir = hsm.scratch();
    for (pages, selector, expected) in [(3, "all", vec![1, 1, 1]), (4, "1,-1", vec![1, 0, 0, 1])] {
        let original = make_pdf(pages, "1.7");
        let input = write_file(dir, &format!("in-{pages}.pdf"), &original);
        let output = dir.join(format!("pages-{pages}.pdf"));
        sign_ok(&hsm, &input, &output, &["--visible", "--page", selector]);
        let signed = std::fs::read(&output).unwrap_or_default();
        assert!(signed.starts_with(&original));
        assert_qpdf_check(&output);
        let report = assert_pyhanko_valid(&output);
        assert_eq!(report.matches("Field ").count(), 1, "{report}");
        let document = Document::load_mem(&signed).unwrap_or_else(|e| panic!("lopdf: {e}"));
        let widgets_per_page: Vec<usize> = document
            .get_pages()
            .values()
            .map(|page| {
                document
                    .get_page_annotations(*page)
                    .map(|annots| annots.len())
                    .unwrap_or(0)
            })
            .collect();
        assert_eq!(widgets_per_page, expected, "--page {selector}");
    }
}

#[test]
fn certified_no_changes_document_refuses_a_second_signature() {
    let hsm = SoftHsm::new();
    let dir = hsm.scratch();
    let original = make_pdf(1, "1.7");
    let input = write_file(dir, "in.pdf", &original);
    let certified = dir.join("certified.pdf");
    sign_ok(&hsm, &input, &certified, &["--certify", "no-changes"]);
    assert_signed(&original, &certified, 1);
    let report = assert_pyhanko_valid(&certified);
    assert!(report.to_lowercase().contains("certif"), "{report}");

    let again = dir.join("again.pdf");
    let result = sign(&hsm, &certified, &again, &[]);
    assert!(!result.status.success());
    assert!(
        text(&result.stderr).contains("PDF_CHANGES_NOT_ALLOWED"),
        "{}",
        text(&result.stderr)
    );
    assert!(!again.exists(), "nothing may be written on failure");
}

#[test]
fn encrypted_truncated_and_garbage_inputs_fail_with_their_codes() {
    let hsm = SoftHsm::new();
    let dir = hsm.scratch();
    let plain = make_pdf(1, "1.7");
    let encrypted = qpdf_variant(
        dir,
        &plain,
        "encrypted",
        &["--encrypt", "", "owner-pass", "256", "--"],
    );
    let truncated = write_file(dir, "truncated.pdf", &plain[..plain.len() / 2]);
    let garbage = write_file(dir, "garbage.pdf", b"this is not a PDF at all\n".repeat(50));
    for (input, code) in [
        (&encrypted, "PDF_ENCRYPTED"),
        (&truncated, "PDF_INVALID"),
        (&garbage, "PDF_INVALID"),
    ] {
        let before = std::fs::read(input).unwrap_or_default();
        let output = dir.join("out.pdf");
        let result = sign(&hsm, input, &output, &[]);
        assert!(!result.status.success());
        assert!(
            text(&result.stderr).contains(code),
            "{}: {}",
            input.display(),
            text(&result.stderr)
        );
        assert!(!output.exists());
        assert_eq!(std::fs::read(input).unwrap_or_default(), before);
    }
}

#[test]
fn missing_page_and_same_output_as_input_are_refused() {
    let hsm = SoftHsm::new();
    let dir = hsm.scratch();
    let input = write_file(dir, "in.pdf", make_pdf(2, "1.7"));
    let result = sign(
        &hsm,
        &input,
        &dir.join("out.pdf"),
        &["--visible", "--page", "5"],
    );
    assert!(text(&result.stderr).contains("PDF_PAGE_NOT_FOUND"));
    let result = sign(&hsm, &input, &input, &[]);
    assert!(text(&result.stderr).contains("BAD_REQUEST"));
}

/// A PNG logo: a red disc on a transparent background.
fn logo_png() -> Vec<u8> {
    let (w, h) = (64u32, 64u32);
    let mut pixels = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let (dx, dy) = (f64::from(x) - 32.0, f64::from(y) - 32.0);
            let inside = dx * dx + dy * dy < 900.0;
            pixels.extend_from_slice(&[200, 20, 20, if inside { 255 } else { 0 }]);
        }
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap_or_else(|e| panic!("{e}"));
        writer
            .write_image_data(&pixels)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    out
}

/// Reads a binary PGM (`pdftoppm -gray`): width, height, pixels.
fn read_pgm(path: &Path) -> (usize, usize, Vec<u8>) {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{e}"));
    let mut fields = Vec::new();
    let mut at = 0;
    while fields.len() < 4 {
        while data[at].is_ascii_whitespace() {
            at += 1;
        }
        let start = at;
        while !data[at].is_ascii_whitespace() {
            at += 1;
        }
        fields.push(text(&data[start..at]));
    }
    let parse = |s: &str| s.parse::<usize>().unwrap_or_else(|e| panic!("{e}"));
    (
        parse(&fields[1]),
        parse(&fields[2]),
        data[at + 1..].to_vec(),
    )
}

#[test]
fn visible_vietnamese_signature_renders_in_its_rectangle_and_copies_as_text() {
    let hsm = SoftHsm::new();
    let dir = hsm.scratch();
    let original = make_pdf(1, "1.7");
    let input = write_file(dir, "in.pdf", &original);
    let logo = write_file(dir, "logo.png", logo_png());
    let output = dir.join("visible.pdf");
    let logo_arg = logo.to_string_lossy().into_owned();
    sign_ok(
        &hsm,
        &input,
        &output,
        &[
            "--visible",
            "--rect",
            "300,40,560,130",
            "--image",
            &logo_arg,
            "--reason",
            "Phê duyệt hợp đồng",
            "--location",
            "Hà Nội",
        ],
    );
    assert_signed(&original, &output, 1);

    // The ToUnicode map makes the Vietnamese text extractable.
    let extracted = run(Command::new(validator("pdftotext")).arg(&output).arg("-"));
    let words = text(&extracted.stdout);
    for expected in ["Ký bởi", "CÔNG TY TNHH KÝ SỐ VIỆT NAM", "MST", "Hà Nội"] {
        assert!(words.contains(expected), "{expected:?} not in:\n{words}");
    }

    // Rendered at 72 dpi a pixel is a point; the page is 842 high, y grows downwards.
    let prefix = dir.join("page");
    let rendered = run(Command::new(validator("pdftoppm"))
        .args(["-gray", "-r", "72", "-f", "1", "-l", "1", "-singlefile"])
        .arg(&output)
        .arg(&prefix));
    assert!(rendered.status.success(), "{}", text(&rendered.stderr));
    let (width, height, pixels) = read_pgm(&prefix.with_extension("pgm"));
    assert_eq!((width, height), (595, 842));
    let dark = |x0: usize, y0: usize, x1: usize, y1: usize| {
        (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .filter(|&(x, y)| pixels[y * width + x] < 160)
            .count()
    };
    let (top, bottom) = (842 - 130, 842 - 40);
    // Inside the rectangle: text and logo ink. Its border: a drawn line on each side.
    assert!(
        dark(303, top + 3, 557, bottom - 3) > 500,
        "no content drawn"
    );
    assert!(dark(300, top, 560, top + 2) > 200, "top border missing");
    assert!(
        dark(300, bottom - 2, 560, bottom) > 200,
        "bottom border missing"
    );
    // Around it: the page stays blank.
    assert_eq!(
        dark(300, top - 30, 560, top - 4),
        0,
        "ink above the rectangle"
    );

    if std::env::var_os("KYSO_UPDATE_DOCS").is_some() {
        let png = run(Command::new(validator("pdftoppm"))
            .args([
                "-png", "-r", "110", "-x", "440", "-y", "1040", "-W", "440", "-H", "230",
            ])
            .args(["-f", "1", "-l", "1", "-singlefile"])
            .arg(&output)
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/pdf-visible-signature")));
        assert!(png.status.success());
    }
}

#[test]
fn a_real_pdftex_document_with_links_is_signed_on_its_last_page() {
    let hsm = SoftHsm::new();
    let dir = hsm.scratch();
    let input =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/pdftex-shared-mime-info-spec.pdf");
    let original = std::fs::read(&input).unwrap_or_else(|e| panic!("{e}"));
    let output = dir.join("spec-signed.pdf");
    sign_ok(
        &hsm,
        &input,
        &output,
        &["--visible", "--page", "-1", "--reason", "Đã xem xét"],
    );
    assert_signed(&original, &output, 1);
    let last_page = run(Command::new(validator("pdftotext"))
        .args(["-f", "17", "-l", "17"])
        .arg(&output)
        .arg("-"));
    assert!(text(&last_page.stdout).contains("Đã xem xét"));
}

/// `kyso verify pdf FILE --json`, trusting the test root when `trusted`: whether it exited
/// successfully, and its report per signature.
fn kyso_verify(hsm: &SoftHsm, path: &Path, trusted: bool) -> (bool, Vec<serde_json::Value>) {
    let mut command = hsm.kyso();
    command.args(["verify", "pdf", "--json"]).arg(path);
    if trusted {
        let root = write_file(hsm.scratch(), "root.pem", pki().root_pem());
        command.arg("--trusted").arg(root);
    }
    let output = run(&mut command);
    let reports = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("kyso verify pdf --json ({e}): {}", text(&output.stdout)));
    (output.status.success(), reports)
}

fn pdfsig_valid_count(path: &Path) -> usize {
    text(&run(Command::new(validator("pdfsig")).arg(path)).stdout)
        .matches("Signature is Valid")
        .count()
}

#[test]
fn verify_pdf_agrees_with_pdfsig_on_a_twice_signed_file_a_tampered_one_and_unsigned_additions() {
    let hsm = SoftHsm::new();
    let dir = hsm.scratch();
    let input = write_file(dir, "in.pdf", make_pdf(1, "1.7"));
    let once = dir.join("once.pdf");
    sign_ok(&hsm, &input, &once, &["--visible", "--reason", "Phê duyệt"]);
    let twice = dir.join("twice.pdf");
    let result = sign_as(&hsm, "person-p256", &once, &twice, &[]);
    assert!(result.status.success(), "{}", text(&result.stderr));

    let (ok, reports) = kyso_verify(&hsm, &twice, true);
    assert!(ok, "{reports:?}");
    assert_eq!(pdfsig_valid_count(&twice), 2);
    assert_eq!(reports.len(), 2, "{reports:?}");
    for report in &reports {
        assert_eq!(
            (&report["intact"], &report["trusted"]),
            (&true.into(), &true.into())
        );
    }
    // The first signature stops where the second revision starts; the second covers all.
    assert_eq!(reports[0]["covers_whole_document"], false);
    assert_eq!(reports[1]["covers_whole_document"], true);
    assert_eq!(reports[0]["reason"], "Phê duyệt");
    assert_eq!(
        reports[1]["signer"]["thumbprint"],
        thumbprint("person-p256").as_str()
    );

    // Without the root the signatures are intact but not trusted, and the exit says so.
    let (ok, reports) = kyso_verify(&hsm, &twice, false);
    assert!(!ok);
    assert!(reports
        .iter()
        .all(|r| r["intact"] == true && r["trusted"] == false));

    // One byte of page text changed: both signatures cover it; kyso and pdfsig both refuse.
    let mut bytes = std::fs::read(&twice).unwrap_or_default();
    let at = bytes
        .windows(5)
        .position(|w| w == b"Trang")
        .unwrap_or_else(|| panic!("page text not found"));
    bytes[at + 4] = b'h';
    let tampered = write_file(dir, "tampered.pdf", &bytes);
    let (ok, reports) = kyso_verify(&hsm, &tampered, true);
    assert!(!ok);
    assert!(reports.iter().all(|r| r["intact"] == false), "{reports:?}");
    assert_eq!(pdfsig_valid_count(&tampered), 0);

    // Bytes appended after the last signature: still intact, but the document fails.
    let mut bytes = std::fs::read(&twice).unwrap_or_default();
    bytes.extend_from_slice(b"\n% added later\n");
    let extended = write_file(dir, "extended.pdf", &bytes);
    let (ok, reports) = kyso_verify(&hsm, &extended, true);
    assert!(!ok);
    assert!(reports.iter().all(|r| r["intact"] == true));
    assert!(
        reports[1]["problems"]
            .to_string()
            .contains("after the last signature"),
        "{reports:?}"
    );

    // An unsigned PDF has nothing to verify: a clear failure, not success.
    let (ok, reports) = kyso_verify(&hsm, &input, true);
    assert!(!ok && reports.is_empty());
}

#[test]
fn verify_pdf_accepts_a_signature_pyhanko_made_and_input_files_are_left_alone() {
    let hsm = SoftHsm::new();
    let dir = hsm.scratch();
    let input = write_file(dir, "in.pdf", make_pdf(2, "1.7"));
    let user = pki()
        .user("company-rsa2048")
        .unwrap_or_else(|| panic!("no test user"));
    let key = write_file(dir, "key.der", &user.key_pkcs8_der);
    let cert = write_file(dir, "cert.der", &user.cert_der);
    let chain = write_file(dir, "issuing.der", &pki().issuing.cert_der);
    let signed = dir.join("pyhanko.pdf");
    let output = run(Command::new(validator("pyhanko"))
        .args([
            "sign",
            "addsig",
            "--field",
            "ChuKy1",
            "pemder",
            "--no-pass",
            "--key",
        ])
        .arg(&key)
        .arg("--cert")
        .arg(&cert)
        .arg("--chain")
        .arg(&chain)
        .arg(&input)
        .arg(&signed));
    assert!(output.status.success(), "pyhanko: {}", text(&output.stderr));
    let before = std::fs::read(&signed).unwrap_or_default();
    let (ok, reports) = kyso_verify(&hsm, &signed, true);
    assert!(ok, "{reports:?}");
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0]["field"], "ChuKy1");
    assert_eq!(reports[0]["covers_whole_document"], true);
    assert_eq!(
        reports[0]["signer"]["thumbprint"],
        thumbprint("company-rsa2048").as_str()
    );
    assert_eq!(std::fs::read(&signed).unwrap_or_default(), before);
}
