//! The VNPT-CA plugin protocol spoken frame by frame to a real `kyso serve` (SoftHSM token,
//! local TLS): the portal login pattern, PDF and XML signing, framing edge cases, origin
//! checks and port fallback. Signatures are checked by openssl cms, pdfsig and xmlsec1.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use kyso_tests::{
    agent::{Agent, WebSocket as Socket},
    b64, openssl_cms_verify, pki, run, unb64, write_file, SoftHsm, USER_PIN,
};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const PORTAL: &str = "https://dichvucong.example.vn";
const ANSWERS: fn() -> Value =
    || json!({"pin": USER_PIN, "consent": "allow-once", "certificate": "first", "confirm": true});

fn config(ports: &str, extra: &str) -> String {
    format!(
        "allowed_origins = [\"{PORTAL}\"]\nvnpt_compat = true\nvnpt_compat_ports = {ports}\n{extra}"
    )
}

fn data_dir(agent: &Agent) -> PathBuf {
    agent
        .ca_pem()
        .parent()
        .and_then(|p| p.parent())
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("no data dir"))
}

/// What the agent wrote about its listener.
fn listener_status(agent: &Agent) -> Value {
    let path = data_dir(agent).join("compat-vnpt.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"))
}

fn compat_port(agent: &Agent) -> u16 {
    listener_status(agent)["port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or_else(|| panic!("no compat port: {}", listener_status(agent)))
}

fn start(extra: &str) -> (SoftHsm, Agent) {
    let hsm = SoftHsm::new();
    let agent = Agent::start(&hsm, &config("[0]", extra), ANSWERS());
    (hsm, agent)
}

async fn open(
    agent: &Agent,
    port: u16,
    origin: Option<&str>,
) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    agent.websocket(port, "/plugin", origin).await
}

async fn connect(agent: &Agent) -> Socket {
    open(agent, compat_port(agent), Some(PORTAL))
        .await
        .unwrap_or_else(|e| panic!("upgrade refused: {e}"))
}

fn call(function: i64, callback: &str, args: &[&str]) -> String {
    json!({"functionID": function, "funcCallback": callback, "args": args, "domain": "dichvucong.example.vn"})
        .to_string()
}

async fn send(ws: &mut Socket, frame: String) {
    ws.send(Message::text(frame))
        .await
        .unwrap_or_else(|e| panic!("send: {e}"));
}

/// The next answer, split as the client library splits it: `(result, callback)`.
async fn answer(ws: &mut Socket) -> (String, String) {
    let message = tokio::time::timeout(Duration::from_secs(60), ws.next())
        .await
        .unwrap_or_else(|_| panic!("no answer within 60 s"))
        .unwrap_or_else(|| panic!("connection closed"))
        .unwrap_or_else(|e| panic!("{e}"));
    let text = message.into_text().unwrap_or_else(|e| panic!("{e}"));
    let parts: Vec<&str> = text.split('*').collect();
    assert_eq!(
        parts.len(),
        2,
        "one `*` separates result and callback: {text}"
    );
    (parts[0].to_owned(), parts[1].to_owned())
}

async fn json_answer(ws: &mut Socket, callback: &str) -> Value {
    let (result, got) = answer(ws).await;
    assert_eq!(got, callback, "{result}");
    serde_json::from_str(&result).unwrap_or_else(|e| panic!("not JSON ({e}): {result}"))
}

