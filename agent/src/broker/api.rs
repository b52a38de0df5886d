//! Request and answer shapes of API v1 (the same over HTTPS and JSON-RPC). Documented in
//! `agent/src/server/openapi.json`, which a test keeps in step with these types.

use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;

/// What this agent can do (`GET /v1/info`).
pub const FEATURES: &[&str] = &[
    "certificates",
    "choose",
    "cms",
    "hash",
    "auth",
    "batch",
    "websocket",
];

/// `GET /v1/info`.
#[derive(Debug, Clone, Serialize)]
pub struct InfoResponse {
    /// Always `kyso`.
    pub name: &'static str,
    /// Agent version.
    pub version: &'static str,
    /// At least one token driver is loaded.
    pub ready: bool,
    /// Tokens connected now.
    pub tokens: usize,
    /// Supported operations.
    pub features: &'static [&'static str],
}

fn yes() -> bool {
    true
}

fn sha256() -> String {
    "sha256".into()
}

/// `POST /v1/sign/hash`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignHashRequest {
    /// Certificate thumbprint; absent = the user chooses.
    pub certificate: Option<String>,
    /// `sha1`, `sha256` (default), `sha384`, `sha512`.
    #[serde(default = "sha256")]
    pub algorithm: String,
    /// The digest, base64.
    pub digest: String,
    /// RSA-PSS instead of PKCS#1 v1.5.
    #[serde(default)]
    pub pss: bool,
}

/// Answer of `POST /v1/sign/hash`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignHashResponse {
    /// Raw signature (PKCS#1 / PSS) or DER ECDSA, base64.
    pub signature: String,
    /// e.g. `RSA-PKCS1-v1_5-SHA256`.
    pub signature_algorithm: String,
    /// Signer certificate, base64 DER.
    pub certificate: String,
}

/// `POST /v1/sign/cms`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignCmsRequest {
    /// Certificate thumbprint; absent = the user chooses.
    pub certificate: Option<String>,
    /// The data, base64.
    pub data: String,
    /// Detached (default) or attached.
    #[serde(default = "yes")]
    pub detached: bool,
    /// `sha256` (default), `sha384`, `sha512`.
    pub hash: Option<String>,
    /// RSA-PSS instead of PKCS#1 v1.5.
    #[serde(default)]
    pub pss: bool,
    /// A name shown to the user in the PIN dialog.
    pub document_name: Option<String>,
}

/// Answer of `POST /v1/sign/cms` and `POST /v1/auth/challenge`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignCmsResponse {
    /// DER `ContentInfo`, base64.
    pub cms: String,
    /// Signer certificate, base64 DER.
    pub certificate: String,
}

/// `POST /v1/sign/pdf`: a PAdES signature added to the PDF as an incremental update.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignPdfRequest {
    /// Certificate thumbprint; absent = the user chooses.
    pub certificate: Option<String>,
    /// The PDF, base64 (over WebSocket it may come as a binary frame).
    pub data: String,
    /// The file name shown to the user in the PIN dialog.
    pub name: Option<String>,
    /// Signature options (reason, location, visible signature, ...).
    #[serde(default)]
    pub options: crate::formats::pdf::PdfSignOptions,
}

/// `POST /v1/sign/pdf` with the raw PDF as body (`Content-Type: application/pdf`): the rest of
/// the request, sent as JSON in the `Kyso-Options` header (percent-encoded when it holds
/// non-ASCII text, as `encodeURIComponent` does).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignPdfHeader {
    /// Certificate thumbprint; absent = the user chooses.
    pub certificate: Option<String>,
    /// The file name shown to the user in the PIN dialog.
    pub name: Option<String>,
    /// Signature options (reason, location, visible signature, ...).
    #[serde(default)]
    pub options: crate::formats::pdf::PdfSignOptions,
}

/// Answer of `POST /v1/sign/pdf`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignPdfResponse {
    /// The signed PDF (the original bytes plus the update), base64.
    pub pdf: String,
    /// Signer certificate, base64 DER.
    pub certificate: String,
}

/// `POST /v1/sign/xml`: an enveloped XMLDSig signature.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignXmlRequest {
    /// Certificate thumbprint; absent = the user chooses.
    pub certificate: Option<String>,
    /// The XML document, base64.
    pub data: String,
    /// The file name shown to the user in the PIN dialog.
    pub name: Option<String>,
    /// Where and how to sign (node_id, into, c14n, digest, prefix, signing_time, ...).
    #[serde(default)]
    pub options: crate::formats::xml::XmlSignOptions,
}

