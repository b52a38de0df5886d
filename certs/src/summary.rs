//! What kyso shows about a certificate: names, identifiers, validity and whether it can sign.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{ExtendedKeyUsage, KeyUsage};

use crate::key::key_label;
use crate::name;
use crate::CertError;

/// How close to `not_after` a certificate counts as expiring soon.
const EXPIRING_SOON: Duration = Duration::days(30);

/// Summary of one certificate, serialised as-is by the agent's API.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct CertificateSummary {
    /// SHA-256 of the DER, lowercase hex without separators.
    pub thumbprint: String,
    /// Serial number, uppercase hex without separators or the DER sign-padding zero byte.
    pub serial: String,
    /// Subject as RFC 4514 text, most specific first (like `openssl -nameopt RFC2253`),
    /// with diacritics kept as UTF-8.
    pub subject: String,
    /// The subject's common name.
    pub common_name: Option<String>,
    /// The subject's organization.
    pub organization: Option<String>,
    /// Vietnamese identifiers from the subject's UID and serialNumber attributes, keyed by
    /// prefix: `{"MST": "0104359717-001"}`.
    pub identifiers: BTreeMap<String, String>,
    /// Issuer as RFC 4514 text, like `subject`.
    pub issuer: String,
    /// The issuer's common name.
    pub issuer_common_name: Option<String>,
    /// Start of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// End of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// Whether `now` lies within the validity period (both ends inclusive, as in RFC 5280).
    pub valid_now: bool,
    /// Valid now, and `not_after` is at most 30 days after `now`.
    pub expiring_soon: bool,
    /// "RSA-2048", "RSA-3072", "EC-P256", "EC-P384", "EC-P521", "Ed25519" or "UNKNOWN"
    /// (other RSA sizes are written the same way, e.g. "RSA-4096").
    pub key: String,
    /// Key usage bits by their RFC 5280 names, in the RFC's order.
    pub key_usage: Vec<String>,
    /// Extended key usages: names for well-known purposes, dotted OIDs otherwise.
    pub extended_key_usage: Vec<String>,
    /// Whether the key may make signatures on documents (see [`summarize`]).
    pub can_sign: bool,
    /// Whether basicConstraints says this is a CA.
    pub is_ca: bool,
}

/// Summarises a DER certificate as seen at `now`.
///
/// `can_sign` is true when the key usage extension is absent or includes digitalSignature or
/// nonRepudiation — except for CA certificates, which must list one of those explicitly: a
/// CA certificate with only keyCertSign/cRLSign (or no key usage at all) is not offered as a
/// signing certificate.
pub fn summarize(der: &[u8], now: OffsetDateTime) -> Result<CertificateSummary, CertError> {
    let cert = parse(der)?;
    let subject = cert.subject();
    let issuer = cert.issuer();
    let not_before = cert.validity().not_before.to_datetime();
    let not_after = cert.validity().not_after.to_datetime();
    let valid_now = not_before <= now && now <= not_after;

    let key_usage = cert.key_usage().map_err(CertError::Parse)?;
    let key_usage = key_usage.map(|ext| ext.value);
    let extended_key_usage = cert.extended_key_usage().map_err(CertError::Parse)?;
    let is_ca = cert
        .basic_constraints()
        .map_err(CertError::Parse)?
        .is_some_and(|ext| ext.value.ca);

    let signing_bits = key_usage.map(|ku| ku.digital_signature() || ku.non_repudiation());
    let can_sign = if is_ca {
        signing_bits == Some(true)
    } else {
        signing_bits.unwrap_or(true)
    };

    Ok(CertificateSummary {
        thumbprint: thumbprint(der),
        serial: serial_hex(cert.raw_serial()),
        subject: name::rfc4514(subject),
        common_name: name::common_name(subject),
        organization: name::organization(subject),
        identifiers: name::identifiers(subject),
        issuer: name::rfc4514(issuer),
        issuer_common_name: name::common_name(issuer),
        not_before,
        not_after,
        valid_now,
        expiring_soon: valid_now && not_after - now <= EXPIRING_SOON,
        key: key_label(cert.public_key()),
        key_usage: key_usage.map(key_usage_names).unwrap_or_default(),
        extended_key_usage: extended_key_usage
            .map(|ext| eku_names(ext.value))
            .unwrap_or_default(),
        can_sign,
        is_ca,
    })
}