#[tokio::test]
async fn the_portal_login_pattern_answers_in_order_and_the_challenge_signature_verifies_with_openssl(
) {
    let (hsm, agent) = start("");
    let mut ws = connect(&agent).await;
    // The first three calls go out back to back; answers must come in order.
    send(&mut ws, call(7, "callbackDefault", &[""])).await;
    send(&mut ws, call(6, "onLicence", &["PExpY2Vuc2UvPg=="])).await;
    send(&mut ws, call(0, "callbackDefault", &["1"])).await;
    assert_eq!(
        answer(&mut ws).await,
        ("1".to_owned(), "callbackDefault".to_owned())
    );
    assert_eq!(json_answer(&mut ws, "onLicence").await["code"], 1);
    let cert = json_answer(&mut ws, "callbackDefault").await;
    assert_eq!(cert["code"], 0, "{cert}");
    let serial = cert["serial"].as_str().unwrap_or_default().to_owned();
    let cert_der = unb64(&cert["base64"]);
    assert_eq!(
        kyso_certs::summarize(&cert_der, time::OffsetDateTime::now_utc())
            .map(|s| s.serial)
            .ok(),
        Some(serial.clone())
    );
    assert!(cert["subjectCN"].as_str().is_some_and(|s| !s.is_empty()));

    let challenge = b"server nonce 8d1f0c3a-login";
    let items = json!([{"data": b64(challenge), "type": "cmsdetached"}]).to_string();
    send(
        &mut ws,
        call(10, "callbackDefault", &[&items, &serial, "1", "1"]),
    )
    .await;
    let (result, _) = answer(&mut ws).await;
    // Pages read it as JSON.parse(JSON.parse(r)[0]).
    let outer: Vec<String> =
        serde_json::from_str(&result).unwrap_or_else(|e| panic!("{e}: {result}"));
    let first: Value = serde_json::from_str(&outer[0]).unwrap_or_default();
    assert_eq!(first["code"], 0, "{first}");
    assert_eq!(first["serial"], serial.as_str());
    let dir = hsm.scratch();
    openssl_cms_verify(dir, &unb64(&first["data"]), Some(challenge))
        .unwrap_or_else(|e| panic!("openssl cms -verify: {e}"));
    assert!(
        openssl_cms_verify(dir, &unb64(&first["data"]), Some(b"another nonce")).is_err(),
        "the signature must not verify other content"
    );
    let audit = agent.audit_log();
    assert!(
        audit.contains(PORTAL) && audit.contains("sign.batch"),
        "{audit}"
    );
    let asked = std::fs::read_to_string(dir.join("answers.json.asked")).unwrap_or_default();
    let asked: Vec<&str> = asked.lines().collect();
    assert_eq!(asked, ["choose", "pin"]);
}

#[tokio::test]
async fn an_allow_once_site_is_asked_once_per_call_even_when_the_batch_names_a_serial() {
    let (hsm, agent) = start("");
    let newcomer = "https://cong-moi.example.vn";
    let mut ws = open(&agent, compat_port(&agent), Some(newcomer))
        .await
        .unwrap_or_else(|e| panic!("upgrade refused: {e}"));
    send(&mut ws, call(0, "callbackDefault", &["1"])).await;
    let cert = json_answer(&mut ws, "callbackDefault").await;
    assert_eq!(cert["code"], 0, "{cert}");
    let serial = cert["serial"].as_str().unwrap_or_default().to_lowercase();
    let challenge = b"nonce for a newcomer";
    let items = json!([{"data": b64(challenge), "type": "cmsdetached"}]).to_string();
    // Serial in lower case, clear-PIN flag on: the portal login call.
    send(
        &mut ws,
        call(10, "callbackDefault", &[&items, &serial, "1", "1"]),
    )
    .await;
    let (result, _) = answer(&mut ws).await;
    let outer: Vec<String> =
        serde_json::from_str(&result).unwrap_or_else(|e| panic!("{e}: {result}"));
    let first: Value = serde_json::from_str(&outer[0]).unwrap_or_default();
    assert_eq!(first["code"], 0, "{first}");
    openssl_cms_verify(hsm.scratch(), &unb64(&first["data"]), Some(challenge))
        .unwrap_or_else(|e| panic!("openssl cms -verify: {e}"));
    let asked =
        std::fs::read_to_string(hsm.scratch().join("answers.json.asked")).unwrap_or_default();
    let asked: Vec<&str> = asked.lines().collect();
    assert_eq!(asked, ["consent", "choose", "consent", "pin"]);
}

#[tokio::test]
async fn malformed_json_and_unknown_functions_get_an_error_answer_and_the_connection_keeps_serving()
{
    let (_hsm, agent) = start("");
    let mut ws = connect(&agent).await;
    send(&mut ws, "{\"functionID\": 7, oops".to_owned()).await;
    send(&mut ws, call(99, "onUnknown", &[""])).await;
    send(&mut ws, call(3, "onOffice", &["QUJD"])).await;
    send(
        &mut ws,
        json!({"functionID": "11", "args": [""]}).to_string(),
    )
    .await;
    let malformed = json_answer(&mut ws, "callbackDefault").await;
    assert_eq!(malformed["code"], 1, "{malformed}");
    assert_eq!(malformed["kyso_code"], "BAD_REQUEST");
    let unknown = json_answer(&mut ws, "onUnknown").await;
    assert_eq!(unknown["code"], 1, "{unknown}");
    assert!(unknown["error"].as_str().is_some_and(|e| !e.is_empty()));
    assert_eq!(json_answer(&mut ws, "onOffice").await["code"], 1);
    let (version, callback) = answer(&mut ws).await;
    assert_eq!(callback, "callbackDefault");
    assert!(!version.is_empty());
}

