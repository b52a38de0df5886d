//! Writing to a token: initialise it and import keys and certificates through PKCS#11
//! (`C_InitToken`, `C_InitPIN`, `C_CreateObject`).
//!
//! Used to provision the demo SoftHSM token and by the test harness; never on a user's token.
//! It opens its own PKCS#11 context and finalizes it, so run it before a [`super::TokenService`]
//! loads the same module.

use std::path::Path;

use cryptoki::{
    context::{CInitializeArgs, CInitializeFlags, Pkcs11},
    object::{Attribute, CertificateType, KeyType, ObjectClass},
    session::{Session, UserType},
    types::AuthPin,
};
use der::{Decode, Encode};
use rsa::{pkcs8::DecodePrivateKey, traits::PrivateKeyParts, traits::PublicKeyParts};
use zeroize::Zeroizing;

use super::TokenError;

/// One object set to import: a certificate and, optionally, its private key.
#[derive(Debug, Clone)]
pub struct ImportItem<'a> {
    /// `CKA_LABEL` for the objects.
    pub label: &'a str,
    /// `CKA_ID` of the key (and public key).
    pub key_id: &'a [u8],
    /// `CKA_ID` of the certificate: normally the same as `key_id`; different to reproduce tokens
    /// whose ids do not match.
    pub cert_id: &'a [u8],
    /// The certificate, DER.
    pub cert_der: &'a [u8],
    /// The private key as PKCS#8 DER (RSA, P-256 or P-384); `None` for CA certificates.
    pub key_pkcs8_der: Option<&'a [u8]>,
}

fn p11(operation: &'static str) -> impl FnOnce(cryptoki::error::Error) -> TokenError {
    move |source| TokenError::Pkcs11 { operation, source }
}

fn open(module: &Path) -> Result<Pkcs11, TokenError> {
    let pkcs11 = Pkcs11::new(module).map_err(|source| TokenError::ModuleLoad {
        path: module.to_path_buf(),
        source,
    })?;
    pkcs11
        .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .map_err(|source| TokenError::ModuleLoad {
            path: module.to_path_buf(),
            source,
        })?;
    Ok(pkcs11)
}

