//! One loaded PKCS#11 module, owned by one blocking thread.
//!
//! Token middleware is rarely safe for concurrent use and every call may block on a USB
//! device, so each module lives on its own thread and is reached through a channel: callers
//! from any thread or async task queue jobs, and the token sees one operation at a time.
//! The thread keeps one session per token, reopened when the token reports it gone.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{mpsc, Arc, Mutex},
    thread,
};

use cryptoki::{
    context::{CInitializeArgs, CInitializeFlags, Pkcs11},
    error::RvError,
    mechanism::{
        rsa::{PkcsMgfType, PkcsPssParams},
        Mechanism, MechanismType,
    },
    object::{Attribute, AttributeType, CertificateType, ObjectClass, ObjectHandle},
    session::{Session, SessionState, UserType},
    slot::{Slot, TokenInfo as RawTokenInfo},
    types::{AuthPin, Ulong},
};
use kyso_certs::PublicKeyInfo;

use super::{error::rv, PinState, TokenError, TokenInfo, TokenRef};
use crate::signer::{ecdsa_raw_to_der, HashAlgorithm, SignInput, SignatureScheme};

/// A certificate object as found on a token.
#[derive(Debug, Clone)]
pub(crate) struct RawCertificate {
    pub der: Vec<u8>,
    pub id: Vec<u8>,
    pub label: String,
}

/// How to find the private key of a certificate.
#[derive(Debug, Clone)]
pub(crate) struct KeyLocator {
    /// `CKA_ID` of the certificate (may be empty or wrong on real tokens).
    pub id: Vec<u8>,
    /// The certificate's public key, for pairing by modulus / EC point.
    pub public: PublicKeyInfo,
    /// Cache key: the certificate's thumbprint.
    pub thumbprint: String,
}

type Job = Box<dyn FnOnce(&mut ModuleState) + Send>;

/// A handle to a module's thread. Cloning shares the same thread.
#[derive(Debug, Clone)]
pub(crate) struct Module {
    path: PathBuf,
    thread: Arc<ModuleThread>,
}

/// The thread and its queue. When the last handle goes, the queue closes and the thread
/// finalizes the module before the process moves on: some middleware (SoftHSM among them)
/// deadlocks in its exit handlers if the process ends with the module still initialised.
#[derive(Debug)]
struct ModuleThread {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    handle: Mutex<Option<thread::JoinHandle<()>>>,
}

impl Drop for ModuleThread {
    fn drop(&mut self) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
        if let Some(handle) = self.handle.lock().ok().and_then(|mut h| h.take()) {
            let _ = handle.join();
        }
    }
}

struct TokenSession {
    slot: Slot,
    session: Session,
    mechanisms: Vec<MechanismType>,
    keys: HashMap<String, ObjectHandle>,
}

/// Everything the module thread owns.
pub(crate) struct ModuleState {
    pkcs11: Pkcs11,
    path: PathBuf,
    sessions: HashMap<String, TokenSession>,
}

