//! The macOS login keychain, through `security` (part of macOS). Adding a trusted root makes
//! macOS ask for the user's password: that dialog is the system's, not kyso's.
//!
//! Not yet verified on a Mac (compile-checked only).

use std::path::{Path, PathBuf};

use super::{
    display, output, pem_certificates, run, CaCertificate, Presence, Store, StoreKind, TrustError,
    NICKNAME,
};

const SECURITY: &str = "security";
const HINT: &str = "part of macOS";

/// The user's login keychain.
pub(super) struct LoginKeychain {
    path: PathBuf,
}

impl LoginKeychain {
    pub(super) fn new(home: &Path) -> Self {
        Self {
            path: home.join("Library/Keychains/login.keychain-db"),
        }
    }

    fn keychain(&self) -> String {
        display(&self.path)
    }

    /// SHA-1 hashes of the certificates whose common name contains [`NICKNAME`].
    fn kyso_hashes(&self) -> Result<Vec<String>, TrustError> {
        let keychain = self.keychain();
        // Exit status is non-zero when nothing matches.
        let found = output(
            SECURITY,
            HINT,
            &["find-certificate", "-a", "-Z", "-c", NICKNAME, &keychain],
        )?;
        Ok(String::from_utf8_lossy(&found.stdout)
            .lines()
            .filter_map(|line| line.trim().strip_prefix("SHA-1 hash:"))
            .map(|hash| hash.trim().to_owned())
            .collect())
    }
}

impl Store for LoginKeychain {
    fn kind(&self) -> StoreKind {
        StoreKind::MacosLoginKeychain
    }

    fn location(&self) -> String {
        self.keychain()
    }

    fn install(&self, ca: &CaCertificate) -> Result<(), TrustError> {
        self.uninstall()?;
        let keychain = self.keychain();
        let path = display(&ca.path);
        // Trusted as a root for TLS only (`-p ssl`), in the user's trust settings.
        run(
            SECURITY,
            HINT,
            [
                "add-trusted-cert",
                "-r",
                "trustRoot",
                "-p",
                "ssl",
                "-k",
                &keychain,
                &path,
            ],
        )
        .map(drop)
    }

    fn uninstall(&self) -> Result<(), TrustError> {
        let keychain = self.keychain();
        for hash in self.kyso_hashes()? {
            // `-t` also removes the trust settings kyso added.
            run(
                SECURITY,
                HINT,
                ["delete-certificate", "-t", "-Z", &hash, &keychain],
            )?;
        }
        Ok(())
    }

    fn inspect(&self, ca: &CaCertificate) -> Result<Presence, TrustError> {
        let keychain = self.keychain();
        let found = output(
            SECURITY,
            HINT,
            &["find-certificate", "-a", "-p", "-c", NICKNAME, &keychain],
        )?;
        let certificates = pem_certificates(&found.stdout);
        let present = certificates.contains(&ca.der);
        let older = certificates.iter().filter(|der| **der != ca.der).count();
        // Present is not trusted: ask macOS to evaluate the server certificate as a browser
        // would (SSL policy, host name localhost).
        let server = display(&ca.server_cert);
        let trusted = present
            && output(
                SECURITY,
                HINT,
                &[
                    "verify-cert",
                    "-q",
                    "-p",
                    "ssl",
                    "-s",
                    "localhost",
                    "-c",
                    &server,
                ],
            )?
            .status
            .success();
        Ok(Presence { trusted, older })
    }
}
