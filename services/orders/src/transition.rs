//! The one way an order's status changes: checked against the status
//! machine for who asks, recorded in the history with time and actor, and
//! announced to watchers (NOTIFY on commit).

use sqlx::PgConnection;

use crate::domain::{Mover, Status};
use crate::store::orders::{self, OrderRow};
use malha_kit::stored::StoredName;
use malha_kit::{ServiceError, ServiceResult};

/// The stored status of `order`: INTERNAL for a status this build does not
/// know (one a newer version wrote), never a guess.
pub fn status_of(order: &OrderRow) -> ServiceResult<Status> {
    Ok(Status::from_stored(&order.status)?)
}

/// Moves the locked `order` to `next` for `by`; FAILED_PRECONDITION when the
/// status machine does not allow it.
pub async fn apply(
    tx: &mut PgConnection,
    order: &OrderRow,
    next: Status,
    by: Mover,
    actor: &str,
    reason: &str,
) -> ServiceResult<OrderRow> {
    let current = status_of(order)?;
    if !current.can_become(next, by) {
        return Err(ServiceError::precondition(
            "ILLEGAL_TRANSITION",
            format!(
                "an order that is {} cannot become {}",
                current.as_str(),
                next.as_str()
            ),
        ));
    }
    orders::record_transition(
        tx,
        order.id,
        Some(current.as_str()),
        next.as_str(),
        actor,
        reason,
    )
    .await?;
    tracing::info!(order = %order.id, from = current.as_str(), to = next.as_str(), actor, "order status changed");
    Ok(OrderRow {
        status: next.as_str().to_owned(),
        ..order.clone()
    })
}
