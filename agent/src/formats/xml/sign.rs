//! Enveloped XMLDSig signing: build `<Signature>` text and insert it at a byte offset.
//!
//! Stages: [`prepare`] parses once, locates the placement element and the referenced node and
//! digests the referenced content with streaming C14N, keeping only offsets and the digest
//! ([`PreparedXml`]); [`PreparedXml::sign`] builds `SignedInfo`, canonicalizes it *in the
//! context it will live in* and signs through [`Signer`]; [`PreparedXml::write_signed`]
//! writes the original text with the finished `<Signature>` spliced in. Nothing
//! outside the inserted text is re-serialised, so whitespace, attribute order, prefixes, the
//! XML declaration, CRLF line ends and a BOM survive byte for byte.

use std::borrow::Cow;

use base64::Engine;
use roxmltree::{Document, Node};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{
    algorithm::{ecdsa_der_to_raw, Digest, SignatureMethod, DSIG_NAMESPACE, ENVELOPED},
    c14n::{self, canonicalize, DigestSink},
    document::{self, append_child, element_by_id, element_by_name, Source},
    error::XmlError,
};
use crate::signer::{SignInput, SignatureScheme, Signer};

/// Namespace of the `SigningTime` element kyso writes in `SignatureProperty`.
pub const SIGNING_TIME_NAMESPACE: &str = "urn:kyso:xmldsig:signature-properties";

/// The canonicalization a signature uses (for `SignedInfo` and as the Reference transform).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Canonicalization {
    /// Inclusive C14N 1.0 (the default; what HTKK, BHXH and e-invoice software emit).
    #[default]
    Inclusive,
    /// Inclusive C14N 1.0 with comments. Note: for `URI=""` and `URI="#id"` XMLDSig removes
    /// comments before the transform runs, so the signed content is the same as without.
    InclusiveComments,
    /// Exclusive C14N 1.0.
    Exclusive,
}

impl Canonicalization {
    /// The C14N method.
    pub fn method(self) -> c14n::Method {
        let uri = match self {
            Self::Inclusive => c14n::INCLUSIVE,
            Self::InclusiveComments => c14n::INCLUSIVE_COMMENTS,
            Self::Exclusive => c14n::EXCLUSIVE,
        };
        c14n::Method::from_uri(uri).unwrap_or_default()
    }
}

/// How to sign an XML document. Deserializes from the JSON of the API (`snake_case`); every
/// field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct XmlSignOptions {
    /// Sign the element whose `Id`, `id` or `ID` is this (`URI="#..."`); absent: the whole
    /// document (`URI=""`).
    pub node_id: Option<String>,
    /// Local name of the element to put the `<Signature>` in (e.g. `CKyDTu`, `CHUKYDONVI`);
    /// absent: the root element. Without `into_parent`, the first such element; a missing one
    /// is an error.
    pub into: Option<String>,
    /// Look for `into` only among the children of the first element with this local name,
    /// and create it there (as the last child) when it is missing.
    pub into_parent: Option<String>,
    /// Canonicalization of `SignedInfo` and of the referenced content.
    pub c14n: Canonicalization,
    /// Digest of the referenced content.
    pub digest: Digest,
    /// Hash of the signature itself; absent: the same as `digest`.
    pub signature_hash: Option<Digest>,
    /// Write the signature elements with this prefix (`ds`), as some portals require.
    pub prefix: Option<String>,
    /// Add the signer's chain certificates (not the root) after the signer certificate.
    pub include_chain: bool,
    /// Add `X509IssuerSerial`.
    pub issuer_serial: bool,
    /// Add `X509SubjectName`.
    pub subject_name: bool,
    /// Add a signed `<Object>` with `SignatureProperties/SigningTime` (e-invoice style).
    pub signing_time: bool,
}

/// A signed document and what was used.
#[derive(Debug, Clone)]
pub struct SignedXml {
    /// The input with the `<Signature>` inserted; every other byte unchanged.
    pub xml: Vec<u8>,
    /// `SignatureMethod` URI.
    pub signature_method: &'static str,
    /// `DigestMethod` URI.
    pub digest_method: &'static str,
    /// The `Reference URI` signed (`""` or `#id`).
    pub reference_uri: String,
    /// SHA-1 was used (digest or signature): accepted only because older portals demand it;
    /// callers should tell the user.
    pub weak_algorithm: bool,
}

