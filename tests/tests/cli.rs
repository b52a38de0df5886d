//! The `kyso` command line against an isolated SoftHSM token, checked with OpenSSL.

use std::process::Stdio;

use base64::Engine;
use kyso_tests::{
    openssl_cms_verify, openssl_verify_digest, pki, run, thumbprint, SoftHsm, USER_PIN,
};

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn certs_json_carries_the_documented_fields() {
    let hsm = SoftHsm::new();
    let output = run(hsm.kyso().args(["certs", "--json"]));
    assert!(output.status.success(), "{}", stderr(&output));
    let certs: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("not JSON: {e}"));
    let list = certs.as_array().unwrap_or_else(|| panic!("not an array"));
    let company = list
        .iter()
        .find(|c| c["thumbprint"] == thumbprint("company-rsa2048"))
        .unwrap_or_else(|| panic!("company certificate missing"));
    for field in [
        "thumbprint",
        "serial",
        "subject",
        "common_name",
        "identifiers",
        "issuer",
        "not_before",
        "not_after",
        "key",
        "token",
        "can_sign",
    ] {
        assert!(company.get(field).is_some(), "missing {field}");
    }
    assert_eq!(company["identifiers"]["MST"], "0104359717-001");
    assert_eq!(company["common_name"], "CÔNG TY TNHH KÝ SỐ VIỆT NAM");
    assert_eq!(company["key"], "RSA-2048");
    assert_eq!(company["can_sign"], true);
    assert_eq!(company["token"]["label"], kyso_tests::TOKEN_LABEL);
    // RFC 3339 dates.
    let not_after = company["not_after"].as_str().unwrap_or_default();
    assert!(
        time::OffsetDateTime::parse(not_after, &time::format_description::well_known::Rfc3339)
            .is_ok()
    );
}

