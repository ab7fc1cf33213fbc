//! Signing keys: Ed25519 keys kept in identity's database, the active one
//! used to sign access tokens, retired ones published until the tokens they
//! signed have expired. Every replica reloads the ring periodically, so a
//! rotation done anywhere (`malha keys rotate`, the RPC) reaches all of them.

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
    /// Every key to publish (active first).
    pub published: Vec<Jwk>,
}

/// The in-memory ring, reloaded from the database.
pub struct KeyRing {
    pool: Pool,
    wrap: Option<Arc<KeyWrap>>,
    state: RwLock<Option<(Arc<Loaded>, Instant)>>,
    reload_lock: tokio::sync::Mutex<()>,
}

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
            state: RwLock::new(None),
            reload_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The keys in force, loading them (and creating the first key) if needed.
    pub async fn current(&self) -> ServiceResult<Arc<Loaded>> {
        if let Some((loaded, at)) = self.state.read().as_ref()
            && at.elapsed() < RELOAD_EVERY
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
        let mut published = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(wrap) = &self.wrap
                && !wrap::is_sealed(&row.private_pkcs8)
            {
                let sealed = wrap.seal(&row.kid, &row.private_pkcs8);
                store::keys::seal(&self.pool, &row.kid, &row.private_pkcs8, &sealed).await?;
                tracing::info!(kid = %row.kid, "sealed a signing key stored in the clear");
            }
            if row.active {
                let private = wrap::open(self.wrap.as_deref(), &row.kid, &row.private_pkcs8)?;
                active = Some((row.kid.clone(), private));
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
        let loaded = Arc::new(Loaded {
            active_kid,
            encoding: EncodingKey::from_ed_der(&private),
            published,
        });
        *self.state.write() = Some((Arc::clone(&loaded), Instant::now()));
        Ok(loaded)
    }

    /// Retires the active key (published for `publish_for` more) and starts a new one.
    pub async fn rotate(&self, publish_for: Duration) -> ServiceResult<Arc<Loaded>> {
        store::keys::rotate(&self.pool, self.stored(generate()), publish_for).await?;
        self.reload().await
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

/// The ring's published keys as a verification key source, so identity
/// verifies tokens exactly like every other service does.
pub struct Published(pub Arc<KeyRing>);

impl malha_kit::auth::FetchKeys for Published {
    fn fetch(
        &self,
    ) -> futures::future::BoxFuture<'_, anyhow::Result<Vec<malha_kit::auth::PublicKey>>> {
        Box::pin(async move {
            let loaded = self.0.reload().await.map_err(|e| anyhow::anyhow!("{e}"))?;
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
