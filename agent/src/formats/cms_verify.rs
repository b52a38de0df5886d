//! Verifying a detached CMS signature (RFC 5652 §5.4, §5.6) and its certificate chain
//! (RFC 5280 §6, signatures and validity only): what a portal's server does with a login
//! signature. Used by the demo verifier and tests.
//!
//! Written here because no maintained pure-Rust crate verifies CMS SignedData with chains;
//! revocation (OCSP/CRL) is out of scope.

use cms::{content_info::ContentInfo, signed_data::SignedData, signed_data::SignerIdentifier};
use const_oid::{db::rfc5911, db::rfc5912, ObjectIdentifier};
use der::{asn1::OctetString, Decode, Encode};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;

use crate::{
    error::{Coded, ErrorCode},
    signer::HashAlgorithm,
};

/// Why a signature did not verify.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Not a CMS SignedData.
    #[error("not a CMS SignedData: {0}")]
    Malformed(String),
    /// The content does not match the signed digest.
    #[error("the content does not match the signature")]
    DigestMismatch,
    /// The signature value is wrong.
    #[error("the signature value is invalid")]
    BadSignature,
    /// The signer's certificate does not chain to a trusted root.
    #[error("the signer certificate is not trusted: {0}")]
    Untrusted(String),
    /// An algorithm kyso does not verify.
    #[error("unsupported algorithm {0}")]
    Unsupported(ObjectIdentifier),
}

impl Coded for VerifyError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Malformed(_) => ErrorCode::BadRequest,
            _ => ErrorCode::SignatureInvalid,
        }
    }
}

fn malformed(e: impl std::fmt::Display) -> VerifyError {
    VerifyError::Malformed(e.to_string())
}

fn hash_of(oid: &ObjectIdentifier) -> Result<HashAlgorithm, VerifyError> {
    [
        HashAlgorithm::Sha1,
        HashAlgorithm::Sha256,
        HashAlgorithm::Sha384,
        HashAlgorithm::Sha512,
    ]
    .into_iter()
    .find(|h| h.oid() == *oid)
    .ok_or(VerifyError::Unsupported(*oid))
}

/// Verifies `signature` (DER bytes) over `message` with the key of `certificate`, using the
/// signature algorithm `algorithm` (with `digest` when the algorithm names only the key type).
fn verify_with(
    certificate: &Certificate,
    algorithm: &AlgorithmIdentifierOwned,
    digest: Option<HashAlgorithm>,
    message: &[u8],
    signature: &[u8],
) -> Result<(), VerifyError> {
    let spki = &certificate.tbs_certificate.subject_public_key_info;
    let spki_der = spki.to_der().map_err(malformed)?;
    let oid = algorithm.oid;
    let rsa_hash = match oid {
        o if o == rfc5912::SHA_256_WITH_RSA_ENCRYPTION => Some(HashAlgorithm::Sha256),
        o if o == rfc5912::SHA_384_WITH_RSA_ENCRYPTION => Some(HashAlgorithm::Sha384),
        o if o == rfc5912::SHA_512_WITH_RSA_ENCRYPTION => Some(HashAlgorithm::Sha512),
        o if o == rfc5912::SHA_1_WITH_RSA_ENCRYPTION => Some(HashAlgorithm::Sha1),
        o if o == rfc5912::RSA_ENCRYPTION => digest,
        _ => None,
    };
    if let Some(hash) = rsa_hash {
        use rsa::pkcs8::DecodePublicKey;
        let key = rsa::RsaPublicKey::from_public_key_der(&spki_der).map_err(malformed)?;
        let scheme = match hash {
            HashAlgorithm::Sha1 => rsa::Pkcs1v15Sign::new::<sha1::Sha1>(),
            HashAlgorithm::Sha256 => rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
            HashAlgorithm::Sha384 => rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
            HashAlgorithm::Sha512 => rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
        };
        return key
            .verify(scheme, &hash.digest(message), signature)
            .map_err(|_| VerifyError::BadSignature);
    }
    if oid == rfc5912::ID_RSASSA_PSS {
        use rsa::pkcs8::DecodePublicKey;
        let key = rsa::RsaPublicKey::from_public_key_der(&spki_der).map_err(malformed)?;
        let hash = digest.unwrap_or(HashAlgorithm::Sha256);
        let hashed = hash.digest(message);
        let result = match hash {
            HashAlgorithm::Sha1 => key.verify(rsa::Pss::new::<sha1::Sha1>(), &hashed, signature),
            HashAlgorithm::Sha256 => {
                key.verify(rsa::Pss::new::<sha2::Sha256>(), &hashed, signature)
            }
            HashAlgorithm::Sha384 => {
                key.verify(rsa::Pss::new::<sha2::Sha384>(), &hashed, signature)
            }
            HashAlgorithm::Sha512 => {
                key.verify(rsa::Pss::new::<sha2::Sha512>(), &hashed, signature)
            }
        };
        return result.map_err(|_| VerifyError::BadSignature);
    }
    let ecdsa_hash = match oid {
        o if o == rfc5912::ECDSA_WITH_SHA_256 => HashAlgorithm::Sha256,
        o if o == rfc5912::ECDSA_WITH_SHA_384 => HashAlgorithm::Sha384,
        o if o == rfc5912::ECDSA_WITH_SHA_512 => HashAlgorithm::Sha512,
        other => return Err(VerifyError::Unsupported(other)),
    };
    let prehash = ecdsa_hash.digest(message);
    use p256::pkcs8::DecodePublicKey as _;
    use signature::hazmat::PrehashVerifier;
    if let Ok(key) = p256::ecdsa::VerifyingKey::from_public_key_der(&spki_der) {
        let sig =
            p256::ecdsa::Signature::from_der(signature).map_err(|_| VerifyError::BadSignature)?;
        return key
            .verify_prehash(&prehash, &sig)
            .map_err(|_| VerifyError::BadSignature);
    }
    if let Ok(key) = p384::ecdsa::VerifyingKey::from_public_key_der(&spki_der) {
        let sig =
            p384::ecdsa::Signature::from_der(signature).map_err(|_| VerifyError::BadSignature)?;
        return key
            .verify_prehash(&prehash, &sig)
            .map_err(|_| VerifyError::BadSignature);
    }
    Err(VerifyError::Unsupported(spki.algorithm.oid))
}

