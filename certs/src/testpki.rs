//! A throwaway PKI for tests and the demo token, declared once and generated fresh:
//! "Kyso Test Root CA" (P-384) → "Kyso Test Issuing CA" (RSA-2048) → end-entity certificates
//! shaped like those Vietnamese CAs issue (UID "MST:…"/"CCCD:…", diacritics in UTF-8).

use std::sync::OnceLock;
use std::thread;

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
    PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_RSA_SHA256,
};
use rsa::pkcs8::EncodePrivateKey;
use rsa::rand_core::{OsRng, RngCore};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::CertError;

/// userId, 0.9.2342.19200300.100.1.1: where Vietnamese CAs put "MST:…" and "CCCD:…".
const OID_UID: &[u64] = &[0, 9, 2342, 19200300, 100, 1, 1];

/// The key algorithm and size of a test identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpec {
    /// RSA, 2048-bit modulus, certificates signed with sha256WithRSAEncryption.
    Rsa2048,
    /// RSA, 3072-bit modulus.
    Rsa3072,
    /// ECDSA on P-256.
    EcP256,
    /// ECDSA on P-384.
    EcP384,
}

/// A certificate with its private key.
#[derive(Debug, Clone)]
pub struct Identity {
    /// Lookup key ("company-rsa2048", …; "root-ca" and "issuing-ca" for the CAs).
    pub name: &'static str,
    /// The key's algorithm and size.
    pub key_spec: KeySpec,
    /// The certificate, DER.
    pub cert_der: Vec<u8>,
    /// The private key, PKCS#8 DER. Not zeroized: these are test keys, published by design.
    pub key_pkcs8_der: Vec<u8>,
}

/// The generated test PKI.
#[derive(Debug, Clone)]
pub struct TestPki {
    /// Self-signed root CA, "Kyso Test Root CA".
    pub root: Identity,
    /// Intermediate CA, "Kyso Test Issuing CA", which signs every user certificate.
    pub issuing: Identity,
    /// End-entity certificates, in the order declared in this module.
    pub users: Vec<Identity>,
}

/// Attribute types used in the test subjects.
#[derive(Clone, Copy)]
enum Attr {
    C,
    St,
    L,
    O,
    Cn,
    Uid,
}

/// Whether a certificate is valid around generation time or long expired.
#[derive(Clone, Copy)]
enum Validity {
    /// From one day before generation to two years after.
    Current,
    /// Ended in 2021.
    Expired,
}

/// One end-entity certificate to generate.
struct UserSpec {
    name: &'static str,
    key_spec: KeySpec,
    subject: &'static [(Attr, &'static str)],
    validity: Validity,
    key_usages: &'static [KeyUsagePurpose],
    extended_key_usages: &'static [ExtendedKeyUsagePurpose],
}

const SIGNING_USAGE: &[KeyUsagePurpose] = &[
    KeyUsagePurpose::DigitalSignature,
    KeyUsagePurpose::ContentCommitment,
];
const SIGNING_EKU: &[ExtendedKeyUsagePurpose] = &[
    ExtendedKeyUsagePurpose::ClientAuth,
    ExtendedKeyUsagePurpose::EmailProtection,
];

