//! The broker between callers (web pages, local programs) and the token: decides who may
//! use it, asks the user (consent, certificate, PIN, confirmation) one dialog at a time, runs
//! one signing transaction per token at a time, and writes the audit log.
//!
//! Knows nothing of HTTP: the server turns requests into these calls, which block (run them on
//! a blocking thread).

mod api;
mod audit;
mod gate;
mod origin;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use base64::Engine;
use kyso_certs::CertificateSummary;
use secrecy::SecretString;

pub use api::*;
pub use audit::{AuditEntry, AuditLog};
pub use gate::{GateError, PromptGate};
pub use origin::{normalize as normalize_origin, OriginPolicy, OriginVerdict};

use crate::{
    config::Config,
    error::{Coded, ErrorCode, ErrorReport},
    formats::cms,
    prompt::{ChooseRequest, ConfirmRequest, Consent, ConsentRequest, PinRequest, Prompter},
    signer::{HashAlgorithm, SignInput, SignatureScheme, Signer},
    token::{TokenKey, TokenService},
};

/// A request's `certificate` names one by thumbprint, or by serial as `serial:` + hex (how
/// portals written for vendor plugins store it).
pub const SERIAL_SELECTOR: &str = "serial:";

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A web page, by its `Origin` header.
    Origin(String),
    /// A local program that presented the local API token.
    Local,
}

impl Caller {
    /// The origin for logs, dialogs and per-site limits.
    pub fn label(&self) -> &str {
        match self {
            Self::Origin(origin) => origin,
            Self::Local => "local",
        }
    }

    fn origin(&self) -> Option<&str> {
        match self {
            Self::Origin(origin) => Some(origin),
            Self::Local => None,
        }
    }
}

/// A failed operation: a stable code and the technical detail (for the log only).
#[derive(Debug, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct ApiError {
    /// The stable code.
    pub code: ErrorCode,
    /// What happened, for the log.
    pub detail: String,
}

impl ApiError {
    /// An error with `code`.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
        }
    }
}

impl<E: Coded + 'static> From<E> for ApiError {
    fn from(error: E) -> Self {
        let report = ErrorReport::from_error(&error);
        Self {
            code: report.code,
            detail: report.detail,
        }
    }
}

impl From<GateError> for ApiError {
    fn from(error: GateError) -> Self {
        match error {
            GateError::Busy(why) => Self::new(ErrorCode::Busy, why),
            GateError::Prompt(e) => e.into(),
        }
    }
}

fn decode_base64(field: &str, value: &str) -> Result<Vec<u8>, ApiError> {
    base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("{field}: not base64: {e}")))
}

