//! One agent per user: the first `kyso serve` or tray start holds an exclusive lock on
//! `<data_dir>/agent.lock` for its whole life; a second start finds the lock taken and says
//! where the first one runs (from `agent.json`). The OS drops the lock when the process dies, so
//! a crash never leaves a stale "already running".

use std::{
    fs::{File, OpenOptions, TryLockError},
    path::{Path, PathBuf},
};

use crate::error::{Coded, ErrorCode};

/// What a running agent writes to `<data_dir>/agent.json` so others can reach it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AgentFile {
    /// Process id.
    pub pid: u32,
    /// HTTPS port on localhost.
    pub port: u16,
    /// kyso version.
    pub version: String,
}

impl AgentFile {
    /// Reads the running agent's address, if one wrote it.
    pub fn read(data_dir: &Path) -> Option<Self> {
        let bytes = std::fs::read(data_dir.join("agent.json")).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// Why this process may not run the agent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstanceError {
    /// Another kyso agent of this user holds the lock.
    #[error("kyso is already running{}", match .0 { Some(a) => format!(" (pid {}, https://localhost:{})", a.pid, a.port), None => String::new() })]
    AlreadyRunning(Option<AgentFile>),
    /// The lock file cannot be created.
    #[error("cannot create the lock file {path}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl Coded for InstanceError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::AlreadyRunning(_) => ErrorCode::AlreadyRunning,
            Self::Io { .. } => ErrorCode::Io,
        }
    }
}

/// Held for as long as this process is the user's agent.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
}

/// Takes the per-user agent lock in `data_dir`.
pub fn acquire(data_dir: &Path) -> Result<InstanceLock, InstanceError> {
    let path = data_dir.join("agent.lock");
    let io = |source| InstanceError::Io {
        path: path.clone(),
        source,
    };
    crate::paths::create_private_dir(data_dir).map_err(io)?;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => Ok(InstanceLock { _file: file }),
        Err(TryLockError::WouldBlock) => {
            Err(InstanceError::AlreadyRunning(AgentFile::read(data_dir)))
        }
        Err(TryLockError::Error(e)) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_in_the_same_data_dir_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let first = acquire(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            dir.path().join("agent.json"),
            r#"{"pid": 42, "port": 47320, "version": "0.1.0"}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let second = acquire(dir.path());
        let message = second
            .as_ref()
            .map(|_| String::new())
            .unwrap_or_else(|e| e.to_string());
        assert!(
            matches!(second, Err(InstanceError::AlreadyRunning(Some(ref a))) if a.port == 47320),
            "{message}"
        );
        assert!(message.contains("https://localhost:47320"), "{message}");
        drop(first);
        assert!(acquire(dir.path()).is_ok());
    }
}
