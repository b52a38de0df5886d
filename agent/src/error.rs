//! Stable error codes and the bilingual messages users see.
//!
//! Every module has its own `thiserror` enum that keeps its source; each of them says which
//! [`ErrorCode`] it is through [`Coded`]. This module is the one place that turns a code into the
//! words a user reads, in Vietnamese and English, so the CLI, the API and the portals'
//! compatibility layer all say the same thing for the same failure.

use std::fmt;

use serde::Serialize;

/// A failure kind with a stable, machine-readable name (`PIN_INCORRECT`, ...).
///
/// The names are part of the public API (CLI stderr, HTTP error bodies, SDK errors): never
/// rename one; add new ones instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The PIN was wrong; the token may now warn that few tries are left.
    PinIncorrect,
    /// The token has locked its user PIN after too many wrong tries.
    PinLocked,
    /// The PIN does not meet the token's length rules.
    PinInvalid,
    /// No token is in the reader, or the named token is not connected.
    TokenNotPresent,
    /// The token was pulled out while kyso was using it.
    TokenRemoved,
    /// A PKCS#11 module (token driver) could not be loaded.
    ModuleLoadFailed,
    /// No PKCS#11 module was found or named.
    NoModule,
    /// No certificate matches the request.
    CertificateNotFound,
    /// The certificate has no private key on the token.
    KeyNotFound,
    /// The token cannot perform the requested algorithm.
    MechanismUnsupported,
    /// The certificate's key type cannot do what was asked (e.g. PSS with an EC key).
    AlgorithmMismatch,
    /// The user cancelled a dialog or the PIN prompt.
    UserCancelled,
    /// No way to ask the user (no terminal, no display).
    PromptUnavailable,
    /// The token reported an error kyso does not know how to explain further.
    TokenError,
    /// Reading or writing a file failed.
    Io,
    /// The input is malformed (bad hex, wrong digest length, ...).
    BadRequest,
    /// Building the signature container failed.
    SignatureFormat,
    /// An unexpected internal failure; the log has the details.
    Internal,
    /// The web page's origin may not use the token.
    OriginNotAllowed,
    /// The request's Host header is not kyso's own loopback name (DNS rebinding).
    HostNotAllowed,
    /// The request body is larger than allowed.
    PayloadTooLarge,
    /// The user did not answer a dialog in time.
    PromptTimeout,
    /// Another dialog is open, or a page asked too often.
    Busy,
    /// The PDF is encrypted.
    PdfEncrypted,
    /// The PDF's certification (DocMDP) forbids further changes.
    PdfChangesNotAllowed,
    /// The file is not a readable PDF (truncated, garbage).
    PdfInvalid,
    /// The requested PDF page does not exist.
    PdfPageNotFound,
    /// The named PDF signature field does not exist or is already signed.
    PdfFieldNotFound,
    /// The XML is not well-formed.
    XmlInvalid,
    /// The element to sign or to place the signature in was not found.
    XmlTargetNotFound,
    /// The XML has a DTD or entity declarations, which kyso refuses (XXE, entity bombs).
    XmlDtdNotAllowed,
    /// The port kyso needs is taken by another program.
    PortInUse,
    /// No such API method or path.
    UnknownMethod,
}

