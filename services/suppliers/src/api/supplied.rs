//! The products a supplier supplies, and on which terms.

use super::{convert, page, parse};
use crate::Suppliers;
use crate::domain::{lifecycle, terms};
use crate::store::{self, supplied::NewSupplied};
use malha_api::malha::suppliers::v1::*;
use malha_kit::ServiceResult;
use malha_kit::validate::Violations;

pub(super) async fn add(
    suppliers: &Suppliers,
    request: AddSuppliedProductRequest,
) -> ServiceResult<AddSuppliedProductResponse> {
    let mut v = Violations::new();
    let supplier_id = v.uuid(&request.supplier_id, "supplier_id");
    let product_id = v.uuid(&request.product_id, "product_id");
    let product_name = parse::required_text(
        &mut v,
        &request.product_name,
        "product_name",
        parse::NAME_MAX,
    );
    let supplier_sku = parse::optional_text(&mut v, &request.supplier_sku, "supplier_sku", 64);
    if let Some(problem) = request.price_centavos.and_then(terms::price_problem) {
        v.add("price_centavos", problem);
    }
    if let Some(problem) = terms::lead_time_problem(request.lead_time_days) {
        v.add("lead_time_days", problem);
    }
    v.finish()?;

    let mut tx = suppliers.pool.begin().await?;
    // Locked so a concurrent delete or deactivation waits for this to commit.
    let active = store::suppliers::lock(&mut tx, supplier_id).await?;
    lifecycle::may_supply(active)?;
    let row = store::supplied::upsert(
        &mut tx,
        &NewSupplied {
            supplier_id,
            product_id,
            product_name: &product_name,
            supplier_sku: &supplier_sku,
            price_centavos: request.price_centavos,
            lead_time_days: request.lead_time_days,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(AddSuppliedProductResponse {
        supplied_product: Some(convert::supplied(row)),
    })
}

pub(super) async fn remove(
    suppliers: &Suppliers,
    request: RemoveSuppliedProductRequest,
) -> ServiceResult<RemoveSuppliedProductResponse> {
    let mut v = Violations::new();
    let supplier_id = v.uuid(&request.supplier_id, "supplier_id");
    let product_id = v.uuid(&request.product_id, "product_id");
    v.finish()?;
    let mut tx = suppliers.pool.begin().await?;
    // An unknown supplier is NOT_FOUND as a supplier, not as a product.
    store::suppliers::lock(&mut tx, supplier_id).await?;
    store::supplied::remove(&mut *tx, supplier_id, product_id).await?;
    tx.commit().await?;
    Ok(RemoveSuppliedProductResponse {})
}

pub(super) async fn list(
    suppliers: &Suppliers,
    request: ListSuppliedProductsRequest,
) -> ServiceResult<ListSuppliedProductsResponse> {
    let mut v = Violations::new();
    let supplier_id = v.uuid(&request.supplier_id, "supplier_id");
    let page = page(&mut v, request.page_size, &request.page_token);
    v.finish()?;
    store::suppliers::exists(&suppliers.pool, supplier_id).await?;
    let rows = store::supplied::list(&suppliers.pool, supplier_id, &page).await?;
    let (rows, next_page_token) = page.finish(rows, |r| r.product_id.to_string());
    Ok(ListSuppliedProductsResponse {
        supplied_products: rows.into_iter().map(convert::supplied).collect(),
        next_page_token,
    })
}