#[tokio::test]
async fn a_star_in_the_data_or_the_callback_never_breaks_the_framing() {
    let (hsm, agent) = start("");
    let mut ws = connect(&agent).await;
    let content = b"a*b**c * d";
    send(&mut ws, call(4, "on*Signed", &[&b64(content)])).await;
    let signed = json_answer(&mut ws, "callbackDefault").await;
    assert_eq!(signed["code"], 0, "{signed}");
    // SignCMS is attached: the content with its stars comes back out of the signature.
    let verified = openssl_cms_verify(hsm.scratch(), &unb64(&signed["data"]), None)
        .unwrap_or_else(|e| panic!("openssl cms -verify: {e}"));
    assert_eq!(verified, content);
    // Raw XML text (not base64) holding stars.
    let xml = "<Hoso><ThongTin Id=\"data\">*** 5 * 3 ***</ThongTin><CHUKYDONVI/></Hoso>";
    let signer = json!({"NodeToSign": "data", "TagSaveResult": "CHUKYDONVI"}).to_string();
    send(&mut ws, call(1, "callbackDefault", &[xml, &signer])).await;
    let signed = json_answer(&mut ws, "callbackDefault").await;
    assert_eq!(signed["code"], 0, "{signed}");
    let text = String::from_utf8(unb64(&signed["data"])).unwrap_or_default();
    assert!(text.contains("*** 5 * 3 ***</ThongTin>"), "{text}");
}

#[tokio::test]
async fn a_user_cancel_is_code_11_and_a_missing_certificate_code_2() {
    let (_hsm, agent) = start("");
    let mut ws = connect(&agent).await;
    agent.set_answers(json!({"consent": "allow-once", "certificate": "first", "confirm": true}));
    send(&mut ws, call(4, "callbackDefault", &[&b64(b"x")])).await;
    let cancelled = json_answer(&mut ws, "callbackDefault").await;
    assert_eq!(cancelled["code"], 11, "{cancelled}");
    assert_eq!(cancelled["kyso_code"], "USER_CANCELLED");
    let signer = json!({"CertificateSerial": "0BADC0FFEE", "page": 1}).to_string();
    send(
        &mut ws,
        call(2, "callbackDefault", &[&b64(&fixture_pdf()), &signer]),
    )
    .await;
    assert_eq!(json_answer(&mut ws, "callbackDefault").await["code"], 2);
}

const HTKK: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<HSoThueDTu xmlns=\"http://kekhaithue.gdt.gov.vn/TKhaiThue\"><HSoKhaiThue id=\"_NODE_TO_SIGN\"><TTinChung><MST>0104359717</MST></TTinChung></HSoKhaiThue><CKyDTu/></HSoThueDTu>\n";

fn fixture_pdf() -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/pdftex-shared-mime-info-spec.pdf");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// pdfsig's report on the PDF at `path`.
fn pdfsig_report(path: &Path) -> String {
    String::from_utf8_lossy(&run(Command::new("pdfsig").arg(path)).stdout).into_owned()
}

