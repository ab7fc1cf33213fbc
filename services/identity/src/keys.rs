//! Signing keys: Ed25519 keys kept in identity's database, one signing
//! access tokens, the others published for verification: a rotated-in key
//! is published first and signs only after the verifiers' key-cache window
//! (so no verifier meets a token whose key it has not fetched, as ZITADEL
//! and Hydra do it), and a retired one stays published until the tokens it
//! signed have expired. Every replica reloads the ring periodically and when
//! a key's turn comes, so a rotation done anywhere (`malha keys rotate`, the
//! RPC) reaches all of them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;
use malha_kit::db::Pool;
use parking_lot::RwLock;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::store;
use crate::wrap::{self, KeyWrap};
use malha_api::identity::Jwk;
use malha_kit::ServiceResult;

/// PKCS#8 v1 prefix of an Ed25519 private key (RFC 8410): 16 bytes, then the seed.
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// A freshly generated key, ready to store.
pub struct NewKey {
    /// Key id: the first 16 hex digits of SHA-256(public key).
    pub kid: String,
    /// The private key as stored: PKCS#8 DER, sealed when a key-encryption
    /// key is configured.
    pub private_pkcs8: Vec<u8>,
    /// Base64url of the public key (the JWK `x`).
    pub public_x: String,
}

/// Generates an Ed25519 key from the OS's random source.
pub fn generate() -> NewKey {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let public = ed25519_dalek::SigningKey::from_bytes(&seed)
        .verifying_key()
        .to_bytes();
    let mut private_pkcs8 = PKCS8_ED25519_PREFIX.to_vec();
    private_pkcs8.extend_from_slice(&seed);
    NewKey {
        kid: hex_prefix(&Sha256::digest(public)),
        private_pkcs8,
        public_x: URL_SAFE_NO_PAD.encode(public),
    }
}

