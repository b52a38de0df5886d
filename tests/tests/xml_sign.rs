//! XMLDSig end to end: `kyso sign xml` with SoftHSM keys, every output checked by `xmlsec1`
//! (libxml2/OpenSSL) and Python `signxml` (lxml/cryptography), plus a byte comparison showing
//! that only the inserted `<Signature>` changed. Refusals (DTD, entity bombs, XXE, missing
//! targets) are checked through the CLI's stable error codes.

mod xml_support;

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::{Mutex, MutexGuard},
};

use kyso::{
    formats::xml::{self, Canonicalization, Digest, XmlSignOptions},
    token::{ModuleSelection, TokenService},
    Coded, ErrorCode,
};
use kyso_tests::{in_process, pki, run, softhsm_module, thumbprint, write_file, SoftHsm, USER_PIN};
use secrecy::SecretString;
use xml_support::docs;

/// A validator found on PATH or in the workspace's `.venv`; a missing one fails the test.
fn tool(name: &str) -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.venv/bin")
        .join(name);
    if venv.is_file() {
        return venv;
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| panic!("{name} is not installed: run scripts/setup.sh test"))
}

fn python() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    assert!(
        venv.is_file(),
        "the test venv with signxml is missing: run scripts/setup.sh test"
    );
    venv
}

/// Runs `kyso sign xml` on `xml` with `user`'s key and the extra arguments.
fn sign(hsm: &SoftHsm, user: &str, name: &str, xml: &[u8], extra: &[&str]) -> (PathBuf, Output) {
    let input = write_file(hsm.scratch(), name, xml);
    let output = hsm.scratch().join(format!("signed-{name}"));
    let result = run(hsm
        .kyso()
        .args(["sign", "xml"])
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .args(["--cert", &thumbprint(user)])
        .arg("--pin-file")
        .arg(hsm.pin_file(USER_PIN))
        .args(extra));
    (output, result)
}

fn sign_ok(hsm: &SoftHsm, user: &str, name: &str, xml: &[u8], extra: &[&str]) -> Vec<u8> {
    let (output, result) = sign(hsm, user, name, xml, extra);
    assert!(
        result.status.success(),
        "kyso sign xml failed: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    std::fs::read(&output).unwrap_or_else(|e| panic!("{e}"))
}

/// `xmlsec1 --verify` with the test root trusted and the issuing CA untrusted. `id_attrs`
/// registers Id attributes xmlsec1 does not know (`id` on an element), `node` selects which
/// signature to check.
fn xmlsec1_verify(dir: &Path, signed: &[u8], id_attrs: &[&str], node: Option<&str>) -> String {
    let root = write_file(dir, "root.pem", pki().root_pem());
    let issuing = write_file(dir, "issuing.pem", kyso_certs_pem(&pki().issuing.cert_der));
    let file = write_file(dir, "to-verify.xml", signed);
    let mut command = Command::new(tool("xmlsec1"));
    command
        .arg("--verify")
        .arg("--trusted-pem")
        .arg(&root)
        .arg("--untrusted-pem")
        .arg(&issuing);
    for attr in id_attrs {
        let (name, element) = attr.split_once(' ').unwrap_or(("Id", attr));
        command.arg(format!("--id-attr:{name}")).arg(element);
    }
    if let Some(xpath) = node {
        command.arg("--node-xpath").arg(xpath);
    }
    let output = run(command.arg(&file));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success() && stderr.contains("OK"),
        "xmlsec1 rejected the signature:\n{stderr}"
    );
    stderr
}

