//! The token core through the library: real PKCS#11 calls into SoftHSM2, every signature
//! checked by OpenSSL.
//!
//! PKCS#11 login state belongs to the token, not to a session, so these tests take turns
//! (`serial()`); each builds and drops its own `TokenService`.

use std::sync::{Mutex, MutexGuard};

use kyso::{
    formats::cms::{self, CmsRequest, Content},
    signer::{HashAlgorithm, SignInput, SignatureScheme, Signer},
    token::{ModuleSelection, TokenKey, TokenService},
    Coded, ErrorCode,
};
use kyso_tests::{
    in_process, openssl_cms_verify, openssl_verify_digest, pki, softhsm_module, thumbprint,
};
use secrecy::SecretString;

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn service() -> TokenService {
    in_process();
    TokenService::load(&ModuleSelection {
        named: vec![softhsm_module()],
        discover: false,
    })
}

fn unlocked(service: &TokenService, user: &str) -> TokenKey {
    let key = service
        .key(Some(&thumbprint(user)))
        .unwrap_or_else(|e| panic!("key for {user}: {e:?}"));
    key.login(Some(SecretString::from(kyso_tests::USER_PIN)))
        .unwrap_or_else(|e| panic!("login: {e:?}"));
    key
}

#[test]
fn certificates_are_listed_with_identifiers_and_diacritics_intact() {
    let _turn = serial();
    let certificates = service()
        .certificates(time::OffsetDateTime::now_utc())
        .unwrap_or_else(|e| panic!("{e:?}"));
    let company = certificates
        .iter()
        .find(|c| c.summary.thumbprint == thumbprint("company-rsa2048"))
        .unwrap_or_else(|| panic!("company certificate not listed"));
    assert_eq!(
        company.summary.common_name.as_deref(),
        Some("CÔNG TY TNHH KÝ SỐ VIỆT NAM")
    );
    assert_eq!(
        company.summary.identifiers.get("MST").map(String::as_str),
        Some("0104359717-001")
    );
    assert!(company.summary.subject.contains("UID=MST:0104359717-001"));
    assert!(company.summary.subject.contains("ST=Hà Nội"));
    assert_eq!(company.summary.key, "RSA-2048");
    assert_eq!(company.token.label, kyso_tests::TOKEN_LABEL);
    let person = certificates
        .iter()
        .find(|c| c.summary.thumbprint == thumbprint("person-p256"))
        .unwrap_or_else(|| panic!("P-256 certificate not listed"));
    assert_eq!(person.summary.key, "EC-P256");
    assert!(person.summary.identifiers.contains_key("CCCD"));
    let expired = certificates
        .iter()
        .find(|c| c.summary.thumbprint == thumbprint("expired-rsa2048"))
        .unwrap_or_else(|| panic!("expired certificate not listed"));
    assert!(!expired.summary.valid_now);
    let nosign = certificates
        .iter()
        .find(|c| c.summary.thumbprint == thumbprint("nosign-rsa2048"))
        .unwrap_or_else(|| panic!("no-signing certificate not listed"));
    assert!(!nosign.summary.can_sign);
    // Six users and two CA certificates.
    assert_eq!(certificates.len(), pki().users.len() + 2);
}

fn assert_cms_verifies(user: &str, scheme: Option<SignatureScheme>, hash: HashAlgorithm) {
    let service = service();
    let key = unlocked(&service, user);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = "Tờ khai thuế tháng 11/2026 — nội dung kiểm thử".as_bytes();
    let request = CmsRequest {
        hash,
        scheme,
        ..CmsRequest::default()
    };
    let detached = cms::sign(&key, Content::Detached(data), &request)
        .unwrap_or_else(|e| panic!("{user} detached: {e:?}"));
    openssl_cms_verify(dir.path(), &detached, Some(data))
        .unwrap_or_else(|e| panic!("{user} detached rejected by OpenSSL: {e}"));
    let attached = cms::sign(&key, Content::Attached(data), &request)
        .unwrap_or_else(|e| panic!("{user} attached: {e:?}"));
    let content = openssl_cms_verify(dir.path(), &attached, None)
        .unwrap_or_else(|e| panic!("{user} attached rejected by OpenSSL: {e}"));
    assert_eq!(content, data);
    key.logout().unwrap_or_else(|e| panic!("{e:?}"));
}