fn issued_by(child: &Certificate, issuer: &Certificate) -> Result<(), VerifyError> {
    if child.tbs_certificate.issuer != issuer.tbs_certificate.subject {
        return Err(VerifyError::Untrusted("issuer name mismatch".into()));
    }
    let tbs = child.tbs_certificate.to_der().map_err(malformed)?;
    let signature = child
        .signature
        .as_bytes()
        .ok_or_else(|| malformed("certificate signature has unused bits"))?;
    verify_with(issuer, &child.signature_algorithm, None, &tbs, signature)
        .map_err(|e| VerifyError::Untrusted(format!("bad certificate signature: {e}")))
}

fn valid_at(certificate: &Certificate, now: std::time::SystemTime) -> bool {
    let validity = &certificate.tbs_certificate.validity;
    validity.not_before.to_system_time() <= now && now <= validity.not_after.to_system_time()
}

/// Builds a path from `leaf` through `pool` to one of `roots`, checking each signature and
/// validity period at `now`.
pub fn verify_chain(
    leaf: &Certificate,
    pool: &[Certificate],
    roots: &[Certificate],
    now: std::time::SystemTime,
) -> Result<(), VerifyError> {
    let mut current = leaf.clone();
    for _ in 0..8 {
        if !valid_at(&current, now) {
            return Err(VerifyError::Untrusted(
                "a certificate is outside its validity".into(),
            ));
        }
        if let Some(root) = roots
            .iter()
            .find(|r| r.tbs_certificate.subject == current.tbs_certificate.issuer)
        {
            issued_by(&current, root)?;
            if !valid_at(root, now) {
                return Err(VerifyError::Untrusted(
                    "the root is outside its validity".into(),
                ));
            }
            return Ok(());
        }
        let Some(next) = pool.iter().find(|c| {
            c.tbs_certificate.subject == current.tbs_certificate.issuer && *c != &current
        }) else {
            return Err(VerifyError::Untrusted("no path to a trusted root".into()));
        };
        issued_by(&current, next)?;
        current = next.clone();
    }
    Err(VerifyError::Untrusted("chain too long".into()))
}

/// Verifies a detached CMS `signature` over `content`, chaining the signer to `roots` (DER).
/// Returns the signer's certificate (DER).
pub fn verify_detached(
    signature: &[u8],
    content: &[u8],
    roots: &[Vec<u8>],
    now: std::time::SystemTime,
) -> Result<Vec<u8>, VerifyError> {
    let detached = Detached::parse(signature)?;
    let digest = detached.hash().digest(content);
    detached.verify_digest(&digest, roots, now)?;
    detached.signer_der()
}

/// A detached CMS signature taken apart, so a caller can hash a large content its own way
/// (a PDF's byte ranges, streamed) with the algorithm the signer chose.
#[derive(Debug)]
pub struct Detached {
    certificates: Vec<Certificate>,
    signer: Certificate,
    hash: HashAlgorithm,
    signature_algorithm: AlgorithmIdentifierOwned,
    signed_digest: Vec<u8>,
    attrs_der: Vec<u8>,
    signature: Vec<u8>,
}