fn kyso_certs_pem(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

/// Python signxml with the test root as the only CA; the chain comes from the signature.
fn signxml_verify(dir: &Path, signed: &[u8], references: usize, allow_sha1: bool) -> String {
    let root = write_file(dir, "root.pem", pki().root_pem());
    let file = write_file(dir, "to-verify-py.xml", signed);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/signxml_verify.py");
    let mut command = Command::new(python());
    command
        .arg(script)
        .arg(&file)
        .arg(&root)
        .args(["--references", &references.to_string()]);
    if allow_sha1 {
        command.arg("--allow-sha1");
    }
    let output = run(&mut command);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success() && stdout.starts_with("VERIFIED"),
        "signxml rejected the signature: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The output is the input with exactly one run of bytes inserted, and that run is a
/// `<Signature>` element (possibly inside a newly opened placement element).
fn assert_only_signature_inserted(input: &[u8], output: &[u8]) -> String {
    let prefix = input.iter().zip(output).take_while(|(a, b)| a == b).count();
    let suffix = input[prefix..]
        .iter()
        .rev()
        .zip(output[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    assert_eq!(
        prefix + suffix,
        input.len(),
        "bytes of the input were changed, not only inserted"
    );
    let inserted = String::from_utf8_lossy(&output[prefix..output.len() - suffix]).into_owned();
    assert!(
        inserted.contains("Signature") && inserted.contains("SignatureValue"),
        "the inserted text is not a signature: {inserted}"
    );
    inserted
}

#[test]
fn htkk_return_signed_over_node_id_into_ckydtu_verifies_with_xmlsec1_and_signxml() {
    let hsm = SoftHsm::new();
    let input = docs::htkk(50);
    let signed = sign_ok(
        &hsm,
        "company-rsa2048",
        "htkk.xml",
        input.as_bytes(),
        &["--node-id", "_NODE_TO_SIGN", "--into", "CKyDTu", "--chain"],
    );
    let inserted = assert_only_signature_inserted(
        input.replace("<CKyDTu/>", "<CKyDTu></CKyDTu>").as_bytes(),
        &signed,
    );
    assert!(inserted.contains("URI=\"#_NODE_TO_SIGN\""));
    assert!(inserted.contains("xmldsig-more#rsa-sha256"));
    xmlsec1_verify(
        hsm.scratch(),
        &signed,
        &["id http://kekhaithue.gdt.gov.vn/TKhaiThue:HSoKhaiThue"],
        None,
    );
    signxml_verify(hsm.scratch(), &signed, 1, false);
}

#[test]
fn rsa_sha1_for_old_portals_verifies_and_warns() {
    let hsm = SoftHsm::new();
    let input = docs::htkk(3);
    let (output, result) = sign(
        &hsm,
        "company-rsa2048",
        "htkk-sha1.xml",
        input.as_bytes(),
        &[
            "--node-id",
            "_NODE_TO_SIGN",
            "--into",
            "CKyDTu",
            "--digest",
            "sha1",
            "--prefix",
            "ds",
            "--chain",
            "--subject-name",
            "--issuer-serial",
        ],
    );
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert!(String::from_utf8_lossy(&result.stderr).contains("SHA-1"));
    let signed = std::fs::read(output).unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&signed);
    assert!(text
        .contains("<ds:SignatureMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#rsa-sha1\">"));
    assert!(text.contains("<ds:X509IssuerSerial>"));
    xmlsec1_verify(
        hsm.scratch(),
        &signed,
        &["id http://kekhaithue.gdt.gov.vn/TKhaiThue:HSoKhaiThue"],
        None,
    );
    signxml_verify(hsm.scratch(), &signed, 1, true);
}

#[test]
fn bhxh_file_with_crlf_and_tabs_signed_whole_keeps_every_byte_and_verifies() {
    let hsm = SoftHsm::new();
    let input = docs::bhxh();
    let signed = sign_ok(
        &hsm,
        "person-rsa3072",
        "bhxh.xml",
        input.as_bytes(),
        &["--into", "CHUKYDONVI", "--digest", "sha512", "--chain"],
    );
    let inserted = assert_only_signature_inserted(input.as_bytes(), &signed);
    assert!(inserted.contains("URI=\"\""));
    assert!(inserted.contains("xmldsig-more#rsa-sha512"));
    xmlsec1_verify(hsm.scratch(), &signed, &[], None);
    signxml_verify(hsm.scratch(), &signed, 1, false);
}

#[test]
fn einvoice_with_ecdsa_exclusive_c14n_prefix_and_signing_time_verifies() {
    let hsm = SoftHsm::new();
    let input = docs::einvoice();
    let signed = sign_ok(
        &hsm,
        "person-p256",
        "einvoice.xml",
        input.as_bytes(),
        &[
            "--node-id",
            "data",
            "--into",
            "NBan",
            "--into-parent",
            "DSCKS",
            "--c14n",
            "exclusive",
            "--prefix",
            "ds",
            "--signing-time",
            "--chain",
        ],
    );
    let text = String::from_utf8_lossy(&signed);
    assert!(text.contains("ecdsa-sha256"));
    assert!(text.contains("<SigningTime xmlns="));
    // The data has its own NBan (the seller); --into-parent puts the signature in DSCKS's.
    assert!(text.contains("<DSCKS>\n    <NBan><ds:Signature"), "{text}");
    xmlsec1_verify(hsm.scratch(), &signed, &["Id DLHDon"], None);
    signxml_verify(hsm.scratch(), &signed, 2, false);
}

#[test]
fn namespaces_comments_and_entities_survive_inclusive_c14n_with_comments_on_p384() {
    let hsm = SoftHsm::new();
    let args = [
        "--into",
        "ChuKy",
        "--c14n",
        "inclusive-comments",
        "--digest",
        "sha512",
        "--chain",
    ];
    let input = docs::namespaces_and_comments();
    let signed = sign_ok(&hsm, "company-p384", "ns.xml", input.as_bytes(), &args);
    assert_only_signature_inserted(
        input.replace("<ChuKy/>", "<ChuKy></ChuKy>").as_bytes(),
        &signed,
    );
    // The root's xml:lang is inherited by SignedInfo in inclusive C14N (C14N 1.0 §2.4);
    // xmlsec1 honours that.
    xmlsec1_verify(hsm.scratch(), &signed, &[], None);
    // signxml departs from XMLDSig on three points this document exercises, so it gets a
    // variant: it re-serialises the Signature element alone before canonicalizing (losing
    // the inherited xml:lang), canonicalizes only the root element for URI="" (losing the
    // PI and comments around it) and keeps comments for a #WithComments transform on
    // URI="" (XMLDSig §4.4.3.3 removes them first). Namespaces, inner comments, CDATA and
    // entities remain.
    let input = input
        .replace(" xml:lang='vi'", "")
        .replace("<!-- hồ sơ mẫu -->\n", "")
        .replace("<?xml-stylesheet type=\"text/xsl\" href=\"hs.xsl\"?>\n", "")
        .replace("<!-- cuối -->\n", "");
    let args = ["--into", "ChuKy", "--digest", "sha512", "--chain"];
    let signed = sign_ok(
        &hsm,
        "company-p384",
        "ns-plain.xml",
        input.as_bytes(),
        &args,
    );
    xmlsec1_verify(hsm.scratch(), &signed, &[], None);
    signxml_verify(hsm.scratch(), &signed, 1, false);
}

#[test]
fn utf8_bom_is_kept_and_the_signature_verifies() {
    let hsm = SoftHsm::new();
    let input = format!("\u{feff}{}", docs::bhxh());
    let signed = sign_ok(
        &hsm,
        "company-rsa2048",
        "bom.xml",
        input.as_bytes(),
        &["--into", "CHUKYDONVI"],
    );
    assert!(signed.starts_with("\u{feff}<?xml".as_bytes()));
    assert_only_signature_inserted(input.as_bytes(), &signed);
    xmlsec1_verify(hsm.scratch(), &signed, &[], None);
}

#[test]
fn placement_element_is_created_under_the_named_parent() {
    let hsm = SoftHsm::new();
    let input = docs::htkk(2).replace("  <CKyDTu/>\n", "");
    let signed = sign_ok(
        &hsm,
        "company-rsa2048",
        "htkk-noplace.xml",
        input.as_bytes(),
        &[
            "--node-id",
            "_NODE_TO_SIGN",
            "--into",
            "CKyDTu",
            "--into-parent",
            "HSoThueDTu",
        ],
    );
    let text = String::from_utf8_lossy(&signed);
    assert!(text.contains("<CKyDTu><Signature"), "{text}");
    xmlsec1_verify(
        hsm.scratch(),
        &signed,
        &["id http://kekhaithue.gdt.gov.vn/TKhaiThue:HSoKhaiThue"],
        None,
    );
}

#[test]
fn a_second_signer_keeps_the_first_signature_valid() {
    let hsm = SoftHsm::new();
    let input = docs::htkk(5);
    let args = ["--node-id", "_NODE_TO_SIGN", "--into", "CKyDTu", "--chain"];
    let first = sign_ok(
        &hsm,
        "company-rsa2048",
        "two-1.xml",
        input.as_bytes(),
        &args,
    );
    let second = sign_ok(&hsm, "person-p256", "two-2.xml", &first, &args);
    assert_only_signature_inserted(&first, &second);
    let ids = ["id http://kekhaithue.gdt.gov.vn/TKhaiThue:HSoKhaiThue"];
    for n in 1..=2 {
        let xpath = format!("(//*[local-name()='Signature'])[{n}]");
        xmlsec1_verify(hsm.scratch(), &second, &ids, Some(&xpath));
    }
    let reports =
        xml::verify_xml(&second, &[pki().root.cert_der.clone()]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(reports.len(), 2);
    assert!(
        reports.iter().all(|r| r.intact && r.trusted),
        "{reports:#?}"
    );
}

#[test]
fn verify_command_reports_intact_signatures_and_fails_on_a_changed_byte() {
    let hsm = SoftHsm::new();
    let input = docs::bhxh();
    let signed = sign_ok(
        &hsm,
        "company-rsa2048",
        "verify.xml",
        input.as_bytes(),
        &["--into", "CHUKYDONVI", "--chain"],
    );
    let root = write_file(hsm.scratch(), "root.pem", pki().root_pem());
    let file = write_file(hsm.scratch(), "verify-signed.xml", &signed);
    let ok = run(hsm
        .kyso()
        .args(["verify", "xml", "--json", "--trusted"])
        .arg(&root)
        .arg(&file));
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let reports: serde_json::Value =
        serde_json::from_slice(&ok.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(reports[0]["intact"], true);
    assert_eq!(reports[0]["trusted"], true);
    assert_eq!(
        reports[0]["signer"]["common_name"],
        "CÔNG TY TNHH KÝ SỐ VIỆT NAM"
    );

    let tampered = String::from_utf8_lossy(&signed).replace("Trần Văn Đức", "Trần Văn Đúc");
    let file = write_file(hsm.scratch(), "tampered.xml", tampered);
    let bad = run(hsm
        .kyso()
        .args(["verify", "xml", "--json", "--trusted"])
        .arg(&root)
        .arg(&file));
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("SIGNATURE_INVALID"));
    let reports: serde_json::Value =
        serde_json::from_slice(&bad.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(reports[0]["intact"], false);
    // The independent verifier agrees that the tampered file is broken.
    let xmlsec = run(Command::new(tool("xmlsec1"))
        .arg("--verify")
        .arg("--trusted-pem")
        .arg(&root)
        .arg(&file));
    assert!(!xmlsec.status.success());
}

/// Each refused input: the code on stderr, no output file, the input untouched, and no PIN
/// asked (the PIN file is never needed because the check runs before login).
fn assert_refused(name: &str, xml: &str, extra: &[&str], code: ErrorCode) {
    let hsm = SoftHsm::new();
    let (output, result) = sign(&hsm, "company-rsa2048", name, xml.as_bytes(), extra);
    assert!(!result.status.success(), "{name} was signed");
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains(code.as_str()), "{name}: {stderr}");
    assert!(!output.exists(), "{name}: an output file was written");
    let kept = std::fs::read(hsm.scratch().join(name)).unwrap_or_default();
    assert_eq!(kept, xml.as_bytes(), "{name}: the input was modified");
}

#[test]
fn dtd_entity_bomb_and_external_entity_are_refused_before_any_expansion() {
    assert_refused(
        "dtd.xml",
        &docs::with_dtd(),
        &[],
        ErrorCode::XmlDtdNotAllowed,
    );
    assert_refused(
        "lol.xml",
        &docs::billion_laughs(),
        &[],
        ErrorCode::XmlDtdNotAllowed,
    );
    assert_refused(
        "xxe.xml",
        &docs::external_entity(),
        &[],
        ErrorCode::XmlDtdNotAllowed,
    );
}

#[test]
fn malformed_xml_missing_id_and_missing_placement_get_their_codes() {
    assert_refused("broken.xml", "<a><b></a>", &[], ErrorCode::XmlInvalid);
    assert_refused(
        "noid.xml",
        &docs::htkk(1),
        &["--node-id", "_NOT_THERE"],
        ErrorCode::XmlTargetNotFound,
    );
    assert_refused(
        "noplace.xml",
        &docs::htkk(1),
        &["--into", "CHUKYDONVI"],
        ErrorCode::XmlTargetNotFound,
    );
}

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[test]
fn library_entry_point_signs_with_a_token_key_and_verify_xml_checks_it() {
    let _turn = serial();
    in_process();
    let service = TokenService::load(&ModuleSelection {
        named: vec![softhsm_module()],
        discover: false,
    });
    let key = service
        .key(Some(&thumbprint("company-rsa2048")))
        .unwrap_or_else(|e| panic!("{e:?}"));
    key.login(Some(SecretString::from(USER_PIN)))
        .unwrap_or_else(|e| panic!("{e:?}"));
    let options: XmlSignOptions = serde_json::from_str(
        r#"{"node_id": "_NODE_TO_SIGN", "into": "CKyDTu", "digest": "sha256",
            "c14n": "exclusive", "prefix": "ds", "include_chain": true}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(options.c14n, Canonicalization::Exclusive);
    assert_eq!(options.digest, Digest::Sha256);
    let signed =
        xml::sign_xml(docs::htkk(10).as_bytes(), &key, &options).unwrap_or_else(|e| panic!("{e}"));
    let _ = key.logout();
    assert!(!signed.weak_algorithm);
    let reports = xml::verify_xml(&signed.xml, &[pki().root.cert_der.clone()])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(reports.len(), 1);
    assert!(reports[0].intact && reports[0].trusted, "{:#?}", reports[0]);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    xmlsec1_verify(
        dir.path(),
        &signed.xml,
        &["id http://kekhaithue.gdt.gov.vn/TKhaiThue:HSoKhaiThue"],
        None,
    );

    let missing: Result<_, _> = xml::sign_xml(
        docs::htkk(1).as_bytes(),
        &key,
        &XmlSignOptions {
            node_id: Some("nope".into()),
            ..XmlSignOptions::default()
        },
    );
    assert!(matches!(missing, Err(ref e) if e.code() == ErrorCode::XmlTargetNotFound));
}
