//! Verifies access tokens against identity's public keys.
//!
//! Keys come from identity's JWKS (fetched over gRPC, cached, refreshed in the
//! background and on an unknown `kid`, at most once per cooldown), from a
//! mounted JWKS file, or are given directly. The algorithm is pinned to EdDSA,
//! `typ` must be `at+jwt`, and `iss`, `aud`, `exp`, `nbf` are all checked.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use parking_lot::RwLock;
use serde::Deserialize;

use super::cache::TokenCache;
use super::claims::{AccessClaims, TOKEN_TYPE};
use super::principal::Principal;
use malha_api::identity::{GetJwksRequest, identity_service_client::IdentityServiceClient};

/// Why a token was refused. The message is safe to return to the caller.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    /// Not a JWT, wrong algorithm or type, bad signature, wrong iss/aud...
    #[error("invalid access token")]
    Invalid,
    /// Signed by a key this service does not know.
    #[error("access token signed by an unknown key")]
    UnknownKey,
    /// Past its expiry.
    #[error("access token expired")]
    Expired,
    /// Its `nbf` is in the future.
    #[error("access token not yet valid")]
    NotYetValid,
}

/// A public verification key in JWK form (Ed25519 only).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct PublicKey {
    /// Key id.
    pub kid: String,
    /// Base64url of the 32-byte Ed25519 public key.
    pub x: String,
}

/// Fetches public keys from somewhere custom (identity reads its own ring).
pub trait FetchKeys: Send + Sync {
    /// The keys currently published.
    fn fetch(&self) -> futures::future::BoxFuture<'_, anyhow::Result<Vec<PublicKey>>>;
}

/// Where the verification keys come from.
#[derive(Clone)]
pub enum KeySource {
    /// identity's `GetJwks` over gRPC at this URL.
    Identity(String),
    /// A mounted JWKS JSON file.
    File(PathBuf),
    /// Keys given directly (tests, tools).
    Static(Vec<PublicKey>),
    /// Keys from a custom fetcher.
    Custom(Arc<dyn FetchKeys>),
}

struct KeySet {
    generation: u64,
    keys: HashMap<String, DecodingKey>,
}

struct Inner {
    source: KeySource,
    validation: Validation,
    keys: RwLock<Arc<KeySet>>,
    last_miss: tokio::sync::Mutex<Option<Instant>>,
    cache: TokenCache,
}

/// Verifies access tokens; cheap to clone.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

/// Tokens remembered after verification (~1 KiB each).
const CACHE_CAPACITY: usize = 20_000;
/// After a fetch that did not find a token's kid, unknown kids are refused
/// without fetching for this long.
const MISS_COOLDOWN: Duration = Duration::from_secs(5);
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 60;

