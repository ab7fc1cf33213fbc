//! `activation_codes` and the activation columns of `users`.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::UserState;
use malha_kit::ServiceResult;
use malha_kit::db::Pool;
use malha_kit::stored::StoredName;

/// Records that `user_id` (still pending) asks for an activation e-mail at
/// `now`, unless one was asked for after `not_after`. True when it was
/// recorded: the row lock makes two racing logins send one e-mail.
pub async fn claim_resend(
    tx: &mut PgConnection,
    user_id: Uuid,
    now: DateTime<Utc>,
    not_after: DateTime<Utc>,
) -> ServiceResult<bool> {
    let claimed = sqlx::query(
        "UPDATE users SET activation_requested_at = $2
          WHERE id = $1 AND state = $4
            AND (activation_requested_at IS NULL OR activation_requested_at <= $3)",
    )
    .bind(user_id)
    .bind(now)
    .bind(not_after)
    .bind(UserState::Pending.as_str())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(claimed == 1)
}

/// Stores the hash of a code just minted for `user_id`.
pub async fn insert_code(
    tx: &mut PgConnection,
    code_hash: &[u8],
    user_id: Uuid,
    expires_at: DateTime<Utc>,
) -> ServiceResult<()> {
    sqlx::query(
        "INSERT INTO activation_codes (code_hash, user_id, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(code_hash)
    .bind(user_id)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Uses the code with `code_hash` (unused, unexpired at `now`) and activates
/// its user, in one transaction. `None`: no such usable code.
pub async fn redeem(
    pool: &Pool,
    code_hash: &[u8],
    now: DateTime<Utc>,
) -> ServiceResult<Option<Uuid>> {
    let mut tx = pool.begin().await?;
    let user_id: Option<Uuid> = sqlx::query_scalar(
        "UPDATE activation_codes SET used_at = $2
          WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2
          RETURNING user_id",
    )
    .bind(code_hash)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(user_id) = user_id {
        sqlx::query("UPDATE users SET state = $2 WHERE id = $1")
            .bind(user_id)
            .bind(UserState::Active.as_str())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(user_id)
}
