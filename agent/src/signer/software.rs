//! An in-memory key implementing [`Signer`]: for tests, benchmarks and tools that compare
//! kyso's formats against a key that is not on a token. Never used for users' keys.

use kyso_certs::EcCurve;
use rsa::{pkcs8::DecodePrivateKey, traits::PublicKeyParts};
use signature::hazmat::PrehashSigner;

use super::{HashAlgorithm, KeyKind, SignInput, SignatureScheme, Signer, SignerError};
use crate::error::ErrorCode;

enum Key {
    Rsa(Box<rsa::RsaPrivateKey>),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
}

/// A software private key with its certificate (and chain).
pub struct SoftwareSigner {
    key: Key,
    certificate: Vec<u8>,
    chain: Vec<Vec<u8>>,
}

impl std::fmt::Debug for SoftwareSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("SoftwareSigner")
            .field("key_kind", &self.key_kind())
            .finish_non_exhaustive()
    }
}

impl SoftwareSigner {
    /// Loads an RSA, P-256 or P-384 key from PKCS#8 DER.
    pub fn from_pkcs8(
        pkcs8_der: &[u8],
        certificate: Vec<u8>,
        chain: Vec<Vec<u8>>,
    ) -> Result<Self, SignerError> {
        let key = if let Ok(key) = rsa::RsaPrivateKey::from_pkcs8_der(pkcs8_der) {
            Key::Rsa(Box::new(key))
        } else if let Ok(key) = p256::ecdsa::SigningKey::from_pkcs8_der(pkcs8_der) {
            Key::P256(key)
        } else if let Ok(key) = p384::ecdsa::SigningKey::from_pkcs8_der(pkcs8_der) {
            Key::P384(key)
        } else {
            return Err(SignerError::new(
                ErrorCode::BadRequest,
                "not an RSA, P-256 or P-384 PKCS#8 key",
            ));
        };
        Ok(Self {
            key,
            certificate,
            chain,
        })
    }
}

fn digest_of(hash: HashAlgorithm, input: SignInput<'_>) -> Result<Vec<u8>, SignerError> {
    match input {
        SignInput::Message(message) => Ok(hash.digest(message)),
        SignInput::Digest(digest) if digest.len() == hash.output_len() => Ok(digest.to_vec()),
        SignInput::Digest(digest) => Err(SignerError::new(
            ErrorCode::BadRequest,
            format!(
                "a {hash} digest is {} bytes, got {}",
                hash.output_len(),
                digest.len()
            ),
        )),
    }
}

fn rsa_sign(
    key: &rsa::RsaPrivateKey,
    scheme: SignatureScheme,
    hash: HashAlgorithm,
    digest: &[u8],
) -> Result<Vec<u8>, rsa::Error> {
    use rsa::{Pkcs1v15Sign, Pss};
    let mut rng = rand_core::OsRng;
    match (scheme, hash) {
        (SignatureScheme::RsaPkcs1v15, HashAlgorithm::Sha1) => {
            key.sign(Pkcs1v15Sign::new::<sha1::Sha1>(), digest)
        }
        (SignatureScheme::RsaPkcs1v15, HashAlgorithm::Sha256) => {
            key.sign(Pkcs1v15Sign::new::<sha2::Sha256>(), digest)
        }
        (SignatureScheme::RsaPkcs1v15, HashAlgorithm::Sha384) => {
            key.sign(Pkcs1v15Sign::new::<sha2::Sha384>(), digest)
        }
        (SignatureScheme::RsaPkcs1v15, HashAlgorithm::Sha512) => {
            key.sign(Pkcs1v15Sign::new::<sha2::Sha512>(), digest)
        }
        (_, HashAlgorithm::Sha1) => {
            key.sign_with_rng(&mut rng, Pss::new_with_salt::<sha1::Sha1>(20), digest)
        }
        (_, HashAlgorithm::Sha256) => {
            key.sign_with_rng(&mut rng, Pss::new_with_salt::<sha2::Sha256>(32), digest)
        }
        (_, HashAlgorithm::Sha384) => {
            key.sign_with_rng(&mut rng, Pss::new_with_salt::<sha2::Sha384>(48), digest)
        }
        (_, HashAlgorithm::Sha512) => {
            key.sign_with_rng(&mut rng, Pss::new_with_salt::<sha2::Sha512>(64), digest)
        }
    }
}

impl Signer for SoftwareSigner {
    fn certificate(&self) -> &[u8] {
        &self.certificate
    }

    fn chain(&self) -> &[Vec<u8>] {
        &self.chain
    }

    fn key_kind(&self) -> KeyKind {
        match &self.key {
            Key::Rsa(key) => KeyKind::Rsa {
                bits: key.size() * 8,
            },
            Key::P256(_) => KeyKind::Ec(EcCurve::P256),
            Key::P384(_) => KeyKind::Ec(EcCurve::P384),
        }
    }

    fn sign(
        &self,
        scheme: SignatureScheme,
        hash: HashAlgorithm,
        input: SignInput<'_>,
    ) -> Result<Vec<u8>, SignerError> {
        if !scheme.fits(self.key_kind()) {
            return Err(SignerError::new(
                ErrorCode::AlgorithmMismatch,
                format!("{scheme:?} with a {:?} key", self.key_kind()),
            ));
        }
        let digest = digest_of(hash, input)?;
        let failed =
            |e: &dyn std::fmt::Display| SignerError::new(ErrorCode::Internal, e.to_string());
        match &self.key {
            Key::Rsa(key) => rsa_sign(key, scheme, hash, &digest).map_err(|e| failed(&e)),
            Key::P256(key) => {
                let signature: p256::ecdsa::Signature =
                    key.sign_prehash(&digest).map_err(|e| failed(&e))?;
                Ok(signature.to_der().as_bytes().to_vec())
            }
            Key::P384(key) => {
                let signature: p384::ecdsa::Signature =
                    key.sign_prehash(&digest).map_err(|e| failed(&e))?;
                Ok(signature.to_der().as_bytes().to_vec())
            }
        }
    }
}
