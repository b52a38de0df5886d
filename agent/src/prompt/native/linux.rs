//! Linux (and other X11/Wayland desktops): `zenity` (GNOME, and most others) or `kdialog`
//! (KDE), whichever is installed, zenity first.
//!
//! Exit codes: both answer 0 for OK/yes and 1 for cancel/no/closed; kdialog's
//! `--yesnocancel` answers 2 for its third button; zenity prints the label of an
//! `--extra-button` and exits 1.

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Zenity,
    Kdialog,
}

/// A dialog program ready to run in a graphical session.
pub(super) struct Backend {
    kind: Kind,
    program: PathBuf,
    environment: DialogEnvironment,
    timeout: Duration,
}

impl Backend {
    /// zenity or kdialog in `environment`; `Unavailable` without a display or either program.
    pub(super) fn find(
        environment: DialogEnvironment,
        timeout: Duration,
    ) -> Result<Self, PromptError> {
        if !environment.has_display() {
            return Err(PromptError::Unavailable(
                "no graphical session (DISPLAY and WAYLAND_DISPLAY are unset); use --prompter terminal".into(),
            ));
        }
        let path = environment.path.as_deref();
        let (kind, program) = [(Kind::Zenity, "zenity"), (Kind::Kdialog, "kdialog")]
            .into_iter()
            .find_map(|(kind, name)| find_program(name, path).map(|p| (kind, p)))
            .ok_or_else(|| {
                PromptError::Unavailable(
                    "neither zenity nor kdialog is installed; install zenity".into(),
                )
            })?;
        Ok(Self {
            kind,
            program,
            environment,
            timeout,
        })
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        // Only the session variables: nothing else of the agent's environment matters here.
        for (name, value) in [
            ("DISPLAY", &self.environment.display),
            ("WAYLAND_DISPLAY", &self.environment.wayland_display),
            ("PATH", &self.environment.path),
        ] {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        command.arg("--title").arg(TITLE);
        command
    }

    fn run(&self, command: Command) -> Result<Reply, PromptError> {
        run(command, None, self.timeout)
    }

    /// The text for the dialog: zenity reads Pango markup, kdialog plain text.
    fn text(&self, plain: &str) -> String {
        match self.kind {
            Kind::Zenity => markup_escape(plain),
            Kind::Kdialog => plain.to_owned(),
        }
    }

    /// The text above a PIN entry: zenity shows it as plain text with mnemonics (not markup),
    /// after undoing C escapes, so `_` and `\` are doubled to show as written; kdialog takes
    /// plain text.
    fn entry_text(&self, plain: &str) -> String {
        match self.kind {
            Kind::Zenity => plain.replace('\\', "\\\\").replace('_', "__"),
            Kind::Kdialog => plain.to_owned(),
        }
    }

    pub(super) fn pin(
        &self,
        request: &PinRequest<'_>,
        language: Language,
    ) -> Result<SecretString, PromptError> {
        let body = self.entry_text(&text::pin(request, language));
        let mut command = self.command();
        match self.kind {
            Kind::Zenity => command.args(["--entry", "--hide-text", "--text", &body]),
            Kind::Kdialog => command.args(["--password", &body]),
        };
        let reply = self.run(command)?;
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
        let body = self.text(&text::consent(request));
        let mut command = self.command();
        match self.kind {
            Kind::Zenity => command.args([
                "--question",
                "--text",
                &body,
                "--ok-label",
                labels.allow_once,
                "--extra-button",
                labels.allow_always,
                "--cancel-label",
                labels.deny,
            ]),
            Kind::Kdialog => command.args([
                "--yesnocancel",
                &body,
                "--yes-label",
                labels.allow_once,
                "--no-label",
                labels.allow_always,
                "--cancel-label",
                labels.deny,
            ]),
        };
        let reply = self.run(command)?;
        let pressed = first_line(&reply.stdout);
        match (self.kind, reply.code) {
            (_, Some(0)) => Ok(Consent::AllowOnce),
            (Kind::Zenity, Some(1)) if pressed.as_str() == labels.allow_always => {
                Ok(Consent::AllowAlways)
            }
            (Kind::Kdialog, Some(1)) => Ok(Consent::AllowAlways),
            // The deny button, or the window closed: never read as a yes.
            (_, Some(1 | 2)) => Ok(Consent::Deny),
            (_, other) => Err(closed(other)),
        }
    }

    pub(super) fn choose(&self, request: &ChooseRequest<'_>) -> Result<String, PromptError> {
        let language = request.language;
        let body = self.text(&text::choose(request));
        let lines: Vec<String> = request
            .certificates
            .iter()
            .map(|cert| text::certificate_line(cert, language))
            .collect();
        let mut command = self.command();
        match self.kind {
            Kind::Zenity => {
                command.args([
                    "--list",
                    "--radiolist",
                    "--width",
                    "720",
                    "--height",
                    "360",
                    "--text",
                    &body,
                    "--column",
                    "",
                    "--column",
                    "#",
                    "--column",
                    language.pick("Chứng thư số", "Certificate"),
                    "--hide-column",
                    "2",
                    "--print-column",
                    "2",
                ]);
                for (index, line) in lines.iter().enumerate() {
                    let selected = if index == 0 { "TRUE" } else { "FALSE" };
                    command.arg(selected).arg(index.to_string()).arg(line);
                }
            }
            Kind::Kdialog => {
                command.args(["--radiolist", &body]);
                for (index, line) in lines.iter().enumerate() {
                    let selected = if index == 0 { "on" } else { "off" };
                    command.arg(index.to_string()).arg(line).arg(selected);
                }
            }
        }
        let reply = self.run(command)?;
        match reply.code {
            Some(0) => {
                let answer = first_line(&reply.stdout);
                answer
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .and_then(|index| request.certificates.get(index))
                    .map(|cert| cert.thumbprint.clone())
                    // OK with nothing selected.
                    .ok_or(PromptError::Cancelled)
            }
            other => Err(closed(other)),
        }
    }

    pub(super) fn confirm(&self, request: &ConfirmRequest<'_>) -> Result<bool, PromptError> {
        let labels = buttons(request.language);
        let body = self.text(&text::confirm(request));
        let mut command = self.command();
        match self.kind {
            Kind::Zenity => command.args([
                "--question",
                "--text",
                &body,
                "--ok-label",
                labels.sign,
                "--cancel-label",
                labels.cancel,
            ]),
            Kind::Kdialog => command.args([
                "--yesno",
                &body,
                "--yes-label",
                labels.sign,
                "--no-label",
                labels.cancel,
            ]),
        };
        match self.run(command)?.code {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            other => Err(closed(other)),
        }
    }
}

/// Exit 1 is the cancel button or the window closed; anything else means the dialog itself
/// failed (no display it could open, a crash).
fn closed(code: Option<i32>) -> PromptError {
    match code {
        Some(1) => PromptError::Cancelled,
        Some(code) => PromptError::Unavailable(format!("the dialog program failed (exit {code})")),
        None => PromptError::Unavailable("the dialog program was killed".into()),
    }
}

/// Escapes text for Pango markup (zenity renders `--text` as markup): a web origin or a
/// certificate name must show as written, not as formatting.
fn markup_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            // zenity undoes C escapes (g_strcompress) before parsing the markup.
            '\\' => out.push_str("\\\\"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    use secrecy::ExposeSecret;

    use super::*;
    use crate::prompt::native::NativePrompter;
    use crate::prompt::Prompter;
    use crate::token::PinState;

    fn summary() -> kyso_certs::CertificateSummary {
        let pki = kyso_certs::testpki::shared();
        kyso_certs::summarize(&pki.users[0].cert_der, time::OffsetDateTime::now_utc())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A folder with a fake `zenity` running `script` (sh), and a prompter using it.
    fn fake_zenity(script: &str, timeout: Duration) -> (tempfile::TempDir, NativePrompter) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let program = dir.path().join("zenity");
        std::fs::write(&program, format!("#!/bin/sh\n{script}\n"))
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
        let prompter = NativePrompter::with_environment(
            timeout,
            DialogEnvironment {
                display: Some(OsString::from(":99")),
                wayland_display: None,
                // The fake first; the system folders for the tools the script uses.
                path: Some(
                    std::env::join_paths([dir.path(), Path::new("/usr/bin"), Path::new("/bin")])
                        .unwrap_or_else(|e| panic!("{e}")),
                ),
            },
        );
        (dir, prompter)
    }

    fn ask_pin(prompter: &NativePrompter) -> Result<SecretString, PromptError> {
        let summary = summary();
        prompter.pin(&PinRequest {
            certificate: &summary,
            token_label: "token <&>_\\",
            pin: PinState {
                final_try: true,
                ..PinState::default()
            },
            origin: Some("https://portal.example.vn"),
            purpose: "hop-dong.pdf",
        })
    }

    #[test]
    fn without_a_display_dialogs_are_unavailable_at_once() {
        let prompter = NativePrompter::with_environment(
            Duration::from_secs(60),
            DialogEnvironment {
                display: None,
                wayland_display: None,
                path: std::env::var_os("PATH"),
            },
        );
        let error = ask_pin(&prompter).err();
        assert!(
            matches!(error, Some(PromptError::Unavailable(_))),
            "{error:?}"
        );
    }

    #[test]
    fn without_zenity_or_kdialog_dialogs_are_unavailable() {
        let empty = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let prompter = NativePrompter::with_environment(
            Duration::from_secs(60),
            DialogEnvironment {
                display: Some(OsString::from(":0")),
                wayland_display: None,
                path: Some(empty.path().as_os_str().to_owned()),
            },
        );
        let error = ask_pin(&prompter).err();
        assert!(
            matches!(error, Some(PromptError::Unavailable(ref m)) if m.contains("zenity")),
            "{error:?}"
        );
    }

    #[test]
    fn a_dialog_left_open_times_out_and_is_killed() {
        let (dir, prompter) = fake_zenity(
            "echo $$ > \"$(dirname \"$0\")/pid\"\nexec sleep 30",
            Duration::from_millis(500),
        );
        let started = std::time::Instant::now();
        let error = ask_pin(&prompter).err();
        assert!(matches!(error, Some(PromptError::Timeout)), "{error:?}");
        assert!(started.elapsed() < Duration::from_secs(10));
        let pid = std::fs::read_to_string(dir.path().join("pid")).unwrap_or_else(|e| panic!("{e}"));
        // The process is gone (killed and reaped), not left behind on the desktop.
        assert!(
            !Path::new(&format!("/proc/{}", pid.trim())).exists(),
            "pid {pid}"
        );
    }

    #[test]
    fn the_pin_comes_from_standard_output_and_never_from_arguments() {
        let (dir, prompter) = fake_zenity(
            "printf '%s\\n' \"$@\" > \"$(dirname \"$0\")/args\"\necho 'pin 1234'",
            Duration::from_secs(30),
        );
        let pin = ask_pin(&prompter).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pin.expose_secret(), "pin 1234");
        let args =
            std::fs::read_to_string(dir.path().join("args")).unwrap_or_else(|e| panic!("{e}"));
        assert!(args.contains("--hide-text"), "{args}");
        assert!(!args.contains("1234"), "{args}");
        // What the user must see: who asks, what, which certificate, the last-try warning;
        // zenity's entry label is plain text (not markup): characters stay as written.
        assert!(args.contains("https://portal.example.vn"), "{args}");
        assert!(args.contains("hop-dong.pdf"), "{args}");
        assert!(args.contains("token <&>__\\\\"), "{args}");
        let warning = crate::prompt::Language::detect().pick(
            "Cảnh báo: nhập sai thêm một lần nữa",
            "Warning: one more wrong PIN",
        );
        assert!(args.contains(warning), "{args}");
    }

