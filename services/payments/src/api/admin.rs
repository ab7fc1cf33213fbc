//! Staff actions on a payment: confirming it by hand, refunding it. Both
//! are idempotent: repeating one that already happened changes nothing.

use super::{actor, convert};
use crate::Payments;
use crate::domain::Status;
use crate::settle::{Change, settle};
use crate::store::{ledger, payments};
use malha_api::malha::payments::v1::*;
use malha_kit::ServiceResult;
use malha_kit::auth::Principal;
use malha_kit::validate::Violations;

fn check(v: &mut Violations, id: &str, note: &str, field: &str) -> uuid::Uuid {
    v.check(note.chars().count() <= 500, field, "at most 500 characters");
    v.uuid(id, "payment_id")
}

pub(super) async fn confirm(
    service: &Payments,
    request: ConfirmPaymentRequest,
    caller: &Principal,
) -> ServiceResult<ConfirmPaymentResponse> {
    let mut v = Violations::new();
    let id = check(&mut v, &request.payment_id, &request.note, "note");
    v.finish()?;
    let mut tx = ledger::Tx::begin(&service.pool).await?;
    let payment = payments::get(&mut *tx, id, true).await?;
    let payment = if payment.status == Status::Approved.as_str() {
        payment
    } else {
        let note = request.note.trim();
        let detail = if note.is_empty() {
            "confirmed by hand"
        } else {
            note
        };
        settle(&mut tx, &payment, Change::Approve, &actor(caller), detail).await?
    };
    tx.commit().await?;
    Ok(ConfirmPaymentResponse {
        payment: Some(convert::payment(payment)?),
    })
}

pub(super) async fn refund(
    service: &Payments,
    request: RefundPaymentRequest,
    caller: &Principal,
) -> ServiceResult<RefundPaymentResponse> {
    let mut v = Violations::new();
    let id = check(&mut v, &request.payment_id, &request.reason, "reason");
    v.finish()?;
    let mut tx = ledger::Tx::begin(&service.pool).await?;
    let payment = payments::get(&mut *tx, id, true).await?;
    let payment = if payment.status == Status::Refunded.as_str() {
        payment
    } else {
        if payment.status == Status::Approved.as_str() {
            service
                .settings
                .provider
                .refund(&payment.provider_payment_id, payment.id)
                .await?;
        }
        let reason = request.reason.trim().to_owned();
        let detail = if reason.is_empty() {
            "refunded".to_owned()
        } else {
            reason.clone()
        };
        settle(
            &mut tx,
            &payment,
            Change::Refund(reason),
            &actor(caller),
            &detail,
        )
        .await?
    };
    tx.commit().await?;
    Ok(RefundPaymentResponse {
        payment: Some(convert::payment(payment)?),
    })
}
