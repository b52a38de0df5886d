//! Certificate details as the plugin reports them, and the ValidateCertificate /
//! CheckValidTime checks: validity dates, and the issuer chain up to a self-signed root among
//! the certificates the token holds. Revocation (OCSP/CRL) is answered as not checked: kyso
//! has no revocation checking yet, and saying "good" without asking would be a lie.

use base64::Engine;
use kyso_certs::CertificateSummary;
use serde_json::{json, Value};
use time::{format_description::well_known::Rfc3339, OffsetDateTime};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::codes::{self, PluginCode};
use crate::{broker::ApiError, error::ErrorCode, token::TokenCertificate};

/// Longest issuer chain followed.
const MAX_CHAIN: usize = 8;

fn rfc3339(time: OffsetDateTime) -> String {
    time.format(&Rfc3339).unwrap_or_default()
}

/// `{serial, base64, subjectCN, issuerCN, notBefore, notAfter, ...}` of a certificate. Times
/// are RFC 3339 (UTC), which `new Date(...)` in a page reads.
pub fn certificate_json(summary: &CertificateSummary, der: &[u8]) -> Value {
    json!({
        "serial": summary.serial,
        "base64": base64::engine::general_purpose::STANDARD.encode(der),
        "subjectCN": summary.common_name.clone().unwrap_or_default(),
        "issuerCN": summary.issuer_common_name.clone().unwrap_or_default(),
        "subjectDN": summary.subject,
        "issuerDN": summary.issuer,
        "organization": summary.organization.clone().unwrap_or_default(),
        "identifiers": summary.identifiers,
        "notBefore": rfc3339(summary.not_before),
        "notAfter": rfc3339(summary.not_after),
        "validNow": summary.valid_now,
        "thumbprint": summary.thumbprint,
        "keyType": summary.key,
    })
}

/// The roots the operating system trusts (DER). A store that cannot be read is logged and
/// left out: the token's own certificates still count.
pub fn system_roots() -> Vec<Vec<u8>> {
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::info!(%error, "system certificate store not read");
    }
    found.certs.into_iter().map(|c| c.to_vec()).collect()
}

/// Checks `der`'s dates now and, with `check_chain`, its chain through the token's
/// certificates (`known`) and the system's roots. Code 0 when everything checked is fine;
/// code 5 with the findings in `data` otherwise.
pub fn validate(
    der: &[u8],
    known: &[TokenCertificate],
    check_chain: bool,
) -> Result<Value, ApiError> {
    let (_, certificate) = X509Certificate::from_der(der)
        .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("not a DER certificate: {e}")))?;
    let now = OffsetDateTime::now_utc();
    let not_before = certificate.validity().not_before.to_datetime();
    let not_after = certificate.validity().not_after.to_datetime();
    let valid_time = not_before <= now && now <= not_after;
    let chain = if check_chain {
        let system = system_roots();
        let others: Vec<&[u8]> = known
            .iter()
            .map(|c| c.der.as_slice())
            .chain(system.iter().map(Vec::as_slice))
            .collect();
        if chains_to_root(&certificate, &others) {
            "trusted"
        } else {
            "incomplete"
        }
    } else {
        "not_checked"
    };
    let details = json!({
        "validTime": valid_time,
        "notBefore": rfc3339(not_before),
        "notAfter": rfc3339(not_after),
        "chain": chain,
        "ocsp": "not_checked",
        "crl": "not_checked",
    });
    if valid_time && chain != "incomplete" {
        Ok(codes::ok(details))
    } else {
        let error = if valid_time {
            "the certificate does not chain to a root the token or the system holds"
        } else {
            "the certificate is not valid now"
        };
        Ok(json!({"code": PluginCode::Unknown.number(), "data": details, "error": error}))
    }
}

/// Follows issuer links (name and signature) through `others` to a self-signed certificate.
fn chains_to_root(leaf: &X509Certificate<'_>, others: &[&[u8]]) -> bool {
    let others: Vec<X509Certificate<'_>> = others
        .iter()
        .filter_map(|d| X509Certificate::from_der(d).ok().map(|(_, c)| c))
        .collect();
    let mut current = leaf.clone();
    for _ in 0..MAX_CHAIN {
        let Some(issuer) = others.iter().find(|candidate| {
            candidate.subject().as_raw() == current.issuer().as_raw()
                && current
                    .verify_signature(Some(candidate.public_key()))
                    .is_ok()
        }) else {
            return false;
        };
        if issuer.subject().as_raw() == issuer.issuer().as_raw() {
            return issuer.verify_signature(None).is_ok();
        }
        current = issuer.clone();
    }
    false
}
