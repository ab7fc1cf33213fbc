//! Creating the payment of an order: at most one live payment per order
//! (creation is serialized per order; a retry, or a second request for the
//! same order and amount, returns the live one).

use uuid::Uuid;

use super::{actor, convert};
use crate::Payments;
use crate::brcode::format_amount;
use crate::domain::ledger::{Kind, now};
use crate::domain::{self, MAX_AMOUNT_CENTAVOS, MAX_DESCRIPTION, Status};
use crate::provider::Charge;
use crate::store::ledger::{self, Append};
use crate::store::payments::{self, PaymentRow};
use malha_api::malha::payments::v1::*;
use malha_kit::auth::{Principal, SubjectKind};
use malha_kit::idempotency::{Claim, Key, Owner};
use malha_kit::validate::Violations;
use malha_kit::{ServiceError, ServiceResult};

pub(super) async fn create(
    service: &Payments,
    request: CreatePaymentRequest,
    caller: &Principal,
) -> ServiceResult<CreatePaymentResponse> {
    let mut v = Violations::new();
    let order_id = v.uuid(&request.order_id, "order_id");
    v.check(
        (1..=MAX_AMOUNT_CENTAVOS).contains(&request.amount_centavos),
        "amount_centavos",
        "between 1 and 100000000 centavos",
    );
    v.check(
        request.description.chars().count() <= MAX_DESCRIPTION,
        "description",
        "at most 140 characters",
    );
    v.check(
        request.payer_id.chars().count() <= 100,
        "payer_id",
        "at most 100 characters",
    );
    let key = Key::new(
        &Owner::principal(caller),
        "CreatePayment",
        v.request_id(&request.request_id),
        &request,
    );
    v.finish()?;
    let payer = payer(caller, &request.payer_id);

    let mut tx = ledger::Tx::begin(&service.pool).await?;
    // The stored response names the payment; a retry answers with it as it
    // is now, as the live-payment path below does.
    if let Claim::Replay(done) = key.claim::<Payment>(&mut tx).await? {
        tx.rollback().await?;
        let id = Uuid::parse_str(&done.id).map_err(anyhow::Error::from)?;
        return respond(payments::get(&service.pool, id, false).await?).await;
    }
    payments::lock_order(&mut tx, order_id).await?;
    if let Some(live) = payments::live_for_order(&mut *tx, order_id).await? {
        tx.rollback().await?;
        if live.amount_centavos != request.amount_centavos {
            return Err(ServiceError::precondition(
                "PAYMENT_AMOUNT_MISMATCH",
                format!(
                    "the order already has a live payment of {} centavos",
                    live.amount_centavos
                ),
            ));
        }
        return respond(live).await;
    }

    let provider = &service.settings.provider;
    let created_at = now();
    let charge = Charge {
        payment_id: Uuid::now_v7(),
        txid: domain::new_txid(),
        amount_centavos: request.amount_centavos,
        description: request.description.trim().to_owned(),
        expires_at: created_at + service.settings.expiry,
    };
    // The provider is called while this order's lock is held, so two racing
    // requests cannot create two charges for one order.
    let made = provider.create(&charge).await?;
    let row = PaymentRow {
        id: charge.payment_id,
        order_id,
        amount_centavos: charge.amount_centavos,
        description: charge.description.clone(),
        status: Status::Pending.as_str().to_owned(),
        provider: provider.name().to_owned(),
        provider_payment_id: made.provider_payment_id,
        txid: charge.txid.clone(),
        pix_code: made.pix_code,
        payer_id: payer.to_owned(),
        expires_at: charge.expires_at,
        created_at,
        updated_at: created_at,
    };
    payments::insert(&mut tx, &row).await?;
    let detail = format!(
        "R$ {} via {}, txid {}, expires {}",
        format_amount(row.amount_centavos),
        row.provider,
        row.txid,
        row.expires_at.to_rfc3339()
    );
    tx.log(&Append {
        payment_id: row.id,
        kind: Kind::Created,
        amount_centavos: row.amount_centavos,
        actor: &actor(caller),
        detail: &detail,
    });
    key.record(&mut tx, &convert::payment(row.clone())?).await?;
    tx.commit().await?;
    tracing::info!(payment = %row.id, order = %order_id, amount = row.amount_centavos, provider = %row.provider, "payment created");
    // Read back: the database's own timestamps.
    respond(payments::get(&service.pool, row.id, false).await?).await
}

async fn respond(row: PaymentRow) -> ServiceResult<CreatePaymentResponse> {
    Ok(CreatePaymentResponse {
        payment: Some(convert::payment_with_qr(row).await?),
    })
}

/// The payer: the customer a service names (orders pays on a customer's
/// behalf), otherwise the caller — nobody else can name another payer.
fn payer<'a>(caller: &'a Principal, named: &'a str) -> &'a str {
    if caller.kind == SubjectKind::Service && !named.trim().is_empty() {
        named.trim()
    } else {
        &caller.subject
    }
}

#[cfg(test)]
mod payer_tests {
    use super::*;

    fn principal(kind: SubjectKind) -> Principal {
        Principal {
            subject: "caller".into(),
            kind,
            username: String::new(),
            email: String::new(),
            roles: Vec::new(),
            token_id: String::new(),
            expires_at: 0,
            session_id: String::new(),
        }
    }

    #[test]
    fn only_a_service_names_another_payer() {
        let service = principal(SubjectKind::Service);
        assert_eq!(payer(&service, "customer-1"), "customer-1");
        assert_eq!(payer(&service, " "), "caller");
        for kind in [SubjectKind::Customer, SubjectKind::User] {
            assert_eq!(payer(&principal(kind), "customer-1"), "caller");
        }
    }
}
