//! Why a PDF could not be signed, each reason with its stable code.

use crate::{
    error::{Coded, ErrorCode},
    formats::cms::CmsError,
};

/// A syntax problem found while parsing PDF bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyntaxError {
    /// The bytes ended before the object did (the reader then reads a larger window).
    #[error("unexpected end of data")]
    Eof,
    /// Something that is not PDF syntax.
    #[error("{what} at byte {at}")]
    Invalid {
        /// What was expected or found.
        what: &'static str,
        /// Offset in the parsed slice.
        at: usize,
    },
}

/// Why a PDF could not be signed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PdfError {
    /// Reading the input or writing the output failed.
    #[error("reading or writing the PDF failed")]
    Io(#[from] std::io::Error),
    /// The file is not a readable PDF: no trailer, broken cross-reference, bad object.
    #[error("not a readable PDF: {context}")]
    Invalid {
        /// Where it went wrong.
        context: String,
        /// The syntax error, when there is one.
        #[source]
        source: Option<SyntaxError>,
    },
    /// The PDF is encrypted; signing it would need its password and re-encryption.
    #[error("the PDF is encrypted")]
    Encrypted,
    /// A certification signature (DocMDP) forbids any change, or certification was asked for a
    /// document that is already signed.
    #[error("the document's certification does not allow this change: {0}")]
    ChangesNotAllowed(&'static str),
    /// The requested page does not exist.
    #[error("page {requested} does not exist (the document has {count} pages)")]
    PageNotFound {
        /// The page asked for (1-based, negative from the end).
        requested: i64,
        /// Pages in the document.
        count: usize,
    },
    /// The named signature field does not exist, is not a signature field, or is signed.
    #[error("no empty signature field named {0:?}")]
    FieldNotFound(String),
    /// The options are inconsistent (bad rectangle, unreadable image, ...).
    #[error("invalid signing options: {0}")]
    Options(String),
    /// The image for the visible signature could not be read.
    #[error("the signature image cannot be used: {0}")]
    Image(String),
    /// Building the appearance font failed.
    #[error("embedding the font failed: {0}")]
    Font(String),
    /// Building or signing the CMS container failed (the signer's own code is kept).
    #[error("the CMS signature failed")]
    Cms(#[from] CmsError),
    /// The CMS container came out larger than the space reserved for it.
    #[error("the signature ({actual} bytes) does not fit the reserved {reserved} bytes")]
    PlaceholderTooSmall {
        /// Bytes reserved in /Contents.
        reserved: usize,
        /// Size of the signature.
        actual: usize,
    },
}

impl PdfError {
    /// An invalid-PDF error with context and the syntax error behind it.
    pub(crate) fn invalid(context: impl Into<String>, source: Option<SyntaxError>) -> Self {
        Self::Invalid {
            context: context.into(),
            source,
        }
    }
}

impl Coded for PdfError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Io(_) => ErrorCode::Io,
            Self::Invalid { .. } => ErrorCode::PdfInvalid,
            Self::Encrypted => ErrorCode::PdfEncrypted,
            Self::ChangesNotAllowed(_) => ErrorCode::PdfChangesNotAllowed,
            Self::PageNotFound { .. } => ErrorCode::PdfPageNotFound,
            Self::FieldNotFound(_) => ErrorCode::PdfFieldNotFound,
            Self::Options(_) | Self::Image(_) => ErrorCode::BadRequest,
            Self::Font(_) | Self::PlaceholderTooSmall { .. } => ErrorCode::SignatureFormat,
            Self::Cms(e) => e.code(),
        }
    }
}
