//! Making the user's browsers trust kyso's local CA (`kyso trust install | uninstall | status`).
//!
//! Each store is driven through the tool its platform provides, as mkcert does: NSS `certutil`
//! for Chrome/Chromium's shared database and every Firefox profile on Linux,
//! `update-ca-certificates` for the Linux system store (`--system`, as root), `security` for the
//! macOS login keychain, and Windows `certutil -user` for the current user's Root store. No
//! maintained Rust crate writes NSS databases or OS trust settings (rustls-native-certs and
//! friends only *read* them), so spawning these tools is the dependable path.
//!
//! Every store is handled on its own: one failing (a locked profile, a missing tool) is reported
//! for that store and the others are still updated. After changing a store, kyso reads it back,
//! so a report always says what *is* there, not what was attempted.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output};

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::CertificateDer;
use serde::Serialize;

use crate::error::{Coded, ErrorCode};
use crate::tls::TlsFiles;

#[cfg(target_os = "macos")]
mod macos;
#[cfg(all(unix, not(target_os = "macos")))]
mod nss;
#[cfg(target_os = "linux")]
mod system;
#[cfg(windows)]
mod windows;

/// The nickname kyso gives its CA in NSS databases. Every CA kyso ever made also has a common
/// name starting with this, so entries added by hand through a browser's certificate manager
/// (which uses the common name as nickname) are recognised too.
pub const NICKNAME: &str = "kyso local CA";

/// Which stores to touch and where the user's home is.
#[derive(Debug, Clone)]
pub struct TrustOptions {
    /// The user's home folder (browser profiles are found under it).
    pub home: PathBuf,
    /// Also the operating system's store (Linux: needs root). Off by default because it needs
    /// administrator rights and affects every program, not just browsers.
    pub system: bool,
}

impl TrustOptions {
    /// The current user's home; `None` when the platform reports none.
    pub fn for_current_user(system: bool) -> Option<Self> {
        directories::BaseDirs::new().map(|dirs| Self {
            home: dirs.home_dir().to_path_buf(),
            system,
        })
    }
}

/// The CA certificate being trusted: the `ca.pem` of [`TlsFiles`].
#[derive(Debug, Clone)]
pub struct CaCertificate {
    /// Where it is (`<data_dir>/tls/ca.pem`); tools read it from here.
    pub path: PathBuf,
    /// Its DER, to recognise it in a store.
    pub der: Vec<u8>,
    /// SHA-256 of the DER, lowercase hex.
    pub thumbprint: String,
    /// The server certificate it issued (`localhost.pem`): stores that can evaluate trust
    /// (macOS) check that this verifies for `localhost`.
    pub server_cert: PathBuf,
}

impl CaCertificate {
    /// Reads the CA of the local TLS files.
    pub fn from_files(files: &TlsFiles) -> Result<Self, TrustError> {
        let der =
            CertificateDer::from_pem_file(&files.ca_pem).map_err(|source| TrustError::CaFile {
                path: files.ca_pem.clone(),
                source,
            })?;
        Ok(Self {
            path: files.ca_pem.clone(),
            thumbprint: kyso_certs::thumbprint(&der),
            der: der.to_vec(),
            server_cert: files.cert_pem.clone(),
        })
    }
}

impl CaCertificate {
    /// Reads the CA of the local TLS folder `<data_dir>/tls` as it is, without making or
    /// renewing anything (for checks and for uninstalling).
    pub fn from_dir(tls_dir: &Path) -> Result<Self, TrustError> {
        let path = tls_dir.join(crate::tls::CA_FILE);
        let der = CertificateDer::from_pem_file(&path).map_err(|source| TrustError::CaFile {
            path: path.clone(),
            source,
        })?;
        Ok(Self {
            thumbprint: kyso_certs::thumbprint(&der),
            der: der.to_vec(),
            path,
            server_cert: tls_dir.join(crate::tls::CERT_FILE),
        })
    }
}

/// The kinds of store kyso knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StoreKind {
    /// The shared NSS database Chrome and Chromium read on Linux (`~/.pki/nssdb`).
    NssShared,
    /// A Firefox profile's NSS database.
    Firefox,
    /// The operating system's CA bundle (Linux `ca-certificates`).
    System,
    /// The macOS login keychain.
    MacosLoginKeychain,
    /// The Windows current user's Trusted Root store.
    WindowsUserRoot,
}