fn hex_prefix(digest: &[u8]) -> String {
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The keys in force.
pub struct Loaded {
    /// Key id of the signing key.
    pub active_kid: String,
    /// The signing key.
    pub encoding: EncodingKey,
    /// Every key to publish (the signing one first).
    pub published: Vec<Jwk>,
    /// The key published to sign next, and when it starts.
    pub next: Option<NextKey>,
    /// When the next key's turn comes (the ring reloads then).
    next_at: Option<Instant>,
}

/// A key published but not signing yet.
pub struct NextKey {
    /// Its key id.
    pub kid: String,
    /// When it starts signing.
    pub activate_time: chrono::DateTime<chrono::Utc>,
}

/// The in-memory ring, reloaded from the database.
pub struct KeyRing {
    pool: Pool,
    wrap: Option<Arc<KeyWrap>>,
    activation_delay: Duration,
    state: RwLock<Option<(Arc<Loaded>, Instant)>>,
    reload_lock: tokio::sync::Mutex<()>,
}

/// How long a rotated-in key is published before it signs, unless set: the
/// default period at which services refresh their verification keys.
pub const DEFAULT_ACTIVATION_DELAY: Duration = Duration::from_secs(300);

/// How long a loaded ring is trusted before re-reading the database.
const RELOAD_EVERY: Duration = Duration::from_secs(15);

impl KeyRing {
    /// A ring over identity's pool, private keys sealed with `wrap` when
    /// given; loads on first use.
    pub fn new(pool: Pool, wrap: Option<Arc<KeyWrap>>) -> Self {
        if wrap.is_none() {
            tracing::warn!(
                "signing keys are stored unencrypted: set MALHA_KEY_ENCRYPTION_KEY (docs/operations.md)"
            );
        }
        Self {
            pool,
            wrap,
            activation_delay: DEFAULT_ACTIVATION_DELAY,
            state: RwLock::new(None),
            reload_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Keys rotated in by this ring sign `delay` after being published: at
    /// least the period at which verifiers refresh their keys.
    pub fn activate_after(mut self, delay: Duration) -> Self {
        self.activation_delay = delay;
        self
    }

    /// The keys in force, loading them (and creating the first key) if needed.
    pub async fn current(&self) -> ServiceResult<Arc<Loaded>> {
        if let Some((loaded, at)) = self.state.read().as_ref()
            && at.elapsed() < RELOAD_EVERY
            && loaded.next_at.is_none_or(|next| Instant::now() < next)
        {
            return Ok(Arc::clone(loaded));
        }
        self.reload().await
    }

    /// Reads the keys from the database now.
    pub async fn reload(&self) -> ServiceResult<Arc<Loaded>> {
        let _guard = self.reload_lock.lock().await;
        let rows = store::keys::load_or_create(&self.pool, &|| self.stored(generate())).await?;
        let mut active = None;
        let mut next: Option<(NextKey, f64)> = None;
        let mut published = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(wrap) = &self.wrap
                && !wrap::is_sealed(&row.private_pkcs8)
            {
                let sealed = wrap.seal(&row.kid, &row.private_pkcs8);
                store::keys::seal(&self.pool, &row.kid, &row.private_pkcs8, &sealed).await?;
                tracing::info!(kid = %row.kid, "sealed a signing key stored in the clear");
            }
            if row.signing {
                let private = wrap::open(self.wrap.as_deref(), &row.kid, &row.private_pkcs8)?;
                active = Some((row.kid.clone(), private));
            } else if row.activates_in > 0.0
                && next
                    .as_ref()
                    .is_none_or(|(_, soonest)| row.activates_in < *soonest)
            {
                let key = NextKey {
                    kid: row.kid.clone(),
                    activate_time: row.activates_at,
                };
                next = Some((key, row.activates_in));
            }
            published.push(Jwk {
                kty: "OKP".into(),
                crv: "Ed25519".into(),
                x: row.public_x,
                kid: row.kid,
                alg: "EdDSA".into(),
                key_use: "sig".into(),
            });
        }
        let (active_kid, private) =
            active.ok_or_else(|| anyhow::anyhow!("no active signing key after load_or_create"))?;
        let next_at = next
            .as_ref()
            .map(|(_, seconds)| Instant::now() + Duration::from_secs_f64(*seconds));
        let loaded = Arc::new(Loaded {
            active_kid,
            encoding: EncodingKey::from_ed_der(&private),
            published,
            next: next.map(|(key, _)| key),
            next_at,
        });
        *self.state.write() = Some((Arc::clone(&loaded), Instant::now()));
        Ok(loaded)
    }

    /// Publishes a new key, signing after the ring's activation delay; the
    /// key it replaces signs until then and stays published `publish_for`
    /// longer (the lifetime of the tokens it signed). Returns the new key's
    /// id and the ring after the rotation.
    pub async fn rotate(&self, publish_for: Duration) -> ServiceResult<(String, Arc<Loaded>)> {
        let key = self.stored(generate());
        let kid = key.kid.clone();
        store::keys::rotate(&self.pool, key, self.activation_delay, publish_for).await?;
        Ok((kid, self.reload().await?))
    }

    /// `key` in the form it is stored in.
    fn stored(&self, key: NewKey) -> NewKey {
        match &self.wrap {
            Some(wrap) => NewKey {
                private_pkcs8: wrap.seal(&key.kid, &key.private_pkcs8),
                ..key
            },
            None => key,
        }
    }
}

/// The ring's published keys as identity's own verification key source:
/// identity verifies with the keys it holds, with no network hop and no
/// refresh cooldown (the ring is in memory; it reads the database at most
/// every 15 s or when a key's turn comes, whatever kids callers send).
pub struct Published(pub Arc<KeyRing>);

impl malha_kit::auth::FetchKeys for Published {
    fn fetch(
        &self,
    ) -> futures::future::BoxFuture<'_, anyhow::Result<Vec<malha_kit::auth::PublicKey>>> {
        Box::pin(async move {
            let loaded = self.0.current().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(loaded
                .published
                .iter()
                .map(|k| malha_kit::auth::PublicKey {
                    kid: k.kid.clone(),
                    x: k.x.clone(),
                })
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_sign_tokens_that_their_public_half_verifies() {
        let key = generate();
        assert_eq!(key.kid.len(), 16);
        let header = jsonwebtoken::Header {
            alg: jsonwebtoken::Algorithm::EdDSA,
            kid: Some(key.kid.clone()),
            ..Default::default()
        };
        let claims = serde_json::json!({"sub": "x", "exp": 4_000_000_000_i64});
        let token = jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_ed_der(&key.private_pkcs8),
        )
        .unwrap();
        let decoding = jsonwebtoken::DecodingKey::from_ed_components(&key.public_x).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp"]);
        assert!(jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation).is_ok());
    }
}