/// xmlsec1 accepts the signed HTKK return at `path` (its `id` attribute declared as an Id).
fn assert_htkk_verifies_with_xmlsec1(dir: &Path, path: &Path) {
    let output = run(Command::new("xmlsec1")
        .arg("--verify")
        .arg("--id-attr:id")
        .arg("http://kekhaithue.gdt.gov.vn/TKhaiThue:HSoKhaiThue")
        .arg("--trusted-pem")
        .arg(write_file(dir, "root.pem", pki().root_pem()))
        .arg("--untrusted-pem")
        .arg(write_file(dir, "chain.pem", pki().chain_pem()))
        .arg(path));
    assert!(
        output.status.success(),
        "xmlsec1: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn pdf_and_xml_signed_through_the_plugin_protocol_verify_with_pdfsig_and_xmlsec1() {
    let (hsm, agent) = start("");
    let mut ws = connect(&agent).await;
    let dir = hsm.scratch();

    let original = fixture_pdf();
    let signer = json!({
        "page": 1, "llx": 36, "lly": 36, "urx": 286, "ury": 116, "SigTextSize": 9,
        "Signer": "Nguyễn Văn A", "SignerPosition": "Giám đốc", "SigColorRGB": "0,0,160",
        "SigType": 0, "SigningTime": "08:00:00 01/01/2020", "DigestAlgorithm": "SHA1",
        "TsaUrl": "http://tsa.example.vn"
    })
    .to_string();
    send(
        &mut ws,
        call(2, "callbackDefault", &[&b64(&original), &signer]),
    )
    .await;
    let signed = json_answer(&mut ws, "callbackDefault").await;
    assert_eq!(signed["code"], 0, "{signed}");
    let pdf = unb64(&signed["data"]);
    assert!(
        pdf.starts_with(&original),
        "the original bytes must be kept"
    );
    let report = pdfsig_report(&write_file(dir, "signed.pdf", &pdf));
    assert!(report.contains("Signature is Valid"), "{report}");
    assert!(
        report.contains("SHA-256") || report.contains("SHA256"),
        "{report}"
    );

    // VerifyPdf agrees with pdfsig: the signed file checks out, a tampered copy does not.
    send(&mut ws, call(42, "callbackDefault", &[&b64(&pdf)])).await;
    let verified = json_answer(&mut ws, "callbackDefault").await;
    assert_eq!(verified["code"], 0, "{verified}");
    assert_eq!(verified["data"][0]["intact"], true, "{verified}");
    assert_eq!(verified["data"][0]["trusted"], true, "{verified}");
    let mut tampered = pdf.clone();
    tampered[200] ^= 0x01;
    let report = pdfsig_report(&write_file(dir, "tampered.pdf", &tampered));
    assert!(!report.contains("Signature is Valid"), "{report}");
    send(&mut ws, call(42, "callbackDefault", &[&b64(&tampered)])).await;
    let verified = json_answer(&mut ws, "callbackDefault").await;
    assert_eq!(verified["code"], 10, "{verified}");
    assert_eq!(verified["data"][0]["intact"], false, "{verified}");

    let signer = json!({
        "TagSigning": "HSoKhaiThue", "TagSaveResult": "CKyDTu", "DsSignature": true,
        "SigningType": "Enveloped", "DigestMethod": "SHA256", "SignatureMethod": "RSAwithSHA256"
    })
    .to_string();
    send(
        &mut ws,
        call(1, "callbackDefault", &[&b64(HTKK.as_bytes()), &signer]),
    )
    .await;
    let signed = json_answer(&mut ws, "callbackDefault").await;
    assert_eq!(signed["code"], 0, "{signed}");
    let xml = String::from_utf8(unb64(&signed["data"])).unwrap_or_default();
    assert!(xml.contains("<CKyDTu><ds:Signature"), "{xml}");
    assert!(xml.contains("URI=\"#_NODE_TO_SIGN\""), "{xml}");
    let path = write_file(dir, "signed.xml", &xml);
    assert_htkk_verifies_with_xmlsec1(dir, &path);

    // A tag that is not there: code 8, before any dialog.
    let signer = json!({"TagSaveResult": "Missing"}).to_string();
    send(&mut ws, call(1, "callbackDefault", &[HTKK, &signer])).await;
    assert_eq!(json_answer(&mut ws, "callbackDefault").await["code"], 8);
}

#[tokio::test]
async fn a_refused_origin_or_a_missing_origin_cannot_open_the_plugin_socket() {
    let (_hsm, agent) = start("denied_origins = [\"https://evil.example\"]\n");
    let port = compat_port(&agent);
    for origin in [
        Some("https://evil.example"),
        Some("http://evil.example"),
        None,
    ] {
        match open(&agent, port, origin).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 403, "{origin:?}");
            }
            Err(other) => panic!("{origin:?}: expected 403, got {other}"),
            Ok(_) => panic!("{origin:?} was let in"),
        }
    }
    // The domain field is informational: an allowed Origin claiming another domain is served
    // as its Origin.
    let mut ws = open(&agent, port, Some(PORTAL))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    send(
        &mut ws,
        json!({"functionID": 7, "funcCallback": "callbackDefault", "args": [""], "domain": "evil.example"})
            .to_string(),
    )
    .await;
    assert_eq!(answer(&mut ws).await.0, "1");
}

