//! Menu products, availability, and the menu as customers read it.

use uuid::Uuid;

use super::convert;
use crate::Orders;
use crate::domain::menu::{check_image_url, check_price};
use crate::store::menu::{self, ProductFields};
use malha_api::malha::orders::v1::*;
use malha_kit::idempotency::{Key, Owner};
use malha_kit::mask::Updatable;
use malha_kit::page::PageRequest;
use malha_kit::validate::Violations;
use malha_kit::{ServiceError, ServiceResult};

/// The fields UpdateProduct writes; availability also has its own RPC.
const UPDATABLE: Updatable = Updatable::new(&[
    "name",
    "description",
    "price_centavos",
    "category_id",
    "image_url",
    "available",
]);

fn check_description(v: &mut Violations, description: &str) {
    v.check(
        description.chars().count() <= 1000,
        "product.description",
        "at most 1000 characters",
    );
}

/// A category the product may point at: INVALID_ARGUMENT when there is none.
async fn existing_category(orders: &Orders, id: Uuid) -> ServiceResult<()> {
    match menu::category(&orders.pool, id, false).await {
        Ok(_) => Ok(()),
        Err(ServiceError::NotFound { .. }) => Err(ServiceError::invalid(
            "product.category_id",
            "no such category",
        )),
        Err(error) => Err(error),
    }
}

pub(super) async fn create(
    orders: &Orders,
    owner: &Owner,
    request: CreateProductRequest,
) -> ServiceResult<CreateProductResponse> {
    let Some(p) = request.product.as_ref() else {
        return Err(ServiceError::invalid("product", "required"));
    };
    let mut v = Violations::new();
    v.text(&p.name, "product.name", 200);
    check_description(&mut v, &p.description);
    check_price(&mut v, "product.price_centavos", p.price_centavos);
    check_image_url(&mut v, "product.image_url", &p.image_url);
    let category_id = v.uuid(&p.category_id, "product.category_id");
    let key = Key::new(
        owner,
        "CreateProduct",
        v.request_id(&request.request_id),
        &request,
    );
    v.finish()?;
    existing_category(orders, category_id).await?;
    let fields = ProductFields {
        category_id,
        name: p.name.trim(),
        description: p.description.trim(),
        price_centavos: p.price_centavos,
        image_url: &p.image_url,
        available: p.available,
    };
    key.once(&orders.pool, async |tx| {
        Ok(CreateProductResponse {
            product: Some(convert::product(menu::insert_product(tx, &fields).await?)),
        })
    })
    .await
}

pub(super) async fn get(
    orders: &Orders,
    request: GetProductRequest,
) -> ServiceResult<GetProductResponse> {
    let mut v = Violations::new();
    let id = v.uuid(&request.product_id, "product_id");
    v.finish()?;
    Ok(GetProductResponse {
        product: Some(convert::product(
            menu::product(&orders.pool, id, false).await?,
        )),
    })
}

pub(super) async fn list(
    orders: &Orders,
    request: ListProductsRequest,
) -> ServiceResult<ListProductsResponse> {
    let mut v = Violations::new();
    let category_id = v.optional_uuid(&request.category_id, "category_id");
    v.finish()?;
    let page = PageRequest::parse(request.page_size, &request.page_token)?;
    let rows = menu::products(&orders.pool, &page, category_id, request.available_only).await?;
    let (rows, next_page_token) = page.finish(rows, menu::product_key);
    Ok(ListProductsResponse {
        products: rows.into_iter().map(convert::product).collect(),
        next_page_token,
    })
}

pub(super) async fn update(
    orders: &Orders,
    request: UpdateProductRequest,
) -> ServiceResult<UpdateProductResponse> {
    let Some(p) = request.product.as_ref() else {
        return Err(ServiceError::invalid("product", "required"));
    };
    let mut v = Violations::new();
    let id = v.uuid(&p.id, "product.id");
    let mask = UPDATABLE.resolve(&mut v, request.update_mask.as_ref(), p);
    if mask.has("name") {
        v.text(&p.name, "product.name", 200);
    }
    if mask.has("description") {
        check_description(&mut v, &p.description);
    }
    if mask.has("price_centavos") {
        check_price(&mut v, "product.price_centavos", p.price_centavos);
    }
    if mask.has("image_url") {
        check_image_url(&mut v, "product.image_url", &p.image_url);
    }
    let category_id = mask
        .has("category_id")
        .then(|| v.uuid(&p.category_id, "product.category_id"));
    v.finish()?;
    if let Some(category_id) = category_id {
        existing_category(orders, category_id).await?;
    }
    let mut tx = orders.pool.begin().await?;
    let current = menu::product(&mut *tx, id, true).await?;
    let fields = ProductFields {
        category_id: category_id.unwrap_or(current.category_id),
        name: mask.pick("name", p.name.trim(), &current.name),
        description: mask.pick("description", p.description.trim(), &current.description),
        price_centavos: mask.pick("price_centavos", p.price_centavos, current.price_centavos),
        image_url: mask.pick("image_url", &p.image_url, &current.image_url),
        available: mask.pick("available", p.available, current.available),
    };
    let row = menu::update_product(&mut tx, id, &fields).await?;
    tx.commit().await?;
    Ok(UpdateProductResponse {
        product: Some(convert::product(row)),
    })
}

pub(super) async fn delete(
    orders: &Orders,
    request: DeleteProductRequest,
) -> ServiceResult<DeleteProductResponse> {
    let mut v = Violations::new();
    let id = v.uuid(&request.product_id, "product_id");
    v.finish()?;
    menu::delete_product(&orders.pool, id).await?;
    Ok(DeleteProductResponse {})
}

pub(super) async fn set_availability(
    orders: &Orders,
    request: SetProductAvailabilityRequest,
) -> ServiceResult<SetProductAvailabilityResponse> {
    let mut v = Violations::new();
    let id = v.uuid(&request.product_id, "product_id");
    v.finish()?;
    let row = menu::set_available(&orders.pool, id, request.available).await?;
    tracing::info!(product = %id, available = request.available, "product availability changed");
    Ok(SetProductAvailabilityResponse {
        product: Some(convert::product(row)),
    })
}

pub(super) async fn menu(orders: &Orders) -> ServiceResult<GetMenuResponse> {
    let categories = menu::categories(&orders.pool).await?;
    let mut products = menu::available_products(&orders.pool).await?;
    Ok(GetMenuResponse {
        sections: categories
            .into_iter()
            .map(|category| {
                let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut products)
                    .into_iter()
                    .partition(|p| p.category_id == category.id);
                products = rest;
                MenuSection {
                    category: Some(convert::category(category)),
                    products: mine.into_iter().map(convert::product).collect(),
                }
            })
            .collect(),
    })
}

/// A typo in [`UPDATABLE`] would make a path silently unwritable.
#[cfg(test)]
#[test]
fn every_updatable_path_is_a_field_of_the_contract() {
    assert!(UPDATABLE.undeclared_in::<Product>().is_empty());
}
