//! Errors turned into answers in one place: the client gets a stable code and both messages;
//! the technical detail goes to the log only.

use std::convert::Infallible;

use warp::{
    http::StatusCode,
    reject::{MethodNotAllowed, PayloadTooLarge, Reject, UnsupportedMediaType},
    reply::{self, Response},
    Rejection, Reply,
};

use crate::{
    broker::{ApiError, ErrorBody},
    error::ErrorCode,
};

/// A rejection carrying an [`ApiError`].
#[derive(Debug)]
pub struct Problem(pub ApiError);

impl Reject for Problem {}

/// Rejects with `code`.
pub fn reject(code: ErrorCode, detail: impl Into<String>) -> Rejection {
    warp::reject::custom(Problem(ApiError::new(code, detail)))
}

/// The HTTP status for a code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::BadRequest
        | ErrorCode::AlgorithmMismatch
        | ErrorCode::PdfInvalid
        | ErrorCode::PdfEncrypted
        | ErrorCode::PdfChangesNotAllowed
        | ErrorCode::PdfPageNotFound
        | ErrorCode::PdfFieldNotFound
        | ErrorCode::XmlInvalid
        | ErrorCode::XmlTargetNotFound
        | ErrorCode::XmlDtdNotAllowed => StatusCode::BAD_REQUEST,
        ErrorCode::OriginNotAllowed | ErrorCode::HostNotAllowed => StatusCode::FORBIDDEN,
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::UnknownMethod => StatusCode::NOT_FOUND,
        ErrorCode::CertificateNotFound | ErrorCode::KeyNotFound => StatusCode::NOT_FOUND,
        ErrorCode::PinIncorrect | ErrorCode::PinInvalid => StatusCode::UNAUTHORIZED,
        ErrorCode::PinLocked => StatusCode::LOCKED,
        ErrorCode::UserCancelled => StatusCode::CONFLICT,
        ErrorCode::Busy => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::PromptTimeout => StatusCode::REQUEST_TIMEOUT,
        ErrorCode::TokenNotPresent
        | ErrorCode::TokenRemoved
        | ErrorCode::NoModule
        | ErrorCode::ModuleLoadFailed
        | ErrorCode::PromptUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::MechanismUnsupported => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The JSON answer for `error`, logged with its detail.
pub fn error_response(error: &ApiError) -> Response {
    tracing::info!(code = %error.code, detail = %error.detail, "request failed");
    let body = serde_json::json!({ "error": ErrorBody::from_code(error.code) });
    reply::with_status(reply::json(&body), status_of(error.code)).into_response()
}

/// Turns any rejection into the JSON error answer.
pub async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    let error = if let Some(Problem(error)) = rejection.find::<Problem>() {
        ApiError::new(error.code, error.detail.clone())
    } else if rejection.is_not_found() {
        ApiError::new(ErrorCode::UnknownMethod, "no such path")
    } else if rejection.find::<PayloadTooLarge>().is_some() {
        ApiError::new(ErrorCode::PayloadTooLarge, "body over the limit")
    } else if rejection.find::<UnsupportedMediaType>().is_some() {
        ApiError::new(
            ErrorCode::BadRequest,
            "Content-Type must be application/json",
        )
    } else if rejection.find::<MethodNotAllowed>().is_some() {
        ApiError::new(ErrorCode::UnknownMethod, "method not allowed")
    } else if rejection.find::<warp::reject::LengthRequired>().is_some() {
        ApiError::new(ErrorCode::BadRequest, "Content-Length required")
    } else {
        ApiError::new(ErrorCode::BadRequest, format!("{rejection:?}"))
    };
    Ok(error_response(&error))
}