#[tokio::test]
async fn a_taken_port_is_left_to_its_holder_and_the_next_port_is_used() {
    let holder = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap_or_else(|e| panic!("{e}"));
    let taken = holder.local_addr().map(|a| a.port()).unwrap_or_default();
    let hsm = SoftHsm::new();
    let agent = Agent::start(&hsm, &config(&format!("[{taken}, 0]"), ""), ANSWERS());
    let status = listener_status(&agent);
    assert_eq!(status["taken"], json!([taken]), "{status}");
    let port = compat_port(&agent);
    assert_ne!(port, taken);
    // The holder still owns its port and accepts connections.
    let client = std::net::TcpStream::connect(("127.0.0.1", taken));
    assert!(client.is_ok(), "the holder's port must still accept");
    holder
        .set_nonblocking(false)
        .unwrap_or_else(|e| panic!("{e}"));
    let accepted = holder.accept();
    assert!(accepted.is_ok(), "the holder must get the connection");
    let mut ws = connect(&agent).await;
    send(&mut ws, call(7, "callbackDefault", &[""])).await;
    assert_eq!(answer(&mut ws).await.0, "1");
    let out = run(hsm.kyso().args(["compat", "vnpt", "status", "--json"]));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(report["port"], port, "{report}");
    assert_eq!(report["enabled"], true);
}

#[tokio::test]
async fn when_every_port_is_taken_the_agent_says_so_and_keeps_serving_its_own_api() {
    let holder = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap_or_else(|e| panic!("{e}"));
    let taken = holder.local_addr().map(|a| a.port()).unwrap_or_default();
    let hsm = SoftHsm::new();
    let agent = Agent::start(&hsm, &config(&format!("[{taken}]"), ""), ANSWERS());
    let status = listener_status(&agent);
    assert_eq!(status["port"], Value::Null, "{status}");
    assert_eq!(status["taken"], json!([taken]));
    let out = run(hsm.kyso().args(["compat", "vnpt", "status"]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("all taken"), "{text}");
    let doctor = run(hsm.kyso().args(["doctor", "--json", "--offline"]));
    let report: Value = serde_json::from_slice(&doctor.stdout).unwrap_or_default();
    let check = report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == "compat_vnpt").cloned())
        .unwrap_or_else(|| panic!("no compat_vnpt check: {report}"));
    assert_eq!(check["status"], "warn", "{check}");
    let info = agent
        .request("GET", "/v1/info", &[("origin", PORTAL)], None)
        .await;
    assert_eq!(info.status, 200);
    assert!(std::net::TcpStream::connect(("127.0.0.1", taken)).is_ok());
}

#[test]
fn compat_vnpt_on_and_off_edit_only_their_line_of_the_config() {
    let hsm = SoftHsm::new();
    let config = hsm.scratch().join("home/config/kyso/config.toml");
    std::fs::create_dir_all(config.parent().unwrap_or(hsm.scratch()))
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&config, "# mine\nport = 47400\n").unwrap_or_else(|e| panic!("{e}"));
    let out = run(hsm.kyso().args(["compat", "vnpt", "on"]));
    assert!(out.status.success());
    let status = run(hsm.kyso().args(["compat", "vnpt", "status", "--json"]));
    let report: Value = serde_json::from_slice(&status.stdout).unwrap_or_default();
    assert_eq!(report["enabled"], true, "{report}");
    assert_eq!(report["ports"], json!([4433, 4434, 4435]));
    run(hsm.kyso().args(["compat", "vnpt", "off"]));
    let text = std::fs::read_to_string(&config).unwrap_or_default();
    assert_eq!(text, "vnpt_compat = false\n# mine\nport = 47400\n");
}

