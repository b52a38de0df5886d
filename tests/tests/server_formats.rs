//! PDF and XML signing through the running agent over HTTPS: outputs checked by pdfsig and
//! qpdf (PDF) and xmlsec1 (XML); bad documents refused before any dialog.

use std::{path::Path, process::Command};

use futures_util::SinkExt;
use kyso_tests::{
    agent::{answer, Agent},
    b64, pki, run, thumbprint, unb64, write_file, SoftHsm, USER_PIN,
};
use lopdf::{dictionary, Document, Object, Stream};
use serde_json::{json, Value};

const PORTAL: &str = "https://portal.example.vn";
const CONFIG: &str = "allowed_origins = [\"https://portal.example.vn\"]\n";

fn start() -> (SoftHsm, Agent) {
    let hsm = SoftHsm::new();
    let answers =
        json!({"pin": USER_PIN, "consent": "allow-once", "certificate": "first", "confirm": true});
    let agent = Agent::start(&hsm, CONFIG, answers);
    (hsm, agent)
}

fn asked(hsm: &SoftHsm) -> String {
    std::fs::read_to_string(hsm.scratch().join("answers.json.asked")).unwrap_or_default()
}

fn fixture_pdf() -> Vec<u8> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/pdftex-shared-mime-info-spec.pdf");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Writes `bytes` into `dir` and runs xmlsec1 on it against the test PKI.
fn assert_xmlsec1_verifies(dir: &Path, bytes: &[u8]) {
    let xml = write_file(dir, "signed.xml", bytes);
    let output = run(Command::new("xmlsec1")
        .arg("--verify")
        .arg("--trusted-pem")
        .arg(write_file(dir, "root.pem", pki().root_pem()))
        .arg("--untrusted-pem")
        .arg(write_file(dir, "chain.pem", pki().chain_pem()))
        .arg(&xml));
    assert!(
        output.status.success(),
        "xmlsec1: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// pdfsig's report on `bytes`, written into `dir`.
fn pdfsig_report(dir: &Path, bytes: &[u8]) -> String {
    let pdf = write_file(dir, "signed.pdf", bytes);
    String::from_utf8_lossy(&run(Command::new("pdfsig").arg(&pdf)).stdout).into_owned()
}

#[tokio::test]
async fn a_pdf_signed_visibly_over_https_is_valid_for_pdfsig_and_qpdf() {
    let (_hsm, agent) = start();
    let original = fixture_pdf();
    let answer = agent
        .post_json(
            PORTAL,
            "/v1/sign/pdf",
            json!({
                "certificate": thumbprint("company-rsa2048"),
                "data": b64(&original),
                "name": "to-khai.pdf",
                "options": {"reason": "Nộp hồ sơ", "location": "Hà Nội",
                            "visible": {"page": 1, "rect": [36, 36, 286, 116]}}
            }),
        )
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.json());
    let signed = unb64(&answer.json()["pdf"]);
    assert!(
        signed.starts_with(&original),
        "the original bytes must be kept"
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let report = pdfsig_report(dir.path(), &signed);
    let path = dir.path().join("signed.pdf");
    assert!(report.contains("Signature is Valid"), "{report}");
    assert!(report.contains("Total document signed"), "{report}");
    let qpdf = run(Command::new("qpdf").arg("--check").arg(&path));
    assert!(
        qpdf.status.success(),
        "{}",
        String::from_utf8_lossy(&qpdf.stdout)
    );
}

/// A one-page PDF of about `size` bytes: its content stream repeats an empty save/restore.
fn large_pdf(size: usize) -> Vec<u8> {
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let content = doc.add_object(Stream::new(dictionary! {}, b"q Q\n".repeat(size / 4)));
    let page = doc.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => pages_id,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        "Contents" => content,
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => vec![Object::Reference(page)], "Count" => 1,
        }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out)
        .unwrap_or_else(|e| panic!("lopdf save: {e}"));
    out
}