impl Module {
    /// Loads and initialises the module on a new thread.
    pub fn load(path: &Path) -> Result<Self, TokenError> {
        let (jobs, receiver) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let thread_path = path.to_path_buf();
        let name = format!(
            "pkcs11-{}",
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        let handle = thread::Builder::new()
            .name(name)
            .spawn(move || {
                let mut state = match ModuleState::open(&thread_path) {
                    Ok(state) => {
                        let _ = ready_tx.send(Ok(()));
                        state
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                while let Ok(job) = receiver.recv() {
                    job(&mut state);
                }
                state.close();
            })
            .map_err(|_| TokenError::WorkerGone)?;
        ready_rx.recv().map_err(|_| TokenError::WorkerGone)??;
        Ok(Self {
            path: path.to_path_buf(),
            thread: Arc::new(ModuleThread {
                jobs: Mutex::new(Some(jobs)),
                handle: Mutex::new(Some(handle)),
            }),
        })
    }

    /// The module file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the module thread and waits for its answer.
    pub fn call<R, F>(&self, f: F) -> Result<R, TokenError>
    where
        R: Send + 'static,
        F: FnOnce(&mut ModuleState) -> Result<R, TokenError> + Send + 'static,
    {
        let (reply_tx, reply_rx) = mpsc::sync_channel(1);
        let jobs = self
            .thread
            .jobs
            .lock()
            .map_err(|_| TokenError::WorkerGone)?
            .clone()
            .ok_or(TokenError::WorkerGone)?;
        jobs.send(Box::new(move |state| {
            // A panic in the middleware must not take the agent down with it.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(state)))
                .unwrap_or(Err(TokenError::WorkerGone));
            let _ = reply_tx.send(result);
        }))
        .map_err(|_| TokenError::WorkerGone)?;
        reply_rx.recv().map_err(|_| TokenError::WorkerGone)?
    }
}

impl ModuleState {
    fn open(path: &Path) -> Result<Self, TokenError> {
        let load_error = |source| TokenError::ModuleLoad {
            path: path.to_path_buf(),
            source,
        };
        let pkcs11 = Pkcs11::new(path).map_err(load_error)?;
        match pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) => {}
            // Another part of the process initialised it first: fine, we share it.
            Err(e) if rv(&e) == Some(RvError::CryptokiAlreadyInitialized) => {}
            Err(e) => return Err(load_error(e)),
        }
        Ok(Self {
            pkcs11,
            path: path.to_path_buf(),
            sessions: HashMap::new(),
        })
    }

    fn close(self) {
        drop(self.sessions);
        let _ = self.pkcs11.finalize();
    }

    /// Tokens present in this module's slots.
    pub fn tokens(&mut self) -> Result<Vec<TokenInfo>, TokenError> {
        let slots = self
            .pkcs11
            .get_slots_with_token()
            .map_err(|e| TokenError::pkcs11("C_GetSlotList", e))?;
        let mut tokens = Vec::new();
        for slot in slots {
            // A slot that errors (reader unplugged between calls) is skipped, not fatal; an
            // uninitialised token (SoftHSM's spare slot, a blank card) holds nothing to use.
            if let Ok(info) = self.pkcs11.get_token_info(slot) {
                if info.token_initialized() {
                    tokens.push(token_info(&self.path, &info));
                }
            }
        }
        Ok(tokens)
    }

    /// The token's current information (PIN flags change after failed logins).
    pub fn token(&mut self, token: &TokenRef) -> Result<TokenInfo, TokenError> {
        let slot = self.session(token)?.slot;
        let info = self
            .pkcs11
            .get_token_info(slot)
            .map_err(|e| TokenError::pkcs11("C_GetTokenInfo", e))?;
        Ok(token_info(&self.path, &info))
    }

    fn find_slot(&self, token: &TokenRef) -> Result<Slot, TokenError> {
        let slots = self
            .pkcs11
            .get_slots_with_token()
            .map_err(|e| TokenError::pkcs11("C_GetSlotList", e))?;
        slots
            .into_iter()
            .find(|slot| {
                self.pkcs11
                    .get_token_info(*slot)
                    .map(|info| TokenRef::of(&info) == *token)
                    .unwrap_or(false)
            })
            .ok_or_else(|| TokenError::TokenNotPresent(token.to_string()))
    }

    /// The token's session, reopened if the token dropped it.
    fn session(&mut self, token: &TokenRef) -> Result<&mut TokenSession, TokenError> {
        let key = token.key();
        let alive = self
            .sessions
            .get(&key)
            .map(|s| s.session.get_session_info().is_ok())
            .unwrap_or(false);
        if !alive {
            self.sessions.remove(&key);
            let slot = self.find_slot(token)?;
            let session = self
                .pkcs11
                .open_ro_session(slot)
                .map_err(|e| TokenError::pkcs11("C_OpenSession", e))?;
            let mechanisms = self.pkcs11.get_mechanism_list(slot).unwrap_or_default();
            self.sessions.insert(
                key.clone(),
                TokenSession {
                    slot,
                    session,
                    mechanisms,
                    keys: HashMap::new(),
                },
            );
        }
        self.sessions
            .get_mut(&key)
            .ok_or_else(|| TokenError::TokenNotPresent(token.to_string()))
    }

    /// X.509 certificates on the token (public objects: no login needed).
    pub fn certificates(&mut self, token: &TokenRef) -> Result<Vec<RawCertificate>, TokenError> {
        let session = &self.session(token)?.session;
        let template = [
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(CertificateType::X_509),
        ];
        let handles = session
            .find_objects(&template)
            .map_err(|e| TokenError::pkcs11("C_FindObjects", e))?;
        let mut certificates = Vec::new();
        for handle in handles {
            let attributes = session
                .get_attributes(
                    handle,
                    &[
                        AttributeType::Value,
                        AttributeType::Id,
                        AttributeType::Label,
                    ],
                )
                .map_err(|e| TokenError::pkcs11("C_GetAttributeValue", e))?;
            let mut certificate = RawCertificate {
                der: Vec::new(),
                id: Vec::new(),
                label: String::new(),
            };
            for attribute in attributes {
                match attribute {
                    Attribute::Value(v) => certificate.der = v,
                    Attribute::Id(v) => certificate.id = v,
                    Attribute::Label(v) => {
                        certificate.label = String::from_utf8_lossy(&v).into_owned()
                    }
                    _ => {}
                }
            }
            if !certificate.der.is_empty() {
                certificates.push(certificate);
            }
        }
        Ok(certificates)
    }

    /// Whether the user is logged in on this token.
    pub fn logged_in(&mut self, token: &TokenRef) -> Result<bool, TokenError> {
        let info = self
            .session(token)?
            .session
            .get_session_info()
            .map_err(|e| TokenError::pkcs11("C_GetSessionInfo", e))?;
        Ok(matches!(
            info.session_state(),
            SessionState::RoUser | SessionState::RwUser
        ))
    }

    /// Logs the user in once with `pin` (`None` on a PIN pad). Never retries.
    pub fn login(&mut self, token: &TokenRef, pin: Option<&AuthPin>) -> Result<(), TokenError> {
        let current = self.token(token)?;
        if current.pin.locked {
            return Err(TokenError::PinLocked);
        }
        if self.logged_in(token)? {
            return Ok(());
        }
        let session = self.session(token)?;
        // Private object handles do not survive a change of login state.
        session.keys.clear();
        let result = session.session.login(UserType::User, pin);
        match result {
            Ok(()) => Ok(()),
            Err(e) if rv(&e) == Some(RvError::UserAlreadyLoggedIn) => Ok(()),
            Err(e) if rv(&e) == Some(RvError::PinIncorrect) => {
                let pin = self.token(token).map(|t| t.pin).unwrap_or_default();
                if pin.locked {
                    Err(TokenError::PinLocked)
                } else {
                    Err(TokenError::PinIncorrect { pin })
                }
            }
            Err(e) => Err(TokenError::pkcs11("C_Login", e)),
        }
    }

    /// Logs the user out (a no-op when not logged in).
    pub fn logout(&mut self, token: &TokenRef) -> Result<(), TokenError> {
        if let Some(s) = self.sessions.get_mut(&token.key()) {
            s.keys.clear();
            match s.session.logout() {
                Ok(()) => {}
                Err(e) if rv(&e) == Some(RvError::UserNotLoggedIn) => {}
                Err(e) => return Err(TokenError::pkcs11("C_Logout", e)),
            }
        }
        Ok(())
    }

    /// Finds the private key for `locator`: by `CKA_ID`, then by public key.
    fn private_key(
        session: &mut TokenSession,
        locator: &KeyLocator,
    ) -> Result<ObjectHandle, TokenError> {
        if let Some(handle) = session.keys.get(&locator.thumbprint) {
            return Ok(*handle);
        }
        let find = |template: &[Attribute]| {
            session
                .session
                .find_objects(template)
                .map_err(|e| TokenError::pkcs11("C_FindObjects", e))
        };
        let mut handle = None;
        if !locator.id.is_empty() {
            handle = find(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Id(locator.id.clone()),
            ])?
            .into_iter()
            .find(|h| key_matches(&session.session, *h, &locator.public));
        }
        if handle.is_none() {
            // Real tokens ship certificates whose CKA_ID is missing or differs from the key's.
            handle = find(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])?
                .into_iter()
                .find(|h| key_matches_strictly(&session.session, *h, &locator.public));
        }
        if handle.is_none() {
            // EC private keys rarely carry CKA_EC_POINT: go through the public key object.
            handle = public_key_id(&session.session, &locator.public)
                .map(|id| {
                    find(&[
                        Attribute::Class(ObjectClass::PRIVATE_KEY),
                        Attribute::Id(id),
                    ])
                })
                .transpose()?
                .and_then(|handles| handles.into_iter().next());
        }
        let handle = handle.ok_or_else(|| TokenError::KeyNotFound(locator.thumbprint.clone()))?;
        session.keys.insert(locator.thumbprint.clone(), handle);
        Ok(handle)
    }

    /// Signs with the key of `locator`. The user must be logged in.
    pub fn sign(
        &mut self,
        token: &TokenRef,
        locator: &KeyLocator,
        scheme: SignatureScheme,
        hash: HashAlgorithm,
        input: SignInput<'_>,
    ) -> Result<Vec<u8>, TokenError> {
        let session = self.session(token)?;
        let (mechanism, data) = choose_mechanism(&session.mechanisms, scheme, hash, input)?;
        let key = Self::private_key(session, locator)?;
        let signature = match session.session.sign(&mechanism, key, &data) {
            // The cached handle went stale (another program logged the token out): look the
            // key up again once. Signing is idempotent, so this is no hidden retry of a PIN.
            Err(e) if rv(&e) == Some(RvError::ObjectHandleInvalid) => {
                session.keys.clear();
                let key = Self::private_key(session, locator)?;
                session.session.sign(&mechanism, key, &data)
            }
            other => other,
        }
        .map_err(|e| TokenError::pkcs11("C_Sign", e))?;
        match scheme {
            SignatureScheme::Ecdsa => ecdsa_raw_to_der(&signature)
                .map_err(|_| TokenError::MechanismUnsupported("ECDSA signature".into())),
            _ => Ok(signature),
        }
    }
}

