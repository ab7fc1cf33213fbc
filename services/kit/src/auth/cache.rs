//! A bounded cache of verified tokens, keyed by the SHA-256 of the token, so
//! a token is verified once rather than on every call. Entries honour the
//! token's expiry and the key-set generation (a rotated-out key drops them).

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use super::Principal;

struct Entry {
    principal: Arc<Principal>,
    generation: u64,
}

/// Verified tokens, at most `capacity` of them.
pub(super) struct TokenCache {
    capacity: usize,
    entries: Mutex<HashMap<[u8; 32], Entry>>,
}

impl TokenCache {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::new(HashMap::with_capacity(capacity.min(1024))),
        }
    }

    pub(super) fn key(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    /// The principal of a token verified under key-set `generation` and not
    /// yet expired at `now`.
    pub(super) fn get(&self, key: &[u8; 32], generation: u64, now: i64) -> Option<Arc<Principal>> {
        let entries = self.entries.lock();
        let entry = entries.get(key)?;
        (entry.generation == generation && entry.principal.expires_at > now)
            .then(|| Arc::clone(&entry.principal))
    }

    pub(super) fn insert(
        &self,
        key: [u8; 32],
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
        })
    }

    #[test]
    fn expired_tokens_and_old_key_generations_miss() {
        let cache = TokenCache::new(8);
        let key = TokenCache::key("t");
        cache.insert(key, principal(100), 1, 50);
        assert!(cache.get(&key, 1, 99).is_some());
        assert!(cache.get(&key, 1, 100).is_none(), "expired");
        assert!(cache.get(&key, 2, 60).is_none(), "keys changed");
    }

    #[test]
    fn stays_bounded() {
        let cache = TokenCache::new(4);
        for i in 0..100 {
            cache.insert(TokenCache::key(&i.to_string()), principal(1000), 1, 0);
        }
        assert!(cache.entries.lock().len() <= 4);
    }
}
