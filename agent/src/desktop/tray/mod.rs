//! The tray icon: what it shows (state, certificates, allowed sites) and what its menu does.
//! The platform backend only draws; this module owns the content and the actions.
//!
//! Linux uses the D-Bus StatusNotifierItem protocol (`ksni`, pure Rust: no GTK). Windows and
//! macOS trays are not written yet; there the agent runs without an icon and says so in the log.

#[cfg(target_os = "linux")]
mod linux;

use std::{path::PathBuf, sync::Arc};

use kyso_certs::CertificateSummary;
use tokio::sync::Notify;

use crate::{broker::Broker, prompt::Language};

/// What the icon shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayState {
    /// A token is connected and kyso is idle.
    Ready,
    /// No token is connected.
    NoToken,
    /// A dialog is open or a signature is being made.
    Busy,
    /// No token driver loaded.
    Error,
}

/// Everything the menu shows, refreshed every few seconds.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Icon state.
    pub state: TrayState,
    /// Connected tokens.
    pub tokens: usize,
    /// End-entity certificates on them.
    pub certificates: Vec<CertificateSummary>,
    /// Sites the user allowed "always".
    pub allowed_sites: Vec<String>,
    /// Whether kyso starts at login.
    pub autostart: bool,
    /// Menu language.
    pub language: Language,
    /// The agent's port.
    pub port: u16,
}

/// What the menu can do; shared by every backend.
#[derive(Debug)]
pub struct TrayActions {
    /// The agent's broker (tokens, sites).
    pub broker: Arc<Broker>,
    /// Where the audit log lives.
    pub data_dir: PathBuf,
    /// The config file (language is saved there).
    pub config_path: PathBuf,
    /// Notified when the user picks Quit.
    pub quit: Arc<Notify>,
    /// The agent's port.
    pub port: u16,
}

impl TrayActions {
    /// Reads the current state for the menu.
    pub fn snapshot(&self, language: Language) -> Snapshot {
        let caller = crate::broker::Caller::Local;
        let tokens = self.broker.tokens(&caller).map(|t| t.len()).unwrap_or(0);
        let certificates: Vec<_> = self
            .broker
            .certificates(&caller)
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.summary)
            .filter(|c| !c.is_ca)
            .collect();
        let modules_ok = self.broker.modules().iter().any(|m| m.error.is_none());
        let state = if !modules_ok {
            TrayState::Error
        } else if self.broker.busy() {
            TrayState::Busy
        } else if tokens == 0 {
            TrayState::NoToken
        } else {
            TrayState::Ready
        };
        Snapshot {
            state,
            tokens,
            certificates,
            allowed_sites: self.broker.origins().remembered().0,
            autostart: super::autostart::status().is_ok_and(|s| s.enabled),
            language,
            port: self.port,
        }
    }

    /// Shows a certificate's details.
    pub fn show_certificate(&self, summary: &CertificateSummary, language: Language) {
        let ids = summary
            .identifiers
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let line = |vi: &str, en: &str, value: &str| format!("{}: {value}", language.pick(vi, en));
        let body = [
            line(
                "Chủ thể",
                "Name",
                summary.common_name.as_deref().unwrap_or(&summary.subject),
            ),
            line(
                "Tổ chức",
                "Organisation",
                summary.organization.as_deref().unwrap_or("—"),
            ),
            line(
                "Mã số",
                "Identifiers",
                if ids.is_empty() { "—" } else { &ids },
            ),
            line(
                "Nhà cung cấp",
                "Issuer",
                summary
                    .issuer_common_name
                    .as_deref()
                    .unwrap_or(&summary.issuer),
            ),
            line(
                "Hiệu lực đến",
                "Valid until",
                &format!(
                    "{:02}/{:02}/{}",
                    summary.not_after.day(),
                    u8::from(summary.not_after.month()),
                    summary.not_after.year()
                ),
            ),
            line(
                "Dấu vân tay SHA-256",
                "SHA-256 thumbprint",
                &summary.thumbprint,
            ),
        ]
        .join("\n");
        super::show::show_text(language.pick("Chứng thư số", "Certificate"), &body);
    }

    /// Forgets the user's "always allow" for `origin`.
    pub fn revoke(&self, origin: &str) {
        self.broker.origins().forget(origin);
        tracing::info!(%origin, "site permission revoked from the tray");
    }

    /// Opens the audit log.
    pub fn open_audit_log(&self) {
        super::show::open_path(&self.data_dir.join("audit.log"));
    }

    /// Turns start-at-login on or off.
    pub fn set_autostart(&self, on: bool) {
        let result = if on {
            std::env::current_exe()
                .map_err(|source| super::autostart::AutostartError::Io {
                    path: PathBuf::from("current_exe"),
                    source,
                })
                .and_then(|program| super::autostart::enable(&program))
        } else {
            super::autostart::disable()
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "start at login could not be changed");
        }
    }

    /// Saves the menu and dialog language in the config file.
    pub fn set_language(&self, language: Language) {
        if let Err(e) = crate::config::save_language(&self.config_path, language) {
            tracing::warn!(error = %e, "language not saved");
        }
    }

    /// About kyso.
    pub fn about(&self, language: Language) {
        let body = format!(
            "kyso {}\n{}\nhttps://localhost:{}\n{}",
            env!("CARGO_PKG_VERSION"),
            language.pick(
                "Ứng dụng ký số mã nguồn mở cho USB token.",
                "Open-source signing agent for USB tokens."
            ),
            self.port,
            language.pick(
                "Giấy phép: MIT hoặc Apache-2.0",
                "Licence: MIT or Apache-2.0"
            ),
        );
        super::show::show_text(language.pick("Giới thiệu kyso", "About kyso"), &body);
    }

    /// Stops the agent.
    pub fn quit(&self) {
        self.quit.notify_one();
    }
}

