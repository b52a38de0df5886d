//! Token access over PKCS#11 (cryptoki). Knows nothing of HTTP or signature formats.
//!
//! [`TokenService`] loads the modules, lists tokens and certificates, and hands out
//! [`TokenKey`]s, which implement [`crate::signer::Signer`]. Tokens are named by label and
//! serial, never by slot id (slot ids change when readers are plugged in).

mod discovery;
mod error;
mod module;
pub mod provision;

use std::{
    fmt,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use kyso_certs::{CertificateSummary, PublicKeyInfo};
use secrecy::SecretString;
use serde::Serialize;

pub use discovery::{candidate_modules, known_modules_present, KNOWN_MODULES, MODULES_ENV};
pub use error::TokenError;
use module::{KeyLocator, Module};

use crate::{
    error::Coded,
    signer::{HashAlgorithm, KeyKind, SignInput, SignatureScheme, Signer, SignerError},
};

/// A token's identity: serial and label as the token reports them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct TokenRef {
    /// `CK_TOKEN_INFO.label`, trimmed.
    pub label: String,
    /// `CK_TOKEN_INFO.serialNumber`, trimmed.
    pub serial: String,
}

impl TokenRef {
    fn of(info: &cryptoki::slot::TokenInfo) -> Self {
        Self {
            label: info.label().trim().to_owned(),
            serial: info.serial_number().trim().to_owned(),
        }
    }

    fn key(&self) -> String {
        format!("{}\u{0}{}", self.serial, self.label)
    }
}

impl fmt::Display for TokenRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.label, self.serial)
    }
}

/// The user-PIN flags a token reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PinState {
    /// At least one wrong PIN since the last good one.
    pub count_low: bool,
    /// One more wrong PIN locks the token.
    pub final_try: bool,
    /// The PIN is locked.
    pub locked: bool,
    /// The PIN must be changed (factory default or expired).
    pub to_be_changed: bool,
    /// The PIN is entered on the reader's own keypad (protected authentication path).
    pub pin_pad: bool,
}

/// A connected token.
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    /// Label and serial.
    #[serde(flatten)]
    pub token: TokenRef,
    /// Manufacturer as reported.
    pub manufacturer: String,
    /// Model as reported.
    pub model: String,
    /// The module that reached it.
    pub module: PathBuf,
    /// PIN flags.
    pub pin: PinState,
    /// Whether the token has been initialised.
    pub initialized: bool,
}

/// A certificate on a token, with its summary.
#[derive(Debug, Clone, Serialize)]
pub struct TokenCertificate {
    /// Parsed summary (thumbprint, subject, identifiers, ...).
    #[serde(flatten)]
    pub summary: CertificateSummary,
    /// The token holding it.
    pub token: TokenRef,
    /// `CKA_LABEL` of the certificate object.
    pub label: String,
    /// DER of the certificate.
    #[serde(skip)]
    pub der: Vec<u8>,
    /// `CKA_ID` of the certificate object.
    #[serde(skip)]
    pub id: Vec<u8>,
}

/// The outcome of loading one module.
#[derive(Debug, Clone, Serialize)]
pub struct ModuleStatus {
    /// The module file.
    pub path: PathBuf,
    /// `None` when loaded; otherwise why it failed.
    pub error: Option<String>,
}

/// Loaded modules and the operations across all their tokens.
#[derive(Debug, Clone)]
pub struct TokenService {
    modules: Arc<Vec<Module>>,
    statuses: Arc<Vec<ModuleStatus>>,
    cache: Arc<Mutex<Option<CertificateCache>>>,
}

/// Certificates read from the tokens, reused while the same tokens are connected: reading and
/// parsing every certificate on every request would cost more than the signature itself.
#[derive(Debug, Clone)]
struct CertificateCache {
    tokens: Vec<TokenRef>,
    infos: Vec<TokenInfo>,
    certificates: Vec<TokenCertificate>,
    read_at: Instant,
}

/// How long cached certificate summaries (validity flags) are trusted.
const CERTIFICATE_CACHE_TTL: Duration = Duration::from_secs(30);

/// Which modules to load.
#[derive(Debug, Clone, Default)]
pub struct ModuleSelection {
    /// Modules named explicitly (command line); tried first.
    pub named: Vec<PathBuf>,
    /// Also try `KYSO_PKCS11_MODULES` and the known vendor modules present on this machine.
    pub discover: bool,
}

