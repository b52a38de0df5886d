//! The demo token: a SoftHSM token in the user's data folder, provisioned with the generated
//! test PKI, so kyso can be tried without a USB token. Never touches the system token store.
//! [`portal`] is the demo web portal `kyso demo` serves next to the agent.

pub mod portal;

use std::{
    fs,
    path::{Path, PathBuf},
};

use kyso_certs::TestPki;

use crate::{
    error::{Coded, ErrorCode},
    token::provision::{create_token, ImportItem},
    token::TokenError,
};

/// Label of the demo token.
pub const DEMO_TOKEN_LABEL: &str = "KYSO DEMO";
/// User PIN of the demo token (public: it guards only test keys).
pub const DEMO_USER_PIN: &str = "123456";
const DEMO_SO_PIN: &str = "12345678";

/// Where SoftHSM's module usually is.
const SOFTHSM_PATHS: &[&str] = &[
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/opt/homebrew/lib/softhsm/libsofthsm2.so",
    "/usr/local/opt/softhsm/lib/softhsm/libsofthsm2.so",
];

/// Why the demo token could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// SoftHSM is not installed.
    #[error("SoftHSM2 is not installed (apt-get install softhsm2)")]
    SoftHsmMissing,
    /// The data folder could not be determined.
    #[error("no data folder for this user")]
    NoDataDir,
    /// Files could not be written.
    #[error("writing {path} failed")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Generating the test PKI failed.
    #[error("generating the demo certificates failed")]
    Pki(#[from] kyso_certs::CertError),
    /// Talking to SoftHSM failed.
    #[error("provisioning the demo token failed")]
    Token(#[from] TokenError),
}

impl Coded for DemoError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::SoftHsmMissing => ErrorCode::NoModule,
            Self::NoDataDir | Self::Io { .. } => ErrorCode::Io,
            Self::Pki(_) => ErrorCode::Internal,
            Self::Token(e) => e.code(),
        }
    }
}

/// The SoftHSM module on this machine, if any (`KYSO_SOFTHSM_MODULE` overrides).
pub fn softhsm_module() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("KYSO_SOFTHSM_MODULE") {
        return Some(PathBuf::from(path));
    }
    SOFTHSM_PATHS
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
}

/// A provisioned demo token.
#[derive(Debug, Clone)]
pub struct DemoToken {
    /// Folder holding the SoftHSM configuration, token files and the demo PKI's certificates.
    pub dir: PathBuf,
    /// The `SOFTHSM2_CONF` file to use.
    pub conf: PathBuf,
    /// The SoftHSM module.
    pub module: PathBuf,
}

impl DemoToken {
    /// The trust anchor of the demo certificates (PEM), for verifiers.
    pub fn root_pem(&self) -> PathBuf {
        self.dir.join("demo-root.pem")
    }
}

fn write(path: &Path, data: impl AsRef<[u8]>) -> Result<(), DemoError> {
    fs::write(path, data).map_err(|source| DemoError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes a SoftHSM configuration whose token folder is `token_dir`.
pub fn write_softhsm_conf(conf: &Path, token_dir: &Path) -> Result<(), DemoError> {
    fs::create_dir_all(token_dir).map_err(|source| DemoError::Io {
        path: token_dir.to_path_buf(),
        source,
    })?;
    write(
        conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
            token_dir.display()
        ),
    )
}

/// Imports every identity of `pki` (users with keys, CAs as certificates) as token objects.
pub fn provision_pki(
    module: &Path,
    label: &str,
    user_pin: &str,
    pki: &TestPki,
) -> Result<String, TokenError> {
    let ids: Vec<[u8; 2]> = (0..pki.users.len() as u8).map(|i| [0x4b, i + 1]).collect();
    let mut items: Vec<ImportItem<'_>> = pki
        .users
        .iter()
        .zip(&ids)
        .map(|(user, id)| ImportItem {
            label: user.name,
            key_id: id,
            cert_id: id,
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
    create_token(module, label, DEMO_SO_PIN, user_pin, &items)
}

/// Makes sure the demo token exists under `dir` (re-creating it with `reset`), and points
/// this process's SoftHSM at it.
///
/// Sets `SOFTHSM2_CONF` for the process: call it before any thread or PKCS#11 module starts.
pub fn ensure(dir: &Path, reset: bool) -> Result<DemoToken, DemoError> {
    let module = softhsm_module().ok_or(DemoError::SoftHsmMissing)?;
    let conf = dir.join("softhsm2.conf");
    let marker = dir.join("provisioned");
    let token = DemoToken {
        dir: dir.to_path_buf(),
        conf: conf.clone(),
        module: module.clone(),
    };
    // SoftHSM reads its configuration from the environment when the module initialises.
    std::env::set_var("SOFTHSM2_CONF", &conf);
    if marker.is_file() && !reset {
        return Ok(token);
    }
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(|source| DemoError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    write_softhsm_conf(&conf, &dir.join("tokens"))?;
    let pki = TestPki::generate()?;
    write(&token.root_pem(), pki.root_pem())?;
    write(&dir.join("demo-chain.pem"), pki.chain_pem())?;
    provision_pki(&module, DEMO_TOKEN_LABEL, DEMO_USER_PIN, &pki)?;
    write(&marker, b"ok\n")?;
    Ok(token)
}
