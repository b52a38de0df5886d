//! Checking every `<Signature>` of a document: reference digests, the signature value, and
//! whether the signer's certificate chains to a trusted root.
//!
//! Only what kyso itself and the portals' software produce is evaluated: same-document
//! references (`""`, `#id`) with the enveloped and C14N transforms. Anything else is reported
//! as a problem of that signature (never as intact), so an unknown transform cannot pass.

use base64::Engine;
use kyso_certs::CertificateSummary;
use roxmltree::{Document, Node};
use serde::Serialize;
use signature::hazmat::PrehashVerifier;
use time::OffsetDateTime;

use super::{
    algorithm::{Digest, SignatureMethod, DSIG_NAMESPACE, ENVELOPED},
    c14n::{self, canonicalize, DigestSink},
    document::{self, element_by_id, Source},
    error::XmlError,
};
use crate::signer::SignatureScheme;

const EXC_C14N_NAMESPACE: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
/// Longest chain walked from the signer to a root.
const MAX_CHAIN: usize = 8;

/// One `Reference` of a signature.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReferenceReport {
    /// The `URI` attribute.
    pub uri: String,
    /// The digest of the referenced content matches `DigestValue`.
    pub digest_matches: bool,
}

/// What kyso found about one signature.
#[derive(Debug, Clone, Serialize)]
pub struct XmlSignatureReport {
    /// The signer's certificate (the first `X509Certificate`), when present and readable.
    pub signer: Option<CertificateSummary>,
    /// Every reference digest and the signature value check out: nothing signed was changed.
    pub intact: bool,
    /// The signer's certificate chains (through the certificates in `KeyInfo`) to one of the
    /// trusted roots. Validity periods and revocation are not checked here.
    pub trusted: bool,
    /// `SignatureMethod` URI.
    pub signature_method: String,
    /// The references, in order.
    pub references: Vec<ReferenceReport>,
    /// `SigningTime` from a `SignatureProperties` object, as written.
    pub signing_time: Option<String>,
    /// Why the signature is not intact or not trusted, in plain words.
    pub problems: Vec<String>,
}

/// Checks every XMLDSig `Signature` element of `input`.
///
/// A document that does not parse (or has a DTD) is an error; a broken signature is not: it
/// is reported with `intact: false` and its problems. `trusted_roots` are DER certificates.
pub fn verify_xml(
    input: &[u8],
    trusted_roots: &[Vec<u8>],
) -> Result<Vec<XmlSignatureReport>, XmlError> {
    let source = Source::new(input)?;
    let document = document::parse(source.text)?;
    Ok(document
        .descendants()
        .filter(|n| is_dsig(*n, "Signature"))
        .map(|signature| check_signature(&document, signature, trusted_roots))
        .collect())
}

fn is_dsig(node: Node<'_, '_>, local: &str) -> bool {
    node.is_element()
        && node.tag_name().namespace() == Some(DSIG_NAMESPACE)
        && node.tag_name().name() == local
}

fn child<'a, 'i>(node: Node<'a, 'i>, local: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|n| is_dsig(*n, local))
}

fn children<'a, 'i>(node: Node<'a, 'i>, local: &'static str) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children().filter(move |n| is_dsig(*n, local))
}

/// The text of an element, all whitespace removed (base64 is often wrapped).
fn compact_text(node: Node<'_, '_>) -> String {
    node.descendants()
        .filter(Node::is_text)
        .filter_map(|n| n.text())
        .flat_map(str::chars)
        .filter(|c| !c.is_whitespace())
        .collect()
}

fn decode(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// A C14N method from an element with an `Algorithm` attribute and maybe `InclusiveNamespaces`.
fn method_of(node: Node<'_, '_>) -> Option<c14n::Method> {
    let mut method = c14n::Method::from_uri(node.attribute("Algorithm")?)?;
    if let Some(list) = node.children().find(|n| {
        n.tag_name().namespace() == Some(EXC_C14N_NAMESPACE)
            && n.tag_name().name() == "InclusiveNamespaces"
    }) {
        method.inclusive_prefixes = list
            .attribute("PrefixList")
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_owned)
            .collect();
    }
    Some(method)
}