/// The running icon; dropping it removes the icon.
#[derive(Debug)]
pub struct Tray {
    #[cfg(target_os = "linux")]
    _inner: linux::LinuxTray,
}

/// Shows the tray icon and keeps it current until the agent stops. Fails (and the caller runs
/// without an icon) when the desktop has no tray host.
pub async fn spawn(actions: Arc<TrayActions>, language: Language) -> Result<Tray, String> {
    #[cfg(target_os = "linux")]
    {
        let inner = linux::spawn(actions, language).await?;
        Ok(Tray { _inner: inner })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (actions, language);
        Err("the tray icon is not implemented on this system yet".into())
    }
}

/// The label of the first menu line.
pub fn status_line(snapshot: &Snapshot) -> String {
    let l = snapshot.language;
    match snapshot.state {
        TrayState::Ready => format!(
            "kyso — {} ({} token)",
            l.pick("sẵn sàng", "ready"),
            snapshot.tokens
        ),
        TrayState::NoToken => format!("kyso — {}", l.pick("chưa cắm token", "no token")),
        TrayState::Busy => format!("kyso — {}", l.pick("đang ký…", "signing…")),
        TrayState::Error => format!(
            "kyso — {}",
            l.pick("thiếu trình điều khiển token", "no token driver")
        ),
    }
}

/// A 32×32 ARGB32 icon: a filled disc in the state's colour with a white check/tick area, drawn
/// in code so no image decoder is needed.
pub fn icon_pixels(state: TrayState) -> (i32, i32, Vec<u8>) {
    const SIZE: i32 = 32;
    let (r, g, b) = match state {
        TrayState::Ready => (0x1e, 0x8e, 0x3e),
        TrayState::NoToken => (0x80, 0x86, 0x8b),
        TrayState::Busy => (0x1a, 0x73, 0xe8),
        TrayState::Error => (0xd9, 0x30, 0x25),
    };
    let mut data = Vec::with_capacity((SIZE * SIZE * 4) as usize);
    let center = (SIZE as f32 - 1.0) / 2.0;
    for y in 0..SIZE {
        for x in 0..SIZE {
            let dx = x as f32 - center;
            let dy = y as f32 - center;
            let inside = dx * dx + dy * dy <= (SIZE as f32 / 2.0 - 1.0).powi(2);
            // A white key-like bar across the middle, so the icon reads at small sizes.
            let bar = inside && (13..=18).contains(&y) && (7..=24).contains(&x);
            let pixel = match (inside, bar) {
                (_, true) => [0xff, 0xff, 0xff, 0xff],
                (true, false) => [0xff, r, g, b],
                (false, _) => [0, 0, 0, 0],
            };
            data.extend_from_slice(&pixel);
        }
    }
    (SIZE, SIZE, data)
}
