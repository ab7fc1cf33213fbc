//! Stock movements and shortages.

use super::convert;
use crate::Inventory;
use crate::stock::{self, Change};
use crate::store;
use malha_api::malha::inventory::v1::*;
use malha_kit::idempotency::{Key, Owner};
use malha_kit::page::PageRequest;
use malha_kit::validate::Violations;
use malha_kit::{ServiceError, ServiceResult};

pub(super) async fn record(
    inventory: &Inventory,
    owner: &Owner,
    request: RecordMovementRequest,
    actor: &str,
) -> ServiceResult<RecordMovementResponse> {
    let mut v = Violations::new();
    let id = v.uuid(&request.product_id, "product_id");
    let kind = MovementKind::try_from(request.kind)
        .ok()
        .and_then(convert::kind);
    v.check(kind.is_some(), "kind", "RECEIPT, CONSUMPTION or ADJUSTMENT");
    let delta = kind.map(|k| k.delta(request.quantity));
    if let Some(Err(problem)) = delta {
        v.add("quantity", problem);
    }
    v.check(
        request.reason.chars().count() <= 500,
        "reason",
        "at most 500 characters",
    );
    let key = Key::new(
        owner,
        "RecordMovement",
        v.request_id(&request.request_id),
        &request,
    );
    v.finish()?;
    let (Some(kind), Some(Ok(delta))) = (kind, delta) else {
        return Err(ServiceError::invalid("kind", "required"));
    };

    // A refused movement is an error, so its key is not kept: a retry after
    // a receipt tries again.
    key.once(&inventory.pool, async |tx| {
        let product = store::product(&mut *tx, id, true)
            .await?
            .ok_or(ServiceError::NotFound {
                resource: "product",
            })?;
        match stock::change(tx, product, kind, delta, request.reason.trim(), actor).await? {
            Change::Done(done) => {
                let (movement, product) = *done;
                Ok(RecordMovementResponse {
                    movement: Some(convert::movement(movement)?),
                    product: Some(convert::product(product)),
                })
            }
            Change::Insufficient { available } => Err(ServiceError::precondition(
                "INSUFFICIENT_STOCK",
                format!("only {available} on hand; stock never goes negative"),
            )),
        }
    })
    .await
}

pub(super) async fn list(
    inventory: &Inventory,
    request: ListMovementsRequest,
) -> ServiceResult<ListMovementsResponse> {
    let mut v = Violations::new();
    let id = v.uuid(&request.product_id, "product_id");
    v.finish()?;
    let page = PageRequest::parse(request.page_size, &request.page_token)?;
    let rows = store::movements(&inventory.pool, id, &page).await?;
    let (rows, next_page_token) = page.finish(rows, |r| r.id.to_string());
    Ok(ListMovementsResponse {
        movements: convert::movements(rows),
        next_page_token,
    })
}

pub(super) async fn shortages(
    inventory: &Inventory,
    request: ListShortagesRequest,
) -> ServiceResult<ListShortagesResponse> {
    let mut v = Violations::new();
    let project = v.optional_uuid(&request.project_id, "project_id");
    v.finish()?;
    let page = PageRequest::parse(request.page_size, &request.page_token)?;
    let rows = store::shortages(&inventory.pool, project, &page).await?;
    let (rows, next_page_token) = page.finish(rows, |r| r.id.to_string());
    Ok(ListShortagesResponse {
        shortages: rows.into_iter().map(convert::shortage).collect(),
        next_page_token,
    })
}
