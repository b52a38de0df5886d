//! The signing primitive every signature format is built on.
//!
//! A [`Signer`] signs either a message (the token hashes it) or a digest the caller computed.
//! The PKCS#11 key on a token and an in-memory software key ([`SoftwareSigner`], for tests and
//! tools) both implement it, so signature formats never see PKCS#11.

use std::fmt;

use const_oid::ObjectIdentifier;
use der::{asn1::UintRef, Encode, Sequence};
use sha2::Digest;

use crate::error::{Coded, ErrorCode};

/// A hash algorithm kyso can sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// SHA-1: only for old portals that still demand it.
    Sha1,
    /// SHA-256, the default.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlgorithm {
    /// Parses `sha256`, `SHA-256`, ... (case and dash insensitive).
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().replace('-', "").as_str() {
            "sha1" => Some(Self::Sha1),
            "sha256" => Some(Self::Sha256),
            "sha384" => Some(Self::Sha384),
            "sha512" => Some(Self::Sha512),
            _ => None,
        }
    }

    /// Lower-case name without dash, as the API and CLI spell it (`sha256`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }

    /// Length of the digest in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// The algorithm's OID (RFC 5754 / RFC 3279).
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            Self::Sha1 => const_oid::db::rfc5912::ID_SHA_1,
            Self::Sha256 => const_oid::db::rfc5912::ID_SHA_256,
            Self::Sha384 => const_oid::db::rfc5912::ID_SHA_384,
            Self::Sha512 => const_oid::db::rfc5912::ID_SHA_512,
        }
    }

    /// Hashes `data` in one go.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let mut hasher = self.hasher();
        hasher.update(data);
        hasher.finish()
    }

    /// An incremental hasher, for streaming large inputs.
    pub fn hasher(self) -> Hasher {
        match self {
            Self::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            Self::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Self::Sha384 => Hasher::Sha384(sha2::Sha384::new()),
            Self::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    /// The DER prefix of a PKCS#1 v1.5 `DigestInfo` for this hash (RFC 8017 §9.2, note 1):
    /// prepended to the digest when the token only offers raw `CKM_RSA_PKCS`.
    pub fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            Self::Sha1 => &[
                0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
                0x14,
            ],
            Self::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            Self::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            Self::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
        }
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An incremental hasher for one of the [`HashAlgorithm`]s.
#[derive(Debug, Clone)]
pub enum Hasher {
    /// SHA-1 state.
    Sha1(sha1::Sha1),
    /// SHA-256 state.
    Sha256(sha2::Sha256),
    /// SHA-384 state.
    Sha384(sha2::Sha384),
    /// SHA-512 state.
    Sha512(sha2::Sha512),
}

impl Hasher {
    /// Feeds more data.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Self::Sha1(h) => h.update(data),
            Self::Sha256(h) => h.update(data),
            Self::Sha384(h) => h.update(data),
            Self::Sha512(h) => h.update(data),
        }
    }

    /// Returns the digest.
    pub fn finish(self) -> Vec<u8> {
        match self {
            Self::Sha1(h) => h.finalize().to_vec(),
            Self::Sha256(h) => h.finalize().to_vec(),
            Self::Sha384(h) => h.finalize().to_vec(),
            Self::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

/// How the private key turns a digest into a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureScheme {
    /// RSASSA-PKCS1-v1_5 (what almost every Vietnamese portal expects).
    RsaPkcs1v15,
    /// RSASSA-PSS with MGF1 over the same hash and a salt as long as the hash.
    RsaPss,
    /// ECDSA, DER-encoded `Ecdsa-Sig-Value`.
    Ecdsa,
}

impl SignatureScheme {
    /// The natural scheme for a key: PKCS#1 v1.5 for RSA, ECDSA for EC.
    pub fn default_for(kind: KeyKind) -> Self {
        match kind {
            KeyKind::Rsa { .. } => Self::RsaPkcs1v15,
            KeyKind::Ec(_) => Self::Ecdsa,
        }
    }

    /// Whether a key of `kind` can produce this scheme.
    pub fn fits(self, kind: KeyKind) -> bool {
        matches!(
            (self, kind),
            (Self::RsaPkcs1v15 | Self::RsaPss, KeyKind::Rsa { .. }) | (Self::Ecdsa, KeyKind::Ec(_))
        )
    }

    /// The name used in API answers, e.g. `RSA-PKCS1-v1_5-SHA256`.
    pub fn describe(self, hash: HashAlgorithm) -> String {
        let hash = match hash {
            HashAlgorithm::Sha1 => "SHA1",
            HashAlgorithm::Sha256 => "SHA256",
            HashAlgorithm::Sha384 => "SHA384",
            HashAlgorithm::Sha512 => "SHA512",
        };
        match self {
            Self::RsaPkcs1v15 => format!("RSA-PKCS1-v1_5-{hash}"),
            Self::RsaPss => format!("RSA-PSS-{hash}"),
            Self::Ecdsa => format!("ECDSA-{hash}"),
        }
    }
}

/// The kind and size of a signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// RSA with a modulus of `bits` bits.
    Rsa {
        /// Modulus size in bits.
        bits: usize,
    },
    /// ECDSA on a named curve.
    Ec(kyso_certs::EcCurve),
}

