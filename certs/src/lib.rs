//! Certificate work for kyso: summaries of the certificates found on tokens (names as
//! RFC 4514 text, Vietnamese identifiers such as MST and CCCD, validity, whether the key may
//! sign), public keys in the form needed to pair certificates with token keys, and a
//! generated test PKI.
//!
//! Modules are private; everything public is re-exported here.

mod error;
mod key;
mod localca;
mod name;
mod summary;
/// Generated test PKI; `testpki::shared()` is the per-process instance tests use.
pub mod testpki;

pub use error::CertError;
pub use key::{public_key, spki_der, EcCurve, PublicKeyInfo};
pub use localca::{generate_local_tls, LocalTls, LOCAL_NAMES};
pub use name::parse_identifier;
pub use summary::{normalize_serial, summarize, thumbprint, CertificateSummary};
pub use testpki::{Identity, KeySpec, TestPki};