#[test]
fn rsa_2048_cms_detached_and_attached_verify_with_openssl() {
    let _turn = serial();
    assert_cms_verifies("company-rsa2048", None, HashAlgorithm::Sha256);
}

#[test]
fn rsa_cms_with_sha384_and_sha512_verifies_with_openssl() {
    let _turn = serial();
    assert_cms_verifies("company-rsa2048", None, HashAlgorithm::Sha384);
    assert_cms_verifies("company-rsa2048", None, HashAlgorithm::Sha512);
}

#[test]
fn rsa_pss_cms_verifies_with_openssl() {
    let _turn = serial();
    assert_cms_verifies(
        "company-rsa2048",
        Some(SignatureScheme::RsaPss),
        HashAlgorithm::Sha256,
    );
}

#[test]
fn ecdsa_p256_and_p384_cms_verify_with_openssl() {
    let _turn = serial();
    assert_cms_verifies("person-p256", None, HashAlgorithm::Sha256);
    assert_cms_verifies("company-p384", None, HashAlgorithm::Sha384);
}

#[test]
fn key_is_paired_by_public_key_when_the_certificate_id_does_not_match() {
    let _turn = serial();
    // person-rsa3072's certificate has a CKA_ID that no key has.
    assert_cms_verifies(kyso_tests::MISMATCHED_ID_USER, None, HashAlgorithm::Sha256);
}

#[test]
fn tampered_content_fails_openssl_verification() {
    let _turn = serial();
    let service = service();
    let key = unlocked(&service, "company-rsa2048");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let signature = cms::sign(&key, Content::Detached(b"original"), &CmsRequest::default())
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert!(openssl_cms_verify(dir.path(), &signature, Some(b"original")).is_ok());
    let rejected = openssl_cms_verify(dir.path(), &signature, Some(b"origina1"));
    assert!(rejected.is_err(), "OpenSSL accepted tampered content");
    assert!(rejected
        .err()
        .unwrap_or_default()
        .contains("content verify error"));
}

#[test]
fn raw_hash_signatures_verify_with_openssl_for_pkcs1_pss_and_ecdsa() {
    let _turn = serial();
    let service = service();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let digest = HashAlgorithm::Sha256.digest(b"server challenge");
    for (user, scheme, pss) in [
        ("company-rsa2048", SignatureScheme::RsaPkcs1v15, false),
        ("company-rsa2048", SignatureScheme::RsaPss, true),
        ("person-p256", SignatureScheme::Ecdsa, false),
    ] {
        let key = unlocked(&service, user);
        let signature = key
            .sign(scheme, HashAlgorithm::Sha256, SignInput::Digest(&digest))
            .unwrap_or_else(|e| panic!("{user} {scheme:?}: {e:?}"));
        assert!(
            openssl_verify_digest(
                dir.path(),
                key.certificate(),
                &digest,
                &signature,
                pss,
                "sha256"
            ),
            "OpenSSL rejected the {scheme:?} signature of {user}"
        );
        key.logout().unwrap_or_else(|e| panic!("{e:?}"));
    }
}

#[test]
fn eight_threads_signing_at_once_all_produce_valid_signatures() {
    let _turn = serial();
    let service = service();
    let key = unlocked(&service, "company-rsa2048");
    let signatures: Vec<(Vec<u8>, Vec<u8>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let key = key.clone();
                scope.spawn(move || {
                    let data = format!("document {i}").into_bytes();
                    let signature =
                        cms::sign(&key, Content::Detached(&data), &CmsRequest::default())
                            .unwrap_or_else(|e| panic!("thread {i}: {e:?}"));
                    (data, signature)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| panic!("thread panicked")))
            .collect()
    });
    assert_eq!(signatures.len(), 8);
    for (data, signature) in signatures {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        openssl_cms_verify(dir.path(), &signature, Some(&data))
            .unwrap_or_else(|e| panic!("OpenSSL rejected a concurrent signature: {e}"));
    }
    key.logout().unwrap_or_else(|e| panic!("{e:?}"));
}

