//! Errors of token access, each mapped to a stable code.

use std::path::PathBuf;

use cryptoki::error::{Error as Pkcs11Error, RvError};

use super::PinState;
use crate::error::{Coded, ErrorCode};

/// Why a token operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// A module could not be loaded or initialised.
    #[error("PKCS#11 module {path} could not be loaded")]
    ModuleLoad {
        /// The module file.
        path: PathBuf,
        /// What the loader or C_Initialize said.
        #[source]
        source: Pkcs11Error,
    },
    /// Modules were tried and none loaded; the first failure is given.
    #[error("no PKCS#11 module could be loaded: {0}")]
    NoModuleLoaded(String),
    /// No module was named or found.
    #[error("no PKCS#11 module was found")]
    NoModule,
    /// A PKCS#11 call failed.
    #[error("{operation} failed")]
    Pkcs11 {
        /// What kyso was doing.
        operation: &'static str,
        /// The module's answer.
        #[source]
        source: Pkcs11Error,
    },
    /// The wrong PIN was given; `pin` is the token's state afterwards.
    #[error("incorrect PIN (tries low: {}, final try: {})", pin.count_low, pin.final_try)]
    PinIncorrect {
        /// The token's PIN flags after the failed attempt.
        pin: PinState,
    },
    /// The token's user PIN is locked; kyso does not attempt a login.
    #[error("the token's user PIN is locked")]
    PinLocked,
    /// The named token is not connected.
    #[error("token {0} is not present")]
    TokenNotPresent(String),
    /// No token at all is connected.
    #[error("no token is present")]
    NoToken,
    /// The token went away during an operation.
    #[error("the token was removed")]
    TokenRemoved,
    /// No certificate matches.
    #[error("certificate {0} not found")]
    CertificateNotFound(String),
    /// Several certificates could sign and none was named.
    #[error("{0} certificates can sign; choose one by thumbprint")]
    CertificateAmbiguous(usize),
    /// The certificate has no private key on its token.
    #[error("no private key for certificate {0}")]
    KeyNotFound(String),
    /// The token lacks a mechanism kyso needs.
    #[error("the token supports none of the mechanisms for {0}")]
    MechanismUnsupported(String),
    /// The module's worker thread is gone (it panicked or was shut down).
    #[error("the token worker stopped")]
    WorkerGone,
}

impl TokenError {
    /// Wraps a PKCS#11 error from `operation`, turning removal into [`TokenError::TokenRemoved`].
    pub(crate) fn pkcs11(operation: &'static str, source: Pkcs11Error) -> Self {
        match rv(&source) {
            Some(
                RvError::DeviceRemoved
                | RvError::TokenNotPresent
                | RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::DeviceError,
            ) => Self::TokenRemoved,
            Some(RvError::PinLocked) => Self::PinLocked,
            _ => Self::Pkcs11 { operation, source },
        }
    }
}

/// The PKCS#11 return value inside an error, if it is one.
pub(crate) fn rv(error: &Pkcs11Error) -> Option<RvError> {
    match error {
        Pkcs11Error::Pkcs11(rv, _) => Some(*rv),
        _ => None,
    }
}

impl Coded for TokenError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::ModuleLoad { .. } | Self::NoModuleLoaded(_) => ErrorCode::ModuleLoadFailed,
            Self::NoModule => ErrorCode::NoModule,
            Self::Pkcs11 { source, .. } => match rv(source) {
                Some(RvError::PinIncorrect) => ErrorCode::PinIncorrect,
                Some(RvError::PinLocked) => ErrorCode::PinLocked,
                Some(RvError::PinLenRange | RvError::PinInvalid) => ErrorCode::PinInvalid,
                Some(RvError::MechanismInvalid | RvError::MechanismParamInvalid) => {
                    ErrorCode::MechanismUnsupported
                }
                Some(RvError::FunctionCanceled) => ErrorCode::UserCancelled,
                Some(RvError::KeyTypeInconsistent) => ErrorCode::AlgorithmMismatch,
                _ => ErrorCode::TokenError,
            },
            Self::PinIncorrect { .. } => ErrorCode::PinIncorrect,
            Self::PinLocked => ErrorCode::PinLocked,
            Self::TokenNotPresent(_) | Self::NoToken => ErrorCode::TokenNotPresent,
            Self::TokenRemoved => ErrorCode::TokenRemoved,
            Self::CertificateNotFound(_) => ErrorCode::CertificateNotFound,
            Self::CertificateAmbiguous(_) => ErrorCode::BadRequest,
            Self::KeyNotFound(_) => ErrorCode::KeyNotFound,
            Self::MechanismUnsupported(_) => ErrorCode::MechanismUnsupported,
            Self::WorkerGone => ErrorCode::Internal,
        }
    }
}
