//! Start kyso at login for the current user: an XDG autostart entry on Linux, a LaunchAgent on
//! macOS, the HKCU `Run` key on Windows.
//!
//! macOS and Windows go through the `auto-launch` crate (registry and plist handling, including
//! Windows' StartupApproved key). On Linux kyso writes the desktop entry itself: `auto-launch`
//! ignores `XDG_CONFIG_HOME` and does not quote the `Exec` path, and the entry is a few lines.

use std::path::{Path, PathBuf};

use crate::error::{Coded, ErrorCode};

/// The name of the autostart entry (file name on Linux/macOS, value name on Windows).
pub const ENTRY_NAME: &str = "kyso";

/// Why the start-at-login entry could not be changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AutostartError {
    /// Writing or removing the entry failed.
    #[error("cannot change the start-at-login entry {path}")]
    Io {
        /// The entry's path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The platform API refused.
    #[error("the start-at-login setting failed: {0}")]
    Platform(String),
    /// No home/config folder to put the entry in.
    #[error("no configuration folder for this user")]
    NoHome,
}

impl Coded for AutostartError {
    fn code(&self) -> ErrorCode {
        ErrorCode::Io
    }
}

/// Whether kyso starts at login, and where that is recorded.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AutostartStatus {
    /// The entry exists.
    pub enabled: bool,
    /// Where it lives (a file, or the registry key on Windows).
    pub location: String,
}

/// Makes kyso start at login, running `program` (the installed binary) with no arguments, which
/// starts the tray agent. Idempotent.
pub fn enable(program: &Path) -> Result<AutostartStatus, AutostartError> {
    platform::enable(program)?;
    status()
}

/// Removes the start-at-login entry; succeeds when there is none.
pub fn disable() -> Result<AutostartStatus, AutostartError> {
    platform::disable()?;
    status()
}

/// Whether the start-at-login entry exists.
pub fn status() -> Result<AutostartStatus, AutostartError> {
    platform::status()
}

/// The file that holds the entry (`None` on Windows, where it is a registry value), so
/// `kyso uninstall` knows which folders enabling it may have created.
pub fn entry_file() -> Option<PathBuf> {
    #[cfg(not(any(windows, target_os = "macos")))]
    {
        platform::entry_path().ok()
    }
    #[cfg(target_os = "macos")]
    {
        directories::BaseDirs::new().map(|dirs| {
            dirs.home_dir()
                .join("Library/LaunchAgents")
                .join(format!("{ENTRY_NAME}.plist"))
        })
    }
    #[cfg(windows)]
    {
        None
    }
}

#[cfg(not(any(windows, target_os = "macos")))]
mod platform {
    use super::*;

    /// `$XDG_CONFIG_HOME/autostart/kyso.desktop` (the XDG Autostart specification).
    pub(super) fn entry_path() -> Result<PathBuf, AutostartError> {
        let config = directories::BaseDirs::new()
            .map(|dirs| dirs.config_dir().to_path_buf())
            .ok_or(AutostartError::NoHome)?;
        Ok(config
            .join("autostart")
            .join(format!("{ENTRY_NAME}.desktop")))
    }

    /// The desktop entry. `Exec` quotes the path as the Desktop Entry spec requires, so a
    /// home folder with spaces still works.
    pub(super) fn desktop_entry(program: &Path) -> String {
        let exec = program
            .to_string_lossy()
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('`', "\\`")
            .replace('$', "\\$");
        format!(
            "[Desktop Entry]\n\
             Type=Application\n\
             Name=kyso\n\
             Name[vi]=kyso — ký số\n\
             Comment=Digital signing agent for USB tokens\n\
             Comment[vi]=Ứng dụng ký số cho USB token\n\
             Exec=\"{exec}\"\n\
             Icon=kyso\n\
             Terminal=false\n\
             X-GNOME-Autostart-enabled=true\n\
             NoDisplay=true\n"
        )
    }

    pub(super) fn enable(program: &Path) -> Result<(), AutostartError> {
        let path = entry_path()?;
        let io = |source| AutostartError::Io {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        std::fs::write(&path, desktop_entry(program)).map_err(io)
    }

    pub(super) fn disable() -> Result<(), AutostartError> {
        let path = entry_path()?;
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(AutostartError::Io { path, source: e })
            }
            _ => Ok(()),
        }
    }

    pub(super) fn status() -> Result<AutostartStatus, AutostartError> {
        let path = entry_path()?;
        Ok(AutostartStatus {
            enabled: path.is_file(),
            location: path.display().to_string(),
        })
    }
}

#[cfg(any(windows, target_os = "macos"))]
mod platform {
    use super::*;
    use auto_launch::{AutoLaunch, AutoLaunchBuilder};

    fn launcher(program: &Path) -> Result<AutoLaunch, AutostartError> {
        let mut builder = AutoLaunchBuilder::new();
        builder
            .set_app_name(ENTRY_NAME)
            .set_app_path(&program.to_string_lossy());
        #[cfg(target_os = "macos")]
        builder.set_macos_launch_mode(auto_launch::MacOSLaunchMode::LaunchAgent);
        builder
            .build()
            .map_err(|e| AutostartError::Platform(e.to_string()))
    }

    fn current_program() -> PathBuf {
        std::env::current_exe().unwrap_or_else(|_| PathBuf::from(ENTRY_NAME))
    }

    pub(super) fn enable(program: &Path) -> Result<(), AutostartError> {
        launcher(program)?
            .enable()
            .map_err(|e| AutostartError::Platform(e.to_string()))
    }

    pub(super) fn disable() -> Result<(), AutostartError> {
        let launcher = launcher(&current_program())?;
        if launcher.is_enabled().unwrap_or(false) {
            launcher
                .disable()
                .map_err(|e| AutostartError::Platform(e.to_string()))?;
        }
        Ok(())
    }

    pub(super) fn status() -> Result<AutostartStatus, AutostartError> {
        let enabled = launcher(&current_program())?
            .is_enabled()
            .map_err(|e| AutostartError::Platform(e.to_string()))?;
        #[cfg(windows)]
        let location = format!(r"HKCU\SOFTWARE\Microsoft\Windows\CurrentVersion\Run\{ENTRY_NAME}");
        #[cfg(target_os = "macos")]
        let location = format!("~/Library/LaunchAgents/{ENTRY_NAME}.plist");
        Ok(AutostartStatus { enabled, location })
    }
}

#[cfg(all(test, not(any(windows, target_os = "macos"))))]
mod tests {
    use super::platform::desktop_entry;
    use std::path::Path;

    #[test]
    fn the_desktop_entry_quotes_a_path_with_spaces_and_shell_characters() {
        let entry = desktop_entry(Path::new("/home/an nguyen/$bin/kyso"));
        assert!(
            entry.contains("Exec=\"/home/an nguyen/\\$bin/kyso\"\n"),
            "{entry}"
        );
        assert!(entry.starts_with("[Desktop Entry]\nType=Application\n"));
    }
}
