//! TEMPORARY (replaced by the tls branch).
use std::time::Duration;

use secrecy::SecretString;

use super::{PinRequest, PromptError, Prompter};

/// Temporary.
#[derive(Debug)]
pub struct NativePrompter;

impl NativePrompter {
    /// Temporary.
    pub fn new(_timeout: Duration) -> Self {
        Self
    }
}

impl Prompter for NativePrompter {
    fn pin(&self, _request: &PinRequest<'_>) -> Result<SecretString, PromptError> {
        Err(PromptError::Unavailable(
            "native dialogs not built yet".into(),
        ))
    }
}