/// The end-entity certificates. Names are lookup keys used across the workspace: keep them.
const USERS: &[UserSpec] = &[
    UserSpec {
        name: "company-rsa2048",
        key_spec: KeySpec::Rsa2048,
        subject: &[
            (Attr::C, "VN"),
            (Attr::St, "Hà Nội"),
            (Attr::L, "Cầu Giấy"),
            (Attr::O, "CÔNG TY TNHH KÝ SỐ VIỆT NAM"),
            (Attr::Cn, "CÔNG TY TNHH KÝ SỐ VIỆT NAM"),
            (Attr::Uid, "MST:0104359717-001"),
        ],
        validity: Validity::Current,
        key_usages: SIGNING_USAGE,
        extended_key_usages: SIGNING_EKU,
    },
    UserSpec {
        name: "person-rsa3072",
        key_spec: KeySpec::Rsa3072,
        subject: &[
            (Attr::C, "VN"),
            (Attr::St, "Thành phố Hồ Chí Minh"),
            (Attr::Cn, "Nguyễn Văn Ánh"),
            (Attr::Uid, "CCCD:001090012345"),
        ],
        validity: Validity::Current,
        key_usages: SIGNING_USAGE,
        extended_key_usages: SIGNING_EKU,
    },
    UserSpec {
        name: "person-p256",
        key_spec: KeySpec::EcP256,
        subject: &[
            (Attr::C, "VN"),
            (Attr::St, "Đà Nẵng"),
            (Attr::Cn, "Trần Thị Bích Ngọc"),
            (Attr::Uid, "CCCD:079073009568"),
        ],
        validity: Validity::Current,
        key_usages: SIGNING_USAGE,
        extended_key_usages: SIGNING_EKU,
    },
    UserSpec {
        name: "company-p384",
        key_spec: KeySpec::EcP384,
        subject: &[
            (Attr::C, "VN"),
            (Attr::O, "CÔNG TY CỔ PHẦN SỐ HÓA"),
            (Attr::Cn, "CÔNG TY CỔ PHẦN SỐ HÓA"),
            (Attr::Uid, "MST:0312345678"),
        ],
        validity: Validity::Current,
        key_usages: SIGNING_USAGE,
        extended_key_usages: SIGNING_EKU,
    },
    UserSpec {
        name: "expired-rsa2048",
        key_spec: KeySpec::Rsa2048,
        subject: &[
            (Attr::C, "VN"),
            (Attr::Cn, "Lê Văn Hết Hạn"),
            (Attr::Uid, "CMND:079073009568"),
        ],
        validity: Validity::Expired,
        key_usages: SIGNING_USAGE,
        extended_key_usages: SIGNING_EKU,
    },
    UserSpec {
        name: "nosign-rsa2048",
        key_spec: KeySpec::Rsa2048,
        subject: &[
            (Attr::C, "VN"),
            (Attr::Cn, "Phạm Không Ký"),
            (Attr::Uid, "MNS:1047665"),
        ],
        validity: Validity::Current,
        key_usages: &[KeyUsagePurpose::KeyEncipherment],
        extended_key_usages: &[ExtendedKeyUsagePurpose::ServerAuth],
    },
];

const ROOT_NAME: &str = "root-ca";
const ROOT_KEY: KeySpec = KeySpec::EcP384;
const ISSUING_NAME: &str = "issuing-ca";
const ISSUING_KEY: KeySpec = KeySpec::Rsa2048;

impl TestPki {
    /// Generates a fresh PKI: new keys, random serials, validity relative to the current
    /// time. RSA keys are generated in parallel, since that dominates the cost.
    pub fn generate() -> Result<TestPki, CertError> {
        let now = OffsetDateTime::now_utc();
        let keys = generate_keys()?;

        let (root_key, root_pkcs8) = keys.root;
        let mut root_params = ca_params("Kyso Test Root CA", now, Duration::days(3650))?;
        root_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let root_cert = root_params.self_signed(&root_key)?;
        let root = Identity {
            name: ROOT_NAME,
            key_spec: ROOT_KEY,
            cert_der: root_cert.der().to_vec(),
            key_pkcs8_der: root_pkcs8,
        };
        let root_issuer = Issuer::new(root_params, root_key);

        let (issuing_key, issuing_pkcs8) = keys.issuing;
        let mut issuing_params = ca_params("Kyso Test Issuing CA", now, Duration::days(1825))?;
        // The issuing CA signs end entities only.
        issuing_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        let issuing_cert = issuing_params.signed_by(&issuing_key, &root_issuer)?;
        let issuing = Identity {
            name: ISSUING_NAME,
            key_spec: ISSUING_KEY,
            cert_der: issuing_cert.der().to_vec(),
            key_pkcs8_der: issuing_pkcs8,
        };
        let issuing_issuer = Issuer::new(issuing_params, issuing_key);

        let mut users = Vec::with_capacity(USERS.len());
        for (spec, (key, pkcs8)) in USERS.iter().zip(keys.users) {
            let cert = user_params(spec, now)?.signed_by(&key, &issuing_issuer)?;
            users.push(Identity {
                name: spec.name,
                key_spec: spec.key_spec,
                cert_der: cert.der().to_vec(),
                key_pkcs8_der: pkcs8,
            });
        }

        Ok(TestPki {
            root,
            issuing,
            users,
        })
    }

    /// The end-entity identity with this name, e.g. "company-rsa2048".
    pub fn user(&self, name: &str) -> Option<&Identity> {
        self.users.iter().find(|u| u.name == name)
    }

    /// The issuing CA then the root, PEM: the chain to hand to verifiers with a user cert.
    pub fn chain_pem(&self) -> String {
        let mut pem = to_pem(&self.issuing.cert_der);
        pem.push_str(&to_pem(&self.root.cert_der));
        pem
    }

    /// The root CA, PEM.
    pub fn root_pem(&self) -> String {
        to_pem(&self.root.cert_der)
    }
}

impl Identity {
    /// The certificate, PEM.
    pub fn cert_pem(&self) -> String {
        to_pem(&self.cert_der)
    }
}

