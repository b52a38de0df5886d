//! The checks every request passes before it reaches the broker: the Host header is kyso's
//! own loopback name (DNS rebinding), the Origin is not refused, and a request without an
//! Origin (a local program) carries the local API token.

use std::sync::Arc;

use warp::{http::uri::Authority, Filter, Rejection};

use super::problem::reject;
use crate::{
    broker::{Caller, OriginVerdict},
    error::ErrorCode,
};

/// What the guard needs.
#[derive(Debug, Clone)]
pub struct GuardConfig {
    /// The port kyso listens on (the Host must name it).
    pub port: u16,
    /// The local API token for requests without an Origin.
    pub api_token: Arc<String>,
}

/// Whether `authority` is one of kyso's own names with kyso's port.
pub fn host_allowed(authority: Option<&Authority>, port: u16) -> bool {
    let Some(authority) = authority else {
        return false;
    };
    let host = authority.host().to_ascii_lowercase();
    matches!(host.as_str(), "localhost" | "127.0.0.1" | "[::1]" | "::1")
        && authority.port_u16() == Some(port)
}

/// Constant-time comparison, so the token cannot be guessed byte by byte from timing.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Extracts the [`Caller`] or rejects with `HOST_NOT_ALLOWED` / `ORIGIN_NOT_ALLOWED`.
pub fn caller(
    config: GuardConfig,
    policy: Arc<dyn Fn(&str) -> OriginVerdict + Send + Sync>,
) -> impl Filter<Extract = (Caller,), Error = Rejection> + Clone {
    warp::host::optional()
        .and(warp::header::optional::<String>("origin"))
        .and(warp::header::optional::<String>("authorization"))
        .and_then(
            move |authority: Option<Authority>,
                  origin: Option<String>,
                  authorization: Option<String>| {
                let config = config.clone();
                let policy = policy.clone();
                async move {
                    if !host_allowed(authority.as_ref(), config.port) {
                        return Err(reject(
                            ErrorCode::HostNotAllowed,
                            format!("Host {authority:?} is not kyso's"),
                        ));
                    }
                    match origin {
                        Some(origin) => {
                            if policy(&origin) == OriginVerdict::Denied {
                                Err(reject(
                                    ErrorCode::OriginNotAllowed,
                                    format!("origin {origin} refused"),
                                ))
                            } else {
                                Ok(Caller::Origin(origin))
                            }
                        }
                        None => {
                            let presented = authorization
                                .as_deref()
                                .and_then(|h| h.strip_prefix("Bearer "))
                                .unwrap_or_default();
                            if same_secret(presented.trim(), &config.api_token) {
                                Ok(Caller::Local)
                            } else {
                                Err(reject(
                                    ErrorCode::OriginNotAllowed,
                                    "no Origin and no local API token",
                                ))
                            }
                        }
                    }
                }
            },
        )
}

/// A closure checking origins against `policy`.
pub fn verdict_of(
    broker: Arc<crate::broker::Broker>,
) -> Arc<dyn Fn(&str) -> OriginVerdict + Send + Sync> {
    Arc::new(move |origin: &str| broker.origins().verdict(origin))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authority(text: &str) -> Option<Authority> {
        text.parse().ok()
    }

    #[test]
    fn only_loopback_names_with_our_port_pass() {
        assert!(host_allowed(authority("localhost:47320").as_ref(), 47320));
        assert!(host_allowed(authority("127.0.0.1:47320").as_ref(), 47320));
        assert!(host_allowed(authority("[::1]:47320").as_ref(), 47320));
        assert!(!host_allowed(
            authority("evil.example:47320").as_ref(),
            47320
        ));
        assert!(!host_allowed(authority("localhost:1").as_ref(), 47320));
        assert!(!host_allowed(authority("localhost").as_ref(), 47320));
        assert!(!host_allowed(None, 47320));
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }
}
