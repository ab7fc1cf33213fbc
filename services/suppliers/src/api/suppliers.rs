//! Create, read, list and update suppliers.

use super::{convert, page, parse};
use crate::Suppliers;
use crate::store::{self, suppliers::Filter};
use malha_api::malha::suppliers::v1::*;
use malha_kit::idempotency::{Key, Owner};
use malha_kit::validate::Violations;
use malha_kit::{ServiceError, ServiceResult};

pub(super) async fn create(
    suppliers: &Suppliers,
    owner: &Owner,
    request: CreateSupplierRequest,
) -> ServiceResult<CreateSupplierResponse> {
    let mut v = Violations::new();
    let new = parse::new_supplier(&mut v, request.supplier.as_ref());
    let key = Key::new(
        owner,
        "CreateSupplier",
        v.request_id(&request.request_id),
        &request,
    );
    v.finish()?;
    let new = new.ok_or_else(|| ServiceError::invalid("supplier", "required"))?;
    key.once(&suppliers.pool, async |tx| {
        let id = store::suppliers::insert(tx, &new).await?;
        Ok(CreateSupplierResponse {
            supplier: Some(convert::supplier(store::suppliers::get(tx, id).await?)),
        })
    })
    .await
}

pub(super) async fn get(
    suppliers: &Suppliers,
    request: GetSupplierRequest,
) -> ServiceResult<GetSupplierResponse> {
    let mut v = Violations::new();
    let id = v.uuid(&request.supplier_id, "supplier_id");
    v.finish()?;
    let row = store::suppliers::get(&suppliers.pool, id).await?;
    Ok(GetSupplierResponse {
        supplier: Some(convert::supplier(row)),
    })
}

pub(super) async fn list(
    suppliers: &Suppliers,
    request: ListSuppliersRequest,
) -> ServiceResult<ListSuppliersResponse> {
    let mut v = Violations::new();
    let page = page(&mut v, request.page_size, &request.page_token);
    let cnpj = if request.cnpj.is_empty() {
        None
    } else {
        parse::cnpj(&mut v, &request.cnpj, "cnpj")
    };
    v.finish()?;
    let filter = Filter {
        active: request.active,
        cnpj: cnpj.as_ref().map(|c| c.as_str()),
    };
    let rows = store::suppliers::list(&suppliers.pool, &page, &filter).await?;
    let (rows, next_page_token) = page.finish(rows, |r| r.id.to_string());
    Ok(ListSuppliersResponse {
        suppliers: rows.into_iter().map(convert::supplier).collect(),
        next_page_token,
    })
}

pub(super) async fn update(
    suppliers: &Suppliers,
    request: UpdateSupplierRequest,
) -> ServiceResult<UpdateSupplierResponse> {
    let mut v = Violations::new();
    let supplier = request.supplier.unwrap_or_else(|| {
        v.add("supplier", "required");
        Supplier::default()
    });
    let id = v.uuid(&supplier.id, "supplier.id");
    let mask = parse::UPDATABLE.resolve(&mut v, request.update_mask.as_ref(), &supplier);
    let patch = parse::patch(&mut v, &supplier, &mask);
    v.finish()?;

    let mut tx = suppliers.pool.begin().await?;
    store::suppliers::update(&mut tx, id, &patch).await?;
    let row = store::suppliers::get(&mut *tx, id).await?;
    tx.commit().await?;
    Ok(UpdateSupplierResponse {
        supplier: Some(convert::supplier(row)),
    })
}
