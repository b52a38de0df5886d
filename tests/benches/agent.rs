//! Agent benchmark: `POST /v1/sign/hash` round trips over one kept-alive HTTPS connection
//! against the bare `C_Sign` time, and the idle resident memory of `kyso serve --headless`.
//!
//! `cargo build --release -p kyso && cargo bench -p kyso-tests --bench agent`

use std::time::{Duration, Instant};

use base64::Engine;
use cryptoki::{
    context::{CInitializeArgs, CInitializeFlags, Pkcs11},
    mechanism::Mechanism,
    object::{Attribute, ObjectClass},
    session::UserType,
    types::AuthPin,
};
use kyso_tests::{
    agent::{send, Agent},
    SoftHsm, USER_PIN,
};

const USER: &str = "company-rsa2048";
const ROUNDS: usize = 400;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Bare `C_Sign` of a SHA-256 DigestInfo with CKM_RSA_PKCS (what kyso does for a digest).
fn bare_sign() -> Duration {
    kyso_tests::in_process();
    let pkcs11 = Pkcs11::new(kyso_tests::softhsm_module()).unwrap_or_else(|e| panic!("{e}"));
    pkcs11
        .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap_or_else(|e| panic!("{e}"));
    let slot = pkcs11
        .get_slots_with_initialized_token()
        .unwrap_or_else(|e| panic!("{e}"))[0];
    let session = pkcs11
        .open_ro_session(slot)
        .unwrap_or_else(|e| panic!("{e}"));
    session
        .login(UserType::User, Some(&AuthPin::from(USER_PIN)))
        .unwrap_or_else(|e| panic!("{e}"));
    let key = session
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Label(USER.as_bytes().to_vec()),
        ])
        .unwrap_or_else(|e| panic!("{e}"))[0];
    let mut data = kyso::signer::HashAlgorithm::Sha256
        .digest_info_prefix()
        .to_vec();
    data.extend_from_slice(&[7u8; 32]);
    let mut samples = Vec::new();
    for _ in 0..ROUNDS {
        let t = Instant::now();
        session
            .sign(&Mechanism::RsaPkcs, key, &data)
            .unwrap_or_else(|e| panic!("{e}"));
        samples.push(t.elapsed());
    }
    let _ = session.logout();
    drop(session);
    let _ = pkcs11.finalize();
    median(samples)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let bare = bare_sign();
    let hsm = SoftHsm::new();
    let origin = "https://portal.example.vn";
    let mut results = Vec::new();
    for (label, config) in [
        (
            "PIN cache on (one PIN, then a confirmation per request)",
            format!("allowed_origins = [\"{origin}\"]\npin_cache_minutes = 10\nprompts_per_minute = 100000\n"),
        ),
        (
            "PIN cache off (default: PIN dialog, login, sign, logout per request)",
            format!("allowed_origins = [\"{origin}\"]\nprompts_per_minute = 100000\n"),
        ),
    ] {
        let agent = Agent::start(
            &hsm,
            &config,
            serde_json::json!({"pin": USER_PIN, "confirm": true, "consent": "allow-once"}),
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        let idle = rss_kib(agent.pid());
        let thumbprint = kyso_certs::thumbprint(
            &kyso_tests::pki()
                .user(USER)
                .unwrap_or_else(|| panic!("no {USER}"))
                .cert_der,
        );
        let body = serde_json::json!({
            "certificate": thumbprint,
            "algorithm": "sha256",
            "digest": base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
        })
        .to_string();
        let mut connection = agent.http1().await;
        let headers = [("origin", origin), ("content-type", "application/json")];
        let mut samples = Vec::new();
        for i in 0..ROUNDS + 20 {
            let t = Instant::now();
            let answer = send(
                &mut connection,
                agent.port,
                "POST",
                "/v1/sign/hash",
                &headers,
                Some(body.clone().into_bytes()),
            )
            .await;
            assert_eq!(answer.status, 200, "{:?}", answer.json());
            if i >= 20 {
                samples.push(t.elapsed());
            }
        }
        results.push((label, median(samples), idle));
    }
    println!("SoftHSM RSA-2048, {ROUNDS} sequential requests on one kept-alive HTTPS connection");
    println!(
        "bare C_Sign (CKM_RSA_PKCS):       median {:.3} ms",
        ms(bare)
    );
    for (label, round_trip, idle) in results {
        println!(
            "POST /v1/sign/hash, {label}:\n    median {:.3} ms, {:.3} ms over bare C_Sign (target ≤ 1 ms); idle RSS at start {:.1} MB (target ≤ 15 MB)",
            ms(round_trip),
            ms(round_trip.saturating_sub(bare)),
            idle as f64 / 1024.0
        );
    }
}
