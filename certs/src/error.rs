//! The crate's one error type.

use x509_parser::error::X509Error;

/// Everything that can go wrong when reading certificates or generating the test PKI.
///
/// Variants keep the underlying error as their [`source`](std::error::Error::source) rather
/// than repeating its text in their own message, so a caller printing the whole chain sees
/// each cause once.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// The bytes are not a DER X.509 certificate (x509-parser's reason is the source).
    #[error("certificate could not be parsed")]
    Parse(#[source] X509Error),

    /// A certificate parsed, but more bytes followed it. Rejected so that the thumbprint
    /// (computed over all the bytes given) always names exactly one certificate.
    #[error("certificate is followed by {len} unexpected bytes")]
    TrailingData {
        /// How many bytes followed the certificate.
        len: usize,
    },

    /// rcgen could not build or sign a test certificate.
    #[error("test certificate could not be generated")]
    Generate(#[source] rcgen::Error),

    /// The `rsa` crate could not generate a test RSA key.
    #[error("test RSA key could not be generated")]
    RsaKeyGeneration(#[source] rsa::Error),

    /// A generated test RSA key could not be encoded as PKCS#8.
    #[error("test RSA key could not be encoded as PKCS#8")]
    Pkcs8(#[source] rsa::pkcs8::Error),
}

impl From<rcgen::Error> for CertError {
    fn from(e: rcgen::Error) -> Self {
        Self::Generate(e)
    }
}
