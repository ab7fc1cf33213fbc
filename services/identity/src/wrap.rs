//! Signing keys at rest: sealed with AES-256-GCM under a key-encryption key
//! from the environment (`MALHA_KEY_ENCRYPTION_KEY`, mounted from a Secret or
//! a KMS), the key id bound as associated data so a sealed key cannot be
//! passed off as another. Stored form: `malha-kw1:` ‖ 12-byte nonce ‖
//! ciphertext ‖ tag. Rows written before a key-encryption key was configured
//! hold plain PKCS#8 (which starts with a DER SEQUENCE, never the prefix).

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use malha_kit::config::Secret;

const PREFIX: &[u8] = b"malha-kw1:";

/// The key-encryption key.
pub struct KeyWrap {
    key: LessSafeKey,
}

impl std::fmt::Debug for KeyWrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyWrap(***)")
    }
}

impl KeyWrap {
    /// From 32 bytes in base64 (`head -c 32 /dev/urandom | base64`). The
    /// error never repeats the value.
    pub fn from_base64(secret: &Secret) -> anyhow::Result<Self> {
        let bytes = STANDARD
            .decode(secret.expose().trim())
            .ok()
            .filter(|bytes| bytes.len() == 32)
            .context(
                "MALHA_KEY_ENCRYPTION_KEY must be 32 random bytes in base64 \
                 (head -c 32 /dev/urandom | base64)",
            )?;
        let key = UnboundKey::new(&AES_256_GCM, &bytes)
            .map_err(|_| anyhow::anyhow!("MALHA_KEY_ENCRYPTION_KEY was refused by AES-256-GCM"))?;
        Ok(Self {
            key: LessSafeKey::new(key),
        })
    }

    /// A new key-encryption key: 32 bytes from the OS's random source, in
    /// base64 (what `from_base64` takes).
    pub fn generate_base64() -> String {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        STANDARD.encode(bytes)
    }

    /// The stored form of the private key `kid`.
    pub fn seal(&self, kid: &str, pkcs8: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let mut sealed = pkcs8.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(kid.as_bytes()),
                &mut sealed,
            )
            .expect("AES-GCM seals any key-sized input");
        [PREFIX, &nonce, &sealed].concat()
    }

    fn open(&self, kid: &str, stored: &[u8]) -> anyhow::Result<Vec<u8>> {
        let body = &stored[PREFIX.len()..];
        if body.len() < NONCE_LEN {
            bail!("signing key {kid}: sealed form truncated");
        }
        let (nonce, sealed) = body.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| anyhow::anyhow!("signing key {kid}: bad nonce"))?;
        let mut opened = sealed.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut opened)
            .map_err(|_| {
                anyhow::anyhow!(
                    "signing key {kid} does not open with MALHA_KEY_ENCRYPTION_KEY \
                     (a different key, or the row was altered)"
                )
            })?;
        Ok(plain.to_vec())
    }
}

/// True when `stored` is sealed.
pub fn is_sealed(stored: &[u8]) -> bool {
    stored.starts_with(PREFIX)
}

/// The PKCS#8 of key `kid` from its stored form.
pub fn open(wrap: Option<&KeyWrap>, kid: &str, stored: &[u8]) -> anyhow::Result<Vec<u8>> {
    match (is_sealed(stored), wrap) {
        (false, _) => Ok(stored.to_vec()),
        (true, Some(wrap)) => wrap.open(kid, stored),
        (true, None) => bail!(
            "signing key {kid} is encrypted at rest: set MALHA_KEY_ENCRYPTION_KEY to the key it was sealed with"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keks_are_usable_and_distinct() {
        let a = KeyWrap::generate_base64();
        assert!(KeyWrap::from_base64(&Secret::new(a.clone())).is_ok());
        assert_ne!(a, KeyWrap::generate_base64());
    }

    fn wrap(byte: u8) -> KeyWrap {
        KeyWrap::from_base64(&Secret::new(STANDARD.encode([byte; 32]))).unwrap()
    }

    #[test]
    fn sealed_keys_open_only_with_their_kek_and_their_kid() {
        let pkcs8 = b"0.private key bytes".to_vec();
        let sealed = wrap(1).seal("kid-a", &pkcs8);
        assert!(is_sealed(&sealed));
        assert!(!sealed.windows(pkcs8.len()).any(|w| w == pkcs8.as_slice()));
        assert_eq!(open(Some(&wrap(1)), "kid-a", &sealed).unwrap(), pkcs8);
        assert!(
            open(Some(&wrap(2)), "kid-a", &sealed).is_err(),
            "another KEK"
        );
        assert!(
            open(Some(&wrap(1)), "kid-b", &sealed).is_err(),
            "another kid"
        );
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert!(open(Some(&wrap(1)), "kid-a", &altered).is_err(), "altered");
        assert!(open(Some(&wrap(1)), "kid-a", &sealed[..PREFIX.len() + 3]).is_err());
        assert_ne!(
            sealed,
            wrap(1).seal("kid-a", &pkcs8),
            "a fresh nonce each time"
        );
    }

    #[test]
    fn plain_rows_pass_and_sealed_rows_need_the_kek() {
        assert_eq!(open(None, "k", b"0\x2e plain").unwrap(), b"0\x2e plain");
        let sealed = wrap(1).seal("k", b"secret");
        let error = open(None, "k", &sealed).unwrap_err().to_string();
        assert!(error.contains("MALHA_KEY_ENCRYPTION_KEY"), "{error}");
    }

    #[test]
    fn a_bad_kek_is_refused_without_echoing_it() {
        for bad in ["not base64!", "c2hvcnQ=", ""] {
            let error = KeyWrap::from_base64(&Secret::new(bad))
                .unwrap_err()
                .to_string();
            assert!(error.contains("32 random bytes"), "{error}");
            assert!(bad.is_empty() || !error.contains(bad), "{error}");
        }
    }
}
