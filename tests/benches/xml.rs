//! XMLDSig benchmark (release build):
//! 1. a 5.8 MB HTKK-like tax return (40,000 rows of Vietnamese text) signed over
//!    `#_NODE_TO_SIGN` by the `kyso` CLI with SoftHSM RSA-2048: whole-process wall time, CPU
//!    time (user + system, so a loaded machine shows) and peak RSS (GNU time), median of
//!    several runs;
//! 2. 1,000 documents of about 5 KB signed through the library with one logged-in token key:
//!    documents per second, wall and CPU, and how much of it is the document (prepare: parse,
//!    check, digest) rather than the token.
//!
//! `cargo build --release -p kyso && cargo bench -p kyso-tests --bench xml`
//! Targets (issue 7): CLI ≤ 150 ms and ≤ 40 MB; batch ≥ 500 documents/s.

#[path = "../tests/xml_support/mod.rs"]
mod xml_support;

use std::{
    process::Command,
    time::{Duration, Instant},
};

use kyso::{
    formats::xml::{self, XmlSignOptions},
    token::{ModuleSelection, TokenService},
};
use kyso_tests::{pki, write_file, SoftHsm, USER_PIN};
use secrecy::SecretString;
use xml_support::docs;

const USER: &str = "company-rsa2048";
const CLI_RUNS: usize = 7;
const BATCH: usize = 1000;

/// CPU time (user + system) used so far by this process (`RUSAGE_SELF`) or by its waited-for
/// children and their descendants (`RUSAGE_CHILDREN`).
fn cpu_time(who: libc::c_int) -> Duration {
    // SAFETY: getrusage writes the struct it is given and nothing else.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut usage);
        usage
    };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

fn median<T: Ord + Copy>(mut samples: Vec<T>) -> T {
    samples.sort();
    samples[samples.len() / 2]
}

fn thumbprint() -> String {
    let user = pki()
        .user(USER)
        .unwrap_or_else(|| panic!("no test user {USER}"));
    kyso_certs::thumbprint(&user.cert_der)
}

fn cli(hsm: &SoftHsm) {
    let document = docs::htkk(40_000);
    let input = write_file(hsm.scratch(), "htkk-large.xml", &document);
    let pin = hsm.pin_file(USER_PIN);
    let mut times = Vec::new();
    let mut peaks = Vec::new();
    let mut cpu = Vec::new();
    for run in 0..CLI_RUNS {
        let output = hsm.scratch().join(format!("signed-{run}.xml"));
        let kyso = hsm.kyso();
        let mut command = Command::new("/usr/bin/time");
        command.args(["-f", "%M"]).arg(kyso.get_program());
        command.args(kyso.get_args());
        for (key, value) in kyso.get_envs() {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        command
            .args(["sign", "xml"])
            .arg(&input)
            .arg("-o")
            .arg(&output)
            .args(["--node-id", "_NODE_TO_SIGN", "--into", "CKyDTu"])
            .args(["--cert", &thumbprint()])
            .arg("--pin-file")
            .arg(&pin);
        let cpu_before = cpu_time(libc::RUSAGE_CHILDREN);
        let start = Instant::now();
        let result = command
            .output()
            .unwrap_or_else(|e| panic!("/usr/bin/time missing? run scripts/setup.sh test: {e}"));
        let elapsed = start.elapsed();
        cpu.push(cpu_time(libc::RUSAGE_CHILDREN).saturating_sub(cpu_before));
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(result.status.success(), "kyso sign xml failed: {stderr}");
        let peak_kb: u64 = stderr
            .lines()
            .last()
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or_else(|| panic!("no peak RSS in: {stderr}"));
        times.push(elapsed);
        peaks.push(peak_kb);
    }
    println!(
        "CLI sign xml, {:.1} MB HTKK, #_NODE_TO_SIGN, SoftHSM RSA-2048: median {:.1} ms \
         (min {:.1}, max {:.1}), CPU median {:.1} ms, peak RSS median {:.1} MB (max {:.1}) \
         over {CLI_RUNS} runs",
        document.len() as f64 / 1e6,
        median(times.clone()).as_secs_f64() * 1e3,
        times
            .iter()
            .min()
            .copied()
            .unwrap_or_default()
            .as_secs_f64()
            * 1e3,
        times
            .iter()
            .max()
            .copied()
            .unwrap_or_default()
            .as_secs_f64()
            * 1e3,
        median(cpu).as_secs_f64() * 1e3,
        median(peaks.clone()) as f64 / 1024.0,
        peaks.iter().max().copied().unwrap_or_default() as f64 / 1024.0,
    );
}

fn batch() {
    kyso_tests::in_process();
    let service = TokenService::load(&ModuleSelection {
        named: vec![kyso_tests::softhsm_module()],
        discover: false,
    });
    let key = service
        .key(Some(&thumbprint()))
        .unwrap_or_else(|e| panic!("{e:?}"));
    key.login(Some(SecretString::from(USER_PIN)))
        .unwrap_or_else(|e| panic!("{e:?}"));
    let document = docs::htkk(25);
    let options = XmlSignOptions {
        node_id: Some("_NODE_TO_SIGN".into()),
        into: Some("CKyDTu".into()),
        ..XmlSignOptions::default()
    };
    // Warm-up, then the timed batch.
    for _ in 0..20 {
        xml::sign_xml(document.as_bytes(), &key, &options).unwrap_or_else(|e| panic!("{e}"));
    }
    let cpu_before = cpu_time(libc::RUSAGE_SELF);
    let start = Instant::now();
    for _ in 0..BATCH {
        xml::sign_xml(document.as_bytes(), &key, &options).unwrap_or_else(|e| panic!("{e}"));
    }
    let elapsed: Duration = start.elapsed();
    let cpu = cpu_time(libc::RUSAGE_SELF).saturating_sub(cpu_before);
    // The document's share: parse, check and digest, without the token.
    let start = Instant::now();
    for _ in 0..BATCH {
        xml::prepare(document.as_bytes(), &options).unwrap_or_else(|e| panic!("{e}"));
    }
    let prepare = start.elapsed();
    let _ = key.logout();
    println!(
        "library batch: {BATCH} × {:.1} KB HTKK documents, SoftHSM RSA-2048: {:.0} documents/s \
         ({:.2} ms each, CPU {:.2} ms each; prepare alone {:.3} ms each)",
        document.len() as f64 / 1e3,
        BATCH as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e3 / BATCH as f64,
        cpu.as_secs_f64() * 1e3 / BATCH as f64,
        prepare.as_secs_f64() * 1e3 / BATCH as f64,
    );
}

fn main() {
    // Cargo passes `--bench`; nothing to parse.
    let hsm = SoftHsm::new();
    cli(&hsm);
    batch();
}
