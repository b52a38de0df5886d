//! Tray agent memory: resident memory (VmRSS, and the peak VmHWM) of `kyso serve` with its tray
//! icon registered on a private D-Bus session bus (a stand-in panel, as the tray test uses),
//! idle 3 s after the icon appeared, next to the same agent with `--headless`. Target: ≤ 30 MB.
//!
//! `cargo build --release -p kyso && cargo bench -p kyso-tests --bench tray_memory`

use std::process::{Child, Stdio};
use std::time::Duration;

use kyso_tests::{
    agent::eventually,
    dbus::{panel, SessionBus},
    SoftHsm,
};

/// `VmRSS` and `VmHWM` of `pid`, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let bus = SessionBus::start();
    let (_panel, watcher) = panel(&bus).await;

    let hsm = SoftHsm::new();
    let tray = KillOnDrop(
        hsm.kyso()
            .args(["serve", "--port", "0", "--prompter", "native"])
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let shown = eventually(Duration::from_secs(30), || watcher.registered()).await;
    assert!(shown, "the tray icon never registered");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (rss, peak) = memory_kib(tray.0.id());
    drop(tray);

    let headless_hsm = SoftHsm::new();
    let headless = KillOnDrop(
        headless_hsm
            .kyso()
            .args(["serve", "--headless", "--port", "0", "--prompter", "native"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}")),
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (headless_rss, headless_peak) = memory_kib(headless.0.id());
    drop(headless);

    println!("tray agent idle 3 s after the icon registered (one SoftHSM test token):");
    println!(
        "  VmRSS {:.1} MiB (peak VmHWM {:.1} MiB) — target ≤ 30 MB: {}",
        mib(rss),
        mib(peak),
        if rss * 1024 <= 30_000_000 {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "  same agent --headless: VmRSS {:.1} MiB (peak {:.1} MiB)",
        mib(headless_rss),
        mib(headless_peak)
    );
}
