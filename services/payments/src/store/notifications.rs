//! Notifications already processed, keyed by `x-request-id`.

use sqlx::{PgConnection, PgExecutor};

use crate::provider::Notification;
use malha_kit::ServiceResult;

/// True when a notification with this request id was processed.
pub async fn seen(db: impl PgExecutor<'_>, request_id: &str) -> ServiceResult<bool> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM notifications WHERE request_id = $1)")
            .bind(request_id)
            .fetch_one(db)
            .await?,
    )
}

/// Records `notification`; false when its request id was already recorded.
pub async fn record(
    tx: &mut PgConnection,
    provider: &str,
    notification: &Notification,
) -> ServiceResult<bool> {
    Ok(sqlx::query(
        "INSERT INTO notifications (request_id, provider, data_id, action) VALUES ($1, $2, $3, $4)
         ON CONFLICT (request_id) DO NOTHING",
    )
    .bind(&notification.request_id)
    .bind(provider)
    .bind(&notification.data_id)
    .bind(&notification.action)
    .execute(tx)
    .await?
    .rows_affected()
        == 1)
}