/// Signs `input` with an enveloped XMLDSig as `options` say: [`prepare`], then
/// [`PreparedXml::sign`], then the signed document in memory.
///
/// The input must be UTF-8 (a BOM is kept); a DTD is refused ([`XmlError::Dtd`]). The signer
/// is called once, with the canonical `SignedInfo` as the message.
pub fn sign_xml(
    input: &[u8],
    signer: &dyn Signer,
    options: &XmlSignOptions,
) -> Result<SignedXml, XmlError> {
    sign_xml_at(input, signer, options, OffsetDateTime::now_utc())
}

/// [`sign_xml`] with the signing time given (tests use a fixed clock).
pub fn sign_xml_at(
    input: &[u8],
    signer: &dyn Signer,
    options: &XmlSignOptions,
    now: OffsetDateTime,
) -> Result<SignedXml, XmlError> {
    let prepared = prepare(input, options)?;
    let signature = prepared.sign_at(signer, now)?;
    let xml = prepared.signed_vec(&signature);
    Ok(SignedXml {
        xml,
        signature_method: signature.signature_method,
        digest_method: signature.digest_method,
        reference_uri: signature.reference_uri,
        weak_algorithm: signature.weak_algorithm,
    })
}

/// A document checked and digested, ready to be signed: parsed once, the referenced content
/// canonicalized into its digest, the insertion point and the context the `<Signature>` will
/// live in known. No tree is kept, only offsets into the input.
///
/// Everything that can fail because of the document (`XML_INVALID`, `XML_DTD_NOT_ALLOWED`,
/// `XML_TARGET_NOT_FOUND`) fails here, so callers prepare before loading a token or asking
/// for a PIN.
#[derive(Debug)]
pub struct PreparedXml<'i> {
    /// The document to write around the signature: the input (BOM included), or a copy with
    /// the placement element created.
    text: Cow<'i, [u8]>,
    /// Where the signature goes, as an offset into `text`.
    insertion: document::Insertion,
    /// The placement element's qualified name (to close a `<X/>` we open).
    placement_qname: String,
    context: Context,
    reference_uri: String,
    content_digest: Vec<u8>,
    signature_id: String,
    options: XmlSignOptions,
}

/// A `<Signature>` made for a [`PreparedXml`], and what was used.
#[derive(Debug, Clone)]
pub struct XmlSignature {
    /// The `<Signature>` element's text.
    pub text: String,
    /// `SignatureMethod` URI.
    pub signature_method: &'static str,
    /// `DigestMethod` URI.
    pub digest_method: &'static str,
    /// The `Reference URI` signed (`""` or `#id`).
    pub reference_uri: String,
    /// SHA-1 was used (digest or signature).
    pub weak_algorithm: bool,
}

/// Checks `input` against `options` and digests the content to sign, parsing it once.
///
/// Takes the input borrowed (`&[u8]`) or owned (`Vec<u8>`, giving a `PreparedXml<'static>`
/// that can be kept, as batch items are).
pub fn prepare<'i>(
    input: impl Into<Cow<'i, [u8]>>,
    options: &XmlSignOptions,
) -> Result<PreparedXml<'i>, XmlError> {
    let input = input.into();
    validated_prefix(options.prefix.as_deref())?;
    let source = Source::new(&input)?;
    let bom = source.bom.len();
    let created = match prepared_text(source.text, options)? {
        Cow::Owned(text) => Some(text),
        Cow::Borrowed(_) => None,
    };
    let analysis = analyse(created.as_deref().unwrap_or(source.text), options)?;
    let text = match created {
        Some(created) => {
            let mut text = Vec::with_capacity(bom + created.len());
            text.extend_from_slice(&input[..bom]);
            text.extend_from_slice(created.as_bytes());
            Cow::Owned(text)
        }
        None => input,
    };
    Ok(PreparedXml {
        text,
        insertion: analysis.insertion.shifted(bom),
        placement_qname: analysis.placement_qname,
        context: analysis.context,
        reference_uri: analysis.reference_uri,
        content_digest: analysis.content_digest,
        signature_id: analysis.signature_id,
        options: options.clone(),
    })
}