/// A byte count for progress notifications (only a 32-bit build could overflow).
fn saturate(bytes: u64) -> usize {
    usize::try_from(bytes).unwrap_or(usize::MAX)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A signed XML document in base64, encoded as it is written: the signed document is never
/// held in memory besides its base64 form.
fn b64_signed_xml(
    prepared: &crate::formats::xml::PreparedXml<'_>,
    signature: &crate::formats::xml::XmlSignature,
) -> String {
    let mut encoder =
        base64::write::EncoderStringWriter::new(&base64::engine::general_purpose::STANDARD);
    match prepared.write_signed(signature, &mut encoder) {
        Ok(()) => encoder.into_inner(),
        // Writing into a String does not fail; were it to, build the document instead.
        Err(_) => b64(&prepared.signed_vec(signature)),
    }
}

/// The broker. Cheap to share behind an `Arc`.
pub struct Broker {
    tokens: TokenService,
    prompter: Arc<dyn Prompter>,
    config: Config,
    origins: OriginPolicy,
    gate: PromptGate,
    audit: AuditLog,
    token_locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    pin_cache: Mutex<HashMap<(String, String), Instant>>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Broker {
    /// A broker over `tokens`, asking through `prompter`.
    pub fn new(
        tokens: TokenService,
        prompter: Arc<dyn Prompter>,
        config: Config,
        origins: OriginPolicy,
        audit: AuditLog,
    ) -> Self {
        let gate = PromptGate::new(
            config.max_queued_prompts,
            config.prompts_per_minute,
            Duration::from_secs(config.prompt_timeout_secs),
        );
        Self {
            tokens,
            prompter,
            config,
            origins,
            gate,
            audit,
            token_locks: Mutex::new(HashMap::new()),
            pin_cache: Mutex::new(HashMap::new()),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether a dialog is open or queued.
    pub fn busy(&self) -> bool {
        self.gate.busy()
    }

    /// The PKCS#11 modules and whether they loaded.
    pub fn modules(&self) -> &[crate::token::ModuleStatus] {
        self.tokens.modules()
    }

    /// The origin policy (the server checks preflights against it).
    pub fn origins(&self) -> &OriginPolicy {
        &self.origins
    }

    fn audit(
        &self,
        caller: &Caller,
        operation: &str,
        cert: Option<&str>,
        digest: Option<&str>,
        result: &Result<(), &ApiError>,
    ) {
        let code = match result {
            Ok(()) => "ok",
            Err(e) => e.code.as_str(),
        };
        self.audit.record(&AuditEntry {
            time: audit::now_rfc3339(),
            origin: caller.label(),
            operation,
            certificate: cert,
            digest,
            result: code,
        });
    }

    /// Lets `caller` through, asking the user about an unknown origin.
    pub fn authorize(&self, caller: &Caller) -> Result<(), ApiError> {
        let Caller::Origin(origin) = caller else {
            return Ok(());
        };
        match self.origins.verdict(origin) {
            OriginVerdict::Allowed => Ok(()),
            OriginVerdict::Denied => Err(ApiError::new(
                ErrorCode::OriginNotAllowed,
                format!("origin {origin} refused"),
            )),
            OriginVerdict::Ask => {
                let prompter = self.prompter.clone();
                let owned = origin.clone();
                let language = self.config.language();
                let answer = self.gate.ask(origin, move || {
                    prompter.consent(&ConsentRequest {
                        origin: &owned,
                        language,
                    })
                });
                let result = match answer {
                    Ok(Consent::AllowOnce) => Ok(()),
                    Ok(Consent::AllowAlways) => {
                        self.origins.remember(origin, true);
                        Ok(())
                    }
                    Ok(Consent::Deny) => {
                        self.origins.remember(origin, false);
                        Err(ApiError::new(
                            ErrorCode::OriginNotAllowed,
                            format!("the user refused {origin}"),
                        ))
                    }
                    Err(GateError::Prompt(crate::prompt::PromptError::Cancelled)) => Err(
                        ApiError::new(ErrorCode::OriginNotAllowed, "consent dialog cancelled"),
                    ),
                    Err(e) => Err(e.into()),
                };
                self.audit(caller, "consent", None, None, &result.as_ref().map(|_| ()));
                result
            }
        }
    }

    /// Version, readiness and token count (no consent needed: pages use it to detect kyso).
    pub fn info(&self) -> InfoResponse {
        let tokens = self.tokens.tokens().map(|t| t.len()).unwrap_or(0);
        InfoResponse {
            name: "kyso",
            version: env!("CARGO_PKG_VERSION"),
            ready: self.tokens.modules().iter().any(|m| m.error.is_none()),
            tokens,
            features: FEATURES,
        }
    }

    /// Connected tokens.
    pub fn tokens(&self, caller: &Caller) -> Result<Vec<crate::token::TokenInfo>, ApiError> {
        self.authorize(caller)?;
        Ok(self.tokens.tokens()?)
    }

    /// Certificate summaries on connected tokens.
    pub fn certificates(
        &self,
        caller: &Caller,
    ) -> Result<Vec<crate::token::TokenCertificate>, ApiError> {
        self.authorize(caller)?;
        Ok(self.tokens.certificates(time::OffsetDateTime::now_utc())?)
    }

    /// Asks the user to pick a certificate that can sign now.
    pub fn choose(&self, caller: &Caller) -> Result<CertificateSummary, ApiError> {
        self.choose_certificate(caller).map(|(summary, _)| summary)
    }

    /// [`Self::choose`], also giving the chosen certificate's DER (for callers that hand the
    /// certificate itself to the page, like the VNPT-CA compatibility layer).
    pub fn choose_certificate(
        &self,
        caller: &Caller,
    ) -> Result<(CertificateSummary, Vec<u8>), ApiError> {
        self.authorize(caller)?;
        let key = self.resolve(caller, None)?;
        Ok((key.summary().clone(), key.certificate().to_vec()))
    }

    /// The key for `thumbprint`, or the user's choice among the certificates that can sign.
    fn resolve(&self, caller: &Caller, selector: Option<&str>) -> Result<TokenKey, ApiError> {
        let serial = match selector.map(|s| s.strip_prefix(SERIAL_SELECTOR).ok_or(s)) {
            Some(Err(thumbprint)) => return Ok(self.tokens.key(Some(thumbprint))?),
            Some(Ok(serial)) => Some(kyso_certs::normalize_serial(serial)),
            None => None,
        };
        let candidates: Vec<CertificateSummary> = self
            .tokens
            .certificates(time::OffsetDateTime::now_utc())?
            .into_iter()
            .map(|c| c.summary)
            .filter(|s| s.can_sign && !s.is_ca)
            .filter(|s| match &serial {
                // A page that names a serial gets that certificate, as with a thumbprint.
                Some(serial) => s.serial == *serial,
                None => s.valid_now,
            })
            .collect();
        match (candidates.as_slice(), &serial) {
            ([], Some(serial)) => {
                return Err(ApiError::new(
                    ErrorCode::CertificateNotFound,
                    format!("no signing certificate with serial {serial}"),
                ))
            }
            ([], None) => {
                return Err(ApiError::new(
                    ErrorCode::CertificateNotFound,
                    "no valid signing certificate on the connected tokens",
                ))
            }
            // Serials are unique per issuer only: two CAs' certificates may share one, and
            // then the user picks.
            ([only], Some(_)) => return Ok(self.tokens.key(Some(&only.thumbprint))?),
            _ => {}
        }
        let prompter = self.prompter.clone();
        let origin = caller.origin().map(str::to_owned);
        let language = self.config.language();
        let chosen = self.gate.ask(caller.label(), move || {
            prompter.choose_certificate(&ChooseRequest {
                origin: origin.as_deref(),
                certificates: &candidates,
                language,
            })
        })?;
        Ok(self.tokens.key(Some(&chosen))?)
    }

    fn token_lock(&self, key: &TokenKey) -> Arc<Mutex<()>> {
        let id = format!(
            "{}\u{0}{}",
            key.token().token.serial,
            key.token().token.label
        );
        self.token_locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(id)
            .or_default()
            .clone()
    }

    /// Runs `sign` with `key` unlocked for `caller`: PIN dialog (or confirmation when the
    /// token is already unlocked for this caller or has a PIN pad), then the signing, then
    /// logout unless the PIN cache is on. One transaction per token at a time, so no request
    /// ever signs with a login another request made.
    fn transaction<T>(
        &self,
        caller: &Caller,
        key: &TokenKey,
        purpose: &str,
        sign: impl FnOnce(&TokenKey) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let lock = self.token_lock(key);
        let _held = lock.lock().unwrap_or_else(|p| p.into_inner());
        let token_id = key.token().token.serial.clone();
        let cache_key = (caller.label().to_owned(), token_id);
        let cached = self.config.pin_cache_minutes > 0
            && self
                .pin_cache
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&cache_key)
                .is_some_and(|until| *until > Instant::now())
            && !key.needs_login()?;
        if !cached {
            // A login left by someone else (another site's cache) must not serve this caller.
            key.logout()?;
            self.pin_cache
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|(_, token), _| *token != cache_key.1);
            let pin_state = key.pin_state()?;
            if pin_state.locked {
                return Err(crate::token::TokenError::PinLocked.into());
            }
            if pin_state.pin_pad {
                self.confirm(caller, key.summary(), purpose)?;
                key.login(None)?;
            } else {
                let prompter = self.prompter.clone();
                let summary = key.summary().clone();
                let label = key.token().token.label.clone();
                let origin = caller.origin().map(str::to_owned);
                let purpose = purpose.to_owned();
                let pin: SecretString = self.gate.ask(caller.label(), move || {
                    prompter.pin(&PinRequest {
                        certificate: &summary,
                        token_label: &label,
                        pin: pin_state,
                        origin: origin.as_deref(),
                        purpose: &purpose,
                    })
                })?;
                key.login(Some(pin))?;
            }
        } else {
            self.confirm(caller, key.summary(), purpose)?;
        }
        let result = sign(key);
        if self.config.pin_cache_minutes > 0 && result.is_ok() {
            let until =
                Instant::now() + Duration::from_secs(60 * u64::from(self.config.pin_cache_minutes));
            self.pin_cache
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(cache_key, until);
        } else if let Err(e) = key.logout() {
            tracing::warn!(error = %e, "logout after signing failed");
        }
        result
    }

    fn confirm(
        &self,
        caller: &Caller,
        summary: &CertificateSummary,
        purpose: &str,
    ) -> Result<(), ApiError> {
        let prompter = self.prompter.clone();
        let summary = summary.clone();
        let origin = caller.origin().map(str::to_owned);
        let purpose = purpose.to_owned();
        let language = self.config.language();
        let confirmed = self.gate.ask(caller.label(), move || {
            prompter.confirm(&ConfirmRequest {
                origin: origin.as_deref(),
                certificate: &summary,
                purpose: &purpose,
                language,
            })
        })?;
        if confirmed {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorCode::UserCancelled,
                "signature not confirmed",
            ))
        }
    }

    /// Forgets cached logins of `caller` and logs the tokens out.
    pub fn clear_pin_cache(&self, caller: &Caller) -> Result<(), ApiError> {
        self.authorize(caller)?;
        self.forget_pins(caller);
        if let Ok(certificates) = self.tokens.certificates(time::OffsetDateTime::now_utc()) {
            for certificate in certificates.iter().filter(|c| c.summary.can_sign) {
                if let Ok(key) = self.tokens.key(Some(&certificate.summary.thumbprint)) {
                    let _ = key.logout();
                }
            }
        }
        Ok(())
    }

    /// Forgets `caller`'s cached logins, so its next signature asks for the PIN again. Needs no
    /// consent: it touches only what this caller itself was given (a site's "ask the PIN now"
    /// flag must not cost an allow-once user a second consent dialog in the same call).
    pub fn forget_pins(&self, caller: &Caller) {
        self.pin_cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(origin, _), _| origin != caller.label());
    }

    fn scheme(key: &TokenKey, pss: bool) -> Result<SignatureScheme, ApiError> {
        let scheme = if pss {
            SignatureScheme::RsaPss
        } else {
            SignatureScheme::default_for(key.key_kind())
        };
        if scheme.fits(key.key_kind()) {
            Ok(scheme)
        } else {
            Err(ApiError::new(
                ErrorCode::AlgorithmMismatch,
                "PSS needs an RSA key",
            ))
        }
    }

    /// Signs a digest computed by the caller.
    pub fn sign_hash(
        &self,
        caller: &Caller,
        request: &SignHashRequest,
    ) -> Result<SignHashResponse, ApiError> {
        self.authorize(caller)?;
        let hash = parse_hash(&request.algorithm)?;
        let digest = decode_base64("digest", &request.digest)?;
        if digest.len() != hash.output_len() {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                format!(
                    "a {hash} digest is {} bytes, got {}",
                    hash.output_len(),
                    digest.len()
                ),
            ));
        }
        let key = self.resolve(caller, request.certificate.as_deref())?;
        let scheme = Self::scheme(&key, request.pss)?;
        let digest_hex = hex::encode(&digest);
        let purpose = format!("{} digest {}…", hash, &digest_hex[..16]);
        let result = self.transaction(caller, &key, &purpose, |key| {
            Ok(key.sign(scheme, hash, SignInput::Digest(&digest))?)
        });
        self.audit(
            caller,
            "sign.hash",
            Some(&key.summary().thumbprint),
            Some(&digest_hex),
            &result.as_ref().map(|_| ()),
        );
        Ok(SignHashResponse {
            signature: b64(&result?),
            signature_algorithm: scheme.describe(hash),
            certificate: b64(key.certificate()),
        })
    }

    /// CMS/CAdES-BES over `data`.
    pub fn sign_cms(
        &self,
        caller: &Caller,
        request: &SignCmsRequest,
    ) -> Result<SignCmsResponse, ApiError> {
        self.authorize(caller)?;
        let data = decode_base64("data", &request.data)?;
        let hash = parse_hash(request.hash.as_deref().unwrap_or("sha256"))?;
        let key = self.resolve(caller, request.certificate.as_deref())?;
        let scheme = Self::scheme(&key, request.pss)?;
        let sha256 = hex::encode(HashAlgorithm::Sha256.digest(&data));
        let purpose = describe_document(request.document_name.as_deref(), data.len(), &sha256);
        let result = self.transaction(caller, &key, &purpose, |key| {
            let content = if request.detached {
                cms::Content::Detached(&data)
            } else {
                cms::Content::Attached(&data)
            };
            let cms_request = cms::CmsRequest {
                hash,
                scheme: Some(scheme),
                ..cms::CmsRequest::default()
            };
            Ok(cms::sign(key, content, &cms_request)?)
        });
        self.audit(
            caller,
            "sign.cms",
            Some(&key.summary().thumbprint),
            Some(&sha256),
            &result.as_ref().map(|_| ()),
        );
        Ok(SignCmsResponse {
            cms: b64(&result?),
            certificate: b64(key.certificate()),
        })
    }

    /// PAdES over a PDF. The PDF is checked (encryption, DocMDP, page, field) before any
    /// dialog, so a bad file never costs the user a PIN entry.
    pub fn sign_pdf(
        &self,
        caller: &Caller,
        request: &SignPdfRequest,
    ) -> Result<SignPdfResponse, ApiError> {
        self.sign_pdf_reporting(caller, request, &|_, _| {})
    }

    /// [`Self::sign_pdf`], telling `progress` how many bytes of the document have been hashed
    /// (`done`, `total`) after the PIN, so a page can show a bar while a large file is signed.
    pub fn sign_pdf_reporting(
        &self,
        caller: &Caller,
        request: &SignPdfRequest,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<SignPdfResponse, ApiError> {
        self.authorize(caller)?;
        let data = decode_base64("data", &request.data)?;
        let (signed, certificate) = self.sign_pdf_authorized(
            caller,
            request.certificate.as_deref(),
            request.name.as_deref(),
            &data,
            &request.options,
            progress,
        )?;
        Ok(SignPdfResponse {
            pdf: b64(&signed),
            certificate: b64(&certificate),
        })
    }

    /// [`Self::sign_pdf`] for a PDF sent as raw bytes: answers the signed PDF and the signer
    /// certificate (DER).
    pub fn sign_pdf_bytes(
        &self,
        caller: &Caller,
        certificate: Option<&str>,
        name: Option<&str>,
        data: &[u8],
        options: &crate::formats::pdf::PdfSignOptions,
    ) -> Result<(Vec<u8>, Vec<u8>), ApiError> {
        self.authorize(caller)?;
        self.sign_pdf_authorized(caller, certificate, name, data, options, &|_, _| {})
    }

    /// Both PDF entry points after `authorize`: asking twice would show an allow-once site
    /// the consent dialog twice.
    fn sign_pdf_authorized(
        &self,
        caller: &Caller,
        certificate: Option<&str>,
        name: Option<&str>,
        data: &[u8],
        options: &crate::formats::pdf::PdfSignOptions,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<(Vec<u8>, Vec<u8>), ApiError> {
        use crate::formats::pdf;
        pdf::preflight(std::io::Cursor::new(data), options)?;
        let key = self.resolve(caller, certificate)?;
        let sha256 = hex::encode(HashAlgorithm::Sha256.digest(data));
        let purpose = describe_document(name, data.len(), &sha256);
        let result = self.transaction(caller, &key, &purpose, |key| {
            let mut signed = Vec::with_capacity(data.len() + 64 * 1024);
            pdf::sign_pdf_with_progress(
                std::io::Cursor::new(data),
                &mut signed,
                key,
                options,
                &mut |step| {
                    if let pdf::Progress::Hashing(done, total) = step {
                        progress(saturate(done), saturate(total));
                    }
                },
            )?;
            Ok(signed)
        });
        self.audit(
            caller,
            "sign.pdf",
            Some(&key.summary().thumbprint),
            Some(&sha256),
            &result.as_ref().map(|_| ()),
        );
        Ok((result?, key.certificate().to_vec()))
    }

    /// The roots a verification trusts: the request's own and the CA certificates the
    /// connected tokens hold (Vietnamese CAs put their chain on the token).
    fn verification_roots(&self, request: &VerifyRequest) -> Result<Vec<Vec<u8>>, ApiError> {
        let mut roots = request
            .trusted
            .iter()
            .map(|b64| decode_base64("trusted", b64))
            .collect::<Result<Vec<_>, _>>()?;
        if let Ok(certificates) = self.tokens.certificates(time::OffsetDateTime::now_utc()) {
            roots.extend(
                certificates
                    .into_iter()
                    .filter(|c| c.summary.is_ca)
                    .map(|c| c.der),
            );
        }
        Ok(roots)
    }

    /// Checks every signature of a PDF. Uses no key, so no PIN; the site must still be
    /// allowed, like every call.
    pub fn verify_pdf(
        &self,
        caller: &Caller,
        request: &VerifyRequest,
    ) -> Result<VerifyResponse<crate::formats::pdf::PdfSignatureReport>, ApiError> {
        use crate::formats::pdf;
        self.authorize(caller)?;
        let data = decode_base64("data", &request.data)?;
        let roots = self.verification_roots(request)?;
        let signatures = pdf::verify_pdf(
            std::io::Cursor::new(&data),
            &roots,
            std::time::SystemTime::now(),
        )?;
        Ok(VerifyResponse {
            valid: pdf::all_good(&signatures),
            signatures,
        })
    }

    /// Checks every XMLDSig signature of an XML document.
    pub fn verify_xml(
        &self,
        caller: &Caller,
        request: &VerifyRequest,
    ) -> Result<VerifyResponse<crate::formats::xml::XmlSignatureReport>, ApiError> {
        self.authorize(caller)?;
        let data = decode_base64("data", &request.data)?;
        let roots = self.verification_roots(request)?;
        let signatures = crate::formats::xml::verify_xml(&data, &roots)?;
        Ok(VerifyResponse {
            valid: !signatures.is_empty() && signatures.iter().all(|s| s.intact && s.trusted),
            signatures,
        })
    }

    /// Enveloped XMLDSig over an XML document, checked (well-formed, no DTD, target found)
    /// before any dialog.
    pub fn sign_xml(
        &self,
        caller: &Caller,
        request: &SignXmlRequest,
    ) -> Result<SignXmlResponse, ApiError> {
        use crate::formats::xml;
        self.authorize(caller)?;
        let data = decode_base64("data", &request.data)?;
        let sha256 = hex::encode(HashAlgorithm::Sha256.digest(&data));
        let purpose = describe_document(request.name.as_deref(), data.len(), &sha256);
        // Parsed, checked and digested once, before any dialog.
        let prepared = xml::prepare(data, &request.options)?;
        let key = self.resolve(caller, request.certificate.as_deref())?;
        let result = self.transaction(caller, &key, &purpose, |key| Ok(prepared.sign(key)?));
        self.audit(
            caller,
            "sign.xml",
            Some(&key.summary().thumbprint),
            Some(&sha256),
            &result.as_ref().map(|_| ()),
        );
        let signature = result?;
        Ok(SignXmlResponse {
            xml: b64_signed_xml(&prepared, &signature),
            signature_method: signature.signature_method.to_owned(),
            weak_algorithm: signature.weak_algorithm,
            certificate: b64(key.certificate()),
        })
    }

    /// Login: a detached CMS over the server's challenge bytes.
    pub fn auth_challenge(
        &self,
        caller: &Caller,
        request: &AuthChallengeRequest,
    ) -> Result<SignCmsResponse, ApiError> {
        let data = decode_base64("challenge", &request.challenge)?;
        if data.is_empty() || data.len() > 4096 {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                "a challenge is 1 to 4096 bytes",
            ));
        }
        self.sign_cms(
            caller,
            &SignCmsRequest {
                certificate: request.certificate.clone(),
                data: request.challenge.clone(),
                detached: true,
                hash: None,
                pss: false,
                document_name: Some(format!("login to {}", caller.label())),
            },
        )
    }

    /// Several items under one consent and one PIN. `progress` is told after each item;
    /// `cancelled` is checked between items.
    pub fn sign_batch(
        &self,
        caller: &Caller,
        request: &BatchRequest,
        progress: &(dyn Fn(usize, usize) + Sync),
        cancelled: &(dyn Fn() -> bool + Sync),
    ) -> Result<BatchResponse, ApiError> {
        self.authorize(caller)?;
        if request.items.is_empty() {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                "a batch needs at least one item",
            ));
        }
        // Decode and check everything first: a malformed item fails the batch before any
        // dialog, so a bad file never costs the user a PIN entry.
        let decoded = request
            .items
            .iter()
            .enumerate()
            .map(|(i, item)| Decoded::check(i, item))
            .collect::<Result<Vec<_>, _>>()?;
        let key = self.resolve(caller, request.certificate.as_deref())?;
        let scheme = Self::scheme(&key, false)?;
        let total = decoded.len();
        let purpose = describe_batch(&decoded);
        let results = self.transaction(caller, &key, &purpose, |key| {
            let mut results = Vec::with_capacity(total);
            for (i, item) in decoded.iter().enumerate() {
                if cancelled() {
                    return Err(ApiError::new(ErrorCode::UserCancelled, "batch cancelled"));
                }
                let outcome = item.sign(key, scheme);
                results.push(outcome.unwrap_or_else(|e| {
                    tracing::info!(item = i, code = %e.code, detail = %e.detail, "batch item failed");
                    BatchResult::Error {
                        error: ErrorBody::from_code(e.code),
                    }
                }));
                progress(i + 1, total);
            }
            Ok(results)
        });
        self.audit(
            caller,
            "sign.batch",
            Some(&key.summary().thumbprint),
            None,
            &results.as_ref().map(|_| ()),
        );
        Ok(BatchResponse {
            certificate: b64(key.certificate()),
            results: results?,
        })
    }
}

