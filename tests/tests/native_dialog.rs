//! The real zenity PIN dialog on a headless X server (Xvfb): xdotool types the PIN as a user
//! would, and the prompter must return exactly that. A screenshot of the dialog is kept at
//! `<target dir>/test-artifacts/pin-dialog.png` (its path is printed) for a human to look at.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
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
        "`{program}` is missing: run scripts/setup.sh test (zenity, xvfb, xdotool, x11-apps, netpbm)"
    );
}

/// `<target dir>/test-artifacts`: files for a human to look at after the tests, kept until the
/// next run (the scratch folders are deleted).
fn artifacts_dir() -> PathBuf {
    // Cargo gives integration tests `<target dir>/tmp`.
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp.parent().unwrap_or(tmp).join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// Converts an X window dump to PNG with netpbm (`xwdtopnm | pnmtopng`).
fn xwd_to_png(xwd: &Path, png: &Path) {
    let pnm = Command::new("xwdtopnm")
        .arg(xwd)
        .stderr(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("xwdtopnm: {e}"));
    assert!(pnm.status.success(), "xwdtopnm failed");
    let mut encode = Command::new("pnmtopng")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("pnmtopng: {e}"));
    let mut stdin = encode
        .stdin
        .take()
        .unwrap_or_else(|| panic!("pnmtopng stdin"));
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        stdin.write_all(&pnm.stdout)
    });
    let out = encode
        .wait_with_output()
        .unwrap_or_else(|e| panic!("pnmtopng: {e}"));
    writer
        .join()
        .unwrap_or_else(|_| panic!("writer panicked"))
        .unwrap_or_else(|e| panic!("pnmtopng stdin: {e}"));
    assert!(out.status.success(), "pnmtopng failed");
    std::fs::write(png, &out.stdout).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
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
    for program in ["Xvfb", "zenity", "xdotool", "xwd", "xwdtopnm", "pnmtopng"] {
        require(program);
    }
    let x = Xvfb::start();
    let scratch = tempfile::Builder::new()
        .prefix("kyso-dialog")
        .tempdir()
        .unwrap_or_else(|e| panic!("{e}"));
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

    let dump = scratch.path().join("pin-dialog.xwd");
    let shot = x
        .command("xwd")
        .args(["-root", "-silent", "-out"])
        .arg(&dump)
        .status()
        .unwrap_or_else(|e| panic!("xwd: {e}"));
    assert!(shot.success());
    let screenshot = artifacts_dir().join("pin-dialog.png");
    xwd_to_png(&dump, &screenshot);
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
    // A real picture of the screen: a PNG the size of the Xvfb screen, not a blank one.
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&screenshot).unwrap_or_else(|e| panic!("{e}")),
    ));
    let mut reader = decoder
        .read_info()
        .unwrap_or_else(|e| panic!("{}: {e}", screenshot.display()));
    let mut pixels = vec![0; reader.output_buffer_size().unwrap_or(0)];
    let frame = reader
        .next_frame(&mut pixels)
        .unwrap_or_else(|e| panic!("{}: {e}", screenshot.display()));
    assert!(frame.width >= 640 && frame.height >= 480, "{frame:?}");
    let pixels = &pixels[..frame.buffer_size()];
    let first = &pixels[..frame.line_size / frame.width as usize];
    assert!(
        pixels.chunks(first.len()).any(|pixel| pixel != first),
        "the screenshot is one colour"
    );
}