impl ErrorCode {
    /// Every code, for documentation and tests.
    pub const ALL: &'static [ErrorCode] = &[
        Self::PinIncorrect,
        Self::PinLocked,
        Self::PinInvalid,
        Self::TokenNotPresent,
        Self::TokenRemoved,
        Self::ModuleLoadFailed,
        Self::NoModule,
        Self::CertificateNotFound,
        Self::KeyNotFound,
        Self::MechanismUnsupported,
        Self::AlgorithmMismatch,
        Self::UserCancelled,
        Self::PromptUnavailable,
        Self::TokenError,
        Self::Io,
        Self::BadRequest,
        Self::SignatureFormat,
        Self::Internal,
        Self::OriginNotAllowed,
        Self::HostNotAllowed,
        Self::PayloadTooLarge,
        Self::PromptTimeout,
        Self::Busy,
        Self::PdfEncrypted,
        Self::PdfChangesNotAllowed,
        Self::PdfInvalid,
        Self::PdfPageNotFound,
        Self::PdfFieldNotFound,
        Self::XmlInvalid,
        Self::XmlTargetNotFound,
        Self::XmlDtdNotAllowed,
        Self::PortInUse,
        Self::UnknownMethod,
    ];

    /// The stable name, e.g. `"PIN_INCORRECT"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PinIncorrect => "PIN_INCORRECT",
            Self::PinLocked => "PIN_LOCKED",
            Self::PinInvalid => "PIN_INVALID",
            Self::TokenNotPresent => "TOKEN_NOT_PRESENT",
            Self::TokenRemoved => "TOKEN_REMOVED",
            Self::ModuleLoadFailed => "MODULE_LOAD_FAILED",
            Self::NoModule => "NO_MODULE",
            Self::CertificateNotFound => "CERTIFICATE_NOT_FOUND",
            Self::KeyNotFound => "KEY_NOT_FOUND",
            Self::MechanismUnsupported => "MECHANISM_UNSUPPORTED",
            Self::AlgorithmMismatch => "ALGORITHM_MISMATCH",
            Self::UserCancelled => "USER_CANCELLED",
            Self::PromptUnavailable => "PROMPT_UNAVAILABLE",
            Self::TokenError => "TOKEN_ERROR",
            Self::Io => "IO_ERROR",
            Self::BadRequest => "BAD_REQUEST",
            Self::SignatureFormat => "SIGNATURE_FORMAT_ERROR",
            Self::Internal => "INTERNAL_ERROR",
            Self::OriginNotAllowed => "ORIGIN_NOT_ALLOWED",
            Self::HostNotAllowed => "HOST_NOT_ALLOWED",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::PromptTimeout => "PROMPT_TIMEOUT",
            Self::Busy => "BUSY",
            Self::PdfEncrypted => "PDF_ENCRYPTED",
            Self::PdfChangesNotAllowed => "PDF_CHANGES_NOT_ALLOWED",
            Self::PdfInvalid => "PDF_INVALID",
            Self::PdfPageNotFound => "PDF_PAGE_NOT_FOUND",
            Self::PdfFieldNotFound => "PDF_FIELD_NOT_FOUND",
            Self::XmlInvalid => "XML_INVALID",
            Self::XmlTargetNotFound => "XML_TARGET_NOT_FOUND",
            Self::XmlDtdNotAllowed => "XML_DTD_NOT_ALLOWED",
            Self::PortInUse => "PORT_IN_USE",
            Self::UnknownMethod => "UNKNOWN_METHOD",
        }
    }

    /// What happened and what to do, in English.
    pub fn message_en(self) -> &'static str {
        match self {
            Self::PinIncorrect => "The PIN is incorrect. Check it and try again; the token locks after several wrong tries.",
            Self::PinLocked => "The token's PIN is locked after too many wrong tries. Contact your certificate provider (CA) to unlock it.",
            Self::PinInvalid => "The PIN has the wrong length or characters for this token.",
            Self::TokenNotPresent => "No USB token was found. Plug in your token and try again.",
            Self::TokenRemoved => "The USB token was removed during signing. Plug it in again and retry.",
            Self::ModuleLoadFailed => "The token driver (PKCS#11 module) could not be loaded. Reinstall your token's software.",
            Self::NoModule => "No token driver (PKCS#11 module) is installed. Install the software from your certificate provider.",
            Self::CertificateNotFound => "The requested certificate was not found on any connected token.",
            Self::KeyNotFound => "The certificate has no matching private key on the token, so it cannot sign.",
            Self::MechanismUnsupported => "The token does not support the requested signature algorithm.",
            Self::AlgorithmMismatch => "The requested algorithm does not fit this certificate's key type.",
            Self::UserCancelled => "You cancelled the operation.",
            Self::PromptUnavailable => "kyso cannot ask for the PIN here (no screen or terminal available).",
            Self::TokenError => "The token reported an error. Unplug it, plug it in again and retry.",
            Self::Io => "A file could not be read or written.",
            Self::BadRequest => "The request is malformed.",
            Self::SignatureFormat => "The signature could not be assembled.",
            Self::Internal => "An unexpected error occurred in kyso. Details are in the log.",
            Self::OriginNotAllowed => "This website is not allowed to use your token. Allow it in kyso if you trust it.",
            Self::HostNotAllowed => "The request did not come through kyso's own local address and was refused.",
            Self::PayloadTooLarge => "The document is larger than kyso accepts.",
            Self::PromptTimeout => "Nobody answered kyso's dialog in time.",
            Self::Busy => "kyso is waiting for you in another dialog. Finish it first, then try again.",
            Self::PdfEncrypted => "The PDF is password-protected (encrypted); kyso cannot sign it. Remove the protection first.",
            Self::PdfChangesNotAllowed => "The PDF is certified and forbids further changes, so it cannot be signed again.",
            Self::PdfInvalid => "The file is not a valid PDF (damaged or incomplete).",
            Self::PdfPageNotFound => "The PDF has no such page.",
            Self::PdfFieldNotFound => "The PDF has no empty signature field with that name.",
            Self::XmlInvalid => "The XML document is not well-formed.",
            Self::XmlTargetNotFound => "The element to sign (or to hold the signature) was not found in the XML.",
            Self::XmlDtdNotAllowed => "The XML contains a DTD or entity declarations, which kyso refuses for safety.",
            Self::PortInUse => "Another program is using kyso's port. Close it (or another copy of kyso) or choose another port.",
            Self::UnknownMethod => "kyso does not know this request. Update the web page or kyso.",
        }
    }

    /// What happened and what to do, in Vietnamese.
    pub fn message_vi(self) -> &'static str {
        match self {
            Self::PinIncorrect => "Mã PIN không đúng. Vui lòng kiểm tra và thử lại; token sẽ bị khóa nếu nhập sai nhiều lần.",
            Self::PinLocked => "Mã PIN của token đã bị khóa do nhập sai quá nhiều lần. Vui lòng liên hệ nhà cung cấp chứng thư số (CA) để mở khóa.",
            Self::PinInvalid => "Mã PIN có độ dài hoặc ký tự không hợp lệ đối với token này.",
            Self::TokenNotPresent => "Không tìm thấy USB token. Vui lòng cắm token và thử lại.",
            Self::TokenRemoved => "USB token đã bị rút ra trong khi ký. Vui lòng cắm lại và thử lại.",
            Self::ModuleLoadFailed => "Không tải được trình điều khiển token (PKCS#11). Vui lòng cài đặt lại phần mềm của token.",
            Self::NoModule => "Chưa cài trình điều khiển token (PKCS#11). Vui lòng cài phần mềm của nhà cung cấp chứng thư số.",
            Self::CertificateNotFound => "Không tìm thấy chứng thư số được yêu cầu trên token đang cắm.",
            Self::KeyNotFound => "Chứng thư số không có khóa bí mật tương ứng trên token nên không thể ký.",
            Self::MechanismUnsupported => "Token không hỗ trợ thuật toán ký được yêu cầu.",
            Self::AlgorithmMismatch => "Thuật toán được yêu cầu không phù hợp với loại khóa của chứng thư số.",
            Self::UserCancelled => "Bạn đã hủy thao tác.",
            Self::PromptUnavailable => "kyso không thể hỏi mã PIN tại đây (không có màn hình hoặc cửa sổ dòng lệnh).",
            Self::TokenError => "Token báo lỗi. Vui lòng rút token ra, cắm lại và thử lại.",
            Self::Io => "Không đọc hoặc ghi được tệp.",
            Self::BadRequest => "Yêu cầu không hợp lệ.",
            Self::SignatureFormat => "Không tạo được chữ ký.",
            Self::Internal => "kyso gặp lỗi ngoài dự kiến. Chi tiết có trong nhật ký.",
            Self::OriginNotAllowed => "Trang web này không được phép sử dụng token của bạn. Hãy cho phép trong kyso nếu bạn tin cậy trang này.",
            Self::HostNotAllowed => "Yêu cầu không đi qua địa chỉ nội bộ của kyso nên đã bị từ chối.",
            Self::PayloadTooLarge => "Tài liệu lớn hơn mức kyso cho phép.",
            Self::PromptTimeout => "Không có ai trả lời hộp thoại của kyso kịp thời.",
            Self::Busy => "kyso đang chờ bạn ở một hộp thoại khác. Hãy hoàn tất hộp thoại đó rồi thử lại.",
            Self::PdfEncrypted => "Tệp PDF được bảo vệ bằng mật khẩu (mã hóa); kyso không thể ký. Hãy gỡ bảo vệ trước.",
            Self::PdfChangesNotAllowed => "Tệp PDF đã được chứng thực và không cho phép thay đổi thêm nên không thể ký tiếp.",
            Self::PdfInvalid => "Tệp không phải là PDF hợp lệ (bị hỏng hoặc không đầy đủ).",
            Self::PdfPageNotFound => "Tệp PDF không có trang này.",
            Self::PdfFieldNotFound => "Tệp PDF không có ô chữ ký trống với tên này.",
            Self::XmlInvalid => "Tài liệu XML không đúng cú pháp.",
            Self::XmlTargetNotFound => "Không tìm thấy phần tử cần ký (hoặc phần tử chứa chữ ký) trong XML.",
            Self::XmlDtdNotAllowed => "Tài liệu XML có DTD hoặc khai báo thực thể; kyso từ chối để đảm bảo an toàn.",
            Self::PortInUse => "Một chương trình khác đang dùng cổng của kyso. Hãy đóng chương trình đó (hoặc bản kyso khác) hoặc chọn cổng khác.",
            Self::UnknownMethod => "kyso không nhận ra yêu cầu này. Hãy cập nhật trang web hoặc kyso.",
        }
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error that knows its stable [`ErrorCode`].
pub trait Coded: std::error::Error {
    /// The stable code for this failure.
    fn code(&self) -> ErrorCode;
}

