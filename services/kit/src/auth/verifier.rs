//! Verifies access tokens against identity's public keys.
//!
//! Keys come from identity's JWKS (fetched over gRPC, cached, refreshed in the
//! background and on an unknown `kid`), from a mounted JWKS file, are given
//! directly, or are held by this process (identity's own ring). The algorithm
//! is pinned to EdDSA, `typ` must be `at+jwt`, and `iss`, `aud`, `exp`, `nbf`
//! are all checked.
//!
//! Anyone can send a token with a made-up `kid`, so refreshes on an unknown
//! kid are single-flight (callers waiting meanwhile share the one fetch) and
//! rate-limited by a token bucket, but a forged kid never blocks a real one:
//! a kid is refused without fetching only when a fetch that started after it
//! was first seen did not find it (remembered per kid for a while), and an
//! empty bucket delays the next fetch by at most a refill instead of
//! refusing. identity publishes a key before signing with it, so a real kid
//! is normally known already; this path covers the rest (a verifier that
//! started during a rotation, a zero activation delay).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicU64, Ordering};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use parking_lot::{Mutex, RwLock};
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
    /// Keys from a custom fetcher, rate-limited like identity's JWKS.
    Custom(Arc<dyn FetchKeys>),
    /// Keys this process holds itself (identity's in-memory ring): asked on
    /// every unknown kid, with no rate limit, since asking costs nothing.
    Held(Arc<dyn FetchKeys>),
}

struct KeySet {
    generation: u64,
    keys: HashMap<String, DecodingKey>,
}

struct Inner {
    source: KeySource,
    validation: Validation,
    keys: RwLock<Arc<KeySet>>,
    /// Held while fetching: one fetch at a time, shared by its waiters.
    fetching: tokio::sync::Mutex<RefreshBudget>,
    /// Fetches started so far; a kid first seen at count `n` is settled by
    /// any fetch that starts after that (count > `n`).
    fetches_started: AtomicU64,
    /// Kids that a fetch started after they were seen did not find.
    misses: Mutex<HashMap<String, Instant>>,
    cache: TokenCache,
}

/// A token bucket of unknown-kid fetches.
struct RefreshBudget {
    tokens: f64,
    refilled: Instant,
}

impl RefreshBudget {
    fn full() -> Self {
        Self {
            tokens: REFRESH_BURST,
            refilled: Instant::now(),
        }
    }

    /// How long until a fetch may start (zero: now, the token taken).
    fn take(&mut self) -> Duration {
        let now = Instant::now();
        let earned = now.duration_since(self.refilled).as_secs_f64() / REFRESH_EVERY.as_secs_f64();
        self.tokens = (self.tokens + earned).min(REFRESH_BURST);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Duration::ZERO
        } else {
            REFRESH_EVERY.mul_f64(1.0 - self.tokens)
        }
    }
}

/// Verifies access tokens; cheap to clone.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

