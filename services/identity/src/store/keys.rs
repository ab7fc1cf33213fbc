//! `signing_keys`: load the ring, create the first key, rotate (publish a
//! new key at once, sign with it after a delay).

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use malha_kit::db::Pool;

use crate::keys::NewKey;
use malha_kit::ServiceResult;

/// A stored key that is published: signing, next, or retired but still
/// verifying the tokens it signed.
#[derive(sqlx::FromRow)]
pub struct KeyRow {
    /// Key id.
    pub kid: String,
    /// PKCS#8 DER (only used for the signing key).
    pub private_pkcs8: Vec<u8>,
    /// JWK `x`.
    pub public_x: String,
    /// True for the key that signs now.
    pub signing: bool,
    /// When it starts (or started) signing.
    pub activates_at: DateTime<Utc>,
    /// Seconds until it starts signing (0 once it has).
    pub activates_in: f64,
}

/// Serialises key creation and rotation across replicas.
const KEY_LOCK: i64 = 0x6d61_6c68_615f_6b65; // "malha_ke"

/// The published keys, the signing one first, then by activation, newest first.
async fn load(pool: &Pool) -> ServiceResult<Vec<KeyRow>> {
    // A key signs from `activates_at` until `retired_at` (which a rotation
    // sets to the next key's activation, so exactly one key signs at a time).
    let rows = sqlx::query_as::<_, KeyRow>(
        "SELECT kid, private_pkcs8, public_x,
                activates_at <= now() AND (retired_at IS NULL OR retired_at > now()) AS signing,
                activates_at,
                GREATEST(EXTRACT(EPOCH FROM activates_at - now()), 0)::float8 AS activates_in
           FROM signing_keys
          WHERE retired_at IS NULL OR retired_at > now() OR publish_until > now()
          ORDER BY signing DESC, activates_at DESC",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows)
}

/// The published keys; creates the first signing key when there is none.
pub async fn load_or_create(
    pool: &Pool,
    generate: &(dyn Fn() -> NewKey + Sync),
) -> ServiceResult<Vec<KeyRow>> {
    let rows = load(pool).await?;
    if rows.iter().any(|r| r.signing) {
        return Ok(rows);
    }
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(KEY_LOCK)
        .execute(&mut *tx)
        .await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM signing_keys WHERE retired_at IS NULL)")
            .fetch_one(&mut *tx)
            .await?;
    if !exists {
        insert(&mut tx, &generate()).await?;
        tracing::info!("created the first signing key");
    }
    tx.commit().await?;
    load(pool).await
}

async fn insert(tx: &mut sqlx::PgConnection, key: &NewKey) -> ServiceResult<()> {
    sqlx::query("INSERT INTO signing_keys (kid, private_pkcs8, public_x) VALUES ($1, $2, $3)")
        .bind(&key.kid)
        .bind(&key.private_pkcs8)
        .bind(&key.public_x)
        .execute(tx)
        .await?;
    Ok(())
}

/// Replaces key `kid`'s clear private key by its sealed form (unless another
/// replica did it first).
pub async fn seal(pool: &Pool, kid: &str, clear: &[u8], sealed: &[u8]) -> ServiceResult<()> {
    sqlx::query("UPDATE signing_keys SET private_pkcs8 = $3 WHERE kid = $1 AND private_pkcs8 = $2")
        .bind(kid)
        .bind(clear)
        .bind(sealed)
        .execute(pool)
        .await?;
    Ok(())
}

/// Publishes `key` now, to sign from `activate_after` on. Every key that
/// would sign past that (the signing one, the next one of a rotation still
/// pending) retires then, so one key signs at a time, and stays published
/// `publish_for` longer.
pub async fn rotate(
    pool: &Pool,
    key: NewKey,
    activate_after: Duration,
    publish_for: Duration,
) -> ServiceResult<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(KEY_LOCK)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE signing_keys
            SET retired_at = now() + make_interval(secs => $1),
                publish_until = GREATEST(publish_until, now() + make_interval(secs => $1 + $2))
          WHERE retired_at IS NULL OR retired_at > now() + make_interval(secs => $1)",
    )
    .bind(activate_after.as_secs_f64())
    .bind(publish_for.as_secs_f64())
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO signing_keys (kid, private_pkcs8, public_x, activates_at)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
    )
    .bind(&key.kid)
    .bind(&key.private_pkcs8)
    .bind(&key.public_x)
    .bind(activate_after.as_secs_f64())
    .execute(&mut *tx)
    .await?;
    tx.commit().await.context("committing the key rotation")?;
    tracing::info!(
        kid = %key.kid,
        activate_after_seconds = activate_after.as_secs(),
        "published a new signing key"
    );
    Ok(())
}
