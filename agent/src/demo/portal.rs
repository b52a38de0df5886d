//! The demo portal: a small public-service-style site on its own https origin that uses the
//! agent the way a real portal does — the browser SDK for everything on the token, and a
//! server-side login check ([`crate::login::ChallengeVerifier`]) against the demo root.
//!
//! Routes: `GET /` (the page), `GET /app.js`, `GET /style.css`, `GET /kyso.js` (the SDK, the
//! same file the agent serves), `POST /api/challenge`, `POST /api/login`.

use std::{
    convert::Infallible,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, SystemTime},
};

use serde::Deserialize;
use warp::{
    http::{header, HeaderValue, StatusCode},
    reply::Response,
    Filter, Reply,
};

use crate::{
    broker::ErrorBody,
    error::{Coded, ErrorCode},
    login::{ChallengeVerifier, LoginError},
};

const INDEX_HTML: &str = include_str!("../../web/portal/index.html");
const APP_JS: &str = include_str!("../../web/portal/app.js");
const STYLE_CSS: &str = include_str!("../../web/portal/style.css");

/// How long a login challenge stays valid.
const CHALLENGE_LIFETIME: Duration = Duration::from_secs(120);

/// Why the portal could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PortalError {
    /// A certificate or key file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The PEM file holds no certificate or no private key.
    #[error("{0} holds no usable certificate or private key")]
    Pem(PathBuf),
    /// rustls refused the certificate and key.
    #[error("the portal's TLS certificate was refused")]
    Tls(#[from] rustls::Error),
    /// The trust anchor for logins is not a PEM certificate.
    #[error("the login trust anchor {0} holds no certificate")]
    Root(PathBuf),
}