fn check_signature(
    document: &Document<'_>,
    signature: Node<'_, '_>,
    trusted_roots: &[Vec<u8>],
) -> XmlSignatureReport {
    let mut report = XmlSignatureReport {
        signer: None,
        intact: false,
        trusted: false,
        signature_method: String::new(),
        references: Vec::new(),
        signing_time: signature
            .descendants()
            .find(|n| n.is_element() && n.tag_name().name() == "SigningTime")
            .and_then(|n| n.text())
            .map(str::to_owned),
        problems: Vec::new(),
    };
    let certificates: Vec<Vec<u8>> = child(signature, "KeyInfo")
        .into_iter()
        .flat_map(|k| children(k, "X509Data"))
        .flat_map(|d| children(d, "X509Certificate"))
        .filter_map(|c| decode(&compact_text(c)))
        .collect();
    let signer_cert = certificates.first();
    if let Some(der) = signer_cert {
        match kyso_certs::summarize(der, OffsetDateTime::now_utc()) {
            Ok(summary) => report.signer = Some(summary),
            Err(e) => report
                .problems
                .push(format!("unreadable signer certificate: {e}")),
        }
    } else {
        report
            .problems
            .push("no X509Certificate in KeyInfo: the signer is unknown".into());
    }

    let references_ok = check_references(document, signature, &mut report);
    let value_ok = match (child(signature, "SignedInfo"), signer_cert) {
        (Some(signed_info), Some(cert)) => check_value(signature, signed_info, cert, &mut report),
        (None, _) => {
            report.problems.push("no SignedInfo".into());
            false
        }
        (_, None) => false,
    };
    report.intact = references_ok && value_ok;
    if let Some(cert) = signer_cert {
        match chains_to(cert, &certificates[1..], trusted_roots) {
            Ok(()) => report.trusted = true,
            Err(problem) => report.problems.push(problem),
        }
    }
    report
}

/// Checks each Reference's digest; records them in `report`.
fn check_references(
    document: &Document<'_>,
    signature: Node<'_, '_>,
    report: &mut XmlSignatureReport,
) -> bool {
    let Some(signed_info) = child(signature, "SignedInfo") else {
        return false;
    };
    let mut all_ok = true;
    let mut any = false;
    for reference in children(signed_info, "Reference") {
        any = true;
        let uri = reference.attribute("URI").unwrap_or("").to_owned();
        let ok = match reference_digest(document, signature, reference, &uri) {
            Ok(matches) => matches,
            Err(problem) => {
                report
                    .problems
                    .push(format!("reference \"{uri}\": {problem}"));
                false
            }
        };
        if !ok
            && report
                .problems
                .iter()
                .all(|p| !p.contains(&format!("\"{uri}\"")))
        {
            report.problems.push(format!(
                "reference \"{uri}\": the signed content was changed"
            ));
        }
        all_ok &= ok;
        report.references.push(ReferenceReport {
            uri,
            digest_matches: ok,
        });
    }
    if !any {
        report.problems.push("SignedInfo has no Reference".into());
    }
    all_ok && any
}

/// Whether one reference's digest matches; `Err` when it cannot be evaluated.
fn reference_digest(
    document: &Document<'_>,
    signature: Node<'_, '_>,
    reference: Node<'_, '_>,
    uri: &str,
) -> Result<bool, String> {
    if reference.attribute("URI").is_none() {
        return Err("no URI (external references are not supported)".into());
    }
    let target = if uri.is_empty() {
        document.root()
    } else if let Some(id) = uri
        .strip_prefix('#')
        .filter(|id| !id.starts_with("xpointer("))
    {
        element_by_id(document, id).map_err(|e| e.to_string())?
    } else {
        return Err("only same-document references are supported".into());
    };
    let mut enveloped = false;
    let mut method = c14n::Method::default();
    if let Some(transforms) = child(reference, "Transforms") {
        for transform in children(transforms, "Transform") {
            let algorithm = transform.attribute("Algorithm").unwrap_or("");
            if algorithm == ENVELOPED {
                enveloped = true;
            } else if let Some(m) = method_of(transform) {
                method = m;
            } else {
                return Err(format!("unsupported transform {algorithm}"));
            }
        }
    }
    method.comments = false;
    let digest = child(reference, "DigestMethod")
        .and_then(|d| d.attribute("Algorithm"))
        .and_then(Digest::from_uri)
        .ok_or("unsupported DigestMethod")?;
    let expected = child(reference, "DigestValue")
        .and_then(|v| decode(&compact_text(v)))
        .ok_or("DigestValue is not base64")?;
    let excluded = enveloped.then_some(signature);
    let actual = canonicalize(
        target,
        excluded,
        &method,
        DigestSink::new(digest.hash().hasher()),
    )
    .finish();
    Ok(actual == expected)
}

