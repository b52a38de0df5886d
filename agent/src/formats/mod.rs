//! Signature formats. They depend only on [`crate::signer::Signer`], never on PKCS#11.

pub mod cms;
pub mod cms_verify;
pub mod pdf;
pub mod xml;