#[tokio::test]
async fn a_large_pdf_signed_over_the_websocket_reports_hashing_progress_and_validates() {
    let (_hsm, agent) = start();
    let original = large_pdf(3 << 20);
    let mut ws = agent
        .websocket(agent.port, "/v1/ws", Some(PORTAL))
        .await
        .unwrap_or_else(|e| panic!("WebSocket refused: {e}"));
    // The binary framing: u32 length of the JSON-RPC request, the request, the PDF bytes.
    let header = json!({"jsonrpc": "2.0", "id": 1, "method": "sign.pdf",
        "params": {"certificate": thumbprint("company-rsa2048"), "name": "ho-so.pdf"}})
    .to_string();
    let mut frame = (header.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(header.as_bytes());
    frame.extend_from_slice(&original);
    ws.send(tokio_tungstenite::tungstenite::Message::binary(frame))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (answer, notes) = answer(&mut ws, 1).await;
    let progress: Vec<(u64, u64)> = notes
        .iter()
        .filter(|n| n["method"] == "progress" && n["params"]["id"] == 1)
        .map(|n| {
            let p = &n["params"];
            (
                p["done"].as_u64().unwrap_or_default(),
                p["total"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    let signed = unb64(&answer["result"]["pdf"]);
    assert!(signed.starts_with(&original), "{answer}");
    assert!(progress.len() >= 10, "one note per 256 KB: {progress:?}");
    assert!(progress.windows(2).all(|w| w[0].0 <= w[1].0));
    assert_eq!(
        progress.last().copied(),
        Some((signed.len() as u64, signed.len() as u64))
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let report = pdfsig_report(dir.path(), &signed);
    assert!(report.contains("Signature is Valid"), "{report}");
    assert!(report.contains("Total document signed"), "{report}");
}

#[tokio::test]
async fn a_broken_pdf_is_refused_with_pdf_invalid_before_any_dialog() {
    let (hsm, agent) = start();
    let truncated = &fixture_pdf()[..4000];
    let answer = agent
        .post_json(
            PORTAL,
            "/v1/sign/pdf",
            json!({"certificate": thumbprint("company-rsa2048"), "data": b64(truncated)}),
        )
        .await;
    assert_eq!(answer.error_code(), "PDF_INVALID", "{:?}", answer.json());
    assert!(answer.json()["error"]["message_vi"].is_string());
    assert_eq!(
        asked(&hsm),
        "",
        "no dialog for a file that cannot be signed"
    );
}

const BHXH: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<Hoso>\r\n\t<ThongTin Id=\"data\">\r\n\t\t<MaDonVi>TA1234</MaDonVi>\r\n\t\t<TenDonVi>Công ty TNHH Ký Số</TenDonVi>\r\n\t</ThongTin>\r\n\t<CHUKYDONVI/>\r\n</Hoso>\r\n";

#[tokio::test]
async fn an_xml_signed_over_https_verifies_with_xmlsec1_and_keeps_every_other_byte() {
    let (_hsm, agent) = start();
    let answer = agent
        .post_json(
            PORTAL,
            "/v1/sign/xml",
            json!({
                "certificate": thumbprint("company-rsa2048"),
                "data": b64(BHXH.as_bytes()),
                "name": "bhxh.xml",
                "options": {"into": "CHUKYDONVI"}
            }),
        )
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.json());
    assert_eq!(answer.json()["weak_algorithm"], false);
    let signed = String::from_utf8(unb64(&answer.json()["xml"])).unwrap_or_default();
    let start = signed
        .find("<CHUKYDONVI>")
        .unwrap_or_else(|| panic!("{signed}"));
    let end = signed
        .find("</CHUKYDONVI>")
        .unwrap_or_else(|| panic!("{signed}"));
    let outside = format!(
        "{}<CHUKYDONVI/>{}",
        &signed[..start],
        &signed[end + "</CHUKYDONVI>".len()..]
    );
    assert_eq!(outside, BHXH, "only the signature may be inserted");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    assert_xmlsec1_verifies(dir.path(), signed.as_bytes());
}

#[tokio::test]
async fn verify_over_https_trusts_the_token_chain_and_reports_tampering_without_any_dialog() {
    let (hsm, agent) = start();
    let sign = |path: &'static str, data: &[u8], options: Value| {
        let body = json!({"certificate": thumbprint("company-rsa2048"), "data": b64(data),
                          "options": options});
        let agent = &agent;
        async move { agent.post_json(PORTAL, path, body).await.json() }
    };
    let pdf = unb64(&sign("/v1/sign/pdf", &fixture_pdf(), json!({})).await["pdf"]);
    let xml = unb64(
        &sign(
            "/v1/sign/xml",
            BHXH.as_bytes(),
            json!({"into": "CHUKYDONVI"}),
        )
        .await["xml"],
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // The independent verdicts first, so kyso's own are checked against them.
    assert!(pdfsig_report(dir.path(), &pdf).contains("Signature is Valid"));
    assert_xmlsec1_verifies(dir.path(), &xml);
    let asked_before = asked(&hsm);

    let verify = |path: &'static str, data: Vec<u8>| {
        let agent = &agent;
        async move {
            let answer = agent
                .post_json(PORTAL, path, json!({"data": b64(&data)}))
                .await;
            assert_eq!(answer.status, 200, "{:?}", answer.json());
            answer.json()
        }
    };
    let report = verify("/v1/verify/pdf", pdf.clone()).await;
    assert_eq!(report["valid"], true, "{report}");
    let signature = &report["signatures"][0];
    assert_eq!(signature["intact"], true);
    assert_eq!(signature["trusted"], true, "the token holds the CA chain");
    assert_eq!(signature["covers_whole_document"], true);
    assert_eq!(
        signature["signer"]["thumbprint"],
        thumbprint("company-rsa2048").as_str()
    );

    let report = verify("/v1/verify/xml", xml.clone()).await;
    assert_eq!(report["valid"], true, "{report}");
    assert_eq!(report["signatures"][0]["intact"], true);

    // One byte inside the signed range of the PDF, and the XML's signed text, changed.
    let mut tampered = pdf.clone();
    tampered[200] ^= 0x01;
    assert!(!pdfsig_report(dir.path(), &tampered).contains("Signature is Valid"));
    let report = verify("/v1/verify/pdf", tampered).await;
    assert_eq!(report["valid"], false);
    assert_eq!(report["signatures"][0]["intact"], false, "{report}");
    let tampered = String::from_utf8_lossy(&xml)
        .replacen("TA1234", "TA1235", 1)
        .into_bytes();
    assert_ne!(tampered, xml, "the fixture must hold a value to change");
    let report = verify("/v1/verify/xml", tampered).await;
    assert_eq!(report["valid"], false);
    assert_eq!(report["signatures"][0]["intact"], false, "{report}");

    // Verification uses no key: no PIN, no confirmation, nothing more asked.
    assert_eq!(asked(&hsm), asked_before);
    let garbage = agent
        .post_json(
            PORTAL,
            "/v1/verify/pdf",
            json!({"data": b64(b"%PDF-1.7 not really")}),
        )
        .await;
    assert_eq!(garbage.error_code(), "PDF_INVALID");
}

#[tokio::test]
async fn an_xml_with_a_dtd_is_refused_before_any_dialog() {
    let (hsm, agent) = start();
    let hostile =
        "<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><a>&x;</a>";
    let answer = agent
        .post_json(
            PORTAL,
            "/v1/sign/xml",
            json!({"certificate": thumbprint("company-rsa2048"), "data": b64(hostile.as_bytes())}),
        )
        .await;
    assert_eq!(
        answer.error_code(),
        "XML_DTD_NOT_ALLOWED",
        "{:?}",
        answer.json()
    );
    assert_eq!(asked(&hsm), "");
}

#[tokio::test]
async fn a_batch_of_a_pdf_an_xml_and_a_cms_asks_the_pin_once_and_each_verifies() {
    let (hsm, agent) = start();
    let original = fixture_pdf();
    let answer = agent
        .post_json(
            PORTAL,
            "/v1/sign/batch",
            json!({
                "certificate": thumbprint("company-rsa2048"),
                "items": [
                    {"type": "pdf", "data": b64(&original), "name": "to-khai.pdf",
                     "options": {"visible": {"page": 1, "rect": [36, 36, 286, 116]}}},
                    {"type": "xml", "data": b64(BHXH.as_bytes()), "name": "bhxh.xml",
                     "options": {"into": "CHUKYDONVI", "prefix": "ds"}},
                    {"type": "cms", "data": b64(b"hop dong")}
                ]
            }),
        )
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.json());
    let results = answer.json()["results"].clone();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));

    let report = pdfsig_report(dir.path(), &unb64(&results[0]["pdf"]));
    assert!(report.contains("Signature is Valid"), "{report}");
    assert!(report.contains("Total document signed"), "{report}");

    let xml = unb64(&results[1]["xml"]);
    assert!(String::from_utf8_lossy(&xml).contains("<ds:Signature"));
    assert_xmlsec1_verifies(dir.path(), &xml);

    let content =
        kyso_tests::openssl_cms_verify(dir.path(), &unb64(&results[2]["cms"]), Some(b"hop dong"));
    assert!(content.is_ok(), "openssl cms -verify: {content:?}");

    let dialogs = asked(&hsm);
    assert_eq!(
        dialogs.matches("pin").count(),
        1,
        "one PIN for the batch: {dialogs}"
    );
    let shown =
        std::fs::read_to_string(hsm.scratch().join("answers.json.shown")).unwrap_or_default();
    let pin: Value = serde_json::from_str(shown.lines().next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {shown}"));
    let purpose = pin["purpose"].as_str().unwrap_or_default();
    assert!(
        purpose.contains("3 ") && purpose.contains("to-khai.pdf") && purpose.contains("bhxh.xml"),
        "the PIN dialog says what is signed: {purpose}"
    );
    assert_eq!(pin["origin"], PORTAL, "and for whom");
}

#[tokio::test]
async fn a_batch_with_one_broken_pdf_is_refused_before_any_dialog() {
    let (hsm, agent) = start();
    let answer = agent
        .post_json(
            PORTAL,
            "/v1/sign/batch",
            json!({
                "certificate": thumbprint("company-rsa2048"),
                "items": [
                    {"type": "cms", "data": b64(b"hop dong")},
                    {"type": "pdf", "data": b64(&fixture_pdf()[..4000])}
                ]
            }),
        )
        .await;
    assert_eq!(answer.error_code(), "PDF_INVALID", "{:?}", answer.json());
    assert_eq!(asked(&hsm), "", "no dialog when an item cannot be signed");
}

#[tokio::test]
async fn a_raw_pdf_body_with_options_in_a_header_comes_back_signed_as_a_pdf() {
    let (_hsm, agent) = start();
    let original = fixture_pdf();
    // Vietnamese text cannot travel raw in a header a page sets: it is percent-encoded, as
    // encodeURIComponent does.
    let options = json!({
        "certificate": thumbprint("company-rsa2048"),
        "name": "hồ sơ.pdf",
        "options": {"reason": "Nộp hồ sơ"}
    })
    .to_string();
    let encoded: String = options
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let answer = agent
        .request(
            "POST",
            "/v1/sign/pdf",
            &[
                ("origin", PORTAL),
                ("content-type", "application/pdf"),
                ("kyso-options", &encoded),
            ],
            Some(original.clone()),
        )
        .await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.header("content-type"), Some("application/pdf"));
    let certificate = answer.header("kyso-certificate").unwrap_or_default();
    assert_eq!(
        kyso_certs::thumbprint(&unb64(&Value::String(certificate.to_owned()))),
        thumbprint("company-rsa2048")
    );
    assert!(answer.body.starts_with(&original));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let report = pdfsig_report(dir.path(), &answer.body);
    assert!(report.contains("Signature is Valid"), "{report}");
    assert!(report.contains("Total document signed"), "{report}");

    // A simple (text/plain) POST, which skips the CORS preflight, is refused.
    let plain = agent
        .request(
            "POST",
            "/v1/sign/pdf",
            &[("origin", PORTAL), ("content-type", "text/plain")],
            Some(original),
        )
        .await;
    assert_eq!(plain.error_code(), "BAD_REQUEST");
}