/// Checks `SignatureValue` over the canonical `SignedInfo` with the certificate's key.
fn check_value(
    signature: Node<'_, '_>,
    signed_info: Node<'_, '_>,
    certificate: &[u8],
    report: &mut XmlSignatureReport,
) -> bool {
    let Some(c14n_node) = child(signed_info, "CanonicalizationMethod") else {
        report.problems.push("no CanonicalizationMethod".into());
        return false;
    };
    let Some(method) = method_of(c14n_node) else {
        report.problems.push(format!(
            "unsupported CanonicalizationMethod {}",
            c14n_node.attribute("Algorithm").unwrap_or("")
        ));
        return false;
    };
    let algorithm = child(signed_info, "SignatureMethod")
        .and_then(|m| m.attribute("Algorithm"))
        .unwrap_or("");
    report.signature_method = algorithm.to_owned();
    let Some(signature_method) = SignatureMethod::from_uri(algorithm) else {
        report
            .problems
            .push(format!("unsupported SignatureMethod {algorithm}"));
        return false;
    };
    let Some(value) = child(signature, "SignatureValue").and_then(|v| decode(&compact_text(v)))
    else {
        report.problems.push("SignatureValue is not base64".into());
        return false;
    };
    let message = canonicalize(signed_info, None, &method, Vec::new());
    let digest = signature_method.hash.digest(&message);
    match verify_value(signature_method, certificate, &digest, &value) {
        Ok(()) => true,
        Err(problem) => {
            report.problems.push(problem);
            false
        }
    }
}

/// Verifies a signature value over a digest with the certificate's public key.
fn verify_value(
    method: SignatureMethod,
    certificate: &[u8],
    digest: &[u8],
    value: &[u8],
) -> Result<(), String> {
    use rsa::pkcs8::DecodePublicKey;
    let spki = kyso_certs::spki_der(certificate).map_err(|e| e.to_string())?;
    let bad = |e: &dyn std::fmt::Display| format!("the signature value does not verify: {e}");
    match method.scheme {
        SignatureScheme::RsaPkcs1v15 => {
            let key = rsa::RsaPublicKey::from_public_key_der(&spki)
                .map_err(|e| format!("the signer certificate has no RSA key: {e}"))?;
            let padding = rsa::Pkcs1v15Sign {
                hash_len: Some(method.hash.output_len()),
                prefix: method.hash.digest_info_prefix().into(),
            };
            key.verify(padding, digest, value).map_err(|e| bad(&e))
        }
        SignatureScheme::Ecdsa => {
            if let Ok(key) = p256::ecdsa::VerifyingKey::from_public_key_der(&spki) {
                let sig = p256::ecdsa::Signature::from_slice(value).map_err(|e| bad(&e))?;
                key.verify_prehash(digest, &sig).map_err(|e| bad(&e))
            } else if let Ok(key) = p384::ecdsa::VerifyingKey::from_public_key_der(&spki) {
                let sig = p384::ecdsa::Signature::from_slice(value).map_err(|e| bad(&e))?;
                key.verify_prehash(digest, &sig).map_err(|e| bad(&e))
            } else {
                Err("the signer certificate has no P-256 or P-384 key".into())
            }
        }
        SignatureScheme::RsaPss => Err("RSA-PSS is not an XMLDSig method kyso checks".into()),
    }
}