impl Coded for PortalError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Read { .. } => ErrorCode::Io,
            Self::Pem(_) | Self::Tls(_) | Self::Root(_) => ErrorCode::Internal,
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, PortalError> {
    std::fs::read(path).map_err(|source| PortalError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// DER certificates in a PEM file.
pub fn pem_certificates(path: &Path) -> Result<Vec<Vec<u8>>, PortalError> {
    let pem = read(path)?;
    rustls_pemfile::certs(&mut pem.as_slice())
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| PortalError::Read {
            path: path.to_path_buf(),
            source,
        })
}

/// A rustls server configuration for the portal from a PEM chain and key. Written here rather
/// than through `tls::server_config` because the portal may use a certificate kyso did not
/// make (the end-to-end tests give it one from their own CA).
pub fn tls_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, PortalError> {
    let chain: Vec<_> = pem_certificates(cert)?
        .into_iter()
        .map(rustls::pki_types::CertificateDer::from)
        .collect();
    let key_pem = read(key)?;
    let key_der = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|source| PortalError::Read {
            path: key.to_path_buf(),
            source,
        })?
        .ok_or_else(|| PortalError::Pem(key.to_path_buf()))?;
    if chain.is_empty() {
        return Err(PortalError::Pem(cert.to_path_buf()));
    }
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(chain, key_der)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// What the portal's routes need.
#[derive(Debug, Clone)]
pub struct PortalState {
    /// Issues and checks login challenges.
    pub verifier: Arc<ChallengeVerifier>,
    /// The agent's port, written into the page.
    pub agent_port: u16,
}

impl PortalState {
    /// A portal trusting the certificates in `root_pem` for logins.
    pub fn new(root_pem: &Path, agent_port: u16) -> Result<Self, PortalError> {
        let roots = pem_certificates(root_pem)?;
        if roots.is_empty() {
            return Err(PortalError::Root(root_pem.to_path_buf()));
        }
        Ok(Self {
            verifier: Arc::new(ChallengeVerifier::new(roots, CHALLENGE_LIFETIME)),
            agent_port,
        })
    }
}

/// `POST /api/login`.
#[derive(Debug, Deserialize)]
struct LoginRequest {
    challenge: String,
    cms: String,
}

/// Who logged in, as a portal would show it.
#[derive(Debug, serde::Serialize)]
struct LoginAnswer {
    name: Option<String>,
    organization: Option<String>,
    identifiers: std::collections::BTreeMap<String, String>,
    subject: String,
    issuer: String,
    not_after: String,
}

fn error_answer(code: ErrorCode, status: StatusCode) -> Response {
    let body = serde_json::json!({ "error": ErrorBody::from_code(code) });
    warp::reply::with_status(warp::reply::json(&body), status).into_response()
}

fn login(state: &PortalState, request: &LoginRequest) -> Response {
    let now = SystemTime::now();
    let signer = match state.verifier.verify(&request.challenge, &request.cms, now) {
        Ok(der) => der,
        Err(error) => {
            tracing::info!(error = %error, "demo portal: login refused");
            let status = match error {
                LoginError::Base64(..) => StatusCode::BAD_REQUEST,
                _ => StatusCode::UNAUTHORIZED,
            };
            return error_answer(error.code(), status);
        }
    };
    match kyso_certs::summarize(&signer, time::OffsetDateTime::now_utc()) {
        Ok(summary) => warp::reply::json(&LoginAnswer {
            name: summary.common_name,
            organization: summary.organization,
            identifiers: summary.identifiers,
            subject: summary.subject,
            issuer: summary.issuer,
            not_after: summary
                .not_after
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        })
        .into_response(),
        Err(error) => {
            tracing::warn!(error = %error, "demo portal: signer certificate unreadable");
            error_answer(ErrorCode::SignatureInvalid, StatusCode::UNAUTHORIZED)
        }
    }
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    warp::reply::with_header(body, header::CONTENT_TYPE, content_type).into_response()
}

/// The portal's routes.
pub fn routes(
    state: PortalState,
) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone {
    let index_html = INDEX_HTML.replace("{{AGENT_PORT}}", &state.agent_port.to_string());
    let index = warp::get().and(warp::path::end()).map(move || {
        warp::reply::with_header(
            index_html.clone(),
            header::CONTENT_TYPE,
            "text/html; charset=utf-8",
        )
        .into_response()
    });
    let app = warp::get()
        .and(warp::path!("app.js"))
        .map(|| asset(APP_JS, "text/javascript; charset=utf-8"));
    let sdk = warp::get()
        .and(warp::path!("kyso.js"))
        .map(|| asset(crate::server::SDK_JS, "text/javascript; charset=utf-8"));
    let style = warp::get()
        .and(warp::path!("style.css"))
        .map(|| asset(STYLE_CSS, "text/css; charset=utf-8"));
    let challenge_state = state.clone();
    let challenge = warp::post()
        .and(warp::path!("api" / "challenge"))
        .map(move || {
            warp::reply::json(&challenge_state.verifier.issue(SystemTime::now())).into_response()
        });
    let login_state = state;
    let login = warp::post()
        .and(warp::path!("api" / "login"))
        .and(warp::body::content_length_limit(64 * 1024))
        .and(warp::body::json())
        .map(move |request: LoginRequest| login(&login_state, &request));
    index
        .or(app)
        .unify()
        .or(sdk)
        .unify()
        .or(style)
        .unify()
        .or(challenge)
        .unify()
        .or(login)
        .unify()
        .recover(|rejection: warp::Rejection| async move {
            // A bad body is the client's mistake; otherwise a path no route serves is "not
            // found", even when a route of another method shares it (warp then reports
            // "method not allowed").
            let bad_body = rejection
                .find::<warp::reject::LengthRequired>()
                .is_some()
                || rejection.find::<warp::reject::PayloadTooLarge>().is_some()
                || rejection.find::<warp::body::BodyDeserializeError>().is_some();
            let answer = if !bad_body
                && (rejection.is_not_found()
                    || rejection.find::<warp::reject::MethodNotAllowed>().is_some())
            {
                error_answer(ErrorCode::UnknownMethod, StatusCode::NOT_FOUND)
            } else {
                error_answer(ErrorCode::BadRequest, StatusCode::BAD_REQUEST)
            };
            Ok::<_, Infallible>(answer)
        })
        .unify()
        .map(|mut response: Response| {
            let headers = response.headers_mut();
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            // The page may talk to its own origin and to the agent on loopback, nothing else.
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; connect-src 'self' https://localhost:* wss://localhost:* https://127.0.0.1:* wss://127.0.0.1:*; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
                ),
            );
            response
        })
}

