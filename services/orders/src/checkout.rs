//! Paying for an order: asking payments for the order's payment and
//! recording that the order awaits it, the one orchestration CreateOrder and
//! RequestPayment share. The order commits before payments is called, so a
//! payments outage leaves a complete RECEIVED order that a later call pays;
//! payments is idempotent per order, so asking twice never makes two.

use malha_api::malha::orders::v1::PaymentInstructions;
use malha_kit::{ServiceError, ServiceResult};

use crate::Orders;
use crate::domain::{Mover, Status};
use crate::store::orders::{self, OrderRow};
use crate::transition::{apply, status_of};

/// The order's payment instructions, asked from payments; the order moves
/// to AWAITING_PAYMENT unless it already left RECEIVED meanwhile.
/// FAILED_PRECONDITION when the order needs no payment.
pub async fn pay(
    service: &Orders,
    order: &OrderRow,
    actor: &str,
) -> ServiceResult<PaymentInstructions> {
    status_of(order)?.check_payable()?;
    let instructions = service.payments.create(order).await?;
    let payment_id = uuid::Uuid::parse_str(&instructions.payment_id).map_err(|_| {
        ServiceError::Unavailable("payments returned a malformed payment id".into())
    })?;
    let mut tx = service.pool.begin().await?;
    let current = orders::get(&mut *tx, order.id, true).await?;
    if status_of(&current)?.records_new_payment() {
        orders::set_payment(&mut tx, order.id, payment_id).await?;
        let reason = format!("payment {payment_id} created");
        apply(
            &mut tx,
            &current,
            Status::AwaitingPayment,
            Mover::System,
            actor,
            &reason,
        )
        .await?;
        tx.commit().await?;
        service.hub.changed(order.id);
    } else {
        tx.rollback().await?;
    }
    Ok(instructions)
}

/// The payment instructions of a just placed (or retried) order when it
/// still needs a payment; `None` when it does not, or when payments cannot
/// be reached (the order stays RECEIVED, complete, for a later RequestPayment).
pub async fn pay_if_needed(
    service: &Orders,
    order: &OrderRow,
    actor: &str,
) -> ServiceResult<Option<PaymentInstructions>> {
    if !status_of(order)?.needs_payment() {
        return Ok(None);
    }
    Ok(match pay(service, order, actor).await {
        Ok(payment) => Some(payment),
        Err(error) => {
            tracing::warn!(order = %order.id, %error, "payment not created; the order stays RECEIVED");
            None
        }
    })
}