#[test]
fn wrong_pin_reports_pin_incorrect_and_the_token_warns_of_it() {
    let _turn = serial();
    let service = service();
    let key = service
        .key(Some(&thumbprint("company-rsa2048")))
        .unwrap_or_else(|e| panic!("{e:?}"));
    let error = key
        .login(Some(SecretString::from("000000")))
        .err()
        .unwrap_or_else(|| panic!("a wrong PIN was accepted"));
    assert_eq!(error.code(), ErrorCode::PinIncorrect);
    let state = key.pin_state().unwrap_or_else(|e| panic!("{e:?}"));
    assert!(state.count_low, "the token should report a failed attempt");
    // The right PIN still works and clears the warning.
    key.login(Some(SecretString::from(kyso_tests::USER_PIN)))
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert!(
        !key.pin_state()
            .unwrap_or_else(|e| panic!("{e:?}"))
            .count_low
    );
    key.logout().unwrap_or_else(|e| panic!("{e:?}"));
}

#[test]
fn signing_without_login_is_refused_by_the_token() {
    let _turn = serial();
    let service = service();
    let key = service
        .key(Some(&thumbprint("company-rsa2048")))
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert!(key.needs_login().unwrap_or(false));
    let error = cms::sign(&key, Content::Detached(b"x"), &CmsRequest::default())
        .err()
        .unwrap_or_else(|| panic!("signed without a login"));
    // Private keys are invisible before login.
    assert_eq!(error.code(), ErrorCode::KeyNotFound);
}

#[test]
fn a_bogus_module_is_reported_and_the_other_modules_still_work() {
    let _turn = serial();
    in_process();
    let service = TokenService::load(&ModuleSelection {
        named: vec!["/nonexistent/libbogus-pkcs11.so".into(), softhsm_module()],
        discover: false,
    });
    let failed: Vec<_> = service
        .modules()
        .iter()
        .filter(|m| m.error.is_some())
        .collect();
    assert_eq!(failed.len(), 1);
    assert!(failed[0].path.ends_with("libbogus-pkcs11.so"));
    let tokens = service.tokens().unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(tokens.len(), 1);

    let only_bogus = TokenService::load(&ModuleSelection {
        named: vec!["/nonexistent/libbogus-pkcs11.so".into()],
        discover: false,
    });
    let error = only_bogus
        .tokens()
        .err()
        .unwrap_or_else(|| panic!("no error"));
    assert_eq!(error.code(), ErrorCode::ModuleLoadFailed);
}

#[test]
fn a_token_reached_through_two_modules_is_listed_once() {
    let _turn = serial();
    in_process();
    // A copy of the module file is a second, independent module instance on the same tokens,
    // like a vendor module next to OpenSC for one card.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let copy = dir.path().join("libsofthsm2-copy.so");
    std::fs::copy(softhsm_module(), &copy).unwrap_or_else(|e| panic!("{e}"));
    let service = TokenService::load(&ModuleSelection {
        named: vec![softhsm_module(), copy],
        discover: false,
    });
    assert!(service.modules().iter().all(|m| m.error.is_none()));
    let tokens = service.tokens().unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(tokens.len(), 1, "{tokens:?}");
}

#[test]
fn unknown_thumbprint_is_certificate_not_found() {
    let _turn = serial();
    let error = service()
        .key(Some("00ff"))
        .err()
        .unwrap_or_else(|| panic!("found a certificate"));
    assert_eq!(error.code(), ErrorCode::CertificateNotFound);
}