/// Initialises a fresh token labelled `label` in the first slot without one, sets its user
/// PIN, and imports `items`. Returns the token's serial.
pub fn create_token(
    module: &Path,
    label: &str,
    so_pin: &str,
    user_pin: &str,
    items: &[ImportItem<'_>],
) -> Result<String, TokenError> {
    let pkcs11 = open(module)?;
    let result = (|| {
        let slot = pkcs11
            .get_all_slots()
            .map_err(p11("C_GetSlotList"))?
            .into_iter()
            .find(|slot| {
                pkcs11
                    .get_token_info(*slot)
                    .map(|info| !info.token_initialized())
                    .unwrap_or(false)
            })
            .ok_or(TokenError::NoToken)?;
        let so_pin = AuthPin::from(so_pin);
        pkcs11
            .init_token(slot, &so_pin, label)
            .map_err(p11("C_InitToken"))?;
        // SoftHSM moves the new token to another slot id: look it up again by label.
        let slot = pkcs11
            .get_slots_with_initialized_token()
            .map_err(p11("C_GetSlotList"))?
            .into_iter()
            .find(|slot| {
                pkcs11
                    .get_token_info(*slot)
                    .map(|info| info.label().trim() == label)
                    .unwrap_or(false)
            })
            .ok_or_else(|| TokenError::TokenNotPresent(label.to_owned()))?;
        let session = pkcs11.open_rw_session(slot).map_err(p11("C_OpenSession"))?;
        session
            .login(UserType::So, Some(&so_pin))
            .map_err(p11("C_Login"))?;
        session
            .init_pin(&AuthPin::from(user_pin))
            .map_err(p11("C_InitPIN"))?;
        session.logout().map_err(p11("C_Logout"))?;
        session
            .login(UserType::User, Some(&AuthPin::from(user_pin)))
            .map_err(p11("C_Login"))?;
        for item in items {
            import(&session, item)?;
        }
        session.logout().map_err(p11("C_Logout"))?;
        let serial = pkcs11
            .get_token_info(slot)
            .map_err(p11("C_GetTokenInfo"))?
            .serial_number()
            .trim()
            .to_owned();
        Ok(serial)
    })();
    let _ = pkcs11.finalize();
    result
}

fn der<T: Encode>(value: &T) -> Vec<u8> {
    // Re-encoding fields of a certificate that just decoded cannot fail.
    value.to_der().unwrap_or_default()
}

fn import(session: &Session, item: &ImportItem<'_>) -> Result<(), TokenError> {
    let certificate = x509_cert::Certificate::from_der(item.cert_der).map_err(|_| {
        TokenError::CertificateNotFound(format!("{}: not a DER certificate", item.label))
    })?;
    let tbs = &certificate.tbs_certificate;
    session
        .create_object(&[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(CertificateType::X_509),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Label(item.label.as_bytes().to_vec()),
            Attribute::Id(item.cert_id.to_vec()),
            Attribute::Subject(der(&tbs.subject)),
            Attribute::Issuer(der(&tbs.issuer)),
            Attribute::SerialNumber(der(&tbs.serial_number)),
            Attribute::Value(item.cert_der.to_vec()),
        ])
        .map_err(p11("C_CreateObject(certificate)"))?;
    let Some(pkcs8) = item.key_pkcs8_der else {
        return Ok(());
    };
    let common = |class: ObjectClass, key_type: KeyType| {
        vec![
            Attribute::Class(class),
            Attribute::KeyType(key_type),
            Attribute::Token(true),
            Attribute::Label(item.label.as_bytes().to_vec()),
            Attribute::Id(item.key_id.to_vec()),
            Attribute::Subject(der(&tbs.subject)),
        ]
    };
    if let Ok(key) = rsa::RsaPrivateKey::from_pkcs8_der(pkcs8) {
        let primes = key.primes();
        let (Some(p), Some(q)) = (primes.first(), primes.get(1)) else {
            return Err(TokenError::KeyNotFound(item.label.to_owned()));
        };
        let crt = key.crt_coefficient().unwrap_or_default();
        let secret = |v: &rsa::BigUint| Zeroizing::new(v.to_bytes_be());
        let mut private = common(ObjectClass::PRIVATE_KEY, KeyType::RSA);
        private.extend([
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Sign(true),
            Attribute::Modulus(key.n().to_bytes_be()),
            Attribute::PublicExponent(key.e().to_bytes_be()),
            Attribute::PrivateExponent(secret(key.d()).to_vec()),
            Attribute::Prime1(secret(p).to_vec()),
            Attribute::Prime2(secret(q).to_vec()),
            Attribute::Exponent1(key.dp().map(|v| secret(v).to_vec()).unwrap_or_default()),
            Attribute::Exponent2(key.dq().map(|v| secret(v).to_vec()).unwrap_or_default()),
            Attribute::Coefficient(secret(&crt).to_vec()),
        ]);
        session
            .create_object(&private)
            .map_err(p11("C_CreateObject(private key)"))?;
        let mut public = common(ObjectClass::PUBLIC_KEY, KeyType::RSA);
        public.extend([
            Attribute::Private(false),
            Attribute::Verify(true),
            Attribute::Modulus(key.n().to_bytes_be()),
            Attribute::PublicExponent(key.e().to_bytes_be()),
        ]);
        session
            .create_object(&public)
            .map_err(p11("C_CreateObject(public key)"))?;
        return Ok(());
    }
    let (params, scalar, point) = if let Ok(key) = p256::SecretKey::from_pkcs8_der(pkcs8) {
        (
            kyso_certs::EcCurve::P256.params_der(),
            Zeroizing::new(key.to_bytes().to_vec()),
            p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&key.public_key(), false)
                .as_bytes()
                .to_vec(),
        )
    } else if let Ok(key) = p384::SecretKey::from_pkcs8_der(pkcs8) {
        (
            kyso_certs::EcCurve::P384.params_der(),
            Zeroizing::new(key.to_bytes().to_vec()),
            p384::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&key.public_key(), false)
                .as_bytes()
                .to_vec(),
        )
    } else {
        return Err(TokenError::KeyNotFound(format!(
            "{}: unsupported key type",
            item.label
        )));
    };
    let mut private = common(ObjectClass::PRIVATE_KEY, KeyType::EC);
    private.extend([
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Sign(true),
        Attribute::EcParams(params.to_vec()),
        Attribute::Value(scalar.to_vec()),
    ]);
    session
        .create_object(&private)
        .map_err(p11("C_CreateObject(private key)"))?;
    let wrapped_point = der::asn1::OctetString::new(point)
        .and_then(|os| os.to_der())
        .map_err(|_| TokenError::KeyNotFound(item.label.to_owned()))?;
    let mut public = common(ObjectClass::PUBLIC_KEY, KeyType::EC);
    public.extend([
        Attribute::Private(false),
        Attribute::Verify(true),
        Attribute::EcParams(params.to_vec()),
        Attribute::EcPoint(wrapped_point),
    ]);
    session
        .create_object(&public)
        .map_err(p11("C_CreateObject(public key)"))?;
    Ok(())
}