impl KeyKind {
    /// Upper bound of a signature's length in bytes (DER for ECDSA).
    pub fn max_signature_len(self) -> usize {
        match self {
            Self::Rsa { bits } => bits.div_ceil(8),
            Self::Ec(curve) => 2 * curve.field_len() + 9,
        }
    }
}

/// What the signer is given: the message itself, or its digest.
#[derive(Debug, Clone, Copy)]
pub enum SignInput<'a> {
    /// The data to sign; the signer hashes it (on the token when it can).
    Message(&'a [u8]),
    /// A digest the caller computed with the request's hash algorithm.
    Digest(&'a [u8]),
}

/// A failure inside a [`Signer`], carrying the signer's own stable code (so "PIN locked" on a
/// token stays `PIN_LOCKED` through every format built on top).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SignerError {
    code: ErrorCode,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl SignerError {
    /// A signer error with a code and a technical message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            source: None,
        }
    }

    /// Wraps a coded error from the key's implementation, keeping it as the source.
    pub fn from_coded<E: Coded + Send + Sync + 'static>(error: E) -> Self {
        Self {
            code: error.code(),
            message: "signing failed".to_owned(),
            source: Some(Box::new(error)),
        }
    }
}

impl Coded for SignerError {
    fn code(&self) -> ErrorCode {
        self.code
    }
}

/// A private key with its certificate that can sign.
pub trait Signer: Send + Sync {
    /// The signer's certificate, DER.
    fn certificate(&self) -> &[u8];

    /// Further certificates (issuers) to ship with signatures, DER, nearest first.
    fn chain(&self) -> &[Vec<u8>];

    /// Key type and size.
    fn key_kind(&self) -> KeyKind;

    /// Signs `input` with `scheme` over `hash`. RSA answers the raw signature; ECDSA answers a
    /// DER `Ecdsa-Sig-Value`.
    fn sign(
        &self,
        scheme: SignatureScheme,
        hash: HashAlgorithm,
        input: SignInput<'_>,
    ) -> Result<Vec<u8>, SignerError>;
}

/// `Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` (RFC 3279 §2.2.3).
#[derive(Sequence)]
struct EcdsaSigValue<'a> {
    r: UintRef<'a>,
    s: UintRef<'a>,
}

/// Converts the raw `r‖s` signature PKCS#11 tokens return for `CKM_ECDSA` into DER, the form
/// CMS, XMLDSig-after-conversion and every verifier expect. The one place this happens.
pub fn ecdsa_raw_to_der(raw: &[u8]) -> Result<Vec<u8>, SignerError> {
    if raw.is_empty() || !raw.len().is_multiple_of(2) {
        return Err(SignerError::new(
            ErrorCode::TokenError,
            format!("ECDSA signature of odd length {}", raw.len()),
        ));
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let value = EcdsaSigValue {
        r: UintRef::new(r).map_err(|e| SignerError::new(ErrorCode::TokenError, e.to_string()))?,
        s: UintRef::new(s).map_err(|e| SignerError::new(ErrorCode::TokenError, e.to_string()))?,
    };
    value
        .to_der()
        .map_err(|e| SignerError::new(ErrorCode::SignatureFormat, e.to_string()))
}

mod software;
pub use software::SoftwareSigner;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecdsa_raw_signature_becomes_der_with_sign_padding() {
        let mut raw = vec![0u8; 64];
        raw[0] = 0x80; // high bit set: DER needs a leading zero
        raw[32] = 0x00;
        raw[33] = 0x01; // leading zero byte stripped
        let der = ecdsa_raw_to_der(&raw).unwrap_or_default();
        assert_eq!(der[0], 0x30);
        assert_eq!(&der[2..5], &[0x02, 33, 0x00]);
        assert!(ecdsa_raw_to_der(&raw[..63]).is_err());
    }

    #[test]
    fn digest_info_prefix_plus_digest_is_valid_der_length() {
        for hash in [
            HashAlgorithm::Sha1,
            HashAlgorithm::Sha256,
            HashAlgorithm::Sha384,
            HashAlgorithm::Sha512,
        ] {
            let prefix = hash.digest_info_prefix();
            assert_eq!(prefix[1] as usize + 2, prefix.len() + hash.output_len());
            assert_eq!(*prefix.last().unwrap_or(&0) as usize, hash.output_len());
        }
    }

    #[test]
    fn hash_names_parse_in_common_spellings() {
        assert_eq!(HashAlgorithm::parse("SHA-256"), Some(HashAlgorithm::Sha256));
        assert_eq!(HashAlgorithm::parse("sha512"), Some(HashAlgorithm::Sha512));
        assert_eq!(HashAlgorithm::parse("md5"), None);
    }
}
