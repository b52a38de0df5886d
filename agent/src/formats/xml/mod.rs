//! XMLDSig (enveloped) for tax (HTKK), social-insurance (BHXH) and e-invoice documents.
//!
//! # Why written here, on roxmltree
//! `bergshamra` 0.11 (pure Rust XML security on the Uppsala parser) was evaluated as the
//! issue asked. It signs a `<Signature>` template through its own DOM and its own key
//! manager (software keys, or a PKCS#11 session it opens itself): using it would bypass the
//! token layer (one thread per module, PIN policy, typed errors such as `PIN_LOCKED`), and
//! keeping every byte outside the signature (the BHXH portal rejects any whitespace change)
//! would rest on its serialiser round-tripping arbitrary documents. It also brings XML-Enc,
//! post-quantum and alternative crypto back ends kyso does not need. The C14N crates on
//! crates.io each implement one variant over their own tree.
//! `roxmltree` gives a read-only tree whose every node and attribute carries its byte range in
//! the original text, refuses DTDs on request, and parses a 6 MB document in a few
//! milliseconds; on it we canonicalize (streaming into the hasher) and insert the
//! `<Signature>` text at an offset, so every other byte stays as it was.
//!
//! Modules: [`document`] (load, refuse DTDs, find by Id/name, insert at an offset),
//! [`c14n`] (inclusive/exclusive C14N 1.0), [`algorithm`] (URIs; ECDSA DER → r‖s),
//! [`sign`] (building and inserting a signature), [`verify`] (checking every signature).

pub mod algorithm;
pub mod c14n;
pub mod document;
mod error;
pub mod sign;
pub mod verify;

pub use algorithm::Digest;
pub use error::XmlError;
pub use sign::{
    prepare, sign_xml, sign_xml_at, Canonicalization, PreparedXml, SignedXml, XmlSignOptions,
    XmlSignature,
};
pub use verify::{verify_xml, ReferenceReport, XmlSignatureReport};
