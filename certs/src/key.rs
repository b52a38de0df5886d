//! Certificates' public keys, in the form the token layer needs to pair a certificate with
//! its private key (PKCS#11 `CKA_MODULUS`/`CKA_PUBLIC_EXPONENT`, `CKA_EC_PARAMS`/`CKA_EC_POINT`).

use x509_parser::asn1_rs::Tag;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::summary::parse;
use crate::CertError;

const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_ED25519: &str = "1.3.101.112";

/// A named elliptic curve supported by kyso.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EcCurve {
    /// NIST P-256 (secp256r1, prime256v1), OID 1.2.840.10045.3.1.7.
    P256,
    /// NIST P-384 (secp384r1), OID 1.3.132.0.34.
    P384,
    /// NIST P-521 (secp521r1), OID 1.3.132.0.35.
    P521,
}

impl EcCurve {
    const ALL: [EcCurve; 3] = [EcCurve::P256, EcCurve::P384, EcCurve::P521];

    /// The DER of `ECParameters ::= CHOICE { namedCurve OBJECT IDENTIFIER, ... }` (RFC 5480
    /// §2.1.1) for this curve: exactly what PKCS#11 tokens store in `CKA_EC_PARAMS`.
    pub fn params_der(&self) -> &'static [u8] {
        match self {
            Self::P256 => &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
            Self::P384 => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22],
            Self::P521 => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23],
        }
    }

    /// The curve whose `params_der` this is, if kyso knows it.
    pub fn from_params_der(der: &[u8]) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.params_der() == der)
    }

    /// Length in bytes of a field element (and so of each of X, Y, r and s).
    pub fn field_len(&self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
            Self::P521 => 66,
        }
    }

    /// Short label used in summaries: "EC-P256", "EC-P384", "EC-P521".
    pub fn label(&self) -> &'static str {
        match self {
            Self::P256 => "EC-P256",
            Self::P384 => "EC-P384",
            Self::P521 => "EC-P521",
        }
    }
}

/// A certificate's public key, normalised for comparison with a token's key objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKeyInfo {
    /// An RSA key (rsaEncryption).
    Rsa {
        /// Modulus, big-endian, without leading zero bytes.
        modulus: Vec<u8>,
        /// Public exponent, big-endian, without leading zero bytes.
        exponent: Vec<u8>,
    },
    /// An EC key on a curve kyso knows.
    Ec {
        /// The named curve.
        curve: EcCurve,
        /// The uncompressed point `0x04 || X || Y`.
        point: Vec<u8>,
    },
    /// Anything else: another algorithm, an unknown curve, or a compressed EC point (which
    /// tokens do not store, so it could never be paired anyway).
    Other,
}

/// The DER of the certificate's SubjectPublicKeyInfo.
pub fn spki_der(der: &[u8]) -> Result<Vec<u8>, CertError> {
    let cert = parse(der)?;
    Ok(cert.public_key().raw.to_vec())
}

/// The certificate's public key, normalised (see [`PublicKeyInfo`]).
pub fn public_key(der: &[u8]) -> Result<PublicKeyInfo, CertError> {
    let cert = parse(der)?;
    public_key_of(cert.public_key())
}

pub(crate) fn public_key_of(spki: &SubjectPublicKeyInfo<'_>) -> Result<PublicKeyInfo, CertError> {
    let algorithm = spki.algorithm.algorithm.to_id_string();
    if algorithm == OID_RSA_ENCRYPTION {
        let PublicKey::RSA(rsa) = spki.parsed().map_err(CertError::Parse)? else {
            return Ok(PublicKeyInfo::Other);
        };
        return Ok(PublicKeyInfo::Rsa {
            modulus: strip_leading_zeros(rsa.modulus).to_vec(),
            exponent: strip_leading_zeros(rsa.exponent).to_vec(),
        });
    }
    if algorithm == OID_EC_PUBLIC_KEY {
        let Some(curve) = ec_curve(spki) else {
            return Ok(PublicKeyInfo::Other);
        };
        let point: &[u8] = &spki.subject_public_key.data;
        let uncompressed = point.len() == 1 + 2 * curve.field_len() && point.first() == Some(&4);
        if !uncompressed {
            return Ok(PublicKeyInfo::Other);
        }
        return Ok(PublicKeyInfo::Ec {
            curve,
            point: point.to_vec(),
        });
    }
    Ok(PublicKeyInfo::Other)
}

