//! Activate, deactivate and delete: the supplier's row is locked while the
//! rule decides, so a concurrent AddSuppliedProduct cannot slip between the
//! "is it referenced?" check and the delete.

use uuid::Uuid;

use super::convert;
use crate::Suppliers;
use crate::domain::lifecycle::{self, Transition};
use crate::store::{self, suppliers::SupplierRow};
use malha_api::malha::suppliers::v1::*;
use malha_kit::ServiceResult;
use malha_kit::validate::Violations;

fn supplier_id(raw: &str) -> ServiceResult<Uuid> {
    let mut v = Violations::new();
    let id = v.uuid(raw, "supplier_id");
    v.finish()?;
    Ok(id)
}

async fn transition(
    suppliers: &Suppliers,
    raw_id: &str,
    transition: Transition,
) -> ServiceResult<SupplierRow> {
    let id = supplier_id(raw_id)?;
    let mut tx = suppliers.pool.begin().await?;
    let active = store::suppliers::lock(&mut tx, id).await?;
    let active = lifecycle::apply(active, transition)?;
    store::suppliers::set_active(&mut *tx, id, active).await?;
    let row = store::suppliers::get(&mut *tx, id).await?;
    tx.commit().await?;
    tracing::info!(supplier = %id, active, "supplier activity changed");
    Ok(row)
}

pub(super) async fn deactivate(
    suppliers: &Suppliers,
    request: DeactivateSupplierRequest,
) -> ServiceResult<DeactivateSupplierResponse> {
    let row = transition(suppliers, &request.supplier_id, Transition::Deactivate).await?;
    Ok(DeactivateSupplierResponse {
        supplier: Some(convert::supplier(row)),
    })
}

pub(super) async fn activate(
    suppliers: &Suppliers,
    request: ActivateSupplierRequest,
) -> ServiceResult<ActivateSupplierResponse> {
    let row = transition(suppliers, &request.supplier_id, Transition::Activate).await?;
    Ok(ActivateSupplierResponse {
        supplier: Some(convert::supplier(row)),
    })
}

pub(super) async fn delete(
    suppliers: &Suppliers,
    request: DeleteSupplierRequest,
) -> ServiceResult<DeleteSupplierResponse> {
    let id = supplier_id(&request.supplier_id)?;
    let mut tx = suppliers.pool.begin().await?;
    let active = store::suppliers::lock(&mut tx, id).await?;
    let supplied = store::supplied::count(&mut *tx, id).await?;
    let outcome = lifecycle::on_delete(supplied);
    let row = match outcome {
        lifecycle::DeleteOutcome::Deleted => {
            let row = store::suppliers::get(&mut *tx, id).await?;
            store::suppliers::delete(&mut *tx, id).await?;
            row
        }
        lifecycle::DeleteOutcome::Deactivated => {
            if active {
                store::suppliers::set_active(&mut *tx, id, false).await?;
            }
            store::suppliers::get(&mut *tx, id).await?
        }
    };
    tx.commit().await?;
    tracing::info!(supplier = %id, ?outcome, supplied, "supplier delete requested");
    Ok(DeleteSupplierResponse {
        outcome: match outcome {
            lifecycle::DeleteOutcome::Deleted => DeleteOutcome::Deleted,
            lifecycle::DeleteOutcome::Deactivated => DeleteOutcome::Deactivated,
        } as i32,
        supplier: Some(convert::supplier(row)),
    })
}
