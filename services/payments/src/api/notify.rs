//! The provider webhook. Order of checks: the signature (no database work
//! for forgeries), a replay (same x-request-id), the payment it names, what
//! the provider says now; then, in one transaction, the notification is
//! recorded, logged, and the payment settled.

use chrono::Utc;

use crate::Payments;
use crate::domain::Status;
use crate::domain::ledger::Kind;
use crate::provider::{Notification, Outcome};
use crate::settle::{Change, settle};
use crate::store::ledger::{self, Append};
use crate::store::{notifications, payments};
use malha_api::malha::payments::v1::*;
use malha_kit::stored::StoredName;
use malha_kit::{ServiceError, ServiceResult};

pub(super) async fn handle(
    service: &Payments,
    request: HandleNotificationRequest,
    signature: String,
    request_id: String,
) -> ServiceResult<HandleNotificationResponse> {
    let provider = &service.settings.provider;
    let body = request.notification.unwrap_or_default();
    let data_id = match request.data.map(|d| d.id) {
        Some(id) if !id.is_empty() => id,
        _ => body.data.map(|d| d.id).unwrap_or_default(),
    };
    let notification = Notification {
        data_id,
        action: body.action,
        request_id,
        signature,
    };
    if let Err(refusal) = provider.verify(&notification, Utc::now()) {
        tracing::warn!(provider = provider.name(), data_id = %notification.data_id, %refusal, "notification refused");
        return Err(ServiceError::Unauthenticated(format!(
            "notification refused: {refusal}"
        )));
    }
    let Some(payment) =
        payments::by_provider_id(&service.pool, provider.name(), &notification.data_id, false)
            .await?
    else {
        tracing::warn!(provider = provider.name(), data_id = %notification.data_id, "notification for an unknown payment");
        return Err(ServiceError::NotFound {
            resource: "payment",
        });
    };
    if notifications::seen(&service.pool, &notification.request_id).await? {
        return duplicate(&payment);
    }
    let outcome = provider.outcome(&notification).await?;

    let mut tx = ledger::Tx::begin(&service.pool).await?;
    if !notifications::record(&mut tx, provider.name(), &notification).await? {
        tx.rollback().await?;
        return duplicate(&payment);
    }
    let payment = payments::get(&mut *tx, payment.id, true).await?;
    let actor = format!("provider:{}", provider.name());
    let detail = format!(
        "{} (x-request-id {}): {outcome:?}",
        notification.action, notification.request_id
    );
    tx.log(&Append {
        payment_id: payment.id,
        kind: Kind::Notified,
        amount_centavos: payment.amount_centavos,
        actor: &actor,
        detail: &detail,
    });
    let pending = Status::from_stored(&payment.status)? == Status::Pending;
    let (payment, applied) = match outcome {
        Outcome::Approved if pending => (
            settle(&mut tx, &payment, Change::Approve, &actor, &detail).await?,
            true,
        ),
        Outcome::Rejected(reason) if pending => (
            settle(&mut tx, &payment, Change::Reject(reason), &actor, &detail).await?,
            true,
        ),
        Outcome::Approved if payment.status != Status::Approved.as_str() => {
            // Money arrived for a payment no longer payable: staff must refund it.
            tracing::error!(payment = %payment.id, status = %payment.status, "payment approved by the provider after it was closed");
            (payment, false)
        }
        _ => (payment, false),
    };
    tx.commit().await?;
    Ok(HandleNotificationResponse {
        outcome: if applied {
            NotificationOutcome::Applied
        } else {
            NotificationOutcome::Recorded
        } as i32,
        payment_id: payment.id.to_string(),
        status: super::convert::status(&payment.status)? as i32,
    })
}

fn duplicate(payment: &payments::PaymentRow) -> ServiceResult<HandleNotificationResponse> {
    Ok(HandleNotificationResponse {
        outcome: NotificationOutcome::Duplicate as i32,
        payment_id: payment.id.to_string(),
        status: super::convert::status(&payment.status)? as i32,
    })
}