impl StoreKind {
    /// A short name for people.
    pub fn label(self) -> &'static str {
        match self {
            Self::NssShared => "Chrome/Chromium (NSS)",
            Self::Firefox => "Firefox",
            Self::System => "system (ca-certificates)",
            Self::MacosLoginKeychain => "macOS login keychain",
            Self::WindowsUserRoot => "Windows user Root store",
        }
    }
}

/// What one store holds, as read back from it.
#[derive(Debug, Clone, Serialize)]
pub struct StoreReport {
    /// Which kind of store.
    pub store: StoreKind,
    /// Where it is (a folder, file or keychain).
    pub location: String,
    /// The *current* CA is in the store and trusted for TLS servers.
    pub trusted: bool,
    /// How many other kyso CAs the store holds: CAs from before a renewal, which no longer
    /// vouch for the certificate the agent serves (`kyso trust install` replaces them).
    pub older_kyso_cas: usize,
    /// Why the store could not be changed or read, if it could not.
    pub error: Option<String>,
}

/// The state of every store kyso looked at.
#[derive(Debug, Clone, Serialize)]
pub struct TrustReport {
    /// The current CA certificate's file.
    pub ca_path: PathBuf,
    /// SHA-256 of the current CA certificate, lowercase hex.
    pub ca_thumbprint: String,
    /// At least one store was found and every one trusts the current CA.
    pub trusted: bool,
    /// Each store.
    pub stores: Vec<StoreReport>,
}

impl TrustReport {
    fn new(ca: &CaCertificate, stores: Vec<StoreReport>) -> Self {
        Self {
            ca_path: ca.path.clone(),
            ca_thumbprint: ca.thumbprint.clone(),
            trusted: !stores.is_empty() && stores.iter().all(|s| s.trusted),
            stores,
        }
    }

    /// The stores that reported an error.
    pub fn failures(&self) -> impl Iterator<Item = &StoreReport> {
        self.stores.iter().filter(|s| s.error.is_some())
    }
}

/// Why a trust operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// The CA file could not be read.
    #[error("cannot read the CA certificate {}", path.display())]
    CaFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: pem::Error,
    },
    /// A store file or folder could not be read or written.
    #[error("cannot read or write {}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The system store needs administrator rights.
    #[error("the system store needs root: run `sudo kyso trust ... --system`")]
    NeedsRoot(#[source] std::io::Error),
    /// A tool kyso drives is not installed.
    #[error("`{program}` is not installed ({hint})")]
    ToolMissing {
        /// The program.
        program: &'static str,
        /// How to get it.
        hint: &'static str,
        /// The spawn error.
        #[source]
        source: std::io::Error,
    },
    /// A tool ran and failed.
    #[error("`{program} {args}` failed ({status}): {stderr}")]
    ToolFailed {
        /// The program.
        program: &'static str,
        /// Its arguments, for the log (never secrets: these tools get none).
        args: String,
        /// Its exit status.
        status: ExitStatus,
        /// What it printed on standard error.
        stderr: String,
    },
    /// Some stores could not be updated (each is named in the report).
    #[error("{failed} certificate store(s) could not be updated")]
    Stores {
        /// How many.
        failed: usize,
    },
}

impl Coded for TrustError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::CaFile { .. } | Self::Io { .. } => ErrorCode::Io,
            Self::NeedsRoot(_)
            | Self::ToolMissing { .. }
            | Self::ToolFailed { .. }
            | Self::Stores { .. } => ErrorCode::TrustStoreFailed,
        }
    }
}

/// What kyso found in one store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Presence {
    /// The current CA is there and trusted for TLS servers.
    pub trusted: bool,
    /// Other kyso CAs there.
    pub older: usize,
}

/// One certificate store.
pub(crate) trait Store {
    fn kind(&self) -> StoreKind;
    fn location(&self) -> String;
    /// Adds `ca` as trusted for TLS servers, replacing any other kyso CA.
    fn install(&self, ca: &CaCertificate) -> Result<(), TrustError>;
    /// Removes every kyso CA.
    fn uninstall(&self) -> Result<(), TrustError>;
    /// Reads what the store holds.
    fn inspect(&self, ca: &CaCertificate) -> Result<Presence, TrustError>;
}

/// Why a store is being listed: installing also prepares stores that do not exist yet (the
/// shared NSS database, which Chrome will read once installed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Install,
    Inspect,
}