/// What signing needs from the parsed document; owns everything, so the tree can go.
struct Analysis {
    insertion: document::Insertion,
    placement_qname: String,
    context: Context,
    reference_uri: String,
    content_digest: Vec<u8>,
    signature_id: String,
}

fn analyse(text: &str, options: &XmlSignOptions) -> Result<Analysis, XmlError> {
    let document = document::parse(text)?;
    let (placement, reference_uri, target) = locate(&document, options)?;
    // XMLDSig §4.4.3.3: dereferencing "" or "#id" drops comments, whatever the transform.
    let without_comments = c14n::Method {
        comments: false,
        ..options.c14n.method()
    };
    let content_digest = canonicalize(
        target,
        None,
        &without_comments,
        DigestSink::new(options.digest.hash().hasher()),
    )
    .finish();
    Ok(Analysis {
        insertion: document::insertion_point(placement),
        placement_qname: document::qname(placement).to_owned(),
        context: Context::of(placement),
        reference_uri,
        content_digest,
        signature_id: unused_id(&document, "kyso-signature"),
    })
}

impl PreparedXml<'_> {
    /// The size of the document before signing.
    pub fn input_len(&self) -> usize {
        self.text.len()
    }

    /// Signs: builds `SignedInfo` over the prepared digest and calls the signer once.
    pub fn sign(&self, signer: &dyn Signer) -> Result<XmlSignature, XmlError> {
        self.sign_at(signer, OffsetDateTime::now_utc())
    }

    /// [`PreparedXml::sign`] with the signing time given (tests use a fixed clock).
    pub fn sign_at(
        &self,
        signer: &dyn Signer,
        now: OffsetDateTime,
    ) -> Result<XmlSignature, XmlError> {
        let options = &self.options;
        let prefix = validated_prefix(options.prefix.as_deref())?;
        let digest = options.digest;
        let method = SignatureMethod::for_key(
            signer.key_kind(),
            options.signature_hash.unwrap_or(digest).hash(),
        );
        let signature_uri = method.uri().ok_or_else(|| XmlError::AlgorithmMismatch {
            key: format!("{:?}", signer.key_kind()),
            algorithm: format!("{:?}", method.scheme),
        })?;
        if !method.scheme.fits(signer.key_kind()) {
            return Err(XmlError::AlgorithmMismatch {
                key: format!("{:?}", signer.key_kind()),
                algorithm: signature_uri.to_owned(),
            });
        }

        let signature_id = &self.signature_id;
        let builder = Builder {
            p: prefix,
            c14n_uri: options.c14n.method().uri(),
            context: &self.context,
        };
        let object = if options.signing_time {
            let object_id = format!("{signature_id}-SigningTime");
            let text = builder.signing_time_object(&object_id, signature_id, now)?;
            let object_digest =
                builder.digest_of(&text, &object_id, digest, &options.c14n.method())?;
            Some((object_id, text, object_digest))
        } else {
            None
        };

        let mut references =
            builder.reference(&self.reference_uri, true, digest, &self.content_digest);
        if let Some((object_id, _, object_digest)) = &object {
            references.push_str(&builder.reference(
                &format!("#{object_id}"),
                false,
                digest,
                object_digest,
            ));
        }
        let signed_info = builder.signed_info(signature_uri, &references);
        let message = builder.canonical_signed_info(&signed_info, &options.c14n.method())?;

        let raw = signer.sign(method.scheme, method.hash, SignInput::Message(&message))?;
        let value = match method.scheme {
            SignatureScheme::Ecdsa => ecdsa_der_to_raw(&raw, signer.key_kind())?,
            _ => raw,
        };
        let key_info = builder.key_info(signer, options)?;
        let text = builder.signature(
            signature_id,
            &signed_info,
            &base64(&value),
            &key_info,
            object.as_ref().map(|(_, text, _)| text.as_str()),
        );
        Ok(XmlSignature {
            text,
            signature_method: signature_uri,
            digest_method: digest.uri(),
            reference_uri: self.reference_uri.clone(),
            weak_algorithm: digest == Digest::Sha1
                || method.hash == crate::signer::HashAlgorithm::Sha1,
        })
    }

    /// The signed document's pieces in order: every byte of the input, with the signature
    /// (and, for a `<X/>` placement, the rewritten tag around it) inserted.
    fn pieces<'s>(&'s self, signature: &'s XmlSignature) -> [&'s [u8]; 6] {
        self.insertion
            .pieces(&self.text, &self.placement_qname, signature.text.as_bytes())
    }

    /// Writes the signed document to `out`, without building it in memory.
    pub fn write_signed(
        &self,
        signature: &XmlSignature,
        out: &mut impl std::io::Write,
    ) -> std::io::Result<()> {
        for piece in self.pieces(signature) {
            out.write_all(piece)?;
        }
        Ok(())
    }

    /// The signed document in memory.
    pub fn signed_vec(&self, signature: &XmlSignature) -> Vec<u8> {
        self.pieces(signature).concat()
    }
}

