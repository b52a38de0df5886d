//! Native dialogs: the PIN, site consent, certificate chooser and confirmation as windows on
//! the user's desktop, for the agent (which has no terminal).
//!
//! Dialogs are separate processes: `zenity` (preferred) or `kdialog` on Linux, `osascript` on
//! macOS. That keeps GUI toolkits (and their event loops, threads and crashes) out of the
//! agent, and every Linux desktop ships one of the two. Rust GUI crates that could draw a PIN
//! box (rfd, native-dialog) offer no hidden-text entry or custom buttons. Windows has no
//! dialog yet: it answers `Unavailable` with a note (see [`windows`]).
//!
//! The PIN only ever travels on the dialog's standard output into a zeroized buffer: never on a
//! command line, in the environment or in a log. Every dialog is killed when the timeout passes
//! (`PromptError::Timeout`); no display or no dialog program gives `PromptError::Unavailable`
//! at once, never a hang.

use std::ffi::OsString;
use std::time::Duration;

use secrecy::SecretString;

use super::{
    ChooseRequest, ConfirmRequest, Consent, ConsentRequest, PinRequest, PromptError, Prompter,
};

#[cfg(all(unix, not(target_os = "macos")))]
mod linux;
#[cfg(target_os = "macos")]
mod macos;
#[cfg(unix)]
mod process;
mod text;
#[cfg(windows)]
mod windows;

/// The default time a dialog waits for the user.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// Where dialogs are shown: the graphical session and the program search path. Taken from the
/// agent's own environment by default; tests and embedders can name them explicitly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DialogEnvironment {
    /// `DISPLAY` (X11), if any.
    pub display: Option<OsString>,
    /// `WAYLAND_DISPLAY`, if any.
    pub wayland_display: Option<OsString>,
    /// `PATH`, where the dialog programs are looked for.
    pub path: Option<OsString>,
}

impl DialogEnvironment {
    /// The agent's current environment (read at each dialog: a session may come and go).
    pub fn current() -> Self {
        let non_empty = |name| std::env::var_os(name).filter(|v| !v.is_empty());
        Self {
            display: non_empty("DISPLAY"),
            wayland_display: non_empty("WAYLAND_DISPLAY"),
            path: non_empty("PATH"),
        }
    }

    /// Whether a graphical session is reachable at all (on Linux; macOS and Windows always
    /// have one for a logged-in user's agent).
    pub fn has_display(&self) -> bool {
        self.display.is_some() || self.wayland_display.is_some()
    }
}

/// Asks through the desktop's own dialogs.
#[derive(Debug, Clone)]
pub struct NativePrompter {
    timeout: Duration,
    environment: Option<DialogEnvironment>,
}

impl NativePrompter {
    /// Dialogs that give up (and close) after `timeout`; the config's `prompt_timeout_secs`,
    /// [`DEFAULT_TIMEOUT`] unless set.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            environment: None,
        }
    }

    /// Dialogs shown in `environment` instead of the agent's own.
    pub fn with_environment(timeout: Duration, environment: DialogEnvironment) -> Self {
        Self {
            timeout,
            environment: Some(environment),
        }
    }

    /// The dialog backend for this call.
    fn backend(&self) -> Result<Backend, PromptError> {
        let environment = self
            .environment
            .clone()
            .unwrap_or_else(DialogEnvironment::current);
        Backend::find(environment, self.timeout)
    }
}

impl Default for NativePrompter {
    fn default() -> Self {
        Self::new(DEFAULT_TIMEOUT)
    }
}

#[cfg(all(unix, not(target_os = "macos")))]
use linux::Backend;
#[cfg(target_os = "macos")]
use macos::Backend;
#[cfg(windows)]
use windows::Backend;

impl Prompter for NativePrompter {
    fn pin(&self, request: &PinRequest<'_>) -> Result<SecretString, PromptError> {
        self.backend()?.pin(request, super::Language::detect())
    }

    fn consent(&self, request: &ConsentRequest<'_>) -> Result<Consent, PromptError> {
        self.backend()?.consent(request)
    }

    fn choose_certificate(&self, request: &ChooseRequest<'_>) -> Result<String, PromptError> {
        if request.certificates.is_empty() {
            return Err(PromptError::Unavailable(
                "no certificate to choose from".into(),
            ));
        }
        self.backend()?.choose(request)
    }

    fn confirm(&self, request: &ConfirmRequest<'_>) -> Result<bool, PromptError> {
        self.backend()?.confirm(request)
    }
}