/// A test PKI generated once per process and shared, so test suites pay for RSA key
/// generation once.
///
/// # Panics
///
/// If generation fails. This is a test convenience: production code must call
/// [`TestPki::generate`] and handle the error.
pub fn shared() -> &'static TestPki {
    static SHARED: OnceLock<TestPki> = OnceLock::new();
    SHARED.get_or_init(|| {
        TestPki::generate()
            .unwrap_or_else(|e| panic!("generating the shared test PKI failed: {e:?}"))
    })
}

/// PEM "CERTIFICATE" block with 64-character lines.
pub(crate) fn to_pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    // Base64 output is ASCII, so splitting bytes never splits a character.
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

/// A key pair for rcgen, and its PKCS#8 DER.
type GeneratedKey = (KeyPair, Vec<u8>);

/// Keys for the whole PKI; `users` follows the order of [`USERS`].
struct PkiKeys {
    root: GeneratedKey,
    issuing: GeneratedKey,
    users: Vec<GeneratedKey>,
}

/// Generates every key, each on its own thread: RSA generation takes from a fraction of a
/// second to a few seconds per key, and the keys are independent.
fn generate_keys() -> Result<PkiKeys, CertError> {
    // A panic in a generator thread is a bug, not an error to report: pass it on as is.
    fn join<T>(handle: thread::ScopedJoinHandle<'_, T>) -> T {
        handle
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
    thread::scope(|scope| {
        let root = scope.spawn(|| generate_key(ROOT_KEY));
        let issuing = scope.spawn(|| generate_key(ISSUING_KEY));
        let users: Vec<_> = USERS
            .iter()
            .map(|user| scope.spawn(move || generate_key(user.key_spec)))
            .collect();
        Ok(PkiKeys {
            root: join(root)?,
            issuing: join(issuing)?,
            users: users.into_iter().map(join).collect::<Result<_, _>>()?,
        })
    })
}

fn generate_key(spec: KeySpec) -> Result<GeneratedKey, CertError> {
    let bits = match spec {
        KeySpec::EcP256 => return ec_key(&PKCS_ECDSA_P256_SHA256),
        KeySpec::EcP384 => return ec_key(&PKCS_ECDSA_P384_SHA384),
        KeySpec::Rsa2048 => 2048,
        KeySpec::Rsa3072 => 3072,
    };
    // ring (rcgen's backend) can sign with RSA keys but not generate them.
    let key = rsa::RsaPrivateKey::new(&mut OsRng, bits).map_err(CertError::RsaKeyGeneration)?;
    let pkcs8 = key
        .to_pkcs8_der()
        .map_err(CertError::Pkcs8)?
        .as_bytes()
        .to_vec();
    let key_pair =
        KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8.as_slice().into(), &PKCS_RSA_SHA256)?;
    Ok((key_pair, pkcs8))
}

fn ec_key(alg: &'static rcgen::SignatureAlgorithm) -> Result<GeneratedKey, CertError> {
    let key_pair = KeyPair::generate_for(alg)?;
    let pkcs8 = key_pair.serialize_der();
    Ok((key_pair, pkcs8))
}

fn ca_params(
    common_name: &str,
    now: OffsetDateTime,
    lifetime: Duration,
) -> Result<CertificateParams, CertError> {
    let mut params = base_params(now - Duration::days(1), now + lifetime);
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, printable("VN")?);
    dn.push(DnType::OrganizationName, "Kyso Test PKI");
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok(params)
}

fn user_params(spec: &UserSpec, now: OffsetDateTime) -> Result<CertificateParams, CertError> {
    let (not_before, not_after) = match spec.validity {
        Validity::Current => (now - Duration::days(1), now + Duration::days(730)),
        Validity::Expired => (
            datetime!(2019-06-01 0:00 UTC),
            datetime!(2021-06-01 0:00 UTC),
        ),
    };
    let mut params = base_params(not_before, not_after);
    let mut dn = DistinguishedName::new();
    for &(attr, value) in spec.subject {
        let (ty, value) = match attr {
            // X.520 countryName is a PrintableString.
            Attr::C => (DnType::CountryName, printable(value)?),
            Attr::St => (DnType::StateOrProvinceName, utf8(value)),
            Attr::L => (DnType::LocalityName, utf8(value)),
            Attr::O => (DnType::OrganizationName, utf8(value)),
            Attr::Cn => (DnType::CommonName, utf8(value)),
            Attr::Uid => (DnType::CustomDnType(OID_UID.to_vec()), utf8(value)),
        };
        dn.push(ty, value);
    }
    params.distinguished_name = dn;
    // CA:FALSE written explicitly; rcgen also adds the SubjectKeyIdentifier only then.
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = spec.key_usages.to_vec();
    params.extended_key_usages = spec.extended_key_usages.to_vec();
    Ok(params)
}