fn parse_hash(name: &str) -> Result<HashAlgorithm, ApiError> {
    HashAlgorithm::parse(name).ok_or_else(|| {
        ApiError::new(
            ErrorCode::BadRequest,
            format!("unknown hash algorithm {name}"),
        )
    })
}

/// A batch item decoded and checked, ready to sign.
enum Decoded<'a> {
    Cms {
        data: Vec<u8>,
        detached: bool,
    },
    Hash {
        hash: HashAlgorithm,
        digest: Vec<u8>,
    },
    Pdf {
        data: Vec<u8>,
        name: Option<&'a str>,
        options: &'a crate::formats::pdf::PdfSignOptions,
    },
    Xml {
        /// Parsed, checked and digested once, when the batch is checked.
        prepared: Box<crate::formats::xml::PreparedXml<'static>>,
        name: Option<&'a str>,
    },
}

impl<'a> Decoded<'a> {
    /// Decodes item `i` and checks it as far as possible without the key.
    fn check(i: usize, item: &'a BatchItem) -> Result<Self, ApiError> {
        let field = |name: &str| format!("items[{i}].{name}");
        let in_item = |e: ApiError| ApiError::new(e.code, format!("items[{i}]: {}", e.detail));
        Ok(match item {
            BatchItem::Cms { data, detached } => Self::Cms {
                data: decode_base64(&field("data"), data)?,
                detached: *detached,
            },
            BatchItem::Hash { algorithm, digest } => {
                let hash = parse_hash(algorithm)?;
                let digest = decode_base64(&field("digest"), digest)?;
                if digest.len() != hash.output_len() {
                    return Err(ApiError::new(
                        ErrorCode::BadRequest,
                        format!("items[{i}]: wrong digest length"),
                    ));
                }
                Self::Hash { hash, digest }
            }
            BatchItem::Pdf {
                data,
                name,
                options,
            } => {
                let data = decode_base64(&field("data"), data)?;
                crate::formats::pdf::preflight(std::io::Cursor::new(&data), options)
                    .map_err(|e| in_item(e.into()))?;
                Self::Pdf {
                    data,
                    name: name.as_deref(),
                    options,
                }
            }
            BatchItem::Xml {
                data,
                name,
                options,
            } => {
                let data = decode_base64(&field("data"), data)?;
                let prepared =
                    crate::formats::xml::prepare(data, options).map_err(|e| in_item(e.into()))?;
                Self::Xml {
                    prepared: Box::new(prepared),
                    name: name.as_deref(),
                }
            }
        })
    }

