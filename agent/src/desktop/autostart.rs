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

    /// The folders the XDG Autostart specification reads entries from: the user's
    /// (`$XDG_CONFIG_HOME/autostart`) and, behind it, the system's (`$XDG_CONFIG_DIRS`, by
    /// default `/etc/xdg`, plus `/autostart`), where the .deb puts its entry. A user entry with
    /// the same file name hides a system one.
    #[derive(Debug, Clone)]
    pub(super) struct XdgAutostart {
        /// `$XDG_CONFIG_HOME/autostart`.
        pub(super) user: PathBuf,
        /// Each `$XDG_CONFIG_DIRS` entry's `autostart` folder, most important first.
        pub(super) system: Vec<PathBuf>,
    }

    impl XdgAutostart {
        fn from_env() -> Result<Self, AutostartError> {
            let config = directories::BaseDirs::new()
                .map(|dirs| dirs.config_dir().to_path_buf())
                .ok_or(AutostartError::NoHome)?;
            // The specification: a colon-separated list of absolute paths, `/etc/xdg` when
            // unset or empty; relative entries are ignored.
            let dirs = std::env::var_os("XDG_CONFIG_DIRS")
                .filter(|value| !value.is_empty())
                .unwrap_or_else(|| "/etc/xdg".into());
            let system = std::env::split_paths(&dirs)
                .filter(|dir| dir.is_absolute())
                .map(|dir| dir.join("autostart"))
                .collect();
            Ok(Self {
                user: config.join("autostart"),
                system,
            })
        }

        fn file_name() -> String {
            format!("{ENTRY_NAME}.desktop")
        }

        /// `$XDG_CONFIG_HOME/autostart/kyso.desktop`.
        pub(super) fn user_entry(&self) -> PathBuf {
            self.user.join(Self::file_name())
        }

        /// The system entry the package installed, if any.
        pub(super) fn system_entry(&self) -> Option<PathBuf> {
            self.system
                .iter()
                .map(|dir| dir.join(Self::file_name()))
                .find(|path| path.is_file())
        }

        /// Starts `program` at login: with a system entry, by removing the user's override of
        /// it; otherwise by writing the user entry.
        pub(super) fn enable(&self, program: &Path) -> Result<(), AutostartError> {
            let user = self.user_entry();
            if self.system_entry().is_some() {
                if read_entry(&user).is_some_and(|entry| !starts(&entry)) {
                    remove(&user)?;
                }
                return Ok(());
            }
            write(&user, &desktop_entry(program))
        }

        /// Stops kyso from starting at login: removes the user entry, and when a system entry
        /// exists, hides it with a user entry of the same name that says `Hidden=true`.
        pub(super) fn disable(&self) -> Result<(), AutostartError> {
            let user = self.user_entry();
            if self.system_entry().is_some() {
                return write(&user, HIDDEN_ENTRY);
            }
            remove(&user)
        }

        /// The entry in effect (the user's if there is one, else the system's) and whether it
        /// starts kyso.
        pub(super) fn status(&self) -> AutostartStatus {
            let user = self.user_entry();
            let (path, entry) = match read_entry(&user) {
                Some(entry) => (user, Some(entry)),
                None => match self.system_entry() {
                    Some(system) => {
                        let entry = read_entry(&system);
                        (system, entry)
                    }
                    None => (user, None),
                },
            };
            AutostartStatus {
                enabled: entry.as_deref().is_some_and(starts),
                location: path.display().to_string(),
            }
        }
    }

    /// The user entry that switches a system entry off (XDG Autostart: "Hidden=true").
    const HIDDEN_ENTRY: &str = "[Desktop Entry]\n\
         Type=Application\n\
         Name=kyso\n\
         Comment=Written by kyso: start at login is off for this user\n\
         Hidden=true\n";

    fn read_entry(path: &Path) -> Option<String> {
        std::fs::read_to_string(path).ok()
    }

    /// Whether a desktop entry starts its program: not `Hidden=true`, and not switched off
    /// with GNOME's `X-GNOME-Autostart-enabled=false`.
    fn starts(entry: &str) -> bool {
        let mut in_main_group = false;
        for line in entry.lines().map(str::trim) {
            if line.starts_with('[') {
                in_main_group = line == "[Desktop Entry]";
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            if !in_main_group {
                continue;
            }
            match (key.trim(), value.trim()) {
                ("Hidden", "true") | ("X-GNOME-Autostart-enabled", "false") => return false,
                _ => {}
            }
        }
        true
    }

    fn write(path: &Path, contents: &str) -> Result<(), AutostartError> {
        let io = |source| AutostartError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        std::fs::write(path, contents).map_err(io)
    }

    fn remove(path: &Path) -> Result<(), AutostartError> {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(AutostartError::Io {
                path: path.to_path_buf(),
                source: e,
            }),
            _ => Ok(()),
        }
    }

    /// `$XDG_CONFIG_HOME/autostart/kyso.desktop` (the XDG Autostart specification).
    pub(super) fn entry_path() -> Result<PathBuf, AutostartError> {
        Ok(XdgAutostart::from_env()?.user_entry())
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
        XdgAutostart::from_env()?.enable(program)
    }

    pub(super) fn disable() -> Result<(), AutostartError> {
        XdgAutostart::from_env()?.disable()
    }

    pub(super) fn status() -> Result<AutostartStatus, AutostartError> {
        Ok(XdgAutostart::from_env()?.status())
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
    use super::platform::{desktop_entry, XdgAutostart};
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

    /// A user config folder and a system one (`/etc/xdg` stand-in) in a temporary folder,
    /// with the .deb's entry in the system one when `packaged`.
    fn folders(packaged: bool) -> (tempfile::TempDir, XdgAutostart) {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let xdg = XdgAutostart {
            user: root.path().join("home/.config/autostart"),
            system: vec![
                root.path().join("etc/xdg-first/autostart"),
                root.path().join("etc/xdg/autostart"),
            ],
        };
        if packaged {
            let system = root.path().join("etc/xdg/autostart");
            std::fs::create_dir_all(&system).unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(
                system.join("kyso.desktop"),
                desktop_entry(Path::new("/usr/bin/kyso")),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        }
        (root, xdg)
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn turning_it_off_under_a_system_entry_writes_a_hidden_user_entry() {
        let (root, xdg) = folders(true);
        let system = root.path().join("etc/xdg/autostart/kyso.desktop");
        assert_eq!(xdg.system_entry(), Some(system.clone()));
        let status = xdg.status();
        assert!(status.enabled, "the package's entry starts kyso");
        assert_eq!(status.location, system.display().to_string());

        xdg.disable().unwrap_or_else(|e| panic!("{e}"));
        let user = read(&xdg.user_entry());
        assert!(user.starts_with("[Desktop Entry]\n"), "{user}");
        assert!(user.lines().any(|line| line == "Hidden=true"), "{user}");
        let status = xdg.status();
        assert!(!status.enabled);
        assert_eq!(status.location, xdg.user_entry().display().to_string());
        // The system entry belongs to the package and is left alone.
        assert_eq!(read(&system), desktop_entry(Path::new("/usr/bin/kyso")));

        // Twice is the same.
        xdg.disable().unwrap_or_else(|e| panic!("{e}"));
        assert!(!xdg.status().enabled);
    }

    #[test]
    fn turning_it_on_under_a_system_entry_removes_the_users_override() {
        let (_root, xdg) = folders(true);
        xdg.disable().unwrap_or_else(|e| panic!("{e}"));
        assert!(xdg.user_entry().is_file());

        xdg.enable(Path::new("/home/an/.cargo/bin/kyso"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!xdg.user_entry().exists(), "the override is gone");
        assert!(xdg.status().enabled);
        // GNOME's own switch counts as an override too.
        std::fs::write(
            xdg.user_entry(),
            "[Desktop Entry]\nType=Application\nX-GNOME-Autostart-enabled=false\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(!xdg.status().enabled);
        xdg.enable(Path::new("/usr/bin/kyso"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!xdg.user_entry().exists());
        assert!(xdg.status().enabled);
    }

    #[test]
    fn without_a_system_entry_the_user_entry_is_written_and_removed() {
        let (_root, xdg) = folders(false);
        assert_eq!(xdg.system_entry(), None);
        assert!(!xdg.status().enabled);

        let program = Path::new("/home/an/.local/bin/kyso");
        xdg.enable(program).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read(&xdg.user_entry()), desktop_entry(program));
        assert!(xdg.status().enabled);

        xdg.disable().unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !xdg.user_entry().exists(),
            "no Hidden entry without a system one"
        );
        assert!(!xdg.status().enabled);
        xdg.disable().unwrap_or_else(|e| panic!("{e}"));
    }
}
