//! `kyso install` / `kyso uninstall` for the current user: the local HTTPS certificate, its
//! trust in the browsers' stores, and start at login — and undoing all of it.
//!
//! Installing records in `<data_dir>/install.json` which folders did not exist before it ran
//! (the XDG config folder, `~/.pki/nssdb`, ...), so uninstalling removes exactly what
//! installing added and nothing the user had. Both are idempotent: installing twice keeps the
//! first record, uninstalling twice finds nothing left to do.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::autostart::{self, AutostartError, AutostartStatus};
use crate::error::{Coded, ErrorCode};
use crate::tls::{self, TlsError};
use crate::trust::{self, CaCertificate, TrustError, TrustOptions, TrustReport};

/// The record of what `install` created, in the data folder.
const RECORD: &str = "install.json";

/// Why installing or uninstalling stopped. Store-by-store trust failures are not errors here:
/// they are in the report, next to the stores that worked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    /// The local CA and server certificate could not be made.
    #[error("the local HTTPS certificate could not be prepared")]
    Tls(#[from] TlsError),
    /// The CA file could not be read for the stores.
    #[error("the local CA could not be read")]
    Trust(#[from] TrustError),
    /// Start at login could not be changed.
    #[error("start at login could not be changed")]
    Autostart(#[from] AutostartError),
    /// The install record or a folder could not be read, written or removed.
    #[error("cannot read, write or remove {}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl Coded for InstallError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Tls(e) => e.code(),
            Self::Trust(e) => e.code(),
            Self::Autostart(e) => e.code(),
            Self::Io { .. } => ErrorCode::Io,
        }
    }
}

/// Where kyso's files live for this user.
#[derive(Debug, Clone)]
pub struct InstallPaths {
    /// The data folder (local TLS files, logs, audit log).
    pub data_dir: PathBuf,
    /// The config folder (config.toml, api-token, allowed sites).
    pub config_dir: PathBuf,
    /// The program start at login runs (the installed binary).
    pub program: PathBuf,
}

/// What `install` did, read back from each place.
#[derive(Debug, Clone, Serialize)]
pub struct InstallReport {
    /// A new local CA was made by this run.
    pub new_ca: bool,
    /// Each browser store and whether it trusts the CA now.
    pub trust: TrustReport,
    /// Start at login.
    pub autostart: AutostartStatus,
}

/// What `uninstall` did.
#[derive(Debug, Clone, Serialize)]
pub struct UninstallReport {
    /// Each store, after every kyso CA was removed from it.
    pub trust: TrustReport,
    /// Start at login (now off).
    pub autostart: AutostartStatus,
    /// Files and folders removed (besides store entries).
    pub removed: Vec<PathBuf>,
    /// Folders kept: the user's data and settings, unless purged.
    pub kept: Vec<PathBuf>,
}

/// What an install created; merged over repeated installs.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Record {
    /// Folders that did not exist before kyso installed, outermost first.
    created_dirs: Vec<PathBuf>,
    /// The NSS database kyso created because the user had none.
    created_nss_database: Option<PathBuf>,
}

