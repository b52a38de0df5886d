//! CMS `SignedData` with CAdES-BES signed attributes (RFC 5652, ETSI EN 319 122-1).
//!
//! Built in two stages so the token sits between them and its error is never lost:
//! [`CmsRequest::prepare`] gives a [`ToBeSigned`] holding the DER of the signed attributes; the
//! [`Signer`] signs those bytes; [`ToBeSigned::assemble`] wraps the signature into the final
//! `ContentInfo`. [`sign`] does all three for the common case.

use std::time::SystemTime;

use cms::{
    cert::{CertificateChoices, IssuerAndSerialNumber},
    content_info::{CmsVersion, ContentInfo},
    signed_data::{
        CertificateSet, EncapsulatedContentInfo, SignedAttributes, SignedData, SignerIdentifier,
        SignerInfo, SignerInfos,
    },
};
use const_oid::{db::rfc5911, db::rfc5912, ObjectIdentifier};
use der::{
    asn1::{Any, OctetString, SetOfVec},
    Decode, Encode, Sequence,
};
use spki::AlgorithmIdentifierOwned;
use x509_cert::{
    attr::Attribute, ext::pkix::name::GeneralName, serial_number::SerialNumber, time::Time,
    Certificate,
};

use crate::{
    error::{Coded, ErrorCode},
    signer::{HashAlgorithm, SignInput, SignatureScheme, Signer, SignerError},
};

/// `id-aa-signingCertificateV2` (RFC 5035 §3).
const ID_AA_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");

/// Why a CMS signature could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CmsError {
    /// The key refused or failed (wrong PIN, token removed, ...): its code is kept.
    #[error("the signer failed")]
    Signer(#[from] SignerError),
    /// The signer's certificate could not be decoded.
    #[error("the signer certificate is not valid DER")]
    Certificate(#[source] der::Error),
    /// Encoding the structure failed.
    #[error("encoding CMS failed")]
    Encoding(#[from] der::Error),
    /// A caller-supplied digest has the wrong length for its algorithm.
    #[error("a {algorithm} digest is {expected} bytes, got {actual}")]
    DigestLength {
        /// The algorithm named.
        algorithm: HashAlgorithm,
        /// Its digest length.
        expected: usize,
        /// What was given.
        actual: usize,
    },
    /// The requested scheme does not fit the key.
    #[error("{scheme:?} cannot be used with this key")]
    SchemeMismatch {
        /// The requested scheme.
        scheme: SignatureScheme,
    },
}

impl Coded for CmsError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Signer(e) => e.code(),
            Self::Certificate(_) | Self::Encoding(_) => ErrorCode::SignatureFormat,
            Self::DigestLength { .. } => ErrorCode::BadRequest,
            Self::SchemeMismatch { .. } => ErrorCode::AlgorithmMismatch,
        }
    }
}

/// What is signed.
#[derive(Debug, Clone, Copy)]
pub enum Content<'a> {
    /// The data travels inside the signature (`eContent` present).
    Attached(&'a [u8]),
    /// The data stays outside; the signature carries only its digest.
    Detached(&'a [u8]),
    /// Detached, with the digest computed by the caller (e.g. a PDF byte range, or a portal
    /// that hashes on its side). Its length must match the request's hash.
    DetachedDigest(&'a [u8]),
}

/// Options of a CMS signature. `Default` is CAdES-BES, SHA-256, the key's natural scheme,
/// signing time now, chain included.
#[derive(Debug, Clone)]
pub struct CmsRequest {
    /// Digest algorithm for content and signed attributes.
    pub hash: HashAlgorithm,
    /// Signature scheme; `None` picks PKCS#1 v1.5 for RSA and ECDSA for EC keys.
    pub scheme: Option<SignatureScheme>,
    /// The `signing-time` attribute; `None` omits it (PAdES puts the time in the PDF instead).
    pub signing_time: Option<SystemTime>,
    /// Ship the chain the signer knows alongside its certificate.
    pub include_chain: bool,
}

impl Default for CmsRequest {
    fn default() -> Self {
        Self {
            hash: HashAlgorithm::Sha256,
            scheme: None,
            signing_time: Some(SystemTime::now()),
            include_chain: true,
        }
    }
}

/// `ESSCertIDv2` (RFC 5035 §4): the hash algorithm is omitted when it is the default SHA-256.
#[derive(Sequence)]
struct EssCertIdV2 {
    hash_algorithm: Option<AlgorithmIdentifierOwned>,
    cert_hash: OctetString,
    issuer_serial: Option<IssuerSerial>,
}

/// `IssuerSerial ::= SEQUENCE { issuer GeneralNames, serialNumber CertificateSerialNumber }`
#[derive(Sequence)]
struct IssuerSerial {
    issuer: Vec<GeneralName>,
    serial_number: SerialNumber,
}

/// `SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2, policies ... OPTIONAL }`
#[derive(Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
}

/// A signature whose signed attributes are fixed and wait for the key.
#[derive(Debug)]
pub struct ToBeSigned {
    signed_attrs: SignedAttributes,
    signed_attrs_der: Vec<u8>,
    scheme: SignatureScheme,
    hash: HashAlgorithm,
    certificate: Certificate,
    certificates: Vec<Certificate>,
    econtent: Option<Vec<u8>>,
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute, CmsError> {
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![value])?,
    })
}