/// SHA-256 of the bytes, lowercase hex without separators — the certificate's identity in
/// kyso's API.
pub fn thumbprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// Parses exactly one DER certificate, rejecting trailing bytes.
pub(crate) fn parse(der: &[u8]) -> Result<X509Certificate<'_>, CertError> {
    let (rest, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|e| CertError::Parse(e.into()))?;
    if !rest.is_empty() {
        return Err(CertError::TrailingData { len: rest.len() });
    }
    Ok(cert)
}

/// Uppercase hex of the serial's two's-complement bytes, without the zero byte DER adds to
/// keep a positive number's top bit clear (it is not part of the number people compare).
fn serial_hex(raw: &[u8]) -> String {
    let raw = match raw {
        [0, rest @ ..] if !rest.is_empty() => rest,
        _ => raw,
    };
    hex::encode_upper(raw)
}

/// A serial as people and portals write it (any case, with `:` or spaces, with or without
/// leading zeros) in the form [`CertificateSummary::serial`] uses, so the two compare equal.
pub fn normalize_serial(serial: &str) -> String {
    let hex: String = serial
        .chars()
        .filter(char::is_ascii_hexdigit)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let trimmed = hex.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".into()
    } else if trimmed.len() % 2 == 1 {
        format!("0{trimmed}")
    } else {
        trimmed.into()
    }
}

fn key_usage_names(ku: &KeyUsage) -> Vec<String> {
    [
        (ku.digital_signature(), "digitalSignature"),
        (ku.non_repudiation(), "nonRepudiation"),
        (ku.key_encipherment(), "keyEncipherment"),
        (ku.data_encipherment(), "dataEncipherment"),
        (ku.key_agreement(), "keyAgreement"),
        (ku.key_cert_sign(), "keyCertSign"),
        (ku.crl_sign(), "cRLSign"),
        (ku.encipher_only(), "encipherOnly"),
        (ku.decipher_only(), "decipherOnly"),
    ]
    .into_iter()
    .filter(|(set, _)| *set)
    .map(|(_, name)| name.to_owned())
    .collect()
}

/// Names for purposes x509-parser does not decode itself but that signing certificates carry.
const OTHER_EKU_NAMES: &[(&str, &str)] = &[
    // Microsoft szOID_KP_DOCUMENT_SIGNING.
    ("1.3.6.1.4.1.311.10.3.12", "msDocumentSigning"),
    // Microsoft smart card logon.
    ("1.3.6.1.4.1.311.20.2.2", "msSmartcardLogin"),
    // Adobe Authentic Documents Trust (PDF signing).
    ("1.2.840.113583.1.1.5", "adobeAuthenticDocumentsTrust"),
    // RFC 9336 id-kp-documentSigning.
    ("1.3.6.1.5.5.7.3.36", "documentSigning"),
];

