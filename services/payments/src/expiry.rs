//! Expires pending payments past their expiry, in the background. Several
//! replicas sweep at once safely: rows are taken `FOR UPDATE SKIP LOCKED`, so
//! each payment expires exactly once.

use std::time::Duration;

use malha_kit::db::Pool;
use tokio::sync::watch;

use crate::settle::{Change, settle};
use crate::store::{ledger, payments};
use malha_kit::ServiceResult;

/// Payments expired per transaction.
const BATCH: i64 = 50;

/// Sweeps every `every` until `stop` turns true.
pub fn spawn_sweeper(pool: Pool, every: Duration, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        loop {
            match expire_due(&pool).await {
                Ok(count) if count == BATCH => continue,
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(error = %error, "expiring payments failed; will retry")
                }
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                _ = stop.changed() => return,
            }
        }
    });
}

/// Expires one batch of due payments; returns how many.
pub async fn expire_due(pool: &Pool) -> ServiceResult<i64> {
    let mut tx = ledger::Tx::begin(pool).await?;
    let due = payments::due_for_expiry(&mut tx, BATCH).await?;
    for payment in &due {
        settle(
            &mut tx,
            payment,
            Change::Expire,
            "service:payments",
            "not paid before its expiry",
        )
        .await?;
    }
    tx.commit().await?;
    Ok(i64::try_from(due.len()).unwrap_or(0))
}
