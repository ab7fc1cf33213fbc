//! Product CRUD.

use super::convert;
use crate::Inventory;
use crate::domain::MAX_QUANTITY;
use crate::store::{self, ProductFields};
use malha_api::malha::inventory::v1::*;
use malha_kit::idempotency::{Key, Owner};
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

fn check_fields(v: &mut Violations, p: &Product, paths: Option<&[String]>) -> Option<uuid::Uuid> {
    let has = |f: &str| paths.is_none_or(|paths| paths.iter().any(|p| p == f));
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
    let paths = request.update_mask.map(|m| m.paths).unwrap_or_default();
    v.check(
        !paths.is_empty(),
        "update_mask",
        "name the fields to change",
    );
    for path in &paths {
        v.check(
            matches!(
                path.as_str(),
                "name" | "unit" | "minimum_level" | "supplier_id"
            ),
            "update_mask",
            "only name, unit, minimum_level and supplier_id can change",
        );
    }
    let supplier_id = check_fields(&mut v, p, Some(&paths));
    v.finish()?;
    let has = |f: &str| paths.iter().any(|p| p == f);
    let mut tx = inventory.pool.begin().await?;
    let current = store::product(&mut *tx, id, true)
        .await?
        .ok_or(ServiceError::NotFound {
            resource: "product",
        })?;
    let fields = ProductFields {
        sku: &current.sku,
        name: if has("name") {
            p.name.trim()
        } else {
            &current.name
        },
        unit: if has("unit") {
            p.unit.trim()
        } else {
            &current.unit
        },
        minimum_level: if has("minimum_level") {
            p.minimum_level
        } else {
            current.minimum_level
        },
        supplier_id: if has("supplier_id") {
            supplier_id
        } else {
            current.supplier_id
        },
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
