//! "Log in with your token", as a portal's server does it: issue a random single-use challenge,
//! let the agent sign it (`POST /v1/auth/challenge` → detached CMS), then verify the signature
//! over exactly those bytes and chain the signer to the roots the portal trusts.
//!
//! The demo portal uses this; `docs/INTEGRATION.md` describes the same steps for servers in
//! other languages. A challenge is consumed by its first verification attempt, good or bad, so a
//! captured signature cannot be replayed and a guesser gets one try per challenge.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, SystemTime},
};

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use rand_core::{OsRng, RngCore};

use crate::{
    error::{Coded, ErrorCode},
    formats::cms_verify::{self, VerifyError},
};

/// How many unanswered challenges are kept before the oldest are dropped, so a client that
/// keeps asking cannot grow the server's memory.
const MAX_OUTSTANDING: usize = 10_000;

/// A challenge for the browser to have signed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Challenge {
    /// 32 random bytes, base64: what the agent signs.
    pub challenge: String,
    /// Seconds the challenge stays valid.
    pub expires_in: u64,
}

/// Why a login proof was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// The challenge was never issued, was already used, or was dropped.
    #[error("unknown or already used challenge")]
    UnknownChallenge,
    /// The challenge is older than its lifetime.
    #[error("the challenge expired")]
    Expired,
    /// The signature or its chain did not verify.
    #[error("the login signature did not verify")]
    Signature(#[source] VerifyError),
    /// The challenge or signature is not base64.
    #[error("{0} is not base64")]
    Base64(&'static str, #[source] base64::DecodeError),
}

impl Coded for LoginError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Base64(..) => ErrorCode::BadRequest,
            Self::Signature(e) => e.code(),
            Self::UnknownChallenge | Self::Expired => ErrorCode::SignatureInvalid,
        }
    }
}

/// Issues challenges and verifies the signed answers against trusted roots.
#[derive(Debug)]
pub struct ChallengeVerifier {
    roots: Vec<Vec<u8>>,
    lifetime: Duration,
    outstanding: Mutex<HashMap<Vec<u8>, SystemTime>>,
}

impl ChallengeVerifier {
    /// A verifier trusting `roots` (DER certificates); challenges live for `lifetime`.
    pub fn new(roots: Vec<Vec<u8>>, lifetime: Duration) -> Self {
        Self {
            roots,
            lifetime,
            outstanding: Mutex::new(HashMap::new()),
        }
    }

    /// A fresh random challenge, remembered until it is used or expires.
    pub fn issue(&self, now: SystemTime) -> Challenge {
        let mut nonce = vec![0u8; 32];
        OsRng.fill_bytes(&mut nonce);
        let mut outstanding = self.lock();
        outstanding.retain(|_, issued| !self.expired(*issued, now));
        if outstanding.len() >= MAX_OUTSTANDING {
            if let Some(oldest) = outstanding
                .iter()
                .min_by_key(|(_, issued)| **issued)
                .map(|(k, _)| k.clone())
            {
                outstanding.remove(&oldest);
            }
        }
        outstanding.insert(nonce.clone(), now);
        Challenge {
            challenge: B64.encode(&nonce),
            expires_in: self.lifetime.as_secs(),
        }
    }

    /// Checks that `cms_b64` is a detached CMS signature over the challenge `challenge_b64`,
    /// made by a certificate chaining to the trusted roots. Consumes the challenge. Returns the
    /// signer's certificate (DER) — the identity the portal logs in.
    pub fn verify(
        &self,
        challenge_b64: &str,
        cms_b64: &str,
        now: SystemTime,
    ) -> Result<Vec<u8>, LoginError> {
        let nonce = B64
            .decode(challenge_b64.trim())
            .map_err(|e| LoginError::Base64("challenge", e))?;
        let cms = B64
            .decode(cms_b64.trim())
            .map_err(|e| LoginError::Base64("signature", e))?;
        let issued = self
            .lock()
            .remove(&nonce)
            .ok_or(LoginError::UnknownChallenge)?;
        if self.expired(issued, now) {
            return Err(LoginError::Expired);
        }
        cms_verify::verify_detached(&cms, &nonce, &self.roots, now).map_err(LoginError::Signature)
    }

    fn expired(&self, issued: SystemTime, now: SystemTime) -> bool {
        now.duration_since(issued).unwrap_or_default() > self.lifetime
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, SystemTime>> {
        // A panic while holding this lock cannot leave the map inconsistent (single inserts
        // and removes), so a poisoned lock is still usable.
        self.outstanding
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        formats::cms::{sign, CmsRequest, Content},
        signer::SoftwareSigner,
    };

    fn verifier() -> ChallengeVerifier {
        let pki = kyso_certs::testpki::shared();
        ChallengeVerifier::new(vec![pki.root.cert_der.clone()], Duration::from_secs(120))
    }

    fn answer(challenge: &str) -> String {
        let pki = kyso_certs::testpki::shared();
        let user = pki.user("person-p256").unwrap_or_else(|| panic!("user"));
        let signer = SoftwareSigner::from_pkcs8(
            &user.key_pkcs8_der,
            user.cert_der.clone(),
            vec![pki.issuing.cert_der.clone()],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let nonce = B64.decode(challenge).unwrap_or_else(|e| panic!("{e}"));
        let der = sign(&signer, Content::Detached(&nonce), &CmsRequest::default())
            .unwrap_or_else(|e| panic!("{e}"));
        B64.encode(der)
    }

    #[test]
    fn a_good_answer_logs_in_once_and_its_replay_is_refused() {
        let verifier = verifier();
        let now = SystemTime::now();
        let challenge = verifier.issue(now).challenge;
        let cms = answer(&challenge);
        let signer = verifier.verify(&challenge, &cms, now);
        assert!(signer.is_ok(), "{signer:?}");
        let replay = verifier.verify(&challenge, &cms, now);
        assert!(
            matches!(replay, Err(LoginError::UnknownChallenge)),
            "{replay:?}"
        );
    }

    #[test]
    fn a_signature_over_another_challenge_is_refused_and_burns_the_challenge() {
        let verifier = verifier();
        let now = SystemTime::now();
        let first = verifier.issue(now).challenge;
        let second = verifier.issue(now).challenge;
        let altered = verifier.verify(&second, &answer(&first), now);
        assert!(
            matches!(
                altered,
                Err(LoginError::Signature(VerifyError::DigestMismatch))
            ),
            "{altered:?}"
        );
        assert_eq!(
            altered.map_err(|e| e.code()).err(),
            Some(ErrorCode::SignatureInvalid)
        );
        // The right answer for `second` is now too late: a challenge gets one attempt.
        assert!(matches!(
            verifier.verify(&second, &answer(&second), now),
            Err(LoginError::UnknownChallenge)
        ));
    }

    #[test]
    fn an_answer_after_the_lifetime_is_refused() {
        let verifier = verifier();
        let issued = SystemTime::now();
        let challenge = verifier.issue(issued).challenge;
        let late = issued + Duration::from_secs(121);
        assert!(matches!(
            verifier.verify(&challenge, &answer(&challenge), late),
            Err(LoginError::Expired)
        ));
    }

    #[test]
    fn a_challenge_the_server_never_issued_is_refused() {
        let verifier = verifier();
        let forged = B64.encode([7u8; 32]);
        assert!(matches!(
            verifier.verify(&forged, &answer(&forged), SystemTime::now()),
            Err(LoginError::UnknownChallenge)
        ));
    }
}
