//! Asking the user: behind a trait so the CLI, the native dialogs and scripted test runs each
//! supply answers explicitly. Token code never prompts by itself.

use std::{
    io::{IsTerminal, Read},
    path::PathBuf,
};

use kyso_certs::CertificateSummary;
use secrecy::SecretString;
use zeroize::Zeroizing;

use crate::{
    error::{Coded, ErrorCode},
    token::PinState,
};

/// What the user is asked to unlock, shown in every PIN prompt.
#[derive(Debug, Clone)]
pub struct PinRequest<'a> {
    /// The certificate whose key will sign.
    pub certificate: &'a CertificateSummary,
    /// The token's label.
    pub token_label: &'a str,
    /// The token's PIN flags (few tries left, ...).
    pub pin: PinState,
    /// Who asks (a web origin), if not the local user.
    pub origin: Option<&'a str>,
    /// What is being signed, in words (file name, size, digest prefix, item count).
    pub purpose: &'a str,
}

/// Why no answer came back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PromptError {
    /// The user cancelled.
    #[error("cancelled by the user")]
    Cancelled,
    /// There is no way to ask here (no terminal, no display, no scripted answer).
    #[error("cannot prompt: {0}")]
    Unavailable(String),
    /// Reading the answer failed.
    #[error("reading the PIN failed")]
    Io(#[from] std::io::Error),
}

impl Coded for PromptError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Cancelled => ErrorCode::UserCancelled,
            Self::Unavailable(_) => ErrorCode::PromptUnavailable,
            Self::Io(_) => ErrorCode::Io,
        }
    }
}

/// Something that can ask the user for a PIN.
pub trait Prompter: Send + Sync {
    /// Asks for the PIN that unlocks `request.certificate`'s token.
    fn pin(&self, request: &PinRequest<'_>) -> Result<SecretString, PromptError>;
}

/// The warning to show before asking, when the token reports few tries left.
pub fn pin_warning(pin: &PinState) -> Option<(&'static str, &'static str)> {
    if pin.final_try {
        Some((
            "Warning: one more wrong PIN will lock this token.",
            "Cảnh báo: nhập sai thêm một lần nữa token sẽ bị khóa.",
        ))
    } else if pin.count_low {
        Some((
            "Warning: a wrong PIN was entered before; the token locks after a few more.",
            "Cảnh báo: đã có lần nhập sai mã PIN; token sẽ bị khóa nếu tiếp tục nhập sai.",
        ))
    } else {
        None
    }
}

/// Asks on the controlling terminal with echo off.
#[derive(Debug, Default)]
pub struct TerminalPrompter;

impl Prompter for TerminalPrompter {
    fn pin(&self, request: &PinRequest<'_>) -> Result<SecretString, PromptError> {
        if !std::io::stdin().is_terminal() && !std::io::stderr().is_terminal() {
            return Err(PromptError::Unavailable(
                "no terminal; use --pin-file".into(),
            ));
        }
        let cert = request.certificate;
        eprintln!("Ký số / Signing: {}", request.purpose);
        eprintln!(
            "Chứng thư / Certificate: {} — {}",
            cert.common_name.as_deref().unwrap_or(&cert.subject),
            cert.issuer_common_name.as_deref().unwrap_or(&cert.issuer)
        );
        if let Some((en, vi)) = pin_warning(&request.pin) {
            eprintln!("{vi}\n{en}");
        }
        let pin = Zeroizing::new(
            rpassword::prompt_password(format!(
                "Mã PIN của token / PIN for token \"{}\": ",
                request.token_label
            ))
            .map_err(PromptError::Io)?,
        );
        if pin.is_empty() {
            return Err(PromptError::Cancelled);
        }
        Ok(SecretString::from(pin.as_str()))
    }
}

/// Reads the PIN from a file, or standard input for `-` (for scripts and automation).
#[derive(Debug)]
pub struct PinFilePrompter {
    path: PathBuf,
}

impl PinFilePrompter {
    /// A prompter answering with the first line of `path` (`-` = standard input).
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }
}

impl Prompter for PinFilePrompter {
    fn pin(&self, _request: &PinRequest<'_>) -> Result<SecretString, PromptError> {
        let mut content = Zeroizing::new(String::new());
        if self.path.as_os_str() == "-" {
            std::io::stdin().read_to_string(&mut content)?;
        } else {
            std::fs::File::open(&self.path)?.read_to_string(&mut content)?;
        }
        let line = content.lines().next().unwrap_or_default();
        if line.is_empty() {
            return Err(PromptError::Cancelled);
        }
        Ok(SecretString::from(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn pin_file_answers_its_first_line_without_newline() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("pin");
        std::fs::write(&path, "123456\r\nignored\n").unwrap_or_else(|e| panic!("{e}"));
        let pki = kyso_certs::testpki::shared();
        let summary =
            kyso_certs::summarize(&pki.users[0].cert_der, time::OffsetDateTime::now_utc())
                .unwrap_or_else(|e| panic!("{e}"));
        let request = PinRequest {
            certificate: &summary,
            token_label: "t",
            pin: PinState::default(),
            origin: None,
            purpose: "test",
        };
        let pin = PinFilePrompter::new(path)
            .pin(&request)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pin.expose_secret(), "123456");
    }

    #[test]
    fn final_try_warns_more_strongly_than_count_low() {
        let low = PinState {
            count_low: true,
            ..PinState::default()
        };
        let last = PinState {
            final_try: true,
            ..low
        };
        assert_ne!(pin_warning(&low), pin_warning(&last));
        assert_eq!(pin_warning(&PinState::default()), None);
    }
}