fn key_matches(session: &Session, handle: ObjectHandle, public: &PublicKeyInfo) -> bool {
    // With a matching CKA_ID, accept unless the key visibly belongs to another certificate.
    match public {
        PublicKeyInfo::Rsa { modulus, .. } => {
            match session.get_attributes(handle, &[AttributeType::Modulus]) {
                Ok(attrs) => attrs.iter().all(|a| match a {
                    Attribute::Modulus(m) => trim_zeros(m) == trim_zeros(modulus),
                    _ => true,
                }),
                Err(_) => true,
            }
        }
        _ => true,
    }
}

fn key_matches_strictly(session: &Session, handle: ObjectHandle, public: &PublicKeyInfo) -> bool {
    match public {
        PublicKeyInfo::Rsa { modulus, .. } => session
            .get_attributes(handle, &[AttributeType::Modulus])
            .map(|attrs| {
                attrs.iter().any(
                    |a| matches!(a, Attribute::Modulus(m) if trim_zeros(m) == trim_zeros(modulus)),
                )
            })
            .unwrap_or(false),
        PublicKeyInfo::Ec { point, .. } => session
            .get_attributes(handle, &[AttributeType::EcPoint])
            .map(|attrs| {
                attrs
                    .iter()
                    .any(|a| matches!(a, Attribute::EcPoint(p) if ec_point_eq(p, point)))
            })
            .unwrap_or(false),
        _ => false,
    }
}

