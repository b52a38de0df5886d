//! Signing benchmark: bare `C_Sign` against kyso's CMS detached signing, SoftHSM RSA-2048.
//!
//! `cargo bench -p kyso-tests --bench signing` (release build). Prints per-signature times and
//! kyso's overhead over the bare PKCS#11 call. Target: overhead under 0.2 ms.

use std::time::{Duration, Instant};

use cryptoki::{
    context::{CInitializeArgs, CInitializeFlags, Pkcs11},
    mechanism::Mechanism,
    object::{Attribute, ObjectClass},
    session::UserType,
    types::AuthPin,
};
use kyso::{
    formats::cms::{self, CmsRequest, Content},
    signer::{HashAlgorithm, SignInput, SignatureScheme, Signer},
    token::{ModuleSelection, TokenService},
};
use secrecy::SecretString;

const USER: &str = "company-rsa2048";
const WARMUP: usize = 50;
const RUN: Duration = Duration::from_secs(3);

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Times `f` repeatedly for `RUN`, after a warm-up; returns (median, mean, count).
fn measure(mut f: impl FnMut()) -> (Duration, Duration, usize) {
    for _ in 0..WARMUP {
        f();
    }
    let mut samples = Vec::new();
    let start = Instant::now();
    while start.elapsed() < RUN {
        let t = Instant::now();
        f();
        samples.push(t.elapsed());
    }
    let count = samples.len();
    let mean = start.elapsed() / count as u32;
    (median(samples), mean, count)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    // Cargo passes `--bench`; nothing to parse.
    kyso_tests::in_process();
    let module = kyso_tests::softhsm_module();
    let user = kyso_tests::pki()
        .user(USER)
        .unwrap_or_else(|| panic!("no test user {USER}"));
    let data = vec![0x5au8; 1024];

    // Bare PKCS#11: the same combined mechanism kyso picks on SoftHSM, over a message the size
    // of CMS signed attributes.
    let bare = {
        let pkcs11 = Pkcs11::new(&module).unwrap_or_else(|e| panic!("{e}"));
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
            .login(UserType::User, Some(&AuthPin::from(kyso_tests::USER_PIN)))
            .unwrap_or_else(|e| panic!("{e}"));
        let key = session
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Label(USER.as_bytes().to_vec()),
            ])
            .unwrap_or_else(|e| panic!("{e}"))[0];
        let message = vec![0x31u8; 230];
        let result = measure(|| {
            session
                .sign(&Mechanism::Sha256RsaPkcs, key, &message)
                .unwrap_or_else(|e| panic!("{e}"));
        });
        let _ = session.logout();
        drop(session);
        let _ = pkcs11.finalize();
        result
    };

    let service = TokenService::load(&ModuleSelection {
        named: vec![module.clone()],
        discover: false,
    });
    let key = service
        .key(Some(&kyso_certs::thumbprint(&user.cert_der)))
        .unwrap_or_else(|e| panic!("{e:?}"));
    key.login(Some(SecretString::from(kyso_tests::USER_PIN)))
        .unwrap_or_else(|e| panic!("{e:?}"));
    let message = vec![0x31u8; 230];
    let raw = measure(|| {
        key.sign(
            SignatureScheme::RsaPkcs1v15,
            HashAlgorithm::Sha256,
            SignInput::Message(&message),
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
    });
    let request = CmsRequest::default();
    let kyso = measure(|| {
        cms::sign(&key, Content::Detached(&data), &request).unwrap_or_else(|e| panic!("{e:?}"));
    });
    let _ = key.logout();
    drop(key);
    drop(service);

    println!(
        "SoftHSM RSA-2048, SHA-256, {} s per measurement",
        RUN.as_secs()
    );
    println!(
        "bare C_Sign:               median {:.3} ms  mean {:.3} ms  ({:.0} signatures/s, n={})",
        ms(bare.0),
        ms(bare.1),
        1.0 / bare.1.as_secs_f64(),
        bare.2
    );
    println!(
        "kyso TokenKey::sign (raw): median {:.3} ms  mean {:.3} ms  ({:.0} signatures/s, n={})",
        ms(raw.0),
        ms(raw.1),
        1.0 / raw.1.as_secs_f64(),
        raw.2
    );
    println!(
        "kyso CMS detached (1 KB):  median {:.3} ms  mean {:.3} ms  ({:.0} signatures/s, n={})",
        ms(kyso.0),
        ms(kyso.1),
        1.0 / kyso.1.as_secs_f64(),
        kyso.2
    );
    println!(
        "kyso overhead per signature: median {:.3} ms (target < 0.200 ms)",
        ms(kyso.0.saturating_sub(bare.0))
    );
}