    /// How the confirmation dialog names this item.
    fn label(&self) -> String {
        match self {
            Self::Cms { data, .. } => format!("CMS ({} bytes)", data.len()),
            Self::Hash { hash, .. } => format!("hash {}", hash.name()),
            Self::Pdf { data, name, .. } => {
                format!("{} (PDF, {} bytes)", name.unwrap_or("PDF"), data.len())
            }
            Self::Xml { prepared, name } => {
                format!(
                    "{} (XML, {} bytes)",
                    name.unwrap_or("XML"),
                    prepared.input_len()
                )
            }
        }
    }

    /// Signs this item with the logged-in `key`.
    fn sign(&self, key: &TokenKey, scheme: SignatureScheme) -> Result<BatchResult, ApiError> {
        Ok(match self {
            Self::Cms { data, detached } => {
                let content = if *detached {
                    cms::Content::Detached(data)
                } else {
                    cms::Content::Attached(data)
                };
                let der = cms::sign(key, content, &cms::CmsRequest::default())?;
                BatchResult::Cms { cms: b64(&der) }
            }
            Self::Hash { hash, digest } => {
                let signature = key.sign(scheme, *hash, SignInput::Digest(digest))?;
                BatchResult::Hash {
                    signature: b64(&signature),
                    signature_algorithm: scheme.describe(*hash),
                }
            }
            Self::Pdf { data, options, .. } => {
                let mut signed = Vec::with_capacity(data.len() + 64 * 1024);
                crate::formats::pdf::sign_pdf(
                    std::io::Cursor::new(data),
                    &mut signed,
                    key,
                    options,
                )?;
                BatchResult::Pdf { pdf: b64(&signed) }
            }
            Self::Xml { prepared, .. } => {
                let signature = prepared.sign(key)?;
                BatchResult::Xml {
                    xml: b64_signed_xml(prepared, &signature),
                    signature_method: signature.signature_method.to_owned(),
                    weak_algorithm: signature.weak_algorithm,
                }
            }
        })
    }
}

/// What the PIN and confirmation dialogs say a batch is: its size and the first items.
fn describe_batch(items: &[Decoded<'_>]) -> String {
    const SHOWN: usize = 5;
    let mut names: Vec<String> = items.iter().take(SHOWN).map(Decoded::label).collect();
    if items.len() > SHOWN {
        names.push(format!("… +{}", items.len() - SHOWN));
    }
    format!("{} tài liệu / documents: {}", items.len(), names.join("; "))
}

fn describe_document(name: Option<&str>, len: usize, sha256_hex: &str) -> String {
    format!(
        "{} ({} bytes, SHA-256 {}…)",
        name.unwrap_or("dữ liệu / data"),
        len,
        &sha256_hex[..16]
    )
}