impl TokenService {
    /// Loads every candidate module; those that fail are skipped and reported in
    /// [`TokenService::modules`].
    pub fn load(selection: &ModuleSelection) -> Self {
        let candidates = candidate_modules(&selection.named, selection.discover);
        let mut modules = Vec::new();
        let mut statuses = Vec::new();
        for path in candidates {
            match Module::load(&path) {
                Ok(module) => {
                    tracing::debug!(module = %path.display(), "PKCS#11 module loaded");
                    modules.push(module);
                    statuses.push(ModuleStatus { path, error: None });
                }
                Err(e) => {
                    let report = crate::error::ErrorReport::from_error(&e);
                    tracing::warn!(module = %path.display(), error = %report.detail, "PKCS#11 module skipped");
                    statuses.push(ModuleStatus {
                        path,
                        error: Some(report.detail),
                    });
                }
            }
        }
        Self {
            modules: Arc::new(modules),
            statuses: Arc::new(statuses),
            cache: Arc::default(),
        }
    }

    /// Each module tried, loaded or not.
    pub fn modules(&self) -> &[ModuleStatus] {
        &self.statuses
    }

    /// All tokens across modules. A token reachable through two modules is listed once.
    pub fn tokens(&self) -> Result<Vec<TokenInfo>, TokenError> {
        if self.modules.is_empty() {
            return Err(match self.statuses.iter().find_map(|s| s.error.clone()) {
                Some(reason) => TokenError::NoModuleLoaded(reason),
                None => TokenError::NoModule,
            });
        }
        let mut tokens: Vec<TokenInfo> = Vec::new();
        for module in self.modules.iter() {
            let found = match module.call(|state| state.tokens()) {
                Ok(found) => found,
                Err(e) => {
                    tracing::warn!(module = %module.path().display(), error = %e, "listing tokens failed");
                    continue;
                }
            };
            for token in found {
                let duplicate = tokens.iter().any(|t| {
                    t.token == token.token
                        && t.manufacturer == token.manufacturer
                        && t.model == token.model
                });
                if !duplicate {
                    tokens.push(token);
                }
            }
        }
        Ok(tokens)
    }

    fn module_of(&self, token: &TokenInfo) -> Option<&Module> {
        self.modules.iter().find(|m| m.path() == token.module)
    }

    /// Every certificate on every token, summarised at `now`. Served from a short-lived cache
    /// while the same tokens stay connected.
    pub fn certificates(
        &self,
        now: time::OffsetDateTime,
    ) -> Result<Vec<TokenCertificate>, TokenError> {
        let tokens = self.tokens()?;
        let refs: Vec<TokenRef> = tokens.iter().map(|t| t.token.clone()).collect();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(cached) = cache.as_ref() {
            if cached.tokens == refs && cached.read_at.elapsed() < CERTIFICATE_CACHE_TTL {
                return Ok(cached.certificates.clone());
            }
        }
        let certificates = self.read_certificates(&tokens, now);
        *cache = Some(CertificateCache {
            tokens: refs,
            infos: tokens.clone(),
            certificates: certificates.clone(),
            read_at: Instant::now(),
        });
        Ok(certificates)
    }

    fn read_certificates(
        &self,
        tokens: &[TokenInfo],
        now: time::OffsetDateTime,
    ) -> Vec<TokenCertificate> {
        let mut all = Vec::new();
        for token in tokens {
            let Some(module) = self.module_of(token) else {
                continue;
            };
            let token_ref = token.token.clone();
            let raw = match module.call(move |state| state.certificates(&token_ref)) {
                Ok(raw) => raw,
                Err(e) => {
                    tracing::warn!(token = %token.token, error = %e, "reading certificates failed");
                    continue;
                }
            };
            for certificate in raw {
                match kyso_certs::summarize(&certificate.der, now) {
                    Ok(summary) => all.push(TokenCertificate {
                        summary,
                        token: token.token.clone(),
                        label: certificate.label,
                        der: certificate.der,
                        id: certificate.id,
                    }),
                    Err(e) => {
                        tracing::warn!(token = %token.token, error = %e, "unparsable certificate skipped")
                    }
                }
            }
        }
        all
    }