fn digest_algorithm(hash: HashAlgorithm) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: hash.oid(),
        parameters: None,
    }
}

/// `SignerInfo.signatureAlgorithm` for a scheme and hash.
pub fn signature_algorithm(
    scheme: SignatureScheme,
    hash: HashAlgorithm,
) -> Result<AlgorithmIdentifierOwned, CmsError> {
    Ok(match scheme {
        // rsaEncryption, as OpenSSL and most CAdES producers write it.
        SignatureScheme::RsaPkcs1v15 => AlgorithmIdentifierOwned {
            oid: rfc5912::RSA_ENCRYPTION,
            parameters: Some(Any::null()),
        },
        SignatureScheme::RsaPss => {
            let params = match hash {
                HashAlgorithm::Sha1 => rsa::pkcs1::RsaPssParams::new::<sha1::Sha1>(20),
                HashAlgorithm::Sha256 => rsa::pkcs1::RsaPssParams::new::<sha2::Sha256>(32),
                HashAlgorithm::Sha384 => rsa::pkcs1::RsaPssParams::new::<sha2::Sha384>(48),
                HashAlgorithm::Sha512 => rsa::pkcs1::RsaPssParams::new::<sha2::Sha512>(64),
            };
            AlgorithmIdentifierOwned {
                oid: rfc5912::ID_RSASSA_PSS,
                parameters: Some(Any::from_der(&params.to_der()?)?),
            }
        }
        SignatureScheme::Ecdsa => AlgorithmIdentifierOwned {
            oid: match hash {
                HashAlgorithm::Sha1 => ObjectIdentifier::new_unwrap("1.2.840.10045.4.1"),
                HashAlgorithm::Sha256 => rfc5912::ECDSA_WITH_SHA_256,
                HashAlgorithm::Sha384 => rfc5912::ECDSA_WITH_SHA_384,
                HashAlgorithm::Sha512 => rfc5912::ECDSA_WITH_SHA_512,
            },
            parameters: None,
        },
    })
}

impl CmsRequest {
    /// Fixes the signed attributes for `content` signed by the holder of `certificate`.
    pub fn prepare(
        &self,
        signer: &dyn Signer,
        content: Content<'_>,
    ) -> Result<ToBeSigned, CmsError> {
        let kind = signer.key_kind();
        let scheme = self
            .scheme
            .unwrap_or_else(|| SignatureScheme::default_for(kind));
        if !scheme.fits(kind) {
            return Err(CmsError::SchemeMismatch { scheme });
        }
        let cert_der = signer.certificate();
        let certificate = Certificate::from_der(cert_der).map_err(CmsError::Certificate)?;
        let mut certificates = vec![certificate.clone()];
        if self.include_chain {
            for der in signer.chain() {
                certificates.push(Certificate::from_der(der).map_err(CmsError::Certificate)?);
            }
        }

        let (digest, econtent) = match content {
            Content::Attached(data) => (self.hash.digest(data), Some(data.to_vec())),
            Content::Detached(data) => (self.hash.digest(data), None),
            Content::DetachedDigest(digest) => {
                if digest.len() != self.hash.output_len() {
                    return Err(CmsError::DigestLength {
                        algorithm: self.hash,
                        expected: self.hash.output_len(),
                        actual: digest.len(),
                    });
                }
                (digest.to_vec(), None)
            }
        };

        let mut attrs = vec![
            attribute(
                rfc5911::ID_CONTENT_TYPE,
                Any::encode_from(&rfc5911::ID_DATA)?,
            )?,
            attribute(
                rfc5911::ID_MESSAGE_DIGEST,
                Any::encode_from(&OctetString::new(digest)?)?,
            )?,
        ];
        if let Some(time) = self.signing_time {
            let time = Time::try_from(time)?;
            attrs.push(attribute(
                rfc5911::ID_SIGNING_TIME,
                Any::encode_from(&time)?,
            )?);
        }
        attrs.push(attribute(
            ID_AA_SIGNING_CERTIFICATE_V2,
            Any::encode_from(&signing_certificate_v2(cert_der, &certificate, self.hash)?)?,
        )?);
        let signed_attrs = SetOfVec::try_from(attrs)?;
        // Signed as a DER `SET OF` (tag 0x31), embedded as `[0] IMPLICIT` (RFC 5652 §5.4).
        let signed_attrs_der = signed_attrs.to_der()?;
        Ok(ToBeSigned {
            signed_attrs,
            signed_attrs_der,
            scheme,
            hash: self.hash,
            certificate,
            certificates,
            econtent,
        })
    }
}

