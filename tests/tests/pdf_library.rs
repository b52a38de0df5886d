//! `kyso::formats::pdf::sign_pdf`, the entry point the API calls, with a SoftHSM key through
//! real PKCS#11: streaming into any writer, progress, PAdES attributes, and nothing written
//! when the token refuses. Signatures are checked by OpenSSL (the CMS over the ByteRange) and
//! poppler's `pdfsig`.
//!
//! PKCS#11 login state belongs to the token, so the tests take turns (`serial()`).

use std::{
    io::Cursor,
    path::Path,
    process::Command,
    sync::{Mutex, MutexGuard},
    time::{Duration, SystemTime},
};

use kyso::{
    formats::pdf::{self, PdfSignOptions, Progress},
    signer::{HashAlgorithm, SignInput, SignatureScheme, Signer},
    token::{ModuleSelection, TokenKey, TokenService},
    Coded,
};
use kyso_tests::{in_process, openssl_cms_verify, pki, run, softhsm_module, write_file};
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

fn key(service: &TokenService, user: &str) -> TokenKey {
    let user = pki().user(user).unwrap_or_else(|| panic!("no user {user}"));
    service
        .key(Some(&kyso_certs::thumbprint(&user.cert_der)))
        .unwrap_or_else(|e| panic!("key: {e:?}"))
}

fn fixture() -> Vec<u8> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/pdftex-shared-mime-info-spec.pdf");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// DER of the OID `1.2.840.113549.1.9.5` (CMS signing-time attribute).
const SIGNING_TIME_OID: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x05,
];
/// DER of the OID `1.2.840.113549.1.9.16.2.47` (ESS signing-certificate-v2).
const SIGNING_CERTIFICATE_V2_OID: &[u8] = &[
    0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x02, 0x2f,
];

#[test]
fn sign_pdf_streams_a_pades_signature_openssl_and_pdfsig_accept() {
    let _turn = serial();
    let service = service();
    let key = key(&service, "company-rsa2048");
    key.login(Some(SecretString::from(kyso_tests::USER_PIN)))
        .unwrap_or_else(|e| panic!("login: {e:?}"));
    let original = fixture();
    // The JSON the API takes.
    let mut options: PdfSignOptions = serde_json::from_str(
        r#"{"reason": "Phê duyệt", "location": "Hà Nội",
            "visible": {"page": -1, "rect": [300, 40, 560, 130]}}"#,
    )
    .unwrap_or_else(|e| panic!("options: {e}"));
    // 2026-11-23 02:05:01 UTC is 09:05:01 in Vietnam.
    options.signing_time = Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_399_501));

    let mut out = Vec::new();
    let mut events = Vec::new();
    let outcome =
        pdf::sign_pdf_with_progress(Cursor::new(&original), &mut out, &key, &options, &mut |p| {
            events.push(p)
        })
        .unwrap_or_else(|e| panic!("sign_pdf: {e:?}"));
    let _ = key.logout();

    let total = out.len() as u64;
    assert!(out.starts_with(&original));
    assert_eq!(outcome.bytes_written, total);
    assert_eq!(outcome.subfilter, "ETSI.CAdES.detached");
    assert_eq!(outcome.signing_time, "D:20261123090501+07'00'");
    assert_eq!(events.last(), Some(&Progress::Writing(total, total)));
    assert!(events.contains(&Progress::Hashing(total, total)));

    // The ByteRange covers everything but the /Contents hex string, which holds the CMS.
    let [a, b, c, d] = outcome.byte_range;
    assert_eq!((a, c + d), (0, total));
    let hex = &out[b as usize + 1..c as usize - 1];
    assert_eq!(hex.len(), 2 * outcome.reserved);
    let contents = hex::decode(hex).unwrap_or_else(|e| panic!("contents: {e}"));
    let (cms, padding) = contents.split_at(outcome.signature_len);
    assert!(padding.iter().all(|b| *b == 0));
    let contains = |needle: &[u8]| cms.windows(needle.len()).any(|w| w == needle);
    assert!(
        !contains(SIGNING_TIME_OID),
        "PAdES B-B forbids the CMS signing-time attribute"
    );
    assert!(contains(SIGNING_CERTIFICATE_V2_OID));
    assert!(String::from_utf8_lossy(&out).contains("/M (D:20261123090501+07'00')"));

    let signed_bytes = [&out[..b as usize], &out[c as usize..]].concat();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    openssl_cms_verify(dir.path(), cms, Some(&signed_bytes))
        .unwrap_or_else(|e| panic!("openssl cms -verify: {e}"));
    let signed = write_file(dir.path(), "signed.pdf", &out);
    let report = run(Command::new("pdfsig").arg(&signed));
    let report = String::from_utf8_lossy(&report.stdout);
    assert!(report.contains("Signature is Valid"), "{report}");
    assert!(report.contains("Total document signed"), "{report}");
}

#[test]
fn a_refused_signature_writes_nothing_and_keeps_the_token_code() {
    let _turn = serial();
    let service = service();
    // Not logged in: the token itself refuses to sign.
    let key = key(&service, "company-rsa2048");
    let direct = key
        .sign(
            SignatureScheme::RsaPkcs1v15,
            HashAlgorithm::Sha256,
            SignInput::Message(b"probe"),
        )
        .err()
        .unwrap_or_else(|| panic!("a key that is not logged in signed"));

    let mut out = Vec::new();
    let error = pdf::sign_pdf(
        Cursor::new(fixture()),
        &mut out,
        &key,
        &PdfSignOptions::default(),
    )
    .err()
    .unwrap_or_else(|| panic!("signing without login succeeded"));
    assert_eq!(error.code(), direct.code());
    assert!(
        out.is_empty(),
        "nothing may be written before the signature exists"
    );
}