    /// The key of the certificate with `thumbprint` (case-insensitive hex, separators
    /// ignored), or, with `None`, of the only certificate that can sign.
    pub fn key(&self, thumbprint: Option<&str>) -> Result<TokenKey, TokenError> {
        let now = time::OffsetDateTime::now_utc();
        let certificates = self.certificates(now)?;
        let chosen = match thumbprint {
            Some(wanted) => {
                let wanted = normalize_thumbprint(wanted);
                certificates
                    .iter()
                    .find(|c| c.summary.thumbprint == wanted)
                    .ok_or(TokenError::CertificateNotFound(wanted))?
            }
            None => {
                let signers: Vec<_> = certificates
                    .iter()
                    .filter(|c| c.summary.can_sign && !c.summary.is_ca)
                    .collect();
                match signers.as_slice() {
                    [] if certificates.is_empty() => {
                        return Err(if self.tokens()?.is_empty() {
                            TokenError::NoToken
                        } else {
                            TokenError::CertificateNotFound("any".into())
                        })
                    }
                    [] => return Err(TokenError::CertificateNotFound("signing".into())),
                    [one] => *one,
                    many => return Err(TokenError::CertificateAmbiguous(many.len())),
                }
            }
        };
        self.key_for(chosen, &certificates)
    }

    fn key_for(
        &self,
        certificate: &TokenCertificate,
        all: &[TokenCertificate],
    ) -> Result<TokenKey, TokenError> {
        // `certificates()` has just checked the connected tokens; reuse what it saw.
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .and_then(|c| {
                c.infos
                    .iter()
                    .find(|t| t.token == certificate.token)
                    .cloned()
            });
        let token = match cached {
            Some(token) => token,
            None => self
                .tokens()?
                .into_iter()
                .find(|t| t.token == certificate.token)
                .ok_or_else(|| TokenError::TokenNotPresent(certificate.token.to_string()))?,
        };
        let module = self
            .module_of(&token)
            .ok_or(TokenError::WorkerGone)?
            .clone();
        let public = kyso_certs::public_key(&certificate.der)
            .map_err(|_| TokenError::KeyNotFound(certificate.summary.thumbprint.clone()))?;
        let kind = match &public {
            PublicKeyInfo::Rsa { modulus, .. } => KeyKind::Rsa {
                bits: modulus.len() * 8,
            },
            PublicKeyInfo::Ec { curve, .. } => KeyKind::Ec(*curve),
            _ => {
                return Err(TokenError::MechanismUnsupported(
                    certificate.summary.key.clone(),
                ))
            }
        };
        let chain = issuer_chain(certificate, all);
        Ok(TokenKey {
            module,
            token,
            locator: KeyLocator {
                id: certificate.id.clone(),
                public,
                thumbprint: certificate.summary.thumbprint.clone(),
            },
            certificate: certificate.der.clone(),
            summary: certificate.summary.clone(),
            chain,
            kind,
        })
    }
}