#[test]
fn tokens_json_shows_label_serial_and_pin_state() {
    let hsm = SoftHsm::new();
    let output = run(hsm.kyso().args(["tokens", "--json"]));
    assert!(output.status.success(), "{}", stderr(&output));
    let tokens: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("not JSON: {e}"));
    assert_eq!(tokens[0]["label"], kyso_tests::TOKEN_LABEL);
    assert!(tokens[0]["serial"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(tokens[0]["pin"]["locked"], false);
}

#[test]
fn sign_cms_detached_and_attached_verify_with_openssl() {
    let hsm = SoftHsm::new();
    let dir = hsm.scratch();
    let input = dir.join("tờ khai.xml");
    let content = "<HSoThueDTu>Công ty TNHH</HSoThueDTu>".as_bytes();
    std::fs::write(&input, content).unwrap_or_else(|e| panic!("{e}"));
    let pin = hsm.pin_file(USER_PIN);
    for (attached, name) in [(false, "detached.p7s"), (true, "attached.p7s")] {
        let out = dir.join(name);
        let mut command = hsm.kyso();
        command
            .args(["sign", "cms"])
            .arg(&input)
            .arg("-o")
            .arg(&out)
            .args(["--cert", &thumbprint("person-p256")])
            .arg("--pin-file")
            .arg(&pin);
        if attached {
            command.arg("--attached");
        }
        let output = run(&mut command);
        assert!(output.status.success(), "{}", stderr(&output));
        let der = std::fs::read(&out).unwrap_or_else(|e| panic!("{e}"));
        let verify_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let verified = openssl_cms_verify(verify_dir.path(), &der, (!attached).then_some(content))
            .unwrap_or_else(|e| panic!("OpenSSL rejected {name}: {e}"));
        assert_eq!(verified, content);
    }
    // The input is untouched.
    assert_eq!(std::fs::read(&input).unwrap_or_default(), content);
}

#[test]
fn pin_can_come_from_standard_input() {
    let hsm = SoftHsm::new();
    let input = kyso_tests::write_file(hsm.scratch(), "a.txt", b"abc");
    let out = hsm.scratch().join("a.p7s");
    let mut child = hsm
        .kyso()
        .args(["sign", "cms"])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .args(["--cert", &thumbprint("company-rsa2048"), "--pin-file", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        stdin
            .write_all(format!("{USER_PIN}\n").as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let output = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert!(output.status.success(), "{}", stderr(&output));
    let der = std::fs::read(&out).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    assert!(openssl_cms_verify(dir.path(), &der, Some(b"abc")).is_ok());
}

#[test]
fn sign_hash_answers_a_signature_openssl_accepts() {
    let hsm = SoftHsm::new();
    let digest = kyso::signer::HashAlgorithm::Sha256.digest(b"login challenge 42");
    let output = run(hsm
        .kyso()
        .args(["sign", "hash", "--algorithm", "sha256", "--digest"])
        .arg(hex::encode(&digest))
        .args(["--cert", &thumbprint("company-rsa2048")])
        .arg("--pin-file")
        .arg(hsm.pin_file(USER_PIN)));
    assert!(output.status.success(), "{}", stderr(&output));
    let answer: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("not JSON: {e}"));
    assert_eq!(answer["signature_algorithm"], "RSA-PKCS1-v1_5-SHA256");
    let b64 = base64::engine::general_purpose::STANDARD;
    let signature = b64
        .decode(answer["signature"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    let certificate = b64
        .decode(answer["certificate"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(openssl_verify_digest(
        hsm.scratch(),
        &certificate,
        &digest,
        &signature,
        false,
        "sha256"
    ));
}

#[test]
fn wrong_pin_fails_with_pin_incorrect_in_both_languages() {
    let hsm = SoftHsm::new();
    let input = kyso_tests::write_file(hsm.scratch(), "a.txt", b"abc");
    let out = hsm.scratch().join("a.p7s");
    let output = run(hsm
        .kyso()
        .args(["sign", "cms"])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .args(["--cert", &thumbprint("company-rsa2048"), "--pin-file"])
        .arg(hsm.pin_file("99999999")));
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(text.contains("PIN_INCORRECT"), "{text}");
    assert!(text.contains("Mã PIN không đúng"), "{text}");
    assert!(text.contains("The PIN is incorrect"), "{text}");
    assert!(
        !text.contains("99999999"),
        "the PIN leaked into the output: {text}"
    );
    assert!(
        !out.exists(),
        "a signature was written after a failed login"
    );
}

#[test]
fn a_locked_token_is_refused_without_attempting_a_login() {
    let hsm = SoftHsm::new();
    hsm.lock_user_pin();
    let tokens = run(hsm.kyso().args(["tokens", "--json"]));
    let tokens: serde_json::Value =
        serde_json::from_slice(&tokens.stdout).unwrap_or_else(|e| panic!("not JSON: {e}"));
    assert_eq!(tokens[0]["pin"]["locked"], true);
    // The *right* PIN: SoftHSM would accept it, so PIN_LOCKED proves kyso did not try.
    let input = kyso_tests::write_file(hsm.scratch(), "a.txt", b"abc");
    let output = run(hsm
        .kyso()
        .args(["sign", "cms"])
        .arg(&input)
        .arg("-o")
        .arg(hsm.scratch().join("a.p7s"))
        .args(["--cert", &thumbprint("company-rsa2048"), "--pin-file"])
        .arg(hsm.pin_file(USER_PIN)));
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(text.contains("PIN_LOCKED"), "{text}");
}

#[test]
fn repeated_wrong_pins_each_fail_once_and_never_retry() {
    let hsm = SoftHsm::new();
    let input = kyso_tests::write_file(hsm.scratch(), "a.txt", b"abc");
    for attempt in 0..3 {
        let output = run(hsm
            .kyso()
            .args(["sign", "cms"])
            .arg(&input)
            .arg("-o")
            .arg(hsm.scratch().join("a.p7s"))
            .args(["--cert", &thumbprint("company-rsa2048"), "--pin-file"])
            .arg(hsm.pin_file("11111111")));
        let text = stderr(&output);
        assert!(text.contains("PIN_INCORRECT"), "attempt {attempt}: {text}");
    }
    let tokens = run(hsm.kyso().args(["tokens", "--json"]));
    let tokens: serde_json::Value =
        serde_json::from_slice(&tokens.stdout).unwrap_or_else(|e| panic!("not JSON: {e}"));
    assert_eq!(tokens[0]["pin"]["count_low"], true);
}

#[test]
fn a_bogus_module_alone_fails_with_module_load_failed() {
    let hsm = SoftHsm::new();
    let output = run(std::process::Command::new(kyso_tests::kyso_bin())
        .env("SOFTHSM2_CONF", hsm.conf())
        .env_remove("KYSO_PKCS11_MODULES")
        .args([
            "certs",
            "--no-discover",
            "--module",
            "/nonexistent/libvnptca_p11_v8.so",
        ]));
    assert!(!output.status.success());
    assert!(stderr(&output).contains("MODULE_LOAD_FAILED"));
}

#[test]
fn a_bogus_module_next_to_a_good_one_is_reported_and_listing_works() {
    let hsm = SoftHsm::new();
    // Named through the environment, as an installer or a support engineer would.
    let output = run(hsm
        .kyso()
        .env("KYSO_PKCS11_MODULES", "/nonexistent/libbogus.so")
        .args(["certs", "--json"]));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("MODULE_LOAD_FAILED"));
    let certs: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("not JSON: {e}"));
    assert_eq!(certs.as_array().map(Vec::len), Some(pki().users.len() + 2));
}

#[test]
fn output_path_equal_to_input_is_refused_and_the_input_kept() {
    let hsm = SoftHsm::new();
    let input = kyso_tests::write_file(hsm.scratch(), "keep.txt", b"precious");
    let output = run(hsm
        .kyso()
        .args(["sign", "cms"])
        .arg(&input)
        .arg("-o")
        .arg(&input)
        .args(["--cert", &thumbprint("company-rsa2048"), "--pin-file"])
        .arg(hsm.pin_file(USER_PIN)));
    assert!(!output.status.success());
    assert!(stderr(&output).contains("BAD_REQUEST"));
    assert_eq!(std::fs::read(&input).unwrap_or_default(), b"precious");
}

#[test]
fn several_signing_certificates_without_cert_asks_to_choose() {
    let hsm = SoftHsm::new();
    let input = kyso_tests::write_file(hsm.scratch(), "a.txt", b"abc");
    let output = run(hsm
        .kyso()
        .args(["sign", "cms"])
        .arg(&input)
        .arg("-o")
        .arg(hsm.scratch().join("a.p7s"))
        .arg("--pin-file")
        .arg(hsm.pin_file(USER_PIN)));
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("choose one"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn malformed_digest_is_a_bad_request() {
    let hsm = SoftHsm::new();
    for digest in ["zz", "abcd"] {
        let output =
            run(hsm
                .kyso()
                .args(["sign", "hash", "--algorithm", "sha256", "--digest", digest]));
        assert!(!output.status.success());
        assert!(
            stderr(&output).contains("BAD_REQUEST"),
            "{}",
            stderr(&output)
        );
    }
}
