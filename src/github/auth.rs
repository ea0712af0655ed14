//! GitHub App authentication: the App JWT and the installation-token cache.
//!
//! Incident 5 came from a token handed out already expired: only its source
//! could refresh it, and it did not. Here the cache itself refreshes a token
//! *before* handing it out when less than [`REFRESH_MARGIN`] of life remains,
//! and one refresh runs at a time per installation: each installation has its
//! own async mutex, so concurrent callers wait for the refresh in flight and
//! then read its result instead of minting tokens of their own.
//!
//! Tokens are opaque: nothing here assumes a length or a prefix (GitHub is
//! rolling out longer, stateless installation tokens).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use crate::ids::{AppId, InstallationId};

/// A token with less life than this left is replaced before use: long enough
/// for a slow evaluation (many pages, retries with backoff) to finish on it.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// GitHub rejects JWTs issued in the future; backdating `iat` by a minute
/// absorbs clock drift between this host and GitHub (GitHub's own advice).
const JWT_BACKDATE: Duration = Duration::from_secs(60);

/// GitHub refuses App JWTs that live 10 minutes or more; nine leaves room
/// for drift on the other side.
const JWT_LIFETIME: Duration = Duration::from_secs(9 * 60);

/// When GitHub omits `expires_at`, assume the documented one-hour life.
const DEFAULT_TOKEN_LIFE: Duration = Duration::from_secs(60 * 60);

/// Why the App's credentials are unusable.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the private key is not an RSA PEM key: {0}")]
    BadKey(String),
    #[error("could not sign an App JWT: {0}")]
    Sign(String),
}

/// The App's identity: its id and RSA private key.
#[derive(Clone)]
pub struct AppCredentials {
    app_id: AppId,
    key: EncodingKey,
}

impl fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppCredentials")
            .field("app_id", &self.app_id)
            .field("key", &"<redacted>")
            .finish()
    }
}

#[derive(Serialize)]
struct Claims {
    iat: i64,
    exp: i64,
    iss: String,
}

impl AppCredentials {
    /// Parses the PEM key and proves it can sign, so a bad key fails at
    /// start-up rather than on the first delivery.
    pub fn from_pem(app_id: AppId, pem: &[u8]) -> Result<Self, AuthError> {
        let key = EncodingKey::from_rsa_pem(pem).map_err(|e| AuthError::BadKey(e.to_string()))?;
        let creds = Self { app_id, key };
        creds
            .jwt(Utc::now())
            .map_err(|e| AuthError::BadKey(e.to_string()))?;
        Ok(creds)
    }

    pub fn app_id(&self) -> AppId {
        self.app_id
    }

