//! PDF and XML signing through the running agent over HTTPS: outputs checked by pdfsig and
//! qpdf (PDF) and xmlsec1 (XML); bad documents refused before any dialog.

use std::{path::Path, process::Command};

use base64::Engine;
use kyso_tests::{agent::Agent, pki, run, write_file, SoftHsm, USER_PIN};
use serde_json::{json, Value};

const PORTAL: &str = "https://portal.example.vn";
const CONFIG: &str = "allowed_origins = [\"https://portal.example.vn\"]\n";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(value: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(value.as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("not base64: {e}"))
}

fn thumbprint(user: &str) -> String {
    kyso_certs::thumbprint(
        &pki()
            .user(user)
            .unwrap_or_else(|| panic!("{user}"))
            .cert_der,
    )
}

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
    let path = dir.path().join("signed.pdf");
    std::fs::write(&path, &signed).unwrap_or_else(|e| panic!("{e}"));
    let pdfsig = run(Command::new("pdfsig").arg(&path));
    let report = String::from_utf8_lossy(&pdfsig.stdout);
    assert!(report.contains("Signature is Valid"), "{report}");
    assert!(report.contains("Total document signed"), "{report}");
    let qpdf = run(Command::new("qpdf").arg("--check").arg(&path));
    assert!(
        qpdf.status.success(),
        "{}",
        String::from_utf8_lossy(&qpdf.stdout)
    );
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
    let xml = dir.path().join("signed.xml");
    std::fs::write(&xml, &signed).unwrap_or_else(|e| panic!("{e}"));
    let output = run(Command::new("xmlsec1")
        .arg("--verify")
        .arg("--trusted-pem")
        .arg(write_file(dir.path(), "root.pem", pki().root_pem()))
        .arg("--untrusted-pem")
        .arg(write_file(dir.path(), "chain.pem", pki().chain_pem()))
        .arg(&xml));
    assert!(
        output.status.success(),
        "xmlsec1: {}",
        String::from_utf8_lossy(&output.stderr)
    );
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
