//! macOS: AppleScript dialogs through `osascript` (part of macOS). The script goes on standard
//! input, the answer comes back on standard output; cancel is AppleScript error -128 (exit 1).
//!
//! Not yet verified on a Mac (compile-checked only).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use secrecy::SecretString;

use super::process::{find_program, first_line, run, Reply};
use super::text::{self, buttons, TITLE};
use super::DialogEnvironment;
use crate::prompt::{
    ChooseRequest, ConfirmRequest, Consent, ConsentRequest, Language, PinRequest, PromptError,
};

/// `osascript`, ready to run.
pub(super) struct Backend {
    program: PathBuf,
    timeout: Duration,
}

impl Backend {
    pub(super) fn find(
        environment: DialogEnvironment,
        timeout: Duration,
    ) -> Result<Self, PromptError> {
        let program = find_program("osascript", environment.path.as_deref())
            .unwrap_or_else(|| PathBuf::from("/usr/bin/osascript"));
        Ok(Self { program, timeout })
    }

    fn run(&self, script: &str) -> Result<Reply, PromptError> {
        let command = Command::new(&self.program);
        run(command, Some(script), self.timeout)
    }

    pub(super) fn pin(
        &self,
        request: &PinRequest<'_>,
        language: Language,
    ) -> Result<SecretString, PromptError> {
        let labels = buttons(language);
        let script = format!(
            "text returned of (display dialog {} default answer \"\" with hidden answer with title {} buttons {{{}, {}}} default button {} cancel button {})",
            quote(&text::pin(request, language)),
            quote(TITLE),
            quote(labels.cancel),
            quote("OK"),
            quote("OK"),
            quote(labels.cancel),
        );
        let reply = self.run(&script)?;
        match reply.code {
            Some(0) => {
                let pin = first_line(&reply.stdout);
                if pin.is_empty() {
                    Err(PromptError::Cancelled)
                } else {
                    Ok(SecretString::from(pin.as_str()))
                }
            }
            other => Err(closed(other)),
        }
    }

    pub(super) fn consent(&self, request: &ConsentRequest<'_>) -> Result<Consent, PromptError> {
        let labels = buttons(request.language);
        let script = format!(
            "button returned of (display dialog {} with title {} buttons {{{}, {}, {}}} default button {} cancel button {})",
            quote(&text::consent(request)),
            quote(TITLE),
            quote(labels.deny),
            quote(labels.allow_always),
            quote(labels.allow_once),
            quote(labels.allow_once),
            quote(labels.deny),
        );
        let reply = self.run(&script)?;
        let pressed = first_line(&reply.stdout);
        match reply.code {
            Some(0) if pressed.as_str() == labels.allow_once => Ok(Consent::AllowOnce),
            Some(0) if pressed.as_str() == labels.allow_always => Ok(Consent::AllowAlways),
            Some(0 | 1) => Ok(Consent::Deny),
            other => Err(closed(other)),
        }
    }

    pub(super) fn choose(&self, request: &ChooseRequest<'_>) -> Result<String, PromptError> {
        let items: Vec<String> = request
            .certificates
            .iter()
            .enumerate()
            .map(|(i, cert)| {
                quote(&format!(
                    "{}. {}",
                    i + 1,
                    text::certificate_line(cert, request.language)
                ))
            })
            .collect();
        let first = items.first().cloned().unwrap_or_default();
        let script = format!(
            "choose from list {{{}}} with title {} with prompt {} default items {{{}}}",
            items.join(", "),
            quote(TITLE),
            quote(&text::choose(request)),
            first
        );
        let reply = self.run(&script)?;
        match reply.code {
            Some(0) => {
                // "false" when cancelled; otherwise the item, which starts with its number.
                let answer = first_line(&reply.stdout);
                answer
                    .split('.')
                    .next()
                    .and_then(|n| n.trim().parse::<usize>().ok())
                    .and_then(|n| n.checked_sub(1))
                    .and_then(|i| request.certificates.get(i))
                    .map(|cert| cert.thumbprint.clone())
                    .ok_or(PromptError::Cancelled)
            }
            other => Err(closed(other)),
        }
    }

    pub(super) fn confirm(&self, request: &ConfirmRequest<'_>) -> Result<bool, PromptError> {
        let labels = buttons(request.language);
        let script = format!(
            "button returned of (display dialog {} with title {} buttons {{{}, {}}} default button {} cancel button {})",
            quote(&text::confirm(request)),
            quote(TITLE),
            quote(labels.cancel),
            quote(labels.sign),
            quote(labels.sign),
            quote(labels.cancel),
        );
        match self.run(&script)?.code {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            other => Err(closed(other)),
        }
    }
}

/// Exit 1 is AppleScript's "user cancelled" (-128); anything else, a failure to show.
fn closed(code: Option<i32>) -> PromptError {
    match code {
        Some(1) => PromptError::Cancelled,
        Some(code) => PromptError::Unavailable(format!("osascript failed (exit {code})")),
        None => PromptError::Unavailable("osascript was killed".into()),
    }
}

/// An AppleScript string literal: backslashes and quotes escaped, line breaks as `\n`.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
