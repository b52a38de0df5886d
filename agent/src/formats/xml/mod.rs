//! XMLDSig (enveloped) for tax, social-insurance and e-invoice documents.

pub mod algorithm;
pub mod c14n;
pub mod document;
mod error;

pub use error::XmlError;
