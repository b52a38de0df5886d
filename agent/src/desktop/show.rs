//! Showing the user a text (certificate details, about) and opening a file, with what the
//! desktop has; where there is nothing, the text goes to the log so nothing is lost silently.

use std::{path::Path, process::Command};

/// Shows `body` under `title` in an information window (zenity or kdialog on Linux, a dialog
/// on macOS, a message box on Windows). Does not wait for the window to close.
pub fn show_text(title: &str, body: &str) {
    let spawned = platform_show(title, body);
    if let Err(e) = spawned {
        tracing::info!(%title, %body, error = %e, "no way to show a window; text logged instead");
    }
}

#[cfg(all(unix, not(target_os = "macos")))]
fn platform_show(title: &str, body: &str) -> std::io::Result<()> {
    Command::new("zenity")
        .args(["--info", "--no-wrap", "--title", title, "--text", body])
        .spawn()
        .or_else(|_| {
            Command::new("kdialog")
                .args(["--title", title, "--msgbox", body])
                .spawn()
        })
        .map(drop)
}

#[cfg(target_os = "macos")]
fn platform_show(title: &str, body: &str) -> std::io::Result<()> {
    // Text goes in through argv, never spliced into the script, so quotes cannot break it.
    Command::new("osascript")
        .args([
            "-e",
            "on run argv",
            "-e",
            "display dialog (item 2 of argv) with title (item 1 of argv) buttons {\"OK\"}",
            "-e",
            "end run",
            title,
            body,
        ])
        .spawn()
        .map(drop)
}

#[cfg(windows)]
fn platform_show(title: &str, body: &str) -> std::io::Result<()> {
    // msg.exe is absent on Home editions; PowerShell's MessageBox is everywhere. The text is
    // passed through environment variables, never spliced into the script.
    Command::new("powershell")
        .args([
            "-NoProfile",
            "-Command",
            "Add-Type -AssemblyName PresentationFramework; [System.Windows.MessageBox]::Show($env:KYSO_TEXT, $env:KYSO_TITLE) | Out-Null",
        ])
        .env("KYSO_TEXT", body)
        .env("KYSO_TITLE", title)
        .spawn()
        .map(drop)
}

/// Opens `path` with the desktop's default program.
pub fn open_path(path: &Path) {
    #[cfg(all(unix, not(target_os = "macos")))]
    let mut command = Command::new("xdg-open");
    #[cfg(target_os = "macos")]
    let mut command = Command::new("open");
    #[cfg(windows)]
    let mut command = {
        let mut c = Command::new("explorer");
        c.arg("/select,");
        c
    };
    if let Err(e) = command.arg(path).spawn() {
        tracing::warn!(path = %path.display(), error = %e, "cannot open the file");
    }
}