/// The stores of this platform.
fn stores(options: &TrustOptions, purpose: Purpose) -> Vec<Box<dyn Store>> {
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        let mut stores = nss::stores(&options.home, purpose);
        #[cfg(target_os = "linux")]
        if options.system {
            stores.push(Box::new(system::SystemStore::default()));
        }
        stores
    }
    #[cfg(target_os = "macos")]
    {
        let _ = purpose;
        vec![Box::new(macos::LoginKeychain::new(&options.home)) as Box<dyn Store>]
    }
    #[cfg(windows)]
    {
        let _ = (options, purpose);
        vec![Box::new(windows::UserRoot) as Box<dyn Store>]
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = (options, purpose);
        Vec::new()
    }
}

/// Adds `ca` to every store (replacing older kyso CAs) and reports what each store then holds.
pub fn install(ca: &CaCertificate, options: &TrustOptions) -> TrustReport {
    apply(ca, stores(options, Purpose::Install), |store| {
        store.install(ca)
    })
}

/// Removes every kyso CA from every store and reports what each store then holds.
pub fn uninstall(ca: &CaCertificate, options: &TrustOptions) -> TrustReport {
    apply(ca, stores(options, Purpose::Inspect), |store| {
        store.uninstall()
    })
}

/// Reports, per store, whether the current CA is trusted and whether older kyso CAs are there.
pub fn status(ca: &CaCertificate, options: &TrustOptions) -> TrustReport {
    apply(ca, stores(options, Purpose::Inspect), |_| Ok(()))
}

/// The shared NSS database `trust install` creates when the user has none yet (so a Chrome
/// installed later trusts kyso); `None` where the platform has no such database.
pub fn created_database(home: &Path) -> Option<PathBuf> {
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        Some(home.join(nss::SHARED_DB))
    }
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    {
        let _ = home;
        None
    }
}

/// Removes the database [`created_database`] names when it holds no certificate any more (kyso
/// made it, kyso's CA was its only content); keeps it otherwise. Returns whether it was removed.
pub fn remove_created_database(dir: &Path) -> Result<bool, TrustError> {
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        nss::remove_if_empty(dir)
    }
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    {
        let _ = dir;
        Ok(false)
    }
}

fn apply(
    ca: &CaCertificate,
    stores: Vec<Box<dyn Store>>,
    change: impl Fn(&dyn Store) -> Result<(), TrustError>,
) -> TrustReport {
    let reports = stores
        .iter()
        .map(|store| {
            // A failed change is the news; a failed read-back only when the change went well.
            let changed = change(store.as_ref()).err().map(|e| error_chain(&e));
            let presence = store.inspect(ca);
            let error = changed.or_else(|| presence.as_ref().err().map(|e| error_chain(e)));
            if let Some(error) = &error {
                tracing::warn!(store = %store.location(), %error, "certificate store");
            }
            let presence = presence.unwrap_or_default();
            StoreReport {
                store: store.kind(),
                location: store.location(),
                trusted: presence.trusted,
                older_kyso_cas: presence.older,
                error,
            }
        })
        .collect();
    TrustReport::new(ca, reports)
}

/// The error and its causes on one line.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Runs `program` with `args` and returns its output when it exits successfully.
pub(crate) fn run<I, S>(
    program: &'static str,
    hint: &'static str,
    args: I,
) -> Result<Output, TrustError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let output = output(program, hint, &args)?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(TrustError::ToolFailed {
            program,
            args: args
                .iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" "),
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}

/// Runs `program` with `args` (no standard input) and returns its output whatever its exit
/// status, for tools whose "not found" is a non-zero exit.
pub(crate) fn output<S: AsRef<OsStr>>(
    program: &'static str,
    hint: &'static str,
    args: &[S],
) -> Result<Output, TrustError> {
    Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => TrustError::ToolMissing {
                program,
                hint,
                source,
            },
            _ => TrustError::Io {
                path: PathBuf::from(program),
                source,
            },
        })
}

/// The DER of every certificate in a PEM text (tools print certificates as PEM; Windows'
/// store is read differently).
#[cfg(unix)]
pub(crate) fn pem_certificates(text: &[u8]) -> Vec<Vec<u8>> {
    CertificateDer::pem_slice_iter(text)
        .filter_map(Result::ok)
        .map(|der| der.to_vec())
        .collect()
}

/// `path` as a string for reports.
pub(crate) fn display(path: &Path) -> String {
    path.display().to_string()
}
