//! Idempotent creates: the one way a `request_id` is honoured.
//!
//! A key belongs to (caller, RPC, `request_id`) — never to the key alone, so
//! one caller's key can never reach another caller's result. The first
//! request's SHA-256 hash and a response the service chooses are stored in
//! the kit's `idempotency` table, inside the create's own transaction:
//!
//! 1. [`Key::claim`] inserts the key with `ON CONFLICT DO NOTHING`. A
//!    concurrent identical request blocks on the primary key until the first
//!    transaction ends; after a commit it reads the committed row (and
//!    replays it), after a rollback its own insert goes through. So the
//!    claim, the effect and the stored response commit together or not at
//!    all, and two concurrent identical requests make one resource.
//! 2. The handler does its work in the same transaction and calls
//!    [`Key::record`] with the response to replay ([`Key::once`] does the
//!    three steps for a create that answers the same either way).
//! 3. A retry with the same body gets [`Claim::Replay`] with that response; the
//!    same key with another body is `INVALID_ARGUMENT` on `request_id`.
//!
//! Public RPCs called without a token share the [`Owner::anonymous`] scope:
//! there the request hash is what keeps one caller from another's result.
//! The stored response must never hold a secret (refresh tokens, client
//! secrets): a service stores the resource and issues fresh credentials on
//! replay, or refuses the replay. Keys live [`KEY_LIFETIME`]; an expired key
//! is deleted when it is claimed again (and then counts as new), and each
//! claim purges a small batch of other expired keys.

use std::time::Duration;

use anyhow::Context;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::auth::{Caller, Principal};
use crate::db::Pool;
use crate::error::{ServiceError, ServiceResult};

/// How long a `request_id` is remembered: a client retries within this
/// window (Stripe keeps keys 24 h too); afterwards the key may be reused.
pub const KEY_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// How many other expired keys one claim deletes, so the purge stays cheap.
const PURGE_BATCH: i64 = 100;

/// What a caller is told when it reuses a key for another request.
pub const KEY_REUSED: &str = "request_id was already used with a different request";

/// Who an idempotency key belongs to: the token's subject kind and id, or
/// `anonymous` for a public RPC called without a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner(String);

impl Owner {
    /// The owner for a verified caller.
    pub fn principal(principal: &Principal) -> Self {
        Self(format!("{}:{}", principal.kind.as_str(), principal.subject))
    }

    /// The one owner of every call that came without a token.
    pub fn anonymous() -> Self {
        Self("anonymous".into())
    }

    /// The owner of `request`: its verified caller, if any.
    pub fn of<T>(request: &tonic::Request<T>) -> Self {
        request
            .extensions()
            .get::<Caller>()
            .map_or_else(Self::anonymous, |caller| Self::principal(&caller.0))
    }

    /// The stored form (`user:<id>`, `anonymous`…).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The scope and fingerprint of one create request.
#[derive(Debug, Clone)]
pub struct Key {
    owner: Owner,
    rpc: &'static str,
    /// The caller's `request_id` and the request's hash; `None` (no key):
    /// nothing is hashed or stored, every claim is fresh.
    keyed: Option<(Uuid, [u8; 32])>,
}

/// What a claim found.
#[derive(Debug, PartialEq)]
pub enum Claim<R> {
    /// The key is new (or the request has none): do the work, then
    /// [`Key::record`] its response in the same transaction.
    Fresh,
    /// The same request was done before: answer with its stored response.
    Replay(R),
}

/// What a stored key says about the request now presented with it.
#[derive(Debug, PartialEq, Eq)]
enum Stored {
    /// Same body: replay these response bytes.
    Response(Vec<u8>),
    /// Another body under the same key.
    OtherRequest,
    /// The claim committed without a response: a service bug.
    NoResponse,
}

fn compare(stored_hash: &[u8], stored_response: Option<Vec<u8>>, ours: &[u8; 32]) -> Stored {
    if stored_hash != ours.as_slice() {
        Stored::OtherRequest
    } else {
        stored_response.map_or(Stored::NoResponse, Stored::Response)
    }
}

/// SHA-256 of the request as prost encodes it (fields in tag order, so the
/// same message always hashes the same).
pub fn request_hash(request: &impl prost::Message) -> [u8; 32] {
    Sha256::digest(request.encode_to_vec()).into()
}

impl Key {
    /// The key of `request` to the RPC named `rpc` (its method name, e.g.
    /// `CreatePerson`), from the already parsed `request_id` (`None`: the
    /// caller asked for no idempotency; every claim is then fresh).
    pub fn new(
        owner: &Owner,
        rpc: &'static str,
        request_id: Option<Uuid>,
        request: &impl prost::Message,
    ) -> Self {
        Self {
            owner: owner.clone(),
            rpc,
            // Hashing encodes the whole request: only worth it with a key.
            keyed: request_id.map(|id| (id, request_hash(request))),
        }
    }

