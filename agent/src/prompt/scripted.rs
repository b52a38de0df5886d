//! Answers read from a JSON file named by an explicit flag (`--prompter scripted:FILE`), for
//! tests and the demo. Never a default: the server announces it loudly in the log.
//!
//! ```json
//! {"pin": "123456", "consent": "allow-once", "certificate": "first", "confirm": true, "delay_ms": 0}
//! ```
//! A missing answer means the user cancelled. The file is read at every prompt, so a test can
//! change the answers while the agent runs. Each dialog shown is appended, by kind, to
//! `FILE.asked` (one line: `pin`, `consent`, `choose`, `confirm`), so tests can count them,
//! and what the PIN and confirmation dialogs would show (site, signer, what is signed) is
//! appended to `FILE.shown` as one JSON object per line, so tests can check it.

use std::{path::PathBuf, time::Duration};

use secrecy::SecretString;
use serde::Deserialize;

use super::{
    ChooseRequest, ConfirmRequest, Consent, ConsentRequest, PinRequest, PromptError, Prompter,
};

/// The answers file's content.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Answers {
    pin: Option<String>,
    consent: Option<Consent>,
    certificate: Option<String>,
    confirm: Option<bool>,
    /// How long the "user" takes to answer, to test queued and timed-out prompts.
    #[serde(default)]
    delay_ms: u64,
}

/// A prompter answering from a JSON file.
#[derive(Debug, Clone)]
pub struct ScriptedPrompter {
    path: PathBuf,
}

impl ScriptedPrompter {
    /// Answers from `path`.
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    fn answers(&self, kind: &str) -> Result<Answers, PromptError> {
        let mut asked = self.path.clone().into_os_string();
        asked.push(".asked");
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(PathBuf::from(asked))?;
        std::io::Write::write_all(&mut log, format!("{kind}\n").as_bytes())?;
        let text = std::fs::read_to_string(&self.path)?;
        let answers: Answers = serde_json::from_str(&text).map_err(|e| {
            PromptError::Unavailable(format!("scripted answers {}: {e}", self.path.display()))
        })?;
        if answers.delay_ms > 0 {
            std::thread::sleep(Duration::from_millis(answers.delay_ms));
        }
        Ok(answers)
    }
}

impl ScriptedPrompter {
    /// Appends what a signing dialog would show to `FILE.shown`.
    fn shown(
        &self,
        kind: &str,
        origin: Option<&str>,
        signer: &kyso_certs::CertificateSummary,
        purpose: &str,
    ) -> Result<(), PromptError> {
        let mut path = self.path.clone().into_os_string();
        path.push(".shown");
        let line = serde_json::json!({
            "kind": kind,
            "origin": origin,
            "signer": signer.common_name,
            "purpose": purpose,
        });
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(PathBuf::from(path))?;
        std::io::Write::write_all(&mut log, format!("{line}\n").as_bytes())?;
        Ok(())
    }
}

impl Prompter for ScriptedPrompter {
    fn pin(&self, request: &PinRequest<'_>) -> Result<SecretString, PromptError> {
        self.shown("pin", request.origin, request.certificate, request.purpose)?;
        self.answers("pin")?
            .pin
            .map(SecretString::from)
            .ok_or(PromptError::Cancelled)
    }

    fn consent(&self, _request: &ConsentRequest<'_>) -> Result<Consent, PromptError> {
        self.answers("consent")?
            .consent
            .ok_or(PromptError::Cancelled)
    }

    fn choose_certificate(&self, request: &ChooseRequest<'_>) -> Result<String, PromptError> {
        match self.answers("choose")?.certificate.as_deref() {
            None => Err(PromptError::Cancelled),
            Some("first") => request
                .certificates
                .first()
                .map(|c| c.thumbprint.clone())
                .ok_or(PromptError::Cancelled),
            Some(thumbprint) => Ok(crate::token::normalize_thumbprint(thumbprint)),
        }
    }

    fn confirm(&self, request: &ConfirmRequest<'_>) -> Result<bool, PromptError> {
        self.shown(
            "confirm",
            request.origin,
            request.certificate,
            request.purpose,
        )?;
        self.answers("confirm")?
            .confirm
            .ok_or(PromptError::Cancelled)
    }
}