#[tokio::test]
async fn a_plugin_batch_of_a_pdf_and_an_xml_signs_both_under_one_pin_and_each_verifies() {
    let (hsm, agent) = start("");
    let mut ws = connect(&agent).await;
    let dir = hsm.scratch();
    let original = fixture_pdf();
    let items = json!([
        {"data": b64(&original), "type": "pdf",
         "options": {"page": 1, "llx": 36, "lly": 36, "urx": 286, "ury": 116, "Signer": "Nguyễn Văn A"}},
        {"data": b64(HTKK.as_bytes()), "type": "xml",
         "options": "{\"TagSigning\":\"HSoKhaiThue\",\"TagSaveResult\":\"CKyDTu\"}"}
    ])
    .to_string();
    send(
        &mut ws,
        call(10, "callbackDefault", &[&items, "", "1", "1"]),
    )
    .await;
    let (result, _) = answer(&mut ws).await;
    let outer: Vec<String> =
        serde_json::from_str(&result).unwrap_or_else(|e| panic!("{e}: {result}"));
    let pdf: Value = serde_json::from_str(&outer[0]).unwrap_or_default();
    let xml: Value = serde_json::from_str(&outer[1]).unwrap_or_default();
    assert_eq!(pdf["code"], 0, "{pdf}");
    assert_eq!(xml["code"], 0, "{xml}");

    let path = write_file(dir, "batch-signed.pdf", unb64(&pdf["data"]));
    let report = pdfsig_report(&path);
    assert!(report.contains("Signature is Valid"), "{report}");
    assert!(report.contains("Total document signed"), "{report}");

    let path = write_file(dir, "batch-signed.xml", unb64(&xml["data"]));
    assert_htkk_verifies_with_xmlsec1(dir, &path);
    let asked = std::fs::read_to_string(dir.join("answers.json.asked")).unwrap_or_default();
    assert_eq!(asked.matches("pin").count(), 1, "one PIN: {asked}");
}

/// One call with one argument, answered as JSON.
async fn ask(ws: &mut Socket, function: i64, arg: String) -> Value {
    send(ws, call(function, "callbackDefault", &[&arg])).await;
    json_answer(ws, "callbackDefault").await
}

#[tokio::test]
async fn validate_certificate_checks_dates_and_the_chain_through_the_token_and_the_system_roots() {
    let (_hsm, agent) = start("");
    let mut ws = connect(&agent).await;
    let now = time::OffsetDateTime::now_utc();
    let summary = |user: &str| {
        let user = pki().user(user).unwrap_or_else(|| panic!("no test user"));
        kyso_certs::summarize(&user.cert_der, now).unwrap_or_else(|e| panic!("{e}"))
    };
    // A token certificate by serial: valid now, chain to the root the token holds.
    let company = summary("company-rsa2048");
    let answer = ask(&mut ws, 14, company.serial.to_lowercase()).await;
    assert_eq!(answer["code"], 0, "{answer}");
    assert_eq!(answer["data"]["chain"], "trusted");
    assert_eq!(answer["data"]["ocsp"], "not_checked");
    let answer = ask(&mut ws, 16, company.serial.clone()).await;
    assert_eq!(
        (&answer["code"], &answer["data"]["chain"]),
        (&0.into(), &"not_checked".into())
    );
    // An expired certificate sent as base64: code 5 with the finding in data.
    let expired = pki()
        .user("expired-rsa2048")
        .unwrap_or_else(|| panic!("no user"));
    let answer = ask(&mut ws, 15, b64(&expired.cert_der)).await;
    assert_eq!(answer["code"], 5, "{answer}");
    assert_eq!(answer["data"]["validTime"], false);
    // A root the operating system trusts (Debian's ca-certificates), unknown to the token.
    let bundle = std::fs::read("/etc/ssl/certs/ca-certificates.crt")
        .unwrap_or_else(|e| panic!("ca-certificates is not installed: {e}"));
    let system_root = rustls_pemfile::certs(&mut bundle.as_slice())
        .filter_map(Result::ok)
        .find(|c| kyso_certs::summarize(c, now).is_ok_and(|s| s.valid_now))
        .unwrap_or_else(|| panic!("no valid root in the system bundle"));
    let answer = ask(&mut ws, 15, b64(&system_root)).await;
    assert_eq!(answer["code"], 0, "{answer}");
    assert_eq!(answer["data"]["chain"], "trusted");
    // Garbage is bad input, answered at once.
    let answer = ask(&mut ws, 15, b64(b"not a certificate")).await;
    assert_eq!(answer["code"], 1, "{answer}");
}
