//! Moving orders through the kitchen, and cancelling them.

use super::{actor, convert, ensure_visible, is_staff, read};
use crate::Orders;
use crate::domain::{Mover, Status};
use crate::store::orders;
use crate::transition::{apply, status_of};
use malha_api::malha::orders::v1::*;
use malha_kit::auth::Principal;
use malha_kit::validate::Violations;
use malha_kit::{ServiceError, ServiceResult};

fn check_reason(v: &mut Violations, reason: &str) {
    v.check(
        reason.chars().count() <= 500,
        "reason",
        "at most 500 characters",
    );
}

/// Moves the order to `next` as `by`; asking for the current status changes
/// nothing (a retried kitchen tap is harmless).
async fn move_order(
    service: &Orders,
    id: uuid::Uuid,
    next: Status,
    by: Mover,
    caller: &Principal,
    reason: &str,
) -> ServiceResult<Order> {
    let mut tx = service.pool.begin().await?;
    let order = orders::get(&mut *tx, id, true).await?;
    ensure_visible(caller, &order)?;
    if status_of(&order)? == next {
        tx.rollback().await?;
    } else {
        apply(&mut tx, &order, next, by, &actor(caller), reason.trim()).await?;
        tx.commit().await?;
        service.hub.changed(id);
    }
    read::full(service, id).await
}

pub(super) async fn update(
    service: &Orders,
    request: UpdateOrderStatusRequest,
    caller: &Principal,
) -> ServiceResult<UpdateOrderStatusResponse> {
    let mut v = Violations::new();
    let id = v.uuid(&request.order_id, "order_id");
    let next = OrderStatus::try_from(request.status)
        .ok()
        .and_then(convert::status_rule);
    v.check(
        matches!(
            next,
            Some(Status::Preparing | Status::Ready | Status::Delivered | Status::Cancelled)
        ),
        "status",
        "PREPARING, READY, DELIVERED or CANCELLED (payment states come from payments)",
    );
    check_reason(&mut v, &request.reason);
    v.finish()?;
    let next = next.ok_or_else(|| ServiceError::invalid("status", "required"))?;
    Ok(UpdateOrderStatusResponse {
        order: Some(move_order(service, id, next, Mover::Staff, caller, &request.reason).await?),
    })
}

pub(super) async fn cancel(
    service: &Orders,
    request: CancelOrderRequest,
    caller: &Principal,
) -> ServiceResult<CancelOrderResponse> {
    let mut v = Violations::new();
    let id = v.uuid(&request.order_id, "order_id");
    check_reason(&mut v, &request.reason);
    v.finish()?;
    let by = if is_staff(caller) {
        Mover::Staff
    } else {
        Mover::Customer
    };
    let reason = if request.reason.trim().is_empty() {
        "cancelled"
    } else {
        &request.reason
    };
    Ok(CancelOrderResponse {
        order: Some(move_order(service, id, Status::Cancelled, by, caller, reason).await?),
    })
}
