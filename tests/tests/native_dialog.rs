//! The real zenity PIN dialog on a headless X server (Xvfb): xdotool types the PIN as a user
//! would, and the prompter must return exactly that. A screenshot of the dialog is saved in
//! the test's scratch folder (its path is printed) for a human to look at.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kyso::prompt::{DialogEnvironment, NativePrompter, PinRequest, Prompter};
use kyso::token::PinState;
use secrecy::ExposeSecret;

fn require(program: &str) {
    let found = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{program}` is missing: run scripts/setup.sh test (zenity, xvfb, xdotool, x11-apps)"
    );
}

/// An Xvfb server on a free display number, stopped when dropped.
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    fn start() -> Self {
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1024x768x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("Xvfb: {e}"));
        let mut line = String::new();
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap_or_else(|e| panic!("Xvfb display number: {e}"));
        let display = format!(":{}", line.trim());
        assert!(display.len() > 1, "Xvfb gave no display number");
        Self { child, display }
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command.env("DISPLAY", &self.display);
        command
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_pin_typed_into_the_real_zenity_dialog_is_returned() {
    for program in ["Xvfb", "zenity", "xdotool", "xwd"] {
        require(program);
    }
    let x = Xvfb::start();
    let scratch = tempfile::Builder::new()
        .prefix("kyso-dialog")
        .tempdir()
        .unwrap_or_else(|e| panic!("{e}"))
        .keep();
    let prompter = NativePrompter::with_environment(
        Duration::from_secs(60),
        DialogEnvironment {
            display: Some(x.display.clone().into()),
            wayland_display: None,
            path: std::env::var_os("PATH"),
        },
    );
    let asking = std::thread::spawn(move || {
        let pki = kyso_certs::testpki::shared();
        let summary =
            kyso_certs::summarize(&pki.users[0].cert_der, time::OffsetDateTime::now_utc())
                .unwrap_or_else(|e| panic!("{e}"));
        prompter
            .pin(&PinRequest {
                certificate: &summary,
                token_label: "kyso test token",
                pin: PinState {
                    count_low: true,
                    ..PinState::default()
                },
                origin: Some("https://dichvucong.example.vn"),
                purpose: "to-khai-thue.xml",
            })
            .map(|pin| pin.expose_secret().to_owned())
    });

    // Wait for the dialog window.
    let started = Instant::now();
    let window = loop {
        let out = x
            .command("xdotool")
            .args(["search", "--name", "kyso"])
            .output()
            .unwrap_or_else(|e| panic!("xdotool: {e}"));
        let found = String::from_utf8_lossy(&out.stdout);
        if let Some(id) = found.lines().next() {
            break id.trim().to_owned();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no dialog window appeared"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    std::thread::sleep(Duration::from_millis(500));

    let screenshot = scratch.join("pin-dialog.xwd");
    let shot = x
        .command("xwd")
        .args(["-root", "-silent", "-out"])
        .arg(&screenshot)
        .status()
        .unwrap_or_else(|e| panic!("xwd: {e}"));
    assert!(shot.success());
    println!("screenshot: {}", screenshot.display());

    let typed = x
        .command("xdotool")
        .args(["windowfocus", "--sync", &window])
        .status()
        .and_then(|_| {
            x.command("xdotool")
                .args(["type", "--delay", "30", "246810"])
                .status()
        })
        .and_then(|_| x.command("xdotool").args(["key", "Return"]).status())
        .unwrap_or_else(|e| panic!("xdotool: {e}"));
    assert!(typed.success());

    let pin = asking
        .join()
        .unwrap_or_else(|_| panic!("prompter thread panicked"))
        .unwrap_or_else(|e| panic!("dialog: {e}"));
    assert_eq!(pin, "246810");
    let size = std::fs::metadata(&screenshot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 100_000, "screenshot is {size} bytes");
}
