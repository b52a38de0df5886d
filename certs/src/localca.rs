//! The per-user certificate authority behind kyso's local HTTPS API.
//!
//! Browsers only let a web page on `https://` call `https://localhost`, so the agent needs a
//! certificate for `localhost` that the user's browsers trust. Like mkcert, kyso makes a small
//! CA per user and issues the server certificate from it; unlike mkcert, the CA:
//!
//! - is **name-constrained** (RFC 5280 §4.2.1.10) to `localhost`, `127.0.0.1/32` and
//!   `::1/128`, so even if its key leaked it could not vouch for any real site;
//! - has its **private key dropped** as soon as the one leaf is signed: it is never returned
//!   or written anywhere. Renewal therefore means a new CA, which the user trusts again
//!   (`kyso trust install`).
//!
//! rcgen builds both certificates; nothing here encodes ASN.1 by hand.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    NameConstraints, SanType, PKCS_ECDSA_P256_SHA256,
};
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use crate::testpki::{random_serial, to_pem};
use crate::CertError;

/// How long the CA is valid: about two years.
const CA_LIFETIME: Duration = Duration::days(730);

/// How long the server certificate is valid: 397 days.
///
/// Browsers cap publicly trusted server certificates at 398 days (CA/B Forum, Apple HT211025)
/// and say the cap does not apply to user-added roots, but keeping under it anyway means no
/// browser or TLS stack policy, present or future, rejects the certificate for its lifetime.
/// It is shorter than [`CA_LIFETIME`] so the chain never outlives its root. Since the CA key is
/// dropped, the CA's extra lifetime is unused: renewal (30 days before this expires) makes a
/// new CA, so users re-trust about once a year.
const LEAF_LIFETIME: Duration = Duration::days(397);

/// Certificates start an hour in the past, so a clock a little behind still accepts them.
const BACKDATE: Duration = Duration::hours(1);

/// The names the server certificate is for: the only ones the CA may ever vouch for.
pub const LOCAL_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// A fresh local CA certificate and the server certificate it issued.
///
/// The CA's private key is not here: it was dropped after signing [`Self::leaf_cert_pem`].
pub struct LocalTls {
    /// The CA certificate, PEM (what browsers and OS stores are told to trust).
    pub ca_cert_pem: String,
    /// The CA certificate, DER (for thumbprints and trust-store comparisons).
    pub ca_cert_der: Vec<u8>,
    /// The server certificate for `localhost`, `127.0.0.1` and `::1`, PEM.
    pub leaf_cert_pem: String,
    /// The server certificate's private key, PKCS#8 PEM; wiped from memory on drop.
    pub leaf_key_pem: Zeroizing<String>,
    /// When the server certificate expires.
    pub leaf_not_after: OffsetDateTime,
}

impl fmt::Debug for LocalTls {
    // The key never goes into logs or panic messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalTls")
            .field("ca_cert_pem", &self.ca_cert_pem)
            .field("leaf_cert_pem", &self.leaf_cert_pem)
            .field("leaf_key_pem", &"<redacted>")
            .field("leaf_not_after", &self.leaf_not_after)
            .finish_non_exhaustive()
    }
}

/// Generates a new name-constrained CA (P-256) and a `localhost` server certificate signed by
/// it, valid from `now` (minus an hour). The CA key exists only during this call.
pub fn generate_local_tls(now: OffsetDateTime) -> Result<LocalTls, CertError> {
    let ca = LocalCa::generate(now)?;
    let (leaf_cert_pem, leaf_key_pem, leaf_not_after) = ca.issue(&LOCAL_NAMES, now)?;
    Ok(LocalTls {
        ca_cert_pem: to_pem(&ca.cert_der),
        ca_cert_der: ca.cert_der,
        leaf_cert_pem,
        leaf_key_pem,
        leaf_not_after,
    })
    // `ca.issuer` (holding the CA key) is dropped here.
}

/// The CA while it exists in memory.
struct LocalCa {
    issuer: Issuer<'static, KeyPair>,
    cert_der: Vec<u8>,
    not_after: OffsetDateTime,
}

impl LocalCa {
    fn generate(now: OffsetDateTime) -> Result<Self, CertError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::default();
        params.not_before = now - BACKDATE;
        params.not_after = now + CA_LIFETIME;
        params.serial_number = Some(random_serial());
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "kyso");
        dn.push(DnType::CommonName, ca_common_name(now));
        params.distinguished_name = dn;
        // Signs end-entity certificates only, and only for loopback names.
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.name_constraints = Some(NameConstraints {
            permitted_subtrees: vec![
                GeneralSubtree::DnsName("localhost".into()),
                GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(
                    IpAddr::V4(Ipv4Addr::LOCALHOST),
                    32,
                )),
                GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(
                    IpAddr::V6(Ipv6Addr::LOCALHOST),
                    128,
                )),
            ],
            excluded_subtrees: Vec::new(),
        });
        let cert = params.self_signed(&key)?;
        Ok(Self {
            cert_der: cert.der().to_vec(),
            not_after: params.not_after,
            issuer: Issuer::new(params, key),
        })
    }

    /// Issues a server certificate for `names` (DNS names or IP addresses); returns its PEM,
    /// its key's PEM and its expiry.
    fn issue(
        &self,
        names: &[&str],
        now: OffsetDateTime,
    ) -> Result<(String, Zeroizing<String>, OffsetDateTime), CertError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
        params.not_before = now - BACKDATE;
        params.not_after = (params.not_before + LEAF_LIFETIME).min(self.not_after);
        params.serial_number = Some(random_serial());
        let mut dn = DistinguishedName::new();
        if let Some(SanType::DnsName(first)) = params.subject_alt_names.first() {
            dn.push(DnType::CommonName, first.as_str());
        }
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok((
            cert.pem(),
            Zeroizing::new(key.serialize_pem()),
            params.not_after,
        ))
    }
}