/// Lower-case hex without separators (`AB:CD` → `abcd`).
pub fn normalize_thumbprint(value: &str) -> String {
    value
        .chars()
        .filter(char::is_ascii_hexdigit)
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Issuers of `leaf` found among the token's certificates, nearest first.
fn issuer_chain(leaf: &TokenCertificate, all: &[TokenCertificate]) -> Vec<Vec<u8>> {
    let mut chain: Vec<Vec<u8>> = Vec::new();
    let mut current = leaf;
    while current.summary.issuer != current.summary.subject && chain.len() < 8 {
        let Some(issuer) = all.iter().find(|c| {
            c.summary.subject == current.summary.issuer
                && c.summary.is_ca
                && !chain.contains(&c.der)
                && c.der != leaf.der
        }) else {
            break;
        };
        chain.push(issuer.der.clone());
        current = issuer;
    }
    chain
}

/// A private key on a token with its certificate: a [`Signer`].
#[derive(Debug, Clone)]
pub struct TokenKey {
    module: Module,
    token: TokenInfo,
    locator: KeyLocator,
    certificate: Vec<u8>,
    summary: CertificateSummary,
    chain: Vec<Vec<u8>>,
    kind: KeyKind,
}

impl TokenKey {
    /// The token holding the key, as it was when the key was looked up.
    pub fn token(&self) -> &TokenInfo {
        &self.token
    }

    /// The certificate's summary.
    pub fn summary(&self) -> &CertificateSummary {
        &self.summary
    }

    /// The token's PIN flags now.
    pub fn pin_state(&self) -> Result<PinState, TokenError> {
        let token = self.token.token.clone();
        self.module
            .call(move |state| state.token(&token))
            .map(|t| t.pin)
    }

    /// Whether a login is needed before signing.
    pub fn needs_login(&self) -> Result<bool, TokenError> {
        let token = self.token.token.clone();
        self.module
            .call(move |state| state.logged_in(&token))
            .map(|logged_in| !logged_in)
    }

    /// Logs in once. `pin` is `None` for PIN pad readers. A wrong PIN is reported, never
    /// retried.
    pub fn login(&self, pin: Option<SecretString>) -> Result<(), TokenError> {
        let token = self.token.token.clone();
        // The PIN moves into the job and is dropped (zeroized by `SecretString`) there.
        self.module
            .call(move |state| state.login(&token, pin.as_ref()))
    }

    /// Logs in if needed, asking `ask_pin` for the PIN unless the reader has a PIN pad.
    pub fn ensure_login<E>(
        &self,
        ask_pin: impl FnOnce(&PinState) -> Result<SecretString, E>,
    ) -> Result<(), LoginError<E>> {
        if !self.needs_login().map_err(LoginError::Token)? {
            return Ok(());
        }
        let pin_state = self.pin_state().map_err(LoginError::Token)?;
        if pin_state.locked {
            return Err(LoginError::Token(TokenError::PinLocked));
        }
        if pin_state.pin_pad {
            return self.login(None).map_err(LoginError::Token);
        }
        let pin = ask_pin(&pin_state).map_err(LoginError::Prompt)?;
        self.login(Some(pin)).map_err(LoginError::Token)
    }

    /// Ends the login (kyso does not keep tokens unlocked unless asked to).
    pub fn logout(&self) -> Result<(), TokenError> {
        let token = self.token.token.clone();
        self.module.call(move |state| state.logout(&token))
    }
}

/// A failed [`TokenKey::ensure_login`]: the token's error or the prompt's.
#[derive(Debug, thiserror::Error)]
pub enum LoginError<E> {
    /// The token refused.
    #[error(transparent)]
    Token(TokenError),
    /// Asking for the PIN failed or was cancelled.
    #[error(transparent)]
    Prompt(E),
}

impl Signer for TokenKey {
    fn certificate(&self) -> &[u8] {
        &self.certificate
    }

    fn chain(&self) -> &[Vec<u8>] {
        &self.chain
    }

    fn key_kind(&self) -> KeyKind {
        self.kind
    }

    fn sign(
        &self,
        scheme: SignatureScheme,
        hash: HashAlgorithm,
        input: SignInput<'_>,
    ) -> Result<Vec<u8>, SignerError> {
        if !scheme.fits(self.kind) {
            return Err(SignerError::new(
                crate::error::ErrorCode::AlgorithmMismatch,
                format!("{scheme:?} with a {:?} key", self.kind),
            ));
        }
        let token = self.token.token.clone();
        let locator = self.locator.clone();
        // The job runs on the module thread, so it owns its input.
        let owned = match input {
            SignInput::Message(m) => (true, m.to_vec()),
            SignInput::Digest(d) => (false, d.to_vec()),
        };
        if !owned.0 && owned.1.len() != hash.output_len() {
            return Err(SignerError::new(
                crate::error::ErrorCode::BadRequest,
                format!(
                    "a {hash} digest is {} bytes, got {}",
                    hash.output_len(),
                    owned.1.len()
                ),
            ));
        }
        self.module
            .call(move |state| {
                let input = if owned.0 {
                    SignInput::Message(&owned.1)
                } else {
                    SignInput::Digest(&owned.1)
                };
                state.sign(&token, &locator, scheme, hash, input)
            })
            .map_err(SignerError::from_coded)
    }
}

impl<E: Coded> Coded for LoginError<E> {
    fn code(&self) -> crate::error::ErrorCode {
        match self {
            Self::Token(e) => e.code(),
            Self::Prompt(e) => e.code(),
        }
    }
}
