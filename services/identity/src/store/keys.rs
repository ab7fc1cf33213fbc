//! `signing_keys`: load the ring, create the first key, rotate.

use std::time::Duration;

use anyhow::Context;
use malha_kit::db::Pool;

use crate::keys::NewKey;
use malha_kit::ServiceResult;

/// A stored key.
pub struct KeyRow {
    /// Key id.
    pub kid: String,
    /// PKCS#8 DER (only used for the active key).
    pub private_pkcs8: Vec<u8>,
    /// JWK `x`.
    pub public_x: String,
    /// True for the signing key.
    pub active: bool,
}

/// Serialises key creation and rotation across replicas.
const KEY_LOCK: i64 = 0x6d61_6c68_615f_6b65; // "malha_ke"

async fn load(pool: &Pool) -> ServiceResult<Vec<KeyRow>> {
    let rows: Vec<(String, Vec<u8>, String, bool)> = sqlx::query_as(
        "SELECT kid, private_pkcs8, public_x, retired_at IS NULL
           FROM signing_keys
          WHERE retired_at IS NULL OR publish_until > now()
          ORDER BY retired_at IS NULL DESC, created_at DESC",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(kid, private_pkcs8, public_x, active)| KeyRow {
            kid,
            private_pkcs8,
            public_x,
            active,
        })
        .collect())
}

/// The published keys; creates the first signing key when there is none.
pub async fn load_or_create(
    pool: &Pool,
    generate: &(dyn Fn() -> NewKey + Sync),
) -> ServiceResult<Vec<KeyRow>> {
    let rows = load(pool).await?;
    if rows.iter().any(|r| r.active) {
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

/// Retires the active key, still published for `publish_for`, and activates `key`.
pub async fn rotate(pool: &Pool, key: NewKey, publish_for: Duration) -> ServiceResult<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(KEY_LOCK)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE signing_keys
            SET retired_at = now(), publish_until = now() + make_interval(secs => $1)
          WHERE retired_at IS NULL",
    )
    .bind(publish_for.as_secs_f64())
    .execute(&mut *tx)
    .await?;
    insert(&mut tx, &key).await?;
    tx.commit().await.context("committing the key rotation")?;
    tracing::info!(kid = %key.kid, "rotated the signing key");
    Ok(())
}
