//! Test harness: isolated SoftHSM2 tokens provisioned through the real PKCS#11 API, the test
//! PKI, and helpers that call independent verifiers (OpenSSL).
//!
//! Provisioning (C_InitToken, C_InitPIN, C_CreateObject) happens once per test process into
//! a template folder; each [`SoftHsm`] is a fresh copy of it with its own `SOFTHSM2_CONF`, so
//! tests never share token state with each other or with the system token store.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::OnceLock,
};

pub mod agent;
pub mod dbus;

use kyso::token::provision::{create_token, ImportItem};
use kyso_certs::TestPki;
use tempfile::TempDir;

/// Label of the test token.
pub const TOKEN_LABEL: &str = "KYSO TEST";
/// User PIN of the test token.
pub const USER_PIN: &str = "246810";
/// SO PIN of the test token.
pub const SO_PIN: &str = "13579135";
/// The user whose certificate's `CKA_ID` deliberately differs from its key's.
pub const MISMATCHED_ID_USER: &str = "person-rsa3072";

/// The SoftHSM module (Debian's `softhsm2`), or `KYSO_SOFTHSM_MODULE`.
pub fn softhsm_module() -> PathBuf {
    kyso::demo::softhsm_module().unwrap_or_else(|| {
        panic!("SoftHSM2 is not installed: run scripts/test.sh (apt-get install softhsm2)")
    })
}

/// The test PKI shared by every test in the process.
pub fn pki() -> &'static TestPki {
    kyso_certs::testpki::shared()
}

struct Template {
    dir: TempDir,
}

/// Provisions the template token once per process: every test user with its key (one with a
/// mismatched certificate id), plus the issuing and root CA certificates.
fn template() -> &'static Template {
    static TEMPLATE: OnceLock<Template> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("kyso-softhsm-template")
            .tempdir()
            .unwrap_or_else(|e| panic!("tempdir: {e}"));
        let conf = dir.path().join("softhsm2.conf");
        kyso::demo::write_softhsm_conf(&conf, &dir.path().join("tokens"))
            .unwrap_or_else(|e| panic!("writing SoftHSM conf: {e}"));
        let pki = pki();
        let ids: Vec<Vec<u8>> = (0..pki.users.len()).map(|i| vec![0xa0, i as u8]).collect();
        let wrong_id = vec![0xee, 0xee];
        let mut items: Vec<ImportItem<'_>> = pki
            .users
            .iter()
            .zip(&ids)
            .map(|(user, id)| ImportItem {
                label: user.name,
                key_id: id,
                cert_id: if user.name == MISMATCHED_ID_USER {
                    &wrong_id
                } else {
                    id
                },
                cert_der: &user.cert_der,
                key_pkcs8_der: Some(&user.key_pkcs8_der),
            })
            .collect();
        for ca in [&pki.issuing, &pki.root] {
            items.push(ImportItem {
                label: ca.name,
                key_id: &[],
                cert_id: &[],
                cert_der: &ca.cert_der,
                key_pkcs8_der: None,
            });
        }
        // SoftHSM reads SOFTHSM2_CONF at C_Initialize. Only this one-time provisioning runs
        // in-process with the template's configuration; tests use copies (see `SoftHsm`).
        std::env::set_var("SOFTHSM2_CONF", &conf);
        create_token(&softhsm_module(), TOKEN_LABEL, SO_PIN, USER_PIN, &items)
            .unwrap_or_else(|e| panic!("provisioning the SoftHSM template token: {e:?}"));
        Template { dir }
    })
}

/// An isolated SoftHSM token folder and configuration, a copy of the provisioned template.
#[derive(Debug)]
pub struct SoftHsm {
    dir: TempDir,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("mkdir {}: {e}", to.display()));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display()))
    {
        let entry = entry.unwrap_or_else(|e| panic!("{e}"));
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target)
                .unwrap_or_else(|e| panic!("copy {}: {e}", entry.path().display()));
        }
    }
}

