//! The tray icon: what it shows (state, certificates, allowed sites) and what its menu does.
//! The platform backend only draws; this module owns the content and the actions.
//!
//! Linux uses the D-Bus StatusNotifierItem protocol (`ksni`, pure Rust: no GTK); Windows the
//! notification area through `tray-icon` on a thread with its own Win32 message loop; macOS
//! the menu bar through `tray-icon` on the main thread, which runs AppKit while the agent runs
//! on another ([`with_main_thread`]). The menu ([`menu`]) and what its entries do
//! ([`TrayActions::perform`]) are shared; a backend only draws them (`native` is the
//! `tray-icon` drawing and upkeep Windows and macOS share).

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "macos")]
mod macos;
#[cfg(any(windows, target_os = "macos"))]
mod native;
#[cfg(windows)]
mod windows;

#[cfg(target_os = "macos")]
pub use macos::with_main_thread;

/// Runs `agent` (the whole agent, which calls [`spawn`]) with the main thread kept for the icon
/// where the platform draws only there (macOS). Elsewhere the icon needs no particular thread,
/// so this just calls `agent`.
#[cfg(not(target_os = "macos"))]
pub fn with_main_thread<T: Send>(agent: impl FnOnce() -> T + Send) -> T {
    agent()
}

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

/// What a menu entry does when picked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MenuAction {
    /// Show the details of the certificate at this index of [`Snapshot::certificates`].
    ShowCertificate(usize),
    /// Forget "always allow" for this site.
    Revoke(String),
    /// Open the audit log.
    OpenAuditLog,
    /// Flip start at login.
    ToggleAutostart,
    /// Switch the menu and dialog language.
    Language(Language),
    /// About kyso.
    About,
    /// Stop the agent.
    Quit,
}

/// One entry of the tray menu, the same on every platform; each backend only draws it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MenuEntry {
    /// A greyed-out line (status, "none yet").
    Label(String),
    /// A line.
    Separator,
    /// A clickable line.
    Item(String, MenuAction),
    /// A line with a check mark.
    Check(String, bool, MenuAction),
    /// A submenu.
    Submenu(String, Vec<MenuEntry>),
}

/// The menu for `snapshot`: status line, certificates, allowed sites (revoke), audit log, start
/// at login, language, about, quit.
pub fn menu(snapshot: &Snapshot) -> Vec<MenuEntry> {
    let l = snapshot.language;
    let mut certificates: Vec<MenuEntry> = snapshot
        .certificates
        .iter()
        .enumerate()
        .map(|(index, summary)| {
            let name = summary
                .common_name
                .clone()
                .unwrap_or_else(|| summary.subject.clone());
            let id = summary
                .identifiers
                .iter()
                .next()
                .map(|(k, v)| format!(" — {k} {v}"))
                .unwrap_or_default();
            MenuEntry::Item(format!("{name}{id}"), MenuAction::ShowCertificate(index))
        })
        .collect();
    if certificates.is_empty() {
        certificates.push(MenuEntry::Label(
            l.pick("(không có chứng thư số)", "(no certificates)")
                .into(),
        ));
    }
    let mut sites: Vec<MenuEntry> = snapshot
        .allowed_sites
        .iter()
        .map(|origin| {
            MenuEntry::Item(
                format!("{} {origin}", l.pick("Thu hồi", "Revoke")),
                MenuAction::Revoke(origin.clone()),
            )
        })
        .collect();
    if sites.is_empty() {
        sites.push(MenuEntry::Label(
            l.pick("(chưa có trang nào)", "(none yet)").into(),
        ));
    }
    let languages = [(Language::Vi, "Tiếng Việt"), (Language::En, "English")]
        .into_iter()
        .map(|(language, label)| {
            MenuEntry::Check(label.into(), language == l, MenuAction::Language(language))
        })
        .collect();
    vec![
        MenuEntry::Label(status_line(snapshot)),
        MenuEntry::Separator,
        MenuEntry::Submenu(l.pick("Chứng thư số", "Certificates").into(), certificates),
        MenuEntry::Submenu(l.pick("Trang web được phép", "Allowed sites").into(), sites),
        MenuEntry::Item(
            l.pick("Mở nhật ký ký số", "Open audit log").into(),
            MenuAction::OpenAuditLog,
        ),
        MenuEntry::Check(
            l.pick("Chạy khi đăng nhập", "Start at login").into(),
            snapshot.autostart,
            MenuAction::ToggleAutostart,
        ),
        MenuEntry::Submenu(l.pick("Ngôn ngữ", "Language").into(), languages),
        MenuEntry::Item(
            l.pick("Giới thiệu kyso", "About kyso").into(),
            MenuAction::About,
        ),
        MenuEntry::Separator,
        MenuEntry::Item(l.pick("Thoát", "Quit").into(), MenuAction::Quit),
    ]
}

impl TrayActions {
    /// Does what `action` says and updates `snapshot` to show it at once (the next refresh
    /// reads the real state again).
    pub fn perform(&self, action: &MenuAction, snapshot: &mut Snapshot) {
        match action {
            MenuAction::ShowCertificate(index) => {
                if let Some(summary) = snapshot.certificates.get(*index) {
                    self.show_certificate(summary, snapshot.language);
                }
            }
            MenuAction::Revoke(origin) => {
                self.revoke(origin);
                snapshot.allowed_sites.retain(|site| site != origin);
            }
            MenuAction::OpenAuditLog => self.open_audit_log(),
            MenuAction::ToggleAutostart => {
                let on = !snapshot.autostart;
                self.set_autostart(on);
                snapshot.autostart = on;
            }
            MenuAction::Language(language) => {
                self.set_language(*language);
                snapshot.language = *language;
            }
            MenuAction::About => self.about(snapshot.language),
            MenuAction::Quit => self.quit(),
        }
    }
}

/// The running icon; dropping it removes the icon.
#[derive(Debug)]
pub struct Tray {
    #[cfg(target_os = "linux")]
    _inner: linux::LinuxTray,
    #[cfg(windows)]
    _inner: windows::WindowsTray,
    #[cfg(target_os = "macos")]
    _inner: macos::MacTray,
}

/// Shows the tray icon and keeps it current until the agent stops. Fails (and the caller runs
/// without an icon) when the desktop has no tray host, or on macOS when not called inside
/// [`with_main_thread`] run from the main thread.
pub async fn spawn(actions: Arc<TrayActions>, language: Language) -> Result<Tray, String> {
    #[cfg(target_os = "linux")]
    {
        let inner = linux::spawn(actions, language).await?;
        Ok(Tray { _inner: inner })
    }
    #[cfg(windows)]
    {
        let inner = windows::spawn(actions, language).await?;
        Ok(Tray { _inner: inner })
    }
    #[cfg(target_os = "macos")]
    {
        let inner = macos::spawn(actions, language).await?;
        Ok(Tray { _inner: inner })
    }
    #[cfg(not(any(target_os = "linux", windows, target_os = "macos")))]
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