/// Summary label for the key: "RSA-<bits>", "EC-P256"/"EC-P384"/"EC-P521", "Ed25519" or
/// "UNKNOWN".
pub(crate) fn key_label(spki: &SubjectPublicKeyInfo<'_>) -> String {
    if spki.algorithm.algorithm.to_id_string() == OID_ED25519 {
        return "Ed25519".to_owned();
    }
    match public_key_of(spki) {
        Ok(PublicKeyInfo::Rsa { modulus, .. }) => match modulus.first() {
            Some(&top) => {
                let bits = modulus.len() * 8 - top.leading_zeros() as usize;
                format!("RSA-{bits}")
            }
            None => "UNKNOWN".to_owned(),
        },
        Ok(PublicKeyInfo::Ec { curve, .. }) => curve.label().to_owned(),
        // A compressed point still tells us the curve, which is all the label needs.
        Ok(PublicKeyInfo::Other) => ec_curve(spki)
            .filter(|_| spki.algorithm.algorithm.to_id_string() == OID_EC_PUBLIC_KEY)
            .map_or_else(|| "UNKNOWN".to_owned(), |c| c.label().to_owned()),
        Err(_) => "UNKNOWN".to_owned(),
    }
}

/// The named curve in an id-ecPublicKey algorithm's parameters.
fn ec_curve(spki: &SubjectPublicKeyInfo<'_>) -> Option<EcCurve> {
    let params = spki.algorithm.parameters()?;
    if params.tag() != Tag::Oid {
        return None;
    }
    EcCurve::ALL.into_iter().find(|c| {
        // params_der is a short-form TLV: tag, length, then the OID's contents.
        c.params_der().get(2..) == Some(params.data)
    })
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    &bytes[skip..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testpki::{shared, KeySpec};

    #[test]
    fn params_der_is_the_named_curve_oid_der() {
        assert_eq!(
            EcCurve::P256.params_der(),
            [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]
        );
        for curve in EcCurve::ALL {
            assert_eq!(EcCurve::from_params_der(curve.params_der()), Some(curve));
        }
        assert_eq!(EcCurve::from_params_der(&[0x06, 0x01, 0x00]), None);
    }

    #[test]
    fn rsa_public_key_has_no_leading_zero_and_matches_the_modulus_size() {
        let pki = shared();
        for user in pki.users.iter().chain([&pki.issuing]) {
            let expected_bits = match user.key_spec {
                KeySpec::Rsa2048 => 2048,
                KeySpec::Rsa3072 => 3072,
                KeySpec::EcP256 | KeySpec::EcP384 => continue,
            };
            let Ok(PublicKeyInfo::Rsa { modulus, exponent }) = public_key(&user.cert_der) else {
                panic!("{} should have an RSA key", user.name);
            };
            assert_eq!(modulus.len() * 8, expected_bits, "{}", user.name);
            assert_ne!(modulus[0], 0);
            assert_eq!(exponent, [0x01, 0x00, 0x01]);
        }
    }

    #[test]
    fn ec_public_key_is_the_uncompressed_point_on_the_right_curve() {
        let pki = shared();
        for user in pki.users.iter().chain([&pki.root]) {
            let expected = match user.key_spec {
                KeySpec::EcP256 => EcCurve::P256,
                KeySpec::EcP384 => EcCurve::P384,
                KeySpec::Rsa2048 | KeySpec::Rsa3072 => continue,
            };
            let Ok(PublicKeyInfo::Ec { curve, point }) = public_key(&user.cert_der) else {
                panic!("{} should have an EC key", user.name);
            };
            assert_eq!(curve, expected, "{}", user.name);
            assert_eq!(point.len(), 1 + 2 * curve.field_len());
            assert_eq!(point[0], 4);
        }
    }

    #[test]
    fn spki_der_is_a_der_sequence_containing_the_key() {
        let pki = shared();
        let Some(user) = pki.user("person-p256") else {
            panic!("person-p256 missing");
        };
        let spki = spki_der(&user.cert_der).expect("spki of a generated cert");
        assert_eq!(spki[0], 0x30);
        let Ok(PublicKeyInfo::Ec { point, .. }) = public_key(&user.cert_der) else {
            panic!("EC key expected");
        };
        assert!(spki.ends_with(&point));
        assert!(user
            .cert_der
            .windows(spki.len())
            .any(|window| window == spki.as_slice()));
    }
}