fn signing_certificate_v2(
    cert_der: &[u8],
    certificate: &Certificate,
    hash: HashAlgorithm,
) -> Result<SigningCertificateV2, CmsError> {
    let hash_algorithm = (hash != HashAlgorithm::Sha256).then(|| digest_algorithm(hash));
    Ok(SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            hash_algorithm,
            cert_hash: OctetString::new(hash.digest(cert_der))?,
            issuer_serial: Some(IssuerSerial {
                issuer: vec![GeneralName::DirectoryName(
                    certificate.tbs_certificate.issuer.clone(),
                )],
                serial_number: certificate.tbs_certificate.serial_number.clone(),
            }),
        }],
    })
}

impl ToBeSigned {
    /// The bytes the key signs: the DER `SET OF` signed attributes.
    pub fn message(&self) -> &[u8] {
        &self.signed_attrs_der
    }

    /// The scheme chosen for the key.
    pub fn scheme(&self) -> SignatureScheme {
        self.scheme
    }

    /// Wraps `signature` (raw RSA or DER ECDSA) into a DER `ContentInfo`.
    pub fn assemble(self, signature: Vec<u8>) -> Result<Vec<u8>, CmsError> {
        let digest_alg = digest_algorithm(self.hash);
        let signer_info = SignerInfo {
            version: CmsVersion::V1,
            sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: self.certificate.tbs_certificate.issuer.clone(),
                serial_number: self.certificate.tbs_certificate.serial_number.clone(),
            }),
            digest_alg: digest_alg.clone(),
            signed_attrs: Some(self.signed_attrs),
            signature_algorithm: signature_algorithm(self.scheme, self.hash)?,
            signature: OctetString::new(signature)?,
            unsigned_attrs: None,
        };
        let certificates = self
            .certificates
            .into_iter()
            .map(CertificateChoices::Certificate)
            .collect::<Vec<_>>();
        let signed_data = SignedData {
            version: CmsVersion::V1,
            digest_algorithms: SetOfVec::try_from(vec![digest_alg])?,
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: rfc5911::ID_DATA,
                econtent: self
                    .econtent
                    .map(|data| Any::encode_from(&OctetString::new(data)?))
                    .transpose()?,
            },
            certificates: Some(CertificateSet(SetOfVec::try_from(certificates)?)),
            crls: None,
            signer_infos: SignerInfos(SetOfVec::try_from(vec![signer_info])?),
        };
        let content_info = ContentInfo {
            content_type: rfc5911::ID_SIGNED_DATA,
            content: Any::encode_from(&signed_data)?,
        };
        Ok(content_info.to_der()?)
    }
}

/// Signs `content` with `signer`: prepare, sign the attributes, assemble.
pub fn sign(
    signer: &dyn Signer,
    content: Content<'_>,
    request: &CmsRequest,
) -> Result<Vec<u8>, CmsError> {
    let to_be_signed = request.prepare(signer, content)?;
    let signature = signer.sign(
        to_be_signed.scheme(),
        request.hash,
        SignInput::Message(to_be_signed.message()),
    )?;
    to_be_signed.assemble(signature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::SoftwareSigner;

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

    #[test]
    fn detached_digest_of_wrong_length_is_a_bad_request() {
        let signer = signer("company-rsa2048");
        let err = sign(
            &signer,
            Content::DetachedDigest(&[0u8; 20]),
            &CmsRequest::default(),
        )
        .err();
        assert_eq!(err.map(|e| e.code()), Some(ErrorCode::BadRequest));
    }

    #[test]
    fn pss_with_an_ec_key_is_refused_before_signing() {
        let signer = signer("person-p256");
        let request = CmsRequest {
            scheme: Some(SignatureScheme::RsaPss),
            ..CmsRequest::default()
        };
        let err = sign(&signer, Content::Detached(b"x"), &request).err();
        assert_eq!(err.map(|e| e.code()), Some(ErrorCode::AlgorithmMismatch));
    }

    #[test]
    fn attached_signature_decodes_and_carries_content_and_chain() {
        let signer = signer("company-rsa2048");
        let der = sign(&signer, Content::Attached(b"hello"), &CmsRequest::default())
            .unwrap_or_else(|e| panic!("{e}"));
        let info = ContentInfo::from_der(&der).unwrap_or_else(|e| panic!("{e}"));
        let signed: SignedData = info.content.decode_as().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(signed.certificates.map(|c| c.0.len()), Some(2));
        let econtent = signed.encap_content_info.econtent;
        let content: OctetString = econtent
            .map(|any| any.decode_as().unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|| panic!("no eContent"));
        assert_eq!(content.as_bytes(), b"hello");
    }
}
