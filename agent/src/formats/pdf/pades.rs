//! The CMS inside the PDF: CAdES attributes for `ETSI.CAdES.detached` (PAdES B-B: no
//! signing-time attribute, the time is in the signature dictionary's `/M`; signing-certificate-v2
//! present), or the legacy `adbe.pkcs7.detached` with a signing-time attribute.
//!
//! The `/Contents` placeholder is sized by a dry run: the CMS assembled around a zero signature
//! of the key's maximum length, plus room for a timestamp token added later.

use std::time::SystemTime;

use super::error::PdfError;
use crate::{
    formats::cms::{CmsRequest, Content},
    signer::{HashAlgorithm, SignInput, SignatureScheme, Signer},
};

/// Room kept in `/Contents` for a signature timestamp (RFC 3161 token with the TSA's chain)
/// added later as an unsigned attribute (PAdES B-T).
pub const TIMESTAMP_RESERVE: usize = 8192;

/// The signature dictionary's `/SubFilter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubFilter {
    /// `ETSI.CAdES.detached`: PAdES baseline.
    CadesDetached,
    /// `adbe.pkcs7.detached`: for validators that predate PAdES.
    Pkcs7Detached,
}

impl SubFilter {
    /// The PDF name.
    pub fn name(self) -> &'static str {
        match self {
            Self::CadesDetached => "ETSI.CAdES.detached",
            Self::Pkcs7Detached => "adbe.pkcs7.detached",
        }
    }
}

/// The CMS request for a subfilter.
pub fn request(
    subfilter: SubFilter,
    hash: HashAlgorithm,
    scheme: Option<SignatureScheme>,
    signing_time: SystemTime,
) -> CmsRequest {
    CmsRequest {
        hash,
        scheme,
        signing_time: match subfilter {
            // PAdES forbids the CMS signing-time attribute (EN 319 142-1 §6.3, item d).
            SubFilter::CadesDetached => None,
            SubFilter::Pkcs7Detached => Some(signing_time),
        },
        include_chain: true,
    }
}

/// Bytes to reserve in `/Contents` for this signer: a dry run, without touching the key.
pub fn placeholder_len(signer: &dyn Signer, request: &CmsRequest) -> Result<usize, PdfError> {
    let digest = vec![0u8; request.hash.output_len()];
    let dry = request.prepare(signer, Content::DetachedDigest(&digest))?;
    let signature = vec![0u8; signer.key_kind().max_signature_len()];
    Ok(dry.assemble(signature)?.len() + TIMESTAMP_RESERVE)
}

/// Signs the ByteRange digest: signed attributes, the key, the container.
pub fn sign_digest(
    signer: &dyn Signer,
    request: &CmsRequest,
    digest: &[u8],
) -> Result<Vec<u8>, PdfError> {
    let to_be_signed = request.prepare(signer, Content::DetachedDigest(digest))?;
    let signature = signer
        .sign(
            to_be_signed.scheme(),
            request.hash,
            SignInput::Message(to_be_signed.message()),
        )
        .map_err(crate::formats::cms::CmsError::from)?;
    Ok(to_be_signed.assemble(signature)?)
}