/// The `CKA_ID` of the public key object holding `public`, if the token has one.
fn public_key_id(session: &Session, public: &PublicKeyInfo) -> Option<Vec<u8>> {
    let handles = session
        .find_objects(&[Attribute::Class(ObjectClass::PUBLIC_KEY)])
        .ok()?;
    handles
        .into_iter()
        .find(|h| key_matches_strictly(session, *h, public))
        .and_then(|h| {
            session
                .get_attributes(h, &[AttributeType::Id])
                .ok()?
                .into_iter()
                .find_map(|a| match a {
                    Attribute::Id(id) if !id.is_empty() => Some(id),
                    _ => None,
                })
        })
}

fn trim_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// `CKA_EC_POINT` is a DER OCTET STRING around the point on most tokens, the bare point on some.
fn ec_point_eq(attribute: &[u8], point: &[u8]) -> bool {
    if attribute == point {
        return true;
    }
    use der::Decode;
    der::asn1::OctetString::from_der(attribute)
        .map(|os| os.as_bytes() == point)
        .unwrap_or(false)
}

fn hash_mechanism(hash: HashAlgorithm) -> MechanismType {
    match hash {
        HashAlgorithm::Sha1 => MechanismType::SHA1,
        HashAlgorithm::Sha256 => MechanismType::SHA256,
        HashAlgorithm::Sha384 => MechanismType::SHA384,
        HashAlgorithm::Sha512 => MechanismType::SHA512,
    }
}