    /// An App JWT: RS256, `iat` a minute in the past, `exp` under ten
    /// minutes, `iss` the App id.
    pub fn jwt(&self, now: DateTime<Utc>) -> Result<String, AuthError> {
        let iat = now.timestamp() - JWT_BACKDATE.as_secs() as i64;
        let claims = Claims {
            iat,
            exp: now.timestamp() + JWT_LIFETIME.as_secs() as i64,
            iss: self.app_id.0.to_string(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map_err(|e| AuthError::Sign(e.to_string()))
    }
}

/// An installation access token and when it stops working.
#[derive(Clone)]
pub struct InstallationToken {
    secret: Arc<str>,
    pub expires_at: DateTime<Utc>,
}

impl fmt::Debug for InstallationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstallationToken")
            .field("secret", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl InstallationToken {
    pub fn new(secret: impl Into<Arc<str>>, expires_at: DateTime<Utc>) -> Self {
        Self {
            secret: secret.into(),
            expires_at,
        }
    }

    /// Builds a token from GitHub's answer; a missing or unreadable
    /// `expires_at` means the documented one hour from `now`.
    pub fn from_response(token: String, expires_at: Option<&str>, now: DateTime<Utc>) -> Self {
        let expires_at = expires_at
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| now + DEFAULT_TOKEN_LIFE);
        Self::new(token, expires_at)
    }

    /// The secret, for the `Authorization` header only.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// Is this token still good for a while at `now`?
    pub fn fresh_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at - now > chrono::Duration::from_std(REFRESH_MARGIN).unwrap_or_default()
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<InstallationToken>>>;

/// Installation tokens, cached per installation, refreshed before use.
#[derive(Default)]
pub struct TokenCache {
    slots: Mutex<HashMap<InstallationId, Slot>>,
}

impl TokenCache {
    fn slot(&self, id: InstallationId) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.entry(id).or_default().clone()
    }

    /// A token that is fresh at `now`, minting one with `mint` when the
    /// cached one is missing or within [`REFRESH_MARGIN`] of expiry. Callers
    /// racing for the same installation share one `mint` call.
    pub async fn get<F, Fut, E>(
        &self,
        id: InstallationId,
        now: impl Fn() -> DateTime<Utc>,
        mint: F,
    ) -> Result<InstallationToken, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<InstallationToken, E>>,
    {
        let slot = self.slot(id);
        let mut cached = slot.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| t.fresh_at(now())) {
            return Ok(token.clone());
        }
        let token = mint().await?;
        *cached = Some(token.clone());
        Ok(token)
    }

    /// Forgets `token` for this installation (GitHub answered 401 with it:
    /// revoked, or the installation was re-created), unless another caller
    /// already replaced it. There is deliberately no "forget whatever is
    /// cached": workers refused together would drop each other's fresh
    /// tokens and mint one each.
    pub async fn invalidate(&self, id: InstallationId, token: &InstallationToken) {
        let slot = self.slot(id);
        let mut cached = slot.lock().await;
        if cached.as_ref().is_some_and(|t| t.secret == token.secret) {
            *cached = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_refresh() {
        let cache = Arc::new(TokenCache::default());
        let mints = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (cache, mints) = (cache.clone(), mints.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get(
                        InstallationId(1),
                        || at(1_000),
                        || async {
                            mints.fetch_add(1, Ordering::SeqCst);
                            tokio::task::yield_now().await;
                            Ok::<_, ()>(InstallationToken::new("t1", at(1_000 + 3600)))
                        },
                    )
                    .await
                    .unwrap()
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().secret(), "t1");
        }
        assert_eq!(mints.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_token_near_expiry_is_replaced_before_use() {
        let cache = TokenCache::default();
        let old = InstallationToken::new("old", at(1_000 + 4 * 60));
        let got = cache
            .get(
                InstallationId(1),
                || at(1_000),
                || async { Ok::<_, ()>(old) },
            )
            .await
            .unwrap();
        assert_eq!(got.secret(), "old");
        // Four minutes of life left at 1000: under the margin, so refreshed.
        let got = cache
            .get(
                InstallationId(1),
                || at(1_000),
                || async { Ok::<_, ()>(InstallationToken::new("new", at(1_000 + 3600))) },
            )
            .await
            .unwrap();
        assert_eq!(got.secret(), "new");
    }

    #[tokio::test]
    async fn invalidate_only_drops_the_refused_token() {
        let cache = TokenCache::default();
        let first = InstallationToken::new("a", at(10_000));
        cache
            .get(
                InstallationId(1),
                || at(0),
                || async { Ok::<_, ()>(first.clone()) },
            )
            .await
            .unwrap();
        cache
            .invalidate(InstallationId(1), &InstallationToken::new("other", at(0)))
            .await;
        let kept = cache
            .get(InstallationId(1), || at(0), || async { Err(()) })
            .await
            .unwrap();
        assert_eq!(kept.secret(), "a");
        cache.invalidate(InstallationId(1), &first).await;
        assert!(
            cache
                .get(
                    InstallationId(1),
                    || at(0),
                    || async { Err::<InstallationToken, _>(()) }
                )
                .await
                .is_err()
        );
    }

    #[test]
    fn missing_expiry_means_one_hour() {
        let t = InstallationToken::from_response("x".into(), None, at(0));
        assert_eq!(t.expires_at, at(3600));
        let t =
            InstallationToken::from_response("s3cr3t".into(), Some("2016-07-11T22:14:10Z"), at(0));
        assert_eq!(t.expires_at.to_rfc3339(), "2016-07-11T22:14:10+00:00");
        assert!(!format!("{t:?}").contains("s3cr3t"));
    }
}
