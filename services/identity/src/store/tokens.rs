//! `refresh_tokens`: stored hashed; rotation and family revocation.

use chrono::{DateTime, Utc};
use malha_kit::db::Pool;
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::domain::{RefreshOutcome, RefreshState};
use malha_kit::ServiceResult;

/// The subject a refresh token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// `user` or `customer`.
    pub kind: String,
    /// Its id.
    pub id: Uuid,
    /// A session opened by `IdentifyCustomer` (a CPF, no secret): its
    /// refreshed tokens keep the narrow `customer.identified` scope.
    pub identified_only: bool,
}

/// Stores a new refresh token of `family`.
pub async fn insert(
    db: impl PgExecutor<'_>,
    family: Uuid,
    subject: &Subject,
    hash: &[u8],
    expires_at: DateTime<Utc>,
) -> ServiceResult<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (id, family_id, subject_kind, subject_id, token_hash, expires_at,
                                     identified_only)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(Uuid::now_v7())
    .bind(family)
    .bind(&subject.kind)
    .bind(subject.id)
    .bind(hash)
    .bind(expires_at)
    .bind(subject.identified_only)
    .execute(db)
    .await?;
    Ok(())
}

/// A stored refresh token, as rotation reads it.
#[derive(sqlx::FromRow)]
struct TokenRow {
    id: Uuid,
    family_id: Uuid,
    subject_kind: String,
    subject_id: Uuid,
    identified_only: bool,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

/// The result of presenting a refresh token.
pub enum Rotation {
    /// Spent; the new token (already stored) continues `family` for `subject`.
    Rotated { subject: Subject, family: Uuid },
    /// Refused, with the reason; a reuse has already revoked the family.
    Refused(RefreshOutcome),
    /// No such token.
    Unknown,
}

/// Spends the token hashed `old` and stores `new` in its family, atomically.
pub async fn rotate(
    pool: &Pool,
    old: &[u8],
    new: &[u8],
    new_expires_at: DateTime<Utc>,
) -> ServiceResult<Rotation> {
    let mut tx = pool.begin().await?;
    let row: Option<TokenRow> = sqlx::query_as(
        "SELECT id, family_id, subject_kind, subject_id, identified_only, expires_at, used_at, revoked_at
               FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE",
    )
    .bind(old)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(TokenRow {
        id,
        family_id: family,
        subject_kind: kind,
        subject_id,
        identified_only,
        expires_at,
        used_at,
        revoked_at,
    }) = row
    else {
        return Ok(Rotation::Unknown);
    };
    let outcome = RefreshState {
        expires_at,
        used_at,
        revoked_at,
    }
    .decide(Utc::now());
    match outcome {
        RefreshOutcome::Rotate => {
            sqlx::query("UPDATE refresh_tokens SET used_at = now() WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let subject = Subject {
                kind,
                id: subject_id,
                identified_only,
            };
            insert(&mut *tx, family, &subject, new, new_expires_at).await?;
            tx.commit().await?;
            Ok(Rotation::Rotated { subject, family })
        }
        RefreshOutcome::ReuseDetected => {
            revoke_family(&mut *tx, family).await?;
            tx.commit().await?;
            tracing::warn!(%family, "refresh token reused; session revoked");
            Ok(Rotation::Refused(outcome))
        }
        RefreshOutcome::Revoked | RefreshOutcome::Expired => Ok(Rotation::Refused(outcome)),
    }
}

async fn revoke_family(db: impl PgExecutor<'_>, family: Uuid) -> ServiceResult<()> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(family)
    .execute(db)
    .await?;
    Ok(())
}

/// Revokes the family of the token hashed `hash`; false when unknown.
pub async fn revoke_family_of(pool: &Pool, hash: &[u8]) -> ServiceResult<bool> {
    let family: Option<Uuid> =
        sqlx::query_scalar("SELECT family_id FROM refresh_tokens WHERE token_hash = $1")
            .bind(hash)
            .fetch_optional(pool)
            .await?;
    match family {
        Some(family) => {
            revoke_family(pool, family).await?;
            Ok(true)
        }
        None => Ok(false),
    }
}
