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

mod native;
mod scripted;
pub use native::NativePrompter;
pub use scripted::ScriptedPrompter;

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

/// The language of dialogs: Vietnamese on a Vietnamese locale, English otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Tiếng Việt.
    #[default]
    Vi,
    /// English.
    En,
}

impl Language {
    /// From `LC_ALL` / `LC_MESSAGES` / `LANG` (`vi_VN.UTF-8` → Vietnamese).
    pub fn detect() -> Self {
        let locale = ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
            .unwrap_or_default();
        if locale.to_ascii_lowercase().starts_with("vi") {
            Self::Vi
        } else {
            Self::En
        }
    }

    /// Picks the text for this language.
    pub fn pick<'a>(self, vi: &'a str, en: &'a str) -> &'a str {
        match self {
            Self::Vi => vi,
            Self::En => en,
        }
    }
}

/// A web origin asks to use the token for the first time.
#[derive(Debug, Clone)]
pub struct ConsentRequest<'a> {
    /// The origin, e.g. `https://dichvucong.gov.vn`.
    pub origin: &'a str,
    /// Dialog language.
    pub language: Language,
}

/// The user's answer to a [`ConsentRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Consent {
    /// Allow this request only.
    AllowOnce,
    /// Allow and remember.
    AllowAlways,
    /// Refuse (remembered for this run).
    Deny,
}

/// Pick one certificate.
#[derive(Debug, Clone)]
pub struct ChooseRequest<'a> {
    /// Who asks, if a web page.
    pub origin: Option<&'a str>,
    /// The candidates (at least one).
    pub certificates: &'a [CertificateSummary],
    /// Dialog language.
    pub language: Language,
}

/// Confirm a signature when no PIN is asked (PIN pad reader, cached login), so the user always
/// sees what is signed and for whom.
#[derive(Debug, Clone)]
pub struct ConfirmRequest<'a> {
    /// Who asks, if a web page.
    pub origin: Option<&'a str>,
    /// The signing certificate.
    pub certificate: &'a CertificateSummary,
    /// What is being signed, in words.
    pub purpose: &'a str,
    /// Dialog language.
    pub language: Language,
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
    /// Nobody answered in time.
    #[error("no answer in time")]
    Timeout,
    /// Reading the answer failed.
    #[error("reading the answer failed")]
    Io(#[from] std::io::Error),
}

impl Coded for PromptError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Cancelled => ErrorCode::UserCancelled,
            Self::Unavailable(_) => ErrorCode::PromptUnavailable,
            Self::Timeout => ErrorCode::PromptTimeout,
            Self::Io(_) => ErrorCode::Io,
        }
    }
}

/// Something that can ask the user. Only prompt implementations open windows or read the
/// terminal; callers decide *when* to ask.
///
/// The methods block (dialogs are modal); async callers run them on a blocking thread.
pub trait Prompter: Send + Sync {
    /// Asks for the PIN that unlocks `request.certificate`'s token.
    fn pin(&self, request: &PinRequest<'_>) -> Result<SecretString, PromptError>;

    /// Asks whether a web origin may use the token.
    fn consent(&self, request: &ConsentRequest<'_>) -> Result<Consent, PromptError> {
        let _ = request;
        Err(PromptError::Unavailable(
            "this prompter cannot ask for consent".into(),
        ))
    }

    /// Asks which certificate to use; answers its thumbprint.
    fn choose_certificate(&self, request: &ChooseRequest<'_>) -> Result<String, PromptError> {
        let _ = request;
        Err(PromptError::Unavailable(
            "this prompter cannot show a chooser".into(),
        ))
    }

    /// Asks the user to confirm a signature (when no PIN dialog shows it).
    fn confirm(&self, request: &ConfirmRequest<'_>) -> Result<bool, PromptError> {
        let _ = request;
        Err(PromptError::Unavailable(
            "this prompter cannot confirm".into(),
        ))
    }
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