/// Parameters shared by every certificate: validity, a random serial, and an
/// AuthorityKeyIdentifier so OpenSSL and Windows can build the chain.
fn base_params(not_before: OffsetDateTime, not_after: OffsetDateTime) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.not_before = not_before;
    params.not_after = not_after;
    params.serial_number = Some(random_serial());
    params.use_authority_key_identifier_extension = true;
    params
}

/// 16 random bytes, top bit clear (so the INTEGER is positive without a padding byte) and
/// the next bit set (so it is exactly 16 bytes long).
pub(crate) fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&bytes)
}

fn printable(value: &str) -> Result<DnValue, CertError> {
    Ok(DnValue::PrintableString(value.try_into()?))
}

fn utf8(value: &str) -> DnValue {
    DnValue::Utf8String(value.to_owned())
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::process::Command;

    use rcgen::PublicKeyData;
    use x509_parser::prelude::FromDer;

    use super::*;

    fn openssl_verify(dir: &Path, pki: &TestPki, user: &Identity) -> (bool, String) {
        let root = dir.join("root.pem");
        let issuing = dir.join("issuing.pem");
        let leaf = dir.join(format!("{}.pem", user.name));
        std::fs::write(&root, pki.root_pem()).expect("write root.pem");
        std::fs::write(&issuing, pki.issuing.cert_pem()).expect("write issuing.pem");
        std::fs::write(&leaf, user.cert_pem()).expect("write user pem");
        let out = Command::new("openssl")
            .arg("verify")
            .arg("-CAfile")
            .arg(&root)
            .arg("-untrusted")
            .arg(&issuing)
            .arg(&leaf)
            .output()
            .expect("run openssl (it must be installed for these tests)");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    #[test]
    fn openssl_accepts_every_valid_user_and_rejects_the_expired_one() {
        let pki = shared();
        let dir = tempfile::tempdir().expect("temp dir");
        for user in &pki.users {
            let (ok, output) = openssl_verify(dir.path(), pki, user);
            if user.name == "expired-rsa2048" {
                assert!(!ok, "openssl accepted the expired cert: {output}");
                assert!(output.contains("expired"), "{output}");
            } else {
                assert!(ok, "openssl rejected {}: {output}", user.name);
            }
        }
    }

    #[test]
    fn chain_pem_is_issuing_then_root() {
        let pki = shared();
        let chain = pki.chain_pem();
        assert_eq!(chain.matches("-----BEGIN CERTIFICATE-----").count(), 2);
        assert!(chain.starts_with(&pki.issuing.cert_pem()));
        assert!(chain.ends_with(&pki.root_pem()));
        assert!(pki.root_pem().lines().all(|line| line.len() <= 64));
    }

    #[test]
    fn every_declared_user_exists_with_its_key_spec() {
        let pki = shared();
        let expected = [
            ("company-rsa2048", KeySpec::Rsa2048),
            ("person-rsa3072", KeySpec::Rsa3072),
            ("person-p256", KeySpec::EcP256),
            ("company-p384", KeySpec::EcP384),
            ("expired-rsa2048", KeySpec::Rsa2048),
            ("nosign-rsa2048", KeySpec::Rsa2048),
        ];
        assert_eq!(pki.users.len(), expected.len());
        for (name, spec) in expected {
            let user = pki.user(name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(user.key_spec, spec);
        }
        assert!(pki.user("nobody").is_none());
    }

    #[test]
    fn private_keys_match_their_certificates() {
        let pki = shared();
        for id in pki.users.iter().chain([&pki.root, &pki.issuing]) {
            let key = KeyPair::try_from(id.key_pkcs8_der.as_slice())
                .unwrap_or_else(|e| panic!("{}: key does not load: {e}", id.name));
            let spki = crate::spki_der(&id.cert_der).expect("spki");
            assert_eq!(key.subject_public_key_info(), spki, "{}", id.name);
        }
    }

    #[test]
    fn uid_is_a_utf8_string_and_rsa_certs_use_sha256_with_rsa() {
        let pki = shared();
        for user in &pki.users {
            let (_, cert) =
                x509_parser::certificate::X509Certificate::from_der(&user.cert_der).expect("parse");
            let uid = cert
                .subject()
                .iter_attributes()
                .find(|a| a.attr_type().to_id_string() == "0.9.2342.19200300.100.1.1")
                .unwrap_or_else(|| panic!("{} has no UID", user.name));
            assert_eq!(
                uid.attr_value().tag(),
                x509_parser::asn1_rs::Tag::Utf8String
            );
            // Every user is signed by the RSA issuing CA.
            assert_eq!(
                cert.signature_algorithm.algorithm.to_id_string(),
                "1.2.840.113549.1.1.11",
                "{}",
                user.name
            );
            assert!(cert
                .get_extension_unique(
                    &x509_parser::oid_registry::OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER
                )
                .expect("extensions")
                .is_some());
        }
    }
}