/// Tokens remembered after verification (~800 bytes each, measured: the
/// token and its principal). 4,096 active tokens per replica is a busy day
/// for every service here; past that a token costs one more signature check
/// (tens of µs). At 20,000 a service that sees a new customer per order grew
/// by 16 MiB before the bound held: the 10-minute soak saw orders' RSS climb
/// 36.9 → 45.2 MiB with 10,321 new customer tokens.
const CACHE_CAPACITY: usize = 4_096;
/// Unknown-kid fetches in a burst...
const REFRESH_BURST: f64 = 4.0;
/// ...then one per this period at most.
const REFRESH_EVERY: Duration = Duration::from_secs(1);
/// A kid a fetch did not find is refused without fetching for this long.
const MISS_COOLDOWN: Duration = Duration::from_secs(30);
/// Kids remembered as missing, at most (a flood of forged kids is forgotten).
const MISS_CAPACITY: usize = 4096;
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
                fetching: tokio::sync::Mutex::new(RefreshBudget::full()),
                fetches_started: AtomicU64::new(0),
                misses: Mutex::new(HashMap::new()),
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

    /// The key set if it holds `kid`, fetching the keys again if not (see
    /// the module docs for how forged kids are kept from costing fetches).
    async fn key_set_with(&self, kid: &str) -> Option<Arc<KeySet>> {
        let current = Arc::clone(&self.inner.keys.read());
        if current.keys.contains_key(kid) {
            return Some(current);
        }
        if let KeySource::Held(_) = self.inner.source {
            let _ = self.refresh().await;
            return self.holding(kid);
        }
        if self
            .inner
            .misses
            .lock()
            .get(kid)
            .is_some_and(|at| at.elapsed() < MISS_COOLDOWN)
        {
            return None;
        }
        let seen_at = self.inner.fetches_started.load(Ordering::Acquire);
        let mut budget = self.inner.fetching.lock().await;
        // The fetch this call waited for (if any) may have brought it.
        if let Some(found) = self.holding(kid) {
            return Some(found);
        }
        if self.inner.fetches_started.load(Ordering::Acquire) == seen_at {
            // No fetch has started since this kid was seen: start one, once
            // the budget allows (waiting at most one refill).
            let wait = budget.take();
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
                budget.tokens = 0.0;
                budget.refilled = Instant::now();
            }
            // Errors are logged by the fetch; the caller sees an unknown key.
            let _ = self.fetch_locked().await;
        }
        drop(budget);
        let found = self.holding(kid);
        if found.is_none() {
            let mut misses = self.inner.misses.lock();
            if misses.len() >= MISS_CAPACITY {
                misses.retain(|_, at| at.elapsed() < MISS_COOLDOWN);
                if misses.len() >= MISS_CAPACITY {
                    misses.clear();
                }
            }
            misses.insert(kid.to_owned(), Instant::now());
        }
        found
    }

    fn holding(&self, kid: &str) -> Option<Arc<KeySet>> {
        let current = Arc::clone(&self.inner.keys.read());
        current.keys.contains_key(kid).then_some(current)
    }

    /// Fetches the keys now (after any fetch under way).
    pub async fn refresh(&self) -> anyhow::Result<()> {
        let _one_at_a_time = self.inner.fetching.lock().await;
        self.fetch_locked().await
    }

    /// Fetches the keys; the caller holds `fetching`.
    async fn fetch_locked(&self) -> anyhow::Result<()> {
        self.inner.fetches_started.fetch_add(1, Ordering::AcqRel);
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
        {
            // A kid now published is no longer a miss.
            let mut misses = self.inner.misses.lock();
            if !misses.is_empty() {
                misses.retain(|kid, _| !keys.contains_key(kid));
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
        KeySource::Custom(fetcher) | KeySource::Held(fetcher) => fetcher.fetch().await,
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

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use std::sync::atomic::AtomicUsize;

    /// Keys published by a fake identity that counts how often it is asked.
    #[derive(Default)]
    struct Published {
        keys: Mutex<Vec<PublicKey>>,
        fetches: AtomicUsize,
    }

    impl FetchKeys for Published {
        fn fetch(&self) -> futures::future::BoxFuture<'_, anyhow::Result<Vec<PublicKey>>> {
            Box::pin(async move {
                self.fetches.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok(self.keys.lock().clone())
            })
        }
    }

    fn key(kid: &str) -> PublicKey {
        PublicKey {
            kid: kid.into(),
            x: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([9u8; 32]),
        }
    }

    fn verifier(source: &Arc<Published>) -> Verifier {
        Verifier::new(KeySource::Custom(Arc::clone(source) as _), "malha", "malha")
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_fetch() {
        let published = Arc::new(Published::default());
        published.keys.lock().push(key("new"));
        let verifier = verifier(&published);
        let lookups = (0..16).map(|_| verifier.key_set_with("new"));
        let found = futures::future::join_all(lookups).await;
        assert!(found.iter().all(Option::is_some));
        assert_eq!(published.fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_forged_kid_is_fetched_once_and_does_not_block_a_real_one() {
        let published = Arc::new(Published::default());
        let verifier = verifier(&published);
        assert!(verifier.key_set_with("forged").await.is_none());
        assert!(verifier.key_set_with("forged").await.is_none());
        assert_eq!(
            published.fetches.load(Ordering::SeqCst),
            1,
            "a missed kid is remembered"
        );
        // identity rotates right after: the new kid is fetched at once.
        published.keys.lock().push(key("rotated"));
        assert!(verifier.key_set_with("rotated").await.is_some());
        assert_eq!(published.fetches.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_flood_of_forged_kids_is_slowed_to_the_budget_not_refused() {
        let published = Arc::new(Published::default());
        let verifier = verifier(&published);
        let started = Instant::now();
        for n in 0..REFRESH_BURST as usize {
            assert!(
                verifier
                    .key_set_with(&format!("forged-{n}"))
                    .await
                    .is_none()
            );
        }
        assert!(
            started.elapsed() < REFRESH_EVERY,
            "the burst is not delayed"
        );
        published.keys.lock().push(key("real"));
        assert!(
            verifier.key_set_with("real").await.is_some(),
            "a real kid still gets its fetch, one refill later"
        );
        assert!(started.elapsed() >= REFRESH_EVERY.mul_f64(0.9));
        assert_eq!(
            published.fetches.load(Ordering::SeqCst),
            REFRESH_BURST as usize + 1
        );
    }
}