    /// Claims the key in the create's transaction `tx`, or finds what the
    /// same request answered before. Blocks while a concurrent claim of the
    /// same key is uncommitted.
    pub async fn claim<R: prost::Message + Default>(
        &self,
        tx: &mut PgConnection,
    ) -> ServiceResult<Claim<R>> {
        let Some((request_id, ours)) = self.keyed else {
            return Ok(Claim::Fresh);
        };
        self.purge_expired(tx, request_id).await?;
        // A key deleted (expired) between our insert and our read is retried;
        // twice in a row would take a purge racing every attempt.
        for _ in 0..3 {
            let inserted = sqlx::query_scalar::<_, i32>(
                "INSERT INTO idempotency (caller, rpc, key, request_hash, expires_at)
                 VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
                 ON CONFLICT (caller, rpc, key) DO NOTHING RETURNING 1",
            )
            .bind(self.owner.as_str())
            .bind(self.rpc)
            .bind(request_id)
            .bind(ours.as_slice())
            .bind(KEY_LIFETIME.as_secs_f64())
            .fetch_optional(&mut *tx)
            .await?;
            if inserted.is_some() {
                return Ok(Claim::Fresh);
            }
            let stored: Option<(Vec<u8>, Option<Vec<u8>>)> = sqlx::query_as(
                "SELECT request_hash, response FROM idempotency
                  WHERE caller = $1 AND rpc = $2 AND key = $3",
            )
            .bind(self.owner.as_str())
            .bind(self.rpc)
            .bind(request_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((hash, response)) = stored else {
                continue;
            };
            return match compare(&hash, response, &ours) {
                Stored::Response(bytes) => R::decode(bytes.as_slice())
                    .context("decoding a stored idempotent response")
                    .map(Claim::Replay)
                    .map_err(ServiceError::from),
                Stored::OtherRequest => Err(ServiceError::invalid("request_id", KEY_REUSED)),
                Stored::NoResponse => Err(ServiceError::Internal(anyhow::anyhow!(
                    "idempotency key {request_id} of {} committed without a response",
                    self.rpc
                ))),
            };
        }
        Err(ServiceError::Unavailable(
            "the idempotency key kept expiring while claimed".into(),
        ))
    }

    /// Stores `response` as what a retry of this request answers; call it
    /// in the claim's transaction, before commit. Never pass a secret.
    pub async fn record(
        &self,
        tx: &mut PgConnection,
        response: &impl prost::Message,
    ) -> ServiceResult<()> {
        let Some((request_id, _)) = self.keyed else {
            return Ok(());
        };
        sqlx::query(
            "UPDATE idempotency SET response = $4 WHERE caller = $1 AND rpc = $2 AND key = $3",
        )
        .bind(self.owner.as_str())
        .bind(self.rpc)
        .bind(request_id)
        .bind(response.encode_to_vec())
        .execute(&mut *tx)
        .await?;
        Ok(())
    }

    /// The common create: in one transaction of `pool`, the stored response
    /// of an earlier identical request, or `create`'s, recorded and
    /// committed with the key. An error from `create` rolls everything back
    /// (the key too), so a retry tries again.
    pub async fn once<R: prost::Message + Default>(
        &self,
        pool: &Pool,
        create: impl AsyncFnOnce(&mut PgConnection) -> ServiceResult<R>,
    ) -> ServiceResult<R> {
        let mut tx = pool.begin().await?;
        if let Claim::Replay(done) = self.claim(&mut tx).await? {
            return Ok(done);
        }
        let response = create(&mut tx).await?;
        self.record(&mut tx, &response).await?;
        tx.commit().await?;
        Ok(response)
    }

    /// Deletes this key if it has expired (so it can be claimed afresh) and
    /// a batch of other expired keys, skipping rows another claim holds.
    async fn purge_expired(&self, tx: &mut PgConnection, request_id: Uuid) -> ServiceResult<()> {
        sqlx::query(
            "DELETE FROM idempotency
              WHERE caller = $1 AND rpc = $2 AND key = $3 AND expires_at <= now()",
        )
        .bind(self.owner.as_str())
        .bind(self.rpc)
        .bind(request_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM idempotency WHERE (caller, rpc, key) IN (
                 SELECT caller, rpc, key FROM idempotency WHERE expires_at <= now()
                  LIMIT $1 FOR UPDATE SKIP LOCKED)",
        )
        .bind(PURGE_BATCH)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(kind: &str, subject: &str) -> Principal {
        let claims: crate::auth::AccessClaims = serde_json::from_value(serde_json::json!({
            "iss": "malha", "aud": "malha", "sub": subject, "exp": 0, "iat": 0, "nbf": 0,
            "jti": "j", "kind": kind,
        }))
        .unwrap();
        claims.into()
    }

    #[test]
    fn the_owner_is_the_subject_kind_and_id_or_anonymous() {
        let user = principal("user", "42");
        assert_eq!(Owner::principal(&user).as_str(), "user:42");
        let customer = principal("customer", "42");
        assert_ne!(Owner::principal(&customer), Owner::principal(&user));
        let untokened = tonic::Request::new(());
        assert_eq!(Owner::of(&untokened), Owner::anonymous());
        let mut tokened = tonic::Request::new(());
        tokened
            .extensions_mut()
            .insert(Caller(std::sync::Arc::new(user.clone())));
        assert_eq!(Owner::of(&tokened), Owner::principal(&user));
    }

    #[test]
    fn the_hash_follows_every_field_of_the_request() {
        let a = prost_types::Duration {
            seconds: 1,
            nanos: 0,
        };
        let same = prost_types::Duration {
            seconds: 1,
            nanos: 0,
        };
        let other = prost_types::Duration {
            seconds: 1,
            nanos: 1,
        };
        assert_eq!(request_hash(&a), request_hash(&same));
        assert_ne!(request_hash(&a), request_hash(&other));
    }

    #[test]
    fn a_stored_key_replays_the_same_body_and_refuses_another() {
        let ours = request_hash(&prost_types::Duration {
            seconds: 1,
            nanos: 0,
        });
        assert_eq!(
            compare(&ours, Some(vec![1, 2]), &ours),
            Stored::Response(vec![1, 2])
        );
        assert_eq!(
            compare(&[0; 32], Some(vec![1, 2]), &ours),
            Stored::OtherRequest
        );
        assert_eq!(compare(&[0; 32], None, &ours), Stored::OtherRequest);
        assert_eq!(compare(&ours, None, &ours), Stored::NoResponse);
    }
}
