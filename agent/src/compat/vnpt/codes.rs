//! The plugin's result codes and the JSON answers built from them.
//!
//! The VNPT-CA protocol answers sign calls with `{"code": 0, "data": "<base64>", "error": ""}`;
//! a failure has a code 1..11. kyso's own stable code rides along in `kyso_code` (an extra key
//! pages ignore) so support can tell `PIN_LOCKED` from `PIN_INCORRECT`.

use serde_json::{json, Value};

use crate::{broker::ApiError, error::ErrorCode, prompt::Language};

/// A result code of the VNPT-CA plugin protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginCode {
    /// 0: success.
    Ok = 0,
    /// 1: the input is malformed (or asks for something kyso does not do).
    BadInput = 1,
    /// 2: no certificate (none on the token, or none matches).
    NoCertificate = 2,
    /// 3: signing failed (token error, wrong PIN, locked PIN, ...).
    SigningFailed = 3,
    /// 4: the certificate has no private key.
    NoPrivateKey = 4,
    /// 5: any other failure.
    Unknown = 5,
    /// 6: a visible PDF signature without a page.
    PdfPageMissing = 6,
    /// 7: the PDF page does not exist.
    PdfPageNotFound = 7,
    /// 8: the XML element to sign or to hold the signature is missing.
    XmlTagNotFound = 8,
    /// 9: the PDF signature field does not exist.
    PdfFieldNotFound = 9,
    /// 10: the document's existing signatures forbid another one.
    SignaturesForbid = 10,
    /// 11: the user cancelled (a dialog, the PIN, the consent).
    Cancelled = 11,
}

impl PluginCode {
    /// The number on the wire.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// The plugin code for one of kyso's stable codes.
    pub fn from_error_code(code: ErrorCode) -> Self {
        match code {
            ErrorCode::BadRequest
            | ErrorCode::PayloadTooLarge
            | ErrorCode::UnknownMethod
            | ErrorCode::AlgorithmMismatch
            | ErrorCode::PdfInvalid
            | ErrorCode::PdfEncrypted
            | ErrorCode::XmlInvalid
            | ErrorCode::XmlDtdNotAllowed => Self::BadInput,
            ErrorCode::CertificateNotFound
            | ErrorCode::TokenNotPresent
            | ErrorCode::NoModule
            | ErrorCode::ModuleLoadFailed => Self::NoCertificate,
            ErrorCode::PinIncorrect
            | ErrorCode::PinLocked
            | ErrorCode::PinInvalid
            | ErrorCode::TokenRemoved
            | ErrorCode::TokenError
            | ErrorCode::MechanismUnsupported
            | ErrorCode::SignatureFormat => Self::SigningFailed,
            ErrorCode::KeyNotFound => Self::NoPrivateKey,
            ErrorCode::PdfPageNotFound => Self::PdfPageNotFound,
            ErrorCode::XmlTargetNotFound => Self::XmlTagNotFound,
            ErrorCode::PdfFieldNotFound => Self::PdfFieldNotFound,
            ErrorCode::PdfChangesNotAllowed => Self::SignaturesForbid,
            // The user said no, or did not answer: both are a cancel to the page.
            ErrorCode::UserCancelled | ErrorCode::PromptTimeout | ErrorCode::OriginNotAllowed => {
                Self::Cancelled
            }
            _ => Self::Unknown,
        }
    }
}

/// `{"code": 0, "data": data, "error": ""}`.
pub fn ok(data: impl Into<Value>) -> Value {
    json!({"code": PluginCode::Ok.number(), "data": data.into(), "error": ""})
}

/// The failure answer for `error`: the plugin code, kyso's message in `language` (never the
/// technical detail, which goes to the log), and kyso's stable code.
pub fn failure(error: &ApiError, language: Language) -> Value {
    let code = PluginCode::from_error_code(error.code);
    json!({
        "code": code.number(),
        "data": "",
        "error": language.pick(error.code.message_vi(), error.code.message_en()),
        "kyso_code": error.code.as_str(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancels_and_refusals_are_code_11_and_missing_certificates_code_2() {
        for code in [
            ErrorCode::UserCancelled,
            ErrorCode::PromptTimeout,
            ErrorCode::OriginNotAllowed,
        ] {
            assert_eq!(PluginCode::from_error_code(code).number(), 11);
        }
        assert_eq!(
            PluginCode::from_error_code(ErrorCode::CertificateNotFound).number(),
            2
        );
        assert_eq!(
            PluginCode::from_error_code(ErrorCode::XmlTargetNotFound).number(),
            8
        );
        assert_eq!(
            PluginCode::from_error_code(ErrorCode::PdfPageNotFound).number(),
            7
        );
    }

    #[test]
    fn every_kyso_code_maps_to_a_plugin_code_in_range() {
        for code in ErrorCode::ALL {
            let n = PluginCode::from_error_code(*code).number();
            assert!((1..=11).contains(&n), "{code:?} → {n}");
        }
    }

    #[test]
    fn a_failure_carries_the_plugin_code_and_the_stable_kyso_code() {
        let answer = failure(
            &ApiError::new(ErrorCode::PinLocked, "detail for the log"),
            Language::En,
        );
        assert_eq!(answer["code"], 3);
        assert_eq!(answer["kyso_code"], "PIN_LOCKED");
        assert!(!answer.to_string().contains("detail for the log"));
    }
}
