//! Errors of XML signing and verification, each with its stable [`ErrorCode`].

use crate::{
    error::{Coded, ErrorCode},
    signer::SignerError,
};

/// Why an XML document could not be signed or checked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum XmlError {
    /// The bytes are not UTF-8 (kyso reads UTF-8 documents, with or without a BOM).
    #[error("the XML is not UTF-8: {0}")]
    NotUtf8(#[source] std::str::Utf8Error),
    /// The document is not well-formed.
    #[error("the XML is not well-formed: {0}")]
    Malformed(#[source] roxmltree::Error),
    /// A DTD or entity declaration: refused so that no external entity is read and no
    /// entity-expansion bomb is expanded.
    #[error("the XML has a DTD (<!DOCTYPE ...>); documents with DTDs or entities are refused")]
    Dtd,
    /// No element carries the requested Id.
    #[error("no element has Id, id or ID \"{0}\"")]
    IdNotFound(String),
    /// Several elements carry the requested Id: signing or checking one of them would let a
    /// forged copy stand in for the other (signature wrapping).
    #[error("{count} elements have the Id \"{id}\"; Ids must be unique")]
    DuplicateId {
        /// The Id.
        id: String,
        /// How many elements carry it.
        count: usize,
    },
    /// The element meant to hold the signature (or its parent) does not exist.
    #[error("no element named <{0}> to hold the signature")]
    PlacementNotFound(String),
    /// An option is not usable (e.g. an Id with a quote in it).
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// The signer's key cannot produce the requested signature algorithm.
    #[error("a {key} key cannot make {algorithm} signatures")]
    AlgorithmMismatch {
        /// The key kind.
        key: String,
        /// The requested algorithm.
        algorithm: String,
    },
    /// The signer's certificate could not be read.
    #[error("the signer's certificate is unreadable: {0}")]
    Certificate(String),
    /// The token or key failed; its own code (PIN_LOCKED, ...) is kept.
    #[error(transparent)]
    Signer(#[from] SignerError),
    /// The signature the signer returned has an unexpected form.
    #[error("the signer returned an unusable signature: {0}")]
    SignatureValue(String),
    /// Building the signature produced XML kyso could not read back (a bug).
    #[error("internal error building the signature: {0}")]
    Internal(String),
}

impl Coded for XmlError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::NotUtf8(_) | Self::Malformed(_) | Self::DuplicateId { .. } => {
                ErrorCode::XmlInvalid
            }
            Self::Dtd => ErrorCode::XmlDtdNotAllowed,
            Self::IdNotFound(_) | Self::PlacementNotFound(_) => ErrorCode::XmlTargetNotFound,
            Self::InvalidOption(_) => ErrorCode::BadRequest,
            Self::AlgorithmMismatch { .. } => ErrorCode::AlgorithmMismatch,
            Self::Certificate(_) | Self::SignatureValue(_) => ErrorCode::SignatureFormat,
            Self::Signer(e) => e.code(),
            Self::Internal(_) => ErrorCode::Internal,
        }
    }
}
