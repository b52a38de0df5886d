//! PDF signing benchmark: a 200 MB scanned-style PDF (100 pages, each a 2 MB image) and a 1 MB
//! one, signed by the release `kyso` binary against SoftHSM RSA-2048.
//!
//! `cargo build --release -p kyso && cargo bench -p kyso-tests --bench pdf`. Prints
//! `sha256sum`'s wall time over the big file, kyso's wall time and peak RSS (from `wait4`), and
//! the whole-process time for the 1 MB file. Targets: kyso ≤ 1.5× sha256sum and ≤ 32 MB peak
//! RSS on 200 MB; ≤ 20 ms for 1 MB. The files are generated into a temporary folder each run.

use std::{
    fs::File,
    io::{BufWriter, Write},
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use kyso_tests::{pki, SoftHsm, USER_PIN};

const USER: &str = "company-rsa2048";
/// Side of each page's grey image: 1448² bytes ≈ 2 MB.
const IMAGE_SIDE: usize = 1448;
const RUNS: usize = 5;

/// Writes a PDF of `pages` pages, each showing an uncompressed `side`×`side` grey image of
/// noise (like a scan: it does not compress), streaming so the generator stays small too.
fn write_scanned_pdf(path: &Path, pages: usize, side: usize) -> std::io::Result<u64> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut offsets = Vec::new();
    let mut at = 0u64;
    let put = |out: &mut BufWriter<File>, bytes: &[u8], at: &mut u64| {
        *at += bytes.len() as u64;
        out.write_all(bytes)
    };
    put(&mut out, b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", &mut at)?;
    // 1: catalog, 2: pages, then per page: page, content, image.
    let page_id = |i: usize| 3 + 3 * i;
    offsets.push(at);
    put(
        &mut out,
        b"1 0 obj\n<</Type/Catalog/Pages 2 0 R>>\nendobj\n",
        &mut at,
    )?;
    offsets.push(at);
    let kids: Vec<String> = (0..pages).map(|i| format!("{} 0 R", page_id(i))).collect();
    put(
        &mut out,
        format!(
            "2 0 obj\n<</Type/Pages/Count {pages}/Kids[{}]>>\nendobj\n",
            kids.join(" ")
        )
        .as_bytes(),
        &mut at,
    )?;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut noise = vec![0u8; side * side];
    for i in 0..pages {
        let (page, content, image) = (page_id(i), page_id(i) + 1, page_id(i) + 2);
        offsets.push(at);
        put(
            &mut out,
            format!(
                "{page} 0 obj\n<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]\
                 /Resources<</XObject<</Im0 {image} 0 R>>>>/Contents {content} 0 R>>\nendobj\n"
            )
            .as_bytes(),
            &mut at,
        )?;
        let draw = b"q 595 0 0 842 0 0 cm /Im0 Do Q";
        offsets.push(at);
        put(
            &mut out,
            format!("{content} 0 obj\n<</Length {}>>\nstream\n", draw.len()).as_bytes(),
            &mut at,
        )?;
        put(&mut out, draw, &mut at)?;
        put(&mut out, b"\nendstream\nendobj\n", &mut at)?;
        for chunk in noise.chunks_mut(8) {
            // xorshift64: cheap noise that no filter would shrink.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        offsets.push(at);
        put(
            &mut out,
            format!(
                "{image} 0 obj\n<</Type/XObject/Subtype/Image/Width {side}/Height {side}\
                 /ColorSpace/DeviceGray/BitsPerComponent 8/Length {}>>\nstream\n",
                noise.len()
            )
            .as_bytes(),
            &mut at,
        )?;
        put(&mut out, &noise, &mut at)?;
        put(&mut out, b"\nendstream\nendobj\n", &mut at)?;
    }
    let xref = at;
    let mut table = format!("xref\n0 {}\n0000000000 65535 f\r\n", offsets.len() + 1);
    for offset in &offsets {
        table.push_str(&format!("{offset:010} 00000 n\r\n"));
    }
    table.push_str(&format!(
        "trailer\n<</Size {}/Root 1 0 R>>\nstartxref\n{xref}\n%%EOF\n",
        offsets.len() + 1
    ));
    put(&mut out, table.as_bytes(), &mut at)?;
    out.flush()?;
    Ok(at)
}

/// Runs `command`, returning its wall time and the child's peak RSS in KB (`wait4`).
// The child is reaped by `wait4`, which std's `Child::wait` cannot replace: it drops the rusage.
#[allow(clippy::zombie_processes)]
fn measure(command: &mut Command) -> (Duration, i64) {
    let start = Instant::now();
    let child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let pid = i32::try_from(child.id()).unwrap_or_else(|e| panic!("{e}"));
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet waited for; both pointers are valid locals.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = start.elapsed();
    assert_eq!(waited, pid, "wait4 failed");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{command:?} failed with status {status}"
    );
    // Linux reports ru_maxrss in kilobytes.
    (elapsed, usage.ru_maxrss)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let hsm = SoftHsm::new();
    let dir = hsm.scratch();
    let pin = hsm.pin_file(USER_PIN);
    let user = pki()
        .user(USER)
        .unwrap_or_else(|| panic!("no test user {USER}"));
    let thumbprint = kyso_certs::thumbprint(&user.cert_der);
    let big = dir.join("scanned-200mb.pdf");
    let small = dir.join("scanned-1mb.pdf");
    let big_len = write_scanned_pdf(&big, 100, IMAGE_SIDE).unwrap_or_else(|e| panic!("{e}"));
    let small_len = write_scanned_pdf(&small, 1, 1024).unwrap_or_else(|e| panic!("{e}"));
    println!(
        "inputs: {:.1} MB (100 pages), {:.2} MB (1 page)",
        big_len as f64 / 1e6,
        small_len as f64 / 1e6
    );

    let kyso = |input: &Path, output: &Path| {
        let mut command = hsm.kyso();
        command
            .args(["sign", "pdf"])
            .arg(input)
            .arg("-o")
            .arg(output)
            .arg("--cert")
            .arg(&thumbprint)
            .arg("--pin-file")
            .arg(&pin)
            .args(["--visible", "--page", "1"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        command
    };
    let sha256sum = || {
        let mut command = Command::new("sha256sum");
        command.arg(&big).stdout(std::process::Stdio::null());
        command
    };

    // Warm the page cache so both read from memory, as they would right after a download.
    measure(&mut sha256sum());
    let mut sha_times = Vec::new();
    let mut kyso_times = Vec::new();
    let mut peak = 0;
    for run in 0..RUNS {
        sha_times.push(measure(&mut sha256sum()).0);
        let out = dir.join(format!("signed-{run}.pdf"));
        let (time, rss) = measure(&mut kyso(&big, &out));
        kyso_times.push(time);
        peak = peak.max(rss);
        let _ = std::fs::remove_file(&out);
    }
    let (sha, signed) = (median(sha_times), median(kyso_times));
    println!("200 MB: sha256sum        {:8.1} ms", ms(sha));
    println!(
        "200 MB: kyso sign pdf    {:8.1} ms  ({:.2}x sha256sum; target <= 1.5x)",
        ms(signed),
        signed.as_secs_f64() / sha.as_secs_f64()
    );
    println!(
        "200 MB: kyso peak RSS    {:8.1} MB  (target <= 32 MB)",
        peak as f64 / 1024.0
    );

    let mut small_times = Vec::new();
    let mut small_peak = 0;
    for run in 0..RUNS * 4 {
        let out = dir.join(format!("small-{run}.pdf"));
        let (time, rss) = measure(&mut kyso(&small, &out));
        small_times.push(time);
        small_peak = small_peak.max(rss);
    }
    println!(
        "1 MB:   kyso sign pdf    {:8.1} ms  whole process, median of {} (target <= 20 ms); peak RSS {:.1} MB",
        ms(median(small_times)),
        RUNS * 4,
        small_peak as f64 / 1024.0
    );
}