/// Walks issuer links from `leaf` through `intermediates` until a trusted root signs one.
fn chains_to(leaf: &[u8], intermediates: &[Vec<u8>], roots: &[Vec<u8>]) -> Result<(), String> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    fn parse(der: &[u8]) -> Option<X509Certificate<'_>> {
        X509Certificate::from_der(der).ok().map(|(_, c)| c)
    }
    let roots: Vec<X509Certificate<'_>> = roots.iter().filter_map(|d| parse(d)).collect();
    let intermediates: Vec<X509Certificate<'_>> =
        intermediates.iter().filter_map(|d| parse(d)).collect();
    let mut current = parse(leaf).ok_or("unreadable signer certificate")?;
    for _ in 0..MAX_CHAIN {
        let issued_by = |candidate: &X509Certificate<'_>| {
            candidate.subject().as_raw() == current.issuer().as_raw()
                && current
                    .verify_signature(Some(candidate.public_key()))
                    .is_ok()
        };
        if roots.iter().any(issued_by) {
            return Ok(());
        }
        match intermediates.iter().find(|c| issued_by(c)) {
            Some(next) if next.subject().as_raw() != next.issuer().as_raw() => {
                current = next.clone();
            }
            _ => break,
        }
    }
    Err(if roots.is_empty() {
        "no trusted roots given: the signer's identity is not established".into()
    } else {
        "the signer certificate does not chain to a trusted root".into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        error::{Coded, ErrorCode},
        formats::xml::{sign_xml, XmlSignOptions},
        signer::SoftwareSigner,
    };

    fn signer(name: &str) -> SoftwareSigner {
        let pki = kyso_certs::testpki::shared();
        let user = pki
            .user(name)
            .unwrap_or_else(|| panic!("no test user {name}"));
        SoftwareSigner::from_pkcs8(
            &user.key_pkcs8_der,
            user.cert_der.clone(),
            vec![pki.issuing.cert_der.clone()],
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    const DOC: &str =
        "<?xml version=\"1.0\"?>\n<r xmlns=\"urn:r\">\n  <d Id=\"x\">Hà Nội</d>\n  <s/>\n</r>\n";

    #[test]
    fn a_signed_document_verifies_and_a_changed_byte_breaks_only_the_digest() {
        let root = kyso_certs::testpki::shared().root.cert_der.clone();
        let options = XmlSignOptions {
            node_id: Some("x".into()),
            into: Some("s".into()),
            include_chain: true,
            ..XmlSignOptions::default()
        };
        let signed = sign_xml(DOC.as_bytes(), &signer("person-p256"), &options)
            .unwrap_or_else(|e| panic!("{e}"));
        let reports =
            verify_xml(&signed.xml, std::slice::from_ref(&root)).unwrap_or_else(|e| panic!("{e}"));
        assert!(reports[0].intact && reports[0].trusted, "{reports:#?}");

        let tampered = String::from_utf8_lossy(&signed.xml).replace("Hà Nội", "Hà Nam");
        let reports = verify_xml(tampered.as_bytes(), &[root]).unwrap_or_else(|e| panic!("{e}"));
        assert!(!reports[0].intact);
        assert!(!reports[0].references[0].digest_matches);
    }

    #[test]
    fn untrusted_root_is_reported_but_the_signature_is_still_intact() {
        let signed = sign_xml(
            DOC.as_bytes(),
            &signer("company-rsa2048"),
            &XmlSignOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let reports = verify_xml(&signed.xml, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(reports[0].intact && !reports[0].trusted);
    }

    #[test]
    fn options_that_would_break_the_xml_are_bad_requests() {
        let options = XmlSignOptions {
            node_id: Some("a\"b".into()),
            ..XmlSignOptions::default()
        };
        let err = sign_xml(DOC.as_bytes(), &signer("company-rsa2048"), &options).err();
        assert_eq!(err.map(|e| e.code()), Some(ErrorCode::BadRequest));
    }
}