fn pss_params(hash: HashAlgorithm) -> PkcsPssParams {
    let (mgf, len) = match hash {
        HashAlgorithm::Sha1 => (PkcsMgfType::MGF1_SHA1, 20u8),
        HashAlgorithm::Sha256 => (PkcsMgfType::MGF1_SHA256, 32),
        HashAlgorithm::Sha384 => (PkcsMgfType::MGF1_SHA384, 48),
        HashAlgorithm::Sha512 => (PkcsMgfType::MGF1_SHA512, 64),
    };
    PkcsPssParams {
        hash_alg: hash_mechanism(hash),
        mgf,
        s_len: ulong(len),
    }
}

/// A `CK_ULONG` from a small number: it is 32 bits on Windows and 64 elsewhere, and every
/// `u8` fits both.
fn ulong(value: u8) -> Ulong {
    type CkUlong = <Ulong as std::ops::Deref>::Target;
    Ulong::from(CkUlong::from(value))
}

/// Picks the mechanism and the bytes to hand to `C_Sign`: the combined hash-and-sign mechanism
/// over the message when the token has it, otherwise the raw mechanism over the digest
/// (wrapped in a `DigestInfo` for PKCS#1 v1.5).
fn choose_mechanism(
    available: &[MechanismType],
    scheme: SignatureScheme,
    hash: HashAlgorithm,
    input: SignInput<'_>,
) -> Result<(Mechanism<'static>, Vec<u8>), TokenError> {
    let has = |m: MechanismType| available.contains(&m);
    let unsupported = || TokenError::MechanismUnsupported(scheme.describe(hash));
    if let SignInput::Message(message) = input {
        let combined = match (scheme, hash) {
            (SignatureScheme::RsaPkcs1v15, HashAlgorithm::Sha1) => {
                Some((MechanismType::SHA1_RSA_PKCS, Mechanism::Sha1RsaPkcs))
            }
            (SignatureScheme::RsaPkcs1v15, HashAlgorithm::Sha256) => {
                Some((MechanismType::SHA256_RSA_PKCS, Mechanism::Sha256RsaPkcs))
            }
            (SignatureScheme::RsaPkcs1v15, HashAlgorithm::Sha384) => {
                Some((MechanismType::SHA384_RSA_PKCS, Mechanism::Sha384RsaPkcs))
            }
            (SignatureScheme::RsaPkcs1v15, HashAlgorithm::Sha512) => {
                Some((MechanismType::SHA512_RSA_PKCS, Mechanism::Sha512RsaPkcs))
            }
            (SignatureScheme::RsaPss, HashAlgorithm::Sha256) => Some((
                MechanismType::SHA256_RSA_PKCS_PSS,
                Mechanism::Sha256RsaPkcsPss(pss_params(hash)),
            )),
            (SignatureScheme::RsaPss, HashAlgorithm::Sha384) => Some((
                MechanismType::SHA384_RSA_PKCS_PSS,
                Mechanism::Sha384RsaPkcsPss(pss_params(hash)),
            )),
            (SignatureScheme::RsaPss, HashAlgorithm::Sha512) => Some((
                MechanismType::SHA512_RSA_PKCS_PSS,
                Mechanism::Sha512RsaPkcsPss(pss_params(hash)),
            )),
            _ => None,
        };
        if let Some((kind, mechanism)) = combined {
            if has(kind) {
                return Ok((mechanism, message.to_vec()));
            }
        }
    }
    let digest = match input {
        SignInput::Message(message) => hash.digest(message),
        SignInput::Digest(digest) => digest.to_vec(),
    };
    match scheme {
        SignatureScheme::RsaPkcs1v15 if has(MechanismType::RSA_PKCS) => {
            let mut data = hash.digest_info_prefix().to_vec();
            data.extend_from_slice(&digest);
            Ok((Mechanism::RsaPkcs, data))
        }
        SignatureScheme::RsaPss if has(MechanismType::RSA_PKCS_PSS) => {
            Ok((Mechanism::RsaPkcsPss(pss_params(hash)), digest))
        }
        SignatureScheme::Ecdsa if has(MechanismType::ECDSA) => Ok((Mechanism::Ecdsa, digest)),
        _ => Err(unsupported()),
    }
}

