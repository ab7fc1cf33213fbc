//! A bounded cache of verified tokens, so a token is verified once rather
//! than on every call. Keyed by the token itself: the hash covers the
//! token's last bytes — its signature, random-looking and unique per token —
//! with the map's random SipHash key, and a hit compares the whole token, so
//! no collision can ever serve another token's principal. Entries honour the
//! token's expiry and the key-set generation (a rotated-out key drops them).

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use parking_lot::Mutex;

use super::Principal;

struct Entry {
    principal: Arc<Principal>,
    generation: u64,
}

/// A hit: the principal and the token as an `Arc`, shared with the cache so
/// forwarding it costs no copy.
pub(super) type Hit = (Arc<Principal>, Arc<str>);

/// Verified tokens, at most `capacity` of them.
pub(super) struct TokenCache {
    capacity: usize,
    entries: Mutex<HashMap<Arc<str>, Entry, TailHash>>,
}

/// Hashes only the last [`TAIL`] bytes of each string: hashing a whole
/// ~500-byte token on every call cost more than the rest of the lookup.
#[derive(Default)]
struct TailHash(RandomState);

const TAIL: usize = 32;

impl BuildHasher for TailHash {
    type Hasher = TailHasher<<RandomState as BuildHasher>::Hasher>;
    fn build_hasher(&self) -> Self::Hasher {
        TailHasher(self.0.build_hasher())
    }
}

struct TailHasher<H>(H);

impl<H: Hasher> Hasher for TailHasher<H> {
    fn finish(&self) -> u64 {
        self.0.finish()
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.write(&bytes[bytes.len().saturating_sub(TAIL)..]);
    }
}

impl TokenCache {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::new(HashMap::with_capacity_and_hasher(
                capacity.min(1024),
                TailHash::default(),
            )),
        }
    }

    /// The principal of `token` verified under key-set `generation` and not
    /// yet expired at `now`.
    pub(super) fn get(&self, token: &str, generation: u64, now: i64) -> Option<Hit> {
        let entries = self.entries.lock();
        let (key, entry) = entries.get_key_value(token)?;
        (entry.generation == generation && entry.principal.expires_at > now)
            .then(|| (Arc::clone(&entry.principal), Arc::clone(key)))
    }

    pub(super) fn insert(
        &self,
        key: Arc<str>,
        principal: Arc<Principal>,
        generation: u64,
        now: i64,
    ) {
        let mut entries = self.entries.lock();
        if entries.len() >= self.capacity {
            entries.retain(|_, e| e.generation == generation && e.principal.expires_at > now);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(
            key,
            Entry {
                principal,
                generation,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::SubjectKind;

    fn principal(expires_at: i64) -> Arc<Principal> {
        Arc::new(Principal {
            subject: "s".into(),
            kind: SubjectKind::User,
            username: "u".into(),
            email: String::new(),
            roles: vec![],
            token_id: "j".into(),
            expires_at,
            session_id: String::new(),
        })
    }

    #[test]
    fn expired_tokens_and_old_key_generations_miss() {
        let cache = TokenCache::new(8);
        cache.insert("t".into(), principal(100), 1, 50);
        assert!(cache.get("t", 1, 99).is_some());
        assert!(cache.get("t", 1, 100).is_none(), "expired");
        assert!(cache.get("t", 2, 60).is_none(), "keys changed");
        assert!(cache.get("u", 1, 60).is_none(), "another token");
    }

    #[test]
    fn tokens_sharing_their_last_bytes_stay_apart() {
        let cache = TokenCache::new(8);
        let tail = "s".repeat(64);
        cache.insert(format!("a.{tail}").into(), principal(100), 1, 0);
        cache.insert(format!("b.{tail}").into(), principal(200), 1, 0);
        let a = cache.get(&format!("a.{tail}"), 1, 0).unwrap();
        let b = cache.get(&format!("b.{tail}"), 1, 0).unwrap();
        assert_eq!((a.0.expires_at, b.0.expires_at), (100, 200));
        assert!(cache.get(&format!("c.{tail}"), 1, 0).is_none());
    }

    #[test]
    fn stays_bounded() {
        let cache = TokenCache::new(4);
        for i in 0..100 {
            cache.insert(i.to_string().into(), principal(1000), 1, 0);
        }
        assert!(cache.entries.lock().len() <= 4);
    }
}
