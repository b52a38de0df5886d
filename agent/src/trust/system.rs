//! The Linux system CA store of Debian-family distributions (`ca-certificates`): an anchor in
//! `/usr/local/share/ca-certificates`, merged into `/etc/ssl/certs/ca-certificates.crt` by
//! `update-ca-certificates`. Needs root. Programs using the system bundle (curl, Python, Go,
//! Java via its own import) then trust kyso; browsers on Linux use NSS instead.

use std::path::PathBuf;

use super::{
    display, pem_certificates, run, CaCertificate, Presence, Store, StoreKind, TrustError,
};

const UPDATE: &str = "update-ca-certificates";
const HINT: &str = "install ca-certificates";

/// The system store's files.
pub(super) struct SystemStore {
    /// kyso's anchor file.
    anchor: PathBuf,
    /// The merged bundle `update-ca-certificates` writes.
    bundle: PathBuf,
}

impl Default for SystemStore {
    fn default() -> Self {
        Self {
            anchor: PathBuf::from("/usr/local/share/ca-certificates/kyso-local-ca.crt"),
            bundle: PathBuf::from("/etc/ssl/certs/ca-certificates.crt"),
        }
    }
}

impl SystemStore {
    fn io(&self, source: std::io::Error) -> TrustError {
        if source.kind() == std::io::ErrorKind::PermissionDenied {
            TrustError::NeedsRoot(source)
        } else {
            TrustError::Io {
                path: self.anchor.clone(),
                source,
            }
        }
    }
}

impl Store for SystemStore {
    fn kind(&self) -> StoreKind {
        StoreKind::System
    }

    fn location(&self) -> String {
        display(&self.anchor)
    }

    fn install(&self, ca: &CaCertificate) -> Result<(), TrustError> {
        let pem = std::fs::read(&ca.path).map_err(|source| TrustError::Io {
            path: ca.path.clone(),
            source,
        })?;
        // A public certificate: world-readable like the other anchors, unlike our 0600 copy.
        std::fs::write(&self.anchor, pem).map_err(|e| self.io(e))?;
        run(UPDATE, HINT, std::iter::empty::<&str>()).map(drop)
    }

    fn uninstall(&self) -> Result<(), TrustError> {
        match std::fs::remove_file(&self.anchor) {
            Ok(()) => run(UPDATE, HINT, std::iter::empty::<&str>()).map(drop),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.io(e)),
        }
    }

    fn inspect(&self, ca: &CaCertificate) -> Result<Presence, TrustError> {
        let anchor = match std::fs::read(&self.anchor) {
            Ok(pem) => pem_certificates(&pem),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(self.io(e)),
        };
        let bundle = std::fs::read(&self.bundle).map_err(|source| TrustError::Io {
            path: self.bundle.clone(),
            source,
        })?;
        let older = anchor.iter().filter(|der| **der != ca.der).count();
        // Trusted once the merged bundle has it, i.e. `update-ca-certificates` ran.
        let trusted = pem_certificates(&bundle).contains(&ca.der);
        Ok(Presence { trusted, older })
    }
}
