//! Placing an order and asking payments for it.
//!
//! The order (lines, total, first history entry) commits on its own first;
//! then [`crate::checkout`] asks payments with a deadline. If payments cannot
//! be reached the order stays RECEIVED — complete, nothing half-written — and
//! `RequestPayment` (or a retry with the same request_id) asks again.

use std::collections::HashMap;

use super::{actor, convert, ensure_visible, read};
use crate::domain::Status;
use crate::domain::cart::{
    self, LineInput, MAX_ORDER_NOTES, MAX_TOTAL_CENTAVOS, MenuProduct, Refused,
};
use crate::store::{
    menu,
    orders::{self, NewOrder, OrderRow},
};
use crate::{Orders, checkout};
use malha_api::malha::orders::v1::*;
use malha_kit::auth::Principal;
use malha_kit::idempotency::{Claim, Key, Owner};
use malha_kit::validate::Violations;
use malha_kit::{ServiceError, ServiceResult};

pub(super) async fn create(
    service: &Orders,
    request: CreateOrderRequest,
    caller: &Principal,
) -> ServiceResult<CreateOrderResponse> {
    let mut v = Violations::new();
    let inputs: Vec<LineInput<'_>> = request
        .items
        .iter()
        .map(|item| LineInput {
            product_id: &item.product_id,
            quantity: item.quantity,
            notes: &item.notes,
        })
        .collect();
    // Only product, quantity and notes are read: prices come from the menu.
    let lines = cart::check_lines(&mut v, &inputs);
    v.check(
        request.notes.chars().count() <= MAX_ORDER_NOTES,
        "notes",
        "at most 500 characters",
    );
    let key = Key::new(
        &Owner::principal(caller),
        "CreateOrder",
        v.request_id(&request.request_id),
        &request,
    );
    v.finish()?;

    let ids: Vec<uuid::Uuid> = lines.iter().map(|l| l.product_id).collect();
    let menu: HashMap<_, _> = menu::products_by_ids(&service.pool, &ids)
        .await?
        .into_iter()
        .map(|p| {
            (
                p.id,
                MenuProduct {
                    name: p.name,
                    price_centavos: p.price_centavos,
                    available: p.available,
                },
            )
        })
        .collect();
    let priced = cart::price(&lines, &menu).map_err(|refused| match refused {
        Refused::Unavailable(items) => ServiceError::precondition(
            "PRODUCTS_UNAVAILABLE",
            format!("not available: {}", items.join("; ")),
        ),
        Refused::TooLarge(_) => ServiceError::invalid(
            "items",
            format!("the order total exceeds {MAX_TOTAL_CENTAVOS} centavos"),
        ),
    })?;

    let mut tx = service.pool.begin().await?;
    // The stored response names the order; a retry answers like a first call
    // would now: the order as it is, with its (idempotent) payment.
    if let Claim::Replay(placed) = key.claim::<Order>(&mut tx).await? {
        tx.rollback().await?;
        let id = uuid::Uuid::parse_str(&placed.id).map_err(anyhow::Error::from)?;
        let order = orders::get(&service.pool, id, false).await?;
        return respond(service, order, caller).await;
    }
    let new = NewOrder {
        customer_id: &caller.subject,
        status: Status::Received.as_str(),
        notes: request.notes.trim(),
        total_centavos: priced.total_centavos,
        session_id: Some(caller.session_id.as_str()).filter(|s| !s.is_empty()),
    };
    let order = orders::insert(&mut tx, &new).await?;
    orders::insert_items(&mut tx, order.id, &priced.lines).await?;
    orders::record_transition(
        &mut tx,
        order.id,
        None,
        Status::Received.as_str(),
        &actor(caller),
        "order placed",
    )
    .await?;
    key.record(&mut tx, &convert::order(order.clone(), &[], &[])?)
        .await?;
    tx.commit().await?;
    service.hub.changed(order.id);
    tracing::info!(order = %order.id, number = order.number, total = order.total_centavos, lines = priced.lines.len(), "order placed");
    respond(service, order, caller).await
}

/// The order with its payment instructions, asking payments for them when
/// the order still needs a payment; a payments outage leaves `payment` unset.
async fn respond(
    service: &Orders,
    order: OrderRow,
    caller: &Principal,
) -> ServiceResult<CreateOrderResponse> {
    let payment = checkout::pay_if_needed(service, &order, &actor(caller)).await?;
    Ok(CreateOrderResponse {
        order: Some(read::full(service, order.id).await?),
        payment,
    })
}

pub(super) async fn request_payment(
    service: &Orders,
    request: RequestPaymentRequest,
    caller: &Principal,
) -> ServiceResult<RequestPaymentResponse> {
    let mut v = Violations::new();
    let id = v.uuid(&request.order_id, "order_id");
    v.finish()?;
    let order = orders::get(&service.pool, id, false).await?;
    ensure_visible(caller, &order)?;
    let payment = checkout::pay(service, &order, &actor(caller)).await?;
    Ok(RequestPaymentResponse {
        order: Some(read::full(service, id).await?),
        payment: Some(payment),
    })
}