#[cfg(test)]
mod tests {
    use base64::{engine::general_purpose::STANDARD as B64, Engine as _};

    use super::*;
    use crate::{
        formats::cms::{sign, CmsRequest, Content},
        signer::SoftwareSigner,
    };

    fn state() -> PortalState {
        let pki = kyso_certs::testpki::shared();
        PortalState {
            verifier: Arc::new(ChallengeVerifier::new(
                vec![pki.root.cert_der.clone()],
                CHALLENGE_LIFETIME,
            )),
            agent_port: 47320,
        }
    }

    fn proof(challenge: &str) -> String {
        let pki = kyso_certs::testpki::shared();
        let user = pki
            .user("company-rsa2048")
            .unwrap_or_else(|| panic!("user"));
        let signer = SoftwareSigner::from_pkcs8(
            &user.key_pkcs8_der,
            user.cert_der.clone(),
            vec![pki.issuing.cert_der.clone()],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let nonce = B64.decode(challenge).unwrap_or_else(|e| panic!("{e}"));
        let der = sign(&signer, Content::Detached(&nonce), &CmsRequest::default())
            .unwrap_or_else(|e| panic!("{e}"));
        B64.encode(der)
    }

    /// One request through the filter as the listener runs it (tower service over hyper).
    async fn call(
        filter: &(impl Filter<Extract = (Response,), Error = Infallible>
              + Clone
              + Send
              + Sync
              + 'static),
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, warp::http::HeaderMap, Vec<u8>) {
        use http_body_util::BodyExt;
        use hyper::service::Service;
        let service = hyper_util::service::TowerToHyperService::new(warp::service(filter.clone()));
        let mut request = warp::http::Request::builder().method(method).uri(path);
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        if !body.is_empty() {
            request = request
                .header("content-type", "application/json")
                .header("content-length", body.len());
        }
        let request = request.body(body).unwrap_or_else(|e| panic!("{e}"));
        let response = service.call(request).await.unwrap_or_else(|e| match e {});
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes().to_vec())
            .unwrap_or_default();
        (status, headers, bytes)
    }

    async fn post(
        filter: &(impl Filter<Extract = (Response,), Error = Infallible>
              + Clone
              + Send
              + Sync
              + 'static),
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let (status, _, bytes) = call(filter, "POST", path, Some(body)).await;
        (status, serde_json::from_slice(&bytes).unwrap_or_default())
    }

    #[tokio::test]
    async fn a_login_names_the_signer_once_and_its_replay_gets_a_typed_refusal() {
        let filter = routes(state());
        let (status, challenge) = post(&filter, "/api/challenge", serde_json::json!({})).await;
        assert_eq!(status, 200);
        let challenge = challenge["challenge"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let body = serde_json::json!({"challenge": challenge, "cms": proof(&challenge)});
        let (status, who) = post(&filter, "/api/login", body.clone()).await;
        assert_eq!(status, 200, "{who}");
        assert_eq!(who["identifiers"]["MST"], "0104359717-001");
        let (status, replay) = post(&filter, "/api/login", body).await;
        assert_eq!(status, 401);
        assert_eq!(replay["error"]["code"], "SIGNATURE_INVALID");
        assert!(replay["error"]["message_vi"].as_str().is_some());
    }

    #[tokio::test]
    async fn the_page_carries_the_agent_port_and_unknown_paths_are_404() {
        let filter = routes(state());
        let (status, headers, page) = call(&filter, "GET", "/", None).await;
        assert_eq!(status, 200);
        let html = String::from_utf8_lossy(&page).into_owned();
        assert!(html.contains(r#"<meta name="kyso-agent-port" content="47320">"#));
        assert!(headers.contains_key(header::CONTENT_SECURITY_POLICY));
        let (_, _, sdk) = call(&filter, "GET", "/kyso.js", None).await;
        assert_eq!(sdk, crate::server::SDK_JS.as_bytes());
        for path in ["/favicon.ico", "/api/login"] {
            let (status, _, _) = call(&filter, "GET", path, None).await;
            assert_eq!(status, 404, "{path}");
        }
    }
}
