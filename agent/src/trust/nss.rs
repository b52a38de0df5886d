//! NSS databases (Chrome/Chromium's shared `~/.pki/nssdb`, Firefox profiles), through
//! `certutil` from NSS (Debian/Ubuntu package `libnss3-tools`).
//!
//! NSS refuses a second certificate under a nickname already used by a different subject, and
//! every renewal makes a CA with a new subject (its name carries the date), so installing first
//! removes the older kyso CAs: their key is gone, they can no longer vouch for anything kyso
//! serves.

use std::path::{Path, PathBuf};

use super::{
    display, pem_certificates, run, CaCertificate, Presence, Purpose, Store, StoreKind, TrustError,
    NICKNAME,
};

const CERTUTIL: &str = "certutil";
const HINT: &str = "install libnss3-tools (Debian/Ubuntu) or nss-tools (Fedora)";

/// Trust flags for a CA trusted to issue TLS server certificates (SSL field `C`), and nothing
/// else (no e-mail, no code signing).
const TRUST_FLAGS: &str = "C,,";

/// Where Firefox keeps profiles: the classic folder, the snap and the Flatpak.
const FIREFOX_ROOTS: [&str; 3] = [
    ".mozilla/firefox",
    "snap/firefox/common/.mozilla/firefox",
    ".var/app/org.mozilla.firefox/.mozilla/firefox",
];

/// The shared database Chrome and Chromium read, and the snap Chromium's own copy.
pub(super) const SHARED_DB: &str = ".pki/nssdb";
const CHROMIUM_SNAP_DB: &str = "snap/chromium/current/.pki/nssdb";

/// The NSS databases under `home`. The shared database is listed for installing even when it
/// does not exist yet (it is created, so a Chrome installed later trusts kyso); otherwise only
/// existing databases are.
pub(super) fn stores(home: &Path, purpose: Purpose) -> Vec<Box<dyn Store>> {
    let mut stores: Vec<Box<dyn Store>> = Vec::new();
    let shared = home.join(SHARED_DB);
    if purpose == Purpose::Install || is_database(&shared) {
        stores.push(Box::new(NssDatabase::new(shared, StoreKind::NssShared)));
    }
    let snap = home.join(CHROMIUM_SNAP_DB);
    if is_database(&snap) {
        stores.push(Box::new(NssDatabase::new(snap, StoreKind::NssShared)));
    }
    for root in FIREFOX_ROOTS {
        let Ok(entries) = std::fs::read_dir(home.join(root)) else {
            continue;
        };
        let mut profiles: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| is_database(path))
            .collect();
        profiles.sort();
        for profile in profiles {
            stores.push(Box::new(NssDatabase::new(profile, StoreKind::Firefox)));
        }
    }
    stores
}

/// The files `certutil -N` makes in an SQLite NSS database folder.
const DATABASE_FILES: [&str; 3] = ["cert9.db", "key4.db", "pkcs11.txt"];

/// Deletes the NSS database in `dir` if it holds no certificate at all, then the folder if
/// nothing else is in it. For undoing a database kyso itself created (`kyso uninstall`):
/// one a browser or the user has put anything into is kept. Returns whether it was removed.
pub(super) fn remove_if_empty(dir: &Path) -> Result<bool, TrustError> {
    if !is_database(dir) {
        return Ok(false);
    }
    let database = NssDatabase::new(dir.to_path_buf(), StoreKind::NssShared);
    let listing = database.certutil(&["-L"])?;
    if !parse_listing(&String::from_utf8_lossy(&listing)).is_empty() {
        return Ok(false);
    }
    for name in DATABASE_FILES {
        let path = dir.join(name);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(TrustError::Io { path, source: e })
            }
            _ => {}
        }
    }
    // Fails (and keeps the folder) when something else lives there.
    Ok(std::fs::remove_dir(dir).is_ok())
}

/// A folder holding an SQLite NSS database (`cert9.db`; the old `cert8.db` format is not
/// supported by current browsers).
fn is_database(dir: &Path) -> bool {
    dir.join("cert9.db").is_file()
}

/// One NSS database.
struct NssDatabase {
    dir: PathBuf,
    kind: StoreKind,
}

impl NssDatabase {
    fn new(dir: PathBuf, kind: StoreKind) -> Self {
        Self { dir, kind }
    }

    /// `sql:<dir>`, the argument of `certutil -d`.
    fn db(&self) -> String {
        format!("sql:{}", self.dir.display())
    }

    fn certutil(&self, args: &[&str]) -> Result<Vec<u8>, TrustError> {
        let db = self.db();
        let mut all = vec!["-d", db.as_str()];
        all.extend_from_slice(args);
        Ok(run(CERTUTIL, HINT, all)?.stdout)
    }