impl Detached {
    /// Parses a DER ContentInfo holding SignedData with one signer, signed attributes and the
    /// signer's certificate.
    pub fn parse(signature: &[u8]) -> Result<Self, VerifyError> {
        let info = ContentInfo::from_der(signature).map_err(malformed)?;
        if info.content_type != rfc5911::ID_SIGNED_DATA {
            return Err(malformed("not signed-data"));
        }
        let signed: SignedData = info.content.decode_as().map_err(malformed)?;
        let certificates: Vec<Certificate> = signed
            .certificates
            .iter()
            .flat_map(|set| set.0.iter())
            .filter_map(|choice| match choice {
                cms::cert::CertificateChoices::Certificate(c) => Some(c.clone()),
                _ => None,
            })
            .collect();
        let signer_info = signed
            .signer_infos
            .0
            .iter()
            .next()
            .ok_or_else(|| malformed("no signer"))?;
        let SignerIdentifier::IssuerAndSerialNumber(id) = &signer_info.sid else {
            return Err(malformed("signer identified by key id"));
        };
        let signer = certificates
            .iter()
            .find(|c| {
                c.tbs_certificate.issuer == id.issuer
                    && c.tbs_certificate.serial_number == id.serial_number
            })
            .cloned()
            .ok_or_else(|| malformed("signer certificate not included"))?;
        let hash = hash_of(&signer_info.digest_alg.oid)?;
        let attrs = signer_info
            .signed_attrs
            .as_ref()
            .ok_or_else(|| malformed("no signed attributes"))?;
        let digest_attr = attrs
            .iter()
            .find(|a| a.oid == rfc5911::ID_MESSAGE_DIGEST)
            .and_then(|a| a.values.iter().next())
            .ok_or_else(|| malformed("no message-digest"))?;
        let signed_digest: OctetString = digest_attr.decode_as().map_err(malformed)?;
        Ok(Self {
            signer,
            hash,
            signature_algorithm: signer_info.signature_algorithm.clone(),
            signed_digest: signed_digest.as_bytes().to_vec(),
            attrs_der: attrs.to_der().map_err(malformed)?,
            signature: signer_info.signature.as_bytes().to_vec(),
            certificates,
        })
    }

    /// The digest algorithm the content must be hashed with.
    pub fn hash(&self) -> HashAlgorithm {
        self.hash
    }

    /// The signer's certificate (DER).
    pub fn signer_der(&self) -> Result<Vec<u8>, VerifyError> {
        self.signer.to_der().map_err(malformed)
    }

    /// Checks, in this order, that `digest` is the signed one, the signature value, and the
    /// signer's chain to `roots` at `now` — so [`VerifyError::Untrusted`] means the
    /// signature itself is intact.
    pub fn verify_digest(
        &self,
        digest: &[u8],
        roots: &[Vec<u8>],
        now: std::time::SystemTime,
    ) -> Result<(), VerifyError> {
        if self.signed_digest != digest {
            return Err(VerifyError::DigestMismatch);
        }
        verify_with(
            &self.signer,
            &self.signature_algorithm,
            Some(self.hash),
            &self.attrs_der,
            &self.signature,
        )?;
        let roots: Vec<Certificate> = roots
            .iter()
            .map(|der| Certificate::from_der(der).map_err(malformed))
            .collect::<Result<_, _>>()?;
        verify_chain(&self.signer, &self.certificates, &roots, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        formats::cms::{sign, CmsRequest, Content},
        signer::{SignatureScheme, SoftwareSigner},
    };

    fn signer(name: &str) -> SoftwareSigner {
        let pki = kyso_certs::testpki::shared();
        let user = pki.user(name).unwrap_or_else(|| panic!("{name}"));
        SoftwareSigner::from_pkcs8(
            &user.key_pkcs8_der,
            user.cert_der.clone(),
            vec![pki.issuing.cert_der.clone()],
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn roots() -> Vec<Vec<u8>> {
        vec![kyso_certs::testpki::shared().root.cert_der.clone()]
    }

    #[test]
    fn good_signatures_of_every_key_type_verify_and_altered_content_does_not() {
        for (name, scheme) in [
            ("company-rsa2048", None),
            ("company-rsa2048", Some(SignatureScheme::RsaPss)),
            ("person-p256", None),
            ("company-p384", None),
        ] {
            let request = CmsRequest {
                scheme,
                ..CmsRequest::default()
            };
            let der = sign(&signer(name), Content::Detached(b"nonce"), &request)
                .unwrap_or_else(|e| panic!("{e}"));
            let now = std::time::SystemTime::now();
            assert!(
                verify_detached(&der, b"nonce", &roots(), now).is_ok(),
                "{name}"
            );
            assert!(matches!(
                verify_detached(&der, b"nonce!", &roots(), now),
                Err(VerifyError::DigestMismatch)
            ));
        }
    }

    #[test]
    fn a_signer_outside_the_trusted_roots_is_untrusted() {
        let der = sign(
            &signer("company-rsa2048"),
            Content::Detached(b"x"),
            &CmsRequest::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let other_root = vec![kyso_certs::testpki::shared().issuing.cert_der.clone()];
        // Trusting only the issuing CA still builds a path (it is the leaf's issuer).
        assert!(verify_detached(&der, b"x", &other_root, std::time::SystemTime::now()).is_ok());
        let unrelated = kyso_certs::TestPki::generate()
            .unwrap_or_else(|e| panic!("{e}"))
            .root
            .cert_der;
        assert!(matches!(
            verify_detached(&der, b"x", &[unrelated], std::time::SystemTime::now()),
            Err(VerifyError::Untrusted(_))
        ));
    }
}