impl SoftHsm {
    /// A fresh copy of the provisioned test token.
    pub fn new() -> Self {
        let template = template();
        let dir = tempfile::Builder::new()
            .prefix("kyso-softhsm")
            .tempdir()
            .unwrap_or_else(|e| panic!("tempdir: {e}"));
        copy_dir(
            &template.dir.path().join("tokens"),
            &dir.path().join("tokens"),
        );
        kyso::demo::write_softhsm_conf(
            &dir.path().join("softhsm2.conf"),
            &dir.path().join("tokens"),
        )
        .unwrap_or_else(|e| panic!("writing SoftHSM conf: {e}"));
        std::fs::create_dir_all(dir.path().join("home")).unwrap_or_else(|e| panic!("{e}"));
        Self { dir }
    }

    /// The `SOFTHSM2_CONF` file of this copy.
    pub fn conf(&self) -> PathBuf {
        self.dir.path().join("softhsm2.conf")
    }

    /// A scratch folder for the test's files.
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    /// The `kyso` binary, run against this token only (no module discovery, private XDG dirs).
    pub fn kyso(&self) -> Command {
        let mut command = Command::new(kyso_bin());
        let home = self.dir.path().join("home");
        command
            .env("SOFTHSM2_CONF", self.conf())
            .env("HOME", &home)
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            // No system autostart entry (a kyso .deb installed on this machine) in the way.
            .env("XDG_CONFIG_DIRS", home.join("system-config"))
            .env_remove("KYSO_PKCS11_MODULES")
            .arg("--no-discover")
            .arg("--module")
            .arg(softhsm_module());
        command
    }

    /// Writes the user PIN (or any text) to a file for `--pin-file`.
    pub fn pin_file(&self, pin: &str) -> PathBuf {
        let path = self.dir.path().join(format!("pin-{}", pin.len()));
        std::fs::write(&path, format!("{pin}\n")).unwrap_or_else(|e| panic!("{e}"));
        path
    }

    /// Marks the user PIN as locked in the token's stored flags.
    ///
    /// SoftHSM 2.6 counts wrong PINs but never locks, so a locked token cannot be reached
    /// through PKCS#11 alone. This sets `CKF_USER_PIN_LOCKED` in the token's persisted
    /// `CKA_OS_TOKENFLAGS` attribute (SoftHSM's file object store: a sequence of big-endian
    /// `u64 type, u64 kind, value`), so `C_GetTokenInfo` reports the lock exactly as a real
    /// token would. SoftHSM itself would still accept the right PIN — which is what lets a test
    /// prove kyso never attempts a login on a locked token.
    pub fn lock_user_pin(&self) {
        const CKA_OS_TOKENFLAGS: u64 = 0x8000_534B;
        const CKF_USER_PIN_LOCKED: u64 = 0x0004_0000;
        let tokens = self.dir.path().join("tokens");
        for entry in std::fs::read_dir(&tokens).unwrap_or_else(|e| panic!("{e}")) {
            let path = entry
                .unwrap_or_else(|e| panic!("{e}"))
                .path()
                .join("token.object");
            let Ok(mut bytes) = std::fs::read(&path) else {
                continue;
            };
            let read_u64 = |b: &[u8], at: usize| {
                u64::from_be_bytes(b[at..at + 8].try_into().unwrap_or([0; 8]))
            };
            // The file starts with the generation counter, then the attributes.
            let mut at = 8;
            loop {
                assert!(
                    at + 16 <= bytes.len(),
                    "CKA_OS_TOKENFLAGS not found in {}",
                    path.display()
                );
                let (kind_type, kind) = (read_u64(&bytes, at), read_u64(&bytes, at + 8));
                let value_at = at + 16;
                match kind {
                    // ulong
                    2 if kind_type == CKA_OS_TOKENFLAGS => {
                        let flags = read_u64(&bytes, value_at) | CKF_USER_PIN_LOCKED;
                        bytes[value_at..value_at + 8].copy_from_slice(&flags.to_be_bytes());
                        std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{e}"));
                        return;
                    }
                    2 => at = value_at + 8,
                    // byte string: length then bytes
                    3 => at = value_at + 8 + read_u64(&bytes, value_at) as usize,
                    // boolean: one byte
                    1 => at = value_at + 1,
                    other => panic!(
                        "unknown SoftHSM attribute kind {other} in {}",
                        path.display()
                    ),
                }
            }
        }
        panic!("no token.object under {}", tokens.display());
    }
}

