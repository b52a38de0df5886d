//! The audit log: one JSON line per operation in the data folder — time, origin, operation,
//! certificate thumbprint, document digest, result. Never a PIN, never document content.

use std::{fs::OpenOptions, io::Write, path::PathBuf, sync::Mutex};

use serde::Serialize;

/// One audited operation.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry<'a> {
    /// RFC 3339 time.
    pub time: String,
    /// The web origin, or `local` for programs using the API token.
    pub origin: &'a str,
    /// e.g. `sign.cms`, `sign.hash`, `consent`.
    pub operation: &'a str,
    /// Signing certificate, if any.
    pub certificate: Option<&'a str>,
    /// SHA-256 (hex) of what was signed, if any.
    pub digest: Option<&'a str>,
    /// `ok` or the error code.
    pub result: &'a str,
}

/// An append-only JSON-lines file (or nowhere, for tests that do not care).
#[derive(Debug)]
pub struct AuditLog {
    path: Option<PathBuf>,
    lock: Mutex<()>,
}

impl AuditLog {
    /// Appends to `path` (created 0600).
    pub fn new(path: Option<PathBuf>) -> Self {
        Self {
            path,
            lock: Mutex::new(()),
        }
    }

    /// Where the log is.
    pub fn path(&self) -> Option<&PathBuf> {
        self.path.as_ref()
    }

    /// Records `entry`; failures are logged, never fatal.
    pub fn record(&self, entry: &AuditEntry<'_>) {
        let Some(path) = &self.path else {
            return;
        };
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let result = (|| -> std::io::Result<()> {
            let mut line = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
            line.push(b'\n');
            let mut options = OpenOptions::new();
            options.create(true).append(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            options.open(path)?.write_all(&line)
        })();
        if let Err(e) = result {
            tracing::warn!(path = %path.display(), error = %e, "audit log not written");
        }
    }
}

/// Now as RFC 3339.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