/// The text to sign: the input, or a copy with the placement element created first (so the
/// content we digest is the content the output will have).
fn prepared_text<'t>(text: &'t str, options: &XmlSignOptions) -> Result<Cow<'t, str>, XmlError> {
    if let Some(id) = &options.node_id {
        check_name("node_id", id)?;
    }
    Ok(match with_placement(text, options)? {
        Some(text) => Cow::Owned(text),
        None => Cow::Borrowed(text),
    })
}

/// The placement element, the Reference URI and the node it points at.
fn locate<'a, 'i>(
    document: &'a Document<'i>,
    options: &XmlSignOptions,
) -> Result<(Node<'a, 'i>, String, Node<'a, 'i>), XmlError> {
    let placement = match &options.into {
        Some(name) => placement(document, name, options.into_parent.as_deref())?
            .ok_or_else(|| XmlError::PlacementNotFound(name.clone()))?,
        None => document.root_element(),
    };
    let (uri, target) = match &options.node_id {
        Some(id) => (format!("#{id}"), element_by_id(document, id)?),
        None => (String::new(), document.root()),
    };
    Ok((placement, uri, target))
}

/// The element named `into`: a child of the first `parent` element when a parent is named
/// (e-invoices have an `NBan` in the data and another under `DSCKS`), else the first in the
/// document. `Err` when the named parent itself is missing.
fn placement<'a, 'i>(
    document: &'a Document<'i>,
    into: &str,
    parent: Option<&str>,
) -> Result<Option<Node<'a, 'i>>, XmlError> {
    match parent {
        Some(parent_name) => {
            let parent = element_by_name(document, parent_name)
                .ok_or_else(|| XmlError::PlacementNotFound(parent_name.to_owned()))?;
            Ok(parent
                .children()
                .find(|n| n.is_element() && n.tag_name().name() == into))
        }
        None => Ok(element_by_name(document, into)),
    }
}

/// The text with the `into` element created under `into_parent`, when it is missing and a
/// parent is named; `None` when nothing needs creating.
fn with_placement(text: &str, options: &XmlSignOptions) -> Result<Option<String>, XmlError> {
    let (Some(into), Some(parent_name)) = (&options.into, &options.into_parent) else {
        return Ok(None);
    };
    check_name("into", into)?;
    check_name("into_parent", parent_name)?;
    let document = document::parse(text)?;
    if placement(&document, into, Some(parent_name))?.is_some() {
        return Ok(None);
    }
    let parent = element_by_name(&document, parent_name)
        .ok_or_else(|| XmlError::PlacementNotFound(parent_name.clone()))?;
    Ok(Some(append_child(
        text,
        parent,
        &format!("<{into}></{into}>"),
    )))
}

/// Refuses names that would break the XML we write (quotes, markup, spaces).
fn check_name(what: &str, value: &str) -> Result<(), XmlError> {
    let ok = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(XmlError::InvalidOption(format!(
            "{what} \"{value}\" is not an XML name"
        )))
    }
}

fn validated_prefix(prefix: Option<&str>) -> Result<Option<&str>, XmlError> {
    match prefix.filter(|p| !p.is_empty()) {
        Some(p) => {
            check_name("prefix", p)?;
            if p.contains(':') || p.to_ascii_lowercase().starts_with("xml") {
                return Err(XmlError::InvalidOption(format!("prefix \"{p}\"")));
            }
            Ok(Some(p))
        }
        None => Ok(None),
    }
}