    #[test]
    fn cancel_or_an_empty_pin_is_cancelled() {
        let (_dir, prompter) = fake_zenity("exit 1", Duration::from_secs(30));
        assert!(matches!(ask_pin(&prompter), Err(PromptError::Cancelled)));
        let (_dir, prompter) = fake_zenity("echo", Duration::from_secs(30));
        assert!(matches!(ask_pin(&prompter), Err(PromptError::Cancelled)));
        let (_dir, prompter) = fake_zenity("exit 255", Duration::from_secs(30));
        assert!(matches!(
            ask_pin(&prompter),
            Err(PromptError::Unavailable(_))
        ));
    }

    #[test]
    fn consent_buttons_map_to_once_always_and_deny() {
        let request = ConsentRequest {
            origin: "https://portal.example.vn",
            language: Language::En,
        };
        for (script, expected) in [
            ("exit 0", Consent::AllowOnce),
            ("echo 'Always allow'; exit 1", Consent::AllowAlways),
            ("exit 1", Consent::Deny),
        ] {
            let (_dir, prompter) = fake_zenity(script, Duration::from_secs(30));
            let answer = prompter.consent(&request).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(answer, expected, "{script}");
        }
    }

    #[test]
    fn the_chooser_answers_the_chosen_certificate_thumbprint() {
        let pki = kyso_certs::testpki::shared();
        let now = time::OffsetDateTime::now_utc();
        let certificates: Vec<_> = pki.users[..3]
            .iter()
            .map(|user| {
                kyso_certs::summarize(&user.cert_der, now).unwrap_or_else(|e| panic!("{e}"))
            })
            .collect();
        let (_dir, prompter) = fake_zenity("echo 2", Duration::from_secs(30));
        let chosen = prompter
            .choose_certificate(&ChooseRequest {
                origin: None,
                certificates: &certificates,
                language: Language::Vi,
            })
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(chosen, certificates[2].thumbprint);
    }

    #[test]
    fn confirm_is_true_only_for_the_sign_button() {
        let summary = summary();
        let request = ConfirmRequest {
            origin: Some("https://portal.example.vn"),
            certificate: &summary,
            purpose: "3 files",
            language: Language::Vi,
        };
        let (_dir, prompter) = fake_zenity("exit 0", Duration::from_secs(30));
        assert!(prompter.confirm(&request).unwrap_or_else(|e| panic!("{e}")));
        let (_dir, prompter) = fake_zenity("exit 1", Duration::from_secs(30));
        assert!(!prompter.confirm(&request).unwrap_or_else(|e| panic!("{e}")));
    }

    #[test]
    fn markup_characters_are_escaped() {
        assert_eq!(markup_escape("a<b>&'\""), "a&lt;b&gt;&amp;&apos;&quot;");
        assert_eq!(markup_escape(r"C:\x"), r"C:\\x");
    }
}
