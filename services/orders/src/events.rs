//! What orders consumes: `payments.payment.*`. An approval moves the order to
//! PAID, a rejection back to RECEIVED (another payment may be requested), an
//! expiry to CANCELLED — each exactly once (the kit's inbox), and only when
//! the event is about the order's current payment and, for approvals, for
//! the order's exact total.

use futures::future::BoxFuture;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{Mover, Status};
use crate::store::orders;
use crate::transition::{apply, status_of};
use malha_api::malha::payments::v1::{PaymentApproved, PaymentExpired, PaymentRejected};
use malha_kit::events::{ConsumerSpec, Envelope, Handler, open};
use malha_kit::{ServiceError, ServiceResult};
use prost::Name;

/// The durable consumer of payment outcomes (one consumer, so the events of
/// one payment apply in the order they were published).
pub const PAYMENT_OUTCOMES: ConsumerSpec = ConsumerSpec {
    name: "orders-payment-outcomes",
    source: "payments",
    subject: "payments.payment.>",
    max_deliver: 8,
};

/// The actor recorded for moves made by payment events.
const ACTOR: &str = "service:payments";

/// Applies payment outcomes to orders.
pub struct ApplyPaymentOutcome;

impl Handler for ApplyPaymentOutcome {
    fn handle<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        envelope: &'a Envelope,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            if envelope.r#type == PaymentApproved::full_name() {
                mark_paid_once(tx, &open(envelope)?).await
            } else if envelope.r#type == PaymentRejected::full_name() {
                let event: PaymentRejected = open(envelope)?;
                let reason = format!("payment rejected: {}", event.reason);
                release(
                    tx,
                    &event.order_id,
                    &event.payment_id,
                    Status::Received,
                    &reason,
                )
                .await
            } else if envelope.r#type == PaymentExpired::full_name() {
                let event: PaymentExpired = open(envelope)?;
                release(
                    tx,
                    &event.order_id,
                    &event.payment_id,
                    Status::Cancelled,
                    "payment expired",
                )
                .await
            } else {
                tracing::debug!(r#type = %envelope.r#type, "ignoring an event orders does not use");
                Ok(())
            }
        })
    }
}

/// The order, locked; `None` when it does not exist (database errors retry).
async fn find_locked(tx: &mut PgConnection, id: Uuid) -> ServiceResult<Option<orders::OrderRow>> {
    match orders::get(&mut *tx, id, true).await {
        Ok(order) => Ok(Some(order)),
        Err(ServiceError::NotFound { .. }) => Ok(None),
        Err(error) => Err(error),
    }
}

fn ids(order_id: &str, payment_id: &str) -> Option<(Uuid, Uuid)> {
    Some((
        Uuid::parse_str(order_id).ok()?,
        Uuid::parse_str(payment_id).ok()?,
    ))
}

/// The effect of one `PaymentApproved`.
pub async fn mark_paid_once(tx: &mut PgConnection, event: &PaymentApproved) -> ServiceResult<()> {
    let Some((order_id, payment_id)) = ids(&event.order_id, &event.payment_id) else {
        tracing::warn!(order = %event.order_id, "approval with malformed ids ignored");
        return Ok(());
    };
    let Some(mut order) = find_locked(tx, order_id).await? else {
        tracing::warn!(order = %order_id, "approval for an unknown order ignored");
        return Ok(());
    };
    if order
        .payment_id
        .is_some_and(|current| current != payment_id)
    {
        tracing::warn!(order = %order_id, payment = %payment_id, "approval of a payment the order no longer waits for");
        return Ok(());
    }
    if event.amount_centavos != order.total_centavos {
        tracing::error!(order = %order_id, paid = event.amount_centavos, total = order.total_centavos, "approved amount differs from the order total; not marking paid");
        return Ok(());
    }
    let reason = format!("payment {payment_id} approved ({})", event.provider);
    match status_of(&order)? {
        Status::Received => {
            // The approval overtook the recording of the payment: record both steps.
            orders::set_payment(tx, order_id, payment_id).await?;
            order = apply(
                tx,
                &order,
                Status::AwaitingPayment,
                Mover::System,
                ACTOR,
                "payment created",
            )
            .await?;
            apply(tx, &order, Status::Paid, Mover::System, ACTOR, &reason).await?;
        }
        Status::AwaitingPayment => {
            apply(tx, &order, Status::Paid, Mover::System, ACTOR, &reason).await?;
        }
        Status::Cancelled => {
            tracing::error!(order = %order_id, payment = %payment_id, "a cancelled order was paid: refund it");
        }
        _ => {}
    }
    Ok(())
}

/// Moves an order waiting for `payment_id` to `next` (RECEIVED after a
/// rejection, CANCELLED after an expiry).
async fn release(
    tx: &mut PgConnection,
    order_id: &str,
    payment_id: &str,
    next: Status,
    reason: &str,
) -> ServiceResult<()> {
    let Some((order_id, payment_id)) = ids(order_id, payment_id) else {
        return Ok(());
    };
    let Some(order) = find_locked(tx, order_id).await? else {
        return Ok(());
    };
    if order.payment_id == Some(payment_id) && status_of(&order)? == Status::AwaitingPayment {
        apply(tx, &order, next, Mover::System, ACTOR, reason).await?;
    }
    Ok(())
}
