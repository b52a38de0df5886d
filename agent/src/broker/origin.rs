//! Which web origins may use the token: configured allow/deny lists, the user's remembered
//! answers, and the rules every request passes (https only, except loopback pages in dev mode).

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    sync::Mutex,
};

use serde::{Deserialize, Serialize};

use crate::config::Config;

/// The verdict for an origin before asking anyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginVerdict {
    /// Allowed by configuration or a remembered "always".
    Allowed,
    /// Refused by configuration, a remembered "deny", or the rules.
    Denied,
    /// Unknown: the user must be asked.
    Ask,
}

/// The user's remembered answers (`sites.json` in the config folder).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Remembered {
    allowed: BTreeSet<String>,
    denied: BTreeSet<String>,
}

/// Origin policy and remembered consent.
#[derive(Debug)]
pub struct OriginPolicy {
    allowed: BTreeSet<String>,
    denied: BTreeSet<String>,
    dev_mode: bool,
    remembered: Mutex<Remembered>,
    store: Option<PathBuf>,
}

/// Lower-cases scheme and host and drops a default port, so `HTTPS://Portal.gov.vn:443` and
/// `https://portal.gov.vn` are the same origin. `None` if it is not a tuple origin.
pub fn normalize(origin: &str) -> Option<String> {
    let (scheme, rest) = origin.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return None;
    }
    let rest = rest.to_ascii_lowercase();
    let rest = match (
        scheme.as_str(),
        rest.strip_suffix(":443"),
        rest.strip_suffix(":80"),
    ) {
        ("https", Some(host), _) => host.to_owned(),
        ("http", _, Some(host)) => host.to_owned(),
        _ => rest,
    };
    Some(format!("{scheme}://{rest}"))
}

fn host_of(origin: &str) -> &str {
    let rest = origin.split_once("://").map(|(_, r)| r).unwrap_or(origin);
    if let Some(end) = rest.strip_prefix('[').and_then(|r| r.find(']')) {
        return &rest[..end + 2];
    }
    rest.rsplit_once(':').map(|(h, _)| h).unwrap_or(rest)
}

impl OriginPolicy {
    /// Policy from the configuration and the remembered answers in `store` (if any).
    pub fn new(config: &Config, store: Option<PathBuf>) -> Self {
        let list = |items: &[String]| items.iter().filter_map(|o| normalize(o)).collect();
        let remembered = store
            .as_deref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        Self {
            allowed: list(&config.allowed_origins),
            denied: list(&config.denied_origins),
            dev_mode: config.dev_mode,
            remembered: Mutex::new(remembered),
            store,
        }
    }

    /// What to do with `origin` (as sent by the browser).
    pub fn verdict(&self, origin: &str) -> OriginVerdict {
        let Some(origin) = normalize(origin) else {
            return OriginVerdict::Denied;
        };
        if self.denied.contains(&origin) {
            return OriginVerdict::Denied;
        }
        let scheme_ok = if origin.starts_with("https://") {
            true
        } else if origin.starts_with("http://") {
            // Plain http pages can be altered in transit; only local development pages.
            self.dev_mode && matches!(host_of(&origin), "localhost" | "127.0.0.1" | "[::1]")
        } else {
            false
        };
        if !scheme_ok {
            return OriginVerdict::Denied;
        }
        if self.allowed.contains(&origin) {
            return OriginVerdict::Allowed;
        }
        let remembered = self
            .remembered
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if remembered.denied.contains(&origin) {
            OriginVerdict::Denied
        } else if remembered.allowed.contains(&origin) {
            OriginVerdict::Allowed
        } else {
            OriginVerdict::Ask
        }
    }

    /// Whether a CORS preflight from `origin` may be answered (everything not refused).
    pub fn may_preflight(&self, origin: &str) -> bool {
        self.verdict(origin) != OriginVerdict::Denied
    }

    /// Remembers the user's "always" or "deny" for `origin`.
    pub fn remember(&self, origin: &str, allowed: bool) {
        let Some(origin) = normalize(origin) else {
            return;
        };
        let mut remembered = self
            .remembered
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if allowed {
            remembered.denied.remove(&origin);
            remembered.allowed.insert(origin);
        } else {
            remembered.allowed.remove(&origin);
            remembered.denied.insert(origin);
        }
        if let Some(path) = &self.store {
            save(path, &remembered);
        }
    }

    /// Forgets a remembered answer (the tray's "revoke").
    pub fn forget(&self, origin: &str) {
        let Some(origin) = normalize(origin) else {
            return;
        };
        let mut remembered = self
            .remembered
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        remembered.allowed.remove(&origin);
        remembered.denied.remove(&origin);
        if let Some(path) = &self.store {
            save(path, &remembered);
        }
    }
}

fn save(path: &Path, remembered: &Remembered) {
    let result = serde_json::to_vec_pretty(remembered)
        .map_err(std::io::Error::other)
        .and_then(|bytes| crate::paths::write_private_file(path, &bytes));
    if let Err(e) = result {
        tracing::warn!(path = %path.display(), error = %e, "could not save site permissions");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(config: Config) -> OriginPolicy {
        OriginPolicy::new(&config, None)
    }

    #[test]
    fn origins_normalize_case_and_default_ports() {
        assert_eq!(
            normalize("HTTPS://Portal.GOV.vn:443").as_deref(),
            Some("https://portal.gov.vn")
        );
        assert_eq!(normalize("null"), None);
        assert_eq!(normalize("https://a.vn/path"), None);
        assert_eq!(normalize("https://user@a.vn"), None);
    }

    #[test]
    fn http_pages_are_refused_unless_local_in_dev_mode() {
        let strict = policy(Config::default());
        assert_eq!(
            strict.verdict("http://localhost:8080"),
            OriginVerdict::Denied
        );
        assert_eq!(strict.verdict("http://portal.vn"), OriginVerdict::Denied);
        let dev = policy(Config {
            dev_mode: true,
            ..Config::default()
        });
        assert_eq!(dev.verdict("http://localhost:8080"), OriginVerdict::Ask);
        assert_eq!(dev.verdict("http://127.0.0.1:3000"), OriginVerdict::Ask);
        assert_eq!(dev.verdict("http://portal.vn"), OriginVerdict::Denied);
    }

    #[test]
    fn deny_list_wins_over_allow_list_and_unknown_origins_are_asked() {
        let p = policy(Config {
            allowed_origins: vec!["https://a.vn".into(), "https://b.vn".into()],
            denied_origins: vec!["https://b.vn".into()],
            ..Config::default()
        });
        assert_eq!(p.verdict("https://a.vn"), OriginVerdict::Allowed);
        assert_eq!(p.verdict("https://b.vn"), OriginVerdict::Denied);
        assert_eq!(p.verdict("https://c.vn"), OriginVerdict::Ask);
        assert_eq!(p.verdict("null"), OriginVerdict::Denied);
    }

    #[test]
    fn remembered_answers_persist_across_restarts() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = dir.path().join("sites.json");
        let first = OriginPolicy::new(&Config::default(), Some(store.clone()));
        first.remember("https://a.vn", true);
        first.remember("https://evil.example", false);
        let second = OriginPolicy::new(&Config::default(), Some(store));
        assert_eq!(second.verdict("https://a.vn"), OriginVerdict::Allowed);
        assert_eq!(
            second.verdict("https://evil.example"),
            OriginVerdict::Denied
        );
        second.forget("https://a.vn");
        assert_eq!(second.verdict("https://a.vn"), OriginVerdict::Ask);
    }
}
