//! TEMPORARY (replaced by the tls branch): local TLS files and the rustls configuration.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use time::OffsetDateTime;

use crate::error::{Coded, ErrorCode};

/// Temporary error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(String);

impl Coded for TlsError {
    fn code(&self) -> ErrorCode {
        ErrorCode::Internal
    }
}

/// Temporary files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// dir
    pub dir: PathBuf,
    /// ca
    pub ca_pem: PathBuf,
    /// cert
    pub cert_pem: PathBuf,
    /// key
    pub key_pem: PathBuf,
    /// thumbprint
    pub ca_thumbprint: String,
    /// not after
    pub leaf_not_after: OffsetDateTime,
    /// renewed
    pub renewed: bool,
}

/// Temporary.
pub fn ensure_local_tls(dir: &Path, _now: OffsetDateTime) -> Result<TlsFiles, TlsError> {
    let e = |e: &dyn std::fmt::Display| TlsError(e.to_string());
    let ca_pem = dir.join("ca.pem");
    let cert_pem = dir.join("localhost.pem");
    let key_pem = dir.join("localhost-key.pem");
    let mut renewed = false;
    if !key_pem.exists() {
        let ca_key = rcgen::KeyPair::generate().map_err(|x| e(&x))?;
        let mut ca_params =
            rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|x| e(&x))?;
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "kyso local CA (temp)");
        let ca = ca_params.self_signed(&ca_key).map_err(|x| e(&x))?;
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let leaf_key = rcgen::KeyPair::generate().map_err(|x| e(&x))?;
        let leaf_params = rcgen::CertificateParams::new(vec![
            "localhost".to_string(),
            "127.0.0.1".into(),
            "::1".into(),
        ])
        .map_err(|x| e(&x))?;
        let leaf = leaf_params
            .signed_by(&leaf_key, &issuer)
            .map_err(|x| e(&x))?;
        crate::paths::write_private_file(&ca_pem, ca.pem().as_bytes()).map_err(|x| e(&x))?;
        crate::paths::write_private_file(&cert_pem, leaf.pem().as_bytes()).map_err(|x| e(&x))?;
        crate::paths::write_private_file(&key_pem, leaf_key.serialize_pem().as_bytes())
            .map_err(|x| e(&x))?;
        renewed = true;
    }
    Ok(TlsFiles {
        dir: dir.to_path_buf(),
        ca_pem,
        cert_pem,
        key_pem,
        ca_thumbprint: String::new(),
        leaf_not_after: OffsetDateTime::now_utc(),
        renewed,
    })
}

/// Temporary.
pub fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let e = |e: &dyn std::fmt::Display| TlsError(e.to_string());
    let certs: Vec<_> = rustls_pemfile::certs(
        &mut std::fs::read(&files.cert_pem)
            .map_err(|x| e(&x))?
            .as_slice(),
    )
    .collect::<Result<_, _>>()
    .map_err(|x| e(&x))?;
    let key = rustls_pemfile::private_key(
        &mut std::fs::read(&files.key_pem).map_err(|x| e(&x))?.as_slice(),
    )
    .map_err(|x| e(&x))?
    .ok_or_else(|| TlsError("no key".into()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|x| e(&x))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|x| e(&x))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