    /// The kyso entries: each nickname with the trust flags of each certificate under it.
    fn kyso_entries(&self) -> Result<Vec<(String, Vec<String>)>, TrustError> {
        let listing = self.certutil(&["-L"])?;
        let mut entries: Vec<(String, Vec<String>)> = Vec::new();
        for (nickname, trust) in parse_listing(&String::from_utf8_lossy(&listing)) {
            if !nickname.starts_with(NICKNAME) {
                continue;
            }
            match entries.iter_mut().find(|(n, _)| *n == nickname) {
                Some((_, flags)) => flags.push(trust),
                None => entries.push((nickname, vec![trust])),
            }
        }
        Ok(entries)
    }

    /// Creates an empty database (no password, as browsers create theirs).
    fn create(&self) -> Result<(), TrustError> {
        crate::paths::create_private_dir(&self.dir).map_err(|source| TrustError::Io {
            path: self.dir.clone(),
            source,
        })?;
        self.certutil(&["-N", "--empty-password"]).map(drop)
    }
}

impl Store for NssDatabase {
    fn kind(&self) -> StoreKind {
        self.kind
    }

    fn location(&self) -> String {
        display(&self.dir)
    }

    fn install(&self, ca: &CaCertificate) -> Result<(), TrustError> {
        if !is_database(&self.dir) {
            self.create()?;
        }
        self.uninstall()?;
        let path = ca.path.to_string_lossy();
        self.certutil(&["-A", "-n", NICKNAME, "-t", TRUST_FLAGS, "-i", &path])
            .map(drop)
    }

    fn uninstall(&self) -> Result<(), TrustError> {
        // `certutil -D` removes one certificate per call; the listing has a line for each.
        for (nickname, certificates) in self.kyso_entries()? {
            for _ in &certificates {
                self.certutil(&["-D", "-n", &nickname])?;
            }
        }
        Ok(())
    }

    fn inspect(&self, ca: &CaCertificate) -> Result<Presence, TrustError> {
        let mut presence = Presence::default();
        for (nickname, flags) in self.kyso_entries()? {
            let pem = self.certutil(&["-L", "-n", &nickname, "-a"])?;
            let certificates = pem_certificates(&pem);
            let current = certificates.iter().filter(|der| **der == ca.der).count();
            presence.older += certificates.len() - current;
            // The listing does not say which line is which certificate under a shared
            // nickname; kyso never makes such pairs, so requiring every line to trust is exact
            // for kyso's entries and errs on "not trusted" otherwise.
            if current > 0 && flags.iter().all(|f| trusts_tls_servers(f)) {
                presence.trusted = true;
            }
        }
        Ok(presence)
    }
}

/// Whether NSS trust flags (`SSL,S/MIME,JAR/XPI`) make a CA trusted for TLS servers: `C` in
/// the first field.
fn trusts_tls_servers(flags: &str) -> bool {
    flags.split(',').next().is_some_and(|ssl| ssl.contains('C'))
}

/// The `(nickname, trust flags)` lines of `certutil -L`. The nickname may contain spaces; the
/// flags are the last word of the line.
fn parse_listing(text: &str) -> Vec<(String, String)> {
    text.lines()
        .skip_while(|line| !line.trim_start().starts_with("SSL,S/MIME,JAR/XPI"))
        .skip(1)
        .filter_map(|line| {
            let line = line.trim_end();
            let (nickname, flags) = line.rsplit_once(char::is_whitespace)?;
            let nickname = nickname.trim();
            (!nickname.is_empty()).then(|| (nickname.to_owned(), flags.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTING: &str = "
Certificate Nickname                                         Trust Attributes
                                                             SSL,S/MIME,JAR/XPI

kyso local CA                                                C,,  
kyso local CA (an) 2025-01-02                                CT,C,C
Some Other Root                                              c,c,c
";

    #[test]
    fn listing_lines_give_nicknames_with_spaces_and_their_flags() {
        assert_eq!(
            parse_listing(LISTING),
            vec![
                ("kyso local CA".to_owned(), "C,,".to_owned()),
                (
                    "kyso local CA (an) 2025-01-02".to_owned(),
                    "CT,C,C".to_owned()
                ),
                ("Some Other Root".to_owned(), "c,c,c".to_owned()),
            ]
        );
        assert!(parse_listing("").is_empty());
    }

    #[test]
    fn only_c_in_the_ssl_field_means_trusted_for_tls_servers() {
        assert!(trusts_tls_servers("C,,"));
        assert!(trusts_tls_servers("CT,,"));
        assert!(!trusts_tls_servers("c,,"));
        assert!(!trusts_tls_servers(",C,"));
        assert!(!trusts_tls_servers(",,"));
    }
}