/// EKU names in a fixed order (x509-parser reports the well-known purposes as flags, so the
/// certificate's own order is not available), followed by the others in certificate order.
fn eku_names(eku: &ExtendedKeyUsage<'_>) -> Vec<String> {
    let known = [
        (eku.server_auth, "serverAuth"),
        (eku.client_auth, "clientAuth"),
        (eku.code_signing, "codeSigning"),
        (eku.email_protection, "emailProtection"),
        (eku.time_stamping, "timeStamping"),
        (eku.ocsp_signing, "ocspSigning"),
        (eku.any, "anyExtendedKeyUsage"),
    ];
    let known = known
        .into_iter()
        .filter(|(set, _)| *set)
        .map(|(_, name)| name.to_owned());
    let others = eku.other.iter().map(|oid| {
        let dotted = oid.to_id_string();
        OTHER_EKU_NAMES
            .iter()
            .find(|(known, _)| *known == dotted)
            .map_or(dotted, |(_, name)| (*name).to_owned())
    });
    known.chain(others).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testpki::{shared, Identity, KeySpec};

    fn user(name: &str) -> &'static Identity {
        shared()
            .user(name)
            .unwrap_or_else(|| panic!("test PKI has no user {name}"))
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    #[test]
    fn company_summary_has_thumbprint_identifiers_and_readable_subject() {
        let cert = user("company-rsa2048");
        let s = summarize(&cert.cert_der, now()).expect("summary");
        assert_eq!(s.thumbprint, hex::encode(Sha256::digest(&cert.cert_der)));
        assert_eq!(s.thumbprint.len(), 64);
        assert_eq!(
            s.identifiers,
            BTreeMap::from([("MST".to_owned(), "0104359717-001".to_owned())])
        );
        assert!(
            s.subject.contains("UID=MST:0104359717-001"),
            "{}",
            s.subject
        );
        assert!(
            s.subject.contains("CN=CÔNG TY TNHH KÝ SỐ VIỆT NAM"),
            "{}",
            s.subject
        );
        assert!(!s.subject.contains("OID."), "{}", s.subject);
        assert_eq!(
            s.subject,
            "UID=MST:0104359717-001,CN=CÔNG TY TNHH KÝ SỐ VIỆT NAM,\
             O=CÔNG TY TNHH KÝ SỐ VIỆT NAM,L=Cầu Giấy,ST=Hà Nội,C=VN"
        );
        assert_eq!(
            s.common_name.as_deref(),
            Some("CÔNG TY TNHH KÝ SỐ VIỆT NAM")
        );
        assert_eq!(
            s.organization.as_deref(),
            Some("CÔNG TY TNHH KÝ SỐ VIỆT NAM")
        );
        assert_eq!(
            s.issuer_common_name.as_deref(),
            Some("Kyso Test Issuing CA")
        );
        assert!(
            s.issuer.starts_with("CN=Kyso Test Issuing CA,"),
            "{}",
            s.issuer
        );
        assert_eq!(s.key_usage, ["digitalSignature", "nonRepudiation"]);
        assert_eq!(s.extended_key_usage, ["clientAuth", "emailProtection"]);
        assert!(s.valid_now && !s.expiring_soon && s.can_sign && !s.is_ca);
    }

    #[test]
    fn serials_written_by_people_normalize_to_the_summary_form() {
        assert_eq!(normalize_serial("00:0a:1b"), "0A1B");
        assert_eq!(normalize_serial("a1b"), "0A1B");
        assert_eq!(normalize_serial(" 54 01 "), "5401");
        for cert in &shared().users {
            let s = summarize(&cert.cert_der, now()).expect("summary");
            let spaced = s.serial.to_lowercase().replace("", " ");
            assert_eq!(normalize_serial(&format!("00{spaced}")), s.serial);
        }
    }

    #[test]
    fn serial_is_uppercase_hex_of_sixteen_bytes_without_padding() {
        for cert in &shared().users {
            let s = summarize(&cert.cert_der, now()).expect("summary");
            assert_eq!(s.serial.len(), 32, "{}: {}", cert.name, s.serial);
            assert!(
                s.serial
                    .chars()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()),
                "{}",
                s.serial
            );
            assert!(!s.serial.starts_with("00"), "{}", s.serial);
        }
    }

    #[test]
    fn serial_hex_drops_only_the_sign_padding_byte() {
        assert_eq!(serial_hex(&[0x00, 0x80, 0x01]), "8001");
        assert_eq!(serial_hex(&[0x7f, 0x0a]), "7F0A");
        assert_eq!(serial_hex(&[0x00]), "00");
    }

    #[test]
    fn key_label_matches_each_key_spec() {
        let pki = shared();
        for id in pki.users.iter().chain([&pki.root, &pki.issuing]) {
            let s = summarize(&id.cert_der, now()).expect("summary");
            let expected = match id.key_spec {
                KeySpec::Rsa2048 => "RSA-2048",
                KeySpec::Rsa3072 => "RSA-3072",
                KeySpec::EcP256 => "EC-P256",
                KeySpec::EcP384 => "EC-P384",
            };
            assert_eq!(s.key, expected, "{}", id.name);
        }
    }

    #[test]
    fn person_summaries_carry_cccd_and_diacritics() {
        let s = summarize(&user("person-rsa3072").cert_der, now()).expect("summary");
        assert_eq!(s.common_name.as_deref(), Some("Nguyễn Văn Ánh"));
        assert_eq!(
            s.identifiers.get("CCCD").map(String::as_str),
            Some("001090012345")
        );
        assert!(
            s.subject.contains("ST=Thành phố Hồ Chí Minh"),
            "{}",
            s.subject
        );

        let s = summarize(&user("person-p256").cert_der, now()).expect("summary");
        assert_eq!(s.common_name.as_deref(), Some("Trần Thị Bích Ngọc"));
        assert_eq!(
            s.identifiers.get("CCCD").map(String::as_str),
            Some("079073009568")
        );

        let s = summarize(&user("company-p384").cert_der, now()).expect("summary");
        assert_eq!(
            s.identifiers.get("MST").map(String::as_str),
            Some("0312345678")
        );
    }

    #[test]
    fn expired_certificate_is_not_valid_now_nor_expiring_soon() {
        let s = summarize(&user("expired-rsa2048").cert_der, now()).expect("summary");
        assert!(!s.valid_now);
        assert!(!s.expiring_soon);
        assert_eq!(s.not_after.year(), 2021);
        assert_eq!(
            s.identifiers.get("CMND").map(String::as_str),
            Some("079073009568")
        );
    }

    #[test]
    fn expiring_soon_within_thirty_days_of_not_after() {
        let der = &user("person-p256").cert_der;
        let not_after = summarize(der, now()).expect("summary").not_after;

        let s = summarize(der, not_after - Duration::days(10)).expect("summary");
        assert!(s.valid_now && s.expiring_soon);

        let s = summarize(der, not_after - Duration::days(31)).expect("summary");
        assert!(s.valid_now && !s.expiring_soon);

        let s = summarize(der, not_after + Duration::seconds(1)).expect("summary");
        assert!(!s.valid_now && !s.expiring_soon);
    }

    #[test]
    fn valid_now_follows_the_injected_clock() {
        let der = &user("company-p384").cert_der;
        let s = summarize(der, now()).expect("summary");
        let before = summarize(der, s.not_before - Duration::seconds(1)).expect("summary");
        assert!(!before.valid_now);
        let at_start = summarize(der, s.not_before).expect("summary");
        assert!(at_start.valid_now);
    }

    #[test]
    fn nosign_certificate_cannot_sign() {
        let s = summarize(&user("nosign-rsa2048").cert_der, now()).expect("summary");
        assert!(!s.can_sign);
        assert_eq!(s.key_usage, ["keyEncipherment"]);
        assert_eq!(s.extended_key_usage, ["serverAuth"]);
        assert_eq!(
            s.identifiers.get("MNS").map(String::as_str),
            Some("1047665")
        );
    }

    #[test]
    fn ca_certificates_cannot_sign() {
        let pki = shared();
        for ca in [&pki.root, &pki.issuing] {
            let s = summarize(&ca.cert_der, now()).expect("summary");
            assert!(s.is_ca, "{}", ca.name);
            assert!(!s.can_sign, "{}", ca.name);
            assert_eq!(s.key_usage, ["keyCertSign", "cRLSign"]);
        }
        let root = summarize(&pki.root.cert_der, now()).expect("summary");
        assert_eq!(root.subject, root.issuer);
    }

    #[test]
    fn summary_serialises_times_as_rfc3339() {
        let s = summarize(&user("expired-rsa2048").cert_der, now()).expect("summary");
        let json = serde_json::to_value(&s).expect("serialise");
        assert_eq!(json["not_after"], "2021-06-01T00:00:00Z");
        assert_eq!(json["identifiers"]["CMND"], "079073009568");
        assert_eq!(json["can_sign"], true);
    }

    #[test]
    fn garbage_and_trailing_bytes_are_rejected() {
        assert!(matches!(
            summarize(b"not a certificate", now()),
            Err(CertError::Parse(_))
        ));
        let mut der = user("person-p256").cert_der.clone();
        der.push(0);
        assert!(matches!(
            summarize(&der, now()),
            Err(CertError::TrailingData { len: 1 })
        ));
    }
}