/// An `Id` no element of the document uses yet (one pass over the tree, however many are
/// taken).
fn unused_id(document: &Document<'_>, base: &str) -> String {
    let taken: Vec<&str> = document
        .descendants()
        .filter(Node::is_element)
        .flat_map(|node| node.attributes())
        .filter(|a| {
            a.namespace().is_none()
                && document::ID_ATTRIBUTES.contains(&a.name())
                && a.value().starts_with(base)
        })
        .map(|a| a.value())
        .collect();
    (1..)
        .map(|n| format!("{base}-{n}"))
        .find(|id| !taken.contains(&id.as_str()))
        .unwrap_or_else(|| base.to_owned())
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Escapes text content and attribute values we write.
pub(crate) fn escape(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"']) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;"),
    )
}

/// What the inserted signature inherits from where it goes: in-scope namespace declarations
/// and `xml:*` attributes. Inclusive C14N of `SignedInfo` renders them, so the bytes we sign
/// must be computed as if `SignedInfo` already sat in the document.
#[derive(Debug)]
struct Context {
    /// An opening tag `<kyso-context …>` declaring all of it.
    open_tag: String,
}

impl Context {
    fn of(placement: Node<'_, '_>) -> Self {
        let mut open_tag = String::from("<kyso-context");
        for ns in placement.namespaces() {
            match ns.name() {
                Some("xml") => {}
                Some(prefix) => {
                    open_tag.push_str(&format!(" xmlns:{prefix}=\"{}\"", escape(ns.uri())));
                }
                None if !ns.uri().is_empty() => {
                    open_tag.push_str(&format!(" xmlns=\"{}\"", escape(ns.uri())));
                }
                None => {}
            }
        }
        let mut seen: Vec<&str> = Vec::new();
        for element in placement.ancestors().filter(Node::is_element) {
            for attribute in element.attributes() {
                if attribute.namespace() == Some("http://www.w3.org/XML/1998/namespace")
                    && !seen.contains(&attribute.name())
                {
                    seen.push(attribute.name());
                    open_tag.push_str(&format!(
                        " xml:{}=\"{}\"",
                        attribute.name(),
                        escape(attribute.value())
                    ));
                }
            }
        }
        open_tag.push('>');
        Self { open_tag }
    }

    /// Parses `fragment` (a `<Signature>`) inside the context and runs `f` on the document.
    fn with_parsed<T>(
        &self,
        fragment: &str,
        f: impl FnOnce(&Document<'_>) -> Result<T, XmlError>,
    ) -> Result<T, XmlError> {
        let text = format!("{}{fragment}</kyso-context>", self.open_tag);
        let document = document::parse(&text)
            .map_err(|e| XmlError::Internal(format!("signature text does not parse: {e}")))?;
        f(&document)
    }
}

/// Writes the signature's elements with the chosen prefix.
struct Builder<'a> {
    p: Option<&'a str>,
    c14n_uri: &'static str,
    context: &'a Context,
}

