//! The Windows current user's Trusted Root store, through `certutil -user` (part of Windows)
//! to add and remove, and PowerShell's certificate drive to list (its output, unlike
//! certutil's, is not translated on non-English Windows). Adding a root makes Windows show its
//! own confirmation dialog.
//!
//! Not yet verified on Windows (compile-checked only).

use sha1::{Digest, Sha1};

use super::{display, run, CaCertificate, Presence, Store, StoreKind, TrustError, NICKNAME};

const CERTUTIL: &str = "certutil";
const POWERSHELL: &str = "powershell";
const HINT: &str = "part of Windows";

/// `Cert:\CurrentUser\Root`.
pub(super) struct UserRoot;

impl UserRoot {
    /// Upper-case SHA-1 thumbprints of the kyso CAs in the store.
    fn kyso_thumbprints(&self) -> Result<Vec<String>, TrustError> {
        // NICKNAME is a constant without quotes, so it is safe inside the single-quoted pattern.
        let script = format!(
            "Get-ChildItem Cert:\\CurrentUser\\Root | Where-Object {{ $_.Subject -like '*CN={NICKNAME}*' }} | ForEach-Object {{ $_.Thumbprint }}"
        );
        let listed = run(
            POWERSHELL,
            HINT,
            ["-NoProfile", "-NonInteractive", "-Command", &script],
        )?;
        Ok(String::from_utf8_lossy(&listed.stdout)
            .lines()
            .map(|line| line.trim().to_ascii_uppercase())
            .filter(|line| !line.is_empty())
            .collect())
    }
}

/// Windows names certificates by their SHA-1 thumbprint (upper-case hex).
fn sha1_thumbprint(der: &[u8]) -> String {
    hex::encode_upper(Sha1::digest(der))
}

impl Store for UserRoot {
    fn kind(&self) -> StoreKind {
        StoreKind::WindowsUserRoot
    }

    fn location(&self) -> String {
        "Cert:\\CurrentUser\\Root".to_owned()
    }

    fn install(&self, ca: &CaCertificate) -> Result<(), TrustError> {
        let current = sha1_thumbprint(&ca.der);
        for thumbprint in self.kyso_thumbprints()? {
            if thumbprint != current {
                run(CERTUTIL, HINT, ["-user", "-delstore", "Root", &thumbprint])?;
            }
        }
        let path = display(&ca.path);
        run(CERTUTIL, HINT, ["-user", "-addstore", "Root", &path]).map(drop)
    }

    fn uninstall(&self) -> Result<(), TrustError> {
        for thumbprint in self.kyso_thumbprints()? {
            run(CERTUTIL, HINT, ["-user", "-delstore", "Root", &thumbprint])?;
        }
        Ok(())
    }

    fn inspect(&self, ca: &CaCertificate) -> Result<Presence, TrustError> {
        let current = sha1_thumbprint(&ca.der);
        let thumbprints = self.kyso_thumbprints()?;
        Ok(Presence {
            trusted: thumbprints.contains(&current),
            older: thumbprints.iter().filter(|t| **t != current).count(),
        })
    }
}
