//! Windows: no native dialog yet. A PowerShell/WinForms window is the likely route (no extra
//! runtime), but it is not written or tested, so the agent says so instead of pretending:
//! every dialog answers `Unavailable` with a note, and `kyso serve --prompter terminal` works.

use std::time::Duration;

use secrecy::SecretString;

use super::DialogEnvironment;
use crate::prompt::{
    ChooseRequest, ConfirmRequest, Consent, ConsentRequest, Language, PinRequest, PromptError,
};

const NOTE: &str =
    "native dialogs are not available on Windows yet; run `kyso serve --prompter terminal`";

/// The (absent) Windows dialogs.
pub(super) struct Backend;

impl Backend {
    pub(super) fn find(
        _environment: DialogEnvironment,
        _timeout: Duration,
    ) -> Result<Self, PromptError> {
        Err(PromptError::Unavailable(NOTE.into()))
    }

    pub(super) fn pin(
        &self,
        _request: &PinRequest<'_>,
        _language: Language,
    ) -> Result<SecretString, PromptError> {
        Err(PromptError::Unavailable(NOTE.into()))
    }

    pub(super) fn consent(&self, _request: &ConsentRequest<'_>) -> Result<Consent, PromptError> {
        Err(PromptError::Unavailable(NOTE.into()))
    }

    pub(super) fn choose(&self, _request: &ChooseRequest<'_>) -> Result<String, PromptError> {
        Err(PromptError::Unavailable(NOTE.into()))
    }

    pub(super) fn confirm(&self, _request: &ConfirmRequest<'_>) -> Result<bool, PromptError> {
        Err(PromptError::Unavailable(NOTE.into()))
    }
}