/// "kyso local CA (<user>) <date>": tells the user, in a certificate manager, which account
/// and which generation of the CA an entry is. The user name comes from the environment; the
/// host name would need a new dependency or platform calls and adds little on a personal
/// machine.
fn ca_common_name(now: OffsetDateTime) -> String {
    let user = ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()))
        .unwrap_or_else(|| "user".into());
    // Common names are limited to 64 characters (RFC 5280 ub-common-name).
    let user: String = user.chars().filter(|c| !c.is_control()).take(32).collect();
    format!(
        "kyso local CA ({user}) {:04}-{:02}-{:02}",
        now.year(),
        u8::from(now.month()),
        now.day()
    )
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::process::{Command, Output};

    use super::*;

    fn openssl(args: &[&str]) -> Output {
        Command::new("openssl")
            .args(args)
            .output()
            .unwrap_or_else(|e| {
                panic!("openssl could not run ({e}); install it with scripts/setup.sh test")
            })
    }

    fn write(dir: &Path, name: &str, content: &str) -> String {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap_or_else(|e| panic!("{e}"));
        path.to_string_lossy().into_owned()
    }

    fn text(output: &Output) -> String {
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    }

    #[test]
    fn openssl_verifies_the_leaf_for_localhost_and_loopback_addresses() {
        let tls = generate_local_tls(OffsetDateTime::now_utc()).unwrap_or_else(|e| panic!("{e}"));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let ca = write(dir.path(), "ca.pem", &tls.ca_cert_pem);
        let leaf = write(dir.path(), "leaf.pem", &tls.leaf_cert_pem);
        for check in [
            ["-verify_hostname", "localhost"],
            ["-verify_ip", "127.0.0.1"],
            ["-verify_ip", "::1"],
        ] {
            let out = openssl(&[
                "verify",
                "-x509_strict",
                "-purpose",
                "sslserver",
                "-CAfile",
                &ca,
                check[0],
                check[1],
                &leaf,
            ]);
            assert!(out.status.success(), "{check:?}: {}", text(&out));
        }
        let wrong = openssl(&[
            "verify",
            "-CAfile",
            &ca,
            "-verify_hostname",
            "example.com",
            &leaf,
        ]);
        assert!(!wrong.status.success(), "{}", text(&wrong));
    }

    #[test]
    fn ca_is_name_constrained_to_loopback_and_signs_only_end_entities() {
        let tls = generate_local_tls(OffsetDateTime::now_utc()).unwrap_or_else(|e| panic!("{e}"));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let ca = write(dir.path(), "ca.pem", &tls.ca_cert_pem);
        let out = openssl(&["x509", "-noout", "-text", "-in", &ca]);
        let text = text(&out);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("X509v3 Name Constraints: critical"), "{text}");
        assert!(text.contains("DNS:localhost"), "{text}");
        assert!(
            text.contains("IP:127.0.0.1/255.255.255.255"),
            "IPv4 constraint missing: {text}"
        );
        assert!(
            text.contains("IP:0:0:0:0:0:0:0:1/FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF"),
            "IPv6 constraint missing: {text}"
        );
        assert!(text.contains("CA:TRUE, pathlen:0"), "{text}");
        assert!(text.contains("Certificate Sign"), "{text}");
        assert!(text.contains("Subject Key Identifier"), "{text}");
        assert!(
            text.contains("Subject: O = kyso, CN = kyso local CA ("),
            "{text}"
        );
    }

    #[test]
    fn openssl_rejects_a_certificate_for_another_name_from_the_same_ca() {
        let now = OffsetDateTime::now_utc();
        let ca = LocalCa::generate(now).unwrap_or_else(|e| panic!("{e}"));
        let (rogue, _key, _) = ca
            .issue(&["bank.example.com"], now)
            .unwrap_or_else(|e| panic!("{e}"));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let ca_path = write(dir.path(), "ca.pem", &to_pem(&ca.cert_der));
        let rogue = write(dir.path(), "rogue.pem", &rogue);
        let out = openssl(&["verify", "-CAfile", &ca_path, &rogue]);
        let text = text(&out);
        assert!(!out.status.success(), "{text}");
        assert!(text.contains("permitted subtree violation"), "{text}");
    }

    #[test]
    fn leaf_lives_at_most_397_days_and_never_past_the_ca() {
        let now = OffsetDateTime::now_utc();
        let tls = generate_local_tls(now).unwrap_or_else(|e| panic!("{e}"));
        let ca = x509_parser::parse_x509_certificate(&tls.ca_cert_der)
            .unwrap_or_else(|e| panic!("{e}"))
            .1;
        let ca_not_after = ca.validity().not_after.to_datetime();
        assert!(tls.leaf_not_after <= ca_not_after);
        assert!(tls.leaf_not_after - (now - BACKDATE) <= Duration::days(397));
        assert!(tls.leaf_not_after > now + Duration::days(390));
        assert!(ca_not_after > now + Duration::days(700));
    }

    #[test]
    fn debug_output_never_shows_the_private_key() {
        let tls = generate_local_tls(OffsetDateTime::now_utc()).unwrap_or_else(|e| panic!("{e}"));
        let shown = format!("{tls:?}");
        assert!(tls.leaf_key_pem.contains("PRIVATE KEY"));
        assert!(!shown.contains("PRIVATE KEY"), "{shown}");
    }
}