/// The user-facing form of an error: stable code, both messages, and the technical detail
/// (which never contains a PIN or document content).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ErrorReport {
    /// Stable code, e.g. `PIN_INCORRECT`.
    pub code: ErrorCode,
    /// English message.
    pub message: String,
    /// Vietnamese message.
    pub message_vi: String,
    /// Technical detail for support (the error chain).
    pub detail: String,
}

impl ErrorReport {
    /// Builds the report for any coded error, walking its source chain for the detail.
    pub fn from_error(error: &(dyn Coded + 'static)) -> Self {
        let code = error.code();
        let mut detail = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            detail.push_str(": ");
            detail.push_str(&cause.to_string());
            source = cause.source();
        }
        Self {
            code,
            message: code.message_en().to_owned(),
            message_vi: code.message_vi().to_owned(),
            detail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_their_stable_names() {
        for code in [
            ErrorCode::PinIncorrect,
            ErrorCode::PinLocked,
            ErrorCode::TokenRemoved,
            ErrorCode::ModuleLoadFailed,
            ErrorCode::UserCancelled,
        ] {
            let json = serde_json::to_string(&code).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }

    #[test]
    fn every_code_has_both_messages_and_a_unique_name() {
        let mut names = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(!code.message_en().is_empty());
            assert!(!code.message_vi().is_empty());
            assert_ne!(code.message_en(), code.message_vi());
            assert!(names.insert(code.as_str()), "duplicate {code}");
            let json = serde_json::to_string(code).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }
}
