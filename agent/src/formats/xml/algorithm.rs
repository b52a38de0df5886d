//! XMLDSig algorithm identifiers (XMLDSig 1.1 §6, RFC 6931) and the conversions between the
//! token's signature encoding and XMLDSig's.

use serde::{Deserialize, Serialize};

use super::error::XmlError;
use crate::signer::{HashAlgorithm, KeyKind, SignatureScheme};

/// The namespace of XMLDSig elements.
pub const DSIG_NAMESPACE: &str = "http://www.w3.org/2000/09/xmldsig#";
/// The enveloped-signature transform.
pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// A digest algorithm as the API and CLI name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Digest {
    /// SHA-1: only for portals that still demand it.
    Sha1,
    /// SHA-256 (the default).
    #[default]
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl Digest {
    /// The hash.
    pub fn hash(self) -> HashAlgorithm {
        match self {
            Self::Sha1 => HashAlgorithm::Sha1,
            Self::Sha256 => HashAlgorithm::Sha256,
            Self::Sha384 => HashAlgorithm::Sha384,
            Self::Sha512 => HashAlgorithm::Sha512,
        }
    }

    /// The `DigestMethod` URI.
    pub fn uri(self) -> &'static str {
        match self {
            Self::Sha1 => "http://www.w3.org/2000/09/xmldsig#sha1",
            Self::Sha256 => "http://www.w3.org/2001/04/xmlenc#sha256",
            Self::Sha384 => "http://www.w3.org/2001/04/xmldsig-more#sha384",
            Self::Sha512 => "http://www.w3.org/2001/04/xmlenc#sha512",
        }
    }

    /// The algorithm a `DigestMethod` URI names.
    pub fn from_uri(uri: &str) -> Option<Self> {
        [Self::Sha1, Self::Sha256, Self::Sha384, Self::Sha512]
            .into_iter()
            .find(|d| d.uri() == uri)
    }
}

/// A `SignatureMethod`: key type and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignatureMethod {
    /// PKCS#1 v1.5 or ECDSA.
    pub scheme: SignatureScheme,
    /// The hash signed.
    pub hash: HashAlgorithm,
}

impl SignatureMethod {
    /// The natural method for a key with the given hash; PSS is not offered (no portal
    /// accepts it in XMLDSig).
    pub fn for_key(kind: KeyKind, hash: HashAlgorithm) -> Self {
        let scheme = match kind {
            KeyKind::Rsa { .. } => SignatureScheme::RsaPkcs1v15,
            KeyKind::Ec(_) => SignatureScheme::Ecdsa,
        };
        Self { scheme, hash }
    }

    /// The `SignatureMethod` URI.
    pub fn uri(self) -> Option<&'static str> {
        use HashAlgorithm::*;
        use SignatureScheme::*;
        Some(match (self.scheme, self.hash) {
            (RsaPkcs1v15, Sha1) => "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
            (RsaPkcs1v15, Sha256) => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            (RsaPkcs1v15, Sha384) => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
            (RsaPkcs1v15, Sha512) => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
            (Ecdsa, Sha1) => "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1",
            (Ecdsa, Sha256) => "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
            (Ecdsa, Sha384) => "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
            (Ecdsa, Sha512) => "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
            (RsaPss, _) => return None,
        })
    }

    /// The method a `SignatureMethod` URI names, if kyso implements it.
    pub fn from_uri(uri: &str) -> Option<Self> {
        use HashAlgorithm::*;
        use SignatureScheme::*;
        [RsaPkcs1v15, Ecdsa]
            .into_iter()
            .flat_map(|scheme| [Sha1, Sha256, Sha384, Sha512].map(|hash| Self { scheme, hash }))
            .find(|m| m.uri() == Some(uri))
    }
}

/// XMLDSig wants an ECDSA `SignatureValue` as raw `r‖s`, each padded to the field length
/// (XMLDSig 1.1 §6.4.3); tokens and the [`crate::signer::Signer`] answer DER. The one place
/// this conversion happens.
pub fn ecdsa_der_to_raw(der: &[u8], kind: KeyKind) -> Result<Vec<u8>, XmlError> {
    let bad = |e: p256::ecdsa::Error| XmlError::SignatureValue(format!("ECDSA signature: {e}"));
    match kind {
        KeyKind::Ec(kyso_certs::EcCurve::P256) => Ok(p256::ecdsa::Signature::from_der(der)
            .map_err(bad)?
            .to_bytes()
            .to_vec()),
        KeyKind::Ec(kyso_certs::EcCurve::P384) => Ok(p384::ecdsa::Signature::from_der(der)
            .map_err(bad)?
            .to_bytes()
            .to_vec()),
        other => Err(XmlError::SignatureValue(format!(
            "no ECDSA conversion for a {other:?} key"
        ))),
    }
}