/// `POST /v1/verify/pdf` and `POST /v1/verify/xml`: check the signatures a document holds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// The document, base64 (over WebSocket it may come as a binary frame).
    pub data: String,
    /// Extra trusted roots (base64 DER), besides the CA certificates on the connected tokens.
    #[serde(default)]
    pub trusted: Vec<String>,
}

/// Answer of `POST /v1/verify/pdf` / `xml`: one report per signature, in document order.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyResponse<T> {
    /// Whether there is at least one signature and everything checks out (for a PDF, also
    /// that nothing unsigned follows the last signature).
    pub valid: bool,
    /// The signatures.
    pub signatures: Vec<T>,
}

/// Answer of `POST /v1/sign/xml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignXmlResponse {
    /// The signed document, base64; every byte outside the inserted signature is unchanged.
    pub xml: String,
    /// The SignatureMethod URI used.
    pub signature_method: String,
    /// True when SHA-1 was used (old portals demand it; it is weak).
    pub weak_algorithm: bool,
    /// Signer certificate, base64 DER.
    pub certificate: String,
}

/// `POST /v1/auth/challenge`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthChallengeRequest {
    /// Certificate thumbprint; absent = the user chooses.
    pub certificate: Option<String>,
    /// The server's nonce, base64 (1 to 4096 bytes).
    pub challenge: String,
}

/// One item of `POST /v1/sign/batch`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum BatchItem {
    /// A CMS signature of `data` (base64).
    Cms {
        /// The data, base64.
        data: String,
        /// Detached (default) or attached.
        #[serde(default = "yes")]
        detached: bool,
    },
    /// A raw signature of a digest.
    Hash {
        /// Digest algorithm.
        #[serde(default = "sha256")]
        algorithm: String,
        /// The digest, base64.
        digest: String,
    },
    /// A PAdES signature of a PDF.
    Pdf {
        /// The PDF, base64.
        data: String,
        /// The file name shown to the user.
        name: Option<String>,
        /// Visible signature, reason, field, ... as for `POST /v1/sign/pdf`.
        #[serde(default)]
        options: crate::formats::pdf::PdfSignOptions,
    },
    /// An enveloped XMLDSig of an XML document.
    Xml {
        /// The XML document, base64.
        data: String,
        /// The file name shown to the user.
        name: Option<String>,
        /// Where and how to sign, as for `POST /v1/sign/xml`.
        #[serde(default)]
        options: crate::formats::xml::XmlSignOptions,
    },
}

/// `POST /v1/sign/batch`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// Certificate thumbprint; absent = the user chooses.
    pub certificate: Option<String>,
    /// The items, signed in order.
    pub items: Vec<BatchItem>,
}

/// The error object of every failed answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    /// Stable code, e.g. `PIN_INCORRECT`.
    pub code: String,
    /// English message.
    pub message: String,
    /// Vietnamese message.
    pub message_vi: String,
}

impl ErrorBody {
    /// The body for `code`.
    pub fn from_code(code: ErrorCode) -> Self {
        Self {
            code: code.as_str().to_owned(),
            message: code.message_en().to_owned(),
            message_vi: code.message_vi().to_owned(),
        }
    }
}

/// One result of a batch, in item order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BatchResult {
    /// A CMS item's signature.
    Cms {
        /// DER `ContentInfo`, base64.
        cms: String,
    },
    /// A hash item's signature.
    Hash {
        /// Signature, base64.
        signature: String,
        /// e.g. `RSA-PKCS1-v1_5-SHA256`.
        signature_algorithm: String,
    },
    /// A PDF item's signed document.
    Pdf {
        /// The signed PDF, base64.
        pdf: String,
    },
    /// An XML item's signed document.
    Xml {
        /// The signed XML, base64.
        xml: String,
        /// The signature algorithm URI.
        signature_method: String,
        /// Whether the portal asked for SHA-1.
        weak_algorithm: bool,
    },
    /// This item failed; the others still count.
    Error {
        /// Why.
        error: ErrorBody,
    },
}

/// Answer of `POST /v1/sign/batch`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchResponse {
    /// Signer certificate, base64 DER.
    pub certificate: String,
    /// One result per item.
    pub results: Vec<BatchResult>,
}