impl Record {
    fn read(data_dir: &Path) -> Self {
        std::fs::read(data_dir.join(RECORD))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Remembers the folders on the way to `path` that do not exist yet.
    fn note_missing(&mut self, path: &Path) {
        let mut missing: Vec<PathBuf> = path
            .ancestors()
            .take_while(|dir| !dir.as_os_str().is_empty() && !dir.exists())
            .map(Path::to_path_buf)
            .collect();
        missing.reverse();
        for dir in missing {
            if !self.created_dirs.contains(&dir) {
                self.created_dirs.push(dir);
            }
        }
    }
}

/// Installs kyso for the current user: makes the local CA and server certificate if needed,
/// trusts the CA in every browser store found, and starts `paths.program` at login.
pub fn install(
    paths: &InstallPaths,
    options: &TrustOptions,
    now: OffsetDateTime,
) -> Result<InstallReport, InstallError> {
    let mut record = Record::read(&paths.data_dir);
    record.note_missing(&paths.data_dir);
    if let Some(entry) = autostart::entry_file() {
        record.note_missing(&entry);
    }
    if let Some(database) = trust::created_database(&options.home) {
        if !database.join("cert9.db").exists() && record.created_nss_database.is_none() {
            record.note_missing(&database);
            record.created_nss_database = Some(database);
        }
    }
    // Written first: an install interrupted halfway can still be undone.
    write_record(&paths.data_dir, &record)?;

    let files = tls::ensure_local_tls(&paths.data_dir.join("tls"), now)?;
    let ca = CaCertificate::from_files(&files)?;
    let trust = trust::install(&ca, options);
    let autostart = autostart::enable(&paths.program)?;
    Ok(InstallReport {
        new_ca: files.renewed,
        trust,
        autostart,
    })
}

/// Undoes [`install`]: start at login off, every kyso CA out of every store, and the folders
/// and NSS database install created removed when nothing else is in them. The data and config
/// folders (logs, audit log, settings) are kept unless `purge`.
pub fn uninstall(
    paths: &InstallPaths,
    options: &TrustOptions,
    purge: bool,
) -> Result<UninstallReport, InstallError> {
    let record = Record::read(&paths.data_dir);
    let autostart = autostart::disable()?;
    let trust = trust::uninstall(&current_ca(&paths.data_dir), options);

    let mut removed = Vec::new();
    if let Some(database) = &record.created_nss_database {
        if trust::remove_created_database(database)? {
            removed.push(database.clone());
        }
    }
    let mut kept = Vec::new();
    if purge {
        for dir in [&paths.data_dir, &paths.config_dir] {
            match std::fs::remove_dir_all(dir) {
                Ok(()) => removed.push(dir.clone()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(InstallError::Io {
                        path: dir.clone(),
                        source,
                    })
                }
            }
        }
    } else {
        let path = paths.data_dir.join(RECORD);
        match std::fs::remove_file(&path) {
            Err(source) if source.kind() != std::io::ErrorKind::NotFound => {
                return Err(InstallError::Io { path, source })
            }
            _ => {}
        }
        kept.extend(
            [&paths.data_dir, &paths.config_dir]
                .into_iter()
                .filter(|dir| dir.exists())
                .cloned(),
        );
    }
    // Innermost first; a folder that is not empty (the kept data, the user's own files) stays.
    for dir in record.created_dirs.iter().rev() {
        if std::fs::remove_dir(dir).is_ok() {
            removed.push(dir.clone());
        }
    }
    Ok(UninstallReport {
        trust,
        autostart,
        removed,
        kept,
    })
}

/// The CA to report on while removing: the current one if its file is there. Without it the
/// stores are still cleared (they are matched by kyso's nickname, not by this certificate).
fn current_ca(data_dir: &Path) -> CaCertificate {
    let dir = data_dir.join("tls");
    CaCertificate::from_dir(&dir).unwrap_or(CaCertificate {
        path: dir.join(tls::CA_FILE),
        der: Vec::new(),
        thumbprint: String::new(),
        server_cert: dir.join(tls::CERT_FILE),
    })
}

fn write_record(data_dir: &Path, record: &Record) -> Result<(), InstallError> {
    let path = data_dir.join(RECORD);
    let json = serde_json::to_vec_pretty(record).map_err(|e| InstallError::Io {
        path: path.clone(),
        source: e.into(),
    })?;
    crate::paths::write_private_file(&path, &json)
        .map_err(|source| InstallError::Io { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_lists_missing_folders_outermost_first_and_only_once() {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut record = Record::default();
        record.note_missing(&root.path().join("a/b/c"));
        record.note_missing(&root.path().join("a/b/d"));
        assert_eq!(
            record.created_dirs,
            vec![
                root.path().join("a"),
                root.path().join("a/b"),
                root.path().join("a/b/c"),
                root.path().join("a/b/d"),
            ]
        );
    }
}