impl Builder<'_> {
    /// `ds:Name` or `Name`.
    fn name(&self, local: &str) -> String {
        match self.p {
            Some(p) => format!("{p}:{local}"),
            None => local.to_owned(),
        }
    }

    fn namespace_declaration(&self) -> String {
        match self.p {
            Some(p) => format!("xmlns:{p}=\"{DSIG_NAMESPACE}\""),
            None => format!("xmlns=\"{DSIG_NAMESPACE}\""),
        }
    }

    fn element(&self, local: &str, attributes: &str, content: &str) -> String {
        let name = self.name(local);
        format!("<{name}{attributes}>{content}</{name}>")
    }

    fn reference(&self, uri: &str, enveloped: bool, digest: Digest, value: &[u8]) -> String {
        let mut transforms = String::new();
        if enveloped {
            transforms.push_str(&self.element(
                "Transform",
                &format!(" Algorithm=\"{ENVELOPED}\""),
                "",
            ));
        }
        transforms.push_str(&self.element(
            "Transform",
            &format!(" Algorithm=\"{}\"", self.c14n_uri),
            "",
        ));
        let kind = if enveloped {
            String::new()
        } else {
            " Type=\"http://www.w3.org/2000/09/xmldsig#SignatureProperties\"".to_owned()
        };
        let content = [
            self.element("Transforms", "", &transforms),
            self.element(
                "DigestMethod",
                &format!(" Algorithm=\"{}\"", digest.uri()),
                "",
            ),
            self.element("DigestValue", "", &base64(value)),
        ]
        .concat();
        self.element(
            "Reference",
            &format!(" URI=\"{}\"{kind}", escape(uri)),
            &content,
        )
    }

    fn signed_info(&self, signature_uri: &str, references: &str) -> String {
        let content = [
            self.element(
                "CanonicalizationMethod",
                &format!(" Algorithm=\"{}\"", self.c14n_uri),
                "",
            ),
            self.element(
                "SignatureMethod",
                &format!(" Algorithm=\"{signature_uri}\""),
                "",
            ),
            references.to_owned(),
        ]
        .concat();
        self.element("SignedInfo", "", &content)
    }

    /// A `<Signature>` start tag, `inner`, and end tag: the form C14N sees.
    fn wrap(&self, id: Option<&str>, inner: &str) -> String {
        let id = id.map(|id| format!(" Id=\"{id}\"")).unwrap_or_default();
        format!(
            "<{name} {ns}{id}>{inner}</{name}>",
            name = self.name("Signature"),
            ns = self.namespace_declaration()
        )
    }

    /// The canonical bytes of `signed_info` as it will be in the document.
    fn canonical_signed_info(
        &self,
        signed_info: &str,
        method: &c14n::Method,
    ) -> Result<Vec<u8>, XmlError> {
        self.context
            .with_parsed(&self.wrap(None, signed_info), |document| {
                let node = document
                    .descendants()
                    .find(|n| n.tag_name().name() == "SignedInfo")
                    .ok_or_else(|| XmlError::Internal("SignedInfo not found".into()))?;
                Ok(canonicalize(node, None, method, Vec::new()))
            })
    }

    /// The digest of the element with `id` inside `fragment` (an `<Object>`), in context.
    fn digest_of(
        &self,
        fragment: &str,
        id: &str,
        digest: Digest,
        method: &c14n::Method,
    ) -> Result<Vec<u8>, XmlError> {
        let method = c14n::Method {
            comments: false,
            ..method.clone()
        };
        self.context
            .with_parsed(&self.wrap(None, fragment), |document| {
                let node = element_by_id(document, id)?;
                Ok(
                    canonicalize(node, None, &method, DigestSink::new(digest.hash().hasher()))
                        .finish(),
                )
            })
    }

    fn signing_time_object(
        &self,
        object_id: &str,
        signature_id: &str,
        now: OffsetDateTime,
    ) -> Result<String, XmlError> {
        let time = now
            .to_offset(time::UtcOffset::UTC)
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(|e| XmlError::Internal(format!("formatting the signing time: {e}")))?;
        let property = self.element(
            "SignatureProperty",
            &format!(" Target=\"#{signature_id}\""),
            // Own namespace: SignatureProperty content must not be in the XMLDSig namespace
            // (schema `##other`); portals look the element up by its local name.
            &format!("<SigningTime xmlns=\"{SIGNING_TIME_NAMESPACE}\">{time}</SigningTime>"),
        );
        let properties = self.element("SignatureProperties", "", &property);
        Ok(self.element("Object", &format!(" Id=\"{object_id}\""), &properties))
    }

    fn key_info(&self, signer: &dyn Signer, options: &XmlSignOptions) -> Result<String, XmlError> {
        let certificate = signer.certificate();
        let mut data = String::new();
        if options.subject_name || options.issuer_serial {
            let (_, parsed) = x509_parser::parse_x509_certificate(certificate)
                .map_err(|e| XmlError::Certificate(e.to_string()))?;
            if options.subject_name {
                data.push_str(&self.element(
                    "X509SubjectName",
                    "",
                    &escape(&parsed.subject().to_string()),
                ));
            }
            if options.issuer_serial {
                let content = [
                    self.element("X509IssuerName", "", &escape(&parsed.issuer().to_string())),
                    self.element("X509SerialNumber", "", &parsed.serial.to_string()),
                ]
                .concat();
                data.push_str(&self.element("X509IssuerSerial", "", &content));
            }
        }
        data.push_str(&self.element("X509Certificate", "", &base64(certificate)));
        if options.include_chain {
            for ca in signer.chain() {
                if !is_self_signed(ca) {
                    data.push_str(&self.element("X509Certificate", "", &base64(ca)));
                }
            }
        }
        Ok(self.element("KeyInfo", "", &self.element("X509Data", "", &data)))
    }

    fn signature(
        &self,
        id: &str,
        signed_info: &str,
        value: &str,
        key_info: &str,
        object: Option<&str>,
    ) -> String {
        let inner = [
            signed_info,
            &self.element("SignatureValue", "", value),
            key_info,
            object.unwrap_or(""),
        ]
        .concat();
        self.wrap(Some(id), &inner)
    }
}

