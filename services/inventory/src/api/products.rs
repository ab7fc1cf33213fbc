//! Product CRUD.

use super::convert;
use crate::Inventory;
use crate::domain::MAX_QUANTITY;
use crate::store::{self, ProductFields};
use malha_api::malha::inventory::v1::*;
use malha_kit::idempotency::{Key, Owner};
use malha_kit::mask::{Mask, Updatable};
use malha_kit::page::PageRequest;
use malha_kit::validate::Violations;
use malha_kit::{ServiceError, ServiceResult};

fn check_sku(v: &mut Violations, sku: &str) {
    let ok = (1..=64).contains(&sku.len())
        && sku
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    v.check(ok, "product.sku", "1 to 64 of A-Z a-z 0-9 - _ .");
}

/// The fields UpdateProduct writes: the SKU names the product, the quantity
/// on hand moves only through the ledger.
const UPDATABLE: Updatable = Updatable::new(&["name", "unit", "minimum_level", "supplier_id"])
    .with_hints(&[
        ("sku", "the SKU names the product; create another"),
        ("quantity_on_hand", "record a movement in the stock ledger"),
    ]);

fn check_fields(v: &mut Violations, p: &Product, mask: Option<&Mask>) -> Option<uuid::Uuid> {
    let has = |f: &str| mask.is_none_or(|mask| mask.has(f));
    if has("name") {
        v.text(&p.name, "product.name", 200);
    }
    if has("unit") {
        v.text(&p.unit, "product.unit", 32);
    }
    if has("minimum_level") {
        v.check(
            (0..=MAX_QUANTITY).contains(&p.minimum_level),
            "product.minimum_level",
            "must be between 0 and 1000000000",
        );
    }
    if has("supplier_id") {
        v.optional_uuid(&p.supplier_id, "product.supplier_id")
    } else {
        None
    }
}

pub(super) async fn create(
    inventory: &Inventory,
    owner: &Owner,
    request: CreateProductRequest,
) -> ServiceResult<CreateProductResponse> {
    let Some(p) = request.product.as_ref() else {
        return Err(ServiceError::invalid("product", "required"));
    };
    let mut v = Violations::new();
    check_sku(&mut v, &p.sku);
    let supplier_id = check_fields(&mut v, p, None);
    v.check(
        p.quantity_on_hand == 0,
        "product.quantity_on_hand",
        "starts at 0; record a receipt",
    );
    let key = Key::new(
        owner,
        "CreateProduct",
        v.request_id(&request.request_id),
        &request,
    );
    v.finish()?;
    let fields = ProductFields {
        sku: p.sku.trim(),
        name: p.name.trim(),
        unit: p.unit.trim(),
        minimum_level: p.minimum_level,
        supplier_id,
    };
    key.once(&inventory.pool, async |tx| {
        Ok(CreateProductResponse {
            product: Some(convert::product(store::insert_product(tx, &fields).await?)),
        })
    })
    .await
}

pub(super) async fn get(
    inventory: &Inventory,
    request: GetProductRequest,
) -> ServiceResult<GetProductResponse> {
    let mut v = Violations::new();
    let id = v.uuid(&request.product_id, "product_id");
    v.finish()?;
    let row = store::product(&inventory.pool, id, false)
        .await?
        .ok_or(ServiceError::NotFound {
            resource: "product",
        })?;
    Ok(GetProductResponse {
        product: Some(convert::product(row)),
    })
}

pub(super) async fn list(
    inventory: &Inventory,
    request: ListProductsRequest,
) -> ServiceResult<ListProductsResponse> {
    let page = PageRequest::parse(request.page_size, &request.page_token)?;
    let rows = store::products(&inventory.pool, &page).await?;
    let (rows, next_page_token) = page.finish(rows, |r| r.sku.clone());
    Ok(ListProductsResponse {
        products: rows.into_iter().map(convert::product).collect(),
        next_page_token,
    })
}

pub(super) async fn update(
    inventory: &Inventory,
    request: UpdateProductRequest,
) -> ServiceResult<UpdateProductResponse> {
    let Some(p) = request.product.as_ref() else {
        return Err(ServiceError::invalid("product", "required"));
    };
    let mut v = Violations::new();
    let id = v.uuid(&p.id, "product.id");
    let mask = UPDATABLE.resolve(&mut v, request.update_mask.as_ref(), p);
    let supplier_id = check_fields(&mut v, p, Some(&mask));
    v.finish()?;
    let mut tx = inventory.pool.begin().await?;
    let current = store::product(&mut *tx, id, true)
        .await?
        .ok_or(ServiceError::NotFound {
            resource: "product",
        })?;
    let fields = ProductFields {
        sku: &current.sku,
        name: mask.pick("name", p.name.trim(), &current.name),
        unit: mask.pick("unit", p.unit.trim(), &current.unit),
        minimum_level: mask.pick("minimum_level", p.minimum_level, current.minimum_level),
        supplier_id: mask.pick("supplier_id", supplier_id, current.supplier_id),
    };
    store::update_product(&mut tx, id, &fields).await?;
    let row = store::product(&mut *tx, id, false)
        .await?
        .ok_or(ServiceError::NotFound {
            resource: "product",
        })?;
    tx.commit().await?;
    Ok(UpdateProductResponse {
        product: Some(convert::product(row)),
    })
}

pub(super) async fn delete(
    inventory: &Inventory,
    request: DeleteProductRequest,
) -> ServiceResult<DeleteProductResponse> {
    let mut v = Violations::new();
    let id = v.uuid(&request.product_id, "product_id");
    v.finish()?;
    if store::product(&inventory.pool, id, false).await?.is_none() {
        return Err(ServiceError::NotFound {
            resource: "product",
        });
    }
    if !store::delete_product(&inventory.pool, id).await? {
        return Err(ServiceError::precondition(
            "PRODUCT_HAS_MOVEMENTS",
            "a product with stock movements cannot be deleted; its ledger must stay whole",
        ));
    }
    Ok(DeleteProductResponse {})
}

/// A typo in [`UPDATABLE`] would make a path silently unwritable.
#[cfg(test)]
#[test]
fn every_updatable_path_is_a_field_of_the_contract() {
    assert!(UPDATABLE.undeclared_in::<Product>().is_empty());
}