impl Default for SoftHsm {
    fn default() -> Self {
        Self::new()
    }
}

/// Points this test process's SoftHSM at one isolated copy (once), for in-process tests of the
/// library. Call before loading any module.
pub fn in_process() -> &'static SoftHsm {
    static SHARED: OnceLock<SoftHsm> = OnceLock::new();
    SHARED.get_or_init(|| {
        let hsm = SoftHsm::new();
        std::env::set_var("SOFTHSM2_CONF", hsm.conf());
        hsm
    })
}

/// The `kyso` binary built by Cargo for this workspace.
pub fn kyso_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("KYSO_BIN") {
        return PathBuf::from(path);
    }
    // tests/ and benches live in target/<profile>/deps; the binary one level up.
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| panic!("no target dir"));
    let bin = dir.join(format!("kyso{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} missing: build it with `cargo build -p kyso`",
        bin.display()
    );
    bin
}

/// Runs a command and returns its output, panicking if it cannot start.
/// The SHA-256 thumbprint (hex) of test PKI user `user`'s certificate.
pub fn thumbprint(user: &str) -> String {
    let user = pki().user(user).unwrap_or_else(|| panic!("no user {user}"));
    kyso_certs::thumbprint(&user.cert_der)
}

/// Standard base64, as the API carries bytes.
pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The bytes of a base64 JSON string; panics (failing the test) on anything else.
pub fn unb64(value: &serde_json::Value) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(value.as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("not base64: {e}: {value}"))
}

pub fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

/// Writes `pem` to `dir/name` and returns the path.
pub fn write_file(dir: &Path, name: &str, data: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

/// `openssl cms -verify` of a DER signature against the test root; `content` for detached.
/// Returns OpenSSL's output: `Ok` on "Verification successful".
pub fn openssl_cms_verify(
    dir: &Path,
    cms_der: &[u8],
    content: Option<&[u8]>,
) -> Result<Vec<u8>, String> {
    let root = write_file(dir, "root.pem", pki().root_pem());
    let sig = write_file(dir, "sig.p7s", cms_der);
    let out = dir.join("verified-content");
    let mut command = Command::new("openssl");
    command
        .args([
            "cms", "-verify", "-binary", "-inform", "DER", "-purpose", "any", "-in",
        ])
        .arg(&sig)
        .arg("-CAfile")
        .arg(&root)
        .arg("-out")
        .arg(&out);
    if let Some(content) = content {
        command
            .arg("-content")
            .arg(write_file(dir, "content.bin", content));
    }
    let output = run(&mut command);
    if output.status.success() {
        Ok(std::fs::read(&out).unwrap_or_default())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// `openssl pkeyutl -verify` of a raw signature over `digest` with the certificate's key.
pub fn openssl_verify_digest(
    dir: &Path,
    cert_der: &[u8],
    digest: &[u8],
    signature: &[u8],
    pss: bool,
    hash: &str,
) -> bool {
    let cert = write_file(dir, "signer.der", cert_der);
    let pubkey = dir.join("signer-pub.pem");
    let extracted = run(Command::new("openssl")
        .args(["x509", "-inform", "DER", "-pubkey", "-noout", "-in"])
        .arg(&cert)
        .arg("-out")
        .arg(&pubkey));
    assert!(extracted.status.success(), "openssl x509 -pubkey failed");
    let digest_file = write_file(dir, "digest.bin", digest);
    let sig_file = write_file(dir, "digest.sig", signature);
    let mut command = Command::new("openssl");
    command
        .args(["pkeyutl", "-verify", "-pubin", "-inkey"])
        .arg(&pubkey)
        .arg("-in")
        .arg(&digest_file)
        .arg("-sigfile")
        .arg(&sig_file)
        .args(["-pkeyopt", &format!("digest:{hash}")]);
    if pss {
        command.args([
            "-pkeyopt",
            "rsa_padding_mode:pss",
            "-pkeyopt",
            "rsa_pss_saltlen:digest",
        ]);
    }
    run(&mut command).status.success()
}