/// A root (self-signed) certificate: verifiers take roots from their own trust store, so
/// sending it only adds bytes.
fn is_self_signed(der: &[u8]) -> bool {
    x509_parser::parse_x509_certificate(der)
        .map(|(_, c)| c.subject().as_raw() == c.issuer().as_raw())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{formats::xml::verify_xml, signer::SoftwareSigner};

    fn signer() -> SoftwareSigner {
        let pki = kyso_certs::testpki::shared();
        let user = pki
            .user("company-rsa2048")
            .unwrap_or_else(|| panic!("no test user"));
        SoftwareSigner::from_pkcs8(&user.key_pkcs8_der, user.cert_der.clone(), Vec::new())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Streams `prepared` signed, checks it equals the in-memory form and verifies, and
    /// returns it with the signature text.
    fn signed(prepared: &PreparedXml<'_>) -> (Vec<u8>, String) {
        let signature = prepared.sign(&signer()).unwrap_or_else(|e| panic!("{e}"));
        let mut streamed = Vec::new();
        prepared
            .write_signed(&signature, &mut streamed)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(streamed, prepared.signed_vec(&signature));
        let reports = verify_xml(&streamed, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(reports.len() == 1 && reports[0].intact, "{reports:#?}");
        (streamed, signature.text)
    }

    #[test]
    fn a_prepared_document_is_written_with_only_the_signature_added() {
        let input = "\u{feff}<?xml version=\"1.0\"?>\r\n<r xmlns=\"urn:r\">\r\n\t<d id=\"x\" b='1'  a=\"2\">Hà Nội</d>\r\n\t<s\t/>\r\n</r>\r\n";
        let options = XmlSignOptions {
            node_id: Some("x".into()),
            into: Some("s".into()),
            ..XmlSignOptions::default()
        };
        // Owned input: the prepared document can outlive the caller's buffer (batch items).
        let prepared: PreparedXml<'static> =
            prepare(input.as_bytes().to_vec(), &options).unwrap_or_else(|e| panic!("{e}"));
        let (output, signature) = signed(&prepared);
        let output = String::from_utf8(output).unwrap_or_else(|e| panic!("{e}"));
        // `<s\t/>` became `<s\t>…</s>`; every other byte is the input's.
        assert_eq!(
            output.replace(&format!(">{signature}</s>"), "/>"),
            input,
            "{output}"
        );
    }

    #[test]
    fn a_placement_created_under_its_parent_is_written_with_the_signature() {
        let input = "<r><DLHDon Id=\"data\">x</DLHDon><DSCKS><NMua/></DSCKS></r>";
        let options = XmlSignOptions {
            node_id: Some("data".into()),
            into: Some("NBan".into()),
            into_parent: Some("DSCKS".into()),
            ..XmlSignOptions::default()
        };
        let prepared = prepare(input.as_bytes(), &options).unwrap_or_else(|e| panic!("{e}"));
        let (output, signature) = signed(&prepared);
        assert_eq!(
            String::from_utf8(output).unwrap_or_default(),
            input.replace("</DSCKS>", &format!("<NBan>{signature}</NBan></DSCKS>"))
        );
    }

    #[test]
    fn document_errors_come_from_prepare_before_any_signer() {
        let options = XmlSignOptions {
            node_id: Some("missing".into()),
            ..XmlSignOptions::default()
        };
        assert!(matches!(
            prepare("<r/>".as_bytes(), &options),
            Err(XmlError::IdNotFound(_))
        ));
        assert!(matches!(
            prepare("<!DOCTYPE r><r/>".as_bytes(), &XmlSignOptions::default()),
            Err(XmlError::Dtd)
        ));
    }
}