fn token_info(path: &Path, info: &RawTokenInfo) -> TokenInfo {
    TokenInfo {
        token: TokenRef::of(info),
        manufacturer: info.manufacturer_id().trim().to_owned(),
        model: info.model().trim().to_owned(),
        module: path.to_path_buf(),
        pin: PinState {
            count_low: info.user_pin_count_low(),
            final_try: info.user_pin_final_try(),
            locked: info.user_pin_locked(),
            to_be_changed: info.user_pin_to_be_changed(),
            pin_pad: info.protected_authentication_path(),
        },
        initialized: info.token_initialized(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_rsa_is_used_with_a_digest_info_when_combined_mechanism_is_missing() {
        let (mechanism, data) = choose_mechanism(
            &[MechanismType::RSA_PKCS],
            SignatureScheme::RsaPkcs1v15,
            HashAlgorithm::Sha256,
            SignInput::Message(b"abc"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mechanism.mechanism_type(), MechanismType::RSA_PKCS);
        assert_eq!(data.len(), 19 + 32);
        assert!(data.ends_with(&HashAlgorithm::Sha256.digest(b"abc")));
    }

    #[test]
    fn combined_mechanism_is_preferred_for_messages() {
        let (mechanism, data) = choose_mechanism(
            &[MechanismType::RSA_PKCS, MechanismType::SHA256_RSA_PKCS],
            SignatureScheme::RsaPkcs1v15,
            HashAlgorithm::Sha256,
            SignInput::Message(b"abc"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mechanism.mechanism_type(), MechanismType::SHA256_RSA_PKCS);
        assert_eq!(data, b"abc");
    }

    #[test]
    fn a_token_without_ecdsa_reports_mechanism_unsupported() {
        let result = choose_mechanism(
            &[MechanismType::RSA_PKCS],
            SignatureScheme::Ecdsa,
            HashAlgorithm::Sha256,
            SignInput::Digest(&[0; 32]),
        );
        assert!(matches!(result, Err(TokenError::MechanismUnsupported(_))));
    }

    #[test]
    fn ec_points_compare_wrapped_or_bare() {
        let point = [4u8, 1, 2];
        assert!(ec_point_eq(&[4, 3, 4, 1, 2], &point));
        assert!(ec_point_eq(&point, &point));
        assert!(!ec_point_eq(&[4, 3, 4, 1, 3], &point));
    }
}