impl Verifier {
    /// A verifier for tokens of `issuer` intended for `audience`.
    pub fn new(source: KeySource, issuer: &str, audience: &str) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        Self {
            inner: Arc::new(Inner {
                source,
                validation,
                keys: RwLock::new(Arc::new(KeySet {
                    generation: 0,
                    keys: HashMap::new(),
                })),
                last_miss: tokio::sync::Mutex::new(None),
                cache: TokenCache::new(CACHE_CAPACITY),
            }),
        }
    }

    /// Verifies `token` and returns its principal.
    pub async fn verify(&self, token: &str) -> Result<Arc<Principal>, AuthError> {
        self.verify_shared(token)
            .await
            .map(|(principal, _)| principal)
    }

    /// Verifies `token`; returns its principal and the token as a shared
    /// `Arc` (the cache's own copy when it was cached).
    pub async fn verify_shared(
        &self,
        token: &str,
    ) -> Result<(Arc<Principal>, Arc<str>), AuthError> {
        let now = now();
        let generation = self.inner.keys.read().generation;
        if let Some(hit) = self.inner.cache.get(token, generation, now) {
            return Ok(hit);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Invalid)?;
        if header.alg != Algorithm::EdDSA
            || !header
                .typ
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(TOKEN_TYPE))
        {
            return Err(AuthError::Invalid);
        }
        let kid = header.kid.ok_or(AuthError::Invalid)?;
        let keys = match self.key_set_with(&kid).await {
            Some(keys) => keys,
            None => return Err(AuthError::UnknownKey),
        };
        let key = keys.keys.get(&kid).ok_or(AuthError::UnknownKey)?;
        let data = jsonwebtoken::decode::<AccessClaims>(token, key, &self.inner.validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::Expired,
                jsonwebtoken::errors::ErrorKind::ImmatureSignature => AuthError::NotYetValid,
                _ => AuthError::Invalid,
            })?;
        let principal = Arc::new(Principal::from(data.claims));
        let shared: Arc<str> = token.into();
        self.inner.cache.insert(
            Arc::clone(&shared),
            Arc::clone(&principal),
            keys.generation,
            now,
        );
        Ok((principal, shared))
    }

    /// The key set if it holds `kid`, fetching the keys again if not. Only
    /// one fetch runs at a time, and after a fetch that did not find the
    /// requested kid, further unknown kids wait out a cooldown (so forged
    /// kids cannot turn every request into a key fetch).
    async fn key_set_with(&self, kid: &str) -> Option<Arc<KeySet>> {
        let current = Arc::clone(&self.inner.keys.read());
        if current.keys.contains_key(kid) {
            return Some(current);
        }
        let mut last_miss = self.inner.last_miss.lock().await;
        let current = Arc::clone(&self.inner.keys.read());
        if current.keys.contains_key(kid) {
            return Some(current);
        }
        if last_miss.is_some_and(|t| t.elapsed() < MISS_COOLDOWN) {
            return None;
        }
        // Errors are logged by refresh; the caller sees an unknown key.
        let _ = self.refresh().await;
        let current = Arc::clone(&self.inner.keys.read());
        if current.keys.contains_key(kid) {
            Some(current)
        } else {
            *last_miss = Some(Instant::now());
            None
        }
    }

    /// Fetches the keys now.
    pub async fn refresh(&self) -> anyhow::Result<()> {
        let fetched = match fetch_keys(&self.inner.source).await {
            Ok(keys) => keys,
            Err(error) => {
                tracing::warn!(error = %error, "could not fetch verification keys");
                return Err(error);
            }
        };
        let mut keys = HashMap::with_capacity(fetched.len());
        for key in fetched {
            match DecodingKey::from_ed_components(&key.x) {
                Ok(decoding) => {
                    keys.insert(key.kid, decoding);
                }
                Err(_) => tracing::warn!(kid = %key.kid, "ignoring malformed verification key"),
            }
        }
        let mut current = self.inner.keys.write();
        let removed = current.keys.keys().any(|kid| !keys.contains_key(kid));
        // Tokens verified with a key that is gone must be verified again.
        let generation = current.generation + u64::from(removed);
        *current = Arc::new(KeySet { generation, keys });
        Ok(())
    }

    /// Refreshes the keys every `period` until the process ends.
    pub fn spawn_refresher(&self, period: Duration) {
        let verifier = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.tick().await;
            loop {
                tick.tick().await;
                let _ = verifier.refresh().await;
            }
        });
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[derive(Deserialize)]
struct JwksFile {
    keys: Vec<JwkEntry>,
}

#[derive(Deserialize)]
struct JwkEntry {
    #[serde(default)]
    kty: String,
    #[serde(default)]
    crv: String,
    #[serde(default)]
    kid: String,
    #[serde(default)]
    x: String,
}

fn ed25519(kty: &str, crv: &str, kid: String, x: String) -> Option<PublicKey> {
    (kty == "OKP" && crv == "Ed25519" && !kid.is_empty()).then_some(PublicKey { kid, x })
}

async fn fetch_keys(source: &KeySource) -> anyhow::Result<Vec<PublicKey>> {
    match source {
        KeySource::Static(keys) => Ok(keys.clone()),
        KeySource::Custom(fetcher) => fetcher.fetch().await,
        KeySource::File(path) => {
            let text = tokio::fs::read_to_string(path).await?;
            let file: JwksFile = serde_json::from_str(&text)?;
            Ok(file
                .keys
                .into_iter()
                .filter_map(|k| ed25519(&k.kty, &k.crv, k.kid, k.x))
                .collect())
        }
        KeySource::Identity(url) => {
            let channel = tonic::transport::Endpoint::from_shared(url.clone())?
                .connect_timeout(Duration::from_secs(2))
                .timeout(Duration::from_secs(5))
                .connect()
                .await?;
            let response = IdentityServiceClient::new(channel)
                .get_jwks(GetJwksRequest {})
                .await?
                .into_inner();
            Ok(response
                .keys
                .into_iter()
                .filter_map(|k| ed25519(&k.kty, &k.crv, k.kid, k.x))
                .collect())
        }
    }
}
